//! Freeze windows: times when deploys to an environment are blocked unless overridden with a
//! reason. The config reads them (`[[environments.NAME.freeze]]`); policy asks whether one is
//! in force. Here, so that neither of those has to import the other.

use jiff::civil::{DateTime, Time, Weekday};
use jiff::tz::TimeZone;

use crate::types::Timestamp;

/// A weekday and a wall-clock time, in a freeze window's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekTime {
    pub weekday: Weekday,
    pub time: Time,
}

impl WeekTime {
    fn minute_of_week(self) -> i32 {
        let day = i32::from(self.weekday.to_monday_zero_offset());
        day * 1440 + i32::from(self.time.hour()) * 60 + i32::from(self.time.minute())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreezeKind {
    /// Every week, from `start` to `end`; may wrap over the week's end (Fri 16:00 - Mon 08:00).
    Weekly { start: WeekTime, end: WeekTime },
    /// Once, between two local date-times.
    Once { start: DateTime, end: DateTime },
}

/// A time when deploys to an environment are blocked unless overridden with a reason.
#[derive(Debug, Clone, PartialEq)]
pub struct FreezeWindow {
    pub name: String,
    pub tz: TimeZone,
    pub kind: FreezeKind,
}

impl FreezeWindow {
    /// Whether `now` is inside the window, and if so when it ends (for the message).
    pub fn active_until(&self, now: Timestamp) -> Option<Timestamp> {
        let local = now.to_zoned_datetime(self.tz.clone());
        match &self.kind {
            FreezeKind::Once { start, end } => {
                let start = start.to_zoned_datetime(self.tz.clone()).ok()?.timestamp();
                let end = end.to_zoned_datetime(self.tz.clone()).ok()?.timestamp();
                (start <= now && now < end).then_some(end)
            }
            FreezeKind::Weekly { start, end } => {
                let m = WeekTime {
                    weekday: local.weekday(),
                    time: local.time(),
                }
                .minute_of_week();
                let (s, e) = (start.minute_of_week(), end.minute_of_week());
                let inside = if s <= e {
                    s <= m && m < e
                } else {
                    m >= s || m < e
                };
                if !inside {
                    return None;
                }
                let minutes_left = (e - m).rem_euclid(7 * 1440);
                let end_local = local
                    .checked_add(jiff::SignedDuration::from_mins(i64::from(minutes_left)))
                    .ok()?
                    .with()
                    .second(0)
                    .subsec_nanosecond(0)
                    .build()
                    .ok()?;
                Some(end_local.timestamp())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::at;

    fn berlin(kind: FreezeKind) -> FreezeWindow {
        FreezeWindow {
            name: "w".into(),
            tz: TimeZone::get("Europe/Berlin").unwrap(),
            kind,
        }
    }

    #[test]
    fn weekly_freeze_wraps_over_the_weekend_in_its_time_zone() {
        let w = berlin(FreezeKind::Weekly {
            start: WeekTime {
                weekday: Weekday::Friday,
                time: Time::constant(16, 0, 0, 0),
            },
            end: WeekTime {
                weekday: Weekday::Monday,
                time: Time::constant(8, 0, 0, 0),
            },
        });
        // 2026-11-27 is a Friday. Berlin is UTC+1 in November.
        let until_monday = Some("2026-11-30T07:00:00Z");
        for (now, until, why) in [
            (
                "2026-11-27T14:59:00Z",
                None,
                "15:59 Berlin is before the freeze",
            ),
            (
                "2026-11-27T15:00:00Z",
                until_monday,
                "16:00 Berlin starts it",
            ),
            ("2026-11-29T12:00:00Z", until_monday, "Sunday is frozen"),
            ("2026-11-30T07:00:00Z", None, "Monday 08:00 Berlin is open"),
            ("2026-11-25T12:00:00Z", None, "Wednesday is open"),
        ] {
            assert_eq!(w.active_until(at(now)), until.map(at), "{why}");
        }
    }

    #[test]
    fn one_off_freeze_covers_exactly_its_dates() {
        let w = berlin(FreezeKind::Once {
            start: "2026-12-23T00:00".parse().unwrap(),
            end: "2027-01-02T00:00".parse().unwrap(),
        });
        assert!(w.active_until(at("2026-12-22T22:59:00Z")).is_none());
        assert_eq!(
            w.active_until(at("2026-12-22T23:00:00Z")),
            Some(at("2027-01-01T23:00:00Z"))
        );
        assert!(w.active_until(at("2027-01-01T23:00:00Z")).is_none());
    }
}
