//! `deckhand serve` as a person runs it: the real binary, on a free local port.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_answers_health_refuses_unsigned_requests_and_serves_signed_ones() {
    let config = format!(
        "{}/../infra/deckhand.example.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["serve", "--port", "0", "--config", &config])
        .env("DECKHAND_SLACK_SIGNING_SECRET", "local-signing-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _guard = Killed(child);
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the address is printed")
        .to_owned();

    let http = reqwest::Client::new();
    let health = http.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");

    let body = "team_id=T0DECKHAND&channel_id=C0DEPLOYS&user_id=U0ALICE&command=%2Fdeckhand&text=help&trigger_id=1";
    let unsigned = http
        .post(format!("{url}/slack/commands"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    let headers = deckhand_bot::testing::slack_headers(
        "local-signing-secret",
        jiff::Timestamp::now().as_second(),
        body,
    );
    let signed = http
        .post(format!("{url}/slack/commands"))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let v: serde_json::Value = signed.json().await.unwrap();
    assert!(v["text"].as_str().unwrap().contains("/deploy ENV"), "{v}");
}
