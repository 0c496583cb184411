//! The bot Lambda function: Deckhand's HTTP router ([`deckhand_bot::router`]) behind a Function
//! URL, after one cold start (see `deckhand_functions::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    deckhand_bot::lambda::run_bot().await
}
