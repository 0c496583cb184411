//! Rolling back: on a CloudWatch alarm, or because someone typed `/rollback`.

use crate::config::EnvConfig;
use crate::deployment::{Deployment, DeploymentKind, Draft, Input, ServiceRelease};
use crate::policy::{self, EnvLock, LockOwner};
use crate::ports::{
    Clock as _, Hold, Monitor as _, Platform as _, PortError, Ports, RollbackOpening, Store as _,
};
use crate::rollback::{
    AlarmChange, AlarmDecision, AlarmFacts, ManualRefusal, ManualRollback, Release, ServiceNow,
    Verdict, decide_alarm, plan_manual,
};
use crate::types::{Actor, DeploymentId, EnvName, EventKey, ServiceName, SignedDuration, Version};

use super::App;
use super::deploy::{Claimed, RequestError, Requested};
use super::engine::{DriveError, STEP_LEASE, StepLease, is_step};

/// Where an automatic rollback starts once made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// In this function: the rollback function on an alarm goes straight to ECS.
    Here,
    /// In the deploy function, by dispatch: a deploy that failed in the deploy function is
    /// already deep in the engine's own stack, and one async invoke costs it nothing urgent.
    Dispatched,
}

/// The claim that records an alarm transition's decision for one service, so every delivery
/// of the transition carries out the first one's.
fn alarm_decision_key(change: &AlarmChange, service: &ServiceName) -> String {
    format!("alarm-decision:{}:{}:{service}", change.alarm, change.at)
}

/// The alarm tags that map an alarm the config does not name to an env and a service.
pub const ENV_TAG: &str = "deckhand:env";
pub const SERVICE_TAG: &str = "deckhand:service";

/// What an alarm did, per service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmOutcome {
    pub rolled_back: Vec<(ServiceName, DeploymentId)>,
    pub ignored: Vec<String>,
}

impl<P: Ports> App<'_, P> {
    /// A CloudWatch alarm changed state. The config maps an alarm to its env and services; an
    /// alarm the config does not name is mapped by its `deckhand:env` and `deckhand:service`
    /// tags (looked up only then, so the configured path makes no extra call).
    pub async fn on_alarm(&self, change: &AlarmChange) -> Result<AlarmOutcome, RequestError> {
        let mut outcome = AlarmOutcome::default();
        if let Some(why) = change.not_into_alarm() {
            outcome.ignored.push(why);
            return Ok(outcome);
        }
        let mapped = match self.config.alarms.get(&change.alarm) {
            Some(t) => Some((t.env.clone(), t.services.clone())),
            None => self.tagged(change).await?.map(|(env, s)| (env, vec![s])),
        };
        let Some((env_name, services)) = mapped else {
            tracing::warn!(alarm = %change.alarm, "alarm is not mapped to a service (config or deckhand: tags); ignored");
            outcome
                .ignored
                .push(format!("{} is not mapped to any service", change.alarm));
            return Ok(outcome);
        };
        let Some(env) = self.config.environments.get(&env_name) else {
            outcome.ignored.push(format!(
                "{} names unknown environment {env_name}",
                change.alarm
            ));
            return Ok(outcome);
        };
        let now = self.ports.clock().now();
        let reason = change.describe();
        for service in services {
            let Ok(cfg) = self.service_config(&service) else {
                outcome.ignored.push(format!(
                    "{} maps to unknown service {service}",
                    change.alarm
                ));
                continue;
            };
            let store = self.ports.store();
            // The service's releases and what it runs, read at once: all the fast road needs.
            let (releases, running) = super::both(
                store.releases(&env.name, &service, 50),
                self.ports.platform().running_revision(&env.cluster, cfg),
            )
            .await;
            let releases = releases?;
            let running = match running {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(%service, error = %e, "could not read what the service runs; deciding without it");
                    None
                }
            };
            if let Some(running) = &running
                && self
                    .roll_back_at_once(
                        change,
                        env,
                        &service,
                        &releases,
                        running,
                        &reason,
                        &mut outcome,
                    )
                    .await?
            {
                continue;
            }
            let in_flight = self.in_flight(&env.name).await?;
            let paused = store.paused(&env.name).await?.is_some();
            let decided = decide_alarm(
                change,
                &service,
                AlarmFacts {
                    releases: &releases,
                    in_flight: in_flight.as_ref(),
                    running: running.as_deref(),
                    bake: env.bake,
                    now,
                },
            )
            .given_pause(paused);
            // The first delivery of this transition records its decision; every later one
            // (EventBridge and SNS deliver at least once, Lambda retries) carries out that same
            // decision, idempotently, and tells nobody again.
            let key = alarm_decision_key(change, &service);
            let earlier = store
                .claim(
                    &key,
                    &decided.to_claim(),
                    now + SignedDuration::from_hours(24),
                )
                .await?;
            let first = earlier.is_none();
            let decision = decided.or_earlier(earlier.as_deref(), &releases);
            let decision = decision.given_running(running.as_deref());
            self.carry_out(
                change,
                env,
                &service,
                decision,
                first,
                &reason,
                &mut outcome,
            )
            .await?;
        }
        Ok(outcome)
    }

    /// The safety net's fast road, for the common case: an alarm on a release in its watch, in
    /// an environment nobody holds, on this transition's first delivery, with the known-good
    /// revision not running. Decided from the releases and what runs (read at once by the
    /// caller); then the bad release's own record is read, and one store write
    /// ([`crate::ports::Store::open_rollback`]) records the decision, the verdict and the
    /// judged record, the rollback started, the lock, the step's lease and the hold; then
    /// `UpdateService` to the known-good revision — already registered — and only then the
    /// rollback's record, the cards and the threads. `false` when it is not that case or the
    /// write found otherwise (a redelivery, a pause, a holder, a verdict already given): the
    /// caller takes the road that reads everything, which carries out whatever this one did.
    #[allow(clippy::too_many_arguments)]
    async fn roll_back_at_once(
        &self,
        change: &AlarmChange,
        env: &EnvConfig,
        service: &ServiceName,
        releases: &[Release],
        running: &str,
        reason: &str,
        outcome: &mut AlarmOutcome,
    ) -> Result<bool, RequestError> {
        let now = self.ports.clock().now();
        // Without a deployment in flight: the lock's condition checks there is none.
        let facts = AlarmFacts {
            releases,
            in_flight: None,
            running: Some(running),
            bake: env.bake,
            now,
        };
        let decided = decide_alarm(change, service, facts).given_running(Some(running));
        let steps = decided.actions(service, &env.name, reason);
        let (Some((bad, target)), None) = (steps.roll_back, steps.abort) else {
            return Ok(false);
        };
        let cfg = self.service_config(service)?;
        let to = target.describe();
        let key = EventKey::alarm_rollback(&change.alarm, change.at, service);
        let id = DeploymentId::derive(now, key.as_str());
        let bad_version = releases
            .iter()
            .find(|r| r.deployment == bad)
            .map(|r| r.image.tag.to_string());
        let kind = DeploymentKind::Rollback {
            automatic: true,
            reason: reason.to_owned(),
            of: Some(bad),
        };
        let actor = Actor::system(&change.judge());
        let task_definition = target.task_definition.clone();
        let (draft, lock_reason) =
            self.rollback_draft(env, id, vec![(*target, bad_version)], kind, actor.clone())?;
        let lock = EnvLock {
            env: env.name.clone(),
            owner: LockOwner::Deployment { id },
            held_by: actor.clone(),
            reason: lock_reason,
            since: now,
            expires: None,
        };
        let created = Deployment::new(draft, now);
        let refused = |e| RequestError::from(DriveError::from(e));
        let submitted = created.apply(&Input::Submitted, now).map_err(refused)?;
        let started = submitted
            .deployment
            .apply(&Input::Started, now)
            .map_err(refused)?;
        let d = started.deployment;
        let lease = StepLease::on(&d, now);
        let verdict = change.verdict();
        // The bad release's own record, judged in the same write as its verdict, so neither is
        // ever seen without the other.
        let judged = match self.ports.store().get_deployment(bad).await? {
            Some(b) => match verdict.bad_parts() {
                Some((by, at, why)) => {
                    let input = Input::JudgedBad {
                        by: by.to_owned(),
                        at,
                        why: why.to_owned(),
                        to: Some(to.clone()),
                    };
                    b.apply(&input, now).ok().filter(|s| s.changed)
                }
                None => None,
            },
            None => None,
        };
        let hold = env.hold_after_rollback.then(|| Hold {
            env: env.name.clone(),
            service: service.clone(),
            reason: reason.to_owned(),
            since: now,
        });
        let decision_key = alarm_decision_key(change, service);
        let claim = super::deploy::event_claim(&key);
        let decision = decided.to_claim();
        let opening = RollbackOpening {
            decision: (&decision_key, &decision),
            claim: &claim,
            claims_expire: now + SignedDuration::from_hours(24),
            deployment: &d,
            lock: &lock,
            lease: (&lease.key, &lease.holder, now + STEP_LEASE),
            judged: (service, bad, &verdict),
            judged_record: judged.as_ref().map(|s| &s.deployment),
            hold: hold.as_ref(),
            now,
        };
        if !self.ports.store().open_rollback(&opening).await? {
            return Ok(false);
        }
        let rollout = match self
            .ports
            .platform()
            .roll_back(&env.cluster, cfg, &task_definition, Some(running))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                // Its retry finds the rollback made and its step free, and sends it.
                self.give_back(Some(lease)).await;
                return Err(e.into());
            }
        };
        // ECS has its order: now the record (so ECS's outcome finds it), the card, the threads.
        let input = Input::RolloutStarted {
            service: service.clone(),
            task_definition: rollout.task_definition,
            ecs_deployment: rollout.ecs_deployment,
        };
        let d = self
            .drive(d, input, &actor)
            .await
            .map_err(RequestError::from)?
            .deployment;
        for effect in submitted
            .effects
            .into_iter()
            .chain(started.effects)
            .filter(|e| !is_step(e))
        {
            Box::pin(self.perform(&d, effect, &actor)).await?;
        }
        if let Some(step) = judged {
            let judge = Actor::system(&change.judge());
            for effect in step.effects {
                Box::pin(self.perform(&step.deployment, effect, &judge)).await?;
            }
        }
        let line = format!("🚨 {reason}. Rolling {service} back to {to} ({id}).");
        self.reply(bad, &line).await?;
        if let Some(line) = &steps.announce {
            self.announce(env, line).await;
        }
        outcome.rolled_back.push((service.clone(), id));
        Ok(true)
    }

    /// Carries out one service's alarm decision. Every write is idempotent, so every delivery
    /// of the transition may do it; `first` is whether this delivery is the one that tells.
    #[allow(clippy::too_many_arguments)]
    async fn carry_out(
        &self,
        change: &AlarmChange,
        env: &EnvConfig,
        service: &ServiceName,
        decision: AlarmDecision,
        first: bool,
        reason: &str,
        outcome: &mut AlarmOutcome,
    ) -> Result<(), RequestError> {
        let store = self.ports.store();
        let now = self.ports.clock().now();
        let actor = Actor::system(&change.judge());
        let steps = decision.actions(service, &env.name, reason);
        if let Some(deployment) = steps.abort
            && let Some(d) = store.get_deployment(deployment).await?
        {
            let input = Input::Aborted {
                reason: reason.to_owned(),
            };
            let d = self
                .take_up_step_in_doubt(d, &actor)
                .await
                .map_err(RequestError::from)?;
            let driven = self
                .drive(d, input, &actor)
                .await
                .map_err(RequestError::from)?;
            if driven.changed {
                outcome.rolled_back.push((service.clone(), deployment));
            }
        }
        if let Some((bad, to)) = steps.judge {
            self.judge(env, service, bad, &change.verdict(), to).await?;
        }
        if let Some((bad, target)) = steps.roll_back {
            // The record and the verdict came first: a delivery that dies in between never
            // leaves a judged or rolled-back release reading "succeeded", and its retry (the
            // same decision, from the claim) finishes the rest.
            let to = target.describe();
            let bad_version = self.version_of(env, service, bad).await?;
            let kind = DeploymentKind::Rollback {
                automatic: true,
                reason: reason.to_owned(),
                of: Some(bad),
            };
            let key = EventKey::alarm_rollback(&change.alarm, change.at, service);
            let requested = self
                .roll_back_to(
                    env,
                    vec![(*target, bad_version)],
                    kind,
                    actor,
                    &key,
                    Start::Here,
                )
                .await?;
            let id = requested.deployment.id;
            if requested.duplicate {
                outcome
                    .ignored
                    .push(format!("{service} is already being rolled back ({id})"));
            } else {
                // The bad release's own card is where its authors are looking.
                let line = format!("🚨 {reason}. Rolling {service} back to {to} ({id}).");
                self.reply(bad, &line).await?;
                outcome.rolled_back.push((service.clone(), id));
            }
        }
        if let Some(why) = &steps.hold {
            self.hold(env, service, why, now).await?;
        }
        if first && let Some(line) = &steps.announce {
            self.announce(env, line).await;
        }
        if let Some(note) = steps.note {
            tracing::info!(alarm = %change.alarm, %service, %note, "alarm did not roll back");
            outcome.ignored.push(note);
        }
        Ok(())
    }

    /// Judges `bad`'s release of `service`: its deployment's record first, then the verdict,
    /// so a delivery that dies between the two never leaves a judged release reading
    /// "succeeded"; both writes are idempotent for the retry.
    async fn judge(
        &self,
        env: &EnvConfig,
        service: &ServiceName,
        bad: DeploymentId,
        verdict: &Verdict,
        to: Option<String>,
    ) -> Result<(), PortError> {
        self.record_judgement(bad, verdict, to).await?;
        self.ports
            .store()
            .judge_release(&env.name, service, bad, verdict)
            .await?;
        Ok(())
    }

    /// The version `deployment` put on `service`, for a rollback card's "current → new".
    async fn version_of(
        &self,
        env: &EnvConfig,
        service: &ServiceName,
        deployment: DeploymentId,
    ) -> Result<Option<String>, PortError> {
        Ok(self
            .ports
            .store()
            .releases(&env.name, service, 50)
            .await?
            .into_iter()
            .find(|r| r.deployment == deployment)
            .map(|r| r.image.tag.to_string()))
    }

    /// Writes a verdict into the judged release's own deployment record, so its card and
    /// `/history` stop reading "succeeded". A deployment not in a state to take it (a
    /// rollback's, or one already judged) is left as it is.
    async fn record_judgement(
        &self,
        deployment: DeploymentId,
        verdict: &Verdict,
        to: Option<String>,
    ) -> Result<(), PortError> {
        let Some((by, at, why)) = verdict.bad_parts() else {
            return Ok(());
        };
        let (by, why) = (by.to_owned(), why.to_owned());
        let Some(d) = self.ports.store().get_deployment(deployment).await? else {
            return Ok(());
        };
        let actor = Actor::system(&by);
        match self
            .drive(d, Input::JudgedBad { by, at, why, to }, &actor)
            .await
        {
            Ok(_) | Err(DriveError::Refused(_)) => Ok(()),
            Err(DriveError::Port(e)) => Err(e),
        }
    }

    async fn hold(
        &self,
        env: &EnvConfig,
        service: &ServiceName,
        reason: &str,
        now: jiff::Timestamp,
    ) -> Result<(), PortError> {
        if env.hold_after_rollback {
            let hold = Hold {
                env: env.name.clone(),
                service: service.clone(),
                reason: reason.to_owned(),
                since: now,
            };
            self.ports.store().put_hold(&hold).await?;
        }
        Ok(())
    }

    /// The deployment holding an environment's lock, if a deployment holds it.
    /// The env and service an alarm's `deckhand:env` / `deckhand:service` tags name. An alarm
    /// CloudWatch no longer has, or without both tags, maps to nothing; names that are not
    /// valid env or service names are ignored the same way (and logged).
    async fn tagged(
        &self,
        change: &AlarmChange,
    ) -> Result<Option<(EnvName, ServiceName)>, PortError> {
        let tags = match self
            .ports
            .monitor()
            .alarm_tags(&change.alarm, change.arn.as_deref())
            .await
        {
            Ok(tags) => tags,
            Err(PortError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let (Some(env), Some(service)) = (tags.get(ENV_TAG), tags.get(SERVICE_TAG)) else {
            return Ok(None);
        };
        match (EnvName::parse(env), ServiceName::parse(service)) {
            (Ok(env), Ok(service)) => Ok(Some((env, service))),
            _ => {
                tracing::warn!(alarm = %change.alarm, env, service, "alarm's deckhand: tags are not valid names; ignored");
                Ok(None)
            }
        }
    }

    pub(crate) async fn in_flight(&self, env: &EnvName) -> Result<Option<Deployment>, PortError> {
        let now = self.ports.clock().now();
        match self.ports.store().get_lock(env).await? {
            Some(l) if l.is_live(now) => match l.owner {
                LockOwner::Deployment { id } => self.ports.store().get_deployment(id).await,
                LockOwner::Person { .. } => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// `/rollback ENV [SERVICE…] [to VERSION]`: back to last known-good, or to a named version
    /// that ran there before and was not judged bad.
    pub async fn manual_rollback(
        &self,
        env: &EnvName,
        services: &[ServiceName],
        to: Option<&Version>,
        actor: &Actor,
        event_key: &EventKey,
    ) -> Result<Requested, RequestError> {
        let env = self.env_config(env)?;
        let now = self.ports.clock().now();
        let id = match self.claim_event(event_key, now).await? {
            Claimed::Again(d) => {
                return Ok(Requested {
                    deployment: *d,
                    duplicate: true,
                    notes: Vec::new(),
                });
            }
            Claimed::Retry(id) => {
                self.answered_before(event_key).await?;
                id
            }
            Claimed::First(id) => id,
        };
        let decided = self.plan_manual(env, services, to, actor, now).await;
        let ManualRollback { targets, leaving } =
            self.final_answer(event_key, now, decided).await?;
        // Once nothing can refuse it: the way cleared (a deploy in flight superseded, so it
        // cannot finish as succeeded on a release judged bad), then the verdicts, then the
        // rollback. A delivery that dies in between leaves each step done, and its retry (the
        // same plan) does the rest.
        self.clear_the_way(env, id, actor).await?;
        let verdict = Verdict::rolled_back_by(actor.display(), now);
        for (service, deployment, to) in leaving {
            self.judge(env, &service, deployment, &verdict, Some(to))
                .await?;
        }
        let kind = DeploymentKind::Rollback {
            automatic: false,
            reason: format!("requested by {}", actor.display()),
            of: None,
        };
        // The event is claimed and the way cleared above: straight to creating it.
        let (draft, reason) = self.rollback_draft(env, id, targets, kind, actor.clone())?;
        self.create_and_submit(env, draft, reason).await
    }

    async fn plan_manual(
        &self,
        env: &EnvConfig,
        services: &[ServiceName],
        to: Option<&Version>,
        actor: &Actor,
        now: jiff::Timestamp,
    ) -> Result<ManualRollback, RequestError> {
        policy::may_deploy(self.config, env, actor)?;
        let mut seen = Vec::new();
        for service in services {
            let cfg = self.service_config(service)?;
            let releases = self.ports.store().releases(&env.name, service, 50).await?;
            let running = self.ports.platform().running(&env.cluster, cfg).await?;
            seen.push((service, releases, running.task_definition));
        }
        let now_running: Vec<ServiceNow<'_>> = seen
            .iter()
            .map(|(service, releases, running)| ServiceNow {
                service,
                releases,
                running,
            })
            .collect();
        plan_manual(&now_running, to, env.bake, now).map_err(|refusal| match refusal {
            ManualRefusal::NoTarget { service, what } => RequestError::NoRollbackTarget {
                service,
                env: env.name.clone(),
                what,
            },
            ManualRefusal::AlreadyThere { detail } => RequestError::NothingToRollBack { detail },
        })
    }

    /// Makes room for rollback `id` in `env`: a deployment in flight there is superseded, a
    /// person's lock is broken (and said so). Rollbacks wait for no lock. Idempotent.
    async fn clear_the_way(
        &self,
        env: &EnvConfig,
        id: DeploymentId,
        actor: &Actor,
    ) -> Result<(), RequestError> {
        let now = self.ports.clock().now();
        if let Some(lock) = self
            .ports
            .store()
            .get_lock(&env.name)
            .await?
            .filter(|l| l.is_live(now) && l.owner != LockOwner::Deployment { id })
        {
            match &lock.owner {
                LockOwner::Deployment { id: other } => {
                    if let Some(d) = self.ports.store().get_deployment(*other).await?
                        && !d.state.is_terminal()
                    {
                        let d = self.take_up_step_in_doubt(d, actor).await?;
                        self.drive(d, Input::Superseded { by: id }, actor).await?;
                    }
                    self.ports
                        .store()
                        .release_lock(&env.name, &lock.owner)
                        .await?;
                }
                LockOwner::Person { .. } => {
                    self.ports.store().break_lock(&env.name).await?;
                    self.announce(
                        env,
                        &format!(
                            "Rollback {id} took {}'s lock on {} ({}).",
                            lock.held_by.display(),
                            env.name,
                            lock.reason
                        ),
                    )
                    .await;
                }
            }
        }
        Ok(())
    }

    /// Creates and starts a rollback deployment to the given releases. Rollbacks do not wait
    /// for a lock: a deployment in flight is superseded, a manual lock is broken (and said so).
    pub(crate) async fn roll_back_to(
        &self,
        env: &EnvConfig,
        targets: Vec<(Release, Option<String>)>,
        kind: DeploymentKind,
        actor: Actor,
        event_key: &EventKey,
        start: Start,
    ) -> Result<Requested, RequestError> {
        let now = self.ports.clock().now();
        let id = match self.claim_event(event_key, now).await? {
            Claimed::First(id) | Claimed::Retry(id) => id,
            Claimed::Again(d) => {
                // Its first delivery may have died before starting it.
                return Ok(Requested {
                    deployment: Box::pin(self.start(*d, start)).await?,
                    duplicate: true,
                    notes: Vec::new(),
                });
            }
        };
        self.clear_the_way(env, id, &actor).await?;
        let (draft, reason) = self.rollback_draft(env, id, targets, kind, actor)?;
        let mut requested = self.create_and_submit(env, draft, reason).await?;
        requested.deployment = Box::pin(self.start(requested.deployment, start)).await?;
        Ok(requested)
    }

    /// Starts an automatic rollback its caller just made (or found made and not started):
    /// here, or by handing it to the deploy function ([`Deployment::started_where_decided`]).
    async fn start(&self, d: Deployment, start: Start) -> Result<Deployment, RequestError> {
        if !d.started_where_decided() {
            return Ok(d);
        }
        if !d.awaits_start() {
            // Started by an earlier delivery whose rollout step did not get through (its
            // `UpdateService` failed and gave the step's lease back): send it now, not when
            // maintenance next looks. A step another delivery still holds is left to it.
            if start == Start::Here && d.pending_work().is_some() {
                return match Box::pin(self.run_deployment(d.id)).await {
                    Ok(d) => Ok(d),
                    Err(super::deploy::RunError::Port(e)) => Err(e.into()),
                    Err(super::deploy::RunError::Refused(r)) => Err(r.into()),
                    Err(super::deploy::RunError::Unknown(id)) => {
                        Err(PortError::NotFound(format!("deployment {id}")).into())
                    }
                };
            }
            return Ok(d);
        }
        match start {
            Start::Here => Ok(self
                .drive(d, Input::Started, &Actor::system("rollback"))
                .await?
                .deployment),
            Start::Dispatched => {
                use crate::ports::Dispatch as _;
                let work = crate::deployment::Work::RunDeployment { id: d.id };
                self.ports.dispatch().dispatch(&work).await?;
                Ok(d)
            }
        }
    }

    /// Rollback `id` to `targets` (each with the version it leaves), and the reason its lock
    /// gives.
    fn rollback_draft(
        &self,
        env: &EnvConfig,
        id: DeploymentId,
        targets: Vec<(Release, Option<String>)>,
        kind: DeploymentKind,
        actor: Actor,
    ) -> Result<(Draft, String), PortError> {
        let version = targets
            .first()
            .map(|(t, _)| t.image.tag.clone())
            .ok_or_else(|| PortError::Failed("a rollback needs a service".into()))?;
        let services: Vec<ServiceRelease> = targets
            .into_iter()
            .map(|(t, bad_version)| ServiceRelease {
                // Back on a revision that ran well: its checks say it is up again; its smoke
                // test is not run (a rollback does not wait ten minutes to be trusted).
                checks: self
                    .config
                    .services
                    .get(&t.service)
                    .map(|s| s.checks_for(&env.name))
                    .unwrap_or_default(),
                previous_version: bad_version,
                target_task_definition: Some(t.task_definition),
                ..ServiceRelease::new(t.service, t.image)
            })
            .collect();
        let reason = format!(
            "rollback of {}",
            ServiceName::join(
                &services
                    .iter()
                    .map(|s| s.service.clone())
                    .collect::<Vec<_>>()
            )
        );
        let draft = Draft {
            id,
            env: env.name.clone(),
            kind,
            version,
            services,
            requested_by: actor,
            required_approvals: 0,
            approval_ttl: SignedDuration::from_mins(0),
            overridden: None,
            alarms_at_start: Vec::new(),
        };
        Ok((draft, reason))
    }
}
