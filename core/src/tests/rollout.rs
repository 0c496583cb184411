#![allow(clippy::unwrap_used)]

use super::*;
use crate::rollback::Verdict;
use crate::testkit::{at, digest, release};

const T: &str = "2026-11-24T09:00:00Z";

fn api() -> ServiceName {
    ServiceName::parse("api").unwrap()
}

fn judged() -> Verdict {
    Verdict::Bad {
        by: "alarm api-prod-5xx".into(),
        at: at(T),
        why: "went into ALARM".into(),
    }
}

fn service_release(target: Option<&str>) -> ServiceRelease {
    ServiceRelease {
        target_task_definition: target.map(str::to_owned),
        ..ServiceRelease::new(api(), release(4, T, Verdict::Baking).image)
    }
}

#[test]
fn only_a_rollback_names_a_task_definition() {
    let rollback = DeploymentKind::Rollback {
        automatic: true,
        reason: "alarm".into(),
        of: None,
    };
    let r = service_release(Some("api:3"));
    assert_eq!(plan(&rollback, &r), RolloutPlan::Revision("api:3"));
    assert_eq!(
        plan(&DeploymentKind::Release, &r),
        RolloutPlan::Image(&r.image)
    );
    let no_target = service_release(None);
    assert_eq!(
        plan(&rollback, &no_target),
        RolloutPlan::Image(&no_target.image)
    );
}

#[test]
fn a_rollback_does_not_go_to_a_revision_judged_bad_since_or_already_running() {
    let releases = [release(3, T, judged()), release(2, T, Verdict::Good)];
    let me = DeploymentId::derive(at(T), "rollback");
    let other = DeploymentId::derive(at(T), "another rollback");
    let check = |td, running: &str, claimed_by| {
        let running = Running {
            task_definition: running.into(),
            image: String::new(),
            ecs_deployment: Some("ecs-svc/9".into()),
            step: None,
            version: None,
            since: None,
        };
        check_revision(me, &api(), td, &releases, &running, claimed_by)
    };
    let RevisionStep::Refuse(why) = check("api:3", "api:4", None) else {
        panic!("a target judged bad since is refused")
    };
    assert!(why.contains("judged bad since"), "{why}");
    let RevisionStep::Refuse(why) = check("api:2", "api:2", Some(other)) else {
        panic!("another rollback got there first")
    };
    assert!(why.contains("already runs `api:2`"), "{why}");
    assert_eq!(check("api:2", "api:4", None), RevisionStep::Send);
}

#[test]
fn a_rollback_whose_earlier_attempt_got_through_takes_its_rollout_up() {
    let releases = [release(3, T, judged()), release(2, T, Verdict::Good)];
    let me = DeploymentId::derive(at(T), "rollback");
    let running = Running {
        task_definition: "api:2".into(),
        image: String::new(),
        ecs_deployment: Some("ecs-svc/9".into()),
        step: None,
        version: None,
        since: None,
    };
    let taken_up = RevisionStep::TakeUp(Rollout {
        task_definition: "api:2".into(),
        ecs_deployment: "ecs-svc/9".into(),
    });
    // Nobody claims the ECS deployment on the target: this step sent it and died.
    assert_eq!(
        check_revision(me, &api(), "api:2", &releases, &running, None),
        taken_up
    );
    assert_eq!(
        check_revision(me, &api(), "api:2", &releases, &running, Some(me)),
        taken_up
    );
    // Without an ECS deployment to follow, there is nothing to take up.
    let unknown = Running {
        ecs_deployment: None,
        ..running
    };
    assert!(matches!(
        check_revision(me, &api(), "api:2", &releases, &unknown, None),
        RevisionStep::Refuse(_)
    ));
}

#[test]
fn a_release_stops_on_a_bad_digest_unless_overridden_and_always_on_a_moved_tag() {
    let image = release(4, T, Verdict::Baking).image;
    let bad_elsewhere = [release(4, T, judged())];
    let same = image.digest.clone();
    let facts = |releases, overridden, resolves_to| ImageFacts {
        releases,
        overridden,
        resolves_to,
    };
    let why = check_image(&api(), &image, facts(&bad_elsewhere, false, Some(&same))).unwrap_err();
    assert!(why.contains("judged bad since it was asked for"), "{why}");
    assert_eq!(
        check_image(&api(), &image, facts(&bad_elsewhere, true, Some(&same))),
        Ok(())
    );
    let moved = digest(9);
    let why = check_image(&api(), &image, facts(&[], true, Some(&moved))).unwrap_err();
    assert!(why.contains("moved since it was approved"), "{why}");
    let why = check_image(&api(), &image, facts(&[], false, None)).unwrap_err();
    assert!(why.contains("gone from the registry"), "{why}");
    assert_eq!(
        check_image(&api(), &image, facts(&[], false, Some(&same))),
        Ok(())
    );
}
