//! The HTTP listener and what it accepts.

use std::time::Duration;

use super::source::{cpus, ConfigError, Source};

#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// `HOST` (default `127.0.0.1`; a container sets `0.0.0.0`).
    pub host: String,
    /// `PORT` (default 8080; 0 picks a free port, which the tests use).
    pub port: u16,
    /// `WORKERS`: HTTP worker threads (default: CPU cores).
    pub workers: usize,
    /// `KEEP_ALIVE_SECONDS`: idle keep-alive (default 75, above the 60 s idle
    /// timeout of common balancers, so they close first).
    pub keep_alive: Duration,
    /// `CLIENT_REQUEST_TIMEOUT_MS`: time a client has to send the request
    /// head (default 5000); slow senders are dropped.
    pub client_request_timeout: Duration,
    /// `BODY_LIMIT_BYTES`: larger JSON bodies get a JSON 413 (default 64 KiB).
    pub body_limit_bytes: usize,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins or `*` (default).
    pub cors_allowed_origins: Vec<String>,
    /// `COMPRESSION_MIN_BYTES`: smaller JSON bodies go uncompressed (default 1024).
    pub compression_min_bytes: usize,
    /// `TRUST_PROXY`: take the client address from `Forwarded` /
    /// `X-Forwarded-For` (only behind a proxy that overwrites them).
    pub trust_proxy: bool,
}

impl HttpConfig {
    pub(super) fn read(src: &Source) -> Result<Self, ConfigError> {
        Ok(HttpConfig {
            host: src.var("HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port: src.parse("PORT", 8080u16)?,
            workers: src.at_least("WORKERS", cpus(), 1)?,
            keep_alive: src.seconds("KEEP_ALIVE_SECONDS", 75)?,
            client_request_timeout: src.millis("CLIENT_REQUEST_TIMEOUT_MS", 5000)?,
            body_limit_bytes: src.at_least("BODY_LIMIT_BYTES", 64 * 1024usize, 1)?,
            cors_allowed_origins: src
                .var("CORS_ALLOWED_ORIGINS")
                .unwrap_or_else(|| "*".into())
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            compression_min_bytes: src.parse("COMPRESSION_MIN_BYTES", 1024usize)?,
            trust_proxy: src.parse_bool("TRUST_PROXY", false)?,
        })
    }

    pub fn bind_address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Where a local client reaches this server: the wildcard addresses
    /// are not connectable, loopback is.
    pub fn local_address(&self) -> String {
        let host = match self.host.as_str() {
            "0.0.0.0" | "" => "127.0.0.1",
            "::" | "[::]" => "[::1]",
            h => h,
        };
        format!("{host}:{}", self.port)
    }
}

/// What happens after SIGTERM.
#[derive(Clone, Debug)]
pub struct ShutdownConfig {
    /// `SHUTDOWN_DRAIN_SECONDS`: keep serving with `/health` = 503 this long
    /// so balancers stop routing here (default 0).
    pub drain: Duration,
    /// `SHUTDOWN_TIMEOUT_SECONDS`: then stop accepting and give in-flight
    /// requests this long (default 30).
    pub timeout: Duration,
}

impl ShutdownConfig {
    pub(super) fn read(src: &Source) -> Result<Self, ConfigError> {
        Ok(ShutdownConfig {
            drain: src.seconds("SHUTDOWN_DRAIN_SECONDS", 0)?,
            timeout: src.seconds("SHUTDOWN_TIMEOUT_SECONDS", 30)?,
        })
    }
}
