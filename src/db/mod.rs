//! Database access: the two-backend connection type, the pool and its
//! read/write sections, the counters that keep totals exact, constraint
//! names, and (in `dialect`) everything that differs between the backends.

/// Evaluates `$body` with `$c` bound to the concrete connection inside the
/// `DbConnection` `$conn`, expanded once per backend so that each expansion
/// is typed for its own. For the statements of the hot read paths: through
/// the two-backend connection, Diesel writes a query's SQL again in every
/// pass over it, on every execution (escaping each identifier into a new
/// string), while a concrete connection writes it once, when it prepares
/// the statement. The query and its result types are the same either way.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

mod batch;
pub mod constraints;
pub mod counters;
pub mod dialect;
pub mod functions;
mod metrics;
mod pool;
mod prepared;
pub mod schema;

use diesel::connection::Connection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

pub use batch::Batcher;
pub use metrics::DbMetrics;
pub use pool::{Pool, PoolError, PoolSettings};
pub use prepared::{Fixed, FixedSql};

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

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(String);

impl DatabaseUrl {
    /// Picks the backend from the scheme alone: `postgres://` / `postgresql://`
    /// is PostgreSQL; `sqlite://path`, `sqlite:path` or a bare path is SQLite.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
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
            return Err(UrlError(format!(
                "unsupported database URL scheme in {}; use postgres://, sqlite:// or a file path",
                redact_url(url)
            )));
        }
        if path.is_empty() || path == ":memory:" {
            return Err(UrlError(
                "SQLite needs a file path (an in-memory database is one per connection)".into(),
            ));
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
        if let Some((creds, host)) = rest.rsplit_once('@') {
            let user = creds.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_owned()
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
        assert_eq!(
            redact_url("redis://:pw@cache:6379"),
            "redis://:***@cache:6379"
        );
        assert_eq!(redact_url("conduit.db"), "conduit.db");
    }
}
