//! Asking for a deploy, approving it, running it, and finishing it on ECS's word.

use crate::config::EnvConfig;
use crate::deployment::{
    Approval, Asked, Deployment, Draft, ImageRef, Input, Prepared, Progress, Refused,
    ServiceRelease, Work,
};
use crate::policy::{self, Denied, EnvLock, LockOwner, ServiceGate};
use crate::ports::{
    Clock as _, Dispatch as _, Monitor as _, Opened, Opening, Platform as _, PortError, Ports,
    ReplyTo, Store as _, Vote, Voted,
};
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

/// How long the dispatched checks of a request may take before a redelivery of the request
/// dispatches them again: they take well under a second when their dispatch arrives.
const PREPARATION_OVERDUE: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

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
    /// Where to tell the person privately what the checks after the answer found.
    pub reply_to: Option<ReplyTo>,
}

impl<P: Ports> App<'_, P> {
    /// `/deploy`, or an auto-deploy: the acknowledgement. Only what must be synchronous: the
    /// checks the config answers (who may deploy, freeze windows), then one atomic write that
    /// claims the event, takes the environment's lock and creates the deployment (refused
    /// there if the environment is held, or paused for automation), and one dispatch. The
    /// checks that need AWS — image digests, promotion, holds, images judged bad, what already
    /// runs — run in the dispatched work ([`App::run_deployment`]), which posts the card or
    /// declines the request and tells the person why.
    pub async fn request_deploy(&self, req: DeployRequest) -> Result<Requested, RequestError> {
        let r = self.open_request(req).await?;
        let d = &r.deployment;
        // A redelivery's first delivery may have lost its dispatch with it (a Lambda that
        // timed out between the write and the invoke): sent again once the checks are
        // overdue, never for the burst of concurrent copies a retry storm brings.
        let waited = self.ports.clock().now().duration_since(d.state_since);
        if d.awaits_preparation() && (!r.duplicate || waited >= PREPARATION_OVERDUE) {
            let work = Work::PrepareDeployment { id: d.id };
            if let Err(e) = self.ports.dispatch().dispatch(&work).await {
                // Not the person's problem: the deployment waits in `Requested`, whose
                // deadline has maintenance prepare it.
                tracing::warn!(deployment = %d.id, error = %e, "could not dispatch the request's checks; maintenance prepares it");
            }
        }
        Ok(r)
    }

    /// The acknowledgement's write: a new deployment awaiting preparation, or what a
    /// redelivery's first delivery made.
    pub(crate) async fn open_request(&self, req: DeployRequest) -> Result<Requested, RequestError> {
        let p = self.ports;
        let now = p.clock().now();
        let env = self.env_config(&req.env)?;
        let key = req.event_key.clone();
        if let Err(no) = self.check_config(&req, env, now) {
            // Recorded: a freeze that ends before the retry must not let it through.
            return self.final_answer(&key, now, Err(no)).await;
        }
        let id = DeploymentId::derive(now, key.as_str());
        let d = Deployment::asked(
            id,
            env.name.clone(),
            req.version.clone(),
            Asked {
                services: req.services.clone(),
                override_reason: req.override_reason.clone(),
                force: req.force,
                reply_to: req.reply_to.clone(),
            },
            req.actor.clone(),
            env.approval_ttl,
            now,
        );
        let lock = deployment_lock(&d, now);
        let (claim, refusal) = (event_claim(&key), refusal_claim(&key));
        let opening = Opening {
            deployment: &d,
            claim: &claim,
            refusal: &refusal,
            claim_expires: now + jiff::SignedDuration::from_hours(24),
            lock: &lock,
            unless_paused: req.actor.user_ref().is_none(),
            now,
        };
        let refused = match p.store().open_deployment(&opening).await? {
            Opened::Opened => {
                return Ok(Requested {
                    deployment: d,
                    duplicate: false,
                    notes: Vec::new(),
                });
            }
            Opened::RefusedBefore(answer) => return Err(RequestError::AnsweredBefore { answer }),
            Opened::Claimed(first) => return self.redelivered(&key, &first).await,
            Opened::Paused(pause) => policy::paused(&pause),
            Opened::Locked(holder) => Denied::Locked(policy::LockHeld(Box::new(holder))),
        };
        self.final_answer(&key, now, Err(refused.into())).await
    }

    /// What the config alone refuses: a person who may not deploy here, a freeze without an
    /// `--override`. The rest of the gates are judged once the images are known.
    fn check_config(
        &self,
        req: &DeployRequest,
        env: &EnvConfig,
        now: jiff::Timestamp,
    ) -> Result<(), RequestError> {
        if req.actor.user_ref().is_some() {
            policy::may_deploy(self.config, env, &req.actor)?;
        }
        policy::check_gates(env, now, &[], req.override_reason.as_deref())?;
        Ok(())
    }

    /// A redelivered request whose first delivery claimed `first`: what that delivery made.
    async fn redelivered(&self, key: &EventKey, first: &str) -> Result<Requested, RequestError> {
        let id = DeploymentId::parse(first)
            .map_err(|e| PortError::Failed(format!("corrupt idempotency record {key}: {e}")))?;
        let Some(d) = self.ports.store().get_deployment(id).await? else {
            self.answered_before(key).await?;
            return Err(PortError::Transient(format!(
                "the first delivery of {key} is still being decided"
            ))
            .into());
        };
        if let Some(reason) = d.declined_because() {
            return Err(RequestError::AnsweredBefore {
                answer: reason.to_owned(),
            });
        }
        Ok(self.resubmit(d).await?)
    }

    /// The deploy function's entry point for a request's dispatched checks: prepares it if it
    /// still awaits them, and is a no-op otherwise. Safe to call any number of times.
    pub async fn prepare_deployment(&self, id: DeploymentId) -> Result<Deployment, RunError> {
        let d = self.dispatched_deployment(id).await?;
        Box::pin(self.prepare(d)).await
    }

    /// The deployment dispatched work names; one the store does not have is refused.
    async fn dispatched_deployment(&self, id: DeploymentId) -> Result<Deployment, RunError> {
        self.ports
            .store()
            .get_deployment(id)
            .await?
            .ok_or(RunError::Unknown(id))
    }

    /// The dispatched half of a release request: the checks that need AWS, then the card, or
    /// the request declined with its lock released and the person told why.
    async fn prepare(&self, d: Deployment) -> Result<Deployment, RunError> {
        Ok(self.prepare_judged(d).await?.0)
    }

    /// [`App::prepare`], with the refusal as it was judged (for tests that match on it).
    pub(crate) async fn prepare_judged(
        &self,
        d: Deployment,
    ) -> Result<(Deployment, Option<RequestError>), RunError> {
        let Some(asked) = d.asked.clone() else {
            return Ok((d, None));
        };
        let env = self.env_config(&d.env)?;
        let now = self.ports.clock().now();
        let (input, refused) = match self.check_release(&d, &asked, env, now).await {
            Ok(prepared) => (Input::Prepared(Box::new(prepared)), None),
            Err(RequestError::Port(e)) => return Err(e.into()),
            Err(no) => (
                Input::Declined {
                    reason: no.to_string(),
                },
                Some(no),
            ),
        };
        let actor = d.requested_by.clone();
        let d = self.drive(d, input, &actor).await?.deployment;
        Ok((d, refused))
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

    /// The checks that need AWS, for a request the acknowledgement opened: each service's
    /// image resolved to its digest, holds and images judged bad (lifted by an override),
    /// what already runs left out, promotion, and the baselines to adopt.
    async fn check_release(
        &self,
        d: &Deployment,
        asked: &Asked,
        env: &EnvConfig,
        now: jiff::Timestamp,
    ) -> Result<Prepared, RequestError> {
        let p = self.ports;
        let version = &d.version;
        policy::check_pause(p.store().paused(&env.name).await?.as_ref(), &d.requested_by)?;
        let holds = p.store().holds(&env.name).await?;
        let mut adopt = Vec::new();
        let mut services = Vec::new();
        let mut promoted = Vec::new();
        let mut gates = Vec::new();
        let mut already = Vec::new();
        for name in &asked.services {
            let cfg = self.service_config(name)?;
            let digest = p
                .platform()
                .resolve_image(&cfg.repository, version)
                .await?
                .ok_or_else(|| RequestError::NoSuchImage {
                    repository: cfg.repository.clone(),
                    tag: version.clone(),
                })?;
            let here = p.store().releases(&env.name, name, 50).await?;
            let mut judged = judged_bad(&here, &digest).map(|r| (env.name.clone(), r.clone()));
            if let Some(previous) = &env.after {
                let before = p.store().releases(previous, name, 50).await?;
                let ok = before
                    .iter()
                    .any(|r| r.image.tag == d.version && r.image.digest == digest);
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
                || running.as_deref() == Some(d.version.as_str())
            {
                already.push(name.clone());
            }
            // Adopted as of the request, not of these checks: it ran before the release that
            // meets it, and its record must sort before that release's (by id and by time).
            if let Some(baseline) = self
                .baseline(env, cfg, &here, &runs, d.requested_at)
                .await?
            {
                adopt.push(baseline);
            }
            services.push(ServiceRelease {
                service: name.clone(),
                image: ImageRef {
                    repository: cfg.repository.clone(),
                    tag: d.version.clone(),
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
                checks: cfg.checks_for(&env.name),
                smoke: cfg.smoke_for(&env.name),
                progress: Progress::default(),
            });
        }
        let gates: Vec<ServiceGate<'_>> = gates
            .iter()
            .map(|(service, hold, known_good, judged)| ServiceGate {
                service,
                version: &d.version,
                hold: hold.as_ref(),
                known_good: *known_good,
                judged_bad: judged.as_ref().map(|(e, r)| (e, r)),
            })
            .collect();
        let overridden = policy::check_gates(env, now, &gates, asked.override_reason.as_deref())?;
        // A bad image or a hold is said first; then what already runs is left out, and only
        // what changes must have been promoted.
        let (changing, left_out) = policy::leave_out_running(
            &env.name,
            &d.version,
            &asked.services,
            &already,
            asked.force,
        )?;
        services.retain(|s| changing.contains(&s.service));
        promoted.retain(|(name, _)| changing.contains(name));
        policy::check_promotion(env, &d.version, &promoted)?;
        let notes: Vec<String> = left_out
            .into_iter()
            .chain(policy::unneeded_override(
                asked.override_reason.as_deref(),
                overridden.as_ref(),
            ))
            .collect();
        // Recorded once the request passed: a refusal changes nothing. Once per service, by
        // its own id, however often delivered.
        for baseline in &adopt {
            p.store().record_release(baseline).await?;
        }
        Ok(Prepared {
            services,
            required_approvals: policy::required_approvals(env, overridden.as_ref()),
            alarms_at_start: self.firing_alarms(env, &asked.services).await?,
            overridden,
            notes,
        })
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

    /// An Approve click on a card that names its environment: one conditional write records
    /// the approval beside the deployment and one dispatch has the deploy function count it
    /// (and start the deployment when it completes the count, and update the card). A click
    /// the write refuses — a duplicate, a closed window, the requester's own, a deployment no
    /// longer waiting — is explained from the deployment as the refusal returned it, through
    /// the same rules as [`App::decide`], without another read (a click the config refuses
    /// reads the deployment, to say why in its terms).
    pub async fn approve(
        &self,
        id: DeploymentId,
        env: &EnvName,
        actor: &Actor,
    ) -> Result<Deployment, DecideError> {
        let p = self.ports;
        let env_cfg = self.env_config(env)?;
        let Ok(needs_override) = policy::may_vote(self.config, env_cfg, actor) else {
            // Refused by the config: the deployment says which refusal to give (the
            // requester's own click is "someone else has to approve", as on the slow path).
            return self.decide(id, Decision::Approve, actor, None).await;
        };
        let vote = Vote {
            id,
            env: env.clone(),
            approval: Approval {
                by: actor.clone(),
                at: p.clock().now(),
            },
            needs_override,
        };
        match p.store().vote(&vote).await? {
            Voted::Recorded(d) => {
                p.dispatch().dispatch(&Work::RunDeployment { id }).await?;
                Ok(*d)
            }
            Voted::Refused(d) => self.decide_on(*d, Decision::Approve, actor, None).await,
            Voted::Unknown => Err(DecideError::Unknown(id)),
        }
    }

    /// An Approve or Reject click.
    pub async fn decide(
        &self,
        id: DeploymentId,
        decision: Decision,
        actor: &Actor,
        reason: Option<String>,
    ) -> Result<Deployment, DecideError> {
        let d = self
            .ports
            .store()
            .get_deployment(id)
            .await?
            .ok_or(DecideError::Unknown(id))?;
        self.decide_on(d, decision, actor, reason).await
    }

    /// A click on `d` as just read.
    async fn decide_on(
        &self,
        d: Deployment,
        decision: Decision,
        actor: &Actor,
        reason: Option<String>,
    ) -> Result<Deployment, DecideError> {
        let p = self.ports;
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
        let d = self.dispatched_deployment(id).await?;
        let actor = Actor::system("deploy");
        let votes = d.votes_to_count();
        let d = if votes.is_empty() {
            d
        } else {
            // Approvals clicks recorded: counted here, and the one that completes the count
            // lets this same call start the deployment below.
            self.drive_all(d, votes, &actor).await?.deployment
        };
        if d.awaits_preparation() {
            // Boxed: the checks and the engine they drive are a large future of their own.
            return Box::pin(self.prepare(d)).await;
        }
        if d.awaits_submission() {
            // Its request died between creating it and submitting it.
            return Ok(self.resubmit(d).await?.deployment);
        }
        if d.awaits_start() {
            // Re-take the lock as its owner: a lock written before deployment locks stopped
            // lapsing may have lapsed while this waited for approval.
            let now = p.clock().now();
            let lock = deployment_lock(&d, now);
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

    /// The deploy function's entry point for a delayed wake, and maintenance's for a try whose
    /// wake was lost: performs the try that waited for its time, if it is due and the
    /// deployment is still at `revision` (any revision when `None`). Safe to call any number of
    /// times: a try that ran moved the revision, and its outcome names its attempt.
    pub async fn wake(
        &self,
        id: DeploymentId,
        revision: Option<u64>,
    ) -> Result<Deployment, RunError> {
        let p = self.ports;
        let d = self.dispatched_deployment(id).await?;
        if revision.is_some_and(|r| r != d.revision) {
            return Ok(d);
        }
        let Some(effect) = d.scheduled_work(p.clock().now()) else {
            return Ok(d);
        };
        let actor = Actor::system("deploy");
        let inputs = self.perform(&d, effect, &actor).await?;
        Ok(self.drive_all(d, inputs, &actor).await?.deployment)
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

/// The lock a deployment holds on its environment while it is in flight. It does not lapse:
/// the deployment's own deadlines (the approval window, each step's, the rollout's
/// `lock_ttl`) bound it, and maintenance gives up on a deployment past them, which releases it.
fn deployment_lock(d: &Deployment, now: jiff::Timestamp) -> EnvLock {
    EnvLock {
        env: d.env.clone(),
        owner: LockOwner::Deployment { id: d.id },
        held_by: d.requested_by.clone(),
        reason: format!("{} {}", ServiceName::join(&d.service_names()), d.version),
        since: now,
        expires: None,
    }
}

pub(crate) fn event_claim(event_key: &EventKey) -> String {
    format!("event#{event_key}")
}

fn refusal_claim(event_key: &EventKey) -> String {
    format!("refused#{event_key}")
}
