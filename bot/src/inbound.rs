//! What Slack, Discord and the build systems send, as types. A request that does not parse into
//! its type is answered 400 with the reason (see `router`), never read with defaults: a missing
//! `trigger_id` or interaction id would otherwise give every such request one shared
//! idempotency key. Only the fields Deckhand reads are declared; the rest are ignored.

use serde::Deserialize;
use serde_json::Value;

use deckhand_core::ports::ReplyTo;
use deckhand_core::types::{EventKey, Sealed};

/// Why a request could not be read: said in the 400 and the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

fn json<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Malformed> {
    serde_json::from_slice(bytes).map_err(|e| Malformed(format!("{what}: {e}")))
}

fn form<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Malformed> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| Malformed(format!("{what}: {e}")))
}

/// A Slack slash command (`application/x-www-form-urlencoded`).
#[derive(Debug, Clone, Deserialize)]
pub struct SlackCommand {
    pub team_id: String,
    pub channel_id: String,
    pub user_id: String,
    #[serde(default)]
    pub user_name: Option<String>,
    pub command: String,
    #[serde(default)]
    pub text: String,
    /// The same on Slack's retries of this command: the command's idempotency key.
    pub trigger_id: String,
    /// Where to answer privately later (30 minutes, 5 times); a credential, so sealed.
    #[serde(default)]
    pub response_url: Option<Sealed>,
}

impl SlackCommand {
    /// Where to answer the person after the command's own answer.
    pub fn reply_to(&self) -> Option<ReplyTo> {
        let url = self
            .response_url
            .as_ref()
            .filter(|u| !u.expose().is_empty())?;
        Some(ReplyTo::Slack {
            response_url: url.clone(),
        })
    }
}

impl SlackCommand {
    pub fn parse(body: &[u8]) -> Result<(Self, EventKey), Malformed> {
        let c: SlackCommand = form("slash command", body)?;
        for (field, value) in [
            ("team_id", &c.team_id),
            ("channel_id", &c.channel_id),
            ("user_id", &c.user_id),
            ("command", &c.command),
        ] {
            if value.is_empty() {
                return Err(Malformed(format!("slash command: `{field}` is empty")));
            }
        }
        let key = EventKey::slack_command(&c.team_id, &c.trigger_id)
            .ok_or_else(|| Malformed("slash command: `trigger_id` is empty".into()))?;
        Ok((c, key))
    }

    /// The name Slack shows for the person, or their id.
    pub fn user_name(&self) -> &str {
        self.user_name.as_deref().unwrap_or(&self.user_id)
    }
}

/// A Slack interaction (`payload=` JSON in a form). Only button clicks (`block_actions`) are
/// acted on; every other kind is acknowledged and ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type")]
pub enum SlackInteraction {
    #[serde(rename = "block_actions")]
    BlockActions(BlockActions),
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
struct SlackInteractionForm {
    payload: String,
}

impl SlackInteraction {
    pub fn parse(body: &[u8]) -> Result<Self, Malformed> {
        let f: SlackInteractionForm = form("interaction", body)?;
        json("interaction payload", f.payload.as_bytes())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct BlockActions {
    pub user: SlackUser,
    #[serde(default)]
    pub team: Option<SlackTeam>,
    #[serde(default)]
    pub response_url: Option<String>,
    #[serde(default)]
    pub actions: Vec<SlackAction>,
}

impl BlockActions {
    /// The workspace the click came from: the user's team, else the payload's.
    pub fn team(&self) -> Option<&str> {
        self.user
            .team_id
            .as_deref()
            .or(self.team.as_ref().map(|t| t.id.as_str()))
            .filter(|t| !t.is_empty())
    }

    /// The clicked button's value, when the action is a button with one.
    pub fn value(&self) -> Option<&str> {
        self.actions.first().and_then(|a| a.value.as_deref())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SlackUser {
    pub id: String,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl SlackUser {
    pub fn display(&self) -> &str {
        self.username
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SlackTeam {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SlackAction {
    #[serde(default)]
    pub value: Option<String>,
}

/// A Discord interaction: a ping, a slash command or a button click.
#[derive(Debug, Clone, Deserialize)]
pub struct DiscordInteraction {
    /// Unique per interaction, and the same on a redelivery: its idempotency key.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub guild_id: Option<String>,
    #[serde(default)]
    pub channel_id: Option<String>,
    #[serde(default)]
    pub member: Option<DiscordMember>,
    #[serde(default)]
    pub data: Option<DiscordData>,
    #[serde(default)]
    pub application_id: Option<String>,
    /// The interaction's token: follow-up messages for 15 minutes; a credential, so sealed.
    #[serde(default)]
    pub token: Option<Sealed>,
}

impl DiscordInteraction {
    /// Where to answer the person after the interaction's own answer.
    pub fn reply_to(&self) -> Option<ReplyTo> {
        let application_id = self.application_id.as_ref().filter(|a| !a.is_empty())?;
        let token = self.token.as_ref().filter(|t| !t.expose().is_empty())?;
        Some(ReplyTo::Discord {
            application_id: application_id.clone(),
            token: token.clone(),
        })
    }

    pub const PING: u8 = 1;
    pub const COMMAND: u8 = 2;
    pub const COMPONENT: u8 = 3;

    pub fn parse(body: &[u8]) -> Result<(Self, EventKey), Malformed> {
        let i: DiscordInteraction = json("interaction", body)?;
        let key = EventKey::discord_interaction(&i.id)
            .ok_or_else(|| Malformed("interaction: `id` is empty".into()))?;
        Ok((i, key))
    }

    /// Where and by whom, for an interaction in a server channel.
    pub fn origin(&self) -> Option<(&str, &str, &DiscordUser)> {
        let user = &self.member.as_ref()?.user;
        Some((self.guild_id.as_deref()?, self.channel_id.as_deref()?, user))
    }

    /// A slash command's name and its text: each Deckhand command takes its arguments as one
    /// free-text option, so Discord and Slack share one grammar.
    pub fn command(&self) -> (&str, String) {
        let Some(data) = &self.data else {
            return ("", String::new());
        };
        let text = data
            .options
            .iter()
            .filter_map(|o| o.value.as_ref().and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        (data.name.as_deref().unwrap_or_default(), text)
    }

    /// A clicked button's `custom_id`.
    pub fn custom_id(&self) -> Option<&str> {
        self.data.as_ref()?.custom_id.as_deref()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscordMember {
    pub user: DiscordUser,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscordUser {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub global_name: Option<String>,
}

impl DiscordUser {
    pub fn display(&self) -> &str {
        self.global_name
            .as_deref()
            .or(self.username.as_deref())
            .unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscordData {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub options: Vec<DiscordOption>,
    #[serde(default)]
    pub custom_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscordOption {
    /// A string for every option Deckhand registers; any other kind is not read.
    #[serde(default)]
    pub value: Option<Value>,
}

/// GitHub's `workflow_run` webhook.
#[derive(Debug, Clone, Deserialize)]
pub struct GithubWorkflowRun {
    pub action: String,
    /// Both always come with a `workflow_run` event (the only one this type reads), whatever
    /// its action: missing, the payload is not GitHub's and gets a 400.
    pub workflow_run: GithubRun,
    pub repository: GithubRepository,
}

impl GithubWorkflowRun {
    pub fn parse(body: &[u8]) -> Result<Self, Malformed> {
        json("workflow_run", body)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct GithubRun {
    pub id: u64,
    pub head_sha: String,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GithubRepository {
    pub name: String,
}

/// GitLab's pipeline webhook.
#[derive(Debug, Clone, Deserialize)]
pub struct GitlabPipeline {
    pub object_kind: String,
    #[serde(default)]
    pub object_attributes: Option<GitlabPipelineAttributes>,
    #[serde(default)]
    pub project: Option<GitlabProject>,
}

impl GitlabPipeline {
    pub fn parse(body: &[u8]) -> Result<Self, Malformed> {
        json("pipeline", body)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct GitlabPipelineAttributes {
    pub id: u64,
    pub status: String,
    pub sha: String,
    #[serde(rename = "ref", default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GitlabProject {
    #[serde(default)]
    pub path_with_namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// Deckhand's own build webhook, for any CI.
#[derive(Debug, Clone, Deserialize)]
pub struct GenericBuild {
    pub service: String,
    pub version: String,
    pub build_id: String,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// A build reported without saying is taken as succeeded.
    #[serde(default = "yes")]
    pub succeeded: bool,
}

fn yes() -> bool {
    true
}

impl GenericBuild {
    pub fn parse(body: &[u8]) -> Result<Self, Malformed> {
        let b: GenericBuild = json("build", body)?;
        if b.build_id.is_empty() {
            return Err(Malformed("build: `build_id` is empty".into()));
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const COMMAND: &str = "team_id=T1&channel_id=C1&user_id=U1&user_name=alice&command=%2Fdeploy&text=prod+api+v1&trigger_id=13345224609.738474920.8088930838d88f008e0";

    #[test]
    fn a_slash_command_reads_into_its_type_and_its_key() {
        let (c, key) = SlackCommand::parse(COMMAND.as_bytes()).unwrap();
        assert_eq!(
            (c.command.as_str(), c.text.as_str()),
            ("/deploy", "prod api v1")
        );
        assert_eq!(c.user_name(), "alice");
        assert_eq!(
            key.as_str(),
            "slack:T1:13345224609.738474920.8088930838d88f008e0",
            "the form the store has always used"
        );
    }

    #[test]
    fn a_slash_command_without_a_trigger_or_a_team_is_refused_never_keyed_on_nothing() {
        for broken in [
            COMMAND.replace("&trigger_id=13345224609.738474920.8088930838d88f008e0", ""),
            COMMAND.replace(
                "trigger_id=13345224609.738474920.8088930838d88f008e0",
                "trigger_id=",
            ),
            COMMAND.replace("team_id=T1", "team_id="),
            COMMAND.replace("&command=%2Fdeploy", ""),
        ] {
            let why = SlackCommand::parse(broken.as_bytes()).unwrap_err();
            assert!(why.0.starts_with("slash command"), "{why}");
        }
    }

    #[test]
    fn a_discord_interaction_without_an_id_is_refused() {
        let ok = br#"{"id":"1","type":2,"guild_id":"G","channel_id":"C","member":{"user":{"id":"U","username":"bob"}},"data":{"name":"deploy","options":[{"value":"prod api v1"},{"value":7}]}}"#;
        let (i, key) = DiscordInteraction::parse(ok).unwrap();
        assert_eq!(key.as_str(), "discord:1");
        assert_eq!(i.command(), ("deploy", "prod api v1".to_owned()));
        assert_eq!(i.origin().unwrap().2.display(), "bob");
        assert!(DiscordInteraction::parse(br#"{"type":2}"#).is_err());
        assert!(DiscordInteraction::parse(br#"{"id":"","type":2}"#).is_err());
        assert!(DiscordInteraction::parse(b"[]").is_err());
    }

    #[test]
    fn slack_interactions_other_than_clicks_are_recognised_and_broken_ones_refused() {
        let payload = |p: &str| format!("payload={}", urlencode(p));
        let click = payload(
            r#"{"type":"block_actions","user":{"id":"U1","team_id":"T1","username":"bob"},"response_url":"https://hooks/x","actions":[{"value":"approve:01"}]}"#,
        );
        let SlackInteraction::BlockActions(b) = SlackInteraction::parse(click.as_bytes()).unwrap()
        else {
            panic!("a click")
        };
        assert_eq!((b.team(), b.value()), (Some("T1"), Some("approve:01")));
        let other = payload(r#"{"type":"view_submission","user":{"id":"U1"}}"#);
        assert!(matches!(
            SlackInteraction::parse(other.as_bytes()).unwrap(),
            SlackInteraction::Other
        ));
        assert!(SlackInteraction::parse(b"nothing=here").is_err());
        assert!(
            SlackInteraction::parse(payload(r#"{"type":"block_actions"}"#).as_bytes()).is_err()
        );
    }

    #[test]
    fn build_webhooks_need_their_ids() {
        assert!(GenericBuild::parse(br#"{"service":"api","version":"v1","build_id":""}"#).is_err());
        let b = GenericBuild::parse(br#"{"service":"api","version":"v1","build_id":"9"}"#).unwrap();
        assert!(
            b.succeeded,
            "a build reported without saying is taken as succeeded"
        );
        let run = br#"{"action":"completed","workflow_run":{"head_sha":"abc"},"repository":{"name":"api"}}"#;
        assert!(
            GithubWorkflowRun::parse(run).is_err(),
            "a run without its id"
        );
        let alone = br#"{"action":"completed","workflow_run":{"id":1,"head_sha":"abc"}}"#;
        let missing = GithubWorkflowRun::parse(alone).unwrap_err().0;
        assert!(missing.contains("`repository`"), "{missing}");
        let pipeline =
            br#"{"object_kind":"pipeline","object_attributes":{"status":"success","sha":"abc"}}"#;
        assert!(
            GitlabPipeline::parse(pipeline).is_err(),
            "a pipeline without its id"
        );
    }

    fn urlencode(s: &str) -> String {
        serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_owned()
    }
}
