//! Backup retention: which of Deckhand's snapshots to delete. Pure, and idempotent: run it
//! again on what it kept and it deletes nothing more.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::types::{SignedDuration, Timestamp};

/// How long a plan keeps snapshots. Every rule *keeps*; a snapshot is deleted when no rule
/// keeps it, and `max_age` then deletes what is older regardless (except the newest).
///
/// The calendar rules count buckets that have a snapshot, as restic and borg do: `daily = 7`
/// keeps the newest snapshot of each of the 7 most recent days *that have one*, so a week of
/// failed backups does not silently shorten history. Days, weeks (ISO) and months are UTC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub keep_last: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    /// Keep everything younger than this (a floor under the calendar rules).
    pub keep_within: Option<SignedDuration>,
    /// Delete everything older than this, whatever the other rules say.
    pub max_age: Option<SignedDuration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    Creating,
    Available,
    Failed,
}

/// A snapshot as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub id: String,
    pub created: Timestamp,
    pub status: SnapshotStatus,
    /// Whether Deckhand's tags are on it. Anything else is never touched.
    pub made_by_deckhand: bool,
}

/// The ids to delete, oldest first.
pub fn to_delete(retention: &Retention, snapshots: &[SnapshotInfo], now: Timestamp) -> Vec<String> {
    let mut ours: Vec<&SnapshotInfo> = snapshots.iter().filter(|s| s.made_by_deckhand).collect();
    ours.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
    let available: Vec<&SnapshotInfo> = ours
        .iter()
        .copied()
        .filter(|s| s.status == SnapshotStatus::Available)
        .collect();

    let mut keep: HashSet<&str> = HashSet::new();
    available
        .iter()
        .take(retention.keep_last as usize)
        .for_each(|s| {
            keep.insert(&s.id);
        });
    if let Some(within) = retention.keep_within {
        for s in &available {
            if now.duration_since(s.created) < within {
                keep.insert(&s.id);
            }
        }
    }
    let utc = |s: &SnapshotInfo| s.created.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    keep_per_bucket(&available, retention.daily, &mut keep, |s| {
        let d = utc(s).date();
        (i32::from(d.year()), i32::from(d.day_of_year()))
    });
    keep_per_bucket(&available, retention.weekly, &mut keep, |s| {
        let w = utc(s).date().iso_week_date();
        (i32::from(w.year()), i32::from(w.week()))
    });
    keep_per_bucket(&available, retention.monthly, &mut keep, |s| {
        let d = utc(s).date();
        (i32::from(d.year()), i32::from(d.month()))
    });
    if let Some(max_age) = retention.max_age {
        keep.retain(|id| {
            available
                .iter()
                .any(|s| s.id == *id && now.duration_since(s.created) <= max_age)
        });
    }
    // Whatever the rules say, the newest good snapshot stays: it may be the only backup.
    if let Some(newest) = available.first() {
        keep.insert(&newest.id);
    }

    let mut out: Vec<String> = ours
        .iter()
        .filter(|s| match s.status {
            SnapshotStatus::Creating => false,
            SnapshotStatus::Failed => true,
            SnapshotStatus::Available => !keep.contains(s.id.as_str()),
        })
        .map(|s| s.id.clone())
        .collect();
    out.reverse();
    out
}

/// Keeps the newest snapshot of each of the `n` most recent buckets. `newest_first` is sorted.
fn keep_per_bucket<'a>(
    newest_first: &[&'a SnapshotInfo],
    n: u32,
    keep: &mut HashSet<&'a str>,
    bucket: impl Fn(&SnapshotInfo) -> (i32, i32),
) {
    let mut seen = Vec::new();
    for s in newest_first {
        if seen.len() >= n as usize {
            break;
        }
        let b = bucket(s);
        if !seen.contains(&b) {
            seen.push(b);
            keep.insert(&s.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::at;
    use proptest::prelude::*;

    fn snap(id: &str, created: &str) -> SnapshotInfo {
        SnapshotInfo {
            id: id.into(),
            created: at(created),
            status: SnapshotStatus::Available,
            made_by_deckhand: true,
        }
    }

    fn daily_for(days: i64, now: Timestamp) -> Vec<SnapshotInfo> {
        (0..days)
            .map(|d| {
                let t = now - SignedDuration::from_hours(24 * d + 1);
                SnapshotInfo {
                    id: format!("s{d:03}"),
                    created: t,
                    status: SnapshotStatus::Available,
                    made_by_deckhand: true,
                }
            })
            .collect()
    }

    #[test]
    fn keep_last_keeps_exactly_the_newest_n() {
        let snaps = vec![
            snap("a", "2026-11-01T03:00:00Z"),
            snap("b", "2026-11-02T03:00:00Z"),
            snap("c", "2026-11-03T03:00:00Z"),
        ];
        let r = Retention {
            keep_last: 2,
            ..Retention::default()
        };
        assert_eq!(to_delete(&r, &snaps, at("2026-11-04T00:00:00Z")), vec!["a"]);
    }

    #[test]
    fn grandfather_father_son_over_a_year_of_dailies() {
        let now = at("2026-11-24T12:00:00Z");
        let snaps = daily_for(400, now);
        let r = Retention {
            daily: 7,
            weekly: 4,
            monthly: 12,
            keep_within: Some(SignedDuration::from_hours(24 * 30)),
            ..Retention::default()
        };
        let deleted = to_delete(&r, &snaps, now);
        let kept: Vec<_> = snaps.iter().filter(|s| !deleted.contains(&s.id)).collect();
        // 30 days inside the floor, plus monthly ones beyond it (weeklies and dailies fall inside).
        assert!(
            kept.iter()
                .filter(|s| now.duration_since(s.created) < SignedDuration::from_hours(720))
                .count()
                == 30
        );
        let older: Vec<_> = kept
            .iter()
            .filter(|s| now.duration_since(s.created) >= SignedDuration::from_hours(720))
            .collect();
        assert!(
            (10..=12).contains(&older.len()),
            "monthlies beyond the floor: {}",
            older.len()
        );
        assert!(
            kept.iter()
                .all(|s| now.duration_since(s.created) < SignedDuration::from_hours(24 * 366))
        );
    }

    #[test]
    fn max_age_deletes_old_ones_but_never_the_newest_good_snapshot() {
        let snaps = vec![
            snap("old", "2025-01-01T00:00:00Z"),
            snap("older", "2024-01-01T00:00:00Z"),
        ];
        let r = Retention {
            keep_last: 5,
            max_age: Some(SignedDuration::from_hours(24 * 90)),
            ..Retention::default()
        };
        assert_eq!(
            to_delete(&r, &snaps, at("2026-11-24T00:00:00Z")),
            vec!["older"]
        );
    }

    #[test]
    fn others_snapshots_and_ones_in_progress_are_never_touched_failed_ones_go() {
        let mut foreign = snap("manual-before-migration", "2020-01-01T00:00:00Z");
        foreign.made_by_deckhand = false;
        let mut creating = snap("creating", "2026-11-24T03:00:00Z");
        creating.status = SnapshotStatus::Creating;
        let mut failed = snap("failed", "2026-11-23T03:00:00Z");
        failed.status = SnapshotStatus::Failed;
        let snaps = vec![
            foreign,
            creating,
            failed,
            snap("good", "2026-11-22T03:00:00Z"),
            snap("old", "2026-10-01T03:00:00Z"),
        ];
        let r = Retention {
            keep_last: 1,
            ..Retention::default()
        };
        assert_eq!(
            to_delete(&r, &snaps, at("2026-11-24T04:00:00Z")),
            vec!["old", "failed"]
        );
    }

    fn arb_snapshots() -> impl Strategy<Value = Vec<SnapshotInfo>> {
        prop::collection::vec((0i64..500 * 24, 0u8..10, any::<bool>()), 0..60).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (hours_ago, st, ours))| SnapshotInfo {
                    id: format!("s{i}"),
                    created: at("2026-11-24T00:00:00Z") - SignedDuration::from_hours(hours_ago),
                    status: match st {
                        0 => SnapshotStatus::Failed,
                        1 => SnapshotStatus::Creating,
                        _ => SnapshotStatus::Available,
                    },
                    made_by_deckhand: ours,
                })
                .collect()
        })
    }

    fn arb_retention() -> impl Strategy<Value = Retention> {
        (
            0u32..5,
            0u32..10,
            0u32..6,
            0u32..14,
            prop::option::of(1i64..60),
            prop::option::of(1i64..400),
        )
            .prop_map(
                |(keep_last, daily, weekly, monthly, within, max)| Retention {
                    keep_last,
                    daily,
                    weekly,
                    monthly,
                    keep_within: within.map(|d| SignedDuration::from_hours(24 * d)),
                    max_age: max.map(|d| SignedDuration::from_hours(24 * d)),
                },
            )
    }

    proptest! {
        #[test]
        fn never_deletes_the_newest_good_snapshot_nor_foreign_ones(r in arb_retention(), snaps in arb_snapshots()) {
            let now = at("2026-11-24T00:00:00Z");
            let deleted = to_delete(&r, &snaps, now);
            let newest = snaps.iter()
                .filter(|s| s.made_by_deckhand && s.status == SnapshotStatus::Available)
                .max_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
            if let Some(n) = newest {
                prop_assert!(!deleted.contains(&n.id));
            }
            for s in &snaps {
                if !s.made_by_deckhand || s.status == SnapshotStatus::Creating {
                    prop_assert!(!deleted.contains(&s.id));
                }
            }
        }

        #[test]
        fn a_second_run_deletes_nothing_more(r in arb_retention(), snaps in arb_snapshots()) {
            let now = at("2026-11-24T00:00:00Z");
            let deleted = to_delete(&r, &snaps, now);
            let kept: Vec<_> = snaps.into_iter().filter(|s| !deleted.contains(&s.id)).collect();
            prop_assert_eq!(to_delete(&r, &kept, now), Vec::<String>::new());
        }
    }
}
