//! `[slack]` and `[discord]`.

use toml::de::DeTable;

use super::reader::Reader;
use super::*;

pub(super) fn read(
    r: &mut Reader,
    root: &DeTable<'_>,
) -> (Option<SlackConfig>, Option<DiscordConfig>) {
    let slack = r
        .sub_table(root, "slack", "slack", &["workspace", "channels"])
        .and_then(|t| {
            let workspace = r.req_str(t, "workspace", "slack", 0..0)?;
            let channels = r.str_list(t, "channels", "slack").unwrap_or_default();
            Some(SlackConfig {
                workspace: workspace.get_ref().to_string(),
                channels: channels.iter().map(|c| c.get_ref().to_string()).collect(),
            })
        });
    let discord = r
        .sub_table(
            root,
            "discord",
            "discord",
            &["guild", "application_id", "channels"],
        )
        .and_then(|t| {
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

    (slack, discord)
}
