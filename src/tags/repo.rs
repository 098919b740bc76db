//! Queries on `tags`.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::schema::{tag_counts, tags};
use crate::db::DbConnection;

/// Tags used by at least one article, most used first, then by name. Each
/// tag's count is the sum of its `tag_counts` shards.
pub fn in_use(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let shards: Vec<(String, i64)> = tags::table
        .inner_join(tag_counts::table)
        .select((tags::name, tag_counts::articles_count))
        .load(conn)?;
    let mut totals: HashMap<String, i64> = HashMap::new();
    for (name, count) in shards {
        *totals.entry(name).or_default() += count;
    }
    let mut in_use: Vec<(String, i64)> = totals.into_iter().filter(|(_, n)| *n > 0).collect();
    in_use.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(in_use.into_iter().map(|(name, _)| name).collect())
}
