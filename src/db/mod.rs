//! Database access: the two-backend connection type, the pool, migrations and
//! the `run` / `write_tx` helpers every handler goes through.

pub mod dialect;
pub mod functions;
mod metrics;
pub mod schema;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::ConnectionError;

use crate::error::{AppError, AppResult};
pub(crate) use dialect::on_backend;
pub use metrics::DbMetrics;

/// The backend type of `DbConnection`, for boxed queries.
pub type Db = <DbConnection as Connection>::Backend;

/// One connection type for both databases; the variant is chosen by the URL.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A database location parsed from `DATABASE_URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// What the driver is given: the URL for PostgreSQL, the file path for SQLite.
    pub target: String,
}

impl DatabaseUrl {
    /// Picks the backend from the scheme alone: `postgres://` / `postgresql://`
    /// is PostgreSQL; `sqlite://path`, `sqlite:path` or a bare path is SQLite.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl {
                backend: Backend::Postgres,
                target: url.to_owned(),
            });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.contains("://") {
            return Err(format!(
                "unsupported database URL scheme in {}; use postgres://, sqlite:// or a file path",
                redact_url(url)
            ));
        }
        if path.is_empty() || path == ":memory:" {
            return Err(
                "SQLite needs a file path (an in-memory database is one per connection)".into(),
            );
        }
        Ok(DatabaseUrl {
            backend: Backend::Sqlite,
            target: path.to_owned(),
        })
    }
}

/// Hides a password in `scheme://user:password@host`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.split_once('@') {
            let user = creds.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_owned()
}

/// A pooled connection plus a flag set when the connection was seen to fail,
/// so the pool drops it instead of handing it out again.
pub struct ManagedConnection {
    conn: DbConnection,
    broken: bool,
}

pub struct ConnectionManager {
    url: DatabaseUrl,
    statement_timeout: Duration,
    metrics: Arc<DbMetrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error(transparent)]
    Connect(#[from] ConnectionError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = ManagedConnection;
    type Error = ManagerError;

    fn connect(&self) -> Result<ManagedConnection, ManagerError> {
        let mut conn = match self.url.backend {
            Backend::Postgres => DbConnection::Pg(PgConnection::establish(&self.url.target)?),
            Backend::Sqlite => DbConnection::Sqlite(SqliteConnection::establish(&self.url.target)?),
        };
        dialect::prepare_session(&mut conn, self.statement_timeout)?;
        conn.set_instrumentation(self.metrics.statement_counter());
        Ok(ManagedConnection {
            conn,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut ManagedConnection) -> Result<(), ManagerError> {
        Ok(conn.conn.ping()?)
    }

    fn has_broken(&self, conn: &mut ManagedConnection) -> bool {
        conn.broken || std::thread::panicking() || conn.conn.is_broken()
    }
}

#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_size: u32,
    pub min_idle: u32,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
}

/// The application's connection pool. Cheap to clone; built once at start-up.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<ConnectionManager>,
    backend: Backend,
    metrics: Arc<DbMetrics>,
}

impl Pool {
    /// Builds the pool without connecting: a server whose database is down
    /// still starts and reports the outage on `/health` instead of crash-looping.
    pub fn new(
        url: &str,
        settings: &PoolSettings,
        metrics: Arc<DbMetrics>,
    ) -> Result<Self, String> {
        let url = DatabaseUrl::parse(url)?;
        let backend = url.backend;
        let manager = ConnectionManager {
            url,
            statement_timeout: settings.statement_timeout,
            metrics: metrics.clone(),
        };
        let inner = r2d2::Pool::builder()
            .max_size(settings.max_size)
            .min_idle(Some(settings.min_idle))
            .connection_timeout(settings.acquire_timeout)
            // A ping per checkout would double the round trips of a simple
            // request; failed connections are flagged and dropped instead.
            .test_on_check_out(false)
            .error_handler(Box::new(LogPoolErrors))
            .build_unchecked(manager);
        metrics.watch_pool(inner.clone());
        Ok(Pool {
            inner,
            backend,
            metrics,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn metrics(&self) -> &Arc<DbMetrics> {
        &self.metrics
    }

    /// Checks out a connection on the current (blocking) thread, recording the wait.
    fn checkout(&self) -> AppResult<r2d2::PooledConnection<ConnectionManager>> {
        let started = Instant::now();
        let _waiting = self.metrics.waiting_guard();
        let result = self.inner.get();
        self.metrics.observe_checkout(started.elapsed());
        result.map_err(|e| {
            self.metrics.count_timeout();
            AppError::Unavailable(format!("database pool: {e}"))
        })
    }

    /// Applies pending migrations, guarded against concurrent runners.
    pub fn run_migrations(&self) -> Result<Vec<String>, String> {
        let mut conn = self.checkout().map_err(|e| e.to_string())?;
        dialect::run_migrations(&mut conn.conn)
    }

    /// Runs `f` on a pooled connection inside the blocking thread pool. One
    /// handler calls this once: one connection, one short unit of work.
    pub async fn run<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.clone();
        actix_web::web::block(move || {
            let mut pooled = pool.checkout()?;
            let started = Instant::now();
            let result = f(&mut pooled.conn);
            pool.metrics.observe_section(started.elapsed());
            if matches!(result, Err(AppError::Unavailable(_))) {
                pooled.broken = true;
            }
            result
        })
        .await
        .map_err(|e| AppError::internal(format!("blocking pool: {e}")))?
    }

    /// Whether a database round trip succeeds within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> AppResult<()> {
        let pool = self.clone();
        let check = actix_web::web::block(move || -> AppResult<()> {
            let conn = pool
                .inner
                .get_timeout(timeout)
                .map_err(|e| AppError::Unavailable(format!("database pool: {e}")));
            let mut conn = conn?;
            let result = conn.conn.ping().map_err(AppError::from);
            if result.is_err() {
                conn.broken = true;
            }
            result.map_err(|e| AppError::Unavailable(e.to_string()))
        });
        match tokio::time::timeout(timeout + Duration::from_millis(50), check).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(AppError::internal(format!("blocking pool: {e}"))),
            Err(_) => Err(AppError::Unavailable("database ping timed out".into())),
        }
    }

    pub fn state(&self) -> r2d2::State {
        self.inner.state()
    }
}

#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<ManagerError> for LogPoolErrors {
    fn handle_error(&self, error: ManagerError) {
        log::warn!("database connection failed: {error}");
    }
}

/// Runs `f` in a write transaction. On SQLite it starts with `BEGIN IMMEDIATE`
/// so concurrent read-then-write transactions queue on the busy timeout
/// instead of failing with "database is locked"; on PostgreSQL it is a plain
/// transaction. Nested `transaction` calls inside `f` become savepoints.
pub fn write_tx<T, F>(conn: &mut DbConnection, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConnection) -> AppResult<T>,
{
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    let DbConnection::Sqlite(sqlite) = conn else {
        unreachable!("the connection variant cannot change inside a transaction")
    };
    match result {
        Ok(value) => match AnsiTransactionManager::commit_transaction(sqlite) {
            Ok(()) => Ok(value),
            Err(commit_err) => {
                // Leave the connection usable; report the commit failure.
                let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                Err(commit_err.into())
            }
        },
        Err(e) => {
            AnsiTransactionManager::rollback_transaction(sqlite)?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_scheme() {
        let pg = DatabaseUrl::parse("postgres://u:p@h/db").unwrap();
        assert_eq!(pg.backend, Backend::Postgres);
        let pg2 = DatabaseUrl::parse("postgresql://h/db").unwrap();
        assert_eq!(pg2.backend, Backend::Postgres);
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/c.db").unwrap(),
            DatabaseUrl {
                backend: Backend::Sqlite,
                target: "data/c.db".into()
            }
        );
        assert_eq!(DatabaseUrl::parse("sqlite:c.db").unwrap().target, "c.db");
        assert_eq!(
            DatabaseUrl::parse("./conduit.db").unwrap().backend,
            Backend::Sqlite
        );
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact_url("conduit.db"), "conduit.db");
    }
}
