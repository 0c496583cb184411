//! The one place the AWS SDK is configured.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// How to reach AWS. In Lambda everything comes from the environment (`AWS_REGION`, the
/// execution role, and `AWS_ENDPOINT_URL` if set); locally and in tests the emulator's
/// endpoint and fixed credentials are given explicitly.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub region: Option<String>,
    /// Overrides `AWS_ENDPOINT_URL`; the emulator sets this.
    pub endpoint_url: Option<String>,
    /// Static credentials (access key id, secret), for the emulator only.
    pub static_credentials: Option<(String, String)>,
    /// Retry attempts, including the first (default 4).
    pub max_attempts: Option<u32>,
}

/// Connect fast and fail fast: a Lambda has seconds, and the SDK retries with backoff.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);
/// One attempt, end to end.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole operation, all retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

impl Settings {
    /// Loads the SDK config: region and credentials chain from the environment unless given,
    /// `AWS_ENDPOINT_URL` honoured exactly as the SDK does in AWS, explicit timeouts, and the
    /// standard retry policy (exponential backoff with jitter; throttling and 5xx retried).
    pub async fn load(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_config(
                RetryConfig::standard().with_max_attempts(self.max_attempts.unwrap_or(4)),
            );
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some((id, secret)) = &self.static_credentials {
            loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                id,
                secret,
                None,
                None,
                "deckhand-static",
            ));
        }
        loader.load().await
    }
}

/// Every client Deckhand uses, built once from one config. Clients are cheap to clone and
/// share one connection pool each; build this once per process (per Lambda cold start).
#[derive(Debug, Clone)]
pub struct Aws {
    pub config: SdkConfig,
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub rds: aws_sdk_rds::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub scheduler: aws_sdk_scheduler::Client,
}

impl Aws {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            config: config.clone(),
            ecs: aws_sdk_ecs::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            rds: aws_sdk_rds::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            scheduler: aws_sdk_scheduler::Client::new(config),
        }
    }

    pub async fn load(settings: &Settings) -> Self {
        Self::new(&settings.load().await)
    }
}
