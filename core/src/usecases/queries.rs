//! `/status`, `/history`, `/lock`, `/unlock`, and the bake check that promotes releases to
//! known-good.

use crate::card::Table;
use crate::policy::{self, Denied, EnvLock, LockOwner};
use crate::ports::{
    Clock as _, Hold, Monitor as _, Pause, Platform as _, PortError, Ports, Store as _,
};
use crate::types::{Actor, EnvName, ServiceName, SignedDuration};

use super::App;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl<P: Ports> App<'_, P> {
    /// What runs where: per environment and service, the release running, the lock and holds.
    pub async fn status(&self, env: Option<&EnvName>) -> Result<Table, QueryError> {
        let store = self.ports.store();
        let now = self.ports.clock().now();
        let mut rows = Vec::new();
        for e in self
            .config
            .environments
            .values()
            .filter(|e| env.is_none_or(|n| n == &e.name))
        {
            let lock = store.get_lock(&e.name).await?.filter(|l| l.is_live(now));
            let holds = store.holds(&e.name).await?;
            let paused = store.paused(&e.name).await?;
            for s in self.config.services_in(&e.name) {
                // A few, newest by success: the store lists by request, and a release
                // requested earlier may have finished later.
                let latest = store
                    .releases(&e.name, &s.name, 5)
                    .await?
                    .into_iter()
                    .max_by_key(|r| r.succeeded_at);
                let (version, since, verdict) = match &latest {
                    Some(r) => (
                        r.image.tag.to_string(),
                        r.succeeded_at.strftime("%m-%d %H:%M").to_string(),
                        r.status_word(e.bake, now).to_owned(),
                    ),
                    // Not deployed by Deckhand yet: what ECS runs, from ECS.
                    None => {
                        let runs = self.ports.platform().running(&e.cluster, s).await?;
                        (
                            crate::rollback::running_version(&[], &runs)
                                .unwrap_or_else(|| runs.image.clone()),
                            runs.since.map_or_else(
                                || "—".into(),
                                |t| t.strftime("%m-%d %H:%M").to_string(),
                            ),
                            "not deployed by Deckhand yet".into(),
                        )
                    }
                };
                let mut note = Vec::new();
                if let Some(h) = holds.iter().find(|h| h.service == s.name) {
                    note.push(format!(
                        "held since {}: {}",
                        h.since.strftime("%m-%d %H:%M"),
                        h.reason
                    ));
                }
                if let Some(l) = &lock {
                    note.push(l.note());
                }
                if let Some(p) = &paused {
                    note.push(format!(
                        "automation paused by {} since {}",
                        p.by.display(),
                        p.since.strftime("%m-%d %H:%M")
                    ));
                }
                rows.push(vec![
                    e.name.to_string(),
                    s.name.to_string(),
                    version,
                    since,
                    verdict,
                    note.join("; "),
                ]);
            }
        }
        Ok(Table {
            title: env.map_or_else(|| "Status".to_owned(), |e| format!("Status of {e}")),
            columns: [
                "env",
                "service",
                "version",
                "since (UTC)",
                "release",
                "notes",
            ]
            .map(String::from)
            .to_vec(),
            rows,
            empty: "No services configured.".into(),
        })
    }

    /// The last `limit` deployments in an environment, optionally of one service.
    pub async fn history(
        &self,
        env: &EnvName,
        service: Option<&ServiceName>,
        limit: u16,
    ) -> Result<Table, QueryError> {
        let ds = self
            .ports
            .store()
            .recent_deployments(env, service, usize::from(limit))
            .await?;
        let rows = ds
            .into_iter()
            .map(|d| {
                vec![
                    d.requested_at.strftime("%m-%d %H:%M").to_string(),
                    d.service_names()
                        .iter()
                        .map(ServiceName::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                    d.version.to_string(),
                    d.state.name().to_owned(),
                    d.requested_by.display().to_owned(),
                    d.id.to_string(),
                ]
            })
            .collect();
        Ok(Table {
            title: format!("Recent deployments in {env}"),
            columns: ["when (UTC)", "services", "version", "outcome", "by", "id"]
                .map(String::from)
                .to_vec(),
            rows,
            empty: "No deployments yet.".into(),
        })
    }

    /// `/lock ENV [DURATION] REASON…`: nobody deploys until `/unlock` or until it lapses
    /// (the environment's `lock_default` when no duration is given; maintenance releases it
    /// and tells the channel).
    pub async fn lock(
        &self,
        env: &EnvName,
        duration: Option<SignedDuration>,
        reason: &str,
        actor: &Actor,
    ) -> Result<EnvLock, QueryError> {
        let e = self.env_config(env)?;
        policy::may_deploy(self.config, e, actor)?;
        let now = self.ports.clock().now();
        let lock = EnvLock {
            env: env.clone(),
            owner: LockOwner::Person {
                actor: actor.clone(),
            },
            held_by: actor.clone(),
            reason: reason.to_owned(),
            since: now,
            expires: Some(now + duration.unwrap_or(e.lock_default).min(e.lock_max)),
        };
        match self.ports.store().acquire_lock(&lock, now).await? {
            Ok(()) => {
                let until = lock.expires.map_or_else(String::new, |at| {
                    format!(" until {}", at.strftime("%Y-%m-%d %H:%M UTC"))
                });
                self.audit_env(env, actor, "locked", &format!("{reason}{until}"))
                    .await?;
                self.announce(
                    e,
                    &format!(
                        "🔒 {} locked {env}{until}: {reason}. No deploys there meanwhile; `/unlock {env}` releases it sooner.",
                        actor.display()
                    ),
                )
                .await;
                Ok(lock)
            }
            Err(holder) => Err(Denied::Locked(policy::LockHeld(Box::new(holder))).into()),
        }
    }

    /// `/unlock ENV`: releases a manual lock (a deployment's lock is released by the deployment
    /// finishing or expiring) and the holds automatic rollbacks put on services.
    pub async fn unlock(
        &self,
        env: &EnvName,
        actor: &Actor,
    ) -> Result<(Option<EnvLock>, Vec<Hold>), QueryError> {
        let e = self.env_config(env)?;
        policy::may_deploy(self.config, e, actor)?;
        let store = self.ports.store();
        let now = self.ports.clock().now();
        let released = match store.get_lock(env).await? {
            Some(l) if l.is_live(now) && matches!(l.owner, LockOwner::Deployment { .. }) => {
                return Err(Denied::Locked(policy::LockHeld(Box::new(l))).into());
            }
            Some(_) => store.break_lock(env).await?,
            None => None,
        };
        let holds = store.clear_holds(env).await?;
        if let Some(said) = policy::unlock_note(env, actor, released.as_ref(), &holds) {
            self.audit_env(env, actor, "unlocked", &said).await?;
            self.announce(e, &format!("🔓 {said}")).await;
        }
        Ok((released, holds))
    }

    /// `/pause ENV`: automation stops in `env` — no automatic deploys, no automatic rollbacks —
    /// while people take over. Alarms are still recorded and shown. Returns the pause in force
    /// and whether this call made it.
    pub async fn pause(&self, env: &EnvName, actor: &Actor) -> Result<(Pause, bool), QueryError> {
        let e = self.env_config(env)?;
        policy::may_deploy(self.config, e, actor)?;
        let pause = Pause {
            env: env.clone(),
            by: actor.clone(),
            since: self.ports.clock().now(),
        };
        match self.ports.store().pause(&pause).await? {
            Some(earlier) => Ok((earlier, false)),
            None => {
                self.audit_env(
                    env,
                    actor,
                    "paused",
                    "automatic deploys and rollbacks stopped",
                )
                .await?;
                self.announce(
                    e,
                    &format!(
                        "⏸ {} paused automation in {env}: no automatic deploys or rollbacks until `/resume {env}`. Alarms are still shown.",
                        actor.display()
                    ),
                )
                .await;
                Ok((pause, true))
            }
        }
    }

    /// `/resume ENV`: automation deploys and rolls back in `env` again.
    pub async fn resume(&self, env: &EnvName, actor: &Actor) -> Result<Option<Pause>, QueryError> {
        let e = self.env_config(env)?;
        policy::may_deploy(self.config, e, actor)?;
        let ended = self.ports.store().resume(env).await?;
        if let Some(p) = &ended {
            self.audit_env(
                env,
                actor,
                "resumed",
                &format!("paused by {} since {}", p.by.display(), p.since),
            )
            .await?;
            self.announce(
                e,
                &format!(
                    "▶️ {} resumed automation in {env} (paused by {} since {}).",
                    actor.display(),
                    p.by.display(),
                    p.since.strftime("%H:%M UTC")
                ),
            )
            .await;
        }
        Ok(ended)
    }

    async fn audit_env(
        &self,
        env: &EnvName,
        actor: &Actor,
        action: &str,
        detail: &str,
    ) -> Result<(), PortError> {
        self.ports
            .store()
            .append_audit(&crate::ports::AuditEntry {
                env: env.clone(),
                at: self.ports.clock().now(),
                actor: actor.clone(),
                action: action.to_owned(),
                detail: detail.to_owned(),
                deployment: None,
            })
            .await
    }

    /// Scheduled: releases whose bake window passed with no alarm become known-good.
    /// Returns how many were promoted.
    pub async fn bake_check(&self) -> Result<usize, PortError> {
        let store = self.ports.store();
        let now = self.ports.clock().now();
        let mut promoted = 0;
        for e in self.config.environments.values() {
            for s in self.config.services_in(&e.name) {
                let mut alarms_clear = None;
                let releases = store.releases(&e.name, &s.name, 10).await?;
                if releases.is_empty() {
                    self.adopt(e, s, now).await?;
                }
                for r in releases {
                    let Some(verdict) = r.baked(e.bake, now) else {
                        continue;
                    };
                    // An alarm in ALARM right now (its event may still be on its way) keeps
                    // the release baking: it is not known-good while something is wrong.
                    if alarms_clear.is_none() {
                        let alarms = self.config.alarms_for(&e.name, &s.name);
                        let firing = if alarms.is_empty() {
                            Vec::new()
                        } else {
                            self.ports.monitor().firing(&alarms).await?
                        };
                        if !firing.is_empty() {
                            tracing::info!(env = %e.name, service = %s.name, ?firing, "alarms firing; the release keeps baking");
                        }
                        alarms_clear = Some(firing.is_empty());
                    }
                    if alarms_clear == Some(true)
                        && store
                            .judge_release(&e.name, &s.name, r.deployment, &verdict)
                            .await?
                    {
                        promoted += 1;
                    }
                }
            }
        }
        Ok(promoted)
    }
}

impl<P: Ports> App<'_, P> {
    /// The first bake check that meets a service Deckhand never released there adopts what
    /// runs as its baseline, so the first release has somewhere to roll back to even when it
    /// is made by hand in the console. A service that does not exist yet is left for later.
    async fn adopt(
        &self,
        env: &crate::config::EnvConfig,
        cfg: &crate::config::ServiceConfig,
        now: jiff::Timestamp,
    ) -> Result<(), PortError> {
        let runs = match self.ports.platform().running(&env.cluster, cfg).await {
            Ok(runs) => runs,
            Err(e) => {
                tracing::debug!(env = %env.name, service = %cfg.name, error = %e, "nothing to adopt yet");
                return Ok(());
            }
        };
        if let Some(baseline) = self.baseline(env, cfg, &[], &runs, now).await? {
            tracing::info!(env = %env.name, service = %cfg.name, version = %baseline.image.tag, "adopted what runs as the baseline");
            self.ports.store().record_release(&baseline).await?;
        }
        Ok(())
    }
}
