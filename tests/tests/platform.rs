//! `EcsPlatform` (ECS + ECR) and `RdsBackups` against the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::time::Duration;

use deckhand_aws::ecs::EcsPlatform;
use deckhand_aws::rds::{PLAN_TAG, RdsBackups};
use deckhand_core::check::TaskState;
use deckhand_core::config::{BackupKind, BackupPlan, ServiceConfig};
use deckhand_core::deployment::ImageRef;
use deckhand_core::ports::{Backups, NewSnapshot, Platform, PortError, RolloutState, StepRollout};
use deckhand_core::retention::{Retention, SnapshotStatus};
use deckhand_core::types::{EnvName, ServiceName, Version};
use deckhand_harness::assert_misconfigured;
use deckhand_harness::{Emulator, SMOKE_LOG, Seed, SeededService};

async fn seed() -> Seed {
    Seed::new(Emulator::shared().expect("the emulator starts")).await
}

fn platform(seed: &Seed) -> EcsPlatform {
    let mut p = EcsPlatform::new(seed.aws.ecs.clone(), seed.aws.ecr.clone());
    p.migration_poll = Duration::from_millis(100);
    p
}

fn config_for(s: &SeededService) -> ServiceConfig {
    ServiceConfig {
        name: ServiceName::parse("api").unwrap(),
        envs: vec![EnvName::parse("prod").unwrap()],
        ecs_service: s.service.clone(),
        container: s.container.clone(),
        repository: s.repository.clone(),
        migration: Some(vec!["bin/migrate".into(), "up".into()]),
        checks: Vec::new(),
        smoke: None,
    }
}

async fn describe_td(seed: &Seed, arn: &str) -> aws_sdk_ecs::types::TaskDefinition {
    seed.aws
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
}

async fn service_td(seed: &Seed, s: &SeededService) -> String {
    let out = seed
        .aws
        .ecs
        .describe_services()
        .cluster(&s.cluster)
        .services(&s.service)
        .send()
        .await
        .unwrap();
    out.services()[0].task_definition().unwrap().to_owned()
}

#[tokio::test]
async fn reads_what_runs_and_resolves_tags_to_digests() {
    let seed = seed().await;
    let s = seed.service("api", "v1.2.2").await.unwrap();
    let p = platform(&seed);
    let running = p.running(&s.cluster, &config_for(&s)).await.unwrap();
    assert_eq!(running.task_definition, s.task_definition);
    assert_eq!(running.image, format!("{}:v1.2.2", s.repository_uri));
    assert_eq!(running.tag(), Some("v1.2.2"));

    let pushed = seed.push_image(&s.repository, "v1.2.3", "7").await.unwrap();
    assert_eq!(
        p.resolve_image(&s.repository, &Version::parse("v1.2.3").unwrap())
            .await
            .unwrap(),
        Some(pushed)
    );
    assert_eq!(
        p.resolve_image(&s.repository, &Version::parse("v9.9.9").unwrap())
            .await
            .unwrap(),
        None,
        "no such tag"
    );
    let missing = p
        .resolve_image("acme/nope", &Version::parse("v1.0.0").unwrap())
        .await
        .unwrap_err();
    assert_misconfigured(&missing, &["acme/nope", "RepositoryNotFoundException"]);
}

/// A seeded `name` running v1.2.2 with v1.2.3 pushed beside it: the service, and v1.2.3.
async fn with_a_new_image(seed: &Seed, name: &str) -> (SeededService, ImageRef) {
    let s = seed.service(name, "v1.2.2").await.unwrap();
    let digest = seed.push_image(&s.repository, "v1.2.3", "2").await.unwrap();
    let tag = Version::parse("v1.2.3").unwrap();
    let repository = s.repository.clone();
    (
        s,
        ImageRef {
            repository,
            tag,
            digest,
        },
    )
}

#[tokio::test]
async fn a_rollout_registers_a_revision_that_changes_only_the_image() {
    let seed = seed().await;
    let (s, image) = with_a_new_image(&seed, "api").await;
    let digest = &image.digest;
    let p = platform(&seed);
    let cfg = config_for(&s);
    let step = |name: &'static str| p.roll_out(&s.cluster, &cfg, &image, name);
    let StepRollout::Rolling(rollout) = step("d1:api").await.unwrap() else {
        panic!("a first attempt rolls out")
    };
    assert_ne!(rollout.task_definition, s.task_definition);
    // The same step again (its first attempt died after UpdateService): the same rollout,
    // and no second revision or ECS deployment.
    let again = step("d1:api").await.unwrap();
    assert_eq!(again, StepRollout::Rolling(rollout.clone()));
    assert!(!rollout.ecs_deployment.is_empty());
    assert_eq!(
        service_td(&seed, &s).await,
        rollout.task_definition,
        "the service now runs the new revision"
    );
    // Its image is pinned by digest alone; the revision's tag still says which version it is.
    let running = p.running(&s.cluster, &cfg).await.unwrap();
    assert_eq!(running.tag(), None, "{}", running.image);
    assert_eq!(running.version.as_deref(), Some("v1.2.3"));

    let before = describe_td(&seed, &s.task_definition).await;
    let after = describe_td(&seed, &rollout.task_definition).await;
    assert_eq!(after.revision(), before.revision() + 1);
    for (b, a) in before
        .container_definitions()
        .iter()
        .zip(after.container_definitions())
    {
        if a.name() == Some("app") {
            assert_eq!(
                a.image(),
                Some(format!("{}@{digest}", s.repository_uri).as_str()),
                "pinned by digest"
            );
            let mut a = a.clone();
            a.image = b.image.clone();
            assert_eq!(&a, b, "every other field of the container is kept");
        } else {
            assert_eq!(a, b, "other containers are untouched");
        }
    }
    assert_eq!(after.family(), before.family());
    assert_eq!(after.cpu(), before.cpu());
    assert_eq!(after.memory(), before.memory());
    assert_eq!(after.network_mode(), before.network_mode());
    assert_eq!(after.task_role_arn(), before.task_role_arn());
    assert_eq!(after.execution_role_arn(), before.execution_role_arn());
    assert_eq!(
        after.requires_compatibilities(),
        before.requires_compatibilities()
    );
    let tags = seed
        .aws
        .ecs
        .list_tags_for_resource()
        .resource_arn(&rollout.task_definition)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags()
            .iter()
            .map(|t| (t.key(), t.value()))
            .collect::<Vec<_>>(),
        vec![
            (Some("team"), Some("platform")),
            (Some("deckhand:managed"), Some("true")),
            (Some("deckhand:step"), Some("d1:api")),
            (Some("deckhand:version"), Some("v1.2.3"))
        ],
        "the service's own tags kept, Deckhand's mark (which its IAM policy requires), the step and the version"
    );

    let state = p
        .rollout_state(&s.cluster, &cfg, &rollout.ecs_deployment)
        .await
        .unwrap();
    assert!(
        matches!(state, RolloutState::InProgress | RolloutState::Completed),
        "{state:?}"
    );
    let unknown = p
        .rollout_state(&s.cluster, &cfg, "ecs-svc/0")
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, PortError::NotFound(m) if m.contains("ecs-svc/0")),
        "{unknown}"
    );

    let back = p
        .roll_back(&s.cluster, &cfg, &s.task_definition, None)
        .await
        .unwrap();
    assert_eq!(back.task_definition, s.task_definition);
    assert_eq!(service_td(&seed, &s).await, s.task_definition);
    // The first step once more, now that the service was put back (as ECS's circuit breaker
    // puts it back): its revision is found registered and not running, and nothing is sent.
    let undone = step("d1:api").await.unwrap();
    assert_eq!(
        undone,
        StepRollout::Undone {
            task_definition: rollout.task_definition.clone()
        }
    );
    assert_eq!(service_td(&seed, &s).await, s.task_definition);
    // A later deploy's step registers its own revision, whatever the last one was tagged.
    let StepRollout::Rolling(next) = step("d2:api").await.unwrap() else {
        panic!("another step rolls out")
    };
    assert_ne!(next.task_definition, rollout.task_definition);
}

#[tokio::test]
async fn unknown_clusters_services_and_containers_are_the_operators_mistake_named_in_the_error() {
    let seed = seed().await;
    let s = seed.service("api", "v1.2.2").await.unwrap();
    let p = platform(&seed);
    let mut cfg = config_for(&s);
    let err = p.running("no-such-cluster", &cfg).await.unwrap_err();
    assert_misconfigured(&err, &["no-such-cluster"]);
    cfg.ecs_service = "ghost".into();
    let err = p.running(&s.cluster, &cfg).await.unwrap_err();
    assert_misconfigured(&err, &["ghost", &s.cluster, "`ecs_service`"]);
    let mut cfg = config_for(&s);
    cfg.container = "sidecar-typo".into();
    let err = p.running(&s.cluster, &cfg).await.unwrap_err();
    assert_misconfigured(&err, &["sidecar-typo", "`container`"]);
}

#[tokio::test]
async fn a_migration_runs_once_with_the_new_image_and_the_services_network_and_reports_its_exit_code()
 {
    let seed = seed().await;
    let (s, image) = with_a_new_image(&seed, "worker").await;
    let p = platform(&seed);
    let cfg = config_for(&s);
    let migrate = p.run_migration(
        &s.cluster,
        &cfg,
        &image,
        cfg.migration.as_deref().unwrap(),
        "01KAS7QK8GS4T9V3N6M2R0Q1BC",
    );
    // moto never finishes a task by itself; stop it the way a finished container would.
    let finisher = async { seed.finish_next_migration(&s.cluster).await.unwrap() };
    let (exit, task) = tokio::join!(migrate, finisher);
    assert_eq!(exit.unwrap(), 0);
    let overrides = task.overrides().unwrap().container_overrides();
    assert_eq!(overrides[0].name(), Some("app"));
    assert_eq!(overrides[0].command(), ["bin/migrate", "up"]);
    let td = describe_td(&seed, task.task_definition_arn().unwrap()).await;
    assert!(
        td.container_definitions()[0]
            .image()
            .unwrap()
            .ends_with(image.digest.as_str()),
        "the migration runs the new image"
    );
    assert_eq!(
        service_td(&seed, &s).await,
        s.task_definition,
        "a migration does not touch the service"
    );
}

#[tokio::test]
async fn a_migration_that_outlives_its_wait_is_waited_for_again_never_run_twice() {
    let seed = seed().await;
    let (s, image) = with_a_new_image(&seed, "worker").await;
    let mut p = platform(&seed);
    p.migration_timeout = Duration::from_millis(300);
    let run = "01KAS7QK8GS4T9V3N6M2R0Q1BD";
    let cfg = config_for(&s);
    let command = ["migrate".to_owned()];
    let migrate = || p.run_migration(&s.cluster, &cfg, &image, &command, run);
    let err = migrate().await.unwrap_err();
    assert!(
        matches!(&err, PortError::Transient(m) if m.contains("still running")),
        "{err}"
    );
    // The retry (Lambda's, or the next delivery's) finds the same task still running.
    let again = migrate().await.unwrap_err();
    assert!(matches!(&again, PortError::Transient(_)), "{again}");
    assert_eq!(seed.all_migrations(&s.cluster).await.unwrap().len(), 1);
    // It finishes while nobody waits; the next attempt reads its exit code.
    let task = seed.running_migrations(&s.cluster).await.unwrap()[0].clone();
    seed.stop_task(&s.cluster, &task).await.unwrap();
    let exit = migrate().await.unwrap();
    assert_eq!(exit, 0);
    assert_eq!(
        seed.all_migrations(&s.cluster).await.unwrap(),
        vec![task],
        "one migration task however often it was asked for"
    );
    // Another deployment's migration is a task of its own.
    let command = ["migrate".to_owned()];
    let other = p.run_migration(
        &s.cluster,
        &cfg,
        &image,
        &command,
        "01KAS7QK8GS4T9V3N6M2R0Q1BE",
    );
    let (other, _) = tokio::join!(other, seed.finish_next_migration(&s.cluster));
    assert_eq!(other.unwrap(), 0);
    assert_eq!(seed.all_migrations(&s.cluster).await.unwrap().len(), 2);
}

fn plan(kind: BackupKind, target: &str) -> BackupPlan {
    BackupPlan {
        name: deckhand_harness::unique("nightly"),
        env: EnvName::parse("prod").unwrap(),
        kind,
        target: target.into(),
        schedule: "rate(1 day)".into(),
        timezone: "UTC".into(),
        before_deploy: vec![],
        retention: Retention {
            keep_last: 3,
            ..Retention::default()
        },
        copy_to: None,
        copy_kms_key: None,
        task: None,
    }
}

fn tags(plan: &BackupPlan) -> Vec<(String, String)> {
    vec![
        (PLAN_TAG.into(), plan.name.clone()),
        ("deckhand:env".into(), "prod".into()),
        ("deckhand:created-by".into(), "deckhand".into()),
    ]
}

/// Instance and Aurora cluster snapshots alike: created once, tagged as Deckhand's, listed
/// apart from snapshots someone else took, and only Deckhand's are deleted.
#[tokio::test]
async fn snapshots_are_created_tagged_listed_and_deleted_and_foreign_ones_left_alone() {
    let seed = seed().await;
    let backups = RdsBackups::new(seed.aws.rds.clone());
    for kind in [BackupKind::RdsInstance, BackupKind::RdsCluster] {
        let db = seed.db(kind).await.unwrap();
        let plan = plan(kind, &db);
        let (mine, theirs) = (format!("deckhand-{db}-1"), format!("manual-{db}"));
        let tags = tags(&plan);
        let new = NewSnapshot::new(&plan, &mine, &tags);
        backups.create(new).await.unwrap();
        let status = backups.wait(&plan, &mine).await.unwrap();
        assert_eq!(status, SnapshotStatus::Available, "{kind:?}");
        let again = backups.create(new).await.unwrap_err();
        assert!(
            matches!(again, PortError::Conflict(_)),
            "{kind:?}: a second create of one snapshot is a conflict: {again}"
        );
        let rds = &seed.aws.rds;
        if kind == BackupKind::RdsInstance {
            let manual = rds.create_db_snapshot().db_instance_identifier(&db);
            manual.db_snapshot_identifier(&theirs).send().await.unwrap();
        } else {
            let manual = rds.create_db_cluster_snapshot().db_cluster_identifier(&db);
            let manual = manual.db_cluster_snapshot_identifier(&theirs);
            manual.send().await.unwrap();
        }

        let listed = backups.list(&plan).await.unwrap();
        let by = |deckhand: bool| -> Vec<&str> {
            let made = listed.iter().filter(|s| s.made_by_deckhand == deckhand);
            made.map(|s| s.id.as_str()).collect()
        };
        assert_eq!((by(true), by(false)), (vec![&*mine], vec![&*theirs]));

        let refused = backups.delete(&plan, &theirs).await.unwrap_err();
        let says = refused.to_string();
        assert!(says.contains("refusing to delete"), "{kind:?}: {says}");
        backups.delete(&plan, &mine).await.unwrap();
        let left = backups.list(&plan).await.unwrap();
        let left: Vec<_> = left.into_iter().map(|s| s.id).collect();
        assert_eq!(left, [theirs], "{kind:?}");
    }
}

#[tokio::test]
async fn a_plan_for_a_database_that_does_not_exist_is_a_clear_error() {
    let seed = seed().await;
    let backups = RdsBackups::new(seed.aws.rds.clone());
    let plan = plan(BackupKind::RdsInstance, "no-such-db");
    let err = backups
        .create(NewSnapshot::new(&plan, "deckhand-x", &tags(&plan)))
        .await
        .unwrap_err();
    assert_misconfigured(&err, &["no-such-db"]);
}

#[tokio::test]
async fn a_smoke_test_runs_once_on_the_given_revision_and_ends_with_its_logs_last_lines() {
    let seed = seed().await;
    let s = seed.service("api", "v1.2.2").await.unwrap();
    let p = platform(&seed).with_logs(seed.aws.logs.clone());
    let cfg = config_for(&s);
    let command: Vec<String> = vec!["bin/smoke".into(), "--env".into(), "prod".into()];
    let run = "01KAS7QK8GS4T9V3N6M2R0Q1BC";
    let task = p
        .start_smoke(&s.cluster, &cfg, &s.task_definition, &command, run)
        .await
        .unwrap();
    let again = p
        .start_smoke(&s.cluster, &cfg, &s.task_definition, &command, run)
        .await
        .unwrap();
    assert_eq!(
        task, again,
        "a retried start finds the task its first attempt started"
    );
    let described = p.describe_task(&s.cluster, &task).await.unwrap();
    assert_eq!(
        described.task_definition_arn(),
        Some(s.task_definition.as_str())
    );
    let overrides = described.overrides().unwrap().container_overrides();
    assert_eq!(overrides[0].name(), Some(s.container.as_str()));
    assert_eq!(overrides[0].command(), command.as_slice());
    assert_eq!(
        p.task_state(&s.cluster, &cfg, &task).await.unwrap(),
        TaskState::Running
    );

    // The container logs and exits (moto reports exit code 0 for every task it stops).
    seed.log_smoke(&described).await.unwrap();
    seed.stop_task(&s.cluster, &task).await.unwrap();
    let TaskState::Stopped {
        exit_code,
        log_tail,
        ..
    } = p.task_state(&s.cluster, &cfg, &task).await.unwrap()
    else {
        panic!("the task stopped");
    };
    assert_eq!(exit_code, Some(0));
    assert_eq!(
        log_tail, SMOKE_LOG,
        "its last lines, read from CloudWatch Logs"
    );

    // One that runs past its timeout is stopped by Deckhand, with what it logged so far.
    let late = p
        .start_smoke(
            &s.cluster,
            &cfg,
            &s.task_definition,
            &command,
            "01KAS7QK8GS4T9V3N6M2R0Q1BD",
        )
        .await
        .unwrap();
    assert_ne!(late, task);
    let late_task = p.describe_task(&s.cluster, &late).await.unwrap();
    seed.log_smoke(&late_task).await.unwrap();
    let tail = p
        .stop_task(&s.cluster, &cfg, &late, "ran past its timeout")
        .await
        .unwrap();
    assert_eq!(tail, SMOKE_LOG);
    assert!(
        matches!(
            p.task_state(&s.cluster, &cfg, &late).await.unwrap(),
            TaskState::Stopped { .. }
        ),
        "stopped"
    );
}

#[tokio::test]
async fn the_schedule_group_is_reconciled_with_the_config_exactly_and_then_left_alone() {
    use deckhand_aws::scheduler::Scheduling;
    use deckhand_core::config::Config;
    use deckhand_core::schedule::{ScheduleChange, desired, reconcile};

    let seed = seed().await;
    let group = seed.schedule_group().await.unwrap();
    let scheduling = Scheduling {
        client: seed.aws.scheduler.clone(),
        group: group.clone(),
        target_arn: "arn:aws:lambda:us-east-1:123456789012:function:deckhand-backup:live".into(),
        role_arn: "arn:aws:iam::123456789012:role/deckhand-scheduler".into(),
        dead_letter_arn: Some("arn:aws:sqs:us-east-1:123456789012:deckhand-failed".into()),
    };
    let example = include_str!("../../infra/deckhand.example.toml");
    let apply = |config: Config| {
        let scheduling = scheduling.clone();
        async move {
            let want = desired(&config, &scheduling.target());
            let changes = reconcile(&want, &scheduling.list().await.unwrap());
            for c in &changes {
                scheduling.change(c).await.unwrap();
            }
            let mut have = scheduling.list().await.unwrap();
            have.sort_by(|a, b| a.name.cmp(&b.name));
            let mut want = want;
            want.sort_by(|a, b| a.name.cmp(&b.name));
            assert_eq!(have, want, "the group holds exactly what the config says");
            changes
        }
    };
    let first = apply(Config::parse("example", example).unwrap()).await;
    assert!(
        first.iter().all(|c| matches!(c, ScheduleChange::Create(_))) && first.len() == 4,
        "{first:?}"
    );
    // Nightly moves to 02:00 Paris time, staging's plan goes, an hourly one comes.
    let changed = example
        .replace(
            "schedule = \"cron(0 3 * * ? *)\"",
            "schedule = \"cron(0 2 * * ? *)\"",
        )
        .replace("\"Europe/Berlin\"", "\"Europe/Paris\"")
        .replace("[backups.staging-db]", "[backups.staging-db-hourly]")
        .replace("schedule = \"rate(1 day)\"", "schedule = \"rate(1 hour)\"");
    let second = apply(Config::parse("changed", &changed).unwrap()).await;
    let shown: Vec<String> = second.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "~ prod-db-nightly: cron(0 2 * * ? *) (Europe/Paris)",
            "~ prod-db-full: cron(0 2 * * ? *) (Europe/Paris)",
            "+ staging-db-hourly: rate(1 hour) (UTC)",
            "- staging-db",
        ]
    );
    // The update replaced the whole schedule: its target and retries are all still there.
    let nightly = seed
        .aws
        .scheduler
        .get_schedule()
        .group_name(&group)
        .name("prod-db-nightly")
        .send()
        .await
        .unwrap();
    let target = nightly.target().unwrap();
    assert_eq!(target.arn(), scheduling.target_arn);
    assert!(
        target
            .input()
            .unwrap()
            .contains("<aws.scheduler.execution-id>")
    );
    assert_eq!(
        target
            .retry_policy()
            .and_then(|r| r.maximum_retry_attempts()),
        Some(3)
    );
    assert!(target.dead_letter_config().is_some());
    let third = apply(Config::parse("changed", &changed).unwrap()).await;
    assert!(third.is_empty(), "nothing to change: {third:?}");
}

#[tokio::test]
async fn a_copy_lands_in_the_other_region_tagged_and_retention_prunes_it_there() {
    let seed = seed().await;
    for kind in [BackupKind::RdsInstance, BackupKind::RdsCluster] {
        let target = match kind {
            BackupKind::RdsInstance => seed.db_instance().await.unwrap(),
            BackupKind::RdsCluster | BackupKind::EcsTask => seed.db_cluster().await.unwrap(),
        };
        let backups = RdsBackups::new(seed.aws.rds.clone());
        let plan = BackupPlan {
            copy_to: Some("eu-west-1".into()),
            retention: Retention {
                keep_last: 2,
                ..Retention::default()
            },
            ..plan(kind, &target)
        };
        let names: Vec<String> = (1..=3)
            .map(|i| format!("deckhand-{}-{i}", plan.name))
            .collect();
        for name in &names {
            backups
                .create(NewSnapshot::new(&plan, name, &tags(&plan)))
                .await
                .unwrap();
            backups.wait(&plan, name).await.unwrap();
            backups
                .copy(NewSnapshot::new(&plan, name, &tags(&plan)))
                .await
                .unwrap();
        }
        let again = backups
            .copy(NewSnapshot::new(&plan, &names[0], &tags(&plan)))
            .await
            .unwrap_err();
        assert!(matches!(again, PortError::Conflict(_)), "{kind:?}: {again}");
        let copies = backups.list_copies(&plan).await.unwrap();
        let mut ids: Vec<&str> = copies
            .iter()
            .filter(|c| c.made_by_deckhand)
            .map(|c| c.id.as_str())
            .collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            names.iter().map(String::as_str).collect::<Vec<_>>(),
            "{kind:?}"
        );
        assert!(
            backups.list(&plan).await.unwrap().len() == 3,
            "the originals stay where they were"
        );
        // Retention over the copies, as a backup run applies it: the oldest goes.
        let now = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
        for id in deckhand_core::retention::to_delete(&plan.retention, &copies, now) {
            backups.delete_copy(&plan, &id).await.unwrap();
        }
        let left = backups.list_copies(&plan).await.unwrap();
        assert_eq!(left.len(), 2, "{kind:?}: {left:?}");
    }
}

#[tokio::test]
async fn a_backup_task_runs_once_on_the_services_revision_and_is_found_again() {
    let seed = seed().await;
    let s = seed.service("worker", "v1.2.2").await.unwrap();
    let p = platform(&seed);
    let cfg = config_for(&s);
    let command: Vec<String> = vec!["bin/backup".into(), "--type=incr".into()];
    let by = "deckhand-backup-deckhand-prod-db-incremental-20261207-001500-ab12cd";
    let task = p.run_task(&s.cluster, &cfg, &command, by).await.unwrap();
    assert_eq!(
        p.run_task(&s.cluster, &cfg, &command, by).await.unwrap(),
        task,
        "a second look finds the task, never starts another"
    );
    let described = p.describe_task(&s.cluster, &task).await.unwrap();
    assert_eq!(
        described.task_definition_arn(),
        Some(s.task_definition.as_str())
    );
    assert_eq!(described.started_by(), Some(by));
    assert_eq!(
        described.overrides().unwrap().container_overrides()[0].command(),
        command.as_slice()
    );
    assert_eq!(
        p.task_state(&s.cluster, &cfg, &task).await.unwrap(),
        TaskState::Running
    );
}
