//! Core's `Card` and `Table` view-models, rendered for Slack (Block Kit, through
//! slack-morphism's models) and Discord (embeds and components, through serenity's builders).
//! Core decides the words; this module only decides the markup.

use deckhand_core::card::{ButtonAction, Card, Table, Tone};
use serde_json::{Value, json};
use serenity::all::{ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter};
use slack_morphism::prelude::*;

/// Slack caps a section's text at 3000 characters; a long reason must not make the call fail.
const SLACK_TEXT_LIMIT: usize = 2900;

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn emoji(tone: Tone) -> &'static str {
    match tone {
        Tone::Waiting => "⏳",
        Tone::Working => "🚀",
        Tone::Good => "✅",
        Tone::Bad => "❌",
        Tone::Neutral => "⚪",
    }
}

/// Block Kit blocks for a card.
pub fn slack_blocks(card: &Card) -> Vec<SlackBlock> {
    let mut blocks: Vec<SlackBlock> = vec![
        SlackHeaderBlock::new(SlackBlockPlainTextOnly::from(clip(&card.title, 150))).into(),
        SlackSectionBlock::new()
            .with_text(md!(
                "{} *{}*",
                emoji(card.tone),
                clip(&card.status, SLACK_TEXT_LIMIT)
            ))
            .into(),
    ];
    if !card.fields.is_empty() {
        // Sections take at most 10 fields.
        for chunk in card.fields.chunks(10) {
            let fields = chunk
                .iter()
                .map(|(k, v)| md!("*{}*\n{}", k, clip(v, 1900)))
                .collect();
            blocks.push(SlackSectionBlock::new().with_fields(fields).into());
        }
    }
    if !card.buttons.is_empty() {
        let elements = card
            .buttons
            .iter()
            .map(|b| {
                let style = match b.action {
                    ButtonAction::Approve => SlackBlockButtonStyle::Primary,
                    ButtonAction::Reject => SlackBlockButtonStyle::Danger,
                };
                let id = match b.action {
                    ButtonAction::Approve => "approve",
                    ButtonAction::Reject => "reject",
                };
                SlackActionBlockElement::Button(
                    SlackBlockButtonElement::new(pt!(b.label.clone()))
                        .with_action_id(SlackActionId::new(id.into()))
                        .with_value(b.value.clone())
                        .with_style(style),
                )
            })
            .collect();
        blocks.push(SlackActionsBlock::new(elements).into());
    }
    blocks.push(
        SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
            SlackBlockMarkDownText::new(clip(&card.footer, 1900)),
        )])
        .into(),
    );
    blocks
}

/// The whole `chat.postMessage` / `chat.update` body for a card, minus channel and ts.
pub fn slack_card(card: &Card) -> Value {
    json!({
        // The plain-text fallback shows in notifications and for screen readers.
        "text": format!("{} — {}", card.title, card.status),
        "blocks": slack_blocks(card),
    })
}

fn discord_colour(tone: Tone) -> u32 {
    match tone {
        Tone::Waiting => 0xF1_C4_0F,
        Tone::Working => 0x34_98_DB,
        Tone::Good => 0x2E_CC_71,
        Tone::Bad => 0xE7_4C_3C,
        Tone::Neutral => 0x95_A5_A6,
    }
}

/// Discord message body (`embeds` + `components`) for a card.
pub fn discord_card(card: &Card) -> Value {
    let mut embed = CreateEmbed::new()
        .title(clip(&card.title, 256))
        .description(format!(
            "{} **{}**",
            emoji(card.tone),
            clip(&card.status, 4000)
        ))
        .colour(discord_colour(card.tone))
        .footer(CreateEmbedFooter::new(clip(&card.footer, 2048)));
    // Embeds take at most 25 fields.
    for (k, v) in card.fields.iter().take(25) {
        embed = embed.field(clip(k, 256), clip(v, 1024), !v.contains('\n'));
    }
    let components: Vec<CreateActionRow> = if card.buttons.is_empty() {
        Vec::new()
    } else {
        vec![CreateActionRow::Buttons(
            card.buttons
                .iter()
                .map(|b| {
                    let style = match b.action {
                        ButtonAction::Approve => ButtonStyle::Success,
                        ButtonAction::Reject => ButtonStyle::Danger,
                    };
                    CreateButton::new(b.value.clone())
                        .label(b.label.clone())
                        .style(style)
                })
                .collect(),
        )]
    };
    json!({ "embeds": [embed], "components": components })
}

/// A table as monospace text in a code block, which both chats render aligned.
pub fn table_text(table: &Table) -> String {
    if table.rows.is_empty() {
        return format!("*{}*\n{}", table.title, table.empty);
    }
    let text = table.to_text();
    let (title, body) = text.split_once('\n').unwrap_or((&text, ""));
    format!("*{title}*\n```\n{}\n```", clip(body, SLACK_TEXT_LIMIT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use deckhand_core::card::Button;

    fn card(buttons: bool) -> Card {
        Card {
            title: "Deploy api v1.2.3 → prod".into(),
            tone: Tone::Waiting,
            status: "Waiting for 1 more approval — expires 11:00 UTC".into(),
            fields: vec![
                ("Environment".into(), "prod".into()),
                ("Services".into(), "api: v1.2.2 → v1.2.3".into()),
            ],
            buttons: if buttons {
                vec![
                    Button {
                        label: "Approve".into(),
                        action: ButtonAction::Approve,
                        value: "approve:01JD7X6Q0R6Y3C2N8W4V5T9ZKM".into(),
                    },
                    Button {
                        label: "Reject".into(),
                        action: ButtonAction::Reject,
                        value: "reject:01JD7X6Q0R6Y3C2N8W4V5T9ZKM".into(),
                    },
                ]
            } else {
                vec![]
            },
            footer: "deployment 01JD7X6Q0R6Y3C2N8W4V5T9ZKM · api@abababababab".into(),
        }
    }

    #[test]
    fn an_approval_card_is_block_kit_with_two_buttons() {
        let v = slack_card(&card(true));
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(
            blocks
                .iter()
                .map(|b| b["type"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["header", "section", "section", "actions", "context"]
        );
        assert_eq!(
            blocks[0]["text"],
            json!({"type": "plain_text", "text": "Deploy api v1.2.3 → prod"})
        );
        assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
        assert_eq!(
            blocks[2]["fields"][1]["text"],
            "*Services*\napi: v1.2.2 → v1.2.3"
        );
        let buttons = blocks[3]["elements"].as_array().unwrap();
        assert_eq!(
            buttons[0],
            json!({"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}, "value": "approve:01JD7X6Q0R6Y3C2N8W4V5T9ZKM", "style": "primary"})
        );
        assert_eq!(buttons[1]["style"], "danger");
        assert!(
            v["text"]
                .as_str()
                .unwrap()
                .contains("Waiting for 1 more approval")
        );
    }

    #[test]
    fn buttons_disappear_when_they_mean_nothing() {
        let v = slack_card(&card(false));
        assert!(
            v["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["type"] != "actions")
        );
        assert_eq!(discord_card(&card(false))["components"], json!([]));
    }

    #[test]
    fn a_discord_card_is_an_embed_with_a_button_row() {
        let v = discord_card(&card(true));
        let embed = &v["embeds"][0];
        assert_eq!(embed["title"], "Deploy api v1.2.3 → prod");
        assert_eq!(embed["color"], 0xF1C40F);
        assert_eq!(
            embed["fields"][0],
            json!({"name": "Environment", "value": "prod", "inline": true})
        );
        let row = &v["components"][0];
        assert_eq!(row["type"], 1);
        assert_eq!(
            row["components"][0]["custom_id"],
            "approve:01JD7X6Q0R6Y3C2N8W4V5T9ZKM"
        );
        assert_eq!(row["components"][0]["style"], 3);
        assert_eq!(row["components"][1]["style"], 4);
    }

    #[test]
    fn long_text_is_clipped_to_what_the_chats_accept() {
        let mut c = card(false);
        c.status = "x".repeat(10_000);
        let v = slack_card(&c);
        assert!(
            v["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                < 3000
        );
    }
}
