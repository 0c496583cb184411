//! Which revision to go back to, and whether an alarm should make us go.
//!
//! The target is the last *known-good* release of that service in that environment: one that
//! reached Succeeded and then survived its bake window with its alarms clear. Never "the
//! previous task definition number": the previous one may itself be the bad release, a
//! half-finished deploy, or a revision someone registered by hand.

use serde::{Deserialize, Serialize};

use crate::deployment::ImageRef;
use crate::types::{DeploymentId, EnvName, ServiceName, SignedDuration, Timestamp};

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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Inside its bake window; good once the window passes with no alarm.
    Baking,
    Good,
    /// An alarm fired inside its bake window (or it was rolled back by hand).
    Bad {
        reason: String,
    },
}

impl Release {
    pub fn is_known_good(&self, bake: SignedDuration, now: Timestamp) -> bool {
        match self.verdict {
            Verdict::Good => true,
            Verdict::Baking => now >= self.succeeded_at + bake,
            Verdict::Bad { .. } => false,
        }
    }

    /// Whether an alarm at `at` falls in this release's watch window.
    pub fn watches(&self, at: Timestamp, bake: SignedDuration) -> bool {
        self.started_at <= at && at <= self.succeeded_at + bake
    }
}

/// The newest known-good release other than `except`, from releases in any order.
pub fn last_known_good(
    releases: &[Release],
    except: Option<DeploymentId>,
    bake: SignedDuration,
    now: Timestamp,
) -> Option<&Release> {
    releases
        .iter()
        .filter(|r| Some(r.deployment) != except && r.is_known_good(bake, now))
        .max_by_key(|r| r.succeeded_at)
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

/// What to do about an alarm for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmDecision {
    /// Roll `bad` back to `target`.
    RollBack {
        bad: DeploymentId,
        target: Box<Release>,
    },
    /// It should roll back, but there is nothing known-good to go to: tell people.
    NoTarget { bad: DeploymentId },
    /// The newest release was already judged bad: this alarm (or another) acted on it
    /// before. A redelivery of the same alarm lands here, so nobody is told twice.
    AlreadyBad { bad: DeploymentId },
    /// Nothing to do, and why (for the log and, where useful, the channel).
    Ignore { why: String },
}

/// Decides for one service. `releases` are that service's releases in that environment.
pub fn decide_alarm(
    change: &AlarmChange,
    releases: &[Release],
    bake: SignedDuration,
    now: Timestamp,
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
    let Some(latest) = releases.iter().max_by_key(|r| r.succeeded_at) else {
        return AlarmDecision::Ignore {
            why: "no release of this service is recorded".into(),
        };
    };
    if matches!(latest.verdict, Verdict::Bad { .. }) {
        return AlarmDecision::AlreadyBad {
            bad: latest.deployment,
        };
    }
    if !latest.watches(change.at, bake) {
        return AlarmDecision::Ignore {
            why: format!(
                "the alarm fired outside the watch window of the latest release (live since {} UTC, watched for {})",
                latest.succeeded_at.strftime("%Y-%m-%d %H:%M"),
                fmt_duration(bake)
            ),
        };
    }
    match last_known_good(releases, Some(latest.deployment), bake, now) {
        Some(target) => AlarmDecision::RollBack {
            bad: latest.deployment,
            target: Box::new(target.clone()),
        },
        None => AlarmDecision::NoTarget {
            bad: latest.deployment,
        },
    }
}

pub fn fmt_duration(d: SignedDuration) -> String {
    let mins = d.as_secs() / 60;
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
    use crate::testkit::at;
    use crate::types::{Digest, Version};

    const BAKE: SignedDuration = SignedDuration::from_mins(30);

    fn release(n: u8, succeeded: &str, verdict: Verdict) -> Release {
        Release {
            env: EnvName::parse("prod").unwrap(),
            service: ServiceName::parse("api").unwrap(),
            deployment: DeploymentId::derive(at(succeeded), &n.to_string()),
            image: ImageRef {
                repository: "acme/api".into(),
                tag: Version::parse(&format!("v1.0.{n}")).unwrap(),
                digest: Digest::parse(&format!("sha256:{}", format!("{n:02x}").repeat(32)))
                    .unwrap(),
            },
            task_definition: format!("api:{n}"),
            started_at: at(succeeded) - SignedDuration::from_mins(5),
            succeeded_at: at(succeeded),
            verdict,
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

    #[test]
    fn target_is_last_known_good_not_the_previous_number() {
        let now = at("2026-11-24T12:00:00Z");
        let releases = vec![
            release(1, "2026-11-20T10:00:00Z", Verdict::Good),
            release(
                2,
                "2026-11-22T10:00:00Z",
                Verdict::Bad {
                    reason: "alarm".into(),
                },
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
    fn an_alarm_rolls_back_only_when_it_goes_into_alarm_after_the_deploy_started() {
        let now = at("2026-11-24T12:00:00Z");
        let releases = vec![
            release(1, "2026-11-20T10:00:00Z", Verdict::Good),
            release(2, "2026-11-24T11:50:00Z", Verdict::Baking),
        ];
        let bad = releases[1].deployment;
        match decide_alarm(
            &alarm("2026-11-24T11:58:00Z", AlarmState::Ok),
            &releases,
            BAKE,
            now,
        ) {
            AlarmDecision::RollBack { bad: b, target } => {
                assert_eq!(b, bad);
                assert_eq!(target.task_definition, "api:1");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(
                decide_alarm(
                    &alarm("2026-11-24T11:58:00Z", AlarmState::Alarm),
                    &releases,
                    BAKE,
                    now
                ),
                AlarmDecision::Ignore { .. }
            ),
            "already firing"
        );
        assert!(
            matches!(
                decide_alarm(
                    &alarm("2026-11-24T11:40:00Z", AlarmState::Ok),
                    &releases,
                    BAKE,
                    now
                ),
                AlarmDecision::Ignore { .. }
            ),
            "fired before the deploy started"
        );
        assert!(
            matches!(
                decide_alarm(
                    &alarm("2026-11-24T12:30:00Z", AlarmState::Ok),
                    &releases,
                    BAKE,
                    at("2026-11-24T12:30:00Z")
                ),
                AlarmDecision::Ignore { .. }
            ),
            "after the watch window"
        );
    }

    /// An alarm at 11:55 that was OK before, decided at noon.
    fn noon_alarm(releases: &[Release]) -> AlarmDecision {
        decide_alarm(
            &alarm("2026-11-24T11:55:00Z", AlarmState::Ok),
            releases,
            BAKE,
            at("2026-11-24T12:00:00Z"),
        )
    }

    #[test]
    fn a_release_already_judged_bad_is_not_acted_on_again() {
        let bad = Verdict::Bad {
            reason: "alarm api-5xx".into(),
        };
        let releases = vec![
            release(1, "2026-11-24T10:00:00Z", Verdict::Good),
            release(2, "2026-11-24T11:50:00Z", bad),
        ];
        assert_eq!(
            noon_alarm(&releases),
            AlarmDecision::AlreadyBad {
                bad: releases[1].deployment
            }
        );
    }

    #[test]
    fn with_nothing_known_good_the_decision_says_so() {
        let releases = vec![release(1, "2026-11-24T11:50:00Z", Verdict::Baking)];
        assert_eq!(
            noon_alarm(&releases),
            AlarmDecision::NoTarget {
                bad: releases[0].deployment
            }
        );
    }
}
