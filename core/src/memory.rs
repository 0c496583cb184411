//! In-memory implementations of every port, for core's unit tests (and benchmarks that want
//! to measure Deckhand without an emulator). Not a production code path: adapter and
//! end-to-end tests use real AWS APIs on the emulator.
//!
//! [`Memory`] is the whole outside world in one value: a store with the same conditional-write
//! contract as DynamoDB, a fake ECS/ECR, chat and dispatch recorders, snapshots, a settable
//! clock. Every store call yields to the executor once, so deliveries joined with
//! `tokio::join!` interleave at each await point the way concurrent Lambdas would.
#![allow(clippy::missing_panics_doc)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use secrecy::SecretString;

use crate::card::Card;
use crate::check::{Probe, TaskState};
use crate::config::{BackupPlan, ServiceConfig};
use crate::deployment::{Deployment, ImageRef, Work};
use crate::policy::{EnvLock, LockOwner};
use crate::ports::*;
use crate::retention::{SnapshotInfo, SnapshotStatus};
use crate::rollback::{Release, Verdict};
use crate::schedule::{PlanSchedule, ScheduleChange};
use crate::types::{Actor, DeploymentId, Digest, EnvName, ServiceName, Timestamp, Version};

/// Where the in-memory schedules fire.
pub const MEMORY_TARGET: &str = "backup-function|scheduler-role";

/// Returns `Pending` once, so concurrent callers interleave.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

async fn yield_now() {
    YieldOnce(false).await;
}

/// Polls every future on one task until all are done, so their awaits interleave the way
/// concurrent Lambdas' requests would. (`futures::join_all` without the futures crate.)
/// A release of `services` at `version` to `env`, asked for by `by`, awaiting one approval
/// for two hours: where tests of stores and checks start.
pub fn release_draft(
    id: DeploymentId,
    env: EnvName,
    version: Version,
    services: Vec<crate::deployment::ServiceRelease>,
    by: Actor,
) -> crate::deployment::Draft {
    crate::deployment::Draft {
        id,
        env,
        kind: crate::deployment::DeploymentKind::Release,
        version,
        services,
        requested_by: by,
        required_approvals: 1,
        approval_ttl: jiff::SignedDuration::from_hours(2),
        overridden: None,
        alarms_at_start: Vec::new(),
    }
}

pub async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means another test thread panicked; the data is still usable for ours.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Something Deckhand said in chat, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    Card {
        channel: Channel,
        card: Card,
    },
    Update {
        message: MessageRef,
        card: Card,
    },
    Reply {
        message: MessageRef,
        text: String,
    },
    Post {
        channel: Channel,
        text: String,
    },
    Ephemeral {
        channel: Channel,
        user: Actor,
        text: String,
    },
    /// A private answer through a request's response URL or follow-up webhook.
    Response {
        to: ReplyTo,
        text: String,
    },
}

#[derive(Debug, Default)]
struct StoreState {
    deployments: BTreeMap<DeploymentId, Deployment>,
    cards: HashMap<DeploymentId, Vec<MessageRef>>,
    shown: HashMap<DeploymentId, u64>,
    locks: HashMap<EnvName, EnvLock>,
    holds: Vec<Hold>,
    pauses: HashMap<EnvName, Pause>,
    builds: Vec<Build>,
    releases: Vec<Release>,
    backups: Vec<BackupRecord>,
    audit: Vec<AuditEntry>,
    claims: HashMap<String, String>,
    leases: HashMap<String, (String, Timestamp)>,
}

#[derive(Debug, Default)]
struct World {
    /// What every cluster runs of a service before any deploy (`set_running`).
    running: HashMap<String, Running>,
    /// What a deploy or rollback put there since, per (cluster, ECS service).
    running_in: HashMap<(String, String), Running>,
    images: HashMap<(String, String), Digest>,
    roll_outs: Vec<(ServiceName, ImageRef)>,
    roll_backs: Vec<(ServiceName, String)>,
    migrations: Vec<ServiceName>,
    migration_runs: HashSet<String>,
    migration_exit: HashMap<String, i32>,
    next_revision: u32,
    /// Task definition → the rollout step that registered it, and the ECS deployment it started.
    steps: HashMap<String, (String, String)>,
    /// The image of every task definition registered, so a rollback runs what it names.
    task_images: HashMap<String, String>,
    firing: HashSet<String>,
    alarm_tags: HashMap<String, BTreeMap<String, String>>,
    unhealthy: HashSet<String>,
    /// What a check's URL answers next, try by try, before `unhealthy` decides.
    probes: HashMap<String, std::collections::VecDeque<Probe>>,
    /// What a healthy URL answers (`serve_checks`); others answer 200 "ok".
    healthy: HashMap<String, Probe>,
    /// Smoke tasks started, by `run/service`: the task.
    smoke_runs: HashMap<String, String>,
    /// How a service's smoke task stands when looked at (default: exited 0).
    smoke_state: HashMap<String, TaskState>,
    stopped_tasks: Vec<String>,
    /// One-off tasks by who started them: the task and its command.
    tasks: BTreeMap<String, (String, Vec<String>)>,
    /// How a one-off task stands when looked at (default: as a smoke task would).
    task_states: HashMap<String, TaskState>,
    said: Vec<Said>,
    dispatched: Vec<Work>,
    /// Work dispatched to arrive later, and when.
    delayed: Vec<(Work, Timestamp)>,
    /// Deckhand's schedule group, once a test turns scheduling on (`schedule_backups`).
    schedules: Option<BTreeMap<String, PlanSchedule>>,
    snapshots: HashMap<String, (SnapshotInfo, String)>,
    /// Copies in a plan's `copy_to` region, by id: the copy and its plan.
    copies: HashMap<String, (SnapshotInfo, String)>,
    fail_snapshots: bool,
    rollouts_complete: bool,
    metrics: Vec<Metric>,
    secrets: HashMap<String, String>,
}

/// The whole outside world, in memory. Clones share it: one `Memory` serves as every port of
/// a [`Bundle`] ([`Memory::ports`]), and a test keeps a clone to look at what happened.
#[derive(Debug, Clone)]
pub struct Memory {
    store: Arc<Mutex<StoreState>>,
    world: Arc<Mutex<World>>,
    now: Arc<Mutex<Timestamp>>,
}

/// Every port in memory.
pub type MemoryPorts = Uniform<Memory>;

impl Memory {
    pub fn new(now: Timestamp) -> Self {
        Self {
            store: Arc::default(),
            world: Arc::default(),
            now: Arc::new(Mutex::new(now)),
        }
    }

    pub fn set_now(&self, now: Timestamp) {
        *guard(&self.now) = now;
    }
    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut n = guard(&self.now);
        *n += by;
    }

    /// Pushes an image tag to the fake registry.
    pub fn push_image(&self, repository: &str, tag: &str, digest: &Digest) {
        guard(&self.world)
            .images
            .insert((repository.to_owned(), tag.to_owned()), digest.clone());
    }
    /// Sets what a service runs before any deploy.
    pub fn set_running(&self, service: &str, task_definition: &str, image: &str) {
        let since = Some(self.the_time());
        guard(&self.world).running.insert(
            service.to_owned(),
            Running {
                task_definition: task_definition.into(),
                image: image.into(),
                ecs_deployment: None,
                step: None,
                version: None,
                since,
            },
        );
    }
    pub fn set_migration_exit(&self, service: &str, code: i32) {
        guard(&self.world)
            .migration_exit
            .insert(service.to_owned(), code);
    }
    pub fn set_firing(&self, alarm: &str, firing: bool) {
        let mut w = guard(&self.world);
        if firing {
            w.firing.insert(alarm.to_owned());
        } else {
            w.firing.remove(alarm);
        }
    }
    /// Creates the alarm `name` (as far as `alarm_tags` can tell) with these tags.
    pub fn tag_alarm(&self, name: &str, tags: &[(&str, &str)]) {
        let tags = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        guard(&self.world).alarm_tags.insert(name.to_owned(), tags);
    }
    pub fn set_unhealthy(&self, url: &str) {
        guard(&self.world).unhealthy.insert(url.to_owned());
    }
    /// What `url` answers on its next tries, in order; after them `set_unhealthy` decides.
    pub fn script_probes(&self, url: &str, probes: impl IntoIterator<Item = Probe>) {
        guard(&self.world)
            .probes
            .entry(url.to_owned())
            .or_default()
            .extend(probes);
    }
    /// Every check `config` names answers as a healthy service would: its expected status and
    /// body, in every environment of its service.
    pub fn serve_checks(&self, config: &crate::config::Config) {
        let mut w = guard(&self.world);
        for svc in config.services.values() {
            for env in &svc.envs {
                for c in svc.checks_for(env) {
                    w.healthy.insert(
                        c.url,
                        Probe::Answered {
                            status: c.status.lo,
                            body: c.body.unwrap_or_else(|| "ok".into()),
                        },
                    );
                }
            }
        }
    }
    /// How `service`'s smoke task stands whenever it is looked at.
    pub fn set_smoke_state(&self, service: &str, state: TaskState) {
        guard(&self.world)
            .smoke_state
            .insert(service.to_owned(), state);
    }
    pub fn smoke_tasks(&self) -> Vec<String> {
        let mut tasks: Vec<String> = guard(&self.world).smoke_runs.values().cloned().collect();
        tasks.sort();
        tasks
    }
    /// The backups recorded for `plan`.
    pub fn backup_records_of(&self, plan: &str) -> Vec<BackupRecord> {
        guard(&self.store)
            .backups
            .iter()
            .filter(|b| b.plan == plan)
            .cloned()
            .collect()
    }
    /// One-off tasks started so far: who started each, and its command.
    pub fn one_off_tasks(&self) -> Vec<(String, Vec<String>)> {
        guard(&self.world)
            .tasks
            .iter()
            .map(|(by, (_, command))| (by.clone(), command.clone()))
            .collect()
    }
    /// How the one-off task started by `started_by` stands from now on.
    pub fn set_task_state(&self, started_by: &str, state: TaskState) {
        let mut w = guard(&self.world);
        if let Some((task, _)) = w.tasks.get(started_by).cloned() {
            w.task_states.insert(task, state);
        }
    }
    pub fn stopped_tasks(&self) -> Vec<String> {
        guard(&self.world).stopped_tasks.clone()
    }
    /// Backups are scheduled here from now on (an empty schedule group).
    pub fn schedule_backups(&self) {
        guard(&self.world)
            .schedules
            .get_or_insert_with(BTreeMap::new);
    }
    pub fn schedules(&self) -> Vec<PlanSchedule> {
        guard(&self.world)
            .schedules
            .iter()
            .flat_map(|s| s.values().cloned())
            .collect()
    }
    /// Work dispatched to arrive later, with when it may arrive.
    pub fn delayed(&self) -> Vec<(Work, Timestamp)> {
        guard(&self.world).delayed.clone()
    }
    /// From now on ECS reports every deployment it is asked about as completed (its events,
    /// as ever, only arrive when a test delivers them).
    pub fn complete_rollouts(&self) {
        guard(&self.world).rollouts_complete = true;
    }
    pub fn fail_snapshots(&self, fail: bool) {
        guard(&self.world).fail_snapshots = fail;
    }
    pub fn put_secret(&self, name: &str, value: &str) {
        guard(&self.world)
            .secrets
            .insert(name.to_owned(), value.to_owned());
    }
    /// Adds a snapshot as if made earlier (by Deckhand or not).
    pub fn add_snapshot(&self, plan: &str, info: SnapshotInfo) {
        guard(&self.world)
            .snapshots
            .insert(info.id.clone(), (info, plan.to_owned()));
    }

    pub fn said(&self) -> Vec<Said> {
        guard(&self.world).said.clone()
    }
    pub fn dispatched(&self) -> Vec<Work> {
        guard(&self.world).dispatched.clone()
    }
    pub fn roll_outs(&self) -> Vec<(ServiceName, ImageRef)> {
        guard(&self.world).roll_outs.clone()
    }
    pub fn roll_backs(&self) -> Vec<(ServiceName, String)> {
        guard(&self.world).roll_backs.clone()
    }
    pub fn migrations(&self) -> Vec<ServiceName> {
        guard(&self.world).migrations.clone()
    }
    pub fn metrics(&self) -> Vec<Metric> {
        guard(&self.world).metrics.clone()
    }
    pub fn copy_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = guard(&self.world).copies.keys().cloned().collect();
        ids.sort();
        ids
    }
    pub fn snapshot_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = guard(&self.world).snapshots.keys().cloned().collect();
        ids.sort();
        ids
    }
    pub fn deployments(&self) -> Vec<Deployment> {
        guard(&self.store).deployments.values().cloned().collect()
    }
    pub fn audit_entries(&self) -> Vec<AuditEntry> {
        guard(&self.store).audit.clone()
    }
    pub fn all_releases(&self) -> Vec<Release> {
        guard(&self.store).releases.clone()
    }
    pub fn the_time(&self) -> Timestamp {
        *guard(&self.now)
    }
}

impl Store for Memory {
    async fn create_deployment(&self, d: &Deployment) -> PortResult<()> {
        yield_now().await;
        let mut s = guard(&self.store);
        if s.deployments.contains_key(&d.id) {
            return Err(PortError::Conflict(format!("deployment {} exists", d.id)));
        }
        s.deployments.insert(d.id, d.clone());
        Ok(())
    }
    async fn open_deployment(&self, o: &Opening<'_>) -> PortResult<Opened> {
        yield_now().await;
        let mut s = guard(&self.store);
        let d = o.deployment;
        // In the order DynamoDB's cancellation reasons are read (`DynamoStore`).
        if let Some(answer) = s.claims.get(o.refusal) {
            return Ok(Opened::RefusedBefore(answer.clone()));
        }
        let id = d.id.to_string();
        if let Some(other) = s.claims.get(o.claim).filter(|v| **v != id) {
            return Ok(Opened::Claimed(other.clone()));
        }
        if let Some(p) = s.pauses.get(&d.env).filter(|_| o.unless_paused) {
            return Ok(Opened::Paused(p.clone()));
        }
        if let Some(cur) = s.locks.get(&d.env)
            && cur.is_live(o.now)
            && cur.owner != o.lock.owner
        {
            return Ok(Opened::Locked(cur.clone()));
        }
        if s.deployments.contains_key(&d.id) {
            // A concurrent copy of this event, derived the same id at the same instant.
            return Ok(Opened::Claimed(id));
        }
        s.claims.insert(o.claim.to_owned(), id);
        s.locks.insert(d.env.clone(), o.lock.clone());
        s.deployments.insert(d.id, d.clone());
        Ok(Opened::Opened)
    }
    async fn vote(&self, vote: &Vote) -> PortResult<Voted> {
        yield_now().await;
        let mut s = guard(&self.store);
        let Some(d) = s.deployments.get_mut(&vote.id) else {
            return Ok(Voted::Unknown);
        };
        if !vote.holds_for(d) {
            return Ok(Voted::Refused(Box::new(d.clone())));
        }
        d.votes.push(vote.approval.clone());
        d.revision += 1;
        Ok(Voted::Recorded(Box::new(d.clone())))
    }
    async fn open_rollback(&self, o: &RollbackOpening<'_>) -> PortResult<bool> {
        yield_now().await;
        let mut s = guard(&self.store);
        let d = o.deployment;
        let (service, bad, verdict) = o.judged;
        let (lease, holder, until) = o.lease;
        // Every condition first, as DynamoDB's transaction checks them all before writing.
        let judged_already = s
            .releases
            .iter()
            .find(|r| r.env == d.env && &r.service == service && r.deployment == bad)
            .is_none_or(|r| r.verdict.is_bad());
        let held = s
            .locks
            .get(&d.env)
            .is_some_and(|cur| cur.is_live(o.now) && cur.owner != o.lock.owner);
        if s.claims.contains_key(o.decision.0)
            || s.claims.contains_key(o.claim)
            || s.pauses.contains_key(&d.env)
            || held
            || s.deployments.contains_key(&d.id)
            || s.leases.get(lease).is_some_and(|(_, u)| *u >= o.now)
            || judged_already
            || o.judged_record.is_some_and(|j| {
                s.deployments
                    .get(&j.id)
                    .is_none_or(|cur| cur.revision + 1 != j.revision)
            })
        {
            return Ok(false);
        }
        if let Some(j) = o.judged_record {
            s.deployments.insert(j.id, j.clone());
        }
        s.claims
            .insert(o.decision.0.to_owned(), o.decision.1.to_owned());
        s.claims.insert(o.claim.to_owned(), d.id.to_string());
        s.locks.insert(d.env.clone(), o.lock.clone());
        s.deployments.insert(d.id, d.clone());
        s.leases
            .insert(lease.to_owned(), (holder.to_owned(), until));
        if let Some(r) = s
            .releases
            .iter_mut()
            .find(|r| r.env == d.env && &r.service == service && r.deployment == bad)
        {
            r.verdict = verdict.clone();
        }
        if let Some(hold) = o.hold {
            s.holds
                .retain(|h| !(h.env == hold.env && h.service == hold.service));
            s.holds.push(hold.clone());
        }
        Ok(true)
    }
    async fn get_deployment(&self, id: DeploymentId) -> PortResult<Option<Deployment>> {
        yield_now().await;
        Ok(guard(&self.store).deployments.get(&id).cloned())
    }
    async fn save_deployment(&self, d: &Deployment) -> PortResult<()> {
        yield_now().await;
        let mut s = guard(&self.store);
        match s.deployments.get(&d.id) {
            Some(cur) if cur.revision + 1 == d.revision => {
                s.deployments.insert(d.id, d.clone());
                Ok(())
            }
            Some(cur) => Err(PortError::Conflict(format!(
                "deployment {} is at revision {}, not {}",
                d.id,
                cur.revision,
                d.revision - 1
            ))),
            None => Err(PortError::NotFound(format!("deployment {}", d.id))),
        }
    }
    async fn deployment_by_ecs_id(&self, ecs_deployment: &str) -> PortResult<Option<Deployment>> {
        yield_now().await;
        Ok(guard(&self.store)
            .deployments
            .values()
            .find(|d| {
                d.services
                    .iter()
                    .any(|s| s.progress.ecs_deployment.as_deref() == Some(ecs_deployment))
            })
            .cloned())
    }
    async fn recent_deployments(
        &self,
        env: &EnvName,
        service: Option<&ServiceName>,
        limit: usize,
    ) -> PortResult<Vec<Deployment>> {
        yield_now().await;
        Ok(guard(&self.store)
            .deployments
            .values()
            .rev()
            .filter(|d| {
                &d.env == env && service.is_none_or(|s| d.services.iter().any(|r| &r.service == s))
            })
            .take(limit)
            .cloned()
            .collect())
    }
    async fn set_cards(&self, id: DeploymentId, cards: &[MessageRef]) -> PortResult<()> {
        yield_now().await;
        guard(&self.store).cards.insert(id, cards.to_vec());
        Ok(())
    }
    async fn cards(&self, id: DeploymentId) -> PortResult<Vec<MessageRef>> {
        yield_now().await;
        Ok(guard(&self.store)
            .cards
            .get(&id)
            .cloned()
            .unwrap_or_default())
    }
    async fn card_shown(&self, id: DeploymentId, revision: u64) -> PortResult<()> {
        yield_now().await;
        let mut s = guard(&self.store);
        let shown = s.shown.entry(id).or_insert(revision);
        *shown = (*shown).max(revision);
        Ok(())
    }
    async fn shown_revision(&self, id: DeploymentId) -> PortResult<Option<u64>> {
        yield_now().await;
        Ok(guard(&self.store).shown.get(&id).copied())
    }
    async fn get_lock(&self, env: &EnvName) -> PortResult<Option<EnvLock>> {
        yield_now().await;
        Ok(guard(&self.store).locks.get(env).cloned())
    }
    async fn acquire_lock(
        &self,
        lock: &EnvLock,
        now: Timestamp,
    ) -> PortResult<Result<(), EnvLock>> {
        yield_now().await;
        let mut s = guard(&self.store);
        match s.locks.get(&lock.env) {
            Some(cur) if cur.is_live(now) && cur.owner != lock.owner => Ok(Err(cur.clone())),
            _ => {
                s.locks.insert(lock.env.clone(), lock.clone());
                Ok(Ok(()))
            }
        }
    }
    async fn release_lock(&self, env: &EnvName, owner: &LockOwner) -> PortResult<bool> {
        yield_now().await;
        let mut s = guard(&self.store);
        if s.locks.get(env).is_some_and(|l| &l.owner == owner) {
            s.locks.remove(env);
            return Ok(true);
        }
        Ok(false)
    }
    async fn break_lock(&self, env: &EnvName) -> PortResult<Option<EnvLock>> {
        yield_now().await;
        Ok(guard(&self.store).locks.remove(env))
    }
    async fn put_hold(&self, hold: &Hold) -> PortResult<()> {
        yield_now().await;
        let mut s = guard(&self.store);
        s.holds
            .retain(|h| !(h.env == hold.env && h.service == hold.service));
        s.holds.push(hold.clone());
        Ok(())
    }
    async fn holds(&self, env: &EnvName) -> PortResult<Vec<Hold>> {
        yield_now().await;
        Ok(guard(&self.store)
            .holds
            .iter()
            .filter(|h| &h.env == env)
            .cloned()
            .collect())
    }
    async fn clear_holds(&self, env: &EnvName) -> PortResult<Vec<Hold>> {
        yield_now().await;
        let mut s = guard(&self.store);
        let (gone, kept): (Vec<Hold>, Vec<Hold>) = s.holds.drain(..).partition(|h| &h.env == env);
        s.holds = kept;
        Ok(gone)
    }
    async fn pause(&self, pause: &Pause) -> PortResult<Option<Pause>> {
        yield_now().await;
        let mut s = guard(&self.store);
        if let Some(p) = s.pauses.get(&pause.env) {
            return Ok(Some(p.clone()));
        }
        s.pauses.insert(pause.env.clone(), pause.clone());
        Ok(None)
    }
    async fn paused(&self, env: &EnvName) -> PortResult<Option<Pause>> {
        yield_now().await;
        Ok(guard(&self.store).pauses.get(env).cloned())
    }
    async fn resume(&self, env: &EnvName) -> PortResult<Option<Pause>> {
        yield_now().await;
        Ok(guard(&self.store).pauses.remove(env))
    }
    async fn record_build(&self, build: &Build) -> PortResult<bool> {
        yield_now().await;
        Ok(push_once(&mut guard(&self.store).builds, build, |b| {
            b.build_id == build.build_id && b.service == build.service
        }))
    }
    async fn builds(&self, service: &ServiceName, limit: usize) -> PortResult<Vec<Build>> {
        yield_now().await;
        Ok(newest(&guard(&self.store).builds, limit, |b| {
            &b.service == service
        }))
    }
    async fn record_release(&self, release: &Release) -> PortResult<()> {
        yield_now().await;
        let mut s = guard(&self.store);
        let exists = s.releases.iter().any(|r| {
            r.env == release.env
                && r.service == release.service
                && r.deployment == release.deployment
        });
        if !exists {
            s.releases.push(release.clone());
        }
        Ok(())
    }
    async fn releases(
        &self,
        env: &EnvName,
        service: &ServiceName,
        limit: usize,
    ) -> PortResult<Vec<Release>> {
        yield_now().await;
        let mut v: Vec<Release> = guard(&self.store)
            .releases
            .iter()
            .filter(|r| &r.env == env && &r.service == service)
            .cloned()
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.succeeded_at));
        v.truncate(limit);
        Ok(v)
    }
    async fn judge_release(
        &self,
        env: &EnvName,
        service: &ServiceName,
        deployment: DeploymentId,
        verdict: &Verdict,
    ) -> PortResult<bool> {
        yield_now().await;
        let mut s = guard(&self.store);
        let Some(r) = s
            .releases
            .iter_mut()
            .find(|r| &r.env == env && &r.service == service && r.deployment == deployment)
        else {
            return Ok(false);
        };
        let allowed = match verdict {
            Verdict::Good => r.verdict == Verdict::Baking,
            Verdict::Bad { .. } => !matches!(r.verdict, Verdict::Bad { .. }),
            Verdict::Baking => false,
        };
        if allowed {
            r.verdict = verdict.clone();
        }
        Ok(allowed)
    }
    async fn record_backup(&self, record: &BackupRecord) -> PortResult<bool> {
        yield_now().await;
        Ok(push_once(&mut guard(&self.store).backups, record, |b| {
            b.plan == record.plan && b.snapshot == record.snapshot
        }))
    }
    async fn backups(&self, plan: &str, limit: usize) -> PortResult<Vec<BackupRecord>> {
        yield_now().await;
        Ok(newest(&guard(&self.store).backups, limit, |b| {
            b.plan == plan
        }))
    }
    async fn append_audit(&self, entry: &AuditEntry) -> PortResult<()> {
        yield_now().await;
        guard(&self.store).audit.push(entry.clone());
        Ok(())
    }
    async fn audit(&self, env: &EnvName, limit: usize) -> PortResult<Vec<AuditEntry>> {
        yield_now().await;
        Ok(guard(&self.store)
            .audit
            .iter()
            .rev()
            .filter(|a| &a.env == env)
            .take(limit)
            .cloned()
            .collect())
    }
    async fn claim(
        &self,
        key: &str,
        value: &str,
        _expires: Timestamp,
    ) -> PortResult<Option<String>> {
        yield_now().await;
        let mut s = guard(&self.store);
        if let Some(v) = s.claims.get(key) {
            return Ok(Some(v.clone()));
        }
        s.claims.insert(key.to_owned(), value.to_owned());
        Ok(None)
    }

    async fn claimed(&self, key: &str) -> PortResult<Option<String>> {
        yield_now().await;
        Ok(guard(&self.store).claims.get(key).cloned())
    }

    async fn lease(
        &self,
        key: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> PortResult<bool> {
        yield_now().await;
        let mut s = guard(&self.store);
        if s.leases.get(key).is_some_and(|(_, u)| *u >= now) {
            return Ok(false);
        }
        s.leases.insert(key.to_owned(), (holder.to_owned(), until));
        Ok(true)
    }

    async fn end_lease(&self, key: &str, holder: &str) -> PortResult<()> {
        yield_now().await;
        let mut s = guard(&self.store);
        if s.leases.get(key).is_some_and(|(h, _)| h == holder) {
            s.leases.remove(key);
        }
        Ok(())
    }
}

impl Platform for Memory {
    async fn running(&self, cluster: &str, service: &ServiceConfig) -> PortResult<Running> {
        let w = guard(&self.world);
        w.running_in
            .get(&(cluster.to_owned(), service.ecs_service.clone()))
            .or_else(|| w.running.get(&service.ecs_service))
            .cloned()
            .ok_or_else(|| PortError::NotFound(format!("ECS service {}", service.ecs_service)))
    }
    async fn resolve_image(&self, repository: &str, tag: &Version) -> PortResult<Option<Digest>> {
        Ok(guard(&self.world)
            .images
            .get(&(repository.to_owned(), tag.to_string()))
            .cloned())
    }
    async fn roll_out(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        image: &ImageRef,
        step: &str,
    ) -> PortResult<StepRollout> {
        yield_now().await;
        let mut w = guard(&self.world);
        let key = (cluster.to_owned(), service.ecs_service.clone());
        if let Some(running) = w.running_in.get(&key)
            && let Some((by, ecs)) = w.steps.get(&running.task_definition)
            && by == step
        {
            return Ok(StepRollout::Rolling(Rollout {
                task_definition: running.task_definition.clone(),
                ecs_deployment: ecs.clone(),
            }));
        }
        if let Some((td, _)) = w.steps.iter().find(|(_, (by, _))| by == step) {
            return Ok(StepRollout::Undone {
                task_definition: td.clone(),
            });
        }
        w.next_revision += 1;
        let n = w.next_revision;
        w.roll_outs.push((service.name.clone(), image.clone()));
        // Revision 1 is what `set_running` put there.
        let td = format!("{}:{}", service.ecs_service, n + 1);
        let pinned = format!("{}:{}@{}", image.repository, image.tag, image.digest);
        w.task_images.insert(td.clone(), pinned.clone());
        let ecs_deployment = format!("ecs-svc/{n}");
        w.steps
            .insert(td.clone(), (step.to_owned(), ecs_deployment.clone()));
        w.running_in.insert(
            key,
            Running {
                task_definition: td.clone(),
                image: pinned,
                ecs_deployment: Some(ecs_deployment.clone()),
                step: Some(step.to_owned()),
                version: Some(image.tag.to_string()),
                since: Some(*guard(&self.now)),
            },
        );
        Ok(StepRollout::Rolling(Rollout {
            task_definition: td,
            ecs_deployment,
        }))
    }
    async fn roll_back(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        task_definition: &str,
        _replacing: Option<&str>,
    ) -> PortResult<Rollout> {
        yield_now().await;
        let mut w = guard(&self.world);
        w.next_revision += 1;
        let n = w.next_revision;
        w.roll_backs
            .push((service.name.clone(), task_definition.to_owned()));
        let image = w
            .task_images
            .get(task_definition)
            .cloned()
            .unwrap_or_default();
        let ecs_deployment = format!("ecs-svc/{n}");
        w.running_in.insert(
            (cluster.to_owned(), service.ecs_service.clone()),
            Running {
                task_definition: task_definition.to_owned(),
                image,
                ecs_deployment: Some(ecs_deployment.clone()),
                step: None,
                version: None,
                since: None,
            },
        );
        Ok(Rollout {
            task_definition: task_definition.to_owned(),
            ecs_deployment,
        })
    }
    async fn run_migration(
        &self,
        _cluster: &str,
        service: &ServiceConfig,
        _image: &ImageRef,
        _command: &[String],
        run: &str,
    ) -> PortResult<i32> {
        yield_now().await;
        let mut w = guard(&self.world);
        let exit = w
            .migration_exit
            .get(service.name.as_str())
            .copied()
            .unwrap_or(0);
        // Like the ECS adapter: one task per (deployment, service), however often asked.
        if w.migration_runs.insert(format!("{run}/{}", service.name)) {
            w.migrations.push(service.name.clone());
        }
        Ok(exit)
    }
    async fn start_smoke(
        &self,
        _cluster: &str,
        service: &ServiceConfig,
        _task_definition: &str,
        _command: &[String],
        run: &str,
    ) -> PortResult<String> {
        yield_now().await;
        let mut w = guard(&self.world);
        // Like the ECS adapter: one task per (deployment, service), however often asked.
        let n = w.smoke_runs.len();
        Ok(w.smoke_runs
            .entry(format!("{run}/{}", service.name))
            .or_insert_with(|| format!("task/smoke-{n}"))
            .clone())
    }
    async fn run_task(
        &self,
        _cluster: &str,
        _service: &ServiceConfig,
        command: &[String],
        started_by: &str,
    ) -> PortResult<String> {
        yield_now().await;
        let mut w = guard(&self.world);
        let n = w.tasks.len();
        Ok(w.tasks
            .entry(started_by.to_owned())
            .or_insert_with(|| (format!("task/one-off-{n}"), command.to_vec()))
            .0
            .clone())
    }
    async fn task_state(
        &self,
        _cluster: &str,
        service: &ServiceConfig,
        task: &str,
    ) -> PortResult<TaskState> {
        yield_now().await;
        let w = guard(&self.world);
        if let Some(state) = w.task_states.get(task) {
            return Ok(state.clone());
        }
        // A one-off task runs until a test says how it ended.
        if w.tasks.values().any(|(t, _)| t == task) {
            return Ok(TaskState::Running);
        }
        Ok(w.smoke_state
            .get(service.name.as_str())
            .cloned()
            .unwrap_or(TaskState::Stopped {
                exit_code: Some(0),
                reason: "Essential container in task exited".into(),
                log_tail: Vec::new(),
            }))
    }
    async fn stop_task(
        &self,
        _cluster: &str,
        _service: &ServiceConfig,
        task: &str,
        reason: &str,
    ) -> PortResult<Vec<String>> {
        yield_now().await;
        let mut w = guard(&self.world);
        w.stopped_tasks.push(task.to_owned());
        w.task_states.insert(
            task.to_owned(),
            TaskState::Stopped {
                exit_code: None,
                reason: reason.to_owned(),
                log_tail: Vec::new(),
            },
        );
        Ok(vec!["still waiting for the checkout page".into()])
    }
    async fn rollout_state(
        &self,
        _cluster: &str,
        _service: &ServiceConfig,
        ecs_deployment: &str,
    ) -> PortResult<RolloutState> {
        let known = guard(&self.world).next_revision;
        let n: u32 = ecs_deployment
            .trim_start_matches("ecs-svc/")
            .parse()
            .unwrap_or(u32::MAX);
        if n > known {
            return Err(PortError::NotFound(format!(
                "ECS deployment {ecs_deployment}"
            )));
        }
        // The in-memory platform finishes nothing by itself; tests deliver outcomes as events,
        // or say ECS finished everything (`complete_rollouts`).
        if guard(&self.world).rollouts_complete {
            return Ok(RolloutState::Completed);
        }
        Ok(RolloutState::InProgress)
    }
}

impl Monitor for Memory {
    async fn firing(&self, alarms: &[String]) -> PortResult<Vec<String>> {
        let w = guard(&self.world);
        Ok(alarms
            .iter()
            .filter(|a| w.firing.contains(*a))
            .cloned()
            .collect())
    }
    async fn probe(&self, url: &str, _timeout: jiff::SignedDuration) -> PortResult<Probe> {
        let mut w = guard(&self.world);
        if let Some(p) = w.probes.get_mut(url).and_then(|q| q.pop_front()) {
            return Ok(p);
        }
        if w.unhealthy.contains(url) {
            return Ok(Probe::Answered {
                status: 503,
                body: "unavailable".into(),
            });
        }
        Ok(w.healthy.get(url).cloned().unwrap_or(Probe::Answered {
            status: 200,
            body: "ok".into(),
        }))
    }
    async fn alarm_tags(
        &self,
        alarm: &str,
        _arn: Option<&str>,
    ) -> PortResult<BTreeMap<String, String>> {
        guard(&self.world)
            .alarm_tags
            .get(alarm)
            .cloned()
            .ok_or_else(|| PortError::NotFound(format!("alarm {alarm}")))
    }
}

impl Chat for Memory {
    async fn post_card(&self, to: &Channel, card: &Card) -> PortResult<MessageRef> {
        let mut w = guard(&self.world);
        w.said.push(Said::Card {
            channel: to.clone(),
            card: card.clone(),
        });
        Ok(MessageRef {
            chat: to.chat,
            channel: to.id.clone(),
            id: format!("msg-{}", w.said.len()),
        })
    }
    async fn update_card(&self, message: &MessageRef, card: &Card) -> PortResult<()> {
        guard(&self.world).said.push(Said::Update {
            message: message.clone(),
            card: card.clone(),
        });
        Ok(())
    }
    async fn reply(&self, message: &MessageRef, text: &str) -> PortResult<()> {
        guard(&self.world).said.push(Said::Reply {
            message: message.clone(),
            text: text.to_owned(),
        });
        Ok(())
    }
    async fn post(&self, to: &Channel, text: &str) -> PortResult<MessageRef> {
        let mut w = guard(&self.world);
        w.said.push(Said::Post {
            channel: to.clone(),
            text: text.to_owned(),
        });
        Ok(MessageRef {
            chat: to.chat,
            channel: to.id.clone(),
            id: format!("msg-{}", w.said.len()),
        })
    }
    async fn respond(&self, to: &ReplyTo, text: &str) -> PortResult<()> {
        guard(&self.world).said.push(Said::Response {
            to: to.clone(),
            text: text.to_owned(),
        });
        Ok(())
    }
    async fn ephemeral(&self, to: &Channel, user: &Actor, text: &str) -> PortResult<()> {
        guard(&self.world).said.push(Said::Ephemeral {
            channel: to.clone(),
            user: user.clone(),
            text: text.to_owned(),
        });
        Ok(())
    }
}

impl Dispatch for Memory {
    async fn dispatch(&self, work: &Work) -> PortResult<()> {
        guard(&self.world).dispatched.push(work.clone());
        Ok(())
    }
    async fn dispatch_after(&self, work: &Work, delay: jiff::SignedDuration) -> PortResult<()> {
        let at = self.the_time() + delay;
        guard(&self.world).delayed.push((work.clone(), at));
        Ok(())
    }
}

impl Backups for Memory {
    async fn schedules(&self) -> PortResult<Option<(String, Vec<PlanSchedule>)>> {
        let w = guard(&self.world);
        Ok(w.schedules
            .as_ref()
            .map(|s| (MEMORY_TARGET.to_owned(), s.values().cloned().collect())))
    }
    async fn change_schedule(&self, change: &ScheduleChange) -> PortResult<()> {
        let mut w = guard(&self.world);
        let Some(group) = w.schedules.as_mut() else {
            return Err(PortError::Misconfigured("no schedule group".into()));
        };
        match change {
            ScheduleChange::Create(s) if group.contains_key(&s.name) => {
                return Err(PortError::Conflict(format!("schedule {} exists", s.name)));
            }
            ScheduleChange::Create(s) | ScheduleChange::Update(s) => {
                group.insert(s.name.clone(), s.clone());
            }
            ScheduleChange::Delete(name) => {
                group.remove(name);
            }
        }
        Ok(())
    }
    async fn create(&self, new: NewSnapshot<'_>) -> PortResult<()> {
        let (plan, snapshot, tags) = (new.plan, new.name, new.tags);
        yield_now().await;
        let now = self.the_time();
        let mut w = guard(&self.world);
        if w.snapshots.contains_key(snapshot) {
            return Err(PortError::Conflict(format!("snapshot {snapshot} exists")));
        }
        let status = if w.fail_snapshots {
            SnapshotStatus::Failed
        } else {
            SnapshotStatus::Available
        };
        let ours = tags
            .iter()
            .any(|(k, v)| k == "deckhand:plan" && v == &plan.name);
        w.snapshots.insert(
            snapshot.to_owned(),
            (
                SnapshotInfo {
                    id: snapshot.to_owned(),
                    created: now,
                    status,
                    made_by_deckhand: ours,
                },
                plan.name.clone(),
            ),
        );
        Ok(())
    }
    async fn wait(&self, _plan: &BackupPlan, snapshot: &str) -> PortResult<SnapshotStatus> {
        guard(&self.world)
            .snapshots
            .get(snapshot)
            .map(|(s, _)| s.status)
            .ok_or_else(|| PortError::NotFound(format!("snapshot {snapshot}")))
    }
    async fn list(&self, plan: &BackupPlan) -> PortResult<Vec<SnapshotInfo>> {
        Ok(of_plan(&guard(&self.world).snapshots, plan))
    }
    async fn delete(&self, _plan: &BackupPlan, snapshot: &str) -> PortResult<()> {
        removed(&mut guard(&self.world).snapshots, "snapshot", snapshot)
    }
    async fn copy(&self, new: NewSnapshot<'_>) -> PortResult<()> {
        let (plan, snapshot) = (new.plan, new.name);
        let now = self.the_time();
        let mut w = guard(&self.world);
        let Some((info, _)) = w.snapshots.get(snapshot).cloned() else {
            return Err(PortError::NotFound(format!("snapshot {snapshot}")));
        };
        if w.copies.contains_key(snapshot) {
            return Err(PortError::Conflict(format!("copy {snapshot} exists")));
        }
        let copy = SnapshotInfo {
            created: now,
            ..info
        };
        w.copies
            .insert(snapshot.to_owned(), (copy, plan.name.clone()));
        Ok(())
    }
    async fn list_copies(&self, plan: &BackupPlan) -> PortResult<Vec<SnapshotInfo>> {
        Ok(of_plan(&guard(&self.world).copies, plan))
    }
    async fn delete_copy(&self, _plan: &BackupPlan, snapshot: &str) -> PortResult<()> {
        removed(&mut guard(&self.world).copies, "copy", snapshot)
    }
}

/// Snapshots (or copies), each with the plan it belongs to: those of `plan`.
fn of_plan(kept: &HashMap<String, (SnapshotInfo, String)>, plan: &BackupPlan) -> Vec<SnapshotInfo> {
    kept.values()
        .filter(|(_, p)| p == &plan.name)
        .map(|(s, _)| s.clone())
        .collect()
}

/// Deletes one `what` (a snapshot, a copy); `NotFound` when there is none of that name.
fn removed(
    kept: &mut HashMap<String, (SnapshotInfo, String)>,
    what: &str,
    name: &str,
) -> PortResult<()> {
    kept.remove(name)
        .map(|_| ())
        .ok_or_else(|| PortError::NotFound(format!("{what} {name}")))
}

impl Secrets for Memory {
    async fn get(&self, name: &str) -> PortResult<SecretString> {
        guard(&self.world)
            .secrets
            .get(name)
            .map(|v| SecretString::from(v.clone()))
            .ok_or_else(|| PortError::NotFound(format!("secret {name}")))
    }
}

impl Metrics for Memory {
    async fn emit(&self, metrics: &[Metric]) -> PortResult<()> {
        guard(&self.world).metrics.extend_from_slice(metrics);
        Ok(())
    }
}

impl Clock for Memory {
    fn now(&self) -> Timestamp {
        self.the_time()
    }
}

impl Memory {
    /// Every port on this world.
    pub fn ports(&self) -> MemoryPorts {
        Bundle::uniform(self.clone())
    }
}

/// Appends `item` unless `same` finds it already there, as a conditional put: whether it did.
fn push_once<T: Clone>(list: &mut Vec<T>, item: &T, same: impl Fn(&T) -> bool) -> bool {
    if list.iter().any(same) {
        return false;
    }
    list.push(item.clone());
    true
}

/// The newest `limit` entries that `keep` keeps, newest first (entries are appended in order).
fn newest<T: Clone>(list: &[T], limit: usize, keep: impl Fn(&T) -> bool) -> Vec<T> {
    list.iter()
        .rev()
        .filter(|t| keep(t))
        .take(limit)
        .cloned()
        .collect()
}
