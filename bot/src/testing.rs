//! What the bot's tests and benchmarks share (feature `testing`): the chat stand-ins and
//! request signing from [`crate::standin`], and core's in-memory ports with the real chat
//! adapter. Not a production code path.

use deckhand_core::memory::Memory;
use deckhand_core::ports::Ports;

use crate::chat::HttpChat;
pub use crate::standin::*;

/// Core's in-memory ports, with the real chat adapter.
#[derive(Debug)]
pub struct TestPorts {
    pub mem: Memory,
    pub chat: HttpChat,
}

impl Ports for TestPorts {
    type Store = Memory;
    type Platform = Memory;
    type Monitor = Memory;
    type Chat = HttpChat;
    type Dispatch = Memory;
    type Backups = Memory;
    type Metrics = Memory;
    type Clock = Memory;
    fn store(&self) -> &Memory {
        &self.mem
    }
    fn platform(&self) -> &Memory {
        &self.mem
    }
    fn monitor(&self) -> &Memory {
        &self.mem
    }
    fn chat(&self) -> &HttpChat {
        &self.chat
    }
    fn dispatch(&self) -> &Memory {
        &self.mem
    }
    fn backups(&self) -> &Memory {
        &self.mem
    }
    fn metrics(&self) -> &Memory {
        &self.mem
    }
    fn clock(&self) -> &Memory {
        &self.mem
    }
}

/// A store of the caller's choosing (the DynamoDB adapter, in the benchmarks) with core's
/// in-memory ports for everything else and the real chat adapter: isolates one adapter's cost.
#[derive(Debug)]
pub struct OnStore<S> {
    pub store: S,
    pub mem: Memory,
    pub chat: HttpChat,
}

impl<S: deckhand_core::ports::Store> Ports for OnStore<S> {
    type Store = S;
    type Platform = Memory;
    type Monitor = Memory;
    type Chat = HttpChat;
    type Dispatch = Memory;
    type Backups = Memory;
    type Metrics = Memory;
    type Clock = Memory;
    fn store(&self) -> &S {
        &self.store
    }
    fn platform(&self) -> &Memory {
        &self.mem
    }
    fn monitor(&self) -> &Memory {
        &self.mem
    }
    fn chat(&self) -> &HttpChat {
        &self.chat
    }
    fn dispatch(&self) -> &Memory {
        &self.mem
    }
    fn backups(&self) -> &Memory {
        &self.mem
    }
    fn metrics(&self) -> &Memory {
        &self.mem
    }
    fn clock(&self) -> &Memory {
        &self.mem
    }
}
