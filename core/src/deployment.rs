//! The deployment lifecycle as a pure state machine.
//!
//! `Requested → PendingApproval → Approved → Migrating → Rolling → Verifying → Succeeded`, with
//! the exits `Rejected`, `Expired`, `Failed`, `RolledBack` and `Superseded`. A deploy of several
//! services walks `Migrating → Rolling → Verifying` once per service, in the configured order.
//!
//! Calling protocol: load the deployment, call [`Deployment::apply`] with the input and `now`,
//! save the returned deployment with a conditional write on [`Deployment::revision`], and only
//! if that write wins perform [`Step::effects`]. A step with `changed == false` is a recognised
//! duplicate (a redelivered event, a double click): save nothing, do nothing, answer success.
//! That is what makes every handler idempotent. An input that makes no sense in the current
//! state is [`Refused`], never silently dropped.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::check::{AfterFailure, HttpCheck, Smoke, TaskState};
use crate::policy::Override;
use crate::ports::ReplyTo;
use crate::types::{
    Actor, DeploymentId, Digest, EnvName, EventKey, ServiceName, SignedDuration, Timestamp, Version,
};

/// What is being deployed for one service: the image, bound to the digest resolved when the
/// deploy was requested (that digest, not the tag, is what an approval approves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub repository: String,
    pub tag: Version,
    pub digest: Digest,
}

impl ImageRef {
    /// How the image is pinned in the task definition: by digest, so a moved tag cannot change
    /// what runs.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }
}

/// One service's part in a deployment. What to do (snapshot, migrate, health-check) is
/// captured from config at request time, so a config change cannot alter a deploy mid-flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredRelease")]
pub struct ServiceRelease {
    pub service: ServiceName,
    pub image: ImageRef,
    /// What ran before, for the card's "current → new" and for the record.
    pub previous_version: Option<String>,
    /// For rollbacks: the exact task definition to go back to.
    pub target_task_definition: Option<String>,
    pub snapshot_plan: Option<String>,
    pub migration: Option<Vec<String>>,
    /// Tried in order once ECS reports the rollout finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<HttpCheck>,
    /// Run after the checks pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke: Option<Smoke>,
    pub progress: Progress,
}

impl ServiceRelease {
    /// `image` for `service`, and nothing else to do around it: no snapshot, migration,
    /// checks or smoke test, nothing known of what ran before.
    pub fn new(service: ServiceName, image: ImageRef) -> Self {
        ServiceRelease {
            service,
            image,
            previous_version: None,
            target_task_definition: None,
            snapshot_plan: None,
            migration: None,
            checks: Vec::new(),
            smoke: None,
            progress: Progress::default(),
        }
    }

    /// Whether anything is verified after the rollout.
    fn verifies(&self) -> bool {
        !self.checks.is_empty() || self.smoke.is_some()
    }
}

/// A [`ServiceRelease`] as stored: records written before checks were lists carry one
/// `health_url`, read as the check `health_url` makes today.
#[derive(Deserialize)]
struct StoredRelease {
    service: ServiceName,
    image: ImageRef,
    previous_version: Option<String>,
    target_task_definition: Option<String>,
    snapshot_plan: Option<String>,
    migration: Option<Vec<String>>,
    #[serde(default)]
    health_url: Option<String>,
    #[serde(default)]
    checks: Vec<HttpCheck>,
    #[serde(default)]
    smoke: Option<Smoke>,
    progress: Progress,
}

impl From<StoredRelease> for ServiceRelease {
    fn from(s: StoredRelease) -> Self {
        let mut checks = s.checks;
        if let Some(url) = s.health_url
            && checks.is_empty()
        {
            checks.push(HttpCheck::of_url("health", url));
        }
        ServiceRelease {
            service: s.service,
            image: s.image,
            previous_version: s.previous_version,
            target_task_definition: s.target_task_definition,
            snapshot_plan: s.snapshot_plan,
            migration: s.migration,
            checks,
            smoke: s.smoke,
            progress: s.progress,
        }
    }
}

/// How far one service has got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub snapshot: Option<String>,
    pub migrated: bool,
    pub task_definition: Option<String>,
    /// The ECS deployment id `UpdateService` started. Outcome events must match it.
    pub ecs_deployment: Option<String>,
    /// Set once `UpdateService` was sent: this service now needs rolling back on failure.
    pub touched: bool,
    pub done_at: Option<Timestamp>,
    /// The checks and smoke test after the rollout, while verifying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
}

/// How far verifying one service has got: its checks in order, each tried until it passes or
/// its budget is spent, then its smoke test. Every wait is a time in here, never a sleep: the
/// next try is due at `next_at`, and a delayed dispatch (or maintenance) comes back for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verify {
    /// When ECS reported the rollout finished: each check's grace counts from here.
    pub since: Timestamp,
    /// The check under way; `checks.len()` once they all passed (the smoke test's turn).
    pub check: usize,
    /// Tries of that check so far.
    pub tries: u32,
    /// Its failed tries that counted (made after its grace).
    pub counted: u32,
    /// When the next try (or look at the smoke task) is due; `None`: at once.
    pub next_at: Option<Timestamp>,
    /// What the last failed try saw.
    pub last: Option<String>,
    /// The smoke task once started, and since when.
    pub smoke: Option<(String, Timestamp)>,
}

impl Verify {
    fn new(since: Timestamp) -> Verify {
        Verify {
            since,
            check: 0,
            tries: 0,
            counted: 0,
            next_at: None,
            last: None,
            smoke: None,
        }
    }

    fn due(&self, now: Timestamp) -> bool {
        self.next_at.is_none_or(|at| at <= now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeploymentKind {
    Release,
    /// Back to each service's last known-good revision. Needs no approval and runs no
    /// migration or snapshot: it returns to something that already ran well.
    Rollback {
        automatic: bool,
        reason: String,
        of: Option<DeploymentId>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: Actor,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    Requested,
    PendingApproval,
    Approved,
    /// Snapshot and/or migration of `services[service]`.
    Migrating {
        service: usize,
    },
    Rolling {
        service: usize,
    },
    Verifying {
        service: usize,
    },
    Succeeded,
    Rejected {
        by: Actor,
        reason: Option<String>,
    },
    Expired,
    Failed {
        reason: String,
    },
    RolledBack {
        reason: String,
    },
    Superseded {
        by: DeploymentId,
    },
    /// Refused by the checks that ran after the request was answered (no such image, not
    /// promoted, a hold…): nothing was changed, and the person who asked was told why.
    Declined {
        reason: String,
    },
}

impl State {
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            State::Succeeded
                | State::Rejected { .. }
                | State::Expired
                | State::Failed { .. }
                | State::RolledBack { .. }
                | State::Superseded { .. }
                | State::Declined { .. }
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            State::Requested => "requested",
            State::PendingApproval => "pending approval",
            State::Approved => "approved",
            State::Migrating { .. } => "migrating",
            State::Rolling { .. } => "rolling",
            State::Verifying { .. } => "verifying",
            State::Succeeded => "succeeded",
            State::Rejected { .. } => "rejected",
            State::Expired => "expired",
            State::Failed { .. } => "failed",
            State::RolledBack { .. } => "rolled back",
            State::Superseded { .. } => "superseded",
            State::Declined { .. } => "refused",
        }
    }

    fn current_service(&self) -> Option<usize> {
        match self {
            State::Migrating { service }
            | State::Rolling { service }
            | State::Verifying { service } => Some(*service),
            _ => None,
        }
    }
}

/// Something that happened to a deployment. Inputs are facts, in the past tense; each is
/// named in words (`strum`), as the audit log and the traces show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    /// The request passed policy and its lock is held: ask for approval or start.
    #[strum(serialize = "submitted")]
    Submitted,
    /// An asked-for release passed the checks that need AWS (image digests, promotion, holds,
    /// images judged bad): resolved, it asks for approval or starts, as `Submitted` does.
    #[strum(serialize = "prepared")]
    Prepared(Box<Prepared>),
    /// An asked-for release failed those checks: it ends, its lock is released, and the
    /// person who asked is told why.
    #[strum(serialize = "declined")]
    Declined { reason: String },
    #[strum(serialize = "approved")]
    Approved { by: Actor },
    /// An approval a click recorded by itself (see [`Deployment::votes`]), counted by the
    /// deploy function: as `Approved`, at the click's time, and without a dispatch — the
    /// function counting it goes on to start the deployment itself.
    #[strum(serialize = "vote counted")]
    VoteCounted(Approval),
    #[strum(serialize = "rejected")]
    Rejected { by: Actor, reason: Option<String> },
    /// The approval window passed (the caller checks the clock against `approval_expires`).
    #[strum(serialize = "approval expired")]
    ApprovalExpired,
    /// The deploy function picked the work up.
    #[strum(serialize = "started")]
    Started,
    #[strum(serialize = "snapshot taken")]
    SnapshotTaken {
        service: ServiceName,
        snapshot: String,
    },
    #[strum(serialize = "snapshot failed")]
    SnapshotFailed {
        service: ServiceName,
        reason: String,
    },
    #[strum(serialize = "migration finished")]
    MigrationFinished {
        service: ServiceName,
        exit_code: i32,
    },
    #[strum(serialize = "rollout started")]
    RolloutStarted {
        service: ServiceName,
        task_definition: String,
        ecs_deployment: String,
    },
    #[strum(serialize = "rollout completed")]
    RolloutCompleted { ecs_deployment: String },
    #[strum(serialize = "rollout failed")]
    RolloutFailed {
        ecs_deployment: String,
        reason: String,
    },
    /// One try of one check: `failure` says what was wrong, `None` when it passed.
    #[strum(serialize = "checked")]
    Checked {
        service: ServiceName,
        check: usize,
        attempt: u32,
        failure: Option<String>,
    },
    #[strum(serialize = "smoke test started")]
    SmokeStarted { service: ServiceName, task: String },
    /// A look at the smoke task.
    #[strum(serialize = "smoke test looked at")]
    SmokeLooked {
        service: ServiceName,
        task: String,
        state: TaskState,
    },
    /// The smoke task ran past its timeout and was stopped.
    #[strum(serialize = "smoke test stopped")]
    SmokeStopped {
        service: ServiceName,
        task: String,
        log_tail: Vec<String>,
    },
    /// Something outside the happy path stopped the run (a tag moved, the image is gone…).
    #[strum(serialize = "aborted")]
    Aborted { reason: String },
    #[strum(serialize = "superseded")]
    Superseded { by: DeploymentId },
    /// A release that succeeded was judged bad afterwards (an alarm in its watch, a person's
    /// `/rollback`); `to` is the version it was rolled back to, if it was. The one input a
    /// finished deployment still takes: its record must not read "succeeded".
    #[strum(serialize = "judged bad")]
    JudgedBad {
        by: String,
        at: Timestamp,
        why: String,
        to: Option<String>,
    },
}

impl Input {
    /// The input an approval card's click gives.
    pub fn decided(decision: crate::policy::Decision, by: &Actor, reason: Option<String>) -> Input {
        match decision {
            crate::policy::Decision::Approve => Input::Approved { by: by.clone() },
            crate::policy::Decision::Reject => Input::Rejected {
                by: by.clone(),
                reason,
            },
        }
    }

    /// What happened, in words: for the audit log and the traces.
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

/// A release as the dispatched work resolved it: the input [`Input::Prepared`] carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    /// The services that change, resolved to digests, in deploy order.
    pub services: Vec<ServiceRelease>,
    pub overridden: Option<Override>,
    pub required_approvals: u8,
    pub alarms_at_start: Vec<String>,
    /// What the person should know besides: services left out because they already run the
    /// version, an `--override` that was not needed.
    pub notes: Vec<String>,
}

/// What was asked for, before the dispatched work resolved it: a deployment in `Requested`
/// with this set awaits preparation ([`Deployment::awaits_preparation`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asked {
    pub services: Vec<ServiceName>,
    pub override_reason: Option<String>,
    /// Redeploy services that already run the version (`--force`).
    pub force: bool,
    /// Where to answer the person privately; dropped once the request is prepared or declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTo>,
}

/// Work handed to another function through the `Dispatch` port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "work", rename_all = "snake_case")]
pub enum Work {
    /// The checks a request's acknowledgement left for later (see [`Deployment::asked`]).
    /// Its own kind of work, not `RunDeployment`: a redelivery of it after the checks ran
    /// must not start the deployment.
    PrepareDeployment {
        id: DeploymentId,
    },
    RunDeployment {
        id: DeploymentId,
    },
    /// A deployment's next try (a check's, a look at its smoke task) is due: sent delayed by
    /// [`Effect::Wake`]. It acts only on the `revision` that asked for it, so a redelivery of
    /// it after the try ran — or after maintenance ran it — does nothing.
    Wake {
        id: DeploymentId,
        revision: u64,
    },
    /// `key` is the triggering chat event's own key, so a redelivered dispatch takes one
    /// snapshot and a second `/backup` by the same person takes another.
    RunBackup {
        plan: String,
        requested_by: Actor,
        key: EventKey,
    },
}

/// An order for the use-case to carry out through the ports, after the state is saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    PostCard,
    UpdateCard,
    /// A line in the card's thread.
    Reply {
        text: String,
    },
    /// A private answer to whoever asked: through `to` for a person, in the environment's
    /// channels for automation (which has no one to answer privately).
    Tell {
        to: Option<ReplyTo>,
        text: String,
    },
    Dispatch {
        work: Work,
    },
    TakeSnapshot {
        service: ServiceName,
        plan: String,
    },
    RunMigration {
        service: ServiceName,
    },
    /// Register a revision with the approved image and update the service (or, for a
    /// rollback, update the service to its target task definition).
    Roll {
        service: ServiceName,
    },
    /// One try of one of the service's checks.
    Check {
        service: ServiceName,
        check: usize,
        attempt: u32,
    },
    RunSmoke {
        service: ServiceName,
    },
    LookAtSmoke {
        service: ServiceName,
        task: String,
    },
    StopSmoke {
        service: ServiceName,
        task: String,
    },
    /// Come back to this deployment at `at` (a delayed dispatch of `RunDeployment`): its next
    /// step is due then. Maintenance comes back too, should the dispatch be lost.
    Wake {
        at: Timestamp,
    },
    /// Start a `Rollback` deployment that puts these services back on their last known-good
    /// revision: the one rollback road, driven and tracked by this same state machine.
    StartRollback {
        services: Vec<ServiceName>,
        reason: String,
    },
    /// A service finished: record the release, a candidate for last known-good.
    RecordRelease {
        service: ServiceName,
    },
    ReleaseLock,
    EmitMetric {
        name: String,
        value: f64,
    },
    Audit {
        action: String,
        detail: String,
    },
}

impl Effect {
    /// A line in the card's thread.
    pub fn reply(text: impl Into<String>) -> Effect {
        Effect::Reply { text: text.into() }
    }
}

/// Why an input was not applied. The message is fit to show the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this deployment already {state}; nothing to do")]
    Finished { state: &'static str },
    #[error("`{input}` does not apply while the deployment is {state}")]
    Illegal {
        state: &'static str,
        input: &'static str,
    },
    #[error("this request expired at {at}; ask again with /deploy")]
    Expired { at: String },
    #[error("you asked for this deploy, so someone else has to approve it")]
    OwnRequest,
    #[error("that event is for ECS deployment {got}, not this deployment's {expected}")]
    NotOurs { expected: String, got: String },
    #[error("{service} is not part of this deployment")]
    UnknownService { service: ServiceName },
}

/// The result of applying an input: the next deployment and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub deployment: Deployment,
    pub effects: Vec<Effect>,
    /// False for a recognised duplicate: nothing to save, nothing to do.
    pub changed: bool,
}

impl Step {
    fn duplicate(d: &Deployment) -> Self {
        Step {
            deployment: d.clone(),
            effects: Vec::new(),
            changed: false,
        }
    }
}

/// A deployment: one version of one or more services into one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: DeploymentId,
    pub env: EnvName,
    pub kind: DeploymentKind,
    pub version: Version,
    /// In deploy order.
    pub services: Vec<ServiceRelease>,
    pub requested_by: Actor,
    pub requested_at: Timestamp,
    pub required_approvals: u8,
    pub approval_expires: Timestamp,
    pub approvals: Vec<Approval>,
    /// Approvals recorded by a click's one conditional write ([`crate::ports::Store::vote`])
    /// and not yet counted by the engine ([`Input::VoteCounted`]). The store keeps them beside
    /// the record, not in it: a click never rewrites the deployment.
    #[serde(skip)]
    pub votes: Vec<Approval>,
    pub overridden: Option<Override>,
    /// Alarms already in ALARM when the deploy was requested: shown on the card, and never a
    /// reason to roll this deploy back.
    pub alarms_at_start: Vec<String>,
    /// Set while a release awaits preparation (see [`Asked`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<Asked>,
    pub state: State,
    /// When the current state was entered, for durations on the card.
    pub state_since: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// Bumped on every saved change; the store's compare-and-set checks it.
    pub revision: u64,
}

impl Deployment {
    /// A new deployment in `Requested`. Apply [`Input::Submitted`] once its lock is held.
    /// When the work could start: the approval that completed the count, or the request when
    /// none was needed.
    pub fn started_at(&self) -> Timestamp {
        match self.approval_wait() {
            Some(wait) => self
                .requested_at
                .checked_add(wait)
                .unwrap_or(self.requested_at),
            None => self.requested_at,
        }
    }

    /// How long the deployment waited for its approvals, once they were all in.
    pub fn approval_wait(&self) -> Option<SignedDuration> {
        let needed = usize::from(self.required_approvals);
        if needed == 0 || self.approvals.len() < needed {
            return None;
        }
        let completing = self.approvals.get(needed - 1)?;
        Some(completing.at.duration_since(self.requested_at))
    }

    /// What set the deployment going, as its card says it: the approvers, or — for one nobody
    /// approved — what asked for it.
    pub fn started_by(&self) -> String {
        match (&self.kind, &self.requested_by) {
            (
                DeploymentKind::Rollback {
                    automatic: true, ..
                },
                _,
            ) => "Automatic rollback".to_owned(),
            _ if self.required_approvals > 0 => "Approved".to_owned(),
            (_, Actor::System { what }) => format!("Started by {what}"),
            (_, person) => format!(
                "Requested by {} (no approval needed in {})",
                person.display(),
                self.env
            ),
        }
    }

    pub fn new(draft: Draft, now: Timestamp) -> Self {
        Deployment {
            id: draft.id,
            env: draft.env,
            kind: draft.kind,
            version: draft.version,
            services: draft.services,
            requested_by: draft.requested_by,
            requested_at: now,
            required_approvals: draft.required_approvals,
            approval_expires: now + draft.approval_ttl,
            approvals: Vec::new(),
            votes: Vec::new(),
            overridden: draft.overridden,
            alarms_at_start: draft.alarms_at_start,
            asked: None,
            state: State::Requested,
            state_since: now,
            finished_at: None,
            revision: 0,
        }
    }

    /// What this deployment's releases are: new versions, or known-good ones restored.
    pub fn origin(&self) -> crate::rollback::Origin {
        match self.kind {
            DeploymentKind::Release => crate::rollback::Origin::Release,
            DeploymentKind::Rollback { .. } => crate::rollback::Origin::Rollback,
        }
    }

    /// A release asked for and answered, whose checks that need AWS have not run yet: the
    /// acknowledgement wrote only this, and the dispatched work prepares it.
    pub fn asked(
        id: DeploymentId,
        env: EnvName,
        version: Version,
        asked: Asked,
        requested_by: Actor,
        approval_ttl: SignedDuration,
        now: Timestamp,
    ) -> Self {
        let mut d = Deployment::new(
            Draft {
                id,
                env,
                kind: DeploymentKind::Release,
                version,
                services: Vec::new(),
                requested_by,
                required_approvals: 0,
                approval_ttl,
                overridden: None,
                alarms_at_start: Vec::new(),
            },
            now,
        );
        d.asked = Some(asked);
        d
    }

    /// Why the request's checks declined it, if they did: its final answer.
    pub fn declined_because(&self) -> Option<&str> {
        match &self.state {
            State::Declined { reason } => Some(reason),
            _ => None,
        }
    }

    /// Asked for and not yet prepared (see [`Deployment::asked`]).
    pub fn awaits_preparation(&self) -> bool {
        self.state == State::Requested && self.asked.is_some()
    }

    /// Created but not yet submitted for approval (the request's delivery died in between).
    pub fn awaits_submission(&self) -> bool {
        self.state == State::Requested && self.asked.is_none()
    }

    /// Waiting for approvals past its approval window.
    pub fn approval_lapsed(&self, now: Timestamp) -> bool {
        self.state == State::PendingApproval && now >= self.approval_expires
    }

    /// The service index and ECS deployment a rolling deployment waits on.
    pub fn waiting_on_ecs(&self) -> Option<(usize, String)> {
        let State::Rolling { service } = self.state else {
            return None;
        };
        let ecs = self
            .services
            .get(service)?
            .progress
            .ecs_deployment
            .clone()?;
        Some((service, ecs))
    }

    /// The release service whose rollout step is in doubt: the deployment is rolling it and
    /// has recorded no ECS deployment, so an attempt may have sent `UpdateService` and died
    /// before saying so. A rollback's step is found again by its target instead.
    pub fn step_in_doubt(&self) -> Option<&ServiceName> {
        let State::Rolling { service } = self.state else {
            return None;
        };
        if matches!(self.kind, DeploymentKind::Rollback { .. }) {
            return None;
        }
        let s = self.services.get(service)?;
        s.progress.ecs_deployment.is_none().then_some(&s.service)
    }

    /// Approved and not yet started: the dispatched work takes the lock and starts it.
    pub fn awaits_start(&self) -> bool {
        self.state == State::Approved
    }

    /// The release record `service`'s finished rollout leaves: baking until its bake window
    /// passes with its alarms clear.
    pub fn release_record(
        &self,
        service: &ServiceRelease,
        now: Timestamp,
    ) -> crate::rollback::Release {
        crate::rollback::Release {
            env: self.env.clone(),
            service: service.service.clone(),
            deployment: self.id,
            image: service.image.clone(),
            task_definition: service.progress.task_definition.clone().unwrap_or_default(),
            started_at: self.requested_at,
            succeeded_at: service.progress.done_at.unwrap_or(now),
            verdict: crate::rollback::Verdict::Baking,
            origin: self.origin(),
        }
    }

    /// The services it deploys; before preparation, the ones asked for.
    pub fn service_names(&self) -> Vec<ServiceName> {
        match &self.asked {
            Some(a) if self.services.is_empty() => a.services.clone(),
            _ => self.services.iter().map(|s| s.service.clone()).collect(),
        }
    }

    /// The index of `service`, which must be the one the state is on (`current`): another of
    /// the deployment's services is `illegal` there.
    fn index_at(
        &self,
        service: &ServiceName,
        current: usize,
        illegal: impl FnOnce() -> Refused,
    ) -> Result<usize, Refused> {
        let i = self.index_of(service)?;
        if i != current {
            return Err(illegal());
        }
        Ok(i)
    }

    fn index_of(&self, service: &ServiceName) -> Result<usize, Refused> {
        self.services
            .iter()
            .position(|s| &s.service == service)
            .ok_or_else(|| Refused::UnknownService {
                service: service.clone(),
            })
    }

    /// Applies one input. Pure: no clock, no I/O.
    pub fn apply(&self, input: &Input, now: Timestamp) -> Result<Step, Refused> {
        let illegal = || Refused::Illegal {
            state: self.state.name(),
            input: input.name(),
        };
        if self.state.is_terminal() {
            return self.apply_terminal(input, now);
        }
        if self.already_applied(input) {
            return Ok(Step::duplicate(self));
        }
        let mut next = self.clone();
        let mut fx = Vec::new();
        match (&self.state, input) {
            (State::Requested, Input::Submitted) if self.asked.is_none() => {
                next.submit(now, &mut fx);
            }
            (_, Input::Submitted) => return Ok(Step::duplicate(self)),
            (State::Requested, Input::Prepared(p)) if self.asked.is_some() => {
                let Some(asked) = next.asked.take() else {
                    return Ok(Step::duplicate(self));
                };
                next.services = p.services.clone();
                next.overridden = p.overridden.clone();
                next.required_approvals = p.required_approvals;
                next.alarms_at_start = p.alarms_at_start.clone();
                next.asked = Some(Asked {
                    reply_to: None,
                    ..asked.clone()
                });
                if !p.notes.is_empty() {
                    fx.push(Effect::Tell {
                        to: asked.reply_to,
                        text: p.notes.join(" "),
                    });
                }
                next.submit(now, &mut fx);
            }
            (State::Requested, Input::Declined { reason }) if self.asked.is_some() => {
                let to = next.asked.as_mut().and_then(|a| a.reply_to.take());
                fx.push(Effect::Tell {
                    to,
                    text: match self.requested_by.user_ref() {
                        Some(_) => format!("Not deploying {}: {reason}", self.asked_what()),
                        None => format!("Not auto-deploying {}: {reason}", self.asked_what()),
                    },
                });
                next.finish(
                    State::Declined {
                        reason: reason.clone(),
                    },
                    now,
                    &mut fx,
                );
            }
            (_, Input::Prepared(_) | Input::Declined { .. }) => return Ok(Step::duplicate(self)),

            (State::PendingApproval, Input::Approved { by }) => {
                self.may_count(by, now)?;
                if self.has_approved(by) {
                    return Ok(Step::duplicate(self));
                }
                next.count_approval(by, now, now, &mut fx);
                if next.state == State::Approved {
                    fx.push(Effect::Dispatch {
                        work: Work::RunDeployment { id: self.id },
                    });
                }
            }
            (State::PendingApproval, Input::VoteCounted(vote)) => {
                if self.approvals.iter().any(|a| a.by.same_person(&vote.by)) {
                    return Ok(Step::duplicate(self));
                }
                // The click's write checked these as of its own time; checked again, purely. A
                // vote that cannot count (a store that let it through) is dropped, not kept
                // due for ever.
                match self.may_count(&vote.by, vote.at) {
                    Ok(()) => next.count_approval(&vote.by, vote.at, now, &mut fx),
                    Err(_) if self.votes.contains(vote) => next.votes.retain(|v| v != vote),
                    Err(_) => return Ok(Step::duplicate(self)),
                }
            }
            (_, Input::Approved { by }) if self.has_approved(by) => {
                return Ok(Step::duplicate(self));
            }
            // A vote on a deployment that left PendingApproval (rejected, expired, or approved
            // by others meanwhile) counts for nothing.
            (_, Input::VoteCounted(_)) => return Ok(Step::duplicate(self)),
            (State::PendingApproval, Input::Rejected { by, reason }) => {
                next.finish(
                    State::Rejected {
                        by: by.clone(),
                        reason: reason.clone(),
                    },
                    now,
                    &mut fx,
                );
            }
            (State::PendingApproval, Input::ApprovalExpired) => {
                if now < self.approval_expires {
                    return Err(illegal());
                }
                next.finish(State::Expired, now, &mut fx);
                fx.push(Effect::reply(format!(
                    "⌛ {}: nobody approved this by {}; it expired and the environment is free again. Ask again with `/deploy` when someone can approve.",
                    self.requested_by.display(),
                    self.approval_expires.strftime("%H:%M UTC")
                )));
            }
            (_, Input::ApprovalExpired) => return Ok(Step::duplicate(self)),

            (State::Approved, Input::Started) => {
                next.start_service(0, now, &mut fx);
                if self.started_where_decided() {
                    // After the first step (`Roll`): ECS has its order before chat is told.
                    fx.push(Effect::PostCard);
                }
            }
            (
                State::Migrating { .. } | State::Rolling { .. } | State::Verifying { .. },
                Input::Started,
            ) => {
                return Ok(Step::duplicate(self));
            }

            // A fact about one service is taken only while that service is under way.
            (
                State::Migrating { service },
                Input::SnapshotTaken { service: name, .. }
                | Input::SnapshotFailed { service: name, .. }
                | Input::MigrationFinished { service: name, .. },
            )
            | (State::Rolling { service }, Input::RolloutStarted { service: name, .. })
            | (
                State::Verifying { service },
                Input::Checked { service: name, .. }
                | Input::SmokeStarted { service: name, .. }
                | Input::SmokeLooked { service: name, .. }
                | Input::SmokeStopped { service: name, .. },
            ) => {
                let i = self.index_at(name, *service, illegal)?;
                if !next.service_input(i, input, now, &mut fx, &illegal)? {
                    return Ok(Step::duplicate(self));
                }
            }
            (
                _,
                Input::RolloutCompleted { ecs_deployment }
                | Input::RolloutFailed { ecs_deployment, .. },
            ) => {
                let Some(i) = self
                    .services
                    .iter()
                    .position(|s| s.progress.ecs_deployment.as_ref() == Some(ecs_deployment))
                else {
                    let expected = self
                        .state
                        .current_service()
                        .and_then(|i| self.services[i].progress.ecs_deployment.clone());
                    return Err(Refused::NotOurs {
                        expected: expected.unwrap_or_else(|| "(none yet)".into()),
                        got: ecs_deployment.clone(),
                    });
                };
                if self.state != (State::Rolling { service: i }) {
                    return Err(illegal());
                }
                let name = self.services[i].service.clone();
                match input {
                    Input::RolloutFailed { reason, .. } => next.fail(
                        format!("ECS reported the rollout of {name} failed: {reason}"),
                        now,
                        &mut fx,
                    ),
                    _ if self.services[i].verifies() => {
                        next.enter(State::Verifying { service: i }, now);
                        next.services[i].progress.verify = Some(Verify::new(now));
                        next.verify_next(i, now, &mut fx);
                        fx.push(Effect::UpdateCard);
                    }
                    _ => next.service_done(i, now, &mut fx),
                }
            }
            (
                State::Approved
                | State::Migrating { .. }
                | State::Rolling { .. }
                | State::Verifying { .. },
                Input::Aborted { reason },
            ) => {
                next.fail(reason.clone(), now, &mut fx);
            }
            (State::Requested | State::PendingApproval, Input::Aborted { reason }) => {
                next.finish(
                    State::Failed {
                        reason: reason.clone(),
                    },
                    now,
                    &mut fx,
                );
            }
            (_, Input::Superseded { by }) => {
                let touched = next.touched_services();
                if !touched.is_empty() {
                    fx.push(Effect::reply(format!("Superseded by {by} after {} already changed; that deployment decides what runs now.", ServiceName::join(&touched))));
                }
                next.finish(State::Superseded { by: *by }, now, &mut fx);
            }
            _ => return Err(illegal()),
        }
        next.revision = self.revision + 1;
        let mut detail = format!("{} → {}", self.state.name(), next.state.name());
        // An override is written in the audit log with its reason when the request is made.
        if let (Input::Submitted | Input::Prepared(_), Some(o)) = (input, &next.overridden) {
            detail.push_str(&format!(
                "; override “{}” lifts: {}",
                o.reason,
                o.lifts.join("; ")
            ));
        }
        fx.push(Effect::Audit {
            action: input.name().into(),
            detail,
        });
        Ok(Step {
            deployment: next,
            effects: fx,
            changed: true,
        })
    }

    /// In a terminal state nothing moves. Facts about this deployment arriving again are
    /// duplicates; a person acting on a finished deployment is told so.
    fn apply_terminal(&self, input: &Input, now: Timestamp) -> Result<Step, Refused> {
        let finished = Refused::Finished {
            state: self.state.name(),
        };
        match (input, &self.state) {
            (Input::JudgedBad { by, at, why, to }, State::Succeeded)
                if self.kind == DeploymentKind::Release =>
            {
                let when = at.strftime("%H:%M UTC");
                let reason = match to {
                    Some(v) => format!("at {when} by {by} (→ {v}): {why}"),
                    None => format!(
                        "Judged bad at {when} by {by}: {why}; there was no known-good revision to roll back to"
                    ),
                };
                let mut next = self.clone();
                next.state = match to {
                    Some(_) => State::RolledBack { reason },
                    None => State::Failed { reason },
                };
                next.state_since = now;
                next.revision = self.revision + 1;
                Ok(Step {
                    deployment: next,
                    effects: vec![
                        Effect::UpdateCard,
                        Effect::EmitMetric {
                            name: "DeploymentFailedChange".into(),
                            value: 1.0,
                        },
                        Effect::Audit {
                            action: input.name().into(),
                            detail: format!(
                                "succeeded → {}",
                                if to.is_some() {
                                    "rolled back"
                                } else {
                                    "failed"
                                }
                            ),
                        },
                    ],
                    changed: true,
                })
            }
            (Input::Approved { by }, _) if self.approvals.iter().any(|a| a.by.same_person(by)) => {
                Ok(Step::duplicate(self))
            }
            (Input::Rejected { by, .. }, State::Rejected { by: who, .. })
                if by.same_person(who) =>
            {
                Ok(Step::duplicate(self))
            }
            (Input::Approved { .. } | Input::Rejected { .. }, _) => Err(finished),
            (
                Input::RolloutCompleted { ecs_deployment }
                | Input::RolloutFailed { ecs_deployment, .. },
                _,
            ) => {
                if self
                    .services
                    .iter()
                    .any(|s| s.progress.ecs_deployment.as_ref() == Some(ecs_deployment))
                {
                    Ok(Step::duplicate(self))
                } else {
                    Err(Refused::NotOurs {
                        expected: "(finished)".into(),
                        got: ecs_deployment.clone(),
                    })
                }
            }
            _ => Ok(Step::duplicate(self)),
        }
    }

    /// The effect a run is waiting on, if its outcome never came back (the function died, the
    /// platform timed out). A retried run performs it again; each such effect is safe to
    /// repeat because its outcome is matched against the deployment's progress.
    pub fn pending_work(&self) -> Option<Effect> {
        let i = self.state.current_service()?;
        let s = &self.services[i];
        let name = s.service.clone();
        match self.state {
            State::Migrating { .. } => match (&s.snapshot_plan, &s.progress.snapshot) {
                (Some(plan), None) => Some(Effect::TakeSnapshot {
                    service: name,
                    plan: plan.clone(),
                }),
                _ if s.migration.is_some() && !s.progress.migrated => {
                    Some(Effect::RunMigration { service: name })
                }
                _ => None,
            },
            State::Rolling { .. } if s.progress.ecs_deployment.is_none() => {
                Some(Effect::Roll { service: name })
            }
            // A try waiting for its time is not lost: it is [`Deployment::scheduled_work`].
            State::Verifying { .. } if self.verifying(i).next_at.is_none() => {
                self.verify_work(i, self.state_since)
            }
            _ => None,
        }
    }

    /// The try that waited for its time (a check's next try, a look at the smoke task), once
    /// `now` has come to it: what [`Work::Wake`] and maintenance perform.
    pub fn scheduled_work(&self, now: Timestamp) -> Option<Effect> {
        let State::Verifying { service: i } = self.state else {
            return None;
        };
        let at = self.verifying(i).next_at?;
        (now >= at).then(|| self.verify_work(i, now)).flatten()
    }

    /// Verifying service `i`'s next step at `now`.
    fn verify_work(&self, i: usize, now: Timestamp) -> Option<Effect> {
        let s = &self.services[i];
        let name = s.service.clone();
        let v = self.verifying(i);
        if v.check < s.checks.len() {
            return Some(Effect::Check {
                service: name,
                check: v.check,
                attempt: v.tries + 1,
            });
        }
        let smoke = s.smoke.as_ref()?;
        Some(match v.smoke {
            None => Effect::RunSmoke { service: name },
            Some((task, since)) if now >= since + smoke.timeout => Effect::StopSmoke {
                service: name,
                task,
            },
            Some((task, _)) => Effect::LookAtSmoke {
                service: name,
                task,
            },
        })
    }

    /// Service `i`'s verification as recorded; one a record from before checks had progress
    /// left out starts over from when it began verifying.
    fn verifying(&self, i: usize) -> Verify {
        self.services[i]
            .progress
            .verify
            .clone()
            .unwrap_or_else(|| Verify::new(self.state_since))
    }

    /// What verifying service `i` does next, at once: its next check's first try, its smoke
    /// test, or — all passed — the service is done.
    fn verify_next(&mut self, i: usize, now: Timestamp, fx: &mut Vec<Effect>) {
        let v = self.verifying(i);
        let s = &self.services[i];
        let service = s.service.clone();
        if v.check < s.checks.len() {
            fx.push(Effect::Check {
                service,
                check: v.check,
                attempt: v.tries + 1,
            });
        } else if s.smoke.is_some() {
            fx.push(Effect::RunSmoke { service });
        } else {
            self.service_done(i, now, fx);
        }
    }

    /// One fact about service `i`, the one under way (see [`Deployment::apply`]): `Ok(false)`
    /// when it is a duplicate (another delivery's twin got here first).
    fn service_input(
        &mut self,
        i: usize,
        input: &Input,
        now: Timestamp,
        fx: &mut Vec<Effect>,
        illegal: &dyn Fn() -> Refused,
    ) -> Result<bool, Refused> {
        let name = self.services[i].service.clone();
        match input {
            Input::SnapshotTaken { snapshot, .. } => {
                self.services[i].progress.snapshot = Some(snapshot.clone());
                fx.push(Effect::reply(format!(
                    "Snapshot `{snapshot}` taken before {name}."
                )));
                self.start_service(i, now, fx);
            }
            Input::SnapshotFailed { reason, .. } => {
                self.fail(
                    format!("the snapshot before {name} failed: {reason}"),
                    now,
                    fx,
                );
            }
            Input::RolloutStarted {
                task_definition,
                ecs_deployment,
                ..
            } => {
                if let Some(expected) = &self.services[i].progress.ecs_deployment {
                    return Err(Refused::NotOurs {
                        expected: expected.clone(),
                        got: ecs_deployment.clone(),
                    });
                }
                let p = &mut self.services[i].progress;
                p.task_definition = Some(task_definition.clone());
                p.ecs_deployment = Some(ecs_deployment.clone());
                p.touched = true;
                // The wait on ECS starts now: its deadlines count from here.
                self.state_since = now;
                fx.push(Effect::UpdateCard);
                fx.push(Effect::reply(format!(
                    "Rolling {name}: ECS deployment `{ecs_deployment}` on `{task_definition}`."
                )));
            }
            Input::MigrationFinished { exit_code, .. } if *exit_code != 0 => {
                self.fail(format!("the migration of {name} exited with code {exit_code}; {name} was not changed"), now, fx);
            }
            Input::MigrationFinished { .. } => {
                self.services[i].progress.migrated = true;
                fx.push(Effect::reply(format!(
                    "Migration of {name} finished (exit 0)."
                )));
                self.start_service(i, now, fx);
            }
            _ => {
                let v = self.services[i]
                    .progress
                    .verify
                    .clone()
                    .ok_or_else(illegal)?;
                return self.verify_input(i, v, input, now, fx).ok_or_else(illegal);
            }
        }
        Ok(true)
    }

    /// One fact about verifying service `i` (whose progress is `v`): `Some(false)` when it is
    /// a duplicate (another delivery's twin got here first), `None` when it cannot happen.
    fn verify_input(
        &mut self,
        i: usize,
        mut v: Verify,
        input: &Input,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) -> Option<bool> {
        let name = self.services[i].service.clone();
        match input {
            // Another delivery's try of the same attempt got here first.
            Input::Checked { check, attempt, .. }
                if *check != v.check || *attempt != v.tries + 1 =>
            {
                return Some(false);
            }
            Input::Checked {
                attempt, failure, ..
            } => {
                self.checked(i, *attempt, failure.as_deref(), now, fx);
            }
            Input::SmokeStarted { .. } if v.smoke.is_some() => return Some(false),
            Input::SmokeStarted { task, .. } => {
                let at = now + Smoke::POLL;
                v.smoke = Some((task.clone(), now));
                v.next_at = Some(at);
                self.services[i].progress.verify = Some(v);
                fx.push(Effect::Wake { at });
                fx.push(Effect::UpdateCard);
                fx.push(Effect::reply(format!(
                    "Smoke test of {name} started: task `{}`.",
                    crate::check::task_id(task)
                )));
            }
            Input::SmokeStopped { .. } if self.services[i].smoke.is_none() => return None,
            // A look at another task, or one this look's twin already recorded.
            Input::SmokeLooked { task, .. } | Input::SmokeStopped { task, .. }
                if v.smoke.as_ref().is_none_or(|(t, _)| t != task) =>
            {
                return Some(false);
            }
            Input::SmokeLooked { .. } if !v.due(now) => return Some(false),
            Input::SmokeLooked { state, .. } => match state {
                TaskState::Running => {
                    let at = now + Smoke::POLL;
                    v.next_at = Some(at);
                    self.services[i].progress.verify = Some(v);
                    fx.push(Effect::Wake { at });
                }
                TaskState::Stopped {
                    exit_code: Some(0), ..
                } => {
                    fx.push(Effect::reply(format!(
                        "Smoke test of {name} passed (exit 0)."
                    )));
                    self.service_done(i, now, fx);
                }
                TaskState::Stopped {
                    exit_code,
                    reason,
                    log_tail,
                } => {
                    let how = match exit_code {
                        Some(code) => format!("exited with code {code}"),
                        None => "never ran".to_owned(),
                    };
                    self.verification_failed(
                        format!(
                            "the smoke test of {name} {how} ({reason}){}",
                            tail(log_tail)
                        ),
                        now,
                        fx,
                    );
                }
            },
            Input::SmokeStopped { log_tail, .. } => {
                let timeout = self.services[i].smoke.as_ref()?.timeout;
                self.verification_failed(
                    format!(
                        "the smoke test of {name} did not finish within {} and was stopped{}",
                        crate::rollback::fmt_duration(timeout),
                        tail(log_tail)
                    ),
                    now,
                    fx,
                );
            }
            _ => return None,
        }
        Some(true)
    }

    /// Try `attempt` of service `i`'s current check came back.
    fn checked(
        &mut self,
        i: usize,
        attempt: u32,
        failure: Option<&str>,
        now: Timestamp,
        fx: &mut Vec<Effect>,
    ) {
        let mut v = self.verifying(i);
        let name = self.services[i].service.clone();
        let Some(check) = self.services[i].checks.get(v.check).cloned() else {
            return;
        };
        v.tries = attempt;
        let Some(failure) = failure else {
            if attempt > 1 {
                fx.push(Effect::reply(format!(
                    "The `{}` check of {name} passed on try {attempt}.",
                    check.name
                )));
            }
            v.check += 1;
            v.tries = 0;
            v.counted = 0;
            v.next_at = None;
            v.last = None;
            self.services[i].progress.verify = Some(v);
            fx.push(Effect::UpdateCard);
            self.verify_next(i, now, fx);
            return;
        };
        match check.after_failure(v.since, v.counted, now) {
            AfterFailure::Retry { at, counted } => {
                v.counted = counted;
                v.next_at = Some(at);
                v.last = Some(failure.to_owned());
                self.services[i].progress.verify = Some(v);
                fx.push(Effect::Wake { at });
                fx.push(Effect::UpdateCard);
            }
            AfterFailure::GiveUp { .. } => {
                let tries = match attempt {
                    1 => "1 try".to_owned(),
                    n => format!("{n} tries"),
                };
                self.services[i].progress.verify = Some(v);
                self.verification_failed(
                    format!(
                        "the `{}` check of {name} failed after {tries}: {failure}",
                        check.name
                    ),
                    now,
                    fx,
                );
            }
        }
    }

    /// A check gave up or the smoke test failed: said in the thread as well as on the card,
    /// then the deployment fails (and rolls back what it changed).
    fn verification_failed(&mut self, reason: String, now: Timestamp, fx: &mut Vec<Effect>) {
        let mut sentence = reason.clone();
        if let Some(first) = sentence.get(..1) {
            sentence.replace_range(..1, &first.to_uppercase());
        }
        if !sentence.ends_with("```") {
            sentence.push('.');
        }
        fx.push(Effect::reply(sentence));
        self.fail(reason, now, fx);
    }

    /// Whether this input is a fact the deployment already reflects: a redelivered event or
    /// a retried call. Such an input is a duplicate in any later state.
    fn already_applied(&self, input: &Input) -> bool {
        let progress = |name: &ServiceName| {
            self.services
                .iter()
                .find(|s| &s.service == name)
                .map(|s| &s.progress)
        };
        match input {
            Input::SnapshotTaken { service, .. } => {
                progress(service).is_some_and(|p| p.snapshot.is_some())
            }
            Input::MigrationFinished {
                service,
                exit_code: 0,
            } => progress(service).is_some_and(|p| p.migrated),
            Input::RolloutStarted {
                service,
                ecs_deployment,
                ..
            } => {
                progress(service).is_some_and(|p| p.ecs_deployment.as_ref() == Some(ecs_deployment))
            }
            Input::RolloutCompleted { ecs_deployment } => {
                self.services.iter().enumerate().any(|(i, s)| {
                    s.progress.ecs_deployment.as_ref() == Some(ecs_deployment)
                        && (s.progress.done_at.is_some()
                            || self.state == State::Verifying { service: i })
                })
            }
            Input::Checked { service, .. }
            | Input::SmokeStarted { service, .. }
            | Input::SmokeLooked { service, .. }
            | Input::SmokeStopped { service, .. } => {
                progress(service).is_some_and(|p| p.done_at.is_some())
            }
            _ => false,
        }
    }

    /// Submitted: post the card, then wait for approvals or start. An automatic rollback is
    /// started by whatever decided it, at once, and posts its card once ECS has its order
    /// ([`Deployment::started_where_decided`]).
    fn submit(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        let here = self.started_where_decided();
        if !here {
            fx.push(Effect::PostCard);
        }
        if self.required_approvals == 0 {
            self.enter(State::Approved, now);
            if !here {
                fx.push(Effect::Dispatch {
                    work: Work::RunDeployment { id: self.id },
                });
            }
        } else {
            self.enter(State::PendingApproval, now);
        }
    }

    /// Whether this deployment is started by whatever decided it, not by its submission: an
    /// automatic rollback, the safety net. On an alarm the rollback function itself goes
    /// straight to ECS (no hand-over between functions); after a failed deploy the deploy
    /// function dispatches it. Its card follows `UpdateService`. A delivery that dies before
    /// the start is resumed by its trigger's retry or by maintenance (its `Approved` state has
    /// a step deadline).
    pub fn started_where_decided(&self) -> bool {
        matches!(
            self.kind,
            DeploymentKind::Rollback {
                automatic: true,
                ..
            }
        )
    }

    /// `api, worker v1.2.3 to prod`, for words about the request.
    pub fn asked_what(&self) -> String {
        format!(
            "{} {} to {}",
            ServiceName::join(&self.service_names()),
            self.version,
            self.env
        )
    }

    fn enter(&mut self, state: State, now: Timestamp) {
        // Votes are kept only while approval is awaited: one that came too late for the count
        // counts for nothing.
        if state != State::PendingApproval {
            self.votes.clear();
        }
        self.state = state;
        self.state_since = now;
    }

    /// Whether `by` approved this deployment, counted or not.
    pub fn has_approved(&self, by: &Actor) -> bool {
        self.approvals
            .iter()
            .chain(&self.votes)
            .any(|a| a.by.same_person(by))
    }

    /// Whether an approval by `by` given at `at` may count: before the window closed, and not
    /// the requester's own.
    fn may_count(&self, by: &Actor, at: Timestamp) -> Result<(), Refused> {
        if at >= self.approval_expires {
            return Err(Refused::Expired {
                at: self
                    .approval_expires
                    .strftime("%Y-%m-%d %H:%M UTC")
                    .to_string(),
            });
        }
        if by.same_person(&self.requested_by) {
            return Err(Refused::OwnRequest);
        }
        Ok(())
    }

    /// Counts `by`'s approval given at `at`; the last one needed approves the deployment.
    fn count_approval(&mut self, by: &Actor, at: Timestamp, now: Timestamp, fx: &mut Vec<Effect>) {
        self.votes.retain(|v| !v.by.same_person(by));
        self.approvals.push(Approval { by: by.clone(), at });
        fx.push(Effect::UpdateCard);
        if self.approvals.len() >= usize::from(self.required_approvals) {
            self.enter(State::Approved, now);
        }
    }

    /// The recorded votes still to count, as inputs, while they can count.
    pub fn votes_to_count(&self) -> Vec<Input> {
        if self.state != State::PendingApproval {
            return Vec::new();
        }
        self.votes
            .iter()
            .filter(|v| !self.approvals.iter().any(|a| a.by.same_person(&v.by)))
            .cloned()
            .map(Input::VoteCounted)
            .collect()
    }

    /// The next thing to do for service `i`: snapshot, then migrate, then roll.
    fn start_service(&mut self, i: usize, now: Timestamp, fx: &mut Vec<Effect>) {
        let s = &self.services[i];
        let name = s.service.clone();
        if let (Some(plan), None) = (&s.snapshot_plan, &s.progress.snapshot) {
            fx.push(Effect::TakeSnapshot {
                service: name,
                plan: plan.clone(),
            });
            self.enter(State::Migrating { service: i }, now);
        } else if s.migration.is_some() && !s.progress.migrated {
            fx.push(Effect::RunMigration { service: name });
            self.enter(State::Migrating { service: i }, now);
        } else {
            fx.push(Effect::Roll { service: name });
            self.enter(State::Rolling { service: i }, now);
        }
        fx.push(Effect::UpdateCard);
    }

    fn service_done(&mut self, i: usize, now: Timestamp, fx: &mut Vec<Effect>) {
        self.services[i].progress.done_at = Some(now);
        let name = self.services[i].service.clone();
        fx.push(Effect::RecordRelease {
            service: name.clone(),
        });
        fx.push(Effect::reply(format!(
            "{name} is running {}.",
            self.version
        )));
        if i + 1 < self.services.len() {
            self.start_service(i + 1, now, fx);
        } else {
            let secs = now.duration_since(self.requested_at).as_secs_f64();
            fx.push(Effect::EmitMetric {
                name: "DeploymentSucceeded".into(),
                value: 1.0,
            });
            fx.push(Effect::EmitMetric {
                name: "DeploymentDurationSeconds".into(),
                value: secs,
            });
            self.finish(State::Succeeded, now, fx);
        }
    }

    fn touched_services(&self) -> Vec<ServiceName> {
        self.services
            .iter()
            .filter(|s| s.progress.touched)
            .map(|s| s.service.clone())
            .collect()
    }

    /// A failure during the run: services already changed go back to last known-good.
    fn fail(&mut self, reason: String, now: Timestamp, fx: &mut Vec<Effect>) {
        let touched = self.touched_services();
        fx.push(Effect::EmitMetric {
            name: "DeploymentFailed".into(),
            value: 1.0,
        });
        if touched.is_empty() || matches!(self.kind, DeploymentKind::Rollback { .. }) {
            self.finish(State::Failed { reason }, now, fx);
        } else {
            self.finish(
                State::RolledBack {
                    reason: reason.clone(),
                },
                now,
                fx,
            );
            // After the lock is released: the rollback takes it over.
            fx.push(Effect::StartRollback {
                services: touched,
                reason,
            });
        }
    }

    fn finish(&mut self, state: State, now: Timestamp, fx: &mut Vec<Effect>) {
        self.enter(state, now);
        self.finished_at = Some(now);
        fx.push(Effect::ReleaseLock);
        fx.push(Effect::UpdateCard);
    }
}

/// A failed task's last log lines, for the end of its failure's words.
fn tail(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    format!("; its last lines:\n```\n{}\n```", lines.join("\n"))
}

/// How long Deckhand waits on itself and on ECS before the passing of time means something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A step of Deckhand's own (submit, start, snapshot, migrate, roll, check) that made no
    /// progress for this long lost its work: longer than a step's lease and than EventBridge's
    /// usual delivery delay.
    pub step: SignedDuration,
    /// A rollout ECS has not finished this long after it started is given up (the
    /// environment's `lock_ttl`).
    pub rollout: SignedDuration,
}

impl Limits {
    pub const STEP: SignedDuration = SignedDuration::from_mins(5);

    pub fn with_rollout(rollout: SignedDuration) -> Limits {
        Limits {
            step: Limits::STEP,
            rollout,
        }
    }
}

/// What the passing of time asks of a deployment: the inputs maintenance gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Its approval window closed with approvals missing.
    Expire,
    /// Its next step is Deckhand's own and was lost (a dispatch that never arrived, a function
    /// that died mid-step, an outage): perform it again from where the store says.
    Resume,
    /// A try that waited for its time was not performed by its wake (lost, or late): perform
    /// it ([`Deployment::scheduled_work`]).
    Scheduled,
    /// ECS has not reported this rollout: ask it (its own ECS deployment id).
    Reconcile {
        service: usize,
        ecs_deployment: String,
    },
    /// ECS has not finished this rollout within the limit: give it up if ECS still says it
    /// is in progress (the answer to `Reconcile` decides).
    Overdue {
        service: usize,
        ecs_deployment: String,
    },
}

impl Deployment {
    /// When the passing of time next means something for this deployment, if it waits on
    /// anything at all (in the spirit of quinn-proto's `poll_timeout`). Terminal states wait on
    /// nothing.
    pub fn deadline(&self, limits: Limits) -> Option<Timestamp> {
        match &self.state {
            State::PendingApproval => Some(self.approval_expires),
            // A try or a look due later is a step that starts then.
            State::Verifying { service } => {
                let next_at = self.verifying(*service).next_at;
                Some(next_at.unwrap_or(self.state_since).max(self.state_since) + limits.step)
            }
            State::Requested
            | State::Approved
            | State::Migrating { .. }
            | State::Rolling { .. } => Some(self.state_since + limits.step),
            _ => None,
        }
    }

    /// When this deployment must have moved on by: its deadline, or for a rollout ECS is
    /// still working on, the rollout's limit (until then maintenance only asks ECS).
    pub fn moves_by(&self, limits: Limits) -> Option<Timestamp> {
        match self.waiting_on_ecs() {
            Some(_) => Some(self.state_since + limits.rollout),
            None => self.deadline(limits),
        }
    }

    /// Whether its cards, last all showing revision `shown`, are behind it (an update failed
    /// while chat was down). Cards posted by a delivery that died before recording what they
    /// show (`shown` is `None`) are behind too; with no cards there is nothing to update.
    pub fn cards_behind(&self, shown: Option<u64>, posted: bool) -> bool {
        posted && shown.is_none_or(|s| s < self.revision)
    }

    /// What is due at `now`, if anything. Pure: maintenance performs it.
    pub fn due(&self, now: Timestamp, limits: Limits) -> Option<Due> {
        // Votes a click recorded and no deploy function counted (its dispatch was lost).
        if !self.votes_to_count().is_empty() {
            return Some(Due::Resume);
        }
        if now < self.deadline(limits)? {
            return None;
        }
        if self.state == State::PendingApproval {
            return Some(Due::Expire);
        }
        match self.waiting_on_ecs() {
            Some((service, ecs_deployment)) if now >= self.state_since + limits.rollout => {
                Some(Due::Overdue {
                    service,
                    ecs_deployment,
                })
            }
            Some((service, ecs_deployment)) => Some(Due::Reconcile {
                service,
                ecs_deployment,
            }),
            None if self.scheduled_work(now).is_some() => Some(Due::Scheduled),
            None => Some(Due::Resume),
        }
    }
}

/// Everything needed to create a deployment; the request use-case fills it in.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: DeploymentId,
    pub env: EnvName,
    pub kind: DeploymentKind,
    pub version: Version,
    pub services: Vec<ServiceRelease>,
    pub requested_by: Actor,
    pub required_approvals: u8,
    pub approval_ttl: jiff::SignedDuration,
    pub overridden: Option<Override>,
    pub alarms_at_start: Vec<String>,
}

impl fmt::Display for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} → {} ({})",
            ServiceName::join(&self.service_names()),
            self.version,
            self.env,
            self.state.name()
        )
    }
}

#[cfg(test)]
#[path = "tests/deployment.rs"]
mod tests;
