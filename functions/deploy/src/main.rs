//! The `deploy` Lambda function: [`deckhand_bot::functions::deploy`] for each event, after one cold
//! start (see `deckhand_bot::lambda`).

use deckhand_bot::{functions, lambda};
use deckhand_core::usecases::App;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::run("deploy", |warm, event| async move {
        functions::deploy(&App::new(&warm.ports, &warm.config), &event).await
    })
    .await
}
