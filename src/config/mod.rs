//! Typed configuration read once from the environment (and `.env` in
//! development), grouped by concern: each group lives in its own module with
//! its variables documented beside the fields. A bad value fails start-up with
//! a message naming the variable.
//!
//! Commands read only the groups they need: `conduit migrate` reads the
//! database group alone (no `JWT_SECRET` needed), `conduit healthcheck` the
//! listen address.

mod auth;
mod cache;
mod database;
mod http;
mod rate_limit;
mod source;
mod telemetry;

use std::fmt;

pub use auth::{AuthConfig, Secret, EXAMPLE_JWT_SECRET};
pub use cache::{CacheConfig, RedisConfig};
pub use database::{DatabaseConfig, DEFAULT_SQLITE_PATH};
pub use http::{HttpConfig, ShutdownConfig};
pub use rate_limit::RateLimitConfig;
pub use source::ConfigError;
pub use telemetry::{LogFormat, MetricsExposure, TelemetryConfig};

use source::Source;

/// `APP_ENV`: `development` (default) or `production`, which refuses to start
/// the server without a strong `JWT_SECRET`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    fn read(src: &Source) -> Result<Self, ConfigError> {
        match src.var("APP_ENV").as_deref().map(str::trim) {
            None | Some("development") | Some("dev") => Ok(Environment::Development),
            Some("production") | Some("prod") => Ok(Environment::Production),
            Some(other) => Err(ConfigError::new(
                "APP_ENV",
                format!("expected development or production, got {other:?}"),
            )),
        }
    }
}

/// Everything `conduit serve` needs.
#[derive(Clone)]
pub struct Config {
    pub environment: Environment,
    pub http: HttpConfig,
    pub shutdown: ShutdownConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub cache: CacheConfig,
    /// `None` without `REDIS_URL`: one instance, all state in process.
    pub redis: Option<RedisConfig>,
    pub rate_limit: RateLimitConfig,
    pub telemetry: TelemetryConfig,
}

impl Config {
    /// Reads the whole configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from `lookup` (variable name -> value); tests
    /// pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let src = Source::new(&lookup);
        let environment = Environment::read(&src)?;
        let http = HttpConfig::read(&src)?;
        Ok(Config {
            environment,
            shutdown: ShutdownConfig::read(&src)?,
            database: DatabaseConfig::read(&src)?,
            auth: AuthConfig::read(&src, environment)?,
            cache: CacheConfig::read(&src)?,
            redis: RedisConfig::read(&src)?,
            rate_limit: RateLimitConfig::read(&src)?,
            telemetry: TelemetryConfig::read(&src)?,
            http,
        })
    }
}

impl DatabaseConfig {
    /// The database group alone, for `conduit migrate`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(&Source::new(&|name: &str| std::env::var(name).ok()))
    }
}

impl HttpConfig {
    /// The HTTP group alone, for `conduit healthcheck`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(&Source::new(&|name: &str| std::env::var(name).ok()))
    }
}

impl TelemetryConfig {
    /// The telemetry group alone: logging is set up before anything else.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(&Source::new(&|name: &str| std::env::var(name).ok()))
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("http", &self.http)
            .field("database", &self.database)
            .field("auth", &self.auth)
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_no_variables() {
        let c = config(&[]).unwrap();
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.http.port, 8080);
        assert_eq!(c.database.url, DEFAULT_SQLITE_PATH);
        assert!(c.redis.is_none());
        assert_eq!(c.telemetry.log_format, LogFormat::Text);
    }

    #[test]
    fn the_example_env_file_is_a_valid_configuration() {
        let text = include_str!("../../.env.example");
        let vars: Vec<(&str, &str)> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .collect();
        assert!(vars.len() > 20, "{vars:?}");
        let c = config(&vars).unwrap();
        assert_eq!(c.cache.anonymous_ttl, std::time::Duration::from_secs(30));
    }

    #[test]
    fn errors_name_the_variable() {
        let e = config(&[("PORT", "eighty")]).err().unwrap();
        assert_eq!(e.var, "PORT");
        let e = config(&[("APP_ENV", "staging")]).err().unwrap();
        assert_eq!(e.var, "APP_ENV");
        let e = config(&[("REDIS_URL", "http://x")]).err().unwrap();
        assert_eq!(e.var, "REDIS_URL");
    }

    #[test]
    fn the_database_group_needs_no_secret_in_production() {
        let src = Source::new(&|name: &str| (name == "APP_ENV").then(|| "production".to_owned()));
        assert!(DatabaseConfig::read(&src).is_ok());
        assert!(config(&[("APP_ENV", "production")]).is_err());
    }

    #[test]
    fn secrets_and_passwords_stay_out_of_debug_output() {
        let c = config(&[
            ("JWT_SECRET", "a-very-secret-value-of-enough-length!"),
            ("DATABASE_URL", "postgres://app:hunter2@db/conduit"),
            ("REDIS_URL", "redis://:redispass@cache:6379"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        for secret in ["a-very-secret", "hunter2", "redispass"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
