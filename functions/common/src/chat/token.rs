//! A chat bot token that survives its rotation: when Slack or Discord refuse it, the adapter
//! reads it again from where it came from (at most every [`RENEW_GAP`]) and retries once, so a
//! rotated token costs one refused call instead of every call until the next cold start.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use deckhand_core::ports::PortResult;
use secrecy::SecretString;

/// The least time between two reads of a refused token's source.
pub(super) const RENEW_GAP: Duration = Duration::from_secs(30);

/// Reads the token's current value again (Secrets Manager's `AWSCURRENT`, in Lambda).
pub type Source =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = PortResult<SecretString>> + Send>> + Send + Sync>;

/// A token, and how to read it again. Clones share it.
#[derive(Clone, Default)]
pub struct Token {
    value: Arc<Mutex<Option<SecretString>>>,
    source: Option<Source>,
    renewed_at: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &*lock(&self.value))
            .field("renews", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Token {
    pub fn new(value: Option<SecretString>) -> Self {
        Self {
            value: Arc::new(Mutex::new(value)),
            ..Self::default()
        }
    }

    /// The same token, read again from `source` when the chat refuses it.
    #[must_use]
    pub fn renewed_from(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }

    pub fn get(&self) -> Option<SecretString> {
        lock(&self.value).clone()
    }

    /// Reads the token again after the chat refused `refused`; whether there is a different
    /// one to retry with. Nothing is read within [`RENEW_GAP`] of the last read.
    pub async fn renew(&self, refused: &SecretString) -> bool {
        use secrecy::ExposeSecret as _;
        let Some(source) = &self.source else {
            return false;
        };
        {
            let mut at = lock(&self.renewed_at);
            if at.is_some_and(|t| t.elapsed() < RENEW_GAP) {
                // Another call may have renewed it meanwhile.
                return self
                    .get()
                    .is_some_and(|now| now.expose_secret() != refused.expose_secret());
            }
            *at = Some(Instant::now());
        }
        match source().await {
            Ok(fresh) => {
                let changed = fresh.expose_secret() != refused.expose_secret();
                *lock(&self.value) = Some(fresh);
                changed
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the chat token again after it was refused");
                false
            }
        }
    }
}
