//! `deckhand`: the command-line tool. Today it validates configs; the chat bot (`serve`), the
//! local demo (`demo`, `dev`) and `invoke` arrive with the bot and functions issues.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use deckhand_core::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "deckhand",
    version,
    about = "Deployments from chat: Slack and Discord to AWS ECS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a deckhand.toml and report every mistake with its line and column.
    CheckConfig {
        /// The config file (default: $DECKHAND_CONFIG, then ./deckhand.toml).
        path: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { path } => match check_config(path) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}

/// `Ok(false)` when the file has mistakes (they are printed); `Err` when it cannot be read.
fn check_config(path: Option<PathBuf>) -> anyhow::Result<bool> {
    let path = path
        .or_else(|| std::env::var_os("DECKHAND_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("deckhand.toml"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    match Config::parse(&path.display().to_string(), &text) {
        Ok(c) => {
            println!(
                "{}: ok — {} environments ({}), {} services, {} groups, {} alarms, {} backup plans",
                path.display(),
                c.environments.len(),
                c.environments
                    .keys()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(" → "),
                c.services.len(),
                c.groups.len(),
                c.alarms.len(),
                c.backups.len(),
            );
            Ok(true)
        }
        Err(errors) => {
            eprintln!("{errors}");
            Ok(false)
        }
    }
}
