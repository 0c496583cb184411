//! The domain's value types. Each one is parsed once at the edge, through one fallible
//! constructor, and then trusted everywhere: nothing downstream re-validates a name.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use jiff::{SignedDuration, Timestamp};

/// Why a raw string is not a valid domain value. The message is fit to show a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "`{0}` is not an environment name: use 1-24 lowercase letters, digits or `-`, starting with a letter"
    )]
    EnvName(String),
    #[error(
        "`{0}` is not a service name: use 1-40 lowercase letters, digits or `-`, starting with a letter"
    )]
    ServiceName(String),
    #[error(
        "`{0}` is not a version: use a semantic version (`v1.2.3`, `1.2.3-rc.1`), a git sha (7-40 hex digits, optionally after a branch: `main-3f2a9c1`) or a dated build (`2026-11-23` or `2026-11-23.4`)"
    )]
    Version(String),
    #[error("`{0}` is not a deployment id (expected a ULID such as `01JD7X6Q0R6Y3C2N8W4V5T9ZKM`)")]
    DeploymentId(String),
    #[error("`{0}` is not an image digest (expected `sha256:` and 64 hex digits)")]
    Digest(String),
    #[error("`{0}` is not a group name: use lowercase letters, digits, `-` or `_`")]
    GroupName(String),
    #[error("`{0}` is not a chat user: write `slack:U0123ABCD` or `discord:80351110224678912`")]
    UserRef(String),
    #[error("an event key names its event: a part of `{0}` is empty")]
    EventKey(String),
}

fn is_slug(raw: &str, max: usize, extra: &[u8]) -> bool {
    (1..=max).contains(&raw.len())
        && raw.as_bytes()[0].is_ascii_lowercase()
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

/// The conversions every string newtype has: serde's `try_from`/`into`, `FromStr`, `Display`
/// and `AsRef<str>`, all through the type's one fallible `parse`.
macro_rules! string_conversions {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(raw: String) -> Result<Self, ParseError> {
                Self::parse(&raw)
            }
        }
        impl std::str::FromStr for $name {
            type Err = ParseError;
            fn from_str(raw: &str) -> Result<Self, ParseError> {
                Self::parse(raw)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident, $validate:expr, $err:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                let ok: fn(&str) -> bool = $validate;
                if ok(raw) { Ok(Self(raw.to_owned())) } else { Err(ParseError::$err(raw.to_owned())) }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        string_conversions!($name);
    };
}

string_newtype!(
    /// An environment such as `staging` or `prod`: 1-24 of `[a-z0-9-]`, starting with a letter.
    EnvName,
    |raw| is_slug(raw, 24, b"-"),
    EnvName
);
/// `a, b, c`: names as a sentence lists them.
pub fn listed<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(item.as_ref());
    }
    out
}

string_newtype!(
    /// A service Deckhand deploys, such as `api`: 1-40 of `[a-z0-9-]`, starting with a letter.
    ServiceName,
    |raw| is_slug(raw, 40, b"-"),
    ServiceName
);
impl ServiceName {
    /// `api, worker`: services as a sentence names them.
    pub fn join(services: &[ServiceName]) -> String {
        listed(services)
    }
}
string_newtype!(
    /// A group of people in the config, such as `platform` or `on_call`.
    GroupName,
    |raw| is_slug(raw, 40, b"-_"),
    GroupName
);

/// What a version string says it is. Ordering between versions is only meaningful within
/// one kind (semver with semver, dated builds with dated builds); git shas are unordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionKind {
    Semver(semver::Version),
    GitSha,
    Dated,
}

/// A version, which is also the image tag that gets deployed.
///
/// Accepted, and nothing else (so a typo never becomes a tag that "deploys nothing"):
/// - a semantic version, with or without a leading `v`: `v1.2.3`, `1.2.3-rc.1+build.5`;
/// - a git sha of 7-40 lowercase hex digits, alone or after a branch-ish prefix:
///   `3f2a9c1`, `main-3f2a9c1d`, `release-2026-3f2a9c1`;
/// - a dated build: `2026-11-23` or `2026-11-23.4`.
///
/// The original spelling is kept: `v1.2.3` and `1.2.3` are different image tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version(String);

impl Version {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.len() <= 128 && Self::classify(raw).is_some() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::Version(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> VersionKind {
        // Construction proved that classify succeeds; GitSha is a harmless fallback.
        Self::classify(&self.0).unwrap_or(VersionKind::GitSha)
    }

    fn classify(raw: &str) -> Option<VersionKind> {
        let is_hex = |s: &str| {
            (7..=40).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let semver_text = raw.strip_prefix('v').unwrap_or(raw);
        if let Ok(v) = semver::Version::parse(semver_text) {
            return Some(VersionKind::Semver(v));
        }
        if is_dated(raw) {
            return Some(VersionKind::Dated);
        }
        // A bare sha must contain a letter or be long: `1234567` alone is more likely a typo
        // of a build number than a sha, but git shas of all digits do exist at 40 characters.
        if is_hex(raw) {
            return Some(VersionKind::GitSha);
        }
        let (prefix, sha) = raw.rsplit_once('-')?;
        let prefix_ok = !prefix.is_empty()
            && prefix.len() <= 80
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        (prefix_ok && is_hex(sha)).then_some(VersionKind::GitSha)
    }
}

fn is_dated(raw: &str) -> bool {
    let (date, build) = match raw.split_once('.') {
        Some((d, b)) => (d, Some(b)),
        None => (raw, None),
    };
    let build_ok =
        build.is_none_or(|b| (1..=6).contains(&b.len()) && b.bytes().all(|c| c.is_ascii_digit()));
    build_ok && date.len() == 10 && date.parse::<jiff::civil::Date>().is_ok()
}

string_conversions!(Version);

/// An OCI image digest, `sha256:` and 64 lowercase hex digits. An approval is bound to one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let hex = raw.strip_prefix("sha256:").unwrap_or("");
        if hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::Digest(raw.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The first 12 hex digits, as people read digests on cards.
    pub fn short(&self) -> &str {
        &self.0[7..19]
    }
}
string_conversions!(Digest);

/// A deployment's id: a ULID, so ids sort by creation time in the store and in logs.
/// The idempotency key of one inbound event: the same event delivered again has the same key,
/// two events never share one, and no key is empty or has an empty part (a missing Slack
/// `trigger_id` once made every such command share one key). One constructor per source; each
/// keeps the string form stored since the first wave, so an upgrade mid-flight never processes
/// an event twice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventKey(String);

impl EventKey {
    fn of(parts: &[&str]) -> Option<Self> {
        parts
            .iter()
            .all(|p| !p.is_empty())
            .then(|| Self(parts.join(":")))
    }

    /// A Slack slash command: Slack sends the same `trigger_id` when it retries one.
    pub fn slack_command(team: &str, trigger_id: &str) -> Option<Self> {
        Self::of(&["slack", team, trigger_id])
    }

    /// A Discord interaction, by its id.
    pub fn discord_interaction(id: &str) -> Option<Self> {
        Self::of(&["discord", id])
    }

    /// A finished build's auto-deploy to `env` (the build id is already its CI's, e.g.
    /// `github:123`).
    pub fn build(build_id: &str, env: &EnvName) -> Option<Self> {
        Self::of(&["build", build_id, env.as_str()])
    }

    /// An EventBridge Scheduler firing, by its execution id.
    pub fn scheduler_execution(id: &str) -> Option<Self> {
        (!id.is_empty()).then(|| Self(id.to_owned()))
    }

    /// The rollback an alarm's transition into ALARM starts for one service (only a mapped
    /// alarm gets here, and a mapped alarm has a name).
    pub fn alarm_rollback(alarm: &str, at: Timestamp, service: &ServiceName) -> Self {
        Self(format!("alarm:{alarm}:{at}:{service}"))
    }

    /// The rollback a failed deploy starts for the services it changed.
    pub fn after_failure(deployment: DeploymentId) -> Self {
        Self(format!("failure:{deployment}"))
    }

    /// The work one event hands on for `part` (a backup plan of `/backup ENV now`).
    pub fn part(&self, part: &str) -> Option<Self> {
        Self::of(&[&self.0, part])
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Any key, for tests that name their events themselves.
    #[cfg(any(test, feature = "testing"))]
    pub fn test(raw: &str) -> Self {
        Self(raw.to_owned())
    }
}

impl TryFrom<String> for EventKey {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.split(':').any(str::is_empty) {
            return Err(ParseError::EventKey(raw));
        }
        Ok(Self(raw))
    }
}

impl From<EventKey> for String {
    fn from(k: EventKey) -> String {
        k.0
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeploymentId(ulid::Ulid);

impl DeploymentId {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        ulid::Ulid::from_string(raw)
            .map(Self)
            .map_err(|_| ParseError::DeploymentId(raw.to_owned()))
    }

    /// The id of whatever a triggering event creates, derived from the event's own id.
    ///
    /// Chat platforms and EventBridge deliver at least once. Deriving the id (time from the
    /// event, randomness from a hash of its id) makes a redelivery produce the *same*
    /// deployment id, so the store's create-if-absent turns the second delivery into a
    /// recognised duplicate instead of a second deployment.
    pub fn derive(at: Timestamp, event_key: &str) -> Self {
        // Takes the key's text, not an `EventKey`: ids are also derived from claim keys.
        let hash = Sha256::digest(event_key.as_bytes());
        let mut random = [0u8; 16];
        random[6..].copy_from_slice(&hash[..10]);
        let random = u128::from_be_bytes(random);
        let millis = u64::try_from(at.as_millisecond()).unwrap_or(0);
        Self(ulid::Ulid::from_parts(millis, random))
    }

    pub fn created_at(&self) -> Timestamp {
        let ms = i64::try_from(self.0.timestamp_ms()).unwrap_or(0);
        Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}
impl TryFrom<String> for DeploymentId {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}
impl From<DeploymentId> for String {
    fn from(v: DeploymentId) -> String {
        v.0.to_string()
    }
}
impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Which chat a person spoke from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Slack,
    Discord,
}

impl fmt::Display for ChatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChatKind::Slack => "slack",
            ChatKind::Discord => "discord",
        })
    }
}

/// A person as the config names them: `slack:U0123ABCD` or `discord:80351110224678912`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UserRef {
    pub chat: ChatKind,
    pub user_id: String,
}

impl UserRef {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let err = || ParseError::UserRef(raw.to_owned());
        let (chat, id) = raw.split_once(':').ok_or_else(err)?;
        let chat = match chat {
            "slack" => ChatKind::Slack,
            "discord" => ChatKind::Discord,
            _ => return Err(err()),
        };
        let ok = match chat {
            ChatKind::Slack => {
                (2..=20).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            }
            ChatKind::Discord => {
                (15..=21).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
            }
        };
        if !ok {
            return Err(err());
        }
        Ok(Self {
            chat,
            user_id: id.to_owned(),
        })
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.chat, self.user_id)
    }
}

/// Who did something: a person in a chat, or Deckhand itself (auto-deploys, alarm rollbacks,
/// schedules). The workspace (Slack team id or Discord guild id) and user id come from a
/// signed payload; the display name is only for showing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    Person {
        chat: ChatKind,
        workspace: String,
        user_id: String,
        name: String,
    },
    System {
        what: String,
    },
}

impl Actor {
    pub fn person(chat: ChatKind, workspace: &str, user_id: &str, name: &str) -> Self {
        Actor::Person {
            chat,
            workspace: workspace.into(),
            user_id: user_id.into(),
            name: name.into(),
        }
    }
    pub fn system(what: &str) -> Self {
        Actor::System { what: what.into() }
    }
    /// The config's name for this person, if it is a person.
    pub fn user_ref(&self) -> Option<UserRef> {
        match self {
            Actor::Person { chat, user_id, .. } => Some(UserRef {
                chat: *chat,
                user_id: user_id.clone(),
            }),
            Actor::System { .. } => None,
        }
    }
    /// Two actors are the same person when chat and user id match; names may change.
    pub fn same_person(&self, other: &Actor) -> bool {
        matches!((self.user_ref(), other.user_ref()), (Some(a), Some(b)) if a == b)
    }
    pub fn display(&self) -> &str {
        match self {
            Actor::Person { name, .. } => name,
            Actor::System { what } => what,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Person {
                chat,
                user_id,
                name,
                ..
            } => write!(f, "{name} ({chat}:{user_id})"),
            Actor::System { what } => write!(f, "deckhand ({what})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn versions_accept_the_tags_teams_use() {
        for ok in [
            "v1.2.3",
            "1.2.3",
            "1.2.3-rc.1+b5",
            "3f2a9c1",
            "main-3f2a9c1d",
            "2026-11-23",
            "2026-11-23.4",
        ] {
            assert!(Version::parse(ok).is_ok(), "{ok} should parse");
        }
        for bad in [
            "",
            "latest",
            "v1.2",
            "1.2.3 ",
            "v1.2.3;rm",
            "2026-13-01",
            "2026-11-23.",
            "main-xyz",
            "3f2a9c",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad} should not parse");
        }
        assert!(matches!(
            Version::parse("v1.2.3").map(|v| v.kind()),
            Ok(VersionKind::Semver(_))
        ));
        assert_eq!(
            Version::parse("2026-11-23.4").map(|v| v.kind()),
            Ok(VersionKind::Dated)
        );
    }

    #[test]
    fn event_keys_keep_their_stored_forms_and_are_never_empty() {
        let env = EnvName::parse("prod").unwrap();
        let at: Timestamp = "2026-11-24T09:00:00Z".parse().unwrap();
        let api = ServiceName::parse("api").unwrap();
        assert_eq!(
            EventKey::slack_command("T1", "123.456").unwrap().as_str(),
            "slack:T1:123.456"
        );
        assert_eq!(
            EventKey::discord_interaction("99").unwrap().as_str(),
            "discord:99"
        );
        assert_eq!(
            EventKey::build("github:7", &env).unwrap().as_str(),
            "build:github:7:prod"
        );
        assert_eq!(
            EventKey::alarm_rollback("api-5xx", at, &api).as_str(),
            "alarm:api-5xx:2026-11-24T09:00:00Z:api"
        );
        let key = EventKey::slack_command("T1", "9").unwrap();
        assert_eq!(key.part("nightly").unwrap().as_str(), "slack:T1:9:nightly");
        assert!(EventKey::slack_command("T1", "").is_none());
        assert!(EventKey::slack_command("", "9").is_none());
        assert!(EventKey::discord_interaction("").is_none());
        assert!(EventKey::build("", &env).is_none());
        assert!(EventKey::scheduler_execution("").is_none());
        assert!(key.part("").is_none());
        // Read back as stored (dispatched work, Scheduler payloads): the same rule.
        let read = |raw: &str| {
            use serde::de::value::{Error, StrDeserializer};
            EventKey::deserialize(StrDeserializer::<Error>::new(raw))
        };
        assert_eq!(read("slack:T1:9").unwrap(), key);
        for bad in ["", "slack:T1:", "slack::9"] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_reject_what_would_break_a_resource_name() {
        assert!(EnvName::parse("prod").is_ok());
        assert!(EnvName::parse("Prod").is_err());
        assert!(EnvName::parse("-prod").is_err());
        assert!(EnvName::parse("").is_err());
        assert!(ServiceName::parse("api-gateway2").is_ok());
        assert!(ServiceName::parse("api gateway").is_err());
        assert!(UserRef::parse("slack:U024BE7LH").is_ok());
        assert!(UserRef::parse("discord:80351110224678912").is_ok());
        assert!(UserRef::parse("slack:u024").is_err());
        assert!(UserRef::parse("teams:U024BE7LH").is_err());
    }

    #[test]
    fn derived_ids_are_stable_per_event_and_distinct_across_events() {
        let at = Timestamp::from_second(1_764_000_000).unwrap();
        assert_eq!(
            DeploymentId::derive(at, "slack:trigger-1"),
            DeploymentId::derive(at, "slack:trigger-1")
        );
        assert_ne!(
            DeploymentId::derive(at, "slack:trigger-1"),
            DeploymentId::derive(at, "slack:trigger-2")
        );
        assert_eq!(DeploymentId::derive(at, "x").created_at(), at);
    }

    proptest! {
        #[test]
        fn env_names_round_trip(raw in "[a-z][a-z0-9-]{0,23}") {
            let env = EnvName::parse(&raw).unwrap();
            prop_assert_eq!(EnvName::parse(env.as_str()), Ok(env.clone()));
            let json = serde_json_like(&env);
            prop_assert_eq!(json, raw);
        }

        #[test]
        fn version_parse_never_panics_and_round_trips(raw in "\\PC{0,40}") {
            if let Ok(v) = Version::parse(&raw) {
                prop_assert_eq!(Version::parse(v.as_str()), Ok(v.clone()));
            }
        }

        #[test]
        fn deployment_ids_round_trip(secs in 0i64..4_000_000_000, key in ".{0,20}") {
            let id = DeploymentId::derive(Timestamp::from_second(secs).unwrap(), &key);
            prop_assert_eq!(DeploymentId::parse(&id.to_string()), Ok(id));
        }
    }

    fn serde_json_like(env: &EnvName) -> String {
        String::from(env.clone())
    }
}

/// A credential that travels with a request for a short while (Slack's `response_url`, a
/// Discord interaction token): stored and sent, never shown. `Debug` and `Display` redact it;
/// only [`Sealed::expose`] reads it, at the one place it is used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(String);

impl Sealed {
    pub fn new(value: impl Into<String>) -> Self {
        Sealed(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed([redacted])")
    }
}
