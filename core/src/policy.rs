//! Who may do what, and when: pure functions over config and facts the caller looked up.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::{Config, EnvConfig};
use crate::freeze::FreezeWindow;
use crate::ports::{Hold, Pause};
use crate::rollback::{Release, Verdict};
use crate::types::{
    Actor, ChatKind, DeploymentId, EnvName, ServiceName, SignedDuration, Timestamp, UserRef,
    Version,
};

/// Why something is not allowed, phrased for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("only people can do that")]
    NotAPerson,
    #[error("you are not in the `{group}` group, which may deploy to {env}")]
    NotADeployer { env: EnvName, group: String },
    #[error("{env} has no approvers group, so nobody can approve this")]
    NoApprovers { env: EnvName },
    #[error("you are not in the `{group}` group, which approves deploys to {env}")]
    NotAnApprover { env: EnvName, group: String },
    #[error("you asked for this deploy, so someone else has to approve it")]
    OwnRequest,
    #[error(
        "{env} is frozen ({window}) until {until}; to deploy anyway add `--override \"reason\"`, which needs one more approval"
    )]
    Frozen {
        env: EnvName,
        window: String,
        until: String,
    },
    #[error(
        "{service} {version} has not succeeded in {previous} yet, and {env} only takes versions that did"
    )]
    NotPromoted {
        env: EnvName,
        service: ServiceName,
        version: Version,
        previous: EnvName,
    },
    #[error("{0}")]
    Locked(LockHeld),
    #[error(
        "{service} in {env} is held since {since} ({reason}): only a known-good version deploys there until `/unlock {env}`, or add `--override \"reason\"`, which needs one more approval"
    )]
    Held {
        env: EnvName,
        service: ServiceName,
        since: String,
        reason: String,
    },
    #[error(
        "automation is paused in {env} by {by} since {since}; `/resume {env}` lets it deploy again"
    )]
    Paused {
        env: EnvName,
        by: String,
        since: String,
    },
    #[error(
        "{} already {} {version} in {env}; add `--force` to redeploy {}",
        ServiceName::join(services),
        if services.len() == 1 { "runs" } else { "run" },
        if services.len() == 1 { "it" } else { "them" }
    )]
    AlreadyRuns {
        env: EnvName,
        services: Vec<ServiceName>,
        version: Version,
    },
    #[error(
        "{service} {version} (this very image) was judged bad in {judged_in} by {by}: {why}; to deploy it anyway add `--override \"reason\"`, which needs one more approval"
    )]
    BadDigest {
        service: ServiceName,
        version: Version,
        judged_in: EnvName,
        by: String,
        why: String,
    },
}

impl Denied {
    /// Whether `--override "reason"` may lift this for one deploy.
    pub fn overridable(&self) -> bool {
        matches!(
            self,
            Denied::Frozen { .. } | Denied::Held { .. } | Denied::BadDigest { .. }
        )
    }
}

/// A freeze overridden by someone who gave a reason. It costs one extra approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// What it lifts, in words: the freeze, a hold, a digest judged bad.
    pub lifts: Vec<String>,
    pub reason: String,
}

/// The freeze window in force for `env` at `now`, if any.
pub fn active_freeze(env: &EnvConfig, now: Timestamp) -> Option<(&FreezeWindow, Timestamp)> {
    env.freeze
        .iter()
        .find_map(|w| w.active_until(now).map(|until| (w, until)))
}

/// Which of the requested services a deploy changes: a service that already runs this very
/// version is left as it is (a full rollout of what runs is a restart nobody asked for), unless
/// `force`; when every one already runs it, the deploy is refused with how to force it. The
/// note says what was left out.
pub fn leave_out_running(
    env: &EnvName,
    version: &Version,
    requested: &[ServiceName],
    running: &[ServiceName],
    force: bool,
) -> Result<(Vec<ServiceName>, Option<String>), Denied> {
    if force || running.is_empty() {
        return Ok((requested.to_vec(), None));
    }
    let (left, changed): (Vec<ServiceName>, Vec<ServiceName>) =
        requested.iter().cloned().partition(|s| running.contains(s));
    if changed.is_empty() {
        return Err(Denied::AlreadyRuns {
            env: env.clone(),
            services: left,
            version: version.clone(),
        });
    }
    let note = format!(
        "{} already {} {version} in {env} and {} left as {} (`--force` redeploys {}).",
        ServiceName::join(&left),
        if left.len() == 1 { "runs" } else { "run" },
        if left.len() == 1 { "is" } else { "are" },
        if left.len() == 1 { "it is" } else { "they are" },
        if left.len() == 1 { "it" } else { "them" },
    );
    Ok((changed, Some(note)))
}

/// What the channel is told when `/unlock` released something: whose lock (named, so its
/// owner reads it was released by someone else) and which holds. `None` when nothing was.
pub fn unlock_note(
    env: &EnvName,
    by: &Actor,
    lock: Option<&EnvLock>,
    holds: &[crate::ports::Hold],
) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(l) = lock {
        let whose = if l.held_by.same_person(by) {
            "their own lock".to_owned()
        } else {
            format!("{}'s lock", l.held_by.display())
        };
        parts.push(format!("released {whose} ({})", l.reason));
    }
    if !holds.is_empty() {
        let services: Vec<ServiceName> = holds.iter().map(|h| h.service.clone()).collect();
        parts.push(format!(
            "released the hold on {} (plain deploys and automation may ship there again)",
            ServiceName::join(&services)
        ));
    }
    (!parts.is_empty()).then(|| format!("{} unlocked {env}: {}.", by.display(), parts.join("; ")))
}

/// What to tell a person who gave `--override` when nothing it lifts stood in the way: the
/// deploy goes ahead without it (and without its extra approval), and they should know.
pub fn unneeded_override(asked: Option<&str>, granted: Option<&Override>) -> Option<String> {
    (asked.is_some() && granted.is_none()).then(|| {
        "`--override` was not needed (no freeze, hold or bad image stood in the way), so this deploys without it.".to_owned()
    })
}

/// The freeze standing in the way of a deploy to `env` at `now`, if any.
pub fn check_freeze(env: &EnvConfig, now: Timestamp) -> Result<(), Denied> {
    let Some((window, until)) = active_freeze(env, now) else {
        return Ok(());
    };
    // Within the week a weekday says when; further off it needs the date.
    let format = if until.duration_since(now) < SignedDuration::from_hours(6 * 24) {
        "%a %H:%M %Z"
    } else {
        "%a %Y-%m-%d %H:%M %Z"
    };
    Err(Denied::Frozen {
        env: env.name.clone(),
        window: window.name.clone(),
        until: until
            .to_zoned_datetime(window.tz.clone())
            .strftime(format)
            .to_string(),
    })
}

/// What one service's deploy meets in an environment, as the caller looked it up.
#[derive(Debug, Clone, Copy)]
pub struct ServiceGate<'a> {
    pub service: &'a ServiceName,
    pub version: &'a Version,
    /// The hold on it there, if held.
    pub hold: Option<&'a Hold>,
    /// Whether this digest is known-good there (a held service takes only such).
    pub known_good: bool,
    /// A release of this very digest judged bad, here or in the environment it is promoted
    /// from, and where.
    pub judged_bad: Option<(&'a EnvName, &'a Release)>,
}

/// Whether a deploy may go ahead past freezes, holds and digests judged bad. Everything that
/// stands in the way is lifted together by one `--override "reason"`, at the price of exactly
/// one extra approval however many apply; an environment that nobody could approve in (no
/// approvers and no deployers group) cannot be overridden.
pub fn check_gates(
    env: &EnvConfig,
    now: Timestamp,
    services: &[ServiceGate<'_>],
    override_reason: Option<&str>,
) -> Result<Option<Override>, Denied> {
    let mut standing = Vec::new();
    if let Err(frozen) = check_freeze(env, now) {
        standing.push(frozen);
    }
    for s in services {
        if let Some(h) = s.hold
            && !s.known_good
        {
            standing.push(Denied::Held {
                env: env.name.clone(),
                service: s.service.clone(),
                since: h.since.strftime("%Y-%m-%d %H:%M UTC").to_string(),
                reason: h.reason.clone(),
            });
        }
        if let Some((judged_in, r)) = s.judged_bad
            && let Verdict::Bad { by, why, .. } = &r.verdict
        {
            standing.push(Denied::BadDigest {
                service: s.service.clone(),
                version: s.version.clone(),
                judged_in: judged_in.clone(),
                by: by.clone(),
                why: why.clone(),
            });
        }
    }
    let Some(first) = standing.first() else {
        return Ok(None);
    };
    let Some(reason) = override_reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return Err(first.clone());
    };
    if env.approvers.is_none() && env.deployers.is_none() {
        return Err(Denied::NoApprovers {
            env: env.name.clone(),
        });
    }
    Ok(Some(Override {
        lifts: standing.iter().map(ToString::to_string).collect(),
        reason: reason.to_owned(),
    }))
}

/// Automation does not deploy into a paused environment; people still may.
pub fn check_pause(pause: Option<&Pause>, actor: &Actor) -> Result<(), Denied> {
    match pause {
        Some(p) if actor.user_ref().is_none() => Err(paused(p)),
        _ => Ok(()),
    }
}

/// The refusal a pause gives automation.
pub fn paused(p: &Pause) -> Denied {
    Denied::Paused {
        env: p.env.clone(),
        by: p.by.display().to_owned(),
        since: p.since.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// How many approvals a deploy needs: the env's number, plus one for an override.
pub fn required_approvals(env: &EnvConfig, overridden: Option<&Override>) -> u8 {
    env.required_approvals + u8::from(overridden.is_some())
}

/// Whether `actor` may ask for deploys (and rollbacks, locks) in `env`.
pub fn may_deploy(config: &Config, env: &EnvConfig, actor: &Actor) -> Result<(), Denied> {
    let user = actor.user_ref().ok_or(Denied::NotAPerson)?;
    match &env.deployers {
        Some(group) if !config.is_member(group, &user) => Err(Denied::NotADeployer {
            env: env.name.clone(),
            group: group.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Whether `approver` may approve a deploy that `requester` asked for. Counting a person once
/// is [`Approvals::with`]'s job; this is about who they are.
///
/// An override's extra approval comes from the approvers group, or where the environment has
/// none, from its deployers.
pub fn may_approve(
    config: &Config,
    env: &EnvConfig,
    requester: &Actor,
    approver: &Actor,
    overridden: bool,
) -> Result<(), Denied> {
    let user = approver.user_ref().ok_or(Denied::NotAPerson)?;
    let group = env
        .approvers
        .as_ref()
        .or(env.deployers.as_ref().filter(|_| overridden))
        .ok_or_else(|| Denied::NoApprovers {
            env: env.name.clone(),
        })?;
    if requester.same_person(approver) {
        return Err(Denied::OwnRequest);
    }
    if !config.is_member(group, &user) {
        return Err(Denied::NotAnApprover {
            env: env.name.clone(),
            group: group.to_string(),
        });
    }
    Ok(())
}

/// Whether `approver` may approve deployments in `env` as far as the config alone tells, for
/// a click's one write ([`crate::ports::Store::vote`]), which checks the rest against the
/// stored deployment. `Ok(true)`: only an overridden one (the env names no approvers, and its
/// deployers approve overrides).
pub fn may_vote(config: &Config, env: &EnvConfig, approver: &Actor) -> Result<bool, Denied> {
    let user = approver.user_ref().ok_or(Denied::NotAPerson)?;
    let (group, needs_override) = match (&env.approvers, &env.deployers) {
        (Some(group), _) => (group, false),
        (None, Some(group)) => (group, true),
        (None, None) => {
            return Err(Denied::NoApprovers {
                env: env.name.clone(),
            });
        }
    };
    if !config.is_member(group, &user) {
        return Err(Denied::NotAnApprover {
            env: env.name.clone(),
            group: group.to_string(),
        });
    }
    Ok(needs_override)
}

/// Where a chat request comes from: which chat, which workspace (Slack) or server (Discord),
/// and, where the request names one, which channel.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub chat: ChatKind,
    pub space: &'a str,
    pub channel: Option<&'a str>,
}

/// Why Deckhand does not take a request from there, or from them. Its words are the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAdmitted {
    #[error("Deckhand is not set up for {}.", chat_word(*.0))]
    NoChat(ChatKind),
    #[error("Deckhand is not set up for this {}.", space_word(*.0))]
    OtherSpace(ChatKind),
    #[error("Deckhand does not take commands in this channel; use one of the deploy channels.")]
    OtherChannel,
    #[error(
        "Deckhand does not know you yet. Ask whoever looks after deckhand.toml to add `{0}` to a group."
    )]
    Unknown(UserRef),
}

fn chat_word(chat: ChatKind) -> &'static str {
    match chat {
        ChatKind::Slack => "Slack",
        ChatKind::Discord => "Discord",
    }
}

fn space_word(chat: ChatKind) -> &'static str {
    match chat {
        ChatKind::Slack => "workspace",
        ChatKind::Discord => "server",
    }
}

/// Whether Deckhand takes requests from `place` at all: its chat is configured, the workspace
/// or server is the configured one, and the channel (when named) is a deploy channel, or no
/// channels are listed.
pub fn may_reach(config: &Config, place: &Place<'_>) -> Result<(), NotAdmitted> {
    let (space, channels) = match place.chat {
        ChatKind::Slack => config
            .slack
            .as_ref()
            .map(|s| (s.workspace.as_str(), &s.channels)),
        ChatKind::Discord => config
            .discord
            .as_ref()
            .map(|d| (d.guild.as_str(), &d.channels)),
    }
    .ok_or(NotAdmitted::NoChat(place.chat))?;
    if space != place.space {
        return Err(NotAdmitted::OtherSpace(place.chat));
    }
    if let Some(channel) = place.channel
        && !channels.is_empty()
        && !channels.iter().any(|c| c == channel)
    {
        return Err(NotAdmitted::OtherChannel);
    }
    Ok(())
}

/// Whether this person may talk to Deckhand at all: they must be in some config group.
/// (What they may do is each action's own rule.) Systems are always known.
pub fn may_talk(config: &Config, actor: &Actor) -> Result<(), NotAdmitted> {
    match actor.user_ref() {
        Some(user)
            if !config
                .groups
                .values()
                .any(|members| members.contains(&user)) =>
        {
            Err(NotAdmitted::Unknown(user))
        }
        _ => Ok(()),
    }
}

/// Where a finished build goes, and who hears of it.
#[derive(Debug, Clone)]
pub struct BuildRoute<'c> {
    /// Environments that auto-deploy it: the build's branch is one they take, and the service
    /// is one they auto-deploy. Only a successful build goes there; the request's own gates
    /// (holds, bad digests, freezes, promotion, pause) still apply.
    pub deploy_to: Vec<&'c EnvConfig>,
    /// Environments whose channels hear of it: the auto-deploy ones, or where there are none,
    /// the service's first environment.
    pub tell: Vec<&'c EnvConfig>,
}

/// Routes a finished build of a configured service. Pure.
pub fn route_build<'c>(
    config: &'c Config,
    service: &'c crate::config::ServiceConfig,
    build: &crate::ports::Build,
) -> BuildRoute<'c> {
    let auto: Vec<&EnvConfig> = service
        .envs
        .iter()
        .filter_map(|e| config.environments.get(e))
        .filter(|e| {
            e.auto_deploy.as_ref().is_some_and(|a| {
                build
                    .branch
                    .as_ref()
                    .is_some_and(|b| a.branches.contains(b))
                    && (a.services.is_empty() || a.services.contains(&build.service))
            })
        })
        .collect();
    let tell = if auto.is_empty() {
        service
            .envs
            .first()
            .and_then(|e| config.environments.get(e))
            .into_iter()
            .collect()
    } else {
        auto.clone()
    };
    let deploy_to = if build.succeeded { auto } else { Vec::new() };
    BuildRoute { deploy_to, tell }
}

/// A click on an approval card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// Whether `actor` may make this click on a deployment `requester` asked for, given whether
/// it is still open and whether they already approved it. Approvers approve and reject; the
/// requester may withdraw their own request. A click on a finished deployment, or a second
/// approval by the same person, is let through: the state machine answers it (idempotently).
pub fn may_decide(
    config: &Config,
    env: &EnvConfig,
    d: &crate::deployment::Deployment,
    actor: &Actor,
    decision: Decision,
) -> Result<(), Denied> {
    let (requester, overridden) = (&d.requested_by, d.overridden.is_some());
    let open = !d.state.is_terminal();
    let approved_already = d.has_approved(actor);
    match decision {
        Decision::Approve if open && !approved_already => {
            may_approve(config, env, requester, actor, overridden)
        }
        Decision::Reject if open && !actor.same_person(requester) => {
            match may_approve(config, env, requester, actor, overridden) {
                Ok(()) | Err(Denied::OwnRequest) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Decision::Approve | Decision::Reject => Ok(()),
    }
}

/// Promotion: for each service, whether this version (same digest) succeeded in the previous
/// environment of the chain. The caller looks the facts up; this decides.
pub fn check_promotion(
    env: &EnvConfig,
    version: &Version,
    succeeded_before: &[(ServiceName, bool)],
) -> Result<(), Denied> {
    let Some(previous) = &env.after else {
        return Ok(());
    };
    match succeeded_before.iter().find(|(_, ok)| !ok) {
        Some((service, _)) => Err(Denied::NotPromoted {
            env: env.name.clone(),
            service: service.clone(),
            version: version.clone(),
            previous: previous.clone(),
        }),
        None => Ok(()),
    }
}

/// Who holds an environment's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LockOwner {
    /// A deployment in flight (pending approval counts: its card is out).
    Deployment { id: DeploymentId },
    /// A person who typed `/lock ENV reason`.
    Person { actor: Actor },
}

/// One deployment in flight per environment, or a manual lock. Locks expire, so a crashed
/// deploy cannot block an environment forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvLock {
    pub env: EnvName,
    pub owner: LockOwner,
    pub held_by: Actor,
    pub reason: String,
    pub since: Timestamp,
    /// `None` for a manual lock, which lasts until `/unlock`.
    pub expires: Option<Timestamp>,
}

impl EnvLock {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires.is_none_or(|e| now < e)
    }

    /// The lock in `/status`: who holds it, why, since when and until when.
    pub fn note(&self) -> String {
        let since = self.since.strftime("%m-%d %H:%M");
        match &self.owner {
            LockOwner::Deployment { id } => format!("deploying {id} since {since}"),
            LockOwner::Person { .. } => {
                let until = self.expires.map_or_else(
                    || "until /unlock".to_owned(),
                    |at| format!("until {}", at.strftime("%m-%d %H:%M")),
                );
                format!(
                    "locked by {} since {since} {until}: {}",
                    self.held_by.display(),
                    self.reason
                )
            }
        }
    }

    /// What the passing of time asks of this lock, given its deployment's record when a
    /// deployment holds it (`None`: not in the store). Pure: maintenance performs it.
    pub fn due(
        &self,
        owner: Option<&crate::deployment::Deployment>,
        now: Timestamp,
    ) -> Option<LockDue> {
        match &self.owner {
            LockOwner::Person { .. } => (!self.is_live(now)).then_some(LockDue::Lapsed),
            // A deployment's lock is held exactly while the deployment is in flight: its own
            // deadlines bound that. One whose deployment finished lost its release to a crash
            // after the final save; one whose deployment is not in the store after a step's
            // time was taken by a request that died before creating it.
            LockOwner::Deployment { .. } => match owner {
                Some(d) if d.state.is_terminal() => Some(LockDue::Orphaned),
                Some(_) => None,
                None if now >= self.since + crate::deployment::Limits::STEP => {
                    Some(LockDue::Orphaned)
                }
                None => None,
            },
        }
    }
}

/// What is due for a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockDue {
    /// A person's lock ran past its expiry: release it and tell the channel.
    Lapsed,
    /// A deployment's lock outlived its deployment: release it.
    Orphaned,
}

/// The refusal a second `/deploy` gets: who holds the lock, since when, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHeld(pub Box<EnvLock>);

impl fmt::Display for LockHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.0;
        let since = l.since.strftime("%Y-%m-%d %H:%M UTC");
        match &l.owner {
            LockOwner::Deployment { id } => {
                write!(
                    f,
                    "{} is busy: {} is deploying ({}) since {since}, deployment {id}",
                    l.env,
                    l.held_by.display(),
                    l.reason
                )
            }
            LockOwner::Person { .. } => write!(
                f,
                "{} is locked by {} since {since}: {}",
                l.env,
                l.held_by.display(),
                l.reason
            ),
        }
    }
}

/// Whether `owner` may take (or keep) the lock given the current one. The same owner may
/// re-take its own lock, which is what makes a retried run harmless.
pub fn check_lock(
    current: Option<&EnvLock>,
    owner: &LockOwner,
    now: Timestamp,
) -> Result<(), Denied> {
    match current {
        Some(l) if l.is_live(now) && &l.owner != owner => {
            Err(Denied::Locked(LockHeld(Box::new(l.clone()))))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{at, config, person};

    #[test]
    fn freeze_blocks_unless_overridden_and_override_costs_an_approval() {
        let c = config();
        let prod = c.env("prod").unwrap();
        let frozen = at("2026-11-28T12:00:00Z"); // Saturday: the example's weekend freeze
        let err = check_gates(prod, frozen, &[], None).unwrap_err();
        assert!(matches!(err, Denied::Frozen { .. }));
        assert!(err.to_string().contains("--override"), "{err}");
        assert!(
            check_gates(prod, frozen, &[], Some("   ")).is_err(),
            "a blank reason is no reason"
        );
        let ov = check_gates(prod, frozen, &[], Some("hotfix for INC-42")).unwrap();
        assert_eq!(
            required_approvals(prod, ov.as_ref()),
            prod.required_approvals + 1
        );
        assert_eq!(
            check_gates(prod, at("2026-11-25T12:00:00Z"), &[], None),
            Ok(None)
        );
    }

    #[test]
    fn a_freeze_ending_within_the_week_says_the_day_and_one_further_off_the_date() {
        let c = crate::config::Config::parse(
            "t.toml",
            "[slack]\nworkspace = \"T1\"\n[environments.prod]\ncluster = \"prod\"\n[[environments.prod.freeze]]\nname = \"year-end\"\ntimezone = \"UTC\"\nfrom = \"2026-12-01 00:00\"\nuntil = \"2027-12-31 00:00\"\n[[environments.prod.freeze]]\nname = \"release-week\"\ntimezone = \"UTC\"\nfrom = \"2026-11-20 00:00\"\nuntil = \"2026-11-27 00:00\"\n",
        )
        .unwrap();
        let prod = c.env("prod").unwrap();
        let soon = check_gates(prod, at("2026-11-24T12:00:00Z"), &[], None).unwrap_err();
        assert!(
            soon.to_string()
                .contains("(release-week) until Fri 00:00 UTC;"),
            "{soon}"
        );
        let far = check_gates(prod, at("2026-12-02T12:00:00Z"), &[], None).unwrap_err();
        assert!(
            far.to_string()
                .contains("(year-end) until Fri 2027-12-31 00:00 UTC;"),
            "{far}"
        );
    }

    fn bad_release(env: &str) -> Release {
        use crate::deployment::ImageRef;
        use crate::types::Digest;
        Release {
            env: EnvName::parse(env).unwrap(),
            service: ServiceName::parse("api").unwrap(),
            deployment: DeploymentId::derive(at("2026-11-24T09:00:00Z"), "x"),
            image: ImageRef {
                repository: "acme/api".into(),
                tag: Version::parse("v1.2.4").unwrap(),
                digest: Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap(),
            },
            task_definition: "api:7".into(),
            started_at: at("2026-11-24T09:00:00Z"),
            succeeded_at: at("2026-11-24T09:05:00Z"),
            verdict: Verdict::Bad {
                by: "alarm api-prod-5xx".into(),
                at: at("2026-11-24T09:09:00Z"),
                why: "went into ALARM".into(),
            },
            origin: crate::rollback::Origin::Release,
        }
    }

    #[test]
    fn holds_and_bad_digests_stand_in_the_way_and_one_override_lifts_all_for_one_approval() {
        let c = config();
        let prod = c.env("prod").unwrap();
        let tuesday = at("2026-11-24T12:00:00Z");
        let (api, v) = (
            ServiceName::parse("api").unwrap(),
            Version::parse("v1.2.4").unwrap(),
        );
        let hold = Hold {
            env: prod.name.clone(),
            service: api.clone(),
            reason: "alarm api-prod-5xx went into ALARM".into(),
            since: at("2026-11-24T09:10:00Z"),
        };
        let bad = bad_release("prod");
        let gate = |hold, known_good, judged_bad| ServiceGate {
            service: &api,
            version: &v,
            hold,
            known_good,
            judged_bad,
        };
        let held = check_gates(prod, tuesday, &[gate(Some(&hold), false, None)], None);
        assert!(matches!(held, Err(Denied::Held { .. })), "{held:?}");
        assert_eq!(
            check_gates(prod, tuesday, &[gate(Some(&hold), true, None)], None),
            Ok(None),
            "a held service still takes a known-good digest"
        );
        let judged = check_gates(
            prod,
            tuesday,
            &[gate(None, false, Some((&prod.name, &bad)))],
            None,
        );
        assert!(
            matches!(&judged, Err(Denied::BadDigest { by, .. }) if by == "alarm api-prod-5xx"),
            "{judged:?}"
        );
        let frozen = at("2026-11-28T12:00:00Z");
        let all = [gate(Some(&hold), false, Some((&prod.name, &bad)))];
        let ov = check_gates(prod, frozen, &all, Some("INC-42 fix"))
            .unwrap()
            .unwrap();
        assert_eq!(ov.lifts.len(), 3, "{ov:?}");
        assert_eq!(
            required_approvals(prod, Some(&ov)),
            prod.required_approvals + 1
        );
    }

    #[test]
    fn only_deployers_deploy_and_only_other_approvers_approve() {
        let c = config();
        let prod = c.env("prod").unwrap();
        let (alice, bob, mallory) = (person("U0ALICE"), person("U0BOB"), person("U0MALLORY"));
        assert_eq!(may_deploy(&c, prod, &alice), Ok(()));
        assert!(matches!(
            may_deploy(&c, prod, &mallory),
            Err(Denied::NotADeployer { .. })
        ));
        assert!(matches!(
            may_deploy(&c, prod, &Actor::system("x")),
            Err(Denied::NotAPerson)
        ));
        assert_eq!(may_approve(&c, prod, &alice, &bob, false), Ok(()));
        assert_eq!(
            may_approve(&c, prod, &bob, &bob, false),
            Err(Denied::OwnRequest)
        );
        assert!(matches!(
            may_approve(&c, prod, &bob, &mallory, false),
            Err(Denied::NotAnApprover { .. })
        ));
        // Staging has no approvers: an override's approval comes from its deployers.
        let staging = c.env("staging").unwrap();
        assert!(matches!(
            may_approve(&c, staging, &alice, &bob, false),
            Err(Denied::NoApprovers { .. })
        ));
        assert_eq!(may_approve(&c, staging, &alice, &bob, true), Ok(()));
        assert_eq!(
            may_approve(&c, staging, &alice, &alice, true),
            Err(Denied::OwnRequest)
        );
    }

    #[test]
    fn promotion_needs_success_in_the_previous_env() {
        let c = config();
        let prod = c.env("prod").unwrap();
        let v = Version::parse("v1.2.3").unwrap();
        let api = ServiceName::parse("api").unwrap();
        assert_eq!(check_promotion(prod, &v, &[(api.clone(), true)]), Ok(()));
        let err = check_promotion(prod, &v, &[(api.clone(), false)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "api v1.2.3 has not succeeded in staging yet, and prod only takes versions that did"
        );
        let dev = c.env("dev").unwrap();
        assert_eq!(
            check_promotion(dev, &v, &[(api, false)]),
            Ok(()),
            "the chain's first env takes anything"
        );
    }

    #[test]
    fn a_live_lock_refuses_others_says_who_and_lets_its_owner_back_in() {
        let env = EnvName::parse("prod").unwrap();
        let id = DeploymentId::derive(at("2026-11-24T09:00:00Z"), "a");
        let lock = EnvLock {
            env,
            owner: LockOwner::Deployment { id },
            held_by: person("U0ALICE"),
            reason: "api v1.2.3".into(),
            since: at("2026-11-24T09:00:00Z"),
            expires: Some(at("2026-11-24T10:00:00Z")),
        };
        let other = LockOwner::Deployment {
            id: DeploymentId::derive(at("2026-11-24T09:01:00Z"), "b"),
        };
        let err = check_lock(Some(&lock), &other, at("2026-11-24T09:30:00Z")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "prod is busy: Alice is deploying (api v1.2.3) since 2026-11-24 09:00 UTC, deployment {id}"
            )
        );
        assert_eq!(
            check_lock(Some(&lock), &lock.owner, at("2026-11-24T09:30:00Z")),
            Ok(())
        );
        assert_eq!(
            check_lock(Some(&lock), &other, at("2026-11-24T10:00:00Z")),
            Ok(()),
            "an expired lock is free"
        );
        assert_eq!(check_lock(None, &other, at("2026-11-24T09:30:00Z")), Ok(()));
    }

    #[test]
    fn only_the_configured_workspace_and_deploy_channels_reach_deckhand() {
        let c = config();
        let slack = c.slack.as_ref().unwrap();
        let place = |space, channel| Place {
            chat: ChatKind::Slack,
            space,
            channel,
        };
        let channel = slack.channels.first().map(String::as_str);
        assert_eq!(may_reach(&c, &place(&slack.workspace, channel)), Ok(()));
        assert_eq!(
            may_reach(&c, &place("T0OTHER", channel)),
            Err(NotAdmitted::OtherSpace(ChatKind::Slack))
        );
        assert_eq!(
            may_reach(&c, &place(&slack.workspace, Some("C0RANDOM"))),
            Err(NotAdmitted::OtherChannel)
        );
        assert_eq!(may_reach(&c, &place(&slack.workspace, None)), Ok(()));
        assert_eq!(
            NotAdmitted::OtherSpace(ChatKind::Discord).to_string(),
            "Deckhand is not set up for this server."
        );
    }

    #[test]
    fn only_people_in_a_group_may_talk_and_systems_always_may() {
        let c = config();
        assert_eq!(may_talk(&c, &person("U0ALICE")), Ok(()));
        let stranger = person("U0MALLORY");
        assert!(
            matches!(may_talk(&c, &stranger), Err(NotAdmitted::Unknown(u)) if u.user_id == "U0MALLORY")
        );
        assert_eq!(may_talk(&c, &Actor::system("auto-deploy")), Ok(()));
    }

    #[test]
    fn approvers_approve_requesters_withdraw_and_finished_deploys_are_the_machines_answer() {
        use crate::deployment::{Deployment, DeploymentKind, Draft, Input};
        let c = config();
        let prod = &c.environments[&EnvName::parse("prod").unwrap()];
        let (alice, bob) = (person("U0ALICE"), person("U0BOB"));
        let t = at("2026-11-24T09:00:00Z");
        let open = Deployment::new(
            Draft {
                id: DeploymentId::derive(t, "d"),
                env: prod.name.clone(),
                kind: DeploymentKind::Release,
                version: Version::parse("v1.2.3").unwrap(),
                services: Vec::new(),
                requested_by: alice.clone(),
                required_approvals: 1,
                approval_ttl: jiff::SignedDuration::from_hours(2),
                overridden: None,
                alarms_at_start: Vec::new(),
            },
            t,
        )
        .apply(&Input::Submitted, t)
        .unwrap()
        .deployment;
        assert_eq!(
            may_decide(&c, prod, &open, &alice, Decision::Approve),
            Err(Denied::OwnRequest)
        );
        assert_eq!(
            may_decide(&c, prod, &open, &alice, Decision::Reject),
            Ok(()),
            "a withdrawal"
        );
        assert_eq!(may_decide(&c, prod, &open, &bob, Decision::Approve), Ok(()));
        let rejected = open
            .apply(
                &Input::Rejected {
                    by: bob.clone(),
                    reason: None,
                },
                t,
            )
            .unwrap()
            .deployment;
        assert_eq!(
            may_decide(&c, prod, &rejected, &alice, Decision::Approve),
            Ok(()),
            "a finished deployment's answer is the state machine's"
        );
    }

    #[test]
    fn a_build_of_an_auto_deploy_branch_goes_there_and_a_failed_one_is_only_told() {
        let c = config();
        let (name, service) = c
            .services
            .iter()
            .find(|(_, s)| {
                s.envs
                    .iter()
                    .any(|e| c.environments[e].auto_deploy.is_some())
            })
            .unwrap();
        let auto = service
            .envs
            .iter()
            .find(|e| c.environments[*e].auto_deploy.is_some())
            .unwrap();
        let branch = c.environments[auto].auto_deploy.as_ref().unwrap().branches[0].clone();
        let mut build = crate::ports::Build {
            service: name.clone(),
            version: Version::parse("v1.2.3").unwrap(),
            build_id: "b1".into(),
            branch: Some(branch),
            commit: None,
            url: None,
            finished_at: at("2026-11-24T09:00:00Z"),
            succeeded: true,
        };
        let route = route_build(&c, service, &build);
        assert_eq!(
            route.deploy_to.iter().map(|e| &e.name).collect::<Vec<_>>(),
            vec![auto]
        );
        build.succeeded = false;
        let route = route_build(&c, service, &build);
        assert!(route.deploy_to.is_empty());
        assert_eq!(
            route.tell.iter().map(|e| &e.name).collect::<Vec<_>>(),
            vec![auto]
        );
        build.branch = Some("feature/x".into());
        let route = route_build(&c, service, &build);
        assert_eq!(
            route.tell.len(),
            1,
            "the service's first environment hears of it"
        );
        assert_eq!(route.tell[0].name, service.envs[0]);
    }

    #[test]
    fn a_persons_lock_lapses_and_a_deployments_lock_outlives_only_a_finished_deployment() {
        let t = at("2026-11-24T09:00:00Z");
        let person_lock = EnvLock {
            env: EnvName::parse("prod").unwrap(),
            owner: LockOwner::Person {
                actor: person("U0DAVE"),
            },
            held_by: person("U0DAVE"),
            reason: "load test".into(),
            since: t,
            expires: Some(t + jiff::SignedDuration::from_hours(1)),
        };
        assert_eq!(person_lock.due(None, t), None);
        assert_eq!(
            person_lock.due(None, t + jiff::SignedDuration::from_hours(1)),
            Some(LockDue::Lapsed)
        );
        assert!(
            person_lock
                .note()
                .starts_with("locked by Dave since 11-24 09:00 until 11-24 10:00")
        );
        let id = DeploymentId::derive(t, "d");
        let deployment_lock = EnvLock {
            owner: LockOwner::Deployment { id },
            expires: None,
            ..person_lock
        };
        assert_eq!(
            deployment_lock.due(None, t),
            None,
            "its request may still be creating it"
        );
        assert_eq!(
            deployment_lock.due(None, t + crate::deployment::Limits::STEP),
            Some(LockDue::Orphaned)
        );
    }
}
