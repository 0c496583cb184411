//! The capabilities Deckhand needs from the outside world, as traits.
//!
//! Adapters (`deckhand-aws`, the bot's chat clients) implement them; use-cases are generic over
//! them through [`Ports`]. Every method returns a `Send` future so use-cases can run inside
//! axum handlers and Lambda runtimes on a multi-threaded executor. No adapter error type
//! crosses a port: adapters map theirs to [`PortError`] exactly once.

use std::collections::BTreeMap;
use std::future::Future;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::card::Card;
use crate::check::{Probe, TaskState};
use crate::config::{BackupPlan, ServiceConfig};
use crate::deployment::{Deployment, ImageRef, Work};
use crate::policy::{EnvLock, LockOwner};
use crate::retention::{SnapshotInfo, SnapshotStatus};
use crate::rollback::{Release, Verdict};
use crate::schedule::{PlanSchedule, ScheduleChange};
use crate::types::{
    Actor, ChatKind, DeploymentId, Digest, EnvName, Sealed, ServiceName, SignedDuration, Timestamp,
    Version,
};

/// What can go wrong behind a port, in the terms use-cases decide on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// A conditional write lost: someone else changed the item first.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The named thing does not exist (a cluster, service, DB instance, secret…).
    #[error("not found: {0}")]
    NotFound(String),
    /// Worth retrying: throttling, a timeout, the service unavailable. Adapters already
    /// retried with backoff before returning this.
    #[error("temporarily unavailable: {0}")]
    Transient(String),
    /// Deckhand's own setup is wrong, not the request: a table, secret, cluster, service,
    /// repository, database or function it is configured to use does not exist, or its role
    /// may not do what it must. The operator's mistake, never the user's: the message names
    /// the resource and, for a denied call, AWS's own words on the permission it needs.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// Anything else. The message keeps the provider's error code and request id.
    #[error("{0}")]
    Failed(String),
}

impl PortError {
    /// A call that got no answer, in the same words whichever client made it: `what` (the
    /// operation and its subject), then whether it timed out, its connection failed (refused,
    /// reset or dropped), or it failed on the way otherwise.
    pub fn unanswered(what: &str, timed_out: bool, connection_failed: bool) -> Self {
        let why = if timed_out {
            "timed out"
        } else if connection_failed {
            "connection failed"
        } else {
            "failed on the way"
        };
        PortError::Transient(format!("{what}: {why}"))
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// Deckhand's state. Every state change is a conditional write, so two functions racing on the
/// same item cannot both win: the loser gets [`PortError::Conflict`].
pub trait Store: Send + Sync {
    /// Creates a deployment that must not exist yet (ids derive from event ids, so a redelivered
    /// request conflicts here). `Conflict` if it exists.
    fn create_deployment(&self, d: &Deployment) -> impl Future<Output = PortResult<()>> + Send;
    /// Opens a request in one atomic write: claims its event, takes its environment's lock and
    /// creates the deployment, unless the event was refused before, is claimed for another
    /// deployment, the environment is held by someone else, or (for automation) paused. What
    /// stood in the way comes back without another read where the store can return it.
    fn open_deployment(
        &self,
        opening: &Opening<'_>,
    ) -> impl Future<Output = PortResult<Opened>> + Send;
    /// An approval click's one write: records `vote.approval` beside deployment `vote.id` (see
    /// [`Deployment::votes`]) and bumps its revision, if as stored it is in `vote.env`, awaits
    /// approval, its window is open at the vote's time, the voter neither asked for it nor
    /// approved it already, and (when `vote.needs_override`) it was overridden. Returns the
    /// deployment after the write, or as it stood when refused, without another read.
    fn vote(&self, vote: &Vote) -> impl Future<Output = PortResult<Voted>> + Send;
    /// An alarm's rollback in one atomic write, before `UpdateService`: records the alarm
    /// transition's decision, judges the bad release (its verdict and its record), claims the rollback's event, takes the
    /// environment's lock, creates the rollback deployment already started and takes the lease
    /// on its rollout step (and holds the service, if asked) — unless the decision was recorded
    /// before, automation is paused there, the environment is held, or the release was judged
    /// bad already. `false`: one of those stood in the way and nothing was written; the caller
    /// takes the road that reads what it needs.
    fn open_rollback(
        &self,
        opening: &RollbackOpening<'_>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    fn get_deployment(
        &self,
        id: DeploymentId,
    ) -> impl Future<Output = PortResult<Option<Deployment>>> + Send;
    /// Saves `d` if the stored revision is `d.revision - 1`; `Conflict` otherwise.
    fn save_deployment(&self, d: &Deployment) -> impl Future<Output = PortResult<()>> + Send;
    /// The deployment that started this ECS deployment, for outcome events.
    fn deployment_by_ecs_id(
        &self,
        ecs_deployment: &str,
    ) -> impl Future<Output = PortResult<Option<Deployment>>> + Send;
    /// Newest first; optionally only those touching `service`.
    fn recent_deployments(
        &self,
        env: &EnvName,
        service: Option<&ServiceName>,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<Deployment>>> + Send;

    /// Where a deployment's cards were posted, so later steps can update them.
    fn set_cards(
        &self,
        id: DeploymentId,
        cards: &[MessageRef],
    ) -> impl Future<Output = PortResult<()>> + Send;
    fn cards(&self, id: DeploymentId) -> impl Future<Output = PortResult<Vec<MessageRef>>> + Send;
    /// Records that every card of `id` now shows its revision `revision` (never lowers it).
    fn card_shown(
        &self,
        id: DeploymentId,
        revision: u64,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// The revision `id`'s cards last all showed; `None` before its cards were first posted.
    fn shown_revision(
        &self,
        id: DeploymentId,
    ) -> impl Future<Output = PortResult<Option<u64>>> + Send;

    fn get_lock(&self, env: &EnvName) -> impl Future<Output = PortResult<Option<EnvLock>>> + Send;
    /// Takes the lock if it is free, expired at `now`, or already held by the same owner.
    /// Returns the current holder when someone else holds it.
    fn acquire_lock(
        &self,
        lock: &EnvLock,
        now: Timestamp,
    ) -> impl Future<Output = PortResult<Result<(), EnvLock>>> + Send;
    /// Releases the lock if `owner` holds it; `false` if it did not.
    fn release_lock(
        &self,
        env: &EnvName,
        owner: &LockOwner,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    /// Releases whatever lock there is (`/unlock`), returning it.
    fn break_lock(&self, env: &EnvName)
    -> impl Future<Output = PortResult<Option<EnvLock>>> + Send;

    fn put_hold(&self, hold: &Hold) -> impl Future<Output = PortResult<()>> + Send;
    fn holds(&self, env: &EnvName) -> impl Future<Output = PortResult<Vec<Hold>>> + Send;
    fn clear_holds(&self, env: &EnvName) -> impl Future<Output = PortResult<Vec<Hold>>> + Send;

    /// Pauses automation in an environment (`/pause`): `Some` with the pause already there
    /// (kept as it was) when it was paused before.
    fn pause(&self, pause: &Pause) -> impl Future<Output = PortResult<Option<Pause>>> + Send;
    fn paused(&self, env: &EnvName) -> impl Future<Output = PortResult<Option<Pause>>> + Send;
    /// Resumes it (`/resume`), returning the pause that ended.
    fn resume(&self, env: &EnvName) -> impl Future<Output = PortResult<Option<Pause>>> + Send;

    /// Records a build once; `false` when this build was already recorded (a redelivery).
    fn record_build(&self, build: &Build) -> impl Future<Output = PortResult<bool>> + Send;
    fn builds(
        &self,
        service: &ServiceName,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<Build>>> + Send;

    /// Records a release once per (env, service, deployment).
    fn record_release(&self, release: &Release) -> impl Future<Output = PortResult<()>> + Send;
    /// That service's releases in that environment, newest first.
    fn releases(
        &self,
        env: &EnvName,
        service: &ServiceName,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<Release>>> + Send;
    /// Changes a release's verdict, conditionally: `Good` only from `Baking` (the bake check),
    /// `Bad` from `Baking` or `Good` (an alarm, a manual rollback). `false` when the condition
    /// did not hold, so of two racing judges exactly one wins.
    fn judge_release(
        &self,
        env: &EnvName,
        service: &ServiceName,
        deployment: DeploymentId,
        verdict: &Verdict,
    ) -> impl Future<Output = PortResult<bool>> + Send;

    /// Records a finished backup run once per (plan, snapshot).
    fn record_backup(&self, record: &BackupRecord)
    -> impl Future<Output = PortResult<bool>> + Send;
    fn backups(
        &self,
        plan: &str,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<BackupRecord>>> + Send;

    fn append_audit(&self, entry: &AuditEntry) -> impl Future<Output = PortResult<()>> + Send;
    fn audit(
        &self,
        env: &EnvName,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<AuditEntry>>> + Send;

    /// Claims an idempotency key until `expires`, storing `value` with it. `None` for the
    /// first claim; the first claimant's value when it was already claimed. Maps an event to
    /// what it created (so a redelivery finds the same deployment), and guards effects that no
    /// state transition guards (a chat message about an alarm that changes nothing, say).
    fn claim(
        &self,
        key: &str,
        value: &str,
        expires: Timestamp,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send;

    /// The value `key` was claimed with, if it was; claims nothing.
    fn claimed(&self, key: &str) -> impl Future<Output = PortResult<Option<String>>> + Send;

    /// Takes the lease `key` for `holder` until `until`: `true` when it was free, or its last
    /// holder's lease ran out before `now`. A deployment step is leased while it is performed,
    /// so concurrent deliveries of the same work do not perform it twice, while a retry after
    /// a crash (the lease ran out) does.
    fn lease(
        &self,
        key: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = PortResult<bool>> + Send;

    /// Gives the lease back early (the step failed and a retry should not wait for it).
    /// Only `holder`'s own lease is removed.
    fn end_lease(&self, key: &str, holder: &str) -> impl Future<Output = PortResult<()>> + Send;
}

/// A service held after an automatic rollback: auto-deploy skips it until `/unlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub env: EnvName,
    pub service: ServiceName,
    pub reason: String,
    pub since: Timestamp,
}

/// Automation paused in an environment during an incident: no automatic deploys, no automatic
/// rollbacks (alarms are still recorded and shown) until `/resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub env: EnvName,
    pub by: Actor,
    pub since: Timestamp,
}

/// A build that finished: a version of a service that may be deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub service: ServiceName,
    pub version: Version,
    /// The build system's own id (CodeBuild build ARN, GitHub run id…): the dedup key.
    pub build_id: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub url: Option<String>,
    pub finished_at: Timestamp,
    pub succeeded: bool,
}

impl Build {
    /// The longest build id Deckhand keeps: it becomes part of store keys, which DynamoDB caps
    /// at 1,024 bytes for a sort key (CodeBuild's ARNs run to about 150).
    pub const MAX_ID: usize = 256;
    /// The longest branch, commit or link shown on a card.
    pub const MAX_TEXT: usize = 512;

    /// The first field too long to keep, with its length and the limit.
    pub fn oversized(&self) -> Option<(&'static str, usize, usize)> {
        let fields = [
            ("build id", Some(&self.build_id), Self::MAX_ID),
            ("branch", self.branch.as_ref(), Self::MAX_TEXT),
            ("commit", self.commit.as_ref(), Self::MAX_TEXT),
            ("url", self.url.as_ref(), Self::MAX_TEXT),
        ];
        fields.into_iter().find_map(|(field, value, max)| {
            let len = value.map_or(0, String::len);
            (len > max).then_some((field, len, max))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    pub plan: String,
    pub env: EnvName,
    pub snapshot: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub status: SnapshotStatus,
    pub size_gib: Option<u64>,
    /// The deployment this snapshot was taken before, if any.
    pub deployment: Option<DeploymentId>,
    pub pruned: Vec<String>,
    /// The region a copy was started in, and the copies retention deleted there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied_to: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies_pruned: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub env: EnvName,
    pub at: Timestamp,
    pub actor: Actor,
    pub action: String,
    pub detail: String,
    pub deployment: Option<DeploymentId>,
}

/// What runs where: ECS (and ECR, for resolving image tags).
pub trait Platform: Send + Sync {
    /// The service's current task definition and the image of its container.
    fn running(
        &self,
        cluster: &str,
        service: &ServiceConfig,
    ) -> impl Future<Output = PortResult<Running>> + Send;
    /// Only the service's current task definition: what an alarm's rollback needs to know
    /// before it acts (ECS answers it in one call; [`Platform::running`] may take two).
    fn running_revision(
        &self,
        cluster: &str,
        service: &ServiceConfig,
    ) -> impl Future<Output = PortResult<String>> + Send {
        async move { Ok(self.running(cluster, service).await?.task_definition) }
    }
    /// The digest a tag points at now; `None` if the repository has no such tag.
    fn resolve_image(
        &self,
        repository: &str,
        tag: &Version,
    ) -> impl Future<Output = PortResult<Option<Digest>>> + Send;
    /// Registers a revision of the running task definition with only the container's image
    /// changed, and updates the service to it. `step` names the rollout step (its deployment
    /// and service), and the revision is registered under it, so a retried step never sends a
    /// second `UpdateService`: see [`StepRollout`].
    fn roll_out(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        image: &ImageRef,
        step: &str,
    ) -> impl Future<Output = PortResult<StepRollout>> + Send;
    /// Updates the service to an existing task definition (a rollback). `replacing` is the
    /// task definition the caller just read running, if it did (the adapter reads it
    /// otherwise): a new ECS deployment is forced only when the two differ.
    fn roll_back(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        task_definition: &str,
        replacing: Option<&str>,
    ) -> impl Future<Output = PortResult<Rollout>> + Send;
    /// Runs the migration command once with the new image and the service's network
    /// configuration, and waits for its exit code. `run` names the deployment it belongs to:
    /// a retried call with the same `run` waits for the task the first call started (or reads
    /// its exit code) instead of starting a second migration.
    fn run_migration(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        image: &ImageRef,
        command: &[String],
        run: &str,
    ) -> impl Future<Output = PortResult<i32>> + Send;
    /// Starts the smoke test: `command` as a one-off task on `task_definition` (the revision
    /// the rollout put in place) with the service's network configuration. `run` names the
    /// deployment: a retried call finds the task an earlier call started for this service
    /// and returns it instead of starting another.
    fn start_smoke(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        task_definition: &str,
        command: &[String],
        run: &str,
    ) -> impl Future<Output = PortResult<String>> + Send;
    /// Runs `command` once as a one-off task on the service's current task definition with its
    /// network configuration, started by `started_by`: a task that name already started
    /// (running, or stopped within ECS's hour) is returned instead of starting another.
    fn run_task(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        command: &[String],
        started_by: &str,
    ) -> impl Future<Output = PortResult<String>> + Send;
    /// How a one-off task stands; once stopped, with its exit code and its log's last lines.
    fn task_state(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        task: &str,
    ) -> impl Future<Output = PortResult<TaskState>> + Send;
    /// Stops a one-off task that ran too long; returns its log's last lines.
    fn stop_task(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        task: &str,
        reason: &str,
    ) -> impl Future<Output = PortResult<Vec<String>>> + Send;
    /// Where an ECS deployment of this service stands, for reconciling when an outcome event
    /// was lost. `NotFound` when the service no longer lists that deployment.
    fn rollout_state(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        ecs_deployment: &str,
    ) -> impl Future<Output = PortResult<RolloutState>> + Send;
}

/// An ECS deployment's `rolloutState`, with ECS's reason when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RolloutState {
    InProgress,
    Completed,
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    pub task_definition: String,
    pub image: String,
    /// The service's PRIMARY ECS deployment: the one its latest update started.
    #[serde(default)]
    pub ecs_deployment: Option<String>,
    /// The rollout step that registered the running revision, when Deckhand's did.
    #[serde(default)]
    pub step: Option<String>,
    /// The version the running revision was registered for, when Deckhand registered it (its
    /// image is pinned by digest alone, so the image names no tag).
    #[serde(default)]
    pub version: Option<String>,
    /// Since when it runs: when ECS started the deployment that rolled it out, if it says.
    #[serde(default)]
    pub since: Option<Timestamp>,
}

impl Running {
    /// The digest the running image is pinned to, if it is (`repo:tag@sha256:…`).
    pub fn digest(&self) -> Option<Digest> {
        let (_, digest) = self.image.split_once('@')?;
        Digest::parse(digest).ok()
    }

    /// The tag of the running image, if it has one (`repo:tag` or `repo:tag@sha256:…`).
    pub fn tag(&self) -> Option<&str> {
        let without_digest = self.image.split('@').next().unwrap_or(&self.image);
        let name = without_digest.rsplit('/').next().unwrap_or(without_digest);
        name.split_once(':').map(|(_, t)| t)
    }
}

/// What a rollout step did, or found an earlier attempt of itself had done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepRollout {
    /// The service rolls out the step's revision: this call started it, or an earlier attempt
    /// of the step got as far as `UpdateService` before it died and this is its rollout.
    Rolling(Rollout),
    /// An earlier attempt of the step registered `task_definition`, and the service does not
    /// run it: ECS's circuit breaker rolled that rollout back, or the attempt died between
    /// registering and updating. Either way nothing is sent again: a release ECS already
    /// refused is not shipped a second time on a retry.
    Undone { task_definition: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub task_definition: String,
    pub ecs_deployment: String,
}

/// Alarms and health checks.
pub trait Monitor: Send + Sync {
    /// Which of these alarms are in ALARM now.
    fn firing(&self, alarms: &[String]) -> impl Future<Output = PortResult<Vec<String>>> + Send;
    /// One GET of a check's URL, waiting at most `timeout`. An unreachable service is a
    /// [`Probe`], not an error: it is the release that failed.
    fn probe(
        &self,
        url: &str,
        timeout: SignedDuration,
    ) -> impl Future<Output = PortResult<Probe>> + Send;
    /// The tags on an alarm, found by its ARN when the event carried one, else by its name.
    /// `NotFound` when there is no such alarm.
    fn alarm_tags(
        &self,
        alarm: &str,
        arn: Option<&str>,
    ) -> impl Future<Output = PortResult<BTreeMap<String, String>>> + Send;
}

/// A message Deckhand posted, to update or reply to later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    pub chat: ChatKind,
    pub channel: String,
    /// Slack's message `ts`, or Discord's message id.
    pub id: String,
}

/// One request's first write: see [`Store::open_deployment`].
#[derive(Debug, Clone)]
pub struct Opening<'a> {
    pub deployment: &'a Deployment,
    /// The event's claim (`event#<key>`), mapped to the deployment's id; taken unless it is
    /// already this deployment's.
    pub claim: &'a str,
    /// Must not exist: the event's recorded refusal (`refused#<key>`).
    pub refusal: &'a str,
    pub claim_expires: Timestamp,
    pub lock: &'a EnvLock,
    /// Refuse when automation is paused in the environment (the request is automation's).
    pub unless_paused: bool,
    pub now: Timestamp,
}

/// What [`Store::open_rollback`] writes.
#[derive(Debug, Clone, Copy)]
pub struct RollbackOpening<'a> {
    /// The alarm transition's decision claim: its key and the decision as recorded.
    pub decision: (&'a str, &'a str),
    /// The rollback's event claim key (its value is the deployment's id).
    pub claim: &'a str,
    /// When both claims lapse.
    pub claims_expire: Timestamp,
    /// The rollback, started: in its first rollout step.
    pub deployment: &'a Deployment,
    pub lock: &'a EnvLock,
    /// The step's lease: key, holder, until.
    pub lease: (&'a str, &'a str, Timestamp),
    /// The release judged bad, and the verdict.
    pub judged: (&'a ServiceName, DeploymentId, &'a crate::rollback::Verdict),
    /// The judged release's own record with the verdict applied, saved on the revision it was
    /// read at (`None`: a record that takes no verdict, such as one judged already).
    pub judged_record: Option<&'a Deployment>,
    pub hold: Option<&'a Hold>,
    pub now: Timestamp,
}

/// An approval to record with [`Store::vote`].
#[derive(Debug, Clone, PartialEq)]
pub struct Vote {
    pub id: DeploymentId,
    pub env: EnvName,
    pub approval: crate::deployment::Approval,
    /// The voter may approve only an overridden deployment ([`crate::policy::may_vote`]).
    pub needs_override: bool,
}

impl Vote {
    /// Whether [`Store::vote`] records this vote on `d` as stored: its conditions, for stores
    /// that check them in code (DynamoDB's are a condition expression saying the same).
    pub fn holds_for(&self, d: &Deployment) -> bool {
        d.env == self.env
            && d.state == crate::deployment::State::PendingApproval
            && self.approval.at < d.approval_expires
            && !self.approval.by.same_person(&d.requested_by)
            && !d.has_approved(&self.approval.by)
            && (!self.needs_override || d.overridden.is_some())
    }
}

/// What [`Store::vote`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Voted {
    /// Recorded: the deployment with the vote among its [`Deployment::votes`].
    Recorded(Box<Deployment>),
    /// A condition did not hold: the deployment as it stood, for the caller to say why.
    Refused(Box<Deployment>),
    /// No such deployment.
    Unknown,
}

/// What [`Store::open_deployment`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// Claimed, locked and created.
    Opened,
    /// The event was refused before: that answer.
    RefusedBefore(String),
    /// The event is claimed for another deployment id (a redelivery).
    Claimed(String),
    /// Automation is paused in the environment.
    Paused(Pause),
    /// Someone else holds the environment.
    Locked(EnvLock),
}

/// Where to answer the person who asked, privately, after the request's own answer: Slack's
/// `response_url` or Discord's interaction follow-up webhook. Both lapse (30 and 15 minutes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "chat", rename_all = "lowercase")]
pub enum ReplyTo {
    Slack {
        response_url: Sealed,
    },
    Discord {
        application_id: String,
        token: Sealed,
    },
}

/// Where to post: a chat and a channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Channel {
    pub chat: ChatKind,
    pub id: String,
}

/// Slack and Discord. One card view-model, rendered per chat by the adapter.
pub trait Chat: Send + Sync {
    fn post_card(
        &self,
        to: &Channel,
        card: &Card,
    ) -> impl Future<Output = PortResult<MessageRef>> + Send;
    fn update_card(
        &self,
        message: &MessageRef,
        card: &Card,
    ) -> impl Future<Output = PortResult<()>> + Send;
    fn reply(
        &self,
        message: &MessageRef,
        text: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
    fn post(&self, to: &Channel, text: &str)
    -> impl Future<Output = PortResult<MessageRef>> + Send;
    /// A private answer to a request, after the request's own (see [`ReplyTo`]).
    fn respond(&self, to: &ReplyTo, text: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// A message only `user` sees.
    fn ephemeral(
        &self,
        to: &Channel,
        user: &Actor,
        text: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
}

/// Hands work to another function without waiting for it.
pub trait Dispatch: Send + Sync {
    fn dispatch(&self, work: &Work) -> impl Future<Output = PortResult<()>> + Send;
    /// Hands `work` over to arrive no sooner than `delay` from now (a check's next try, a
    /// look at a smoke task): never a handler sleeping. Delivery may be late, never lost for
    /// good: maintenance performs whatever a lost one was for.
    fn dispatch_after(
        &self,
        work: &Work,
        delay: SignedDuration,
    ) -> impl Future<Output = PortResult<()>> + Send;
}

/// A snapshot to take or copy: the plan it belongs to, its name, and the tags that mark it as
/// Deckhand's.
#[derive(Debug, Clone, Copy)]
pub struct NewSnapshot<'a> {
    pub plan: &'a BackupPlan,
    pub name: &'a str,
    pub tags: &'a [(String, String)],
}

impl<'a> NewSnapshot<'a> {
    pub fn new(plan: &'a BackupPlan, name: &'a str, tags: &'a [(String, String)]) -> Self {
        Self { plan, name, tags }
    }
}

/// Database snapshots. Only snapshots carrying Deckhand's tags are listed or deleted.
pub trait Backups: Send + Sync {
    fn create(&self, new: NewSnapshot<'_>) -> impl Future<Output = PortResult<()>> + Send;
    /// Waits until the snapshot is available or failed.
    fn wait(
        &self,
        plan: &BackupPlan,
        snapshot: &str,
    ) -> impl Future<Output = PortResult<SnapshotStatus>> + Send;
    fn list(&self, plan: &BackupPlan)
    -> impl Future<Output = PortResult<Vec<SnapshotInfo>>> + Send;
    fn delete(
        &self,
        plan: &BackupPlan,
        snapshot: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;

    /// Copies `snapshot` (available) to the plan's `copy_to` region under the same name, with
    /// these tags; does not wait for the copy. `Conflict` when the copy exists.
    fn copy(&self, new: NewSnapshot<'_>) -> impl Future<Output = PortResult<()>> + Send {
        let (plan, snapshot) = (new.plan, new.name);
        let what = format!("no region to copy {snapshot} to for plan {}", plan.name);
        async move { Err(PortError::Misconfigured(what)) }
    }
    /// The plan's snapshots in its `copy_to` region (empty without one).
    fn list_copies(
        &self,
        _plan: &BackupPlan,
    ) -> impl Future<Output = PortResult<Vec<SnapshotInfo>>> + Send {
        async { Ok(Vec::new()) }
    }
    /// Deletes one of the plan's copies (only one carrying its tag).
    fn delete_copy(
        &self,
        plan: &BackupPlan,
        snapshot: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        let what = format!(
            "no region to delete the copy {snapshot} of plan {} from",
            plan.name
        );
        async move { Err(PortError::Misconfigured(what)) }
    }

    /// Where the plans' schedules fire (the backup function and the role it is invoked with),
    /// and the schedules in Deckhand's own group; `None` where nothing schedules backups (a
    /// test world, local mode without a scheduler).
    fn schedules(
        &self,
    ) -> impl Future<Output = PortResult<Option<(String, Vec<PlanSchedule>)>>> + Send {
        async { Ok(None) }
    }

    /// Creates, replaces or deletes one schedule in Deckhand's group.
    fn change_schedule(
        &self,
        change: &ScheduleChange,
    ) -> impl Future<Output = PortResult<()>> + Send {
        let what = change.to_string();
        async move {
            Err(PortError::Misconfigured(format!(
                "no scheduler to apply {what} with"
            )))
        }
    }
}

/// Secret values: signing secrets, bot tokens. Never logged; `SecretString` redacts `Debug`.
pub trait Secrets: Send + Sync {
    fn get(&self, name: &str) -> impl Future<Output = PortResult<SecretString>> + Send;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: MetricUnit,
    pub dimensions: Vec<(String, String)>,
}

impl Metric {
    /// One occurrence of `name`, with no dimensions: what a heartbeat or an alarm counts.
    pub fn once(name: &str) -> Self {
        Metric {
            name: name.to_owned(),
            value: 1.0,
            unit: MetricUnit::Count,
            dimensions: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricUnit {
    Count,
    Seconds,
    Gigabytes,
}

pub trait Metrics: Send + Sync {
    fn emit(&self, metrics: &[Metric]) -> impl Future<Output = PortResult<()>> + Send;
}

/// The time. Tests set it; nothing in core reads a clock any other way.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// Every port a use-case may need, bundled so use-cases take one generic parameter.
pub trait Ports: Send + Sync {
    type Store: Store;
    type Platform: Platform;
    type Monitor: Monitor;
    type Chat: Chat;
    type Dispatch: Dispatch;
    type Backups: Backups;
    type Metrics: Metrics;
    type Clock: Clock;

    fn store(&self) -> &Self::Store;
    fn platform(&self) -> &Self::Platform;
    fn monitor(&self) -> &Self::Monitor;
    fn chat(&self) -> &Self::Chat;
    fn dispatch(&self) -> &Self::Dispatch;
    fn backups(&self) -> &Self::Backups;
    fn metrics(&self) -> &Self::Metrics;
    fn clock(&self) -> &Self::Clock;
}

/// Every port, each its own value: the one [`Ports`] implementation. Production (`Live`), the
/// tests' and benchmarks' worlds, local mode and the simulation are this bundle with different
/// adapters in it; a test that needs one port to misbehave swaps that one in
/// ([`Bundle::with_platform`], [`Bundle::with_store`]) instead of writing another bundle.
#[derive(Debug, Clone)]
pub struct Bundle<St, Pl, Mo, Ch, Di, Ba, Me, Cl> {
    pub store: St,
    pub platform: Pl,
    pub monitor: Mo,
    pub chat: Ch,
    pub dispatch: Di,
    pub backups: Ba,
    pub metrics: Me,
    pub clock: Cl,
}

/// One value serving as every port (core's `Memory`, the simulation's world).
pub type Uniform<T> = Bundle<T, T, T, T, T, T, T, T>;

impl<T: Clone> Uniform<T> {
    pub fn uniform(t: T) -> Self {
        Bundle {
            store: t.clone(),
            platform: t.clone(),
            monitor: t.clone(),
            chat: t.clone(),
            dispatch: t.clone(),
            backups: t.clone(),
            metrics: t.clone(),
            clock: t,
        }
    }
}

/// `Bundle::with_<port>`: the same bundle with that one port replaced (by a value of any type).
macro_rules! with_port {
    ($name:ident, $port:ident: [$($out:ident),*], keeps [$($kept:ident),*]) => {
        pub fn $name<X>(self, $port: X) -> Bundle<$($out),*> {
            let Bundle { $($kept,)* .. } = self;
            Bundle { $port, $($kept),* }
        }
    };
}

impl<St, Pl, Mo, Ch, Di, Ba, Me, Cl> Bundle<St, Pl, Mo, Ch, Di, Ba, Me, Cl> {
    with_port!(with_store, store: [X, Pl, Mo, Ch, Di, Ba, Me, Cl],
        keeps [platform, monitor, chat, dispatch, backups, metrics, clock]);
    with_port!(with_platform, platform: [St, X, Mo, Ch, Di, Ba, Me, Cl],
        keeps [store, monitor, chat, dispatch, backups, metrics, clock]);
    with_port!(with_monitor, monitor: [St, Pl, X, Ch, Di, Ba, Me, Cl],
        keeps [store, platform, chat, dispatch, backups, metrics, clock]);
    with_port!(with_chat, chat: [St, Pl, Mo, X, Di, Ba, Me, Cl],
        keeps [store, platform, monitor, dispatch, backups, metrics, clock]);
    with_port!(with_clock, clock: [St, Pl, Mo, Ch, Di, Ba, Me, X],
        keeps [store, platform, monitor, chat, dispatch, backups, metrics]);
}

impl<St, Pl, Mo, Ch, Di, Ba, Me, Cl> Ports for Bundle<St, Pl, Mo, Ch, Di, Ba, Me, Cl>
where
    St: Store,
    Pl: Platform,
    Mo: Monitor,
    Ch: Chat,
    Di: Dispatch,
    Ba: Backups,
    Me: Metrics,
    Cl: Clock,
{
    type Store = St;
    type Platform = Pl;
    type Monitor = Mo;
    type Chat = Ch;
    type Dispatch = Di;
    type Backups = Ba;
    type Metrics = Me;
    type Clock = Cl;
    fn store(&self) -> &St {
        &self.store
    }
    fn platform(&self) -> &Pl {
        &self.platform
    }
    fn monitor(&self) -> &Mo {
        &self.monitor
    }
    fn chat(&self) -> &Ch {
        &self.chat
    }
    fn dispatch(&self) -> &Di {
        &self.dispatch
    }
    fn backups(&self) -> &Ba {
        &self.backups
    }
    fn metrics(&self) -> &Me {
        &self.metrics
    }
    fn clock(&self) -> &Cl {
        &self.clock
    }
}

impl RolloutState {
    /// What ECS's record says happened to a rollout, as the outcome its event would have
    /// carried: `None` while it is still in progress, unless it is overdue, when it is given
    /// up. Honest about ECS's own circuit-breaker rollback, which reports as failed.
    pub fn outcome(
        &self,
        overdue: bool,
        limit: jiff::SignedDuration,
    ) -> Option<Result<(), String>> {
        match self {
            RolloutState::Completed => Some(Ok(())),
            RolloutState::Failed { reason } => Some(Err(reason.clone())),
            RolloutState::InProgress if overdue => Some(Err(format!(
                "ECS did not finish the rollout within {} (`lock_ttl`); given up",
                crate::rollback::fmt_duration(limit)
            ))),
            RolloutState::InProgress => None,
        }
    }
}
