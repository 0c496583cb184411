//! What local mode shows: each message Slack would have received, drawn in the terminal the
//! way Slack would show it (a card's header, status, fields, buttons and footer; thread
//! replies indented; messages only one person sees marked as such).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use deckhand_harness::standin::{Observer, Sent};

/// A button on a card as it now stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub action: String,
    pub value: String,
    pub channel: String,
    pub message: String,
    /// The card's title, to say what the button is for.
    pub card: String,
}

/// `U0ALICE` → `alice`: the demo's people are named in their ids.
pub(super) fn user_name(user: &str) -> String {
    user.trim_start_matches("U0").to_ascii_lowercase()
}

/// Slack's mrkdwn bold markers and code fences dropped; the terminal has its own emphasis.
pub(super) fn plain(text: &str) -> String {
    text.lines()
        .filter(|l| l.trim() != "```")
        .collect::<Vec<_>>()
        .join("\n")
        .replace('*', "")
}

/// `text` in an ANSI style (`"1"` bold, `"2"` dim, `"1;36"` bold cyan) when stdout is a
/// terminal and `NO_COLOR` is unset; plain otherwise, so CI logs stay readable.
pub(super) fn styled(style: &str, text: &str) -> String {
    static COLOUR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let colour = *COLOUR.get_or_init(|| {
        use std::io::IsTerminal as _;
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
    });
    if colour {
        format!("\x1b[{style}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn card_lines(body: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for block in body["blocks"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("header") => lines.push(styled(
                "1",
                block["text"]["text"].as_str().unwrap_or_default(),
            )),
            Some("section") => {
                if let Some(t) = block["text"]["text"].as_str() {
                    lines.push(plain(t));
                }
                let fields: Vec<String> = block["fields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["text"].as_str())
                    .map(|f| plain(&f.replacen('\n', ": ", 1)))
                    .collect();
                for pair in fields.chunks(2) {
                    lines.push(pair.join("   "));
                }
            }
            Some("actions") => {
                let buttons: Vec<String> = block["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["text"]["text"].as_str())
                    .map(|label| format!("[ {label} ]"))
                    .collect();
                lines.push(buttons.join(" "));
            }
            Some("context") => {
                for e in block["elements"].as_array().into_iter().flatten() {
                    if let Some(t) = e["text"].as_str() {
                        lines.push(styled("2", &plain(t)));
                    }
                }
            }
            _ => {}
        }
    }
    lines
}

fn boxed(out: &mut String, heading: &str, lines: &[String]) {
    let _ = writeln!(out, "  ┌─ {heading}");
    for l in lines {
        for part in l.lines() {
            let _ = writeln!(out, "  │ {part}");
        }
    }
    let _ = writeln!(out, "  └─");
}

/// How one request to the stand-in looks on screen; `None` for what a person would not see.
pub(super) fn render(sent: &Sent) -> Option<String> {
    let body = &sent.body;
    let channel = body["channel"].as_str().unwrap_or("?");
    let mut out = String::new();
    match sent.path.as_str() {
        "/slack/chat.postMessage" if body.get("blocks").is_some() => {
            boxed(
                &mut out,
                &format!("#{channel} · Deckhand posted a card"),
                &card_lines(body),
            );
        }
        "/slack/chat.postMessage" if body.get("thread_ts").is_some() => {
            let _ = writeln!(
                out,
                "  ↳ #{channel} thread · {}",
                plain(body["text"].as_str().unwrap_or_default())
            );
        }
        "/slack/chat.postMessage" => {
            let _ = writeln!(
                out,
                "  #{channel} · Deckhand: {}",
                plain(body["text"].as_str().unwrap_or_default())
            );
        }
        "/slack/chat.update" => {
            boxed(
                &mut out,
                &format!("#{channel} · the card now reads"),
                &card_lines(body),
            );
        }
        "/slack/chat.postEphemeral" => {
            let _ = writeln!(
                out,
                "  (only {} sees) {}",
                user_name(body["user"].as_str().unwrap_or_default()),
                plain(body["text"].as_str().unwrap_or_default())
            );
        }
        path if path.starts_with("/respond/") => {
            let user = path.split('/').nth(2).unwrap_or_default();
            let _ = writeln!(
                out,
                "  (only {} sees) {}",
                user_name(user),
                plain(body["text"].as_str().unwrap_or_default())
            );
        }
        path if path.starts_with("/health/") => {
            let _ = writeln!(
                out,
                "  {}",
                styled("2", &format!("· health check GET {path} → 200"))
            );
        }
        _ => return None,
    }
    Some(out)
}

/// The buttons on every card as it now stands (the latest post or update of each message).
pub(super) fn live_buttons(sent: &[Sent]) -> Vec<Button> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut latest: HashMap<(String, String), &Value> = HashMap::new();
    for s in sent {
        let channel = s.body["channel"].as_str().unwrap_or_default().to_owned();
        let ts = match s.path.as_str() {
            "/slack/chat.postMessage" if s.body.get("blocks").is_some() => s.message_id.clone(),
            "/slack/chat.update" => s.body["ts"].as_str().map(str::to_owned),
            _ => None,
        };
        let Some(ts) = ts else { continue };
        let key = (channel, ts);
        if !latest.contains_key(&key) {
            order.push(key.clone());
        }
        latest.insert(key, &s.body);
    }
    let mut buttons = Vec::new();
    for key in order {
        let Some(body) = latest.get(&key) else {
            continue;
        };
        let card = body["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for block in body["blocks"].as_array().into_iter().flatten() {
            if block["type"] != "actions" {
                continue;
            }
            for e in block["elements"].as_array().into_iter().flatten() {
                buttons.push(Button {
                    label: e["text"]["text"].as_str().unwrap_or_default().to_owned(),
                    action: e["action_id"].as_str().unwrap_or_default().to_owned(),
                    value: e["value"].as_str().unwrap_or_default().to_owned(),
                    channel: key.0.clone(),
                    message: key.1.clone(),
                    card: card.clone(),
                });
            }
        }
    }
    buttons
}

/// The terminal: prints each message as it arrives and keeps a count for the summary.
#[derive(Debug, Clone, Default)]
pub struct Screen {
    shown: Arc<Mutex<usize>>,
    /// Each card's last drawing, by message: an update that changes nothing a person would
    /// see is not drawn again.
    cards: Arc<Mutex<HashMap<String, String>>>,
}

impl Screen {
    /// The observer to give the chat stand-in.
    pub fn observer(&self) -> Observer {
        let shown = self.shown.clone();
        let cards = self.cards.clone();
        Box::new(move |sent: &Sent| {
            if let Some(text) = render(sent) {
                let message = match sent.path.as_str() {
                    "/slack/chat.update" => sent.body["ts"].as_str().map(str::to_owned),
                    "/slack/chat.postMessage" if sent.body.get("blocks").is_some() => {
                        sent.message_id.clone()
                    }
                    _ => None,
                };
                if let Some(m) = message {
                    let drawing = card_lines(&sent.body).join("\n");
                    let mut cards = cards.lock().unwrap_or_else(PoisonError::into_inner);
                    if cards.get(&m) == Some(&drawing) {
                        return;
                    }
                    cards.insert(m, drawing);
                }
                *shown.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
        })
    }

    /// How many messages were shown.
    pub fn shown(&self) -> usize {
        *self.shown.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
