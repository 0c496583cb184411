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
//! health_url = "https://api.{env}.example.com/healthz"
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
use jiff::tz::TimeZone;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::policy::{FreezeKind, FreezeWindow, WeekTime};
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
    /// May contain `{env}`, replaced by the environment's name.
    pub health_url: Option<String>,
}

impl ServiceConfig {
    pub fn health_url_for(&self, env: &EnvName) -> Option<String> {
        self.health_url
            .as_ref()
            .map(|u| u.replace("{env}", env.as_str()))
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
}

impl BackupKind {
    const NAMES: [&'static str; 2] = ["rds-instance", "rds-cluster"];
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::RdsInstance => "rds-instance",
            BackupKind::RdsCluster => "rds-cluster",
        }
    }
}

/// Backup kinds Deckhand knows of and does not run yet, with what to use meanwhile: refused by
/// the config, never accepted and then "unsupported" when the schedule fires at 3 a.m.
const NOT_YET: [(&str, &str); 1] = [(
    "ecs-task",
    "`ecs-task` backups (pg_dump, pgBackRest as a one-off ECS task) are not built yet; back the database up with `rds-instance` or `rds-cluster` snapshots meanwhile",
)];

#[derive(Debug, Clone)]
pub struct BackupPlan {
    pub name: String,
    pub env: EnvName,
    pub kind: BackupKind,
    pub target: String,
    /// An EventBridge Scheduler expression: `cron(…)` (AWS's six fields) or `rate(…)`.
    pub schedule: String,
    /// Services whose deploys take a snapshot of this target first.
    pub before_deploy: Vec<ServiceName>,
    pub retention: Retention,
}

impl Config {
    /// Parse and validate a config file's text. `origin` names the file in messages.
    pub fn parse(origin: &str, src: &str) -> Result<Config, ConfigErrors> {
        let (doc, syntax) = DeTable::parse_recoverable(src);
        let mut r = Reader { diags: Vec::new() };
        for e in &syntax {
            r.diags.push(Diagnostic {
                span: e.span().unwrap_or(0..0),
                message: e.message().trim().to_owned(),
                help: None,
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

type Value<'i> = Spanned<DeValue<'i>>;

/// Reads a spanned TOML tree, collecting every mistake instead of stopping at the first.
struct Reader {
    diags: Vec<Diagnostic>,
}

impl Reader {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>, help: Option<String>) {
        self.diags.push(Diagnostic {
            span,
            message: message.into(),
            help,
        });
    }

    fn table<'a, 'i>(&mut self, v: &'a Value<'i>, path: &str) -> Option<&'a DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(
                    v.span(),
                    format!("`{path}` must be a table, found {}", other.type_str()),
                    None,
                );
                None
            }
        }
    }

    /// Reports every key of `t` not in `allowed`, with the closest allowed key as the fix.
    fn only_keys(&mut self, t: &DeTable<'_>, path: &str, allowed: &[&str]) {
        for key in t.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                let fix = suggest::did_you_mean(key.get_ref(), allowed.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .or_else(|| {
                        Some(format!(
                            "the keys `{path}` takes are: {}",
                            allowed.join(", ")
                        ))
                    });
                self.error(
                    key.span(),
                    format!("unknown key `{}` in `{path}`", key.get_ref()),
                    fix,
                );
            }
        }
    }

    fn str<'a>(&mut self, t: &'a DeTable<'_>, key: &str, path: &str) -> Option<Spanned<&'a str>> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.as_ref())),
            other => {
                self.error(
                    v.span(),
                    format!(
                        "`{path}.{key}` must be a string, found {}",
                        other.type_str()
                    ),
                    None,
                );
                None
            }
        }
    }

    fn req_str<'a>(
        &mut self,
        t: &'a DeTable<'_>,
        key: &str,
        path: &str,
        at: Range<usize>,
    ) -> Option<Spanned<&'a str>> {
        if t.get(key).is_none() {
            self.error(
                at,
                format!("`{path}` is missing `{key}`"),
                Some(format!("add `{key} = \"…\"`")),
            );
            return None;
        }
        self.str(t, key, path)
    }

    fn int(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        path: &str,
        range: Range<i64>,
    ) -> Option<Spanned<i64>> {
        let v = t.get(key)?;
        let parsed = match v.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            _ => None,
        };
        match parsed {
            Some(n) if range.contains(&n) => Some(Spanned::new(v.span(), n)),
            _ => {
                self.error(
                    v.span(),
                    format!(
                        "`{path}.{key}` must be a whole number from {} to {}",
                        range.start,
                        range.end - 1
                    ),
                    None,
                );
                None
            }
        }
    }

    fn bool(&mut self, t: &DeTable<'_>, key: &str, path: &str) -> Option<bool> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.error(
                    v.span(),
                    format!(
                        "`{path}.{key}` must be true or false, found {}",
                        other.type_str()
                    ),
                    None,
                );
                None
            }
        }
    }

    fn str_list<'a>(
        &mut self,
        t: &'a DeTable<'_>,
        key: &str,
        path: &str,
    ) -> Option<Vec<Spanned<&'a str>>> {
        let v = t.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.error(
                v.span(),
                format!("`{path}.{key}` must be a list of strings, like [\"a\", \"b\"]"),
                None,
            );
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.as_ref())),
                other => self.error(
                    item.span(),
                    format!("`{path}.{key}` holds strings, found {}", other.type_str()),
                    None,
                ),
            }
        }
        Some(out)
    }

    fn duration(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        path: &str,
        default: SignedDuration,
    ) -> SignedDuration {
        let Some(raw) = self.str(t, key, path) else {
            return default;
        };
        match parse_duration(raw.get_ref()) {
            Some(d) => d,
            None => {
                self.error(
                    raw.span(),
                    format!("`{path}.{key}` = \"{}\" is not a duration", raw.get_ref()),
                    Some(
                        "write a positive duration such as \"45m\", \"2h\", \"7d\" or \"1h 30m\""
                            .into(),
                    ),
                );
                default
            }
        }
    }

    /// A typed name (env, service, group…) through its parser, reporting the parser's message.
    fn name<T>(
        &mut self,
        raw: &Spanned<&str>,
        parse: fn(&str) -> Result<T, crate::types::ParseError>,
    ) -> Option<T> {
        match parse(raw.get_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(raw.span(), e.to_string(), None);
                None
            }
        }
    }
}

/// "2h", "45m", "7d", "1h 30m" (jiff's friendly format; days count as 24 hours).
pub fn parse_duration(raw: &str) -> Option<SignedDuration> {
    let span: jiff::Span = raw.parse().ok()?;
    let d = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .ok()?;
    d.is_positive().then_some(d)
}

const TOP_KEYS: &[&str] = &[
    "slack",
    "discord",
    "groups",
    "environments",
    "services",
    "alarms",
    "backups",
];
const ENV_KEYS: &[&str] = &[
    "cluster",
    "aliases",
    "deployers",
    "approvers",
    "required_approvals",
    "approval_ttl",
    "after",
    "bake",
    "lock_ttl",
    "lock_default",
    "lock_max",
    "hold_after_rollback",
    "freeze",
    "auto_deploy",
    "notify",
];
const SERVICE_KEYS: &[&str] = &[
    "envs",
    "ecs_service",
    "container",
    "repository",
    "migration",
    "health_url",
];
const RETENTION_KEYS: &[&str] = &[
    "keep_last",
    "keep_within",
    "daily",
    "weekly",
    "monthly",
    "max_age",
];

/// Common ways people write environment names, applied when the config has no such env.
const BUILTIN_ALIASES: &[(&str, &str)] = &[
    ("production", "prod"),
    ("prd", "prod"),
    ("stage", "staging"),
    ("stg", "staging"),
    ("development", "dev"),
];

/// A name as written, with where it was written, to check once everything is read.
struct Ref<'a> {
    at: Spanned<&'a str>,
    /// The config path it appears at, for the message.
    path: String,
}

fn read_config(r: &mut Reader, doc: &Spanned<DeTable<'_>>) -> Option<Config> {
    let root = doc.get_ref();
    r.only_keys(root, "deckhand.toml", TOP_KEYS);
    let mut env_refs: Vec<Ref<'_>> = Vec::new();
    let mut service_refs: Vec<Ref<'_>> = Vec::new();
    let mut group_refs: Vec<Ref<'_>> = Vec::new();

    let slack = root
        .get("slack")
        .and_then(|v| r.table(v, "slack"))
        .and_then(|t| {
            r.only_keys(t, "slack", &["workspace", "channels"]);
            let workspace = r.req_str(t, "workspace", "slack", 0..0)?;
            let channels = r.str_list(t, "channels", "slack").unwrap_or_default();
            Some(SlackConfig {
                workspace: workspace.get_ref().to_string(),
                channels: channels.iter().map(|c| c.get_ref().to_string()).collect(),
            })
        });
    let discord = root
        .get("discord")
        .and_then(|v| r.table(v, "discord"))
        .and_then(|t| {
            r.only_keys(t, "discord", &["guild", "application_id", "channels"]);
            let guild = r.req_str(t, "guild", "discord", 0..0)?;
            let app = r.req_str(t, "application_id", "discord", 0..0)?;
            let channels = r.str_list(t, "channels", "discord").unwrap_or_default();
            Some(DiscordConfig {
                guild: guild.get_ref().to_string(),
                application_id: app.get_ref().to_string(),
                channels: channels.iter().map(|c| c.get_ref().to_string()).collect(),
            })
        });
    if slack.is_none()
        && discord.is_none()
        && !root.contains_key("slack")
        && !root.contains_key("discord")
    {
        r.error(
            0..0,
            "no chat is configured",
            Some("add a `[slack]` or a `[discord]` table".into()),
        );
    }

    let mut groups = IndexMap::new();
    if let Some(t) = root.get("groups").and_then(|v| r.table(v, "groups")) {
        for (key, v) in t {
            let path = format!("groups.{}", key.get_ref());
            let Some(name) = r.name(
                &Spanned::new(key.span(), key.get_ref().as_ref()),
                GroupName::parse,
            ) else {
                continue;
            };
            let Some(gt) = r.table(v, &path) else {
                continue;
            };
            r.only_keys(gt, &path, &["members"]);
            let mut members = Vec::new();
            for m in r.str_list(gt, "members", &path).unwrap_or_default() {
                if let Some(u) = r.name(&m, UserRef::parse) {
                    members.push(u);
                }
            }
            groups.insert(name, members);
        }
    }

    let mut environments = IndexMap::new();
    let mut after_refs = Vec::new();
    let mut min_members = Vec::new();
    match root
        .get("environments")
        .and_then(|v| r.table(v, "environments"))
    {
        Some(t) => {
            for (key, v) in t {
                let path = format!("environments.{}", key.get_ref());
                let Some(name) = r.name(
                    &Spanned::new(key.span(), key.get_ref().as_ref()),
                    EnvName::parse,
                ) else {
                    continue;
                };
                let Some(et) = r.table(v, &path) else {
                    continue;
                };
                r.only_keys(et, &path, ENV_KEYS);
                let cluster = r.req_str(et, "cluster", &path, key.span());
                let aliases = r.str_list(et, "aliases", &path).unwrap_or_default();
                let deployers = r.str(et, "deployers", &path);
                let approvers = r.str(et, "approvers", &path);
                let required = r
                    .int(et, "required_approvals", &path, 0..11)
                    .map_or(0, |n| n.into_inner());
                if let Some(d) = &deployers {
                    group_refs.push(Ref {
                        at: d.clone(),
                        path: format!("{path}.deployers"),
                    });
                }
                if let Some(a) = &approvers {
                    group_refs.push(Ref {
                        at: a.clone(),
                        path: format!("{path}.approvers"),
                    });
                    min_members.push((a.clone(), required, format!("{path}.required_approvals")));
                } else if required > 0 {
                    r.error(
                        key.span(),
                        format!(
                            "`{path}` needs {required} approval(s) but names no `approvers` group"
                        ),
                        Some("add `approvers = \"<group>\"`".into()),
                    );
                }
                let after = r.str(et, "after", &path);
                if let Some(a) = &after {
                    env_refs.push(Ref {
                        at: a.clone(),
                        path: format!("{path}.after"),
                    });
                    after_refs.push((name.clone(), a.clone()));
                }
                let freeze = read_freeze(r, et, &path);
                let auto_deploy = et
                    .get("auto_deploy")
                    .and_then(|v| r.table(v, &format!("{path}.auto_deploy")))
                    .map(|at| {
                        let p = format!("{path}.auto_deploy");
                        r.only_keys(at, &p, &["branches", "services"]);
                        let branches = r.str_list(at, "branches", &p).unwrap_or_default();
                        if branches.is_empty() {
                            r.error(
                                key.span(),
                                format!("`{p}` lists no branches"),
                                Some("add `branches = [\"main\"]`".into()),
                            );
                        }
                        let services = r.str_list(at, "services", &p).unwrap_or_default();
                        let mut names = Vec::new();
                        for s in services {
                            if let Some(n) = r.name(&s, ServiceName::parse) {
                                names.push(n);
                            }
                            service_refs.push(Ref {
                                at: s,
                                path: format!("{p}.services"),
                            });
                        }
                        AutoDeploy {
                            branches: branches.iter().map(|b| b.get_ref().to_string()).collect(),
                            services: names,
                        }
                    });
                let notify = et
                    .get("notify")
                    .and_then(|v| r.table(v, &format!("{path}.notify")))
                    .map(|nt| {
                        let p = format!("{path}.notify");
                        r.only_keys(nt, &p, &["slack", "discord"]);
                        Notify {
                            slack: r.str(nt, "slack", &p).map(|s| s.get_ref().to_string()),
                            discord: r.str(nt, "discord", &p).map(|s| s.get_ref().to_string()),
                        }
                    });
                let lock_default =
                    r.duration(et, "lock_default", &path, SignedDuration::from_hours(8));
                let lock_max = r.duration(et, "lock_max", &path, SignedDuration::from_hours(72));
                if lock_default > lock_max
                    && let Some(raw) = et.get("lock_default")
                {
                    r.error(
                        raw.span(),
                        format!("`{path}.lock_default` is longer than `{path}.lock_max`"),
                        Some("a `/lock` without a duration gets the default; make it at most the maximum".into()),
                    );
                }
                let env = EnvConfig {
                    cluster: cluster.map(|c| c.get_ref().to_string()).unwrap_or_default(),
                    aliases: aliases
                        .iter()
                        .map(|a| a.get_ref().to_ascii_lowercase())
                        .collect(),
                    deployers: deployers.and_then(|d| GroupName::parse(d.get_ref()).ok()),
                    approvers: approvers.and_then(|a| GroupName::parse(a.get_ref()).ok()),
                    required_approvals: u8::try_from(required).unwrap_or(0),
                    approval_ttl: r.duration(
                        et,
                        "approval_ttl",
                        &path,
                        SignedDuration::from_hours(2),
                    ),
                    after: after.and_then(|a| EnvName::parse(a.get_ref()).ok()),
                    bake: r.duration(et, "bake", &path, SignedDuration::from_mins(30)),
                    lock_ttl: r.duration(et, "lock_ttl", &path, SignedDuration::from_hours(1)),
                    lock_default,
                    lock_max,
                    hold_after_rollback: r.bool(et, "hold_after_rollback", &path).unwrap_or(true),
                    freeze,
                    auto_deploy,
                    notify: notify.unwrap_or_default(),
                    name: name.clone(),
                };
                environments.insert(name, env);
            }
        }
        None if !root.contains_key("environments") => {
            r.error(
                0..0,
                "no environments are configured",
                Some("add `[environments.<name>]` tables".into()),
            );
        }
        None => {}
    }

    let mut services = IndexMap::new();
    if let Some(t) = root.get("services").and_then(|v| r.table(v, "services")) {
        for (key, v) in t {
            let path = format!("services.{}", key.get_ref());
            let Some(name) = r.name(
                &Spanned::new(key.span(), key.get_ref().as_ref()),
                ServiceName::parse,
            ) else {
                continue;
            };
            let Some(st) = r.table(v, &path) else {
                continue;
            };
            r.only_keys(st, &path, SERVICE_KEYS);
            let envs = r.str_list(st, "envs", &path).unwrap_or_default();
            if envs.is_empty() {
                r.error(
                    key.span(),
                    format!("`{path}` is deployed to no environment"),
                    Some("add `envs = [\"staging\", \"prod\"]`".into()),
                );
            }
            let mut env_names = Vec::new();
            for e in envs {
                if let Some(n) = r.name(&e, EnvName::parse) {
                    env_names.push(n);
                }
                env_refs.push(Ref {
                    at: e,
                    path: format!("{path}.envs"),
                });
            }
            let repository = r.req_str(st, "repository", &path, key.span());
            let migration = r.str_list(st, "migration", &path).map(|m| {
                m.iter()
                    .map(|s| s.get_ref().to_string())
                    .collect::<Vec<_>>()
            });
            if let (Some(m), Some(v)) = (&migration, st.get("migration"))
                && m.is_empty()
            {
                r.error(
                    v.span(),
                    format!("`{path}.migration` is an empty command"),
                    Some("remove it, or give the command, e.g. [\"bin/migrate\", \"up\"]".into()),
                );
            }
            let health_url = r.str(st, "health_url", &path);
            if let Some(h) = &health_url
                && !(h.get_ref().starts_with("https://") || h.get_ref().starts_with("http://"))
            {
                r.error(
                    h.span(),
                    format!("`{path}.health_url` must be an http(s) URL"),
                    None,
                );
            }
            let svc = ServiceConfig {
                envs: env_names,
                ecs_service: r
                    .str(st, "ecs_service", &path)
                    .map_or_else(|| name.to_string(), |s| s.get_ref().to_string()),
                container: r
                    .str(st, "container", &path)
                    .map_or_else(|| name.to_string(), |s| s.get_ref().to_string()),
                repository: repository
                    .map(|s| s.get_ref().to_string())
                    .unwrap_or_default(),
                migration,
                health_url: health_url.map(|h| h.get_ref().to_string()),
                name: name.clone(),
            };
            services.insert(name, svc);
        }
    }

    let mut alarms = IndexMap::new();
    if let Some(t) = root.get("alarms").and_then(|v| r.table(v, "alarms")) {
        for (key, v) in t {
            let path = format!("alarms.{}", key.get_ref());
            let Some(at) = r.table(v, &path) else {
                continue;
            };
            r.only_keys(at, &path, &["env", "services"]);
            let env = r.req_str(at, "env", &path, key.span());
            if let Some(e) = &env {
                env_refs.push(Ref {
                    at: e.clone(),
                    path: format!("{path}.env"),
                });
            }
            let mut svcs = Vec::new();
            for s in r.str_list(at, "services", &path).unwrap_or_default() {
                if let Some(n) = r.name(&s, ServiceName::parse) {
                    svcs.push(n);
                }
                service_refs.push(Ref {
                    at: s,
                    path: format!("{path}.services"),
                });
            }
            if let Some(env) = env.and_then(|e| EnvName::parse(e.get_ref()).ok()) {
                alarms.insert(
                    key.get_ref().to_string(),
                    AlarmTarget {
                        env,
                        services: svcs,
                    },
                );
            }
        }
    }

    let mut backups = IndexMap::new();
    if let Some(t) = root.get("backups").and_then(|v| r.table(v, "backups")) {
        for (key, v) in t {
            let path = format!("backups.{}", key.get_ref());
            // The plan's name goes into RDS snapshot identifiers, which take letters, digits and
            // single hyphens and must start with a letter.
            let name = key.get_ref();
            if ServiceName::parse(name).is_err() || name.contains("--") || name.ends_with('-') {
                let help = "use lowercase letters, digits and single `-`, starting with a letter (it becomes part of snapshot names)";
                r.error(
                    key.span(),
                    format!("`{name}` cannot name a backup plan"),
                    Some(help.into()),
                );
                continue;
            }
            let Some(bt) = r.table(v, &path) else {
                continue;
            };
            r.only_keys(
                bt,
                &path,
                &[
                    "env",
                    "kind",
                    "target",
                    "schedule",
                    "before_deploy",
                    "retention",
                ],
            );
            let env = r.req_str(bt, "env", &path, key.span());
            if let Some(e) = &env {
                env_refs.push(Ref {
                    at: e.clone(),
                    path: format!("{path}.env"),
                });
            }
            let kind = r.req_str(bt, "kind", &path, key.span()).and_then(|k| {
                let parsed = match *k.get_ref() {
                    "rds-instance" => Some(BackupKind::RdsInstance),
                    "rds-cluster" => Some(BackupKind::RdsCluster),
                    _ => None,
                };
                if let Some((_, why)) = NOT_YET.iter().find(|(n, _)| n == k.get_ref()) {
                    r.error(
                        k.span(),
                        format!("backup kind `{}` is not supported yet", k.get_ref()),
                        Some((*why).to_owned()),
                    );
                } else if parsed.is_none() {
                    let fix = suggest::did_you_mean(k.get_ref(), BackupKind::NAMES).map_or_else(
                        || format!("use one of: {}", BackupKind::NAMES.join(", ")),
                        |s| format!("did you mean `{s}`?"),
                    );
                    r.error(
                        k.span(),
                        format!("unknown backup kind `{}`", k.get_ref()),
                        Some(fix),
                    );
                }
                parsed
            });
            let target = r.req_str(bt, "target", &path, key.span());
            let schedule = r.req_str(bt, "schedule", &path, key.span());
            if let Some(s) = &schedule
                && let Err(why) = check_schedule(s.get_ref())
            {
                r.error(s.span(), format!("`{path}.schedule` = \"{}\" does not parse: {why}", s.get_ref()), Some("write `cron(0 3 * * ? *)` (minute hour day-of-month month day-of-week year, as EventBridge Scheduler takes it) or `rate(12 hours)`".into()));
            }
            let mut before = Vec::new();
            for s in r.str_list(bt, "before_deploy", &path).unwrap_or_default() {
                if let Some(n) = r.name(&s, ServiceName::parse) {
                    before.push(n);
                }
                service_refs.push(Ref {
                    at: s,
                    path: format!("{path}.before_deploy"),
                });
            }
            let retention = read_retention(r, bt, &path, key.span());
            if let (Some(env), Some(kind), Some(target), Some(schedule)) =
                (env, kind, target, schedule)
            {
                let Ok(env) = EnvName::parse(env.get_ref()) else {
                    continue;
                };
                backups.insert(
                    key.get_ref().to_string(),
                    BackupPlan {
                        name: key.get_ref().to_string(),
                        env,
                        kind,
                        target: target.get_ref().to_string(),
                        schedule: schedule.get_ref().to_string(),
                        before_deploy: before,
                        retention,
                    },
                );
            }
        }
    }

    // Cross-references, now that every name is known.
    let env_names: Vec<&str> = environments.keys().map(EnvName::as_str).collect();
    for rf in &env_refs {
        let typed = *rf.at.get_ref();
        if !environments.keys().any(|e| e.as_str() == typed) {
            let fix = suggest::did_you_mean(typed, env_names.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| Some(format!("the environments are: {}", env_names.join(", "))));
            r.error(
                rf.at.span(),
                format!("unknown environment `{typed}` in {}", rf.path),
                fix,
            );
        }
    }
    let service_names: Vec<&str> = services.keys().map(ServiceName::as_str).collect();
    for rf in &service_refs {
        let typed = *rf.at.get_ref();
        if !services.keys().any(|s| s.as_str() == typed) {
            let fix = suggest::did_you_mean(typed, service_names.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| Some(format!("the services are: {}", service_names.join(", "))));
            r.error(
                rf.at.span(),
                format!("unknown service `{typed}` in {}", rf.path),
                fix,
            );
        }
    }
    let group_names: Vec<&str> = groups.keys().map(GroupName::as_str).collect();
    for rf in &group_refs {
        let typed = *rf.at.get_ref();
        if !groups.keys().any(|g| g.as_str() == typed) {
            let fix = suggest::did_you_mean(typed, group_names.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| {
                    Some(format!(
                        "define it: [groups.{typed}] members = [\"slack:U…\"]"
                    ))
                });
            r.error(
                rf.at.span(),
                format!("unknown group `{typed}` in {}", rf.path),
                fix,
            );
        }
    }
    for (group, required, path) in &min_members {
        let members = groups
            .iter()
            .find(|(g, _)| g.as_str() == *group.get_ref())
            .map(|(_, m)| m.len());
        if let Some(n) = members
            && i64::try_from(n).unwrap_or(i64::MAX) < *required
        {
            r.error(
                group.span(),
                format!("{path} is {required} but group `{}` has only {n} member(s): no deploy could ever be approved", group.get_ref()),
                Some("lower required_approvals or add members to the group".into()),
            );
        }
    }
    // Promotion chains must end: `after` may not lead back to the environment itself.
    for (start, at) in &after_refs {
        let mut seen = vec![start.clone()];
        let mut cur = environments.get(start).and_then(|e| e.after.clone());
        while let Some(next) = cur {
            if seen.contains(&next) {
                r.error(
                    at.span(),
                    format!("the promotion chain from `{start}` loops back to `{next}`"),
                    Some("remove one `after` so the chain has a start".into()),
                );
                break;
            }
            seen.push(next.clone());
            cur = environments.get(&next).and_then(|e| e.after.clone());
        }
    }
    // Aliases: the config's own, then the built-in ones where they name a real env.
    let mut taken: Vec<String> = env_names.iter().map(|s| (*s).to_owned()).collect();
    for env in environments.values() {
        for a in &env.aliases {
            if taken.contains(a) {
                r.error(
                    0..0,
                    format!(
                        "alias `{a}` of `{}` is already an environment or another alias",
                        env.name
                    ),
                    None,
                );
            }
            taken.push(a.clone());
        }
    }
    for (alias, target) in BUILTIN_ALIASES {
        if !taken.iter().any(|t| t == alias)
            && let Some(env) = environments
                .values_mut()
                .find(|e| e.name.as_str() == *target)
        {
            env.aliases.push((*alias).to_owned());
        }
    }

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

fn read_freeze(r: &mut Reader, et: &DeTable<'_>, env_path: &str) -> Vec<FreezeWindow> {
    let path = format!("{env_path}.freeze");
    let Some(v) = et.get("freeze") else {
        return Vec::new();
    };
    let DeValue::Array(items) = v.get_ref() else {
        r.error(
            v.span(),
            format!("`{path}` must be a list of windows: [[{path}]]"),
            None,
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let Some(ft) = r.table(item, &path) else {
            continue;
        };
        r.only_keys(ft, &path, &["name", "timezone", "weekly", "from", "until"]);
        let name = r
            .req_str(ft, "name", &path, item.span())
            .map(|n| n.get_ref().to_string());
        let tz = r
            .req_str(ft, "timezone", &path, item.span())
            .and_then(|tz| match TimeZone::get(tz.get_ref()) {
                Ok(z) => Some(z),
                Err(_) => {
                    r.error(
                        tz.span(),
                        format!("unknown time zone `{}`", tz.get_ref()),
                        Some("use an IANA name such as \"Europe/Berlin\" or \"UTC\"".into()),
                    );
                    None
                }
            });
        let weekly = r.str(ft, "weekly", &path);
        let from = datetime(r, ft, "from", &path);
        let until = datetime(r, ft, "until", &path);
        let kind = match (weekly, from, until) {
            (Some(w), None, None) => match parse_weekly(w.get_ref()) {
                Some((start, end)) => Some(FreezeKind::Weekly { start, end }),
                None => {
                    r.error(
                        w.span(),
                        format!(
                            "`{path}.weekly` = \"{}\" is not a weekly window",
                            w.get_ref()
                        ),
                        Some("write it like \"fri 16:00 - mon 08:00\"".into()),
                    );
                    None
                }
            },
            (None, Some(start), Some(end)) if start < end => Some(FreezeKind::Once { start, end }),
            (None, Some(_), Some(_)) => {
                r.error(
                    item.span(),
                    format!("`{path}`: `from` must come before `until`"),
                    None,
                );
                None
            }
            _ => {
                r.error(item.span(), format!("a window in `{path}` needs either `weekly` or both `from` and `until`"), Some("e.g. weekly = \"fri 16:00 - mon 08:00\", or from = \"2026-12-23 00:00\" and until = \"2027-01-02 00:00\"".into()));
                None
            }
        };
        if let (Some(name), Some(tz), Some(kind)) = (name, tz, kind) {
            out.push(FreezeWindow { name, tz, kind });
        }
    }
    out
}

/// A local date-time, as a TOML local datetime or a string `2026-12-23 00:00`.
fn datetime(
    r: &mut Reader,
    t: &DeTable<'_>,
    key: &str,
    path: &str,
) -> Option<jiff::civil::DateTime> {
    let v = t.get(key)?;
    let text = match v.get_ref() {
        DeValue::String(s) => s.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        _ => String::new(),
    };
    match text.replace(' ', "T").parse::<jiff::civil::DateTime>() {
        Ok(dt) => Some(dt),
        Err(_) => {
            r.error(
                v.span(),
                format!("`{path}.{key}` is not a local date and time"),
                Some("write it like \"2026-12-23 00:00\"".into()),
            );
            None
        }
    }
}

/// "fri 16:00 - mon 08:00". A hand-rolled grammar: no crate parses a weekly interval, and this
/// one is two weekday-time pairs.
fn parse_weekly(raw: &str) -> Option<(WeekTime, WeekTime)> {
    let (a, b) = raw.split_once('-')?;
    let point = |s: &str| -> Option<WeekTime> {
        let mut words = s.split_whitespace();
        let day = words.next()?.to_ascii_lowercase();
        let time: jiff::civil::Time = words.next()?.parse().ok()?;
        if words.next().is_some() {
            return None;
        }
        let weekday = match day.get(..3)? {
            "mon" => jiff::civil::Weekday::Monday,
            "tue" => jiff::civil::Weekday::Tuesday,
            "wed" => jiff::civil::Weekday::Wednesday,
            "thu" => jiff::civil::Weekday::Thursday,
            "fri" => jiff::civil::Weekday::Friday,
            "sat" => jiff::civil::Weekday::Saturday,
            "sun" => jiff::civil::Weekday::Sunday,
            _ => return None,
        };
        Some(WeekTime { weekday, time })
    };
    Some((point(a)?, point(b)?))
}

fn read_retention(
    r: &mut Reader,
    bt: &DeTable<'_>,
    plan_path: &str,
    at: Range<usize>,
) -> Retention {
    let path = format!("{plan_path}.retention");
    let Some(t) = bt.get("retention").and_then(|v| r.table(v, &path)) else {
        r.error(
            at,
            format!("`{plan_path}` has no retention"),
            Some("add e.g. `retention = { daily = 7, weekly = 4, monthly = 12 }`".into()),
        );
        return Retention::default();
    };
    r.only_keys(t, &path, RETENTION_KEYS);
    let count = |r: &mut Reader, k: &str| {
        r.int(t, k, &path, 0..10_001)
            .map_or(0, |n| u32::try_from(n.into_inner()).unwrap_or(0))
    };
    let opt_duration = |r: &mut Reader, k: &str| {
        t.contains_key(k)
            .then(|| r.duration(t, k, &path, SignedDuration::ZERO))
    };
    let retention = Retention {
        keep_last: count(r, "keep_last"),
        daily: count(r, "daily"),
        weekly: count(r, "weekly"),
        monthly: count(r, "monthly"),
        keep_within: opt_duration(r, "keep_within"),
        max_age: opt_duration(r, "max_age"),
    };
    if retention == Retention::default() && t.is_empty() {
        r.error(
            at,
            format!("`{path}` keeps nothing but the newest snapshot"),
            Some("set at least one of: keep_last, daily, weekly, monthly, keep_within".into()),
        );
    }
    retention
}

/// An EventBridge Scheduler expression: `cron(min hour dom month dow year)` or
/// `rate(N unit)`. `at(…)` one-off schedules make no sense for a backup plan.
pub fn check_schedule(raw: &str) -> Result<(), String> {
    if let Some(inner) = raw.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        let fields = inner.split_whitespace().count();
        if fields != 6 {
            return Err(format!("AWS cron has 6 fields, this has {fields}"));
        }
        // AWS cron is Quartz-flavoured: day-of-week 1-7 is SUN-SAT, `?` allowed, a year field,
        // and no seconds field. croner parses Quartz's seven fields, so a zero seconds field
        // goes in front (croner only accepts a year field together with seconds).
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .year(croner::parser::Year::Required)
            .alternative_weekdays(true)
            .build();
        return parser
            .parse(&format!("0 {inner}"))
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    if let Some(inner) = raw.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        let mut words = inner.split_whitespace();
        let n: u32 = words
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or("rate needs a positive number")?;
        let unit = words.next().ok_or("rate needs a unit")?;
        let ok_unit = if n == 1 {
            ["minute", "hour", "day"].contains(&unit)
        } else {
            ["minutes", "hours", "days"].contains(&unit)
        };
        if n == 0 || !ok_unit || words.next().is_some() {
            return Err("write `rate(1 day)` or `rate(12 hours)` (singular unit for 1)".into());
        }
        return Ok(());
    }
    Err("it is neither `cron(…)` nor `rate(…)`".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = include_str!("../../infra/deckhand.example.toml");

    #[test]
    fn the_example_config_is_valid() {
        let c = match Config::parse("deckhand.example.toml", EXAMPLE) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.environments.len(), 3);
        assert_eq!(c.services.len(), 3);
        assert_eq!(c.groups.len(), 2);
        assert_eq!(c.backups.len(), 2);
        let prod = c.env("production").map(|e| e.name.as_str());
        assert_eq!(prod, Some("prod"), "the built-in alias resolves");
        assert!(!c.environments[1].freeze.is_empty() || !c.environments[2].freeze.is_empty());
    }

    #[test]
    fn a_backup_kind_not_built_yet_is_refused_with_what_to_use() {
        let src = r#"
[slack]
workspace = "T1"
[environments.prod]
cluster = "prod"
[backups.nightly]
env = "prod"
kind = "ecs-task"
target = "pg-dump"
schedule = "cron(0 3 * * ? *)"
retention = { daily = 7 }
"#;
        let err = Config::parse("bad.toml", src)
            .err()
            .map(|e| e.errors)
            .unwrap_or_default();
        assert_eq!(err.len(), 1, "{err:?}");
        assert_eq!((err[0].line, err[0].column), (8, 8));
        assert!(err[0].message.contains("`ecs-task` is not supported yet"));
        let help = err[0].help.as_deref().unwrap_or_default();
        assert!(help.contains("rds-instance"), "{help}");
        assert!(Config::parse("ok.toml", &src.replace("ecs-task", "rds-instance")).is_ok());
    }

    #[test]
    fn a_default_lock_longer_than_the_longest_is_refused() {
        let src = r#"
[slack]
workspace = "T1"
[environments.prod]
cluster = "prod"
lock_default = "2d"
lock_max = "1d"
"#;
        let err = Config::parse("bad.toml", src)
            .err()
            .map(|e| e.errors)
            .unwrap_or_default();
        assert_eq!(err.len(), 1, "{err:?}");
        assert_eq!((err[0].line, err[0].column), (6, 16));
        assert!(
            err[0]
                .message
                .contains("is longer than `environments.prod.lock_max`")
        );
        let ok = Config::parse("ok.toml", &src.replace("\"2d\"", "\"12h\"")).unwrap();
        let prod = ok.env("prod").unwrap();
        assert_eq!(
            (prod.lock_default, prod.lock_max),
            (
                SignedDuration::from_hours(12),
                SignedDuration::from_hours(24)
            )
        );
    }

    #[test]
    fn every_mistake_is_reported_with_line_column_and_fix() {
        let src = r#"
[slack]
workspace = "T1"
[groups.platform]
members = ["slack:U1234"]
[environments.prod]
cluster = "prod"
approvers = "platfrom"
required_approvals = 1
[services.api]
envs = ["prodd"]
repository = "api"
[backups.nightly]
env = "prod"
kind = "rds-instance"
target = "db"
schedule = "cron(0 3 * *)"
retention = { daily = 7 }
"#;
        let err = Config::parse("bad.toml", src)
            .err()
            .map(|e| e.errors)
            .unwrap_or_default();
        let summary: Vec<_> = err
            .iter()
            .map(|e| (e.line, e.column, e.message.as_str(), e.help.as_deref()))
            .collect();
        assert_eq!(err.len(), 3, "{summary:#?}");
        assert_eq!(summary[0].0, 8);
        assert_eq!(summary[0].1, 13);
        assert!(summary[0].2.contains("unknown group `platfrom`"));
        assert_eq!(summary[0].3, Some("did you mean `platform`?"));
        assert_eq!((summary[1].0, summary[1].1), (11, 9));
        assert_eq!(
            summary[1].2,
            "unknown environment `prodd` in services.api.envs"
        );
        assert_eq!(summary[1].3, Some("did you mean `prod`?"));
        assert_eq!(summary[2].0, 17);
        assert!(summary[2].2.contains("6 fields"), "{}", summary[2].2);
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_all_reported() {
        let src = "[slack]\nworkspace = \"T1\"\n[environments.prod]\nclustr = \"x\"\nrequired_approvals = \"two\"\nbake = \"soon\"\n";
        let err = Config::parse("x.toml", src)
            .err()
            .map(|e| e.errors)
            .unwrap_or_default();
        let messages: Vec<_> = err
            .iter()
            .map(|e| format!("{}:{} {} {:?}", e.line, e.column, e.message, e.help))
            .collect();
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("4:1 unknown key `clustr`")
                    && m.contains("did you mean `cluster`")),
            "{messages:#?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("is missing `cluster`")),
            "{messages:#?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("5:22") && m.contains("whole number")),
            "{messages:#?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("6:8") && m.contains("not a duration")),
            "{messages:#?}"
        );
    }

    #[test]
    fn backup_plan_names_must_fit_snapshot_identifiers() {
        let src = EXAMPLE.replace("[backups.staging-db]", "[backups.Staging_DB]");
        let err = Config::parse("x.toml", &src)
            .err()
            .map(|e| e.errors)
            .unwrap_or_default();
        assert_eq!(err.len(), 1, "{err:#?}");
        assert!(err[0].message.contains("cannot name a backup plan"));
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let err = Config::parse("x.toml", "[slack]\nworkspace = \n")
            .err()
            .map(|e| e.errors)
            .unwrap_or_default();
        assert_eq!(err.first().map(|e| e.line), Some(2));
    }

    #[test]
    fn promotion_loops_and_impossible_approvals_are_refused() {
        let src = r#"
[slack]
workspace = "T1"
[groups.a]
members = ["slack:U1234"]
[environments.x]
cluster = "c"
after = "y"
approvers = "a"
required_approvals = 2
[environments.y]
cluster = "c"
after = "x"
"#;
        let err = Config::parse("x.toml", src)
            .err()
            .map(|e| e.errors)
            .unwrap_or_default();
        let all = err
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all.contains("loops back"), "{all}");
        assert!(all.contains("could ever be approved"), "{all}");
    }

    #[test]
    fn schedules_are_checked_the_way_eventbridge_reads_them() {
        assert!(check_schedule("cron(0 3 * * ? *)").is_ok());
        assert!(check_schedule("cron(15 2 ? * MON-FRI *)").is_ok());
        assert!(check_schedule("rate(1 day)").is_ok());
        assert!(check_schedule("rate(12 hours)").is_ok());
        assert!(check_schedule("cron(0 3 * * *)").is_err());
        assert!(check_schedule("cron(0 25 * * ? *)").is_err());
        assert!(check_schedule("rate(1 days)").is_err());
        assert!(check_schedule("every day").is_err());
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("2h"), Some(SignedDuration::from_hours(2)));
        assert_eq!(parse_duration("7d"), Some(SignedDuration::from_hours(168)));
        assert_eq!(
            parse_duration("1h 30m"),
            Some(SignedDuration::from_mins(90))
        );
        assert_eq!(parse_duration("0m"), None);
        assert_eq!(parse_duration("soon"), None);
    }
}
