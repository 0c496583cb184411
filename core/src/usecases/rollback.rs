//! Rolling back: on a CloudWatch alarm, or because someone typed `/rollback`.

use crate::config::EnvConfig;
use crate::deployment::{
    Deployment, DeploymentKind, Draft, Input, Progress, ServiceRelease, State,
};
use crate::policy::{self, LockOwner};
use crate::ports::{Clock as _, Hold, Monitor as _, PortError, Ports, Store as _};
use crate::rollback::{
    AlarmChange, AlarmDecision, AlarmState, Release, Verdict, decide_alarm, last_known_good,
};
use crate::types::{Actor, DeploymentId, EnvName, ServiceName, SignedDuration, Version};

use super::App;
use super::deploy::{Claimed, RequestError, Requested, names};

/// The alarm tags that map an alarm the config does not name to an env and a service.
pub const ENV_TAG: &str = "deckhand:env";
pub const SERVICE_TAG: &str = "deckhand:service";

#[derive(Debug, thiserror::Error)]
pub enum AlarmError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Port(#[from] PortError),
}

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
    pub async fn on_alarm(&self, change: &AlarmChange) -> Result<AlarmOutcome, AlarmError> {
        let mut outcome = AlarmOutcome::default();
        if change.current != AlarmState::Alarm || change.previous == AlarmState::Alarm {
            outcome.ignored.push(format!(
                "{} went {:?} → {:?}: not a transition into ALARM",
                change.alarm, change.previous, change.current
            ));
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
        let reason = format!("alarm {} went into ALARM: {}", change.alarm, change.reason);
        for service in services {
            if !self.config.services.contains_key(&service) {
                outcome.ignored.push(format!(
                    "{} maps to unknown service {service}",
                    change.alarm
                ));
                continue;
            }
            // A deploy of this service still in flight that started before the alarm: stop it.
            if let Some(d) = self.in_flight(&env.name).await?
                && d.services.iter().any(|s| s.service == service)
                && d.requested_at <= change.at
                && matches!(
                    d.state,
                    State::Migrating { .. } | State::Rolling { .. } | State::Verifying { .. }
                )
            {
                let driven = self
                    .drive(
                        d,
                        Input::Aborted {
                            reason: reason.clone(),
                        },
                        &Actor::system(&format!("alarm {}", change.alarm)),
                    )
                    .await
                    .map_err(RequestError::from)?;
                if driven.changed {
                    self.hold(env, &service, &reason, now).await?;
                    outcome
                        .rolled_back
                        .push((service.clone(), driven.deployment.id));
                }
                continue;
            }
            let mut releases = self.ports.store().releases(&env.name, &service, 50).await?;
            // A release that this very alarm change judged bad is decided again as if it were
            // not: the delivery that judged it may have died before creating the rollback, and
            // its retry must finish the job. Creating the rollback is idempotent on its own
            // event key, so redeliveries still make one.
            let ours = Verdict::Bad {
                reason: reason.clone(),
            };
            let judged_by_us = releases.iter_mut().find(|r| r.verdict == ours).map(|r| {
                r.verdict = Verdict::Baking;
                r.deployment
            });
            let decision = decide_alarm(change, &releases, env.bake, now);
            // Judging the release bad is the conditional write that makes an alarm delivered
            // twice (or twenty times at once), or two alarms at once, act once.
            let first_verdict = match &decision {
                AlarmDecision::RollBack { bad, .. } | AlarmDecision::NoTarget { bad } => {
                    self.ports
                        .store()
                        .judge_release(&env.name, &service, *bad, &ours)
                        .await?
                }
                AlarmDecision::AlreadyBad { .. } | AlarmDecision::Ignore { .. } => false,
            };
            match decision {
                AlarmDecision::RollBack { bad, target } => {
                    if !first_verdict && judged_by_us != Some(bad) {
                        outcome
                            .ignored
                            .push(format!("release {bad} of {service} was already judged"));
                        continue;
                    }
                    let key = format!("alarm:{}:{}:{service}", change.alarm, change.at);
                    let actor = Actor::system(&format!("alarm {}", change.alarm));
                    let kind = DeploymentKind::Rollback {
                        automatic: true,
                        reason: reason.clone(),
                        of: Some(bad),
                    };
                    let bad_version = releases
                        .iter()
                        .find(|r| r.deployment == bad)
                        .map(|r| r.image.tag.to_string());
                    let target_version = target.image.tag.clone();
                    let requested = self
                        .roll_back_to(env, vec![(*target, bad_version)], kind, actor, &key)
                        .await?;
                    self.hold(env, &service, &reason, now).await?;
                    if requested.duplicate {
                        outcome.ignored.push(format!(
                            "{service} is already being rolled back ({})",
                            requested.deployment.id
                        ));
                        continue;
                    }
                    // The bad release's own card is where its authors are looking.
                    self.reply(
                        bad,
                        &format!(
                            "🚨 {reason}. Rolling {service} back to {target_version} ({}).",
                            requested.deployment.id
                        ),
                    )
                    .await?;
                    outcome
                        .rolled_back
                        .push((service.clone(), requested.deployment.id));
                }
                AlarmDecision::NoTarget { bad } => {
                    if first_verdict {
                        self.announce(env, &format!("🚨 {reason}, within the watch window of {service}'s release {bad}, but there is no known-good revision to roll back to. Left as is: someone needs to look.")).await;
                    }
                    outcome
                        .ignored
                        .push(format!("{service}: no known-good revision"));
                }
                AlarmDecision::AlreadyBad { bad } => {
                    tracing::info!(alarm = %change.alarm, %service, %bad, "release already judged bad; nothing more to do");
                    outcome
                        .ignored
                        .push(format!("release {bad} of {service} was already judged bad"));
                }
                AlarmDecision::Ignore { why } => {
                    tracing::info!(alarm = %change.alarm, %service, %why, "alarm does not roll back");
                    let key = format!("alarm-note:{}:{}:{service}", change.alarm, change.at);
                    if self
                        .ports
                        .store()
                        .claim(&key, "told", now + SignedDuration::from_hours(24))
                        .await?
                        .is_none()
                    {
                        self.announce(
                            env,
                            &format!("⚠️ {reason}. Not rolling {service} back: {why}."),
                        )
                        .await;
                    }
                    outcome.ignored.push(format!("{service}: {why}"));
                }
            }
        }
        Ok(outcome)
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
        event_key: &str,
    ) -> Result<Requested, RequestError> {
        let env = self.env_config(env)?;
        policy::may_deploy(self.config, env, actor)?;
        let now = self.ports.clock().now();
        let mut targets = Vec::new();
        for service in services {
            let releases = self.ports.store().releases(&env.name, service, 50).await?;
            let current = releases.iter().max_by_key(|r| r.succeeded_at);
            let target = match to {
                Some(v) => releases
                    .iter()
                    .filter(|r| &r.image.tag == v && !matches!(r.verdict, Verdict::Bad { .. }))
                    .max_by_key(|r| r.succeeded_at),
                None => last_known_good(&releases, current.map(|c| c.deployment), env.bake, now),
            };
            let Some(target) = target else {
                let what = to.map_or_else(
                    || "known-good revision".to_owned(),
                    |v| format!("good release of {v}"),
                );
                return Err(RequestError::NoRollbackTarget {
                    service: service.clone(),
                    env: env.name.clone(),
                    what,
                });
            };
            if let Some(c) = current
                && c.deployment != target.deployment
            {
                self.ports
                    .store()
                    .judge_release(
                        &env.name,
                        service,
                        c.deployment,
                        &Verdict::Bad {
                            reason: format!("rolled back by {}", actor.display()),
                        },
                    )
                    .await?;
            }
            targets.push((target.clone(), current.map(|c| c.image.tag.to_string())));
        }
        let kind = DeploymentKind::Rollback {
            automatic: false,
            reason: format!("requested by {}", actor.display()),
            of: None,
        };
        self.roll_back_to(env, targets, kind, actor.clone(), event_key)
            .await
    }

    /// Creates and starts a rollback deployment to the given releases. Rollbacks do not wait
    /// for a lock: a deployment in flight is superseded, a manual lock is broken (and said so).
    async fn roll_back_to(
        &self,
        env: &EnvConfig,
        targets: Vec<(Release, Option<String>)>,
        kind: DeploymentKind,
        actor: Actor,
        event_key: &str,
    ) -> Result<Requested, RequestError> {
        let now = self.ports.clock().now();
        let id = match self.claim_event(event_key, now).await? {
            Claimed::First(id) | Claimed::Retry(id) => id,
            Claimed::Again(d) => {
                return Ok(Requested {
                    deployment: *d,
                    duplicate: true,
                });
            }
        };
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
                        self.drive(d, Input::Superseded { by: id }, &actor).await?;
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
        let version = targets
            .first()
            .map(|(t, _)| t.image.tag.clone())
            .ok_or_else(|| PortError::Failed("a rollback needs a service".into()))?;
        let services: Vec<ServiceRelease> = targets
            .into_iter()
            .map(|(t, bad_version)| ServiceRelease {
                service: t.service.clone(),
                health_url: self
                    .config
                    .services
                    .get(&t.service)
                    .and_then(|s| s.health_url_for(&env.name)),
                image: t.image,
                previous_version: bad_version,
                target_task_definition: Some(t.task_definition),
                snapshot_plan: None,
                migration: None,
                progress: Progress::default(),
            })
            .collect();
        let reason = format!(
            "rollback of {}",
            names(
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
            freeze_override: None,
            alarms_at_start: Vec::new(),
        };
        self.create_and_submit(env, draft, reason).await
    }
}
