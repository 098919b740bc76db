//! Logs and metrics.

use std::net::SocketAddr;

use super::source::{ConfigError, Source};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where `/metrics` is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricsExposure {
    /// On the API listener at `/metrics`.
    Public,
    /// On its own listener (e.g. `127.0.0.1:9100`), not on the API port.
    Separate(SocketAddr),
    /// Not served at all.
    Off,
}

#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// `LOG_FORMAT`: `text` (default) or `json`, one object per line. The
    /// filter is `RUST_LOG` (default `info`), read by env_logger.
    pub log_format: LogFormat,
    /// `METRICS_ADDR`: unset serves `/metrics` on the API port; `host:port`
    /// on a separate listener only; `off` not at all.
    pub metrics: MetricsExposure,
}

impl TelemetryConfig {
    pub(super) fn read(src: &Source) -> Result<Self, ConfigError> {
        let log_format = match src.var("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("expected text or json, got {other:?}"),
                ))
            }
        };
        let metrics = match src.var("METRICS_ADDR") {
            None => MetricsExposure::Public,
            Some(v) if v == "off" => MetricsExposure::Off,
            Some(v) => MetricsExposure::Separate(v.parse().map_err(|e| {
                ConfigError::new(
                    "METRICS_ADDR",
                    format!("expected host:port or off, got {v:?}: {e}"),
                )
            })?),
        };
        Ok(TelemetryConfig {
            log_format,
            metrics,
        })
    }
}
