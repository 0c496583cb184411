//! `DynamoStore` against DynamoDB on the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::collections::{HashMap, HashSet};

use deckhand_aws::dynamo::{DynamoStore, TTL_ATTRIBUTE};
use deckhand_core::deployment::{Approval, Deployment, ImageRef, Input, ServiceRelease, State};
use deckhand_core::memory::{join_all, release_draft};
use deckhand_core::policy::{EnvLock, LockOwner};
use deckhand_core::ports::{Build, Hold, Pause, PortError, RollbackOpening, Store, Vote, Voted};
use deckhand_core::rollback::{Origin, Release, Verdict};
use deckhand_core::types::{
    Actor, ChatKind, DeploymentId, Digest, EnvName, ServiceName, SignedDuration, Timestamp, Version,
};
use deckhand_harness::assert_misconfigured;
use deckhand_harness::{Emulator, Seed};

async fn store() -> (Seed, DynamoStore) {
    let seed = Seed::new(Emulator::shared().expect("the emulator starts")).await;
    let store = seed.table().await.expect("table");
    (seed, store)
}

fn at(raw: &str) -> Timestamp {
    raw.parse().unwrap()
}

fn alice() -> Actor {
    Actor::person(ChatKind::Slack, "T1", "U0ALICE", "Alice")
}

fn deployment(key: &str) -> Deployment {
    let now = at("2026-11-24T09:00:00Z");
    let version = Version::parse("v1.2.3").unwrap();
    let image = ImageRef {
        repository: "acme/api".into(),
        tag: version.clone(),
        digest: Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap(),
    };
    let api = ServiceRelease::new(ServiceName::parse("api").unwrap(), image);
    let (id, prod) = (
        DeploymentId::derive(now, key),
        EnvName::parse("prod").unwrap(),
    );
    Deployment::new(release_draft(id, prod, version, vec![api], alice()), now)
}

#[tokio::test]
async fn deployments_are_created_once_and_saved_only_on_the_revision_they_read() {
    let (_, store) = store().await;
    let d = deployment("a");
    store.create_deployment(&d).await.unwrap();
    assert!(
        matches!(
            store.create_deployment(&d).await,
            Err(PortError::Conflict(_))
        ),
        "created twice"
    );
    assert_eq!(store.get_deployment(d.id).await.unwrap(), Some(d.clone()));

    let step = d
        .apply(&Input::Submitted, at("2026-11-24T09:00:01Z"))
        .unwrap();
    store.save_deployment(&step.deployment).await.unwrap();
    let stale = store.save_deployment(&step.deployment).await;
    assert!(
        matches!(stale, Err(PortError::Conflict(_))),
        "the same revision saved twice: {stale:?}"
    );
}

#[tokio::test]
async fn of_two_concurrent_writers_exactly_one_wins_and_the_other_gets_a_conflict() {
    let (_, store) = store().await;
    let (d, submitted) = submitted(&store, "race").await;
    let bob = Actor::person(ChatKind::Slack, "T1", "U0BOB", "Bob");
    let carol = Actor::person(ChatKind::Slack, "T1", "U0CAROL", "Carol");
    let by_bob = submitted
        .apply(&Input::Approved { by: bob }, at("2026-11-24T09:01:00Z"))
        .unwrap()
        .deployment;
    let by_carol = submitted
        .apply(
            &Input::Rejected {
                by: carol,
                reason: None,
            },
            at("2026-11-24T09:01:00Z"),
        )
        .unwrap()
        .deployment;
    let (a, b) = tokio::join!(
        store.save_deployment(&by_bob),
        store.save_deployment(&by_carol)
    );
    let results = [a, b];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(PortError::Conflict(_))))
            .count(),
        1,
        "{results:?}"
    );
    let stored = store.get_deployment(d.id).await.unwrap().unwrap();
    assert!(stored == by_bob || stored == by_carol);
}

/// A deployment created and submitted: the stored one as created, and as saved after.
async fn submitted(store: &DynamoStore, key: &str) -> (Deployment, Deployment) {
    let d = deployment(key);
    store.create_deployment(&d).await.unwrap();
    let submitted = d.apply(&Input::Submitted, at("2026-11-24T09:00:01Z"));
    let submitted = submitted.unwrap().deployment;
    store.save_deployment(&submitted).await.unwrap();
    (d, submitted)
}

/// `d` taken to Rolling and saved at every step, then the ECS rollout `n` started on it
/// (unsaved): a save of that is a `TransactWriteItems` (the deployment and its ECS pointer).
async fn rolling_then_started(
    store: &DynamoStore,
    key: &str,
    n: usize,
) -> (Deployment, Deployment) {
    let mut d = deployment(key);
    store.create_deployment(&d).await.unwrap();
    for input in [
        Input::Submitted,
        Input::Approved {
            by: Actor::person(ChatKind::Slack, "T1", "U0BOB", "Bob"),
        },
        Input::Started,
    ] {
        d = d
            .apply(&input, at("2026-11-24T09:01:00Z"))
            .unwrap()
            .deployment;
        store.save_deployment(&d).await.unwrap();
    }
    let started = Input::RolloutStarted {
        service: ServiceName::parse("api").unwrap(),
        task_definition: format!("arn:aws:ecs:us-east-1:123456789012:task-definition/api:{n}"),
        ecs_deployment: format!("ecs-svc/{n:019}"),
    };
    let next = d
        .apply(&started, at("2026-11-24T09:02:00Z"))
        .unwrap()
        .deployment;
    (d, next)
}

/// Transactional saves under a crowd: of the writers of one revision exactly one wins, and a
/// cancelled transaction never undoes another's write. moto's threaded server broke the second
/// (a cancelled transaction put back a copy of the table from before it began; see
/// `serial_server.py` in the harness), and a story test then saw one step made three times.
#[tokio::test]
async fn concurrent_transactional_saves_have_one_winner_and_losers_undo_nothing() {
    let (_, store) = store().await;
    // Other items make moto's per-transaction copy of the table slow, as late in a test run.
    for i in 0..300 {
        store
            .create_deployment(&deployment(&format!("crowd-{i}")))
            .await
            .unwrap();
    }
    let (contested, _) = rolling_then_started(&store, "contested", 0).await;
    let mut apart = Vec::new();
    for i in 0..16 {
        apart.push(
            rolling_then_started(&store, &format!("apart-{i}"), 100 + i)
                .await
                .1,
        );
    }
    let writers: Vec<Deployment> = (0..16)
        .map(|i| {
            let started = Input::RolloutStarted {
                service: ServiceName::parse("api").unwrap(),
                task_definition: format!(
                    "arn:aws:ecs:us-east-1:123456789012:task-definition/api:{i}"
                ),
                ecs_deployment: format!("ecs-svc/{i:019}"),
            };
            contested
                .apply(&started, at("2026-11-24T09:02:00Z"))
                .unwrap()
                .deployment
        })
        .collect();
    // Each contested writer beside one that saves a deployment of its own.
    let saves = writers.iter().zip(&apart).flat_map(|(w, a)| [w, a]);
    let results = join_all(saves.map(|d| store.save_deployment(d))).await;
    let (contested_results, apart_results): (Vec<_>, Vec<_>) =
        results.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let won: Vec<usize> = contested_results
        .iter()
        .enumerate()
        .filter(|(_, (_, r))| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(won.len(), 1, "{contested_results:?}");
    assert!(
        contested_results
            .iter()
            .all(|(_, r)| r.is_ok() || matches!(r, Err(PortError::Conflict(_)))),
        "{contested_results:?}"
    );
    assert!(
        apart_results.iter().all(|(_, r)| r.is_ok()),
        "{apart_results:?}"
    );
    assert_eq!(
        store.get_deployment(contested.id).await.unwrap().as_ref(),
        Some(&writers[won[0]]),
        "the winner's write is what the table holds"
    );
    for a in &apart {
        let stored = store.get_deployment(a.id).await.unwrap();
        assert!(
            stored.as_ref() == Some(a),
            "the save of {} beside the contest was undone: the table holds revision {:?}, not {}",
            a.id,
            stored.map(|d| d.revision),
            a.revision
        );
    }
}

#[tokio::test]
async fn a_vote_is_one_conditional_write_beside_the_deployment_and_the_engine_counts_it() {
    let (_, store) = store().await;
    let (d, pending) = submitted(&store, "vote").await;
    let prod = EnvName::parse("prod").unwrap();
    let person = |id: &str| Actor::person(ChatKind::Slack, "T1", id, id);
    let vote = |who: &str, when: &str, env: &EnvName, needs_override: bool| Vote {
        id: d.id,
        env: env.clone(),
        approval: Approval {
            by: person(who),
            at: at(when),
        },
        needs_override,
    };
    let refused = |v: Voted| match v {
        Voted::Refused(d) => *d,
        other => panic!("recorded or unknown: {other:?}"),
    };

    // What the condition refuses, each answered with the deployment as it stands.
    let own = refused(
        store
            .vote(&vote("U0ALICE", "2026-11-24T09:01:00Z", &prod, false))
            .await
            .unwrap(),
    );
    assert_eq!(own, pending, "the requester's own");
    let late = vote("U0BOB", "2026-11-24T11:00:00Z", &prod, false);
    assert_eq!(
        refused(store.vote(&late).await.unwrap()),
        pending,
        "at the window's end"
    );
    let staging = EnvName::parse("staging").unwrap();
    let elsewhere = vote("U0BOB", "2026-11-24T09:01:00Z", &staging, false);
    assert_eq!(
        refused(store.vote(&elsewhere).await.unwrap()),
        pending,
        "another environment"
    );
    let overrides_only = vote("U0BOB", "2026-11-24T09:01:00Z", &prod, true);
    assert_eq!(
        refused(store.vote(&overrides_only).await.unwrap()),
        pending,
        "not overridden"
    );
    let mut unknown = vote("U0BOB", "2026-11-24T09:01:00Z", &prod, false);
    unknown.id = DeploymentId::derive(at("2026-11-24T09:00:00Z"), "nobody");
    assert_eq!(store.vote(&unknown).await.unwrap(), Voted::Unknown);

    // Bob and Carol at once: both recorded, in one revision each.
    let (by_bob, by_carol) = (
        vote("U0BOB", "2026-11-24T09:01:00Z", &prod, false),
        vote("U0CAROL", "2026-11-24T09:01:01Z", &prod, false),
    );
    let (bob, carol) = tokio::join!(store.vote(&by_bob), store.vote(&by_carol));
    for v in [&bob, &carol] {
        assert!(matches!(v, Ok(Voted::Recorded(_))), "{v:?}");
    }
    let stored = store.get_deployment(d.id).await.unwrap().unwrap();
    assert_eq!(stored.revision, pending.revision + 2);
    assert_eq!(stored.votes.len(), 2, "{:?}", stored.votes);
    assert_eq!(stored.approvals, vec![], "nothing counted yet");
    let again = store
        .vote(&vote("U0BOB", "2026-11-24T09:02:00Z", &prod, false))
        .await
        .unwrap();
    assert_eq!(refused(again).votes.len(), 2, "Bob votes once");

    // A save made before the votes lost to them; the engine counts them and saves.
    let stale = pending
        .apply(&Input::ApprovalExpired, at("2026-11-24T11:00:00Z"))
        .unwrap()
        .deployment;
    assert!(matches!(
        store.save_deployment(&stale).await,
        Err(PortError::Conflict(_))
    ));
    let mut counted = stored.clone();
    for input in stored.votes_to_count() {
        counted = counted
            .apply(&input, at("2026-11-24T09:01:05Z"))
            .unwrap()
            .deployment;
    }
    assert_eq!(counted.state, State::Approved);
    store.save_deployment(&counted).await.unwrap();
    let read = store.get_deployment(d.id).await.unwrap().unwrap();
    assert_eq!(read, counted);
    assert_eq!(read.approvals.len(), 1, "one approval was needed");
    assert!(
        read.votes.is_empty(),
        "votes are kept only while approval is awaited"
    );
    let after = store
        .vote(&vote("U0DAVE", "2026-11-24T09:03:00Z", &prod, false))
        .await
        .unwrap();
    assert_eq!(
        refused(after).state,
        State::Approved,
        "no longer awaiting approval"
    );
}

/// An alarm's rollback: one transaction writes it all, or (a condition failing) nothing.
#[tokio::test]
async fn a_rollback_opens_in_one_write_or_not_at_all() {
    let (_, store) = store().await;
    let prod = EnvName::parse("prod").unwrap();
    let api = ServiceName::parse("api").unwrap();
    let mut bad = release("bad", "2026-11-24T09:00:00Z");
    bad.origin = Origin::Release;
    store.record_release(&bad).await.unwrap();
    let now = at("2026-11-24T09:10:00Z");
    let rollback = deployment("rollback");
    let lock = EnvLock {
        env: prod.clone(),
        owner: LockOwner::Deployment { id: rollback.id },
        held_by: Actor::system("alarm api-prod-5xx"),
        reason: "rollback of api".into(),
        since: now,
        expires: None,
    };
    let verdict = Verdict::Bad {
        by: "alarm api-prod-5xx".into(),
        at: now,
        why: "went into ALARM".into(),
    };
    let hold = Hold {
        env: prod.clone(),
        service: api.clone(),
        reason: "alarm".into(),
        since: now,
    };
    let opening = |decision: &'static str| RollbackOpening {
        decision: (decision, "rollback"),
        claim: "event#alarm:api-prod-5xx:rollback",
        claims_expire: now + SignedDuration::from_hours(24),
        deployment: &rollback,
        lock: &lock,
        lease: ("step#rollback#1", "me", now + SignedDuration::from_mins(3)),
        judged: (&api, bad.deployment, &verdict),
        judged_record: None,
        hold: Some(&hold),
        now,
    };

    // Paused: nothing is written.
    let pause = Pause {
        env: prod.clone(),
        by: alice(),
        since: now,
    };
    store.pause(&pause).await.unwrap();
    assert!(!store.open_rollback(&opening("decision#1")).await.unwrap());
    nothing_written(&store, rollback.id, &prod, &api).await;
    store.resume(&prod).await.unwrap();
    // Held by someone else: nothing either.
    let other = lock_owned_by_alice(&prod, now);
    assert!(store.acquire_lock(&other, now).await.unwrap().is_ok());
    assert!(!store.open_rollback(&opening("decision#2")).await.unwrap());
    nothing_written(&store, rollback.id, &prod, &api).await;
    store.break_lock(&prod).await.unwrap();
    // A transition whose decision was recorded before: nothing.
    store.claim("decision#3", "rollback", now).await.unwrap();
    assert!(!store.open_rollback(&opening("decision#3")).await.unwrap());
    nothing_written(&store, rollback.id, &prod, &api).await;

    // Free: everything at once.
    assert!(store.open_rollback(&opening("decision#4")).await.unwrap());
    assert_eq!(
        store.get_deployment(rollback.id).await.unwrap(),
        Some(rollback.clone())
    );
    assert_eq!(
        store.get_lock(&prod).await.unwrap().map(|l| l.owner),
        Some(lock.owner.clone())
    );
    assert_eq!(store.holds(&prod).await.unwrap(), vec![hold.clone()]);
    assert_eq!(
        store.releases(&prod, &api, 5).await.unwrap()[0].verdict,
        verdict
    );
    assert_eq!(
        store.claimed("decision#4").await.unwrap().as_deref(),
        Some("rollback")
    );
    assert_eq!(
        store
            .claimed("event#alarm:api-prod-5xx:rollback")
            .await
            .unwrap(),
        Some(rollback.id.to_string())
    );
    assert!(
        !leased(&store, "step#rollback#1", "another", now, now).await,
        "the step's lease is held"
    );
    // And a second time (a redelivery racing): nothing more.
    assert!(!store.open_rollback(&opening("decision#5")).await.unwrap());
}

async fn nothing_written(store: &DynamoStore, id: DeploymentId, env: &EnvName, api: &ServiceName) {
    assert_eq!(store.get_deployment(id).await.unwrap(), None);
    assert!(store.holds(env).await.unwrap().is_empty());
    let r = store.releases(env, api, 5).await.unwrap();
    assert_eq!(r[0].verdict, Verdict::Baking, "not judged");
}

fn lock_owned_by_alice(env: &EnvName, now: Timestamp) -> EnvLock {
    EnvLock {
        env: env.clone(),
        owner: LockOwner::Person { actor: alice() },
        held_by: alice(),
        reason: "testing".into(),
        since: now,
        expires: Some(now + SignedDuration::from_hours(1)),
    }
}

#[tokio::test]
async fn an_ecs_deployment_id_finds_its_deployment() {
    let (_, store) = store().await;
    let d = deployment("ecs");
    store.create_deployment(&d).await.unwrap();
    let mut next = d.clone();
    next.revision = 1;
    next.services[0].progress.ecs_deployment = Some("ecs-svc/123".into());
    next.state = State::Rolling { service: 0 };
    store.save_deployment(&next).await.unwrap();
    assert_eq!(
        store
            .deployment_by_ecs_id("ecs-svc/123")
            .await
            .unwrap()
            .map(|d| d.id),
        Some(d.id)
    );
    assert_eq!(
        store.deployment_by_ecs_id("ecs-svc/999").await.unwrap(),
        None
    );
}

fn lock(owner: LockOwner, since: &str, minutes: i64) -> EnvLock {
    EnvLock {
        env: EnvName::parse("prod").unwrap(),
        owner,
        held_by: alice(),
        reason: "api v1.2.3".into(),
        since: at(since),
        expires: Some(at(since) + SignedDuration::from_mins(minutes)),
    }
}

#[tokio::test]
async fn locks_refuse_others_until_released_or_expired_and_carry_a_ttl() {
    let (seed, store) = store().await;
    let mine = LockOwner::Deployment {
        id: DeploymentId::derive(at("2026-11-24T09:00:00Z"), "1"),
    };
    let theirs = LockOwner::Deployment {
        id: DeploymentId::derive(at("2026-11-24T09:00:00Z"), "2"),
    };
    let t = at("2026-11-24T09:00:00Z");
    assert_eq!(
        store
            .acquire_lock(&lock(mine.clone(), "2026-11-24T09:00:00Z", 60), t)
            .await
            .unwrap(),
        Ok(())
    );
    assert_eq!(
        store
            .acquire_lock(&lock(mine.clone(), "2026-11-24T09:00:00Z", 60), t)
            .await
            .unwrap(),
        Ok(()),
        "its owner may retake it"
    );
    let refused = store
        .acquire_lock(
            &lock(theirs.clone(), "2026-11-24T09:10:00Z", 60),
            at("2026-11-24T09:10:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        refused.map_err(|l| l.owner),
        Err(mine.clone()),
        "the refusal names the holder"
    );

    // The TTL attribute is on the item, so DynamoDB deletes lapsed locks by itself.
    let env = EnvName::parse("prod").unwrap();
    let item = seed
        .aws
        .dynamodb
        .get_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("LOCK#prod".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("LOCK".into()),
        )
        .send()
        .await
        .unwrap();
    let ttl: i64 = item
        .item()
        .and_then(|i| i.get(TTL_ATTRIBUTE))
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(ttl > at("2026-11-24T10:00:00Z").as_second(), "ttl {ttl}");

    // Expired locks are free (judged by Deckhand's clock: moto never deletes expired items).
    assert_eq!(
        store
            .acquire_lock(
                &lock(theirs.clone(), "2026-11-24T10:00:00Z", 60),
                at("2026-11-24T10:00:00Z")
            )
            .await
            .unwrap(),
        Ok(())
    );
    assert!(
        !store.release_lock(&env, &mine).await.unwrap(),
        "a lock is released only by its owner"
    );
    assert!(store.release_lock(&env, &theirs).await.unwrap());
    assert_eq!(store.get_lock(&env).await.unwrap(), None);
}

#[tokio::test]
async fn concurrent_lock_takers_get_one_winner() {
    let (_, store) = store().await;
    let t = at("2026-11-24T09:00:00Z");
    let locks: Vec<EnvLock> = (0..10)
        .map(|i| {
            lock(
                LockOwner::Deployment {
                    id: DeploymentId::derive(t, &i.to_string()),
                },
                "2026-11-24T09:00:00Z",
                60,
            )
        })
        .collect();
    let results = join_all(locks.iter().map(|l| store.acquire_lock(l, t))).await;
    assert_eq!(
        results.iter().filter(|r| matches!(r, Ok(Ok(())))).count(),
        1,
        "{results:?}"
    );
}

#[tokio::test]
async fn claims_return_the_first_value_to_everyone_after() {
    let (_, store) = store().await;
    let exp = at("2026-11-25T09:00:00Z");
    let results = join_all((0..8).map(|i| {
        let store = &store;
        async move {
            store
                .claim("event#trigger-1", &format!("value-{i}"), exp)
                .await
                .unwrap()
        }
    }))
    .await;
    let firsts = results.iter().filter(|r| r.is_none()).count();
    assert_eq!(firsts, 1, "{results:?}");
    let values: HashSet<_> = results.into_iter().flatten().collect();
    assert_eq!(values.len(), 1, "everyone else sees the one winner's value");
    // Reading a claim gives the winner's value and claims nothing.
    let read = store.claimed("event#trigger-1").await.unwrap();
    assert!(
        read.as_ref().is_some_and(|v| values.contains(v)),
        "{read:?}"
    );
    assert_eq!(store.claimed("event#trigger-2").await.unwrap(), None);
    assert_eq!(
        store.claimed("event#trigger-2").await.unwrap(),
        None,
        "still unclaimed"
    );
}

/// Asks for the lease `key` (true: `holder` has it).
async fn leased(
    store: &DynamoStore,
    key: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> bool {
    store.lease(key, holder, now, until).await.unwrap()
}

#[tokio::test]
async fn a_lease_has_one_holder_until_it_runs_out_or_is_given_back() {
    let (_, store) = store().await;
    let now = at("2026-11-24T09:00:00Z");
    let until = at("2026-11-24T09:15:00Z");
    let taken = join_all((0..8).map(|i| {
        let holder = format!("holder-{i}");
        let store = &store;
        async move { leased(store, "step#d1#4", &holder, now, until).await }
    }))
    .await;
    assert_eq!(taken.iter().filter(|t| **t).count(), 1, "{taken:?}");
    let holder = format!("holder-{}", taken.iter().position(|t| *t).unwrap());

    let later = at("2026-11-24T09:10:00Z");
    assert!(!leased(&store, "step#d1#4", "late", later, until).await);
    store
        .end_lease("step#d1#4", "not-the-holder")
        .await
        .unwrap();
    assert!(
        !leased(&store, "step#d1#4", "late", later, until).await,
        "only the holder gives it back"
    );
    store.end_lease("step#d1#4", &holder).await.unwrap();
    assert!(leased(&store, "step#d1#4", "late", later, until).await);

    let lapsed = at("2026-11-24T09:16:00Z");
    assert!(
        leased(
            &store,
            "step#d1#4",
            "after-a-crash",
            lapsed,
            at("2026-11-24T09:31:00Z")
        )
        .await,
        "a lease that ran out is taken over"
    );
}

/// Judges `release` (true: the judgement held).
async fn judge(store: &DynamoStore, release: &Release, verdict: &Verdict) -> bool {
    let (env, service) = (&release.env, &release.service);
    let judged = store.judge_release(env, service, release.deployment, verdict);
    judged.await.unwrap()
}

fn release(deployment: &str, succeeded: &str) -> Release {
    Release {
        env: EnvName::parse("prod").unwrap(),
        service: ServiceName::parse("api").unwrap(),
        deployment: DeploymentId::derive(at(succeeded), deployment),
        image: ImageRef {
            repository: "acme/api".into(),
            tag: Version::parse("v1.0.0").unwrap(),
            digest: Digest::parse(&format!("sha256:{}", "cd".repeat(32))).unwrap(),
        },
        task_definition: format!("api:{deployment}"),
        started_at: at(succeeded),
        succeeded_at: at(succeeded),
        verdict: Verdict::Baking,
        origin: Origin::Rollback,
    }
}

#[tokio::test]
async fn releases_come_back_newest_first_and_verdicts_are_conditional() {
    let (_, store) = store().await;
    let (env, api) = (
        EnvName::parse("prod").unwrap(),
        ServiceName::parse("api").unwrap(),
    );
    let old = release("1", "2026-11-20T10:00:00Z");
    let new = release("2", "2026-11-24T10:00:00Z");
    store.record_release(&new).await.unwrap();
    store.record_release(&old).await.unwrap();
    store.record_release(&old).await.unwrap(); // recording twice is harmless
    let got = store.releases(&env, &api, 10).await.unwrap();
    assert_eq!(
        got.iter()
            .map(|r| r.task_definition.as_str())
            .collect::<Vec<_>>(),
        ["api:2", "api:1"]
    );

    assert!(judge(&store, &old, &Verdict::Good).await);
    assert!(
        !judge(&store, &old, &Verdict::Good).await,
        "good only from baking"
    );
    let bad = Verdict::Bad {
        by: "alarm api-5xx".into(),
        at: at("2026-11-24T09:30:00Z"),
        why: "went into ALARM: 5xx > 1%".into(),
    };
    let (a, b) = tokio::join!(
        store.judge_release(&env, &api, new.deployment, &bad),
        store.judge_release(&env, &api, new.deployment, &bad)
    );
    assert!(
        a.unwrap() ^ b.unwrap(),
        "of two alarms judging at once, one wins"
    );
    assert!(!judge(&store, &new, &Verdict::Good).await, "bad stays bad");
    let got = store.releases(&env, &api, 10).await.unwrap();
    assert_eq!(got[0].verdict, bad);
    assert_eq!(got[1].verdict, Verdict::Good);
}

#[tokio::test]
async fn builds_backups_holds_audit_and_history_round_trip() {
    let (_, store) = store().await;
    let api = ServiceName::parse("api").unwrap();
    let env = EnvName::parse("prod").unwrap();
    let build = Build {
        service: api.clone(),
        version: Version::parse("v1.2.3").unwrap(),
        build_id: "codebuild:abc".into(),
        branch: Some("main".into()),
        commit: None,
        url: None,
        finished_at: at("2026-11-24T09:00:00Z"),
        succeeded: true,
    };
    assert!(store.record_build(&build).await.unwrap());
    assert!(
        !store.record_build(&build).await.unwrap(),
        "a redelivered build is recognised"
    );
    assert_eq!(store.builds(&api, 5).await.unwrap(), vec![build]);

    let hold = Hold {
        env: env.clone(),
        service: api.clone(),
        reason: "alarm".into(),
        since: at("2026-11-24T09:00:00Z"),
    };
    store.put_hold(&hold).await.unwrap();
    assert_eq!(store.holds(&env).await.unwrap(), vec![hold.clone()]);
    assert_eq!(store.clear_holds(&env).await.unwrap(), vec![hold]);
    assert!(store.holds(&env).await.unwrap().is_empty());

    for key in ["h1", "h2", "h3"] {
        store.create_deployment(&deployment(key)).await.unwrap();
    }
    let recent = store.recent_deployments(&env, Some(&api), 2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert!(
        store
            .recent_deployments(&env, Some(&ServiceName::parse("web").unwrap()), 5)
            .await
            .unwrap()
            .is_empty()
    );

    let entry = deckhand_core::ports::AuditEntry {
        env: env.clone(),
        at: at("2026-11-24T09:00:00Z"),
        actor: alice(),
        action: "approved".into(),
        detail: "pending approval → approved".into(),
        deployment: None,
    };
    store.append_audit(&entry).await.unwrap();
    store.append_audit(&entry).await.unwrap();
    assert_eq!(
        store.audit(&env, 10).await.unwrap().len(),
        2,
        "two entries in the same millisecond both kept"
    );
}

#[tokio::test]
async fn the_deploy_story_on_dynamodb_is_idempotent_under_concurrent_redelivery() {
    use deckhand_core::rollback::{AlarmChange, AlarmState};
    use deckhand_core::usecases::{App, DeployRequest};

    let (_, store) = store().await;
    let mem = deckhand_core::memory::Memory::new(at("2026-11-24T09:00:00Z"));
    let digest =
        |n: u8| Digest::parse(&format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap();
    mem.set_running("api", "api:1", "acme/api:v1.2.2");
    for (tag, n) in [("v1.2.2", 2), ("v1.2.3", 3), ("v1.2.4", 4)] {
        mem.push_image("acme/api", tag, &digest(n));
    }
    let config = deckhand_core::config::Config::parse(
        "example",
        include_str!("../../infra/deckhand.example.toml"),
    )
    .unwrap();
    mem.serve_checks(&config);
    // Core's use-cases on the DynamoDB store; the other ports in memory.
    let ports = mem.ports().with_store(store);
    let app = App::new(&ports, &config);
    let request = |version: &str, key: &str| DeployRequest {
        env: EnvName::parse("staging").unwrap(),
        services: vec![ServiceName::parse("api").unwrap()],
        version: Version::parse(version).unwrap(),
        override_reason: None,
        force: false,
        actor: alice(),
        event_key: deckhand_core::types::EventKey::test(key),
        reply_to: None,
    };
    let ship = |version: &'static str, key: &'static str| {
        let (app, mem) = (&app, &mem);
        async move {
            let results =
                join_all((0..10).map(|_| app.request_deploy(request(version, key)))).await;
            let ids: HashSet<_> = results
                .iter()
                .map(|r| r.as_ref().unwrap().deployment.id)
                .collect();
            assert_eq!(ids.len(), 1, "ten deliveries of {key}, one deployment");
            let id = *ids.iter().next().unwrap();
            // The request's checks, delivered three times at once: one card, one approval.
            let prepared = join_all((0..3).map(|_| app.prepare_deployment(id))).await;
            assert!(
                prepared
                    .iter()
                    .all(|r| r.as_ref().unwrap().state == State::Approved),
                "{prepared:?}"
            );
            let runs = join_all((0..3).map(|_| app.run_deployment(id))).await;
            let d = runs
                .into_iter()
                .map(|r| r.unwrap())
                .max_by_key(|d| d.revision)
                .unwrap();
            let ecs = d.services[0].progress.ecs_deployment.clone().unwrap();
            let finished = join_all((0..5).map(|_| app.on_rollout(&ecs, Ok(())))).await;
            assert!(finished.iter().all(Result::is_ok), "{finished:?}");
            // Its smoke test's looks, each wake delivered three times at once when due.
            let mut seen = 0;
            while let Some((work, at)) = mem.delayed().into_iter().nth(seen) {
                seen += 1;
                let deckhand_core::deployment::Work::Wake {
                    id: woken,
                    revision,
                } = work
                else {
                    continue;
                };
                mem.set_now(at.max(mem.the_time()));
                let woke = join_all((0..3).map(|_| app.wake(woken, Some(revision)))).await;
                assert!(woke.iter().all(Result::is_ok), "{woke:?}");
            }
            let d = app.ports.store.get_deployment(id).await.unwrap().unwrap();
            assert_eq!(d.state, State::Succeeded);
            d
        }
    };
    ship("v1.2.3", "slack:trigger-1").await;
    assert_eq!(
        mem.dispatched().len(),
        2,
        "the request's checks, then its run"
    );
    assert_eq!(
        mem.roll_outs().len(),
        1,
        "three concurrent runs, one rollout"
    );
    mem.advance(SignedDuration::from_hours(1));
    assert_eq!(app.bake_check().await.unwrap(), 1);
    ship("v1.2.4", "slack:trigger-2").await;
    mem.advance(SignedDuration::from_mins(5));

    // staging has no alarms in the example; map one by tag, as the rollback function will.
    let change = AlarmChange {
        alarm: "api-staging-5xx".into(),
        arn: None,
        previous: AlarmState::Ok,
        current: AlarmState::Alarm,
        at: mem.the_time(),
        reason: "5xx > 1%".into(),
    };
    mem.tag_alarm(
        "api-staging-5xx",
        &[("deckhand:env", "staging"), ("deckhand:service", "api")],
    );
    let outcomes = join_all((0..10).map(|_| app.on_alarm(&change))).await;
    let rolled: usize = outcomes
        .iter()
        .map(|o| o.as_ref().unwrap().rolled_back.len())
        .sum();
    assert_eq!(
        rolled, 1,
        "ten alarm deliveries, one rollback: {outcomes:?}"
    );
    let audit = app
        .ports
        .store
        .audit(&EnvName::parse("staging").unwrap(), 100)
        .await
        .unwrap();
    assert!(
        audit.iter().any(|a| a.action == "submitted"),
        "transitions are audited in DynamoDB"
    );
}

#[tokio::test]
async fn a_pause_is_taken_once_kept_by_a_second_pause_and_ended_by_resume() {
    let (_, store) = store().await;
    let env = EnvName::parse("prod").unwrap();
    let first = Pause {
        env: env.clone(),
        by: alice(),
        since: at("2026-11-24T09:00:00Z"),
    };
    assert_eq!(store.paused(&env).await.unwrap(), None);
    assert_eq!(store.pause(&first).await.unwrap(), None, "newly paused");
    let second = Pause {
        since: at("2026-11-24T09:05:00Z"),
        ..first.clone()
    };
    assert_eq!(
        store.pause(&second).await.unwrap(),
        Some(first.clone()),
        "the first pause stands"
    );
    assert_eq!(store.paused(&env).await.unwrap(), Some(first.clone()));
    assert_eq!(store.resume(&env).await.unwrap(), Some(first));
    assert_eq!(store.resume(&env).await.unwrap(), None);
    assert_eq!(store.paused(&env).await.unwrap(), None);
}

#[tokio::test]
async fn the_revision_cards_show_only_moves_forward() {
    let (_, store) = store().await;
    let id = deckhand_core::types::DeploymentId::derive(at("2026-11-24T09:00:00Z"), "cards");
    assert_eq!(store.shown_revision(id).await.unwrap(), None);
    store.card_shown(id, 3).await.unwrap();
    store.card_shown(id, 2).await.unwrap();
    assert_eq!(
        store.shown_revision(id).await.unwrap(),
        Some(3),
        "an older update lands late"
    );
    store.card_shown(id, 5).await.unwrap();
    assert_eq!(store.shown_revision(id).await.unwrap(), Some(5));
}

/// Items carry the schema they were written in. This Deckhand reads its own and the previous
/// one — items written before schemas existed (today's format, no `schema`) included — and
/// refuses a newer one by name instead of misreading it (a Deckhand rolled back by hand).
#[tokio::test]
async fn items_are_read_across_one_schema_step_and_a_newer_schema_is_refused_by_name() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use deckhand_aws::dynamo::SCHEMA;

    let (seed, store) = store().await;
    let d = deployment("schema");
    store.create_deployment(&d).await.unwrap();
    let key = HashMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("DEP#{}", d.id))),
        ("sk".to_owned(), AttributeValue::S("DEP".into())),
    ]);
    let raw = seed
        .aws
        .dynamodb
        .get_item()
        .table_name(store.table())
        .set_key(Some(key))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        raw.get("schema")
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some(SCHEMA.to_string().as_str()),
        "written with its schema"
    );
    let put = |item: HashMap<String, AttributeValue>| {
        seed.aws
            .dynamodb
            .put_item()
            .table_name(store.table())
            .set_item(Some(item))
            .send()
    };

    let mut before_schemas = raw.clone();
    before_schemas.remove("schema");
    put(before_schemas).await.unwrap();
    assert_eq!(store.get_deployment(d.id).await.unwrap(), Some(d.clone()));

    let mut previous = raw.clone();
    previous.insert("schema".into(), AttributeValue::N((SCHEMA - 1).to_string()));
    put(previous).await.unwrap();
    assert_eq!(store.get_deployment(d.id).await.unwrap(), Some(d.clone()));

    let mut newer = raw;
    newer.insert("schema".into(), AttributeValue::N((SCHEMA + 1).to_string()));
    put(newer).await.unwrap();
    let refused = store.get_deployment(d.id).await.unwrap_err().to_string();
    assert!(refused.contains("a newer Deckhand"), "{refused}");
}

/// A table that does not exist is Deckhand's setup gone wrong, not an item that is missing: the
/// error says which table, and the functions treat it as the operator's to fix.
#[tokio::test]
async fn a_missing_table_is_a_misconfiguration_that_names_the_table() {
    let (seed, _) = store().await;
    let missing = DynamoStore::new(seed.aws.dynamodb.clone(), "deckhand-no-such-table");
    let err = missing
        .get_lock(&EnvName::parse("prod").unwrap())
        .await
        .unwrap_err();
    assert_misconfigured(
        &err,
        &["DynamoDB table deckhand-no-such-table does not exist"],
    );
}

/// A request's one write: claim, lock and deployment together or not at all, and what stood
/// in the way named from DynamoDB's cancellation reasons, without a read.
#[tokio::test]
async fn opening_a_request_is_one_write_that_names_what_stood_in_the_way() {
    use deckhand_core::ports::{Opened, Opening};
    let (_, store) = store().await;
    let now = at("2026-11-24T09:00:00Z");
    let env = EnvName::parse("prod").unwrap();
    // As the acknowledgement writes it: asked for, with where to answer the person.
    let d = Deployment::asked(
        DeploymentId::derive(now, "open-1"),
        env.clone(),
        Version::parse("v1.2.3").unwrap(),
        deckhand_core::deployment::Asked {
            services: vec![ServiceName::parse("api").unwrap()],
            override_reason: None,
            force: false,
            reply_to: Some(deckhand_core::ports::ReplyTo::Discord {
                application_id: "1200".into(),
                token: deckhand_core::types::Sealed::new("interaction-token"),
            }),
        },
        alice(),
        SignedDuration::from_hours(2),
        now,
    );
    let lock_of = |d: &Deployment| EnvLock {
        env: env.clone(),
        owner: LockOwner::Deployment { id: d.id },
        held_by: alice(),
        reason: "api v1.2.3".into(),
        since: now,
        expires: None,
    };
    let open = |d: &Deployment, key: &str, unless_paused: bool| {
        let (d, lock) = (d.clone(), lock_of(d));
        let (claim, refusal) = (format!("event#{key}"), format!("refused#{key}"));
        let store = &store;
        async move {
            store
                .open_deployment(&Opening {
                    deployment: &d,
                    claim: &claim,
                    refusal: &refusal,
                    claim_expires: now + SignedDuration::from_hours(24),
                    lock: &lock,
                    unless_paused,
                    now,
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(open(&d, "k1", false).await, Opened::Opened);
    assert_eq!(store.get_deployment(d.id).await.unwrap(), Some(d.clone()));
    assert_eq!(store.get_lock(&env).await.unwrap(), Some(lock_of(&d)));
    assert_eq!(
        store.claimed("event#k1").await.unwrap(),
        Some(d.id.to_string())
    );
    // The same event again, with the id its copy derived: the first delivery's id comes back.
    let copy = deployment("open-copy");
    assert_eq!(
        open(&copy, "k1", false).await,
        Opened::Claimed(d.id.to_string())
    );
    assert_eq!(
        store.get_deployment(copy.id).await.unwrap(),
        None,
        "nothing of it written"
    );
    // A concurrent copy that derived the very same id.
    assert_eq!(
        open(&d, "k1", false).await,
        Opened::Claimed(d.id.to_string())
    );
    // Another request while the first holds prod: refused, naming the holder, writing nothing.
    let other = deployment("open-2");
    assert_eq!(open(&other, "k2", false).await, Opened::Locked(lock_of(&d)));
    assert_eq!(store.get_deployment(other.id).await.unwrap(), None);
    assert_eq!(
        store.claimed("event#k2").await.unwrap(),
        None,
        "the claim went with it"
    );
    // Refused before: that answer, whatever else stands.
    store
        .claim(
            "refused#k3",
            "prod is frozen",
            now + SignedDuration::from_hours(24),
        )
        .await
        .unwrap();
    assert_eq!(
        open(&other, "k3", false).await,
        Opened::RefusedBefore("prod is frozen".into())
    );
    // Paused: automation is refused (with the pause), a person is not asked about it.
    store
        .release_lock(&env, &LockOwner::Deployment { id: d.id })
        .await
        .unwrap();
    let pause = Pause {
        env: env.clone(),
        by: alice(),
        since: now,
    };
    store.pause(&pause).await.unwrap();
    assert_eq!(open(&other, "k4", true).await, Opened::Paused(pause));
    assert_eq!(store.get_lock(&env).await.unwrap(), None);
    assert_eq!(open(&other, "k5", false).await, Opened::Opened);
}
