//! `deckhand schedules` as an operator runs it: the real binary against the emulator's
//! EventBridge Scheduler (which keeps schedules and never fires them).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::process::Command;

use deckhand_harness::{Emulator, Seed};

/// Runs `deckhand schedules` with `args` against the emulator and `group`; returns (exit code,
/// stdout, stderr).
fn schedules(emulator: &Emulator, group: &str, args: &[&str]) -> (i32, String, String) {
    let example = format!(
        "{}/../infra/deckhand.example.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    deckhand_harness::run_to_end(
        Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .arg("schedules")
            .args(["--config", &example])
            .args(args)
            .envs(emulator.aws_env())
            .env("DECKHAND_SCHEDULE_GROUP", group)
            .env(
                "DECKHAND_BACKUP_TARGET_ARN",
                "arn:aws:lambda:us-east-1:123456789012:function:deckhand-backup:live",
            )
            .env(
                "DECKHAND_SCHEDULER_ROLE_ARN",
                "arn:aws:iam::123456789012:role/deckhand-scheduler",
            ),
    )
}

#[tokio::test]
async fn schedules_prints_the_diff_applies_it_and_then_finds_nothing_to_do() {
    let emulator = Emulator::shared().unwrap();
    let seed = Seed::new(emulator).await;
    let group = seed.schedule_group().await.unwrap();

    let (code, out, err) = schedules(emulator, &group, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("+ prod-db-nightly: cron(0 3 * * ? *) (Europe/Berlin)")
            && out.contains("+ staging-db: rate(1 day) (UTC)")
            && out.contains("--apply"),
        "{out}"
    );
    let listed = || async {
        seed.aws
            .scheduler
            .list_schedules()
            .group_name(&group)
            .send()
            .await
            .unwrap()
            .schedules()
            .len()
    };
    assert_eq!(listed().await, 0, "without --apply nothing changes");

    let (code, out, err) = schedules(emulator, &group, &["--apply"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(listed().await, 4);
    let (code, out, _) = schedules(emulator, &group, &[]);
    assert_eq!(code, 0);
    assert!(out.contains("match the config"), "{out}");
}
