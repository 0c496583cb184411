//! When a backup plan's schedule should have fired, and whether its backups kept up. Pure:
//! maintenance asks [`watch`] with the plan's newest good backup and acts on the answer.
//!
//! A schedule is EventBridge Scheduler's expression: `cron(min hour dom month dow year)` (AWS's
//! Quartz flavour: `?`, day-of-week 1-7 = SUN-SAT) evaluated in the plan's time zone, so a daily
//! 03:00 stays at 03:00 across daylight saving; or `rate(N unit)`, whose phase is the
//! schedule's creation, which Deckhand does not know: a rate plan is late once its newest good
//! backup is older than the rate (plus the grace).

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::types::{SignedDuration, Timestamp};

/// How long after a firing its backup may still be under way before it counts as missed (a
/// large database's snapshot takes a while).
pub const MISSED_GRACE: SignedDuration = SignedDuration::from_hours(1);

#[derive(Debug, Clone)]
enum Every {
    Cron(Box<croner::Cron>),
    Rate(SignedDuration),
}

/// A plan's schedule, in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    every: Every,
    tz: TimeZone,
}

impl Schedule {
    /// `expression` as the config holds it (already checked), in the IANA zone `tz`.
    pub fn parse(expression: &str, tz: &str) -> Result<Schedule, String> {
        let tz = TimeZone::get(tz).map_err(|e| format!("time zone `{tz}`: {e}"))?;
        if let Some(inner) = expression
            .strip_prefix("cron(")
            .and_then(|s| s.strip_suffix(')'))
        {
            return Ok(Schedule {
                every: Every::Cron(Box::new(aws_cron(inner)?)),
                tz,
            });
        }
        if let Some(inner) = expression
            .strip_prefix("rate(")
            .and_then(|s| s.strip_suffix(')'))
        {
            let mut words = inner.split_whitespace();
            let n: i64 = words
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .ok_or("rate needs a positive number")?;
            let unit = match words.next().map(|u| u.trim_end_matches('s')) {
                Some("minute") => SignedDuration::from_mins(1),
                Some("hour") => SignedDuration::from_hours(1),
                Some("day") => SignedDuration::from_hours(24),
                _ => return Err("rate's unit is minutes, hours or days".into()),
            };
            return Ok(Schedule {
                every: Every::Rate(unit * i32::try_from(n).map_err(|_| "rate too large")?),
                tz,
            });
        }
        Err(format!("`{expression}` is neither cron(…) nor rate(…)"))
    }

    /// The last time the schedule fired at or before `t`; `None` for a rate (its phase is
    /// not known) or a cron that never fired before `t`.
    pub fn last_firing(&self, t: Timestamp) -> Option<Timestamp> {
        let Every::Cron(cron) = &self.every else {
            return None;
        };
        let civil = t.to_zoned_datetime(self.tz.clone()).datetime();
        let found = cron
            .find_previous_occurrence(&to_croner(civil)?, true)
            .ok()?;
        let back = from_croner(found)?;
        // A civil time a DST gap skipped is read as jiff's default (the later offset).
        back.to_zoned_datetime(self.tz.clone())
            .ok()
            .map(|z| z.timestamp())
    }

    /// How far apart firings are around `t`: a rate's rate; for a cron, the gap between its
    /// last two firings (a daily schedule is every 24 h, a weekly one every 7 days).
    pub fn period(&self, t: Timestamp) -> Option<SignedDuration> {
        match &self.every {
            Every::Rate(r) => Some(*r),
            Every::Cron(_) => {
                let last = self.last_firing(t)?;
                let before = self.last_firing(last - SignedDuration::from_secs(1))?;
                Some(last.duration_since(before))
            }
        }
    }
}

/// AWS's six-field cron as croner reads it: a zero seconds field in front (croner takes a year
/// field only with seconds), Quartz weekdays.
pub(crate) fn aws_cron(inner: &str) -> Result<croner::Cron, String> {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!("AWS cron has 6 fields, this has {}", fields.len()));
    }
    // AWS writes "from N every S" as `N/S` (`0/6` hours); croner takes it as a range to the
    // field's end, `N-23/6`.
    const LAST: [u32; 6] = [59, 23, 31, 12, 7, 2199];
    let fields: Vec<String> = fields
        .iter()
        .zip(LAST)
        .map(|(field, last)| {
            field
                .split(',')
                .map(|part| match part.split_once('/') {
                    Some((from, step)) if from.parse::<u32>().is_ok() => {
                        format!("{from}-{last}/{step}")
                    }
                    _ => part.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .year(croner::parser::Year::Required)
        .alternative_weekdays(true)
        .build()
        .parse(&format!("0 {}", fields.join(" ")))
        .map_err(|e| e.to_string())
}

// croner's jiff support is on jiff 0.2; a civil date and time crosses by its parts (to the
// second: schedules fire on whole seconds). A macro, as the two types share no trait.
macro_rules! cross {
    ($t:expr => $into:ty) => {{
        let t = $t;
        <$into>::new(
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            0,
        )
        .ok()
    }};
}

fn to_croner(t: DateTime) -> Option<jiff02::civil::DateTime> {
    cross!(t => jiff02::civil::DateTime)
}

fn from_croner(t: jiff02::civil::DateTime) -> Option<DateTime> {
    cross!(t => DateTime)
}

/// How a plan's backups stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// A good backup is at least as new as the last firing that should have finished.
    UpToDate,
    /// The firing at `expected` (or, for a rate, every `every`) left no good backup.
    Missed {
        /// When the newest good backup finished, if there is one.
        last_good: Option<Timestamp>,
        every: Option<SignedDuration>,
    },
}

/// Whether a plan's backups kept up at `now`: the last firing that should have finished (one
/// more than [`MISSED_GRACE`] ago) must have left a good backup finished after it. Nothing is
/// expected before `watched_since` (when Deckhand first looked at the plan).
pub fn watch(
    schedule: &Schedule,
    newest_good: Option<Timestamp>,
    watched_since: Timestamp,
    now: Timestamp,
) -> Kept {
    let due_by = now - MISSED_GRACE;
    let expected = match &schedule.every {
        Every::Cron(_) => schedule.last_firing(due_by),
        Every::Rate(r) => Some(due_by - *r),
    };
    let Some(expected) = expected.filter(|e| *e >= watched_since) else {
        return Kept::UpToDate;
    };
    if newest_good.is_some_and(|g| g >= expected) {
        return Kept::UpToDate;
    }
    Kept::Missed {
        last_good: newest_good,
        every: schedule.period(due_by),
    }
}

/// What the plan's channel is told when its backups fell behind.
pub fn missed_words(plan: &str, kept: &Kept, now: Timestamp) -> Option<String> {
    let Kept::Missed { last_good, every } = kept else {
        return None;
    };
    let ago = match last_good {
        Some(g) => format!(
            "last good backup {} ago",
            crate::rollback::fmt_duration(now.duration_since(*g))
        ),
        None => "no good backup yet".to_owned(),
    };
    let every = every
        .map(|e| format!("; expected every {}", crate::rollback::fmt_duration(e)))
        .unwrap_or_default();
    Some(format!("⚠️ {plan}: {ago}{every}."))
}

#[cfg(test)]
mod reconcile_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn plan(name: &str, expression: &str) -> PlanSchedule {
        PlanSchedule {
            name: name.into(),
            expression: expression.into(),
            timezone: "UTC".into(),
            input: format!("{{\"plan\": \"{name}\"}}"),
            target: "fn|role".into(),
        }
    }

    #[test]
    fn reconciling_adds_changes_and_removes_exactly_and_then_nothing() {
        let want = [
            plan("nightly", "cron(0 3 * * ? *)"),
            plan("hourly", "rate(1 hour)"),
        ];
        let have = [
            plan("nightly", "cron(0 2 * * ? *)"),
            plan("gone", "rate(1 day)"),
        ];
        assert_eq!(
            reconcile(&want, &have),
            vec![
                ScheduleChange::Update(want[0].clone()),
                ScheduleChange::Create(want[1].clone()),
                ScheduleChange::Delete("gone".into()),
            ]
        );
        assert_eq!(reconcile(&want, &want), vec![]);
        // A schedule pointing at another target is brought back.
        let mut moved = want[1].clone();
        moved.target = "old-fn|role".into();
        assert_eq!(
            reconcile(&want[1..], &[moved]),
            vec![ScheduleChange::Update(want[1].clone())]
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(raw: &str) -> Timestamp {
        raw.parse().unwrap()
    }

    #[test]
    fn a_daily_cron_fires_at_its_local_time_across_daylight_saving() {
        let (nightly, berlin) = ("cron(0 3 * * ? *)", "Europe/Berlin");
        // AWS weekdays are 1-7 = SUN-SAT: `2` is Monday.
        let mondays = "cron(0 4 ? * 2 *)";
        // AWS's `N/S` steps: from 00:15, every 6 hours.
        let six_hourly = "cron(15 0/6 * * ? *)";
        // (expression, zone, now, the last firing by then, the period in hours), in 2026, UTC.
        for (expression, zone, now, last, hours) in [
            // Winter: 03:00 in Berlin is 02:00 UTC; summer: 01:00 UTC.
            (nightly, berlin, "01-15T12:00", "01-15T02:00", 24),
            (nightly, berlin, "07-15T12:00", "07-15T01:00", 24),
            // Before tonight's firing: last night's.
            (nightly, berlin, "07-15T00:30", "07-14T01:00", 24),
            (mondays, "UTC", "12-09T12:00", "12-07T04:00", 24 * 7),
            (six_hourly, "UTC", "12-09T13:00", "12-09T12:15", 6),
        ] {
            let schedule = Schedule::parse(expression, zone).unwrap();
            let (now, last) = (in_2026(now), in_2026(last));
            assert_eq!(
                schedule.last_firing(now),
                Some(last),
                "{expression} at {now}"
            );
            let period = Some(SignedDuration::from_hours(hours));
            assert_eq!(schedule.period(now), period, "{expression} at {now}");
        }
    }

    fn in_2026(month_to_minute: &str) -> Timestamp {
        at(&format!("2026-{month_to_minute}:00Z"))
    }

    #[test]
    fn a_backup_is_missed_only_after_its_firing_and_the_grace() {
        let nightly = Schedule::parse("cron(0 3 * * ? *)", "UTC").unwrap();
        let since = at("2026-12-01T00:00:00Z");
        let good = Some(at("2026-12-06T03:05:00Z"));
        // 03:30: tonight's backup may still be running.
        assert_eq!(
            watch(&nightly, good, since, at("2026-12-07T03:30:00Z")),
            Kept::UpToDate
        );
        // 04:01: it should have finished.
        let missed = watch(&nightly, good, since, at("2026-12-07T04:01:00Z"));
        assert_eq!(
            missed,
            Kept::Missed {
                last_good: good,
                every: Some(SignedDuration::from_hours(24))
            }
        );
        assert_eq!(
            missed_words("prod-db-nightly", &missed, at("2026-12-07T10:05:00Z")).unwrap(),
            "⚠️ prod-db-nightly: last good backup 31h ago; expected every 24h."
        );
        // A backup after the firing keeps it up to date.
        assert_eq!(
            watch(
                &nightly,
                Some(at("2026-12-07T03:04:00Z")),
                since,
                at("2026-12-07T04:01:00Z")
            ),
            Kept::UpToDate
        );
        // Nothing is expected before Deckhand first watched the plan.
        assert_eq!(
            watch(
                &nightly,
                None,
                at("2026-12-07T03:30:00Z"),
                at("2026-12-07T04:01:00Z")
            ),
            Kept::UpToDate
        );
        // A rate plan is late once its newest good backup is older than the rate and the grace.
        let six_hourly = Schedule::parse("rate(6 hours)", "UTC").unwrap();
        let good = Some(at("2026-12-07T00:00:00Z"));
        assert_eq!(
            watch(&six_hourly, good, since, at("2026-12-07T06:59:00Z")),
            Kept::UpToDate
        );
        assert!(matches!(
            watch(&six_hourly, good, since, at("2026-12-07T07:01:00Z")),
            Kept::Missed { .. }
        ));
    }
}

/// One backup plan's schedule as EventBridge Scheduler holds it, in Deckhand's own schedule
/// group: named by the plan, firing the backup function with the plan's name and the firing's
/// execution id (one snapshot per firing, however often it is delivered).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlanSchedule {
    pub name: String,
    pub expression: String,
    pub timezone: String,
    /// The target's input, as sent.
    pub input: String,
    /// Where it fires and with which role (the adapter's own, so a schedule left pointing at
    /// an old function or role is brought back).
    pub target: String,
}

/// What reconciling the schedules with the config does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleChange {
    Create(PlanSchedule),
    /// Every field is sent: Scheduler's update replaces the whole schedule.
    Update(PlanSchedule),
    Delete(String),
}

impl std::fmt::Display for ScheduleChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScheduleChange::Create(s) => {
                write!(f, "+ {}: {} ({})", s.name, s.expression, s.timezone)
            }
            ScheduleChange::Update(s) => {
                write!(f, "~ {}: {} ({})", s.name, s.expression, s.timezone)
            }
            ScheduleChange::Delete(name) => write!(f, "- {name}"),
        }
    }
}

/// The schedule every plan in `config` should have, firing `target`.
pub fn desired(config: &crate::config::Config, target: &str) -> Vec<PlanSchedule> {
    config
        .backups
        .values()
        .map(|plan| PlanSchedule {
            name: plan.name.clone(),
            expression: plan.schedule.clone(),
            timezone: plan.timezone.clone(),
            input: format!(
                r#"{{"plan": "{}", "execution_id": "<aws.scheduler.execution-id>", "scheduled_time": "<aws.scheduler.scheduled-time>"}}"#,
                plan.name
            ),
            target: target.to_owned(),
        })
        .collect()
}

/// The changes that make `existing` (the group's schedules) what `desired` says: nothing when
/// they already match, so running it again changes nothing.
pub fn reconcile(desired: &[PlanSchedule], existing: &[PlanSchedule]) -> Vec<ScheduleChange> {
    let mut changes = Vec::new();
    for want in desired {
        match existing.iter().find(|e| e.name == want.name) {
            None => changes.push(ScheduleChange::Create(want.clone())),
            Some(have) if have != want => changes.push(ScheduleChange::Update(want.clone())),
            Some(_) => {}
        }
    }
    for have in existing {
        if !desired.iter().any(|d| d.name == have.name) {
            changes.push(ScheduleChange::Delete(have.name.clone()));
        }
    }
    changes
}
