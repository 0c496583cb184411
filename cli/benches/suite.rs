//! Deckhand's benchmark suite (`just bench`): figures, never pass/fail on speed. It prints
//! each figure and rewrites `docs/benchmarks.md` with them, the machine and the date.
//!
//! 1. Acknowledging a signed Slack `/deploy` and a signed Approve click through the real
//!    router on loopback: in-memory store, and DynamoDB on the emulator (with the number of
//!    DynamoDB round trips each acknowledgement makes), at concurrency 1 and 32.
//! 2. Cold start of each function binary under a Lambda Runtime API stand-in: process start to
//!    its first poll (init), the first event's latency and a warm event's, median of 20 starts;
//!    peak RSS and CPU time of each; then again at Lambda's CPU share for 128, 256 and 512 MB
//!    (cgroup v1 quotas, `quota.rs`) with every AWS call through TLS (`tls.rs`).
//! 3. Rollback reaction: an alarm event delivered → the rollback function → ECS's `UpdateService`
//!    → `UpdateService` answered, against the emulator.
//! 4. Artifact sizes, when `just build` has made them.
//!
//! Run: `just bench` (it builds the function binaries in the bench profile first).

// In a folder of their own: cargo would take `benches/*.rs` for benchmarks of their own.
#[path = "suite/quota.rs"]
mod quota;
#[path = "suite/tls.rs"]
mod tls;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use deckhand::local::{EcsReport, Local};
use deckhand_aws::dynamo::DynamoStore;
use deckhand_bot::router::{Bot, Keys, router};
use deckhand_core::card::ButtonAction;
use deckhand_core::config::Config;
use deckhand_core::memory::Memory;
use deckhand_core::ports::Store;
use deckhand_core::types::{
    Actor, ChatKind, DeploymentId, Digest, EnvName, EventKey, ServiceName, SignedDuration,
    Timestamp, Version,
};
use deckhand_core::usecases::{App, DeployRequest};
use deckhand_harness::standin::{RuntimeApi, function_url_event};
use deckhand_harness::testing::{
    ChatStub, TestPorts, TestWorld, deliver, form, serve, slack_headers,
};
use deckhand_harness::{Emulator, Seed};
use futures_util::future::join_all;
use secrecy::SecretString;
use serde_json::{Value, json};

use quota::{Group, Share};

type Error = Box<dyn std::error::Error + Send + Sync>;

const SECRET: &str = "bench-signing-secret";
const REQUESTS: usize = 2_000;
/// On the emulator, which answers one request at a time (the harness serialises it, see
/// `serial_server.py`), fewer: its rows are about round trips and the emulator's own queue.
const EMULATOR_REQUESTS: usize = 320;
const WARMUP: usize = 64;
const WORKERS: usize = 32;
const STARTS: usize = 20;
const REACTIONS: usize = 20;
const FUNCTIONS: [&str; 5] = ["bot", "deploy", "rollback", "build-completed", "backup"];

/// Alice's Slack `/deploy ENV api v1.2.3` as a form body, from workspace `team`.
fn deploy_command(team: &str, env: &str, trigger: &str) -> String {
    form(&[
        ("team_id", team),
        ("channel_id", "C0DEPLOYS"),
        ("user_id", "U0ALICE"),
        ("user_name", "alice"),
        ("command", "/deploy"),
        ("text", &format!("{env} api v1.2.3")),
        ("trigger_id", trigger),
    ])
}

// ------------------------------------------------------------------ statistics --------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[derive(Debug, Clone, Copy)]
struct Summary {
    p50: f64,
    p99: f64,
    max: f64,
    per_second: f64,
}

/// `workers` requests were in flight at once; requests/s is what they sustain when busy with
/// timed requests only (the untimed set-up between them is left out).
fn summarise(mut latencies: Vec<Duration>, workers: usize) -> Summary {
    latencies.sort();
    let at = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        ms(latencies[i.min(latencies.len() - 1)])
    };
    Summary {
        p50: at(0.50),
        p99: at(0.99),
        max: latencies.last().copied().map_or(0.0, ms),
        per_second: latencies.len() as f64 * workers as f64
            / latencies.iter().sum::<Duration>().as_secs_f64(),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

// ------------------------------------------------------------------ 1. acknowledgements -----

/// A client of the SDK crate `$sdk` on `$config`, its requests counted by `$calls` (the crates
/// share no client trait: a macro, not a function).
macro_rules! counted {
    ($sdk:ident, $config:expr, $calls:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .interceptor($calls.clone())
                .build(),
        )
    };
}

/// Every AWS request a client makes as it goes on the wire, with when: `service:Operation`.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<std::sync::Mutex<Vec<(Instant, String)>>>);

impl Calls {
    fn take(&self) -> Vec<(Instant, String)> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// What was called since the last take, by name only.
    fn names(&self) -> Vec<String> {
        self.take().into_iter().map(|(_, name)| name).collect()
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }
    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = ctx.request();
        // JSON protocols name the operation in `x-amz-target` (`DynamoDB_20120810.PutItem`);
        // CloudWatch's CBOR protocol in the path (`/service/…/operation/DescribeAlarms`).
        let name = match request.headers().get("x-amz-target") {
            Some(target) => {
                let (service, op) = target.split_once('.').unwrap_or(("?", target));
                let service = if service.starts_with("DynamoDB") {
                    "dynamodb"
                } else if service.starts_with("AmazonEC2ContainerService") {
                    "ecs"
                } else if service.starts_with("AmazonEC2ContainerRegistry") {
                    "ecr"
                } else {
                    service
                };
                format!("{service}:{op}")
            }
            None => format!(
                "cloudwatch:{}",
                request.uri().rsplit('/').next().unwrap_or("?")
            ),
        };
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((Instant::now(), name));
        Ok(())
    }
}

/// 32 environments deployers use freely (`d0`…), and 32 that need one approval (`a0`…), so
/// concurrent requests never queue behind one environment's lock.
fn ack_config() -> Result<Config, Error> {
    let mut toml = String::from(
        "[slack]\nworkspace = \"T0BENCH\"\nchannels = [\"C0DEPLOYS\"]\n\
         [groups.engineers]\nmembers = [\"slack:U0ALICE\"]\n\
         [groups.platform]\nmembers = [\"slack:U0BOB\"]\n",
    );
    let mut envs = Vec::new();
    for w in 0..WORKERS {
        for (prefix, approvals) in [
            ("d", ""),
            ("a", "approvers = \"platform\"\nrequired_approvals = 1\n"),
        ] {
            let name = format!("{prefix}{w}");
            write!(
                toml,
                "[environments.{name}]\ncluster = \"bench\"\ndeployers = \"engineers\"\n{approvals}notify = {{ slack = \"C0DEPLOYS\" }}\n"
            )?;
            envs.push(format!("\"{name}\""));
        }
    }
    write!(
        toml,
        "[services.api]\nenvs = [{}]\nrepository = \"acme/api\"\n",
        envs.join(", ")
    )?;
    Ok(Config::parse("bench.toml", &toml).map_err(|e| e.to_string())?)
}

struct AckWorld<S: Store + std::fmt::Debug> {
    bot: Arc<Bot<TestPorts<S>>>,
    url: String,
    http: reqwest::Client,
    stub: ChatStub,
    /// On the emulator: the table's client, to delete each request's deployment and claim
    /// afterwards, untimed. moto copies the whole table on every `TransactWriteItems` (measured:
    /// open + unlock went from 33 ms to 160 ms per request over 500 requests), so without this
    /// the figures would be the emulator's table size, not one transaction.
    forget: Option<(aws_sdk_dynamodb::Client, String)>,
}

impl<S: Store + std::fmt::Debug + 'static> AckWorld<S> {
    async fn new(store: S) -> Result<Self, Error> {
        let digest = Digest::parse(&format!("sha256:{}", "ab".repeat(32)))?;
        let TestWorld {
            stub,
            ports,
            config,
            ..
        } = TestWorld::builder(ack_config()?)
            .running("api", "api:1", "acme/api:v1.2.2")
            .image("acme/api", "v1.2.3", &digest)
            .start_on(store)
            .await
            .map_err(|e| e.to_string())?;
        let responder = ports.chat.clone();
        let bot = Arc::new(Bot {
            ports,
            config,
            keys: deckhand_bot::keyring::KeyRing::fixed(Keys {
                slack_signing_secret: Some(SecretString::from(SECRET.to_owned())),
                ..Keys::default()
            }),
            responder,
        });
        let url = serve(router(bot.clone())).await?;
        Ok(Self {
            bot,
            url,
            http: reqwest::Client::new(),
            stub,
            forget: None,
        })
    }

    /// Deletes what request `trigger` wrote (its deployment and its event claim), untimed.
    async fn forget(&self, trigger: &str) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        let Some((client, table)) = &self.forget else {
            return Ok(());
        };
        let key = EventKey::slack_command("T0BENCH", trigger).ok_or("an empty bench key")?;
        let item_key = |pk: String, sk: &str| {
            std::collections::HashMap::from([
                ("pk".to_owned(), A::S(pk)),
                ("sk".to_owned(), A::S(sk.to_owned())),
            ])
        };
        let claim = item_key(format!("CLAIM#event#{key}"), "CLAIM");
        let found = client
            .get_item()
            .table_name(table)
            .set_key(Some(claim.clone()))
            .send()
            .await?;
        if let Some(A::S(id)) = found.item().and_then(|i| i.get("value")) {
            for sk in ["DEP", "CARDS", "SHOWN"] {
                client
                    .delete_item()
                    .table_name(table)
                    .set_key(Some(item_key(format!("DEP#{id}"), sk)))
                    .send()
                    .await?;
            }
        }
        client
            .delete_item()
            .table_name(table)
            .set_key(Some(claim))
            .send()
            .await?;
        Ok(())
    }

    fn store(&self) -> &S {
        &self.bot.ports.store
    }

    async fn post(&self, path: &str, body: String) -> Result<(Duration, String), Error> {
        let headers = slack_headers(SECRET, Timestamp::now().as_second(), &body);
        let started = Instant::now();
        let resp = deliver(&self.http, format!("{}{path}", self.url), headers, body).await?;
        let text = resp.text().await?;
        Ok((started.elapsed(), text))
    }

    /// One timed `/deploy` to `d{w}`; the environment is freed afterwards, untimed.
    async fn deploy(&self, w: usize, n: usize) -> Result<Duration, Error> {
        let env = format!("d{w}");
        let trigger = format!("deploy-{w}-{n}-{}", self.bot.ports.clock.the_time());
        let body = deploy_command("T0BENCH", &env, &trigger);
        let (took, text) = self.post("/slack/commands", body).await?;
        if !text.contains("Checking api v1.2.3") {
            return Err(format!("unexpected answer: {text}").into());
        }
        self.store().break_lock(&EnvName::parse(&env)?).await?;
        self.forget(&trigger).await?;
        Ok(took)
    }

    /// A deploy to `env` waiting for approval, requested directly (not timed).
    async fn awaiting_approval(&self, env: &EnvName, key: String) -> Result<DeploymentId, Error> {
        let app = App::new(&self.bot.ports, &self.bot.config);
        let requested = app
            .request_deploy(DeployRequest {
                env: env.clone(),
                services: vec![ServiceName::parse("api")?],
                version: Version::parse("v1.2.3")?,
                override_reason: None,
                force: false,
                actor: Actor::person(ChatKind::Slack, "T0BENCH", "U0ALICE", "alice"),
                event_key: EventKey::slack_command("T0BENCH", &key).ok_or("an empty bench key")?,
                reply_to: None,
            })
            .await?;
        // The request's checks, as the deploy function runs them: the card is posted.
        let prepared = app.prepare_deployment(requested.deployment.id).await?;
        Ok(prepared.id)
    }

    /// Bob's signed Approve click on `id`, timed.
    async fn approve(&self, id: DeploymentId, env: &EnvName, tag: &str) -> Result<Duration, Error> {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": "U0BOB", "username": "bob", "team_id": "T0BENCH"},
            "team": {"id": "T0BENCH"},
            "channel": {"id": "C0DEPLOYS"},
            "response_url": format!("{}/hooks/actions/{tag}", self.stub.url),
            "actions": [{"action_id": "approve", "value": ButtonAction::Approve.value(id, env), "type": "button"}],
        });
        let body = form(&[("payload", &payload.to_string())]);
        let (took, text) = self.post("/slack/interactions", body).await?;
        if !text.is_empty() {
            return Err(format!("a click is acknowledged with an empty 200, got: {text}").into());
        }
        Ok(took)
    }

    /// One timed Approve click on a fresh request in `a{w}`; the environment is freed
    /// afterwards, untimed.
    async fn click(&self, w: usize, n: usize) -> Result<Duration, Error> {
        let env = EnvName::parse(&format!("a{w}"))?;
        let key = format!("click-{w}-{n}-{}", self.bot.ports.clock.the_time());
        let id = self.awaiting_approval(&env, key.clone()).await?;
        let took = self.approve(id, &env, &format!("{w}-{n}")).await?;
        self.store().break_lock(&env).await?;
        self.forget(&key).await?;
        Ok(took)
    }

    async fn run(&self, kind: &str, workers: usize, requests: usize) -> Result<Summary, Error> {
        let per_worker = requests.div_ceil(workers);
        let one = |w: usize, n: usize| async move {
            match kind {
                "deploy" => self.deploy(w, n).await,
                _ => self.click(w, n).await,
            }
        };
        for n in 0..WARMUP / workers.max(1) + 1 {
            join_all((0..workers).map(|w| one(w, 1_000_000 + n))).await;
        }
        let results = join_all((0..workers).map(|w| async move {
            let mut took = Vec::with_capacity(per_worker);
            for n in 0..per_worker {
                took.push(one(w, n).await?);
            }
            Ok::<_, Error>(took)
        }))
        .await;
        let mut all = Vec::new();
        for r in results {
            all.extend(r?);
        }
        self.stub.clear();
        Ok(summarise(all, workers))
    }
}

struct AckRow {
    store: &'static str,
    kind: &'static str,
    workers: usize,
    summary: Summary,
    round_trips: Option<usize>,
}

type Profiles = Vec<(&'static str, Vec<String>)>;

async fn acknowledgements(emulator: &'static Emulator) -> Result<(Vec<AckRow>, Profiles), Error> {
    let mut rows = Vec::new();
    let mut profiles = Vec::new();
    let memory = AckWorld::new(Memory::new(Timestamp::now())).await?;
    for kind in ["deploy", "click"] {
        for workers in [1, WORKERS] {
            let summary = memory.run(kind, workers, REQUESTS).await?;
            print_ack("in-memory", kind, workers, &summary, None);
            rows.push(AckRow {
                store: "in-memory",
                kind,
                workers,
                summary,
                round_trips: None,
            });
        }
    }

    let counter = Calls::default();
    let sdk = emulator.sdk_config().await;
    let dynamodb = counted!(aws_sdk_dynamodb, &sdk, &counter);
    let table = deckhand_harness::unique("bench");
    DynamoStore::create_table(&dynamodb, &table).await?;
    let mut dynamo = AckWorld::new(DynamoStore::new(dynamodb.clone(), table.clone())).await?;
    dynamo.forget = Some((dynamodb, table));
    for kind in ["deploy", "click"] {
        // What the acknowledgement alone asks DynamoDB: one request, its set-up and clean-up
        // left out.
        let label = if kind == "deploy" {
            "`/deploy`"
        } else {
            "Approve click"
        };
        let names = if kind == "deploy" {
            counter.take();
            dynamo.deploy(0, 999_999).await?;
            let mut names = counter.names();
            // The untimed clean-up starts with the lock's DeleteItem.
            let ack = names
                .iter()
                .position(|n| n == "dynamodb:DeleteItem")
                .unwrap_or(names.len());
            names.truncate(ack);
            names
        } else {
            let env = EnvName::parse("a0")?;
            let id = dynamo.awaiting_approval(&env, "count-click".into()).await?;
            counter.take();
            dynamo.approve(id, &env, "count").await?;
            let names = counter.names();
            dynamo.store().break_lock(&env).await?;
            names
        };
        println!(
            "  {label}: DynamoDB requests, in order: {}",
            names.join(", ")
        );
        let trips = names.len();
        profiles.push((label, names));
        for workers in [1, WORKERS] {
            let summary = dynamo.run(kind, workers, EMULATOR_REQUESTS).await?;
            print_ack("DynamoDB (emulator)", kind, workers, &summary, Some(trips));
            rows.push(AckRow {
                store: "DynamoDB (emulator)",
                kind,
                workers,
                summary,
                round_trips: Some(trips),
            });
        }
    }
    Ok((rows, profiles))
}

fn print_ack(store: &str, kind: &str, workers: usize, s: &Summary, trips: Option<usize>) {
    println!(
        "ack {kind:<6} {store:<20} c={workers:<2}  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>8.3} ms  {:>6.0} req/s{}",
        s.p50,
        s.p99,
        s.max,
        s.per_second,
        trips
            .map(|t| format!("  {t} DynamoDB round trips"))
            .unwrap_or_default()
    );
}

// ------------------------------------------------------------------ 2. cold starts ----------

struct ColdRow {
    function: &'static str,
    init: f64,
    first: f64,
    warm: f64,
    rss_mib: f64,
    first_without_prewarm: f64,
    /// CPU time (ms) for init, the first event and a warm one, on the whole machine.
    cpu: Option<[f64; 3]>,
}

/// One function at one Lambda memory size and CFS period, its AWS calls through TLS.
struct ShareRow {
    function: &'static str,
    mb: u64,
    /// The CFS period and quota used, in µs (see `quota::Share::quota`).
    period_us: u64,
    quota_us: u64,
    /// Wall ms, medians: init, first event, warm event.
    wall: [f64; 3],
    /// CPU ms, medians: init, first event, warm event.
    cpu: [f64; 3],
}

impl ShareRow {
    /// The row as the report's table has it (and as the bench prints it).
    fn markdown(&self) -> String {
        let [init, first, warm] = self.wall;
        let [cpu_init, cpu_first, cpu_warm] = self.cpu;
        format!(
            "| {} | {} | {:.2} / {:.1} | {init:.1} | {first:.1} | {:.1} | {warm:.1} | {cpu_init:.1} / {cpu_first:.1} / {cpu_warm:.2} |",
            self.function,
            self.mb,
            self.quota_us as f64 / 1e3,
            self.period_us as f64 / 1e3,
            init + first,
        )
    }
}

/// Where cargo put the function binaries of this profile: next to this benchmark's own
/// executable (`target/<profile>/deps/suite-…` → `target/<profile>/`).
fn binaries() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .and_then(Path::parent)
        .ok_or("no target directory")?
        .to_owned())
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn sample(name: &str) -> Result<Value, Error> {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

/// The events each function gets, `n` telling runs apart: its own trigger, read from
/// `events/`. The bot's are two `/deploy` acknowledgements (to dev, then staging), each a
/// fresh request on a free environment.
fn events(function: &str, n: usize) -> Result<[Value; 2], Error> {
    let deploy = |env: &str| {
        let trigger = format!("cold-{n}-{env}-{}", Timestamp::now().as_millisecond());
        let body = deploy_command("T0DECKHAND", env, &trigger);
        let headers = slack_headers(SECRET, Timestamp::now().as_second(), &body);
        function_url_event("POST", "/slack/commands", &headers, Some(&body))
    };
    let one = || -> Result<Value, Error> {
        Ok(match function {
            "deploy" => sample("ecs-deployment-completed.json")?,
            "rollback" => sample("cloudwatch-alarm-state-change.json")?,
            "build-completed" => sample("codebuild-build-succeeded.json")?,
            _ => {
                json!({ "plan": "not-a-plan", "execution_id": "cold", "scheduled_time": "2026-11-24T03:00:00Z" })
            }
        })
    };
    Ok(match function {
        "bot" => [deploy("dev"), deploy("staging")],
        _ => [one()?, one()?],
    })
}

/// One start: wall times (ms) of init, the first event and a warm one; the CPU each took (ms,
/// when the process ran in a group); peak RSS.
struct Start {
    wall: [f64; 3],
    cpu: Option<[f64; 3]>,
    rss_mib: f64,
}

/// The medians of each of three figures over `starts`.
fn medians(starts: &[[f64; 3]]) -> [f64; 3] {
    [0, 1, 2].map(|i| median(starts.iter().map(|s| s[i]).collect()))
}

/// Each function's environment on the emulator, reached at `endpoint` (plain or through TLS).
struct Cold {
    dir: PathBuf,
    env: Vec<(String, String)>,
    store: DynamoStore,
}

impl Cold {
    async fn new(emulator: &'static Emulator) -> Result<Cold, Error> {
        let seed = Seed::new(emulator).await;
        let store = seed.table().await?;
        let keys = seed
            .secret(&json!({ "slack_signing_secret": SECRET }).to_string())
            .await?;
        let token = seed.secret("xoxb-bench").await?;
        let deploy_function = seed.function().await?;
        let stub = ChatStub::start().await?;
        let config = format!(
            "{}/../infra/deckhand.example.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut env = emulator.aws_env();
        env.extend(
            [
                ("DECKHAND_CONFIG", config.as_str()),
                ("DECKHAND_TABLE", store.table()),
                ("DECKHAND_DEPLOY_FUNCTION", &deploy_function),
                ("DECKHAND_BACKUP_FUNCTION", "deckhand-backup"),
                ("DECKHAND_BOT_KEYS_SECRET", &keys),
                ("DECKHAND_SLACK_TOKEN_SECRET", &token),
                ("DECKHAND_SLACK_API_URL", &stub.apis().slack),
                ("DECKHAND_DISCORD_API_URL", &stub.apis().discord),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        // The stub answers for as long as the benchmark runs.
        std::mem::forget(stub);
        Ok(Cold {
            dir: binaries()?,
            env,
            store,
        })
    }

    fn exe(&self, function: &str) -> Result<PathBuf, Error> {
        let exe = self.dir.join(format!("deckhand-fn-{function}"));
        if !exe.exists() {
            return Err(format!("{} is not built: run `just bench`", exe.display()).into());
        }
        Ok(exe)
    }

    /// One start: the function's binary under a Runtime API stand-in (in `group`, when given),
    /// handed its two events one at a time, its CPU time read at each boundary: after init (its
    /// first poll), after the first answer, after the second. Then the environments the bot's
    /// requests took are freed (untimed).
    async fn start(
        &self,
        function: &str,
        env: &[(String, String)],
        prewarm: bool,
        group: Option<&Group>,
        n: usize,
    ) -> Result<Start, Error> {
        let exe = self.exe(function)?;
        let api = RuntimeApi::start().await?;
        let [first_event, second_event] = events(function, n)?;
        let mut envs = api.lambda_env(&format!("deckhand-{function}"));
        envs.extend(env.iter().cloned());
        envs.push((
            "DECKHAND_PREWARM".into(),
            if prewarm { "1" } else { "0" }.into(),
        ));
        // A group serves several starts one after another: each reads its own share of the count.
        let before = group.map_or(0.0, Group::cpu_ms);
        let spawned = Instant::now();
        let mut child = match group {
            Some(g) => g.spawn(&exe, &envs)?,
            None => std::process::Command::new(&exe)
                .envs(envs.iter().cloned())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()?,
        };
        let cpu = || group.map(Group::cpu_ms);
        let deadline = Instant::now() + Duration::from_secs(60);
        while api.first_poll().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let cpu_init = cpu();
        api.push("first", first_event);
        let first_ok = api.wait_for_answers(1, Duration::from_secs(60)).await;
        let cpu_first = cpu();
        api.push("second", second_event);
        let answered = first_ok && api.wait_for_answers(2, Duration::from_secs(60)).await;
        let cpu_second = cpu();
        let rss_mib = peak_rss_mib(child.id());
        let _ = child.kill();
        let _ = child.wait();
        for e in ["dev", "staging"] {
            self.store.break_lock(&EnvName::parse(e)?).await?;
        }
        if !answered {
            return Err(format!(
                "{function} did not answer: init errors {:?}",
                api.init_errors()
            )
            .into());
        }
        let answers = api.answers();
        let at = |id: &str| answers.iter().find(|a| a.request_id == id).map(|a| a.at);
        let (
            Some(first_done),
            Some(second_done),
            Some(first_poll),
            Some(first_in),
            Some(second_in),
        ) = (
            at("first"),
            at("second"),
            api.first_poll(),
            api.handed_at("first"),
            api.handed_at("second"),
        )
        else {
            return Err(format!("{function}: incomplete timings").into());
        };
        let cpu = match (cpu_init, cpu_first, cpu_second) {
            (Some(i), Some(f), Some(w)) => Some([i - before, f - i, w - f]),
            _ => None,
        };
        Ok(Start {
            wall: [
                ms(first_poll - spawned),
                ms(first_done - first_in),
                ms(second_done - second_in),
            ],
            cpu,
            rss_mib,
        })
    }
}

/// A group for one setting, or none where this machine cannot make one (not root, no cgroup
/// v1): CPU time is then not reported.
fn group(name: &str, share: Option<Share>) -> Result<Option<Group>, Error> {
    if !Group::available() {
        return Ok(None);
    }
    Ok(Some(Group::new(&format!("deckhand-bench-{name}"), share)?))
}

async fn cold_starts(emulator: &'static Emulator) -> Result<Vec<ColdRow>, Error> {
    let cold = Cold::new(emulator).await?;
    let mut rows = Vec::new();
    for function in FUNCTIONS {
        let whole = group(&format!("{function}-whole"), None)?;
        let mut starts = Vec::new();
        for n in 0..STARTS {
            starts.push(
                cold.start(function, &cold.env, true, whole.as_ref(), n)
                    .await?,
            );
        }
        let mut without = Vec::new();
        for n in 0..STARTS / 2 {
            let s = cold
                .start(function, &cold.env, false, None, STARTS + n)
                .await?;
            without.push(s.wall[1]);
        }
        let wall = medians(&starts.iter().map(|s| s.wall).collect::<Vec<_>>());
        let cpu: Option<Vec<[f64; 3]>> = starts.iter().map(|s| s.cpu).collect();
        let row = ColdRow {
            function,
            init: wall[0],
            first: wall[1],
            warm: wall[2],
            rss_mib: starts.iter().map(|s| s.rss_mib).fold(0.0, f64::max),
            first_without_prewarm: median(without),
            cpu: cpu.map(|c| medians(&c)),
        };
        println!(
            "cold start {:<16} init {:>6.1} ms  first event {:>6.1} ms (without prewarm {:>6.1} ms)  warm event {:>6.2} ms  peak RSS {:>5.1} MiB  CPU ms {:?}",
            row.function,
            row.init,
            row.first,
            row.first_without_prewarm,
            row.warm,
            row.rss_mib,
            row.cpu
        );
        rows.push(row);
    }
    Ok(rows)
}

/// Lambda's memory sizes measured, and the CFS periods each is held at.
const SIZES_MB: [u64; 3] = [128, 256, 512];
const PERIODS_US: [u64; 2] = [100_000, 10_000];
const STARTS_AT_SHARE: usize = 5;

/// Every function at each size and period, its AWS calls through a TLS terminator.
async fn at_lambda_share(emulator: &'static Emulator) -> Result<Vec<ShareRow>, Error> {
    if !Group::available() {
        println!("Lambda's CPU share: not measured (needs root and cgroup v1 cpu/cpuacct)");
        return Ok(Vec::new());
    }
    let cold = Cold::new(emulator).await?;
    let front = tls::start(emulator.addr, &cold.dir).await?;
    let mut env = cold.env.clone();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), front.endpoint.clone()));
    env.push(("SSL_CERT_FILE".into(), front.roots.display().to_string()));
    let mut rows = Vec::new();
    for function in FUNCTIONS {
        for mb in SIZES_MB {
            for period_us in PERIODS_US {
                let share = Share { mb, period_us };
                let (period_us, quota_us) = share.quota();
                let g = Group::new(
                    &format!("deckhand-bench-{function}-{mb}-{period_us}"),
                    Some(share),
                )?;
                let mut starts = Vec::new();
                for n in 0..STARTS_AT_SHARE {
                    starts.push(cold.start(function, &env, true, Some(&g), n).await?);
                }
                let row = ShareRow {
                    function,
                    mb,
                    period_us,
                    quota_us,
                    wall: medians(&starts.iter().map(|s| s.wall).collect::<Vec<_>>()),
                    cpu: medians(&starts.iter().filter_map(|s| s.cpu).collect::<Vec<_>>()),
                };
                println!("{}", row.markdown());
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

// ------------------------------------------------------------------ 3. rollback reaction ----

struct Reaction {
    /// Alarm delivered → `UpdateService` on the wire, in the rollback function.
    to_update_service: Summary,
    /// Alarm delivered → the rollback function's answer (card, thread and metrics done too).
    to_answer: Summary,
    /// The AWS requests the rollback function made before `UpdateService`, in order (the
    /// first delivery).
    before_update: Vec<String>,
}

async fn rollback_reaction(emulator: &'static Emulator) -> Result<Reaction, Error> {
    let local = Local::start_on(emulator, emulator.settings(), deckhand::local::CONFIG, None)
        .await
        .map_err(|e| e.to_string())?;
    // The rollback function's AWS clients, counted: the same emulator, table and chat.
    let calls = Calls::default();
    let sdk = emulator.sdk_config().await;
    let dynamodb = counted!(aws_sdk_dynamodb, &sdk, &calls);
    let ecs = counted!(aws_sdk_ecs, &sdk, &calls);
    let ecr = counted!(aws_sdk_ecr, &sdk, &calls);
    let cloudwatch = counted!(aws_sdk_cloudwatch, &sdk, &calls);
    let table = local.bot.ports.store.table().to_owned();
    let ports = local
        .bot
        .ports
        .clone()
        .with_store(DynamoStore::new(dynamodb, table))
        .with_platform(deckhand_aws::ecs::EcsPlatform::new(ecs, ecr))
        .with_monitor(deckhand_aws::monitor::CloudWatchMonitor::new(cloudwatch)?);
    let rollback_function = App::new(&ports, local.config());
    // A known-good release to roll back to: shipped, and baked with its alarms quiet.
    local
        .release_to_prod("api", "v2.0.0")
        .await
        .map_err(|e| e.to_string())?;
    local.clock().advance(SignedDuration::from_mins(31));
    local.bot.app().bake_check().await?;
    let mut to_update = Vec::new();
    let mut to_answer = Vec::new();
    let mut before_update = Vec::new();
    for i in 1..=REACTIONS {
        // A release inside its watch window (untimed): build → staging → prod, approved.
        local
            .release_to_prod("api", &format!("v2.{i}.0"))
            .await
            .map_err(|e| e.to_string())?;
        local.clock().advance(SignedDuration::from_mins(2));
        let alarm = local
            .alarm_event("api-prod-5xx", &format!("Threshold Crossed: bench {i}"))
            .await
            .map_err(|e| e.to_string())?;
        calls.take();
        let started = Instant::now();
        let answer = deckhand_functions::handlers::rollback(&rollback_function, &alarm).await?;
        to_answer.push(started.elapsed());
        if answer["rolled_back"].as_array().map_or(0, Vec::len) != 1 {
            return Err(format!("alarm {i} did not roll back: {answer}").into());
        }
        let made = calls.take();
        let update = made
            .iter()
            .position(|(_, name)| name == "ecs:UpdateService")
            .ok_or("the rollback function sent no UpdateService")?;
        to_update.push(made[update].0.duration_since(started));
        if before_update.is_empty() {
            // Each call with when it went on the wire, from the alarm's delivery.
            before_update = made[..update]
                .iter()
                .map(|(at, n)| format!("{n} (+{:.1} ms)", ms(at.duration_since(started))))
                .collect();
        }
        if !local.take_work().await.is_empty() {
            return Err("the rollback was handed to another function".into());
        }
        local
            .settle(EcsReport::Completed)
            .await
            .map_err(|e| e.to_string())?;
        // Quiet again: the alarm back to OK, the rollback's hold lifted, the watch window over.
        local
            .seed
            .set_alarm_state("api-prod-5xx", false, "bench")
            .await
            .map_err(|e| e.to_string())?;
        local
            .type_command("U0BOB", "C0PRODOPS", "/unlock prod")
            .await
            .map_err(|e| e.to_string())?;
        local.clock().advance(SignedDuration::from_hours(2));
    }
    let reaction = Reaction {
        to_update_service: summarise(to_update, 1),
        to_answer: summarise(to_answer, 1),
        before_update,
    };
    println!(
        "rollback reaction: alarm → UpdateService sent p50 {:.1} ms p99 {:.1} ms after {} AWS calls ({}); → answered p50 {:.1} ms p99 {:.1} ms",
        reaction.to_update_service.p50,
        reaction.to_update_service.p99,
        reaction.before_update.len(),
        reaction.before_update.join(", "),
        reaction.to_answer.p50,
        reaction.to_answer.p99,
    );
    Ok(reaction)
}

// ------------------------------------------------------------------ 4. artifacts ------------

fn artifacts() -> Vec<(String, Option<(f64, f64)>)> {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(format!("{}/../target", env!("CARGO_MANIFEST_DIR"))));
    FUNCTIONS
        .iter()
        .map(|f| {
            let name = format!("deckhand-fn-{f}");
            let exe = target.join("aarch64-unknown-linux-gnu/release").join(&name);
            let zip = target.join("lambda").join(&name).join("bootstrap.zip");
            let size = |p: &Path| {
                std::fs::metadata(p)
                    .ok()
                    .map(|m| m.len() as f64 / 1_048_576.0)
            };
            (name, size(&exe).zip(size(&zip)))
        })
        .collect()
}

// ------------------------------------------------------------------ the report --------------

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1_048_576.0);
    format!("{cores} cores ({model}), {mem_gib:.0} GiB")
}

fn report(
    (acks, profiles): &(Vec<AckRow>, Profiles),
    cold: &[ColdRow],
    shares: &[ShareRow],
    reaction: &Reaction,
    took: Duration,
) -> Result<String, Error> {
    let mut md = String::new();
    let date = Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string();
    writeln!(md, "# Benchmarks\n")?;
    writeln!(
        md,
        "Written by `just bench` (`cli/benches/suite.rs`) on {date}, on {}; the whole suite took {:.0} s. \
         Figures, not pass/fail: they are compared with the targets by hand, below. The bench \
         profile is the release profile without fat LTO (see `Cargo.toml`). AWS is the moto \
         emulator on loopback (Python; much slower than DynamoDB itself); Slack is a local stand-in.\n",
        machine(),
        took.as_secs_f64()
    )?;
    writeln!(
        md,
        "## 1. Acknowledging a signed `/deploy` and a signed Approve click\n"
    )?;
    writeln!(
        md,
        "Through the real router on loopback: HTTP in, HMAC check, parse, policy, the use-case \
         (`request_deploy`: the checks the config answers, one write that claims the event, \
         takes the lock and creates the deployment, and the dispatch of its checks — the card \
         is the deploy function's, after the answer; `approve`: one conditional write records \
         the vote beside the deployment, then the dispatch that counts it), HTTP out. \
         {REQUESTS} requests per in-memory row and {EMULATOR_REQUESTS} per emulator row after a \
         warm-up; at concurrency 32 each worker has its own environment. The emulator answers \
         one request at a time (the test harness serialises moto, whose threaded server breaks \
         DynamoDB's transactions), so its rows at concurrency 32 are mostly its own queue. \
         Only the store differs between the two halves: everything else is core's in-memory \
         ports, so the in-memory rows are Deckhand's own cost. Targets: p99 ≤ 2 ms in memory, \
         ≤ 30 ms on the emulator (Slack and Discord allow 3,000 ms); DynamoDB round trips: 1 for \
         `/deploy` (and no other AWS call but the dispatch), 1 for a click, 2 for the click that \
         completes the approvals. Requests/s is what the \
         workers sustain while busy with timed requests (the untimed set-up between them is \
         left out).\n"
    )?;
    writeln!(
        md,
        "| request | store | concurrency | p50 ms | p99 ms | max ms | requests/s | DynamoDB round trips |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|---|")?;
    for r in acks {
        writeln!(
            md,
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.0} | {} |",
            if r.kind == "deploy" {
                "`/deploy`"
            } else {
                "Approve click"
            },
            r.store,
            r.workers,
            r.summary.p50,
            r.summary.p99,
            r.summary.max,
            r.summary.per_second,
            r.round_trips.map_or("—".to_owned(), |t| t.to_string())
        )?;
    }
    writeln!(
        md,
        "\nWhat one acknowledgement asks DynamoDB, in order (from an SDK interceptor):\n"
    )?;
    for (what, names) in profiles {
        writeln!(md, "- {what}: {}", names.join(" → "))?;
    }
    writeln!(md, "\n## 2. Cold starts and memory\n")?;
    writeln!(
        md,
        "Each function's binary (bench profile, x86_64 here) started {STARTS} times under a \
         Lambda Runtime API stand-in with its config file, secrets and table on the emulator: \
         *init* is process start → its first poll for an event (config and secrets read, clients \
         built, connections warmed); *first* is the first event's handling, *warm* the second's. \
         *Without prewarm* repeats the first event with `DECKHAND_PREWARM=0` ({} starts), which \
         skips opening the DynamoDB connection during init. Peak RSS is the process's `VmHWM`. \
         CPU is the process's CPU time (user and system, every thread) from its cgroup's \
         `cpuacct.usage`, read when it first polls, answers the first event and answers the \
         second: the figure that does not depend on how CPU is shared. The bot's events are \
         two `/deploy` acknowledgements on free environments. \
         Targets: init ≤ 30 ms, peak RSS ≤ 32 MiB.\n",
        STARTS / 2
    )?;
    writeln!(
        md,
        "| function | init ms (median) | first event ms | first event without prewarm ms | warm event ms | peak RSS MiB | CPU ms init / first / warm |"
    )?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    for c in cold {
        let cpu = c.cpu.map_or("not measured".to_owned(), |[i, f, w]| {
            format!("{i:.1} / {f:.1} / {w:.2}")
        });
        writeln!(
            md,
            "| {} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} | {cpu} |",
            c.function, c.init, c.first, c.first_without_prewarm, c.warm, c.rss_mib
        )?;
    }
    writeln!(md, "\n### At Lambda's share of a CPU, through TLS\n")?;
    if shares.is_empty() {
        writeln!(
            md,
            "Not measured on this run: it needs root and cgroup v1 `cpu`/`cpuacct`."
        )?;
    } else {
        writeln!(
            md,
            "The same starts ({STARTS_AT_SHARE} per row), each process held by a cgroup v1 CFS \
             quota to the CPU Lambda gives its memory size (1,769 MB = one vCPU), at a 100 ms \
             and a 10 ms period (where a 10 ms period would need a quota under the kernel's 1 ms \
             minimum, the same share over a longer period), with every AWS call going through \
             a TLS terminator on loopback (tokio-rustls, a certificate from a CA made by rcgen \
             and handed over in `SSL_CERT_FILE` with the machine's roots), so the handshakes \
             are paid. Wall ms and CPU ms are medians. For the bot, *init + first* is a cold \
             `/deploy` acknowledgement as Slack waits for it (3,000 ms allowed).\n"
        )?;
        writeln!(
            md,
            "| function | MB | quota / period ms | init ms | first event ms | init + first ms | warm event ms | CPU ms init / first / warm |"
        )?;
        writeln!(md, "|---|---|---|---|---|---|---|---|")?;
        for r in shares {
            writeln!(md, "{}", r.markdown())?;
        }
    }
    writeln!(md, "\n## 3. Rollback reaction\n")?;
    writeln!(
        md,
        "A CloudWatch alarm event for a release inside its watch window, delivered to the \
         rollback function's handler, which sends ECS the known-good revision itself (no \
         hand-over to the deploy function), {REACTIONS} times, against the emulator; every AWS \
         request it makes is counted by an SDK interceptor on its clients. Target: alarm → \
         `UpdateService` sent ≤ 3 AWS calls, p99 ≤ 30 ms.\n"
    )?;
    writeln!(md, "| span | p50 ms | p99 ms | max ms |\n|---|---|---|---|")?;
    for (span, s) in [
        ("alarm → `UpdateService` sent", reaction.to_update_service),
        (
            "alarm → answered (card, thread, metrics too)",
            reaction.to_answer,
        ),
    ] {
        writeln!(
            md,
            "| {span} | {:.1} | {:.1} | {:.1} |",
            s.p50, s.p99, s.max
        )?;
    }
    writeln!(
        md,
        "\nWhat the rollback function asks AWS before `UpdateService` ({} calls), in order:\n\n- {}",
        reaction.before_update.len(),
        reaction.before_update.join(" → ")
    )?;
    writeln!(md, "\n## 4. Artifacts\n")?;
    writeln!(
        md,
        "`just build`: `cargo lambda build --release --arm64`, stripped aarch64 `bootstrap` and \
         its zip. Target ≤ 6 MiB zipped.\n"
    )?;
    writeln!(md, "| function | bootstrap MiB | zip MiB |\n|---|---|---|")?;
    for (name, size) in artifacts() {
        match size {
            Some((exe, zip)) => writeln!(md, "| {name} | {exe:.1} | {zip:.1} |")?,
            None => writeln!(md, "| {name} | not built (run `just build`) | |")?,
        }
    }
    Ok(md)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    // Errors the timed code logs (a port failing behind a chat answer) reach stderr.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let emulator = Emulator::shared().map_err(|e| e.to_string())?;
    // `DECKHAND_BENCH_ONLY=acks|cold|share|reaction` runs one section alone and writes nothing (for
    // working on it); the report needs every section.
    match std::env::var("DECKHAND_BENCH_ONLY").as_deref() {
        Ok("acks") => return acknowledgements(emulator).await.map(drop),
        Ok("cold") => return cold_starts(emulator).await.map(drop),
        Ok("share") => return at_lambda_share(emulator).await.map(drop),
        Ok("reaction") => return rollback_reaction(emulator).await.map(drop),
        _ => {}
    }
    let acks = acknowledgements(emulator).await?;
    let cold = cold_starts(emulator).await?;
    let shares = at_lambda_share(emulator).await?;
    let reaction = rollback_reaction(emulator).await?;
    let md = report(&acks, &cold, &shares, &reaction, started.elapsed())?;
    let path = format!("{}/../docs/benchmarks.md", env!("CARGO_MANIFEST_DIR"));
    let notes = std::fs::read_to_string(&path)
        .ok()
        .and_then(|old| old.split_once(NOTES).map(|(_, n)| n.to_owned()));
    let md = match notes {
        Some(n) => format!("{md}\n{NOTES}{n}"),
        None => format!("{md}\n{NOTES}\n"),
    };
    std::fs::write(&path, md)?;
    println!("wrote {path} in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Everything in docs/benchmarks.md after this line is kept across runs: the reading of the
/// figures against the targets, written by people.
const NOTES: &str = "## Reading the figures\n";
