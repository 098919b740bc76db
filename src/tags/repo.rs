//! Queries on `tags`.

use diesel::prelude::*;

use crate::db::schema::tags;
use crate::db::DbConnection;

/// Tags used by at least one article, most used first, then by name.
pub fn in_use(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    tags::table
        .filter(tags::articles_count.gt(0))
        .order((tags::articles_count.desc(), tags::name.asc()))
        .select(tags::name)
        .load(conn)
}
