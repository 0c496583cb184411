//! Secrets, metrics, alarms, health checks, dispatch, and how AWS errors reach a port.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deckhand_aws::dispatch::{DelayQueue, LambdaDispatch, QueueDispatch};
use deckhand_aws::dynamo::DynamoStore;
use deckhand_aws::metrics::{CloudWatchMetrics, EmfMetrics};
use deckhand_aws::monitor::CloudWatchMonitor;
use deckhand_aws::secrets::CachedSecrets;
use deckhand_aws::{Aws, Settings};
use deckhand_core::check::{HttpCheck, Probe};
use deckhand_core::deployment::Work;
use deckhand_core::ports::{
    Dispatch, Metric, MetricUnit, Metrics, Monitor, PortError, Secrets, Store,
};
use deckhand_core::types::{Actor, DeploymentId, SignedDuration, Timestamp};
use deckhand_harness::assert_misconfigured;
use deckhand_harness::{Emulator, Seed};
use secrecy::ExposeSecret as _;

async fn seed() -> Seed {
    Seed::new(Emulator::shared().expect("the emulator starts")).await
}

/// Collects every log line the code under test writes, at every level, SDK included.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn secrets_are_cached_and_their_values_never_reach_logs_errors_or_debug() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let value = "xoxb-very-secret-signing-value-93f1";
    let seed = seed().await;
    let name = seed.secret(value).await.unwrap();
    let secrets = CachedSecrets::new(seed.aws.secrets.clone(), Duration::from_secs(300));
    let first = secrets.get(&name).await.unwrap();
    assert_eq!(first.expose_secret(), value);

    // Rotate it behind the cache's back: a cached read makes no request, so it still sees
    // the old value.
    seed.aws
        .secrets
        .put_secret_value()
        .secret_id(&name)
        .secret_string("rotated-value")
        .send()
        .await
        .unwrap();
    assert_eq!(
        secrets.get(&name).await.unwrap().expose_secret(),
        value,
        "the second read came from the cache"
    );
    let fresh = CachedSecrets::new(seed.aws.secrets.clone(), Duration::ZERO);
    assert_eq!(
        fresh.get(&name).await.unwrap().expose_secret(),
        "rotated-value",
        "an expired entry is fetched again"
    );

    let missing = secrets.get("deckhand/no-such-secret").await.unwrap_err();
    assert_misconfigured(&missing, &["secret deckhand/no-such-secret does not exist"]);

    let shown = format!("{first:?} {missing} {missing:?} {secrets:?}");
    let logged = logs.text();
    assert!(
        logged.contains("GetSecretValue") || logged.contains("secretsmanager"),
        "the SDK's trace logs were captured"
    );
    for haystack in [&shown, &logged] {
        assert!(!haystack.contains(value), "the secret leaked: {haystack}");
        assert!(
            !haystack.contains("rotated-value"),
            "the rotated secret leaked"
        );
    }
}

#[tokio::test]
async fn metrics_go_out_as_emf_lines_and_through_put_metric_data() {
    let buffer = Captured::default();
    let emf = EmfMetrics::to_writer("Deckhand", Box::new(buffer.clone()));
    let metric = Metric {
        name: "DeploymentDurationSeconds".into(),
        value: 42.5,
        unit: MetricUnit::Seconds,
        dimensions: vec![("Environment".into(), "prod".into())],
    };
    emf.emit(std::slice::from_ref(&metric)).await.unwrap();
    let line: serde_json::Value = serde_json::from_str(buffer.text().trim()).unwrap();
    assert_eq!(line["DeploymentDurationSeconds"], 42.5);
    assert_eq!(line["Environment"], "prod");
    let cw = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(cw["Namespace"], "Deckhand");
    assert_eq!(cw["Dimensions"], serde_json::json!([["Environment"]]));
    assert_eq!(
        cw["Metrics"][0],
        serde_json::json!({"Name": "DeploymentDurationSeconds", "Unit": "Seconds"})
    );
    assert!(line["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);

    let seed = seed().await;
    let namespace = deckhand_harness::unique("Deckhand");
    CloudWatchMetrics::new(seed.aws.cloudwatch.clone(), &namespace)
        .emit(&[metric])
        .await
        .unwrap();
    let listed = seed
        .aws
        .cloudwatch
        .list_metrics()
        .namespace(&namespace)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed
            .metrics()
            .iter()
            .filter_map(|m| m.metric_name())
            .collect::<Vec<_>>(),
        ["DeploymentDurationSeconds"]
    );
}

/// A one-route HTTP server on loopback: `/ok` answers 200, anything else 503.
/// A service's endpoints as a check meets them: `/ok` answers 200 "ok", `/ready` 200 with a
/// body saying it is not, `/slow` after 3 s, `/stall` sends its headers and never its body,
/// anything else 503.
fn health_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    return;
                }
                let path = first.split(' ').nth(1).unwrap_or("/").to_owned();
                let mut stream = reader.into_inner();
                let (status, body) = match path.as_str() {
                    "/ok" => ("200 OK", "ok"),
                    "/ready" => ("200 OK", r#"{"ready":false}"#),
                    "/slow" => {
                        std::thread::sleep(std::time::Duration::from_secs(3));
                        ("200 OK", "ok")
                    }
                    "/stall" => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"
                        );
                        std::thread::sleep(std::time::Duration::from_secs(3));
                        return;
                    }
                    _ => ("503 Service Unavailable", "down"),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_monitor_reads_alarm_states_and_checks_health_urls() {
    let seed = seed().await;
    let firing = seed.alarm(true).await.unwrap();
    let calm = seed.alarm(false).await.unwrap();
    let monitor = CloudWatchMonitor::new(seed.aws.cloudwatch.clone()).unwrap();
    let got = monitor
        .firing(&[firing.clone(), calm, "not-an-alarm".into()])
        .await
        .unwrap();
    assert_eq!(got, vec![firing]);

    // Tags, by the ARN the event carries and by name alone; an alarm that is gone is NotFound.
    let tagged = seed.alarm(false).await.unwrap();
    let arn = seed
        .tag_alarm(
            &tagged,
            &[("deckhand:env", "prod"), ("deckhand:service", "api")],
        )
        .await
        .unwrap();
    let by_arn = monitor.alarm_tags(&tagged, Some(&arn)).await.unwrap();
    let by_name = monitor.alarm_tags(&tagged, None).await.unwrap();
    assert_eq!(
        by_arn.get("deckhand:service").map(String::as_str),
        Some("api")
    );
    assert_eq!(by_arn.get("deckhand:env").map(String::as_str), Some("prod"));
    assert_eq!(by_arn, by_name);
    assert!(matches!(
        monitor.alarm_tags("not-an-alarm", None).await,
        Err(PortError::NotFound(_))
    ));

    // What each try sees, and what a check makes of it.
    let base = health_server();
    let second = SignedDuration::from_secs(1);
    let probe = |path: &str| probe(&monitor, format!("{base}{path}"));
    assert_eq!(
        probe("/ok").await,
        Probe::Answered {
            status: 200,
            body: "ok".into()
        }
    );
    assert_eq!(
        probe("/healthz").await,
        Probe::Answered {
            status: 503,
            body: "down".into()
        }
    );
    assert_eq!(probe("/slow").await, Probe::TimedOut, "a slow answer");
    assert_eq!(
        probe("/stall").await,
        Probe::TimedOut,
        "headers, then no body"
    );
    let ready = HttpCheck {
        body: Some(r#""ready":true"#.into()),
        ..HttpCheck::of_url("ready", format!("{base}/ready"))
    };
    assert_eq!(
        ready.judge(&probe("/ready").await),
        Err(r#"HTTP 200, but the body does not contain “"ready":true”"#.into())
    );
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gone = monitor
        .probe(&format!("http://{closed}/healthz"), second)
        .await
        .unwrap();
    assert!(
        matches!(&gone, Probe::Unreachable(why) if why.contains("onnect")),
        "{gone:?}"
    );
}

/// One try with a one-second timeout.
async fn probe(monitor: &CloudWatchMonitor, url: String) -> Probe {
    monitor
        .probe(&url, SignedDuration::from_secs(1))
        .await
        .unwrap()
}

#[tokio::test]
async fn work_is_dispatched_by_async_invoke_or_onto_the_local_queue() {
    let seed = seed().await;
    let function = seed.function().await.unwrap();
    let work = Work::RunDeployment {
        id: DeploymentId::derive(Timestamp::UNIX_EPOCH, "x"),
    };
    LambdaDispatch::new(seed.aws.lambda.clone(), &function)
        .dispatch(&work)
        .await
        .unwrap();
    // (AWS answers ResourceNotFoundException for a function that does not exist; moto 5.2.5
    // accepts the invoke, so that case is not asserted here.)

    let (queue, mut rx) = QueueDispatch::new();
    let backup = Work::RunBackup {
        plan: "nightly".into(),
        requested_by: Actor::system("schedule"),
        key: deckhand_core::types::EventKey::test("slack:T0DECKHAND:trigger-9:nightly"),
    };
    queue.dispatch(&backup).await.unwrap();
    assert_eq!(rx.recv().await, Some(backup));

    // Work due later goes through the delay queue, held back by SQS until it is due.
    let url = seed
        .aws
        .sqs
        .create_queue()
        .queue_name(deckhand_harness::unique("delayed"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let later = DelayQueue::new(seed.aws.sqs.clone(), &url);
    later
        .send(&work, SignedDuration::from_mins(10))
        .await
        .unwrap();
    later.send(&work, SignedDuration::ZERO).await.unwrap();
    let received = seed
        .aws
        .sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<Work> = received
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies, vec![work], "only the undelayed one is there yet");
}

/// A stand-in for DynamoDB that answers each request with the next canned response and
/// counts requests. It speaks just enough HTTP/1.1 for the SDK.
fn canned_dynamodb(
    responses: Vec<(u16, &'static str, &'static str)>,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let (status, request_id, json) = responses[n.min(responses.len() - 1)];
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nx-amzn-RequestId: {request_id}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                json.len()
            );
        }
    });
    (format!("http://{addr}"), seen)
}

async fn store_at(endpoint: String) -> DynamoStore {
    let settings = Settings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint),
        static_credentials: Some(("testing".into(), "testing".into())),
        max_attempts: None,
    };
    DynamoStore::new(Aws::load(&settings).await.dynamodb, "deckhand")
}

#[tokio::test]
async fn throttling_is_retried_with_backoff() {
    let throttled = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;
    let (endpoint, seen) = canned_dynamodb(vec![
        (400, "req-throttled-1", throttled),
        (400, "req-throttled-2", throttled),
        (200, "req-ok", "{}"),
    ]);
    let store = store_at(endpoint).await;
    let got = store
        .get_deployment(DeploymentId::derive(Timestamp::UNIX_EPOCH, "x"))
        .await;
    assert_eq!(got, Ok(None));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        3,
        "two throttled attempts, then success"
    );
}

#[tokio::test]
async fn an_aws_error_keeps_its_code_and_request_id() {
    let invalid = r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"One or more parameter values were invalid"}"#;
    let (endpoint, seen) = canned_dynamodb(vec![(400, "req-abc-123", invalid)]);
    let store = store_at(endpoint).await;
    let err = store
        .get_deployment(DeploymentId::derive(Timestamp::UNIX_EPOCH, "x"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PortError::Failed(_)), "{text}");
    assert!(
        text.contains("ValidationException")
            && text.contains("req-abc-123")
            && text.contains("GetItem DEP#"),
        "{text}"
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "a client error is not retried"
    );

    let (endpoint, seen) = canned_dynamodb(vec![(
        500,
        "req-500",
        r#"{"__type":"InternalServerError","message":"boom"}"#,
    )]);
    let err = store_at(endpoint)
        .await
        .get_deployment(DeploymentId::derive(Timestamp::UNIX_EPOCH, "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Transient(_)), "{err}");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        4,
        "a server error is retried up to the attempt limit"
    );
}

/// A call nothing answers is worth retrying and says how it failed, in the words every client
/// (the SDK's, the chat adapter's) uses for it.
#[tokio::test]
async fn an_unanswered_call_is_transient_and_says_its_connection_failed() {
    // A port that was just free: nothing listens on it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let err = store_at(endpoint)
        .await
        .get_deployment(DeploymentId::derive(Timestamp::UNIX_EPOCH, "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PortError::Transient(m) if m.ends_with(": connection failed")),
        "{err}"
    );
}
