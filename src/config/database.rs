//! The database and its connection pool.

use std::fmt;
use std::time::Duration;

use super::source::{cpus, ConfigError, Source};
use crate::db::redact_url;

pub const DEFAULT_SQLITE_PATH: &str = "conduit.db";

#[derive(Clone)]
pub struct DatabaseConfig {
    /// `DATABASE_URL`: `postgres://` / `postgresql://` is PostgreSQL;
    /// `sqlite://path`, `sqlite:path` or a bare path is SQLite (default
    /// `conduit.db`). The scheme alone decides.
    pub url: String,
    /// `RUN_MIGRATIONS`: apply pending migrations at start-up (default true).
    pub run_migrations: bool,
    /// `DATABASE_POOL_MAX_SIZE` (default 4 x cores, 4-32). A few connections
    /// per core keep the database busy without queueing inside it.
    pub pool_max_size: u32,
    /// `DATABASE_POOL_MIN_IDLE`: connections kept open (default 2).
    pub pool_min_idle: u32,
    /// `DATABASE_POOL_TIMEOUT_MS`: longest wait for a connection before a
    /// request gets a JSON 503 (default 3000).
    pub pool_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_MS`: PostgreSQL `statement_timeout` and
    /// `lock_timeout`, SQLite busy timeout (default 5000).
    pub statement_timeout: Duration,
    /// `HEALTH_DB_TIMEOUT_MS`: bound on the round trip of `/health` (default 1000).
    pub health_timeout: Duration,
}

impl DatabaseConfig {
    pub(super) fn read(src: &Source) -> Result<Self, ConfigError> {
        let default_pool = u32::try_from(4 * cpus()).unwrap_or(16).clamp(4, 32);
        let pool_max_size = src.at_least("DATABASE_POOL_MAX_SIZE", default_pool, 1)?;
        let pool_min_idle = src.parse("DATABASE_POOL_MIN_IDLE", 2u32.min(pool_max_size))?;
        if pool_min_idle > pool_max_size {
            return Err(ConfigError::new(
                "DATABASE_POOL_MIN_IDLE",
                "must not exceed DATABASE_POOL_MAX_SIZE",
            ));
        }
        Ok(DatabaseConfig {
            url: src
                .var("DATABASE_URL")
                .unwrap_or_else(|| DEFAULT_SQLITE_PATH.into()),
            run_migrations: src.parse_bool("RUN_MIGRATIONS", true)?,
            pool_max_size,
            pool_min_idle,
            pool_timeout: src.millis("DATABASE_POOL_TIMEOUT_MS", 3000)?,
            statement_timeout: src.millis("DATABASE_STATEMENT_TIMEOUT_MS", 5000)?,
            health_timeout: src.millis("HEALTH_DB_TIMEOUT_MS", 1000)?,
        })
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("pool_max_size", &self.pool_max_size)
            .finish_non_exhaustive()
    }
}
