//! The ports on real services: AWS adapters, the chat APIs, the system clock.

use deckhand_aws::Aws;
use deckhand_aws::dynamo::DynamoStore;
use deckhand_aws::ecs::EcsPlatform;
use deckhand_aws::metrics::EmfMetrics;
use deckhand_aws::monitor::CloudWatchMonitor;
use deckhand_aws::rds::RdsBackups;
use deckhand_core::ports::{Clock, Dispatch, PortResult, Ports};
use deckhand_core::types::Timestamp;

use crate::chat::HttpChat;

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Every port on its production adapter. `D` is Lambda async invoke in AWS, or an in-process
/// queue in local mode; `C` is the system clock except in the demo, which fast-forwards time.
#[derive(Debug)]
pub struct Live<D: Dispatch, C: Clock = SystemClock> {
    pub store: DynamoStore,
    pub platform: EcsPlatform,
    pub monitor: CloudWatchMonitor,
    pub chat: HttpChat,
    pub dispatch: D,
    pub backups: RdsBackups,
    pub metrics: EmfMetrics,
    pub clock: C,
}

impl<D: Dispatch> Live<D> {
    pub fn new(aws: &Aws, table: &str, chat: HttpChat, dispatch: D) -> PortResult<Self> {
        Ok(Self {
            store: DynamoStore::new(aws.dynamodb.clone(), table),
            platform: EcsPlatform::new(aws.ecs.clone(), aws.ecr.clone()),
            monitor: CloudWatchMonitor::new(aws.cloudwatch.clone())?,
            chat,
            dispatch,
            backups: RdsBackups::new(aws.rds.clone()),
            metrics: EmfMetrics::stdout(),
            clock: SystemClock,
        })
    }
}

impl<D: Dispatch, C: Clock> Live<D, C> {
    /// The same ports on another clock.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> Live<D, C2> {
        Live {
            store: self.store,
            platform: self.platform,
            monitor: self.monitor,
            chat: self.chat,
            dispatch: self.dispatch,
            backups: self.backups,
            metrics: self.metrics,
            clock,
        }
    }
}

impl<D: Dispatch, C: Clock> Ports for Live<D, C> {
    type Store = DynamoStore;
    type Platform = EcsPlatform;
    type Monitor = CloudWatchMonitor;
    type Chat = HttpChat;
    type Dispatch = D;
    type Backups = RdsBackups;
    type Metrics = EmfMetrics;
    type Clock = C;
    fn store(&self) -> &DynamoStore {
        &self.store
    }
    fn platform(&self) -> &EcsPlatform {
        &self.platform
    }
    fn monitor(&self) -> &CloudWatchMonitor {
        &self.monitor
    }
    fn chat(&self) -> &HttpChat {
        &self.chat
    }
    fn dispatch(&self) -> &D {
        &self.dispatch
    }
    fn backups(&self) -> &RdsBackups {
        &self.backups
    }
    fn metrics(&self) -> &EmfMetrics {
        &self.metrics
    }
    fn clock(&self) -> &C {
        &self.clock
    }
}
