//! Creating AWS resources on the emulator: what tests and the demo deploy to.

use anyhow::{Context as _, anyhow};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, KeyValuePair,
    LaunchType, LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode, PortMapping,
    Secret, Tag,
};
use deckhand_aws::Aws;
use deckhand_aws::dynamo::DynamoStore;
use deckhand_core::config::{BackupKind, Config};
use deckhand_core::types::Digest;

use crate::{Emulator, unique};

/// Seeds resources on an emulator, each under a unique name.
#[derive(Debug, Clone)]
pub struct Seed {
    pub aws: Aws,
    emulator: &'static Emulator,
}

/// A service created on the emulator.
#[derive(Debug, Clone)]
pub struct SeededService {
    pub cluster: String,
    pub service: String,
    pub container: String,
    pub repository: String,
    pub repository_uri: String,
    pub task_definition: String,
}

fn first_tag<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find('<')?;
    Some(&xml[start..start + len])
}

/// A stand-in layer digest, different for every (repository, tag, build).
fn layer_digest(repository: &str, tag: &str, build: &str) -> String {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (repository, tag, build).hash(&mut h);
    format!("sha256:{}", format!("{:016x}", h.finish()).repeat(4))
}

impl Seed {
    pub async fn new(emulator: &'static Emulator) -> Self {
        Self {
            aws: Aws::new(&emulator.sdk_config().await),
            emulator,
        }
    }

    /// A fresh Deckhand table.
    pub async fn table(&self) -> anyhow::Result<DynamoStore> {
        let name = unique("deckhand");
        DynamoStore::create_table(&self.aws.dynamodb, &name).await?;
        Ok(DynamoStore::new(self.aws.dynamodb.clone(), name))
    }

    /// A subnet and security group of moto's default VPC, which Fargate services need.
    pub fn network(&self) -> anyhow::Result<NetworkConfiguration> {
        let subnets = self.emulator.query(
            "ec2",
            &[("Action", "DescribeSubnets"), ("Version", "2016-11-15")],
        )?;
        let groups = self.emulator.query(
            "ec2",
            &[
                ("Action", "DescribeSecurityGroups"),
                ("Version", "2016-11-15"),
            ],
        )?;
        let subnet =
            first_tag(&subnets, "subnetId").ok_or_else(|| anyhow!("moto has no default subnet"))?;
        let group = first_tag(&groups, "groupId")
            .ok_or_else(|| anyhow!("moto has no default security group"))?;
        let vpc = AwsVpcConfiguration::builder()
            .subnets(subnet)
            .security_groups(group)
            .assign_public_ip(AssignPublicIp::Disabled)
            .build()
            .context("awsvpc configuration")?;
        Ok(NetworkConfiguration::builder()
            .awsvpc_configuration(vpc)
            .build())
    }

    /// An ECR repository; returns its URI.
    pub async fn repository(&self, name: &str) -> anyhow::Result<String> {
        let out = self
            .aws
            .ecr
            .create_repository()
            .repository_name(name)
            .send()
            .await?;
        out.repository()
            .and_then(|r| r.repository_uri())
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no repository URI"))
    }

    /// Pushes an image tag; returns the digest ECR computed. The manifest names the tag and a
    /// `build` string, so pushing the same tag with another build moves the tag to a new digest.
    pub async fn push_image(
        &self,
        repository: &str,
        tag: &str,
        build: &str,
    ) -> anyhow::Result<Digest> {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": format!("sha256:{}", "0".repeat(64)) },
            // moto's digest is the hash of the layer digests, so each build gets its own layer.
            "layers": [{ "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1, "digest": layer_digest(repository, tag, build) }],
            "annotations": { "tag": tag, "build": build },
        });
        let out = self
            .aws
            .ecr
            .put_image()
            .repository_name(repository)
            .image_tag(tag)
            .image_manifest(manifest.to_string())
            .send()
            .await?;
        let digest = out
            .image()
            .and_then(|i| i.image_id())
            .and_then(|i| i.image_digest())
            .ok_or_else(|| anyhow!("no digest"))?;
        Ok(Digest::parse(digest)?)
    }

    /// A cluster with a Fargate service running `repository:tag`, from a task definition with
    /// the fields a real one has (environment, secrets, ports, logs, roles, tags), so tests can
    /// check a new revision keeps them all.
    pub async fn service(&self, name: &str, tag: &str) -> anyhow::Result<SeededService> {
        let cluster = unique("cluster");
        let repository = unique(&format!("acme/{name}"));
        let repository_uri = self.repository(&repository).await?;
        self.push_image(&repository, tag, "1").await?;
        self.cluster(&cluster).await?;
        let service = unique(name);
        let task_definition = self
            .ecs_service(&cluster, &service, "app", &repository_uri, tag)
            .await?;
        Ok(SeededService {
            cluster,
            service,
            container: "app".into(),
            repository,
            repository_uri,
            task_definition,
        })
    }

    pub async fn cluster(&self, name: &str) -> anyhow::Result<()> {
        self.aws
            .ecs
            .create_cluster()
            .cluster_name(name)
            .send()
            .await?;
        Ok(())
    }

    /// A Fargate service `service` in `cluster` whose container `container` runs
    /// `repository_uri:tag`; returns its task definition's ARN.
    pub async fn ecs_service(
        &self,
        cluster: &str,
        service: &str,
        container: &str,
        repository_uri: &str,
        tag: &str,
    ) -> anyhow::Result<String> {
        let app = ContainerDefinition::builder()
            .name(container)
            .image(format!("{repository_uri}:{tag}"))
            .essential(true)
            .cpu(256)
            .memory(512)
            .port_mappings(
                PortMapping::builder()
                    .container_port(8080)
                    .host_port(8080)
                    .build(),
            )
            .environment(
                KeyValuePair::builder()
                    .name("RUST_LOG")
                    .value("info")
                    .build(),
            )
            .environment(
                KeyValuePair::builder()
                    .name("FEATURE_X")
                    .value("on")
                    .build(),
            )
            .secrets(
                Secret::builder()
                    .name("DATABASE_URL")
                    .value_from("arn:aws:secretsmanager:us-east-1:123456789012:secret:db")
                    .build()?,
            )
            .log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", format!("/ecs/{service}"))
                    .options("awslogs-region", crate::REGION)
                    .options("awslogs-stream-prefix", service)
                    .build()?,
            )
            .build();
        let sidecar = ContainerDefinition::builder()
            .name("envoy")
            .image("public.ecr.aws/envoy:v1.31")
            .essential(false)
            .cpu(64)
            .memory(128)
            .build();
        let td = self
            .aws
            .ecs
            .register_task_definition()
            .family(format!("{cluster}-{service}"))
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("512")
            .memory("1024")
            .task_role_arn("arn:aws:iam::123456789012:role/app-task")
            .execution_role_arn("arn:aws:iam::123456789012:role/app-exec")
            .container_definitions(app)
            .container_definitions(sidecar)
            .tags(Tag::builder().key("team").value("platform").build())
            .send()
            .await?;
        let task_definition = td
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .ok_or_else(|| anyhow!("no task definition ARN"))?
            .to_owned();
        self.aws
            .ecs
            .create_service()
            .cluster(cluster)
            .service_name(service)
            .task_definition(&task_definition)
            .desired_count(2)
            .launch_type(LaunchType::Fargate)
            .network_configuration(self.network()?)
            .send()
            .await?;
        Ok(task_definition)
    }

    /// Everything `config` names, under the names it uses: a cluster per environment; an ECR
    /// repository per service with `tag` pushed; each service in each of its environments
    /// running `tag`; every alarm (state OK); every backup plan's DB instance or cluster.
    /// The config's names must be fresh on this emulator (tests use [`unique`] names in it).
    pub async fn config(&self, config: &Config, tag: &str) -> anyhow::Result<()> {
        for env in config.environments.values() {
            self.cluster(&env.cluster).await?;
        }
        for svc in config.services.values() {
            let uri = self.repository(&svc.repository).await?;
            self.push_image(&svc.repository, tag, "1").await?;
            for env in &svc.envs {
                let cluster = &config
                    .env(env.as_str())
                    .ok_or_else(|| anyhow!("{env} is not in the config"))?
                    .cluster;
                self.ecs_service(cluster, &svc.ecs_service, &svc.container, &uri, tag)
                    .await?;
            }
        }
        for name in config.alarms.keys() {
            self.alarm_named(name, false).await?;
        }
        for plan in config.backups.values() {
            self.db_named(plan.kind, &plan.target).await?;
        }
        Ok(())
    }

    /// Plays the one-off containers' part: moto never finishes an ECS task by itself, so this
    /// stops every migration and smoke task Deckhand starts in `clusters`, as a container
    /// exiting 0 would (moto reports exit code 0 for every stopped task) — a smoke task after
    /// writing its log lines, as its container would — except while `held` (a test that acts
    /// while a migration runs holds them, so the task is still running when it looks). Runs
    /// until dropped.
    pub async fn finish_tasks(
        &self,
        clusters: Vec<String>,
        held: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) {
        loop {
            let clusters = if held.load(std::sync::atomic::Ordering::SeqCst) {
                &[][..]
            } else {
                &clusters[..]
            };
            for cluster in clusters {
                let tasks = self
                    .one_off_tasks(cluster, aws_sdk_ecs::types::DesiredStatus::Running)
                    .await
                    .unwrap_or_default();
                for task in tasks {
                    let arn = task.task_arn().unwrap_or_default().to_owned();
                    let smoke = task
                        .started_by()
                        .is_some_and(|s| s.starts_with(deckhand_aws::ecs::SMOKE_STARTED_BY));
                    if smoke && let Err(e) = self.log_smoke(&task).await {
                        tracing::warn!(task = arn, error = %e, "could not write the smoke task's log");
                    }
                    if let Err(e) = self.stop_task(cluster, &arn).await {
                        tracing::warn!(task = arn, error = %e, "could not stop a one-off task");
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// What a smoke container logs, where the `awslogs` driver would put it.
    pub async fn log_smoke(&self, task: &aws_sdk_ecs::types::Task) -> anyhow::Result<()> {
        self.log_task(task, SMOKE_LOG).await
    }

    /// `lines` as a one-off task's container logs them, where the `awslogs` driver would put
    /// them (`prefix/container/task-id` in the task definition's group).
    pub async fn log_task(
        &self,
        task: &aws_sdk_ecs::types::Task,
        lines: &[&str],
    ) -> anyhow::Result<()> {
        let td = task
            .task_definition_arn()
            .ok_or_else(|| anyhow!("a task without a task definition"))?;
        let container = task
            .overrides()
            .and_then(|o| o.container_overrides().first())
            .and_then(|c| c.name())
            .ok_or_else(|| anyhow!("a smoke task without its container override"))?
            .to_owned();
        let described = self
            .aws
            .ecs
            .describe_task_definition()
            .task_definition(td)
            .send()
            .await?;
        let options = described
            .task_definition()
            .and_then(|t| {
                t.container_definitions()
                    .iter()
                    .find(|c| c.name() == Some(container.as_str()))
            })
            .and_then(|c| c.log_configuration())
            .and_then(|l| l.options())
            .cloned()
            .unwrap_or_default();
        let (Some(group), Some(prefix)) = (
            options.get("awslogs-group"),
            options.get("awslogs-stream-prefix"),
        ) else {
            return Ok(());
        };
        let arn = task.task_arn().unwrap_or_default();
        let stream = format!(
            "{prefix}/{container}/{}",
            arn.rsplit('/').next().unwrap_or(arn)
        );
        let logs = &self.aws.logs;
        // Exists already after the first smoke test of the service.
        let _ = logs.create_log_group().log_group_name(group).send().await;
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(&stream)
            .send()
            .await?;
        let now = jiff::Timestamp::now().as_millisecond();
        let mut put = logs
            .put_log_events()
            .log_group_name(group)
            .log_stream_name(&stream);
        for (i, line) in lines.iter().enumerate() {
            put = put.log_events(
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(now + i64::try_from(i).unwrap_or(0))
                    .message(*line)
                    .build()?,
            );
        }
        put.send().await?;
        Ok(())
    }

    /// Waits for Deckhand's next migration task in `cluster` and stops it as a container
    /// exiting 0 would; returns the task as it ran.
    pub async fn finish_next_migration(
        &self,
        cluster: &str,
    ) -> anyhow::Result<aws_sdk_ecs::types::Task> {
        loop {
            if let Some(arn) = self.running_migrations(cluster).await?.first() {
                let described = self
                    .aws
                    .ecs
                    .describe_tasks()
                    .cluster(cluster)
                    .tasks(arn)
                    .send()
                    .await?;
                let task = described
                    .tasks()
                    .first()
                    .cloned()
                    .ok_or_else(|| anyhow!("task {arn} vanished"))?;
                self.stop_task(cluster, arn).await?;
                return Ok(task);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Stops an ECS task (moto reports exit code 0 for it).
    pub async fn stop_task(&self, cluster: &str, task: &str) -> anyhow::Result<()> {
        self.aws
            .ecs
            .stop_task()
            .cluster(cluster)
            .task(task)
            .reason("migration finished")
            .send()
            .await?;
        Ok(())
    }

    /// Waits until a migration task of Deckhand's runs in `cluster`.
    pub async fn until_a_migration_runs(&self, cluster: &str) -> anyhow::Result<()> {
        while self.running_migrations(cluster).await?.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// The ARNs of Deckhand's migration tasks running in `cluster`.
    pub async fn running_migrations(&self, cluster: &str) -> anyhow::Result<Vec<String>> {
        self.migrations(cluster, aws_sdk_ecs::types::DesiredStatus::Running)
            .await
    }

    /// The ARNs of every migration task Deckhand started in `cluster`, running or stopped.
    pub async fn all_migrations(&self, cluster: &str) -> anyhow::Result<Vec<String>> {
        use aws_sdk_ecs::types::DesiredStatus;
        let mut all = self.migrations(cluster, DesiredStatus::Running).await?;
        all.extend(self.migrations(cluster, DesiredStatus::Stopped).await?);
        Ok(all)
    }

    /// Deckhand's migration and smoke tasks in `cluster` with `status`, as described.
    async fn one_off_tasks(
        &self,
        cluster: &str,
        status: aws_sdk_ecs::types::DesiredStatus,
    ) -> anyhow::Result<Vec<aws_sdk_ecs::types::Task>> {
        let arns = self
            .aws
            .ecs
            .list_tasks()
            .cluster(cluster)
            .desired_status(status)
            .send()
            .await?
            .task_arns
            .unwrap_or_default();
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let tasks = self
            .aws
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns))
            .send()
            .await?;
        Ok(tasks
            .tasks()
            .iter()
            .filter(|t| {
                t.started_by().is_some_and(|s| {
                    s.starts_with(deckhand_aws::ecs::MIGRATION_STARTED_BY)
                        || s.starts_with(deckhand_aws::ecs::SMOKE_STARTED_BY)
                })
            })
            .cloned()
            .collect())
    }

    async fn migrations(
        &self,
        cluster: &str,
        status: aws_sdk_ecs::types::DesiredStatus,
    ) -> anyhow::Result<Vec<String>> {
        Ok(self
            .one_off_tasks(cluster, status)
            .await?
            .iter()
            .filter(|t| {
                t.started_by()
                    .is_some_and(|s| s.starts_with(deckhand_aws::ecs::MIGRATION_STARTED_BY))
            })
            .filter_map(|t| t.task_arn().map(str::to_owned))
            .collect())
    }

    pub async fn db_instance(&self) -> anyhow::Result<String> {
        self.db(BackupKind::RdsInstance).await
    }

    pub async fn db_cluster(&self) -> anyhow::Result<String> {
        self.db(BackupKind::RdsCluster).await
    }

    /// A fresh database of the kind a snapshot plan backs up.
    pub async fn db(&self, kind: BackupKind) -> anyhow::Result<String> {
        let id = unique(match kind {
            BackupKind::RdsCluster => "aurora",
            _ => "db",
        });
        self.db_named(kind, &id).await?;
        Ok(id)
    }

    /// A database called `id`: an RDS instance or an Aurora cluster; an `ecs-task` plan's
    /// task runs on a seeded service and needs none.
    pub async fn db_named(&self, kind: BackupKind, id: &str) -> anyhow::Result<()> {
        let (user, password) = ("deckhand", "not-a-real-password");
        let rds = &self.aws.rds;
        match kind {
            BackupKind::RdsInstance => {
                rds.create_db_instance()
                    .db_instance_identifier(id)
                    .db_instance_class("db.t3.micro")
                    .engine("postgres")
                    .master_username(user)
                    .master_user_password(password)
                    .allocated_storage(20)
                    .send()
                    .await?;
            }
            BackupKind::RdsCluster => {
                rds.create_db_cluster()
                    .db_cluster_identifier(id)
                    .engine("aurora-postgresql")
                    .master_username(user)
                    .master_user_password(password)
                    .send()
                    .await?;
            }
            BackupKind::EcsTask => {}
        }
        Ok(())
    }

    /// A fresh EventBridge Scheduler schedule group (the template makes Deckhand's; moto answers
    /// 500 for a schedule in a group that does not exist).
    pub async fn schedule_group(&self) -> anyhow::Result<String> {
        let group = unique("backups");
        self.aws
            .scheduler
            .create_schedule_group()
            .name(&group)
            .send()
            .await?;
        Ok(group)
    }

    pub async fn secret(&self, value: &str) -> anyhow::Result<String> {
        let name = unique("deckhand/slack-signing-secret");
        self.aws
            .secrets
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await?;
        Ok(name)
    }

    /// A CloudWatch alarm, put into ALARM or left OK.
    pub async fn alarm(&self, firing: bool) -> anyhow::Result<String> {
        let name = unique("api-5xx");
        self.alarm_named(&name, firing).await?;
        Ok(name)
    }

    /// A CloudWatch alarm called `name`, put into ALARM or left OK.
    pub async fn alarm_named(&self, name: &str, firing: bool) -> anyhow::Result<()> {
        use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
        self.aws
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("AWS/ApplicationELB")
            .metric_name("HTTPCode_Target_5XX_Count")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(10.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await?;
        self.set_alarm_state(name, firing, "seeded").await
    }

    /// The ARN CloudWatch gave the alarm `name` (what its events carry in `resources`).
    pub async fn alarm_arn(&self, name: &str) -> anyhow::Result<String> {
        let out = self
            .aws
            .cloudwatch
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await?;
        Ok(out
            .metric_alarms()
            .iter()
            .find_map(|a| a.alarm_arn())
            .ok_or_else(|| anyhow::anyhow!("no alarm {name}"))?
            .to_owned())
    }

    /// Tags the alarm `name` (e.g. `deckhand:env` / `deckhand:service`); returns its ARN.
    pub async fn tag_alarm(&self, name: &str, tags: &[(&str, &str)]) -> anyhow::Result<String> {
        use aws_sdk_cloudwatch::types::Tag;
        let arn = self.alarm_arn(name).await?;
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
            .collect::<Vec<_>>();
        self.aws
            .cloudwatch
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(tags))
            .send()
            .await?;
        Ok(arn)
    }

    /// Moves an alarm into ALARM (`firing`) or OK, with CloudWatch's reason text.
    pub async fn set_alarm_state(
        &self,
        name: &str,
        firing: bool,
        reason: &str,
    ) -> anyhow::Result<()> {
        use aws_sdk_cloudwatch::types::StateValue;
        let state = if firing {
            StateValue::Alarm
        } else {
            StateValue::Ok
        };
        self.aws
            .cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason(reason)
            .send()
            .await?;
        Ok(())
    }

    /// Each service's PRIMARY (newest) ECS deployment in `cluster`: `(service ARN, deployment
    /// id)`. moto emits no EventBridge events, so local mode and tests build ECS's "Deployment
    /// State Change" from these.
    pub async fn primary_deployments(
        &self,
        cluster: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let arns = self
            .aws
            .ecs
            .list_services()
            .cluster(cluster)
            .send()
            .await?
            .service_arns;
        let mut out = Vec::new();
        for chunk in arns.unwrap_or_default().chunks(10) {
            let described = self
                .aws
                .ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await?;
            for svc in described.services() {
                let primary = svc
                    .deployments()
                    .iter()
                    .find(|d| d.status() == Some("PRIMARY"));
                if let (Some(arn), Some(id)) = (svc.service_arn(), primary.and_then(|d| d.id())) {
                    out.push((arn.to_owned(), id.to_owned()));
                }
            }
        }
        Ok(out)
    }

    /// A Lambda function (moto checks the role exists in IAM, so one is made first).
    pub async fn function(&self) -> anyhow::Result<String> {
        let role = unique("deckhand-fn");
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let xml = self.emulator.query(
            "iam",
            &[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", &role),
                ("AssumeRolePolicyDocument", policy),
            ],
        )?;
        let arn = first_tag(&xml, "Arn").ok_or_else(|| anyhow!("CreateRole returned no ARN"))?;
        let name = unique("deckhand-deploy");
        // The smallest valid zip: an empty archive's end-of-central-directory record.
        let mut zip = b"PK\x05\x06".to_vec();
        zip.extend_from_slice(&[0; 18]);
        self.aws
            .lambda
            .create_function()
            .function_name(&name)
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .role(arn)
            .handler("bootstrap")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(zip))
                    .build(),
            )
            .send()
            .await?;
        Ok(name)
    }
}

/// What the demo's smoke container logs before it exits (`Seed::finish_tasks`).
pub const SMOKE_LOG: &[&str] = &[
    "smoke: GET /health → 200",
    "smoke: GET /ready → 200",
    "smoke: SELECT 1 → ok",
    "smoke: done",
];
