//! `deckhand invoke` as a person runs it: the real binary, the real adapters, the AWS emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::process::Command;

use deckhand_harness::{Emulator, Seed, unique};

fn events(name: &str) -> String {
    format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `deckhand invoke` against the emulator; returns (exit code, stdout, stderr).
fn invoke(emulator: &Emulator, args: &[&str]) -> (i32, String, String) {
    deckhand_harness::run_to_end(
        Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .arg("invoke")
            .args(args)
            .envs(emulator.aws_env()),
    )
}

#[tokio::test]
async fn invoke_runs_a_function_on_a_sample_event_against_the_emulator() {
    let emulator = Emulator::shared().unwrap();
    let seed = Seed::new(emulator).await;
    let table = seed.table().await.unwrap();
    let db = seed.db_instance().await.unwrap();
    let dir = std::env::temp_dir().join(unique("deckhand-invoke"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("deckhand.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[slack]
workspace = "T0DECKHAND"
[environments.prod]
cluster = "prod"
notify = {{ slack = "C0PRODOPS" }}
[services.api]
envs = ["prod"]
repository = "acme/api"
[backups.prod-db-nightly]
env = "prod"
kind = "rds-instance"
target = "{db}"
schedule = "cron(0 3 * * ? *)"
retention = {{ keep_last = 3 }}
"#
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let table = table.table().to_owned();
    let common = ["--config", config, "--table", &table];
    let args = |function: &'static str, event: &str| -> Vec<String> {
        let mut v = vec![function.to_owned(), events(event)];
        v.extend(common.iter().map(|s| (*s).to_owned()));
        v
    };
    let run = |function, event| {
        let a = args(function, event);
        invoke(emulator, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // A scheduled backup: one snapshot, tagged, recorded; the same firing again takes no second.
    let (code, first, err) = run("backup", "scheduler-backup.json");
    assert_eq!(code, 0, "{err}");
    // Nothing reaches a real chat unless asked: the report is printed where it would have gone.
    assert!(
        err.contains("chat (not sent; --real-chat posts it): POST /slack/chat.postMessage"),
        "{err}"
    );
    let first: serde_json::Value = serde_json::from_str(first.trim()).unwrap();
    assert_eq!(first["status"], "Available");
    assert_eq!(first["duplicate"], false);
    let (_, again, _) = run("backup", "scheduler-backup.json");
    let again: serde_json::Value = serde_json::from_str(again.trim()).unwrap();
    assert_eq!(again["snapshot"], first["snapshot"]);
    assert_eq!(again["duplicate"], true);
    let snapshots = seed
        .aws
        .rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .db_instance_identifier(&db)
        .send()
        .await
        .unwrap();
    assert_eq!(snapshots.db_snapshots().len(), 1);

    let (code, out, _) = run("deploy", "ecs-deployment-in-progress.json");
    assert_eq!(
        (code, out.trim()),
        (0, r#"{"ignored":"deployment still in progress"}"#)
    );
    let (code, out, _) = run("deploy", "ecs-deployment-completed.json");
    assert_eq!(code, 0);
    assert!(out.contains("was not started by Deckhand"), "{out}");

    let (code, _, err) = run("deploy", "scheduler-backup.json");
    assert_eq!(code, 1);
    assert!(
        err.contains("malformed ECS deployment state change event (id c8e8f9a2"),
        "{err}"
    );
    let (code, _, err) = run("nonsense", "scheduler-backup.json");
    assert_eq!(code, 2);
    assert!(err.contains("unknown function `nonsense`"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// On a fresh emulator the table is missing: invoke says so as a misconfiguration naming it, and
/// `--create-table` creates it and carries on.
#[tokio::test]
async fn invoke_names_a_missing_table_and_creates_it_when_asked() {
    let emulator = Emulator::shared().unwrap();
    let dir = std::env::temp_dir().join(unique("deckhand-invoke-table"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("deckhand.toml");
    std::fs::write(
        &config,
        "[slack]\nworkspace = \"T0DECKHAND\"\n[environments.prod]\ncluster = \"prod\"\n[services.api]\nenvs = [\"prod\"]\nrepository = \"acme/api\"\n",
    )
    .unwrap();
    let table = unique("fresh");
    let event = events("ecs-deployment-completed.json");
    let base = [
        "deploy",
        &event,
        "--config",
        config.to_str().unwrap(),
        "--table",
        &table,
    ];
    let (code, _, err) = invoke(emulator, &base);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("DynamoDB table {table} does not exist")),
        "{err}"
    );
    let mut create = base.to_vec();
    create.push("--create-table");
    let (code, out, err) = invoke(emulator, &create);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("created table {table}")), "{err}");
    assert!(out.contains("was not started by Deckhand"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}
