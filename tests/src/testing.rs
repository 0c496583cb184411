//! What the bot's and functions' tests and the benchmarks share: the chat stand-ins and request
//! signing from [`crate::standin`], and core's in-memory ports with the real chat adapter.

use deckhand_core::config::Config;
use deckhand_core::memory::Memory;
use deckhand_core::ports::{Bundle, Store};
use deckhand_core::types::{Digest, Timestamp};
use deckhand_core::usecases::App;
use secrecy::SecretString;

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

/// The one way the router's, the functions' and the benchmarks' tests build their world: core's
/// in-memory outside world at a time of the test's choosing, with the services running and the
/// images pushed that it names, a chat stand-in with the real chat adapter talking to it, and
/// the config. Swap the store for another (`start_on`: DynamoDB on the emulator) to measure or
/// test it under the same use-cases.
#[derive(Debug)]
pub struct TestWorld<S = Memory> {
    /// The in-memory world every port but the store (when swapped) is.
    pub mem: Memory,
    pub stub: ChatStub,
    pub ports: TestPorts<S>,
    pub config: Config,
}

/// What a [`TestWorld`] starts with.
#[derive(Debug)]
pub struct WorldBuilder {
    config: Config,
    now: Timestamp,
    running: Vec<(String, String, String)>,
    images: Vec<(String, String, Digest)>,
}

impl TestWorld {
    /// A world on `config`, starting now (signatures are checked against the real clock).
    pub fn builder(config: Config) -> WorldBuilder {
        WorldBuilder {
            config,
            now: Timestamp::now(),
            running: Vec::new(),
            images: Vec::new(),
        }
    }
}

impl WorldBuilder {
    pub fn at(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    /// `service` runs `task_definition` with `image` before any deploy.
    pub fn running(mut self, service: &str, task_definition: &str, image: &str) -> Self {
        self.running
            .push((service.into(), task_definition.into(), image.into()));
        self
    }

    /// `repository:tag` is pushed, at `digest`.
    pub fn image(mut self, repository: &str, tag: &str, digest: &Digest) -> Self {
        self.images
            .push((repository.into(), tag.into(), digest.clone()));
        self
    }

    pub async fn start(self) -> anyhow::Result<TestWorld> {
        let (mem, stub, chat, config) = self.parts().await?;
        Ok(TestWorld {
            ports: test_ports(&mem, chat),
            mem,
            stub,
            config,
        })
    }

    /// The same world with `store` in the store's place.
    pub async fn start_on<S: Store>(self, store: S) -> anyhow::Result<TestWorld<S>> {
        let (mem, stub, chat, config) = self.parts().await?;
        Ok(TestWorld {
            ports: test_ports(&mem, chat).with_store(store),
            mem,
            stub,
            config,
        })
    }

    async fn parts(self) -> anyhow::Result<(Memory, ChatStub, HttpChat, Config)> {
        let stub = ChatStub::start().await?;
        let chat = HttpChat::new(
            stub.apis(),
            Some(SecretString::from("xoxb-test".to_owned())),
            Some(SecretString::from("discord-test".to_owned())),
        )?;
        let mem = Memory::new(self.now);
        for (service, td, image) in &self.running {
            mem.set_running(service, td, image);
        }
        for (repository, tag, digest) in &self.images {
            mem.push_image(repository, tag, digest);
        }
        Ok((mem, stub, chat, self.config))
    }
}

impl<S: Store> TestWorld<S> {
    pub fn app(&self) -> App<'_, TestPorts<S>> {
        App::new(&self.ports, &self.config)
    }
}
