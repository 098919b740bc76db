//! Everything that differs between PostgreSQL and SQLite lives here: session
//! settings, guarded migrations, and the query forms the enum cannot carry.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConnection;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Any constant works; it only has to be the same for every replica.
const MIGRATION_LOCK_KEY: i64 = 0x0C0D_0117;

/// Runs one Diesel expression on the concrete connection of either backend,
/// for the query forms `MultiConnection` cannot express (`ON CONFLICT DO
/// NOTHING`, batch inserts). `$c` is bound to the inner connection.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Locks the users rows with the given ids in id order (PostgreSQL
/// `SELECT .. ORDER BY id FOR NO KEY UPDATE`), so writers touching overlapping
/// sets cannot deadlock: a single `UPDATE .. WHERE id = ANY(..)` locks in scan
/// order. `NO KEY`: the lock an `UPDATE` of a counter takes anyway, and one
/// that does not conflict with the key-share locks that foreign-key checks of
/// concurrent inserts hold on the same rows. SQLite needs nothing: its
/// writers run one at a time.
pub fn lock_users_in_order(conn: &mut DbConnection, ids: &[i64]) -> diesel::QueryResult<()> {
    use crate::db::schema::users;
    use diesel::prelude::*;
    if let DbConnection::Pg(c) = conn {
        users::table
            .filter(users::id.eq_any(ids))
            .order(users::id)
            .select(users::id)
            .for_no_key_update()
            .load::<i64>(c)?;
    }
    Ok(())
}

/// Per-connection settings applied once when the pool opens a connection.
pub(super) fn prepare_session(
    conn: &mut DbConnection,
    statement_timeout: Duration,
) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Pg(c) => c.batch_execute(&format!(
            "SET statement_timeout = {}; SET lock_timeout = {}",
            statement_timeout.as_millis(),
            statement_timeout.as_millis()
        )),
        // WAL lets readers run beside the single writer; foreign keys are off
        // per connection unless enabled; the busy timeout queues writers.
        // The busy timeout goes first: switching to WAL takes a lock that
        // the pool's other connections, opening at the same moment, wait on.
        // A 1 MiB page cache per connection (default 2 MiB) bounds memory; the
        // OS page cache holds the rest of the file anyway.
        DbConnection::Sqlite(c) => c.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -1024;",
            statement_timeout.as_millis().max(1000)
        )),
    }
}

/// Applies pending migrations. PostgreSQL: under a session advisory lock so
/// replicas starting together apply them once. SQLite: inside one exclusive
/// transaction (its DDL is transactional), which serialises processes too.
pub(super) fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, String> {
    let applied = match conn {
        DbConnection::Pg(c) => migrate_postgres(c),
        DbConnection::Sqlite(c) => migrate_sqlite(c),
    }?;
    Ok(applied)
}

fn migrate_postgres(c: &mut PgConnection) -> Result<Vec<String>, String> {
    c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .map_err(|e| format!("taking the migration lock: {e}"))?;
    let result = c
        .run_pending_migrations(PG_MIGRATIONS)
        .map(|versions| versions.iter().map(|v| v.to_string()).collect())
        .map_err(|e| format!("running migrations: {e}"));
    let unlock = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
    let applied = result?;
    unlock.map_err(|e| format!("releasing the migration lock: {e}"))?;
    Ok(applied)
}

fn migrate_sqlite(c: &mut SqliteConnection) -> Result<Vec<String>, String> {
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    c.exclusive_transaction::<_, BoxError, _>(|c| {
        let versions = c.run_pending_migrations(SQLITE_MIGRATIONS)?;
        Ok(versions.iter().map(|v| v.to_string()).collect())
    })
    .map_err(|e| format!("running migrations: {e}"))
}
