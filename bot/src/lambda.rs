//! The bot's life in Lambda: one cold start (the functions' own, with the bot's verifying keys
//! besides), then the router for each request that reaches its Function URL.

use std::sync::Arc;

use deckhand_functions::lambda::{Rotating, cold_start, init_tracing};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use crate::keyring::{Fetch, KeyRing, KeySet};
use crate::router::{Bot, Keys, router};

/// The variable naming the secret that holds the bot's verifying keys.
const KEYS_SECRET: &str = "DECKHAND_BOT_KEYS_SECRET";

/// The bot's whole life: JSON logs, one cold start, then the router for each request that
/// reaches its Function URL (API Gateway HTTP API payload 2.0, which Function URLs use).
pub async fn run_bot() -> Result<(), lambda_http::Error> {
    init_tracing();
    let mut warm = cold_start(&[KEYS_SECRET]).await?;
    let keys = match warm.also.pop().flatten() {
        Some(secret) => {
            let keys = key_set(&secret)?;
            let secrets = warm.secrets.clone();
            let name = secret.name;
            let fetch: Fetch = Arc::new(move || {
                let (secrets, name) = (secrets.clone(), name.clone());
                Box::pin(async move {
                    let (current, previous) = secrets.current_and_previous(&name).await?;
                    key_set(&Rotating {
                        name,
                        current,
                        previous,
                    })
                })
            });
            KeyRing::refreshing(keys, fetch)
        }
        None => {
            tracing::warn!("{KEYS_SECRET} is not set: every request will be refused");
            KeyRing::fixed(Keys::default())
        }
    };
    let bot = Arc::new(Bot {
        ports: warm.ports,
        config: warm.config,
        keys,
        responder: warm.chat,
    });
    lambda_http::run(router(bot)).await
}

/// Both stages of the keys secret as the keys a request may be signed with. A previous value
/// that does not parse (written before a field was renamed, say) is left out, not fatal: the
/// current one is what the bot needs.
fn key_set(secret: &Rotating) -> anyhow::Result<KeySet> {
    let previous = secret.previous.as_ref().and_then(|p| {
        keys_from_json(p.expose_secret())
            .inspect_err(
                |e| tracing::warn!(error = %e, "the keys secret's previous value is not usable"),
            )
            .ok()
    });
    Ok(KeySet {
        current: keys_from_json(secret.current.expose_secret())?,
        previous,
    })
}

/// Parses the bot's keys secret (`DECKHAND_BOT_KEYS_SECRET`): a JSON object of
/// `slack_signing_secret`, `discord_public_key`, `github_webhook_secret`,
/// `gitlab_webhook_token`, `build_webhook_secret`, each optional. One secret is one call at cold
/// start; a route whose key is absent answers 401. Errors never quote the secret's text.
pub fn keys_from_json(text: &str) -> anyhow::Result<Keys> {
    let fields: serde_json::Map<String, Value> = serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "the bot keys secret is not a JSON object (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    const KNOWN: [&str; 5] = [
        "slack_signing_secret",
        "discord_public_key",
        "github_webhook_secret",
        "gitlab_webhook_token",
        "build_webhook_secret",
    ];
    if let Some(unknown) = fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        anyhow::bail!(
            "the bot keys secret has an unknown field {unknown:?}; expected some of {KNOWN:?}"
        );
    }
    let field = |name: &str| -> anyhow::Result<Option<String>> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => anyhow::bail!("the bot keys secret's {name} is not a string"),
        }
    };
    let secret = |name: &str| field(name).map(|v| v.map(SecretString::from));
    Ok(Keys {
        slack_signing_secret: secret("slack_signing_secret")?,
        discord_public_key: field("discord_public_key")?,
        github_secret: secret("github_webhook_secret")?,
        gitlab_token: secret("gitlab_webhook_token")?,
        generic_secret: secret("build_webhook_secret")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_keys_secret_is_read_strictly_and_never_quoted() {
        let keys = keys_from_json(
            r#"{"slack_signing_secret": "s3cr3t-signing", "discord_public_key": "ab12", "gitlab_webhook_token": ""}"#,
        )
        .unwrap();
        assert!(keys.slack_signing_secret.is_some());
        assert_eq!(keys.discord_public_key.as_deref(), Some("ab12"));
        assert!(keys.gitlab_token.is_none(), "empty means absent");
        assert!(!format!("{keys:?}").contains("s3cr3t-signing"));

        let typo = keys_from_json(r#"{"slack_signing_secrte": "s3cr3t-signing"}"#)
            .unwrap_err()
            .to_string();
        assert!(typo.contains("slack_signing_secrte"), "{typo}");
        assert!(!typo.contains("s3cr3t-signing"), "{typo}");
        let broken = keys_from_json(r#"{"slack_signing_secret": "s3cr3t-signing"#)
            .unwrap_err()
            .to_string();
        assert!(!broken.contains("s3cr3t"), "{broken}");
        assert!(keys_from_json(r#"{"github_webhook_secret": 7}"#).is_err());
        assert!(keys_from_json("[]").is_err());
    }
}
