//! Maintenance: what the passing of time implies, on a schedule (every 5 minutes in AWS, an
//! interval in `deckhand serve`, every `wait` in `deckhand dev`). Approvals past their window
//! expire, locks past theirs are released, work lost in flight is resumed from where the store
//! says, rollouts ECS never reported are reconciled from ECS's own record (and given up past
//! their limit), releases that baked clean become known-good, and a heartbeat says it ran.
//!
//! What is due is decided by pure functions ([`Deployment::due`], [`EnvLock::due`]); this only
//! performs it, through the same idempotent entry points the events use, so it is safe to run
//! at any time, any number of times at once, alongside any handler.

use crate::config::EnvConfig;
use crate::deployment::{Deployment, Due, Input, Limits};
use crate::policy::{EnvLock, LockDue, LockOwner};
use crate::ports::{
    Backups as _, Clock as _, Metric, Metrics as _, Platform as _, PortError, Store as _,
};
use crate::retention::SnapshotStatus;
use crate::schedule::{self, Schedule};
use crate::types::{Actor, DeploymentId, SignedDuration, Timestamp};

use super::App;
use super::deploy::RunError;

/// The heartbeat maintenance emits on every run; the template alarms when it stops.
pub const HEARTBEAT: &str = "MaintenanceHeartbeat";

/// How many backup plans are behind their schedule, emitted on every run; the template alarms
/// while it is above zero.
pub const BACKUPS_MISSED: &str = "BackupsMissed";

/// A timestamp as a claim value.
fn ms(t: Timestamp) -> String {
    t.as_millisecond().to_string()
}

/// How many of an environment's newest deployments maintenance looks through for ones still
/// open. Only one deployment is in flight per environment and pending approvals expire within
/// their window, so the open ones are among the newest.
const OPEN_WITHIN: usize = 25;

/// How long after a deployment's last change maintenance still brings its cards up to date.
pub const CARDS_KEPT_CURRENT: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintained {
    /// Releases judged known-good.
    pub baked: usize,
    /// Approvals that expired with nobody clicking.
    pub expired: Vec<DeploymentId>,
    /// Deployments whose lost step was performed again (a dispatch that never arrived, a
    /// function that died mid-step, an outage).
    pub resumed: Vec<DeploymentId>,
    /// Deployments finished from ECS's own record because its event never arrived, or given
    /// up because ECS did not finish within the limit.
    pub reconciled: Vec<DeploymentId>,
    /// Locks released: people's past their expiry, and deployments' that outlived them.
    pub unlocked: Vec<String>,
    /// Deployments whose cards were brought up to date (an earlier update failed).
    pub cards: Vec<DeploymentId>,
    /// Backup plans whose last scheduled firing left no good backup.
    pub backups_missed: Vec<String>,
    /// Changes made to the plans' schedules to match the config.
    pub schedules: Vec<String>,
}

impl Maintained {
    /// One line for `deckhand dev` and the log.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let ids = |v: &[DeploymentId]| {
            v.iter()
                .map(DeploymentId::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.baked > 0 {
            parts.push(format!(
                "{} became known-good",
                crate::card::count(self.baked, "release")
            ));
        }
        for (what, v) in [
            ("expired", &self.expired),
            ("resumed", &self.resumed),
            ("reconciled with ECS", &self.reconciled),
            ("cards brought up to date for", &self.cards),
        ] {
            if !v.is_empty() {
                parts.push(format!("{what} {}", ids(v)));
            }
        }
        if !self.unlocked.is_empty() {
            parts.push(format!("released {}", self.unlocked.join(", ")));
        }
        if !self.schedules.is_empty() {
            parts.push(format!("schedules {}", self.schedules.join(", ")));
        }
        if !self.backups_missed.is_empty() {
            parts.push(format!(
                "backups missed: {}",
                self.backups_missed.join(", ")
            ));
        }
        if parts.is_empty() {
            "nothing was due".into()
        } else {
            parts.join("; ")
        }
    }
}

impl<P: crate::ports::Ports> App<'_, P> {
    /// Runs everything that is due. Each environment is looked after on its own: one that
    /// fails (an outage, a throttled call) does not stop the others, and the first error is
    /// returned after all were tried, so the schedule's retry and alarms see it.
    pub async fn maintain(&self) -> Result<Maintained, RunError> {
        let mut done = Maintained::default();
        let mut first_error = None;
        for env in self.config.environments.values() {
            if let Err(e) = self.maintain_env(env, &mut done).await {
                tracing::warn!(env = %env.name, error = %e, "maintenance of this environment failed; the next run tries again");
                first_error.get_or_insert(e);
            }
        }
        match self.bake_check().await {
            Ok(n) => done.baked = n,
            Err(e) => {
                first_error.get_or_insert(e.into());
            }
        }
        match self.reconcile_schedules().await {
            Ok(changes) => done.schedules = changes,
            Err(e) => {
                first_error.get_or_insert(e.into());
            }
        }
        match self.watch_backups().await {
            Ok(missed) => done.backups_missed = missed,
            Err(e) => {
                first_error.get_or_insert(e.into());
            }
        }
        // The dead-man's switch: the template alarms when this stops arriving.
        if let Err(e) = self.ports.metrics().emit(&[Metric::once(HEARTBEAT)]).await {
            tracing::warn!(error = %e, "could not emit the maintenance heartbeat");
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Makes the schedule group what the config's backup plans say (see
    /// [`schedule::reconcile`]); returns what it changed. Nothing where nothing schedules.
    pub async fn reconcile_schedules(&self) -> Result<Vec<String>, PortError> {
        let backups = self.ports.backups();
        let Some((target, existing)) = backups.schedules().await? else {
            return Ok(Vec::new());
        };
        let desired = schedule::desired(self.config, &target);
        let mut done = Vec::new();
        for change in schedule::reconcile(&desired, &existing) {
            match backups.change_schedule(&change).await {
                // Another maintenance run got there first.
                Ok(()) | Err(PortError::Conflict(_) | PortError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            tracing::info!(%change, "backup schedule changed to match the config");
            done.push(change.to_string());
        }
        Ok(done)
    }

    /// Every backup plan's newest good backup against its schedule: a plan whose last firing
    /// left none is told to its channel once (per newest good backup), and once more when a good
    /// backup clears it; `BackupsMissed` counts the plans behind, for the template's alarm.
    async fn watch_backups(&self) -> Result<Vec<String>, PortError> {
        let p = self.ports;
        let now = p.clock().now();
        let keep = now + SignedDuration::from_hours(24 * 30);
        let mut missed = Vec::new();
        for plan in self.config.backups.values() {
            let Ok(schedule) = Schedule::parse(&plan.schedule, &plan.timezone) else {
                continue; // the config checked it; a zone unknown here is no reason to stop
            };
            let env = self.env_config(&plan.env)?;
            // Nothing is expected of a plan before Deckhand first looked at it.
            let since_key = format!("backup-watch#{}", plan.name);
            let for_good = now + SignedDuration::from_hours(24 * 3650);
            // Read first: after the plan's first run this is a read, not a refused write.
            let seen = match p.store().claimed(&since_key).await? {
                Some(first) => Some(first),
                None => p.store().claim(&since_key, &ms(now), for_good).await?,
            };
            let watched_since = match seen {
                Some(first) => first
                    .parse()
                    .ok()
                    .and_then(|n| Timestamp::from_millisecond(n).ok())
                    .unwrap_or(now),
                None => now,
            };
            let good: Vec<Timestamp> = p
                .store()
                .backups(&plan.name, 50)
                .await?
                .iter()
                .filter(|b| b.status == SnapshotStatus::Available)
                .map(|b| b.finished_at)
                .collect();
            let episode = |newest_good: Option<&Timestamp>| {
                format!(
                    "backup-missed#{}#{}",
                    plan.name,
                    newest_good.map_or_else(|| "none".to_owned(), |t| ms(*t))
                )
            };
            let kept = schedule::watch(&schedule, good.first().copied(), watched_since, now);
            if let Some(words) = schedule::missed_words(&plan.name, &kept, now) {
                missed.push(plan.name.clone());
                if p.store()
                    .claim(&episode(good.first()), &words, keep)
                    .await?
                    .is_none()
                {
                    self.announce(env, &words).await;
                }
                continue;
            }
            // Up to date: if the backups before the newest were announced missing, say it
            // cleared, once.
            let Some(newest) = good.first() else { continue };
            let before = episode(good.get(1));
            if p.store().claimed(&before).await?.is_some()
                && p.store()
                    .claim(&format!("{before}#cleared"), "told", keep)
                    .await?
                    .is_none()
            {
                let words = format!(
                    "✅ {}: backing up again — a good backup finished at {}.",
                    plan.name,
                    newest.strftime("%Y-%m-%d %H:%M UTC")
                );
                self.announce(env, &words).await;
            }
        }
        let metric = Metric {
            name: BACKUPS_MISSED.into(),
            value: missed.len() as f64,
            unit: crate::ports::MetricUnit::Count,
            dimensions: Vec::new(),
        };
        if let Err(e) = p.metrics().emit(&[metric]).await {
            tracing::warn!(error = %e, "could not emit the missed-backups metric");
        }
        Ok(missed)
    }

    async fn maintain_env(&self, env: &EnvConfig, done: &mut Maintained) -> Result<(), RunError> {
        let store = self.ports.store();
        let limits = Limits::with_rollout(env.lock_ttl);
        let now = self.ports.clock().now();
        let recent = store
            .recent_deployments(&env.name, None, OPEN_WITHIN)
            .await?;
        for d in recent {
            // Cards a failed update left behind, for a day after the deployment last changed.
            let recent = now < d.state_since + CARDS_KEPT_CURRENT;
            let shown = if recent {
                store.shown_revision(d.id).await?
            } else {
                None
            };
            // Whether it has cards at all is only worth a read when nothing says they show it.
            let posted = recent && (shown.is_some() || !store.cards(d.id).await?.is_empty());
            if d.cards_behind(shown, posted) {
                self.update_cards(&d, now).await?;
                done.cards.push(d.id);
            }
            if !d.state.is_terminal() {
                self.maintain_deployment(env, d, limits, done).await?;
            }
        }
        // After the deployments: one that just finished released its own lock.
        if let Some(lock) = store.get_lock(&env.name).await? {
            self.maintain_lock(env, lock, self.ports.clock().now(), done)
                .await?;
        }
        Ok(())
    }

    /// Performs what is due for `d`, and again for what that led to (a resumed submission
    /// whose approval window closed meanwhile expires in the same run): at most a few rounds,
    /// each one a state change.
    async fn maintain_deployment(
        &self,
        env: &EnvConfig,
        mut d: Deployment,
        limits: Limits,
        done: &mut Maintained,
    ) -> Result<(), RunError> {
        let now = self.ports.clock().now();
        for _ in 0..3 {
            let Some(due) = d.due(now, limits) else {
                return Ok(());
            };
            let (id, before) = (d.id, d.revision);
            tracing::info!(deployment = %id, state = d.state.name(), ?due, "due");
            let overdue = matches!(due, Due::Overdue { .. });
            match due {
                Due::Expire => {
                    let actor = Actor::system("approval window");
                    self.drive(d, Input::ApprovalExpired, &actor)
                        .await
                        .map_err(RunError::from)?;
                    done.expired.push(id);
                }
                Due::Resume => {
                    self.run_deployment(id).await?;
                    done.resumed.push(id);
                }
                Due::Scheduled => {
                    self.wake(id, None).await?;
                    done.resumed.push(id);
                }
                Due::Reconcile {
                    service,
                    ecs_deployment,
                }
                | Due::Overdue {
                    service,
                    ecs_deployment,
                } => {
                    if self
                        .reconcile(env, &d, service, &ecs_deployment, overdue)
                        .await?
                    {
                        done.reconciled.push(id);
                    }
                }
            }
            match self.ports.store().get_deployment(id).await? {
                Some(next) if next.revision != before => d = next,
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// Asks ECS about a rollout whose event has not arrived, and finishes the deployment from
    /// ECS's answer; one still in progress past its limit is given up. `true` if it moved.
    async fn reconcile(
        &self,
        env: &EnvConfig,
        d: &Deployment,
        service: usize,
        ecs_deployment: &str,
        overdue: bool,
    ) -> Result<bool, RunError> {
        let Some(release) = d.services.get(service) else {
            return Ok(false);
        };
        let svc = self
            .service_config(&release.service)
            .map_err(RunError::from)?;
        let state = self
            .ports
            .platform()
            .rollout_state(&env.cluster, svc, ecs_deployment)
            .await?;
        let Some(outcome) = state.outcome(overdue, env.lock_ttl) else {
            return Ok(false);
        };
        tracing::warn!(deployment = %d.id, ecs_deployment, ?outcome, "ECS's event never arrived; finishing from ECS's record");
        self.on_rollout(ecs_deployment, outcome).await?;
        Ok(true)
    }

    async fn maintain_lock(
        &self,
        env: &EnvConfig,
        lock: EnvLock,
        now: jiff::Timestamp,
        done: &mut Maintained,
    ) -> Result<(), RunError> {
        let store = self.ports.store();
        let owner = match lock.owner {
            LockOwner::Deployment { id } => store.get_deployment(id).await?,
            LockOwner::Person { .. } => None,
        };
        let Some(due) = lock.due(owner.as_ref(), now) else {
            return Ok(());
        };
        // Conditional on the owner: a lock someone took since is left alone.
        if !store.release_lock(&env.name, &lock.owner).await? {
            return Ok(());
        }
        done.unlocked
            .push(format!("{} ({})", env.name, lock.held_by.display()));
        if due == LockDue::Lapsed {
            let line = format!(
                "🔓 {}'s lock on {} lapsed ({}); deploys are open again.",
                lock.held_by.display(),
                env.name,
                lock.reason
            );
            self.announce(env, &line).await;
        } else {
            tracing::warn!(env = %env.name, owner = ?lock.owner, "released a lock its deployment no longer holds");
        }
        Ok(())
    }
}
