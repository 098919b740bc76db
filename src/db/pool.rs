//! The connection pool and the two kinds of database section handlers run:
//! `read` and `write`, each on one pooled connection inside `web::block`.
//!
//! Lost connections. Every statement's outcome passes through the
//! connection's instrumentation, so a connection that lost its server is
//! flagged (and dropped by r2d2 when returned) however the caller mapped the
//! error. The first such loss among trusted connections also raises the
//! pool's suspicion epoch: every idle connection trusted before it may have
//! died in the same outage, so it is pinged before its next use instead of
//! failing a request. A `read` whose connection turned out dead is run once
//! more on another one; a `write` is retried only when its `BEGIN` failed,
//! i.e. before anything reached the database.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{Connection, Instrumentation, InstrumentationEvent};
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::ConnectionError;
use prometheus::IntCounter;

use super::{dialect, Backend, DatabaseUrl, DbConnection, DbMetrics, UrlError};
use crate::error::{AppError, AppResult, BoxError};

#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_size: u32,
    pub min_idle: u32,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("invalid DATABASE_URL")]
    Url(#[from] UrlError),
    #[error("no database connection")]
    Checkout(#[source] r2d2::Error),
    #[error("applying migrations")]
    Migrations(#[source] BoxError),
}

/// What a connection and its instrumentation know about its health.
#[derive(Default)]
struct Health {
    /// A statement failed because the connection to the server was lost.
    lost: AtomicBool,
    /// The pool's suspicion epoch when the connection was last known good.
    trusted_at: AtomicU64,
}

/// A pooled connection and its health.
pub struct ManagedConnection {
    conn: DbConnection,
    health: Arc<Health>,
    /// When a section last finished on it.
    last_used: Instant,
}

/// A connection unused this long is pinged before a write that cannot be
/// retried (`Pool::write_statements`): it may have died unnoticed.
pub(super) const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

fn is_connection_loss(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        )
    )
}

/// Per-connection instrumentation: counts statements and notices losses.
struct Instrument {
    statements: IntCounter,
    health: Arc<Health>,
    suspicion: Arc<AtomicU64>,
}

impl Instrumentation for Instrument {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => self.statements.inc(),
            InstrumentationEvent::FinishQuery { error: Some(e), .. } if is_connection_loss(e) => {
                let first = !self.health.lost.swap(true, Ordering::AcqRel);
                let epoch = self.suspicion.load(Ordering::Acquire);
                // A trusted connection died: those trusted with it are suspect.
                // (A suspect one failing its ping says nothing new.)
                if first && self.health.trusted_at.load(Ordering::Acquire) >= epoch {
                    let _ = self.suspicion.compare_exchange(
                        epoch,
                        epoch + 1,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                }
            }
            _ => {}
        }
    }
}

pub struct ConnectionManager {
    url: DatabaseUrl,
    /// PostgreSQL: the URL with client-side timeouts added (`with_timeouts`).
    libpq_url: String,
    statement_timeout: Duration,
    metrics: Arc<DbMetrics>,
    suspicion: Arc<AtomicU64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error(transparent)]
    Connect(#[from] ConnectionError),
    #[error(transparent)]
    Query(#[from] DieselError),
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = ManagedConnection;
    type Error = ManagerError;

    fn connect(&self) -> Result<ManagedConnection, ManagerError> {
        let mut conn = match self.url.backend {
            Backend::Postgres => DbConnection::Pg(PgConnection::establish(&self.libpq_url)?),
            Backend::Sqlite => DbConnection::Sqlite(SqliteConnection::establish(&self.url.target)?),
        };
        dialect::prepare_session(&mut conn, self.statement_timeout)?;
        let health = Arc::new(Health::default());
        health
            .trusted_at
            .store(self.suspicion.load(Ordering::Acquire), Ordering::Release);
        conn.set_instrumentation(Instrument {
            statements: self.metrics.statements_counter(),
            health: health.clone(),
            suspicion: self.suspicion.clone(),
        });
        Ok(ManagedConnection {
            conn,
            health,
            last_used: Instant::now(),
        })
    }

    fn is_valid(&self, conn: &mut ManagedConnection) -> Result<(), ManagerError> {
        Ok(conn.conn.ping()?)
    }

    fn has_broken(&self, conn: &mut ManagedConnection) -> bool {
        conn.health.lost.load(Ordering::Acquire)
            || std::thread::panicking()
            || conn.conn.is_broken()
    }
}

pub(super) type Pooled = r2d2::PooledConnection<ConnectionManager>;

/// The application's connection pool. Cheap to clone; built once at start-up.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<ConnectionManager>,
    backend: Backend,
    /// The longest a request waits for its section: the acquire timeout
    /// plus the statement timeout, and a second for the reply.
    section_limit: Duration,
    metrics: Arc<DbMetrics>,
    suspicion: Arc<AtomicU64>,
}

impl Pool {
    /// Builds the pool without connecting: a server whose database is down
    /// still starts and reports the outage on `/health` instead of crash-looping.
    pub fn new(
        url: &str,
        settings: &PoolSettings,
        metrics: Arc<DbMetrics>,
    ) -> Result<Self, PoolError> {
        let url = DatabaseUrl::parse(url)?;
        let backend = url.backend;
        let suspicion = Arc::new(AtomicU64::new(0));
        let manager = ConnectionManager {
            libpq_url: match url.backend {
                Backend::Postgres => with_timeouts(&url.target, settings.acquire_timeout),
                Backend::Sqlite => String::new(),
            },
            url,
            statement_timeout: settings.statement_timeout,
            metrics: metrics.clone(),
            suspicion: suspicion.clone(),
        };
        let inner = r2d2::Pool::builder()
            .max_size(settings.max_size)
            .min_idle(Some(settings.min_idle))
            .connection_timeout(settings.acquire_timeout)
            // A ping per checkout would double the round trips of a simple
            // request; only suspect connections are pinged (see above).
            .test_on_check_out(false)
            .error_handler(Box::new(LogPoolErrors))
            .build_unchecked(manager);
        metrics.watch_pool(inner.clone());
        Ok(Pool {
            inner,
            backend,
            section_limit: settings.acquire_timeout
                + settings.statement_timeout
                + Duration::from_secs(1),
            metrics,
            suspicion,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn metrics(&self) -> &Arc<DbMetrics> {
        &self.metrics
    }

    /// The longest a request waits for its database section.
    pub(super) fn section_limit(&self) -> Duration {
        self.section_limit
    }

    /// Whether a statement on `conn` found its server gone.
    pub(super) fn is_lost(conn: &Pooled) -> bool {
        conn.health.lost.load(Ordering::Acquire)
    }

    /// A connection on the current (blocking) thread, recording the wait; a
    /// suspect one is pinged first and replaced if it is dead.
    fn checkout(&self, timeout: Option<Duration>) -> Result<Pooled, r2d2::Error> {
        self.checkout_checked(timeout, None)
    }

    /// `checkout`, also pinging a connection idle for longer than
    /// `ping_if_idle`.
    pub(super) fn checkout_checked(
        &self,
        timeout: Option<Duration>,
        ping_if_idle: Option<Duration>,
    ) -> Result<Pooled, r2d2::Error> {
        let started = Instant::now();
        let _waiting = self.metrics.waiting_guard();
        let result = loop {
            let got = match timeout {
                Some(t) => self.inner.get_timeout(t),
                None => self.inner.get(),
            };
            let mut conn = match got {
                Ok(conn) => conn,
                Err(e) => break Err(e),
            };
            let epoch = self.suspicion.load(Ordering::Acquire);
            let idle_too_long = ping_if_idle.is_some_and(|d| conn.last_used.elapsed() > d);
            if conn.health.trusted_at.load(Ordering::Acquire) >= epoch && !idle_too_long {
                break Ok(conn);
            }
            if conn.conn.ping().is_ok() {
                conn.health.trusted_at.store(epoch, Ordering::Release);
                break Ok(conn);
            }
            // Dead: flagged by its instrumentation, dropped on return.
            self.metrics.count_evicted();
        };
        self.metrics.observe_checkout(started.elapsed());
        if result.is_err() {
            self.metrics.count_timeout();
        }
        result
    }

    fn unavailable(e: r2d2::Error) -> AppError {
        AppError::unavailable("database pool", e)
    }

    /// Runs `f` on the current thread with a checked-out connection, timing
    /// how long it holds it.
    pub(super) fn section<T>(
        &self,
        conn: &mut Pooled,
        f: impl FnOnce(&mut DbConnection) -> AppResult<T>,
    ) -> AppResult<T> {
        let started = Instant::now();
        let result = f(&mut conn.conn);
        conn.last_used = Instant::now();
        self.metrics.observe_section(started.elapsed());
        result
    }

    /// A read-only unit of work on one pooled connection, off the async
    /// workers. If it fails because its connection was lost, it runs once
    /// more on another (hence `Fn`): a client sees no error for a connection
    /// that died while idle.
    pub async fn read<T, F>(&self, f: F) -> AppResult<T>
    where
        F: Fn(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.clone();
        self.bounded(move || {
            let mut conn = pool.checkout(None).map_err(Self::unavailable)?;
            let result = pool.section(&mut conn, &f);
            if result.is_err() && conn.health.lost.load(Ordering::Acquire) {
                drop(conn);
                let mut conn = pool.checkout(None).map_err(Self::unavailable)?;
                return pool.section(&mut conn, &f);
            }
            result
        })
        .await
    }

    /// A write: `f` runs in one transaction on one pooled connection (SQLite:
    /// `BEGIN IMMEDIATE`, so concurrent writers queue on the busy timeout
    /// instead of failing with "database is locked"). Committed if `f`
    /// returns `Ok`, rolled back otherwise. When `BEGIN` itself finds the
    /// connection lost, nothing was sent yet, and another connection is used.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.clone();
        self.bounded(move || {
            let mut conn = pool.checkout(None).map_err(Self::unavailable)?;
            if let Err(e) = dialect::begin_write(&mut conn.conn) {
                if !conn.health.lost.load(Ordering::Acquire) {
                    return Err(e.into());
                }
                drop(conn);
                conn = pool.checkout(None).map_err(Self::unavailable)?;
                dialect::begin_write(&mut conn.conn)?;
            }
            pool.section(&mut conn, |c| {
                let result = f(c);
                dialect::end_write(c, result)
            })
        })
        .await
    }

    /// Runs `section` on the blocking pool; a request never waits longer
    /// than `section_limit` for it. A server that stops answering without
    /// closing the connection (a black hole) would otherwise hold the
    /// request forever: it gets a 503 instead, while the blocked thread
    /// waits for the connection to fail (TCP keepalive, see `connect`).
    async fn bounded<T: Send + 'static>(
        &self,
        section: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        match tokio::time::timeout(self.section_limit, actix_web::web::block(section)).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(AppError::internal("blocking pool", e)),
            Err(elapsed) => {
                self.metrics.count_abandoned();
                Err(AppError::unavailable(
                    "the database did not answer in time",
                    elapsed,
                ))
            }
        }
    }

    /// A write whose statements each commit on their own, with no
    /// transaction around them: for a change made by one statement (atomic
    /// by itself), possibly preceded by idempotent ones (creating missing
    /// tags). It saves `BEGIN` and `COMMIT`, two of an article create's four
    /// round trips on PostgreSQL (create throughput +47 % in bench/). On
    /// SQLite, whose create is several statements, the dialect function
    /// brings its own transaction. Since nothing here can be rolled back, it
    /// is never retried; instead a connection idle for a while is pinged
    /// first, so one that died unnoticed is replaced before anything is sent.
    pub async fn write_statements<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.clone();
        self.bounded(move || {
            let mut conn = pool
                .checkout_checked(None, Some(IDLE_BEFORE_PING))
                .map_err(Self::unavailable)?;
            pool.section(&mut conn, f)
        })
        .await
    }

    /// Applies pending migrations, guarded against concurrent runners.
    pub fn run_migrations(&self) -> Result<Vec<String>, PoolError> {
        let mut conn = self.checkout(None).map_err(PoolError::Checkout)?;
        dialect::run_migrations(&mut conn.conn).map_err(PoolError::Migrations)
    }

    /// Whether a database round trip succeeds within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> AppResult<()> {
        let pool = self.clone();
        let check = actix_web::web::block(move || -> AppResult<()> {
            let mut conn = pool.checkout(Some(timeout)).map_err(Self::unavailable)?;
            conn.conn
                .ping()
                .map_err(|e| AppError::unavailable("database ping", e))
        });
        match tokio::time::timeout(timeout + Duration::from_millis(50), check).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(AppError::internal("blocking pool", e)),
            Err(elapsed) => Err(AppError::unavailable("database ping", elapsed)),
        }
    }

    pub fn state(&self) -> r2d2::State {
        self.inner.state()
    }
}

/// Client-side limits libpq lacks by default, added unless the URL sets
/// them: a connection attempt gives up after the pool's acquire timeout
/// (instead of never, against a server that accepts and does not answer),
/// and an established connection whose server vanished without a word is
/// detected by TCP within about a minute instead of hours.
fn with_timeouts(url: &str, acquire_timeout: Duration) -> String {
    let connect = acquire_timeout.as_secs().max(2).to_string();
    let defaults = [
        ("connect_timeout", connect.as_str()),
        ("keepalives_idle", "30"),
        ("keepalives_interval", "10"),
        ("keepalives_count", "3"),
        ("tcp_user_timeout", "30000"),
    ];
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let present = |name: &str| {
        query
            .split('&')
            .any(|kv| kv.split('=').next() == Some(name))
    };
    let mut out = url.to_owned();
    for (name, value) in defaults {
        if !present(name) {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(name);
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<ManagerError> for LogPoolErrors {
    fn handle_error(&self, error: ManagerError) {
        log::warn!("database connection failed: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_timeouts_are_added_unless_the_url_sets_them() {
        let url = with_timeouts("postgres://h/db", Duration::from_secs(3));
        assert_eq!(
            url,
            "postgres://h/db?connect_timeout=3&keepalives_idle=30&keepalives_interval=10\
             &keepalives_count=3&tcp_user_timeout=30000"
        );
        let url = with_timeouts(
            "postgres://h/db?sslmode=disable&connect_timeout=9",
            Duration::from_millis(500),
        );
        assert!(
            url.starts_with("postgres://h/db?sslmode=disable&connect_timeout=9&keepalives_idle=30")
        );
        assert_eq!(url.matches("connect_timeout").count(), 1);
    }
}
