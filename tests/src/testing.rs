//! What the bot's and functions' tests and the benchmarks share: the chat stand-ins and request
//! signing from [`crate::standin`], and core's in-memory ports with the real chat adapter.

use deckhand_aws::Aws;
use deckhand_aws::dynamo::DynamoStore;
use deckhand_core::config::Config;
use deckhand_core::memory::Memory;
use deckhand_core::ports::{Bundle, Dispatch, Store};
use deckhand_core::types::{Digest, Timestamp};
use deckhand_core::usecases::App;
use secrecy::SecretString;

pub use crate::standin::*;
use crate::{Emulator, Seed};
use deckhand_functions::chat::HttpChat;
use deckhand_functions::live::{Live, live};

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

/// The one way tests, benchmarks and local mode build their world: a chat stand-in with the real
/// chat adapter talking to it, the config, and one of two outsides —
/// - core's in-memory world at a time of the test's choosing, with the services running and the
///   images pushed that it names ([`WorldBuilder::start`]), its store swapped for another where
///   a test or benchmark measures one (`start_on`: DynamoDB on the emulator);
/// - the emulator, seeded with everything the config names, under the production adapters
///   ([`WorldBuilder::on_emulator`]: local mode, the end-to-end stories, `deckhand serve`).
///
/// The deterministic simulation builds no `TestWorld`: it owns every port itself so that it
/// can crash a delivery at any port call and replay a seed exactly (see `deckhand-sim`), and
/// takes only the store from here (`Seed::table`) when it runs on DynamoDB.
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
    stub: Option<ChatStub>,
}

impl TestWorld {
    /// A world on `config`, starting now (signatures are checked against the real clock).
    pub fn builder(config: Config) -> WorldBuilder {
        WorldBuilder {
            config,
            now: Timestamp::now(),
            running: Vec::new(),
            images: Vec::new(),
            stub: None,
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

    /// Chat goes to `stub`, started by the caller (to watch what arrives, or because the config
    /// names its address); by default the world starts a stand-in of its own.
    pub fn chat(mut self, stub: ChatStub) -> Self {
        self.stub = Some(stub);
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

    /// The world on `emulator`: every cluster, service (running `tag`), image repository and
    /// alarm the config names seeded there, and the table `table`. Deckhand's own calls go
    /// through `settings` (an [`crate::Outage`] proxy, where a test cuts AWS); the world's — the
    /// seed's — go straight to the emulator. The builder's `running` and `image` describe the
    /// in-memory world and are not used here.
    pub async fn on_emulator(
        mut self,
        emulator: &'static Emulator,
        settings: &deckhand_aws::Settings,
        table: &str,
        tag: &str,
    ) -> anyhow::Result<EmulatorWorld> {
        let (stub, chat) = self.chat_parts().await?;
        let seed = Seed::new(emulator).await;
        seed.config(&self.config, tag).await?;
        DynamoStore::create_table(&seed.aws.dynamodb, table).await?;
        Ok(EmulatorWorld {
            aws: Aws::load(settings).await,
            seed,
            stub,
            chat,
            table: table.to_owned(),
            config: self.config,
        })
    }

    async fn chat_parts(&mut self) -> anyhow::Result<(ChatStub, HttpChat)> {
        let stub = match self.stub.take() {
            Some(stub) => stub,
            None => ChatStub::start().await?,
        };
        let chat = HttpChat::new(
            stub.apis(),
            Some(SecretString::from("xoxb-test".to_owned())),
            Some(SecretString::from("discord-test".to_owned())),
        )?;
        Ok((stub, chat))
    }

    async fn parts(mut self) -> anyhow::Result<(Memory, ChatStub, HttpChat, Config)> {
        let (stub, chat) = self.chat_parts().await?;
        let mem = Memory::new(self.now);
        for (service, td, image) in &self.running {
            mem.set_running(service, td, image);
        }
        for (repository, tag, digest) in &self.images {
            mem.push_image(repository, tag, digest);
        }
        mem.serve_checks(&self.config);
        Ok((mem, stub, chat, self.config))
    }
}

impl<S: Store> TestWorld<S> {
    pub fn app(&self) -> App<'_, TestPorts<S>> {
        App::new(&self.ports, &self.config)
    }
}

/// A [`TestWorld`] on the emulator ([`WorldBuilder::on_emulator`]): the seeded outside world,
/// the chat stand-in, and what Deckhand's production ports are built from.
#[derive(Debug)]
pub struct EmulatorWorld {
    /// The world's own hands on the emulator: what runs, alarms, migrations to finish.
    pub seed: Seed,
    pub stub: ChatStub,
    pub chat: HttpChat,
    /// Deckhand's clients (through the settings given, which may be a cuttable proxy).
    pub aws: Aws,
    pub table: String,
    pub config: Config,
}

impl EmulatorWorld {
    /// The production ports on this world, handing work to `dispatch`.
    pub fn ports<D: Dispatch>(&self, dispatch: D) -> anyhow::Result<Live<D>> {
        Ok(live(&self.aws, &self.table, self.chat.clone(), dispatch)?)
    }
}
