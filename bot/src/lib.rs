//! Deckhand's chat bot: the HTTP surface people and build systems talk to.
//!
//! Start at [`router::router`]: one axum `Router` that `lambda_http` serves behind a Function URL
//! and `deckhand serve` serves on a local port. [`verify`] proves who is speaking (Slack HMAC,
//! Discord Ed25519, GitHub HMAC, GitLab token); [`render`] turns core's `Card` and `Table` into
//! Block Kit and Discord embeds; [`chat`] is the `Chat` port on Slack's and Discord's APIs.
//!
//! Deliberately absent: decisions. What a command means and whether it is allowed is core's.

pub mod chat;
pub mod discord;
pub mod functions;
pub mod lambda;
pub mod live;
pub mod local;
pub mod render;
pub mod router;
pub mod standin;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verify;
