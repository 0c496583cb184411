//! `just simulate [N] [SEED]`: runs N random sequences (default 10,000) from SEED (default: the
//! time), on every core, with a progress bar; then prints the summary and, for the first
//! sequence breaking each invariant, its shrunk form as an entry ready to paste into `sim/tests/regressions.txt`.
//! Exits 1 when an invariant that is neither pending nor known broke.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use deckhand_sim::{Budget, Summary, check, explore, regression, run_in_memory, shrink};
use indicatif::{ProgressBar, ProgressStyle};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!(
            "usage: simulate [SEQUENCES] [SEED]\n  SEQUENCES  how many random sequences to run (default 10000)\n  SEED       the run's seed, decimal or 0x-hex (default: from the clock)"
        );
        return ExitCode::SUCCESS;
    }
    let sequences = match args.first().map(|a| a.replace('_', "").parse::<u64>()) {
        None => 10_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("simulate: SEQUENCES must be a number ({e})");
            return ExitCode::from(2);
        }
    };
    let seed = match args.get(1) {
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        Some(raw) => {
            let parsed = match raw.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => raw.parse(),
            };
            match parsed {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("simulate: SEED must be a number ({e})");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let budget = Budget {
        sequences,
        min_steps: 50,
        max_steps: 200,
        seed,
    };
    let jobs = std::thread::available_parallelism().map_or(1, usize::from) as u64;
    eprintln!(
        "simulating {sequences} sequences of 50–200 steps from seed {seed:#x} on {jobs} threads"
    );
    let bar = Arc::new(ProgressBar::new(sequences));
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} sequences  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let per = sequences.div_ceil(jobs);
    let workers: Vec<_> = (0..jobs)
        .map(|j| {
            let bar = Arc::clone(&bar);
            let (lo, hi) = ((j * per).min(sequences), ((j + 1) * per).min(sequences));
            std::thread::spawn(move || explore(&budget, lo, hi, &|| bar.inc(1)))
        })
        .collect();
    let mut summary = Summary::default();
    for w in workers {
        match w.join() {
            Ok(s) => summary.merge(s),
            Err(_) => {
                eprintln!("simulate: a worker panicked (its message is above)");
                return ExitCode::FAILURE;
            }
        }
    }
    summary.elapsed = started.elapsed();
    bar.finish_and_clear();
    println!("{}", summary.report());
    for f in &summary.first {
        let shrunk = shrink(&f.steps, f.violation.kind);
        let status = match (check::pending(&f.violation), check::known(&f.violation)) {
            (Some(why), _) => format!("pending: {why}"),
            (_, Some(why)) => format!("known: {why}"),
            _ => "NEW".to_owned(),
        };
        println!(
            "── {} ({status})\n{}\nseed {:#018x}, shrunk from {} to {} steps:\n\n{}",
            f.violation.kind,
            f.violation,
            f.seed,
            f.steps.len(),
            shrunk.len(),
            regression(f.seed, &f.violation, &shrunk)
        );
        if std::env::var_os("SIM_TRACE").is_some() {
            println!("trace:\n{}\n", run_in_memory(&shrunk).trace.join("\n"));
        }
    }
    if summary.unexpected().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
