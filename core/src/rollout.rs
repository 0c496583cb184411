//! The last word before ECS is touched: what a rollout step sends, and the checks that may
//! still stop it (a target judged bad since it was planned, a tag that moved since it was
//! approved). Pure: the engine reads the facts each check names, and asks.

use crate::deployment::{DeploymentKind, ImageRef, ServiceRelease};
use crate::rollback::{Release, judged_bad, revision_judged_bad};
use crate::types::{Digest, ServiceName};

/// What a rollout step sends to ECS for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutPlan<'a> {
    /// A rollback: back to this exact task definition, planned when the rollback was asked for.
    Revision(&'a str),
    /// A release: a new revision of the service with this image, pinned by digest.
    Image(&'a ImageRef),
}

/// What a deployment of `kind` sends for `release`. Only a rollback names a task definition;
/// everything else ships its image.
pub fn plan<'a>(kind: &DeploymentKind, release: &'a ServiceRelease) -> RolloutPlan<'a> {
    match (kind, &release.target_task_definition) {
        (DeploymentKind::Rollback { .. }, Some(td)) => RolloutPlan::Revision(td),
        _ => RolloutPlan::Image(&release.image),
    }
}

/// Whether a rollback may still go to `td` on `service`, given the service's releases and the
/// task definition it runs now; `Err` is why not (the deployment is aborted with it, having
/// changed nothing).
pub fn check_revision(
    service: &ServiceName,
    td: &str,
    releases: &[Release],
    running: &str,
) -> Result<(), String> {
    // Planned when it was asked for; judged since (by a person's `/rollback`, another alarm):
    // going there now would ship a bad release.
    if let Some(bad) = revision_judged_bad(releases, td) {
        return Err(format!(
            "{service}'s target `{td}` ({}) was judged bad since this rollback was planned; nothing was changed",
            bad.image.tag
        ));
    }
    // Already there (another rollback got there first): an update to what runs starts nothing
    // in ECS, and nothing would report back.
    if running == td {
        return Err(format!(
            "{service} already runs `{td}`, its target; nothing to roll back"
        ));
    }
    Ok(())
}

/// The facts a release's last check needs.
#[derive(Debug, Clone, Copy)]
pub struct ImageFacts<'a> {
    /// The service's releases in this environment.
    pub releases: &'a [Release],
    /// Whether a person overrode the rules for this deploy (`--override "reason"`).
    pub overridden: bool,
    /// What the image's tag resolves to in the registry now; `None` when it is gone.
    pub resolves_to: Option<&'a Digest>,
}

/// Whether a release may still ship `image` to `service`; `Err` is why not.
pub fn check_image(
    service: &ServiceName,
    image: &ImageRef,
    f: ImageFacts<'_>,
) -> Result<(), String> {
    // Judged bad since it was asked for (an alarm on the same image elsewhere in its watch):
    // automation does not ship it; an override was a person's informed choice.
    if !f.overridden
        && let Some(bad) = judged_bad(f.releases, &image.digest)
    {
        return Err(format!(
            "{service} {} was judged bad since it was asked for ({}); nothing was changed",
            image.tag,
            bad.verdict_text()
        ));
    }
    // The approval is bound to the digest resolved at request time: a tag that has moved since
    // is refused, not silently deployed.
    match f.resolves_to {
        Some(now) if *now == image.digest => Ok(()),
        Some(now) => Err(format!(
            "tag {} of {} moved since it was approved (approved {}, now {}); deploy it again to approve the new image",
            image.tag,
            image.repository,
            image.digest.short(),
            now.short()
        )),
        None => Err(format!(
            "image {}:{} is gone from the registry",
            image.repository, image.tag
        )),
    }
}

#[cfg(test)]
#[path = "tests/rollout.rs"]
mod tests;
