//! The bot's verifying keys, kept current through a rotation without a Secrets Manager call on
//! the acknowledgement path.
//!
//! A rotation of the keys secret overlaps two values: Secrets Manager keeps the new one as
//! `AWSCURRENT` and the old as `AWSPREVIOUS` until the next rotation, while Slack or Discord
//! switch from one to the other at a moment Deckhand does not choose. So a request verifies
//! against either. The ring learns of a rotation three ways, none of which makes a request
//! wait for Secrets Manager unless its signature already failed:
//! - when its keys are older than the refresh interval, the next request starts a refresh in
//!   the background and is verified with what the ring has;
//! - a request whose signature matches neither value makes the ring fetch once, at most every
//!   [`FORCED_REFRESH_GAP`] (a flood of forged requests cannot turn into a flood of fetches),
//!   and is verified again;
//! - a cold start reads both values.
//!
//! `deckhand serve`, local mode and the tests hold fixed keys ([`KeyRing::fixed`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::router::Keys;
use crate::verify::Unverified;

/// How often a warm bot looks for a rotated keys secret, in the background.
pub const REFRESH_AFTER: Duration = Duration::from_secs(300);

/// The least time between two fetches forced by a failed signature.
pub const FORCED_REFRESH_GAP: Duration = Duration::from_secs(30);

/// The keys a request may be signed with: the current ones, and during a rotation the
/// previous ones.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    pub current: Keys,
    pub previous: Option<Keys>,
}

impl KeySet {
    fn each(&self) -> impl Iterator<Item = &Keys> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }
}

/// Fetches the key set afresh (the keys secret's `AWSCURRENT` and `AWSPREVIOUS`).
pub type Fetch =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<KeySet>> + Send>> + Send + Sync>;

/// The bot's keys, refreshed from their source as described in the module docs.
pub struct KeyRing {
    keys: Arc<Mutex<(Arc<KeySet>, Instant)>>,
    fetch: Option<Fetch>,
    refresh_after: Duration,
    forced_at: Mutex<Option<Instant>>,
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.snapshot())
            .field("refreshes", &self.fetch.is_some())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KeyRing {
    /// Keys that never change (tests, local mode, `deckhand serve` from the environment).
    pub fn fixed(keys: Keys) -> Self {
        Self::new(
            KeySet {
                current: keys,
                previous: None,
            },
            None,
        )
    }

    /// `keys` as read at cold start, refreshed through `fetch`.
    pub fn refreshing(keys: KeySet, fetch: Fetch) -> Self {
        Self::new(keys, Some(fetch))
    }

    fn new(keys: KeySet, fetch: Option<Fetch>) -> Self {
        Self {
            keys: Arc::new(Mutex::new((Arc::new(keys), Instant::now()))),
            fetch,
            refresh_after: REFRESH_AFTER,
            forced_at: Mutex::new(None),
            refreshing: Arc::default(),
        }
    }

    /// Looks for a rotation in the background this often instead of [`REFRESH_AFTER`].
    #[must_use]
    pub fn refresh_after(mut self, every: Duration) -> Self {
        self.refresh_after = every;
        self
    }

    /// The keys as they are now.
    pub fn snapshot(&self) -> Arc<KeySet> {
        lock(&self.keys).0.clone()
    }

    /// Verifies a request with `check` against each key set the ring holds (current, then
    /// previous); when its signature matches neither, fetches once (rate-limited) and checks
    /// again. A request that is stale, or missing its headers or a key for its route, is
    /// refused without a fetch: a fresh key would not change a stale request, and a key added
    /// to the secret later is picked up by the background refresh.
    pub async fn verify(
        &self,
        check: impl Fn(&Keys) -> Result<(), Unverified>,
    ) -> Result<(), Unverified> {
        self.refresh_in_background_when_due();
        let first = Self::against(&self.snapshot(), &check);
        match first {
            Err(Unverified::BadSignature | Unverified::BadKey(_)) if self.may_force() => {
                if self.refresh().await {
                    return Self::against(&self.snapshot(), &check);
                }
                first
            }
            other => other,
        }
    }

    fn against(
        keys: &KeySet,
        check: &impl Fn(&Keys) -> Result<(), Unverified>,
    ) -> Result<(), Unverified> {
        let mut last = Err(Unverified::Missing("key"));
        for k in keys.each() {
            last = check(k);
            if last.is_ok() {
                break;
            }
        }
        last
    }

    /// Whether a fetch may be forced now; if so, the gap starts now.
    fn may_force(&self) -> bool {
        if self.fetch.is_none() {
            return false;
        }
        let mut at = lock(&self.forced_at);
        if at.is_some_and(|t| t.elapsed() < FORCED_REFRESH_GAP) {
            return false;
        }
        *at = Some(Instant::now());
        true
    }

    fn refresh_in_background_when_due(&self) {
        let Some(fetch) = self.fetch.clone() else {
            return;
        };
        let due = lock(&self.keys).1.elapsed() >= self.refresh_after;
        if !due {
            return;
        }
        // One refresh at a time; the others go on with the keys they have.
        let Ok(guard) = self.refreshing.clone().try_lock_owned() else {
            return;
        };
        // Not work that must finish: if Lambda freezes the process first, the refresh resumes
        // with the next request, and the keys held meanwhile still verify.
        let held = self.keys.clone();
        tokio::spawn(async move {
            let _one_at_a_time = guard;
            match fetch().await {
                Ok(keys) => put(&held, keys),
                Err(e) => tracing::warn!(error = %e, "could not refresh the bot's keys"),
            }
        });
    }

    /// Fetches now; whether the ring holds fresh keys afterwards.
    async fn refresh(&self) -> bool {
        let Some(fetch) = &self.fetch else {
            return false;
        };
        let _one_at_a_time = self.refreshing.lock().await;
        match fetch().await {
            Ok(keys) => {
                put(&self.keys, keys);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not refresh the bot's keys after a signature failed");
                false
            }
        }
    }
}

/// Puts freshly fetched keys in the ring.
fn put(held: &Mutex<(Arc<KeySet>, Instant)>, keys: KeySet) {
    *lock(held) = (Arc::new(keys), Instant::now());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use secrecy::{ExposeSecret as _, SecretString};

    use super::*;

    fn keys(slack: &str) -> Keys {
        Keys {
            slack_signing_secret: Some(SecretString::from(slack.to_owned())),
            ..Keys::default()
        }
    }

    /// A request "signed" with `with`: it verifies against a key set holding that secret.
    fn signed(with: &'static str) -> impl Fn(&Keys) -> Result<(), Unverified> {
        move |k| match &k.slack_signing_secret {
            Some(s) if s.expose_secret() == with => Ok(()),
            _ => Err(Unverified::BadSignature),
        }
    }

    /// A secret's values: (current, previous).
    type Values = (&'static str, Option<&'static str>);

    /// A ring that starts out holding `held`, whose source serves what `serving` holds then,
    /// and the count of its fetches.
    fn refreshing(held: Values, serving: &Arc<Mutex<Values>>) -> (KeyRing, Arc<AtomicUsize>) {
        let count = Arc::new(AtomicUsize::new(0));
        let (serving, fetched) = (serving.clone(), count.clone());
        let source: Fetch = Arc::new(move || {
            let (serving, fetched) = (serving.clone(), fetched.clone());
            Box::pin(async move {
                fetched.fetch_add(1, Ordering::SeqCst);
                let (current, previous) = *lock(&serving);
                Ok(KeySet {
                    current: keys(current),
                    previous: previous.map(keys),
                })
            })
        });
        let held = KeySet {
            current: keys(held.0),
            previous: held.1.map(keys),
        };
        (KeyRing::refreshing(held, source), count)
    }

    #[tokio::test]
    async fn during_a_rotation_both_values_verify_without_a_fetch() {
        let now = Arc::new(Mutex::new(("new", Some("old"))));
        let (ring, count) = refreshing(("new", Some("old")), &now);
        assert!(ring.verify(signed("new")).await.is_ok());
        assert!(ring.verify(signed("old")).await.is_ok());
        assert_eq!(count.load(Ordering::SeqCst), 0, "the fast path asks nobody");
    }

    #[tokio::test]
    async fn a_signature_the_ring_does_not_know_fetches_once_and_forgeries_cannot_flood() {
        // Cold start saw "old"; the secret has since rotated to "new".
        let now = Arc::new(Mutex::new(("new", Some("old"))));
        let (ring, count) = refreshing(("old", None), &now);
        assert!(
            ring.verify(signed("new")).await.is_ok(),
            "fetched, then verified"
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);
        for _ in 0..20 {
            assert_eq!(
                ring.verify(signed("forged")).await,
                Err(Unverified::BadSignature)
            );
        }
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "no fetch for forgeries within the gap after the last one"
        );
        assert!(
            ring.verify(signed("old")).await.is_ok(),
            "still the previous value"
        );
    }

    #[tokio::test]
    async fn a_ring_whose_keys_aged_refreshes_in_the_background_and_answers_at_once() {
        let now = Arc::new(Mutex::new(("old", None)));
        let (ring, count) = refreshing(("old", None), &now);
        let ring = ring.refresh_after(Duration::ZERO);
        *lock(&now) = ("new", Some("old"));
        assert!(
            ring.verify(signed("old")).await.is_ok(),
            "answered with what it had"
        );
        for _ in 0..50 {
            if ring.snapshot().previous.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(count.load(Ordering::SeqCst) >= 1);
        assert_eq!(
            ring.snapshot()
                .current
                .slack_signing_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            Some("new".to_owned())
        );
    }

    #[tokio::test]
    async fn fixed_keys_never_fetch_and_a_stale_request_is_refused_without_one() {
        let ring = KeyRing::fixed(keys("k"));
        assert_eq!(
            ring.verify(signed("other")).await,
            Err(Unverified::BadSignature)
        );
        let (ring, count) = refreshing(("k", None), &Arc::new(Mutex::new(("k", None))));
        assert_eq!(
            ring.verify(|_| Err(Unverified::Stale)).await,
            Err(Unverified::Stale)
        );
        let unsigned = ring
            .verify(|_| Err(Unverified::Missing("x-slack-signature")))
            .await;
        assert_eq!(unsigned, Err(Unverified::Missing("x-slack-signature")));
        assert_eq!(count.load(Ordering::SeqCst), 0, "no key would change these");
    }
}
