//! What every Deckhand Lambda does once per cold start, and how it answers each event.
//!
//! Cold start: JSON logs; the config from `DECKHAND_CONFIG` (a file in the package) or
//! `DECKHAND_CONFIG_SECRET` (a Secrets Manager secret holding the TOML); every AWS client built
//! once; chat tokens from Secrets Manager (`DECKHAND_SLACK_TOKEN_SECRET`,
//! `DECKHAND_DISCORD_TOKEN_SECRET`); dispatch to `DECKHAND_DEPLOY_FUNCTION` /
//! `DECKHAND_BACKUP_FUNCTION`. Each event: [`answer`] turns a handler's result into what Lambda
//! should see.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use deckhand_aws::dispatch::LambdaDispatch;
use deckhand_aws::secrets::CachedSecrets;
use deckhand_aws::{Aws, Settings};
use deckhand_core::config::Config;
use deckhand_core::deployment::Work;
use deckhand_core::ports::{Dispatch, PortResult, Secrets as _};
use serde_json::{Value, json};

use crate::chat::{ChatApis, HttpChat};
use crate::functions::FunctionError;
use crate::live::Live;

/// Sends each kind of work to the function that does it.
#[derive(Debug, Clone)]
pub struct FunctionDispatch {
    pub deploy: LambdaDispatch,
    pub backup: LambdaDispatch,
}

impl Dispatch for FunctionDispatch {
    async fn dispatch(&self, work: &Work) -> PortResult<()> {
        match work {
            Work::RunDeployment { .. } => self.deploy.dispatch(work).await,
            Work::RunBackup { .. } => self.backup.dispatch(work).await,
        }
    }
}

/// Everything a function keeps between invocations.
#[derive(Debug)]
pub struct Warm {
    pub config: Config,
    pub ports: Live<FunctionDispatch>,
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

pub async fn cold_start() -> anyhow::Result<Warm> {
    let aws = Aws::load(&Settings::default()).await;
    let secrets = CachedSecrets::new(aws.secrets.clone(), Duration::from_secs(300));
    let (origin, text) = match (
        std::env::var("DECKHAND_CONFIG_SECRET"),
        std::env::var("DECKHAND_CONFIG"),
    ) {
        (Ok(name), _) => {
            use secrecy::ExposeSecret as _;
            let value = secrets
                .get(&name)
                .await
                .with_context(|| format!("reading the config from secret {name}"))?;
            (name, value.expose_secret().to_owned())
        }
        (Err(_), Ok(path)) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the config from {path}"))?;
            (path, text)
        }
        (Err(_), Err(_)) => anyhow::bail!(
            "set DECKHAND_CONFIG (a file) or DECKHAND_CONFIG_SECRET (a secret holding the TOML)"
        ),
    };
    let config = Config::parse(&origin, &text)
        .map_err(|e| anyhow::anyhow!("the config has mistakes:\n{e}"))?;
    let token = |var: &str| {
        let secrets = &secrets;
        let name = std::env::var(var).ok();
        async move {
            match name {
                Some(n) => secrets
                    .get(&n)
                    .await
                    .map(Some)
                    .with_context(|| format!("reading secret {n}")),
                None => Ok(None),
            }
        }
    };
    let chat = HttpChat::new(
        ChatApis::default(),
        token("DECKHAND_SLACK_TOKEN_SECRET").await?,
        token("DECKHAND_DISCORD_TOKEN_SECRET").await?,
    )?;
    let dispatch = FunctionDispatch {
        deploy: LambdaDispatch::new(aws.lambda.clone(), env("DECKHAND_DEPLOY_FUNCTION")?),
        backup: LambdaDispatch::new(aws.lambda.clone(), env("DECKHAND_BACKUP_FUNCTION")?),
    };
    let ports = Live::new(&aws, &env("DECKHAND_TABLE")?, chat, dispatch)?;
    Ok(Warm { config, ports })
}

/// A function's whole life: JSON logs, one cold start, then `handler` for each event until
/// Lambda stops the process. `main` in each `functions/*` crate is this, with its handler.
pub async fn run<H, F>(function: &'static str, handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Arc<Warm>, Value) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Value, FunctionError>> + Send,
{
    init_tracing();
    let warm = Arc::new(cold_start().await?);
    let handler = Arc::new(handler);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| {
            let (warm, handler) = (warm.clone(), handler.clone());
            async move {
                let result = handler(warm, event.payload).await;
                // Only retryable failures get here as errors; Lambda reports them as this type.
                answer(function, &event.context.request_id, result).map_err(|e| {
                    lambda_runtime::Diagnostic {
                        error_type: "Deckhand.Retryable".into(),
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
        assert!(
            answer(
                "deploy",
                "req-1",
                Err(FunctionError::Refused("nope".into()))
            )
            .is_ok()
        );
        assert!(
            answer(
                "deploy",
                "req-1",
                Err(FunctionError::Retryable("DynamoDB timed out".into()))
            )
            .is_err()
        );
        assert_eq!(
            answer("deploy", "req-1", Ok(json!({"ok": 1}))).unwrap(),
            json!({"ok": 1})
        );
    }
}
