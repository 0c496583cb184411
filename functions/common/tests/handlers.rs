//! The functions' handlers on the sample events in `events/`, each delivered twice and
//! concurrently, as EventBridge, SNS and Lambda's async retries may deliver them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use deckhand_core::config::Config;
use deckhand_core::deployment::{DeploymentKind, State, Work};
use deckhand_core::memory::{Memory, join_all};
use deckhand_core::types::{Digest, SignedDuration, Timestamp};
use deckhand_core::usecases::{App, DeployRequest};
use deckhand_functions::handlers::{self, FunctionError};
use deckhand_harness::assert_misconfigured;
use deckhand_harness::testing::{TestPorts, TestWorld};
use deckhand_harness::total;
use serde_json::Value;

fn event(name: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/../../events/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn at(raw: &str) -> Timestamp {
    raw.parse().unwrap()
}

fn digest(n: u8) -> Digest {
    Digest::parse(&format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap()
}

/// Alice asks for api `version` in `env`, as the event `key`.
fn request(env: &str, version: &str, key: &str) -> DeployRequest {
    DeployRequest {
        env: env.parse().unwrap(),
        services: vec!["api".parse().unwrap()],
        version: version.parse().unwrap(),
        override_reason: None,
        force: false,
        actor: deckhand_core::types::Actor::person(
            deckhand_core::types::ChatKind::Slack,
            "T0DECKHAND",
            "U0ALICE",
            "alice",
        ),
        event_key: deckhand_core::types::EventKey::test(key),
        reply_to: None,
    }
}

struct World(TestWorld);

impl World {
    /// The example config, on a Tuesday morning (no freeze), with api images v1.2.2–v1.2.4.
    async fn new() -> World {
        let config = Config::parse(
            "example",
            include_str!("../../../infra/deckhand.example.toml"),
        )
        .unwrap();
        let mut world = TestWorld::builder(config).at(at("2026-11-24T08:00:00Z"));
        for s in ["worker", "api", "web"] {
            world = world.running(s, &format!("{s}:1"), &format!("acme/{s}:v1.2.2"));
            for (tag, n) in [("v1.2.2", 2), ("v1.2.3", 3), ("v1.2.4", 4)] {
                world = world.image(&format!("acme/{s}"), tag, &digest(n));
            }
        }
        World(world.start().await.unwrap())
    }

    fn app(&self) -> App<'_, TestPorts> {
        self.0.app()
    }

    fn mem(&self) -> &Memory {
        &self.0.mem
    }

    fn deployment(
        &self,
        id: deckhand_core::types::DeploymentId,
    ) -> deckhand_core::deployment::Deployment {
        self.mem()
            .deployments()
            .into_iter()
            .find(|x| x.id == id)
            .unwrap()
    }

    /// Delivers the delay queue's work as SQS would, each message twice at once, once it is due
    /// (the clock moved on to it): the smoke test's looks, until nothing more is delayed.
    async fn wake(&self, id: deckhand_core::types::DeploymentId) {
        let mut delivered = 0;
        loop {
            let due = self.mem().delayed().into_iter().skip(delivered).find(|(w, _)| {
                matches!(w, deckhand_core::deployment::Work::Wake { id: i, .. } if *i == id)
            });
            let Some((work, at)) = due else { break };
            delivered = self.mem().delayed().len();
            if at > self.mem().the_time() {
                self.mem().set_now(at);
            }
            let mut message = event("sqs-delayed-work.json");
            message["Records"][0]["body"] = serde_json::to_string(&work).unwrap().into();
            let app = self.app();
            let answers = join_all((0..2).map(|_| handlers::deploy(&app, &message))).await;
            assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        }
    }

    /// The acknowledgement, then its dispatched checks through the deploy function's handler.
    async fn request(&self, req: DeployRequest) -> deckhand_core::deployment::Deployment {
        let id = self.app().request_deploy(req).await.unwrap().deployment.id;
        let checks = serde_json::json!({ "work": "prepare_deployment", "id": id.to_string() });
        handlers::deploy(&self.app(), &checks).await.unwrap();
        self.deployment(id)
    }

    /// Ships api `version` to `env` through the handlers: request, its checks, dispatched run,
    /// ECS event.
    async fn ship(&self, env: &str, version: &str, key: &str) {
        let mut d = self.request(request(env, version, key)).await;
        if d.state == State::PendingApproval {
            let bob = deckhand_core::types::Actor::person(
                deckhand_core::types::ChatKind::Slack,
                "T0DECKHAND",
                "U0BOB",
                "bob",
            );
            d = self
                .app()
                .decide(d.id, deckhand_core::usecases::Decision::Approve, &bob, None)
                .await
                .unwrap();
        }
        let run = serde_json::json!({ "work": "run_deployment", "id": d.id.to_string() });
        handlers::deploy(&self.app(), &run).await.unwrap();
        let d = self.deployment(d.id);
        let mut completed = event("ecs-deployment-completed.json");
        completed["detail"]["deploymentId"] = d.services[0]
            .progress
            .ecs_deployment
            .clone()
            .unwrap()
            .into();
        handlers::deploy(&self.app(), &completed).await.unwrap();
        self.wake(d.id).await;
        let d = self.deployment(d.id);
        assert_eq!(d.state, State::Succeeded, "{d}");
    }
}

#[tokio::test]
async fn the_deploy_function_runs_dispatched_work_once_and_finishes_on_ecs_events() {
    let w = World::new().await;
    let req = request("staging", "v1.2.3", "k");
    let id = w.request(req).await.id;
    let mut run = event("dispatch-run-deployment.json");
    run["id"] = id.to_string().into();
    let app = w.app();
    let runs = join_all((0..5).map(|_| handlers::deploy(&app, &run))).await;
    assert!(runs.iter().all(Result::is_ok), "{runs:?}");
    assert_eq!(w.mem().roll_outs().len(), 1, "five deliveries, one rollout");

    let ecs = w.mem().deployments()[0].services[0]
        .progress
        .ecs_deployment
        .clone()
        .unwrap();
    let mut in_progress = event("ecs-deployment-in-progress.json");
    in_progress["detail"]["deploymentId"] = ecs.clone().into();
    assert_eq!(
        handlers::deploy(&app, &in_progress).await.unwrap()["ignored"],
        "deployment still in progress"
    );
    let mut completed = event("ecs-deployment-completed.json");
    completed["detail"]["deploymentId"] = ecs.into();
    let finished = join_all((0..5).map(|_| handlers::deploy(&app, &completed))).await;
    assert!(finished.iter().all(Result::is_ok), "{finished:?}");
    // Checked, then smoke-tested: the looks at the smoke task come back through the delay
    // queue, each delivered twice at once, and one task ran.
    assert_eq!(
        w.mem().deployments()[0].state,
        State::Verifying { service: 0 }
    );
    w.wake(id).await;
    assert_eq!(w.mem().smoke_tasks().len(), 1);
    assert_eq!(w.mem().deployments()[0].state, State::Succeeded);
    let releases = w.mem().all_releases();
    let made = releases
        .iter()
        .filter(|r| r.origin == deckhand_core::rollback::Origin::Release)
        .count();
    assert_eq!(
        made, 1,
        "one release recorded (beside the adopted baseline): {releases:#?}"
    );

    let foreign = handlers::deploy(&app, &event("ecs-deployment-failed.json"))
        .await
        .unwrap();
    assert!(
        foreign["ignored"]
            .as_str()
            .unwrap()
            .contains("not started by Deckhand"),
        "{foreign}"
    );
}

#[tokio::test]
async fn malformed_events_are_rejected_without_retry_and_name_their_id() {
    let w = World::new().await;
    let mut bad = event("ecs-deployment-completed.json");
    bad["detail"] = Value::Null;
    let err = handlers::deploy(&w.app(), &bad).await.unwrap_err();
    assert!(
        matches!(&err, FunctionError::Malformed(e) if e.id == "ddca6449-b258-46c0-8653-e0e3a6d0c0e1"),
        "{err}"
    );
    assert!(!err.retryable());
    let err = handlers::rollback(&w.app(), &serde_json::json!({"nonsense": true}))
        .await
        .unwrap_err();
    assert!(matches!(err, FunctionError::Malformed(_)));
    let err = handlers::backup(&w.app(), &event("dispatch-run-deployment.json"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FunctionError::Refused(_)),
        "deployment work sent to the backup function"
    );
    assert!(w.mem().deployments().is_empty());
}

#[tokio::test]
async fn the_rollback_function_rolls_back_once_however_often_the_alarm_arrives() {
    let w = World::new().await;
    w.ship("staging", "v1.2.3", "s1").await;
    w.ship("staging", "v1.2.4", "s2").await;
    w.ship("prod", "v1.2.3", "p1").await; // 08:00, bakes by 08:30
    w.mem().set_now(at("2026-11-24T09:50:00Z"));
    w.ship("prod", "v1.2.4", "p2").await; // the alarm at 10:05 falls in its 30-minute watch
    w.mem().set_now(at("2026-11-24T10:05:30Z"));

    let alarm = event("cloudwatch-alarm-state-change.json");
    let app = w.app();
    let outcomes = join_all((0..20).map(|_| handlers::rollback(&app, &alarm))).await;
    let rolled = total(outcomes.iter().map(|o| o.as_ref().unwrap()), "rolled_back");
    assert_eq!(rolled, 1, "{outcomes:?}");
    let again = handlers::rollback(&app, &event("cloudwatch-alarm-sns.json"))
        .await
        .unwrap();
    assert_eq!(
        again["rolled_back"].as_array().unwrap().len(),
        0,
        "the same alarm through SNS is the same alarm"
    );
    let rollbacks: Vec<_> = w
        .mem()
        .deployments()
        .into_iter()
        .filter(|d| {
            matches!(
                d.kind,
                DeploymentKind::Rollback {
                    automatic: true,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(rollbacks.len(), 1);
    assert_eq!(rollbacks[0].version.as_str(), "v1.2.3");
}

#[tokio::test]
async fn the_build_completed_function_auto_deploys_a_build_of_main_to_staging_once() {
    let w = World::new().await;
    let build = event("codebuild-build-succeeded.json");
    let app = w.app();
    let results = join_all((0..10).map(|_| handlers::build_completed(&app, &build))).await;
    let started = total(results.iter().map(|r| r.as_ref().unwrap()), "dispatched");
    assert_eq!(started, 1, "{results:?}");
    let ds = w.mem().deployments();
    assert_eq!(ds.len(), 1);
    assert_eq!(
        (ds[0].env.as_str(), ds[0].version.as_str()),
        ("staging", "v1.2.4")
    );
    assert_eq!(
        w.mem()
            .dispatched()
            .iter()
            .filter(|x| matches!(x, Work::RunDeployment { .. }))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_skipped_auto_deploy_is_reported_as_skipped_with_why_not_as_dispatched() {
    let w = World::new().await;
    let mut build = event("codebuild-build-succeeded.json");
    build["detail"]["additional-information"]["exported-environment-variables"][0]["value"] =
        "v9.9.9".into();
    let answer = handlers::build_completed(&w.app(), &build).await.unwrap();
    assert_eq!(answer["dispatched"], serde_json::json!([]), "{answer}");
    let skipped = answer["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{answer}");
    assert_eq!(skipped[0]["env"], "staging");
    assert!(
        skipped[0]["why"].as_str().unwrap().contains("v9.9.9"),
        "{answer}"
    );
    // The request was opened and its checks declined it: recorded as such, nothing started.
    let made = w.mem().deployments();
    assert!(
        made.iter()
            .all(|d| matches!(d.state, State::Declined { .. })),
        "{made:?}"
    );
}

#[tokio::test]
async fn an_oversized_build_id_is_refused_by_id_before_anything_is_written() {
    let w = World::new().await;
    let mut build = event("codebuild-build-succeeded.json");
    build["detail"]["build-id"] = "b".repeat(5_000).into();
    let err = handlers::build_completed(&w.app(), &build)
        .await
        .unwrap_err();
    assert!(!err.retryable());
    let said = err.to_string();
    assert!(
        said.contains("build id of 5010 bytes (at most 256)"),
        "{said}"
    );
    assert!(
        said.contains("bfdc1220-60ff-44ae-bd8c-5d34b1fb9b1d"),
        "{said}"
    );
    assert!(w.mem().deployments().is_empty());
    assert!(w.0.stub.sent().is_empty(), "nobody was told of it");
}

#[tokio::test]
async fn the_direct_lambda_alarm_action_and_each_sns_record_roll_back_like_eventbridge() {
    let w = World::new().await;
    w.ship("staging", "v1.2.3", "s1").await;
    w.ship("staging", "v1.2.4", "s2").await;
    w.ship("prod", "v1.2.3", "p1").await;
    w.mem().set_now(at("2026-11-24T09:50:00Z"));
    w.ship("prod", "v1.2.4", "p2").await;
    w.mem().set_now(at("2026-11-24T10:05:30Z"));
    let app = w.app();

    let action = event("cloudwatch-alarm-lambda-action.json");
    let answers = join_all((0..5).map(|_| handlers::rollback(&app, &action))).await;
    let rolled = total(answers.iter().map(|a| a.as_ref().unwrap()), "rolled_back");
    assert_eq!(rolled, 1, "{answers:?}");

    // An SNS message of two records: the same transition again, and one that is no alarm.
    let mut sns = event("cloudwatch-alarm-sns.json");
    let mut broken = sns["Records"][0].clone();
    broken["Sns"]["MessageId"] = "broken-message".into();
    broken["Sns"]["Message"] = "{}".into();
    sns["Records"].as_array_mut().unwrap().push(broken);
    let answer = handlers::rollback(&app, &sns).await.unwrap();
    assert_eq!(answer["rolled_back"], serde_json::json!([]), "{answer}");
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{answer}");
    assert!(
        rejected[0].as_str().unwrap().contains("broken-message"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_backup_function_takes_one_snapshot_per_firing() {
    let w = World::new().await;
    let firing = event("scheduler-backup.json");
    let app = w.app();
    let results = join_all((0..5).map(|_| handlers::backup(&app, &firing))).await;
    let snapshots: std::collections::HashSet<_> = results
        .iter()
        .map(|r| r.as_ref().unwrap()["snapshot"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(snapshots.len(), 1, "{results:?}");
    assert_eq!(w.mem().snapshot_ids().len(), 1);
    w.mem().advance(SignedDuration::from_mins(1));
    let asked = handlers::backup(&app, &event("dispatch-run-backup.json"))
        .await
        .unwrap();
    assert_eq!(asked["status"], "Available");
    assert_eq!(
        w.mem().snapshot_ids().len(),
        2,
        "a person's /backup is its own snapshot"
    );
}

#[tokio::test]
async fn the_deploy_functions_schedule_bakes_releases_and_finishes_what_ecs_never_reported() {
    let w = World::new().await;
    w.ship("staging", "v1.2.3", "s1").await;
    // A staging deploy whose ECS event is lost: ECS finished, nobody said so.
    let d = w.request(request("staging", "v1.2.4", "s2")).await;
    let run = serde_json::json!({ "work": "run_deployment", "id": d.id.to_string() });
    handlers::deploy(&w.app(), &run).await.unwrap();
    assert!(matches!(w.deployment(d.id).state, State::Rolling { .. }));
    w.mem().complete_rollouts();
    w.mem().advance(SignedDuration::from_mins(30));

    let tick = event("scheduler-maintenance.json");
    let app = w.app();
    let answers = join_all((0..3).map(|_| handlers::deploy(&app, &tick))).await;
    let answers: Vec<Value> = answers.into_iter().map(Result::unwrap).collect();
    w.wake(d.id).await;
    assert_eq!(w.deployment(d.id).state, State::Succeeded);
    let reconciled = total(&answers, "reconciled");
    assert!(reconciled >= 1, "{answers:?}");
    let baked: u64 = answers.iter().map(|a| a["baked"].as_u64().unwrap()).sum();
    assert_eq!(baked, 1, "v1.2.3 baked, once: {answers:?}");

    let mut unknown = tick.clone();
    unknown["schedule"] = "format-disks".into();
    let err = handlers::deploy(&w.app(), &unknown).await.unwrap_err();
    assert!(
        matches!(err, FunctionError::Malformed(_)) && err.to_string().contains("0b6c1f3e"),
        "{err}"
    );
}

/// The operator's mistake is loud and is not the event's fault: a handler on a table that does
/// not exist (DynamoDB on the emulator) answers "misconfigured" with the event's id, counts it
/// for the template's alarm at once, and leaves the event to Lambda's retries, so it still gets
/// through once the table is there.
#[tokio::test]
async fn a_missing_table_is_counted_at_once_and_the_event_retried() {
    use deckhand_core::usecases::MISCONFIGURED;
    let seed = deckhand_harness::Seed::new(deckhand_harness::Emulator::shared().unwrap()).await;
    let config = Config::parse(
        "example",
        include_str!("../../../infra/deckhand.example.toml"),
    )
    .unwrap();
    let missing =
        deckhand_aws::dynamo::DynamoStore::new(seed.aws.dynamodb.clone(), "no-such-table");
    let world = TestWorld::builder(config)
        .at(at("2026-11-24T08:00:00Z"))
        .start_on(missing)
        .await
        .unwrap();
    let err = handlers::backup(&world.app(), &event("scheduler-backup.json"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FunctionError::Misconfigured(m) if m.contains("c8e8f9a2-8f4b-4d0f-a7a5-3f0c8d4a9b61") && m.contains("no-such-table")),
        "{err}"
    );
    assert!(
        err.retryable(),
        "retried, so a fix within the retries carries it out"
    );
    let counted: Vec<_> = world
        .mem
        .metrics()
        .into_iter()
        .filter(|m| m.name == MISCONFIGURED)
        .collect();
    assert_eq!(counted.len(), 1, "counted once, at once");
}

/// A chat bot token rotated under a warm function: the chat refuses the old one once, the
/// adapter reads the token again from its source and retries, and the card is posted. Without
/// a source to read again, the refusal is the operator's to fix, and says so.
#[tokio::test]
async fn a_rotated_chat_token_is_read_again_once_the_chat_refuses_it() {
    use deckhand_core::card::{Card, Tone};
    use deckhand_core::ports::{Channel, Chat as _};
    use deckhand_functions::chat::{HttpChat, TokenSource};
    use secrecy::SecretString;
    let stub = deckhand_harness::standin::ChatStub::start().await.unwrap();
    stub.revoke("xoxb-old");
    let card = Card {
        title: "Deploy".into(),
        tone: Tone::Working,
        status: "Rolling out api".into(),
        fields: vec![],
        buttons: vec![],
        footer: String::new(),
    };
    let channel = Channel {
        chat: deckhand_core::types::ChatKind::Slack,
        id: "C0DEPLOYS".into(),
    };
    let old = || Some(SecretString::from("xoxb-old".to_owned()));

    let fixed = HttpChat::new(stub.apis(), old(), None).unwrap();
    let err = fixed.post_card(&channel, &card).await.unwrap_err();
    assert_misconfigured(&err, &["invalid_auth"]);

    let source: TokenSource =
        std::sync::Arc::new(|| Box::pin(async { Ok(SecretString::from("xoxb-new".to_owned())) }));
    let renewing = HttpChat::new(stub.apis(), old(), None)
        .unwrap()
        .renewing(Some(source), None);
    renewing.post_card(&channel, &card).await.unwrap();
    let tokens: Vec<Option<String>> = stub
        .sent_to("/slack/chat.postMessage")
        .into_iter()
        .map(|s| s.authorization)
        .collect();
    assert_eq!(
        tokens,
        [
            Some("Bearer xoxb-old".to_owned()),
            Some("Bearer xoxb-old".to_owned()),
            Some("Bearer xoxb-new".to_owned())
        ],
        "refused, refused, then the renewed token"
    );
}

/// A refusal says which event and what to do about it.
#[tokio::test]
async fn a_firing_for_a_plan_the_config_lacks_is_refused_by_id_with_the_fix() {
    let w = World::new().await;
    let mut firing = event("scheduler-backup.json");
    firing["plan"] = "no-such-plan".into();
    let err = handlers::backup(&w.app(), &firing).await.unwrap_err();
    let said = err.to_string();
    assert!(!err.retryable());
    assert!(
        said.contains("event c8e8f9a2-8f4b-4d0f-a7a5-3f0c8d4a9b61")
            && said.contains("add `[backups.no-such-plan]` to deckhand.toml"),
        "{said}"
    );
}
