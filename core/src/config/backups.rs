//! `[backups.PLAN]`, with their retention and schedule.

use toml::de::DeTable;

use super::reader::{Entry, Reader};
use super::*;
use crate::retention::Retention;

const RETENTION_KEYS: &[&str] = &[
    "keep_last",
    "keep_within",
    "daily",
    "weekly",
    "monthly",
    "max_age",
];

pub(super) const KEYS: &[&str] = &[
    "env",
    "kind",
    "target",
    "schedule",
    "timezone",
    "before_deploy",
    "retention",
    "copy_to",
    "copy_kms_key",
    "service",
    "command",
    "prune",
    "timeout",
];

/// One `[backups.NAME]`.
pub(super) fn read<'d>(r: &mut Reader<'d>, e: &Entry<'d, '_>) -> Option<(String, BackupPlan)> {
    let (key, path, bt) = (&e.key, &e.path, e.table);
    // The plan's name goes into RDS snapshot identifiers, which take letters, digits and
    // single hyphens and must start with a letter.
    let name = *key.get_ref();
    if ServiceName::parse(name).is_err() || name.contains("--") || name.ends_with('-') {
        let help = "use lowercase letters, digits and single `-`, starting with a letter (it becomes part of snapshot names)";
        r.error(
            key.span(),
            format!("`{name}` cannot name a backup plan"),
            Some(help.into()),
        );
        return None;
    }
    let env = r.req_str(bt, "env", path, key.span());
    if let Some(e) = &env {
        r.refer(Named::Env, e.clone(), path, "env");
    }
    let kind = r.req_str(bt, "kind", path, key.span()).and_then(|k| {
        let parsed = match *k.get_ref() {
            "rds-instance" => Some(BackupKind::RdsInstance),
            "rds-cluster" => Some(BackupKind::RdsCluster),
            "ecs-task" => Some(BackupKind::EcsTask),
            _ => None,
        };
        if parsed.is_none() {
            let fix = suggest::did_you_mean(k.get_ref(), BackupKind::NAMES).map_or_else(
                || format!("use one of: {}", BackupKind::NAMES.join(", ")),
                |s| format!("did you mean `{s}`?"),
            );
            r.error(
                k.span(),
                format!("unknown backup kind `{}`", k.get_ref()),
                Some(fix),
            );
        }
        parsed
    });
    let target = r.req_str(bt, "target", path, key.span());
    let schedule = r.req_str(bt, "schedule", path, key.span());
    if let Some(s) = &schedule
        && let Err(why) = check_schedule(s.get_ref())
    {
        r.error(s.span(), format!("`{path}.schedule` = \"{}\" does not parse: {why}", s.get_ref()), Some("write `cron(0 3 * * ? *)` (minute hour day-of-month month day-of-week year, as EventBridge Scheduler takes it) or `rate(12 hours)`".into()));
    }
    let timezone = match r.str(bt, "timezone", path) {
        None => "UTC".to_owned(),
        Some(tz) => match jiff::tz::TimeZone::get(tz.get_ref()) {
            Ok(_) => tz.get_ref().to_string(),
            Err(_) => {
                r.error(
                    tz.span(),
                    format!(
                        "`{path}.timezone` = \"{}\" is not a time zone",
                        tz.get_ref()
                    ),
                    Some("use an IANA name such as \"Europe/Berlin\" or \"UTC\"".into()),
                );
                "UTC".to_owned()
            }
        },
    };
    let copy_to = r.str(bt, "copy_to", path).and_then(|region| {
        let ok = is_region(region.get_ref());
        if !ok {
            r.error(
                region.span(),
                format!(
                    "`{path}.copy_to` = \"{}\" is not an AWS region",
                    region.get_ref()
                ),
                Some("write a region's code, such as \"eu-west-1\"".into()),
            );
        }
        ok.then(|| region.get_ref().to_string())
    });
    let copy_kms_key = r
        .str(bt, "copy_kms_key", path)
        .map(|k| k.get_ref().to_string());
    if let (None, Some(v)) = (&copy_to, bt.get("copy_kms_key")) {
        r.error(
            v.span(),
            format!("`{path}.copy_kms_key` without `copy_to`"),
            Some("name the region the copies go to: copy_to = \"eu-west-1\"".into()),
        );
    }
    let task = match kind {
        Some(BackupKind::EcsTask) => read_task(r, bt, path, key.span()),
        _ => {
            for k in ["service", "command", "prune", "timeout"] {
                if let Some(v) = bt.get(k) {
                    r.error(
                        v.span(),
                        format!("`{path}.{k}` is for `ecs-task` plans"),
                        Some("remove it, or make the plan `kind = \"ecs-task\"`".into()),
                    );
                }
            }
            None
        }
    };
    if let (Some(BackupKind::EcsTask), Some(v)) = (kind, bt.get("before_deploy")) {
        r.error(
            v.span(),
            format!("`{path}` is an `ecs-task` plan: it cannot run before a deploy"),
            Some("snapshot before deploys with an `rds-instance` or `rds-cluster` plan".into()),
        );
    }
    if let (Some(BackupKind::EcsTask), Some(v)) = (kind, bt.get("copy_to")) {
        r.error(
            v.span(),
            format!("`{path}` is an `ecs-task` plan: its task puts its artifact where it wants"),
            Some("copy it elsewhere from the task itself; `copy_to` is for RDS snapshots".into()),
        );
    }
    let before = r.name_refs(
        bt,
        "before_deploy",
        path,
        ServiceName::parse,
        Named::Service,
    );
    let retention = read_retention(r, bt, path, key.span());
    if let (Some(env), Some(kind), Some(target), Some(schedule)) = (env, kind, target, schedule) {
        let env = EnvName::parse(env.get_ref()).ok()?;
        return Some((
            key.get_ref().to_string(),
            BackupPlan {
                name: key.get_ref().to_string(),
                env,
                kind,
                target: target.get_ref().to_string(),
                schedule: schedule.get_ref().to_string(),
                timezone,
                before_deploy: before,
                copy_to,
                copy_kms_key,
                task,
                retention,
            },
        ));
    }
    None
}

fn read_retention(
    r: &mut Reader,
    bt: &DeTable<'_>,
    plan_path: &str,
    at: Range<usize>,
) -> Retention {
    let path = format!("{plan_path}.retention");
    let Some(t) = bt.get("retention").and_then(|v| r.table(v, &path)) else {
        r.error(
            at,
            format!("`{plan_path}` has no retention"),
            Some("add e.g. `retention = { daily = 7, weekly = 4, monthly = 12 }`".into()),
        );
        return Retention::default();
    };
    r.only_keys(t, &path, RETENTION_KEYS);
    let count = |r: &mut Reader, k: &str| {
        r.int(t, k, &path, 0..10_001)
            .map_or(0, |n| u32::try_from(n.into_inner()).unwrap_or(0))
    };
    let opt_duration = |r: &mut Reader, k: &str| {
        t.contains_key(k)
            .then(|| r.duration(t, k, &path, SignedDuration::ZERO))
    };
    let retention = Retention {
        keep_last: count(r, "keep_last"),
        daily: count(r, "daily"),
        weekly: count(r, "weekly"),
        monthly: count(r, "monthly"),
        keep_within: opt_duration(r, "keep_within"),
        max_age: opt_duration(r, "max_age"),
    };
    if retention == Retention::default() && t.is_empty() {
        r.error(
            at,
            format!("`{path}` keeps nothing but the newest snapshot"),
            Some("set at least one of: keep_last, daily, weekly, monthly, keep_within".into()),
        );
    }
    retention
}

/// An EventBridge Scheduler expression: `cron(min hour dom month dow year)` or
/// `rate(N unit)`. `at(…)` one-off schedules make no sense for a backup plan.
pub fn check_schedule(raw: &str) -> Result<(), String> {
    if let Some(inner) = raw.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        let fields = inner.split_whitespace().count();
        if fields != 6 {
            return Err(format!("AWS cron has 6 fields, this has {fields}"));
        }
        // AWS cron is Quartz-flavoured: day-of-week 1-7 is SUN-SAT, `?` allowed, a year field,
        // and no seconds field.
        return crate::schedule::aws_cron(inner).map(|_| ());
    }
    if let Some(inner) = raw.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        let mut words = inner.split_whitespace();
        let n: u32 = words
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or("rate needs a positive number")?;
        let unit = words.next().ok_or("rate needs a unit")?;
        let ok_unit = if n == 1 {
            ["minute", "hour", "day"].contains(&unit)
        } else {
            ["minutes", "hours", "days"].contains(&unit)
        };
        if n == 0 || !ok_unit || words.next().is_some() {
            return Err("write `rate(1 day)` or `rate(12 hours)` (singular unit for 1)".into());
        }
        return Ok(());
    }
    Err("it is neither `cron(…)` nor `rate(…)`".into())
}

/// `eu-west-1`, `us-gov-west-1`, `ap-southeast-2`: letters, a name, a number.
fn is_region(raw: &str) -> bool {
    let parts: Vec<&str> = raw.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
}

/// An `ecs-task` plan's `service`, `command`, `prune` and `timeout`.
fn read_task<'d>(
    r: &mut Reader<'d>,
    bt: &'d DeTable<'_>,
    path: &str,
    at: Range<usize>,
) -> Option<TaskBackup> {
    let service = r.req_str(bt, "service", path, at.clone());
    if let Some(s) = &service {
        r.refer(Named::Service, s.clone(), path, "service");
    }
    let command = r.command(bt, "command", path, at.clone(), r#"["bin/backup", "full"]"#);
    let prune = r.command(
        bt,
        "prune",
        path,
        at,
        r#"["bin/backup", "expire", "{artifact}"]"#,
    );
    let timeout = r.duration(bt, "timeout", path, TaskBackup::TIMEOUT);
    let service = ServiceName::parse(service?.get_ref()).ok()?;
    Some(TaskBackup {
        service,
        command: command?,
        prune: prune?,
        timeout,
    })
}
