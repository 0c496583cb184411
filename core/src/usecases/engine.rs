//! The loop every deployment change goes through: apply an input, save conditionally, perform
//! the effects, feed their outcomes back in as inputs.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::card::{Card, deployment_card};
use crate::check::TaskState;
use crate::config::ServiceConfig;
use crate::deployment::{Deployment, DeploymentKind, Effect, Input, Refused, Work};
use crate::policy::LockOwner;
use crate::ports::{
    AuditEntry, Backups as _, Chat as _, Clock as _, Dispatch as _, Metric, MetricUnit,
    Metrics as _, Monitor as _, NewSnapshot, Platform as _, PortError, Ports, StepRollout,
    Store as _,
};
use crate::retention::SnapshotStatus;
use crate::rollback::{ServiceNow, Verdict, plan_after_failure};
use crate::rollout::{self, ImageFacts, RevisionStep, RolloutPlan};
use crate::types::{Actor, DeploymentId, EventKey, ServiceName, SignedDuration, Timestamp};

use super::App;

/// How often a conditional write may lose to another writer before we give up. Each loss
/// reloads the deployment and re-applies the input, which then usually is a duplicate.
const MAX_CONFLICTS: usize = 8;

/// How long one delivery may perform a rollout step before another may take it over: a
/// rollout is five AWS calls, each bounded by the SDK's 30-second operation timeout. A step
/// that fails gives its lease back at once, so Lambda's retry resumes it without waiting.
pub const STEP_LEASE: SignedDuration = SignedDuration::from_mins(3);

/// Effects that must not be performed twice for one revision: each rollout registers a task
/// definition and starts an ECS deployment, and a second one would leave the deployment
/// waiting for an event about the first. They run under the step's lease. The other steps
/// are safe to repeat and take none: a snapshot is named by its deployment, a migration task
/// is found again by its deployment (`Platform::run_migration`), and so is a smoke task
/// (`Platform::start_smoke`); a check only reads, and its outcome names its try.
pub(crate) fn is_step(effect: &Effect) -> bool {
    matches!(effect, Effect::Roll { .. })
}

/// A held lease on performing a deployment's steps at one revision.
#[derive(Debug)]
pub(crate) struct StepLease {
    pub(crate) key: String,
    pub(crate) holder: String,
}

impl StepLease {
    /// The lease on `d`'s steps at its current revision, for a holder unique to this call.
    pub(crate) fn on(d: &Deployment, now: Timestamp) -> StepLease {
        StepLease {
            key: format!("step#{}#{}", d.id, d.revision),
            holder: lease_holder(now),
        }
    }
}

/// Who holds a lease: unique per call in this process, and across processes by time.
pub(crate) fn lease_holder(now: Timestamp) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        now.as_millisecond()
    )
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DriveError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// What driving an input did.
#[derive(Debug, Clone)]
pub(crate) struct Driven {
    pub deployment: Deployment,
    /// False when the first input was a duplicate: nothing was saved or done.
    pub changed: bool,
}

impl<P: Ports> App<'_, P> {
    /// Applies `input` to deployment `d` (as loaded) and everything that follows from it.
    pub(crate) async fn drive(
        &self,
        d: Deployment,
        input: Input,
        actor: &Actor,
    ) -> Result<Driven, DriveError> {
        self.drive_all(d, vec![input], actor).await
    }

    /// Applies `inputs` in order to deployment `d` (as loaded) and everything that follows
    /// from them; `changed` says whether the first one changed anything.
    pub(crate) async fn drive_all(
        &self,
        d: Deployment,
        inputs: Vec<Input>,
        actor: &Actor,
    ) -> Result<Driven, DriveError> {
        let store = self.ports.store();
        let mut d = d;
        let mut queue = VecDeque::from(inputs);
        let mut first = true;
        let mut changed_first = false;
        let mut conflicts = 0;
        // What this delivery last showed on every card: an update that would show the same
        // again (a step that changes nothing the card says) is not sent.
        let mut showing: Option<Card> = None;
        while let Some(input) = queue.pop_front() {
            let now = self.ports.clock().now();
            let step = d.apply(&input, now)?;
            if !step.changed {
                first = false;
                continue;
            }
            match store.save_deployment(&step.deployment).await {
                Ok(()) => {}
                Err(PortError::Conflict(why)) if conflicts < MAX_CONFLICTS => {
                    conflicts += 1;
                    tracing::debug!(deployment = %d.id, %why, "lost a conditional write; reloading");
                    d = store
                        .get_deployment(d.id)
                        .await?
                        .ok_or_else(|| PortError::NotFound(format!("deployment {}", d.id)))?;
                    queue.push_front(input);
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            if first {
                changed_first = true;
                first = false;
            }
            d = step.deployment;
            // This save made the revision, so its lease is normally free; a delivery resuming
            // the same revision in between may have taken it, and then performs the steps.
            let lease = if step.effects.iter().any(is_step) {
                self.lease_step(&d).await?
            } else {
                None
            };
            for effect in step.effects {
                if is_step(&effect) && lease.is_none() {
                    tracing::info!(deployment = %d.id, ?effect, "another delivery performs this step");
                    continue;
                }
                if effect == Effect::UpdateCard {
                    match self.update_cards_unless(&d, showing.as_ref()).await {
                        Ok(shown) => showing = shown,
                        Err(e) => {
                            self.give_back(lease).await;
                            return Err(e.into());
                        }
                    }
                    continue;
                }
                // Boxed: `perform` holds the largest futures (every port's), and the loop would
                // otherwise carry them inline in every caller's future.
                match Box::pin(self.perform(&d, effect, actor)).await {
                    Ok(next) => queue.extend(next),
                    Err(e) => {
                        self.give_back(lease).await;
                        return Err(e.into());
                    }
                }
            }
        }
        Ok(Driven {
            deployment: d,
            changed: changed_first,
        })
    }

    /// Takes the lease on performing `d`'s steps at its current revision: `None` when another
    /// delivery holds it.
    pub(crate) async fn lease_step(&self, d: &Deployment) -> Result<Option<StepLease>, PortError> {
        let now = self.ports.clock().now();
        let lease = StepLease::on(d, now);
        let taken = self
            .ports
            .store()
            .lease(&lease.key, &lease.holder, now, now + STEP_LEASE)
            .await?;
        Ok(taken.then_some(lease))
    }

    /// Gives a step's lease back after the step failed, so a retry need not wait it out. Best
    /// effort: if the store cannot be reached the lease simply runs out.
    pub(crate) async fn give_back(&self, lease: Option<StepLease>) {
        if let Some(l) = lease
            && let Err(e) = self.ports.store().end_lease(&l.key, &l.holder).await
        {
            tracing::warn!(lease = %l.key, error = %e, "could not give a step's lease back; it runs out by itself");
        }
    }

    pub(crate) fn service_config(&self, name: &ServiceName) -> Result<&ServiceConfig, PortError> {
        self.config
            .services
            .get(name)
            .ok_or_else(|| PortError::NotFound(format!("service {name} is not in the config")))
    }

    /// A line in the thread of each of the deployment's cards.
    pub(crate) async fn reply(&self, id: DeploymentId, text: &str) -> Result<(), PortError> {
        for r in self.ports.store().cards(id).await? {
            if let Err(e) = self.ports.chat().reply(&r, text).await {
                tracing::warn!(deployment = %id, message = %r.id, error = %e, "could not reply in the thread");
            }
        }
        Ok(())
    }

    /// Carries out one effect. Effects whose outcome the deployment waits for return it as
    /// the next input.
    pub(crate) async fn perform(
        &self,
        d: &Deployment,
        effect: Effect,
        actor: &Actor,
    ) -> Result<Vec<Input>, PortError> {
        let p = self.ports;
        let env = self.env_config(&d.env)?;
        let now = p.clock().now();
        match effect {
            Effect::PostCard => {
                let card = deployment_card(d, now);
                let mut refs = p.store().cards(d.id).await?;
                if refs.is_empty() {
                    let mut all = true;
                    for ch in self.channels(env) {
                        match p.chat().post_card(&ch, &card).await {
                            Ok(r) => refs.push(r),
                            Err(e) => {
                                all = false;
                                tracing::warn!(deployment = %d.id, channel = %ch.id, error = %e, "could not post the card");
                            }
                        }
                    }
                    p.store().set_cards(d.id, &refs).await?;
                    if all && !refs.is_empty() {
                        p.store().card_shown(d.id, d.revision).await?;
                    }
                }
            }
            Effect::UpdateCard => self.update_cards(d, now).await?,
            Effect::Reply { text } => self.reply(d.id, &text).await?,
            Effect::Tell { to: Some(to), text } => {
                // Best effort: the response URL may have lapsed (30 minutes for Slack).
                if let Err(e) = p.chat().respond(&to, &text).await {
                    tracing::warn!(deployment = %d.id, error = %e, "could not answer the requester privately");
                }
            }
            Effect::Tell { to: None, text } => self.announce(env, &text).await,
            Effect::Dispatch { work } => p.dispatch().dispatch(&work).await?,
            Effect::TakeSnapshot { service, plan } => {
                // Boxed: three waits of its own, reached inside a failed deploy's rollback too.
                return Box::pin(self.take_snapshot(d, service, plan)).await;
            }
            Effect::RunMigration { service } => {
                let cfg = self.service_config(&service)?;
                let release = release_of(d, &service)?;
                let Some(command) = &release.migration else {
                    return Ok(Vec::new());
                };
                let exit_code = p
                    .platform()
                    .run_migration(
                        &env.cluster,
                        cfg,
                        &release.image,
                        command,
                        &d.id.to_string(),
                    )
                    .await?;
                return Ok(vec![Input::MigrationFinished { service, exit_code }]);
            }
            Effect::Roll { service } => {
                // Boxed: the largest step, and reached twice on one stack when a failed deploy
                // drives its own rollback.
                return Box::pin(self.roll(d, service)).await;
            }
            Effect::Check { .. }
            | Effect::RunSmoke { .. }
            | Effect::LookAtSmoke { .. }
            | Effect::StopSmoke { .. } => {
                // Boxed: reached from inside a failed deploy's own rollback, on one stack.
                return Box::pin(self.verify(d, effect)).await;
            }
            Effect::Wake { at } => {
                let delay = at.duration_since(now).max(SignedDuration::ZERO);
                p.dispatch()
                    .dispatch_after(
                        &Work::Wake {
                            id: d.id,
                            revision: d.revision,
                        },
                        delay,
                    )
                    .await?;
            }
            Effect::StartRollback { services, reason } => {
                // Boxed: it drives a second deployment from inside this one's loop.
                Box::pin(self.start_rollback(d, env, &services, &reason, now)).await?;
            }
            Effect::RecordRelease { service } => {
                let release = release_of(d, &service)?;
                p.store()
                    .record_release(&d.release_record(release, now))
                    .await?;
            }
            Effect::ReleaseLock => {
                p.store()
                    .release_lock(&d.env, &LockOwner::Deployment { id: d.id })
                    .await?;
            }
            Effect::EmitMetric { name, value } => {
                let unit = if name.ends_with("Seconds") {
                    MetricUnit::Seconds
                } else {
                    MetricUnit::Count
                };
                let metric = Metric {
                    name,
                    value,
                    unit,
                    dimensions: vec![("Environment".into(), d.env.to_string())],
                };
                if let Err(e) = p.metrics().emit(&[metric]).await {
                    tracing::warn!(deployment = %d.id, error = %e, "could not emit a metric");
                }
            }
            Effect::Audit { action, detail } => {
                p.store()
                    .append_audit(&AuditEntry {
                        env: d.env.clone(),
                        at: now,
                        actor: actor.clone(),
                        action,
                        detail,
                        deployment: Some(d.id),
                    })
                    .await?;
            }
        }
        Ok(Vec::new())
    }
}

impl<P: Ports> App<'_, P> {
    /// A snapshot of `plan`'s target before `service` changes: taken, waited for, and copied to
    /// the plan's `copy_to` region; the outcome as the input it gives.
    async fn take_snapshot(
        &self,
        d: &Deployment,
        service: ServiceName,
        plan: String,
    ) -> Result<Vec<Input>, PortError> {
        let p = self.ports;
        let Some(plan_cfg) = self.config.backups.get(&plan) else {
            return Ok(vec![Input::SnapshotFailed {
                service,
                reason: format!("backup plan {plan} is not in the config"),
            }]);
        };
        let snapshot = format!("deckhand-{plan}-{}", d.id.to_string().to_ascii_lowercase());
        let tags = super::backup::tags(plan_cfg, Some(d.id));
        let new = NewSnapshot::new(plan_cfg, &snapshot, &tags);
        match p.backups().create(new).await {
            Ok(()) | Err(PortError::Conflict(_)) => {}
            Err(e) => {
                return Ok(vec![Input::SnapshotFailed {
                    service,
                    reason: e.to_string(),
                }]);
            }
        }
        Ok(vec![match p.backups().wait(plan_cfg, &snapshot).await? {
            SnapshotStatus::Available => {
                // Copied like every snapshot of a plan with `copy_to`; best effort, the
                // deploy goes on either way (the plan's next run prunes the copies).
                if plan_cfg.copy_to.is_some() {
                    match p.backups().copy(new).await {
                        Ok(()) | Err(PortError::Conflict(_)) => {}
                        Err(e) => {
                            tracing::error!(deployment = %d.id, %snapshot, error = %e, "could not copy the snapshot taken before the deploy");
                        }
                    }
                }
                Input::SnapshotTaken { service, snapshot }
            }
            status => Input::SnapshotFailed {
                service,
                reason: format!("snapshot {snapshot} ended {status:?}"),
            },
        }])
    }
}

impl<P: Ports> App<'_, P> {
    /// One step of verifying a service: a check's try, or starting, looking at or stopping
    /// its smoke task. Returns the outcome as the input it gives.
    async fn verify(&self, d: &Deployment, effect: Effect) -> Result<Vec<Input>, PortError> {
        let p = self.ports;
        let env = self.env_config(&d.env)?;
        match effect {
            Effect::Check {
                service,
                check,
                attempt,
            } => {
                let release = release_of(d, &service)?;
                let Some(c) = release.checks.get(check) else {
                    return Ok(Vec::new());
                };
                let probe = p.monitor().probe(&c.url, c.timeout).await?;
                Ok(vec![Input::Checked {
                    service,
                    check,
                    attempt,
                    failure: c.judge(&probe).err(),
                }])
            }
            Effect::RunSmoke { service } => {
                let cfg = self.service_config(&service)?;
                let release = release_of(d, &service)?;
                let (Some(smoke), Some(td)) = (&release.smoke, &release.progress.task_definition)
                else {
                    return Ok(Vec::new());
                };
                let task = p
                    .platform()
                    .start_smoke(&env.cluster, cfg, td, &smoke.command, &d.id.to_string())
                    .await?;
                Ok(vec![Input::SmokeStarted { service, task }])
            }
            Effect::LookAtSmoke { service, task } => {
                let cfg = self.service_config(&service)?;
                let state = p.platform().task_state(&env.cluster, cfg, &task).await?;
                Ok(vec![Input::SmokeLooked {
                    service,
                    task,
                    state,
                }])
            }
            Effect::StopSmoke { service, task } => {
                let cfg = self.service_config(&service)?;
                // Past its timeout, but it may have finished while nobody looked (a lost
                // wake): then its own outcome stands.
                let state = p.platform().task_state(&env.cluster, cfg, &task).await?;
                if state != TaskState::Running {
                    return Ok(vec![Input::SmokeLooked {
                        service,
                        task,
                        state,
                    }]);
                }
                let log_tail = p
                    .platform()
                    .stop_task(
                        &env.cluster,
                        cfg,
                        &task,
                        &format!(
                            "Deckhand: the smoke test of deployment {} ran past its timeout",
                            d.id
                        ),
                    )
                    .await?;
                Ok(vec![Input::SmokeStopped {
                    service,
                    task,
                    log_tail,
                }])
            }
            _ => Ok(Vec::new()),
        }
    }
}

impl<P: Ports> App<'_, P> {
    /// A rollout step for one service: the last checks, then ECS (see [`rollout`]).
    async fn roll(&self, d: &Deployment, service: ServiceName) -> Result<Vec<Input>, PortError> {
        let p = self.ports;
        let env = self.env_config(&d.env)?;
        let cfg = self.service_config(&service)?;
        let release = release_of(d, &service)?;
        let releases = p.store().releases(&d.env, &service, 50).await?;
        let rollout = match rollout::plan(&d.kind, release) {
            RolloutPlan::Revision(td) => {
                let running = p.platform().running(&env.cluster, cfg).await?;
                // Who put the service where it is matters only when that is the target.
                let claimed_by = match &running.ecs_deployment {
                    Some(ecs) if running.task_definition == td => {
                        p.store().deployment_by_ecs_id(ecs).await?.map(|o| o.id)
                    }
                    _ => None,
                };
                match rollout::check_revision(d.id, &service, td, &releases, &running, claimed_by) {
                    RevisionStep::Send => {
                        p.platform()
                            .roll_back(&env.cluster, cfg, td, Some(&running.task_definition))
                            .await?
                    }
                    RevisionStep::TakeUp(rollout) => rollout,
                    RevisionStep::Refuse(reason) => {
                        return Ok(vec![Input::Aborted { reason }]);
                    }
                }
            }
            RolloutPlan::Image(image) => {
                let resolves_to = p
                    .platform()
                    .resolve_image(&image.repository, &image.tag)
                    .await?;
                let facts = ImageFacts {
                    releases: &releases,
                    overridden: d.overridden.is_some(),
                    resolves_to: resolves_to.as_ref(),
                };
                let step = rollout::step_name(d.id, &service);
                if let Err(reason) = rollout::check_image(&service, image, facts) {
                    // An earlier attempt of this step may have got through before it
                    // died: a release already on ECS is this deployment's to follow
                    // and put back, not to forget.
                    let running = p.platform().running(&env.cluster, cfg).await?;
                    let aborted = Input::Aborted { reason };
                    return Ok(match rollout::earlier_attempt(&running, &step) {
                        Some(r) => vec![
                            Input::RolloutStarted {
                                service,
                                task_definition: r.task_definition,
                                ecs_deployment: r.ecs_deployment,
                            },
                            aborted,
                        ],
                        None => vec![aborted],
                    });
                }
                match p
                    .platform()
                    .roll_out(&env.cluster, cfg, image, &step)
                    .await?
                {
                    StepRollout::Rolling(rollout) => rollout,
                    StepRollout::Undone { task_definition } => {
                        let reason = rollout::undone(&service, image, &task_definition);
                        return Ok(vec![Input::Aborted { reason }]);
                    }
                }
            }
        };
        Ok(vec![Input::RolloutStarted {
            service,
            task_definition: rollout.task_definition,
            ecs_deployment: rollout.ecs_deployment,
        }])
    }

    /// Before a deployment in flight is stopped from outside (an alarm, another deployment
    /// taking the environment): a rollout step whose attempt died after `UpdateService` left
    /// its service on this deployment's revision unrecorded. That rollout is taken up first,
    /// so the stop puts the service back instead of forgetting it was changed.
    pub(crate) async fn take_up_step_in_doubt(
        &self,
        d: Deployment,
        actor: &Actor,
    ) -> Result<Deployment, DriveError> {
        let Some(service) = d.step_in_doubt().cloned() else {
            return Ok(d);
        };
        let env = self.env_config(&d.env)?;
        let cfg = self.service_config(&service)?;
        let running = self.ports.platform().running(&env.cluster, cfg).await?;
        let step = rollout::step_name(d.id, &service);
        let Some(r) = rollout::earlier_attempt(&running, &step) else {
            return Ok(d);
        };
        tracing::warn!(deployment = %d.id, %service, ecs_deployment = %r.ecs_deployment, "taking up a rollout an attempt sent and did not record");
        let input = Input::RolloutStarted {
            service,
            task_definition: r.task_definition,
            ecs_deployment: r.ecs_deployment,
        };
        // Boxed: this is reached from inside the engine too (a rollback clearing its way).
        Ok(Box::pin(self.drive(d, input, actor)).await?.deployment)
    }

    /// A deploy failed after changing `services`: judge what it released there bad, and put
    /// them back on their last known-good revisions through a `Rollback` deployment — the same
    /// road an alarm's rollback takes, with its own card, lock and ECS outcome.
    async fn start_rollback(
        &self,
        d: &Deployment,
        env: &crate::config::EnvConfig,
        services: &[ServiceName],
        reason: &str,
        now: Timestamp,
    ) -> Result<(), PortError> {
        let p = self.ports;
        let verdict = Verdict::failed_deploy(d.id, now, reason);
        let mut seen = Vec::new();
        for service in services {
            let cfg = self.service_config(service)?;
            let releases = p.store().releases(&d.env, service, 50).await?;
            // Only a service that finished has a release to judge; judging is conditional, so
            // a retry judges nothing twice.
            p.store()
                .judge_release(&d.env, service, d.id, &verdict)
                .await?;
            let running = p.platform().running(&env.cluster, cfg).await?;
            let from = release_of(d, service)?.image.tag.to_string();
            seen.push((service, releases, running.task_definition, from));
        }
        let now_running: Vec<(ServiceNow<'_>, &str)> = seen
            .iter()
            .map(|(service, releases, running, from)| {
                let s = ServiceNow {
                    service,
                    releases,
                    running,
                };
                (s, from.as_str())
            })
            .collect();
        let (targets, lines) = plan_after_failure(&now_running, d.id, env.bake, now);
        for line in lines {
            self.reply(d.id, &line).await?;
        }
        if targets.is_empty() {
            return Ok(());
        }
        let targets_len = targets.len();
        let names = ServiceName::join(
            &targets
                .iter()
                .map(|(t, _)| t.service.clone())
                .collect::<Vec<_>>(),
        );
        let kind = DeploymentKind::Rollback {
            automatic: true,
            reason: reason.to_owned(),
            of: Some(d.id),
        };
        // Boxed: the rollback is driven by this same engine, which is what called us.
        let started = Box::pin(self.roll_back_to(
            env,
            targets,
            kind,
            Actor::system("deploy failure"),
            &EventKey::after_failure(d.id),
            super::rollback::Start::Dispatched,
        ))
        .await
        .map_err(|e| match e {
            super::RequestError::Port(e) => e,
            other => PortError::Failed(other.to_string()),
        })?;
        if !started.duplicate {
            self.reply(
                d.id,
                &format!(
                    "Rolling {names} back to {} last known-good revision{}: {}.",
                    if targets_len == 1 { "its" } else { "their" },
                    if targets_len == 1 { "" } else { "s" },
                    started.deployment.id
                ),
            )
            .await?;
        }
        Ok(())
    }
}

impl<P: Ports> App<'_, P> {
    /// Brings `d`'s cards up to date; when every one took the update, records the revision
    /// they show, so maintenance can find cards a failed update (chat down) left behind.
    pub(crate) async fn update_cards(
        &self,
        d: &Deployment,
        now: Timestamp,
    ) -> Result<(), PortError> {
        self.show_card(d, deployment_card(d, now)).await.map(|_| ())
    }

    /// Updates `d`'s cards unless every one already shows exactly what they would now
    /// (`showing`: what this delivery last put on all of them); either way they show `d`'s
    /// revision afterwards. Returns what every card shows now, if that is known.
    async fn update_cards_unless(
        &self,
        d: &Deployment,
        showing: Option<&Card>,
    ) -> Result<Option<Card>, PortError> {
        let card = deployment_card(d, self.ports.clock().now());
        if showing == Some(&card) {
            self.ports.store().card_shown(d.id, d.revision).await?;
            return Ok(Some(card));
        }
        self.show_card(d, card).await
    }

    /// Puts `card` on every card of `d`; the card when all of them took it.
    async fn show_card(&self, d: &Deployment, card: Card) -> Result<Option<Card>, PortError> {
        let p = self.ports;
        let refs = p.store().cards(d.id).await?;
        let mut all = true;
        for r in &refs {
            if let Err(e) = p.chat().update_card(r, &card).await {
                all = false;
                tracing::warn!(deployment = %d.id, message = %r.id, error = %e, "could not update the card");
            }
        }
        if all && !refs.is_empty() {
            p.store().card_shown(d.id, d.revision).await?;
            return Ok(Some(card));
        }
        Ok(None)
    }
}

/// The part of `d` that deploys `service`.
fn release_of<'d>(
    d: &'d Deployment,
    service: &ServiceName,
) -> Result<&'d crate::deployment::ServiceRelease, PortError> {
    d.services
        .iter()
        .find(|s| &s.service == service)
        .ok_or_else(|| PortError::NotFound(format!("{service} is not part of deployment {}", d.id)))
}
