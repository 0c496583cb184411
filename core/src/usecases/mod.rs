//! The use-cases: async functions over the [ports](crate::ports) that make decisions in the
//! pure modules and carry out their effects.
//!
//! [`App`] bundles the ports and the config. Every entry point is idempotent on its triggering
//! event: ids derive from event ids, state changes are conditional writes, and a redelivery is
//! recognised as a duplicate and answered as a success that did nothing.
//!
//! Entry points, by trigger:
//! - chat: [`App::request_deploy`], [`App::decide`], [`App::manual_rollback`], [`App::status`],
//!   [`App::history`], [`App::lock`], [`App::unlock`], [`App::backup_now`], [`App::backup_list`];
//! - the deploy function: [`App::run_deployment`], [`App::on_rollout`];
//! - the rollback function: [`App::on_alarm`];
//! - the build-completed function: [`App::build_completed`];
//! - the backup function and schedules: [`App::run_backup`];
//! - the deploy function's schedule: [`App::maintain`] (bake check, lost steps, lost ECS events).

mod backup;
mod build;
mod deploy;
mod engine;
mod maintain;
mod queries;
mod rollback;

#[cfg(test)]
#[path = "../tests/usecases.rs"]
mod tests;

pub use backup::{BackupError, BackupOutcome, BackupTrigger};
pub use build::{AutoDeployOutcome, BuildError, BuildOutcome};
pub use deploy::{DecideError, Decision, DeployRequest, RequestError, Requested, RunError};
pub use engine::STEP_LEASE;
pub use maintain::{BACKUPS_MISSED, CARDS_KEPT_CURRENT, HEARTBEAT, Maintained};

/// The metric every entry point emits when Deckhand's own setup is wrong (a missing table,
/// secret, cluster or service, a denied permission); the template alarms on the first one.
pub const MISCONFIGURED: &str = "Misconfigured";
pub use queries::QueryError;
pub use rollback::{AlarmOutcome, ENV_TAG, SERVICE_TAG};

use crate::config::{Config, EnvConfig};
use crate::ports::{Channel, Metric, Metrics as _, PortError, Ports};
use crate::types::{ChatKind, EnvName};

/// Both futures at once, on the caller's task (core has no runtime to spawn on): two reads
/// whose answers one decision needs cost one round trip, not two.
pub(crate) async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => std::task::Poll::Ready((x, y)),
            (x, y) => {
                (ra, rb) = (x, y);
                std::task::Poll::Pending
            }
        }
    })
    .await
}

/// The ports and the config, which is all a use-case needs.
#[derive(Debug)]
pub struct App<'a, P: Ports> {
    pub ports: &'a P,
    pub config: &'a Config,
}

impl<P: Ports> Clone for App<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P: Ports> Copy for App<'_, P> {}

impl<'a, P: Ports> App<'a, P> {
    pub fn new(ports: &'a P, config: &'a Config) -> Self {
        Self { ports, config }
    }

    /// Makes a misconfiguration loud at once: logged with what is wrong, and counted in the
    /// metric the template alarms on at its first datapoint — not left for the dead-letter
    /// queue after an hour of retries.
    pub async fn misconfigured(&self, why: &str) {
        tracing::error!(error = why, "Deckhand is misconfigured");
        if let Err(e) = self
            .ports
            .metrics()
            .emit(&[Metric::once(MISCONFIGURED)])
            .await
        {
            tracing::warn!(error = %e, "could not count the misconfiguration");
        }
    }

    fn env_config(&self, env: &EnvName) -> Result<&'a EnvConfig, PortError> {
        self.config
            .environments
            .get(env)
            .ok_or_else(|| PortError::NotFound(format!("environment {env} is not in the config")))
    }

    /// The channels an environment's news goes to.
    fn channels(&self, env: &EnvConfig) -> Vec<Channel> {
        let mut out = Vec::new();
        if let Some(id) = &env.notify.slack {
            out.push(Channel {
                chat: ChatKind::Slack,
                id: id.clone(),
            });
        }
        if let Some(id) = &env.notify.discord {
            out.push(Channel {
                chat: ChatKind::Discord,
                id: id.clone(),
            });
        }
        out
    }

    /// Posts a line to an environment's channels. A chat failure is logged, never fatal: the
    /// state is already saved and chat is only the news.
    pub(crate) async fn announce(&self, env: &EnvConfig, text: &str) {
        use crate::ports::Chat as _;
        for ch in self.channels(env) {
            if let Err(e) = self.ports.chat().post(&ch, text).await {
                tracing::warn!(env = %env.name, channel = %ch.id, error = %e, "could not post to chat");
            }
        }
    }
}
