//! The `rollback` Lambda function: [`deckhand_bot::functions::rollback`] for each event, after one cold
//! start (see `deckhand_bot::lambda`).

use deckhand_bot::{functions, lambda};
use deckhand_core::usecases::App;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::run("rollback", |warm, event| async move {
        functions::rollback(&App::new(&warm.ports, &warm.config), &event).await
    })
    .await
}
