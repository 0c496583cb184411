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
