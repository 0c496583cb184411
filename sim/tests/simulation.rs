//! The fixed budget `cargo test` runs: enough sequences to matter, well under a minute.

use deckhand_sim::{Budget, explore, regression, shrink};

#[test]
fn the_engine_holds_its_invariants_over_the_fixed_budget() {
    let budget = Budget {
        sequences: 2_000,
        min_steps: 50,
        max_steps: 200,
        seed: 0xDECC_4A4D,
    };
    // One half per core.
    let half = budget.sequences / 2;
    let other = std::thread::spawn(move || explore(&budget, half, budget.sequences, &|| {}));
    let mut summary = explore(&budget, 0, half, &|| {});
    summary.merge(other.join().expect("the other half ran"));
    println!("{}", summary.report());
    let unexpected = summary.unexpected();
    if !unexpected.is_empty() {
        let mut report = String::new();
        for f in unexpected {
            let shrunk = shrink(&f.steps, f.violation.kind);
            report.push_str(&format!(
                "{}\n(seed {:#018x}, shrunk from {} to {} steps)\n\n{}\n",
                f.violation,
                f.seed,
                f.steps.len(),
                shrunk.len(),
                regression(f.seed, &f.violation, &shrunk)
            ));
        }
        panic!("the simulation found violations:\n\n{report}");
    }
}
