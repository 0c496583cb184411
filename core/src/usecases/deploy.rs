//! Asking for a deploy, approving it, running it, and finishing it on ECS's word.

use crate::config::EnvConfig;
use crate::deployment::{
    Deployment, DeploymentKind, Draft, ImageRef, Input, Progress, Refused, ServiceRelease,
};
use crate::policy::{self, Denied, EnvLock, LockOwner, ServiceGate};
use crate::ports::{Clock as _, Monitor as _, Platform as _, PortError, Ports, Store as _};
use crate::rollback::{digest_known_good, judged_bad, running_version};
use crate::types::{Actor, DeploymentId, EnvName, EventKey, ServiceName, Version};

use super::App;
use super::engine::{DriveError, is_step};

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("there is no image {repository}:{tag} in the registry; is the build finished?")]
    NoSuchImage { repository: String, tag: Version },
    #[error("{service} in {env} has no {what} to roll back to")]
    NoRollbackTarget {
        service: ServiceName,
        env: EnvName,
        what: String,
    },
    /// Every service named already runs the revision it would go back to.
    #[error("{detail}; nothing to roll back")]
    NothingToRollBack { detail: String },
    #[error(transparent)]
    Refused(#[from] Refused),
    /// A redelivery of a request refused before: the same answer again.
    #[error("{answer}")]
    AnsweredBefore { answer: String },
    #[error(transparent)]
    Port(#[from] PortError),
}

impl RequestError {
    /// Whether this is the request's answer (final for its event), not a failure to decide.
    pub fn is_answer(&self) -> bool {
        !matches!(
            self,
            RequestError::Port(_) | RequestError::AnsweredBefore { .. }
        )
    }
}

/// A request that was accepted (or recognised as a redelivery of one).
#[derive(Debug, Clone)]
pub struct Requested {
    pub deployment: Deployment,
    pub duplicate: bool,
    /// What the person should know besides: services left out because they already run the
    /// version, an `--override` that was not needed.
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no such deployment: {0}")]
    Unknown(DeploymentId),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Port(#[from] PortError),
}

pub use crate::policy::Decision;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no such deployment: {0}")]
    Unknown(DeploymentId),
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The engine's error becomes each use-case's own, variant for variant.
macro_rules! from_drive_error {
    ($($error:ident),*) => {$(
        impl From<DriveError> for $error {
            fn from(e: DriveError) -> Self {
                match e {
                    DriveError::Refused(r) => Self::Refused(r),
                    DriveError::Port(p) => Self::Port(p),
                }
            }
        }
    )*};
}
from_drive_error!(RequestError, DecideError, RunError);

/// A deploy request after parsing: what, where, by whom, and the triggering event's id.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub env: EnvName,
    pub services: Vec<ServiceName>,
    pub version: Version,
    pub override_reason: Option<String>,
    /// Redeploy services that already run this version (`--force`).
    pub force: bool,
    pub actor: Actor,
    /// The triggering event's own id (Slack trigger id, Discord interaction id, build id):
    /// a redelivery of the same event finds the same deployment.
    pub event_key: EventKey,
}

impl<P: Ports> App<'_, P> {
    /// `/deploy`, or an auto-deploy: checks policy, resolves the image digests the approval
    /// will be bound to, takes the environment's lock, creates the deployment and posts its card.
    pub async fn request_deploy(&self, req: DeployRequest) -> Result<Requested, RequestError> {
        let p = self.ports;
        let now = p.clock().now();
        let env = self.env_config(&req.env)?;
        let id = match self.claim_event(&req.event_key, now).await? {
            Claimed::First(id) => id,
            Claimed::Again(existing) => return Ok(self.resubmit(*existing).await?),
            Claimed::Retry(id) => {
                self.answered_before(&req.event_key).await?;
                id
            }
        };
        let key = req.event_key.clone();
        let decided = self.decide_deploy(req, env, id, now).await;
        self.final_answer(&key, now, decided).await
    }

    /// A redelivery of an event that created nothing: the answer its first delivery gave, if
    /// that was a refusal. A refusal is final for its event — a retried `/deploy` that was
    /// refused while the environment was busy must not go ahead once it is free.
    pub(crate) async fn answered_before(&self, event_key: &EventKey) -> Result<(), RequestError> {
        match self
            .ports
            .store()
            .claimed(&refusal_claim(event_key))
            .await?
        {
            Some(answer) => Err(RequestError::AnsweredBefore { answer }),
            None => Ok(()),
        }
    }

    /// Records a refusal as its event's final answer (see [`App::answered_before`]). A port
    /// error is no answer: the retry decides.
    pub(crate) async fn final_answer<T>(
        &self,
        event_key: &EventKey,
        now: jiff::Timestamp,
        decided: Result<T, RequestError>,
    ) -> Result<T, RequestError> {
        if let Err(e) = &decided
            && e.is_answer()
        {
            self.ports
                .store()
                .claim(
                    &refusal_claim(event_key),
                    &e.to_string(),
                    now + jiff::SignedDuration::from_hours(24),
                )
                .await?;
        }
        decided
    }

    async fn decide_deploy(
        &self,
        req: DeployRequest,
        env: &EnvConfig,
        id: DeploymentId,
        now: jiff::Timestamp,
    ) -> Result<Requested, RequestError> {
        let p = self.ports;
        if req.actor.user_ref().is_some() {
            policy::may_deploy(self.config, env, &req.actor)?;
        }
        policy::check_pause(p.store().paused(&env.name).await?.as_ref(), &req.actor)?;
        let holds = p.store().holds(&env.name).await?;
        let mut adopt = Vec::new();
        let mut services = Vec::new();
        let mut promoted = Vec::new();
        let mut gates = Vec::new();
        let mut already = Vec::new();
        for name in &req.services {
            let cfg = self.service_config(name)?;
            let digest = p
                .platform()
                .resolve_image(&cfg.repository, &req.version)
                .await?
                .ok_or_else(|| RequestError::NoSuchImage {
                    repository: cfg.repository.clone(),
                    tag: req.version.clone(),
                })?;
            let here = p.store().releases(&env.name, name, 50).await?;
            let mut judged = judged_bad(&here, &digest).map(|r| (env.name.clone(), r.clone()));
            if let Some(previous) = &env.after {
                let before = p.store().releases(previous, name, 50).await?;
                let ok = before
                    .iter()
                    .any(|r| r.image.tag == req.version && r.image.digest == digest);
                promoted.push((name.clone(), ok));
                judged = judged.or_else(|| {
                    judged_bad(&before, &digest).map(|r| (previous.clone(), r.clone()))
                });
            }
            gates.push((
                name.clone(),
                holds.iter().find(|h| &h.service == name).cloned(),
                digest_known_good(&here, &digest, env.bake, now),
                judged,
            ));
            let runs = p.platform().running(&env.cluster, cfg).await?;
            let running = running_version(&here, &runs);
            if runs.digest().as_ref() == Some(&digest)
                || running.as_deref() == Some(req.version.as_str())
            {
                already.push(name.clone());
            }
            if let Some(baseline) = self.baseline(env, cfg, &here, &runs, now).await? {
                adopt.push(baseline);
            }
            services.push(ServiceRelease {
                service: name.clone(),
                image: ImageRef {
                    repository: cfg.repository.clone(),
                    tag: req.version.clone(),
                    digest,
                },
                previous_version: running,
                target_task_definition: None,
                snapshot_plan: self
                    .config
                    .plans_before_deploy(&env.name, name)
                    .next()
                    .map(|p| p.name.clone()),
                migration: cfg.migration.clone(),
                health_url: cfg.health_url_for(&env.name),
                progress: Progress::default(),
            });
        }
        let gates: Vec<ServiceGate<'_>> = gates
            .iter()
            .map(|(service, hold, known_good, judged)| ServiceGate {
                service,
                version: &req.version,
                hold: hold.as_ref(),
                known_good: *known_good,
                judged_bad: judged.as_ref().map(|(e, r)| (e, r)),
            })
            .collect();
        let overridden = policy::check_gates(env, now, &gates, req.override_reason.as_deref())?;
        // A bad image or a hold is said first; then what already runs is left out, and only
        // what changes must have been promoted.
        let (changing, left_out) =
            policy::leave_out_running(&env.name, &req.version, &req.services, &already, req.force)?;
        services.retain(|s| changing.contains(&s.service));
        promoted.retain(|(name, _)| changing.contains(name));
        policy::check_promotion(env, &req.version, &promoted)?;
        let notes: Vec<String> = left_out
            .into_iter()
            .chain(policy::unneeded_override(
                req.override_reason.as_deref(),
                overridden.as_ref(),
            ))
            .collect();
        // Recorded once the request passed: a refusal changes nothing. Once per service, by
        // its own id, however often delivered.
        for baseline in &adopt {
            p.store().record_release(baseline).await?;
        }
        let alarms_at_start = self.firing_alarms(env, &req.services).await?;

        let draft = Draft {
            id,
            env: env.name.clone(),
            kind: DeploymentKind::Release,
            version: req.version.clone(),
            services,
            requested_by: req.actor.clone(),
            required_approvals: policy::required_approvals(env, overridden.as_ref()),
            approval_ttl: env.approval_ttl,
            overridden,
            alarms_at_start,
        };
        let reason = format!("{} {}", ServiceName::join(&changing), req.version);
        let mut requested = self.create_and_submit(env, draft, reason).await?;
        if !requested.duplicate {
            requested.notes = notes;
        }
        Ok(requested)
    }

    /// The baseline to adopt for `cfg` in `env` if Deckhand has no release of it there yet:
    /// what runs, pinned by its digest (from the image, else the registry).
    pub(crate) async fn baseline(
        &self,
        env: &EnvConfig,
        cfg: &crate::config::ServiceConfig,
        releases: &[crate::rollback::Release],
        runs: &crate::ports::Running,
        now: jiff::Timestamp,
    ) -> Result<Option<crate::rollback::Release>, PortError> {
        if !releases.is_empty() {
            return Ok(None);
        }
        let Some(tag) = runs.tag().and_then(|t| Version::parse(t).ok()) else {
            tracing::info!(env = %env.name, service = %cfg.name, image = %runs.image, "what runs has no version tag; nothing to adopt");
            return Ok(None);
        };
        let digest = match runs.digest() {
            Some(d) => Some(d),
            None => {
                self.ports
                    .platform()
                    .resolve_image(&cfg.repository, &tag)
                    .await?
            }
        };
        let Some(digest) = digest else {
            return Ok(None);
        };
        let image = ImageRef {
            repository: cfg.repository.clone(),
            tag,
            digest,
        };
        Ok(Some(crate::rollback::adoption(
            &env.name,
            &cfg.name,
            (&runs.task_definition, image),
            now,
        )))
    }

    /// Takes the lock, creates the deployment and submits it. Shared by deploys and rollbacks.
    pub(crate) async fn create_and_submit(
        &self,
        env: &EnvConfig,
        draft: Draft,
        reason: String,
    ) -> Result<Requested, RequestError> {
        let p = self.ports;
        let now = p.clock().now();
        let id = draft.id;
        let lock = EnvLock {
            env: env.name.clone(),
            owner: LockOwner::Deployment { id },
            held_by: draft.requested_by.clone(),
            reason,
            since: now,
            // Held exactly while the deployment is in flight: its own deadlines (the approval
            // window, each step's, the rollout's `lock_ttl`) bound that, and maintenance gives
            // up on a deployment past them, which releases its lock.
            expires: None,
        };
        if let Err(holder) = p.store().acquire_lock(&lock, now).await? {
            return Err(Denied::Locked(policy::LockHeld(Box::new(holder))).into());
        }
        let d = Deployment::new(draft, now);
        match p.store().create_deployment(&d).await {
            Ok(()) => {}
            Err(PortError::Conflict(_)) => {
                let existing = p
                    .store()
                    .get_deployment(id)
                    .await?
                    .ok_or_else(|| PortError::NotFound(format!("deployment {id}")))?;
                return Ok(Requested {
                    deployment: existing,
                    duplicate: true,
                    notes: Vec::new(),
                });
            }
            Err(e) => {
                p.store()
                    .release_lock(&env.name, &LockOwner::Deployment { id })
                    .await?;
                return Err(e.into());
            }
        }
        let actor = d.requested_by.clone();
        let driven = self.drive(d, Input::Submitted, &actor).await?;
        Ok(Requested {
            deployment: driven.deployment,
            duplicate: !driven.changed,
            notes: Vec::new(),
        })
    }

    /// Maps a triggering event to the deployment id it creates. The first delivery claims the
    /// event key with a fresh id; every redelivery, sequential or concurrent, gets that same id,
    /// so the store's create-if-absent lets exactly one of them create the deployment.
    pub(crate) async fn claim_event(
        &self,
        event_key: &EventKey,
        now: jiff::Timestamp,
    ) -> Result<Claimed, PortError> {
        let store = self.ports.store();
        let fresh = DeploymentId::derive(now, event_key.as_str());
        let expires = now + jiff::SignedDuration::from_hours(24);
        let Some(first) = store
            .claim(&event_claim(event_key), &fresh.to_string(), expires)
            .await?
        else {
            return Ok(Claimed::First(fresh));
        };
        let id = DeploymentId::parse(&first).map_err(|e| {
            PortError::Failed(format!("corrupt idempotency record {event_key}: {e}"))
        })?;
        Ok(match store.get_deployment(id).await? {
            Some(d) => Claimed::Again(Box::new(d)),
            // Seen before but nothing was created: the first delivery was refused (refusals
            // change nothing, so deciding again is right) or is still running (the shared id
            // makes the create-if-absent below pick one winner).
            None => Claimed::Retry(id),
        })
    }

    /// A redelivered request: finish submitting it if the first delivery died before that.
    async fn resubmit(&self, d: Deployment) -> Result<Requested, DriveError> {
        if d.awaits_submission() {
            let actor = d.requested_by.clone();
            let driven = self.drive(d, Input::Submitted, &actor).await?;
            return Ok(Requested {
                deployment: driven.deployment,
                duplicate: !driven.changed,
                notes: Vec::new(),
            });
        }
        Ok(Requested {
            deployment: d,
            duplicate: true,
            notes: Vec::new(),
        })
    }

    async fn firing_alarms(
        &self,
        env: &EnvConfig,
        services: &[ServiceName],
    ) -> Result<Vec<String>, PortError> {
        let watched: Vec<String> = self
            .config
            .alarms
            .iter()
            .filter(|(_, t)| t.env == env.name && t.services.iter().any(|s| services.contains(s)))
            .map(|(name, _)| name.clone())
            .collect();
        if watched.is_empty() {
            return Ok(Vec::new());
        }
        self.ports.monitor().firing(&watched).await
    }

    /// An Approve or Reject click.
    pub async fn decide(
        &self,
        id: DeploymentId,
        decision: Decision,
        actor: &Actor,
        reason: Option<String>,
    ) -> Result<Deployment, DecideError> {
        let p = self.ports;
        let d = p
            .store()
            .get_deployment(id)
            .await?
            .ok_or(DecideError::Unknown(id))?;
        let env = self.env_config(&d.env)?;
        let now = p.clock().now();
        if d.approval_lapsed(now) {
            let expired = self
                .drive(
                    d.clone(),
                    Input::ApprovalExpired,
                    &Actor::system("approval window"),
                )
                .await?;
            return Err(Refused::Expired {
                at: expired
                    .deployment
                    .approval_expires
                    .strftime("%Y-%m-%d %H:%M UTC")
                    .to_string(),
            }
            .into());
        }
        policy::may_decide(self.config, env, &d, actor, decision)?;
        let input = Input::decided(decision, actor, reason);
        Ok(self.drive(d, input, actor).await?.deployment)
    }

    /// The deploy function's entry point for dispatched work: starts an approved deployment, or
    /// resumes one whose last step's outcome was lost. Safe to call any number of times.
    pub async fn run_deployment(&self, id: DeploymentId) -> Result<Deployment, RunError> {
        let p = self.ports;
        let d = p
            .store()
            .get_deployment(id)
            .await?
            .ok_or(RunError::Unknown(id))?;
        let actor = Actor::system("deploy");
        if d.awaits_submission() {
            // Its request died between creating it and submitting it.
            return Ok(self.resubmit(d).await?.deployment);
        }
        if d.awaits_start() {
            // Re-take the lock as its owner: a lock written before deployment locks stopped
            // lapsing may have lapsed while this waited for approval.
            let now = p.clock().now();
            let lock = EnvLock {
                env: d.env.clone(),
                owner: LockOwner::Deployment { id },
                held_by: d.requested_by.clone(),
                reason: format!("{} {}", ServiceName::join(&d.service_names()), d.version),
                since: now,
                expires: None,
            };
            if let Err(holder) = p.store().acquire_lock(&lock, now).await? {
                let reason = format!(
                    "{} took the environment while this waited: {}",
                    holder.held_by.display(),
                    holder.reason
                );
                return Ok(self
                    .drive(d, Input::Aborted { reason }, &actor)
                    .await?
                    .deployment);
            }
            return Ok(self.drive(d, Input::Started, &actor).await?.deployment);
        }
        let Some(effect) = d.pending_work() else {
            return Ok(d);
        };
        // Another delivery may be performing this very rollout right now (EventBridge and
        // Lambda deliver at least once, and concurrently): only the lease's holder does it.
        let lease = if is_step(&effect) {
            let Some(lease) = self.lease_step(&d).await? else {
                tracing::info!(deployment = %id, ?effect, "this step is being performed by another delivery");
                return Ok(d);
            };
            Some(lease)
        } else {
            None
        };
        tracing::info!(deployment = %id, ?effect, "resuming a deployment whose last step did not report back");
        match self.perform(&d, effect, &actor).await {
            Ok(inputs) if inputs.is_empty() => Ok(d),
            Ok(inputs) => Ok(self.drive_all(d, inputs, &actor).await?.deployment),
            Err(e) => {
                self.give_back(lease).await;
                Err(e.into())
            }
        }
    }

    /// ECS reported a deployment finished. Events for ECS deployments Deckhand did not start
    /// (someone's manual update, the circuit breaker's own rollback) are ignored: `Ok(None)`.
    pub async fn on_rollout(
        &self,
        ecs_deployment: &str,
        outcome: Result<(), String>,
    ) -> Result<Option<Deployment>, RunError> {
        let p = self.ports;
        let Some(d) = p.store().deployment_by_ecs_id(ecs_deployment).await? else {
            tracing::info!(ecs_deployment, "not a deployment Deckhand started; ignored");
            return Ok(None);
        };
        let input = match outcome {
            Ok(()) => Input::RolloutCompleted {
                ecs_deployment: ecs_deployment.to_owned(),
            },
            Err(reason) => Input::RolloutFailed {
                ecs_deployment: ecs_deployment.to_owned(),
                reason,
            },
        };
        Ok(Some(
            self.drive(d, input, &Actor::system("ecs"))
                .await?
                .deployment,
        ))
    }
}

/// What claiming an event key found.
#[derive(Debug)]
pub(crate) enum Claimed {
    /// This delivery is the first: create with this id.
    First(DeploymentId),
    /// A redelivery of an event that created this deployment.
    Again(Box<Deployment>),
    /// A redelivery of an event that created nothing (yet): decide again with the same id.
    Retry(DeploymentId),
}

pub(crate) fn event_claim(event_key: &EventKey) -> String {
    format!("event#{event_key}")
}

fn refusal_claim(event_key: &EventKey) -> String {
    format!("refused#{event_key}")
}
