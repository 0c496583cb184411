#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;
use crate::testkit::{at, person};
use crate::types::SignedDuration;

const T0: &str = "2026-11-24T09:00:00Z";

/// A release of `name` v1.2.3 (over v1.2.2) with nothing before or after its rollout; add
/// steps with [`Steps`].
fn svc(name: &str) -> ServiceRelease {
    let image = ImageRef {
        repository: format!("acme/{name}"),
        tag: Version::parse("v1.2.3").unwrap(),
        digest: Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap(),
    };
    let mut release = ServiceRelease::new(ServiceName::parse(name).unwrap(), image);
    release.previous_version = Some("v1.2.2".into());
    release
}

/// The steps a service's release may take around its rollout.
trait Steps {
    /// A snapshot of the prod database first.
    fn snapshot(self) -> Self;
    /// A migration before the rollout.
    fn migration(self) -> Self;
    /// A health check after it. No retries: one failed try fails the check (retries have tests
    /// of their own).
    fn health(self) -> Self;
}

impl Steps for ServiceRelease {
    fn snapshot(mut self) -> Self {
        self.snapshot_plan = Some("prod-db-nightly".into());
        self
    }
    fn migration(mut self) -> Self {
        self.migration = Some(vec!["migrate".into()]);
        self
    }
    fn health(mut self) -> Self {
        let check = HttpCheck::of_url("health", "https://x/healthz".into());
        self.checks = vec![HttpCheck {
            retries: 0,
            ..check
        }];
        self
    }
}

fn deployment(approvals: u8, services: Vec<ServiceRelease>) -> Deployment {
    Deployment::new(
        Draft {
            id: DeploymentId::derive(at(T0), "test"),
            env: EnvName::parse("prod").unwrap(),
            kind: DeploymentKind::Release,
            version: Version::parse("v1.2.3").unwrap(),
            services,
            requested_by: person("U0ALICE"),
            required_approvals: approvals,
            approval_ttl: SignedDuration::from_hours(2),
            overridden: None,
            alarms_at_start: vec![],
        },
        at(T0),
    )
}

fn now() -> Timestamp {
    at(T0) + SignedDuration::from_mins(5)
}

/// Applies inputs in order, each of which must change the deployment.
fn run(d: &Deployment, inputs: &[Input]) -> (Deployment, Vec<Effect>) {
    let mut d = d.clone();
    let mut all = Vec::new();
    for i in inputs {
        let step = d
            .apply(i, now())
            .unwrap_or_else(|e| panic!("{} refused in {:?}: {e}", i.name(), d.state));
        assert!(step.changed, "{} did not change {:?}", i.name(), d.state);
        assert_eq!(step.deployment.revision, d.revision + 1);
        all.extend(step.effects);
        d = step.deployment;
    }
    (d, all)
}

fn kinds(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::PostCard => Some("post_card"),
            Effect::UpdateCard
            | Effect::Reply { .. }
            | Effect::Tell { .. }
            | Effect::Audit { .. }
            | Effect::EmitMetric { .. } => None,
            Effect::Dispatch { .. } => Some("dispatch"),
            Effect::TakeSnapshot { .. } => Some("snapshot"),
            Effect::RunMigration { .. } => Some("migrate"),
            Effect::Roll { .. } => Some("roll"),
            Effect::Check { .. } => Some("health"),
            Effect::RunSmoke { .. } => Some("smoke"),
            Effect::LookAtSmoke { .. } => Some("look"),
            Effect::StopSmoke { .. } => Some("stop"),
            Effect::Wake { .. } => Some("wake"),
            Effect::StartRollback { .. } => Some("start_rollback"),
            Effect::RecordRelease { .. } => Some("record"),
            Effect::ReleaseLock => Some("release_lock"),
        })
        .collect()
}

fn approved(by: &str) -> Input {
    Input::Approved { by: person(by) }
}
fn started(service: &str, ecs: &str) -> Input {
    Input::RolloutStarted {
        service: ServiceName::parse(service).unwrap(),
        task_definition: format!("{service}:8"),
        ecs_deployment: ecs.into(),
    }
}
fn completed(ecs: &str) -> Input {
    Input::RolloutCompleted {
        ecs_deployment: ecs.into(),
    }
}
fn healthy(service: &str, ok: bool) -> Input {
    Input::Checked {
        service: ServiceName::parse(service).unwrap(),
        check: 0,
        attempt: 1,
        failure: (!ok).then(|| "HTTP 503 (expected 2xx)".into()),
    }
}

#[test]
fn the_happy_path_table() {
    // (inputs so far, expected state, expected effect kinds of the last input)
    let d = deployment(
        1,
        vec![svc("worker").snapshot().migration(), svc("api").health()],
    );
    let migration_ok = Input::MigrationFinished {
        service: ServiceName::parse("worker").unwrap(),
        exit_code: 0,
    };
    let snap = Input::SnapshotTaken {
        service: ServiceName::parse("worker").unwrap(),
        snapshot: "snap-1".into(),
    };
    let table: Vec<(Vec<Input>, State, Vec<&str>)> = vec![
        (
            vec![Input::Submitted],
            State::PendingApproval,
            vec!["post_card"],
        ),
        (vec![approved("U0BOB")], State::Approved, vec!["dispatch"]),
        (
            vec![Input::Started],
            State::Migrating { service: 0 },
            vec!["snapshot"],
        ),
        (vec![snap], State::Migrating { service: 0 }, vec!["migrate"]),
        (
            vec![migration_ok],
            State::Rolling { service: 0 },
            vec!["roll"],
        ),
        (
            vec![started("worker", "ecs-w")],
            State::Rolling { service: 0 },
            vec![],
        ),
        (
            vec![completed("ecs-w")],
            State::Rolling { service: 1 },
            vec!["record", "roll"],
        ),
        (
            vec![started("api", "ecs-a")],
            State::Rolling { service: 1 },
            vec![],
        ),
        (
            vec![completed("ecs-a")],
            State::Verifying { service: 1 },
            vec!["health"],
        ),
        (
            vec![healthy("api", true)],
            State::Succeeded,
            vec!["record", "release_lock"],
        ),
    ];
    let mut cur = d;
    for (inputs, state, effects) in table {
        let (next, fx) = run(&cur, &inputs);
        assert_eq!(next.state, state, "after {}", inputs[0].name());
        assert_eq!(kinds(&fx), effects, "effects of {}", inputs[0].name());
        assert!(
            fx.iter().any(|e| matches!(e, Effect::Audit { .. })),
            "every transition is audited"
        );
        cur = next;
    }
    assert_eq!(cur.finished_at, Some(now()));
}

#[test]
fn staging_without_approvals_starts_at_once() {
    let (d, fx) = run(&deployment(0, vec![svc("api")]), &[Input::Submitted]);
    assert_eq!(d.state, State::Approved);
    assert_eq!(kinds(&fx), vec!["post_card", "dispatch"]);
}

#[test]
fn two_approvals_need_two_people_and_a_double_click_counts_once() {
    let (d, _) = run(
        &deployment(2, vec![svc("api")]),
        &[Input::Submitted, approved("U0BOB")],
    );
    assert_eq!(d.state, State::PendingApproval);
    let again = d.apply(&approved("U0BOB"), now()).unwrap();
    assert!(
        !again.changed && again.effects.is_empty(),
        "a double click is a duplicate"
    );
    let (d, fx) = run(&d, &[approved("U0CAROL")]);
    assert_eq!(d.state, State::Approved);
    assert_eq!(kinds(&fx), vec!["dispatch"]);
    assert_eq!(d.approvals.len(), 2);
    assert!(
        !d.apply(&approved("U0CAROL"), now()).unwrap().changed,
        "a late repeat after approval is harmless"
    );
}

#[test]
fn the_requester_cannot_approve_their_own_deploy() {
    let (d, _) = run(&deployment(1, vec![svc("api")]), &[Input::Submitted]);
    assert_eq!(
        d.apply(&approved("U0ALICE"), now()),
        Err(Refused::OwnRequest)
    );
}

#[test]
fn approvals_expire() {
    let (d, _) = run(&deployment(1, vec![svc("api")]), &[Input::Submitted]);
    let late = at(T0) + SignedDuration::from_hours(2);
    assert!(matches!(
        d.apply(&approved("U0BOB"), late),
        Err(Refused::Expired { .. })
    ));
    assert!(
        matches!(
            d.apply(&Input::ApprovalExpired, now()),
            Err(Refused::Illegal { .. })
        ),
        "not before its time"
    );
    let step = d.apply(&Input::ApprovalExpired, late).unwrap();
    assert_eq!(step.deployment.state, State::Expired);
    assert_eq!(kinds(&step.effects), vec!["release_lock"]);
}

#[test]
fn rejection_ends_it_and_says_who() {
    let (d, _) = run(&deployment(1, vec![svc("api")]), &[Input::Submitted]);
    let reject = Input::Rejected {
        by: person("U0BOB"),
        reason: Some("not today".into()),
    };
    let (d, fx) = run(&d, std::slice::from_ref(&reject));
    assert_eq!(
        d.state,
        State::Rejected {
            by: person("U0BOB"),
            reason: Some("not today".into())
        }
    );
    assert_eq!(kinds(&fx), vec!["release_lock"]);
    assert!(!d.apply(&reject, now()).unwrap().changed);
    assert_eq!(
        d.apply(&approved("U0CAROL"), now()),
        Err(Refused::Finished { state: "rejected" })
    );
}

#[test]
fn a_failed_migration_fails_without_touching_the_service() {
    let d = deployment(0, vec![svc("worker").migration()]);
    let bad = Input::MigrationFinished {
        service: ServiceName::parse("worker").unwrap(),
        exit_code: 3,
    };
    let (d, fx) = run(&d, &[Input::Submitted, Input::Started, bad]);
    assert!(
        matches!(&d.state, State::Failed { reason } if reason.contains("exited with code 3")),
        "{:?}",
        d.state
    );
    assert!(!kinds(&fx).contains(&"roll"));
    assert!(
        !kinds(&fx).contains(&"start_rollback"),
        "nothing was changed, so nothing rolls back"
    );
    assert!(kinds(&fx).contains(&"release_lock"));
}

#[test]
fn a_failure_in_the_second_service_rolls_back_the_first() {
    let d = deployment(0, vec![svc("worker"), svc("api").health()]);
    let (d, fx) = run(
        &d,
        &[
            Input::Submitted,
            Input::Started,
            started("worker", "w1"),
            completed("w1"),
            started("api", "a1"),
            completed("a1"),
            healthy("api", false),
        ],
    );
    assert!(
        matches!(&d.state, State::RolledBack { reason } if reason.contains("`health` check of api failed after 1 try: HTTP 503"))
    );
    let rollback = fx.iter().find_map(|e| match e {
        Effect::StartRollback { services, .. } => Some(services.clone()),
        _ => None,
    });
    assert_eq!(
        rollback,
        Some(vec![
            ServiceName::parse("worker").unwrap(),
            ServiceName::parse("api").unwrap()
        ])
    );
}

#[test]
fn ecs_outcomes_must_match_the_deployment_id() {
    let d = deployment(0, vec![svc("api")]);
    let (d, _) = run(
        &d,
        &[Input::Submitted, Input::Started, started("api", "ecs-1")],
    );
    // The circuit breaker's own rollback deployment completing is not our success.
    assert!(matches!(
        d.apply(&completed("ecs-rollback-2"), now()),
        Err(Refused::NotOurs { .. })
    ));
    let failed = Input::RolloutFailed {
        ecs_deployment: "ecs-1".into(),
        reason: "circuit breaker".into(),
    };
    let (d, fx) = run(&d, std::slice::from_ref(&failed));
    assert!(
        matches!(d.state, State::RolledBack { .. }),
        "a rollout ECS rolled back is a failure"
    );
    assert!(kinds(&fx).contains(&"start_rollback"));
    assert!(
        !d.apply(&failed, now()).unwrap().changed,
        "the same ECS event again is a duplicate"
    );
}

#[test]
fn redelivered_progress_events_are_duplicates() {
    let d = deployment(0, vec![svc("worker").migration(), svc("api")]);
    let ok = Input::MigrationFinished {
        service: ServiceName::parse("worker").unwrap(),
        exit_code: 0,
    };
    let (d, _) = run(
        &d,
        &[
            Input::Submitted,
            Input::Started,
            ok.clone(),
            started("worker", "w1"),
            completed("w1"),
        ],
    );
    for again in [
        Input::Submitted,
        Input::Started,
        ok,
        started("worker", "w1"),
        completed("w1"),
    ] {
        let step = d.apply(&again.clone(), now()).unwrap();
        assert!(!step.changed, "{} should be a duplicate", again.name());
        assert_eq!(step.deployment, d);
    }
}

#[test]
fn illegal_pairs_are_refused_not_dropped() {
    let fresh = deployment(1, vec![svc("api")]);
    let cases: Vec<(Deployment, Input)> = vec![
        (fresh.clone(), approved("U0BOB")),
        (fresh.clone(), Input::Started),
        (fresh.clone(), healthy("api", true)),
        (run(&fresh, &[Input::Submitted]).0, Input::Started),
        (run(&fresh, &[Input::Submitted]).0, started("api", "e")),
        (
            run(&fresh, &[Input::Submitted, approved("U0BOB")]).0,
            healthy("api", true),
        ),
        (
            run(&fresh, &[Input::Submitted, approved("U0BOB")]).0,
            Input::Rejected {
                by: person("U0CAROL"),
                reason: None,
            },
        ),
    ];
    for (d, input) in cases {
        let r = d.apply(&input, now());
        assert!(
            r.is_err(),
            "{} in {:?} should be refused, got {:?}",
            input.name(),
            d.state,
            r.map(|s| s.deployment.state)
        );
    }
}

#[test]
fn a_rollback_deployment_never_rolls_itself_back() {
    let mut d = deployment(0, vec![svc("api")]);
    d.kind = DeploymentKind::Rollback {
        automatic: true,
        reason: "alarm".into(),
        of: None,
    };
    let failed = Input::RolloutFailed {
        ecs_deployment: "e1".into(),
        reason: "tasks failed to start".into(),
    };
    let (d, fx) = run(
        &d,
        &[
            Input::Submitted,
            Input::Started,
            started("api", "e1"),
            failed,
        ],
    );
    assert!(matches!(d.state, State::Failed { .. }));
    assert!(!kinds(&fx).contains(&"start_rollback"));
}

#[test]
fn superseding_ends_a_deployment_in_flight() {
    let d = deployment(0, vec![svc("api")]);
    let (d, _) = run(&d, &[Input::Submitted, Input::Started]);
    let by = DeploymentId::derive(now(), "rollback");
    let (d, fx) = run(&d, &[Input::Superseded { by }]);
    assert_eq!(d.state, State::Superseded { by });
    assert!(kinds(&fx).contains(&"release_lock"));
}

#[test]
fn a_recorded_vote_counts_once_at_its_own_time_and_only_while_approval_is_awaited() {
    let d = deployment(1, vec![svc("api")]);
    let (mut d, _) = run(&d, &[Input::Submitted]);
    let clicked = now();
    let bob = Approval {
        by: person("U0BOB"),
        at: clicked,
    };
    d.votes.push(bob.clone());
    assert_eq!(d.votes_to_count(), vec![Input::VoteCounted(bob.clone())]);
    assert!(
        d.has_approved(&person("U0BOB")),
        "a vote is an approval before it is counted"
    );
    let later = clicked + SignedDuration::from_mins(3);
    let step = d.apply(&Input::VoteCounted(bob.clone()), later).unwrap();
    assert_eq!(step.deployment.state, State::Approved);
    assert_eq!(
        step.deployment.approvals,
        vec![bob.clone()],
        "counted at the click's time"
    );
    assert!(step.deployment.votes.is_empty());
    assert!(
        !kinds(&step.effects).contains(&"dispatch"),
        "whoever counts it starts it: {:?}",
        step.effects
    );
    assert!(step.deployment.votes_to_count().is_empty());
    let again = step
        .deployment
        .apply(&Input::VoteCounted(bob), later)
        .unwrap();
    assert!(!again.changed, "counted once");

    // The requester's own vote, had a store let it through, is dropped, not counted.
    let (mut d, _) = run(&deployment(1, vec![svc("api")]), &[Input::Submitted]);
    let own = Approval {
        by: d.requested_by.clone(),
        at: clicked,
    };
    d.votes.push(own.clone());
    let step = d.apply(&Input::VoteCounted(own), clicked).unwrap();
    assert!(step.changed && step.deployment.votes.is_empty());
    assert!(step.deployment.approvals.is_empty());
    assert_eq!(step.deployment.state, State::PendingApproval);
    assert!(
        step.deployment
            .due(clicked, Limits::with_rollout(SignedDuration::from_hours(1)))
            .is_none(),
        "nothing left due"
    );
}

fn arb_input() -> impl Strategy<Value = Input> {
    let svc_name = prop::sample::select(vec!["worker", "api", "ghost"]);
    let ecs = prop::sample::select(vec!["w1", "a1", "zz"]);
    let who = prop::sample::select(vec!["U0ALICE", "U0BOB", "U0CAROL"]);
    prop_oneof![
        Just(Input::Submitted),
        who.clone().prop_map(approved),
        (who.clone(), 0u32..200).prop_map(|(w, m)| Input::VoteCounted(Approval {
            by: person(w),
            at: at(T0) + SignedDuration::from_mins(i64::from(m)),
        })),
        who.prop_map(|w| Input::Rejected {
            by: person(w),
            reason: None
        }),
        Just(Input::ApprovalExpired),
        Just(Input::Started),
        svc_name.clone().prop_map(|s| Input::SnapshotTaken {
            service: ServiceName::parse(s).unwrap(),
            snapshot: "s".into()
        }),
        (svc_name.clone(), 0..3i32).prop_map(|(s, c)| Input::MigrationFinished {
            service: ServiceName::parse(s).unwrap(),
            exit_code: c
        }),
        (svc_name.clone(), ecs.clone()).prop_map(|(s, e)| started(s, e)),
        ecs.clone().prop_map(completed),
        ecs.prop_map(|e| Input::RolloutFailed {
            ecs_deployment: e.into(),
            reason: "x".into()
        }),
        (svc_name, any::<bool>()).prop_map(|(s, ok)| healthy(s, ok)),
        Just(Input::Aborted { reason: "x".into() }),
    ]
}

/// Drives a deployment with arbitrary inputs at arbitrary times, skipping refusals.
fn drive(inputs: &[(Input, u32)]) -> Vec<(Deployment, Step)> {
    let mut d = deployment(
        1,
        vec![svc("worker").snapshot().migration(), svc("api").health()],
    );
    let mut steps = Vec::new();
    for (input, minutes) in inputs {
        let t = at(T0) + SignedDuration::from_mins(i64::from(*minutes));
        if let Ok(step) = d.apply(input, t) {
            steps.push((d.clone(), step.clone()));
            d = step.deployment;
        }
    }
    steps
}

proptest! {
    #[test]
    fn no_input_sequence_moves_a_terminal_deployment(inputs in prop::collection::vec((arb_input(), 0u32..200), 0..40)) {
        let mut ended: Option<Deployment> = None;
        for (before, step) in drive(&inputs) {
            if let Some(end) = &ended {
                prop_assert_eq!(&before, end);
                prop_assert!(!step.changed);
                prop_assert!(step.effects.is_empty());
            }
            if step.deployment.state.is_terminal() && ended.is_none() {
                ended = Some(step.deployment.clone());
            }
        }
    }

    #[test]
    fn applying_an_input_twice_equals_applying_it_once(inputs in prop::collection::vec((arb_input(), 0u32..200), 0..40)) {
        // Re-deliver every input that moved the deployment: the second time changes nothing.
        let mut d = deployment(1, vec![svc("worker").snapshot().migration(), svc("api").health()]);
        for (input, minutes) in &inputs {
            let t = at(T0) + SignedDuration::from_mins(i64::from(*minutes));
            let Ok(once) = d.apply(input, t) else { continue };
            if once.changed {
                // Refusing the repeat (an approval after expiry, say) also leaves it as once.
                if let Ok(twice) = once.deployment.apply(input, t) {
                    prop_assert!(!twice.changed, "{} applied twice moved {:?} to {:?}", input.name(), once.deployment.state, twice.deployment.state);
                    prop_assert_eq!(&twice.deployment, &once.deployment);
                }
            }
            d = once.deployment;
        }
    }

    #[test]
    fn no_sequence_rolls_a_service_out_twice(inputs in prop::collection::vec((arb_input(), 0u32..200), 0..60)) {
        let mut rolls: Vec<ServiceName> = Vec::new();
        for (_, step) in drive(&inputs) {
            for e in &step.effects {
                if let Effect::Roll { service } = e {
                    prop_assert!(!rolls.contains(service), "{} rolled twice", service);
                    rolls.push(service.clone());
                }
            }
        }
    }
}

#[test]
fn every_waiting_state_has_a_deadline_and_time_says_what_is_due() {
    let limits = Limits::with_rollout(SignedDuration::from_hours(1));
    let mins = |m: i64| at(T0) + SignedDuration::from_mins(m);
    let requested = deployment(1, vec![svc("api")]);
    assert_eq!(requested.deadline(limits), Some(mins(5)));
    assert_eq!(requested.due(mins(4), limits), None);
    assert_eq!(
        requested.due(mins(5), limits),
        Some(Due::Resume),
        "its submission was lost"
    );

    let pending = requested
        .apply(&Input::Submitted, at(T0))
        .unwrap()
        .deployment;
    assert_eq!(pending.state, State::PendingApproval);
    assert_eq!(pending.deadline(limits), Some(mins(120)));
    assert_eq!(pending.due(mins(119), limits), None);
    assert_eq!(pending.due(mins(120), limits), Some(Due::Expire));
    let expired = pending.apply(&Input::ApprovalExpired, mins(120)).unwrap();
    assert!(
        expired
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Reply { text } if text.contains("nobody approved this"))),
        "the requester is told: {:?}",
        expired.effects
    );
    assert_eq!(
        expired.deployment.deadline(limits),
        None,
        "terminal states wait on nothing"
    );

    let started = deployment(0, vec![svc("api")]);
    let (rolling, _) = run(&started, &[Input::Submitted, Input::Started]);
    let State::Rolling { service } = rolling.state else {
        panic!("{:?}", rolling.state)
    };
    let t = now();
    assert_eq!(
        rolling.due(t + limits.step, limits),
        Some(Due::Resume),
        "the roll was lost"
    );
    let waiting = rolling
        .apply(
            &Input::RolloutStarted {
                service: ServiceName::parse("api").unwrap(),
                task_definition: "api:2".into(),
                ecs_deployment: "ecs-1".into(),
            },
            t,
        )
        .unwrap()
        .deployment;
    assert_eq!(
        waiting.state_since, t,
        "the wait on ECS starts with the rollout"
    );
    let ecs = "ecs-1".to_owned();
    assert_eq!(
        waiting.due(t + limits.step - SignedDuration::from_secs(1), limits),
        None
    );
    assert_eq!(
        waiting.due(t + limits.step, limits),
        Some(Due::Reconcile {
            service,
            ecs_deployment: ecs.clone()
        })
    );
    assert_eq!(
        waiting.due(t + limits.rollout, limits),
        Some(Due::Overdue {
            service,
            ecs_deployment: ecs
        })
    );
    assert_eq!(waiting.moves_by(limits), Some(t + limits.rollout));
}

/// The words on a card read as an engineer writes them: a duration in the unit that fits, from
/// when the work could start, with the wait for approval said apart; what started a deploy
/// nobody approved; a real plural.
#[test]
fn a_card_says_how_long_the_work_took_apart_from_the_wait_and_what_started_it() {
    use crate::card::{count, deployment_card};
    use crate::rollback::fmt_duration;
    assert_eq!(fmt_duration(SignedDuration::from_secs(45)), "45s");
    assert_eq!(fmt_duration(SignedDuration::from_secs(119)), "119s");
    assert_eq!(fmt_duration(SignedDuration::from_mins(12)), "12m");
    assert_eq!(fmt_duration(SignedDuration::from_mins(90)), "1h30m");
    assert_eq!(fmt_duration(SignedDuration::from_secs(-5)), "0s");
    assert_eq!(count(1, "approval"), "1 approval");
    assert_eq!(count(0, "old snapshot"), "0 old snapshots");

    // Approved 12 minutes after the request, succeeded 40 seconds after that.
    let d = deployment(1, vec![svc("api")]);
    let (mut d, _) = run(&d, &[Input::Submitted]);
    let approved_at = at(T0) + SignedDuration::from_mins(12);
    d = d
        .apply(
            &Input::Approved {
                by: person("U0BOB"),
            },
            approved_at,
        )
        .unwrap()
        .deployment;
    assert_eq!(d.started_at(), approved_at);
    assert_eq!(
        deployment_card(&d, approved_at).status,
        "Approved — starting"
    );
    d.state = State::Succeeded;
    d.finished_at = Some(approved_at + SignedDuration::from_secs(40));
    let status = deployment_card(&d, approved_at).status;
    assert_eq!(status, "Succeeded in 40s (after 12m waiting for approval)");

    // Nobody approved these: the card says what started them.
    let mut auto = deployment(0, vec![svc("api")]);
    auto.requested_by = crate::types::Actor::system("auto-deploy");
    auto.state = State::Approved;
    assert_eq!(
        deployment_card(&auto, now()).status,
        "Started by auto-deploy — starting"
    );
    auto.kind = DeploymentKind::Rollback {
        automatic: true,
        reason: "alarm".into(),
        of: None,
    };
    assert_eq!(
        deployment_card(&auto, now()).status,
        "Automatic rollback — starting"
    );
    let mut by_hand = deployment(0, vec![svc("api")]);
    by_hand.state = State::Approved;
    assert_eq!(
        deployment_card(&by_hand, now()).status,
        "Requested by Alice (no approval needed in prod) — starting"
    );
}

fn asked(reply: bool) -> Deployment {
    Deployment::asked(
        DeploymentId::derive(at(T0), "asked"),
        EnvName::parse("prod").unwrap(),
        Version::parse("v1.2.3").unwrap(),
        Asked {
            services: vec![ServiceName::parse("api").unwrap()],
            override_reason: None,
            force: false,
            reply_to: reply.then(|| crate::ports::ReplyTo::Slack {
                response_url: crate::types::Sealed::new("https://hooks.slack.com/commands/T/1/x"),
            }),
        },
        person("U0ALICE"),
        SignedDuration::from_hours(2),
        at(T0),
    )
}

fn prepared(approvals: u8, notes: &[&str]) -> Input {
    Input::Prepared(Box::new(Prepared {
        services: vec![svc("api")],
        overridden: None,
        required_approvals: approvals,
        alarms_at_start: vec![],
        notes: notes.iter().map(|n| (*n).to_owned()).collect(),
    }))
}

/// An asked-for release waits for its checks: once prepared it asks for approval or starts,
/// exactly as a submitted one, and says its notes privately; a second preparation, or a
/// `Submitted` before any, changes nothing.
#[test]
fn an_asked_release_is_prepared_once_then_behaves_as_submitted() {
    let d = asked(true);
    assert!(d.awaits_preparation() && !d.awaits_submission());
    assert_eq!(d.service_names(), vec![ServiceName::parse("api").unwrap()]);
    assert!(!d.apply(&Input::Submitted, now()).unwrap().changed);

    let (p, fx) = run(&d, &[prepared(1, &["worker is left out."])]);
    assert_eq!(p.state, State::PendingApproval);
    assert_eq!(p.required_approvals, 1);
    assert!(!p.awaits_preparation());
    assert_eq!(kinds(&fx), vec!["post_card"]);
    assert!(fx.contains(&Effect::Tell {
        to: d.asked.as_ref().unwrap().reply_to.clone(),
        text: "worker is left out.".into(),
    }));
    assert_eq!(
        p.asked.as_ref().unwrap().reply_to,
        None,
        "the response URL is not kept once used"
    );
    assert!(!p.apply(&prepared(1, &[]), now()).unwrap().changed);

    let (s, fx) = run(&asked(false), &[prepared(0, &[])]);
    assert_eq!(s.state, State::Approved);
    assert_eq!(kinds(&fx), vec!["post_card", "dispatch"]);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Tell { .. })),
        "no notes, nothing said"
    );
}

/// Declined by its checks: final, its lock released, the person told why, privately; the
/// same verdict again is a duplicate, and a deployment that was never asked cannot be declined.
#[test]
fn an_asked_release_declined_by_its_checks_ends_and_frees_its_environment() {
    let d = asked(true);
    let declined = Input::Declined {
        reason: "there is no image acme/api:v1.2.3 in the registry".into(),
    };
    let (x, fx) = run(&d, std::slice::from_ref(&declined));
    assert!(x.state.is_terminal());
    assert_eq!(
        x.declined_because(),
        Some("there is no image acme/api:v1.2.3 in the registry")
    );
    assert_eq!(x.state.name(), "refused");
    assert_eq!(kinds(&fx), vec!["release_lock"]);
    assert!(fx.contains(&Effect::Tell {
        to: d.asked.as_ref().unwrap().reply_to.clone(),
        text: "Not deploying api v1.2.3 to prod: there is no image acme/api:v1.2.3 in the registry"
            .into(),
    }));
    assert_eq!(x.asked.as_ref().unwrap().reply_to, None);
    assert!(!x.apply(&declined, now()).unwrap().changed);
    assert!(!x.apply(&prepared(0, &[]), now()).unwrap().changed);
    assert_eq!(
        x.deadline(Limits::with_rollout(SignedDuration::from_mins(30))),
        None
    );

    let submitted = deployment(1, vec![svc("api")]);
    assert!(!submitted.apply(&declined, now()).unwrap().changed);
    // Waiting for its checks has a deadline: maintenance prepares a request whose dispatch was lost.
    assert_eq!(
        d.due(
            at(T0) + Limits::STEP,
            Limits::with_rollout(SignedDuration::from_mins(30))
        ),
        Some(Due::Resume)
    );
}

/// A response URL or interaction token is a credential for a while: stored, never shown.
#[test]
fn where_to_answer_is_redacted_in_debug_output() {
    let d = asked(true);
    let discord = crate::ports::ReplyTo::Discord {
        application_id: "1200".into(),
        token: crate::types::Sealed::new("interaction-token-secret"),
    };
    for shown in [format!("{d:?}"), format!("{discord:?}")] {
        assert!(
            !shown.contains("hooks.slack.com") && !shown.contains("token-secret"),
            "{shown}"
        );
        assert!(shown.contains("[redacted]"), "{shown}");
    }
    // …but kept as it came, so the deploy function can answer through it (stored: see the
    // harness's `opening_a_request_is_one_write_that_names_what_stood_in_the_way`).
    assert!(matches!(
        &d.asked.as_ref().unwrap().reply_to,
        Some(crate::ports::ReplyTo::Slack { response_url })
            if response_url.expose() == "https://hooks.slack.com/commands/T/1/x"
    ));
}

/// api with two checks (`health` tried at once; `ready` with a 30 s grace and one retry) and
/// a smoke test, rolled out and reported done at `now()`: verifying its first check.
fn verifying_api(smoke: bool) -> Deployment {
    let mut api = svc("api").health();
    api.checks[0].retries = 2;
    api.checks.push(HttpCheck {
        grace: SignedDuration::from_secs(30),
        retries: 1,
        ..HttpCheck::of_url("ready", "https://x/ready".into())
    });
    api.smoke = smoke.then(|| Smoke {
        command: vec!["bin/smoke".into()],
        timeout: SignedDuration::from_mins(2),
    });
    let d = deployment(0, vec![api]);
    let (d, _) = run(
        &d,
        &[
            Input::Submitted,
            Input::Started,
            started("api", "ecs-1"),
            completed("ecs-1"),
        ],
    );
    assert_eq!(d.state, State::Verifying { service: 0 });
    d
}

fn try_of(check: usize, attempt: u32, failure: Option<&str>) -> Input {
    Input::Checked {
        service: ServiceName::parse("api").unwrap(),
        check,
        attempt,
        failure: failure.map(str::to_owned),
    }
}

/// Applies `input` at `when`; it must change the deployment.
fn step_at(d: &Deployment, input: &Input, when: Timestamp) -> (Deployment, Vec<Effect>) {
    let step = d.apply(input, when).unwrap();
    assert!(step.changed, "{} changed nothing", input.name());
    (step.deployment, step.effects)
}

fn wakes(effects: &[Effect]) -> Vec<Timestamp> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Wake { at } => Some(*at),
            _ => None,
        })
        .collect()
}

#[test]
fn a_check_is_tried_again_after_its_interval_and_its_grace_does_not_count() {
    let d = verifying_api(false);
    let t = |s: i64| now() + SignedDuration::from_secs(s);
    // The first check is tried at once; passing it starts the second at once.
    assert_eq!(
        d.pending_work(),
        Some(Effect::Check {
            service: ServiceName::parse("api").unwrap(),
            check: 0,
            attempt: 1
        })
    );
    let (d, fx) = step_at(&d, &try_of(0, 1, None), t(1));
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Check {
            check: 1,
            attempt: 1,
            ..
        }
    )));
    // `ready` fails in its grace: tried again in 10 s, nothing counted.
    let (d, fx) = step_at(&d, &try_of(1, 1, Some("HTTP 503 (expected 2xx)")), t(2));
    assert_eq!(wakes(&fx), vec![t(12)]);
    assert_eq!(d.scheduled_work(t(11)), None, "not due before its time");
    assert_eq!(
        d.pending_work(),
        None,
        "waiting for its time is not lost work"
    );
    assert!(matches!(
        d.scheduled_work(t(12)),
        Some(Effect::Check {
            check: 1,
            attempt: 2,
            ..
        })
    ));
    // The card says so.
    let card = crate::card::deployment_card(&d, t(3));
    assert!(
        card.status
            .contains("`ready` — try 1 failed (HTTP 503 (expected 2xx)); next at"),
        "{}",
        card.status
    );
    // A redelivered try is a duplicate; so is a try of the check already passed.
    assert!(
        !d.apply(&try_of(1, 1, Some("HTTP 503")), t(3))
            .unwrap()
            .changed
    );
    assert!(!d.apply(&try_of(0, 1, None), t(3)).unwrap().changed);
    // After the grace: one failure counts (one retry allowed), a second gives up.
    let (d, fx) = step_at(&d, &try_of(1, 2, Some("HTTP 503 (expected 2xx)")), t(31));
    assert_eq!(wakes(&fx), vec![t(41)]);
    let (d, fx) = step_at(&d, &try_of(1, 3, Some("HTTP 503 (expected 2xx)")), t(41));
    assert!(
        matches!(&d.state, State::RolledBack { reason } if reason == "the `ready` check of api failed after 3 tries: HTTP 503 (expected 2xx)"),
        "{:?}",
        d.state
    );
    assert_eq!(kinds(&fx), vec!["release_lock", "start_rollback"]);
    assert!(
        fx.contains(&Effect::Reply {
            text: "The `ready` check of api failed after 3 tries: HTTP 503 (expected 2xx).".into()
        }),
        "the thread says which check failed, with what, after how many tries: {fx:?}"
    );
}

#[test]
fn a_check_that_passes_on_a_retry_says_so_and_the_service_is_done() {
    let d = verifying_api(false);
    let t = |s: i64| now() + SignedDuration::from_secs(s);
    let (d, _) = step_at(&d, &try_of(0, 1, Some("no answer within 5s")), t(1));
    let (d, fx) = step_at(&d, &try_of(0, 2, None), t(11));
    assert!(fx.contains(&Effect::Reply {
        text: "The `health` check of api passed on try 2.".into()
    }));
    let (d, fx) = step_at(&d, &try_of(1, 1, None), t(12));
    assert_eq!(d.state, State::Succeeded);
    assert!(kinds(&fx).contains(&"record"));
}

#[test]
fn a_lost_wake_is_due_to_maintenance_a_step_after_the_try_it_was_for() {
    let d = verifying_api(false);
    let t = |s: i64| now() + SignedDuration::from_secs(s);
    let (d, _) = step_at(&d, &try_of(0, 1, Some("HTTP 503")), t(1));
    let limits = Limits::with_rollout(SignedDuration::from_mins(30));
    assert_eq!(d.deadline(limits), Some(t(11) + Limits::STEP));
    assert_eq!(d.due(t(11) + Limits::STEP, limits), Some(Due::Scheduled));
    assert_eq!(d.due(t(12), limits), None);
}

#[test]
fn a_smoke_test_runs_after_the_checks_and_its_exit_code_decides() {
    let d = verifying_api(true);
    let t = |s: i64| now() + SignedDuration::from_secs(s);
    let api = || ServiceName::parse("api").unwrap();
    let (d, _) = step_at(&d, &try_of(0, 1, None), t(1));
    let (d, fx) = step_at(&d, &try_of(1, 1, None), t(2));
    assert_eq!(kinds(&fx), vec!["smoke"]);
    assert_eq!(d.pending_work(), Some(Effect::RunSmoke { service: api() }));
    let started = Input::SmokeStarted {
        service: api(),
        task: "task/1".into(),
    };
    let (d, fx) = step_at(&d, &started, t(3));
    assert_eq!(wakes(&fx), vec![t(18)]);
    assert!(!d.apply(&started, t(4)).unwrap().changed, "a retried start");
    let look = |state| Input::SmokeLooked {
        service: api(),
        task: "task/1".into(),
        state,
    };
    assert_eq!(
        d.scheduled_work(t(18)),
        Some(Effect::LookAtSmoke {
            service: api(),
            task: "task/1".into()
        })
    );
    let (d, fx) = step_at(&d, &look(TaskState::Running), t(18));
    assert_eq!(wakes(&fx), vec![t(33)]);
    assert!(
        !d.apply(&look(TaskState::Running), t(19)).unwrap().changed,
        "a second look at the same time"
    );
    // A non-zero exit fails the deploy with ECS's reason and the log's last lines.
    let failed = look(TaskState::Stopped {
        exit_code: Some(1),
        reason: "Essential container in task exited".into(),
        log_tail: vec!["GET /checkout 500".into(), "smoke: 1 of 3 failed".into()],
    });
    let (bad, _) = step_at(&d, &failed, t(33));
    assert!(
        matches!(&bad.state, State::RolledBack { reason } if reason.starts_with("the smoke test of api exited with code 1 (Essential container in task exited); its last lines:\n```\nGET /checkout 500\nsmoke: 1 of 3 failed\n```")),
        "{:?}",
        bad.state
    );
    // Exit 0 passes.
    let passed = look(TaskState::Stopped {
        exit_code: Some(0),
        reason: "Essential container in task exited".into(),
        log_tail: Vec::new(),
    });
    let (good, _) = step_at(&d, &passed, t(33));
    assert_eq!(good.state, State::Succeeded);
    // Past its timeout it is stopped, and that fails it.
    assert_eq!(
        d.scheduled_work(t(3) + SignedDuration::from_mins(2)),
        Some(Effect::StopSmoke {
            service: api(),
            task: "task/1".into()
        })
    );
    let stopped = Input::SmokeStopped {
        service: api(),
        task: "task/1".into(),
        log_tail: vec!["waiting for /checkout".into()],
    };
    let (late, _) = step_at(&d, &stopped, t(150));
    assert!(
        matches!(&late.state, State::RolledBack { reason } if reason.starts_with("the smoke test of api did not finish within 2m and was stopped; its last lines:")),
        "{:?}",
        late.state
    );
}

#[test]
fn a_release_stored_with_one_health_url_reads_as_one_check() {
    let mut v = serde_json::to_value(svc("api")).unwrap();
    v["health_url"] = serde_json::json!("https://api.prod.example/healthz");
    let read: ServiceRelease = serde_json::from_value(v).unwrap();
    assert_eq!(
        read.checks,
        vec![HttpCheck::of_url(
            "health",
            "https://api.prod.example/healthz".into()
        )]
    );
    // And today's records read back as written.
    let today = verifying_api(true).services[0].clone();
    let back: ServiceRelease =
        serde_json::from_value(serde_json::to_value(&today).unwrap()).unwrap();
    assert_eq!(back, today);
}

/// The audit log keeps what happened by these names: they are words, and they stay put.
#[test]
fn inputs_are_named_in_words() {
    let service = ServiceName::parse("api").unwrap();
    let looked = Input::SmokeLooked {
        service,
        task: "t".into(),
        state: crate::check::TaskState::Running,
    };
    assert_eq!(looked.name(), "smoke test looked at");
    assert_eq!(Input::ApprovalExpired.name(), "approval expired");
    assert_eq!(Input::Started.name(), "started");
}
