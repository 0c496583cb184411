//! `deckhand check-config` as a person runs it.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed setup should fail loudly

use std::process::Command;

fn deckhand(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(args)
        .output()
        .expect("the deckhand binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn example() -> String {
    format!(
        "{}/../infra/deckhand.example.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn the_example_config_checks_clean() {
    let (code, stdout, stderr) = deckhand(&["check-config", &example()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("ok — 3 environments (dev → staging → prod), 3 services, 2 groups"),
        "{stdout}"
    );
}

#[test]
fn a_config_with_three_mistakes_names_all_three_with_line_and_column() {
    let dir = std::env::temp_dir().join(format!("deckhand-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("deckhand.toml");
    let good = std::fs::read_to_string(example()).expect("example");
    let bad = good
        .replace("approvers = \"platform\"", "approvers = \"platfrom\"")
        .replace(
            "[services.web]\nenvs = [\"dev\", \"staging\", \"prod\"]",
            "[services.web]\nenvs = [\"dev\", \"staging\", \"prodd\"]",
        )
        .replace("schedule = \"rate(1 day)\"", "schedule = \"rate(1 days)\"");
    assert_ne!(bad, good);
    std::fs::write(&path, &bad).expect("write");
    let (code, _, stderr) = deckhand(&["check-config", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1, "{stderr}");
    // Each mistake: where it is (line of the needle, column), what it says, what to do.
    for (needle, column, error, hint) in [
        (
            "platfrom",
            13,
            "unknown group `platfrom`",
            "did you mean `platform`?",
        ),
        (
            "\"prodd\"",
            27,
            "unknown environment `prodd` in services.web.envs",
            "did you mean `prod`?",
        ),
        (
            "rate(1 days)",
            12,
            "`backups.staging-db.schedule`",
            "write `rate(1 day)` or `rate(12 hours)`",
        ),
    ] {
        let line = bad
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .expect("needle present");
        let at = format!("{}:{line}:{column}: error: {error}", path.display());
        assert!(stderr.contains(&at), "{at:?} in:\n{stderr}");
        assert!(stderr.contains(hint), "{hint:?} in:\n{stderr}");
    }
    assert!(stderr.trim_end().ends_with("3 mistakes"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unreadable_path_is_a_clear_error() {
    let (code, _, stderr) = deckhand(&["check-config", "/nonexistent/deckhand.toml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot read /nonexistent/deckhand.toml"),
        "{stderr}"
    );
}
