//! The stories end to end, on moto, through the same local stack `deckhand demo` runs: signed
//! chat requests to the real router, AWS events and dispatched work through the functions'
//! handlers, every port on its AWS adapter. Each story delivers its triggering event many times
//! at once (EventBridge and Lambda deliver at least once; Slack retries) and checks that exactly
//! one thing happened and the channel was told once. Then the faults.
//!
//! Every test has an emulator of its own: the stories use the demo's config, whose names
//! (clusters, repositories, alarms, databases) would collide on a shared one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use deckhand::local::{CONFIG, EcsReport, Local};
use deckhand_core::config::ServiceConfig;
use deckhand_core::deployment::{Deployment, DeploymentKind, State};
use deckhand_core::policy::EnvLock;
use deckhand_core::ports::{Platform, Running, Store as _};
use deckhand_core::types::{EnvName, SignedDuration, Version};
use deckhand_core::usecases::DeployRequest;
use deckhand_functions::handlers::FunctionError;
use deckhand_harness::{Emulator, Outage, total};
use futures_util::future::join_all;
use serde_json::Value;

const COPIES: usize = 20;
const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";
const PROD_OPS: &str = "C0PRODOPS";
const DEPLOYS: &str = "C0DEPLOYS";

async fn emulator() -> &'static Emulator {
    let e = tokio::task::spawn_blocking(Emulator::start)
        .await
        .unwrap()
        .expect("the emulator starts");
    Box::leak(Box::new(e))
}

async fn local() -> Local {
    let e = emulator().await;
    Local::start_on(e, e.settings(), CONFIG, None)
        .await
        .unwrap()
}

/// Delivers the delay queue's work as SQS would, each message `COPIES` times at once, when it
/// is due (the clock moved on to it): a smoke test's looks, until no work is delayed.
async fn wake_flooded(local: &Local) {
    while let Some(message) = local.next_delayed() {
        flood(local, "deploy", &message).await;
    }
}

fn env(name: &str) -> EnvName {
    EnvName::parse(name).unwrap()
}

/// Delivers `event` `COPIES` times at once; a copy answered "retryable" is delivered again, as
/// Lambda would. Every copy must end answered; their answers come back.
/// Twenty copies of `alarm` at once roll api in prod back exactly once, to `good`, and tell
/// the channel once: the rollback card, and one line in the bad release's thread, each
/// quoting the alarm's `reason`.
async fn rolls_back_once(local: &Local, alarm: &Value, good: &Running, reason: &str) {
    let answers = flood(local, "rollback", alarm).await;
    assert_eq!(total(&answers, "rolled_back"), 1, "{answers:?}");
    local.settle(EcsReport::Completed).await.unwrap();
    let d = latest(local, "prod").await;
    assert!(
        matches!(
            d.kind,
            DeploymentKind::Rollback {
                automatic: true,
                ..
            }
        ),
        "{d:?}"
    );
    assert_eq!(d.state, State::Succeeded);
    assert_eq!(
        running(local, "prod", "api").await.task_definition,
        good.task_definition,
        "back on the known-good revision"
    );
    assert_eq!(
        told_where(local, PROD_OPS, reason),
        (1, 1),
        "the rollback card, and one line in the bad release's thread"
    );
}

async fn flood(local: &Local, function: &str, event: &Value) -> Vec<Value> {
    let copies = join_all((0..COPIES).map(|_| async {
        for _ in 0..5 {
            match local.deliver(function, event).await {
                Ok(v) => return v,
                Err(e @ FunctionError::Retryable(_)) => {
                    tracing::info!(error = %e, "retrying a copy");
                }
                Err(e) => panic!("{function} refused a copy of a valid event: {e}"),
            }
        }
        panic!("{function}: a copy never got an answer");
    }));
    copies.await
}

async fn latest(local: &Local, env_name: &str) -> Deployment {
    let newest = deployments(local, env_name).await.into_iter().next();
    newest.expect("a deployment")
}

async fn lock(local: &Local, env_name: &str) -> Option<EnvLock> {
    local
        .bot
        .ports
        .store
        .get_lock(&env(env_name))
        .await
        .unwrap()
}

async fn deployments(local: &Local, env_name: &str) -> Vec<Deployment> {
    local
        .bot
        .ports
        .store
        .recent_deployments(&env(env_name), None, 50)
        .await
        .unwrap()
}

fn service(local: &Local, name: &str) -> ServiceConfig {
    local
        .config()
        .services
        .iter()
        .find(|(n, _)| n.as_str() == name)
        .unwrap()
        .1
        .clone()
}

/// The task definition `service` runs in `cluster`, as ECS says.
async fn running(local: &Local, cluster: &str, name: &str) -> Running {
    local
        .bot
        .ports
        .platform
        .running(cluster, &service(local, name))
        .await
        .unwrap()
}

/// How many messages sent to `channel` through Slack's `path` contain `needle`.
fn told(local: &Local, channel: &str, path: &str, needle: &str) -> usize {
    local
        .sent()
        .iter()
        .filter(|s| s.path == path && s.body["channel"] == channel)
        .filter(|s| s.body.to_string().contains(needle))
        .count()
}

/// (new messages, thread replies) posted to `channel` that contain `needle`.
fn told_where(local: &Local, channel: &str, needle: &str) -> (usize, usize) {
    let posted: Vec<bool> = local
        .sent()
        .iter()
        .filter(|s| s.path == "/slack/chat.postMessage" && s.body["channel"] == channel)
        .filter(|s| s.body.to_string().contains(needle))
        .map(|s| s.body.get("thread_ts").is_some())
        .collect();
    let replies = posted.iter().filter(|r| **r).count();
    (posted.len() - replies, replies)
}

fn cards_posted(local: &Local, title: &str) -> usize {
    local
        .sent()
        .iter()
        .filter(|s| s.path == "/slack/chat.postMessage" && s.body.get("blocks").is_some())
        .filter(|s| s.body["blocks"][0]["text"]["text"] == title)
        .count()
}

async fn snapshots(local: &Local, db: &str) -> usize {
    local
        .seed
        .aws
        .rds
        .describe_db_snapshots()
        .db_instance_identifier(db)
        .send()
        .await
        .unwrap()
        .db_snapshots()
        .iter()
        .filter(|s| s.snapshot_type() == Some("manual"))
        .count()
}

/// `tag` of `svc` built, auto-deployed to staging, requested for prod by Alice, approved by
/// Bob, rolled out and reported by ECS.
async fn release_to_prod(local: &Local, svc: &str, tag: &str) -> Deployment {
    local.release_to_prod(svc, tag).await.unwrap();
    assert_eq!(
        latest(local, "staging").await.services[0]
            .image
            .tag
            .to_string(),
        tag
    );
    let d = latest(local, "prod").await;
    assert_eq!(d.state, State::Succeeded, "{d:?}");
    d
}

#[tokio::test]
async fn a_build_reaches_staging_once_however_often_each_event_arrives() {
    let local = local().await;
    let seeded = running(&local, "staging", "api").await;

    let build = local.build_event("api", "v1.2.3", "main").await.unwrap();
    let answers = flood(&local, "build-completed", &build).await;
    let first: Vec<&Value> = answers.iter().filter(|a| a["duplicate"] == false).collect();
    assert_eq!(first.len(), 1, "{answers:?}");
    assert_eq!(first[0]["dispatched"].as_array().unwrap().len(), 1);
    assert_eq!(first[0]["skipped"], serde_json::json!([]));

    let work = local.take_work().await;
    assert_eq!(work.len(), 1, "one deployment dispatched: {work:?}");
    let work = serde_json::to_value(&work[0]).unwrap();
    flood(&local, "deploy", &work).await;
    assert!(matches!(
        latest(&local, "staging").await.state,
        State::Rolling { .. }
    ));

    let report = local
        .ecs_report("staging", "api", EcsReport::Completed)
        .await
        .unwrap();
    flood(&local, "deploy", &report).await;
    wake_flooded(&local).await;

    let ds = deployments(&local, "staging").await;
    assert_eq!(ds.len(), 1, "exactly one deployment");
    assert_eq!(ds[0].state, State::Succeeded);
    let now = running(&local, "staging", "api").await;
    assert_ne!(now.task_definition, seeded.task_definition);
    let revisions = local
        .seed
        .aws
        .ecs
        .list_task_definitions()
        .family_prefix("staging-api")
        .send()
        .await
        .unwrap();
    assert_eq!(
        revisions.task_definition_arns().len(),
        2,
        "the seeded revision and one new one: one rollout"
    );
    assert_eq!(
        told(
            &local,
            DEPLOYS,
            "/slack/chat.postMessage",
            "Build api v1.2.3"
        ),
        1
    );
    assert_eq!(cards_posted(&local, "Deploy api v1.2.3 → staging"), 1);
    assert_eq!(
        told(
            &local,
            DEPLOYS,
            "/slack/chat.postMessage",
            "api is running v1.2.3"
        ),
        1
    );
}

#[tokio::test]
async fn an_approved_prod_deploy_snapshots_migrates_and_rolls_once_under_redelivery() {
    let local = local().await;
    for svc in ["worker", "api"] {
        local.build(svc, "v1.2.3", "main").await.unwrap();
        local.settle(EcsReport::Completed).await.unwrap();
    }
    let migrations_before = local.seed.all_migrations("prod").await.unwrap().len();
    local
        .type_command(ALICE, PROD_OPS, "/deploy prod worker api v1.2.3")
        .await
        .unwrap();
    // The request's checks, dispatched, post the approval card.
    let checks = local.take_work().await;
    assert_eq!(checks.len(), 1, "{checks:?}");
    local
        .deliver("deploy", &serde_json::to_value(&checks[0]).unwrap())
        .await
        .unwrap();
    let approve = local
        .buttons()
        .into_iter()
        .find(|b| b.label == "Approve")
        .unwrap();
    // Bob's click arrives three times (Slack retries an interaction it saw no answer to).
    join_all((0..3).map(|_| local.click(BOB, &approve))).await;
    let work = local.take_work().await;
    assert_eq!(work.len(), 1, "one approval, one dispatch: {work:?}");

    let work = serde_json::to_value(&work[0]).unwrap();
    flood(&local, "deploy", &work).await;
    assert_eq!(
        snapshots(&local, "acme-prod-db").await,
        1,
        "one snapshot before the migration"
    );
    assert_eq!(
        local.seed.all_migrations("prod").await.unwrap().len(),
        migrations_before + 1,
        "one migration task"
    );
    for svc in ["worker", "api"] {
        let report = local
            .ecs_report("prod", svc, EcsReport::Completed)
            .await
            .unwrap();
        flood(&local, "deploy", &report).await;
    }
    wake_flooded(&local).await;
    let d = latest(&local, "prod").await;
    assert_eq!(d.state, State::Succeeded, "{d:?}");
    assert_eq!(deployments(&local, "prod").await.len(), 1);
    assert!(
        d.services[0].progress.snapshot.is_some(),
        "the snapshot is linked to the deployment"
    );
    assert_eq!(
        told(
            &local,
            PROD_OPS,
            "/slack/chat.postMessage",
            "worker is running v1.2.3"
        ),
        1
    );
    assert_eq!(
        told(
            &local,
            PROD_OPS,
            "/slack/chat.postMessage",
            "api is running v1.2.3"
        ),
        1
    );
    assert_eq!(cards_posted(&local, "Deploy worker, api v1.2.3 → prod"), 1);
    assert!(lock(&local, "prod").await.is_none(), "the lock is released");
}

/// api v1.2.3 in prod, baked known-good; then v1.2.4 released and 4 minutes into its watch
/// window. Returns what v1.2.3 ran.
async fn known_good_then_a_fresh_release(local: &Local) -> Running {
    release_to_prod(local, "api", "v1.2.3").await;
    let good = running(local, "prod", "api").await;
    local.clock().advance(SignedDuration::from_mins(31));
    assert!(local.bot.app().bake_check().await.unwrap() >= 1);
    release_to_prod(local, "api", "v1.2.4").await;
    assert_ne!(
        running(local, "prod", "api").await.task_definition,
        good.task_definition
    );
    local.clock().advance(SignedDuration::from_mins(4));
    good
}

#[tokio::test]
async fn an_alarm_delivered_twenty_times_rolls_back_once_and_tells_the_channel_once() {
    let local = local().await;
    let good = known_good_then_a_fresh_release(&local).await;
    let alarm = local
        .alarm_event("api-prod-5xx", "Threshold Crossed: 57 5xx in 1 minute")
        .await
        .unwrap();
    rolls_back_once(&local, &alarm, &good, "57 5xx in 1 minute").await;
    assert_eq!(cards_posted(&local, "Automatic rollback of api in prod"), 1);
}

#[tokio::test]
async fn a_scheduled_backup_delivered_twenty_times_takes_one_snapshot() {
    let local = local().await;
    let firing = serde_json::json!({
        "plan": "prod-db-nightly",
        "execution_id": "c8e8f9a2-8f4b-4d0f-a7a5-3f0c8d4a9b61",
        "scheduled_time": "2026-11-24T03:00:00Z",
    });
    let answers = flood(&local, "backup", &firing).await;
    assert_eq!(
        answers.iter().filter(|a| a["duplicate"] == false).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(snapshots(&local, "acme-prod-db").await, 1);
    assert_eq!(
        told(
            &local,
            PROD_OPS,
            "/slack/chat.postMessage",
            "Backup prod-db-nightly took"
        ),
        1
    );
}

#[tokio::test]
async fn a_migration_that_exits_non_zero_fails_the_deploy_and_leaves_the_service_alone() {
    let local = local().await;
    let before = running(&local, "staging", "worker").await;
    // moto cannot produce a non-zero exit code (every stopped task reports 0): the task runs
    // on moto as usual and the exit code ECS reports is rewritten on its way to Deckhand.
    local.faults.migrations_exit(Some(3));
    let app = local.bot.app();
    let worker = service(&local, "worker");
    local
        .seed
        .push_image(&worker.repository, "v1.2.3", "7")
        .await
        .unwrap();
    let requested = app
        .request_deploy(DeployRequest {
            env: env("staging"),
            services: vec![worker.name.clone()],
            version: Version::parse("v1.2.3").unwrap(),
            override_reason: None,
            force: false,
            actor: deckhand_core::types::Actor::person(
                deckhand_core::types::ChatKind::Slack,
                "T0DECKHAND",
                ALICE,
                "alice",
            ),
            event_key: deckhand_core::types::EventKey::test("slack:T0DECKHAND:trigger-fail"),
            reply_to: None,
        })
        .await
        .unwrap();
    let id = requested.deployment.id;
    assert_eq!(local.take_work().await.len(), 1, "the request's checks");
    let approved = app.prepare_deployment(id).await.unwrap();
    assert_eq!(approved.state, State::Approved, "staging needs no approval");
    assert_eq!(local.take_work().await.len(), 1, "its run");
    let d = app.run_deployment(id).await.unwrap();
    assert!(
        matches!(&d.state, State::Failed { reason } if reason.contains('3')),
        "{:?}",
        d.state
    );
    let after = running(&local, "staging", "worker").await;
    assert_eq!(after, before, "the service was never updated");
    assert!(lock(&local, "staging").await.is_none(), "lock released");
    assert_eq!(
        told(
            &local,
            DEPLOYS,
            "/slack/chat.update",
            "exited with code 3; worker was not changed"
        ),
        1,
        "the card says why"
    );
}

#[tokio::test]
async fn ecs_reporting_a_failed_rollout_rolls_the_service_back() {
    let local = local().await;
    local.build("api", "v1.2.3", "main").await.unwrap();
    local.settle(EcsReport::Completed).await.unwrap();
    let good = running(&local, "staging", "api").await;
    local.clock().advance(SignedDuration::from_mins(21));
    local.bot.app().bake_check().await.unwrap();

    local.build("api", "v1.2.4", "main").await.unwrap();
    local.settle(EcsReport::Failed).await.unwrap();
    let release = deployments(&local, "staging")
        .await
        .into_iter()
        .find(|d| d.version.as_str() == "v1.2.4")
        .unwrap();
    assert!(
        matches!(&release.state, State::RolledBack { reason } | State::Failed { reason } if reason.contains("circuit breaker")),
        "never “succeeded”: {:?}",
        release.state
    );
    assert_eq!(
        running(&local, "staging", "api").await.task_definition,
        good.task_definition,
        "back on v1.2.3's revision"
    );
    assert!(
        told(&local, DEPLOYS, "/slack/chat.update", "circuit breaker") >= 1,
        "the card says why"
    );
}

/// A staging deploy of the worker whose function loses AWS as soon as the migration task is
/// running, and gives up with a retryable error. Deckhand's own AWS calls go through a proxy
/// the test cuts; the emulator itself (and the migration task on it) carries on. AWS is back
/// when this returns; the work the function was given comes back for a retry.
async fn deploy_through_an_outage() -> (Outage, Local, Value) {
    let emulator = emulator().await;
    let outage = Outage::start(emulator.addr).await.unwrap();
    let mut settings = emulator.settings_via(&outage.endpoint);
    settings.max_attempts = Some(2);
    let local = Local::start_on(emulator, settings, CONFIG, None)
        .await
        .unwrap();
    local.build("worker", "v1.2.3", "main").await.unwrap();
    let work = serde_json::to_value(&local.take_work().await[0]).unwrap();
    // The migration keeps running until AWS is cut, so the cut always lands mid-migration.
    local.hold_migrations(true);
    let cut = async {
        local.seed.until_a_migration_runs("staging").await.unwrap();
        outage.cut();
    };
    let (answer, ()) = tokio::join!(local.deliver("deploy", &work), cut);
    let err = answer.expect_err("AWS went away mid-deploy");
    assert!(err.retryable(), "{err}");
    outage.restore();
    local.hold_migrations(false);
    (outage, local, work)
}

#[tokio::test]
async fn aws_going_away_mid_deploy_leaves_a_deployment_a_retry_finishes() {
    let (_outage, local, work) = deploy_through_an_outage().await;
    let d = latest(&local, "staging").await;
    assert!(matches!(d.state, State::Migrating { .. }), "{:?}", d.state);
    assert!(lock(&local, "staging").await.is_some());
    // Lambda retries the same event.
    local.deliver("deploy", &work).await.unwrap();
    local.settle(EcsReport::Completed).await.unwrap();
    let d = latest(&local, "staging").await;
    assert_eq!(d.state, State::Succeeded, "{:?}", d.state);
    assert_eq!(
        local.seed.all_migrations("staging").await.unwrap().len(),
        1,
        "the retry waited for the migration already running"
    );
    assert_eq!(
        told(
            &local,
            DEPLOYS,
            "/slack/chat.postMessage",
            "worker is running v1.2.3"
        ),
        1
    );
}

#[tokio::test]
async fn a_deploy_whose_function_never_comes_back_is_finished_by_maintenance() {
    let (_outage, local, _work) = deploy_through_an_outage().await;

    // The function is gone for good and nobody re-delivers its work. The env stays held by
    // the deployment (its lock no longer lapses under it)…
    let held = local
        .type_command(ALICE, DEPLOYS, "/deploy staging api v1.2.2 --force")
        .await
        .unwrap();
    assert!(held.contains("Not deploying: staging is busy"), "{held}");
    // …until its step's deadline passes and maintenance (the 5-minute schedule in AWS, the
    // interval in `deckhand serve`) resumes it from where the store says, with AWS back.
    local.clock().advance(SignedDuration::from_mins(6));
    let done = local.bot.app().maintain().await.unwrap();
    assert_eq!(done.resumed.len(), 1, "{done:?}");
    local.settle(EcsReport::Completed).await.unwrap();
    let d = latest(&local, "staging").await;
    assert_eq!(d.state, State::Succeeded, "{:?}", d.state);
    let answer = local
        .type_command(ALICE, DEPLOYS, "/deploy staging api v1.2.2 --force")
        .await
        .unwrap();
    assert!(
        answer.starts_with("Checking api v1.2.2 → staging"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_alarm_deckhand_does_not_know_is_logged_and_ignored() {
    let local = local().await;
    local
        .seed
        .alarm_named("someone-elses-alarm", false)
        .await
        .unwrap();
    let event = local
        .alarm_event("someone-elses-alarm", "Threshold Crossed")
        .await
        .unwrap();
    let answer = local.deliver("rollback", &event).await.unwrap();
    assert_eq!(answer["rolled_back"].as_array().unwrap().len(), 0);
    assert!(
        answer["ignored"][0]
            .as_str()
            .unwrap()
            .contains("not mapped"),
        "{answer}"
    );
    assert!(deployments(&local, "prod").await.is_empty());
    assert!(
        local.sent().is_empty(),
        "nobody is told about an alarm that is not ours"
    );
}

#[tokio::test]
async fn an_alarm_only_its_tags_tie_to_a_service_rolls_that_service_back() {
    let local = local().await;
    let good = known_good_then_a_fresh_release(&local).await;

    // Created by the service's own stack, not named in Deckhand's config: only its tags say
    // whose it is.
    let name = "api-prod-p99-latency";
    assert!(!local.bot.config.alarms.contains_key(name));
    local.seed.alarm_named(name, false).await.unwrap();
    local
        .seed
        .tag_alarm(
            name,
            &[("deckhand:env", "prod"), ("deckhand:service", "api")],
        )
        .await
        .unwrap();
    let alarm = local
        .alarm_event(name, "Threshold Crossed: p99 2.4 s > 1 s")
        .await
        .unwrap();
    rolls_back_once(&local, &alarm, &good, "p99 2.4 s > 1 s").await;
}

/// A service's first release in an environment adopts what ran there as its baseline, and
/// `/status` then shows the release, not the baseline: the baseline's record sorts before the
/// release it met (it is adopted as of the request, even when the request's checks ran later).
#[tokio::test]
async fn status_after_a_first_release_shows_the_release_not_the_adopted_baseline() {
    let local = local().await;
    release_to_prod(&local, "worker", "v1.2.3").await;
    let status = local
        .type_command(ALICE, PROD_OPS, "/status prod")
        .await
        .unwrap();
    let row = status
        .lines()
        .find(|l| l.contains("worker"))
        .unwrap_or_else(|| panic!("no worker row in {status}"));
    assert!(
        row.contains("v1.2.3") && !row.contains("v1.2.2"),
        "{status}"
    );
}

#[tokio::test]
async fn a_check_is_tried_through_its_grace_and_gives_up_past_its_budget() {
    let local = local().await;
    // api's `ready` in local mode's config: tried every 5 s, failures in the first 10 s after
    // the rollout not counted, three retries after that. Its URL is on the stand-in, which
    // answers it from a script; the engine's waits come back through the delay queue.
    let warming = [(503, "warming up"); 6];
    // Four 503s: two in the grace, two after it (retries left): passes on the fifth try.
    local
        .script_check("api", "staging", "ready", &warming[..4])
        .unwrap();
    local.build("api", "v1.2.3", "main").await.unwrap();
    local.settle(EcsReport::Completed).await.unwrap();
    let passed = latest(&local, "staging").await;
    assert_eq!(passed.state, State::Succeeded, "{passed}");
    let ready = "/ready/staging/api";
    assert_eq!(local.sent().iter().filter(|s| s.path == ready).count(), 5);
    let line = "The `ready` check of api passed on try 5.";
    assert_eq!(told(&local, DEPLOYS, "/slack/chat.postMessage", line), 1);

    // v1.2.3 bakes (staging's bake is 20 minutes) and becomes known-good.
    local.clock().advance(SignedDuration::from_mins(21));
    local.bot.app().bake_check().await.unwrap();
    // Six: two in the grace, four after it, one more than its retries: the deploy fails, says
    // which check with what after how many tries, and rolls back (the rollback's own checks
    // then pass).
    local
        .script_check("api", "staging", "ready", &warming)
        .unwrap();
    local.build("api", "v1.2.4", "main").await.unwrap();
    local.settle(EcsReport::Completed).await.unwrap();
    let failed = deployments(&local, "staging")
        .await
        .into_iter()
        .find(|d| d.version.as_str() == "v1.2.4" && d.kind == DeploymentKind::Release)
        .unwrap();
    let why = "the `ready` check of api failed after 6 tries: HTTP 503 (expected 2xx)";
    assert!(
        matches!(&failed.state, State::RolledBack { reason } if reason == why),
        "{:?}",
        failed.state
    );
    let said = "The `ready` check of api failed after 6 tries: HTTP 503 (expected 2xx).";
    assert_eq!(told(&local, DEPLOYS, "/slack/chat.postMessage", said), 1);
    assert_eq!(latest(&local, "staging").await.state, State::Succeeded);
    assert_eq!(
        running(&local, "staging", "api").await.version.as_deref(),
        Some("v1.2.3"),
        "api is back on v1.2.3"
    );
}

#[tokio::test]
async fn an_ecs_task_backup_records_the_artifact_its_task_logs_and_a_failing_one_is_reported() {
    // local mode's config plus a pgBackRest-style plan on the worker's task definition.
    let config = format!(
        "{CONFIG}\n[backups.prod-db-incremental]\nenv = \"prod\"\nkind = \"ecs-task\"\ntarget = \"acme-prod-db\"\nservice = \"worker\"\nschedule = \"cron(15 0/6 * * ? *)\"\ncommand = [\"bin/backup\", \"--type=incr\"]\nprune = [\"bin/backup\", \"expire\", \"{{artifact}}\"]\nretention = {{ keep_within = \"7d\" }}\n"
    );
    let e = emulator().await;
    let local = Local::start_on(e, e.settings(), &config, None)
        .await
        .unwrap();
    // The firing starts the task (delivered twice, as Scheduler may): one task.
    let fired = local.scheduled_backup("prod-db-incremental", 2).await;
    assert!(fired.iter().all(Result::is_ok), "{fired:?}");
    let running = backup_tasks(&local).await;
    assert_eq!(running.len(), 1, "one task for one firing");
    // The container logs its artifact and exits (moto reports exit code 0 for every task it
    // stops); the run's next look, fast-forwarded, records it from moto's CloudWatch Logs.
    let task = &running[0];
    local
        .seed
        .log_task(
            task,
            &[
                "backup command end: completed successfully",
                "deckhand-artifact: 20261207-001500F",
            ],
        )
        .await
        .unwrap();
    local
        .seed
        .stop_task("prod", task.task_arn().unwrap())
        .await
        .unwrap();
    local.settle(EcsReport::Completed).await.unwrap();
    let records = local
        .bot
        .ports
        .store
        .backups("prod-db-incremental", 10)
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].snapshot, "20261207-001500F");
    assert_eq!(
        told(
            &local,
            PROD_OPS,
            "/slack/chat.postMessage",
            "made `20261207-001500F`"
        ),
        1
    );

    // A task that fails: moto cannot produce a non-zero exit code, so the real adapter's
    // reading is rewritten by the fault-injecting platform; the task itself runs on moto.
    local.faults.fail_smoke("worker", true);
    local.scheduled_backup("prod-db-incremental", 1).await;
    let next = backup_tasks(&local).await;
    assert_eq!(next.len(), 1, "{next:?}");
    local
        .seed
        .stop_task("prod", next[0].task_arn().unwrap())
        .await
        .unwrap();
    local.settle(EcsReport::Completed).await.unwrap();
    assert_eq!(
        told(
            &local,
            PROD_OPS,
            "/slack/chat.postMessage",
            "Backup prod-db-incremental FAILED"
        ),
        1
    );
}

/// Deckhand's backup tasks running in prod.
async fn backup_tasks(local: &Local) -> Vec<aws_sdk_ecs::types::Task> {
    let ecs = &local.seed.aws.ecs;
    let arns = ecs
        .list_tasks()
        .cluster("prod")
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
        .send()
        .await
        .unwrap()
        .task_arns
        .unwrap_or_default();
    if arns.is_empty() {
        return Vec::new();
    }
    ecs.describe_tasks()
        .cluster("prod")
        .set_tasks(Some(arns))
        .send()
        .await
        .unwrap()
        .tasks()
        .iter()
        .filter(|t| {
            t.started_by()
                .is_some_and(|b| b.starts_with("deckhand-backup-"))
        })
        .cloned()
        .collect()
}
