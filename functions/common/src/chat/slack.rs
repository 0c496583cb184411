//! The `Chat` port on Slack's Web API.

use deckhand_core::card::Card;
use deckhand_core::ports::{Channel, Chat, MessageRef, PortError, PortResult, ReplyTo};
use deckhand_core::types::{Actor, ChatKind};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use super::http::Http;
use super::token::Token;
use crate::render::slack_card;

#[derive(Debug, Clone)]
pub struct SlackChat {
    http: Http,
    api: String,
    pub(super) token: Token,
}

/// Slack's answers to a token it no longer takes.
const REFUSED_TOKEN: [&str; 5] = [
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
];

impl SlackChat {
    pub(super) fn new(http: Http, api: String, token: Token) -> Self {
        Self { http, api, token }
    }

    /// Calls a Slack Web API method; a refused token is read again and the call retried once.
    async fn call(&self, method: &str, body: Value) -> PortResult<Value> {
        let token = self
            .token
            .get()
            .ok_or_else(|| PortError::Failed("no Slack bot token is configured".into()))?;
        match self.call_with(&token, method, &body).await {
            Err(Refused::Token(e)) if self.token.renew(&token).await => {
                let renewed = self.token.get().unwrap_or(token);
                self.call_with(&renewed, method, &body)
                    .await
                    .map_err(|r| r.into_port())
                    .inspect_err(|_| tracing::warn!(method, error = %e, "Slack refused the bot token even after reading it again"))
            }
            other => other.map_err(Refused::into_port),
        }
    }

    /// Slack answers 200 with `ok: false` for most errors.
    async fn call_with(
        &self,
        token: &SecretString,
        method: &str,
        body: &Value,
    ) -> Result<Value, Refused> {
        let url = format!("{}/{method}", self.api);
        let (status, reply) = self
            .http
            .send(&format!("Slack {method}"), || {
                self.http
                    .client
                    .post(&url)
                    .bearer_auth(token.expose_secret())
                    .json(body)
            })
            .await
            .map_err(Refused::Other)?;
        if !status.is_success() || reply["ok"] != Value::Bool(true) {
            let error = reply["error"].as_str().unwrap_or("no error given");
            if REFUSED_TOKEN.contains(&error) {
                return Err(Refused::Token(format!("Slack {method}: {error}")));
            }
            return Err(Refused::Other(if status.is_server_error() {
                PortError::Transient(format!("Slack {method}: HTTP {status}"))
            } else {
                PortError::Failed(format!("Slack {method}: {error}"))
            }));
        }
        Ok(reply)
    }

    /// Answers a Slack interaction through its `response_url`, visible only to the clicker.
    pub async fn respond_at(&self, response_url: &str, text: &str) -> PortResult<()> {
        let body = json!({ "response_type": "ephemeral", "replace_original": false, "text": text });
        let (status, _) = self
            .http
            .send("Slack response_url", || {
                self.http.client.post(response_url).json(&body)
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

fn merged(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

impl Chat for SlackChat {
    async fn post_card(&self, to: &Channel, card: &Card) -> PortResult<MessageRef> {
        let body = merged(slack_card(card), json!({ "channel": to.id }));
        let reply = self.call("chat.postMessage", body).await?;
        slack_message_ref(&to.id, &reply)
    }

    async fn update_card(&self, message: &MessageRef, card: &Card) -> PortResult<()> {
        let at = json!({ "channel": message.channel, "ts": message.id });
        self.call("chat.update", merged(slack_card(card), at))
            .await?;
        Ok(())
    }

    async fn reply(&self, message: &MessageRef, text: &str) -> PortResult<()> {
        let body = json!({ "channel": message.channel, "thread_ts": message.id, "text": text });
        self.call("chat.postMessage", body).await?;
        Ok(())
    }

    async fn post(&self, to: &Channel, text: &str) -> PortResult<MessageRef> {
        let body = json!({ "channel": to.id, "text": text });
        let reply = self.call("chat.postMessage", body).await?;
        slack_message_ref(&to.id, &reply)
    }

    async fn respond(&self, to: &ReplyTo, text: &str) -> PortResult<()> {
        match to {
            ReplyTo::Slack { response_url } => self.respond_at(response_url.expose(), text).await,
            ReplyTo::Discord { .. } => Err(PortError::Failed(
                "a Discord follow-up handed to the Slack client".into(),
            )),
        }
    }

    async fn ephemeral(&self, to: &Channel, user: &Actor, text: &str) -> PortResult<()> {
        let Some(user) = user.user_ref() else {
            return Ok(());
        };
        let body = json!({ "channel": to.id, "user": user.user_id, "text": text });
        self.call("chat.postEphemeral", body).await?;
        Ok(())
    }
}

/// Why a chat call failed: its token was refused (worth reading it again), or anything else.
#[derive(Debug)]
pub(super) enum Refused {
    Token(String),
    Other(PortError),
}

impl Refused {
    pub(super) fn into_port(self) -> PortError {
        match self {
            // Deckhand's setup: a token the chat does not take.
            Refused::Token(why) => PortError::Misconfigured(format!(
                "{why}; the chat bot token in Secrets Manager is not one the chat takes"
            )),
            Refused::Other(e) => e,
        }
    }
}
