//! The `build-completed` Lambda function: [`deckhand_bot::functions::build_completed`] for each event, after one cold
//! start (see `deckhand_bot::lambda`).

use deckhand_bot::{functions, lambda};
use deckhand_core::usecases::App;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::run("build-completed", |warm, event| async move {
        functions::build_completed(&App::new(&warm.ports, &warm.config), &event).await
    })
    .await
}
