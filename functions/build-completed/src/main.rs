//! The `build-completed` Lambda function: [`deckhand_functions::handlers::build_completed`] for each event, after one cold
//! start (see `deckhand_functions::lambda`).

use deckhand_core::usecases::App;
use deckhand_functions::{handlers, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::run("build-completed", |warm, event| async move {
        handlers::build_completed(&App::new(&warm.ports, &warm.config), &event).await
    })
    .await
}
