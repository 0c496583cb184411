//! Shared helpers for core's unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::config::Config;
use crate::types::{Actor, ChatKind, Timestamp};

pub(crate) fn at(raw: &str) -> Timestamp {
    raw.parse().unwrap()
}

/// The example config from `infra/`, which the tests keep valid.
pub(crate) fn config() -> Config {
    Config::parse(
        "deckhand.example.toml",
        include_str!("../../../infra/deckhand.example.toml"),
    )
    .unwrap()
}

/// A Slack person in the example workspace; `U0ALICE` is called "Alice".
pub(crate) fn person(user_id: &str) -> Actor {
    let raw = user_id.trim_start_matches("U0").to_ascii_lowercase();
    let mut name = raw.clone();
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    Actor::person(ChatKind::Slack, "T0DECKHAND", user_id, &name)
}
