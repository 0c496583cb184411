//! The `deckhand` command-line tool's library half: local mode ([`local`]), which runs
//! Deckhand's own handlers and router on a local AWS emulator with stand-ins for Slack and
//! Discord, for `deckhand demo`, `deckhand dev`, the end-to-end stories and the benchmarks.
//! Nothing here is linked into a Lambda function.

pub mod local;
