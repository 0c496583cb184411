//! What chat shows, as view-models: one [`Card`] per deployment and compact [`Table`]s for
//! queries. The bot renders them to Block Kit and to Discord embeds; core decides the words.

use serde::{Deserialize, Serialize};

use crate::deployment::{Deployment, DeploymentKind, State};
use crate::rollback::fmt_duration;
use crate::types::{DeploymentId, EnvName, Timestamp, listed};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tone {
    Waiting,
    Working,
    Good,
    Bad,
    Neutral,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ButtonAction {
    Approve,
    Reject,
}

impl ButtonAction {
    /// The button's value in chat payloads: `approve:<id>:<env>` / `reject:<id>:<env>`. The
    /// environment lets a click's one write check who may approve there without reading the
    /// deployment first (the write checks it against the stored one).
    pub fn value(self, id: DeploymentId, env: &EnvName) -> String {
        let action = match self {
            ButtonAction::Approve => "approve",
            ButtonAction::Reject => "reject",
        };
        format!("{action}:{id}:{env}")
    }

    /// A button's value; cards posted before values named the environment give `None` for it.
    pub fn parse_value(raw: &str) -> Option<(ButtonAction, DeploymentId, Option<EnvName>)> {
        let (action, rest) = raw.split_once(':')?;
        let action = match action {
            "approve" => ButtonAction::Approve,
            "reject" => ButtonAction::Reject,
            _ => return None,
        };
        let (id, env) = match rest.split_once(':') {
            Some((id, env)) => (id, Some(EnvName::parse(env).ok()?)),
            None => (rest, None),
        };
        Some((action, DeploymentId::parse(id).ok()?, env))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub action: ButtonAction,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub title: String,
    pub tone: Tone,
    /// One line: where it stands now.
    pub status: String,
    pub fields: Vec<(String, String)>,
    /// Only while they mean something: Approve and Reject while approval is pending.
    pub buttons: Vec<Button>,
    pub footer: String,
}

/// A compact table for `/status`, `/history`, `/lock`, `/backup list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Shown when there are no rows.
    pub empty: String,
}

impl Table {
    /// Monospace text, for chats and terminals without tables.
    pub fn to_text(&self) -> String {
        if self.rows.is_empty() {
            return format!("{}\n{}", self.title, self.empty);
        }
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                    .chain([self.columns[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        };
        let mut out = vec![self.title.clone(), line(&self.columns)];
        out.extend(self.rows.iter().map(|r| line(r)));
        out.join("\n")
    }
}

/// `1 approval`, `2 approvals`, `0 snapshots`: a count with its noun, as a person writes it
/// (every noun Deckhand counts takes a plain `s`).
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// What verifying one service is at: the check and its try, or the smoke test.
fn verifying(d: &Deployment, i: usize) -> String {
    let Some(s) = d.services.get(i) else {
        return "Checking".to_owned();
    };
    let name = &s.service;
    let Some(v) = &s.progress.verify else {
        return format!("Checking {name}");
    };
    if let Some(check) = s.checks.get(v.check) {
        let mut line = format!("Checking {name}: `{}`", check.name);
        if let (Some(last), Some(at)) = (&v.last, v.next_at) {
            line.push_str(&format!(
                " — try {} failed ({last}); next at {}",
                v.tries,
                at.strftime("%H:%M:%S UTC")
            ));
        }
        return line;
    }
    match &v.smoke {
        Some((task, _)) => format!(
            "Smoke test of {name} running (task `{}`)",
            crate::check::task_id(task)
        ),
        None => format!("Starting the smoke test of {name}"),
    }
}

fn hhmm(t: Timestamp) -> String {
    t.strftime("%H:%M UTC").to_string()
}

/// The line a finished build is announced with.
pub fn build_line(build: &crate::ports::Build) -> String {
    let where_from = match (&build.branch, &build.commit) {
        (Some(b), Some(c)) => format!(" ({b}@{})", c.get(..7).unwrap_or(c)),
        (Some(b), None) => format!(" ({b})"),
        _ => String::new(),
    };
    let (icon, what) = if build.succeeded {
        ("📦", "finished")
    } else {
        ("❌", "failed")
    };
    format!(
        "{icon} Build {} {}{where_from} {what}.",
        build.service, build.version
    )
}

/// The card for a deployment as it stands at `now`.
pub fn deployment_card(d: &Deployment, now: Timestamp) -> Card {
    let services = listed(d.services.iter().map(|s| s.service.as_str()));
    let title = match &d.kind {
        DeploymentKind::Release => format!("Deploy {services} {} → {}", d.version, d.env),
        DeploymentKind::Rollback {
            automatic: true, ..
        } => format!("Automatic rollback of {services} in {}", d.env),
        DeploymentKind::Rollback { .. } => format!("Rollback of {services} in {}", d.env),
    };
    // How long the work took, from when it could start (the completing approval, or the
    // request when none was needed); the wait for approval is said apart.
    let started = d.started_at();
    let took = |end: Timestamp| {
        let work = fmt_duration(end.duration_since(started));
        match d.approval_wait() {
            // A wait under a minute is no news.
            Some(wait) if wait >= jiff::SignedDuration::from_mins(1) => {
                format!("{work} (after {} waiting for approval)", fmt_duration(wait))
            }
            _ => work,
        }
    };
    let name_of = |i: usize| {
        d.services
            .get(i)
            .map_or("?", |s| s.service.as_str())
            .to_owned()
    };
    let (tone, status) = match &d.state {
        State::Requested if d.asked.is_some() => (Tone::Waiting, "Checking the request".to_owned()),
        State::Requested => (Tone::Waiting, "Requested".to_owned()),
        State::Declined { reason } => (Tone::Neutral, format!("Not deployed: {reason}")),
        State::PendingApproval => {
            let missing = usize::from(d.required_approvals).saturating_sub(d.approvals.len());
            (
                Tone::Waiting,
                format!(
                    "Waiting for {missing} more approval{} — expires {}",
                    if missing == 1 { "" } else { "s" },
                    hhmm(d.approval_expires)
                ),
            )
        }
        State::Approved => (Tone::Working, format!("{} — starting", d.started_by())),
        State::Migrating { service } => (Tone::Working, format!("Migrating {}", name_of(*service))),
        State::Rolling { service } => (Tone::Working, format!("Rolling out {}", name_of(*service))),
        State::Verifying { service } => (Tone::Working, verifying(d, *service)),
        State::Succeeded => (
            Tone::Good,
            format!("Succeeded in {}", took(d.finished_at.unwrap_or(now))),
        ),
        State::Rejected { by, reason } => (
            Tone::Bad,
            format!(
                "Rejected by {}{}",
                by.display(),
                reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        State::Expired => (
            Tone::Neutral,
            format!(
                "Expired at {} without enough approvals",
                hhmm(d.approval_expires)
            ),
        ),
        State::Failed { reason } => (
            Tone::Bad,
            format!(
                "Failed after {}: {reason}",
                took(d.finished_at.unwrap_or(now))
            ),
        ),
        // Every service finished: it was judged after it succeeded, and its reason says when
        // and by whom ("Rolled back at 19:32 UTC by alarm …"). One that failed mid-way says
        // how long it ran.
        State::RolledBack { reason } if d.services.iter().all(|s| s.progress.done_at.is_some()) => {
            (Tone::Bad, format!("Rolled back {reason}"))
        }
        State::RolledBack { reason } => (
            Tone::Bad,
            format!(
                "Rolled back after {}: {reason}",
                took(d.finished_at.unwrap_or(now))
            ),
        ),
        State::Superseded { by } => (Tone::Neutral, format!("Superseded by {by}")),
    };

    let mut fields = vec![("Environment".to_owned(), d.env.to_string())];
    let versions = d
        .services
        .iter()
        .map(|s| {
            let mark = if s.progress.done_at.is_some() {
                " ✓"
            } else {
                ""
            };
            format!(
                "{}: {} → {}{mark}",
                s.service,
                s.previous_version.as_deref().unwrap_or("?"),
                s.image.tag
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    fields.push(("Services".to_owned(), versions));
    fields.push((
        "Requested by".to_owned(),
        format!("{} at {}", d.requested_by.display(), hhmm(d.requested_at)),
    ));
    if d.required_approvals > 0 {
        let who = listed(d.approvals.iter().map(|a| a.by.display()));
        let who = if who.is_empty() {
            "none yet".to_owned()
        } else {
            who
        };
        fields.push((
            "Approvals".to_owned(),
            format!("{}/{} — {who}", d.approvals.len(), d.required_approvals),
        ));
    }
    if let Some(o) = &d.overridden {
        fields.push((
            "Override".to_owned(),
            format!("“{}” — lifts: {}", o.reason, o.lifts.join("; ")),
        ));
    }
    if let DeploymentKind::Rollback { reason, .. } = &d.kind {
        fields.push(("Why".to_owned(), reason.clone()));
    }
    if !d.alarms_at_start.is_empty() {
        fields.push((
            "Already in ALARM (will not trigger a rollback)".to_owned(),
            d.alarms_at_start.join(", "),
        ));
    }
    let buttons = if d.state == State::PendingApproval && now < d.approval_expires {
        vec![
            Button {
                label: "Approve".into(),
                action: ButtonAction::Approve,
                value: ButtonAction::Approve.value(d.id, &d.env),
            },
            Button {
                label: "Reject".into(),
                action: ButtonAction::Reject,
                value: ButtonAction::Reject.value(d.id, &d.env),
            },
        ]
    } else {
        Vec::new()
    };
    let digests = d
        .services
        .iter()
        .map(|s| format!("{}@{}", s.service, s.image.digest.short()))
        .collect::<Vec<_>>()
        .join(" ");
    Card {
        title,
        tone,
        status,
        fields,
        buttons,
        footer: format!("deployment {} · {digests}", d.id),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn button_values_round_trip_and_reject_garbage() {
        let id = DeploymentId::derive("2026-11-24T09:00:00Z".parse().unwrap(), "x");
        let prod = EnvName::parse("prod").unwrap();
        assert_eq!(
            ButtonAction::parse_value(&ButtonAction::Approve.value(id, &prod)),
            Some((ButtonAction::Approve, id, Some(prod.clone())))
        );
        assert_eq!(
            ButtonAction::parse_value(&ButtonAction::Reject.value(id, &prod)),
            Some((ButtonAction::Reject, id, Some(prod)))
        );
        assert_eq!(
            ButtonAction::parse_value(&format!("approve:{id}")),
            Some((ButtonAction::Approve, id, None)),
            "a card posted before values named the environment"
        );
        assert_eq!(ButtonAction::parse_value("approve:nope"), None);
        assert_eq!(ButtonAction::parse_value(&format!("approve:{id}:")), None);
        assert_eq!(
            ButtonAction::parse_value(&format!("approve:{id}:no env!")),
            None
        );
        assert_eq!(
            ButtonAction::parse_value("delete:01JD7X6Q0R6Y3C2N8W4V5T9ZKM"),
            None
        );
    }

    #[test]
    fn tables_align_and_say_when_empty() {
        let t = Table {
            title: "prod".into(),
            columns: vec!["service".into(), "version".into()],
            rows: vec![
                vec!["api".into(), "v1.2.3".into()],
                vec!["worker".into(), "v10".into()],
            ],
            empty: "nothing".into(),
        };
        assert_eq!(
            t.to_text(),
            "prod\nservice  version\napi      v1.2.3\nworker   v10"
        );
        assert_eq!(Table { rows: vec![], ..t }.to_text(), "prod\nnothing");
    }
}
