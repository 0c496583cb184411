//! AWS adapters for Deckhand's ports.
//!
//! One [`sdk::Settings`] builds the `SdkConfig` (region, credentials, `AWS_ENDPOINT_URL`,
//! timeouts, retries) and [`Aws`] every client from it, once per process. Each adapter maps the
//! SDK's errors to [`PortError`](deckhand_core::ports::PortError) exactly once, in [`error`],
//! keeping the AWS error code and request id in the message; no `SdkError` crosses a port.
//!
//! | port | adapter |
//! |---|---|
//! | `Store` | [`dynamo::DynamoStore`] — one table, conditional writes, TTL on locks and claims |
//! | `Platform` | [`ecs::EcsPlatform`] — ECS for services and tasks, ECR for image tags |
//! | `Backups` | [`rds::InstanceSnapshots`] and [`rds::ClusterSnapshots`] (one adapter each), behind [`rds::RdsBackups`] by plan kind; tagged as Deckhand's |
//! | `Secrets` | [`secrets::CachedSecrets`] — Secrets Manager with an in-process TTL cache |
//! | `Metrics` | [`metrics::EmfMetrics`] (log lines) and [`metrics::CloudWatchMetrics`] |
//! | `Monitor` | [`monitor::CloudWatchMonitor`] — alarm states and HTTP health checks |
//! | `Dispatch` | [`dispatch::LambdaDispatch`] — async invoke; the bot has an in-process one |
//!
//! Deliberately absent: business rules. If an adapter needs an `if` about deployments, it
//! belongs in core.

pub mod dispatch;
pub mod dynamo;
pub mod ecs;
pub mod error;
pub mod events;
pub mod metrics;
pub mod monitor;
pub mod rds;
pub mod scheduler;
pub mod sdk;
pub mod secrets;

pub use sdk::{Aws, Settings};
