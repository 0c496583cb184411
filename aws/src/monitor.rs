//! `Monitor`: CloudWatch alarm states, and the GETs of HTTP checks.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;
use deckhand_core::check::Probe;
use deckhand_core::ports::{Monitor, PortError, PortResult};
use deckhand_core::types::SignedDuration;

use crate::error::port_error;

#[derive(Debug, Clone)]
pub struct CloudWatchMonitor {
    cloudwatch: aws_sdk_cloudwatch::Client,
    http: reqwest::Client,
}

impl CloudWatchMonitor {
    pub fn new(cloudwatch: aws_sdk_cloudwatch::Client) -> PortResult<Self> {
        // Each check's own `timeout` bounds its request; connecting gets no longer than this.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
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

    async fn probe(&self, url: &str, timeout: SignedDuration) -> PortResult<Probe> {
        let timeout = Duration::try_from(timeout).unwrap_or(Duration::from_secs(5));
        // One deadline for the whole try, body included: a service that sends its headers and
        // then stalls has not answered.
        let fetch = async {
            let mut r = self.http.get(url).send().await?;
            let status = r.status().as_u16();
            let mut body = Vec::new();
            while body.len() < Probe::BODY_MAX
                && let Some(chunk) = r.chunk().await?
            {
                body.extend_from_slice(&chunk);
            }
            body.truncate(Probe::BODY_MAX);
            Ok::<_, reqwest::Error>(Probe::Answered {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        Ok(match tokio::time::timeout(timeout, fetch).await {
            Err(_) => Probe::TimedOut,
            Ok(Ok(probe)) => probe,
            Ok(Err(e)) if e.is_timeout() => Probe::TimedOut,
            // Refused, no such host, TLS: the source chain says which.
            Ok(Err(e)) => Probe::Unreachable(error_chain(&e)),
        })
    }
}

/// An error and its causes, `: `-separated (reqwest's own message alone says only "error
/// sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}
