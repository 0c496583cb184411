#![allow(clippy::unwrap_used)]

use super::*;
use crate::deployment::Progress;
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
        service: api(),
        image: release(4, T, Verdict::Baking).image,
        previous_version: None,
        target_task_definition: target.map(str::to_owned),
        snapshot_plan: None,
        migration: None,
        health_url: None,
        progress: Progress::default(),
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
    let why = check_revision(&api(), "api:3", &releases, "api:4").unwrap_err();
    assert!(why.contains("judged bad since"), "{why}");
    let why = check_revision(&api(), "api:2", &releases, "api:2").unwrap_err();
    assert!(why.contains("already runs `api:2`"), "{why}");
    assert_eq!(check_revision(&api(), "api:2", &releases, "api:4"), Ok(()));
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
