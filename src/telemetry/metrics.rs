//! The Prometheus registry: HTTP metrics from actix-web-prom (labelled by route
//! pattern, unmatched paths masked), process metrics, and the database metrics.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::Registry;

use crate::db::DbMetrics;

/// From 100 µs to 10 s: resolves sub-millisecond handlers and slow outliers.
pub const HTTP_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("registering a metric")]
    Register(#[from] prometheus::Error),
    #[error("building the HTTP metrics")]
    Http(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub struct Metrics {
    pub registry: Registry,
    pub http: PrometheusMetrics,
    pub db: Arc<DbMetrics>,
}

impl Metrics {
    /// `serve_endpoint`: whether the HTTP middleware answers `/metrics` itself
    /// (false when metrics go to a separate listener or are off).
    pub fn new(serve_endpoint: bool) -> Result<Self, MetricsError> {
        let registry = Registry::new_custom(None, None)?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let db = DbMetrics::new(&registry)?;
        let mut builder = PrometheusMetricsBuilder::new("conduit")
            .registry(registry.clone())
            .buckets(HTTP_BUCKETS)
            .const_labels(HashMap::new())
            .exclude("/metrics")
            .exclude("/health")
            .exclude("/health/live")
            .mask_unmatched_patterns("UNMATCHED");
        if serve_endpoint {
            builder = builder.endpoint("/metrics");
        }
        let http = builder.build().map_err(MetricsError::Http)?;
        Ok(Metrics { registry, http, db })
    }

    /// The registry in Prometheus text format (for a separate listener).
    pub fn render(registry: &Registry) -> String {
        use prometheus::Encoder;
        let mut buf = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        if let Err(e) = encoder.encode(&registry.gather(), &mut buf) {
            log::error!("encoding metrics: {e}");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}
