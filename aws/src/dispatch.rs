//! `Dispatch`: hand work to another function without waiting.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use deckhand_core::deployment::Work;
use deckhand_core::ports::{Dispatch, PortError, PortResult};
use deckhand_core::types::SignedDuration;
use tokio::sync::mpsc;

use crate::error::resource_error;

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
        let f = &self.function;
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| resource_error(&format!("Invoke {f}"), &format!("function {f}"), &e))?;
        if out.status_code() != 202 {
            return Err(PortError::Failed(format!(
                "Invoke {}: status {} instead of 202",
                self.function,
                out.status_code()
            )));
        }
        Ok(())
    }

    async fn dispatch_after(&self, _work: &Work, _delay: SignedDuration) -> PortResult<()> {
        Err(PortError::Misconfigured(format!(
            "Lambda's async invoke of {} cannot wait: delayed work needs the delay queue (DECKHAND_DELAY_QUEUE_URL)",
            self.function
        )))
    }
}

/// SQS's longest delay: work due later arrives this soon, finds nothing due yet, and is
/// sent on again for the rest.
const SQS_MAX_DELAY: SignedDuration = SignedDuration::from_mins(15);

/// Work that must arrive later: an SQS queue whose messages are held back by `DelaySeconds`
/// and which feeds the deploy function (an event source mapping). Hand-rolled waits in a
/// function would bill the wait and die with the function; a queue keeps the wait outside.
#[derive(Debug, Clone)]
pub struct DelayQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl DelayQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends `work` to arrive no sooner than `delay` (rounded up to whole seconds, at most
    /// SQS's 15 minutes).
    pub async fn send(&self, work: &Work, delay: SignedDuration) -> PortResult<()> {
        let body = serde_json::to_string(work)
            .map_err(|e| PortError::Failed(format!("encoding work: {e}")))?;
        let delay = delay.clamp(SignedDuration::ZERO, SQS_MAX_DELAY);
        let secs = delay.as_secs() + i64::from(delay.subsec_nanos() > 0);
        let q = &self.url;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(i32::try_from(secs).unwrap_or(900))
            .send()
            .await
            .map_err(|e| {
                resource_error(&format!("SendMessage to {q}"), &format!("queue {q}"), &e)
            })?;
        Ok(())
    }
}

/// Local mode: work goes onto a queue that a worker in the same process drains, so
/// `deckhand demo` and `deckhand dev` run every function in one process.
#[derive(Debug, Clone)]
pub struct QueueDispatch {
    tx: mpsc::UnboundedSender<Work>,
    /// `Some`: work due later is held here, with its delay, for a driver that moves its own
    /// clock (`deckhand demo` and `dev` fast-forward to it); `None`: it waits in real time.
    held: Option<Held>,
}

/// Work held back, each with how long after its dispatch it is due. Shared by clones.
type Held = std::sync::Arc<std::sync::Mutex<Vec<(Work, SignedDuration)>>>;

impl QueueDispatch {
    /// Work due later waits in real time beside the worker (`deckhand serve`).
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Work>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx, held: None }, rx)
    }

    /// Work due later is held for [`QueueDispatch::take_held`].
    pub fn holding() -> (Self, mpsc::UnboundedReceiver<Work>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let held = Some(std::sync::Arc::default());
        (Self { tx, held }, rx)
    }

    /// The work held back so far, each with how long after its dispatch it is due.
    pub fn take_held(&self) -> Vec<(Work, SignedDuration)> {
        match &self.held {
            Some(h) => {
                std::mem::take(&mut *h.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
            }
            None => Vec::new(),
        }
    }

    /// Puts `work` on the queue now (held work whose time came).
    pub fn queue(&self, work: Work) -> PortResult<()> {
        self.tx
            .send(work)
            .map_err(|_| PortError::Failed("the local worker has stopped".into()))
    }

    /// Holds `work` again, due `delay` from now.
    pub fn hold(&self, work: Work, delay: SignedDuration) {
        if let Some(h) = &self.held {
            h.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((work, delay));
        }
    }
}

impl Dispatch for QueueDispatch {
    async fn dispatch(&self, work: &Work) -> PortResult<()> {
        self.queue(work.clone())
    }

    async fn dispatch_after(&self, work: &Work, delay: SignedDuration) -> PortResult<()> {
        if self.held.is_some() {
            self.hold(work.clone(), delay);
            return Ok(());
        }
        let (tx, work) = (self.tx.clone(), work.clone());
        let delay = std::time::Duration::try_from(delay).unwrap_or_default();
        // Local mode's stand-in for the delay queue: the wait runs beside the worker.
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if tx.send(work).is_err() {
                tracing::debug!("the local worker stopped before delayed work was due");
            }
        });
        Ok(())
    }
}
