//! Deckhand's chat bot: the HTTP surface people and build systems talk to.
//!
//! Start at [`router::router`]: one axum `Router` that `lambda_http` serves behind a Function
//! URL ([`lambda`]) and `deckhand serve` serves on a local port. [`verify`] proves who is
//! speaking (Slack HMAC, Discord Ed25519, GitHub HMAC, GitLab token); [`discord`] is the slash
//! commands Deckhand registers with Discord. Rendering and the chat clients are
//! `deckhand_functions`', shared with the functions that post cards.
//!
//! Deliberately absent: decisions. What a command means and whether it is allowed is core's.

pub mod discord;
pub mod inbound;
pub mod keyring;
pub mod lambda;
pub mod router;
pub mod verify;
