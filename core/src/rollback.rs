//! Which revision to go back to, and whether an alarm should make us go.
//!
//! The target is the last *known-good* release of that service in that environment: one that
//! reached Succeeded and then survived its bake window with its alarms clear. Never "the
//! previous task definition number": the previous one may itself be the bad release, a
//! half-finished deploy, or a revision someone registered by hand.

use serde::{Deserialize, Serialize};

use crate::deployment::{Deployment, DeploymentKind, ImageRef, State};
use crate::types::{
    DeploymentId, Digest, EnvName, ServiceName, SignedDuration, Timestamp, Version,
};

/// What a finished service rollout left behind: a candidate for last known-good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub env: EnvName,
    pub service: ServiceName,
    pub deployment: DeploymentId,
    pub image: ImageRef,
    pub task_definition: String,
    /// When the deployment that made it was requested (the start of its watch).
    pub started_at: Timestamp,
    pub succeeded_at: Timestamp,
    pub verdict: Verdict,
    /// What made it: a release, or a rollback back to an earlier one.
    #[serde(default)]
    pub origin: Origin,
}

/// What put a revision in place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A deploy of a new version.
    #[default]
    Release,
    /// A rollback to a known-good release: the same revision again, so an alarm during its
    /// watch is an alarm on the known-good revision itself.
    Rollback,
    /// What ran when Deckhand first met the service there: known-good until a release of
    /// Deckhand's bakes, so the very first release has somewhere to roll back to.
    Adopted,
}

/// A release's judgement. `Bad` is final for automation: nothing makes it eligible again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Inside its bake window; good once the window passes with no alarm.
    Baking,
    Good,
    /// Judged bad by `by` (`alarm api-prod-5xx`, a person, a failed deploy) for `why`. For an
    /// alarm, `at` is its state-change time: what identifies the alarm transition, so a
    /// redelivery of the same transition recognises its own verdict and a later one does not.
    Bad {
        by: String,
        at: Timestamp,
        why: String,
    },
}

impl Verdict {
    pub fn is_bad(&self) -> bool {
        matches!(self, Verdict::Bad { .. })
    }
}

impl Release {
    pub fn is_known_good(&self, bake: SignedDuration, now: Timestamp) -> bool {
        match self.verdict {
            Verdict::Good => true,
            Verdict::Baking => now >= self.succeeded_at + bake,
            Verdict::Bad { .. } => false,
        }
    }

    /// The verdict its bake gives it, once its window has passed with alarms clear: `None`
    /// while it bakes, and for a release judged already.
    pub fn baked(&self, bake: SignedDuration, now: Timestamp) -> Option<Verdict> {
        (self.verdict == Verdict::Baking && now >= self.succeeded_at + bake)
            .then_some(Verdict::Good)
    }

    /// One word for `/status`: good, baking or bad.
    pub fn status_word(&self, bake: SignedDuration, now: Timestamp) -> &'static str {
        match self.verdict {
            Verdict::Bad { .. } => "bad",
            _ if self.is_known_good(bake, now) => "good",
            _ => "baking",
        }
    }

    /// The version, and when it is the adopted baseline, that it is.
    pub fn describe(&self) -> String {
        match self.origin {
            Origin::Adopted => format!("{} (the adopted baseline)", self.image.tag),
            Origin::Release | Origin::Rollback => self.image.tag.to_string(),
        }
    }

    /// The verdict in words: "judged bad by alarm api-prod-5xx: went into ALARM: …".
    pub fn verdict_text(&self) -> String {
        match &self.verdict {
            Verdict::Baking => "baking".into(),
            Verdict::Good => "known-good".into(),
            Verdict::Bad { by, why, .. } => format!("judged bad by {by}: {why}"),
        }
    }

    /// Whether an alarm at `at` falls in this release's watch window.
    pub fn watches(&self, at: Timestamp, bake: SignedDuration) -> bool {
        self.started_at <= at && at <= self.succeeded_at + bake
    }
}

/// The newest known-good release other than `except`, from releases in any order. A revision
/// that any release of it was judged bad on is not known-good, whoever else ran it.
pub fn last_known_good(
    releases: &[Release],
    except: Option<DeploymentId>,
    bake: SignedDuration,
    now: Timestamp,
) -> Option<&Release> {
    releases
        .iter()
        .filter(|r| Some(r.deployment) != except && r.is_known_good(bake, now))
        .filter(|r| {
            !releases
                .iter()
                .any(|o| o.task_definition == r.task_definition && o.verdict.is_bad())
        })
        .max_by_key(|r| r.succeeded_at)
}

/// Whether this image digest was judged bad in these releases, and why.
pub fn judged_bad<'r>(releases: &'r [Release], digest: &Digest) -> Option<&'r Release> {
    releases
        .iter()
        .find(|r| &r.image.digest == digest && r.verdict.is_bad())
}

/// The version a service runs, for a card's "current → new": the release that put its task
/// definition (or its pinned digest) there, else the tag in its image reference, if any. Deckhand
/// pins images by digest, so the tag alone is rarely there to read.
pub fn running_version(releases: &[Release], running: &crate::ports::Running) -> Option<String> {
    let digest = running.digest();
    releases
        .iter()
        .filter(|r| {
            r.task_definition == running.task_definition || Some(&r.image.digest) == digest.as_ref()
        })
        .max_by_key(|r| r.succeeded_at)
        .map(|r| r.image.tag.to_string())
        .or_else(|| running.version.clone())
        .or_else(|| running.tag().map(str::to_owned))
}

/// A release of this revision judged bad, if any: a rollback planned before that verdict must
/// not go there now.
pub fn revision_judged_bad<'r>(
    releases: &'r [Release],
    task_definition: &str,
) -> Option<&'r Release> {
    releases
        .iter()
        .find(|r| r.task_definition == task_definition && r.verdict.is_bad())
}

/// Whether this digest is known-good in these releases: it ran, baked clean, and was never
/// judged bad (a held service takes only such a digest).
pub fn digest_known_good(
    releases: &[Release],
    digest: &Digest,
    bake: SignedDuration,
    now: Timestamp,
) -> bool {
    judged_bad(releases, digest).is_none()
        && releases
            .iter()
            .any(|r| &r.image.digest == digest && r.is_known_good(bake, now))
}

/// The baseline to record the first time Deckhand meets a service in an environment (it has no
/// release there yet): what runs there, adopted as known-good.
pub fn adoption(
    env: &EnvName,
    service: &ServiceName,
    running: (&str, ImageRef),
    now: Timestamp,
) -> Release {
    let (task_definition, image) = running;
    // It ran before the release that meets it: ordered before it even in the same instant.
    let before = now - SignedDuration::from_secs(1);
    Release {
        env: env.clone(),
        service: service.clone(),
        deployment: DeploymentId::derive(now, &format!("adopt:{env}:{service}:{task_definition}")),
        image,
        task_definition: task_definition.to_owned(),
        started_at: before,
        succeeded_at: before,
        verdict: Verdict::Good,
        origin: Origin::Adopted,
    }
}

/// Where to roll one service back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackPlan {
    /// Update the service to this release's task definition.
    To(Box<Release>),
    /// The known-good release already runs (ECS's circuit breaker put it back, or nothing was
    /// changed yet): nothing to do, and nothing to wait for.
    AlreadyRunning(Box<Release>),
    /// There is nothing known-good to go back to.
    Nothing,
}

/// Where to roll a service back to, away from `leaving`, given the task definition it runs now.
pub fn plan_rollback(
    releases: &[Release],
    leaving: Option<DeploymentId>,
    running: Option<&str>,
    bake: SignedDuration,
    now: Timestamp,
) -> RollbackPlan {
    match last_known_good(releases, leaving, bake, now) {
        Some(t) if Some(t.task_definition.as_str()) == running => {
            RollbackPlan::AlreadyRunning(Box::new(t.clone()))
        }
        Some(t) => RollbackPlan::To(Box::new(t.clone())),
        None => RollbackPlan::Nothing,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// A CloudWatch alarm changed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmChange {
    pub alarm: String,
    /// The alarm's ARN, when the event carried it (EventBridge's `resources`, SNS's `AlarmArn`).
    pub arn: Option<String>,
    pub previous: AlarmState,
    pub current: AlarmState,
    pub at: Timestamp,
    pub reason: String,
}

impl AlarmChange {
    /// Why this change is not one that can roll anything back, if it is not: only a transition
    /// into ALARM from another state is.
    pub fn not_into_alarm(&self) -> Option<String> {
        (self.current != AlarmState::Alarm || self.previous == AlarmState::Alarm).then(|| {
            format!(
                "{} went {:?} → {:?}: not a transition into ALARM",
                self.alarm, self.previous, self.current
            )
        })
    }

    /// The transition in words, for the messages about it: a clause that the messages end
    /// with their own full stop (CloudWatch's reason ends with one already).
    pub fn describe(&self) -> String {
        format!(
            "alarm {} went into ALARM: {}",
            self.alarm,
            self.reason_clause()
        )
    }

    /// CloudWatch's reason without its closing full stop.
    fn reason_clause(&self) -> &str {
        self.reason.trim_end().trim_end_matches('.')
    }

    /// Who a verdict from this change is by.
    pub fn judge(&self) -> String {
        format!("alarm {}", self.alarm)
    }

    /// The verdict this change gives a release.
    pub fn verdict(&self) -> Verdict {
        Verdict::Bad {
            by: self.judge(),
            at: self.at,
            why: format!("went into ALARM: {}", self.reason_clause()),
        }
    }

    /// Whether `v` is this very transition's verdict (a redelivery of it, or its retry).
    pub fn gave(&self, v: &Verdict) -> bool {
        matches!(v, Verdict::Bad { by, at, .. } if *by == self.judge() && *at == self.at)
    }
}

/// What to do about an alarm for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmDecision {
    /// A deploy of this service is under way and started before the alarm: stop it (its
    /// failure rolls back what it changed).
    Abort { deployment: DeploymentId },
    /// Judge `bad` and roll it back to `target`.
    RollBack {
        bad: DeploymentId,
        target: Box<Release>,
    },
    /// Judge `bad`; the known-good `target` already runs, so there is nothing to roll.
    AlreadyRunning {
        bad: DeploymentId,
        target: Box<Release>,
    },
    /// Judge `bad`, but there is nothing known-good to go back to: tell people.
    NoTarget { bad: DeploymentId },
    /// The alarm fires on the known-good revision itself (during a rollback, or its watch):
    /// never roll further, never forward. Hold the service and ask a person.
    Hold { release: Box<Release> },
    /// The release in its watch was already judged bad by another transition: it acted then.
    AlreadyBad { bad: DeploymentId },
    /// It would abort or roll back, but automation is paused there (`/pause`): shown, not acted on.
    Paused,
    /// Nothing to do, and why (for the log and, where useful, the channel).
    Ignore { why: String },
}

/// What an alarm decision sees: the service's releases in that environment, the deployment in
/// flight there (if any), the task definition the service runs now, the bake window, the time.
#[derive(Debug, Clone, Copy)]
pub struct AlarmFacts<'a> {
    pub releases: &'a [Release],
    pub in_flight: Option<&'a Deployment>,
    pub running: Option<&'a str>,
    pub bake: SignedDuration,
    pub now: Timestamp,
}

/// Decides for one service. Pure; every `if` about alarms lives here.
pub fn decide_alarm(
    change: &AlarmChange,
    service: &ServiceName,
    f: AlarmFacts<'_>,
) -> AlarmDecision {
    if change.current != AlarmState::Alarm {
        return AlarmDecision::Ignore {
            why: format!("{} went to {:?}, not ALARM", change.alarm, change.current),
        };
    }
    if change.previous == AlarmState::Alarm {
        return AlarmDecision::Ignore {
            why: format!(
                "{} was already in ALARM; only a transition into ALARM rolls back",
                change.alarm
            ),
        };
    }
    if let Some(d) = f.in_flight
        && d.services.iter().any(|s| &s.service == service)
        && d.requested_at <= change.at
        && matches!(
            d.state,
            State::Migrating { .. } | State::Rolling { .. } | State::Verifying { .. }
        )
    {
        if let DeploymentKind::Rollback { .. } = d.kind {
            // Rolling back already: going back further, or forward, is a person's call.
            if let Some(latest) = f.releases.iter().max_by_key(|r| r.succeeded_at) {
                return AlarmDecision::Hold {
                    release: Box::new(latest.clone()),
                };
            }
            return AlarmDecision::Ignore {
                why: format!("{service} is being rolled back already ({})", d.id),
            };
        }
        return AlarmDecision::Abort { deployment: d.id };
    }
    let Some(latest) = f.releases.iter().max_by_key(|r| r.succeeded_at) else {
        return AlarmDecision::Ignore {
            why: "no release of this service is recorded".into(),
        };
    };
    if latest.origin == Origin::Adopted {
        return AlarmDecision::Ignore {
            why: "no release by Deckhand since it adopted what runs there".into(),
        };
    }
    if !latest.watches(change.at, f.bake) {
        return AlarmDecision::Ignore {
            why: format!(
                "the alarm fired outside the watch window of the latest release (live since {} UTC, watched for {})",
                latest.succeeded_at.strftime("%Y-%m-%d %H:%M"),
                fmt_duration(f.bake)
            ),
        };
    }
    if latest.verdict.is_bad() && !change.gave(&latest.verdict) {
        return AlarmDecision::AlreadyBad {
            bad: latest.deployment,
        };
    }
    if latest.origin == Origin::Rollback {
        return AlarmDecision::Hold {
            release: Box::new(latest.clone()),
        };
    }
    match plan_rollback(
        f.releases,
        Some(latest.deployment),
        f.running,
        f.bake,
        f.now,
    ) {
        RollbackPlan::To(target) => AlarmDecision::RollBack {
            bad: latest.deployment,
            target,
        },
        RollbackPlan::AlreadyRunning(target) => AlarmDecision::AlreadyRunning {
            bad: latest.deployment,
            target,
        },
        RollbackPlan::Nothing => AlarmDecision::NoTarget {
            bad: latest.deployment,
        },
    }
}

/// Where to roll one service back to when a person names the version: the newest release of it
/// there whose revision was never judged bad.
pub fn plan_named(releases: &[Release], version: &Version, running: Option<&str>) -> RollbackPlan {
    let target = releases
        .iter()
        .filter(|r| &r.image.tag == version)
        .filter(|r| {
            !releases
                .iter()
                .any(|o| o.task_definition == r.task_definition && o.verdict.is_bad())
        })
        .max_by_key(|r| r.succeeded_at);
    match target {
        Some(t) if Some(t.task_definition.as_str()) == running => {
            RollbackPlan::AlreadyRunning(Box::new(t.clone()))
        }
        Some(t) => RollbackPlan::To(Box::new(t.clone())),
        None => RollbackPlan::Nothing,
    }
}

/// A `/rollback` planned over every service it names: where each goes and which release each
/// leaves (to be judged bad by the person, once the rollback exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualRollback {
    /// Each target, with the version the service runs now (for the card's "current → new").
    pub targets: Vec<(Release, Option<String>)>,
    /// The releases rolled away from, and the version each goes back to.
    pub leaving: Vec<(ServiceName, DeploymentId, String)>,
}

/// Why a `/rollback` has nothing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManualRefusal {
    /// `service` has no `what` ("known-good revision", "good release of v1.2.3") to go to.
    NoTarget { service: ServiceName, what: String },
    /// Every service named already runs what it would go back to.
    AlreadyThere { detail: String },
}

/// What one service looks like to a `/rollback`: its releases there and what it runs now.
#[derive(Debug, Clone, Copy)]
pub struct ServiceNow<'a> {
    pub service: &'a ServiceName,
    pub releases: &'a [Release],
    pub running: &'a str,
}

/// Plans `/rollback ENV [SERVICE…] [to VERSION]`: back to the last known-good release, or to
/// the named version where it ran before and was never judged bad. Pure.
pub fn plan_manual(
    services: &[ServiceNow<'_>],
    to: Option<&Version>,
    bake: SignedDuration,
    now: Timestamp,
) -> Result<ManualRollback, ManualRefusal> {
    let mut planned = ManualRollback {
        targets: Vec::new(),
        leaving: Vec::new(),
    };
    let mut there = Vec::new();
    for s in services {
        let current = s.releases.iter().max_by_key(|r| r.succeeded_at);
        let plan = match to {
            Some(v) => plan_named(s.releases, v, Some(s.running)),
            None => plan_rollback(
                s.releases,
                current.map(|c| c.deployment),
                Some(s.running),
                bake,
                now,
            ),
        };
        match plan {
            RollbackPlan::To(target) => {
                if let Some(c) = current
                    && c.deployment != target.deployment
                {
                    let to = target.image.tag.to_string();
                    planned.leaving.push((s.service.clone(), c.deployment, to));
                }
                let current_version = current.map(|c| c.image.tag.to_string());
                planned.targets.push((*target, current_version));
            }
            RollbackPlan::AlreadyRunning(target) => there.push(format!(
                "{} already runs its known-good {}",
                s.service, target.image.tag
            )),
            RollbackPlan::Nothing => {
                let what = to.map_or_else(
                    || "known-good revision".to_owned(),
                    |v| format!("good release of {v}"),
                );
                return Err(ManualRefusal::NoTarget {
                    service: s.service.clone(),
                    what,
                });
            }
        }
    }
    if planned.targets.is_empty() {
        return Err(ManualRefusal::AlreadyThere {
            detail: there.join("; "),
        });
    }
    Ok(planned)
}

/// Plans putting back the services a failed deploy changed: each goes to its last known-good
/// release other than the failed one's; `from` is the version the failed deploy put there.
/// Returns the targets (with `from`) and a line for each service that is not rolled back.
#[allow(clippy::type_complexity)] // the pair is the plan; a struct would only name it twice
pub fn plan_after_failure(
    services: &[(ServiceNow<'_>, &str)],
    failed: DeploymentId,
    bake: SignedDuration,
    now: Timestamp,
) -> (Vec<(Release, Option<String>)>, Vec<String>) {
    let mut targets = Vec::new();
    let mut lines = Vec::new();
    for (s, from) in services {
        let service = s.service;
        match plan_rollback(s.releases, Some(failed), Some(s.running), bake, now) {
            RollbackPlan::To(target) => targets.push((*target, Some((*from).to_owned()))),
            RollbackPlan::AlreadyRunning(target) => lines.push(format!(
                "{service} already runs its known-good {}; nothing to roll back.",
                target.image.tag
            )),
            RollbackPlan::Nothing => lines.push(format!(
                "{service}: no known-good revision to roll back to; left as ECS has it. Someone needs to look."
            )),
        }
    }
    (targets, lines)
}

impl Verdict {
    /// A person's verdict on the release they rolled back from.
    pub fn rolled_back_by(who: &str, at: Timestamp) -> Verdict {
        Verdict::Bad {
            by: who.to_owned(),
            at,
            why: format!("rolled back by {who}"),
        }
    }

    /// The verdict a failed deploy gives the releases it made.
    pub fn failed_deploy(id: DeploymentId, at: Timestamp, why: &str) -> Verdict {
        Verdict::Bad {
            by: format!("the failed deploy {id}"),
            at,
            why: why.to_owned(),
        }
    }

    /// The parts of a Bad verdict: by whom, when, why.
    pub fn bad_parts(&self) -> Option<(&str, Timestamp, &str)> {
        match self {
            Verdict::Bad { by, at, why } => Some((by, *at, why)),
            Verdict::Baking | Verdict::Good => None,
        }
    }
}

impl AlarmDecision {
    /// The decision as it stands with the service running `running` now: a rollback whose
    /// target already runs (someone's `/rollback` got there between the transition's first
    /// delivery and this one) has nothing left to roll.
    pub fn given_running(self, running: Option<&str>) -> AlarmDecision {
        match self {
            AlarmDecision::RollBack { bad, target }
                if Some(target.task_definition.as_str()) == running =>
            {
                AlarmDecision::AlreadyRunning { bad, target }
            }
            other => other,
        }
    }

    /// The decision with automation paused (or not): what would stop a deploy or roll a
    /// service back is left to people; recording a verdict and holding still happen.
    pub fn given_pause(self, paused: bool) -> AlarmDecision {
        match self {
            AlarmDecision::Abort { .. } | AlarmDecision::RollBack { .. } if paused => {
                AlarmDecision::Paused
            }
            other => other,
        }
    }

    /// The decision as its alarm transition's claim records it, so that every delivery of the
    /// transition carries out the first one's decision (a later delivery would otherwise decide
    /// again on the state the first one changed).
    pub fn to_claim(&self) -> String {
        match self {
            AlarmDecision::Abort { deployment } => format!("abort {deployment}"),
            AlarmDecision::RollBack { bad, target } => {
                format!("rollback {bad} {}", target.deployment)
            }
            AlarmDecision::AlreadyRunning { bad, target } => {
                format!("running {bad} {}", target.deployment)
            }
            AlarmDecision::NoTarget { bad } => format!("notarget {bad}"),
            AlarmDecision::Hold { release } => format!("hold {}", release.deployment),
            AlarmDecision::AlreadyBad { bad } => format!("bad {bad}"),
            AlarmDecision::Paused => "paused".to_owned(),
            AlarmDecision::Ignore { why } => format!("ignore {why}"),
        }
    }

    /// The decision to carry out: the one `earlier` deliveries of the same transition recorded
    /// in its claim, if any did and it still reads, else this one.
    pub fn or_earlier(self, earlier: Option<&str>, releases: &[Release]) -> AlarmDecision {
        let Some(raw) = earlier else { return self };
        AlarmDecision::from_claim(raw, releases).unwrap_or_else(|| {
            tracing::warn!(
                earlier = raw,
                "an earlier decision does not parse; deciding again"
            );
            self
        })
    }

    /// The decision a claim recorded, with its releases found again among `releases`; `None`
    /// when it does not parse or names a release that is not there.
    pub fn from_claim(raw: &str, releases: &[Release]) -> Option<AlarmDecision> {
        let (what, rest) = raw.split_once(' ').unwrap_or((raw, ""));
        let mut ids = rest.split(' ').map(DeploymentId::parse);
        let mut id = || ids.next()?.ok();
        let release = |id: DeploymentId| {
            releases
                .iter()
                .find(|r| r.deployment == id)
                .map(|r| Box::new(r.clone()))
        };
        Some(match what {
            "abort" => AlarmDecision::Abort { deployment: id()? },
            "rollback" => AlarmDecision::RollBack {
                bad: id()?,
                target: release(id()?)?,
            },
            "running" => AlarmDecision::AlreadyRunning {
                bad: id()?,
                target: release(id()?)?,
            },
            "notarget" => AlarmDecision::NoTarget { bad: id()? },
            "hold" => AlarmDecision::Hold {
                release: release(id()?)?,
            },
            "bad" => AlarmDecision::AlreadyBad { bad: id()? },
            "paused" => AlarmDecision::Paused,
            "ignore" => AlarmDecision::Ignore {
                why: rest.to_owned(),
            },
            _ => return None,
        })
    }
}

/// What carrying out an alarm decision does, as data: a use-case performs each step that is
/// set, in the order of the fields, and branches on nothing else. Every step is idempotent, so
/// every delivery of a transition may perform them all; `announce` is said by the first only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmActions {
    /// Stop this deployment in flight (its failure rolls back what it changed).
    pub abort: Option<DeploymentId>,
    /// Judge this release Bad with the transition's verdict, naming what it goes back to.
    pub judge: Option<(DeploymentId, Option<String>)>,
    /// Start a rollback of the bad release onto this known-good one.
    pub roll_back: Option<(DeploymentId, Box<Release>)>,
    /// Hold the service (where the environment holds after a rollback), for this reason.
    pub hold: Option<String>,
    /// Say this in the environment's channel.
    pub announce: Option<String>,
    /// Why nothing was rolled back, for the answer and the log.
    pub note: Option<String>,
}

impl AlarmDecision {
    /// The steps this decision takes for `service` in `env`; `reason` is the transition in
    /// words ("alarm api-prod-5xx went into ALARM: …"). Pure: every word a person reads about
    /// an alarm is chosen here.
    pub fn actions(&self, service: &ServiceName, env: &EnvName, reason: &str) -> AlarmActions {
        let hold = Some(reason.to_owned());
        match self {
            AlarmDecision::Abort { deployment } => AlarmActions {
                abort: Some(*deployment),
                hold,
                ..AlarmActions::default()
            },
            AlarmDecision::RollBack { bad, target } => AlarmActions {
                judge: Some((*bad, Some(target.describe()))),
                roll_back: Some((*bad, target.clone())),
                hold,
                ..AlarmActions::default()
            },
            AlarmDecision::AlreadyRunning { bad, target } => {
                let line = format!(
                    "{service} already runs its known-good {}; nothing to roll back",
                    target.describe()
                );
                AlarmActions {
                    judge: Some((*bad, Some(target.describe()))),
                    hold,
                    announce: Some(format!("🚨 {reason}. {line}.")),
                    note: Some(line),
                    ..AlarmActions::default()
                }
            }
            AlarmDecision::NoTarget { bad } => AlarmActions {
                judge: Some((*bad, None)),
                announce: Some(format!(
                    "🚨 {reason}, within the watch window of {service}'s release {bad}, but there is no known-good revision to roll back to. Left as is: someone needs to look."
                )),
                note: Some(format!("{service}: no known-good revision")),
                ..AlarmActions::default()
            },
            AlarmDecision::Hold { release } => {
                let line = format!(
                    "{service} is alarming on its known-good {}; not rolling back further — someone needs to look",
                    release.image.tag
                );
                AlarmActions {
                    hold: Some(line.clone()),
                    announce: Some(format!("🚨 {reason}. {line}.")),
                    note: Some(line),
                    ..AlarmActions::default()
                }
            }
            AlarmDecision::Paused => {
                let line = format!(
                    "automation is paused in {env}: not rolling {service} back — someone needs to look"
                );
                AlarmActions {
                    announce: Some(format!("⏸ {reason}. {line}.")),
                    note: Some(line),
                    ..AlarmActions::default()
                }
            }
            AlarmDecision::AlreadyBad { bad } => AlarmActions {
                note: Some(format!("release {bad} of {service} was already judged bad")),
                ..AlarmActions::default()
            },
            AlarmDecision::Ignore { why } => AlarmActions {
                announce: Some(format!("⚠️ {reason}. Not rolling {service} back: {why}.")),
                note: Some(format!("{service}: {why}")),
                ..AlarmActions::default()
            },
        }
    }
}

/// A duration in the unit that fits: seconds under two minutes (`45s`), then minutes (`12m`),
/// then hours and minutes (`1h30m`). A negative one (clocks disagree) reads as `0s`.
pub fn fmt_duration(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    if secs < 120 {
        return format!("{secs}s");
    }
    let mins = secs / 60;
    match (mins / 60, mins % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testkit::{at, release};

    const BAKE: SignedDuration = SignedDuration::from_mins(30);

    fn bad(by: &str, at_: &str) -> Verdict {
        Verdict::Bad {
            by: by.into(),
            at: at(at_),
            why: "went into ALARM: 5xx > 1%".into(),
        }
    }

    fn alarm(at_: &str, previous: AlarmState) -> AlarmChange {
        AlarmChange {
            alarm: "api-prod-5xx".into(),
            arn: None,
            previous,
            current: AlarmState::Alarm,
            at: at(at_),
            reason: "5xx > 1%".into(),
        }
    }

    fn api() -> ServiceName {
        ServiceName::parse("api").unwrap()
    }

    #[test]
    fn cloudwatchs_closing_full_stop_is_not_doubled_in_what_deckhand_says() {
        let mut change = alarm("2026-11-24T10:05:00Z", AlarmState::Ok);
        change.reason =
            "Threshold Crossed: 1 datapoint [42.0] was greater than the threshold (10.0).".into();
        let said = format!("🚨 {}. Rolling api back.", change.describe());
        assert!(!said.contains(".."), "{said}");
        assert!(said.contains("(10.0). Rolling"), "{said}");
        let Verdict::Bad { why, .. } = change.verdict() else {
            panic!("an alarm's verdict is bad");
        };
        assert!(why.ends_with("(10.0)"), "{why}");
    }

    fn decide(change: &AlarmChange, releases: &[Release], now: &str) -> AlarmDecision {
        decide_alarm(
            change,
            &api(),
            AlarmFacts {
                releases,
                in_flight: None,
                running: None,
                bake: BAKE,
                now: at(now),
            },
        )
    }

    #[test]
    fn target_is_last_known_good_not_the_previous_number() {
        let now = at("2026-11-24T12:00:00Z");
        let releases = vec![
            release(1, "2026-11-20T10:00:00Z", Verdict::Good),
            release(
                2,
                "2026-11-22T10:00:00Z",
                bad("alarm x", "2026-11-22T10:05:00Z"),
            ),
            release(3, "2026-11-24T11:40:00Z", Verdict::Baking), // still inside its bake window
            release(4, "2026-11-24T11:55:00Z", Verdict::Baking),
        ];
        let lkg = last_known_good(&releases, Some(releases[3].deployment), BAKE, now).unwrap();
        assert_eq!(
            lkg.task_definition, "api:1",
            "3 has not baked, 2 was bad: the previous number is not the target"
        );
        let later = at("2026-11-24T12:15:00Z");
        assert_eq!(
            last_known_good(&releases, Some(releases[3].deployment), BAKE, later)
                .unwrap()
                .task_definition,
            "api:3",
            "3 baked by now"
        );
    }

    #[test]
    fn a_revision_judged_bad_once_is_not_known_good_under_another_release() {
        let now = at("2026-11-24T12:00:00Z");
        let mut again = release(
            1,
            "2026-11-23T10:00:00Z",
            bad("alarm x", "2026-11-23T10:01:00Z"),
        );
        again.deployment = DeploymentId::derive(at("2026-11-23T10:00:00Z"), "again");
        let releases = vec![release(1, "2026-11-20T10:00:00Z", Verdict::Good), again];
        assert_eq!(last_known_good(&releases, None, BAKE, now), None);
    }

    #[test]
    fn an_alarm_rolls_back_only_when_it_goes_into_alarm_after_the_deploy_started() {
        let releases = vec![
            release(1, "2026-11-20T10:00:00Z", Verdict::Good),
            release(2, "2026-11-24T11:50:00Z", Verdict::Baking),
        ];
        let bad = releases[1].deployment;
        match decide(
            &alarm("2026-11-24T11:58:00Z", AlarmState::Ok),
            &releases,
            "2026-11-24T12:00:00Z",
        ) {
            AlarmDecision::RollBack { bad: b, target } => {
                assert_eq!(b, bad);
                assert_eq!(target.task_definition, "api:1");
            }
            other => panic!("{other:?}"),
        }
        let ignored = |change: AlarmChange, now: &str| {
            matches!(
                decide(&change, &releases, now),
                AlarmDecision::Ignore { .. }
            )
        };
        assert!(
            ignored(
                alarm("2026-11-24T11:58:00Z", AlarmState::Alarm),
                "2026-11-24T12:00:00Z"
            ),
            "already firing"
        );
        assert!(
            ignored(
                alarm("2026-11-24T11:40:00Z", AlarmState::Ok),
                "2026-11-24T12:00:00Z"
            ),
            "fired before the deploy started"
        );
        assert!(
            ignored(
                alarm("2026-11-24T12:30:00Z", AlarmState::Ok),
                "2026-11-24T12:30:00Z"
            ),
            "after the watch window"
        );
    }

    #[test]
    fn a_bad_verdict_is_final_even_when_the_next_alarm_repeats_its_reason_text() {
        let first = alarm("2026-11-24T11:55:00Z", AlarmState::Ok);
        let releases = vec![
            release(1, "2026-11-20T10:00:00Z", Verdict::Good),
            release(2, "2026-11-24T11:50:00Z", first.verdict()),
        ];
        // The same transition delivered again decides as the first delivery did, so a retry
        // of a delivery that died after judging still rolls back.
        assert!(matches!(
            decide(&first, &releases, "2026-11-24T12:00:00Z"),
            AlarmDecision::RollBack { .. }
        ));
        // A later transition with the very same reason text is another alarm: the release
        // stays bad, nothing more happens.
        let later = alarm("2026-11-24T12:10:00Z", AlarmState::Ok);
        assert_eq!(
            decide(&later, &releases, "2026-11-24T12:30:00Z"),
            AlarmDecision::AlreadyBad {
                bad: releases[1].deployment
            }
        );
    }

    #[test]
    fn an_alarm_on_the_revision_a_rollback_restored_holds_instead_of_rolling_further() {
        let first = alarm("2026-11-24T11:55:00Z", AlarmState::Ok);
        let mut restored = release(1, "2026-11-24T12:05:00Z", Verdict::Baking);
        restored.deployment = DeploymentId::derive(at("2026-11-24T12:00:00Z"), "rollback");
        restored.started_at = at("2026-11-24T12:00:00Z");
        restored.origin = Origin::Rollback;
        let releases = vec![
            release(1, "2026-11-20T10:00:00Z", Verdict::Good),
            release(2, "2026-11-24T11:50:00Z", first.verdict()),
            restored,
        ];
        let decision = decide(
            &alarm("2026-11-24T12:20:00Z", AlarmState::Ok),
            &releases,
            "2026-11-24T12:20:00Z",
        );
        assert!(
            matches!(&decision, AlarmDecision::Hold { release } if release.origin == Origin::Rollback),
            "{decision:?}"
        );
    }

    #[test]
    fn a_target_that_already_runs_is_not_rolled_to_again() {
        let releases = vec![
            release(1, "2026-11-20T10:00:00Z", Verdict::Good),
            release(2, "2026-11-24T11:50:00Z", Verdict::Baking),
        ];
        let decision = decide_alarm(
            &alarm("2026-11-24T11:58:00Z", AlarmState::Ok),
            &api(),
            AlarmFacts {
                releases: &releases,
                in_flight: None,
                running: Some("api:1"),
                bake: BAKE,
                now: at("2026-11-24T12:00:00Z"),
            },
        );
        assert!(
            matches!(decision, AlarmDecision::AlreadyRunning { .. }),
            "{decision:?}"
        );
    }

    #[test]
    fn a_recorded_rollback_whose_target_runs_by_now_has_nothing_left_to_roll() {
        let releases = [release(1, "2026-11-20T10:00:00Z", Verdict::Good)];
        let bad = DeploymentId::derive(at("2026-11-24T11:50:00Z"), "bad");
        let target = Box::new(releases[0].clone());
        let decided = AlarmDecision::RollBack {
            bad,
            target: target.clone(),
        };
        assert_eq!(decided.clone().given_running(Some("api:9")), decided);
        assert_eq!(
            decided.given_running(Some("api:1")),
            AlarmDecision::AlreadyRunning { bad, target }
        );
    }

    #[test]
    fn every_decision_survives_its_claim() {
        let releases = vec![
            release(1, "2026-11-20T10:00:00Z", Verdict::Good),
            release(2, "2026-11-24T11:50:00Z", Verdict::Baking),
        ];
        let (good, bad) = (releases[0].deployment, releases[1].deployment);
        let target = Box::new(releases[0].clone());
        for d in [
            AlarmDecision::Abort { deployment: bad },
            AlarmDecision::RollBack {
                bad,
                target: target.clone(),
            },
            AlarmDecision::AlreadyRunning {
                bad,
                target: target.clone(),
            },
            AlarmDecision::NoTarget { bad },
            AlarmDecision::Hold { release: target },
            AlarmDecision::AlreadyBad { bad: good },
            AlarmDecision::Paused,
            AlarmDecision::Ignore {
                why: "outside the watch window of 10:00".into(),
            },
        ] {
            assert_eq!(AlarmDecision::from_claim(&d.to_claim(), &releases), Some(d));
        }
        assert_eq!(
            AlarmDecision::from_claim("rollback nonsense", &releases),
            None
        );
    }

    #[test]
    fn with_nothing_known_good_the_decision_says_so() {
        let releases = vec![release(1, "2026-11-24T11:50:00Z", Verdict::Baking)];
        assert_eq!(
            decide(
                &alarm("2026-11-24T11:55:00Z", AlarmState::Ok),
                &releases,
                "2026-11-24T12:00:00Z"
            ),
            AlarmDecision::NoTarget {
                bad: releases[0].deployment
            }
        );
    }

    #[test]
    fn each_decision_names_its_steps_and_only_a_rollback_rolls() {
        let env = EnvName::parse("prod").unwrap();
        let good = release(1, "2026-11-24T08:00:00Z", Verdict::Good);
        let bad = release(2, "2026-11-24T09:00:00Z", Verdict::Baking);
        let reason = "alarm api-prod-5xx went into ALARM: 5xx";
        let roll = AlarmDecision::RollBack {
            bad: bad.deployment,
            target: Box::new(good.clone()),
        }
        .actions(&api(), &env, reason);
        assert_eq!(roll.judge, Some((bad.deployment, Some("v1.0.1".into()))));
        assert_eq!(
            roll.roll_back.as_ref().map(|r| r.1.deployment),
            Some(good.deployment)
        );
        assert_eq!(roll.hold.as_deref(), Some(reason));
        assert_eq!(
            roll.announce, None,
            "the bad release's own card is told instead"
        );

        let hold = AlarmDecision::Hold {
            release: Box::new(good.clone()),
        }
        .actions(&api(), &env, reason);
        assert_eq!(hold.roll_back, None);
        assert_eq!(
            hold.judge, None,
            "the known-good release is not judged by its own alarm"
        );
        assert_eq!(
            hold.note.as_deref(),
            Some(
                "api is alarming on its known-good v1.0.1; not rolling back further — someone needs to look"
            )
        );

        let paused = AlarmDecision::Paused.actions(&api(), &env, reason);
        assert_eq!(
            (
                paused.abort,
                paused.roll_back.is_some(),
                paused.hold.is_some()
            ),
            (None, false, false)
        );
        assert!(
            paused
                .announce
                .unwrap()
                .contains("automation is paused in prod")
        );

        let abort = AlarmDecision::Abort {
            deployment: bad.deployment,
        }
        .actions(&api(), &env, reason);
        assert_eq!(
            (abort.abort, abort.hold.is_some()),
            (Some(bad.deployment), true)
        );

        let running = AlarmDecision::AlreadyRunning {
            bad: bad.deployment,
            target: Box::new(good),
        }
        .actions(&api(), &env, reason);
        assert_eq!(running.roll_back, None);
        assert_eq!(running.judge.map(|j| j.0), Some(bad.deployment));
        assert!(
            running
                .announce
                .unwrap()
                .contains("already runs its known-good v1.0.1")
        );
    }

    #[test]
    fn a_manual_rollback_leaves_the_current_release_and_refuses_when_nothing_moves() {
        let releases = [
            release(1, "2026-11-24T07:00:00Z", Verdict::Good),
            release(2, "2026-11-24T08:00:00Z", Verdict::Baking),
        ];
        let now = at("2026-11-24T08:10:00Z");
        let service = api();
        let here = |running| ServiceNow {
            service: &service,
            releases: &releases,
            running,
        };
        let plan = plan_manual(&[here("api:2")], None, BAKE, now).unwrap();
        assert_eq!(plan.targets.len(), 1);
        assert_eq!(plan.targets[0].0.task_definition, "api:1");
        assert_eq!(plan.targets[0].1.as_deref(), Some("v1.0.2"));
        assert_eq!(
            plan.leaving,
            vec![(api(), releases[1].deployment, "v1.0.1".to_owned())]
        );
        assert!(matches!(
            plan_manual(&[here("api:1")], None, BAKE, now),
            Err(ManualRefusal::AlreadyThere { detail }) if detail == "api already runs its known-good v1.0.1"
        ));
        let unknown = Version::parse("v9.9.9").unwrap();
        assert_eq!(
            plan_manual(&[here("api:2")], Some(&unknown), BAKE, now),
            Err(ManualRefusal::NoTarget {
                service: api(),
                what: "good release of v9.9.9".into()
            })
        );
    }

    #[test]
    fn after_a_failed_deploy_each_changed_service_goes_back_or_is_said_why_not() {
        let good = release(1, "2026-11-24T07:00:00Z", Verdict::Good);
        let failed = release(2, "2026-11-24T08:00:00Z", Verdict::Baking);
        let with_target = [good.clone(), failed.clone()];
        let service = api();
        let now = at("2026-11-24T08:10:00Z");
        let s = |releases, running| ServiceNow {
            service: &service,
            releases,
            running,
        };
        let (targets, lines) = plan_after_failure(
            &[(s(&with_target, "api:2"), "v1.0.2")],
            failed.deployment,
            BAKE,
            now,
        );
        assert_eq!(targets, vec![(good, Some("v1.0.2".to_owned()))]);
        assert!(lines.is_empty());
        let only_failed = [failed.clone()];
        let (targets, lines) = plan_after_failure(
            &[(s(&only_failed, "api:2"), "v1.0.2")],
            failed.deployment,
            BAKE,
            now,
        );
        assert!(targets.is_empty());
        assert_eq!(lines, vec!["api: no known-good revision to roll back to; left as ECS has it. Someone needs to look.".to_owned()]);
    }

    #[test]
    fn a_bake_makes_only_a_baking_release_past_its_window_good() {
        let baking = release(1, "2026-11-24T08:00:00Z", Verdict::Baking);
        assert_eq!(baking.baked(BAKE, at("2026-11-24T08:29:00Z")), None);
        assert_eq!(
            baking.baked(BAKE, at("2026-11-24T08:30:00Z")),
            Some(Verdict::Good)
        );
        let judged = release(
            1,
            "2026-11-24T08:00:00Z",
            bad("alarm a", "2026-11-24T08:05:00Z"),
        );
        assert_eq!(judged.baked(BAKE, at("2026-11-24T09:00:00Z")), None);
        assert_eq!(judged.status_word(BAKE, at("2026-11-24T09:00:00Z")), "bad");
        assert_eq!(
            baking.status_word(BAKE, at("2026-11-24T08:10:00Z")),
            "baking"
        );
        assert_eq!(baking.status_word(BAKE, at("2026-11-24T09:00:00Z")), "good");
    }
}
