//! Deckhand's slash commands as Discord registers them (`deckhand discord register`).
//!
//! Each command takes its arguments as one optional free-text option, `args`, so Discord and
//! Slack share one grammar (core's `command` module) and one set of usage messages; the router
//! joins the option back into the text Slack would have sent.

use deckhand_core::command::{DECLARED, summary, usage_of};
use serde_json::{Value, json};

/// Discord's limits: a description is at most 100 characters.
const MAX_DESCRIPTION: usize = 100;

fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_DESCRIPTION {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(MAX_DESCRIPTION - 1).collect();
    clipped.push('…');
    clipped
}

/// The body of Discord's "Bulk Overwrite Guild Application Commands": every command but
/// `help` (in Discord the command list itself is the help), each a `CHAT_INPUT` command with one
/// `STRING` option.
pub fn commands() -> Value {
    let list: Vec<Value> = DECLARED
        .iter()
        .map(|name| {
            let usage = usage_of(name);
            let args = usage.split_once(' ').map_or("", |(_, rest)| rest);
            json!({
                "name": name,
                "type": 1,
                "description": clip(summary(name)),
                "dm_permission": false,
                "options": [{
                    "type": 3,
                    "name": "args",
                    "description": clip(if args.is_empty() { "(none)" } else { args }),
                    "required": false,
                }],
            })
        })
        .collect();
    Value::Array(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_but_help_and_the_umbrella_with_one_free_text_option_within_discords_limits() {
        let list = commands();
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "deploy", "rollback", "status", "history", "lock", "unlock", "pause", "resume",
                "backup", "deckhand"
            ]
        );
        for c in list.as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            // Discord: 1–32 lowercase characters, descriptions 1–100.
            assert!(name.len() <= 32 && name.chars().all(|ch| ch.is_ascii_lowercase()));
            let description = c["description"].as_str().unwrap();
            assert!((1..=100).contains(&description.chars().count()), "{name}");
            assert_eq!(c["options"][0]["type"], 3);
            assert_eq!(c["options"][0]["required"], false);
        }
        assert_eq!(
            list[0]["options"][0]["description"],
            "ENV [SERVICE… | all] VERSION [--force] [--override \"reason\"]"
        );
        assert_eq!(clip(&"x".repeat(150)).chars().count(), 100);
    }
}
