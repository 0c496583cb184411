//! What the bot's and functions' tests and the benchmarks share: the chat stand-ins and request
//! signing from [`crate::standin`], and core's in-memory ports with the real chat adapter.

use deckhand_core::memory::Memory;
use deckhand_core::ports::Bundle;

pub use crate::standin::*;
use deckhand_functions::chat::HttpChat;

/// Core's in-memory ports with the real chat adapter (talking to a [`ChatStub`]); the store is
/// the same `Memory` unless one is swapped in (`with_store`: the DynamoDB adapter in the
/// benchmarks, to isolate its cost). Every `Memory` in it is the one world: look at what
/// happened through any of them (`ports.platform`).
pub type TestPorts<S = Memory> =
    Bundle<S, Memory, Memory, HttpChat, Memory, Memory, Memory, Memory>;

/// [`TestPorts`] on `mem`, posting through `chat`.
pub fn test_ports(mem: &Memory, chat: HttpChat) -> TestPorts {
    mem.ports().with_chat(chat)
}
