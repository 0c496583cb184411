//! What people type: one parser for Slack and Discord.
//!
//! Grammar (`/deckhand <cmd> …` is an alias for every command):
//!
//! ```text
//! /deploy ENV [SERVICE… | all] VERSION [--force] [--override "reason"]
//! /rollback ENV [SERVICE… | all] [to VERSION]
//! /status [ENV]
//! /history ENV [SERVICE] [N]
//! /lock ENV REASON…
//! /unlock ENV
//! /backup ENV now|list
//! /deploy help
//! ```
//!
//! Names are resolved against the config here (aliases such as `production`, `all` services),
//! so a [`Command`] only holds names that exist. A mistake yields a [`Usage`]: a short message,
//! the right usage, and a "did you mean" where one helps. The parser never panics on any input.

use std::fmt;

use crate::config::Config;
use crate::suggest;
use crate::types::{EnvName, ServiceName, SignedDuration, Version};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Deploy {
        env: EnvName,
        services: Vec<ServiceName>,
        version: Version,
        override_reason: Option<String>,
        /// Redeploy services that already run this version.
        force: bool,
    },
    Rollback {
        env: EnvName,
        services: Vec<ServiceName>,
        to: Option<Version>,
    },
    Status {
        env: Option<EnvName>,
    },
    History {
        env: EnvName,
        service: Option<ServiceName>,
        limit: u16,
    },
    Lock {
        env: EnvName,
        /// How long; `None` takes the environment's `lock_default`.
        duration: Option<SignedDuration>,
        reason: String,
    },
    Unlock {
        env: EnvName,
    },
    /// Stop automatic deploys and rollbacks in an environment while people take over.
    Pause {
        env: EnvName,
    },
    Resume {
        env: EnvName,
    },
    Backup {
        env: EnvName,
        action: BackupAction,
    },
    Help,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupAction {
    Now,
    List,
}

/// A malformed command: what is wrong, and how to write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub message: String,
    pub usage: &'static str,
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\nUsage: `{}`", self.message, self.usage)
    }
}

impl std::error::Error for Usage {}

/// Every command's name, as typed after the slash (`help` is `/deploy help` too).
pub const COMMANDS: [&str; 10] = [
    "deploy", "rollback", "status", "history", "lock", "unlock", "pause", "resume", "backup",
    "help",
];

/// The slash commands registered with Slack and Discord: every command but `help` (which is
/// `/deploy help` or `/deckhand help`), and the umbrella `/deckhand <command>`.
pub const DECLARED: [&str; 10] = [
    "deploy", "rollback", "status", "history", "lock", "unlock", "pause", "resume", "backup",
    "deckhand",
];

/// One line on what a command does, for Slack's and Discord's command lists.
pub fn summary(command: &str) -> &'static str {
    match command {
        "deploy" => "Deploy a version to an environment (asks for approval where the config says)",
        "rollback" => "Roll services back to their last known-good release",
        "status" => "What runs where, and which releases are baking",
        "history" => "Recent deployments of an environment or service",
        "lock" => "Stop deploys to an environment, saying why",
        "unlock" => "Allow deploys to an environment again",
        "pause" => "Stop automatic deploys and rollbacks in an environment during an incident",
        "resume" => "Let automation deploy and roll back in an environment again",
        "backup" => "Snapshot an environment's database now, or list its snapshots",
        "deckhand" => "Any Deckhand command as /deckhand COMMAND …; /deckhand help lists them",
        _ => "How to use Deckhand",
    }
}
const DEFAULT_HISTORY: u16 = 10;
const MAX_HISTORY: u16 = 50;

/// How a command is typed.
pub fn usage_of(command: &str) -> &'static str {
    match command {
        "deploy" => "/deploy ENV [SERVICE… | all] VERSION [--force] [--override \"reason\"]",
        "rollback" => "/rollback ENV [SERVICE… | all] [to VERSION]",
        "status" => "/status [ENV]",
        "history" => "/history ENV [SERVICE] [N]",
        "lock" => "/lock ENV [DURATION] REASON…",
        "unlock" => "/unlock ENV",
        "pause" => "/pause ENV",
        "resume" => "/resume ENV",
        "backup" => "/backup ENV now|list",
        _ => "/deckhand deploy|rollback|status|history|lock|unlock|pause|resume|backup|help …",
    }
}

/// The text of `/deploy help`.
pub fn help_text() -> String {
    let mut out = String::from("Deckhand commands (`/deckhand <command>` works for each):\n");
    for c in COMMANDS.iter().filter(|c| **c != "help") {
        out.push_str("• `");
        out.push_str(usage_of(c));
        out.push_str("`\n");
    }
    out.push_str("Environments accept aliases (`production` → `prod`); `all` means every service in the environment.");
    out
}

/// Parses a slash command (`/deploy`, `/deckhand`, or a bare name) and its text.
pub fn parse(slash: &str, text: &str, config: &Config) -> Result<Command, Usage> {
    // Slack and phones turn quotes curly; a reason in quotes should survive that.
    let text: String = text
        .chars()
        .map(|c| {
            if matches!(c, '“' | '”' | '„') {
                '"'
            } else if matches!(c, '‘' | '’') {
                '\''
            } else {
                c
            }
        })
        .collect();
    let general = |message: String| Usage {
        message,
        usage: usage_of(""),
    };
    let mut words = shlex::split(&text).ok_or_else(|| general("a quote is not closed".into()))?;
    let name = slash.trim().trim_start_matches('/').to_ascii_lowercase();
    let command = if name == "deckhand" {
        if words.is_empty() {
            return Ok(Command::Help);
        }
        words.remove(0).to_ascii_lowercase()
    } else {
        name
    };
    if !COMMANDS.contains(&command.as_str()) {
        return Err(general(format!(
            "unknown command `{command}`{}",
            suggest::hint(&command, COMMANDS)
        )));
    }
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("help"))
        || command == "help"
    {
        return Ok(Command::Help);
    }
    Parser {
        config,
        usage: usage_of(&command),
        words,
    }
    .command(&command)
}

struct Parser<'a> {
    config: &'a Config,
    usage: &'static str,
    words: Vec<String>,
}

impl Parser<'_> {
    fn fail<T>(&self, message: String) -> Result<T, Usage> {
        Err(Usage {
            message,
            usage: self.usage,
        })
    }

    fn env(&mut self) -> Result<EnvName, Usage> {
        if self.words.is_empty() {
            return self.fail("which environment?".into());
        }
        let typed = self.words.remove(0);
        match self.config.env(&typed) {
            Some(e) => Ok(e.name.clone()),
            None => {
                let fix = self.config.suggest_env(&typed).map_or_else(
                    || {
                        format!(
                            " — the environments are: {}",
                            self.config
                                .environments
                                .keys()
                                .map(EnvName::as_str)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                    |e| format!(" — did you mean `{e}`?"),
                );
                self.fail(format!("unknown environment `{typed}`{fix}"))
            }
        }
    }

    fn service(&self, env: &EnvName, typed: &str) -> Result<ServiceName, Usage> {
        let known: Vec<&str> = self
            .config
            .services_in(env)
            .map(|s| s.name.as_str())
            .collect();
        match self.config.service(typed) {
            Some(s) if s.envs.contains(env) => Ok(s.name.clone()),
            Some(s) => self.fail(format!(
                "{} is not deployed to {env} (it runs in {})",
                s.name,
                join(&s.envs)
            )),
            None => {
                let fix = suggest::did_you_mean(typed, known.iter().copied()).map_or_else(
                    || format!(" — {env} has: {}", known.join(", ")),
                    |s| format!(" — did you mean `{s}`?"),
                );
                self.fail(format!("unknown service `{typed}`{fix}"))
            }
        }
    }

    /// `all`, nothing (all too), or named services, returned in deploy order.
    fn services(&self, env: &EnvName, typed: &[String]) -> Result<Vec<ServiceName>, Usage> {
        let everything = || {
            self.config
                .services_in(env)
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
        };
        if typed.is_empty() || (typed.len() == 1 && typed[0].eq_ignore_ascii_case("all")) {
            let all = everything();
            if all.is_empty() {
                return self.fail(format!("no service is deployed to {env}"));
            }
            return Ok(all);
        }
        let mut named = Vec::new();
        for t in typed {
            named.push(self.service(env, t)?);
        }
        Ok(everything()
            .into_iter()
            .filter(|s| named.contains(s))
            .collect())
    }

    fn version(&self, typed: &str) -> Result<Version, Usage> {
        Version::parse(typed).or_else(|e| self.fail(e.to_string()))
    }

    fn done(&self) -> Result<(), Usage> {
        match self.words.first() {
            Some(extra) => self.fail(format!("unexpected `{extra}`")),
            None => Ok(()),
        }
    }

    fn command(mut self, command: &str) -> Result<Command, Usage> {
        match command {
            "deploy" => {
                let env = self.env()?;
                let override_reason = match self.words.iter().position(|w| w == "--override") {
                    Some(i) => {
                        let reason = self
                            .words
                            .get(i + 1)
                            .cloned()
                            .filter(|r| !r.trim().is_empty() && !r.starts_with("--"));
                        let Some(reason) = reason else {
                            return self.fail("`--override` needs a reason in quotes".into());
                        };
                        self.words.drain(i..i + 2);
                        // A reason of several words must be quoted; what follows it unquoted
                        // is not a version or a service.
                        if let Some(next) = self.words.get(i)
                            && Version::parse(next).is_err()
                            && self.config.service(next).is_none()
                        {
                            return self.fail(format!(
                                "`{next}` follows the override's reason: put the whole reason in quotes, e.g. --override \"{reason} {next}\""
                            ));
                        }
                        Some(reason)
                    }
                    None => None,
                };
                let force = match self.words.iter().position(|w| w == "--force") {
                    Some(i) => {
                        self.words.remove(i);
                        true
                    }
                    None => false,
                };
                if let Some(flag) = self.words.iter().find(|w| w.starts_with("--")) {
                    return self.fail(format!(
                        "unknown option `{flag}`{}",
                        suggest::hint(flag, ["--override", "--force"])
                    ));
                }
                let Some(last) = self.words.pop() else {
                    return self.fail("which version?".into());
                };
                // `/deploy staging api v1.2.3 v1.2.4`: one version at a time.
                if let Some(other) = self
                    .words
                    .iter()
                    .find(|w| self.config.service(w).is_none() && Version::parse(w).is_ok())
                {
                    return self.fail(format!(
                        "two versions (`{other}` and `{last}`): deploy one version at a time"
                    ));
                }
                let version = match self.version(&last) {
                    Ok(v) => v,
                    // `/deploy prod api` — the last word names a service, so the version is missing.
                    Err(_) if self.config.service(&last).is_some() => {
                        return self.fail("which version?".into());
                    }
                    Err(e) => return Err(e),
                };
                let services = self.services(&env, &self.words)?;
                Ok(Command::Deploy {
                    env,
                    services,
                    version,
                    override_reason,
                    force,
                })
            }
            "rollback" => {
                let env = self.env()?;
                let to = match self.words.iter().position(|w| w.eq_ignore_ascii_case("to")) {
                    Some(i) if i + 2 == self.words.len() => {
                        let v = self.version(&self.words[i + 1])?;
                        self.words.truncate(i);
                        Some(v)
                    }
                    Some(_) => return self.fail("write `to VERSION` at the end".into()),
                    None => None,
                };
                let services = self.services(&env, &self.words)?;
                Ok(Command::Rollback { env, services, to })
            }
            "status" => {
                let env = if self.words.is_empty() {
                    None
                } else {
                    Some(self.env()?)
                };
                self.done()?;
                Ok(Command::Status { env })
            }
            "history" => {
                let env = self.env()?;
                let mut limit = DEFAULT_HISTORY;
                if let Some(n) = self.words.last().and_then(|w| w.parse::<u16>().ok()) {
                    if !(1..=MAX_HISTORY).contains(&n) {
                        return self.fail(format!("N must be from 1 to {MAX_HISTORY}"));
                    }
                    limit = n;
                    self.words.pop();
                }
                let service = match self.words.len() {
                    0 => None,
                    1 => Some(self.service(&env, &self.words[0])?),
                    _ => return self.fail(format!("unexpected `{}`", self.words[1])),
                };
                Ok(Command::History {
                    env,
                    service,
                    limit,
                })
            }
            "lock" => {
                let env = self.env()?;
                let duration = self
                    .words
                    .first()
                    .and_then(|w| crate::config::parse_duration(w));
                if duration.is_some() {
                    self.words.remove(0);
                }
                if let (Some(d), Some(e)) = (duration, self.config.environments.get(&env))
                    && d > e.lock_max
                {
                    return self.fail(format!(
                        "the longest lock {env} takes is {} (`lock_max` in deckhand.toml)",
                        crate::rollback::fmt_duration(e.lock_max)
                    ));
                }
                let reason = self.words.join(" ");
                if reason.trim().is_empty() {
                    return self.fail(
                        "say why: the reason is shown to everyone who tries to deploy".into(),
                    );
                }
                Ok(Command::Lock {
                    env,
                    duration,
                    reason,
                })
            }
            // The commands that take an environment and nothing else.
            "unlock" | "pause" | "resume" => {
                let env = self.env()?;
                self.done()?;
                Ok(match command {
                    "unlock" => Command::Unlock { env },
                    "pause" => Command::Pause { env },
                    _ => Command::Resume { env },
                })
            }
            "backup" => {
                let env = self.env()?;
                let action = match self.words.first().map(|w| w.to_ascii_lowercase()) {
                    Some(w) if w == "now" => BackupAction::Now,
                    Some(w) if w == "list" => BackupAction::List,
                    Some(w) => {
                        return self.fail(format!(
                            "unknown action `{w}`{}",
                            suggest::hint(&w, ["now", "list"])
                        ));
                    }
                    None => return self.fail("now or list?".into()),
                };
                self.words.remove(0);
                self.done()?;
                Ok(Command::Backup { env, action })
            }
            _ => Ok(Command::Help),
        }
    }
}

fn join(envs: &[EnvName]) -> String {
    crate::types::listed(envs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testkit::config;
    use proptest::prelude::*;

    fn ok(slash: &str, text: &str) -> Command {
        parse(slash, text, &config()).unwrap_or_else(|u| panic!("{slash} {text}: {u}"))
    }
    fn err(slash: &str, text: &str) -> String {
        parse(slash, text, &config())
            .err()
            .map(|u| u.to_string())
            .unwrap_or_default()
    }
    fn svcs(names: &[&str]) -> Vec<ServiceName> {
        names
            .iter()
            .map(|n| ServiceName::parse(n).unwrap())
            .collect()
    }
    fn env(n: &str) -> EnvName {
        EnvName::parse(n).unwrap()
    }

    #[test]
    fn two_versions_and_words_after_an_override_are_said_for_what_they_are() {
        assert!(
            err("/deploy", "prod api v1.2.3 v1.2.4")
                .starts_with("two versions (`v1.2.3` and `v1.2.4`): deploy one version at a time"),
            "{}",
            err("/deploy", "prod api v1.2.3 v1.2.4")
        );
        let e = err("/deploy", "prod api v1.2.3 --override \"x\" extra");
        assert!(
            e.starts_with("`extra` follows the override's reason: put the whole reason in quotes, e.g. --override \"x extra\""),
            "{e}"
        );
        assert_eq!(
            ok("/deploy", "prod api --override \"INC-1\" v1.2.3 --force"),
            Command::Deploy {
                env: env("prod"),
                services: svcs(&["api"]),
                version: Version::parse("v1.2.3").unwrap(),
                override_reason: Some("INC-1".into()),
                force: true,
            }
        );
    }

    #[test]
    fn deploy_forms() {
        let v = Version::parse("v1.2.3").unwrap();
        assert_eq!(
            ok("/deploy", "prod api v1.2.3"),
            Command::Deploy {
                env: env("prod"),
                services: svcs(&["api"]),
                version: v.clone(),
                override_reason: None,
                force: false,
            }
        );
        assert_eq!(
            ok("/deploy", "production v1.2.3"),
            Command::Deploy {
                env: env("prod"),
                services: svcs(&["worker", "api", "web"]),
                version: v.clone(),
                override_reason: None,
                force: false,
            }
        );
        assert_eq!(
            ok("/deploy", "prod web api v1.2.3"),
            Command::Deploy {
                env: env("prod"),
                services: svcs(&["api", "web"]),
                version: v.clone(),
                override_reason: None,
                force: false,
            },
            "deploy order, not typing order"
        );
        assert_eq!(
            ok("/deckhand", "deploy prod all v1.2.3"),
            ok("/deploy", "prod v1.2.3")
        );
        assert_eq!(
            ok("/deploy", "prod api v1.2.3 --override “INC-42 hotfix”"),
            Command::Deploy {
                env: env("prod"),
                services: svcs(&["api"]),
                version: v,
                override_reason: Some("INC-42 hotfix".into()),
                force: false,
            }
        );
    }

    #[test]
    fn the_other_commands() {
        assert_eq!(
            ok("/rollback", "prod api"),
            Command::Rollback {
                env: env("prod"),
                services: svcs(&["api"]),
                to: None
            }
        );
        assert_eq!(
            ok("/rollback", "prod api to v1.2.2"),
            Command::Rollback {
                env: env("prod"),
                services: svcs(&["api"]),
                to: Some(Version::parse("v1.2.2").unwrap())
            }
        );
        assert_eq!(ok("/status", ""), Command::Status { env: None });
        assert_eq!(
            ok("/status", "stage"),
            Command::Status {
                env: Some(env("staging"))
            }
        );
        assert_eq!(
            ok("/history", "prod api 5"),
            Command::History {
                env: env("prod"),
                service: Some(svcs(&["api"])[0].clone()),
                limit: 5
            }
        );
        assert_eq!(
            ok("/history", "prod"),
            Command::History {
                env: env("prod"),
                service: None,
                limit: 10
            }
        );
        assert_eq!(
            ok("/lock", "prod db migration in progress"),
            Command::Lock {
                env: env("prod"),
                duration: None,
                reason: "db migration in progress".into()
            }
        );
        assert_eq!(
            ok("/lock", "prod 1h 30m db migration"),
            Command::Lock {
                env: env("prod"),
                duration: Some(SignedDuration::from_mins(60)),
                reason: "30m db migration".into()
            },
            "one word of duration: the rest is the reason"
        );
        assert_eq!(
            ok("/lock", "prod 2h db migration"),
            Command::Lock {
                env: env("prod"),
                duration: Some(SignedDuration::from_hours(2)),
                reason: "db migration".into()
            }
        );
        assert!(err("/lock", "prod 30d too long").starts_with("the longest lock prod takes is"));
        assert_eq!(ok("/unlock", "prod"), Command::Unlock { env: env("prod") });
        assert_eq!(
            ok("/pause", "production"),
            Command::Pause { env: env("prod") }
        );
        assert_eq!(
            ok("/deckhand", "resume prod"),
            Command::Resume { env: env("prod") }
        );
        assert_eq!(
            ok("/backup", "prod now"),
            Command::Backup {
                env: env("prod"),
                action: BackupAction::Now
            }
        );
        assert_eq!(
            ok("/deckhand", "backup prod list"),
            Command::Backup {
                env: env("prod"),
                action: BackupAction::List
            }
        );
        assert_eq!(ok("/deploy", "help"), Command::Help);
        assert_eq!(ok("/deckhand", ""), Command::Help);
    }

    #[test]
    fn mistakes_get_usage_and_did_you_mean() {
        assert_eq!(
            err("/deploy", "prdo api v1.2.3"),
            "unknown environment `prdo` — did you mean `prod`?\nUsage: `/deploy ENV [SERVICE… | all] VERSION [--force] [--override \"reason\"]`"
        );
        assert!(
            err("/deploy", "prod apo v1.2.3")
                .starts_with("unknown service `apo` — did you mean `api`?")
        );
        assert!(err("/deploy", "prod api").starts_with("which version?"));
        assert!(err("/deploy", "prod api latest").contains("is not a version"));
        assert!(
            err("/deploy", "prod api v1.2.3 --overide x").contains("did you mean `--override`?")
        );
        assert!(err("/deploy", "prod api v1.2.3 --override").contains("needs a reason"));
        assert!(
            err("/deckhand", "deplyo prod api v1")
                .starts_with("unknown command `deplyo` — did you mean `deploy`?")
        );
        assert!(err("/lock", "prod").starts_with("say why"));
        assert!(err("/backup", "prod nwo").contains("did you mean `now`?"));
        assert!(err("/history", "prod api 500").starts_with("N must be"));
        assert!(err("/deploy", "prod \"api v1.2.3").starts_with("a quote is not closed"));
        assert!(err("/status", "prod extra").starts_with("unexpected `extra`"));
        assert!(help_text().contains("/rollback ENV"));
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(slash in prop::sample::select(vec!["/deploy", "/rollback", "/status", "/history", "/lock", "/unlock", "/pause", "/resume", "/backup", "/deckhand", "/x"]), text in "\\PC{0,80}") {
            let _ = parse(slash, &text, &config());
        }

        #[test]
        fn the_parser_never_panics_on_near_valid_words(words in prop::collection::vec(prop::sample::select(vec!["prod", "api", "all", "to", "v1.2.3", "--override", "\"", "now", "list", "5", "0", "web", "help", "deploy", "“"]), 0..8)) {
            let text = words.join(" ");
            for slash in ["/deploy", "/rollback", "/history", "/backup", "/deckhand"] {
                let _ = parse(slash, &text, &config());
            }
        }
    }
}
