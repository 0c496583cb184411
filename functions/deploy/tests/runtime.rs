//! The deploy function's real binary under a local stand-in for Lambda's Runtime API, with AWS
//! on the emulator: it cold-starts, takes events, and answers each the way Lambda needs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use deckhand_harness::{Emulator, Seed, unique};
use serde_json::Value;

#[derive(Default)]
struct RuntimeApi {
    events: Mutex<VecDeque<(String, Value)>>,
    /// (request id, "response" or "error", body)
    answers: Mutex<Vec<(String, String, Value)>>,
    init_errors: Mutex<Vec<Value>>,
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> impl IntoResponse {
    loop {
        if let Some((id, event)) = api.events.lock().unwrap().pop_front() {
            let mut h = HeaderMap::new();
            h.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            h.insert(
                "lambda-runtime-deadline-ms",
                (jiff::Timestamp::now().as_millisecond() + 60_000)
                    .to_string()
                    .parse()
                    .unwrap(),
            );
            h.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:deckhand-deploy"
                    .parse()
                    .unwrap(),
            );
            h.insert(
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793".parse().unwrap(),
            );
            return (StatusCode::OK, h, event.to_string());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn answer(
    State(api): State<Arc<RuntimeApi>>,
    Path((id, kind)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    api.answers.lock().unwrap().push((id, kind, body));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> StatusCode {
    api.init_errors
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    StatusCode::ACCEPTED
}

fn event(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../../events/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_deploy_function_answers_events_and_rejects_malformed_ones_without_an_error() {
    let emulator = Emulator::shared().unwrap();
    let table = Seed::new(emulator)
        .await
        .table()
        .await
        .unwrap()
        .table()
        .to_owned();
    let api = Arc::new(RuntimeApi::default());
    api.events.lock().unwrap().extend([
        ("req-1".to_owned(), event("ecs-deployment-in-progress.json")),
        ("req-2".to_owned(), event("scheduler-backup.json")), // not an ECS event: malformed here
        ("req-3".to_owned(), event("ecs-deployment-completed.json")),
    ]);
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let config = format!(
        "{}/../../infra/deckhand.example.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_deckhand-fn-deploy"))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "deckhand-deploy")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/deckhand-deploy")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", unique("stream"))
        .env("AWS_ENDPOINT_URL", &emulator.endpoint)
        .env("AWS_REGION", deckhand_harness::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("DECKHAND_CONFIG", &config)
        .env("DECKHAND_TABLE", &table)
        .env("DECKHAND_DEPLOY_FUNCTION", "deckhand-deploy")
        .env("DECKHAND_BACKUP_FUNCTION", "deckhand-backup")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while api.answers.lock().unwrap().len() < 3 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        api.init_errors.lock().unwrap().is_empty(),
        "cold start failed: {:?}",
        api.init_errors.lock().unwrap()
    );
    let answers = api.answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(
        answers[0],
        (
            "req-1".into(),
            "response".into(),
            serde_json::json!({"ignored": "deployment still in progress"})
        )
    );
    assert_eq!(
        (answers[1].0.as_str(), answers[1].1.as_str()),
        ("req-2", "response"),
        "malformed: answered, so Lambda does not retry"
    );
    assert!(
        answers[1].2["rejected"]
            .as_str()
            .unwrap()
            .contains("malformed ECS deployment state change event"),
        "{:?}",
        answers[1]
    );
    assert!(
        answers[2].2["ignored"]
            .as_str()
            .unwrap()
            .contains("not started by Deckhand"),
        "{:?}",
        answers[2]
    );
}
