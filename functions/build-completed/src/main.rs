//! The `build-completed` Lambda function: config and clients once per cold start, then
//! [`deckhand_bot::functions::build_completed`] for each event. See `deckhand_bot::lambda`.

use std::sync::Arc;

use deckhand_bot::{functions, lambda};
use deckhand_core::usecases::App;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let warm = Arc::new(lambda::cold_start().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let warm = warm.clone();
        async move {
            let app = App::new(&warm.ports, &warm.config);
            let result = functions::build_completed(&app, &event.payload).await;
            // Only retryable failures get here as errors; Lambda reports them as this type.
            lambda::answer("build-completed", &event.context.request_id, result).map_err(|e| {
                Diagnostic {
                    error_type: "Deckhand.Retryable".into(),
                    error_message: e.to_string(),
                }
            })
        }
    }))
    .await
}
