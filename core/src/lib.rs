//! Deckhand's domain, with no I/O.
//!
//! Everything Deckhand decides is decided here, as plain functions over plain data: the
//! configuration ([`config`]), what people type ([`command`]), who may do what ([`policy`]),
//! the deployment lifecycle ([`deployment`]), which revision to roll back to ([`rollback`]),
//! which snapshots to prune ([`retention`]), and what a card shows ([`card`]). The outside world
//! is reached only through the traits in [`ports`], which the `deckhand-aws` and
//! `deckhand-functions` crates implement; [`usecases`] are the async functions that tie the two together.
//!
//! Deliberately absent: any AWS, Slack, Discord or HTTP crate, and any async runtime. CI checks
//! that with `cargo tree -p deckhand-core -e normal`.
//!
//! Start reading at [`deployment::Deployment::apply`], then [`usecases`].

pub mod card;
pub mod check;
pub mod command;
pub mod config;
pub mod deployment;
pub mod freeze;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod policy;
pub mod ports;
pub mod retention;
pub mod rollback;
pub mod rollout;
pub mod schedule;
pub mod suggest;
pub mod types;
pub mod usecases;

#[cfg(test)]
#[path = "tests/testkit.rs"]
pub(crate) mod testkit;
