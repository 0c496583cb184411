//! A stand-in for Lambda's Runtime API, the HTTP interface a custom runtime (`provided.al2023`)
//! polls for events: `GET /2018-06-01/runtime/invocation/next`, then `POST …/{id}/response` or
//! `…/{id}/error`, and `POST …/runtime/init/error` when the cold start fails. The function
//! binaries' tests run the real binaries against it, and the cold-start benchmark times them.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::Notify;

/// What the function said about one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub request_id: String,
    /// `"response"` or `"error"`.
    pub kind: String,
    pub body: Value,
    /// When the stand-in received it.
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Queue {
    events: Mutex<VecDeque<(String, Value)>>,
    arrived: Notify,
    /// When each event was handed to the function, by request id.
    handed: Mutex<Vec<(String, Instant)>>,
    answers: Mutex<Vec<Answer>>,
    answered: Notify,
    init_errors: Mutex<Vec<Value>>,
    first_poll: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The stand-in, serving on a loopback port until dropped with its runtime.
#[derive(Debug, Clone)]
pub struct RuntimeApi {
    queue: Arc<Queue>,
    pub addr: SocketAddr,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let queue = Arc::new(Queue::default());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(queue.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the Runtime API stand-in stopped");
            }
        });
        Ok(Self { queue, addr })
    }

    /// Queues an event for the function under `request_id`.
    pub fn push(&self, request_id: &str, event: Value) {
        lock(&self.queue.events).push_back((request_id.to_owned(), event));
        self.queue.arrived.notify_waiters();
    }

    pub fn answers(&self) -> Vec<Answer> {
        lock(&self.queue.answers).clone()
    }

    pub fn init_errors(&self) -> Vec<Value> {
        lock(&self.queue.init_errors).clone()
    }

    /// When the function first asked for an event (its cold start done), if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        *lock(&self.queue.first_poll)
    }

    /// When the event `request_id` was handed to the function.
    pub fn handed_at(&self, request_id: &str) -> Option<Instant> {
        lock(&self.queue.handed)
            .iter()
            .find(|(id, _)| id == request_id)
            .map(|(_, at)| *at)
    }

    /// Waits until `n` answers have arrived (or a cold start failed); false on timeout.
    pub async fn wait_for_answers(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let answered = self.queue.answered.notified();
            if lock(&self.queue.answers).len() >= n {
                return true;
            }
            if !lock(&self.queue.init_errors).is_empty() {
                return false;
            }
            if tokio::time::timeout_at(deadline, answered).await.is_err() {
                return lock(&self.queue.answers).len() >= n;
            }
        }
    }

    /// A function binary set up as the template sets it up, under this stand-in: Lambda's
    /// environment, AWS on `emulator`, the example config, `table` and the two functions it
    /// hands work to.
    pub fn function(
        &self,
        exe: &str,
        function: &str,
        emulator: &crate::Emulator,
        table: &str,
    ) -> std::process::Command {
        let config = format!(
            "{}/../infra/deckhand.example.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut command = std::process::Command::new(exe);
        command
            .envs(self.lambda_env(function))
            .envs(emulator.aws_env())
            .env("DECKHAND_CONFIG", config)
            .env("DECKHAND_TABLE", table)
            .env("DECKHAND_DEPLOY_FUNCTION", "deckhand-deploy")
            .env("DECKHAND_BACKUP_FUNCTION", "deckhand-backup");
        command
    }

    /// The environment Lambda gives a function process, pointing it at this stand-in.
    pub fn lambda_env(&self, function: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.addr.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/24/[$LATEST]0".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

async fn next(State(q): State<Arc<Queue>>) -> impl IntoResponse {
    lock(&q.first_poll).get_or_insert_with(Instant::now);
    loop {
        let arrived = q.arrived.notified();
        let popped = lock(&q.events).pop_front();
        if let Some((id, event)) = popped {
            lock(&q.handed).push((id.clone(), Instant::now()));
            let mut h = HeaderMap::new();
            let deadline = jiff::Timestamp::now().as_millisecond() + 60_000;
            let values = [
                ("lambda-runtime-aws-request-id", id),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:deckhand".to_owned(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-5759e988-bd862e3fe1be46a994272793".to_owned(),
                ),
            ];
            for (name, value) in values {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    h.insert(name, v);
                }
            }
            return (StatusCode::OK, h, event.to_string());
        }
        arrived.await;
    }
}

async fn answer(
    State(q): State<Arc<Queue>>,
    Path((request_id, kind)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    lock(&q.answers).push(Answer {
        request_id,
        kind,
        body,
        at: Instant::now(),
    });
    q.answered.notify_waiters();
    StatusCode::ACCEPTED
}

async fn init_error(State(q): State<Arc<Queue>>, body: Bytes) -> StatusCode {
    lock(&q.init_errors).push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    q.answered.notify_waiters();
    StatusCode::ACCEPTED
}

/// The event a Lambda Function URL delivers for an HTTP request (the API Gateway HTTP API
/// payload 2.0 shape, as AWS documents it): headers lower-cased, the body base64 as Function
/// URLs send any form or binary body.
pub fn function_url_event(
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: Option<&str>,
) -> Value {
    use base64::Engine as _;
    let now = jiff::Timestamp::now();
    let mut header_map = serde_json::Map::new();
    for (name, value) in headers {
        if let Ok(v) = value.to_str() {
            header_map.insert(name.as_str().to_owned(), Value::from(v));
        }
    }
    header_map.insert(
        "host".into(),
        Value::from("abcdefghij.lambda-url.us-east-1.on.aws"),
    );
    header_map.insert("x-forwarded-proto".into(), Value::from("https"));
    let mut event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": header_map,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "54.80.1.2",
                "userAgent": "Slackbot 1.0 (+https://api.slack.com/robots)"
            },
            "requestId": format!("{:032x}", now.as_nanosecond()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.as_millisecond()
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = Value::from(base64::engine::general_purpose::STANDARD.encode(body));
        event["isBase64Encoded"] = Value::from(true);
    }
    event
}
