//! Typed configuration read once from the environment (and `.env` in development).
//! A bad value fails start-up with a message naming the variable.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// The value shipped in `.env.example`; refused in production.
pub const EXAMPLE_JWT_SECRET: &str = "change-me-to-a-long-random-string-of-32-bytes-or-more";
const MIN_JWT_SECRET_LEN: usize = 32;
pub const DEFAULT_SQLITE_PATH: &str = "conduit.db";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

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

#[derive(Clone)]
pub struct Config {
    pub environment: Environment,
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub database_url: String,
    pub run_migrations: bool,
    pub pool_max_size: u32,
    pub pool_min_idle: u32,
    pub pool_timeout: Duration,
    pub statement_timeout: Duration,
    pub jwt_secret: Secret,
    pub jwt_ttl: Duration,
    pub body_limit_bytes: usize,
    pub cors_allowed_origins: Vec<String>,
    pub cache_max_age_secs: u32,
    /// How long signed-in GET responses are kept in memory (zero: not at all).
    pub cache_signed_in: Duration,
    pub rate_limit_enabled: bool,
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    pub trust_proxy: bool,
    pub log_format: LogFormat,
    pub metrics: MetricsExposure,
    pub health_db_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub shutdown_drain: Duration,
    pub keep_alive: Duration,
    pub client_request_timeout: Duration,
    pub compression_min_bytes: usize,
    pub max_concurrent_hashes: usize,
}

/// A string that never shows up in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error in {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

/// Where configuration values come from: the process environment in
/// production, a map in tests. Unset or blank means "use the default".
struct Source<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Source<'_> {
    fn var(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.var(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e| err(name, format!("cannot parse {raw:?}: {e}"))),
        }
    }

    fn parse_bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.var(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(err(
                    name,
                    format!("expected true/false or on/off, got {v:?}"),
                )),
            },
        }
    }

    fn millis(&self, name: &'static str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.parse(name, default_ms).map(Duration::from_millis)
    }

    fn seconds(&self, name: &'static str, default_s: u64) -> Result<Duration, ConfigError> {
        self.parse(name, default_s).map(Duration::from_secs)
    }
}

impl Config {
    /// Reads the whole configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from `lookup` (variable name -> value).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let src = Source(&lookup);
        let environment = match src.var("APP_ENV").as_deref().map(str::trim) {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(err(
                    "APP_ENV",
                    format!("expected development or production, got {other:?}"),
                ))
            }
        };
        let jwt_secret = jwt_secret(environment, src.var("JWT_SECRET"))?;
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = src.parse("WORKERS", cpus)?;
        if workers == 0 {
            return Err(err("WORKERS", "must be at least 1"));
        }
        // A few connections per core keep the database busy without queueing
        // inside it; more only adds contention (measured in bench/).
        let default_pool = u32::try_from(4 * cpus).unwrap_or(16).clamp(4, 32);
        let pool_max_size = src.parse("DATABASE_POOL_MAX_SIZE", default_pool)?;
        if pool_max_size == 0 {
            return Err(err("DATABASE_POOL_MAX_SIZE", "must be at least 1"));
        }
        let pool_min_idle = src.parse("DATABASE_POOL_MIN_IDLE", 2u32.min(pool_max_size))?;
        if pool_min_idle > pool_max_size {
            return Err(err(
                "DATABASE_POOL_MIN_IDLE",
                "must not exceed DATABASE_POOL_MAX_SIZE",
            ));
        }
        let metrics = match src.var("METRICS_ADDR") {
            None => MetricsExposure::Public,
            Some(v) if v.trim() == "off" => MetricsExposure::Off,
            Some(v) => MetricsExposure::Separate(v.trim().parse().map_err(|e| {
                err(
                    "METRICS_ADDR",
                    format!("expected host:port or off, got {v:?}: {e}"),
                )
            })?),
        };
        let log_format = match src.var("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(err(
                    "LOG_FORMAT",
                    format!("expected text or json, got {other:?}"),
                ))
            }
        };
        let rate_limit_enabled = src.parse_bool("RATE_LIMIT", true)?;
        let rate_limit_per_minute = src.parse("RATE_LIMIT_PER_MINUTE", 30u32)?;
        if rate_limit_per_minute == 0 {
            return Err(err(
                "RATE_LIMIT_PER_MINUTE",
                "must be at least 1 (use RATE_LIMIT=off to disable)",
            ));
        }
        let rate_limit_burst = src.parse("RATE_LIMIT_BURST", 10u32)?;
        if rate_limit_burst == 0 {
            return Err(err("RATE_LIMIT_BURST", "must be at least 1"));
        }
        let max_concurrent_hashes = src.parse("PASSWORD_HASH_CONCURRENCY", cpus)?;
        if max_concurrent_hashes == 0 {
            return Err(err("PASSWORD_HASH_CONCURRENCY", "must be at least 1"));
        }
        Ok(Config {
            environment,
            host: src.var("HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port: src.parse("PORT", 8080u16)?,
            workers,
            database_url: src
                .var("DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_SQLITE_PATH.into()),
            run_migrations: src.parse_bool("RUN_MIGRATIONS", true)?,
            pool_max_size,
            pool_min_idle,
            pool_timeout: src.millis("DATABASE_POOL_TIMEOUT_MS", 3000)?,
            statement_timeout: src.millis("DATABASE_STATEMENT_TIMEOUT_MS", 5000)?,
            jwt_secret,
            jwt_ttl: src.seconds("JWT_TTL_SECONDS", 7 * 24 * 3600)?,
            body_limit_bytes: src.parse("BODY_LIMIT_BYTES", 64 * 1024usize)?,
            cors_allowed_origins: src
                .var("CORS_ALLOWED_ORIGINS")
                .unwrap_or_else(|| "*".into())
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            cache_max_age_secs: src.parse("CACHE_MAX_AGE_SECONDS", 5u32)?,
            cache_signed_in: src.millis("CACHE_SIGNED_IN_MS", 1000)?,
            rate_limit_enabled,
            rate_limit_per_minute,
            rate_limit_burst,
            trust_proxy: src.parse_bool("TRUST_PROXY", false)?,
            log_format,
            metrics,
            health_db_timeout: src.millis("HEALTH_DB_TIMEOUT_MS", 1000)?,
            shutdown_timeout: src.seconds("SHUTDOWN_TIMEOUT_SECONDS", 30)?,
            shutdown_drain: src.seconds("SHUTDOWN_DRAIN_SECONDS", 0)?,
            keep_alive: src.seconds("KEEP_ALIVE_SECONDS", 75)?,
            client_request_timeout: src.millis("CLIENT_REQUEST_TIMEOUT_MS", 5000)?,
            compression_min_bytes: src.parse("COMPRESSION_MIN_BYTES", 1024usize)?,
            max_concurrent_hashes,
        })
    }

    pub fn bind_address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

fn jwt_secret(env: Environment, value: Option<String>) -> Result<Secret, ConfigError> {
    match (env, value) {
        (Environment::Production, None) => {
            Err(err("JWT_SECRET", "is required when APP_ENV=production"))
        }
        (Environment::Production, Some(v)) if v == EXAMPLE_JWT_SECRET => Err(err(
            "JWT_SECRET",
            "is the example value from .env.example; generate a random one",
        )),
        (_, Some(v)) if v.len() < MIN_JWT_SECRET_LEN => Err(err(
            "JWT_SECRET",
            format!("must be at least {MIN_JWT_SECRET_LEN} bytes long"),
        )),
        (_, Some(v)) => Ok(Secret::new(v)),
        (Environment::Development, None) => {
            // Development without a secret: a random one per process, so tokens
            // do not survive a restart but nothing guessable is ever accepted.
            log::warn!(
                "JWT_SECRET is not set: using a random secret for this process (development only)"
            );
            Ok(Secret::new(random_secret()))
        }
    }
}

fn random_secret() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("bind", &self.bind_address())
            .field("workers", &self.workers)
            .field("database", &crate::db::redact_url(&self.database_url))
            .field("pool_max_size", &self.pool_max_size)
            .field("jwt_secret", &self.jwt_secret)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_missing_short_or_example_secret() {
        assert!(jwt_secret(Environment::Production, None).is_err());
        assert!(jwt_secret(Environment::Production, Some("short".into())).is_err());
        assert!(jwt_secret(Environment::Production, Some(EXAMPLE_JWT_SECRET.into())).is_err());
        let ok = jwt_secret(Environment::Production, Some("x".repeat(40))).unwrap();
        assert_eq!(ok.expose().len(), 40);
    }

    #[test]
    fn development_generates_a_random_secret() {
        let a = jwt_secret(Environment::Development, None).unwrap();
        let b = jwt_secret(Environment::Development, None).unwrap();
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
