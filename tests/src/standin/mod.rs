//! Stand-ins for Slack and Discord: the bot's tests and benchmarks assert on what reached them,
//! and local mode (`deckhand demo`, `deckhand dev`) shows it in the terminal. Slack and Discord
//! cannot be reached from a test, and local mode must not post to a real workspace.
//!
//! [`ChatStub`] is a local HTTP server in the place of Slack's Web API (`/slack/<method>`),
//! Discord's REST API (`/discord/...`) and Slack's `response_url`s (anything else); it records
//! every request and can answer 429 once on a path. [`slack_headers`] and [`discord_headers`]
//! sign requests exactly as Slack and Discord do. [`RuntimeApi`] stands in for Lambda's Runtime
//! API, so the function binaries run for real in tests and benchmarks.

mod runtime_api;
pub use runtime_api::{Answer, RuntimeApi, function_url_event};

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::Signer as _;
use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};

use deckhand_functions::chat::ChatApis;

/// One request the bot made to a chat API.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: Method,
    pub path: String,
    pub body: Value,
    /// The message id the stand-in answered with (Slack `ts`, Discord id); `None` for a
    /// request answered 429 or one that creates no message.
    pub message_id: Option<String>,
    /// The `Authorization` header, as sent (stand-in tokens only).
    pub authorization: Option<String>,
}

/// Called with every request the stand-in receives, as it arrives.
pub type Observer = Box<dyn Fn(&Sent) + Send + Sync>;

#[derive(Default)]
struct StubState {
    sent: Mutex<Vec<Sent>>,
    throttle_once: Mutex<Vec<String>>,
    /// Bot tokens the chat no longer takes (rotated away).
    revoked: Mutex<Vec<String>>,
    next_id: Mutex<u64>,
    observer: Option<Observer>,
    /// The services' own endpoints that checks GET (any path outside `/slack/` and
    /// `/discord/`): prefixes answered 503 while they fail…
    failing: Mutex<Vec<String>>,
    /// …and paths answered from a script, try by try, before the default 200.
    scripted: Mutex<std::collections::HashMap<String, std::collections::VecDeque<(u16, String)>>>,
}

impl std::fmt::Debug for StubState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StubState")
            .field("sent", &lock(&self.sent).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn answer(
    State(s): State<Arc<StubState>>,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = format!("/{path}");
    let raw_body = body.clone();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !path.starts_with("/slack/") && !path.starts_with("/discord/") {
        let failing = lock(&s.failing)
            .iter()
            .any(|p| path.starts_with(p.as_str()));
        let scripted = lock(&s.scripted).get_mut(&path).and_then(|q| q.pop_front());
        let answer = match (failing, scripted) {
            (true, _) => Some((503, "down".to_owned())),
            (false, scripted) => scripted,
        };
        if let Some((status, text)) = answer {
            lock(&s.sent).push(Sent {
                method,
                path,
                body: serde_json::from_slice(&raw_body).unwrap_or(Value::Null),
                message_id: None,
                authorization,
            });
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, text).into_response();
        }
    }
    let throttled = {
        let mut t = lock(&s.throttle_once);
        t.iter()
            .position(|p| *p == path)
            .map(|i| t.remove(i))
            .is_some()
    };
    let revoked = authorization.as_deref().is_some_and(|a| {
        lock(&s.revoked)
            .iter()
            .any(|t| a == format!("Bearer {t}") || a == format!("Bot {t}"))
    });
    if revoked {
        lock(&s.sent).push(Sent {
            method,
            path: path.clone(),
            body,
            message_id: None,
            authorization,
        });
        // As each chat refuses a token it no longer has.
        return if path.starts_with("/slack/") {
            Json(json!({"ok": false, "error": "invalid_auth"})).into_response()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "401: Unauthorized", "code": 0})),
            )
                .into_response()
        };
    }
    let message_id = if throttled {
        None
    } else {
        let mut n = lock(&s.next_id);
        *n += 1;
        if path.starts_with("/slack/") {
            Some(format!("1764000000.{:06}", *n))
        } else if path.starts_with("/discord/") {
            Some(format!("14000000000000{:05}", *n))
        } else {
            None
        }
    };
    let sent = Sent {
        method,
        path: path.clone(),
        body: body.clone(),
        message_id: message_id.clone(),
        authorization: authorization.clone(),
    };
    if !throttled && let Some(observe) = &s.observer {
        observe(&sent);
    }
    lock(&s.sent).push(sent);
    if throttled {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("1"));
        return (
            StatusCode::TOO_MANY_REQUESTS,
            h,
            Json(json!({"ok": false, "error": "ratelimited", "retry_after": 1.0})),
        )
            .into_response();
    }
    // Discord's "Bulk Overwrite Guild Application Commands" answers with the commands it now
    // has, each given an id.
    if path.starts_with("/discord/applications/") && path.ends_with("/commands") {
        if !authorization.is_some_and(|a| a.starts_with("Bot ")) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "401: Unauthorized", "code": 0})),
            )
                .into_response();
        }
        let registered: Vec<Value> = body
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.clone();
                c["id"] = json!(format!("13000000000000{i:05}"));
                c
            })
            .collect();
        return Json(Value::Array(registered)).into_response();
    }
    match message_id {
        Some(ts) if path.starts_with("/slack/") => {
            Json(json!({"ok": true, "channel": body["channel"], "ts": ts})).into_response()
        }
        Some(id) => Json(json!({ "id": id })).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

/// A local server in Slack's and Discord's place.
#[derive(Debug, Clone)]
pub struct ChatStub {
    state: Arc<StubState>,
    pub url: String,
}

impl ChatStub {
    pub async fn start() -> std::io::Result<Self> {
        Self::start_observed(None).await
    }

    /// A stand-in that also hands every request to `observer` as it arrives.
    pub async fn start_observed(observer: Option<Observer>) -> std::io::Result<Self> {
        let state = Arc::new(StubState {
            observer,
            ..StubState::default()
        });
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::any(answer))
            .with_state(state.clone());
        Ok(Self {
            state,
            url: serve(app).await?,
        })
    }

    /// The chat APIs as the bot should call them.
    pub fn apis(&self) -> ChatApis {
        ChatApis {
            slack: format!("{}/slack", self.url),
            discord: format!("{}/discord", self.url),
        }
    }

    pub fn sent(&self) -> Vec<Sent> {
        lock(&self.state.sent).clone()
    }

    pub fn sent_to(&self, path: &str) -> Vec<Sent> {
        self.sent().into_iter().filter(|s| s.path == path).collect()
    }

    pub fn clear(&self) {
        lock(&self.state.sent).clear();
    }

    /// The next request to `path` is answered 429 with `Retry-After: 1`.
    /// From now on the chat refuses `token` as a rotated-away bot token.
    pub fn revoke(&self, token: &str) {
        lock(&self.state.revoked).push(token.to_owned());
    }

    pub fn throttle_once(&self, path: &str) {
        lock(&self.state.throttle_once).push(path.to_owned());
    }

    /// The service endpoints under `prefix` (`/health/prod/api`) answer 503 while `fail`.
    pub fn fail_checks(&self, prefix: &str, fail: bool) {
        let mut failing = lock(&self.state.failing);
        failing.retain(|p| p != prefix);
        if fail {
            failing.push(prefix.to_owned());
        }
    }

    /// `path`'s next answers, in order (status, body); after them it answers 200 as before.
    pub fn script_checks(&self, path: &str, answers: &[(u16, &str)]) {
        lock(&self.state.scripted)
            .entry(path.to_owned())
            .or_default()
            .extend(answers.iter().map(|(s, b)| (*s, (*b).to_owned())));
    }
}

/// Serves `app` on a free loopback port; returns its base URL.
pub async fn serve(app: axum::Router) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "test server stopped");
        }
    });
    Ok(format!("http://{addr}"))
}

/// POSTs `body` to `url` with `headers`, as Slack or Discord delivers a signed request.
pub async fn deliver(
    http: &reqwest::Client,
    url: String,
    headers: HeaderMap,
    body: String,
) -> reqwest::Result<reqwest::Response> {
    http.post(url).headers(headers).body(body).send().await
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `application/x-www-form-urlencoded`, as Slack sends commands and interactions.
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn header(value: &str) -> HeaderValue {
    // Every value built here is ASCII hex, digits or a fixed string.
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Headers Slack sends with a request signed at `ts` (unix seconds).
pub fn slack_headers(secret: &str, ts: i64, body: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        mac.update(format!("v0:{ts}:{body}").as_bytes());
        h.insert(
            "x-slack-signature",
            header(&format!("v0={}", hex(&mac.finalize().into_bytes()))),
        );
    }
    h.insert("x-slack-request-timestamp", header(&ts.to_string()));
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    h
}

/// Headers a build webhook signed GitHub's way carries: `header` (GitHub's
/// `x-hub-signature-256`, or Deckhand's generic `x-deckhand-signature`) holding `sha256=` and the
/// hex HMAC of the body under `secret`.
pub fn hub_headers(header_name: &'static str, secret: &str, body: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex(&mac.finalize().into_bytes()));
        h.insert(header_name, header(&signature));
    }
    h
}

/// Headers Discord sends with an interaction signed now.
pub fn discord_headers(key: &ed25519_dalek::SigningKey, body: &str) -> HeaderMap {
    let ts = jiff::Timestamp::now().as_second().to_string();
    let sig = key.sign(&[ts.as_bytes(), body.as_bytes()].concat());
    let mut h = HeaderMap::new();
    h.insert("x-signature-ed25519", header(&hex(&sig.to_bytes())));
    h.insert("x-signature-timestamp", header(&ts));
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h
}
