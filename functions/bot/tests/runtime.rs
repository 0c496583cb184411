//! The bot function's real binary under a local stand-in for Lambda's Runtime API, with AWS on
//! the emulator: it cold-starts (config, chat token and its keys from Secrets Manager), then
//! answers Function URL requests through the same router `deckhand serve` runs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::io::Read as _;
use std::time::Duration;

use axum::http::HeaderMap;
use deckhand_harness::standin::{RuntimeApi, form, function_url_event, slack_headers};
use deckhand_harness::{Emulator, Seed};
use serde_json::Value;

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const BOT_TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";

fn slash(text: &str, trigger: &str) -> String {
    form(&[
        ("team_id", "T0DECKHAND"),
        ("channel_id", "C0DEPLOYS"),
        ("user_id", "U0ALICE"),
        ("user_name", "alice"),
        ("command", "/deploy"),
        ("text", text),
        ("trigger_id", trigger),
        ("response_url", "http://127.0.0.1:9/hooks/commands/x"),
    ])
}

fn signed(body: &str) -> HeaderMap {
    slack_headers(SIGNING_SECRET, jiff::Timestamp::now().as_second(), body)
}

/// The Function URL response: (status, body text).
fn response(answer: &Value) -> (u64, String) {
    use base64::Engine as _;
    let body = answer["body"].as_str().unwrap_or("");
    let body = if answer["isBase64Encoded"] == true {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap(),
        )
        .unwrap()
    } else {
        body.to_owned()
    };
    (answer["statusCode"].as_u64().unwrap(), body)
}

#[tokio::test]
async fn the_bot_function_verifies_and_answers_function_url_requests() {
    let emulator = Emulator::shared().unwrap();
    let seed = Seed::new(emulator).await;
    let table = seed.table().await.unwrap().table().to_owned();
    let keys = seed
        .secret(&serde_json::json!({ "slack_signing_secret": SIGNING_SECRET }).to_string())
        .await
        .unwrap();
    let token = seed.secret(BOT_TOKEN).await.unwrap();

    let api = RuntimeApi::start().await.unwrap();
    api.push(
        "health",
        function_url_event("GET", "/health", &HeaderMap::new(), None),
    );
    let typo = slash("prdo api v1.2.3", "trigger-1");
    api.push(
        "typo",
        function_url_event("POST", "/slack/commands", &signed(&typo), Some(&typo)),
    );
    let forged = slash("staging api v1.2.3", "trigger-2");
    let mut forged_headers = signed(&forged);
    forged_headers.insert(
        "x-slack-signature",
        format!("v0={}", "0".repeat(64)).parse().unwrap(),
    );
    api.push(
        "forged",
        function_url_event("POST", "/slack/commands", &forged_headers, Some(&forged)),
    );
    let help = slash("help", "trigger-3");
    api.push(
        "help",
        function_url_event("POST", "/slack/commands", &signed(&help), Some(&help)),
    );

    let mut child = api
        .function(
            env!("CARGO_BIN_EXE_deckhand-fn-bot"),
            "deckhand-bot",
            emulator,
            &table,
        )
        .env("DECKHAND_BOT_KEYS_SECRET", &keys)
        .env("DECKHAND_SLACK_TOKEN_SECRET", &token)
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drained while it runs: debug logs fill a pipe nobody reads, and the function would stall
    // writing its next line.
    let drain = |mut from: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = from.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let all_answered = api.wait_for_answers(4, Duration::from_secs(30)).await;
    let _ = child.kill();
    let _ = child.wait();
    let logs = stdout.join().unwrap() + &stderr.join().unwrap();
    assert!(all_answered, "init errors {:?}\n{logs}", api.init_errors());

    let answers = api.answers();
    let by_id = |id: &str| {
        let a = answers.iter().find(|a| a.request_id == id).unwrap();
        assert_eq!(a.kind, "response", "{a:?}");
        response(&a.body)
    };
    assert_eq!(by_id("health"), (200, "ok".to_owned()));

    let (status, body) = by_id("typo");
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(
        reply["text"].as_str().unwrap().contains("prod"),
        "did you mean: {reply}"
    );

    assert_eq!(by_id("forged").0, 401);

    let (status, body) = by_id("help");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("/deploy"), "{body}");

    assert!(!logs.is_empty(), "the function logs as JSON");
    for secret in [SIGNING_SECRET, BOT_TOKEN] {
        assert!(!logs.contains(secret), "a secret reached the logs:\n{logs}");
    }
}
