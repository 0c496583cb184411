//! `deckhand dev` as a person uses it: commands typed on stdin, buttons pressed by number.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed setup should fail loudly

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Runs `deckhand dev` on `script` (one line per thing typed) and returns what it printed.
fn dev(script: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .arg("dev")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the deckhand binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

fn assert_has(stdout: &str, expected: &[&str]) {
    for e in expected {
        assert!(stdout.contains(e), "missing {e:?} in:\n{stdout}");
    }
}

#[test]
fn typed_commands_and_a_pressed_button_ship_a_build_to_prod() {
    let script = "build api v1.2.3\n\
                  in C0PRODOPS\n\
                  /deploy prod api v1.2.3\n\
                  1\n\
                  as bob\n\
                  1\n\
                  /deploy prod nope v1\n\
                  teleport\n\
                  quit\n";
    let stdout = dev(script);
    for expected in [
        // The build reached staging by itself.
        "#C0DEPLOYS · Deckhand: 📦 Build api v1.2.3",
        "↳ #C0DEPLOYS thread · api is running v1.2.3.",
        // Alice may not approve her own deploy; pressing 1 as her says so, to her alone.
        "(only alice sees) you asked for this deploy, so someone else has to approve it",
        // Bob's press of the same button does it.
        "Approvals: 1/1 — bob",
        "↳ #C0PRODOPS thread · api is running v1.2.3.",
        // Mistakes get an answer, not a crash.
        "(only bob sees)",
        "error: not a command; type `help`",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(!stdout.contains("\x1b["), "no colour when NO_COLOR is set");
}

/// The first wave's worst sequence, replayed: v1.2.3 ships and bakes, v1.2.4 ships, an alarm
/// rolls it back, and the same alarm firing again inside the rollback's watch must not ship the
/// bad v1.2.4 back (nor roll v1.2.3 onto itself): it holds and asks a person.
#[test]
fn a_second_alarm_holds_instead_of_shipping_the_bad_release_back() {
    let stdout = dev("build api v1.2.3\n\
                      build api v1.2.4\n\
                      in C0PRODOPS\n\
                      /deploy prod api v1.2.3\n\
                      as bob\n\
                      1\n\
                      wait 40m\n\
                      as alice\n\
                      /deploy prod api v1.2.4\n\
                      as bob\n\
                      1\n\
                      wait 4m\n\
                      alarm api-prod-5xx\n\
                      wait 27m\n\
                      alarm api-prod-5xx\n\
                      /deploy prod api v1.2.4\n\
                      /rollback prod api\n\
                      /history prod\n\
                      quit\n");
    assert_has(
        &stdout,
        &[
            // The card of the second release says what it replaces, not "?".
            "Services: api: v1.2.3 → v1.2.4",
            "Rolling api back to v1.2.3 (",
            // The bad release's own record is honest.
            "by alarm api-prod-5xx (→ v1.2.3): went into ALARM",
            "v1.2.4   rolled back",
            // The second alarm: a hold and a person, not a rollback.
            "api is alarming on its known-good v1.2.3; not rolling back further — someone needs to look.",
            // The hold holds by hand too.
            "Not deploying api v1.2.4 to prod: api in prod is held since",
            // Rolling back to what already runs is answered at once.
            "api already runs its known-good v1.2.3; nothing to roll back",
        ],
    );
    assert!(!stdout.contains("back to v1.2.4"), "{stdout}");
    assert_eq!(
        stdout
            .matches("posted a card\n  │ Automatic rollback")
            .count(),
        1,
        "one rollback, never a rollback of the rollback:\n{stdout}"
    );
}

/// A team adopting Deckhand: the very first release of web to prod alarms, and there is
/// somewhere to go back to — what ran before Deckhand, adopted as the baseline.
#[test]
fn the_first_release_rolls_back_to_the_adopted_baseline() {
    let stdout = dev("build web v1.2.3\n\
                      in C0PRODOPS\n\
                      /deploy prod web v1.2.3\n\
                      as bob\n\
                      1\n\
                      wait 5m\n\
                      alarm web-prod-errors\n\
                      /history prod\n\
                      quit\n");
    assert_has(
        &stdout,
        &[
            "Rolling web back to v1.2.2 (the adopted baseline) (",
            "↳ #C0PRODOPS thread · web is running v1.2.2.",
            "v1.2.3   rolled back",
        ],
    );
    assert!(!stdout.contains("no known-good revision"), "{stdout}");
}

/// Time is an input: an approval nobody clicks expires on its own (card updated, buttons gone,
/// requester told), and a `/lock` with a duration lapses and says so.
#[test]
fn an_unclicked_approval_expires_and_a_timed_lock_lapses_with_nobody_clicking() {
    let stdout = dev("build api v1.2.3\n\
                      in C0PRODOPS\n\
                      /deploy prod api v1.2.3\n\
                      wait 3h\n\
                      /lock prod 1h load test\n\
                      /status prod\n\
                      wait 2h\n\
                      /status prod\n\
                      quit\n");
    assert_has(
        &stdout,
        &[
            "without enough approvals",
            "⌛ alice: nobody approved this by",
            "maintenance: 1 release became known-good; expired ",
            "Locked prod until ",
            "locked by alice since ",
            "🔓 alice's lock on prod lapsed (load test); deploys are open again.",
            "2h later; maintenance: released prod (alice)",
        ],
    );
    // The expired card lost its buttons: after the first wait, none are listed again.
    let after_expiry = stdout.split("3h later").nth(1).unwrap_or_default();
    assert!(!after_expiry.contains("[ Approve ]"), "{stdout}");
    let last_status = stdout.rsplit("Status of prod").next().unwrap_or_default();
    assert!(!last_status.contains("locked by"), "{stdout}");
}

/// Work lost in flight (the dispatch after an approval never arrived) is finished by the next
/// maintenance run, from where the store says.
#[test]
fn a_deployment_whose_work_was_dropped_is_finished_by_the_next_wait() {
    let stdout = dev("build api v1.2.3\n\
                      in C0PRODOPS\n\
                      /deploy prod api v1.2.3\n\
                      as bob\n\
                      drop work\n\
                      1\n\
                      wait 10m\n\
                      /history prod\n\
                      quit\n");
    assert_has(&stdout, &["was lost)", "10m later; maintenance: resumed "]);
    let after = stdout.split("was lost)").nth(1).unwrap_or_default();
    assert_has(
        after,
        &[
            "api is running v1.2.3.",
            "✅ Succeeded",
            "v1.2.3   succeeded",
        ],
    );
}

#[test]
fn a_failing_check_or_smoke_test_rolls_the_deploy_back_and_says_what_failed() {
    // moto reports exit code 0 for every task it stops: `smoke api fail` rewrites the exit code
    // the real ECS adapter read (a fault-injecting platform); the task itself runs on moto, and
    // its last log lines are read back from moto's CloudWatch Logs.
    let script = "build api v1.2.3\n\
                  health api fail\n\
                  build api v1.2.4\n\
                  health api ok\n\
                  smoke api fail\n\
                  build api v1.2.5\n\
                  quit\n";
    let stdout = dev(script);
    assert_has(
        &stdout,
        &[
            // v1.2.3 passes its checks and its smoke test.
            "Smoke test of api passed (exit 0).",
            "now answer 503",
            // v1.2.4: its `health` check fails three tries (two retries) and the deploy rolls back.
            "the `health` check of api failed after 3 tries: HTTP 503 (expected 2xx)",
            "api's smoke tests now exit 1",
            // v1.2.5: its checks pass, its smoke test exits 1, with the log's last lines.
            "the smoke test of api exited with code 1 (Essential container in task exited); its last lines:",
            "smoke: SELECT 1 → ok",
        ],
    );
    assert!(
        stdout.matches("Rolling api back").count() >= 2,
        "both failures roll api back:\n{stdout}"
    );
}
