//! What "the release works" means after ECS says a rollout finished: HTTP checks (`/health`,
//! `/ready`, any URL) tried until they pass within a budget, then an optional smoke test run as
//! a one-off task. Pure: the deployment state machine keeps the progress
//! ([`crate::deployment::Verify`]), the monitor port only fetches ([`Probe`]), and what a
//! fetch means is decided here ([`HttpCheck::judge`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::{SignedDuration, Timestamp};

/// One HTTP check, as captured for a deployment from `[[services.NAME.checks]]` (its URL with
/// `{env}` already replaced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCheck {
    pub name: String,
    pub url: String,
    pub status: StatusRange,
    /// A substring the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// How long one try waits for the answer.
    pub timeout: SignedDuration,
    /// Failed tries after the grace period that are retried; one more fails the check.
    pub retries: u32,
    /// The wait between tries.
    pub interval: SignedDuration,
    /// After the rollout finished, failures during this long do not count (the service is
    /// still warming up); tries go on at `interval`.
    pub grace: SignedDuration,
}

impl HttpCheck {
    pub const TIMEOUT: SignedDuration = SignedDuration::from_secs(5);
    pub const RETRIES: u32 = 2;
    pub const INTERVAL: SignedDuration = SignedDuration::from_secs(10);

    /// `health_url`'s check: any 2xx, the defaults for the rest.
    pub fn of_url(name: &str, url: String) -> HttpCheck {
        HttpCheck {
            name: name.to_owned(),
            url,
            status: StatusRange::SUCCESS,
            body: None,
            timeout: HttpCheck::TIMEOUT,
            retries: HttpCheck::RETRIES,
            interval: HttpCheck::INTERVAL,
            grace: SignedDuration::ZERO,
        }
    }

    /// Whether what one try saw passes: `Err` says what was wrong, fit for the card.
    pub fn judge(&self, probe: &Probe) -> Result<(), String> {
        match probe {
            Probe::Answered { status, body } => {
                if !self.status.contains(*status) {
                    return Err(format!("HTTP {status} (expected {})", self.status));
                }
                match &self.body {
                    Some(want) if !body.contains(want.as_str()) => Err(format!(
                        "HTTP {status}, but the body does not contain “{want}”"
                    )),
                    _ => Ok(()),
                }
            }
            Probe::TimedOut => Err(format!(
                "no answer within {}",
                crate::rollback::fmt_duration(self.timeout)
            )),
            Probe::Unreachable(why) => Err(format!("unreachable: {why}")),
        }
    }

    /// What a failed try means at `now`, the rollout having finished at `since`, with
    /// `counted` failed tries already counted: `Retry` at the next try's time, or `GiveUp`.
    pub fn after_failure(&self, since: Timestamp, counted: u32, now: Timestamp) -> AfterFailure {
        let in_grace = now < since + self.grace;
        let counted = counted + u32::from(!in_grace);
        if counted > self.retries {
            return AfterFailure::GiveUp { counted };
        }
        AfterFailure::Retry {
            at: now + self.interval,
            counted,
        }
    }
}

/// What a failed try leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    Retry { at: Timestamp, counted: u32 },
    GiveUp { counted: u32 },
}

/// The statuses a check accepts: `lo..=hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRange {
    pub lo: u16,
    pub hi: u16,
}

impl StatusRange {
    pub const SUCCESS: StatusRange = StatusRange { lo: 200, hi: 299 };

    /// "200", "200-299" or "2xx".
    pub fn parse(raw: &str) -> Option<StatusRange> {
        let code = |s: &str| {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
        };
        let raw = raw.trim();
        if let Some(class) = raw.strip_suffix("xx").or_else(|| raw.strip_suffix("XX")) {
            let c: u16 = class.parse().ok().filter(|c| (1..=5).contains(c))?;
            return Some(StatusRange {
                lo: c * 100,
                hi: c * 100 + 99,
            });
        }
        match raw.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (code(lo)?, code(hi)?);
                (lo <= hi).then_some(StatusRange { lo, hi })
            }
            None => code(raw).map(|c| StatusRange { lo: c, hi: c }),
        }
    }

    pub fn contains(&self, status: u16) -> bool {
        (self.lo..=self.hi).contains(&status)
    }
}

impl fmt::Display for StatusRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.lo, self.hi) {
            (lo, hi) if lo == hi => write!(f, "{lo}"),
            (lo, hi) if lo % 100 == 0 && hi == lo + 99 => write!(f, "{}xx", lo / 100),
            (lo, hi) => write!(f, "{lo}–{hi}"),
        }
    }
}

/// What one try of a check saw. The monitor port fetches; [`HttpCheck::judge`] decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Probe {
    /// The status and the start of the body (the adapter reads at most [`Probe::BODY_MAX`]).
    Answered {
        status: u16,
        body: String,
    },
    TimedOut,
    /// Refused, no such host, a TLS failure: the reason as the HTTP client gave it.
    Unreachable(String),
}

impl Probe {
    pub const BODY_MAX: usize = 64 * 1024;
}

/// The smoke test of a service, as captured for a deployment from `[services.NAME.smoke]`:
/// a one-off task on the new revision that must exit 0 within `timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Smoke {
    pub command: Vec<String>,
    pub timeout: SignedDuration,
}

impl Smoke {
    pub const TIMEOUT: SignedDuration = SignedDuration::from_mins(10);
    /// How often a running smoke task is looked at.
    pub const POLL: SignedDuration = SignedDuration::from_secs(15);
}

/// How a one-off task (a smoke test) stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskState {
    Running,
    Stopped {
        /// The container's exit code; `None` when it never ran (no capacity, image pull…).
        exit_code: Option<i32>,
        reason: String,
        /// The last lines of its log stream, oldest first (empty when it logged nothing).
        log_tail: Vec<String>,
    },
}

/// A task as people read it: its id, the end of its ARN
/// (`arn:aws:ecs:…:task/prod/70569233…` → `70569233…`).
pub fn task_id(task: &str) -> &str {
    task.rsplit('/').next().unwrap_or(task)
}

/// How many log lines a failed smoke test shows.
pub const LOG_TAIL: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> HttpCheck {
        HttpCheck {
            grace: SignedDuration::from_secs(30),
            body: Some("\"ready\":true".into()),
            ..HttpCheck::of_url("ready", "http://x/ready".into())
        }
    }

    #[test]
    fn statuses_read_as_one_code_a_range_or_a_class() {
        assert_eq!(
            StatusRange::parse("204"),
            Some(StatusRange { lo: 204, hi: 204 })
        );
        assert_eq!(
            StatusRange::parse("200-204"),
            Some(StatusRange { lo: 200, hi: 204 })
        );
        assert_eq!(StatusRange::parse("2xx"), Some(StatusRange::SUCCESS));
        for bad in ["", "abc", "204-200", "6xx", "99", "200-", "0xx"] {
            assert_eq!(StatusRange::parse(bad), None, "{bad}");
        }
        assert_eq!(StatusRange::SUCCESS.to_string(), "2xx");
        assert_eq!(StatusRange { lo: 200, hi: 204 }.to_string(), "200–204");
    }

    #[test]
    fn a_try_passes_on_the_status_and_the_body() {
        let c = check();
        let answered = |status, body: &str| Probe::Answered {
            status,
            body: body.into(),
        };
        assert_eq!(c.judge(&answered(200, r#"{"ready":true}"#)), Ok(()));
        assert_eq!(
            c.judge(&answered(503, "")),
            Err("HTTP 503 (expected 2xx)".into())
        );
        assert_eq!(
            c.judge(&answered(200, r#"{"ready":false}"#)),
            Err("HTTP 200, but the body does not contain “\"ready\":true”".into())
        );
        assert_eq!(c.judge(&Probe::TimedOut), Err("no answer within 5s".into()));
    }

    #[test]
    fn failures_in_the_grace_period_do_not_count() {
        let c = check();
        let since: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = |s: i64| since + SignedDuration::from_secs(s);
        // In the grace: retried, nothing counted.
        assert_eq!(
            c.after_failure(since, 0, at(10)),
            AfterFailure::Retry {
                at: at(20),
                counted: 0
            }
        );
        // After it: counted up to `retries`, then given up.
        assert_eq!(
            c.after_failure(since, 0, at(30)),
            AfterFailure::Retry {
                at: at(40),
                counted: 1
            }
        );
        assert_eq!(
            c.after_failure(since, 2, at(50)),
            AfterFailure::GiveUp { counted: 3 }
        );
    }
}
