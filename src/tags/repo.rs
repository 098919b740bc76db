//! Queries on `tags` and their sharded counts.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::{tag_counts, tags};
use crate::db::{dialect, on_backend, DbConnection, Fixed, FixedSql};
use crate::domain::{TagList, TagName};

/// Every tag's total over its shards, for tags in use.
struct TagTotals;

impl FixedSql for TagTotals {
    const SQL: &'static str = "SELECT t.name, CAST(SUM(c.articles_count) AS BIGINT) \
         FROM tags t JOIN tag_counts c ON c.tag_id = t.id \
         GROUP BY t.id, t.name HAVING SUM(c.articles_count) > 0";
    type SqlType = (Text, BigInt);
}

/// Tags used by at least one article, most used first, then by name. The
/// shards are summed by the database, so one row per tag comes back.
pub fn in_use(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let mut totals: Vec<(String, i64)> = on_backend!(conn, |c| Fixed::<TagTotals>::new().load(c))?;
    // Sorted here, by bytes: the same order on both backends' collations.
    totals.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(totals.into_iter().map(|(name, _)| name).collect())
}

/// A tag's id and the number of articles carrying it; `None` if no such tag.
pub fn find_with_count(conn: &mut DbConnection, name: &TagName) -> QueryResult<Option<(i64, i64)>> {
    // No count rows: a tag never used (or whose shards were never written).
    let shards: Vec<(i64, Option<i64>)> = on_backend!(conn, |c| tags::table
        .left_join(tag_counts::table)
        .filter(tags::name.eq(name.as_str()))
        .select((tags::id, tag_counts::articles_count.nullable()))
        .load(c))?;
    let Some(&(id, _)) = shards.first() else {
        return Ok(None);
    };
    Ok(Some((id, shards.iter().filter_map(|(_, c)| *c).sum())))
}

/// The ids of the tags in `list`, creating the missing ones; ascending.
/// Takes no locks on existing tag rows.
pub fn ids_creating_missing(conn: &mut DbConnection, list: &TagList) -> QueryResult<Vec<i64>> {
    let names: Vec<&str> = list.as_slice().iter().map(TagName::as_str).collect();
    let mut ids: Vec<i64> = named_ids_creating_missing(conn, &names)?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Each tag of `names` (sorted, distinct) with its id, creating the missing
/// ones; in no particular order. Takes no locks on existing tag rows.
pub fn named_ids_creating_missing(
    conn: &mut DbConnection,
    names: &[&str],
) -> QueryResult<Vec<(String, i64)>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let tag_ids = |conn: &mut DbConnection| {
        tags::table
            .filter(tags::name.eq_any(names))
            .select((tags::name, tags::id))
            .load::<(String, i64)>(conn)
    };
    // Most tags already exist: one read, and an insert only for new ones.
    let found = tag_ids(conn)?;
    if found.len() == names.len() {
        return Ok(found);
    }
    // Sorted, so concurrent creators insert new tags in one order.
    let new_tags: Vec<_> = names.iter().map(|n| tags::name.eq(*n)).collect();
    dialect::execute(
        conn,
        diesel::insert_into(tags::table)
            .values(&new_tags)
            .on_conflict(tags::name)
            .do_nothing(),
    )?;
    tag_ids(conn)
}
