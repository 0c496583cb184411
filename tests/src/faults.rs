//! A platform that fails where a test, or `deckhand dev`, says it should. moto runs ECS tasks
//! but reports exit code 0 for every task it stops, so a migration or smoke test that fails
//! can only be had by rewriting the exit code the real adapter read: the task itself runs on
//! the emulator as usual. Tests that use this say so.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use deckhand_core::check::TaskState;
use deckhand_core::config::ServiceConfig;
use deckhand_core::deployment::ImageRef;
use deckhand_core::ports::{Platform, PortResult, Rollout, RolloutState, Running, StepRollout};
use deckhand_core::types::{Digest, Version};

#[derive(Debug, Default)]
struct Said {
    /// Every migration's container exits with this instead of 0.
    migration_exit: Option<i32>,
    /// These services' smoke tasks exit 1 instead of 0.
    failing_smoke: HashSet<String>,
}

/// `P`, except for the exit codes [`Faults::migrations_exit`] and [`Faults::fail_smoke`] set.
/// Clones share what was said.
#[derive(Debug, Clone)]
pub struct Faults<P> {
    pub inner: P,
    said: Arc<Mutex<Said>>,
}

impl<P> Faults<P> {
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            said: Arc::default(),
        }
    }

    fn said(&self) -> std::sync::MutexGuard<'_, Said> {
        self.said.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on every migration exits `code` (`None`: as the task did).
    pub fn migrations_exit(&self, code: Option<i32>) {
        self.said().migration_exit = code;
    }

    /// From now on `service`'s smoke tasks exit 1 (`false`: as the task did).
    pub fn fail_smoke(&self, service: &str, fail: bool) {
        let mut said = self.said();
        if fail {
            said.failing_smoke.insert(service.to_owned());
        } else {
            said.failing_smoke.remove(service);
        }
    }
}

impl<P: Platform> Platform for Faults<P> {
    async fn running(&self, cluster: &str, service: &ServiceConfig) -> PortResult<Running> {
        self.inner.running(cluster, service).await
    }
    async fn running_revision(&self, cluster: &str, service: &ServiceConfig) -> PortResult<String> {
        self.inner.running_revision(cluster, service).await
    }
    async fn resolve_image(&self, repository: &str, tag: &Version) -> PortResult<Option<Digest>> {
        self.inner.resolve_image(repository, tag).await
    }
    async fn roll_out(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        image: &ImageRef,
        step: &str,
    ) -> PortResult<StepRollout> {
        self.inner.roll_out(cluster, service, image, step).await
    }
    async fn roll_back(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        task_definition: &str,
        replacing: Option<&str>,
    ) -> PortResult<Rollout> {
        self.inner
            .roll_back(cluster, service, task_definition, replacing)
            .await
    }
    async fn run_migration(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        image: &ImageRef,
        command: &[String],
        run: &str,
    ) -> PortResult<i32> {
        let exit = self
            .inner
            .run_migration(cluster, service, image, command, run)
            .await?;
        Ok(match self.said().migration_exit {
            Some(code) if exit == 0 => code,
            _ => exit,
        })
    }
    async fn start_smoke(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        task_definition: &str,
        command: &[String],
        run: &str,
    ) -> PortResult<String> {
        self.inner
            .start_smoke(cluster, service, task_definition, command, run)
            .await
    }
    async fn run_task(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        command: &[String],
        started_by: &str,
    ) -> PortResult<String> {
        self.inner
            .run_task(cluster, service, command, started_by)
            .await
    }
    async fn task_state(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        task: &str,
    ) -> PortResult<TaskState> {
        let state = self.inner.task_state(cluster, service, task).await?;
        let failing = self.said().failing_smoke.contains(service.name.as_str());
        Ok(match state {
            TaskState::Stopped {
                exit_code: Some(0),
                log_tail,
                ..
            } if failing => TaskState::Stopped {
                exit_code: Some(1),
                reason: "Essential container in task exited".into(),
                log_tail,
            },
            other => other,
        })
    }
    async fn stop_task(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        task: &str,
        reason: &str,
    ) -> PortResult<Vec<String>> {
        self.inner.stop_task(cluster, service, task, reason).await
    }
    async fn rollout_state(
        &self,
        cluster: &str,
        service: &ServiceConfig,
        ecs_deployment: &str,
    ) -> PortResult<RolloutState> {
        self.inner
            .rollout_state(cluster, service, ecs_deployment)
            .await
    }
}
