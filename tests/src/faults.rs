//! AWS that fails where a test, or `deckhand dev`, says it should: an HTTP proxy in front of
//! the emulator that rewrites how ECS reports a one-off task's end.
//!
//! moto stops every task with exit code 0 whatever it ran, so a migration or a smoke test that
//! fails can only be had by rewriting the `DescribeTasks` answer on its way back: the task runs
//! on the emulator as usual, and Deckhand's real ECS adapter reads the exit code it would read
//! from AWS. Every other call passes through untouched. Point an SDK at [`Faults::endpoint`];
//! tests that use this say so. An upstream that cannot be reached (an [`crate::Outage`] behind
//! this proxy, cut) is answered 502, as a load balancer answers for a service that is gone.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use deckhand_aws::ecs::{MIGRATION_STARTED_BY, SMOKE_STARTED_BY};
use serde_json::Value;
use tokio::task::JoinHandle;

/// What ECS's answers are to say, as told.
#[derive(Debug, Default)]
struct Said {
    /// Every stopped migration task's containers exited with this instead of 0.
    migration_exit: Option<i32>,
    /// These services' stopped smoke tasks exited 1 instead of 0.
    failing_smoke: HashSet<String>,
}

#[derive(Debug, Clone)]
struct Upstream {
    url: String,
    http: reqwest::Client,
    said: Arc<Mutex<Said>>,
}

/// The proxy. Stops serving when dropped.
#[derive(Debug)]
pub struct Faults {
    /// Where to point an SDK (`AWS_ENDPOINT_URL`).
    pub endpoint: String,
    said: Arc<Mutex<Said>>,
    server: JoinHandle<()>,
}

impl Drop for Faults {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Faults {
    /// A proxy to `upstream` (the emulator's endpoint, or another proxy's), passing every call
    /// through until told otherwise.
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let said: Arc<Mutex<Said>> = Arc::default();
        let state = Upstream {
            url: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            said: said.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            endpoint,
            said,
            server,
        })
    }

    fn said(&self) -> MutexGuard<'_, Said> {
        self.said.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on every migration exits `code` (`None`: as the task did).
    pub fn migrations_exit(&self, code: Option<i32>) {
        self.said().migration_exit = code;
    }

    /// From now on `service`'s smoke tasks exit 1 (`false`: as the task did).
    pub fn fail_smoke(&self, service: &str, fail: bool) {
        let mut said = self.said();
        if fail {
            said.failing_smoke.insert(service.to_owned());
        } else {
            said.failing_smoke.remove(service);
        }
    }
}

/// Passes one call to the emulator and its answer back, rewriting a `DescribeTasks` answer.
async fn forward(State(up): State<Upstream>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let describes_tasks = parts
        .headers
        .get("x-amz-target")
        .is_some_and(|t| t.as_bytes().ends_with(b".DescribeTasks"));
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers;
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    let sent = up
        .http
        .request(parts.method, format!("{}{path}", up.url))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(answer) = sent else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let mut headers: HeaderMap = answer.headers().clone();
    let Ok(mut body) = answer.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    if describes_tasks && status.is_success() {
        let said = up.said.lock().unwrap_or_else(PoisonError::into_inner);
        body = rewritten(&said, body);
    }
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    (status, headers, Body::from(body)).into_response()
}

/// `body` (a `DescribeTasks` answer) with the exit codes `said` asks for; as it was when it
/// does not parse or asks for nothing.
fn rewritten(said: &Said, body: Bytes) -> Bytes {
    let Ok(mut answer) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let Some(tasks) = answer.get_mut("tasks").and_then(Value::as_array_mut) else {
        return body;
    };
    for task in tasks.iter_mut().filter(|t| t["lastStatus"] == "STOPPED") {
        let started_by = task["startedBy"].as_str().unwrap_or_default().to_owned();
        // A smoke task is started by `deckhand-smoke-<run>-<service>`, the run a ULID.
        let smoke_of = started_by
            .strip_prefix(SMOKE_STARTED_BY)
            .and_then(|rest| rest.split_once('-'))
            .map(|(_, service)| service);
        let exit = if started_by.starts_with(MIGRATION_STARTED_BY) {
            said.migration_exit
        } else if let Some(service) = smoke_of {
            said.failing_smoke.contains(service).then_some(1)
        } else {
            None
        };
        let Some(code) = exit else { continue };
        let containers = task.get_mut("containers").and_then(Value::as_array_mut);
        for container in containers.into_iter().flatten() {
            if container["exitCode"] == 0 {
                container["exitCode"] = code.into();
                container["reason"] = "Essential container in task exited".into();
            }
        }
    }
    serde_json::to_vec(&answer).map_or(body, Bytes::from)
}
