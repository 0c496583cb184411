//! The `Chat` port on Discord's REST API.

use deckhand_core::card::Card;
use deckhand_core::ports::{Channel, Chat, MessageRef, PortError, PortResult, ReplyTo};
use deckhand_core::types::{Actor, ChatKind};
use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use super::http::Http;
use super::slack::Refused;
use super::token::Token;
use crate::render::discord_card;

#[derive(Debug, Clone)]
pub struct DiscordChat {
    http: Http,
    api: String,
    pub(super) token: Token,
}

impl DiscordChat {
    pub(super) fn new(http: Http, api: String, token: Token) -> Self {
        Self { http, api, token }
    }

    /// Calls Discord's REST API; a refused token is read again and the call retried once.
    async fn call(&self, method: Method, path: &str, body: Value) -> PortResult<Value> {
        let token = self
            .token
            .get()
            .ok_or_else(|| PortError::Failed("no Discord bot token is configured".into()))?;
        match self.call_with(&token, method.clone(), path, &body).await {
            Err(Refused::Token(_)) if self.token.renew(&token).await => {
                let renewed = self.token.get().unwrap_or(token);
                self.call_with(&renewed, method, path, &body)
                    .await
                    .map_err(Refused::into_port)
            }
            other => other.map_err(Refused::into_port),
        }
    }

    async fn call_with(
        &self,
        token: &SecretString,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, Refused> {
        let url = format!("{}{path}", self.api);
        let what = format!("Discord {method} {path}");
        let (status, reply) = self
            .http
            .send(&what, || {
                self.http
                    .client
                    .request(method.clone(), &url)
                    .header("Authorization", format!("Bot {}", token.expose_secret()))
                    .json(body)
            })
            .await
            .map_err(Refused::Other)?;
        if status.is_server_error() {
            return Err(Refused::Other(PortError::Transient(format!(
                "{what}: HTTP {status}"
            ))));
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(Refused::Token(format!("{what}: HTTP {status}")));
        }
        if !status.is_success() {
            let message = reply["message"].as_str().unwrap_or("no message given");
            return Err(Refused::Other(PortError::Failed(format!(
                "{what}: HTTP {status}: {message}"
            ))));
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
        let reply = self.call(Method::PUT, &path, commands).await?;
        Ok(reply
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
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

impl Chat for DiscordChat {
    async fn post_card(&self, to: &Channel, card: &Card) -> PortResult<MessageRef> {
        let path = format!("/channels/{}/messages", to.id);
        let reply = self.call(Method::POST, &path, discord_card(card)).await?;
        discord_message_ref(&to.id, &reply)
    }

    async fn update_card(&self, message: &MessageRef, card: &Card) -> PortResult<()> {
        let path = format!("/channels/{}/messages/{}", message.channel, message.id);
        self.call(Method::PATCH, &path, discord_card(card)).await?;
        Ok(())
    }

    async fn reply(&self, message: &MessageRef, text: &str) -> PortResult<()> {
        let body = json!({ "content": text, "message_reference": { "message_id": message.id }, "allowed_mentions": { "parse": [] } });
        let path = format!("/channels/{}/messages", message.channel);
        self.call(Method::POST, &path, body).await?;
        Ok(())
    }

    async fn post(&self, to: &Channel, text: &str) -> PortResult<MessageRef> {
        let body = json!({ "content": text, "allowed_mentions": { "parse": [] } });
        let path = format!("/channels/{}/messages", to.id);
        let reply = self.call(Method::POST, &path, body).await?;
        discord_message_ref(&to.id, &reply)
    }

    /// Discord has ephemeral messages only as answers to an interaction; the router answers
    /// those in the interaction response itself.
    /// An interaction's follow-up message, seen only by the person who asked (flag 64,
    /// ephemeral). The interaction token is its own authority: no bot token is sent.
    async fn respond(&self, to: &ReplyTo, text: &str) -> PortResult<()> {
        let ReplyTo::Discord {
            application_id,
            token,
        } = to
        else {
            return Err(PortError::Failed(
                "a Slack response URL handed to the Discord client".into(),
            ));
        };
        let url = format!("{}/webhooks/{application_id}/{}", self.api, token.expose());
        let body = json!({ "content": text, "flags": 64 });
        let what = "Discord interaction follow-up";
        let (status, _) = self
            .http
            .send(what, || self.http.client.post(&url).json(&body))
            .await?;
        if !status.is_success() {
            return Err(PortError::Failed(format!("{what}: HTTP {status}")));
        }
        Ok(())
    }

    async fn ephemeral(&self, to: &Channel, _user: &Actor, _text: &str) -> PortResult<()> {
        tracing::debug!(channel = %to.id, "no ephemeral message outside an interaction on Discord");
        Ok(())
    }
}
