//! The simulation on DynamoDB: the same seeded sequences as `cargo test -p deckhand-sim`, a
//! few dozen of them, with the real store's conditional writes on the emulator in place of the
//! in-memory store. Each sequence must find exactly what it finds in memory: the in-memory
//! store is the simulation's model of DynamoDB's contract, and this is where the model is held
//! to the real thing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::collections::BTreeSet;

use deckhand_core::memory::Memory;
use deckhand_harness::{Emulator, Seed};
use deckhand_sim::{Budget, Outcome, Summary, run_on, start};

fn kinds(o: &Outcome) -> BTreeSet<&'static str> {
    o.violations.iter().map(|v| v.kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulation_finds_on_dynamodb_what_it_finds_in_memory() {
    let seed = Seed::new(Emulator::shared().expect("the emulator starts")).await;
    let budget = Budget {
        sequences: 24,
        min_steps: 15,
        max_steps: 45,
        seed: 0xD1A_0DB,
    };
    let started = std::time::Instant::now();
    // A few sequences at once, each on a table of its own: the emulator and the SDK's debug
    // build are the cost here, not the simulation.
    let mut runs = tokio::task::JoinSet::new();
    let mut summary = Summary::default();
    let mut next = 0;
    loop {
        while next < budget.sequences && runs.len() < 4 {
            let (s, steps) = budget.sequence(next);
            let store = seed.table().await.expect("a fresh table");
            let i = next;
            runs.spawn(async move {
                let on_dynamo = run_on(store, &steps).await;
                let in_memory = run_on(Memory::new(start()), &steps).await;
                (i, s, steps, on_dynamo, in_memory)
            });
            next += 1;
        }
        let Some(done) = runs.join_next().await else {
            break;
        };
        let (i, s, steps, on_dynamo, in_memory) = done.expect("a sequence ran to its end");
        assert_eq!(
            kinds(&on_dynamo),
            kinds(&in_memory),
            "sequence {i} (seed {s:#018x}) differs between DynamoDB and memory\n\nDynamoDB:\n{}\n\nmemory:\n{}",
            on_dynamo.trace.join("\n"),
            in_memory.trace.join("\n")
        );
        summary.add(s, &steps, &on_dynamo);
    }
    summary.elapsed = started.elapsed();
    println!("on DynamoDB: {}", summary.report());
    assert_eq!(summary.sequences, budget.sequences);
    let unexpected = summary.unexpected();
    assert!(
        unexpected.is_empty(),
        "new violations on DynamoDB:\n{}",
        unexpected
            .iter()
            .map(|f| format!("{} (seed {:#018x})", f.violation, f.seed))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
