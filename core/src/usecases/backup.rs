//! Scheduled and on-demand database snapshots, with retention.

use crate::card::Table;
use crate::check::TaskState;
use crate::config::{BackupPlan, TaskBackup};
use crate::deployment::Work;
use crate::policy::{self, Denied};
use crate::ports::{
    BackupRecord, Backups as _, Clock as _, Dispatch as _, Metric, MetricUnit, Metrics as _,
    NewSnapshot, Platform as _, PortError, Ports, Store as _,
};
use crate::retention::{self, SnapshotInfo, SnapshotStatus};
use crate::types::{Actor, DeploymentId, EnvName, EventKey, SignedDuration, Timestamp};

/// How often a running backup task is looked at.
const TASK_LOOK: SignedDuration = SignedDuration::from_secs(30);

/// A task's last log lines, for the end of a failure's words.
fn log_lines(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    format!("; its last lines:\n```\n{}\n```", lines.join("\n"))
}

use super::App;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "backup plan `{0}` is not in the config: add `[backups.{0}]` to deckhand.toml, or point the schedule at a plan that is"
    )]
    UnknownPlan(String),
    #[error("{0} has no backup plan: add a `[backups.NAME]` with `env = \"{0}\"` to deckhand.toml")]
    NoPlan(EnvName),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a backup runs: the schedule (with the Scheduler event's id) or a person.
#[derive(Debug, Clone)]
pub enum BackupTrigger {
    Schedule { event_id: EventKey },
    Person { actor: Actor, event_key: EventKey },
}

impl BackupTrigger {
    /// Who to say asked, when a run hands itself on as work.
    fn actor(&self) -> Actor {
        match self {
            BackupTrigger::Schedule { .. } => Actor::system("schedule"),
            BackupTrigger::Person { actor, .. } => actor.clone(),
        }
    }

    fn key(&self) -> &EventKey {
        match self {
            BackupTrigger::Schedule { event_id } => event_id,
            BackupTrigger::Person { event_key, .. } => event_key,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupOutcome {
    pub snapshot: String,
    pub status: SnapshotStatus,
    pub pruned: Vec<String>,
    /// This trigger was handled before: nothing was done again.
    pub duplicate: bool,
}

/// The tags that mark a snapshot as Deckhand's. Only snapshots carrying `deckhand:plan` are ever
/// listed for retention or deleted.
pub(crate) fn tags(plan: &BackupPlan, deployment: Option<DeploymentId>) -> Vec<(String, String)> {
    let mut t = vec![
        ("deckhand:plan".to_owned(), plan.name.clone()),
        ("deckhand:env".to_owned(), plan.env.to_string()),
        ("deckhand:kind".to_owned(), plan.kind.as_str().to_owned()),
        ("deckhand:created-by".to_owned(), "deckhand".to_owned()),
    ];
    if let Some(id) = deployment {
        t.push(("deckhand:deployment".to_owned(), id.to_string()));
    }
    t
}

/// Six hex digits of the trigger's key: enough to tell apart triggers in one second.
fn trigger_digest(key: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(key.as_bytes())[..3]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl<P: Ports> App<'_, P> {
    /// Snapshot, wait, prune by retention, record, report, emit metrics. A failed snapshot is
    /// reported loudly and never leads to deleting older ones.
    pub async fn run_backup(
        &self,
        plan_name: &str,
        trigger: &BackupTrigger,
    ) -> Result<BackupOutcome, BackupError> {
        let p = self.ports;
        let plan = self
            .config
            .backups
            .get(plan_name)
            .ok_or_else(|| BackupError::UnknownPlan(plan_name.to_owned()))?;
        let env = self.env_config(&plan.env)?;
        let started = p.clock().now();
        // One snapshot per trigger: the first delivery names it, redeliveries reuse the name.
        // The name carries a digest of the trigger, so two triggers in the same second (a
        // schedule and a `/backup now`) get a snapshot each instead of sharing one.
        let fresh = format!(
            "deckhand-{}-{}-{}",
            plan.name,
            started.strftime("%Y%m%d-%H%M%S"),
            trigger_digest(trigger.key().as_str())
        );
        let key = format!("backup#{}#{}", plan.name, trigger.key());
        let snapshot = p
            .store()
            .claim(&key, &fresh, started + SignedDuration::from_hours(48))
            .await?
            .unwrap_or(fresh);
        if let Some(task) = &plan.task {
            // Boxed: a run of steps of its own, with the platform's futures.
            return Box::pin(self.run_task_backup(plan, task, trigger, &snapshot)).await;
        }

        let marks = tags(plan, None);
        let new = NewSnapshot::new(plan, &snapshot, &marks);
        match p.backups().create(new).await {
            Ok(()) | Err(PortError::Conflict(_)) => {}
            Err(e) => {
                return self
                    .backup_failed(plan, &snapshot, started, &e.to_string())
                    .await;
            }
        }
        let status = match p.backups().wait(plan, &snapshot).await {
            Ok(s) => s,
            Err(e) => {
                return self
                    .backup_failed(plan, &snapshot, started, &e.to_string())
                    .await;
            }
        };
        if status != SnapshotStatus::Available {
            return self
                .backup_failed(
                    plan,
                    &snapshot,
                    started,
                    &format!("snapshot ended {status:?}"),
                )
                .await;
        }
        // Concurrent deliveries of one trigger all reach here with the same snapshot: one of
        // them prunes and reports, the others stop. (If that one dies before reporting, the
        // next scheduled run prunes; the report of this one is lost, and the log says why.)
        let now = p.clock().now();
        let handled = format!("backup-run#{}#{snapshot}", plan.name);
        if p.store()
            .claim(&handled, "pruning", now + SignedDuration::from_hours(48))
            .await?
            .is_some()
        {
            return Ok(BackupOutcome {
                snapshot,
                status,
                pruned: Vec::new(),
                duplicate: true,
            });
        }
        let existing = p.backups().list(plan).await?;
        let doomed = retention::to_delete(&plan.retention, &existing, now);
        let mut pruned = Vec::new();
        for id in doomed {
            match p.backups().delete(plan, &id).await {
                Ok(()) | Err(PortError::NotFound(_)) => pruned.push(id),
                Err(e) => {
                    tracing::warn!(plan = %plan.name, snapshot = %id, error = %e, "could not delete a snapshot; the next run retries");
                }
            }
        }
        let (copied_to, copies_pruned) = self.copy_and_prune(plan, &snapshot, now).await;
        let record = BackupRecord {
            plan: plan.name.clone(),
            env: plan.env.clone(),
            snapshot: snapshot.clone(),
            started_at: started,
            finished_at: now,
            status,
            size_gib: None,
            deployment: None,
            pruned: pruned.clone(),
            copied_to: copied_to.clone(),
            copies_pruned: copies_pruned.clone(),
        };
        let first = p.store().record_backup(&record).await?;
        if !first {
            tracing::warn!(plan = %plan.name, %snapshot, "backup was already recorded");
        }
        {
            let took = now.duration_since(started).as_secs_f64();
            let kept = existing.len().saturating_sub(pruned.len());
            let copy = match (&copied_to, &plan.copy_to) {
                (Some(region), _) => format!(
                    " Copying it to {region}; pruned {} there.",
                    crate::card::count(copies_pruned.len(), "old copy").replace("copys", "copies")
                ),
                (None, Some(region)) => format!(
                    " ⚠️ It could not be copied to {region} (see the log); the next run tries again."
                ),
                (None, None) => String::new(),
            };
            self.announce(
                env,
                &format!(
                    "💾 Backup {} took `{snapshot}` in {took:.0}s; pruned {}, {kept} kept.{copy}",
                    plan.name,
                    crate::card::count(pruned.len(), "old snapshot")
                ),
            )
            .await;
            self.backup_metrics(plan, took, pruned.len(), kept).await;
        }
        Ok(BackupOutcome {
            snapshot,
            status,
            pruned,
            duplicate: false,
        })
    }

    /// Backup work that came back through the delay queue, which feeds the deploy function
    /// alone: handed on to the backup function.
    pub async fn pass_on(&self, work: &Work) -> Result<(), PortError> {
        self.ports.dispatch().dispatch(work).await
    }

    /// A good backup's figures: one success, how long, how many pruned and kept.
    async fn backup_metrics(&self, plan: &BackupPlan, took: f64, pruned: usize, kept: usize) {
        let dims = vec![("Plan".to_owned(), plan.name.clone())];
        let metric = |name: &str, value: f64, unit| Metric {
            name: name.into(),
            value,
            unit,
            dimensions: dims.clone(),
        };
        let metrics = [
            metric("BackupSucceeded", 1.0, MetricUnit::Count),
            metric("BackupDurationSeconds", took, MetricUnit::Seconds),
            metric("SnapshotsPruned", pruned as f64, MetricUnit::Count),
            metric("SnapshotCount", kept as f64, MetricUnit::Count),
        ];
        if let Err(e) = self.ports.metrics().emit(&metrics).await {
            tracing::warn!(plan = %plan.name, error = %e, "could not emit backup metrics");
        }
    }

    async fn backup_failed(
        &self,
        plan: &BackupPlan,
        snapshot: &str,
        started: jiff::Timestamp,
        why: &str,
    ) -> Result<BackupOutcome, BackupError> {
        let p = self.ports;
        let env = self.env_config(&plan.env)?;
        let now = p.clock().now();
        let record = BackupRecord {
            plan: plan.name.clone(),
            env: plan.env.clone(),
            snapshot: snapshot.to_owned(),
            started_at: started,
            finished_at: now,
            status: SnapshotStatus::Failed,
            size_gib: None,
            deployment: None,
            pruned: Vec::new(),
            copied_to: None,
            copies_pruned: Vec::new(),
        };
        let first = p.store().record_backup(&record).await?;
        if first {
            tracing::error!(plan = %plan.name, snapshot, why, "backup failed");
            self.announce(
                env,
                &format!(
                    "🚨 Backup {} FAILED ({snapshot}): {why}. No older snapshot was deleted.",
                    plan.name
                ),
            )
            .await;
            let m = Metric {
                name: "BackupFailed".into(),
                value: 1.0,
                unit: MetricUnit::Count,
                dimensions: vec![("Plan".into(), plan.name.clone())],
            };
            if let Err(e) = p.metrics().emit(&[m]).await {
                tracing::warn!(plan = %plan.name, error = %e, "could not emit backup metrics");
            }
        }
        Ok(BackupOutcome {
            snapshot: snapshot.to_owned(),
            status: SnapshotStatus::Failed,
            pruned: Vec::new(),
            duplicate: !first,
        })
    }

    /// One step of an `ecs-task` plan's run named `run` (the trigger's, so every delivery of it
    /// is the same run): find or start its task, look at it, and come back later while it runs
    /// (a delayed `RunBackup`, never a handler waiting); past its timeout it is stopped and the
    /// run fails. A task that exits 0 names its artifact on its last log line
    /// (`deckhand-artifact: <id>`), which is recorded as the backup; retention then runs the
    /// plan's own `prune` task for each artifact it drops.
    async fn run_task_backup(
        &self,
        plan: &BackupPlan,
        task_cfg: &TaskBackup,
        trigger: &BackupTrigger,
        run: &str,
    ) -> Result<BackupOutcome, BackupError> {
        let p = self.ports;
        let env = self.env_config(&plan.env)?;
        let svc = self.service_config(&task_cfg.service)?;
        let now = p.clock().now();
        let keep = now + SignedDuration::from_hours(48);
        let began = match p
            .store()
            .claim(
                &format!("backup-began#{run}"),
                &now.as_millisecond().to_string(),
                keep,
            )
            .await?
        {
            Some(ms) => ms
                .parse()
                .ok()
                .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                .unwrap_or(now),
            None => now,
        };
        let started_by = format!("deckhand-backup-{run}");
        let again = Work::RunBackup {
            plan: plan.name.clone(),
            requested_by: trigger.actor(),
            key: trigger.key().clone(),
        };
        let looking = BackupOutcome {
            snapshot: run.to_owned(),
            status: SnapshotStatus::Creating,
            pruned: Vec::new(),
            duplicate: false,
        };
        // Finding or starting the task is leased: two deliveries that both looked before either
        // started it would each start one. The lease is given back at once, so the next look
        // finds the task.
        let lease = format!("backup-start#{run}");
        let holder = super::engine::lease_holder(now);
        if !p
            .store()
            .lease(&lease, &holder, now, now + SignedDuration::from_mins(2))
            .await?
        {
            p.dispatch().dispatch_after(&again, TASK_LOOK).await?;
            return Ok(looking);
        }
        let task = p
            .platform()
            .run_task(&env.cluster, svc, &task_cfg.command, &started_by)
            .await;
        if let Err(e) = p.store().end_lease(&lease, &holder).await {
            tracing::warn!(%lease, error = %e, "could not give the lease back; it runs out by itself");
        }
        let task = task?;
        let (exit_code, reason, log_tail) =
            match p.platform().task_state(&env.cluster, svc, &task).await? {
                TaskState::Running if now >= began + task_cfg.timeout => {
                    let tail = p
                        .platform()
                        .stop_task(
                            &env.cluster,
                            svc,
                            &task,
                            "Deckhand: the backup ran past its timeout",
                        )
                        .await?;
                    return self
                        .backup_failed(
                            plan,
                            run,
                            began,
                            &format!(
                                "its task did not finish within {} and was stopped{}",
                                crate::rollback::fmt_duration(task_cfg.timeout),
                                log_lines(&tail)
                            ),
                        )
                        .await;
                }
                TaskState::Running => {
                    p.dispatch().dispatch_after(&again, TASK_LOOK).await?;
                    return Ok(looking);
                }
                TaskState::Stopped {
                    exit_code,
                    reason,
                    log_tail,
                } => (exit_code, reason, log_tail),
            };
        let artifact = match (exit_code, TaskBackup::artifact(&log_tail)) {
            (Some(0), Some(a)) => a,
            (Some(0), None) => {
                return self.backup_failed(plan, run, began, &format!(
                    "its task exited 0 but its last log line names no artifact (it must read `{} <id>`){}",
                    TaskBackup::ARTIFACT,
                    log_lines(&log_tail)
                )).await;
            }
            (code, _) => {
                let how = code.map_or_else(
                    || "never ran".to_owned(),
                    |c| format!("exited with code {c}"),
                );
                return self
                    .backup_failed(
                        plan,
                        run,
                        began,
                        &format!("its task {how} ({reason}){}", log_lines(&log_tail)),
                    )
                    .await;
            }
        };
        // Concurrent deliveries of the same run reach here alike: one records and prunes.
        let handled = format!("backup-run#{}#{run}", plan.name);
        if p.store().claim(&handled, &artifact, keep).await?.is_some() {
            return Ok(BackupOutcome {
                snapshot: artifact,
                status: SnapshotStatus::Available,
                pruned: Vec::new(),
                duplicate: true,
            });
        }
        // Retention over the artifacts recorded, less those already pruned, and this one.
        let records = p.store().backups(&plan.name, 200).await?;
        let gone: std::collections::HashSet<&String> =
            records.iter().flat_map(|r| &r.pruned).collect();
        let mut kept: Vec<SnapshotInfo> = records
            .iter()
            .filter(|r| r.status == SnapshotStatus::Available && !gone.contains(&r.snapshot))
            .map(|r| SnapshotInfo {
                id: r.snapshot.clone(),
                created: r.finished_at,
                status: SnapshotStatus::Available,
                made_by_deckhand: true,
            })
            .collect();
        kept.push(SnapshotInfo {
            id: artifact.clone(),
            created: now,
            status: SnapshotStatus::Available,
            made_by_deckhand: true,
        });
        let mut pruned = Vec::new();
        for old in retention::to_delete(&plan.retention, &kept, now) {
            let by = format!("deckhand-prune-{}", trigger_digest(&old));
            match p
                .platform()
                .run_task(&env.cluster, svc, &task_cfg.prune_command(&old), &by)
                .await
            {
                Ok(_) => pruned.push(old),
                Err(e) => {
                    tracing::warn!(plan = %plan.name, artifact = %old, error = %e, "could not start the prune task; the next run tries again");
                }
            }
        }
        let record = BackupRecord {
            plan: plan.name.clone(),
            env: plan.env.clone(),
            snapshot: artifact.clone(),
            started_at: began,
            finished_at: now,
            status: SnapshotStatus::Available,
            size_gib: None,
            deployment: None,
            pruned: pruned.clone(),
            copied_to: None,
            copies_pruned: Vec::new(),
        };
        p.store().record_backup(&record).await?;
        let took = now.duration_since(began);
        self.announce(
            env,
            &format!(
                "💾 Backup {} made `{artifact}` in {}; {} (their prune tasks started), {} kept.",
                plan.name,
                crate::rollback::fmt_duration(took),
                crate::card::count(pruned.len(), "old artifact") + " pruned",
                kept.len().saturating_sub(pruned.len())
            ),
        )
        .await;
        self.backup_metrics(
            plan,
            took.as_secs_f64(),
            pruned.len(),
            kept.len().saturating_sub(pruned.len()),
        )
        .await;
        Ok(BackupOutcome {
            snapshot: artifact,
            status: SnapshotStatus::Available,
            pruned,
            duplicate: false,
        })
    }

    /// Starts the plan's copy of `snapshot` in its `copy_to` region (a copy that exists is
    /// fine: a redelivery), then applies retention to the copies there. Best effort: the
    /// snapshot itself is good either way, and the announcement says when the copy failed.
    /// Returns the region the copy was started in, and the copies deleted.
    async fn copy_and_prune(
        &self,
        plan: &crate::config::BackupPlan,
        snapshot: &str,
        now: crate::types::Timestamp,
    ) -> (Option<String>, Vec<String>) {
        let Some(region) = &plan.copy_to else {
            return (None, Vec::new());
        };
        let backups = self.ports.backups();
        let marks = tags(plan, None);
        let new = NewSnapshot::new(plan, snapshot, &marks);
        match backups.copy(new).await {
            Ok(()) | Err(PortError::Conflict(_)) => {}
            Err(e) => {
                tracing::error!(plan = %plan.name, snapshot, region, error = %e, "could not copy the snapshot");
                return (None, Vec::new());
            }
        }
        let copies = match backups.list_copies(plan).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(plan = %plan.name, region, error = %e, "could not list the copies; the next run prunes");
                return (Some(region.clone()), Vec::new());
            }
        };
        let mut pruned = Vec::new();
        for id in retention::to_delete(&plan.retention, &copies, now) {
            match backups.delete_copy(plan, &id).await {
                Ok(()) | Err(PortError::NotFound(_)) => pruned.push(id),
                Err(e) => {
                    tracing::warn!(plan = %plan.name, copy = %id, region, error = %e, "could not delete a copy; the next run retries");
                }
            }
        }
        (Some(region.clone()), pruned)
    }

    /// `/backup ENV now`: hands each of the env's plans to the backup function. `event_key` is
    /// the chat event's own key (Slack trigger id, Discord interaction id).
    pub async fn backup_now(
        &self,
        env: &EnvName,
        actor: &Actor,
        event_key: &EventKey,
    ) -> Result<Vec<String>, BackupError> {
        let env_cfg = self.env_config(env)?;
        policy::may_deploy(self.config, env_cfg, actor)?;
        let plans: Vec<String> = self
            .config
            .backups
            .values()
            .filter(|p| &p.env == env)
            .map(|p| p.name.clone())
            .collect();
        if plans.is_empty() {
            return Err(BackupError::NoPlan(env.clone()));
        }
        for plan in &plans {
            let key = event_key.part(plan).ok_or_else(|| {
                BackupError::Port(PortError::Failed(format!(
                    "a backup plan of {env} has an empty name"
                )))
            })?;
            self.ports
                .dispatch()
                .dispatch(&Work::RunBackup {
                    plan: plan.clone(),
                    requested_by: actor.clone(),
                    key,
                })
                .await?;
        }
        Ok(plans)
    }

    /// `/backup ENV list`.
    pub async fn backup_list(&self, env: &EnvName) -> Result<Table, BackupError> {
        let mut rows = Vec::new();
        for plan in self.config.backups.values().filter(|p| &p.env == env) {
            for b in self.ports.store().backups(&plan.name, 10).await? {
                let copy = b.copied_to.clone().unwrap_or_else(|| "—".into());
                rows.push(vec![
                    plan.name.clone(),
                    b.snapshot,
                    format!("{:?}", b.status).to_lowercase(),
                    b.finished_at.strftime("%Y-%m-%d %H:%M").to_string(),
                    b.pruned.len().to_string(),
                    copy,
                ]);
            }
        }
        Ok(Table {
            title: format!("Backups in {env}"),
            columns: [
                "plan",
                "snapshot",
                "status",
                "finished (UTC)",
                "pruned",
                "copy",
            ]
            .map(String::from)
            .to_vec(),
            rows,
            empty: "No backups recorded yet.".into(),
        })
    }
}
