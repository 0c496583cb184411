//! `deckhand dev`: type chat commands as a configured person against the local stack, press
//! buttons by number, and play the rest of the world (builds, alarms, schedules, ECS, time).

use std::io::BufRead as _;

use anyhow::Context as _;

use super::{EcsReport, Local, Screen};

const HELP: &str = "\
  /deploy … /rollback … /status … /history … /lock … /unlock … /backup …   as the current person
  1, 2, …                 press that button (`buttons` lists them)
  as bob                  speak as someone else (alice, bob, carol, dave)
  in C0DEPLOYS            speak in another channel (C0DEPLOYS, C0PRODOPS)
  build api v1.2.4 [main] a CodeBuild build of a service finishes
  alarm api-prod-5xx      a CloudWatch alarm goes into ALARM
  backup prod-db-nightly  the plan's schedule fires
  ecs fail | ecs ok       how ECS reports the next rollouts (default ok)
  health api fail | ok    api's check URLs answer 503 (or 200 again)
  smoke api fail | ok     api's smoke tests exit 1 (or 0 again)
  drop work               the next dispatched work is lost (maintenance finds it)
  wait 30m                time passes (maintenance runs: expiries, lost work, bake check)
  help · quit";

/// Reads stdin on a thread of its own: the runtime keeps serving while you type.
fn lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn prompt(user: &str, channel: &str) {
    use std::io::Write as _;
    print!("\n{}@#{channel}> ", super::screen::user_name(user));
    let _ = std::io::stdout().flush();
}

pub async fn run() -> anyhow::Result<()> {
    println!("Starting the local stack (AWS emulator, seeded from local mode's deckhand.toml)…");
    let screen = Screen::default();
    let local = Local::start(super::CONFIG, Some(screen.observer())).await?;
    println!(
        "Ready. Everything runs {} everywhere. Type `help`.",
        super::SEEDED_TAG
    );
    let mut user = "U0ALICE".to_owned();
    let mut channel = "C0DEPLOYS".to_owned();
    let mut report = EcsReport::Completed;
    let mut input = lines();
    prompt(&user, &channel);
    while let Some(line) = input.recv().await {
        let line = line.trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        let result = match words.as_slice() {
            [] => Ok(()),
            ["quit" | "exit"] => break,
            ["help"] => {
                println!("{HELP}");
                Ok(())
            }
            ["as", who] => {
                user = format!("U0{}", who.to_ascii_uppercase());
                Ok(())
            }
            ["in", ch] => {
                ch.trim_start_matches('#').clone_into(&mut channel);
                Ok(())
            }
            ["ecs", "fail"] => {
                report = EcsReport::Failed;
                Ok(())
            }
            ["drop", "work"] => {
                local.drop_next_work();
                println!("  the next dispatched work will be lost");
                Ok(())
            }
            ["ecs", "ok"] => {
                report = EcsReport::Completed;
                Ok(())
            }
            ["health", service, how @ ("fail" | "ok")] => {
                local.fail_checks(service, *how == "fail").map(|urls| {
                    println!(
                        "  {} now answer{} {}",
                        urls.join(", "),
                        if urls.len() == 1 { "s" } else { "" },
                        if *how == "fail" { "503" } else { "200" }
                    );
                })
            }
            ["smoke", service, how @ ("fail" | "ok")] => {
                local.fail_smoke(service, *how == "fail").map(|()| {
                    println!(
                        "  {service}'s smoke tests now exit {}",
                        if *how == "fail" { 1 } else { 0 }
                    );
                })
            }
            ["buttons"] => Ok(()),
            ["build", service, tag, rest @ ..] => local
                .build(service, tag, rest.first().copied().unwrap_or("main"))
                .await
                .map(|a| println!("  build-completed: {a}"))
                .map_err(anyhow::Error::from),
            ["alarm", name] => local
                .fire_alarm(name, "Threshold Crossed (typed in deckhand dev)", 1)
                .await
                .map(|a| println!("  rollback: {a:?}")),
            ["backup", plan] => {
                let a = local.scheduled_backup(plan, 1).await;
                println!("  backup: {a:?}");
                Ok(())
            }
            ["wait", d] => match deckhand_core::config::parse_duration(d) {
                Some(by) => {
                    local.clock().advance(by);
                    local
                        .bot
                        .app()
                        .maintain()
                        .await
                        .map(|done| println!("  {d} later; maintenance: {}", done.summary()))
                        .map_err(anyhow::Error::from)
                }
                None => Err(anyhow::anyhow!(
                    "`{d}` is not a duration; try 30m, 2h or 1d"
                )),
            },
            [n] if n.parse::<usize>().is_ok() => {
                let index = n.parse::<usize>().unwrap_or_default();
                match local.buttons().get(index.wrapping_sub(1)) {
                    Some(b) => local.click(&user, b).await,
                    None => Err(anyhow::anyhow!("there is no button {n}")),
                }
            }
            [slash, ..] if slash.starts_with('/') => local
                .type_command(&user, &channel, line)
                .await
                .map(|answer| {
                    println!(
                        "  (only {} sees) {}",
                        super::screen::user_name(&user),
                        super::screen::plain(&answer).replace('\n', "\n  ")
                    );
                }),
            _ => Err(anyhow::anyhow!("not a command; type `help`")),
        };
        if let Err(e) = result {
            println!("  error: {e:#}");
        }
        if let Err(e) = local.settle(report).await.context("running the work") {
            println!("  error: {e:#}");
        }
        let buttons = local.buttons();
        if !buttons.is_empty() {
            println!("  buttons:");
            for (i, b) in buttons.iter().enumerate() {
                println!("    {} [ {} ] on “{}”", i + 1, b.label, b.card);
            }
        }
        prompt(&user, &channel);
    }
    Ok(())
}
