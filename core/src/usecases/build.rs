//! A build finished: record the version, tell the channel, auto-deploy where policy says so.

use crate::card;
use crate::config::EnvConfig;
use crate::policy;
use crate::ports::{Build, PortError, Ports, Store as _};
use crate::types::{Actor, EnvName, EventKey};

use super::App;
use super::deploy::DeployRequest;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "service {0} is not in the config: add `[services.{0}]` to deckhand.toml, or name the build after a configured service"
    )]
    UnknownService(String),
    #[error("a build of {0} came without a build id; its CI's event is malformed")]
    NoBuildId(String),
    #[error(
        "a build of {service} has a {field} of {len} bytes (at most {max}); its CI's event is malformed"
    )]
    Oversized {
        service: String,
        field: &'static str,
        len: usize,
        max: usize,
    },
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
        // Refused before any AWS call: DynamoDB would refuse the key with a raw
        // ValidationException, and a chat message would carry the rest.
        if let Some((field, len, max)) = build.oversized() {
            return Err(BuildError::Oversized {
                service: build.service.to_string(),
                field,
                len,
                max,
            });
        }
        if !self.ports.store().record_build(build).await? {
            return Ok(BuildOutcome {
                duplicate: true,
                auto_deploys: Vec::new(),
            });
        }
        let route = policy::route_build(self.config, service, build);
        let line = card::build_line(build);
        for env in &route.tell {
            self.announce(env, &line).await;
        }
        let mut auto_deploys = Vec::new();
        for env in route.deploy_to {
            // Holds, digests judged bad, freezes and promotion are the request's own gates.
            let req = DeployRequest {
                env: env.name.clone(),
                services: vec![build.service.clone()],
                version: build.version.clone(),
                override_reason: None,
                force: false,
                actor: Actor::system("auto-deploy"),
                event_key: EventKey::build(&build.build_id, &env.name)
                    .ok_or_else(|| BuildError::NoBuildId(build.service.to_string()))?,
                reply_to: None,
            };
            // Not a chat request with three seconds to answer: the checks that need AWS run
            // here rather than in dispatched work, so the outcome says what happened.
            let opened = match self.open_request(req).await {
                Ok(r) => r.deployment,
                Err(super::RequestError::Port(e)) => return Err(e.into()),
                Err(e) => {
                    auto_deploys.push(self.skip_auto_deploy(env, build, e.to_string()).await);
                    continue;
                }
            };
            // Boxed: the checks and the engine they drive are a large future of their own.
            let outcome = match Box::pin(self.prepare_judged(opened)).await {
                Ok((d, None)) => AutoDeployOutcome::Started {
                    env: env.name.clone(),
                    deployment: d.id,
                },
                // Declined: the deployment told the environment's channels already.
                Ok((_, Some(no))) => AutoDeployOutcome::Skipped {
                    env: env.name.clone(),
                    why: no.to_string(),
                },
                Err(super::RunError::Port(e)) => return Err(e.into()),
                Err(e) => self.skip_auto_deploy(env, build, e.to_string()).await,
            };
            auto_deploys.push(outcome);
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
