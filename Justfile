# Deckhand's recipes. `just` is a convenience: every recipe is one plain command you can type.
# Install: pip install rust-just==1.59.0

default:
    @just --list

# The whole story on a local AWS emulator (the README's first command).
demo:
    cargo run -p deckhand -- demo

# Type chat commands yourself against the same local stack.
dev:
    cargo run -p deckhand -- dev

# Every test (unit, property and integration), exactly as the README and CI run them.
test:
    cargo test --workspace

# The engine's deterministic simulation: N random sequences (default 10000) from SEED (default:
# the clock), with a progress bar, a summary by invariant, and each failure shrunk to a
# regression ready to paste into sim/tests/regressions.txt. SIM_TRACE=1 also prints each shrunk sequence's trace.
simulate n="10000" seed="":
    cargo run --release -q -p deckhand-sim --bin simulate -- {{n}} {{seed}}

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    "$(infra/tools/venv lint)/cfn-lint" infra/template.yaml

fmt:
    cargo fmt --all

# Validate a config and point at the line of every mistake.
check-config path="infra/deckhand.example.toml":
    cargo run -q -p deckhand -- check-config {{path}}

# Release builds of every Lambda function for arm64, one zip each, with their sizes.
build:
    infra/build

# What CI runs.
ci:
    bash .ci/run

# Benchmarks (not timed tests): acknowledgement latency, cold starts and RSS of every function,
# rollback reaction; writes docs/benchmarks.md. Builds the function binaries in the same
# profile and feature set first (one build of the AWS SDK, shared by both commands).
bench:
    cargo build --profile bench --workspace --bins --benches
    cargo bench -p deckhand --bench suite
