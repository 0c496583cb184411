//! The `Chat` port on Slack's Web API and Discord's REST API.
//!
//! [`SlackChat`] and [`DiscordChat`] are one adapter each; [`HttpChat`] hands each call to the one
//! its channel or message belongs to. One reqwest client (the rustls + aws-lc stack the AWS SDK
//! already builds) serves both.
//! Base URLs are configurable so tests put a local server in Slack's and Discord's place. A 429
//! is waited out as the chat asks (`Retry-After`, or Discord's `retry_after`), up to a bound, then
//! reported as `Transient`; core logs a failed chat call with the deployment id and carries on,
//! because chat is news and the deployment's state is already saved.

mod discord;
mod http;
mod slack;
mod token;

pub use discord::DiscordChat;
pub use slack::SlackChat;
pub use token::{Source as TokenSource, Token};

use deckhand_core::card::Card;
use deckhand_core::ports::{Channel, Chat, MessageRef, PortResult, ReplyTo};
use deckhand_core::types::{Actor, ChatKind};
use secrecy::SecretString;

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

/// Both chats behind one `Chat`: each call goes to the chat its channel or message is on.
#[derive(Debug, Clone)]
pub struct HttpChat {
    slack: SlackChat,
    discord: DiscordChat,
}

impl HttpChat {
    pub fn new(
        apis: ChatApis,
        slack_token: Option<SecretString>,
        discord_token: Option<SecretString>,
    ) -> PortResult<Self> {
        let client = http::Http::new()?;
        Ok(Self {
            slack: SlackChat::new(client.clone(), apis.slack, Token::new(slack_token)),
            discord: DiscordChat::new(client, apis.discord, Token::new(discord_token)),
        })
    }

    /// The same chats, reading a refused (rotated) bot token again from these sources.
    #[must_use]
    pub fn renewing(mut self, slack: Option<TokenSource>, discord: Option<TokenSource>) -> Self {
        if let Some(s) = slack {
            self.slack.token = self.slack.token.renewed_from(s);
        }
        if let Some(d) = discord {
            self.discord.token = self.discord.token.renewed_from(d);
        }
        self
    }

    /// The Slack adapter, for what only Slack has (answering a `response_url`).
    pub fn slack(&self) -> &SlackChat {
        &self.slack
    }

    /// The Discord adapter, for what only Discord has (registering slash commands).
    pub fn discord(&self) -> &DiscordChat {
        &self.discord
    }
}

impl Chat for HttpChat {
    async fn post_card(&self, to: &Channel, card: &Card) -> PortResult<MessageRef> {
        match to.chat {
            ChatKind::Slack => self.slack.post_card(to, card).await,
            ChatKind::Discord => self.discord.post_card(to, card).await,
        }
    }

    async fn update_card(&self, message: &MessageRef, card: &Card) -> PortResult<()> {
        match message.chat {
            ChatKind::Slack => self.slack.update_card(message, card).await,
            ChatKind::Discord => self.discord.update_card(message, card).await,
        }
    }

    async fn reply(&self, message: &MessageRef, text: &str) -> PortResult<()> {
        match message.chat {
            ChatKind::Slack => self.slack.reply(message, text).await,
            ChatKind::Discord => self.discord.reply(message, text).await,
        }
    }

    async fn post(&self, to: &Channel, text: &str) -> PortResult<MessageRef> {
        match to.chat {
            ChatKind::Slack => self.slack.post(to, text).await,
            ChatKind::Discord => self.discord.post(to, text).await,
        }
    }

    async fn respond(&self, to: &ReplyTo, text: &str) -> PortResult<()> {
        match to {
            ReplyTo::Slack { .. } => self.slack.respond(to, text).await,
            ReplyTo::Discord { .. } => self.discord.respond(to, text).await,
        }
    }

    async fn ephemeral(&self, to: &Channel, user: &Actor, text: &str) -> PortResult<()> {
        match to.chat {
            ChatKind::Slack => self.slack.ephemeral(to, user, text).await,
            ChatKind::Discord => self.discord.ephemeral(to, user, text).await,
        }
    }
}
