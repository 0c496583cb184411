//! `deckhand dev` as a person uses it: commands typed on stdin, buttons pressed by number.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed setup should fail loudly

use std::io::Write as _;
use std::process::{Command, Stdio};

#[test]
fn typed_commands_and_a_pressed_button_ship_a_build_to_prod() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .arg("dev")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the deckhand binary runs");
    let script = "build api v1.2.3\n\
                  in C0PRODOPS\n\
                  /deploy prod api v1.2.3\n\
                  1\n\
                  as bob\n\
                  1\n\
                  /deploy prod nope v1\n\
                  teleport\n\
                  quit\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
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
