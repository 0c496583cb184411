//! The `deploy` Lambda function: [`deckhand_functions::handlers::deploy`] for each event, after one cold
//! start (see `deckhand_functions::lambda`).

use deckhand_core::usecases::App;
use deckhand_functions::{handlers, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::run("deploy", |warm, event| async move {
        handlers::deploy(&App::new(&warm.ports, &warm.config), &event).await
    })
    .await
}
