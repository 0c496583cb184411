//! `deckhand`: the command-line tool. `demo` plays the whole story on a local AWS emulator;
//! `dev` lets you type the commands yourself; `check-config` validates a config; `serve` runs
//! the chat bot's router on a local port; `invoke` runs one function's handler on one event.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use deckhand_aws::dispatch::QueueDispatch;
use deckhand_aws::{Aws, Settings};
use deckhand_bot::router::{Bot, Keys, router};
use deckhand_core::config::Config;
use deckhand_functions::chat::{ChatApis, HttpChat};
use deckhand_functions::live::live;
use deckhand_harness::standin::{ChatStub, Observer, Sent};
use secrecy::SecretString;

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
    /// The whole story on a local AWS emulator, every chat message shown: build → staging →
    /// approval → migration → rollout → a bad release → alarm → automatic rollback → backups.
    /// Installs the pinned emulator under target/ on first use.
    Demo,
    /// An interactive prompt on the same local stack: type chat commands as a configured
    /// person, press buttons by number, fire builds, alarms and schedules.
    Dev,
    /// Check a deckhand.toml and report every mistake with its line and column.
    CheckConfig {
        /// The config file (default: $DECKHAND_CONFIG, then ./deckhand.toml).
        path: Option<PathBuf>,
    },
    /// The backup plans' schedules: what reconciling EventBridge Scheduler's group with the
    /// config would change (maintenance does the same every run); `--apply` changes it. The
    /// group and target come from DECKHAND_SCHEDULE_GROUP, DECKHAND_BACKUP_TARGET_ARN,
    /// DECKHAND_SCHEDULER_ROLE_ARN and DECKHAND_DEAD_LETTER_ARN (the stack's outputs name them).
    Schedules {
        /// The config file (default: $DECKHAND_CONFIG, then ./deckhand.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Make the changes, not only print them.
        #[arg(long)]
        apply: bool,
    },
    /// Run one function's handler on one event file, with the real adapters (AWS through the
    /// SDK's usual chain, AWS_ENDPOINT_URL for an emulator). Work it dispatches is reported,
    /// not run.
    Invoke {
        /// deploy, rollback, build-completed or backup.
        function: String,
        /// The event, e.g. events/ecs-deployment-completed.json.
        event: PathBuf,
        /// The config file (default: $DECKHAND_CONFIG, then ./deckhand.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The DynamoDB table.
        #[arg(long, env = "DECKHAND_TABLE", default_value = "deckhand")]
        table: String,
        /// Slack's Web API base URL. Without it (or --real-chat) nothing reaches a real chat:
        /// each message is printed to stderr instead.
        #[arg(long, env = "DECKHAND_SLACK_API_URL")]
        slack_api: Option<String>,
        /// Discord's API base URL (as --slack-api).
        #[arg(long, env = "DECKHAND_DISCORD_API_URL")]
        discord_api: Option<String>,
        /// Post to Slack's and Discord's real APIs (with DECKHAND_SLACK_BOT_TOKEN /
        /// DECKHAND_DISCORD_BOT_TOKEN).
        #[arg(long)]
        real_chat: bool,
        /// Create the table first when it does not exist (a fresh emulator has none).
        #[arg(long)]
        create_table: bool,
    },
    /// Discord setup.
    Discord {
        #[command(subcommand)]
        command: DiscordCommand,
    },
    /// Run the chat bot's router on a local port (point a Slack app at it through a tunnel).
    ///
    /// Secrets come from the environment: DECKHAND_SLACK_SIGNING_SECRET, DECKHAND_SLACK_BOT_TOKEN,
    /// DECKHAND_DISCORD_PUBLIC_KEY, DECKHAND_DISCORD_BOT_TOKEN, DECKHAND_GITHUB_WEBHOOK_SECRET,
    /// DECKHAND_GITLAB_WEBHOOK_TOKEN, DECKHAND_BUILD_WEBHOOK_SECRET. AWS is reached as the SDK
    /// always does (AWS_REGION, credentials, AWS_ENDPOINT_URL for an emulator).
    Serve {
        /// The config file (default: $DECKHAND_CONFIG, then ./deckhand.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// The DynamoDB table.
        #[arg(long, env = "DECKHAND_TABLE", default_value = "deckhand")]
        table: String,
        /// Slack's Web API base URL.
        #[arg(
            long,
            env = "DECKHAND_SLACK_API_URL",
            default_value = "https://slack.com/api"
        )]
        slack_api: String,
        /// Discord's API base URL.
        #[arg(
            long,
            env = "DECKHAND_DISCORD_API_URL",
            default_value = "https://discord.com/api/v10"
        )]
        discord_api: String,
    },
}

#[derive(Debug, Subcommand)]
enum DiscordCommand {
    /// Register Deckhand's slash commands in the config's guild (one bulk overwrite: running it
    /// again changes nothing). The bot token comes from DECKHAND_DISCORD_BOT_TOKEN.
    Register {
        /// The config file (default: $DECKHAND_CONFIG, then ./deckhand.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Discord's API base URL.
        #[arg(
            long,
            env = "DECKHAND_DISCORD_API_URL",
            default_value = "https://discord.com/api/v10"
        )]
        discord_api: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => local(deckhand::local::demo::run()),
        Command::Dev => local(deckhand::local::dev::run()),
        Command::Schedules { config, apply } => {
            schedules(config, apply).map(|()| ExitCode::SUCCESS)
        }
        Command::CheckConfig { path } => check_config(path).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
        Command::Invoke {
            function,
            event,
            config,
            table,
            slack_api,
            discord_api,
            real_chat,
            create_table,
        } => {
            let chat = InvokeChat::choose(slack_api, discord_api, real_chat);
            invoke(&function, &event, config, &table, chat, create_table)
        }
        Command::Discord {
            command:
                DiscordCommand::Register {
                    config,
                    discord_api,
                },
        } => discord_register(config, discord_api),
        Command::Serve {
            config,
            port,
            table,
            slack_api,
            discord_api,
        } => serve(
            config,
            port,
            &table,
            ChatApis {
                slack: slack_api,
                discord: discord_api,
            },
        ),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}

/// Runs local mode: logs only for warnings (the transcript is the output), exit 1 if the story
/// did not go as it should.
fn local(story: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match runtime.block_on(story) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("\ndeckhand: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn config_path(path: Option<PathBuf>) -> PathBuf {
    path.or_else(|| std::env::var_os("DECKHAND_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("deckhand.toml"))
}

fn load_config(
    path: Option<PathBuf>,
) -> anyhow::Result<(PathBuf, Result<Config, deckhand_core::config::ConfigErrors>)> {
    let path = config_path(path);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let parsed = Config::parse_bytes(&path.display().to_string(), &bytes);
    Ok((path, parsed))
}

/// Prints what reconciling the schedule group with `config` changes, and with `apply` does it.
fn schedules(config: Option<PathBuf>, apply: bool) -> anyhow::Result<()> {
    use deckhand_core::schedule::{desired, reconcile};
    let config = match load_config(config)? {
        (_, Ok(c)) => c,
        (path, Err(e)) => anyhow::bail!("{} has mistakes:\n{e}", path.display()),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let aws = Aws::load(&Settings::default()).await;
        let scheduling = deckhand_aws::scheduler::Scheduling::from_env(aws.scheduler.clone())
            .context("set DECKHAND_SCHEDULE_GROUP, DECKHAND_BACKUP_TARGET_ARN and DECKHAND_SCHEDULER_ROLE_ARN (the stack's outputs)")?;
        let existing = scheduling.list().await?;
        let changes = reconcile(&desired(&config, &scheduling.target()), &existing);
        if changes.is_empty() {
            println!("The schedules in {} match the config.", scheduling.group);
            return Ok(());
        }
        for change in &changes {
            println!("{change}");
            if apply {
                scheduling.change(change).await?;
            }
        }
        if !apply {
            println!("(run again with --apply to make these changes)");
        }
        Ok(())
    })
}

/// `Ok(false)` when the file has mistakes (they are printed); `Err` when it cannot be read.
fn check_config(path: Option<PathBuf>) -> anyhow::Result<bool> {
    match load_config(path)? {
        (path, Ok(c)) => {
            let n = deckhand_core::card::count;
            println!(
                "{}: ok — {} ({}), {}, {}, {}, {}",
                path.display(),
                n(c.environments.len(), "environment"),
                c.environments
                    .keys()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(" → "),
                n(c.services.len(), "service"),
                n(c.groups.len(), "group"),
                n(c.alarms.len(), "alarm"),
                n(c.backups.len(), "backup plan"),
            );
            Ok(true)
        }
        (_, Err(errors)) => {
            eprintln!("{errors}");
            Ok(false)
        }
    }
}

/// Where `deckhand invoke`'s chat messages go: a real chat only when asked for.
enum InvokeChat {
    /// These APIs (real ones with `--real-chat`, or the URLs given).
    To(ChatApis),
    /// Nowhere: a local stand-in answers and each message is printed to stderr.
    Printed,
}

impl InvokeChat {
    fn choose(slack: Option<String>, discord: Option<String>, real: bool) -> Self {
        let defaults = ChatApis::default();
        match (slack, discord, real) {
            (None, None, false) => InvokeChat::Printed,
            (slack, discord, _) => InvokeChat::To(ChatApis {
                slack: slack.unwrap_or(defaults.slack),
                discord: discord.unwrap_or(defaults.discord),
            }),
        }
    }

    /// The APIs to post to, and the stand-in that must live as long as they are used.
    async fn apis(self) -> anyhow::Result<(ChatApis, Option<ChatStub>)> {
        match self {
            InvokeChat::To(apis) => Ok((apis, None)),
            InvokeChat::Printed => {
                let print: Observer = Box::new(|sent: &Sent| {
                    let text = sent.body["text"]
                        .as_str()
                        .or_else(|| sent.body["content"].as_str())
                        .unwrap_or_default();
                    eprintln!(
                        "chat (not sent; --real-chat posts it): {} {} {text}",
                        sent.method, sent.path
                    );
                });
                let stub = ChatStub::start_observed(Some(print))
                    .await
                    .context("starting the local chat stand-in")?;
                Ok((stub.apis(), Some(stub)))
            }
        }
    }
}

fn invoke(
    function: &str,
    event: &std::path::Path,
    config: Option<PathBuf>,
    table: &str,
    chat: InvokeChat,
    create_table: bool,
) -> anyhow::Result<ExitCode> {
    // Logs as the functions log (what failed and why), to stderr: stdout is the result alone.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match load_config(config)? {
        (_, Ok(c)) => c,
        (_, Err(errors)) => anyhow::bail!("the config has mistakes:\n{errors}"),
    };
    let text = std::fs::read_to_string(event)
        .with_context(|| format!("cannot read {}", event.display()))?;
    let event: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", event.display()))?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let aws = Aws::load(&Settings::default()).await;
        if create_table {
            match deckhand_aws::dynamo::DynamoStore::create_table(&aws.dynamodb, table).await {
                Ok(()) => eprintln!("created table {table}"),
                Err(deckhand_core::ports::PortError::Conflict(_)) => {}
                Err(e) => anyhow::bail!("creating table {table}: {e}"),
            }
        }
        let (apis, stand_in) = chat.apis().await?;
        let local = stand_in.is_some();
        let token = |name: &str, stand_in: &str| {
            secret(name).or_else(|| local.then(|| SecretString::from(stand_in.to_owned())))
        };
        let chat = HttpChat::new(
            apis,
            token("DECKHAND_SLACK_BOT_TOKEN", "xoxb-not-sent"),
            token("DECKHAND_DISCORD_BOT_TOKEN", "not-sent"),
        )?;
        let (dispatch, mut queued) = QueueDispatch::new();
        let mut ports = live(&aws, table, chat, dispatch)?;
        // stdout is for the result alone; metric lines go with the logs.
        ports.metrics = deckhand_aws::metrics::EmfMetrics::to_writer(
            deckhand_aws::metrics::NAMESPACE,
            Box::new(std::io::stderr()),
        );
        let app = deckhand_core::usecases::App::new(&ports, &config);
        let Some(result) = deckhand_functions::handlers::handle(function, &app, &event).await
        else {
            anyhow::bail!(
                "unknown function `{function}`: use deploy, rollback, build-completed or backup"
            );
        };
        let mut dispatched = Vec::new();
        while let Ok(work) = queued.try_recv() {
            dispatched.push(work);
        }
        match result {
            Ok(out) => {
                println!("{out}");
                for work in dispatched {
                    println!(
                        "dispatched (not run by invoke): {}",
                        serde_json::to_string(&work)?
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!(
                    "{function}: {e}{}",
                    if e.retryable() {
                        " (a retry may succeed)"
                    } else {
                        ""
                    }
                );
                Ok(ExitCode::FAILURE)
            }
        }
    })
}

fn secret(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

fn discord_register(config: Option<PathBuf>, discord_api: String) -> anyhow::Result<ExitCode> {
    let config = match load_config(config)? {
        (_, Ok(c)) => c,
        (_, Err(errors)) => anyhow::bail!("the config has mistakes:\n{errors}"),
    };
    let discord = config
        .discord
        .as_ref()
        .context("the config has no [discord] table (guild, application_id)")?;
    let token = secret("DECKHAND_DISCORD_BOT_TOKEN").context(
        "set DECKHAND_DISCORD_BOT_TOKEN (Discord developer portal → your app → Bot → Token)",
    )?;
    let chat = HttpChat::new(
        ChatApis {
            discord: discord_api,
            ..ChatApis::default()
        },
        None,
        Some(token),
    )?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let names = runtime
        .block_on(chat.discord().register_discord_commands(
            &discord.application_id,
            &discord.guild,
            deckhand_bot::discord::commands(),
        ))
        .context("registering the commands")?;
    println!(
        "Registered in guild {}: {}",
        discord.guild,
        names
            .iter()
            .map(|n| format!("/{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(ExitCode::SUCCESS)
}

/// How often `deckhand serve` runs maintenance: the template's schedule, unless
/// `DECKHAND_MAINTENANCE_SECONDS` says otherwise (tests shorten it).
static MAINTENANCE_EVERY: std::sync::LazyLock<std::time::Duration> =
    std::sync::LazyLock::new(|| {
        let secs = std::env::var("DECKHAND_MAINTENANCE_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(300);
        std::time::Duration::from_secs(secs)
    });

/// How long `deckhand serve` waits before each retry of failed work.
const WORK_RETRIES: [std::time::Duration; 2] = [
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(10),
];

fn serve(
    config: Option<PathBuf>,
    port: u16,
    table: &str,
    apis: ChatApis,
) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = match load_config(config)? {
        (_, Ok(c)) => c,
        (_, Err(errors)) => anyhow::bail!("the config has mistakes:\n{errors}"),
    };
    let keys = Keys {
        slack_signing_secret: secret("DECKHAND_SLACK_SIGNING_SECRET"),
        discord_public_key: std::env::var("DECKHAND_DISCORD_PUBLIC_KEY")
            .ok()
            .filter(|v| !v.is_empty()),
        github_secret: secret("DECKHAND_GITHUB_WEBHOOK_SECRET"),
        gitlab_token: secret("DECKHAND_GITLAB_WEBHOOK_TOKEN"),
        generic_secret: secret("DECKHAND_BUILD_WEBHOOK_SECRET"),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let aws = Aws::load(&Settings::default()).await;
        let chat = HttpChat::new(apis, secret("DECKHAND_SLACK_BOT_TOKEN"), secret("DECKHAND_DISCORD_BOT_TOKEN"))?;
        let (dispatch, mut work) = QueueDispatch::new();
        let ports = live(&aws, table, chat.clone(), dispatch)?;
        let bot = Arc::new(Bot {
            ports,
            config,
            keys: deckhand_bot::keyring::KeyRing::fixed(keys),
            responder: chat,
        });
        // Local mode runs dispatched work in this process, one item at a time, the way the
        // deploy and backup functions run it in AWS, and retries work that failed for a
        // reason that may pass (an outage) the way Lambda retries an async invoke: twice,
        // sooner here (a person is watching) than Lambda's minute and two.
        let worker = bot.clone();
        let (retry, mut retries) = tokio::sync::mpsc::unbounded_channel::<(deckhand_core::deployment::Work, usize)>();
        tokio::spawn(async move {
            loop {
                let (item, attempt) = tokio::select! {
                    Some(item) = work.recv() => (item, 0),
                    Some(again) = retries.recv() => again,
                    else => break,
                };
                match deckhand_functions::handlers::work(&worker.app(), &item).await {
                    Ok(answer) => tracing::info!(?item, %answer, "work done"),
                    Err(e) if e.retryable() && attempt < WORK_RETRIES.len() => {
                        let delay = WORK_RETRIES[attempt];
                        tracing::warn!(?item, error = %e, ?delay, "work failed; retrying");
                        let retry = retry.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let _ = retry.send((item, attempt + 1));
                        });
                    }
                    Err(e) => tracing::error!(?item, error = %e, "work failed; maintenance picks it up"),
                }
            }
        });
        // The same maintenance the 5-minute schedule runs in AWS: expiries, lost work, rollouts
        // ECS never reported, bake checks.
        let keeper = bot.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(*MAINTENANCE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match keeper.app().maintain().await {
                    Ok(done) => tracing::info!(done = %done.summary(), "maintenance"),
                    Err(e) => tracing::warn!(error = %e, "maintenance failed; the next run tries again"),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.with_context(|| format!("binding port {port}"))?;
        let addr = listener.local_addr()?;
        println!("deckhand: listening on http://{addr} (POST /slack/commands, /slack/interactions, /discord/interactions, /hooks/build/…)");
        axum::serve(listener, router(bot)).await.context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}
