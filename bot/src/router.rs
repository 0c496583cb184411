//! The bot's HTTP surface: one axum router for Lambda (behind a Function URL) and local mode.
//!
//! Every request but `/health` is verified first, by one layer before any handler (401 and
//! nothing else on failure: see [`Signer`]); each handler then checks the workspace, guild and
//! channel are configured and the person is in a config group, then calls
//! one core use-case and answers within the 3 seconds Slack and Discord allow. Long work (the
//! rollout itself) is handed to the deploy function by the use-case through `Dispatch`.
//! Redeliveries (Slack's `X-Slack-Retry-Num`, a repeated Discord interaction id) reach the
//! use-cases with the same event key and are recognised there.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use deckhand_core::card::ButtonAction;
use deckhand_core::command::{self, BackupAction, Command};
use deckhand_core::config::Config;
use deckhand_core::deployment::State as DeployState;
use deckhand_core::policy::{self, NotAdmitted, Place};
use deckhand_core::ports::{Build, PortError, Ports, ReplyTo};
use deckhand_core::types::{Actor, ChatKind, EventKey, ServiceName, Version};
use deckhand_core::usecases::{
    App, BackupError, DecideError, Decision, DeployRequest, QueryError, RequestError,
};
use secrecy::SecretString;
use serde_json::json;

use crate::inbound::{
    DiscordInteraction, GenericBuild, GithubWorkflowRun, GitlabPipeline, SlackCommand,
    SlackInteraction,
};
use crate::keyring::KeyRing;
use crate::verify::{self, Unverified};
use deckhand_functions::chat::HttpChat;
use deckhand_functions::render::table_text;

/// Requests larger than this are refused before anything reads them. Slack and Discord
/// payloads are a few KiB; build webhooks (GitHub's `workflow_run`) are the largest, ~30 KiB.
pub const MAX_BODY: usize = 256 * 1024;

/// The keys that prove who is speaking. Each route is refused (401) when its key is absent.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub slack_signing_secret: Option<SecretString>,
    /// The Discord application's public key, hex.
    pub discord_public_key: Option<String>,
    pub github_secret: Option<SecretString>,
    pub gitlab_token: Option<SecretString>,
    pub generic_secret: Option<SecretString>,
}

/// Everything the handlers need.
#[derive(Debug)]
pub struct Bot<P: Ports> {
    pub ports: P,
    pub config: Config,
    pub keys: KeyRing,
    /// For answering Slack interactions through their `response_url`.
    pub responder: HttpChat,
}

impl<P: Ports> Bot<P> {
    pub fn app(&self) -> App<'_, P> {
        App::new(&self.ports, &self.config)
    }
}

pub fn router<P: Ports + 'static>(bot: Arc<Bot<P>>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/slack/commands", post(slack_command::<P>))
        .route("/slack/interactions", post(slack_interaction::<P>))
        .route("/discord/interactions", post(discord_interaction::<P>))
        .route("/hooks/build/{kind}", post(build_hook::<P>))
        .route_layer(middleware::from_fn_with_state(bot.clone(), signed::<P>))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(bot)
}

/// Who signs a route's requests. Every route but `/health` has one; an unknown build hook
/// kind has none and is answered 404 by its handler.
#[derive(Debug, Clone, Copy)]
enum Signer {
    Slack,
    Discord,
    GitHub,
    GitLab,
    Generic,
}

impl Signer {
    fn of(path: &str) -> Option<Signer> {
        match path {
            "/slack/commands" | "/slack/interactions" => Some(Signer::Slack),
            "/discord/interactions" => Some(Signer::Discord),
            "/hooks/build/github" => Some(Signer::GitHub),
            "/hooks/build/gitlab" => Some(Signer::GitLab),
            "/hooks/build/generic" => Some(Signer::Generic),
            _ => None,
        }
    }

    fn verify(self, k: &Keys, headers: &HeaderMap, body: &[u8]) -> Result<(), Unverified> {
        let hook = || Unverified::Missing("webhook secret");
        match self {
            Signer::Slack => match &k.slack_signing_secret {
                Some(secret) => verify::slack(secret, headers, body, wall_clock()),
                None => Err(Unverified::Missing("slack signing secret")),
            },
            Signer::Discord => match &k.discord_public_key {
                Some(key) => verify::discord(key, headers, body, wall_clock()),
                None => Err(Unverified::Missing("discord public key")),
            },
            Signer::GitHub => {
                verify::github(k.github_secret.as_ref().ok_or_else(hook)?, headers, body)
            }
            Signer::GitLab => verify::gitlab(k.gitlab_token.as_ref().ok_or_else(hook)?, headers),
            Signer::Generic => {
                verify::generic(k.generic_secret.as_ref().ok_or_else(hook)?, headers, body)
            }
        }
    }
}

/// Checks the signature of every request to a signed route, once, before its handler reads
/// the body: a route cannot forget to. Refused: 401, and nothing else happens.
async fn signed<P: Ports>(
    State(bot): State<Arc<Bot<P>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(signer) = Signer::of(request.uri().path()) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request too large").into_response();
    };
    if let Err(e) = bot
        .keys
        .verify(|k| signer.verify(k, &parts.headers, &body))
        .await
    {
        return unauthorized(parts.uri.path().trim_start_matches('/'), &e);
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

fn unauthorized(route: &str, why: &Unverified) -> Response {
    tracing::warn!(route, reason = %why, "refused an unverified request");
    (StatusCode::UNAUTHORIZED, "invalid request signature").into_response()
}

fn bad_request(route: &str, what: &str) -> Response {
    tracing::warn!(route, what, "refused a malformed request");
    (StatusCode::BAD_REQUEST, what.to_owned()).into_response()
}

fn slack_ephemeral(text: &str) -> Response {
    axum::Json(json!({ "response_type": "ephemeral", "text": text })).into_response()
}

fn discord_ephemeral(text: &str) -> Response {
    axum::Json(json!({ "type": 4, "data": { "content": text, "flags": 64, "allowed_mentions": { "parse": [] } } })).into_response()
}

/// The message for an infrastructure failure: bland to the person, detailed in the log. A
/// misconfiguration is not theirs to retry: it is counted for the template's alarm at once,
/// and they are told to ask whoever runs Deckhand.
async fn unavailable<P: Ports>(app: &App<'_, P>, e: &PortError) -> String {
    if let PortError::Misconfigured(why) = e {
        app.misconfigured(why).await;
        return "Deckhand is not set up right for that: something it is configured to use is missing or out of its reach. Nothing was changed. Whoever runs Deckhand has been alerted and can see what in its logs.".into();
    }
    tracing::error!(error = %e, "a port failed while answering chat");
    "Deckhand could not do that just now (a service it depends on did not answer). Nothing was changed; try again in a minute.".into()
}

/// Signature freshness is judged by the system clock, as slack-morphism's own check is: it is
/// about when the request was made, not about Deckhand's domain time (the `Clock` port), which
/// tests move freely.
fn wall_clock() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

async fn slack_command<P: Ports>(State(bot): State<Arc<Bot<P>>>, body: Bytes) -> Response {
    let (c, key) = match SlackCommand::parse(&body) {
        Ok(parsed) => parsed,
        Err(why) => return bad_request("slack/commands", &why.0),
    };
    let place = Place {
        chat: ChatKind::Slack,
        space: &c.team_id,
        channel: Some(&c.channel_id),
    };
    if let Err(no) = policy::may_reach(&bot.config, &place) {
        return slack_ephemeral(&no.to_string());
    }
    let actor = Actor::person(ChatKind::Slack, &c.team_id, &c.user_id, c.user_name());
    slack_ephemeral(&execute(&bot, &c.command, &c.text, &actor, &key, c.reply_to()).await)
}

async fn slack_interaction<P: Ports>(State(bot): State<Arc<Bot<P>>>, body: Bytes) -> Response {
    let b = match SlackInteraction::parse(&body) {
        Ok(SlackInteraction::BlockActions(b)) => b,
        Ok(SlackInteraction::Other) => return StatusCode::OK.into_response(),
        Err(why) => return bad_request("slack/interactions", &why.0),
    };
    let (Some(team), user) = (b.team(), &b.user) else {
        return bad_request("slack/interactions", "block_actions: no team");
    };
    let response_url = b.response_url.as_deref().unwrap_or_default();
    let Some(value) = b.value() else {
        return StatusCode::OK.into_response();
    };
    // Cards are posted only in the deploy channels: a click is checked for its workspace.
    let place = Place {
        chat: ChatKind::Slack,
        space: team,
        channel: None,
    };
    let answer = match policy::may_reach(&bot.config, &place) {
        Ok(()) => {
            let actor = Actor::person(ChatKind::Slack, team, &user.id, user.display());
            click(&bot, value, &actor).await
        }
        Err(no) => Some(no.to_string()),
    };
    // Block actions take no answer in the HTTP response; a refusal goes to the clicker alone.
    if let Some(text) = answer
        && !response_url.is_empty()
        && let Err(e) = bot.responder.slack().respond_at(response_url, &text).await
    {
        tracing::warn!(error = %e, "could not answer a Slack interaction");
    }
    StatusCode::OK.into_response()
}

async fn discord_interaction<P: Ports>(State(bot): State<Arc<Bot<P>>>, body: Bytes) -> Response {
    let (i, key) = match DiscordInteraction::parse(&body) {
        Ok(parsed) => parsed,
        Err(why) => return bad_request("discord/interactions", &why.0),
    };
    if i.kind == DiscordInteraction::PING {
        return axum::Json(json!({ "type": 1 })).into_response();
    }
    if bot.config.discord.is_none() {
        return discord_ephemeral(&NotAdmitted::NoChat(ChatKind::Discord).to_string());
    }
    let Some((guild, channel, user)) = i.origin() else {
        return discord_ephemeral("Deckhand answers in its server's channels only.");
    };
    let place = Place {
        chat: ChatKind::Discord,
        space: guild,
        channel: Some(channel),
    };
    if let Err(no) = policy::may_reach(&bot.config, &place) {
        return discord_ephemeral(&no.to_string());
    }
    let actor = Actor::person(ChatKind::Discord, guild, &user.id, user.display());
    match i.kind {
        DiscordInteraction::COMMAND => {
            let (name, text) = i.command();
            discord_ephemeral(&execute(&bot, name, &text, &actor, &key, i.reply_to()).await)
        }
        DiscordInteraction::COMPONENT => match i.custom_id() {
            Some(value) => match click(&bot, value, &actor).await {
                // Acknowledged; the card itself is edited by the deployment's own update.
                None => axum::Json(json!({ "type": 6 })).into_response(),
                Some(text) => discord_ephemeral(&text),
            },
            None => bad_request("discord/interactions", "component without custom_id"),
        },
        _ => bad_request("discord/interactions", "unsupported interaction type"),
    }
}

/// An Approve or Reject click. `None` when there is nothing to tell the clicker (the card's
/// update says it); otherwise the refusal.
async fn click<P: Ports>(bot: &Bot<P>, value: &str, actor: &Actor) -> Option<String> {
    let Some((action, id, env)) = ButtonAction::parse_value(value) else {
        return Some("That button is not one of Deckhand's.".into());
    };
    if let Err(no) = policy::may_talk(&bot.config, actor) {
        return Some(no.to_string());
    }
    let app = bot.app();
    let decided = match (action, env) {
        // The fast path: one conditional write and a dispatch.
        (ButtonAction::Approve, Some(env)) => app.approve(id, &env, actor).await,
        // A card posted before buttons named their environment.
        (ButtonAction::Approve, None) => app.decide(id, Decision::Approve, actor, None).await,
        (ButtonAction::Reject, _) => app.decide(id, Decision::Reject, actor, None).await,
    };
    match decided {
        Ok(_) => None,
        Err(DecideError::Port(e)) => Some(unavailable(&app, &e).await),
        Err(e) => Some(e.to_string()),
    }
}

/// Runs one chat command and returns what to tell the person.
async fn execute<P: Ports>(
    bot: &Bot<P>,
    slash: &str,
    text: &str,
    actor: &Actor,
    event_key: &EventKey,
    reply_to: Option<ReplyTo>,
) -> String {
    let command = match command::parse(slash, text, &bot.config) {
        Ok(c) => c,
        Err(usage) => return usage.to_string(),
    };
    if command == Command::Help {
        return command::help_text();
    }
    if let Err(no) = policy::may_talk(&bot.config, actor) {
        return no.to_string();
    }
    let app = bot.app();
    match command {
        Command::Deploy {
            env,
            services,
            version,
            override_reason,
            force,
        } => {
            let req = DeployRequest {
                env,
                services,
                version,
                override_reason,
                force,
                actor: actor.clone(),
                event_key: event_key.clone(),
                reply_to,
            };
            match app.request_deploy(req).await {
                Ok(r) => {
                    let d = &r.deployment;
                    let what = format!(
                        "{} {} → {}",
                        ServiceName::join(&d.service_names()),
                        d.version,
                        d.env
                    );
                    let said = if d.awaits_preparation() {
                        format!(
                            "Checking {what}. Its card follows in the {} channel; if it cannot go ahead, Deckhand tells you why here.",
                            d.env
                        )
                    } else if d.state == DeployState::PendingApproval {
                        let missing =
                            usize::from(d.required_approvals).saturating_sub(d.approvals.len());
                        format!(
                            "Approval requested for {what}: {} needed. The card is in the {} channel.",
                            deckhand_core::card::count(missing, "more approval"),
                            d.env
                        )
                    } else {
                        format!(
                            "Deploying {what}. Follow the card in the {} channel.",
                            d.env
                        )
                    };
                    std::iter::once(said)
                        .chain(r.notes.iter().cloned())
                        .collect::<Vec<_>>()
                        .join(" ")
                }
                Err(RequestError::Port(e)) => unavailable(&app, &e).await,
                Err(e) => format!("Not deploying: {e}"),
            }
        }
        Command::Rollback { env, services, to } => match app
            .manual_rollback(&env, &services, to.as_ref(), actor, event_key)
            .await
        {
            Ok(r) => format!(
                "Rolling back {} in {}. Follow the card in the {} channel.",
                ServiceName::join(&r.deployment.service_names()),
                env,
                env
            ),
            Err(RequestError::Port(e)) => unavailable(&app, &e).await,
            Err(e) => format!("Not rolling back: {e}"),
        },
        Command::Status { env } => query(&app, app.status(env.as_ref()).await).await,
        Command::History {
            env,
            service,
            limit,
        } => query(&app, app.history(&env, service.as_ref(), limit).await).await,
        Command::Lock {
            env,
            duration,
            reason,
        } => match app.lock(&env, duration, &reason, actor).await {
            Ok(lock) => format!(
                "Locked {env} until {}: {reason}. `/unlock {env}` releases it sooner.",
                lock.expires.map_or_else(
                    || "`/unlock`".to_owned(),
                    |at| at.strftime("%Y-%m-%d %H:%M UTC").to_string()
                )
            ),
            Err(QueryError::Port(e)) => unavailable(&app, &e).await,
            Err(e) => format!("Not locked: {e}"),
        },
        Command::Pause { env } => match app.pause(&env, actor).await {
            Ok((_, true)) => format!(
                "Paused automation in {env}: no automatic deploys or rollbacks until `/resume {env}`."
            ),
            Ok((p, false)) => format!(
                "{env} is already paused, by {} since {}.",
                p.by.display(),
                p.since.strftime("%Y-%m-%d %H:%M UTC")
            ),
            Err(QueryError::Port(e)) => unavailable(&app, &e).await,
            Err(e) => format!("Not paused: {e}"),
        },
        Command::Resume { env } => match app.resume(&env, actor).await {
            Ok(Some(_)) => format!("Resumed automation in {env}."),
            Ok(None) => format!("{env} was not paused."),
            Err(QueryError::Port(e)) => unavailable(&app, &e).await,
            Err(e) => format!("Not resumed: {e}"),
        },
        Command::Unlock { env } => match app.unlock(&env, actor).await {
            Ok((lock, holds)) => {
                let mut parts = Vec::new();
                if let Some(l) = lock {
                    parts.push(format!(
                        "released {}'s lock ({})",
                        l.held_by.display(),
                        l.reason
                    ));
                }
                if !holds.is_empty() {
                    parts.push(format!(
                        "released the hold on {}",
                        ServiceName::join(
                            &holds.iter().map(|h| h.service.clone()).collect::<Vec<_>>()
                        )
                    ));
                }
                if parts.is_empty() {
                    format!("{env} was not locked.")
                } else {
                    format!("Unlocked {env}: {}.", parts.join("; "))
                }
            }
            Err(QueryError::Port(e)) => unavailable(&app, &e).await,
            Err(e) => format!("Not unlocked: {e}"),
        },
        Command::Backup {
            env,
            action: BackupAction::Now,
        } => match app.backup_now(&env, actor, event_key).await {
            Ok(plans) => format!(
                "Backup started in {env}: {}. The result goes to the {env} channel.",
                plans.join(", ")
            ),
            Err(BackupError::Port(e)) => unavailable(&app, &e).await,
            Err(e) => format!("No backup: {e}"),
        },
        Command::Backup {
            env,
            action: BackupAction::List,
        } => match app.backup_list(&env).await {
            Ok(t) => table_text(&t),
            Err(BackupError::Port(e)) => unavailable(&app, &e).await,
            Err(e) => e.to_string(),
        },
        Command::Help => command::help_text(),
    }
}

async fn query<P: Ports>(
    app: &App<'_, P>,
    result: Result<deckhand_core::card::Table, QueryError>,
) -> String {
    match result {
        Ok(t) => table_text(&t),
        Err(QueryError::Port(e)) => unavailable(app, &e).await,
        Err(e) => e.to_string(),
    }
}

/// A finished build, from GitHub Actions (`workflow_run`), GitLab (pipeline) or any CI
/// (Deckhand's own JSON). Answers 202 when recorded, 200 when it changes nothing.
async fn build_hook<P: Ports>(
    State(bot): State<Arc<Bot<P>>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !matches!(kind.as_str(), "github" | "gitlab" | "generic") {
        return (StatusCode::NOT_FOUND, "no such hook").into_response();
    }
    let parsed = match kind.as_str() {
        "github" => github_build(&bot.config, &headers, &body),
        "gitlab" => gitlab_build(&bot.config, &body),
        _ => generic_build(&body),
    };
    let build = match parsed {
        Ok(Some(b)) => b,
        Ok(None) => return (StatusCode::OK, "ignored: not a finished build").into_response(),
        Err(why) => return bad_request("hooks/build", &why),
    };
    match bot.app().build_completed(&build).await {
        Ok(out) if out.duplicate => (StatusCode::OK, "already recorded").into_response(),
        Ok(_) => (StatusCode::ACCEPTED, "recorded").into_response(),
        Err(deckhand_core::usecases::BuildError::Port(e)) => {
            tracing::error!(error = %e, "recording a build failed");
            (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
        }
        Err(e) => bad_request("hooks/build", &e.to_string()),
    }
}

fn finished_at(raw: Option<&str>) -> deckhand_core::types::Timestamp {
    raw.and_then(|t| t.parse().ok())
        .unwrap_or_else(jiff::Timestamp::now)
}

fn service_for(config: &Config, repository: &str) -> Result<ServiceName, String> {
    config
        .service_built_from(repository)
        .map(|s| s.name.clone())
        .ok_or_else(|| format!("no configured service is built from repository {repository}"))
}

/// A GitHub `workflow_run` webhook as a finished build; `None` for other events and runs still going.
pub fn github_build(
    config: &Config,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Build>, String> {
    let event = headers
        .get("x-github-event")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if event != "workflow_run" {
        return Ok(None);
    }
    let v = GithubWorkflowRun::parse(body).map_err(|e| e.0)?;
    if v.action != "completed" {
        return Ok(None);
    }
    let (run, repository) = (v.workflow_run, v.repository);
    Ok(Some(Build {
        service: service_for(config, &repository.name)?,
        // Images built by Actions are tagged with the commit sha by convention; teams that tag
        // otherwise send the generic hook.
        version: Version::parse(&run.head_sha).map_err(|e| e.to_string())?,
        build_id: format!("github:{}", run.id),
        branch: run.head_branch,
        commit: Some(run.head_sha),
        url: run.html_url,
        finished_at: finished_at(run.updated_at.as_deref()),
        succeeded: run.conclusion.as_deref() == Some("success"),
    }))
}

/// A GitLab pipeline webhook as a finished build; `None` for other events and pipelines still going.
pub fn gitlab_build(config: &Config, body: &[u8]) -> Result<Option<Build>, String> {
    let v = GitlabPipeline::parse(body).map_err(|e| e.0)?;
    if v.object_kind != "pipeline" {
        return Ok(None);
    }
    let attrs = v
        .object_attributes
        .ok_or("pipeline: `object_attributes` is missing")?;
    if !matches!(attrs.status.as_str(), "success" | "failed") {
        return Ok(None);
    }
    let project = v.project.ok_or("pipeline: `project` is missing")?;
    let repository = project
        .path_with_namespace
        .or(project.name)
        .ok_or("pipeline: the project has no name")?;
    Ok(Some(Build {
        service: service_for(config, &repository)?,
        version: Version::parse(&attrs.sha).map_err(|e| e.to_string())?,
        build_id: format!("gitlab:{}", attrs.id),
        succeeded: attrs.status == "success",
        branch: attrs.branch,
        commit: Some(attrs.sha),
        url: attrs.url,
        finished_at: finished_at(attrs.finished_at.as_deref()),
    }))
}

/// The generic build webhook as a finished build.
pub fn generic_build(body: &[u8]) -> Result<Option<Build>, String> {
    let b = GenericBuild::parse(body).map_err(|e| e.0)?;
    Ok(Some(Build {
        service: ServiceName::parse(&b.service).map_err(|e| e.to_string())?,
        version: Version::parse(&b.version).map_err(|e| e.to_string())?,
        build_id: format!("generic:{}", b.build_id),
        branch: b.branch,
        commit: b.commit,
        url: b.url,
        finished_at: finished_at(b.finished_at.as_deref()),
        succeeded: b.succeeded,
    }))
}
