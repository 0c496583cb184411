//! How long the bot takes to acknowledge a signed `/deploy` on loopback, end to end: HTTP in,
//! signature check, parse, policy, the request use-case (image digest, lock, create, card posted
//! to the Slack and Discord stand-ins, dispatch), HTTP out. Core's in-memory ports stand in for
//! AWS, so this is Deckhand's own cost plus two local chat API calls. A benchmark, not a test:
//! `cargo bench -p deckhand --features testing --bench ack` (or `just bench`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use deckhand_bot::chat::HttpChat;
use deckhand_bot::router::{Bot, Keys, router};
use deckhand_bot::testing::{ChatStub, TestPorts, form, serve, slack_headers};
use deckhand_core::config::Config;
use deckhand_core::memory::Memory;
use deckhand_core::ports::Store as _;
use deckhand_core::types::{Digest, EnvName, Timestamp};
use secrecy::SecretString;

const SECRET: &str = "bench-signing-secret";
const WARMUP: usize = 100;
const REQUESTS: usize = 2_000;

const CONFIG: &str = r#"
[slack]
workspace = "T0BENCH"
[groups.engineers]
members = ["slack:U0ALICE"]
[environments.staging]
cluster = "staging"
deployers = "engineers"
notify = { slack = "C0DEPLOYS", discord = "1300000000000000003" }
[services.api]
envs = ["staging"]
repository = "acme/api"
"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stub = ChatStub::start().await?;
    let chat = HttpChat::new(
        stub.apis(),
        Some(SecretString::from("xoxb".to_owned())),
        Some(SecretString::from("discord".to_owned())),
    )?;
    let mem = Memory::new(Timestamp::now());
    mem.set_running("api", "api:1", "acme/api:v1.2.2");
    mem.push_image(
        "acme/api",
        "v1.2.3",
        &Digest::parse(&format!("sha256:{}", "ab".repeat(32)))?,
    );
    let keys = Keys {
        slack_signing_secret: Some(SecretString::from(SECRET.to_owned())),
        ..Keys::default()
    };
    let bot = Arc::new(Bot {
        ports: TestPorts {
            mem,
            chat: chat.clone(),
        },
        config: Config::parse("bench.toml", CONFIG)?,
        keys,
        responder: chat,
    });
    let url = format!("{}/slack/commands", serve(router(bot.clone())).await?);
    let http = reqwest::Client::new();
    let staging = EnvName::parse("staging")?;

    let mut latencies = Vec::with_capacity(REQUESTS);
    for i in 0..WARMUP + REQUESTS {
        let trigger = format!("bench-{i}");
        let body = form(&[
            ("team_id", "T0BENCH"),
            ("channel_id", "C0DEPLOYS"),
            ("user_id", "U0ALICE"),
            ("user_name", "alice"),
            ("command", "/deploy"),
            ("text", "staging api v1.2.3"),
            ("trigger_id", &trigger),
        ]);
        let headers = slack_headers(SECRET, Timestamp::now().as_second(), &body);
        let started = Instant::now();
        let resp = http.post(&url).headers(headers).body(body).send().await?;
        let text = resp.text().await?;
        let took = started.elapsed();
        if !text.contains("Deploying api v1.2.3") {
            return Err(format!("unexpected answer: {text}").into());
        }
        if i >= WARMUP {
            latencies.push(took);
        }
        // Free the environment for the next request (not timed).
        bot.ports.mem.break_lock(&staging).await?;
        stub.clear();
    }
    latencies.sort();
    let total: Duration = latencies.iter().sum();
    println!(
        "ack of a signed /deploy (staging, card to Slack + Discord stand-ins, in-memory store), {REQUESTS} requests, concurrency 1:"
    );
    println!(
        "  p50 {:>8.3} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "  p99 {:>8.3} ms",
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  max {:>8.3} ms",
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    println!("  {:.0} requests/s", REQUESTS as f64 / total.as_secs_f64());
    Ok(())
}
