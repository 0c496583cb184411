//! The `Chat` port on Slack's Web API and Discord's REST API.
//!
//! One reqwest client (the rustls + aws-lc stack the AWS SDK already builds) serves both chats.
//! Base URLs are configurable so tests put a local server in Slack's and Discord's place. A 429
//! is waited out as the chat asks (`Retry-After`, or Discord's `retry_after`), up to a bound, then
//! reported as `Transient`; core logs a failed chat call with the deployment id and carries on,
//! because chat is news and the deployment's state is already saved.

use std::time::Duration;

use deckhand_core::card::Card;
use deckhand_core::ports::{Channel, Chat, MessageRef, PortError, PortResult};
use deckhand_core::types::{Actor, ChatKind};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use crate::render::{discord_card, slack_card};

/// Where the chats' APIs are. Production defaults; tests and `deckhand serve` may override.
#[derive(Debug, Clone)]
pub struct ChatApis {
    pub slack: String,
    pub discord: String,
}

impl Default for ChatApis {
    fn default() -> Self {
        Self {
            slack: "https://slack.com/api".into(),
            discord: "https://discord.com/api/v10".into(),
        }
    }
}

/// How many times a rate-limited call is retried, and the longest single wait honoured. A
/// chat asking for longer than that is treated as unavailable: a Lambda cannot wait minutes.
const MAX_RETRIES: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct HttpChat {
    http: reqwest::Client,
    apis: ChatApis,
    slack_token: Option<SecretString>,
    discord_token: Option<SecretString>,
}

impl HttpChat {
    pub fn new(
        apis: ChatApis,
        slack_token: Option<SecretString>,
        discord_token: Option<SecretString>,
    ) -> PortResult<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .user_agent("deckhand")
            .build()
            .map_err(|e| PortError::Failed(format!("building the chat client: {e}")))?;
        Ok(Self {
            http,
            apis,
            slack_token,
            discord_token,
        })
    }

    /// Sends a request, waiting out 429s. `what` names the call for errors.
    async fn send(
        &self,
        what: &str,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> PortResult<(StatusCode, Value)> {
        let mut attempt = 0;
        loop {
            let resp = make()
                .send()
                .await
                .map_err(|e| PortError::Transient(format!("{what}: {}", without_url(&e))))?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<f64>().ok());
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            if status != StatusCode::TOO_MANY_REQUESTS {
                return Ok((status, body));
            }
            let wait = retry_after
                .or_else(|| body["retry_after"].as_f64())
                .unwrap_or(1.0);
            let wait = Duration::from_secs_f64(wait.max(0.0));
            attempt += 1;
            if attempt > MAX_RETRIES || wait > MAX_WAIT {
                return Err(PortError::Transient(format!(
                    "{what}: rate limited (asked to wait {wait:?})"
                )));
            }
            tracing::info!(
                call = what,
                ?wait,
                attempt,
                "rate limited; waiting as asked"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Calls a Slack Web API method. Slack answers 200 with `ok: false` for most errors.
    async fn slack(&self, method: &str, body: Value) -> PortResult<Value> {
        let token = self
            .slack_token
            .as_ref()
            .ok_or_else(|| PortError::Failed("no Slack bot token is configured".into()))?;
        let url = format!("{}/{method}", self.apis.slack);
        let (status, reply) = self
            .send(&format!("Slack {method}"), || {
                self.http
                    .post(&url)
                    .bearer_auth(token.expose_secret())
                    .json(&body)
            })
            .await?;
        if !status.is_success() || reply["ok"] != Value::Bool(true) {
            let error = reply["error"].as_str().unwrap_or("no error given");
            return Err(if status.is_server_error() {
                PortError::Transient(format!("Slack {method}: HTTP {status}"))
            } else {
                PortError::Failed(format!("Slack {method}: {error}"))
            });
        }
        Ok(reply)
    }

    /// Calls Discord's REST API.
    async fn discord(&self, method: Method, path: &str, body: Value) -> PortResult<Value> {
        let token = self
            .discord_token
            .as_ref()
            .ok_or_else(|| PortError::Failed("no Discord bot token is configured".into()))?;
        let url = format!("{}{path}", self.apis.discord);
        let what = format!("Discord {method} {path}");
        let (status, reply) = self
            .send(&what, || {
                self.http
                    .request(method.clone(), &url)
                    .header("Authorization", format!("Bot {}", token.expose_secret()))
                    .json(&body)
            })
            .await?;
        if status.is_server_error() {
            return Err(PortError::Transient(format!("{what}: HTTP {status}")));
        }
        if !status.is_success() {
            let message = reply["message"].as_str().unwrap_or("no message given");
            return Err(PortError::Failed(format!(
                "{what}: HTTP {status}: {message}"
            )));
        }
        Ok(reply)
    }

    /// Registers Deckhand's slash commands in a Discord guild: one bulk overwrite, so running it
    /// again changes nothing and a command dropped from the list disappears. Returns the names
    /// Discord now has.
    pub async fn register_discord_commands(
        &self,
        application_id: &str,
        guild: &str,
        commands: Value,
    ) -> PortResult<Vec<String>> {
        let path = format!("/applications/{application_id}/guilds/{guild}/commands");
        let reply = self.discord(Method::PUT, &path, commands).await?;
        Ok(reply
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Answers a Slack interaction through its `response_url`, visible only to the clicker.
    pub async fn respond(&self, response_url: &str, text: &str) -> PortResult<()> {
        let body = json!({ "response_type": "ephemeral", "replace_original": false, "text": text });
        let (status, _) = self
            .send("Slack response_url", || {
                self.http.post(response_url).json(&body)
            })
            .await?;
        if !status.is_success() {
            return Err(PortError::Failed(format!(
                "Slack response_url: HTTP {status}"
            )));
        }
        Ok(())
    }
}

/// reqwest errors include the URL; a Slack `response_url` is a bearer credential of sorts, so
/// it stays out of messages.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    kind.to_owned()
}

fn slack_message_ref(to: &str, reply: &Value) -> PortResult<MessageRef> {
    let ts = reply["ts"]
        .as_str()
        .ok_or_else(|| PortError::Failed("Slack returned no ts".into()))?;
    let channel = reply["channel"].as_str().unwrap_or(to);
    Ok(MessageRef {
        chat: ChatKind::Slack,
        channel: channel.to_owned(),
        id: ts.to_owned(),
    })
}

fn discord_message_ref(channel: &str, reply: &Value) -> PortResult<MessageRef> {
    let id = reply["id"]
        .as_str()
        .ok_or_else(|| PortError::Failed("Discord returned no message id".into()))?;
    Ok(MessageRef {
        chat: ChatKind::Discord,
        channel: channel.to_owned(),
        id: id.to_owned(),
    })
}

fn merged(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

impl Chat for HttpChat {
    async fn post_card(&self, to: &Channel, card: &Card) -> PortResult<MessageRef> {
        match to.chat {
            ChatKind::Slack => {
                let reply = self
                    .slack(
                        "chat.postMessage",
                        merged(slack_card(card), json!({ "channel": to.id })),
                    )
                    .await?;
                slack_message_ref(&to.id, &reply)
            }
            ChatKind::Discord => {
                let reply = self
                    .discord(
                        Method::POST,
                        &format!("/channels/{}/messages", to.id),
                        discord_card(card),
                    )
                    .await?;
                discord_message_ref(&to.id, &reply)
            }
        }
    }

    async fn update_card(&self, message: &MessageRef, card: &Card) -> PortResult<()> {
        match message.chat {
            ChatKind::Slack => {
                self.slack(
                    "chat.update",
                    merged(
                        slack_card(card),
                        json!({ "channel": message.channel, "ts": message.id }),
                    ),
                )
                .await?;
            }
            ChatKind::Discord => {
                self.discord(
                    Method::PATCH,
                    &format!("/channels/{}/messages/{}", message.channel, message.id),
                    discord_card(card),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn reply(&self, message: &MessageRef, text: &str) -> PortResult<()> {
        match message.chat {
            ChatKind::Slack => {
                self.slack(
                    "chat.postMessage",
                    json!({ "channel": message.channel, "thread_ts": message.id, "text": text }),
                )
                .await?;
            }
            ChatKind::Discord => {
                let body = json!({ "content": text, "message_reference": { "message_id": message.id }, "allowed_mentions": { "parse": [] } });
                self.discord(
                    Method::POST,
                    &format!("/channels/{}/messages", message.channel),
                    body,
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn post(&self, to: &Channel, text: &str) -> PortResult<MessageRef> {
        match to.chat {
            ChatKind::Slack => {
                let reply = self
                    .slack(
                        "chat.postMessage",
                        json!({ "channel": to.id, "text": text }),
                    )
                    .await?;
                slack_message_ref(&to.id, &reply)
            }
            ChatKind::Discord => {
                let body = json!({ "content": text, "allowed_mentions": { "parse": [] } });
                let reply = self
                    .discord(Method::POST, &format!("/channels/{}/messages", to.id), body)
                    .await?;
                discord_message_ref(&to.id, &reply)
            }
        }
    }

    async fn ephemeral(&self, to: &Channel, user: &Actor, text: &str) -> PortResult<()> {
        let Some(user) = user.user_ref() else {
            return Ok(());
        };
        match to.chat {
            ChatKind::Slack => {
                self.slack(
                    "chat.postEphemeral",
                    json!({ "channel": to.id, "user": user.user_id, "text": text }),
                )
                .await?;
            }
            // Discord has ephemeral messages only as answers to an interaction; the router
            // answers those in the interaction response itself.
            ChatKind::Discord => {
                tracing::debug!(channel = %to.id, "no ephemeral message outside an interaction on Discord");
            }
        }
        Ok(())
    }
}
