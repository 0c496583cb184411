//! `Metrics` as CloudWatch Embedded Metric Format log lines (no API call on the hot path:
//! Lambda ships stdout to CloudWatch Logs, which extracts the metrics), or PutMetricData
//! where a caller wants the API.

use std::io::Write;
use std::sync::Mutex;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use deckhand_core::ports::{Metric, MetricUnit, Metrics, PortError, PortResult};
use serde_json::{Map, Value, json};

use crate::error::port_error;

pub const NAMESPACE: &str = "Deckhand";

fn unit_name(u: MetricUnit) -> &'static str {
    match u {
        MetricUnit::Count => "Count",
        MetricUnit::Seconds => "Seconds",
        MetricUnit::Gigabytes => "Gigabytes",
    }
}

/// Writes one EMF JSON line per metric to a writer (stdout in Lambda). Clones write to the
/// same writer.
#[derive(Clone)]
pub struct EmfMetrics {
    namespace: String,
    out: std::sync::Arc<Mutex<Box<dyn Write + Send>>>,
}

impl std::fmt::Debug for EmfMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmfMetrics")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl EmfMetrics {
    pub fn stdout() -> Self {
        Self::to_writer(NAMESPACE, Box::new(std::io::stdout()))
    }

    pub fn to_writer(namespace: &str, out: Box<dyn Write + Send>) -> Self {
        Self {
            namespace: namespace.to_owned(),
            out: std::sync::Arc::new(Mutex::new(out)),
        }
    }

    /// The EMF document for one metric at `timestamp_ms`.
    pub fn line(namespace: &str, m: &Metric, timestamp_ms: i64) -> Value {
        let dims: Vec<&str> = m.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        let mut doc = Map::new();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [dims],
                    "Metrics": [{ "Name": m.name, "Unit": unit_name(m.unit) }],
                }],
            }),
        );
        for (k, v) in &m.dimensions {
            doc.insert(k.clone(), Value::String(v.clone()));
        }
        doc.insert(m.name.clone(), json!(m.value));
        Value::Object(doc)
    }
}

impl Metrics for EmfMetrics {
    async fn emit(&self, metrics: &[Metric]) -> PortResult<()> {
        let now = jiff::Timestamp::now().as_millisecond();
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for m in metrics {
            let line = Self::line(&self.namespace, m, now);
            writeln!(out, "{line}")
                .map_err(|e| PortError::Failed(format!("writing a metric line: {e}")))?;
        }
        out.flush()
            .map_err(|e| PortError::Failed(format!("writing metric lines: {e}")))
    }
}

/// `PutMetricData`, for callers outside Lambda's log pipeline.
#[derive(Debug, Clone)]
pub struct CloudWatchMetrics {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
}

impl CloudWatchMetrics {
    pub fn new(client: aws_sdk_cloudwatch::Client, namespace: &str) -> Self {
        Self {
            client,
            namespace: namespace.to_owned(),
        }
    }
}

impl Metrics for CloudWatchMetrics {
    async fn emit(&self, metrics: &[Metric]) -> PortResult<()> {
        let data: Vec<MetricDatum> = metrics
            .iter()
            .map(|m| {
                let unit = match m.unit {
                    MetricUnit::Count => StandardUnit::Count,
                    MetricUnit::Seconds => StandardUnit::Seconds,
                    MetricUnit::Gigabytes => StandardUnit::Gigabytes,
                };
                MetricDatum::builder()
                    .metric_name(&m.name)
                    .value(m.value)
                    .unit(unit)
                    .set_dimensions(Some(
                        m.dimensions
                            .iter()
                            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                            .collect(),
                    ))
                    .build()
            })
            .collect();
        // PutMetricData takes at most 1000 data points per call.
        for chunk in data.chunks(1000) {
            self.client
                .put_metric_data()
                .namespace(&self.namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| port_error("PutMetricData", &e))?;
        }
        Ok(())
    }
}
