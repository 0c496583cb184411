//! What every Deckhand Lambda does once per cold start, and how it answers each event.
//!
//! Cold start: JSON logs; the config from `DECKHAND_CONFIG` (a file in the package) or
//! `DECKHAND_CONFIG_SECRET` (a Secrets Manager secret holding the TOML); every AWS client built
//! once; chat tokens from Secrets Manager (`DECKHAND_SLACK_TOKEN_SECRET`,
//! `DECKHAND_DISCORD_TOKEN_SECRET`), and any secret a function asks for besides (the bot's
//! verifying keys); dispatch to `DECKHAND_DEPLOY_FUNCTION` / `DECKHAND_BACKUP_FUNCTION`. Each
//! event: [`answer`] turns a handler's result into what Lambda should see. The bot serves its
//! router through `lambda_http` instead (`deckhand_functions::lambda`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use deckhand_aws::dispatch::{DelayQueue, LambdaDispatch};
use deckhand_aws::dynamo::DynamoStore;
use deckhand_aws::secrets::CachedSecrets;
use deckhand_aws::{Aws, Settings};
use deckhand_core::config::Config;
use deckhand_core::deployment::Work;
use deckhand_core::ports::{Dispatch, PortResult, Secrets as _};
use deckhand_core::types::SignedDuration;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use crate::chat::{ChatApis, HttpChat};
use crate::handlers::FunctionError;
use crate::live::{Live, live};

/// Sends each kind of work to the function that does it.
#[derive(Debug, Clone)]
pub struct FunctionDispatch {
    pub deploy: LambdaDispatch,
    pub backup: LambdaDispatch,
    /// The delay queue feeding the deploy function (`DECKHAND_DELAY_QUEUE_URL`), for work
    /// due later: a check's next try, a look at a smoke task.
    pub later: Option<DelayQueue>,
}

impl Dispatch for FunctionDispatch {
    async fn dispatch(&self, work: &Work) -> PortResult<()> {
        match work {
            Work::PrepareDeployment { .. } | Work::RunDeployment { .. } | Work::Wake { .. } => {
                self.deploy.dispatch(work).await
            }
            Work::RunBackup { .. } => self.backup.dispatch(work).await,
        }
    }

    async fn dispatch_after(&self, work: &Work, delay: SignedDuration) -> PortResult<()> {
        match &self.later {
            Some(queue) => queue.send(work, delay).await,
            None => self.deploy.dispatch_after(work, delay).await,
        }
    }
}

/// Everything a function keeps between invocations.
#[derive(Debug)]
pub struct Warm {
    pub config: Config,
    pub ports: Live<FunctionDispatch>,
    /// The same chat client the ports post through (the bot answers Slack's `response_url`s
    /// with it).
    pub chat: HttpChat,
    /// The secrets the function asked [`cold_start`] for besides, in its order, each with the
    /// variable's secret name, its current value and (while a rotation overlaps them) its
    /// previous one; `None` where the variable naming one is not set.
    pub also: Vec<Option<Rotating>>,
    /// Secrets Manager, for what must be read again later (a rotated secret).
    pub secrets: Arc<CachedSecrets>,
}

/// A secret's name with its current value and, during a rotation, its previous one.
#[derive(Debug, Clone)]
pub struct Rotating {
    pub name: String,
    pub current: SecretString,
    pub previous: Option<SecretString>,
}

/// The secret named by the environment variable `var`, both its stages, if the variable is set.
async fn rotating_secret(secrets: &CachedSecrets, var: &str) -> anyhow::Result<Option<Rotating>> {
    let Some(name) = std::env::var(var).ok().filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let (current, previous) = secrets
        .current_and_previous(&name)
        .await
        .with_context(|| format!("reading secret {name} ({var})"))?;
    Ok(Some(Rotating {
        name,
        current,
        previous,
    }))
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

/// JSON logs, as CloudWatch Logs Insights reads them; level from `RUST_LOG` (default info).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(false)
        .without_time() // Lambda stamps every line already
        .init();
}

/// The config: a Secrets Manager secret holding the TOML (`DECKHAND_CONFIG_SECRET`), or a file
/// in the package (`DECKHAND_CONFIG`).
async fn load_config(secrets: &CachedSecrets) -> anyhow::Result<Config> {
    let (origin, bytes) = match (
        std::env::var("DECKHAND_CONFIG_SECRET"),
        std::env::var("DECKHAND_CONFIG"),
    ) {
        (Ok(name), _) => {
            let value = secrets
                .get(&name)
                .await
                .with_context(|| format!("reading the config from secret {name}"))?;
            (name, value.expose_secret().as_bytes().to_vec())
        }
        (Err(_), Ok(path)) => {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading the config from {path}"))?;
            (path, bytes)
        }
        (Err(_), Err(_)) => anyhow::bail!(
            "set DECKHAND_CONFIG (a file) or DECKHAND_CONFIG_SECRET (a secret holding the TOML)"
        ),
    };
    Config::parse_bytes(&origin, &bytes)
        .map_err(|e| anyhow::anyhow!("the config has mistakes:\n{e}"))
}

/// The secret named by the environment variable `var`, if it is set.
pub async fn optional_secret(
    secrets: &CachedSecrets,
    var: &str,
) -> anyhow::Result<Option<SecretString>> {
    // Set but empty (a template parameter left blank) means not configured.
    match std::env::var(var).ok().filter(|n| !n.is_empty()) {
        Some(name) => secrets
            .get(&name)
            .await
            .map(Some)
            .with_context(|| format!("reading secret {name} ({var})")),
        None => Ok(None),
    }
}

/// Opens the connection to DynamoDB during init, while the secrets are fetched, instead of on
/// the first event: the first request on a client pays for DNS, the TCP and TLS handshakes and
/// the SDK's lazy set-up (docs/benchmarks.md shows the difference). One `GetItem` of a key that
/// never exists. `DECKHAND_PREWARM=0` turns it off; a failure here is only logged.
async fn prewarm(store: &DynamoStore) -> anyhow::Result<()> {
    use deckhand_core::ports::Store as _;
    if std::env::var("DECKHAND_PREWARM").is_ok_and(|v| v == "0") {
        return Ok(());
    }
    if let Ok(env) = deckhand_core::types::EnvName::parse("prewarm")
        && let Err(e) = store.get_lock(&env).await
    {
        tracing::warn!(error = %e, "could not open the DynamoDB connection during init");
    }
    Ok(())
}

/// Everything read once per cold start, with the secrets named by the variables in `also`
/// (only the bot's role may read its keys, so only the bot asks). The config and every secret
/// are fetched at once, not one after another: each is a round trip to Secrets Manager, and on
/// a cold start the first also pays for the TLS handshake.
pub async fn cold_start(also: &[&str]) -> anyhow::Result<Warm> {
    let aws = Aws::load(&Settings::default()).await;
    let table = env("DECKHAND_TABLE")?;
    let secrets = CachedSecrets::new(aws.secrets.clone(), Duration::from_secs(300));
    let store = DynamoStore::new(aws.dynamodb.clone(), &table);
    let (config, slack_token, discord_token, also, ()) = tokio::try_join!(
        load_config(&secrets),
        optional_secret(&secrets, "DECKHAND_SLACK_TOKEN_SECRET"),
        optional_secret(&secrets, "DECKHAND_DISCORD_TOKEN_SECRET"),
        futures_util::future::try_join_all(also.iter().map(|v| rotating_secret(&secrets, v))),
        prewarm(&store),
    )?;
    // The chat APIs' hosts can be moved (the benchmarks' stand-in), as `deckhand serve` allows.
    let defaults = ChatApis::default();
    let apis = ChatApis {
        slack: std::env::var("DECKHAND_SLACK_API_URL").unwrap_or(defaults.slack),
        discord: std::env::var("DECKHAND_DISCORD_API_URL").unwrap_or(defaults.discord),
    };
    let secrets = Arc::new(secrets);
    // A refused (rotated) bot token is read again from its secret, not kept until a cold start.
    let source = |var: &str| -> Option<crate::chat::TokenSource> {
        let name = std::env::var(var).ok().filter(|n| !n.is_empty())?;
        let secrets = secrets.clone();
        Some(Arc::new(move || {
            let (secrets, name) = (secrets.clone(), name.clone());
            Box::pin(async move { Ok(secrets.current_and_previous(&name).await?.0) })
        }))
    };
    let chat = HttpChat::new(apis, slack_token, discord_token)?.renewing(
        source("DECKHAND_SLACK_TOKEN_SECRET"),
        source("DECKHAND_DISCORD_TOKEN_SECRET"),
    );
    let dispatch = FunctionDispatch {
        deploy: LambdaDispatch::new(aws.lambda.clone(), env("DECKHAND_DEPLOY_FUNCTION")?),
        backup: LambdaDispatch::new(aws.lambda.clone(), env("DECKHAND_BACKUP_FUNCTION")?),
        later: std::env::var("DECKHAND_DELAY_QUEUE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(|url| DelayQueue::new(aws.sqs.clone(), url)),
    };
    let ports = live(&aws, &table, chat.clone(), dispatch)?;
    Ok(Warm {
        config,
        ports,
        chat,
        also,
        secrets,
    })
}

/// A function's whole life: JSON logs, one cold start, then `handler` for each event until
/// Lambda stops the process. `main` in each `functions/*` crate is this, with its handler.
pub async fn run<H, F>(function: &'static str, handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Arc<Warm>, Value) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Value, FunctionError>> + Send,
{
    init_tracing();
    let warm = Arc::new(cold_start(&[]).await?);
    let handler = Arc::new(handler);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| {
            let (warm, handler) = (warm.clone(), handler.clone());
            async move {
                let result = handler(warm, event.payload).await;
                // Only retryable failures get here as errors; Lambda reports them as this type.
                answer(function, &event.context.request_id, result).map_err(|e| {
                    let kind = match e {
                        FunctionError::Misconfigured(_) => "Deckhand.Misconfigured",
                        _ => "Deckhand.Retryable",
                    };
                    lambda_runtime::Diagnostic {
                        error_type: kind.into(),
                        error_message: e.to_string(),
                    }
                })
            }
        },
    ))
    .await
}

/// What Lambda should see for a handler's result. A malformed or refused event is logged with
/// its id and answered normally, so Lambda does not retry what cannot succeed; a retryable
/// failure is an error, so Lambda's and EventBridge's retries do their job.
pub fn answer(
    function: &str,
    request_id: &str,
    result: Result<Value, FunctionError>,
) -> Result<Value, FunctionError> {
    match result {
        Ok(v) => Ok(v),
        Err(e @ FunctionError::Misconfigured(_)) => {
            // Already counted for the alarm; retried, so a fix within the retries still
            // carries the event out.
            tracing::error!(function, request_id, error = %e, "Deckhand is misconfigured; the event will be retried");
            Err(e)
        }
        Err(e) if e.retryable() => {
            tracing::warn!(function, request_id, error = %e, "failed; the event will be retried");
            Err(e)
        }
        Err(e) => {
            tracing::error!(function, request_id, error = %e, "rejected an event");
            Ok(json!({ "rejected": e.to_string() }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deckhand_aws::events::EventError;

    #[test]
    fn only_retryable_failures_reach_lambda_as_errors() {
        let malformed = FunctionError::Malformed(EventError {
            kind: "x",
            id: "ev-1".into(),
            why: "no detail".into(),
        });
        let answered = answer("deploy", "req-1", Err(malformed)).unwrap();
        assert!(answered["rejected"].as_str().unwrap().contains("ev-1"));
        let refused = FunctionError::Refused("nope".into());
        assert!(answer("deploy", "req-1", Err(refused)).is_ok());
        let retryable = FunctionError::Retryable("DynamoDB timed out".into());
        assert!(answer("deploy", "req-1", Err(retryable)).is_err());
        assert_eq!(
            answer("deploy", "req-1", Ok(json!({"ok": 1}))).unwrap(),
            json!({"ok": 1})
        );
    }
}
