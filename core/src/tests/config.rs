#![allow(clippy::unwrap_used)] // test code: a failed setup should fail loudly

use super::*;

pub(crate) const EXAMPLE: &str = include_str!("../../../infra/deckhand.example.toml");

#[test]
fn the_example_config_is_valid() {
    let c = match Config::parse("deckhand.example.toml", EXAMPLE) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(c.environments.len(), 3);
    assert_eq!(c.services.len(), 3);
    assert_eq!(c.groups.len(), 2);
    assert_eq!(c.backups.len(), 4);
    let prod = c.env("production").map(|e| e.name.as_str());
    assert_eq!(prod, Some("prod"), "the built-in alias resolves");
    assert!(!c.environments[1].freeze.is_empty() || !c.environments[2].freeze.is_empty());
    // Checks in order (`health_url` first), `{env}` filled in; the smoke test where it runs.
    let api = &c.services[&ServiceName::parse("api").unwrap()];
    let prod = EnvName::parse("prod").unwrap();
    let checks = api.checks_for(&prod);
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["health", "ready"]);
    assert_eq!(checks[1].url, "https://api.prod.acme.example/ready");
    assert_eq!(checks[1].grace, SignedDuration::from_secs(30));
    assert_eq!(checks[1].retries, 5);
    assert_eq!(
        api.smoke_for(&prod).map(|s| s.command),
        Some(vec!["bin/smoke".into(), "--env".into(), "prod".into()])
    );
    assert_eq!(api.smoke_for(&EnvName::parse("dev").unwrap()), None);
}

#[test]
fn checks_and_smoke_tests_are_checked_with_line_and_column() {
    let src = r#"[slack]
workspace = "T1"
[environments.prod]
cluster = "prod"
[services.api]
envs = ["prod"]
repository = "api"
[[services.api.checks]]
url = "ftp://api/ready"
[[services.api.checks]]
url = "https://api/ready"
status = "2zz"
retries = -1
grace = "soon"
envs = ["staging"]
[[services.api.checks]]
url = "https://api/x/ready?full=1"
timout = "5s"
[services.api.smoke]
command = []
"#;
    let err = mistakes(src);
    let got: Vec<(usize, usize, &str)> = err
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    let expect = [
        (9, 7, "`services.api.checks[0].url` must be an http(s) URL"),
        (
            12,
            10,
            "`services.api.checks[1].status` = \"2zz\" is not an HTTP status",
        ),
        (
            13,
            11,
            "`services.api.checks[1].retries` must be a whole number from 0 to 100",
        ),
        (
            14,
            9,
            "`services.api.checks[1].grace` = \"soon\" is not a duration",
        ),
        (
            15,
            9,
            "`services.api.checks[1].envs` names `staging`, where the service is not deployed",
        ),
        (18, 1, "unknown key `timout` in `services.api.checks[2]`"),
        (16, 1, "`services.api` has two checks named `ready`"),
        (20, 11, "`services.api.smoke.command` is missing or empty"),
    ];
    for e in expect {
        assert!(got.contains(&e), "{e:?} not in {got:#?}");
    }
}

#[test]
fn an_ecs_task_plan_needs_its_service_command_and_prune_and_nothing_of_a_snapshots() {
    let src = r#"[slack]
workspace = "T1"
[environments.prod]
cluster = "prod"
[services.worker]
envs = ["prod"]
repository = "worker"
[backups.incremental]
env = "prod"
kind = "ecs-task"
target = "pg"
schedule = "cron(0 0/6 * * ? *)"
service = "wroker"
command = []
before_deploy = ["worker"]
retention = { daily = 7 }
[backups.nightly]
env = "prod"
kind = "rds-instance"
target = "db"
schedule = "cron(0 3 * * ? *)"
prune = ["x"]
retention = { daily = 7 }
"#;
    let err = mistakes(src);
    let got: Vec<(usize, &str)> = err.iter().map(|e| (e.line, e.message.as_str())).collect();
    for e in [
        (14, "`backups.incremental.command` is missing or empty"),
        (8, "`backups.incremental.prune` is missing or empty"),
        (
            15,
            "`backups.incremental` is an `ecs-task` plan: it cannot run before a deploy",
        ),
        (22, "`backups.nightly.prune` is for `ecs-task` plans"),
        (
            13,
            "unknown service `wroker` in backups.incremental.service",
        ),
    ] {
        assert!(got.contains(&e), "{e:?} not in {got:#?}");
    }
    let fixed = src
        .replace("wroker", "worker")
        .replace(
            "command = []",
            "command = [\"bin/backup\"]\nprune = [\"bin/backup\", \"expire\", \"{artifact}\"]",
        )
        .replace("before_deploy = [\"worker\"]\n", "")
        .replace("prune = [\"x\"]\n", "");
    let c = Config::parse("ok.toml", &fixed).unwrap();
    let task = c.backups["incremental"].task.clone().unwrap();
    assert_eq!(
        task.prune_command("20261207-0000F"),
        ["bin/backup", "expire", "20261207-0000F"]
    );
    assert_eq!(
        TaskBackup::artifact(&[
            "pgbackrest: ok".into(),
            "deckhand-artifact: 20261207-0000F".into()
        ]),
        Some("20261207-0000F".into())
    );
    assert_eq!(TaskBackup::artifact(&["done".into()]), None);
}

#[test]
fn a_default_lock_longer_than_the_longest_is_refused() {
    let src = r#"
[slack]
workspace = "T1"
[environments.prod]
cluster = "prod"
lock_default = "2d"
lock_max = "1d"
"#;
    let err = mistakes(src);
    assert_eq!(err.len(), 1, "{err:?}");
    assert_eq!((err[0].line, err[0].column), (6, 16));
    assert!(
        err[0]
            .message
            .contains("is longer than `environments.prod.lock_max`")
    );
    let ok = Config::parse("ok.toml", &src.replace("\"2d\"", "\"12h\"")).unwrap();
    let prod = ok.env("prod").unwrap();
    assert_eq!(
        (prod.lock_default, prod.lock_max),
        (
            SignedDuration::from_hours(12),
            SignedDuration::from_hours(24)
        )
    );
}

#[test]
fn every_mistake_is_reported_with_line_column_and_fix() {
    let src = r#"
[slack]
workspace = "T1"
[groups.platform]
members = ["slack:U1234"]
[environments.prod]
cluster = "prod"
approvers = "platfrom"
required_approvals = 1
[services.api]
envs = ["prodd"]
repository = "api"
[backups.nightly]
env = "prod"
kind = "rds-instance"
target = "db"
schedule = "cron(0 3 * *)"
retention = { daily = 7 }
"#;
    let err = mistakes(src);
    let summary: Vec<_> = err
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str(), e.help.as_deref()))
        .collect();
    assert_eq!(err.len(), 3, "{summary:#?}");
    assert_eq!(summary[0].0, 8);
    assert_eq!(summary[0].1, 13);
    assert!(summary[0].2.contains("unknown group `platfrom`"));
    assert_eq!(summary[0].3, Some("did you mean `platform`?"));
    assert_eq!((summary[1].0, summary[1].1), (11, 9));
    assert_eq!(
        summary[1].2,
        "unknown environment `prodd` in services.api.envs"
    );
    assert_eq!(summary[1].3, Some("did you mean `prod`?"));
    assert_eq!(summary[2].0, 17);
    assert!(summary[2].2.contains("6 fields"), "{}", summary[2].2);
}

#[test]
fn unknown_keys_and_wrong_types_are_all_reported() {
    let src = "[slack]\nworkspace = \"T1\"\n[environments.prod]\nclustr = \"x\"\nrequired_approvals = \"two\"\nbake = \"soon\"\n";
    let err = mistakes(src);
    let messages: Vec<_> = err
        .iter()
        .map(|e| format!("{}:{} {} {:?}", e.line, e.column, e.message, e.help))
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("4:1 unknown key `clustr`")
                && m.contains("did you mean `cluster`")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("is missing `cluster`")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("5:22") && m.contains("whole number")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("6:8") && m.contains("not a duration")),
        "{messages:#?}"
    );
}

#[test]
fn backup_plan_names_must_fit_snapshot_identifiers() {
    let src = EXAMPLE.replace("[backups.staging-db]", "[backups.Staging_DB]");
    let err = mistakes(&src);
    assert_eq!(err.len(), 1, "{err:#?}");
    assert!(err[0].message.contains("cannot name a backup plan"));
}

#[test]
fn syntax_errors_point_at_the_line() {
    let err = mistakes("[slack]\nworkspace = \n");
    assert_eq!(err.first().map(|e| e.line), Some(2));
}

#[test]
fn promotion_loops_and_impossible_approvals_are_refused() {
    let src = r#"
[slack]
workspace = "T1"
[groups.a]
members = ["slack:U1234"]
[environments.x]
cluster = "c"
after = "y"
approvers = "a"
required_approvals = 2
[environments.y]
cluster = "c"
after = "x"
"#;
    let err = mistakes(src);
    let all = err
        .iter()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("loops back"), "{all}");
    assert!(all.contains("could ever be approved"), "{all}");
}

#[test]
fn schedules_are_checked_the_way_eventbridge_reads_them() {
    assert!(check_schedule("cron(0 3 * * ? *)").is_ok());
    assert!(check_schedule("cron(15 2 ? * MON-FRI *)").is_ok());
    assert!(check_schedule("rate(1 day)").is_ok());
    assert!(check_schedule("rate(12 hours)").is_ok());
    assert!(check_schedule("cron(0 3 * * *)").is_err());
    assert!(check_schedule("cron(0 25 * * ? *)").is_err());
    assert!(check_schedule("rate(1 days)").is_err());
    assert!(check_schedule("every day").is_err());
}

#[test]
fn durations_read_like_people_write_them() {
    assert_eq!(parse_duration("2h"), Some(SignedDuration::from_hours(2)));
    assert_eq!(parse_duration("7d"), Some(SignedDuration::from_hours(168)));
    assert_eq!(
        parse_duration("1h 30m"),
        Some(SignedDuration::from_mins(90))
    );
    assert_eq!(parse_duration("0m"), None);
    assert_eq!(parse_duration("soon"), None);
}

/// Every mistake `src` has, in file order; none when it reads.
fn mistakes(src: &str) -> Vec<LocatedDiagnostic> {
    Config::parse("bad.toml", src)
        .err()
        .map(|e| e.errors)
        .unwrap_or_default()
}

const BASE: &str = "[slack]\nworkspace = \"T1\"\n";

#[test]
fn a_freeze_that_ends_before_it_starts_points_at_until_with_a_fix() {
    let src = format!(
        "{BASE}[environments.prod]\ncluster = \"prod\"\n[[environments.prod.freeze]]\nname = \"year-end\"\ntimezone = \"UTC\"\nfrom = \"2027-01-02 00:00\"\nuntil = \"2026-12-23 00:00\"\n"
    );
    let m = mistakes(&src);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!((m[0].line, m[0].column), (9, 9), "{m:?}");
    assert!(m[0].source_line.starts_with("until"), "{m:?}");
    assert!(
        m[0].help
            .as_deref()
            .unwrap()
            .contains("until = \"2027-01-03 00:00\""),
        "{m:?}"
    );
}

#[test]
fn syntax_errors_duplicate_keys_and_wrong_types_each_carry_a_fix() {
    let duplicate = mistakes(&format!(
        "{BASE}[environments.prod]\ncluster = \"prod\"\ncluster = \"prod2\"\n"
    ));
    assert_eq!(duplicate.len(), 1, "{duplicate:?}");
    assert!(
        duplicate[0].message.contains("duplicate key"),
        "{duplicate:?}"
    );
    assert!(
        duplicate[0]
            .help
            .as_deref()
            .unwrap()
            .contains("appears once"),
        "{duplicate:?}"
    );
    let syntax = mistakes(&format!("{BASE}[environments.prod\ncluster = prod\n"));
    assert!(!syntax.is_empty());
    assert!(syntax.iter().all(|d| d.help.is_some()), "{syntax:?}");
    let typed = mistakes(&format!(
        "{BASE}[environments.prod]\ncluster = 7\nhold_after_rollback = \"yes\"\nrequired_approvals = \"1\"\naliases = \"production\"\n"
    ));
    assert_eq!(typed.len(), 4, "{typed:?}");
    assert!(typed.iter().all(|d| d.help.is_some()), "{typed:?}");
    assert!(
        typed[0].help.as_deref().unwrap().contains("quote it"),
        "{typed:?}"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_a_mistake_at_its_line_and_column() {
    let mut bytes = format!("{BASE}[environments.prod]\ncluster = \"caf").into_bytes();
    bytes.push(0xe9); // Latin-1 é
    bytes.extend_from_slice(b"\"\n");
    let m = Config::parse_bytes("latin1.toml", &bytes)
        .unwrap_err()
        .errors;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!((m[0].line, m[0].column), (4, 15), "{m:?}");
    assert!(m[0].message.contains("not UTF-8 text (byte 0xe9)"), "{m:?}");
    assert!(m[0].help.as_deref().unwrap().contains("save it as UTF-8"));
}
