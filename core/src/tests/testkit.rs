//! Shared helpers for core's unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::config::Config;
use crate::deployment::ImageRef;
use crate::rollback::{Origin, Release, Verdict};
use crate::types::{
    Actor, ChatKind, DeploymentId, Digest, EnvName, ServiceName, SignedDuration, Timestamp, Version,
};

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

/// A digest made of one repeated byte: `digest(3)` is `sha256:0303…`.
pub(crate) fn digest(n: u8) -> Digest {
    Digest::parse(&format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap()
}

/// Release `n` of prod's api (v1.0.n, task definition `api:n`), live since `succeeded` after
/// a five-minute rollout.
pub(crate) fn release(n: u8, succeeded: &str, verdict: Verdict) -> Release {
    Release {
        env: EnvName::parse("prod").unwrap(),
        service: ServiceName::parse("api").unwrap(),
        deployment: DeploymentId::derive(at(succeeded), &n.to_string()),
        image: ImageRef {
            repository: "acme/api".into(),
            tag: Version::parse(&format!("v1.0.{n}")).unwrap(),
            digest: digest(n),
        },
        task_definition: format!("api:{n}"),
        started_at: at(succeeded) - SignedDuration::from_mins(5),
        succeeded_at: at(succeeded),
        verdict,
        origin: Origin::Release,
    }
}
