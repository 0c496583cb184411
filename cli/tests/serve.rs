//! `deckhand serve` as a person runs it: the real binary, on a free local port.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// A running `deckhand serve`: its address, everything it has printed, killed when dropped.
struct Served {
    child: std::process::Child,
    url: String,
    printed: Arc<Mutex<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `deckhand serve` on a free port with `config` and these environment variables
    /// (on top of emulator credentials), and waits for its address.
    fn start(config: &Path, env: &[(&str, &str)]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args(["serve", "--port", "0", "--config"])
            .arg(config)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // serve logs to stdout after its first line (the address): all of it is read and kept,
        // so its writes never hit a closed pipe.
        let printed = Arc::new(Mutex::new(String::new()));
        let (first, address) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn({
            let printed = printed.clone();
            move || {
                for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = first.send(l.clone());
                    printed.lock().unwrap().push_str(&(l + "\n"));
                }
            }
        });
        let line = address.recv().unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("the address is printed")
            .to_owned();
        Served {
            child,
            url,
            printed,
        }
    }

    fn printed(&self) -> String {
        self.printed.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn serve_answers_health_refuses_unsigned_requests_and_serves_signed_ones() {
    let config = format!(
        "{}/../infra/deckhand.example.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let served = Served::start(
        Path::new(&config),
        &[("DECKHAND_SLACK_SIGNING_SECRET", "local-signing-secret")],
    );
    let url = &served.url;

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

    let headers = deckhand_harness::testing::slack_headers(
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

/// AWS goes away while `deckhand serve` runs a deploy's migration, and comes back: the
/// deployment carries on by itself (serve retries failed work as Lambda retries an async
/// invoke, and maintenance backs that up), with nobody re-delivering anything, to the end:
/// moto never finishes a rollout (DEPENDENCIES.md), so the test plays ECS there, handing the
/// deploy function the "Deployment State Change" EventBridge would deliver, and the deployment
/// succeeds on its health check.
#[tokio::test]
async fn serve_carries_on_by_itself_with_a_deploy_aws_went_away_from_mid_way() {
    use deckhand::local::{CONFIG, EcsReport, Local};
    use deckhand_core::deployment::State;
    use deckhand_core::ports::Store as _;
    use deckhand_harness::{Emulator, Outage};

    let emulator: &'static Emulator = Box::leak(Box::new(
        tokio::task::spawn_blocking(Emulator::start)
            .await
            .unwrap()
            .expect("the emulator starts"),
    ));
    let outage = Outage::start(emulator.addr).await.unwrap();
    // Seeds the emulator (table, clusters, services, images) and plays the migration
    // container (it stops each migration task, talking to the emulator directly).
    let local = Local::start_on(emulator, emulator.settings(), CONFIG, None)
        .await
        .unwrap();
    let config = std::env::temp_dir().join(format!("deckhand-serve-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        CONFIG.replace("HEALTH", local.chat.url.trim_start_matches("http://")),
    )
    .unwrap();
    let secret = "serve-signing-secret";
    let slack_api = local.chat.apis().slack;
    let served = Served::start(
        &config,
        &[
            ("DECKHAND_SLACK_SIGNING_SECRET", secret),
            ("DECKHAND_SLACK_BOT_TOKEN", "xoxb-serve-test"),
            ("DECKHAND_SLACK_API_URL", &slack_api),
            ("AWS_ENDPOINT_URL", &outage.endpoint),
        ],
    );
    let url = &served.url;

    local
        .seed
        .push_image("acme/worker", "v1.2.3", "serve")
        .await
        .unwrap();
    let body = "team_id=T0DECKHAND&channel_id=C0DEPLOYS&user_id=U0ALICE&user_name=alice\
                &command=%2Fdeploy&text=dev+worker+v1.2.3&trigger_id=serve-1";
    let headers =
        deckhand_harness::testing::slack_headers(secret, jiff::Timestamp::now().as_second(), body);
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/slack/commands"))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Checking worker v1.2.3 → dev"),
        "{answer}"
    );

    // The migration task runs (held running, so the cut lands mid-migration); AWS goes away
    // for longer than serve's wait between looks at it (5 s) and the SDK's own retries after
    // that (4 attempts with backoff, about 7 s).
    local.hold_migrations(true);
    local.seed.until_a_migration_runs("dev").await.unwrap();
    outage.cut();
    tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    outage.restore();
    local.hold_migrations(false);

    let dev = deckhand_core::types::EnvName::parse("dev").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let d = loop {
        let d = local
            .bot
            .ports
            .store
            .recent_deployments(&dev, None, 1)
            .await
            .unwrap()
            .into_iter()
            .next()
            .expect("the deploy was created");
        let rolled = d.services[0].progress.ecs_deployment.is_some();
        if rolled || d.state.is_terminal() || std::time::Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        matches!(d.state, State::Rolling { .. }) && d.services[0].progress.migrated,
        "past its migration and rolling on its own ECS deployment, nobody re-delivering: {:?} {:?}",
        d.state,
        d.services[0].progress
    );
    // ECS finishes the rollout it was given and says so, as EventBridge delivers it to the
    // deploy function; the health check passes and the deployment is done.
    local.settle(EcsReport::Completed).await.unwrap();
    let d = local
        .bot
        .ports
        .store
        .get_deployment(d.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.state, State::Succeeded, "{:?}", d.services[0].progress);
    // It was the outage that this got through: the work failed while AWS was away, and serve
    // retried it.
    let printed = served.printed();
    assert!(printed.contains("work failed; retrying"), "{printed}");
    // And its maintenance ran on its own interval (its heartbeat is printed as a metric line).
    assert!(
        printed.contains("\"MaintenanceHeartbeat\":1.0"),
        "{printed}"
    );
    let _ = std::fs::remove_file(&config);
}
