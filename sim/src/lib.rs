//! A deterministic simulation of Deckhand's engine.
//!
//! One seeded generator ([`rng::Rng`]) picks every input the engine meets — deploy requests
//! from the right and the wrong people, approvals and rejections, dispatched work, ECS outcomes
//! (completed, stopped by the circuit breaker, never reported), alarms in and out of ALARM with
//! CloudWatch's repeated reason texts, builds, `/rollback`, `/lock`, `/unlock`, maintenance
//! ticks, clock jumps, redeliveries of any earlier event — and the faults around them: a
//! process dying after any port call, chat down, an event delivered twice in a row or twice at
//! once. It drives core's [`App`](deckhand_core::usecases::App) over [`world::SimPorts`] (a
//! world that behaves like ECS where it matters, and any `Store`) and checks the nine invariants
//! of [`check::INVARIANTS`] after every step. At the end of a sequence it drains: retries what
//! died, runs queued work, lets ECS finish, runs maintenance, and then nothing may be left half
//! done.
//!
//! A violation is shrunk ([`shrink`]: delta debugging over steps, then over faults) and printed
//! as an entry ready to paste into `sim/tests/regressions.txt` ([`regression`]).
//!
//! Why hand-rolled rather than `proptest-state-machine`: a step here is an async delivery that
//! may die half-way (its future is dropped at a port call), and a failure must print as a
//! sequence of plain steps a person can read and paste; a seeded loop with a delta-debugging
//! shrinker does both in a few hundred lines, and the same loop runs on DynamoDB.

pub mod check;
pub mod rng;
mod run;
pub mod step;
pub mod world;

use std::time::{Duration, Instant};

use deckhand_core::memory::Memory;
use deckhand_core::ports::Store;

pub use check::{INVARIANTS, KNOWN, PENDING, Violation};
pub use run::{Answer, Delivery, Sim, TICK, config, start};
use step::Step;

/// What running one sequence found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub violations: Vec<Violation>,
    pub trace: Vec<String>,
    /// Steps run, the drain's included.
    pub steps: usize,
}

impl Outcome {
    pub fn violates(&self, invariant: u8) -> bool {
        self.violations.iter().any(|v| v.invariant == invariant)
    }

    pub fn shows(&self, kind: &str) -> bool {
        self.violations.iter().any(|v| v.kind == kind)
    }
}

/// Runs `steps` (then the drain) on `store`.
pub async fn run_on<S: Store + Clone>(store: S, steps: &[Step]) -> Outcome {
    let mut sim = Sim::new(store);
    Box::pin(sim.run(steps)).await;
    Outcome {
        steps: sim.trace.iter().filter(|l| !l.starts_with("     ")).count(),
        violations: sim.violations,
        trace: sim.trace,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => panic!("no tokio runtime for the simulation: {e}"),
    }
}

/// Runs `steps` on core's in-memory store, on a runtime of its own.
pub fn run_in_memory(steps: &[Step]) -> Outcome {
    runtime().block_on(run_on(Memory::new(start()), steps))
}

/// The shortest sequence it can find that still shows the violation `kind`: removes chunks of
/// steps (halving the chunk size down to one step), then takes the faults off steps one by one,
/// then shortens waits, and repeats while anything changed.
pub fn shrink(steps: &[Step], kind: &str) -> Vec<Step> {
    let rt = runtime();
    let fails = |s: &[Step]| rt.block_on(run_on(Memory::new(start()), s)).shows(kind);
    let mut best = steps.to_vec();
    if !fails(&best) {
        return best;
    }
    loop {
        let len = best.len();
        let mut chunk = (best.len() / 2).max(1);
        loop {
            let mut i = 0;
            while i < best.len() {
                let mut candidate = best.clone();
                let end = (i + chunk).min(candidate.len());
                candidate.drain(i..end);
                if fails(&candidate) {
                    best = candidate;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
        let mut simpler = false;
        for i in 0..best.len() {
            if best[i].fault != step::Fault::default() {
                let mut candidate = best.clone();
                candidate[i].fault = step::Fault::default();
                if fails(&candidate) {
                    best = candidate;
                    simpler = true;
                }
            }
            if let step::Event::Wait { minutes } = best[i].event
                && minutes > 1
            {
                let mut candidate = best.clone();
                candidate[i].event = step::Event::Wait {
                    minutes: minutes / 2,
                };
                if fails(&candidate) {
                    best = candidate;
                    simpler = true;
                }
            }
        }
        if best.len() == len && !simpler {
            return best;
        }
    }
}

/// A failing sequence as an entry for `sim/tests/regressions.txt`: what it broke as a comment,
/// the kind and seed, then the shrunk steps one a line, in the form [`Step`] prints and reads.
pub fn regression(seed: u64, v: &Violation, steps: &[Step]) -> String {
    let mut out = format!(
        "# Found by seed {seed:#018x}: {}\n{} {seed:#018x}\n",
        v.detail.replace('\n', " "),
        v.kind
    );
    for s in steps {
        out.push_str(&format!("    {s:?}\n"));
    }
    out
}

/// A shrunk failing sequence kept as a regression: the kind of violation it showed, the seed
/// that found it, what the file says of it, and its steps.
#[derive(Debug, Clone)]
pub struct Regression {
    pub kind: String,
    pub seed: String,
    pub notes: String,
    pub steps: Vec<Step>,
}

/// Reads `sim/tests/regressions.txt`: each entry is its `#` notes, a line `KIND SEED`, and its
/// steps indented below it; a blank line ends a run of notes that belongs to no entry.
pub fn regressions(text: &str) -> Result<Vec<Regression>, String> {
    let mut out: Vec<Regression> = Vec::new();
    let mut notes = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", n + 1);
        if let Some(note) = line.strip_prefix('#') {
            notes.push(note.trim());
        } else if line.trim().is_empty() {
            notes.clear();
        } else if line.starts_with(char::is_whitespace) {
            let entry = out
                .last_mut()
                .ok_or_else(|| at("a step before any entry".into()))?;
            entry.steps.push(line.parse().map_err(at)?);
        } else {
            let (kind, seed) = line
                .split_once(' ')
                .ok_or_else(|| at(format!("`{line}` is not `KIND SEED`")))?;
            out.push(Regression {
                kind: kind.to_owned(),
                seed: seed.trim().to_owned(),
                notes: notes.join(" "),
                steps: Vec::new(),
            });
            notes.clear();
        }
    }
    Ok(out)
}

/// How much to explore.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub sequences: u64,
    pub min_steps: usize,
    pub max_steps: usize,
    pub seed: u64,
}

impl Budget {
    /// The `i`th sequence of this budget.
    pub fn sequence(&self, i: u64) -> (u64, Vec<Step>) {
        let seed = rng::Rng::derive(self.seed, i);
        (
            seed,
            step::random_sequence(seed, self.min_steps, self.max_steps),
        )
    }
}

/// The first sequence found showing one kind of violation.
#[derive(Debug, Clone)]
pub struct Found {
    pub seed: u64,
    pub violation: Violation,
    pub steps: Vec<Step>,
}

/// What a budget found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub sequences: u64,
    pub steps: u64,
    pub elapsed: Duration,
    /// Per invariant (index 0 is invariant 1): how many sequences broke it.
    pub broken: [u64; 9],
    /// The first sequence that showed each kind of violation.
    pub first: Vec<Found>,
}

impl Summary {
    pub fn add(&mut self, seed: u64, steps: &[Step], out: &Outcome) {
        self.sequences += 1;
        self.steps += out.steps as u64;
        let mut broken: Vec<u8> = out.violations.iter().map(|v| v.invariant).collect();
        broken.dedup();
        for n in broken {
            if let Some(count) = self.broken.get_mut(usize::from(n).wrapping_sub(1)) {
                *count += 1;
            }
        }
        for v in &out.violations {
            if !self.first.iter().any(|f| f.violation.kind == v.kind) {
                self.first.push(Found {
                    seed,
                    violation: v.clone(),
                    steps: steps.to_vec(),
                });
            }
        }
    }

    pub fn merge(&mut self, other: Summary) {
        self.sequences += other.sequences;
        self.steps += other.steps;
        for (a, b) in self.broken.iter_mut().zip(other.broken) {
            *a += b;
        }
        for f in other.first {
            match self
                .first
                .iter_mut()
                .find(|g| g.violation.kind == f.violation.kind)
            {
                Some(g) if g.seed > f.seed => *g = f,
                Some(_) => {}
                None => self.first.push(f),
            }
        }
        self.first.sort_by_key(|f| f.violation.kind);
    }

    /// Invariants broken that are neither pending nor known: what fails a run.
    pub fn unexpected(&self) -> Vec<&Found> {
        self.first
            .iter()
            .filter(|f| {
                check::pending(&f.violation).is_none() && check::known(&f.violation).is_none()
            })
            .collect()
    }

    /// Sequences, steps, time, and violations by invariant.
    pub fn report(&self) -> String {
        let mut out = format!(
            "{} sequences, {} steps in {:.1} s ({:.0} steps/s)\n",
            self.sequences,
            self.steps,
            self.elapsed.as_secs_f64(),
            self.steps as f64 / self.elapsed.as_secs_f64().max(1e-9)
        );
        for (i, what) in INVARIANTS.iter().enumerate() {
            let n = (i + 1) as u8;
            out.push_str(&format!("  {n}. {:>6} sequences  {what}\n", self.broken[i]));
            for f in self.first.iter().filter(|f| f.violation.invariant == n) {
                let status = match (check::pending(&f.violation), check::known(&f.violation)) {
                    (Some(_), _) => "pending",
                    (_, Some(_)) => "known",
                    _ => "NEW",
                };
                out.push_str(&format!(
                    "       {:<34} {status:<8} first: seed {:#018x}\n",
                    f.violation.kind, f.seed
                ));
            }
        }
        out
    }
}

/// Runs the budget's sequences `lo..hi` on the in-memory store, calling `tick` after each.
pub fn explore(budget: &Budget, lo: u64, hi: u64, tick: &dyn Fn()) -> Summary {
    let rt = runtime();
    let started = Instant::now();
    let mut summary = Summary::default();
    for i in lo..hi {
        let (seed, steps) = budget.sequence(i);
        let out = rt.block_on(run_on(Memory::new(start()), &steps));
        summary.add(seed, &steps, &out);
        tick();
    }
    summary.elapsed = started.elapsed();
    summary
}
