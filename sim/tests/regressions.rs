//! The sequences the simulation found breaking an invariant, shrunk and kept in
//! `regressions.txt` (its head says how to add one). Each must never show its kind of
//! violation again — unless the kind is a known failure (`check::KNOWN`, `check::PENDING`),
//! when it must still show it, so the issue that fixes the kind knows to take it off the list.
//! `REGRESSION=<seed>` runs one entry alone.
#![allow(clippy::expect_used)] // test code: a file that does not read should fail loudly

use deckhand_sim::step::{Step, random_sequence};
use deckhand_sim::{Regression, check, regressions, run_in_memory};

fn recorded() -> Vec<Regression> {
    let all = regressions(include_str!("regressions.txt")).expect("regressions.txt reads");
    assert!(!all.is_empty(), "regressions.txt holds no entry");
    all
}

fn known(kind: &str) -> bool {
    check::KNOWN.iter().any(|(k, _)| *k == kind)
        || check::PENDING
            .iter()
            .any(|(n, _)| kind.starts_with(&format!("{n}-")))
}

#[test]
fn every_regression_fails_exactly_while_its_kind_is_known() {
    let only = std::env::var("REGRESSION").ok();
    let mut wrong = Vec::new();
    for r in recorded() {
        if only.as_ref().is_some_and(|seed| *seed != r.seed) {
            continue;
        }
        let out = run_in_memory(&r.steps);
        let (shown, known) = (out.shows(&r.kind), known(&r.kind));
        if shown != known {
            let what = if known {
                "no longer fails: take its kind off check::KNOWN"
            } else {
                "fails again"
            };
            let violations: Vec<String> = out.violations.iter().map(ToString::to_string).collect();
            wrong.push(format!(
                "{} {}: {what}\n# {}\n{}\n\ntrace:\n{}",
                r.kind,
                r.seed,
                r.notes,
                violations.join("\n"),
                out.trace.join("\n")
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// Entries are kept in the form steps print in: every one reads back as the step it was.
#[test]
fn steps_read_back_as_they_print() {
    let kept = recorded().into_iter().flat_map(|r| r.steps);
    let random = (0..200).flat_map(|seed| random_sequence(seed, 20, 40));
    for step in kept.chain(random) {
        let printed = format!("{step:?}");
        assert_eq!(printed.parse::<Step>(), Ok(step), "{printed}");
    }
    for bad in [
        "Build { service: Api }",
        "step(Build { service: Api, version: 1 }).fly()",
    ] {
        assert!(bad.parse::<Step>().is_err(), "{bad}");
    }
}
