//! The deploy function's real binary under a local stand-in for Lambda's Runtime API, with AWS
//! on the emulator: it cold-starts, takes events, and answers each the way Lambda needs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::time::Duration;

use deckhand_harness::standin::RuntimeApi;
use deckhand_harness::{Emulator, Seed};
use serde_json::Value;

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
    let api = RuntimeApi::start().await.unwrap();
    api.push("req-1", event("ecs-deployment-in-progress.json"));
    api.push("req-2", event("scheduler-backup.json")); // not an ECS event: malformed here
    api.push("req-3", event("ecs-deployment-completed.json"));

    let mut child = api
        .function(
            env!("CARGO_BIN_EXE_deckhand-fn-deploy"),
            "deckhand-deploy",
            emulator,
            &table,
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    api.wait_for_answers(3, Duration::from_secs(30)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        api.init_errors().is_empty(),
        "cold start failed: {:?}",
        api.init_errors()
    );
    let answers: Vec<(String, String, Value)> = api
        .answers()
        .into_iter()
        .map(|a| (a.request_id, a.kind, a.body))
        .collect();
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
    for (i, key, says) in [
        (1, "rejected", "malformed ECS deployment state change event"),
        (2, "ignored", "not started by Deckhand"),
    ] {
        let said = answers[i].2[key].as_str();
        assert!(said.is_some_and(|s| s.contains(says)), "{:?}", answers[i]);
    }
}
