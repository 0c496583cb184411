//! `Secrets` on Secrets Manager, cached in the process so a warm Lambda does not fetch a
//! signing secret on every request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use deckhand_core::ports::{PortError, PortResult, Secrets};
use secrecy::SecretString;
use tokio::sync::Mutex;

use crate::error::{misconfigured_if_missing, port_error, resource_error};

/// Secrets Manager with a TTL cache. Values are held as `SecretString`, whose `Debug` prints
/// `[REDACTED]`; errors name the secret, never its value.
#[derive(Debug)]
pub struct CachedSecrets {
    client: aws_sdk_secretsmanager::Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, SecretString)>>,
}

impl CachedSecrets {
    /// `ttl` bounds how long a rotated secret keeps its old value here (5 minutes is the
    /// usual choice: rotation overlaps old and new values for longer than that).
    pub fn new(client: aws_sdk_secretsmanager::Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cache: Mutex::default(),
        }
    }
}

impl CachedSecrets {
    /// The secret's current value and, while a rotation overlaps them, its previous one
    /// (`AWSCURRENT`, `AWSPREVIOUS`), fetched now — not from the cache: this is how a holder
    /// of verifying keys learns of a rotation. A secret never rotated has no previous value;
    /// `DescribeSecret` (asked alongside the current value) says whether there is one, so no
    /// call is made that must fail.
    pub async fn current_and_previous(
        &self,
        name: &str,
    ) -> PortResult<(SecretString, Option<SecretString>)> {
        let stage = |stage: &'static str| async move {
            self.client
                .get_secret_value()
                .secret_id(name)
                .version_stage(stage)
                .send()
                .await
                .map_err(|e| port_error(&format!("GetSecretValue {name} ({stage})"), &e))
                .map(|out| out.secret_string.map(SecretString::from))
        };
        let describe = async {
            self.client
                .describe_secret()
                .secret_id(name)
                .send()
                .await
                .map_err(|e| port_error(&format!("DescribeSecret {name}"), &e))
        };
        let (current, described) = tokio::join!(stage("AWSCURRENT"), describe);
        let current = current
            .map_err(|e| misconfigured_if_missing(e, &format!("secret {name}")))?
            .ok_or_else(|| PortError::Failed(format!("secret {name} has no string value")))?;
        let rotated = described?.version_ids_to_stages.is_some_and(|versions| {
            versions
                .values()
                .any(|stages| stages.iter().any(|s| s == "AWSPREVIOUS"))
        });
        let previous = if rotated {
            stage("AWSPREVIOUS").await?
        } else {
            None
        };
        self.cache
            .lock()
            .await
            .insert(name.to_owned(), (Instant::now(), current.clone()));
        Ok((current, previous))
    }
}

impl Secrets for CachedSecrets {
    async fn get(&self, name: &str) -> PortResult<SecretString> {
        // Holding the lock across the fetch also collapses concurrent cold reads into one call.
        let mut cache = self.cache.lock().await;
        if let Some((at, value)) = cache.get(name)
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| {
                resource_error(
                    &format!("GetSecretValue {name}"),
                    &format!("secret {name}"),
                    &e,
                )
            })?;
        let value = out
            .secret_string
            .map(SecretString::from)
            .ok_or_else(|| PortError::Failed(format!("secret {name} has no string value")))?;
        tracing::debug!(secret = name, "fetched a secret");
        cache.insert(name.to_owned(), (Instant::now(), value.clone()));
        Ok(value)
    }
}
