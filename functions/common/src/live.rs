//! The ports on real services: AWS adapters, the chat APIs, the system clock.

use deckhand_aws::Aws;
use deckhand_aws::dynamo::DynamoStore;
use deckhand_aws::ecs::EcsPlatform;
use deckhand_aws::metrics::EmfMetrics;
use deckhand_aws::monitor::CloudWatchMonitor;
use deckhand_aws::rds::RdsBackups;
use deckhand_core::ports::{Bundle, Clock, Dispatch, PortResult};
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
pub type Live<D, C = SystemClock> =
    Bundle<DynamoStore, EcsPlatform, CloudWatchMonitor, HttpChat, D, RdsBackups, EmfMetrics, C>;

/// The production ports on `aws`, the table `table` and these chats, handing work to `dispatch`.
pub fn live<D: Dispatch>(
    aws: &Aws,
    table: &str,
    chat: HttpChat,
    dispatch: D,
) -> PortResult<Live<D>> {
    Ok(Bundle {
        store: DynamoStore::new(aws.dynamodb.clone(), table),
        platform: EcsPlatform::new(aws.ecs.clone(), aws.ecr.clone()).with_logs(aws.logs.clone()),
        monitor: CloudWatchMonitor::new(aws.cloudwatch.clone())?,
        chat,
        dispatch,
        backups: RdsBackups::new(aws.rds.clone()).with_scheduling(
            deckhand_aws::scheduler::Scheduling::from_env(aws.scheduler.clone()),
        ),
        metrics: EmfMetrics::stdout(),
        clock: SystemClock,
    })
}
