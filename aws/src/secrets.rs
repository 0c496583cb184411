//! `Secrets` on Secrets Manager, cached in the process so a warm Lambda does not fetch a
//! signing secret on every request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use deckhand_core::ports::{PortError, PortResult, Secrets};
use secrecy::SecretString;
use tokio::sync::Mutex;

use crate::error::{misconfigured_if_missing, port_error};

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
                misconfigured_if_missing(
                    port_error(&format!("GetSecretValue {name}"), &e),
                    &format!("secret {name}"),
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
