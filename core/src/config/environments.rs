//! `[environments.NAME]`, with their freeze windows.

use jiff::tz::TimeZone;

use toml::de::DeTable;

use super::reader::{Entry, Reader};
use super::*;
use crate::freeze::{FreezeKind, FreezeWindow, WeekTime};

pub(super) const KEYS: &[&str] = &[
    "cluster",
    "aliases",
    "deployers",
    "approvers",
    "required_approvals",
    "approval_ttl",
    "after",
    "bake",
    "lock_ttl",
    "lock_default",
    "lock_max",
    "hold_after_rollback",
    "freeze",
    "auto_deploy",
    "notify",
];

/// One `[environments.NAME]`.
pub(super) fn read<'d>(r: &mut Reader<'d>, e: &Entry<'d, '_>) -> Option<(EnvName, EnvConfig)> {
    let (key, path, et) = (&e.key, &e.path, e.table);
    let name = r.name(key, EnvName::parse)?;
    let cluster = r.req_str(et, "cluster", path, key.span());
    let aliases = r.str_list(et, "aliases", path).unwrap_or_default();
    let deployers = r.str(et, "deployers", path);
    let approvers = r.str(et, "approvers", path);
    let required = r
        .int(et, "required_approvals", path, 0..11)
        .map_or(0, |n| n.into_inner());
    if let Some(d) = &deployers {
        r.refer(Named::Group, d.clone(), path, "deployers");
    }
    if let Some(a) = &approvers {
        r.refer(Named::Group, a.clone(), path, "approvers");
        r.refs
            .min_members
            .push((a.clone(), required, format!("{path}.required_approvals")));
    } else if required > 0 {
        r.error(
            key.span(),
            format!(
                "`{path}` needs {} but names no `approvers` group",
                crate::card::count(usize::try_from(required).unwrap_or(0), "approval")
            ),
            Some("add `approvers = \"<group>\"`".into()),
        );
    }
    let after = r.str(et, "after", path);
    if let Some(a) = &after {
        r.refer(Named::Env, a.clone(), path, "after");
        r.refs.after.push((name.clone(), a.clone()));
    }
    let freeze = read_freeze(r, et, path);
    let p = format!("{path}.auto_deploy");
    let auto_deploy = r
        .sub_table(et, "auto_deploy", &p, &["branches", "services"])
        .map(|at| {
            let branches = r.str_list(at, "branches", &p).unwrap_or_default();
            if branches.is_empty() {
                r.error(
                    key.span(),
                    format!("`{p}` lists no branches"),
                    Some("add `branches = [\"main\"]`".into()),
                );
            }
            let names = r.name_refs(at, "services", &p, ServiceName::parse, Named::Service);
            AutoDeploy {
                branches: branches.iter().map(|b| b.get_ref().to_string()).collect(),
                services: names,
            }
        });
    let p = format!("{path}.notify");
    let notify = r
        .sub_table(et, "notify", &p, &["slack", "discord"])
        .map(|nt| Notify {
            slack: r.str(nt, "slack", &p).map(|s| s.get_ref().to_string()),
            discord: r.str(nt, "discord", &p).map(|s| s.get_ref().to_string()),
        });
    let lock_default = r.duration(et, "lock_default", path, SignedDuration::from_hours(8));
    let lock_max = r.duration(et, "lock_max", path, SignedDuration::from_hours(72));
    if lock_default > lock_max
        && let Some(raw) = et.get("lock_default")
    {
        r.error(
            raw.span(),
            format!("`{path}.lock_default` is longer than `{path}.lock_max`"),
            Some(
                "a `/lock` without a duration gets the default; make it at most the maximum".into(),
            ),
        );
    }
    let env = EnvConfig {
        cluster: cluster.map(|c| c.get_ref().to_string()).unwrap_or_default(),
        aliases: aliases
            .iter()
            .map(|a| a.get_ref().to_ascii_lowercase())
            .collect(),
        deployers: deployers.and_then(|d| GroupName::parse(d.get_ref()).ok()),
        approvers: approvers.and_then(|a| GroupName::parse(a.get_ref()).ok()),
        required_approvals: u8::try_from(required).unwrap_or(0),
        approval_ttl: r.duration(et, "approval_ttl", path, SignedDuration::from_hours(2)),
        after: after.and_then(|a| EnvName::parse(a.get_ref()).ok()),
        bake: r.duration(et, "bake", path, SignedDuration::from_mins(30)),
        lock_ttl: r.duration(et, "lock_ttl", path, SignedDuration::from_hours(1)),
        lock_default,
        lock_max,
        hold_after_rollback: r.bool(et, "hold_after_rollback", path).unwrap_or(true),
        freeze,
        auto_deploy,
        notify: notify.unwrap_or_default(),
        name: name.clone(),
    };
    Some((name, env))
}

fn read_freeze(r: &mut Reader, et: &DeTable<'_>, env_path: &str) -> Vec<FreezeWindow> {
    let path = format!("{env_path}.freeze");
    let Some(v) = et.get("freeze") else {
        return Vec::new();
    };
    let DeValue::Array(items) = v.get_ref() else {
        r.error(
            v.span(),
            format!("`{path}` must be a list of windows: [[{path}]]"),
            None,
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let Some(ft) = r.table(item, &path) else {
            continue;
        };
        r.only_keys(ft, &path, &["name", "timezone", "weekly", "from", "until"]);
        let name = r
            .req_str(ft, "name", &path, item.span())
            .map(|n| n.get_ref().to_string());
        let tz = r
            .req_str(ft, "timezone", &path, item.span())
            .and_then(|tz| match TimeZone::get(tz.get_ref()) {
                Ok(z) => Some(z),
                Err(_) => {
                    r.error(
                        tz.span(),
                        format!("unknown time zone `{}`", tz.get_ref()),
                        Some("use an IANA name such as \"Europe/Berlin\" or \"UTC\"".into()),
                    );
                    None
                }
            });
        let weekly = r.str(ft, "weekly", &path);
        let from = datetime(r, ft, "from", &path);
        let until = datetime(r, ft, "until", &path);
        let kind = match (weekly, from, until) {
            (Some(w), None, None) => match parse_weekly(w.get_ref()) {
                Some((start, end)) => Some(FreezeKind::Weekly { start, end }),
                None => {
                    r.error(
                        w.span(),
                        format!(
                            "`{path}.weekly` = \"{}\" is not a weekly window",
                            w.get_ref()
                        ),
                        Some("write it like \"fri 16:00 - mon 08:00\"".into()),
                    );
                    None
                }
            },
            (None, Some(start), Some(end)) if start < end => Some(FreezeKind::Once { start, end }),
            (None, Some(start), Some(_)) => {
                // Pointed at `until`, the line to fix; the help says what it must pass.
                let at = ft
                    .get("until")
                    .map_or_else(|| item.span(), toml::Spanned::span);
                r.error(
                    at,
                    format!("`{path}.until` must come after `from`"),
                    Some(format!(
                        "the window starts at {start}; end it later, e.g. until = \"{}\"",
                        start
                            .checked_add(SignedDuration::from_hours(24))
                            .unwrap_or(start)
                            .strftime("%Y-%m-%d %H:%M")
                    )),
                );
                None
            }
            _ => {
                r.error(item.span(), format!("a window in `{path}` needs either `weekly` or both `from` and `until`"), Some("e.g. weekly = \"fri 16:00 - mon 08:00\", or from = \"2026-12-23 00:00\" and until = \"2027-01-02 00:00\"".into()));
                None
            }
        };
        if let (Some(name), Some(tz), Some(kind)) = (name, tz, kind) {
            out.push(FreezeWindow { name, tz, kind });
        }
    }
    out
}

/// A local date-time, as a TOML local datetime or a string `2026-12-23 00:00`.
fn datetime(
    r: &mut Reader,
    t: &DeTable<'_>,
    key: &str,
    path: &str,
) -> Option<jiff::civil::DateTime> {
    let v = t.get(key)?;
    let text = match v.get_ref() {
        DeValue::String(s) => s.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        _ => String::new(),
    };
    match text.replace(' ', "T").parse::<jiff::civil::DateTime>() {
        Ok(dt) => Some(dt),
        Err(_) => {
            r.error(
                v.span(),
                format!("`{path}.{key}` is not a local date and time"),
                Some("write it like \"2026-12-23 00:00\"".into()),
            );
            None
        }
    }
}

/// "fri 16:00 - mon 08:00". A hand-rolled grammar: no crate parses a weekly interval, and this
/// one is two weekday-time pairs.
fn parse_weekly(raw: &str) -> Option<(WeekTime, WeekTime)> {
    let (a, b) = raw.split_once('-')?;
    let point = |s: &str| -> Option<WeekTime> {
        let mut words = s.split_whitespace();
        let day = words.next()?.to_ascii_lowercase();
        let time: jiff::civil::Time = words.next()?.parse().ok()?;
        if words.next().is_some() {
            return None;
        }
        let weekday = match day.get(..3)? {
            "mon" => jiff::civil::Weekday::Monday,
            "tue" => jiff::civil::Weekday::Tuesday,
            "wed" => jiff::civil::Weekday::Wednesday,
            "thu" => jiff::civil::Weekday::Thursday,
            "fri" => jiff::civil::Weekday::Friday,
            "sat" => jiff::civil::Weekday::Saturday,
            "sun" => jiff::civil::Weekday::Sunday,
            _ => return None,
        };
        Some(WeekTime { weekday, time })
    };
    Some((point(a)?, point(b)?))
}
