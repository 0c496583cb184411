//! What Deckhand's Lambda functions share, and nothing they do not: no HTTP server, no
//! command-line parsing, no local mode, no stand-ins (`.ci/run` checks each function's
//! dependency tree).
//!
//! [`lambda`] is one cold start and the answer to each event; [`handlers`] parse an event, call
//! one core use-case and say what happened; [`live`] is every port on its production adapter;
//! [`chat`] is the `Chat` port on Slack's and Discord's APIs, and [`render`] turns core's `Card`
//! and `Table` into Block Kit and Discord embeds (the deploy and rollback functions post cards
//! too, so this is here and not in the bot).

pub mod chat;
pub mod handlers;
pub mod lambda;
pub mod live;
pub mod render;
