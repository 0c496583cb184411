//! `deckhand.toml`: parsing, validation and the validated [`Config`] everything else reads.
//!
//! The whole file is checked at once and *every* mistake is reported with its line and column
//! and, where there is one, a fix. That is why this module reads toml's spanned document tree
//! with a small error-collecting [`Reader`] instead of `#[derive(Deserialize)]`: serde stops at
//! the first error, and a platform engineer fixing a config should not have to run the checker
//! once per typo.
//!
//! Schema (see `infra/deckhand.example.toml` for a complete, valid file):
//!
//! ```toml
//! [slack]                       # optional; at least one of slack/discord
//! workspace = "T0123ABCD"       # the team id commands must come from
//! channels = ["C0DEPLOYS"]      # where commands are accepted
//! [discord]
//! guild = "123…"; application_id = "456…"; channels = ["789…"]
//!
//! [groups.platform]
//! members = ["slack:U024BE7LH", "discord:80351110224678912"]
//!
//! [environments.prod]
//! cluster = "prod"              # ECS cluster
//! aliases = ["production"]
//! deployers = "engineers"       # group allowed to /deploy (absent: every served user)
//! approvers = "platform"        # group whose members approve
//! required_approvals = 1        # 0 = deploys start at once
//! approval_ttl = "2h"
//! after = "staging"             # promotion: a version must have succeeded there first
//! bake = "30m"                  # watch window after success; alarms inside it roll back
//! lock_ttl = "1h"               # a rollout ECS has not finished by then is given up
//! lock_default = "8h"           # how long a `/lock` without a duration lasts
//! lock_max = "72h"              # the longest `/lock` allowed
//! hold_after_rollback = true    # an automatic rollback holds the service until /unlock
//! notify = { slack = "C0PRODOPS", discord = "1111…" }
//! [[environments.prod.freeze]]
//! name = "weekend"; timezone = "Europe/Berlin"; weekly = "fri 16:00 - mon 08:00"
//! [environments.staging.auto_deploy]
//! branches = ["main"]           # builds of these branches deploy by themselves
//! services = ["api"]            # absent: every service in the env
//!
//! [services.api]                # deploy order is the order services are declared in
//! envs = ["dev", "staging", "prod"]
//! repository = "api"            # ECR repository name
//! ecs_service = "api"           # default: the service's name
//! container = "api"             # default: the service's name
//! migration = ["bin/migrate", "up"]
//! health_url = "https://api.{env}.example.com/healthz"   # a check named `health`: any 2xx
//! [[services.api.checks]]        # more checks, in order, after each rollout
//! name = "ready"; url = "https://api.{env}.example.com/ready"
//! status = "200"                # one status, "200-204" or "2xx" (the default)
//! body = "\"ready\":true"        # a substring the body must hold
//! timeout = "5s"; retries = 5; interval = "10s"
//! grace = "30s"                 # failures this soon after the rollout do not count
//! envs = ["staging", "prod"]    # absent: every env of the service
//! [services.api.smoke]           # a one-off task on the new revision; must exit 0
//! command = ["bin/smoke", "--env", "{env}"]; timeout = "10m"
//!
//! [alarms.api-prod-5xx]         # CloudWatch alarm name → what it watches
//! env = "prod"; services = ["api"]
//!
//! [backups.prod-db-nightly]
//! env = "prod"; kind = "rds-instance"; target = "prod-db"
//! schedule = "cron(0 3 * * ? *)"
//! before_deploy = ["api"]
//! retention = { keep_last = 3, daily = 7, weekly = 4, monthly = 12, keep_within = "30d" }
//! ```

use std::fmt;
use std::ops::Range;

use indexmap::IndexMap;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::check::{HttpCheck, Smoke};
use crate::freeze::FreezeWindow;
use crate::retention::Retention;
use crate::suggest;
use crate::types::{EnvName, GroupName, ServiceName, SignedDuration, UserRef};

/// A validated configuration. Every cross-reference in it has been checked: an env's groups
/// exist, a service's envs exist, a promotion chain names real environments and has no cycle.
#[derive(Debug, Clone)]
pub struct Config {
    pub slack: Option<SlackConfig>,
    pub discord: Option<DiscordConfig>,
    pub groups: IndexMap<GroupName, Vec<UserRef>>,
    pub environments: IndexMap<EnvName, EnvConfig>,
    /// In declaration order, which is the order a multi-service deploy runs them in.
    pub services: IndexMap<ServiceName, ServiceConfig>,
    pub alarms: IndexMap<String, AlarmTarget>,
    pub backups: IndexMap<String, BackupPlan>,
}

#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub workspace: String,
    pub channels: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DiscordConfig {
    pub guild: String,
    pub application_id: String,
    pub channels: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct EnvConfig {
    pub name: EnvName,
    pub cluster: String,
    pub aliases: Vec<String>,
    pub deployers: Option<GroupName>,
    pub approvers: Option<GroupName>,
    pub required_approvals: u8,
    pub approval_ttl: SignedDuration,
    /// The environment a version must have succeeded in before it may come here.
    pub after: Option<EnvName>,
    pub bake: SignedDuration,
    /// How long a deployment's rollout may take before maintenance gives it up.
    pub lock_ttl: SignedDuration,
    /// How long a `/lock` without a duration lasts, and the longest one may ask for.
    pub lock_default: SignedDuration,
    pub lock_max: SignedDuration,
    pub hold_after_rollback: bool,
    pub freeze: Vec<FreezeWindow>,
    pub auto_deploy: Option<AutoDeploy>,
    pub notify: Notify,
}

#[derive(Debug, Clone, Default)]
pub struct Notify {
    pub slack: Option<String>,
    pub discord: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AutoDeploy {
    pub branches: Vec<String>,
    /// Empty means every service deployed to the environment.
    pub services: Vec<ServiceName>,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub name: ServiceName,
    pub envs: Vec<EnvName>,
    pub ecs_service: String,
    pub container: String,
    pub repository: String,
    pub migration: Option<Vec<String>>,
    /// In the order they run; `health_url` is the first, named `health`.
    pub checks: Vec<CheckConfig>,
    pub smoke: Option<SmokeConfig>,
}

/// One `[[services.NAME.checks]]`: its URL and the smoke command may contain `{env}`.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub check: HttpCheck,
    /// Where it runs; empty: every environment of the service.
    pub envs: Vec<EnvName>,
}

/// `[services.NAME.smoke]`.
#[derive(Debug, Clone)]
pub struct SmokeConfig {
    pub smoke: Smoke,
    /// Where it runs; empty: every environment of the service.
    pub envs: Vec<EnvName>,
}

impl ServiceConfig {
    /// The checks a deploy to `env` runs after each rollout, `{env}` replaced.
    pub fn checks_for(&self, env: &EnvName) -> Vec<HttpCheck> {
        self.checks
            .iter()
            .filter(|c| c.envs.is_empty() || c.envs.contains(env))
            .map(|c| HttpCheck {
                url: c.check.url.replace("{env}", env.as_str()),
                ..c.check.clone()
            })
            .collect()
    }

    /// The smoke test a deploy to `env` runs after the checks, `{env}` replaced.
    pub fn smoke_for(&self, env: &EnvName) -> Option<Smoke> {
        let s = self
            .smoke
            .as_ref()
            .filter(|s| s.envs.is_empty() || s.envs.contains(env))?;
        Some(Smoke {
            command: s
                .smoke
                .command
                .iter()
                .map(|a| a.replace("{env}", env.as_str()))
                .collect(),
            timeout: s.smoke.timeout,
        })
    }
}

#[derive(Debug, Clone)]
pub struct AlarmTarget {
    pub env: EnvName,
    pub services: Vec<ServiceName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupKind {
    RdsInstance,
    RdsCluster,
    /// A one-off ECS task (pg_dump, pgBackRest) with a service's network configuration; its
    /// artifact is what its last log line names ([`TaskBackup`]).
    EcsTask,
}

impl BackupKind {
    const NAMES: [&'static str; 3] = ["rds-instance", "rds-cluster", "ecs-task"];
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::RdsInstance => "rds-instance",
            BackupKind::RdsCluster => "rds-cluster",
            BackupKind::EcsTask => "ecs-task",
        }
    }
}

/// How an `ecs-task` plan backs up and deletes: its command as a one-off task on `service`'s
/// task definition and network, and its own `prune` command for an artifact retention drops
/// (`{artifact}` replaced): Deckhand never guesses where an artifact lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskBackup {
    pub service: ServiceName,
    pub command: Vec<String>,
    pub prune: Vec<String>,
    /// A task still running this long after it started is stopped and counts as failed.
    pub timeout: SignedDuration,
}

impl TaskBackup {
    pub const TIMEOUT: SignedDuration = SignedDuration::from_hours(2);
    /// The prefix of the last log line that names the artifact: `deckhand-artifact: <id>`.
    pub const ARTIFACT: &'static str = "deckhand-artifact:";

    /// The artifact a finished task's log names, if its last line does.
    pub fn artifact(log_tail: &[String]) -> Option<String> {
        let last = log_tail.iter().rev().find(|l| !l.trim().is_empty())?;
        let id = last.trim().strip_prefix(Self::ARTIFACT)?.trim();
        (!id.is_empty()).then(|| id.to_owned())
    }

    /// The prune command for `artifact`.
    pub fn prune_command(&self, artifact: &str) -> Vec<String> {
        self.prune
            .iter()
            .map(|a| a.replace("{artifact}", artifact))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct BackupPlan {
    pub name: String,
    pub env: EnvName,
    pub kind: BackupKind,
    pub target: String,
    /// An EventBridge Scheduler expression: `cron(…)` (AWS's six fields) or `rate(…)`.
    pub schedule: String,
    /// The IANA zone `schedule` is read in (`timezone`, default UTC): a daily 03:00 stays
    /// 03:00 across daylight saving.
    pub timezone: String,
    /// Services whose deploys take a snapshot of this target first.
    pub before_deploy: Vec<ServiceName>,
    /// Each new snapshot is copied to this region (`copy_to`), encrypted there with
    /// `copy_kms_key` when the source is encrypted; retention applies to the copies too.
    pub copy_to: Option<String>,
    pub copy_kms_key: Option<String>,
    /// For `ecs-task` plans.
    pub task: Option<TaskBackup>,
    pub retention: Retention,
}

impl Config {
    /// Parse and validate a config file's text. `origin` names the file in messages.
    pub fn parse(origin: &str, src: &str) -> Result<Config, ConfigErrors> {
        let (doc, syntax) = DeTable::parse_recoverable(src);
        let mut r = Reader::new();
        for e in &syntax {
            let message = e.message().trim().to_owned();
            let help = syntax_help(&message);
            r.diags.push(Diagnostic {
                span: e.span().unwrap_or(0..0),
                message,
                help: Some(help.to_owned()),
            });
        }
        let config = if syntax.is_empty() {
            read_config(&mut r, &doc)
        } else {
            None
        };
        match config {
            Some(c) if r.diags.is_empty() => Ok(c),
            _ => Err(ConfigErrors::new(origin, src, r.diags)),
        }
    }

    /// Parse a config file's bytes: as [`Config::parse`], and a file that is not UTF-8 is a
    /// mistake at the line and column of its first byte that is not.
    pub fn parse_bytes(origin: &str, bytes: &[u8]) -> Result<Config, ConfigErrors> {
        match std::str::from_utf8(bytes) {
            Ok(src) => Config::parse(origin, src),
            Err(e) => {
                let at = e.valid_up_to();
                let bad = bytes.get(at).copied().unwrap_or_default();
                let shown = String::from_utf8_lossy(bytes);
                Err(ConfigErrors::new(
                    origin,
                    &shown,
                    vec![Diagnostic {
                        span: at..at + 1,
                        message: format!("the file is not UTF-8 text (byte 0x{bad:02x})"),
                        help: Some(
                            "save it as UTF-8 (a Windows-1252 or Latin-1 editor setting writes such bytes for é, ü, …)".into(),
                        ),
                    }],
                ))
            }
        }
    }

    /// Resolve what a person typed (`prod`, `production`, `Prod`) to an environment.
    pub fn env(&self, typed: &str) -> Option<&EnvConfig> {
        let typed = typed.to_ascii_lowercase();
        self.environments
            .values()
            .find(|e| e.name.as_str() == typed || e.aliases.contains(&typed))
    }

    pub fn service(&self, typed: &str) -> Option<&ServiceConfig> {
        self.services
            .values()
            .find(|s| s.name.as_str() == typed.to_ascii_lowercase())
    }

    /// Services deployed to `env`, in deploy order.
    pub fn services_in<'a>(
        &'a self,
        env: &'a EnvName,
    ) -> impl Iterator<Item = &'a ServiceConfig> + 'a {
        self.services.values().filter(move |s| s.envs.contains(env))
    }

    /// The alarms watching `service` in `env`.
    pub fn alarms_for(&self, env: &EnvName, service: &ServiceName) -> Vec<String> {
        self.alarms
            .iter()
            .filter(|(_, t)| &t.env == env && t.services.contains(service))
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub fn members(&self, group: &GroupName) -> &[UserRef] {
        self.groups.get(group).map_or(&[], Vec::as_slice)
    }

    pub fn is_member(&self, group: &GroupName, user: &UserRef) -> bool {
        self.members(group).contains(user)
    }

    /// The backup plans that snapshot before `service` deploys to `env`.
    pub fn plans_before_deploy<'a>(
        &'a self,
        env: &'a EnvName,
        service: &'a ServiceName,
    ) -> impl Iterator<Item = &'a BackupPlan> + 'a {
        self.backups
            .values()
            .filter(move |p| &p.env == env && p.before_deploy.contains(service))
    }

    /// The environment a mistyped name most likely meant, by its canonical name (a near miss
    /// of an alias suggests the environment, not the alias).
    pub fn suggest_env(&self, typed: &str) -> Option<&EnvName> {
        let words = self.env_words();
        let word = suggest::did_you_mean(typed, words.iter().copied())?;
        self.env(word).map(|e| &e.name)
    }

    /// The service a repository (or CodeBuild project) builds: the service with that name, or
    /// whose ECR repository's last segment is that name. `acme/api` and `api` both find `api`.
    pub fn service_built_from(&self, repository: &str) -> Option<&ServiceConfig> {
        let name = repository.rsplit('/').next().unwrap_or(repository);
        self.services
            .values()
            .find(|s| s.name.as_str() == name || s.repository.rsplit('/').next() == Some(name))
    }

    /// Every name a person may type for an environment, for "did you mean".
    pub fn env_words(&self) -> Vec<&str> {
        self.environments
            .values()
            .flat_map(|e| {
                std::iter::once(e.name.as_str()).chain(e.aliases.iter().map(String::as_str))
            })
            .collect()
    }
}

/// The fix for a TOML syntax error, from what the parser said.
fn syntax_help(message: &str) -> &'static str {
    if message.contains("duplicate key") {
        "each key appears once in its table, and each `[table]` header once in the file: remove or rename one"
    } else if message.contains("invalid string") || message.contains("unterminated") {
        "close the string: a value is written \"like this\" on one line"
    } else {
        "TOML: `key = \"value\"`, lists as [\"a\", \"b\"], tables as `[name]`; see infra/deckhand.example.toml"
    }
}

/// One mistake in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Range<usize>,
    pub message: String,
    pub help: Option<String>,
}

/// Every mistake found in one config file, in file order, ready to print.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    pub origin: String,
    pub errors: Vec<LocatedDiagnostic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedDiagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
    /// The source line the mistake is on, for showing under the message.
    pub source_line: String,
}

impl ConfigErrors {
    fn new(origin: &str, src: &str, mut diags: Vec<Diagnostic>) -> Self {
        diags.sort_by_key(|d| d.span.start);
        diags.dedup();
        let errors = diags
            .into_iter()
            .map(|d| {
                let (line, column) = line_col(src, d.span.start);
                let source_line = src.lines().nth(line - 1).unwrap_or("").to_owned();
                LocatedDiagnostic {
                    line,
                    column,
                    message: d.message,
                    help: d.help,
                    source_line,
                }
            })
            .collect();
        Self {
            origin: origin.to_owned(),
            errors,
        }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            writeln!(
                f,
                "{}:{}:{}: error: {}",
                self.origin, e.line, e.column, e.message
            )?;
            let gutter = e.line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{} | {}", e.line, e.source_line)?;
            writeln!(f, "{:gutter$} | {:>col$}", "", "^", col = e.column)?;
            if let Some(help) = &e.help {
                writeln!(f, "{:gutter$} = help: {help}", "")?;
            }
            writeln!(f)?;
        }
        let n = self.errors.len();
        write!(
            f,
            "{}: {n} mistake{}",
            self.origin,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ConfigErrors {}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

mod alarms;
mod backups;
mod chat;
mod environments;
mod groups;
mod reader;
mod refs;
mod services;

pub use backups::check_schedule;
use reader::Reader;
pub use reader::parse_duration;

const TOP_KEYS: &[&str] = &[
    "slack",
    "discord",
    "groups",
    "environments",
    "services",
    "alarms",
    "backups",
];

/// A name as written, with where it was written, to check once everything is read.
struct Ref<'a> {
    at: Spanned<&'a str>,
    /// The config path it appears at, for the message.
    path: String,
}

impl<'a> Ref<'a> {
    /// The name `at`, written at `path.field`.
    fn new(at: Spanned<&'a str>, path: &str, field: &str) -> Self {
        Ref {
            at,
            path: format!("{path}.{field}"),
        }
    }
}

/// What a name written in one table refers to.
#[derive(Debug, Clone, Copy)]
enum Named {
    Env,
    Service,
    Group,
}

/// Every name a table refers to, collected while reading and checked once all are known.
#[derive(Default)]
struct Refs<'a> {
    env: Vec<Ref<'a>>,
    service: Vec<Ref<'a>>,
    group: Vec<Ref<'a>>,
    /// Each environment's `after`, for the promotion-chain check.
    after: Vec<(EnvName, Spanned<&'a str>)>,
    /// An approvers group with the approvals it must be able to give, and where.
    min_members: Vec<(Spanned<&'a str>, i64, String)>,
}

fn read_config<'d>(r: &mut Reader<'d>, doc: &'d Spanned<DeTable<'_>>) -> Option<Config> {
    let root = doc.get_ref();
    r.only_keys(root, "deckhand.toml", TOP_KEYS);
    let (slack, discord) = chat::read(r, root);
    let groups = r.each(root, "groups", &["members"], groups::read);
    if !root.contains_key("environments") {
        r.error(
            0..0,
            "no environments are configured",
            Some("add `[environments.<name>]` tables".into()),
        );
    }
    let mut environments = r.each(root, "environments", environments::KEYS, environments::read);
    let services = r.each(root, "services", services::KEYS, services::read);
    let alarms = r.each(root, "alarms", alarms::KEYS, alarms::read);
    let backups = r.each(root, "backups", backups::KEYS, backups::read);
    let refs = std::mem::take(&mut r.refs);
    refs::check(r, &refs, &groups, &mut environments, &services);
    Some(Config {
        slack,
        discord,
        groups,
        environments,
        services,
        alarms,
        backups,
    })
}

#[cfg(test)]
#[path = "../tests/config.rs"]
mod tests;
