//! Who is speaking: every inbound request is verified before its body is read as anything.
//!
//! Slack: v0 HMAC-SHA256 over `v0:{timestamp}:{body}`, constant-time, 5-minute replay window
//! (slack-morphism's verifier). Discord: Ed25519 over timestamp + body (serenity's verifier),
//! plus the same replay window. GitHub: `X-Hub-Signature-256` HMAC (constant-time via `hmac`).
//! GitLab: `X-Gitlab-Token`, compared in constant time. Nothing here logs a secret.

use axum::http::HeaderMap;
use hmac::{KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use subtle::ConstantTimeEq as _;

/// Why a request was refused. Every variant answers 401; the detail goes to the log only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("timestamp outside the 5-minute window")]
    Stale,
    #[error("bad signature")]
    BadSignature,
    #[error("the configured key is not usable: {0}")]
    BadKey(String),
}

/// How old a signed request may be, as Slack recommends; Discord gets the same.
pub const REPLAY_WINDOW_SECONDS: i64 = 5 * 60;

fn header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, Unverified> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or(Unverified::Missing(name))
}

fn fresh(timestamp: &str, now: jiff::Timestamp) -> Result<(), Unverified> {
    let ts: i64 = timestamp.parse().map_err(|_| Unverified::Stale)?;
    if (now.as_second() - ts).abs() > REPLAY_WINDOW_SECONDS {
        return Err(Unverified::Stale);
    }
    Ok(())
}

/// Verifies a request from Slack.
pub fn slack(
    secret: &SecretString,
    headers: &HeaderMap,
    body: &[u8],
    now: jiff::Timestamp,
) -> Result<(), Unverified> {
    let signature = header(
        headers,
        SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER,
    )?;
    let timestamp = header(headers, SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP)?;
    // Checked first and against our clock, so the answer to a replay is "stale" whatever the
    // signature (slack-morphism checks the window too, against the system clock).
    fresh(timestamp, now)?;
    let body = std::str::from_utf8(body).map_err(|_| Unverified::BadSignature)?;
    let verifier = SlackEventSignatureVerifier::new(&SlackSigningSecret::new(
        secret.expose_secret().to_owned(),
    ));
    verifier
        .verify(signature, body, timestamp)
        .map_err(|_| Unverified::BadSignature)
}

/// Verifies a request from Discord. `public_key` is the application's hex public key.
pub fn discord(
    public_key: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: jiff::Timestamp,
) -> Result<(), Unverified> {
    let signature = header(headers, "x-signature-ed25519")?;
    let timestamp = header(headers, "x-signature-timestamp")?;
    fresh(timestamp, now)?;
    let key = hex32(public_key)
        .ok_or_else(|| Unverified::BadKey("the Discord public key is not 64 hex digits".into()))?;
    let verifier = serenity::interactions_endpoint::Verifier::try_new(key)
        .map_err(|e| Unverified::BadKey(e.to_string()))?;
    verifier
        .verify(signature, timestamp, body)
        .map_err(|()| Unverified::BadSignature)
}

/// Verifies a GitHub webhook (`X-Hub-Signature-256: sha256=<hex>`).
pub fn github(secret: &SecretString, headers: &HeaderMap, body: &[u8]) -> Result<(), Unverified> {
    let given = header(headers, "x-hub-signature-256")?;
    let hex = given
        .strip_prefix("sha256=")
        .ok_or(Unverified::BadSignature)?;
    let expected = hex_bytes(hex).ok_or(Unverified::BadSignature)?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|e| Unverified::BadKey(e.to_string()))?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| Unverified::BadSignature)
}

/// Verifies a GitLab webhook (`X-Gitlab-Token`, a shared secret).
pub fn gitlab(token: &SecretString, headers: &HeaderMap) -> Result<(), Unverified> {
    let given = header(headers, "x-gitlab-token")?;
    if given
        .as_bytes()
        .ct_eq(token.expose_secret().as_bytes())
        .into()
    {
        Ok(())
    } else {
        Err(Unverified::BadSignature)
    }
}

/// Verifies a generic build webhook: `X-Deckhand-Signature: sha256=<hex>` HMAC of the body, the
/// same scheme as GitHub's so any CI can produce it with `openssl dgst -sha256 -hmac`.
pub fn generic(secret: &SecretString, headers: &HeaderMap, body: &[u8]) -> Result<(), Unverified> {
    let mut renamed = HeaderMap::new();
    if let Some(v) = headers.get("x-deckhand-signature") {
        renamed.insert("x-hub-signature-256", v.clone());
    }
    github(secret, &renamed, body).map_err(|e| match e {
        Unverified::Missing(_) => Unverified::Missing("x-deckhand-signature"),
        other => other,
    })
}

/// Decodes hex. Hand-rolled: two call sites, and no other need for a hex crate.
fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex32(hex: &str) -> Option<[u8; 32]> {
    hex_bytes(hex)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use deckhand_harness::testing::{discord_headers, slack_headers};

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    #[test]
    fn slack_signatures_verify_and_tampering_staleness_and_absence_do_not() {
        let secret = SecretString::from("8f742231b10e8888abcd99yyyzzz85a5".to_owned());
        let body = "command=%2Fdeploy&text=prod+api+v1.2.3";
        let t = now().as_second();
        assert_eq!(
            slack(
                &secret,
                &slack_headers("8f742231b10e8888abcd99yyyzzz85a5", t, body),
                body.as_bytes(),
                now()
            ),
            Ok(())
        );
        assert_eq!(
            slack(
                &secret,
                &slack_headers("wrong", t, body),
                body.as_bytes(),
                now()
            ),
            Err(Unverified::BadSignature)
        );
        let headers = slack_headers("8f742231b10e8888abcd99yyyzzz85a5", t, body);
        assert_eq!(
            slack(
                &secret,
                &headers,
                b"command=%2Fdeploy&text=prod+api+v6.6.6",
                now()
            ),
            Err(Unverified::BadSignature)
        );
        let stale = slack_headers("8f742231b10e8888abcd99yyyzzz85a5", t - 301, body);
        assert_eq!(
            slack(&secret, &stale, body.as_bytes(), now()),
            Err(Unverified::Stale)
        );
        assert_eq!(
            slack(&secret, &HeaderMap::new(), body.as_bytes(), now()),
            Err(Unverified::Missing("x-slack-signature"))
        );
    }

    #[test]
    fn discord_signatures_verify_with_the_application_key() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let public = deckhand_harness::testing::hex(&key.verifying_key().to_bytes());
        let body = br#"{"type":1}"#;
        let h = discord_headers(&key, r#"{"type":1}"#);
        assert_eq!(discord(&public, &h, body, now()), Ok(()));
        assert_eq!(
            discord(&public, &h, br#"{"type":2}"#, now()),
            Err(Unverified::BadSignature)
        );
        assert!(matches!(
            discord("nothex", &h, body, now()),
            Err(Unverified::BadKey(_))
        ));
    }

    #[test]
    fn github_gitlab_and_generic_webhooks() {
        let secret = SecretString::from("hook-secret".to_owned());
        let body = br#"{"action":"completed"}"#;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"hook-secret").unwrap();
        mac.update(body);
        let sig: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut h = HeaderMap::new();
        h.insert(
            "x-hub-signature-256",
            HeaderValue::from_str(&format!("sha256={sig}")).unwrap(),
        );
        assert_eq!(github(&secret, &h, body), Ok(()));
        assert_eq!(github(&secret, &h, b"{}"), Err(Unverified::BadSignature));
        let mut g = HeaderMap::new();
        g.insert(
            "x-deckhand-signature",
            HeaderValue::from_str(&format!("sha256={sig}")).unwrap(),
        );
        assert_eq!(generic(&secret, &g, body), Ok(()));
        assert_eq!(
            generic(&secret, &HeaderMap::new(), body),
            Err(Unverified::Missing("x-deckhand-signature"))
        );
        let mut t = HeaderMap::new();
        t.insert("x-gitlab-token", HeaderValue::from_static("hook-secret"));
        assert_eq!(gitlab(&secret, &t), Ok(()));
        t.insert("x-gitlab-token", HeaderValue::from_static("hook-secreT"));
        assert_eq!(gitlab(&secret, &t), Err(Unverified::BadSignature));
    }
}
