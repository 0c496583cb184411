//! `Monitor`: CloudWatch alarm states, and HTTP health checks.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;
use deckhand_core::ports::{Health, Monitor, PortError, PortResult};

use crate::error::port_error;

#[derive(Debug, Clone)]
pub struct CloudWatchMonitor {
    cloudwatch: aws_sdk_cloudwatch::Client,
    http: reqwest::Client,
}

impl CloudWatchMonitor {
    pub fn new(cloudwatch: aws_sdk_cloudwatch::Client) -> PortResult<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .user_agent("deckhand-health-check")
            .build()
            .map_err(|e| PortError::Failed(format!("building the health-check client: {e}")))?;
        Ok(Self { cloudwatch, http })
    }
}

impl Monitor for CloudWatchMonitor {
    async fn firing(&self, alarms: &[String]) -> PortResult<Vec<String>> {
        let mut firing = Vec::new();
        // DescribeAlarms takes at most 100 names per call.
        for chunk in alarms.chunks(100) {
            let out = self
                .cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .state_value(StateValue::Alarm)
                .send()
                .await
                .map_err(|e| port_error("DescribeAlarms", &e))?;
            // The state is checked again here: the filter above saves bytes, but an alarm is
            // only reported firing on its own say-so (moto, for one, ignores the filter when
            // names are given).
            let alarm = Some(&StateValue::Alarm);
            let metric = out
                .metric_alarms()
                .iter()
                .filter(|a| a.state_value() == alarm)
                .filter_map(|a| a.alarm_name());
            let composite = out
                .composite_alarms()
                .iter()
                .filter(|a| a.state_value() == alarm)
                .filter_map(|a| a.alarm_name());
            firing.extend(metric.chain(composite).map(str::to_owned));
        }
        Ok(firing)
    }

    async fn alarm_tags(
        &self,
        alarm: &str,
        arn: Option<&str>,
    ) -> PortResult<BTreeMap<String, String>> {
        let arn = match arn {
            Some(arn) => arn.to_owned(),
            // The SNS and EventBridge shapes both carry the ARN; this is for anything else.
            None => {
                let out = self
                    .cloudwatch
                    .describe_alarms()
                    .alarm_names(alarm)
                    .send()
                    .await
                    .map_err(|e| port_error(&format!("DescribeAlarms {alarm}"), &e))?;
                let metric = out.metric_alarms().iter().filter_map(|a| {
                    (a.alarm_name() == Some(alarm))
                        .then(|| a.alarm_arn())
                        .flatten()
                });
                let composite = out.composite_alarms().iter().filter_map(|a| {
                    (a.alarm_name() == Some(alarm))
                        .then(|| a.alarm_arn())
                        .flatten()
                });
                metric
                    .chain(composite)
                    .next()
                    .ok_or_else(|| PortError::NotFound(format!("alarm {alarm}")))?
                    .to_owned()
            }
        };
        let out = self
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| port_error(&format!("ListTagsForResource {arn}"), &e))?;
        Ok(out
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect())
    }

    async fn check_health(&self, url: &str) -> PortResult<Health> {
        // An unreachable service is unhealthy, not an infrastructure error: the deployment is
        // what failed, and it is rolled back.
        Ok(match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => Health {
                healthy: true,
                detail: format!("HTTP {}", r.status().as_u16()),
            },
            Ok(r) => Health {
                healthy: false,
                detail: format!("HTTP {} from {url}", r.status().as_u16()),
            },
            Err(e) if e.is_timeout() => Health {
                healthy: false,
                detail: format!("{url} did not answer within 5s"),
            },
            Err(e) => Health {
                healthy: false,
                detail: format!("{url} could not be reached: {e}"),
            },
        })
    }
}
