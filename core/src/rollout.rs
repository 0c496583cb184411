//! The last word before ECS is touched: what a rollout step sends, and the checks that may
//! still stop it (a target judged bad since it was planned, a tag that moved since it was
//! approved). Pure: the engine reads the facts each check names, and asks.

use crate::deployment::{DeploymentKind, ImageRef, ServiceRelease};
use crate::ports::{Rollout, Running};
use crate::rollback::{Release, judged_bad, revision_judged_bad};
use crate::types::{DeploymentId, Digest, ServiceName};

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

/// What a rollback step does for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevisionStep {
    /// Send the update.
    Send,
    /// The service is already on its way to the target in an ECS deployment nobody else
    /// claims: this step's earlier attempt sent it and died before recording it. Its rollout
    /// is taken up, not sent again and not given up on.
    TakeUp(Rollout),
    /// Not any more, and why (the deployment is aborted with it, having changed nothing).
    Refuse(String),
}

/// Whether a rollback may still go to `td` on `service`, given the service's releases, what it
/// runs now and which deployment, if any, claims the ECS deployment that put it there.
pub fn check_revision(
    me: DeploymentId,
    service: &ServiceName,
    td: &str,
    releases: &[Release],
    running: &Running,
    claimed_by: Option<DeploymentId>,
) -> RevisionStep {
    // Planned when it was asked for; judged since (by a person's `/rollback`, another alarm):
    // going there now would ship a bad release.
    if let Some(bad) = revision_judged_bad(releases, td) {
        return RevisionStep::Refuse(format!(
            "{service}'s target `{td}` ({}) was judged bad since this rollback was planned; nothing was changed",
            bad.image.tag
        ));
    }
    if running.task_definition != td {
        return RevisionStep::Send;
    }
    match (&running.ecs_deployment, claimed_by) {
        (Some(ecs), None) => RevisionStep::TakeUp(Rollout {
            task_definition: td.to_owned(),
            ecs_deployment: ecs.clone(),
        }),
        (Some(ecs), Some(by)) if by == me => RevisionStep::TakeUp(Rollout {
            task_definition: td.to_owned(),
            ecs_deployment: ecs.clone(),
        }),
        // Another rollback got there first: an update to what runs starts nothing in ECS, and
        // nothing would report back.
        _ => RevisionStep::Refuse(format!(
            "{service} already runs `{td}`, its target; nothing to roll back"
        )),
    }
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

/// The name a release's rollout step of `service` registers its revision under.
pub fn step_name(deployment: DeploymentId, service: &ServiceName) -> String {
    format!("{deployment}:{service}")
}

/// The rollout an earlier attempt of `step` started, when the service runs the revision it
/// registered: that attempt got through `UpdateService` and died before recording it.
pub fn earlier_attempt(running: &Running, step: &str) -> Option<Rollout> {
    if running.step.as_deref() != Some(step) {
        return None;
    }
    Some(Rollout {
        task_definition: running.task_definition.clone(),
        ecs_deployment: running.ecs_deployment.clone()?,
    })
}

/// Why a release stops when its rollout step finds an earlier attempt of itself undone
/// ([`crate::ports::StepRollout::Undone`]): the revision that attempt registered is not what
/// the service runs, and sending it again could ship what ECS already rolled back.
pub fn undone(service: &ServiceName, image: &ImageRef, registered: &str) -> String {
    format!(
        "{service} {} was not sent to ECS again: an earlier attempt of this step registered `{registered}`, which {service} does not run (ECS's circuit breaker rolled it back, or the attempt stopped before updating the service); deploy again to retry",
        image.tag
    )
}

#[cfg(test)]
#[path = "tests/rollout.rs"]
mod tests;
