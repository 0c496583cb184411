//! Local mode: all of Deckhand in one process on the AWS emulator, for `deckhand demo` (a
//! scripted story) and `deckhand dev` (you type the commands).
//!
//! Nothing here is a shortcut around the product: chat commands and button clicks are
//! Slack-signed HTTP requests to the real router; dispatched work and AWS events go through the
//! same handlers the Lambda functions run ([`deckhand_functions::handlers`]); every port is its production
//! adapter on moto. What local mode adds is the part of the world that is not Deckhand:
//! - Slack: a stand-in ([`ChatStub`]) that shows every message as it arrives;
//! - ECS: moto neither finishes tasks nor emits EventBridge events, so [`Local::settle`] stops
//!   migration tasks (exit 0) and delivers "ECS Deployment State Change" for each new ECS
//!   deployment, built from `events/` and the deployment id ECS itself reports;
//! - CloudWatch and the Scheduler: [`Local::fire_alarm`] and [`Local::scheduled_backup`]
//!   deliver their events the way EventBridge would;
//! - the services' endpoints that checks GET: the chat stand-in answers them (200 unless told
//!   to fail or given a script), and smoke containers log and exit 0 unless `deckhand dev`
//!   makes one fail ([`Faults`]: moto cannot produce a non-zero exit code);
//! - time: [`LocalClock`] is the wall clock plus however far the story has fast-forwarded, so a
//!   30-minute bake window passes in an instant, and work due later (a check's next try) is
//!   fast-forwarded to when nothing else is left to do ([`Local::settle`]).

mod screen;

pub mod demo;
pub mod dev;

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use deckhand_aws::dispatch::QueueDispatch;
use deckhand_aws::metrics::{EmfMetrics, NAMESPACE};
use deckhand_core::config::Config;
use deckhand_core::deployment::Work;
use deckhand_core::ports::Clock;
use deckhand_core::types::{SignedDuration, Timestamp};
use deckhand_harness::testing::{EmulatorWorld, TestWorld};
use deckhand_harness::{Emulator, Seed};
use futures_util::future::join_all;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use deckhand_aws::dynamo::DynamoStore;
use deckhand_aws::ecs::EcsPlatform;
use deckhand_aws::monitor::CloudWatchMonitor;
use deckhand_aws::rds::RdsBackups;
use deckhand_bot::router::{Bot, Keys, router};
use deckhand_core::ports::Bundle;
use deckhand_functions::chat::HttpChat;
use deckhand_functions::handlers::{self as functions, FunctionError};
use deckhand_harness::faults::Faults;
use deckhand_harness::standin::{ChatStub, Observer, Sent, deliver, form, serve, slack_headers};

pub use screen::{Button, Screen};

/// The config local mode runs on (see its header for how it differs from the example).
pub const CONFIG: &str = include_str!("demo.toml");

/// The tag every seeded service runs before the story starts.
pub const SEEDED_TAG: &str = "v1.2.2";

const TABLE: &str = "deckhand";

/// Loopback only, and only for this process's own router: local mode signs its own requests.
const SIGNING_SECRET: &str = "deckhand-local-mode-signing-secret";

const CODEBUILD_EVENT: &str = include_str!("../../../events/codebuild-build-succeeded.json");
const ECS_EVENT: &str = include_str!("../../../events/ecs-deployment-completed.json");
const ALARM_EVENT: &str = include_str!("../../../events/cloudwatch-alarm-state-change.json");
const SQS_EVENT: &str = include_str!("../../../events/sqs-delayed-work.json");

/// The wall clock plus however far local mode has fast-forwarded. Clones share it.
#[derive(Debug, Default, Clone)]
pub struct LocalClock {
    ahead_ms: Arc<AtomicI64>,
}

impl LocalClock {
    pub fn advance(&self, by: SignedDuration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ahead_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for LocalClock {
    fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        now.checked_add(SignedDuration::from_millis(
            self.ahead_ms.load(Ordering::SeqCst),
        ))
        .unwrap_or(now)
    }
}

pub type LocalPorts = Bundle<
    DynamoStore,
    EcsPlatform,
    CloudWatchMonitor,
    HttpChat,
    QueueDispatch,
    RdsBackups,
    EmfMetrics,
    LocalClock,
>;

/// How ECS reports a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcsReport {
    Completed,
    /// The circuit breaker gave up (`SERVICE_DEPLOYMENT_FAILED`).
    Failed,
}

/// One local Deckhand, seeded and serving.
pub struct Local {
    pub seed: Seed,
    pub bot: Arc<Bot<LocalPorts>>,
    pub chat: ChatStub,
    /// What ECS says of a one-off task's end, rewritten where `deckhand dev` (or a test) asks:
    /// Deckhand's own AWS calls pass through it.
    pub faults: Faults,
    router: String,
    http: reqwest::Client,
    work: tokio::sync::Mutex<UnboundedReceiver<Work>>,
    /// ECS deployments whose outcome was already delivered (or that predate Deckhand).
    announced: Mutex<HashSet<String>>,
    clusters: Vec<String>,
    counter: AtomicU64,
    /// The next dispatched work is lost (`deckhand dev`'s `drop work`): a Lambda async invoke
    /// that never arrived, for maintenance to find.
    drop_next: std::sync::atomic::AtomicBool,
    migrations_held: Arc<std::sync::atomic::AtomicBool>,
    finisher: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("router", &self.router)
            .field("chat", &self.chat.url)
            .finish_non_exhaustive()
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.finisher.abort();
    }
}

impl Local {
    /// Starts the emulator (installing the pinned moto on first use), seeds everything
    /// `config_text` names with [`SEEDED_TAG`] running, and serves the router on loopback.
    /// `observer` sees every chat message as Slack would receive it.
    pub async fn start(config_text: &str, observer: Option<Observer>) -> anyhow::Result<Self> {
        let emulator = tokio::task::spawn_blocking(Emulator::shared)
            .await
            .context("starting the emulator")??;
        Self::start_on(emulator, emulator.settings(), config_text, observer).await
    }

    /// Like [`Local::start`], on `emulator`, with Deckhand's own AWS calls made with
    /// `settings` (tests point them through an `Outage` proxy, or give each test its own
    /// emulator so the config's names cannot collide).
    pub async fn start_on(
        emulator: &'static Emulator,
        settings: deckhand_aws::Settings,
        config_text: &str,
        observer: Option<Observer>,
    ) -> anyhow::Result<Self> {
        let chat = ChatStub::start_observed(observer)
            .await
            .context("starting the Slack stand-in")?;
        let text = config_text.replace("HEALTH", chat.url.trim_start_matches("http://"));
        let config = Config::parse("local mode's deckhand.toml", &text)
            .map_err(|e| anyhow!("the config has mistakes:\n{e}"))?;
        let upstream = settings
            .endpoint_url
            .clone()
            .unwrap_or_else(|| emulator.endpoint.clone());
        let faults = Faults::start(&upstream)
            .await
            .context("starting the faults proxy")?;
        let settings = deckhand_aws::Settings {
            endpoint_url: Some(faults.endpoint.clone()),
            ..settings
        };
        let world = TestWorld::builder(config)
            .chat(chat)
            .on_emulator(emulator, &settings, TABLE, SEEDED_TAG)
            .await
            .context("seeding the emulator")?;
        let (dispatch, work) = QueueDispatch::holding();
        let ports = world.ports(dispatch)?.with_clock(LocalClock::default());
        let mut ports = ports;
        ports.platform.migration_poll = Duration::from_millis(100);
        // Metric lines would drown the transcript; the functions print them in AWS.
        ports.metrics = EmfMetrics::to_writer(NAMESPACE, Box::new(std::io::sink()));
        let EmulatorWorld {
            seed,
            stub: chat,
            chat: http_chat,
            config,
            ..
        } = world;
        let clusters: Vec<String> = config
            .environments
            .values()
            .map(|e| e.cluster.clone())
            .collect();
        let bot = Arc::new(Bot {
            ports,
            config,
            keys: deckhand_bot::keyring::KeyRing::fixed(Keys {
                slack_signing_secret: Some(SecretString::from(SIGNING_SECRET)),
                ..Keys::default()
            }),
            responder: http_chat,
        });
        let router_url = serve(router(bot.clone()))
            .await
            .context("serving the router")?;
        let migrations_held = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let finisher = tokio::spawn({
            let seed = seed.clone();
            let clusters = clusters.clone();
            let held = migrations_held.clone();
            async move { seed.finish_tasks(clusters, held).await }
        });
        let local = Local {
            seed,
            bot,
            chat,
            faults,
            router: router_url,
            http: reqwest::Client::new(),
            work: tokio::sync::Mutex::new(work),
            announced: Mutex::new(HashSet::new()),
            clusters,
            counter: AtomicU64::new(0),
            drop_next: std::sync::atomic::AtomicBool::new(false),
            migrations_held,
            finisher,
        };
        // The seeded services' own first deployments are not news.
        for cluster in &local.clusters {
            for (_, id) in local.seed.primary_deployments(cluster).await? {
                local.announced().insert(id);
            }
        }
        Ok(local)
    }

    pub fn config(&self) -> &Config {
        &self.bot.config
    }

    pub fn clock(&self) -> &LocalClock {
        &self.bot.ports.clock
    }

    fn announced(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.announced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn workspace(&self) -> anyhow::Result<String> {
        self.config()
            .slack
            .as_ref()
            .map(|s| s.workspace.clone())
            .ok_or_else(|| anyhow!("local mode needs a [slack] section in the config"))
    }

    async fn post_signed(&self, path: &str, body: String) -> anyhow::Result<reqwest::Response> {
        let headers = slack_headers(SIGNING_SECRET, Timestamp::now().as_second(), &body);
        let response = deliver(&self.http, format!("{}{path}", self.router), headers, body)
            .await
            .with_context(|| format!("POST {path}"))?;
        if !response.status().is_success() {
            bail!("POST {path} answered {}", response.status());
        }
        Ok(response)
    }

    /// `user` (a Slack user id from the config) types `line` (`/deploy prod api v1.2.3`) in
    /// `channel`; returns the answer only they see.
    pub async fn type_command(
        &self,
        user: &str,
        channel: &str,
        line: &str,
    ) -> anyhow::Result<String> {
        let line = line.trim();
        let (slash, text) = line.split_once(' ').unwrap_or((line, ""));
        let n = self.next();
        let team = self.workspace()?;
        let body = form(&[
            ("team_id", team.as_str()),
            ("channel_id", channel),
            ("user_id", user),
            ("user_name", &screen::user_name(user)),
            ("command", slash),
            ("text", text.trim()),
            ("trigger_id", &format!("local.{n}")),
            (
                "response_url",
                &format!("{}/respond/{user}/{n}", self.chat.url),
            ),
        ]);
        let answer: Value = self
            .post_signed("/slack/commands", body)
            .await?
            .json()
            .await?;
        Ok(answer["text"].as_str().unwrap_or_default().to_owned())
    }

    /// `user` clicks a card's button. A refusal reaches them through the stand-in (as Slack's
    /// `response_url` would), so it shows up on the screen, not here.
    pub async fn click(&self, user: &str, button: &Button) -> anyhow::Result<()> {
        let n = self.next();
        let team = self.workspace()?;
        let payload = json!({
            "type": "block_actions",
            "user": { "id": user, "username": screen::user_name(user), "team_id": team },
            "team": { "id": team },
            "channel": { "id": button.channel },
            "container": { "type": "message", "message_ts": button.message },
            "response_url": format!("{}/respond/{user}/{n}", self.chat.url),
            "actions": [{ "action_id": button.action, "value": button.value, "type": "button" }],
        });
        self.post_signed(
            "/slack/interactions",
            form(&[("payload", &payload.to_string())]),
        )
        .await?;
        Ok(())
    }

    /// The buttons on the cards as they now stand, in the order the cards were posted.
    pub fn buttons(&self) -> Vec<Button> {
        screen::live_buttons(&self.chat.sent())
    }

    /// Every message the bot sent to Slack so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.chat.sent()
    }

    /// The work dispatched so far, taken off the queue without running it (tests deliver it
    /// themselves, as often as they like).
    pub async fn take_work(&self) -> Vec<Work> {
        let mut queue = self.work.lock().await;
        std::iter::from_fn(|| queue.try_recv().ok()).collect()
    }

    /// The "ECS Deployment State Change" EventBridge would send for `service`'s newest
    /// deployment in `cluster`, now (and marks it delivered for [`Local::settle`]).
    pub async fn ecs_report(
        &self,
        cluster: &str,
        service: &str,
        report: EcsReport,
    ) -> anyhow::Result<Value> {
        let (arn, id) = self
            .seed
            .primary_deployments(cluster)
            .await?
            .into_iter()
            .find(|(arn, _)| arn.ends_with(&format!("/{service}")))
            .with_context(|| format!("no service {service} in cluster {cluster}"))?;
        self.announced().insert(id.clone());
        Ok(self.ecs_event(&arn, &id, report))
    }

    /// Runs dispatched work and plays ECS until nothing is left to do: each piece of work
    /// through the function that would get it in AWS, each new ECS deployment reported as
    /// `report` says. Returns the handlers' answers, in order.
    pub async fn settle(&self, report: EcsReport) -> anyhow::Result<Vec<Value>> {
        let mut answers = Vec::new();
        loop {
            let mut progressed = false;
            loop {
                let item = self.work.lock().await.try_recv();
                let Ok(item) = item else { break };
                if self.drop_next.swap(false, Ordering::SeqCst) {
                    println!("  (the dispatch of {item:?} was lost)");
                    continue;
                }
                progressed = true;
                let answer = functions::work(&self.bot.app(), &item).await;
                answers.push(answer.map_err(|e| anyhow!("{e}"))?);
            }
            for cluster in &self.clusters {
                for (service, id) in self.seed.primary_deployments(cluster).await? {
                    if !self.announced().insert(id.clone()) {
                        continue;
                    }
                    progressed = true;
                    let event = self.ecs_event(&service, &id, report);
                    answers.push(
                        self.deliver("deploy", &event)
                            .await
                            .map_err(|e| anyhow!("{e}"))?,
                    );
                }
            }
            if !progressed && !self.fast_forward() {
                return Ok(answers);
            }
        }
    }

    /// Nothing else to do: the clock moves on to the work due soonest (a check's next try, a
    /// look at a smoke task), which goes onto the queue. `false` when none is held.
    fn fast_forward(&self) -> bool {
        let due = self.next_due();
        let any = !due.is_empty();
        for work in due {
            if let Err(e) = self.bot.ports.dispatch.queue(work) {
                tracing::warn!(error = %e, "could not queue work whose time came");
            }
        }
        any
    }

    /// The clock moves on to the delayed work due soonest, which is taken off the delay queue
    /// and returned as the SQS message the deploy function would get for it (tests deliver it
    /// themselves, as often as they like). `None` when no work is delayed.
    pub fn next_delayed(&self) -> Option<Value> {
        let work = self.next_due().into_iter().next()?;
        let mut message: Value = serde_json::from_str(SQS_EVENT).ok()?;
        message["Records"][0]["body"] = serde_json::to_string(&work).ok()?.into();
        message["Records"][0]["messageId"] = format!("local-{}", self.next()).into();
        Some(message)
    }

    /// Moves the clock on to the delayed work due soonest; returns the work due then (the
    /// rest stays held, due that much sooner).
    fn next_due(&self) -> Vec<Work> {
        let dispatch = &self.bot.ports.dispatch;
        let mut held = dispatch.take_held();
        let Some(first) = held.iter().map(|(_, d)| *d).min() else {
            return Vec::new();
        };
        if first.is_positive() {
            self.clock().advance(first);
        }
        let mut due = Vec::new();
        for (work, delay) in held.drain(..) {
            let left = delay - first;
            if left.is_positive() {
                dispatch.hold(work, left);
            } else {
                due.push(work);
            }
        }
        due
    }

    /// Keeps migration tasks running (the migration container does not exit) until released:
    /// for tests that act while a migration runs, which would otherwise race the container.
    pub fn hold_migrations(&self, held: bool) {
        self.migrations_held.store(held, Ordering::SeqCst);
    }

    /// `service`'s check URLs, in every environment, answer 503 while `fail` (200 again
    /// after); returns them.
    pub fn fail_checks(&self, service: &str, fail: bool) -> anyhow::Result<Vec<String>> {
        let svc = self.service_config(service)?;
        let mut paths = Vec::new();
        for env in &svc.envs {
            for check in svc.checks_for(env) {
                let path = self.stand_in_path(&check.url)?;
                self.chat.fail_checks(&path, fail);
                paths.push(path);
            }
        }
        if paths.is_empty() {
            bail!("{service} has no checks in the config");
        }
        Ok(paths)
    }

    /// `path` on the stand-in for `url` (local mode's checks point at it).
    fn stand_in_path(&self, url: &str) -> anyhow::Result<String> {
        url.strip_prefix(&self.chat.url)
            .map(str::to_owned)
            .with_context(|| format!("{url} is not on the local stand-in ({})", self.chat.url))
    }

    /// `path` on the stand-in answers these, try by try, before 200 again.
    pub fn script_check(
        &self,
        service: &str,
        env: &str,
        check: &str,
        answers: &[(u16, &str)],
    ) -> anyhow::Result<()> {
        let svc = self.service_config(service)?;
        let env = deckhand_core::types::EnvName::parse(env)?;
        let url = svc
            .checks_for(&env)
            .into_iter()
            .find(|c| c.name == check)
            .with_context(|| format!("{service} has no check {check} in {env}"))?
            .url;
        self.chat.script_checks(&self.stand_in_path(&url)?, answers);
        Ok(())
    }

    /// `service`'s smoke tasks exit 1 while `fail` (moto reports 0 for every task: the exit
    /// code ECS reports is rewritten, [`Faults`]).
    pub fn fail_smoke(&self, service: &str, fail: bool) -> anyhow::Result<()> {
        let svc = self.service_config(service)?;
        if svc.smoke.is_none() {
            bail!("{service} has no smoke test in the config");
        }
        self.faults.fail_smoke(service, fail);
        Ok(())
    }

    fn service_config(
        &self,
        service: &str,
    ) -> anyhow::Result<&deckhand_core::config::ServiceConfig> {
        let name = deckhand_core::types::ServiceName::parse(service)?;
        self.config()
            .services
            .get(&name)
            .with_context(|| format!("there is no service {service} in the config"))
    }

    /// Loses the next dispatched work, the way an async invoke is lost in an outage.
    pub fn drop_next_work(&self) {
        self.drop_next.store(true, Ordering::SeqCst);
    }

    /// `tag` of `service` built and auto-deployed to staging, then requested for prod by Alice,
    /// approved by Bob, rolled out and reported by ECS (the demo config's people and channels).
    pub async fn release_to_prod(&self, service: &str, tag: &str) -> anyhow::Result<()> {
        self.build(service, tag, "main").await?;
        self.settle(EcsReport::Completed).await?;
        self.type_command(
            "U0ALICE",
            "C0PRODOPS",
            &format!("/deploy prod {service} {tag}"),
        )
        .await?;
        // The request's checks, dispatched to the deploy function, post the card.
        self.settle(EcsReport::Completed).await?;
        let approve = self
            .buttons()
            .into_iter()
            .rfind(|b| b.label == "Approve")
            .context("no Approve button was posted")?;
        self.click("U0BOB", &approve).await?;
        self.settle(EcsReport::Completed).await?;
        Ok(())
    }

    /// Hands `event` to the function `name`'s handler, as Lambda would.
    pub async fn deliver(&self, name: &str, event: &Value) -> Result<Value, FunctionError> {
        functions::handle(name, &self.bot.app(), event)
            .await
            .unwrap_or_else(|| Err(FunctionError::Refused(format!("no function {name}"))))
    }

    fn now_text(&self) -> String {
        self.clock()
            .now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    fn ecs_event(&self, service_arn: &str, deployment: &str, report: EcsReport) -> Value {
        let mut event = template(ECS_EVENT);
        let (name, kind, said) = match report {
            EcsReport::Completed => ("SERVICE_DEPLOYMENT_COMPLETED", "INFO", "completed"),
            EcsReport::Failed => (
                "SERVICE_DEPLOYMENT_FAILED",
                "ERROR",
                "failed: tasks failed to start (circuit breaker)",
            ),
        };
        event["id"] = json!(format!("local-ecs-{}", self.next()));
        event["time"] = json!(self.now_text());
        event["region"] = json!(deckhand_harness::REGION);
        event["resources"] = json!([service_arn]);
        event["detail"]["eventType"] = json!(kind);
        event["detail"]["eventName"] = json!(name);
        event["detail"]["deploymentId"] = json!(deployment);
        event["detail"]["updatedAt"] = json!(self.now_text());
        event["detail"]["reason"] = json!(format!("ECS deployment {deployment} {said}."));
        event
    }

    /// A build finished: its image is pushed to ECR and CodeBuild's "Build State Change" goes
    /// to the build-completed function.
    pub async fn build(
        &self,
        service: &str,
        tag: &str,
        branch: &str,
    ) -> Result<Value, FunctionError> {
        let event = self
            .build_event(service, tag, branch)
            .await
            .map_err(|e| FunctionError::Retryable(format!("{e:#}")))?;
        self.deliver("build-completed", &event).await
    }

    /// Pushes `service`'s image `tag` to ECR and returns the "Build State Change" CodeBuild
    /// would send for it.
    pub async fn build_event(
        &self,
        service: &str,
        tag: &str,
        branch: &str,
    ) -> anyhow::Result<Value> {
        let repository = self
            .config()
            .services
            .iter()
            .find(|(name, _)| name.as_str() == service)
            .map(|(_, s)| s.repository.clone())
            .with_context(|| format!("no service {service}"))?;
        let n = self.next();
        self.seed
            .push_image(&repository, tag, &format!("local-build-{n}"))
            .await
            .context("pushing the image")?;
        let mut event = template(CODEBUILD_EVENT);
        let build = format!("arn:aws:codebuild:us-east-1:123456789012:build/{service}:local-{n}");
        event["id"] = json!(format!("local-build-{n}"));
        event["time"] = json!(self.now_text());
        event["resources"] = json!([build]);
        let d = &mut event["detail"];
        d["project-name"] = json!(service);
        d["build-id"] = json!(build);
        let info = &mut d["additional-information"];
        info["source-version"] = json!(format!("refs/heads/{branch}"));
        info["resolved-source-version"] = json!(commit_sha(service, tag, n));
        info["exported-environment-variables"] = json!([
            { "name": "IMAGE_TAG", "value": tag },
            { "name": "IMAGE_REPOSITORY", "value": repository },
        ]);
        Ok(event)
    }

    /// An alarm goes into ALARM on CloudWatch and EventBridge delivers its state change to the
    /// rollback function `copies` times at once (it delivers at least once).
    pub async fn fire_alarm(
        &self,
        alarm: &str,
        reason: &str,
        copies: usize,
    ) -> anyhow::Result<Vec<Result<Value, FunctionError>>> {
        let event = self.alarm_event(alarm, reason).await?;
        Ok(join_all((0..copies).map(|_| self.deliver("rollback", &event))).await)
    }

    /// Puts `alarm` into ALARM on CloudWatch and returns the "CloudWatch Alarm State Change"
    /// EventBridge would deliver for it.
    pub async fn alarm_event(&self, alarm: &str, reason: &str) -> anyhow::Result<Value> {
        self.seed.set_alarm_state(alarm, true, reason).await?;
        let mut event = template(ALARM_EVENT);
        let at = self.clock().now();
        event["id"] = json!(format!("local-alarm-{}", self.next()));
        event["time"] = json!(self.now_text());
        event["resources"] = json!([self.seed.alarm_arn(alarm).await?]);
        let d = &mut event["detail"];
        d["alarmName"] = json!(alarm);
        d["state"]["reason"] = json!(reason);
        d["state"]["timestamp"] = json!(at.strftime("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string());
        Ok(event)
    }

    /// EventBridge Scheduler fires `plan`'s schedule, delivering the firing `copies` times.
    pub async fn scheduled_backup(
        &self,
        plan: &str,
        copies: usize,
    ) -> Vec<Result<Value, FunctionError>> {
        let event = json!({
            "plan": plan,
            "execution_id": format!("local-{plan}-{}", self.next()),
            "scheduled_time": self.now_text(),
        });
        join_all((0..copies).map(|_| self.deliver("backup", &event))).await
    }
}

/// A made-up 40-hex-digit commit for a local build.
fn commit_sha(service: &str, tag: &str, n: u64) -> String {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (service, tag, n).hash(&mut h);
    let a = h.finish();
    format!("{a:016x}{:016x}{:08x}", a.rotate_left(23) ^ n, a >> 32)
}

/// One of `events/`'s samples as a starting point. They are checked in and parsed by tests, so
/// this cannot fail on a built binary; a broken file gives an empty event, which every handler
/// rejects as malformed.
fn template(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}
