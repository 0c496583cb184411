//! One reqwest client for both chats, and how a call waits out a 429.

use std::time::Duration;

use deckhand_core::ports::{PortError, PortResult};
use reqwest::StatusCode;
use serde_json::Value;

/// How many times a rate-limited call is retried, and the longest single wait honoured. A
/// chat asking for longer than that is treated as unavailable: a Lambda cannot wait minutes.
const MAX_RETRIES: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub(super) struct Http {
    pub(super) client: reqwest::Client,
}

impl Http {
    pub(super) fn new() -> PortResult<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .user_agent("deckhand")
            .build()
            .map_err(|e| PortError::Failed(format!("building the chat client: {e}")))?;
        Ok(Self { client })
    }

    /// Sends a request, waiting out 429s. `what` names the call for errors.
    pub(super) async fn send(
        &self,
        what: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> PortResult<(StatusCode, Value)> {
        let mut attempt = 0;
        loop {
            let resp = make()
                .send()
                .await
                // reqwest's errors include the URL, and a Slack `response_url` is a bearer
                // credential of sorts: only what kind of failure it was goes into the message.
                .map_err(|e| PortError::unanswered(what, e.is_timeout(), e.is_connect()))?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<f64>().ok());
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if status != StatusCode::TOO_MANY_REQUESTS {
                return Ok((status, body));
            }
            let wait = retry_after
                .or_else(|| body["retry_after"].as_f64())
                .unwrap_or(1.0);
            let wait = Duration::from_secs_f64(wait.max(0.0));
            attempt += 1;
            if attempt > MAX_RETRIES || wait > MAX_WAIT {
                return Err(PortError::Transient(format!(
                    "{what}: rate limited (asked to wait {wait:?})"
                )));
            }
            tracing::info!(
                call = what,
                ?wait,
                attempt,
                "rate limited; waiting as asked"
            );
            tokio::time::sleep(wait).await;
        }
    }
}
