//! `Platform` on ECS (services, task definitions, one-off tasks) and ECR (image tags).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_ecs::types::{ContainerOverride, Service, Task, TaskDefinition, TaskOverride};
use deckhand_core::check::{LOG_TAIL, TaskState};
use deckhand_core::config::ServiceConfig;
use deckhand_core::deployment::ImageRef;
use deckhand_core::ports::{
    Platform, PortError, PortResult, Rollout, RolloutState, Running, StepRollout,
};
use deckhand_core::types::{Digest, Version};

use crate::error::port_error;

/// The tag on every task definition revision Deckhand registers (value `true`).
pub const MANAGED_TAG: &str = "deckhand:managed";
/// The rollout step that registered a revision: how a retried step recognises its own.
pub const STEP_TAG: &str = "deckhand:step";

/// The tag naming the version a revision Deckhand registered runs: its image is pinned by
/// digest alone, so the tag is how a card says `v1.2.3 → v1.2.4` and never `? → v1.2.4`.
pub const VERSION_TAG: &str = "deckhand:version";

#[derive(Debug, Clone)]
pub struct EcsPlatform {
    ecs: aws_sdk_ecs::Client,
    ecr: aws_sdk_ecr::Client,
    /// Repository name → URI (`123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/api`). URIs
    /// never change, so a warm Lambda asks once per repository.
    /// Shared by clones.
    repository_uris: std::sync::Arc<Mutex<HashMap<String, String>>>,
    /// Where a stopped task's last log lines are read (`None`: a task's failure says only
    /// its exit code and ECS's reason).
    logs: Option<aws_sdk_cloudwatchlogs::Client>,
    /// How often to look at a migration task, and for how long.
    pub migration_poll: Duration,
    pub migration_timeout: Duration,
}

/// What Deckhand's migration tasks are started by, followed by the deployment's id (ECS allows
/// 128 characters; a ULID is 26), so a retry finds the task an earlier attempt started.
pub const MIGRATION_STARTED_BY: &str = "deckhand-migration-";

/// What Deckhand's smoke tasks are started by, followed by `<deployment>-<service>`.
pub const SMOKE_STARTED_BY: &str = "deckhand-smoke-";

impl EcsPlatform {
    pub fn new(ecs: aws_sdk_ecs::Client, ecr: aws_sdk_ecr::Client) -> Self {
        Self {
            ecs,
            ecr,
            repository_uris: std::sync::Arc::default(),
            logs: None,
            migration_poll: Duration::from_secs(5),
            migration_timeout: Duration::from_secs(10 * 60),
        }
    }

    /// Reads a stopped task's last log lines from CloudWatch Logs.
    pub fn with_logs(mut self, logs: aws_sdk_cloudwatchlogs::Client) -> Self {
        self.logs = Some(logs);
        self
    }

    async fn service(&self, cluster: &str, service: &str) -> PortResult<Service> {
        let what = format!("DescribeServices {service} in cluster {cluster}");
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| port_error(&what, &e))?;
        // A service the config names and ECS does not have is the operator's to fix.
        if let Some(f) = out.failures().first() {
            let reason = f.reason().unwrap_or("unknown");
            return Err(PortError::Misconfigured(format!(
                "ECS service {service} in cluster {cluster}: {reason}; check `ecs_service` in the config"
            )));
        }
        out.services
            .unwrap_or_default()
            .into_iter()
            .find(|s| s.status() != Some("INACTIVE"))
            .ok_or_else(|| {
                PortError::Misconfigured(format!(
                    "ECS service {service} in cluster {cluster} does not exist; check `ecs_service` in the config"
                ))
            })
    }

    async fn task_definition(
        &self,
        arn: &str,
    ) -> PortResult<(TaskDefinition, Vec<aws_sdk_ecs::types::Tag>)> {
        let what = format!("DescribeTaskDefinition {arn}");
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| port_error(&what, &e))?;
        let td = out
            .task_definition
            .ok_or_else(|| PortError::NotFound(format!("task definition {arn}")))?;
        Ok((td, out.tags.unwrap_or_default()))
    }

    async fn repository_uri(&self, repository: &str) -> PortResult<String> {
        if let Some(uri) = self
            .repository_uris
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(repository)
        {
            return Ok(uri.clone());
        }
        let what = format!("DescribeRepositories {repository}");
        let out = self
            .ecr
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
            .map_err(|e| port_error(&what, &e))?;
        let uri = out
            .repositories()
            .first()
            .and_then(|r| r.repository_uri())
            .ok_or_else(|| PortError::NotFound(format!("ECR repository {repository}")))?
            .to_owned();
        self.repository_uris
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(repository.to_owned(), uri.clone());
        Ok(uri)
    }

    /// Registers a new revision of `td` in which only `container`'s image differs: every other
    /// field (environment, secrets, ports, CPU and memory, roles, log configuration, volumes,
    /// tags…) is carried over as it is.
    async fn register_with_image(
        &self,
        td: TaskDefinition,
        tags: Vec<aws_sdk_ecs::types::Tag>,
        container: &str,
        image: &str,
    ) -> PortResult<String> {
        let family = td.family().unwrap_or_default().to_owned();
        let mut containers = td.container_definitions.clone().unwrap_or_default();
        let target = containers
            .iter_mut()
            .find(|c| c.name() == Some(container))
            .ok_or_else(|| {
                PortError::NotFound(format!("container {container} in task definition {family}"))
            })?;
        target.image = Some(image.to_owned());
        let out = self
            .ecs
            .register_task_definition()
            .family(&family)
            .set_task_role_arn(td.task_role_arn)
            .set_execution_role_arn(td.execution_role_arn)
            .set_network_mode(td.network_mode)
            .set_container_definitions(Some(containers))
            .set_volumes(td.volumes)
            .set_placement_constraints(td.placement_constraints)
            .set_requires_compatibilities(td.requires_compatibilities)
            .set_cpu(td.cpu)
            .set_memory(td.memory)
            .set_pid_mode(td.pid_mode)
            .set_ipc_mode(td.ipc_mode)
            .set_proxy_configuration(td.proxy_configuration)
            .set_ephemeral_storage(td.ephemeral_storage)
            .set_runtime_platform(td.runtime_platform)
            .set_enable_fault_injection(td.enable_fault_injection)
            .set_tags(if tags.is_empty() { None } else { Some(tags) })
            .send()
            .await
            .map_err(|e| port_error(&format!("RegisterTaskDefinition {family}"), &e))?;
        out.task_definition()
            .and_then(|t| t.task_definition_arn())
            .map(str::to_owned)
            .ok_or_else(|| {
                PortError::Failed(format!("RegisterTaskDefinition {family} returned no ARN"))
            })
    }

    /// The service's new revision for `step`, registered under it, unless an earlier attempt
    /// of `step` registered one already: then the service either runs it (that attempt's
    /// `UpdateService` went through, and a second one would start a second ECS deployment)
    /// or, when `look_back`, it does not (ECS rolled it back), and nothing is registered.
    async fn new_revision(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        image: &ImageRef,
        step: &str,
        look_back: bool,
    ) -> PortResult<(Service, Revision)> {
        let service = self.service(cluster, &svc.ecs_service).await?;
        let current = service.task_definition().ok_or_else(|| {
            PortError::Failed(format!("{} has no task definition", svc.ecs_service))
        })?;
        let (td, mut tags) = self.task_definition(current).await?;
        if tags
            .iter()
            .any(|t| t.key() == Some(STEP_TAG) && t.value() == Some(step))
            && let Some(primary) = primary_deployment(&service)
        {
            let earlier = Rollout {
                task_definition: current.to_owned(),
                ecs_deployment: primary.to_owned(),
            };
            return Ok((service, Revision::Running(earlier)));
        }
        if look_back
            && let Some(family) = td.family()
            && let Some(registered) = self.registered_by(current, family, step).await?
        {
            return Ok((service, Revision::Undone(registered)));
        }
        // Marks the revision as Deckhand's. The deploy function's IAM policy allows
        // RegisterTaskDefinition (which takes no resource ARN) only with this tag on the request.
        tags.retain(
            |t| !matches!(t.key(), Some(k) if [MANAGED_TAG, STEP_TAG, VERSION_TAG].contains(&k)),
        );
        for (key, value) in [
            (MANAGED_TAG, "true"),
            (STEP_TAG, step),
            (VERSION_TAG, image.tag.as_str()),
        ] {
            tags.push(
                aws_sdk_ecs::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build(),
            );
        }
        let uri = self.repository_uri(&image.repository).await?;
        // Pinned by digest: what was approved is what runs, even if the tag moves later.
        let arn = self
            .register_with_image(td, tags, &svc.container, &format!("{uri}@{}", image.digest))
            .await?;
        Ok((service, Revision::New(arn)))
    }

    /// A revision of `family` newer than `current` that an earlier attempt of `step`
    /// registered, if there is one. Only a newer one can be a step's the service no longer
    /// runs (a rollback, ECS's or ours, goes to an older revision), and the newest few are
    /// enough: while the step's deployment holds its environment's lock, nothing registers in
    /// its service's family but that deployment's own migration and rollout steps.
    async fn registered_by(
        &self,
        current: &str,
        family: &str,
        step: &str,
    ) -> PortResult<Option<String>> {
        const NEWEST: i32 = 5;
        let out = self
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .sort(aws_sdk_ecs::types::SortOrder::Desc)
            .max_results(NEWEST)
            .send()
            .await
            .map_err(|e| port_error(&format!("ListTaskDefinitions {family}"), &e))?;
        let newer_than = revision_number(current);
        // Sorted here too: the newest first, whatever order the listing came in.
        let mut newer: Vec<&str> = out
            .task_definition_arns()
            .iter()
            .map(String::as_str)
            .filter(|arn| revision_number(arn) > newer_than)
            .collect();
        newer.sort_by_key(|arn| std::cmp::Reverse(revision_number(arn)));
        for arn in newer {
            let (_, tags) = self.task_definition(arn).await?;
            if tags
                .iter()
                .any(|t| t.key() == Some(STEP_TAG) && t.value() == Some(step))
            {
                return Ok(Some(arn.to_owned()));
            }
        }
        Ok(None)
    }

    async fn update(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        task_definition: &str,
        new_deployment: bool,
    ) -> PortResult<Rollout> {
        let what = format!("UpdateService {} in cluster {cluster}", svc.ecs_service);
        // `force_new_deployment` only when the task definition changes, which starts a new
        // deployment in ECS anyway: it changes nothing there, and it makes moto (which keeps the
        // old deployment id otherwise) report a new one as ECS does. When it does not change
        // (a retried rollback whose first UpdateService got through), nothing is forced and
        // ECS returns the deployment already under way.
        let out = self
            .ecs
            .update_service()
            .cluster(cluster)
            .service(&svc.ecs_service)
            .task_definition(task_definition)
            .force_new_deployment(new_deployment)
            .send()
            .await
            .map_err(|e| port_error(&what, &e))?;
        let service = out
            .service
            .ok_or_else(|| PortError::Failed(format!("{what} returned no service")))?;
        // The PRIMARY deployment is the one this update started; its id is what ECS's
        // "Deployment State Change" events name.
        let primary = primary_deployment(&service).ok_or_else(|| {
            PortError::Failed(format!("{what}: ECS reported no primary deployment"))
        })?;
        Ok(Rollout {
            task_definition: task_definition.to_owned(),
            ecs_deployment: primary.to_owned(),
        })
    }

    /// The one-off task an earlier attempt started under `started_by`, running or stopped
    /// (ECS lists stopped tasks for about an hour).
    async fn one_off_task(&self, cluster: &str, started_by: &str) -> PortResult<Option<String>> {
        use aws_sdk_ecs::types::DesiredStatus;
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let out = self
                .ecs
                .list_tasks()
                .cluster(cluster)
                .started_by(started_by)
                .desired_status(status)
                .send()
                .await
                .map_err(|e| {
                    port_error(&format!("ListTasks {started_by} in cluster {cluster}"), &e)
                })?;
            if let Some(task) = out.task_arns().first() {
                return Ok(Some(task.clone()));
            }
        }
        Ok(None)
    }

    async fn start_migration(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        image: &ImageRef,
        command: &[String],
        started_by: &str,
    ) -> PortResult<String> {
        // Never run by the service, so never taken for an earlier attempt's rollout.
        let (service, revision) = self
            .new_revision(cluster, svc, image, started_by, false)
            .await?;
        let arn = match revision {
            Revision::New(arn) | Revision::Undone(arn) => arn,
            Revision::Running(earlier) => earlier.task_definition,
        };
        let what = format!("RunTask {} migration in cluster {cluster}", svc.ecs_service);
        self.run_one_off(&what, cluster, &service, svc, &arn, command, started_by)
            .await
    }

    /// Runs `command` once on `task_definition`, placed and networked as `service`'s tasks are.
    #[allow(clippy::too_many_arguments)]
    async fn run_one_off(
        &self,
        what: &str,
        cluster: &str,
        service: &Service,
        svc: &ServiceConfig,
        task_definition: &str,
        command: &[String],
        started_by: &str,
    ) -> PortResult<String> {
        let overrides = TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder()
                    .name(&svc.container)
                    .set_command(Some(command.to_vec()))
                    .build(),
            )
            .build();
        let mut req = self
            .ecs
            .run_task()
            .cluster(cluster)
            .task_definition(task_definition)
            .count(1)
            .started_by(started_by)
            .overrides(overrides)
            .set_network_configuration(service.network_configuration().cloned())
            .set_platform_version(service.platform_version().map(str::to_owned));
        // A service uses either a launch type or capacity providers; the task does the same.
        match service.capacity_provider_strategy() {
            [] => req = req.set_launch_type(service.launch_type().cloned()),
            strategy => req = req.set_capacity_provider_strategy(Some(strategy.to_vec())),
        }
        let out = req.send().await.map_err(|e| port_error(what, &e))?;
        if let Some(f) = out.failures().first() {
            return Err(PortError::Failed(format!(
                "{what}: {}",
                f.reason().unwrap_or("failed")
            )));
        }
        out.tasks()
            .first()
            .and_then(|t| t.task_arn())
            .map(str::to_owned)
            .ok_or_else(|| PortError::Failed(format!("{what}: no task started")))
    }

    /// A task as ECS describes it.
    pub async fn describe_task(&self, cluster: &str, task: &str) -> PortResult<Task> {
        let what = format!("DescribeTasks {task} in cluster {cluster}");
        let out = self
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .tasks(task)
            .send()
            .await
            .map_err(|e| port_error(&what, &e))?;
        out.tasks()
            .first()
            .cloned()
            .ok_or_else(|| PortError::NotFound(format!("task {task} in cluster {cluster}")))
    }

    /// The last [`LOG_TAIL`] lines `container` of `task` logged, when its task definition
    /// sends them to CloudWatch Logs (the `awslogs` driver). Best effort: a task whose log
    /// cannot be read fails with its exit code alone.
    async fn log_tail(&self, task: &aws_sdk_ecs::types::Task, container: &str) -> Vec<String> {
        let (Some(logs), Some(td), Some(arn)) =
            (&self.logs, task.task_definition_arn(), task.task_arn())
        else {
            return Vec::new();
        };
        let Ok((td, _)) = self.task_definition(td).await else {
            return Vec::new();
        };
        let Some(options) = td
            .container_definitions()
            .iter()
            .find(|c| c.name() == Some(container))
            .and_then(|c| c.log_configuration())
            .filter(|l| l.log_driver() == &aws_sdk_ecs::types::LogDriver::Awslogs)
            .and_then(|l| l.options())
        else {
            return Vec::new();
        };
        let (Some(group), Some(prefix)) = (
            options.get("awslogs-group"),
            options.get("awslogs-stream-prefix"),
        ) else {
            return Vec::new();
        };
        // awslogs names a task's stream `prefix/container/task-id`.
        let task_id = arn.rsplit('/').next().unwrap_or(arn);
        let stream = format!("{prefix}/{container}/{task_id}");
        let limit = i32::try_from(LOG_TAIL).unwrap_or(10);
        match logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(&stream)
            .start_from_head(false)
            .limit(limit)
            .send()
            .await
        {
            Ok(out) => out
                .events()
                .iter()
                .filter_map(|e| e.message())
                .map(|m| m.trim_end().to_owned())
                .collect(),
            Err(e) => {
                tracing::warn!(group, stream, error = %port_error("GetLogEvents", &e), "could not read the task's log");
                Vec::new()
            }
        }
    }
}

impl Platform for EcsPlatform {
    async fn running(&self, cluster: &str, svc: &ServiceConfig) -> PortResult<Running> {
        let service = self.service(cluster, &svc.ecs_service).await?;
        let arn = service.task_definition().ok_or_else(|| {
            PortError::Failed(format!("{} has no task definition", svc.ecs_service))
        })?;
        let (td, tags) = self.task_definition(arn).await?;
        let tag = |key: &str| {
            tags.iter()
                .find(|t| t.key() == Some(key))
                .and_then(|t| t.value())
                .map(str::to_owned)
        };
        let (step, version) = (tag(STEP_TAG), tag(VERSION_TAG));
        let image = td
            .container_definitions()
            .iter()
            .find(|c| c.name() == Some(svc.container.as_str()))
            .and_then(|c| c.image())
            .ok_or_else(|| {
                PortError::Misconfigured(format!(
                    "container {} in task definition {arn} does not exist; check `container` in the config",
                    svc.container
                ))
            })?;
        Ok(Running {
            task_definition: arn.to_owned(),
            image: image.to_owned(),
            ecs_deployment: primary_deployment(&service).map(str::to_owned),
            step,
            version,
            since: primary(&service)
                .and_then(|d| d.created_at())
                .and_then(|t| jiff::Timestamp::new(t.secs(), 0).ok()),
        })
    }

    async fn running_revision(&self, cluster: &str, svc: &ServiceConfig) -> PortResult<String> {
        let service = self.service(cluster, &svc.ecs_service).await?;
        service
            .task_definition()
            .map(str::to_owned)
            .ok_or_else(|| PortError::Failed(format!("{} has no task definition", svc.ecs_service)))
    }

    async fn resolve_image(&self, repository: &str, tag: &Version) -> PortResult<Option<Digest>> {
        let what = format!("DescribeImages {repository}:{tag}");
        let res = self
            .ecr
            .describe_images()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag.as_str()).build())
            .send()
            .await
            .map_err(|e| port_error(&what, &e));
        let out = match res {
            Ok(out) => out,
            // ECR says "image not found" as an error; a missing *repository* stays an error.
            Err(PortError::NotFound(m)) if m.contains("ImageNotFoundException") => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(digest) = out.image_details().first().and_then(|d| d.image_digest()) else {
            return Ok(None);
        };
        Digest::parse(digest)
            .map(Some)
            .map_err(|e| PortError::Failed(format!("{what}: {e}")))
    }

    async fn roll_out(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        image: &ImageRef,
        step: &str,
    ) -> PortResult<StepRollout> {
        match self.new_revision(cluster, svc, image, step, true).await?.1 {
            Revision::New(arn) => self
                .update(cluster, svc, &arn, true)
                .await
                .map(StepRollout::Rolling),
            Revision::Running(earlier) => {
                tracing::warn!(step, ecs_deployment = %earlier.ecs_deployment, "this rollout step already got through; not updating the service again");
                Ok(StepRollout::Rolling(earlier))
            }
            Revision::Undone(task_definition) => {
                tracing::warn!(step, %task_definition, "an earlier attempt of this rollout step registered a revision the service does not run; not sending it again");
                Ok(StepRollout::Undone { task_definition })
            }
        }
    }

    async fn roll_back(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        task_definition: &str,
        replacing: Option<&str>,
    ) -> PortResult<Rollout> {
        let changes = match replacing {
            Some(running) => running != task_definition,
            None => {
                let current = self.service(cluster, &svc.ecs_service).await?;
                current.task_definition() != Some(task_definition)
            }
        };
        self.update(cluster, svc, task_definition, changes).await
    }

    async fn run_migration(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        image: &ImageRef,
        command: &[String],
        run: &str,
    ) -> PortResult<i32> {
        let started_by = format!("{MIGRATION_STARTED_BY}{run}");
        let task = match self.one_off_task(cluster, &started_by).await? {
            // An earlier attempt of this deployment started it (the function timed out or
            // crashed while waiting): wait for that one, never run the migration twice.
            Some(task) => task,
            None => {
                self.start_migration(cluster, svc, image, command, &started_by)
                    .await?
            }
        };
        let started = tokio::time::Instant::now();
        loop {
            let out = self
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .tasks(&task)
                .send()
                .await
                .map_err(|e| port_error(&format!("DescribeTasks {task}"), &e))?;
            if let Some(t) = out.tasks().first()
                && t.last_status() == Some("STOPPED")
            {
                let container = t
                    .containers()
                    .iter()
                    .find(|c| c.name() == Some(svc.container.as_str()));
                return match container.and_then(|c| c.exit_code()) {
                    Some(code) => Ok(code),
                    None => Err(PortError::Failed(format!(
                        "migration task {task} stopped without an exit code: {}",
                        t.stopped_reason().unwrap_or("no reason given")
                    ))),
                };
            }
            if started.elapsed() >= self.migration_timeout {
                return Err(PortError::Transient(format!(
                    "migration task {task} is still running after {:?}",
                    self.migration_timeout
                )));
            }
            tokio::time::sleep(self.migration_poll).await;
        }
    }

    async fn start_smoke(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        task_definition: &str,
        command: &[String],
        run: &str,
    ) -> PortResult<String> {
        let started_by = format!("{SMOKE_STARTED_BY}{run}-{}", svc.name);
        if let Some(task) = self.one_off_task(cluster, &started_by).await? {
            return Ok(task);
        }
        let service = self.service(cluster, &svc.ecs_service).await?;
        let what = format!(
            "RunTask {} smoke test in cluster {cluster}",
            svc.ecs_service
        );
        self.run_one_off(
            &what,
            cluster,
            &service,
            svc,
            task_definition,
            command,
            &started_by,
        )
        .await
    }

    async fn run_task(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        command: &[String],
        started_by: &str,
    ) -> PortResult<String> {
        if let Some(task) = self.one_off_task(cluster, started_by).await? {
            return Ok(task);
        }
        let service = self.service(cluster, &svc.ecs_service).await?;
        let td = service
            .task_definition()
            .map(str::to_owned)
            .ok_or_else(|| {
                PortError::Failed(format!("{} has no task definition", svc.ecs_service))
            })?;
        let what = format!("RunTask {} one-off in cluster {cluster}", svc.ecs_service);
        self.run_one_off(&what, cluster, &service, svc, &td, command, started_by)
            .await
    }

    async fn task_state(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        task: &str,
    ) -> PortResult<TaskState> {
        let t = self.describe_task(cluster, task).await?;
        if t.last_status() != Some("STOPPED") {
            return Ok(TaskState::Running);
        }
        let container = t
            .containers()
            .iter()
            .find(|c| c.name() == Some(svc.container.as_str()));
        let reason = container
            .and_then(|c| c.reason())
            .or(t.stopped_reason())
            .unwrap_or("no reason given")
            .to_owned();
        Ok(TaskState::Stopped {
            exit_code: container.and_then(|c| c.exit_code()),
            reason,
            log_tail: self.log_tail(&t, &svc.container).await,
        })
    }

    async fn stop_task(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        task: &str,
        reason: &str,
    ) -> PortResult<Vec<String>> {
        let what = format!("StopTask {task} in cluster {cluster}");
        let out = self
            .ecs
            .stop_task()
            .cluster(cluster)
            .task(task)
            .reason(reason)
            .send()
            .await
            .map_err(|e| port_error(&what, &e))?;
        Ok(match out.task() {
            Some(t) => self.log_tail(t, &svc.container).await,
            None => Vec::new(),
        })
    }

    async fn rollout_state(
        &self,
        cluster: &str,
        svc: &ServiceConfig,
        ecs_deployment: &str,
    ) -> PortResult<RolloutState> {
        let service = self.service(cluster, &svc.ecs_service).await?;
        let d = service
            .deployments()
            .iter()
            .find(|d| d.id() == Some(ecs_deployment))
            .ok_or_else(|| {
                PortError::NotFound(format!(
                    "ECS deployment {ecs_deployment} of {} in cluster {cluster}",
                    svc.ecs_service
                ))
            })?;
        use aws_sdk_ecs::types::DeploymentRolloutState as S;
        Ok(match d.rollout_state() {
            Some(S::Completed) => RolloutState::Completed,
            Some(S::Failed) => RolloutState::Failed {
                reason: d
                    .rollout_state_reason()
                    .unwrap_or("no reason given")
                    .to_owned(),
            },
            _ => RolloutState::InProgress,
        })
    }
}

/// What a step's look at its service's revisions found.
#[derive(Debug)]
enum Revision {
    /// Registered now, under the step.
    New(String),
    /// An earlier attempt's, which the service runs: its rollout.
    Running(Rollout),
    /// An earlier attempt's, which the service does not run.
    Undone(String),
}

/// A task definition's revision number (`…/family:7` is 7); 0 when it names none.
fn revision_number(task_definition: &str) -> u32 {
    task_definition
        .rsplit(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The id of the service's PRIMARY deployment: the one its latest update started.
fn primary_deployment(service: &Service) -> Option<&str> {
    primary(service).and_then(|d| d.id())
}

fn primary(service: &Service) -> Option<&aws_sdk_ecs::types::Deployment> {
    service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
}
