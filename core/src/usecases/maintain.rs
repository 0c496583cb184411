//! The scheduled check (every few minutes, an EventBridge Scheduler schedule on the deploy
//! function): releases that baked with their alarms clear become known-good, and in-flight
//! deployments whose next step was lost are picked up again.

use crate::ports::{Clock as _, Platform as _, RolloutState};
use crate::types::{DeploymentId, SignedDuration};

use super::App;
use super::deploy::RunError;
use super::queries::QueryError;

/// How long a deployment may sit in one state before the check looks into it: longer than
/// any step's lease, and than EventBridge's usual delivery delay.
pub const STALE_AFTER: SignedDuration = SignedDuration::from_mins(5);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintained {
    /// Releases judged known-good.
    pub baked: usize,
    /// Deployments whose lost step was performed again (a dispatch that never arrived, a
    /// function that died mid-step).
    pub resumed: Vec<DeploymentId>,
    /// Deployments finished from ECS's own record because its event never arrived.
    pub reconciled: Vec<DeploymentId>,
}

#[derive(Debug, thiserror::Error)]
pub enum MaintainError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl<P: crate::ports::Ports> App<'_, P> {
    /// Safe to run at any time and any number of times at once: every action it takes goes
    /// through the same idempotent entry points the events use.
    pub async fn maintain(&self) -> Result<Maintained, MaintainError> {
        let mut done = Maintained {
            baked: self.bake_check().await?,
            ..Maintained::default()
        };
        let now = self.ports.clock().now();
        for env in self.config.environments.values() {
            let Some(d) = self.in_flight(&env.name).await.map_err(RunError::from)? else {
                continue;
            };
            if now.duration_since(d.state_since) < STALE_AFTER {
                continue;
            }
            if let Some(ecs) = d.waiting_on_ecs() {
                let svc = self
                    .service_config(&d.services[ecs.0].service)
                    .map_err(RunError::from)?;
                let outcome = match self
                    .ports
                    .platform()
                    .rollout_state(&env.cluster, svc, &ecs.1)
                    .await
                    .map_err(RunError::from)?
                {
                    RolloutState::InProgress => continue,
                    RolloutState::Completed => Ok(()),
                    RolloutState::Failed { reason } => Err(reason),
                };
                tracing::warn!(deployment = %d.id, ecs_deployment = %ecs.1, "ECS's event never arrived; finishing from ECS's record");
                self.on_rollout(&ecs.1, outcome).await?;
                done.reconciled.push(d.id);
            } else if d.resumable() {
                tracing::warn!(deployment = %d.id, state = d.state.name(), "no progress for a while; resuming");
                self.run_deployment(d.id).await?;
                done.resumed.push(d.id);
            }
        }
        Ok(done)
    }
}
