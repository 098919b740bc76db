//! The counters that keep `articlesCount` exact without counting rows:
//! `users.articles_authored` / `articles_favorited`, `articles.favorites_count`,
//! each tag's count in `tag_counts` and the site total in `counters`. Every
//! write that adds or removes a counted row moves its counters in the same
//! transaction; `verify` recomputes them all (tests use it after every kind
//! of write).
//!
//! The tag and site counts, which every article create and delete touches,
//! are sharded: a writer adds its +1/-1 to one shard picked at random (rows
//! are created on first use, so `SHARDS` can change freely) and a reader sums
//! the shards, so writers of a popular tag do not queue on one row lock.
//!
//! Lock order. Every article write locks rows in one order, so concurrent
//! writers cannot deadlock: the article row, then users by id, then tag
//! count shards by tag id, then the site counter shard. `apply_article_change`
//! is that order in code; the PostgreSQL one-statement create
//! (`dialect::create_article`) keeps it through data dependencies.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::upsert::excluded;

use super::dialect;
use super::schema::{article_tags, articles, counters, tag_counts, tags, users};
use super::DbConnection;
use crate::domain::{ArticleId, TagList, UserId};

/// How many rows each sharded count is spread over.
pub const SHARDS: u32 = 16;

/// The shard a writer adds to.
#[derive(Clone, Copy, Debug)]
pub struct Shard(u32);

impl Shard {
    pub fn random() -> Self {
        Shard(fastrand::u32(..SHARDS))
    }

    pub fn index(self) -> i64 {
        i64::from(self.0)
    }

    /// The `counters` row of the site total in this shard.
    pub fn site_counter(self) -> String {
        format!("{SITE_PREFIX}{}", self.0)
    }
}

pub(crate) const SITE_PREFIX: &str = "articles/";

/// Number of articles on the site: the sum of the site counter's shards.
pub fn site_total(conn: &mut DbConnection) -> QueryResult<i64> {
    let shards: Vec<i64> = on_backend!(conn, |c| counters::table
        .filter(counters::name.like(format!("{SITE_PREFIX}%")))
        .select(counters::value)
        .load(c))?;
    Ok(shards.iter().sum())
}

/// `UPDATE` of one counted row that must exist: anything but one row changed
/// means the row vanished under us, and the transaction must not commit.
fn exactly_one(changed: usize, what: &'static str) -> QueryResult<()> {
    match changed {
        1 => Ok(()),
        _ => Err(diesel::result::Error::QueryBuilderError(
            format!("counter update of {what} changed {changed} rows, expected 1").into(),
        )),
    }
}

/// What an article create (+1) or delete (-1) changes in the counters.
pub struct ArticleChange<'a> {
    pub author: UserId,
    /// Users who had favorited the article (a delete only).
    pub favoriters: &'a [UserId],
    /// The article's tag ids.
    pub tags: &'a [i64],
    pub delta: i64,
}

/// Moves every counter an article create or delete affects, in the lock
/// order above (the article row itself was written first by the caller).
pub fn apply_article_change(
    conn: &mut DbConnection,
    change: &ArticleChange<'_>,
    shard: Shard,
) -> QueryResult<()> {
    let mut user_ids: Vec<UserId> = change.favoriters.to_vec();
    user_ids.push(change.author);
    user_ids.sort_unstable();
    user_ids.dedup();
    dialect::lock_users_in_order(conn, &user_ids)?;
    if !change.favoriters.is_empty() {
        let ids: Vec<i64> = change.favoriters.iter().map(|u| u.get()).collect();
        let changed = diesel::update(users::table.filter(users::id.eq_any(&ids)))
            .set(users::articles_favorited.eq(users::articles_favorited + change.delta))
            .execute(conn)?;
        if changed != ids.len() {
            return exactly_one(changed, "favoriters");
        }
    }
    let changed = diesel::update(users::table.find(change.author.get()))
        .set(users::articles_authored.eq(users::articles_authored + change.delta))
        .execute(conn)?;
    exactly_one(changed, "the author")?;
    add_to_tags(conn, change.tags, change.delta, shard)?;
    add_to_site(conn, change.delta, shard)
}

/// One upsert of the tags' rows in `shard`, sorted by tag id.
fn add_to_tags(
    conn: &mut DbConnection,
    tag_ids: &[i64],
    delta: i64,
    shard: Shard,
) -> QueryResult<()> {
    if tag_ids.is_empty() {
        return Ok(());
    }
    let mut ids = tag_ids.to_vec();
    ids.sort_unstable();
    let rows: Vec<_> = ids
        .iter()
        .map(|id| {
            (
                tag_counts::tag_id.eq(*id),
                tag_counts::shard.eq(shard.index()),
                tag_counts::articles_count.eq(delta),
            )
        })
        .collect();
    dialect::execute(
        conn,
        diesel::insert_into(tag_counts::table)
            .values(&rows)
            .on_conflict((tag_counts::tag_id, tag_counts::shard))
            .do_update()
            .set(
                tag_counts::articles_count
                    .eq(tag_counts::articles_count + excluded(tag_counts::articles_count)),
            ),
    )?;
    Ok(())
}

fn add_to_site(conn: &mut DbConnection, delta: i64, shard: Shard) -> QueryResult<()> {
    dialect::execute(
        conn,
        diesel::insert_into(counters::table)
            .values((
                counters::name.eq(shard.site_counter()),
                counters::value.eq(delta),
            ))
            .on_conflict(counters::name)
            .do_update()
            .set(counters::value.eq(counters::value + excluded(counters::value))),
    )?;
    Ok(())
}

/// A favorite added (+1) or removed (-1): the article's count and the user's.
pub fn apply_favorite_change(
    conn: &mut DbConnection,
    user: UserId,
    article: ArticleId,
    delta: i64,
) -> QueryResult<()> {
    // Article first, then the user: the order of `apply_article_change`.
    let changed = diesel::update(articles::table.find(article.get()))
        .set(articles::favorites_count.eq(articles::favorites_count + delta))
        .execute(conn)?;
    exactly_one(changed, "the article")?;
    let changed = diesel::update(users::table.find(user.get()))
        .set(users::articles_favorited.eq(users::articles_favorited + delta))
        .execute(conn)?;
    exactly_one(changed, "the user")
}

/// Every counter recomputed from the rows it counts, and every article's
/// stored `tag_list` compared with its tag links. Returns what disagrees
/// (empty when all is exact).
pub fn verify(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let checks: [(&str, &str); 5] = [
        (
            "site total",
            "SELECT CAST(ABS((SELECT COALESCE(SUM(value), 0) FROM counters WHERE name LIKE 'articles/%') \
             - (SELECT COUNT(*) FROM articles)) AS BIGINT)",
        ),
        (
            "users.articles_authored",
            "SELECT COUNT(*) FROM users u WHERE u.articles_authored <> \
             (SELECT COUNT(*) FROM articles a WHERE a.author_id = u.id)",
        ),
        (
            "users.articles_favorited",
            "SELECT COUNT(*) FROM users u WHERE u.articles_favorited <> \
             (SELECT COUNT(*) FROM favorites f WHERE f.user_id = u.id)",
        ),
        (
            "articles.favorites_count",
            "SELECT COUNT(*) FROM articles a WHERE a.favorites_count <> \
             (SELECT COUNT(*) FROM favorites f WHERE f.article_id = a.id)",
        ),
        (
            "tag_counts",
            "SELECT COUNT(*) FROM tags t WHERE \
             (SELECT COALESCE(SUM(c.articles_count), 0) FROM tag_counts c WHERE c.tag_id = t.id) <> \
             (SELECT COUNT(*) FROM article_tags x WHERE x.tag_id = t.id)",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, query) in checks {
        let off: i64 = diesel::select(sql::<BigInt>(&format!("({query})"))).get_result(conn)?;
        if off != 0 {
            wrong.push(format!("{what}: {off} off"));
        }
    }
    wrong.extend(tag_list_mismatches(conn)?);
    Ok(wrong)
}

/// Articles whose `tag_list` column disagrees with their `article_tags` rows.
fn tag_list_mismatches(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let stored: Vec<(i64, String)> = articles::table
        .select((articles::id, articles::tag_list))
        .load(conn)?;
    let links: Vec<(i64, String)> = article_tags::table
        .inner_join(tags::table)
        .select((article_tags::article_id, tags::name))
        .load(conn)?;
    let mut linked: HashMap<i64, Vec<String>> = HashMap::new();
    for (article, name) in links {
        linked.entry(article).or_default().push(name);
    }
    let mut wrong = Vec::new();
    for (article, json) in stored {
        let mut expected = linked.remove(&article).unwrap_or_default();
        expected.sort();
        let listed: Option<Vec<String>> = TagList::from_json(&json)
            .ok()
            .map(|l| l.as_slice().iter().map(|t| t.as_str().to_owned()).collect());
        if listed.as_ref() != Some(&expected) {
            wrong.push(format!(
                "article {article}: tag_list {json} but linked {expected:?}"
            ));
        }
    }
    Ok(wrong)
}
