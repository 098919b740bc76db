//! Logs and metrics: the log format (text or JSON lines), the request
//! context (request id, access log line) and the Prometheus registry.

pub mod logging;
pub mod metrics;
pub mod request;
