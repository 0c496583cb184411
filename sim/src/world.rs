//! The world around the engine, as the simulation plays it: ECS and ECR with ECS's own rules,
//! CloudWatch alarms, Slack, Lambda's async invoke, RDS snapshots, a clock — and the faults
//! ([`crate::step::Fault`]) around every port call.
//!
//! Unlike core's `Memory` (which records calls for unit tests), this ECS behaves like ECS where
//! the engine's correctness depends on it: `UpdateService` to the task definition the service
//! already has starts no deployment and answers with the one under way; a deployment stopped by
//! the circuit breaker is rolled back by ECS itself; a deployment replaced by a newer one is
//! gone from `DescribeServices`. The store is any [`Store`]: core's in-memory one, or DynamoDB
//! on the emulator.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use deckhand_core::card::Card;
use deckhand_core::check::{Probe, TaskState};
use deckhand_core::config::{BackupPlan, Config, ServiceConfig};
use deckhand_core::deployment::{Deployment, ImageRef, Work};
use deckhand_core::policy::{EnvLock, LockOwner};
use deckhand_core::ports::{
    AuditEntry, BackupRecord, Backups, Build, Bundle, Channel, Chat, Clock, Dispatch, Hold,
    MessageRef, Metric, Metrics, Monitor, NewSnapshot, Opened, Opening, Pause, Platform, PortError,
    PortResult, ReplyTo, RollbackOpening, Rollout, RolloutState, Running, StepRollout, Store,
    Uniform, Vote, Voted,
};
use deckhand_core::retention::{SnapshotInfo, SnapshotStatus};
use deckhand_core::rollback::{Release, Verdict};
use deckhand_core::types::{Actor, DeploymentId, Digest, EnvName, ServiceName, Timestamp, Version};

use crate::rng::Rng;
use crate::step::{Fault, VERSIONS};

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The simulation runs one sequence per thread; a poisoned lock is a panic already reported.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Which kind of port a call went to, for faults that hit one kind only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Store,
    Platform,
    Monitor,
    Chat,
    Dispatch,
    Backups,
    Metrics,
}

/// One ECS deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsDeployment {
    pub id: String,
    pub task_definition: String,
    pub state: RolloutState,
}

/// One ECS service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsService {
    /// The task definition the service is set to (DescribeServices' `taskDefinition`).
    pub desired: String,
    /// The task definition of the last deployment that completed.
    pub settled: String,
    /// Newest last; the last one is PRIMARY.
    pub deployments: Vec<EcsDeployment>,
}

/// What one `UpdateService` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A new revision with this image (a release).
    Image(Digest),
    /// An existing task definition (a rollback).
    TaskDefinition,
}

/// Every `UpdateService` the engine sent, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateCall {
    pub env: EnvName,
    pub service: ServiceName,
    pub target: Target,
    pub task_definition: String,
    /// The deployment id ECS answered with.
    pub ecs_deployment: String,
    /// What the service was set to before the call.
    pub desired_before: String,
    /// False when ECS started nothing (the service already had that task definition).
    pub started: bool,
    pub at: Timestamp,
    /// The rollout step that sent it (a release's `deployment:service`), when one did.
    pub step: Option<String>,
}

/// A posted card and what it shows now.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    pub message: MessageRef,
    pub card: Card,
}

/// Work handed to Lambda's async invoke, not yet run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub work: Work,
    /// Lambda retries a failed async invoke twice.
    pub attempts: u8,
    /// Held back until then (the delay queue's `DelaySeconds`).
    pub not_before: Option<Timestamp>,
}

impl Queued {
    pub fn due(&self, now: Timestamp) -> bool {
        self.not_before.is_none_or(|t| t <= now)
    }
}

/// Everything outside Deckhand's store.
#[derive(Debug, Default)]
pub struct World {
    /// (repository, version) → how often the tag was pushed; the digest derives from both.
    pub pushes: BTreeMap<(String, u8), u32>,
    pub ecs: BTreeMap<(String, String), EcsService>,
    pub task_definitions: BTreeMap<String, String>,
    revisions: BTreeMap<String, u32>,
    /// Task definition → the rollout step that registered it (Deckhand's `deckhand:step` tag).
    steps: BTreeMap<String, String>,
    next_ecs: u32,
    pub updates: Vec<UpdateCall>,
    pub alarms: BTreeMap<String, bool>,
    pub migrations_fail: bool,
    pub unhealthy: bool,
    migrations: BTreeMap<String, i32>,
    /// Smoke tasks by `run/service`: the task, and how often it was looked at (it runs until
    /// its second look, and exits non-zero if the world is unhealthy then).
    smokes: BTreeMap<String, (String, u32)>,
    pub stopped_tasks: Vec<String>,
    /// Every card posted, by message id, with its latest content.
    pub cards: BTreeMap<String, Posted>,
    next_message: u32,
    /// What was said in threads and channels, for traces.
    pub said: Vec<String>,
    pub queue: Vec<Queued>,
    snapshots: BTreeSet<String>,
}

/// The image digest of `repository:v1.0.{version}` after its `push`th push.
pub fn digest(repository: &str, version: u8, push: u32) -> Digest {
    let mut seed = 0xcbf2_9ce4_8422_2325_u64;
    for b in repository
        .bytes()
        .chain([version])
        .chain(push.to_be_bytes())
    {
        seed = (seed ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut rng = Rng::new(seed);
    let hex: String = (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect();
    // 64 lowercase hex digits always parse.
    Digest::parse(&format!("sha256:{hex}")).unwrap_or_else(|_| unreachable!())
}

/// `v1.0.N` → N.
pub fn version_number(v: &Version) -> Option<u8> {
    v.as_str().strip_prefix("v1.0.")?.parse().ok()
}

impl World {
    /// Every service of `config` running `v1.0.0` in every environment, nothing else.
    pub fn new(config: &Config) -> Self {
        let mut w = World::default();
        for s in config.services.values() {
            for v in 0..=VERSIONS {
                w.pushes.insert((s.repository.clone(), v), 0);
            }
            w.revisions.insert(s.ecs_service.clone(), 1);
            let td = format!("{}:1", s.ecs_service);
            let image = digest(&s.repository, 0, 0);
            w.task_definitions
                .insert(td.clone(), format!("{}:v1.0.0@{image}", s.repository));
            for e in &s.envs {
                let Some(env) = config.environments.get(e) else {
                    continue;
                };
                w.next_ecs += 1;
                w.ecs.insert(
                    (env.cluster.clone(), s.ecs_service.clone()),
                    EcsService {
                        desired: td.clone(),
                        settled: td.clone(),
                        deployments: vec![EcsDeployment {
                            id: format!("ecs-{:05}", w.next_ecs),
                            task_definition: td.clone(),
                            state: RolloutState::Completed,
                        }],
                    },
                );
            }
        }
        for a in config.alarms.keys() {
            w.alarms.insert(a.clone(), false);
        }
        w
    }

    /// ECS deployments under way, oldest first.
    pub fn in_progress(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .ecs
            .values()
            .flat_map(|s| &s.deployments)
            .filter(|d| d.state == RolloutState::InProgress)
            .map(|d| d.id.clone())
            .collect();
        ids.sort();
        ids
    }

    pub fn ecs_state(&self, id: &str) -> Option<RolloutState> {
        self.ecs
            .values()
            .flat_map(|s| &s.deployments)
            .find(|d| d.id == id)
            .map(|d| d.state.clone())
    }

    /// ECS finishes deployment `id`: it completes, or the circuit breaker stops it and ECS puts
    /// the service back on the last task definition that completed.
    pub fn finish(&mut self, id: &str, completed: bool) -> Option<Result<(), String>> {
        let next = self.next_ecs + 1;
        let service = self
            .ecs
            .values_mut()
            .find(|s| s.deployments.iter().any(|d| d.id == id))?;
        let d = service.deployments.iter_mut().find(|d| d.id == id)?;
        if d.state != RolloutState::InProgress {
            return None;
        }
        if completed {
            d.state = RolloutState::Completed;
            service.settled = d.task_definition.clone();
            return Some(Ok(()));
        }
        let reason = "ECS deployment circuit breaker: tasks failed to start".to_owned();
        d.state = RolloutState::Failed {
            reason: reason.clone(),
        };
        let back = service.settled.clone();
        service.desired = back.clone();
        service.deployments.push(EcsDeployment {
            id: format!("ecs-{next:05}"),
            task_definition: back,
            state: RolloutState::Completed,
        });
        self.next_ecs = next;
        Some(Err(reason))
    }

    fn service(&mut self, cluster: &str, svc: &ServiceConfig) -> PortResult<&mut EcsService> {
        self.ecs
            .get_mut(&(cluster.to_owned(), svc.ecs_service.clone()))
            .ok_or_else(|| {
                PortError::NotFound(format!("ECS service {} in {cluster}", svc.ecs_service))
            })
    }

    /// Marks the last update as sent by `step`.
    fn sent_by(&mut self, step: &str, rollout: Rollout) -> Rollout {
        if let Some(last) = self.updates.last_mut() {
            last.step = Some(step.to_owned());
        }
        rollout
    }

    /// The rollout an earlier attempt of `step` started, if the service runs its revision.
    fn rollout_of_step(&self, cluster: &str, svc: &ServiceConfig, step: &str) -> Option<Rollout> {
        let steps = &self.steps;
        let service = self
            .ecs
            .get(&(cluster.to_owned(), svc.ecs_service.clone()))?;
        if steps.get(&service.desired).map(String::as_str) != Some(step) {
            return None;
        }
        let primary = service.deployments.last()?;
        Some(Rollout {
            task_definition: service.desired.clone(),
            ecs_deployment: primary.id.clone(),
        })
    }

    fn update(
        &mut self,
        cluster: &str,
        svc: &ServiceConfig,
        td: &str,
        target: Target,
        now: Timestamp,
    ) -> PortResult<Rollout> {
        let next = self.next_ecs + 1;
        let service = self.service(cluster, svc)?;
        let desired_before = service.desired.clone();
        let started = service.desired != td;
        if started {
            // A deployment still under way is replaced: ECS drains it and stops listing it.
            service
                .deployments
                .retain(|d| d.state != RolloutState::InProgress);
            service.deployments.push(EcsDeployment {
                id: format!("ecs-{next:05}"),
                task_definition: td.to_owned(),
                state: RolloutState::InProgress,
            });
            service.desired = td.to_owned();
        }
        let primary = service
            .deployments
            .last()
            .map(|d| d.id.clone())
            .ok_or_else(|| PortError::Failed("ECS reported no primary deployment".into()))?;
        if started {
            self.next_ecs = next;
        }
        self.updates.push(UpdateCall {
            env: EnvName::parse(cluster).map_err(|e| PortError::Failed(e.to_string()))?,
            service: svc.name.clone(),
            target,
            task_definition: td.to_owned(),
            ecs_deployment: primary.clone(),
            desired_before,
            started,
            at: now,
            step: None,
        });
        Ok(Rollout {
            task_definition: td.to_owned(),
            ecs_deployment: primary,
        })
    }
}

/// The ports the simulated engine runs on: the world, a store, a clock, and the fault armed
/// for the delivery under way. Clones share all of it: one `SimPorts` is every port of the
/// engine's bundle ([`SimPorts::ports`]).
#[derive(Debug, Clone)]
pub struct SimPorts<S> {
    pub store: S,
    pub world: Arc<Mutex<World>>,
    now: Arc<Mutex<Timestamp>>,
    fault: Arc<Mutex<Armed>>,
}

#[derive(Debug, Default)]
struct Armed {
    calls: u32,
    crash_after: Option<u32>,
    crashed: bool,
    chat_down: bool,
}

impl<S: Store> SimPorts<S> {
    pub fn new(store: S, config: &Config, now: Timestamp) -> Self {
        SimPorts {
            store,
            world: Arc::new(Mutex::new(World::new(config))),
            now: Arc::new(Mutex::new(now)),
            fault: Arc::default(),
        }
    }

    /// Every port of the engine on this world.
    pub fn ports(&self) -> Uniform<Self>
    where
        S: Clone,
    {
        Bundle::uniform(self.clone())
    }

    /// The one-off task started by `started_by` (a `kind` of task), started now if none was.
    fn one_off(&self, started_by: String, kind: &str) -> String {
        let mut w = self.world();
        let n = w.smokes.len();
        w.smokes
            .entry(started_by)
            .or_insert_with(|| (format!("task/{kind}-{n}"), 0))
            .0
            .clone()
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        guard(&self.world)
    }

    pub fn now(&self) -> Timestamp {
        *guard(&self.now)
    }

    pub fn set_now(&self, now: Timestamp) {
        *guard(&self.now) = now;
    }

    /// Arms `fault` for the next delivery (`crash_after` counts port calls from here).
    pub fn arm(&self, fault: Fault) {
        *guard(&self.fault) = Armed {
            calls: 0,
            crash_after: fault.crash_after.map(u32::from),
            crashed: false,
            chat_down: fault.chat_down,
        };
    }

    pub fn disarm(&self) {
        *guard(&self.fault) = Armed::default();
    }

    /// Whether the delivery under way has died.
    pub fn crashed(&self) -> bool {
        guard(&self.fault).crashed
    }

    /// Every port call goes through here: chat may be down, and after the armed number of
    /// calls the process dies — the call happened, and nothing after it does.
    async fn call<T>(
        &self,
        port: Port,
        call: impl Future<Output = PortResult<T>>,
    ) -> PortResult<T> {
        if port == Port::Chat && guard(&self.fault).chat_down {
            return Err(PortError::Transient("chat is down".into()));
        }
        // Boxed: the AWS SDK's futures are large in debug builds, and nested inside the
        // engine's own they overflow a test thread's stack.
        let out = Box::pin(call).await;
        let dies = {
            let mut f = guard(&self.fault);
            f.calls += 1;
            if f.crash_after == Some(f.calls) {
                f.crashed = true;
            }
            f.crashed
        };
        if dies {
            return std::future::pending().await;
        }
        out
    }
}

impl<S: Store> Store for SimPorts<S> {
    async fn create_deployment(&self, d: &Deployment) -> PortResult<()> {
        self.call(Port::Store, self.store.create_deployment(d))
            .await
    }
    async fn open_deployment(&self, opening: &Opening<'_>) -> PortResult<Opened> {
        self.call(Port::Store, self.store.open_deployment(opening))
            .await
    }
    async fn open_rollback(&self, opening: &RollbackOpening<'_>) -> PortResult<bool> {
        self.call(Port::Store, self.store.open_rollback(opening))
            .await
    }
    async fn vote(&self, vote: &Vote) -> PortResult<Voted> {
        self.call(Port::Store, self.store.vote(vote)).await
    }
    async fn get_deployment(&self, id: DeploymentId) -> PortResult<Option<Deployment>> {
        self.call(Port::Store, self.store.get_deployment(id)).await
    }
    async fn save_deployment(&self, d: &Deployment) -> PortResult<()> {
        self.call(Port::Store, self.store.save_deployment(d)).await
    }
    async fn deployment_by_ecs_id(&self, ecs: &str) -> PortResult<Option<Deployment>> {
        self.call(Port::Store, self.store.deployment_by_ecs_id(ecs))
            .await
    }
    async fn recent_deployments(
        &self,
        env: &EnvName,
        service: Option<&ServiceName>,
        limit: usize,
    ) -> PortResult<Vec<Deployment>> {
        self.call(
            Port::Store,
            self.store.recent_deployments(env, service, limit),
        )
        .await
    }
    async fn set_cards(&self, id: DeploymentId, cards: &[MessageRef]) -> PortResult<()> {
        self.call(Port::Store, self.store.set_cards(id, cards))
            .await
    }
    async fn cards(&self, id: DeploymentId) -> PortResult<Vec<MessageRef>> {
        self.call(Port::Store, self.store.cards(id)).await
    }
    async fn card_shown(&self, id: DeploymentId, revision: u64) -> PortResult<()> {
        self.call(Port::Store, self.store.card_shown(id, revision))
            .await
    }
    async fn shown_revision(&self, id: DeploymentId) -> PortResult<Option<u64>> {
        self.call(Port::Store, self.store.shown_revision(id)).await
    }
    async fn get_lock(&self, env: &EnvName) -> PortResult<Option<EnvLock>> {
        self.call(Port::Store, self.store.get_lock(env)).await
    }
    async fn acquire_lock(
        &self,
        lock: &EnvLock,
        now: Timestamp,
    ) -> PortResult<Result<(), EnvLock>> {
        self.call(Port::Store, self.store.acquire_lock(lock, now))
            .await
    }
    async fn release_lock(&self, env: &EnvName, owner: &LockOwner) -> PortResult<bool> {
        self.call(Port::Store, self.store.release_lock(env, owner))
            .await
    }
    async fn break_lock(&self, env: &EnvName) -> PortResult<Option<EnvLock>> {
        self.call(Port::Store, self.store.break_lock(env)).await
    }
    async fn put_hold(&self, hold: &Hold) -> PortResult<()> {
        self.call(Port::Store, self.store.put_hold(hold)).await
    }
    async fn holds(&self, env: &EnvName) -> PortResult<Vec<Hold>> {
        self.call(Port::Store, self.store.holds(env)).await
    }
    async fn clear_holds(&self, env: &EnvName) -> PortResult<Vec<Hold>> {
        self.call(Port::Store, self.store.clear_holds(env)).await
    }
    async fn pause(&self, pause: &Pause) -> PortResult<Option<Pause>> {
        self.call(Port::Store, self.store.pause(pause)).await
    }
    async fn paused(&self, env: &EnvName) -> PortResult<Option<Pause>> {
        self.call(Port::Store, self.store.paused(env)).await
    }
    async fn resume(&self, env: &EnvName) -> PortResult<Option<Pause>> {
        self.call(Port::Store, self.store.resume(env)).await
    }
    async fn record_build(&self, build: &Build) -> PortResult<bool> {
        self.call(Port::Store, self.store.record_build(build)).await
    }
    async fn builds(&self, service: &ServiceName, limit: usize) -> PortResult<Vec<Build>> {
        self.call(Port::Store, self.store.builds(service, limit))
            .await
    }
    async fn record_release(&self, release: &Release) -> PortResult<()> {
        self.call(Port::Store, self.store.record_release(release))
            .await
    }
    async fn releases(
        &self,
        env: &EnvName,
        service: &ServiceName,
        limit: usize,
    ) -> PortResult<Vec<Release>> {
        self.call(Port::Store, self.store.releases(env, service, limit))
            .await
    }
    async fn judge_release(
        &self,
        env: &EnvName,
        service: &ServiceName,
        deployment: DeploymentId,
        verdict: &Verdict,
    ) -> PortResult<bool> {
        self.call(
            Port::Store,
            self.store.judge_release(env, service, deployment, verdict),
        )
        .await
    }
    async fn record_backup(&self, record: &BackupRecord) -> PortResult<bool> {
        self.call(Port::Store, self.store.record_backup(record))
            .await
    }
    async fn backups(&self, plan: &str, limit: usize) -> PortResult<Vec<BackupRecord>> {
        self.call(Port::Store, self.store.backups(plan, limit))
            .await
    }
    async fn append_audit(&self, entry: &AuditEntry) -> PortResult<()> {
        self.call(Port::Store, self.store.append_audit(entry)).await
    }
    async fn audit(&self, env: &EnvName, limit: usize) -> PortResult<Vec<AuditEntry>> {
        self.call(Port::Store, self.store.audit(env, limit)).await
    }
    async fn claim(
        &self,
        key: &str,
        value: &str,
        expires: Timestamp,
    ) -> PortResult<Option<String>> {
        self.call(Port::Store, self.store.claim(key, value, expires))
            .await
    }
    async fn claimed(&self, key: &str) -> PortResult<Option<String>> {
        self.call(Port::Store, self.store.claimed(key)).await
    }
    async fn lease(
        &self,
        key: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> PortResult<bool> {
        self.call(Port::Store, self.store.lease(key, holder, now, until))
            .await
    }
    async fn end_lease(&self, key: &str, holder: &str) -> PortResult<()> {
        self.call(Port::Store, self.store.end_lease(key, holder))
            .await
    }
}

impl<S: Store> Platform for SimPorts<S> {
    async fn running(&self, cluster: &str, svc: &ServiceConfig) -> PortResult<Running> {
        self.call(Port::Platform, async {
            let mut w = self.world();
            let service = w.service(cluster, svc)?;
            let desired = service.desired.clone();
            let ecs_deployment = service.deployments.last().map(|d| d.id.clone());
            let image = w
                .task_definitions
                .get(&desired)
                .cloned()
                .unwrap_or_default();
            let step = w.steps.get(&desired).cloned();
            Ok(Running {
                task_definition: desired,
                image,
                ecs_deployment,
                step,
                version: None,
                since: None,
            })
        })
        .await
    }
    async fn resolve_image(&self, repository: &str, tag: &Version) -> PortResult<Option<Digest>> {
        self.call(Port::Platform, async {
            let w = self.world();
            Ok(version_number(tag).and_then(|v| {
                w.pushes
                    .get(&(repository.to_owned(), v))
                    .map(|push| digest(repository, v, *push))
            }))
        })
        .await
    }
    async fn roll_out(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        image: &ImageRef,
        step: &str,
    ) -> PortResult<StepRollout> {
        let now = self.now();
        self.call(Port::Platform, async {
            let mut w = self.world();
            // Like ECS with Deckhand's step tag: the revision the service runs says which
            // step registered it, and a retried step gets its earlier rollout back.
            if let Some(earlier) = w.rollout_of_step(cluster, svc, step) {
                return Ok(StepRollout::Rolling(earlier));
            }
            // A revision registered under the step that the service does not run: ECS rolled
            // that rollout back (its circuit breaker, or a rollback since).
            if let Some((td, _)) = w.steps.iter().find(|(_, by)| *by == step) {
                return Ok(StepRollout::Undone {
                    task_definition: td.clone(),
                });
            }
            let revision = w.revisions.entry(svc.ecs_service.clone()).or_insert(1);
            *revision += 1;
            let td = format!("{}:{revision}", svc.ecs_service);
            w.task_definitions.insert(
                td.clone(),
                format!("{}:{}@{}", image.repository, image.tag, image.digest),
            );
            w.steps.insert(td.clone(), step.to_owned());
            w.update(cluster, svc, &td, Target::Image(image.digest.clone()), now)
                .map(|r| StepRollout::Rolling(w.sent_by(step, r)))
        })
        .await
    }
    async fn roll_back(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        task_definition: &str,
        // The world knows what runs; the caller's view only spares ECS a read.
        _replacing: Option<&str>,
    ) -> PortResult<Rollout> {
        let now = self.now();
        self.call(Port::Platform, async {
            let mut w = self.world();
            if !w.task_definitions.contains_key(task_definition) {
                return Err(PortError::Failed(format!(
                    "ClientException: unable to describe task definition {task_definition}"
                )));
            }
            w.update(cluster, svc, task_definition, Target::TaskDefinition, now)
        })
        .await
    }
    async fn run_migration(
        &self,
        _cluster: &str,
        svc: &ServiceConfig,
        _image: &ImageRef,
        _command: &[String],
        run: &str,
    ) -> PortResult<i32> {
        self.call(Port::Platform, async {
            let mut w = self.world();
            let code = i32::from(w.migrations_fail);
            // One task per (run, service), however often asked, as the ECS adapter finds it.
            Ok(*w
                .migrations
                .entry(format!("{run}/{}", svc.name))
                .or_insert(code))
        })
        .await
    }
    async fn start_smoke(
        &self,
        _cluster: &str,
        svc: &ServiceConfig,
        _task_definition: &str,
        _command: &[String],
        run: &str,
    ) -> PortResult<String> {
        // One task per (run, service), however often asked, as the ECS adapter finds it.
        let started_by = format!("{run}/{}", svc.name);
        self.call(Port::Platform, async {
            Ok(self.one_off(started_by, "smoke"))
        })
        .await
    }
    async fn run_task(
        &self,
        _cluster: &str,
        _svc: &ServiceConfig,
        _command: &[String],
        started_by: &str,
    ) -> PortResult<String> {
        // The simulation's plans are snapshots; a one-off task is a smoke test's kind of task.
        let started_by = started_by.to_owned();
        self.call(Port::Platform, async {
            Ok(self.one_off(started_by, "one-off"))
        })
        .await
    }
    async fn task_state(
        &self,
        _cluster: &str,
        _svc: &ServiceConfig,
        task: &str,
    ) -> PortResult<TaskState> {
        self.call(Port::Platform, async {
            let mut w = self.world();
            let bad = w.unhealthy;
            let Some((_, looks)) = w.smokes.values_mut().find(|(t, _)| t == task) else {
                return Err(PortError::NotFound(format!("task {task}")));
            };
            *looks += 1;
            Ok(if *looks < 2 {
                TaskState::Running
            } else {
                TaskState::Stopped {
                    exit_code: Some(i32::from(bad)),
                    reason: "Essential container in task exited".into(),
                    log_tail: Vec::new(),
                }
            })
        })
        .await
    }
    async fn stop_task(
        &self,
        _cluster: &str,
        _svc: &ServiceConfig,
        task: &str,
        _reason: &str,
    ) -> PortResult<Vec<String>> {
        self.call(Port::Platform, async {
            self.world().stopped_tasks.push(task.to_owned());
            Ok(Vec::new())
        })
        .await
    }
    async fn rollout_state(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        ecs_deployment: &str,
    ) -> PortResult<RolloutState> {
        self.call(Port::Platform, async {
            let mut w = self.world();
            w.service(cluster, svc)?
                .deployments
                .iter()
                .find(|d| d.id == ecs_deployment)
                .map(|d| d.state.clone())
                .ok_or_else(|| PortError::NotFound(format!("ECS deployment {ecs_deployment}")))
        })
        .await
    }
}

impl<S: Store> Monitor for SimPorts<S> {
    async fn firing(&self, alarms: &[String]) -> PortResult<Vec<String>> {
        self.call(Port::Monitor, async {
            let w = self.world();
            Ok(alarms
                .iter()
                .filter(|a| w.alarms.get(*a).copied().unwrap_or(false))
                .cloned()
                .collect())
        })
        .await
    }
    async fn probe(&self, _url: &str, _timeout: jiff::SignedDuration) -> PortResult<Probe> {
        self.call(Port::Monitor, async {
            let bad = self.world().unhealthy;
            Ok(Probe::Answered {
                status: if bad { 503 } else { 200 },
                body: String::new(),
            })
        })
        .await
    }
    async fn alarm_tags(
        &self,
        alarm: &str,
        _arn: Option<&str>,
    ) -> PortResult<BTreeMap<String, String>> {
        self.call(Port::Monitor, async {
            Err(PortError::NotFound(format!("alarm {alarm} has no tags")))
        })
        .await
    }
}

impl<S: Store> Chat for SimPorts<S> {
    async fn post_card(&self, to: &Channel, card: &Card) -> PortResult<MessageRef> {
        self.call(Port::Chat, async {
            let mut w = self.world();
            w.next_message += 1;
            let message = MessageRef {
                chat: to.chat,
                channel: to.id.clone(),
                id: format!("m{:05}", w.next_message),
            };
            w.said.push(format!("card {}: {}", message.id, card.status));
            w.cards.insert(
                message.id.clone(),
                Posted {
                    message: message.clone(),
                    card: card.clone(),
                },
            );
            Ok(message)
        })
        .await
    }
    async fn update_card(&self, message: &MessageRef, card: &Card) -> PortResult<()> {
        self.call(Port::Chat, async {
            let mut w = self.world();
            w.said
                .push(format!("card {} now: {}", message.id, card.status));
            match w.cards.get_mut(&message.id) {
                Some(p) => {
                    p.card = card.clone();
                    Ok(())
                }
                None => Err(PortError::NotFound(format!("message {}", message.id))),
            }
        })
        .await
    }
    async fn reply(&self, message: &MessageRef, text: &str) -> PortResult<()> {
        self.call(Port::Chat, async {
            self.world()
                .said
                .push(format!("in thread {}: {text}", message.id));
            Ok(())
        })
        .await
    }
    async fn post(&self, to: &Channel, text: &str) -> PortResult<MessageRef> {
        self.call(Port::Chat, async {
            let mut w = self.world();
            w.next_message += 1;
            w.said.push(format!("in {}: {text}", to.id));
            Ok(MessageRef {
                chat: to.chat,
                channel: to.id.clone(),
                id: format!("m{:05}", w.next_message),
            })
        })
        .await
    }
    async fn respond(&self, to: &ReplyTo, text: &str) -> PortResult<()> {
        self.call(Port::Chat, async {
            let whom = match to {
                ReplyTo::Slack { .. } => "the Slack requester",
                ReplyTo::Discord { .. } => "the Discord requester",
            };
            self.world().said.push(format!("to {whom} only: {text}"));
            Ok(())
        })
        .await
    }
    async fn ephemeral(&self, to: &Channel, user: &Actor, text: &str) -> PortResult<()> {
        self.call(Port::Chat, async {
            self.world()
                .said
                .push(format!("to {} only, in {}: {text}", user.display(), to.id));
            Ok(())
        })
        .await
    }
}

impl<S: Store> Dispatch for SimPorts<S> {
    async fn dispatch(&self, work: &Work) -> PortResult<()> {
        self.call(Port::Dispatch, async {
            self.world().queue.push(Queued {
                work: work.clone(),
                attempts: 0,
                not_before: None,
            });
            Ok(())
        })
        .await
    }
    /// The delay queue: held back until due, then delivered like any work — on time, late
    /// (at the next tick), twice, or lost to a crash (maintenance performs the try then).
    async fn dispatch_after(&self, work: &Work, delay: jiff::SignedDuration) -> PortResult<()> {
        let not_before = Some(self.now() + delay);
        self.call(Port::Dispatch, async {
            self.world().queue.push(Queued {
                work: work.clone(),
                attempts: 0,
                not_before,
            });
            Ok(())
        })
        .await
    }
}

impl<S: Store> Backups for SimPorts<S> {
    async fn create(&self, new: NewSnapshot<'_>) -> PortResult<()> {
        let snapshot = new.name;
        self.call(Port::Backups, async {
            if self.world().snapshots.insert(snapshot.to_owned()) {
                Ok(())
            } else {
                Err(PortError::Conflict(format!("snapshot {snapshot} exists")))
            }
        })
        .await
    }
    async fn wait(&self, _plan: &BackupPlan, snapshot: &str) -> PortResult<SnapshotStatus> {
        self.call(Port::Backups, async {
            if self.world().snapshots.contains(snapshot) {
                Ok(SnapshotStatus::Available)
            } else {
                Err(PortError::NotFound(format!("snapshot {snapshot}")))
            }
        })
        .await
    }
    async fn list(&self, _plan: &BackupPlan) -> PortResult<Vec<SnapshotInfo>> {
        self.call(Port::Backups, async { Ok(Vec::new()) }).await
    }
    async fn delete(&self, _plan: &BackupPlan, snapshot: &str) -> PortResult<()> {
        self.call(Port::Backups, async {
            self.world().snapshots.remove(snapshot);
            Ok(())
        })
        .await
    }
}

impl<S: Store> Metrics for SimPorts<S> {
    async fn emit(&self, _metrics: &[Metric]) -> PortResult<()> {
        self.call(Port::Metrics, async { Ok(()) }).await
    }
}

impl<S: Store> Clock for SimPorts<S> {
    fn now(&self) -> Timestamp {
        SimPorts::now(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::run::{config, start};

    /// ECS's rules the engine's correctness leans on, as the simulation plays them.
    #[test]
    fn ecs_starts_nothing_for_the_revision_it_has_and_rolls_back_a_broken_one_itself() {
        let config = config();
        let api = config.service("api").unwrap();
        let mut w = World::new(&config);
        let now = start();
        let first = w
            .update("prod", api, "api:1", Target::TaskDefinition, now)
            .unwrap();
        assert!(!w.updates[0].started, "api already runs api:1");
        assert_eq!(
            w.ecs_state(&first.ecs_deployment),
            Some(RolloutState::Completed)
        );

        w.task_definitions
            .insert("api:2".into(), "acme/api:v1.0.1".into());
        let second = w
            .update("prod", api, "api:2", Target::TaskDefinition, now)
            .unwrap();
        assert_ne!(second.ecs_deployment, first.ecs_deployment);
        assert_eq!(
            w.in_progress(),
            std::slice::from_ref(&second.ecs_deployment)
        );
        assert!(w.finish(&second.ecs_deployment, false).unwrap().is_err());
        let service = &w.ecs[&("prod".to_owned(), "api".to_owned())];
        assert_eq!(
            service.desired, "api:1",
            "the circuit breaker put api:1 back"
        );
        assert_eq!(
            w.finish(&second.ecs_deployment, true),
            None,
            "finished once"
        );
    }
}
