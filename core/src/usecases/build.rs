//! A build finished: record the version, tell the channel, auto-deploy where policy says so.

use crate::config::EnvConfig;
use crate::ports::{Build, PortError, Ports, Store as _};
use crate::types::{Actor, EnvName};

use super::App;
use super::deploy::DeployRequest;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("service {0} is not in the config")]
    UnknownService(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoDeployOutcome {
    Started {
        env: EnvName,
        deployment: crate::types::DeploymentId,
    },
    Skipped {
        env: EnvName,
        why: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    /// This build was recorded before: nothing was done again.
    pub duplicate: bool,
    pub auto_deploys: Vec<AutoDeployOutcome>,
}

impl<P: Ports> App<'_, P> {
    pub async fn build_completed(&self, build: &Build) -> Result<BuildOutcome, BuildError> {
        let Some(service) = self.config.services.get(&build.service) else {
            return Err(BuildError::UnknownService(build.service.to_string()));
        };
        if !self.ports.store().record_build(build).await? {
            return Ok(BuildOutcome {
                duplicate: true,
                auto_deploys: Vec::new(),
            });
        }
        let auto_envs: Vec<&EnvConfig> = service
            .envs
            .iter()
            .filter_map(|e| self.config.environments.get(e))
            .filter(|e| {
                e.auto_deploy.as_ref().is_some_and(|a| {
                    build
                        .branch
                        .as_ref()
                        .is_some_and(|b| a.branches.contains(b))
                        && (a.services.is_empty() || a.services.contains(&build.service))
                })
            })
            .collect();
        let where_from = match (&build.branch, &build.commit) {
            (Some(b), Some(c)) => format!(" ({b}@{})", c.get(..7).unwrap_or(c)),
            (Some(b), None) => format!(" ({b})"),
            _ => String::new(),
        };
        let line = if build.succeeded {
            format!(
                "📦 Build {} {}{where_from} finished.",
                build.service, build.version
            )
        } else {
            format!(
                "❌ Build {} {}{where_from} failed.",
                build.service, build.version
            )
        };
        let tell: Vec<&EnvConfig> = if auto_envs.is_empty() {
            service
                .envs
                .first()
                .and_then(|e| self.config.environments.get(e))
                .into_iter()
                .collect()
        } else {
            auto_envs.clone()
        };
        for env in &tell {
            self.announce(env, &line).await;
        }
        let mut auto_deploys = Vec::new();
        if !build.succeeded {
            return Ok(BuildOutcome {
                duplicate: false,
                auto_deploys,
            });
        }
        for env in auto_envs {
            // Holds, digests judged bad, freezes and promotion are the request's own gates.
            let req = DeployRequest {
                env: env.name.clone(),
                services: vec![build.service.clone()],
                version: build.version.clone(),
                override_reason: None,
                actor: Actor::system("auto-deploy"),
                event_key: format!("build:{}:{}", build.build_id, env.name),
            };
            match self.request_deploy(req).await {
                Ok(r) => auto_deploys.push(AutoDeployOutcome::Started {
                    env: env.name.clone(),
                    deployment: r.deployment.id,
                }),
                Err(super::RequestError::Port(e)) => return Err(e.into()),
                Err(e) => auto_deploys.push(self.skip_auto_deploy(env, build, e.to_string()).await),
            }
        }
        Ok(BuildOutcome {
            duplicate: false,
            auto_deploys,
        })
    }

    /// Tells the environment's channels why a build was not auto-deployed there.
    async fn skip_auto_deploy(
        &self,
        env: &EnvConfig,
        build: &Build,
        why: String,
    ) -> AutoDeployOutcome {
        let line = format!(
            "Not auto-deploying {} {} to {}: {why}",
            build.service, build.version, env.name
        );
        self.announce(env, &line).await;
        AutoDeployOutcome::Skipped {
            env: env.name.clone(),
            why,
        }
    }
}
