//! `deckhand demo`: the whole story on the emulator, every chat message on screen, checked as
//! it goes. A step that does not end the way the story says stops the demo with an error (and
//! exit status 1), so CI running the demo is a test of the whole product.

use std::time::Instant;

use anyhow::{Context as _, bail, ensure};
use deckhand_core::deployment::{Deployment, DeploymentKind, State};
use deckhand_core::ports::{Platform as _, Store as _};
use deckhand_core::types::{EnvName, ServiceName, SignedDuration, Version, listed};
use serde_json::Value;

use super::screen::{plain, styled, user_name};
use super::{EcsReport, Local, Screen};

const PROD_OPS: &str = "C0PRODOPS";
const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";
const CAROL: &str = "U0CAROL";
const DAVE: &str = "U0DAVE";

fn step(text: &str) {
    println!("\n{}", styled("1;36", &format!("▸ {text}")));
}

fn note(text: &str) {
    println!("  {}", styled("2", text));
}

async fn say(local: &Local, user: &str, channel: &str, line: &str) -> anyhow::Result<String> {
    println!("  {} in #{channel}: {line}", styled("1", &user_name(user)));
    let answer = local.type_command(user, channel, line).await?;
    println!(
        "  (only {} sees) {}",
        user_name(user),
        plain(&answer).replace('\n', "\n  ")
    );
    Ok(answer)
}

async fn press(local: &Local, user: &str, label: &str) -> anyhow::Result<()> {
    let button = local
        .buttons()
        .into_iter()
        .rev()
        .find(|b| b.label == label)
        .with_context(|| format!("no card shows a {label} button"))?;
    println!(
        "  {} clicks [ {label} ] on “{}”",
        styled("1", &user_name(user)),
        button.card
    );
    local.click(user, &button).await
}

fn env(name: &str) -> anyhow::Result<EnvName> {
    Ok(EnvName::parse(name)?)
}

fn service(name: &str) -> anyhow::Result<ServiceName> {
    Ok(ServiceName::parse(name)?)
}

async fn latest(local: &Local, env_name: &str) -> anyhow::Result<Deployment> {
    local
        .bot
        .ports
        .store
        .recent_deployments(&env(env_name)?, None, 1)
        .await?
        .into_iter()
        .next()
        .with_context(|| format!("no deployment in {env_name}"))
}

async fn expect_latest(local: &Local, env_name: &str, state: State) -> anyhow::Result<Deployment> {
    let d = latest(local, env_name).await?;
    ensure!(
        d.state == state,
        "the latest deployment in {env_name} ({}) is {} where the story expects {}",
        d.id,
        d.state.name(),
        state.name()
    );
    Ok(d)
}

/// Whether `service` in `env` runs the image ECR has under `tag`, as ECS reports it (Deckhand
/// pins images by digest).
async fn runs(
    local: &Local,
    env_name: &str,
    service_name: &str,
    tag: &str,
) -> anyhow::Result<bool> {
    let config = local.config();
    let cluster = &config
        .env(env_name)
        .with_context(|| format!("no env {env_name}"))?
        .cluster;
    let svc = config
        .services
        .get(&service(service_name)?)
        .with_context(|| format!("no service {service_name}"))?;
    let platform = &local.bot.ports.platform;
    let running = platform.running(cluster, svc).await?;
    let digest = platform
        .resolve_image(&svc.repository, &Version::parse(tag)?)
        .await?
        .with_context(|| format!("ECR has no {}:{tag}", svc.repository))?;
    Ok(running.image.ends_with(&format!("@{digest}")))
}

async fn build_and_ship_to_staging(local: &Local, service: &str, tag: &str) -> anyhow::Result<()> {
    note(&format!(
        "CodeBuild finished {service} {tag} on main → EventBridge → the build-completed function"
    ));
    let answer = local.build(service, tag, "main").await?;
    ensure!(
        answer["dispatched"].as_array().map(Vec::len) == Some(1),
        "the {service} {tag} build should have auto-deployed to staging: {answer}"
    );
    local.settle(EcsReport::Completed).await?;
    expect_latest(local, "staging", State::Succeeded).await?;
    Ok(())
}

/// Whether any chat message so far contains `text`.
fn said(local: &Local, text: &str) -> bool {
    local
        .sent()
        .iter()
        .any(|m| m.body["text"].as_str().is_some_and(|t| t.contains(text)))
}

fn count(
    answers: &[Result<Value, deckhand_functions::handlers::FunctionError>],
    key: &str,
) -> usize {
    answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .map(|a| a[key].as_array().map_or(0, Vec::len))
        .sum()
}

/// Plays the story; returns the process's exit status.
pub async fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    println!(
        "{} — the whole story on a local AWS emulator (moto). Chat messages are shown as Slack would show them.",
        styled("1", "Deckhand demo")
    );
    step("Starting the emulator and seeding it from local mode's deckhand.toml");
    let screen = Screen::default();
    let local = Local::start(super::CONFIG, Some(screen.observer())).await?;
    let config = local.config();
    note(&format!(
        "clusters {} · services {} running {} · ECR images · alarms {} · RDS {} ({:.1} s)",
        listed(config.environments.values().map(|e| e.cluster.as_str())),
        listed(config.services.keys().map(ServiceName::as_str)),
        super::SEEDED_TAG,
        listed(config.alarms.keys()),
        listed(config.backups.values().map(|b| b.target.as_str())),
        started.elapsed().as_secs_f64()
    ));

    step("1. Builds of v1.2.3 finish on main; staging takes each one on its own");
    for svc in ["worker", "api", "web"] {
        build_and_ship_to_staging(&local, svc, "v1.2.3").await?;
    }

    step("2. Alice asks for v1.2.3 of worker and api in prod");
    say(&local, ALICE, PROD_OPS, "/deploy prod worker api v1.2.3").await?;
    note(
        "answered at once; the deploy function checks the images, promotion and holds, and posts the card:",
    );
    local.settle(EcsReport::Completed).await?;
    expect_latest(&local, "prod", State::PendingApproval).await?;
    note("Alice tries to approve her own request:");
    press(&local, ALICE, "Approve").await?;
    expect_latest(&local, "prod", State::PendingApproval).await?;
    // api comes up slowly in prod: its readiness endpoint answers 503 twice.
    local.script_check(
        "api",
        "prod",
        "ready",
        &[(503, "warming up"), (503, "warming up")],
    )?;
    note("Bob, an approver, approves; the deploy function takes over:");
    press(&local, BOB, "Approve").await?;
    note(
        "snapshot acme-prod-db first (worker migrates the schema) → migration task → worker rollout → ECS reports → api rollout → ECS reports → api's checks: `health`, then `ready` (503 while api warms up, tried again every 5 s, the first 10 s not counted) → api's smoke test, a one-off task on the new revision",
    );
    local.settle(EcsReport::Completed).await?;
    let good = expect_latest(&local, "prod", State::Succeeded).await?;
    ensure!(
        said(&local, "The `ready` check of api passed on try 3."),
        "the thread should say the readiness check passed on its third try"
    );
    ensure!(
        said(&local, "Smoke test of api started")
            && said(&local, "Smoke test of api passed (exit 0)."),
        "the thread should show api's smoke test running and passing"
    );
    ensure!(
        runs(&local, "prod", "api", "v1.2.3").await?,
        "prod api should run v1.2.3"
    );

    step("3. Thirty quiet minutes later, v1.2.3 has baked: it is prod's last known-good release");
    local.clock().advance(SignedDuration::from_mins(31));
    let baked = local.bot.app().bake_check().await?;
    note(&format!(
        "the scheduled bake check judged {} good",
        deckhand_core::card::count(baked, "release")
    ));
    ensure!(
        baked >= 2,
        "worker and api v1.2.3 should have baked in prod"
    );

    step("4. v1.2.4 of api ships to staging, then Carol takes it to prod");
    build_and_ship_to_staging(&local, "api", "v1.2.4").await?;
    say(&local, CAROL, PROD_OPS, "/deploy prod api v1.2.4").await?;
    local.settle(EcsReport::Completed).await?;
    press(&local, BOB, "Approve").await?;
    local.settle(EcsReport::Completed).await?;
    let bad = expect_latest(&local, "prod", State::Succeeded).await?;
    ensure!(
        bad.id != good.id && runs(&local, "prod", "api", "v1.2.4").await?,
        "prod api should run v1.2.4"
    );

    step(
        "5. Four minutes in, api's 5xx alarm fires; EventBridge delivers the change three times at once",
    );
    local.clock().advance(SignedDuration::from_mins(4));
    let answers = local
        .fire_alarm(
            "api-prod-5xx",
            "Threshold Crossed: 1 out of the last 1 datapoints [57.0] was greater than the threshold (10.0).",
            3,
        )
        .await?;
    ensure!(
        answers.iter().all(Result::is_ok),
        "every delivery should be answered: {answers:?}"
    );
    ensure!(
        count(&answers, "rolled_back") == 1,
        "one rollback for three deliveries, got {answers:?}"
    );
    local.settle(EcsReport::Completed).await?;
    let rollback = latest(&local, "prod").await?;
    ensure!(
        matches!(
            rollback.kind,
            DeploymentKind::Rollback {
                automatic: true,
                ..
            }
        ) && rollback.state == State::Succeeded,
        "the latest prod deployment should be a finished automatic rollback, is {} {:?}",
        rollback.state.name(),
        rollback.kind
    );
    ensure!(
        runs(&local, "prod", "api", "v1.2.3").await?,
        "prod api should be back on v1.2.3"
    );
    say(&local, DAVE, PROD_OPS, "/status prod").await?;

    step(
        "6. Backups: Dave takes one now; the nightly schedule fires twice (EventBridge Scheduler delivers at least once); each snapshot is copied to eu-west-1",
    );
    // Maintenance (every 5 minutes in AWS) starts watching the plans against their schedules.
    local.bot.app().maintain().await?;
    say(&local, DAVE, PROD_OPS, "/backup prod now").await?;
    local.settle(EcsReport::Completed).await?;
    let first = local.scheduled_backup("prod-db-nightly", 2).await;
    ensure!(first.iter().all(Result::is_ok), "{first:?}");
    ensure!(
        first
            .iter()
            .filter_map(|a| a.as_ref().ok())
            .filter(|a| a["duplicate"] == true)
            .count()
            == 1,
        "of two deliveries of one firing, exactly one should be a duplicate: {first:?}"
    );
    ensure!(
        said(&local, "Copying it to eu-west-1"),
        "each prod snapshot should be copied to eu-west-1"
    );
    note("a day later, the next night's firing: retention keeps the last 3, here and in eu-west-1");
    local.clock().advance(SignedDuration::from_hours(24));
    let second = local.scheduled_backup("prod-db-nightly", 1).await;
    let pruned = count(&second, "pruned");
    ensure!(
        pruned == 1,
        "keep_last = 3 over 4 snapshots should prune one: {second:?}"
    );
    say(&local, DAVE, PROD_OPS, "/backup prod list").await?;

    step(
        "7. Two nights pass and the nightly schedule never fires (someone disabled it): maintenance notices",
    );
    local.clock().advance(SignedDuration::from_hours(48));
    let done = local.bot.app().maintain().await?;
    note(&format!("maintenance: {}", done.summary()));
    ensure!(
        done.backups_missed.contains(&"prod-db-nightly".to_owned()),
        "prod-db-nightly should be reported missed: {done:?}"
    );
    local.bot.app().maintain().await?;
    ensure!(
        local
            .sent()
            .iter()
            .filter(|m| m.body["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("⚠️ prod-db-nightly: last good backup")))
            .count()
            == 1,
        "the prod channel should be told once, however often maintenance runs"
    );
    note("Dave takes one by hand; the next maintenance says backups are back:");
    say(&local, DAVE, PROD_OPS, "/backup prod now").await?;
    local.settle(EcsReport::Completed).await?;
    local.bot.app().maintain().await?;
    ensure!(
        said(&local, "✅ prod-db-nightly: backing up again"),
        "the prod channel should be told the backups are back"
    );

    step("Summary");
    let mut lines = Vec::new();
    for e in local.config().environments.keys() {
        let ds = local
            .bot
            .ports
            .store
            .recent_deployments(e, None, 50)
            .await?;
        if ds.is_empty() {
            continue;
        }
        let mut by_state = std::collections::BTreeMap::<&str, usize>::new();
        for d in &ds {
            let what = match d.kind {
                DeploymentKind::Rollback { .. } => "rolled back",
                DeploymentKind::Release => d.state.name(),
            };
            *by_state.entry(what).or_default() += 1;
        }
        lines.push(format!(
            "{e}: {}",
            by_state
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for l in lines {
        note(&l);
    }
    note(&format!(
        "prod api back on v1.2.3 · {pruned} snapshot pruned · {} chat messages · {:.1} s",
        screen.shown(),
        started.elapsed().as_secs_f64()
    ));
    if screen.shown() == 0 {
        bail!("no chat message was shown");
    }
    println!(
        "\n{} Try it yourself: cargo run -p deckhand -- dev",
        styled("1", "The demo ran as the story says.")
    );
    Ok(())
}
