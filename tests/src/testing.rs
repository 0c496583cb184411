//! What the bot's and functions' tests and the benchmarks share: the chat stand-ins and request
//! signing from [`crate::standin`], and core's in-memory ports with the real chat adapter.

use deckhand_core::memory::Memory;
use deckhand_core::ports::{Ports, Store};

pub use crate::standin::*;
use deckhand_functions::chat::HttpChat;

/// Core's in-memory ports with the real chat adapter; the store is the same `Memory`
/// ([`InMemory`], the default) or one of the caller's choosing ([`Own`]: the DynamoDB adapter in
/// the benchmarks, to isolate its cost).
#[derive(Debug)]
pub struct TestPorts<S: StoreChoice = InMemory> {
    pub mem: Memory,
    pub chat: HttpChat,
    pub store: S,
}

/// Where [`TestPorts`] keeps its store.
pub trait StoreChoice: std::fmt::Debug + Send + Sync {
    type Store: Store;
    fn pick<'a>(&'a self, mem: &'a Memory) -> &'a Self::Store;
}

/// The store is the in-memory world itself.
#[derive(Debug, Default)]
pub struct InMemory;

impl StoreChoice for InMemory {
    type Store = Memory;
    fn pick<'a>(&'a self, mem: &'a Memory) -> &'a Memory {
        mem
    }
}

/// A store of its own.
#[derive(Debug)]
pub struct Own<S>(pub S);

impl<S: Store + std::fmt::Debug> StoreChoice for Own<S> {
    type Store = S;
    fn pick<'a>(&'a self, _: &'a Memory) -> &'a S {
        &self.0
    }
}

impl<S: StoreChoice> Ports for TestPorts<S> {
    type Store = S::Store;
    type Platform = Memory;
    type Monitor = Memory;
    type Chat = HttpChat;
    type Dispatch = Memory;
    type Backups = Memory;
    type Metrics = Memory;
    type Clock = Memory;
    fn store(&self) -> &S::Store {
        self.store.pick(&self.mem)
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
