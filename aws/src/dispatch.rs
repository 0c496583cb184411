//! `Dispatch`: hand work to another function without waiting.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use deckhand_core::deployment::Work;
use deckhand_core::ports::{Dispatch, PortError, PortResult};
use tokio::sync::mpsc;

use crate::error::{misconfigured_if_missing, port_error};

/// Lambda async invoke (`InvocationType=Event`) of the named function. Lambda queues the event,
/// retries it twice on failure, and the receiving use-case is idempotent.
#[derive(Debug, Clone)]
pub struct LambdaDispatch {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaDispatch {
    pub fn new(client: aws_sdk_lambda::Client, function: impl Into<String>) -> Self {
        Self {
            client,
            function: function.into(),
        }
    }
}

impl Dispatch for LambdaDispatch {
    async fn dispatch(&self, work: &Work) -> PortResult<()> {
        let payload = serde_json::to_vec(work)
            .map_err(|e| PortError::Failed(format!("encoding work: {e}")))?;
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| {
                misconfigured_if_missing(
                    port_error(&format!("Invoke {}", self.function), &e),
                    &format!("function {}", self.function),
                )
            })?;
        if out.status_code() != 202 {
            return Err(PortError::Failed(format!(
                "Invoke {}: status {} instead of 202",
                self.function,
                out.status_code()
            )));
        }
        Ok(())
    }
}

/// Local mode: work goes onto a queue that a worker in the same process drains, so
/// `deckhand demo` and `deckhand dev` run every function in one process.
#[derive(Debug, Clone)]
pub struct QueueDispatch {
    tx: mpsc::UnboundedSender<Work>,
}

impl QueueDispatch {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Work>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
}

impl Dispatch for QueueDispatch {
    async fn dispatch(&self, work: &Work) -> PortResult<()> {
        self.tx
            .send(work.clone())
            .map_err(|_| PortError::Failed("the local worker has stopped".into()))
    }
}
