//! Everything that differs between PostgreSQL and SQLite lives here: session
//! settings, guarded migrations, row locks, the statement forms the
//! two-backend connection cannot carry (run on the inner connection by
//! `execute`), the one-statement article create of PostgreSQL and its
//! feed page.

use std::time::Duration;

use diesel::connection::{
    AnsiTransactionManager, Connection, SimpleConnection, TransactionManager,
};
use diesel::deserialize::FromSqlRow;
use diesel::pg::Pg;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamp};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::counters::{self, ArticleChange, Shard};
use super::schema::{article_tags, articles, users};
use super::DbConnection;
use crate::domain::{ArticleId, UserId};
use crate::error::BoxError;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Any constant works; it only has to be the same for every replica.
const MIGRATION_LOCK_KEY: i64 = 0x0C0D_0117;

/// Runs a statement the two-backend connection cannot express (`ON
/// CONFLICT`, batch inserts) on the concrete connection of either backend.
/// The statement itself is ordinary Diesel, the same for both.
pub fn execute<Q>(conn: &mut DbConnection, query: Q) -> QueryResult<usize>
where
    Q: ExecuteDsl<PgConnection> + ExecuteDsl<SqliteConnection>,
{
    match conn {
        DbConnection::Pg(c) => <Q as ExecuteDsl<PgConnection>>::execute(query, c),
        DbConnection::Sqlite(c) => <Q as ExecuteDsl<SqliteConnection>>::execute(query, c),
    }
}

/// Locks the users rows with the given ids in id order (PostgreSQL
/// `SELECT .. ORDER BY id FOR NO KEY UPDATE`), so writers touching overlapping
/// sets cannot deadlock: a single `UPDATE .. WHERE id = ANY(..)` locks in scan
/// order. `NO KEY`: the lock an `UPDATE` of a counter takes anyway, and one
/// that does not conflict with the key-share locks that foreign-key checks of
/// concurrent inserts hold on the same rows. SQLite needs nothing: its
/// writers run one at a time.
pub fn lock_users_in_order(conn: &mut DbConnection, ids: &[UserId]) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        let mut ids: Vec<i64> = ids.iter().map(|u| u.get()).collect();
        ids.sort_unstable();
        users::table
            .filter(users::id.eq_any(&ids))
            .order(users::id)
            .select(users::id)
            .for_no_key_update()
            .load::<i64>(c)?;
    }
    Ok(())
}

/// A new article's row, as both backends insert it.
pub struct NewArticleRow<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub body: &'a str,
    pub author: UserId,
    pub created_at: chrono::NaiveDateTime,
    /// The sorted tag names as JSON (`TagList::to_json`).
    pub tag_list: &'a str,
    /// The tags' ids, ascending.
    pub tag_ids: &'a [i64],
}

/// What a create returns besides the row it was given.
#[derive(QueryableByName)]
pub struct CreatedArticle {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub username: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub bio: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub image: Option<String>,
}

/// Inserts an article with its tag links and moves every counter that
/// counts it (`counters::apply_article_change`), atomically: one statement
/// on PostgreSQL, one write transaction of steps on SQLite (the
/// caller runs it without a transaction, `Pool::write_statements`). `None`
/// if the slug is taken, in which case nothing changed.
///
/// PostgreSQL does it in one statement of data-modifying CTEs (two round
/// trips fewer than SQLite's steps, measured in bench/). `ON CONFLICT DO
/// NOTHING` makes a taken slug return no row, and every other part depends
/// on the inserted row. Lock order as in `counters`: the final SELECT reads
/// `article` and `author` (the users row) first; the unreferenced parts run
/// after it in an order PostgreSQL does not promise, so `site_total` reads
/// `tag_totals`, which makes the tag shards locked before the site shard.
pub fn create_article(
    conn: &mut DbConnection,
    row: &NewArticleRow<'_>,
    shard: Shard,
) -> QueryResult<Option<CreatedArticle>> {
    match conn {
        DbConnection::Pg(pg) => {
            let statement = CreateArticlePg {
                row,
                author: row.author.get(),
                shard: shard.index(),
                counter: shard.site_counter(),
            };
            let created: Option<(i64, String, Option<String>, Option<String>)> =
                statement.get_result(pg).optional()?;
            Ok(created.map(|(id, username, bio, image)| CreatedArticle {
                id,
                username,
                bio,
                image,
            }))
        }
        DbConnection::Sqlite(_) => {
            in_write_transaction(conn, |conn| create_article_in_steps(conn, row, shard))
        }
    }
}

/// Starts a write transaction: `BEGIN` on PostgreSQL; on SQLite `BEGIN
/// IMMEDIATE`, which takes the write lock at once, so concurrent
/// read-then-write transactions queue on the busy timeout instead of failing
/// with "database is locked". Nested `transaction` calls inside become
/// savepoints of it.
pub(super) fn begin_write(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c),
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
    }
}

/// Ends the transaction of `begin_write`: commits on success, rolls back on
/// error.
pub(super) fn end_write<T, E>(conn: &mut DbConnection, result: Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    fn commit<C>(c: &mut C) -> QueryResult<()>
    where
        C: Connection<TransactionManager = AnsiTransactionManager>,
    {
        // On failure, leave the connection usable; report the commit failure.
        AnsiTransactionManager::commit_transaction(c).inspect_err(|_| {
            let _ = AnsiTransactionManager::rollback_transaction(c);
        })
    }
    match result {
        Ok(value) => {
            match conn {
                DbConnection::Pg(c) => commit(c)?,
                DbConnection::Sqlite(c) => commit(c)?,
            }
            Ok(value)
        }
        Err(e) => {
            // A failed rollback leaves the connection broken (r2d2 drops
            // it); the request's own error is the one to report.
            let _ = match conn {
                DbConnection::Pg(c) => AnsiTransactionManager::rollback_transaction(c),
                DbConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
            };
            Err(e)
        }
    }
}

/// `f` in its own write transaction.
fn in_write_transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    begin_write(conn)?;
    let result = f(conn);
    end_write(conn, result)
}

const CREATE_ARTICLE_PG: &str = "\
WITH article AS (
    INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at, tag_list)
    VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
    ON CONFLICT (slug) DO NOTHING
    RETURNING id
), author AS (
    UPDATE users SET articles_authored = articles_authored + 1
    WHERE id = $5 AND EXISTS (SELECT 1 FROM article)
    RETURNING username, bio, image
), links AS (
    INSERT INTO article_tags (article_id, tag_id)
    SELECT article.id, t.id FROM article, unnest($8::bigint[]) AS t(id)
), tag_totals AS (
    INSERT INTO tag_counts (tag_id, shard, articles_count)
    SELECT t.id, $9, 1 FROM article, unnest($8::bigint[]) AS t(id) ORDER BY t.id
    ON CONFLICT (tag_id, shard) DO UPDATE SET articles_count = tag_counts.articles_count + 1
    RETURNING tag_id
), site_total AS (
    INSERT INTO counters (name, value)
    SELECT $10, 1 FROM article WHERE (SELECT count(*) FROM tag_totals) >= 0
    ON CONFLICT (name) DO UPDATE SET value = counters.value + 1
)
SELECT article.id, author.username, author.bio, author.image FROM article, author";

/// `CREATE_ARTICLE_PG` with its parameters. Unlike `sql_query`, it has a
/// static query id, so Diesel prepares it once per connection and
/// PostgreSQL plans the five-part statement once, not on every create.
struct CreateArticlePg<'a> {
    row: &'a NewArticleRow<'a>,
    author: i64,
    shard: i64,
    counter: String,
}

impl QueryId for CreateArticlePg<'_> {
    type QueryId = CreateArticlePg<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for CreateArticlePg<'_> {
    type SqlType = (BigInt, Text, Nullable<Text>, Nullable<Text>);
}

impl RunQueryDsl<PgConnection> for CreateArticlePg<'_> {}

impl QueryFragment<Pg> for CreateArticlePg<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        push_with_binds(&mut out, CREATE_ARTICLE_PG, |out, n| {
            match n {
                "1" => out.push_bind_param::<Text, str>(self.row.slug)?,
                "2" => out.push_bind_param::<Text, str>(self.row.title)?,
                "3" => out.push_bind_param::<Text, str>(self.row.description)?,
                "4" => out.push_bind_param::<Text, str>(self.row.body)?,
                "5" => out.push_bind_param::<BigInt, i64>(&self.author)?,
                "6" => out.push_bind_param::<Timestamp, _>(&self.row.created_at)?,
                "7" => out.push_bind_param::<Text, str>(self.row.tag_list)?,
                "8" => out.push_bind_param::<Array<BigInt>, [i64]>(self.row.tag_ids)?,
                "9" => out.push_bind_param::<BigInt, i64>(&self.shard)?,
                "10" => out.push_bind_param::<Text, String>(&self.counter)?,
                _ => return Ok(false),
            }
            Ok(true)
        })
    }
}

/// Inserts several articles as `create_article` does one, atomically: one
/// statement on PostgreSQL, one write transaction on SQLite. Entry `i` of
/// the result is `rows[i]`'s, `None` if its slug was taken. The slugs must
/// differ from each other. All or nothing: on an error nothing changed.
///
/// The statement is `CREATE_ARTICLE_PG` over arrays: one commit and one WAL
/// flush for the batch, each counter row moved once by its share of the
/// batch. Other batches (other replicas) may touch the same users rows, so
/// they are locked first, in id order, like `lock_users_in_order`; then the
/// tag shards in tag order, then the site shard, as a single create does.
pub fn create_articles(
    conn: &mut DbConnection,
    rows: &[NewArticleRow<'_>],
    shard: Shard,
) -> QueryResult<Vec<Option<CreatedArticle>>> {
    match conn {
        DbConnection::Pg(pg) => {
            let statement = CreateArticlesPg::new(rows, shard);
            let created: Vec<BatchRow> = statement.load(pg)?;
            let mut out: Vec<Option<CreatedArticle>> = rows.iter().map(|_| None).collect();
            for (ord, id, username, bio, image) in created {
                let slot = usize::try_from(ord - 1)
                    .ok()
                    .and_then(|i| out.get_mut(i))
                    .ok_or_else(|| {
                        diesel::result::Error::DeserializationError(
                            format!("batched create answered row {ord} of {}", rows.len()).into(),
                        )
                    })?;
                *slot = Some(CreatedArticle {
                    id,
                    username,
                    bio,
                    image,
                });
            }
            Ok(out)
        }
        DbConnection::Sqlite(_) => in_write_transaction(conn, |conn| {
            rows.iter()
                .map(|row| create_article_in_steps(conn, row, shard))
                .collect()
        }),
    }
}

/// A row of `CREATE_ARTICLES_PG`: the 1-based position of the article in
/// the batch, then `CreatedArticle`'s fields.
type BatchRow = (i64, i64, String, Option<String>, Option<String>);

const CREATE_ARTICLES_PG: &str = "\
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $7::text[])
        WITH ORDINALITY AS i(slug, title, description, body, author_id, tag_list, ord)
), authors AS (
    SELECT id FROM users WHERE id = ANY($12::bigint[]) ORDER BY id FOR NO KEY UPDATE
), article AS (
    INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at, tag_list)
    SELECT slug, title, description, body, author_id, $6, $6, tag_list FROM input
    WHERE (SELECT count(*) FROM authors) >= 0
    ORDER BY ord
    ON CONFLICT (slug) DO NOTHING
    RETURNING id, slug, author_id
), authored AS (
    UPDATE users SET articles_authored = articles_authored + n.created
    FROM (SELECT author_id, count(*) AS created FROM article GROUP BY author_id) n
    WHERE users.id = n.author_id
    RETURNING users.id
), tagged AS (
    SELECT article.id AS article_id, t.tag_id
    FROM input
    JOIN article ON article.slug = input.slug
    JOIN unnest($8::bigint[], $9::bigint[]) AS t(ord, tag_id) ON t.ord = input.ord
), links AS (
    INSERT INTO article_tags (article_id, tag_id) SELECT article_id, tag_id FROM tagged
), tag_totals AS (
    INSERT INTO tag_counts (tag_id, shard, articles_count)
    SELECT tag_id, $10, count(*) FROM tagged GROUP BY tag_id ORDER BY tag_id
    ON CONFLICT (tag_id, shard)
        DO UPDATE SET articles_count = tag_counts.articles_count + excluded.articles_count
    RETURNING tag_id
), site_total AS (
    INSERT INTO counters (name, value)
    SELECT $11, count(*) FROM article
    WHERE (SELECT count(*) FROM authored) >= 0 AND (SELECT count(*) FROM tag_totals) >= 0
    HAVING count(*) > 0
    ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value
)
SELECT input.ord, article.id, u.username, u.bio, u.image
FROM input
JOIN article ON article.slug = input.slug
JOIN users u ON u.id = input.author_id";

/// `CREATE_ARTICLES_PG` with its parameters, one array per column (a
/// prepared statement, whatever the batch's size).
struct CreateArticlesPg<'a> {
    slugs: Vec<&'a str>,
    titles: Vec<&'a str>,
    descriptions: Vec<&'a str>,
    bodies: Vec<&'a str>,
    authors: Vec<i64>,
    created_at: chrono::NaiveDateTime,
    tag_lists: Vec<&'a str>,
    /// With `tag_ids`: the pairs (1-based row, tag id).
    tag_rows: Vec<i64>,
    tag_ids: Vec<i64>,
    shard: i64,
    counter: String,
    /// The distinct authors, ascending: the users rows to lock.
    lock: Vec<i64>,
}

impl<'a> CreateArticlesPg<'a> {
    fn new(rows: &'a [NewArticleRow<'a>], shard: Shard) -> Self {
        let authors: Vec<i64> = rows.iter().map(|r| r.author.get()).collect();
        let mut lock = authors.clone();
        lock.sort_unstable();
        lock.dedup();
        let (mut tag_rows, mut tag_ids) = (Vec::new(), Vec::new());
        for (row, ord) in rows.iter().zip(1..) {
            for &tag in row.tag_ids {
                tag_rows.push(ord);
                tag_ids.push(tag);
            }
        }
        CreateArticlesPg {
            slugs: rows.iter().map(|r| r.slug).collect(),
            titles: rows.iter().map(|r| r.title).collect(),
            descriptions: rows.iter().map(|r| r.description).collect(),
            bodies: rows.iter().map(|r| r.body).collect(),
            authors,
            created_at: rows
                .first()
                .map_or_else(crate::timestamp::now, |r| r.created_at),
            tag_lists: rows.iter().map(|r| r.tag_list).collect(),
            tag_rows,
            tag_ids,
            shard: shard.index(),
            counter: shard.site_counter(),
            lock,
        }
    }
}

impl QueryId for CreateArticlesPg<'_> {
    type QueryId = CreateArticlesPg<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for CreateArticlesPg<'_> {
    type SqlType = (BigInt, BigInt, Text, Nullable<Text>, Nullable<Text>);
}

impl RunQueryDsl<PgConnection> for CreateArticlesPg<'_> {}

impl QueryFragment<Pg> for CreateArticlesPg<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        push_with_binds(&mut out, CREATE_ARTICLES_PG, |out, n| {
            match n {
                "1" => out.push_bind_param::<Array<Text>, [&str]>(&self.slugs)?,
                "2" => out.push_bind_param::<Array<Text>, [&str]>(&self.titles)?,
                "3" => out.push_bind_param::<Array<Text>, [&str]>(&self.descriptions)?,
                "4" => out.push_bind_param::<Array<Text>, [&str]>(&self.bodies)?,
                "5" => out.push_bind_param::<Array<BigInt>, [i64]>(&self.authors)?,
                "6" => out.push_bind_param::<Timestamp, _>(&self.created_at)?,
                "7" => out.push_bind_param::<Array<Text>, [&str]>(&self.tag_lists)?,
                "8" => out.push_bind_param::<Array<BigInt>, [i64]>(&self.tag_rows)?,
                "9" => out.push_bind_param::<Array<BigInt>, [i64]>(&self.tag_ids)?,
                "10" => out.push_bind_param::<BigInt, i64>(&self.shard)?,
                "11" => out.push_bind_param::<Text, String>(&self.counter)?,
                "12" => out.push_bind_param::<Array<BigInt>, [i64]>(&self.lock)?,
                _ => return Ok(false),
            }
            Ok(true)
        })
    }
}

/// Pushes `sql` with each `$N` in it replaced by what `bind(out, "N")`
/// pushes (a bind parameter; Diesel numbers them in order, so a `$N` that
/// stands twice binds its value twice). `bind` returns false for a number it
/// does not know.
fn push_with_binds<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    sql: &'static str,
    mut bind: impl FnMut(&mut AstPass<'_, 'b, Pg>, &str) -> QueryResult<bool>,
) -> QueryResult<()> {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_sql(&rest[..at]);
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let number = &rest[at + 1..at + 1 + digits];
        if !bind(out, number)? {
            return Err(diesel::result::Error::QueryBuilderError(
                format!("no parameter ${number} in {sql}").into(),
            ));
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_sql(rest);
    Ok(())
}

/// A row of a page that carries its total (the feed's, or the site's for
/// the unfiltered list), newest first: the article summary (the columns of
/// `ArticleSummaryRow`), its author (`AuthorRow`), favorited, following,
/// and the total (the same in every row).
pub type CountedRowSql = (
    (
        BigInt,
        Text,
        Text,
        Text,
        BigInt,
        BigInt,
        Timestamp,
        Timestamp,
        Text,
    ),
    (BigInt, Text, Nullable<Text>, Nullable<Text>),
    Bool,
    Bool,
    BigInt,
);

/// The Diesel impls of a page statement type generic over one `i64`
/// constant, with an `SQL` of that constant and `BigInt` fields bound to its
/// `$n`: `QueryId` (one prepared statement per type), `Query` (rows of
/// `CountedRowSql`), `RunQueryDsl` and `QueryFragment`.
macro_rules! counted_page_statement {
    ($name:ident { $($n:literal => $field:ident),* $(,)? }) => {
        impl<const N: i64> QueryId for $name<N> {
            type QueryId = $name<N>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl<const N: i64> Query for $name<N> {
            type SqlType = CountedRowSql;
        }

        impl<const N: i64> RunQueryDsl<PgConnection> for $name<N> {}

        impl<const N: i64> QueryFragment<Pg> for $name<N> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                push_with_binds(&mut out, Self::SQL, |out, n| {
                    match n {
                        $($n => out.push_bind_param::<BigInt, i64>(&self.$field)?,)*
                        _ => return Ok(false),
                    }
                    Ok(true)
                })
            }
        }
    };
}

/// The feed's page on PostgreSQL: of each followed author at most `depth`
/// (>= offset + limit) newest articles, read from the `(author_id,
/// created_at, id)` index, merged, cut to the page, and only then joined to
/// the article rows. Every author in it is followed, by construction.
///
/// The followed authors' users rows are read once (`followed`) and serve
/// three purposes: the authors to merge, each page row's author columns,
/// and the feed's total (the sum of their `articles_authored`), a column so
/// that a page with rows is one round trip, its total read in the same
/// snapshot as its rows. Joining `users` again for the page's rows and again
/// for the total took 30 `users_pkey` descents per page where 10 do
/// (`EXPLAIN (ANALYZE, BUFFERS)` on 1M articles: 268 -> 184 buffers).
///
/// The depth is written into the statement, one of a few fixed values, not
/// bound: with `LIMIT $2` there, PostgreSQL's generic plan for the prepared
/// statement guesses 10 % of an author's articles per author and picks a
/// plan that, at ~14,000 articles per author, runs at half the rate (pgbench,
/// bench/README.md). `$2` is the bound form, for pages deeper than the last
/// fixed depth.
macro_rules! feed_page_pg {
    ($depth:literal) => {
        concat!(
            "WITH followed AS MATERIALIZED ( \
                 SELECT u.id, u.username, u.bio, u.image, u.articles_authored \
                 FROM follows f JOIN users u ON u.id = f.followee_id \
                 WHERE f.follower_id = $1 \
             ) \
             SELECT a.id, a.slug, a.title, a.description, a.author_id, a.favorites_count, \
                    a.created_at, a.updated_at, a.tag_list, \
                    page.author_id, page.username, page.bio, page.image, \
                    EXISTS (SELECT 1 FROM favorites fa WHERE fa.user_id = $1 AND fa.article_id = a.id), \
                    true, \
                    (SELECT CAST(COALESCE(SUM(fo.articles_authored), 0) AS BIGINT) FROM followed fo) \
             FROM ( \
                 SELECT newest.id, newest.created_at, \
                        fo.id AS author_id, fo.username, fo.bio, fo.image \
                 FROM followed fo \
                 CROSS JOIN LATERAL ( \
                     SELECT a.id, a.created_at FROM articles a \
                     WHERE a.author_id = fo.id \
                     ORDER BY a.created_at DESC, a.id DESC \
                     LIMIT ",
            $depth,
            " \
                 ) newest \
                 ORDER BY newest.created_at DESC, newest.id DESC \
                 LIMIT $3 OFFSET $4 \
             ) page \
             JOIN articles a ON a.id = page.id \
             ORDER BY page.created_at DESC, page.id DESC"
        )
    };
}

/// The fixed depths of `feed_page_pg!`, ascending; a page reaching deeper
/// binds its depth. Each is its own prepared statement on a connection.
const FEED_DEPTHS: [i64; 6] = [20, 50, 100, 200, 500, 1000];

/// `feed_page_pg!` at depth `DEPTH` (one of `FEED_DEPTHS`; 0: bound as
/// `$2`), prepared once per connection and depth.
pub struct FeedPagePg<const DEPTH: i64> {
    follower: i64,
    depth: i64,
    limit: i64,
    offset: i64,
}

impl<const DEPTH: i64> FeedPagePg<DEPTH> {
    const SQL: &'static str = match DEPTH {
        20 => feed_page_pg!("20"),
        50 => feed_page_pg!("50"),
        100 => feed_page_pg!("100"),
        200 => feed_page_pg!("200"),
        500 => feed_page_pg!("500"),
        1000 => feed_page_pg!("1000"),
        _ => feed_page_pg!("$2"),
    };
}

counted_page_statement!(FeedPagePg { "1" => follower, "2" => depth, "3" => limit, "4" => offset });

/// PostgreSQL's feed page: `limit` articles of `follower`'s feed from
/// `offset`, newest first, as rows of `CountedRowSql`, or `None` on another
/// backend. Its cost is bounded by followed authors × (offset + limit)
/// index entries. The portable `author_id IN (followed)` query (what SQLite
/// runs) gets one of two plans here, each unbounded: under a prepared
/// statement's generic plan it reads every article of every followed author
/// and sorts them (12 ms instead of 1 ms with ~1,000 articles per author,
/// EXPLAIN ANALYZE in bench/README.md); the other plan walks the date index
/// until it has found a page, i.e. the whole table when those authors are
/// inactive.
pub fn feed_page<T>(
    conn: &mut DbConnection,
    follower: UserId,
    limit: i64,
    offset: i64,
) -> Option<QueryResult<Vec<T>>>
where
    T: FromSqlRow<CountedRowSql, Pg> + 'static,
{
    let DbConnection::Pg(pg) = conn else {
        return None;
    };
    let needed = offset.saturating_add(limit);
    let depth = FEED_DEPTHS
        .into_iter()
        .find(|&d| d >= needed)
        .unwrap_or(needed);
    macro_rules! at {
        ($depth:literal) => {
            FeedPagePg::<$depth> {
                follower: follower.get(),
                depth,
                limit,
                offset,
            }
            .load(pg)
        };
    }
    Some(match depth {
        20 => at!(20),
        50 => at!(50),
        100 => at!(100),
        200 => at!(200),
        500 => at!(500),
        1000 => at!(1000),
        _ => at!(0),
    })
}

/// The number of articles on the site, `counters::site_total` as a column
/// of the unfiltered list's page statement: a page that has rows costs one
/// round trip, its total read in the same snapshot as its rows.
macro_rules! site_total_pg {
    () => {
        "(SELECT CAST(COALESCE(SUM(c.value), 0) AS BIGINT) \
           FROM counters c WHERE c.name LIKE 'articles/%')"
    };
}

/// The unfiltered list's page on PostgreSQL as `viewer` (`$1`, 0 when
/// anonymous) sees it: the newest articles from the `(created_at, id)`
/// index, with their authors, the viewer's flags and the site's total.
///
/// A first page of 10 or 20 (what the RealWorld frontends and most clients
/// ask for) has its limit and offset written in. With `LIMIT $2 OFFSET $3`
/// bound, PostgreSQL's generic plan assumes a tenth of the table is wanted,
/// costs more than a plan for 20 rows, and so every execution is planned
/// afresh (`pg_prepared_statements.custom_plans`); written in, the generic
/// plan is the same plan and is kept after five executions.
///
/// A bound page starts only if its offset is below the site's total (a
/// one-time filter): a page past the end then reads no rows, as it did when
/// the total was read first, instead of walking the whole index to skip them.
macro_rules! list_page_pg {
    ($gate:expr, $limits:literal) => {
        concat!(
            "SELECT a.id, a.slug, a.title, a.description, a.author_id, a.favorites_count, \
                    a.created_at, a.updated_at, a.tag_list, \
                    u.id, u.username, u.bio, u.image, \
                    EXISTS (SELECT 1 FROM favorites fa WHERE fa.user_id = $1 AND fa.article_id = a.id), \
                    EXISTS (SELECT 1 FROM follows fo WHERE fo.follower_id = $1 AND fo.followee_id = a.author_id), ",
            site_total_pg!(),
            " FROM articles a JOIN users u ON u.id = a.author_id",
            $gate,
            " ORDER BY a.created_at DESC, a.id DESC LIMIT ",
            $limits
        )
    };
}

/// `list_page_pg!` for a first page of `FIRST` articles (10 or 20; 0: any
/// page, bound), prepared once per connection and form.
struct ListPagePg<const FIRST: i64> {
    viewer: i64,
    limit: i64,
    offset: i64,
}

impl<const FIRST: i64> ListPagePg<FIRST> {
    const SQL: &'static str = match FIRST {
        10 => list_page_pg!("", "10 OFFSET 0"),
        20 => list_page_pg!("", "20 OFFSET 0"),
        _ => list_page_pg!(concat!(" WHERE $3 < ", site_total_pg!()), "$2 OFFSET $3"),
    };
}

counted_page_statement!(ListPagePg { "1" => viewer, "2" => limit, "3" => offset });

/// PostgreSQL's unfiltered list page: `limit` articles from `offset`,
/// newest first, as `viewer` (a `viewer_key`) sees them, each row with the
/// site's total, or `None` on another backend.
pub fn list_page<T>(
    conn: &mut DbConnection,
    viewer: i64,
    limit: i64,
    offset: i64,
) -> Option<QueryResult<Vec<T>>>
where
    T: FromSqlRow<CountedRowSql, Pg> + 'static,
{
    let DbConnection::Pg(pg) = conn else {
        return None;
    };
    macro_rules! at {
        ($first:literal) => {
            ListPagePg::<$first> {
                viewer,
                limit,
                offset,
            }
            .load(pg)
        };
    }
    Some(match (limit, offset) {
        (10, 0) => at!(10),
        (20, 0) => at!(20),
        _ => at!(0),
    })
}

/// The SQLite create: each step a statement, the counters through the shared
/// `counters::apply_article_change`.
fn create_article_in_steps(
    conn: &mut DbConnection,
    row: &NewArticleRow<'_>,
    shard: Shard,
) -> QueryResult<Option<CreatedArticle>> {
    let DbConnection::Sqlite(sqlite) = conn else {
        return Err(diesel::result::Error::QueryBuilderError(
            "the step-wise create is SQLite's".into(),
        ));
    };
    let id: Option<i64> = diesel::insert_into(articles::table)
        .values((
            articles::slug.eq(row.slug),
            articles::title.eq(row.title),
            articles::description.eq(row.description),
            articles::body.eq(row.body),
            articles::author_id.eq(row.author.get()),
            articles::created_at.eq(row.created_at),
            articles::updated_at.eq(row.created_at),
            articles::tag_list.eq(row.tag_list),
        ))
        .on_conflict(articles::slug)
        .do_nothing()
        .returning(articles::id)
        .get_result(sqlite)
        .optional()?;
    let Some(id) = id else {
        return Ok(None);
    };
    link_tags(conn, ArticleId::new(id), row.tag_ids)?;
    let change = ArticleChange {
        author: row.author,
        favoriters: &[],
        tags: row.tag_ids,
        delta: 1,
    };
    counters::apply_article_change(conn, &change, shard)?;
    let (username, bio, image) = users::table
        .find(row.author.get())
        .select((users::username, users::bio, users::image))
        .first(conn)?;
    Ok(Some(CreatedArticle {
        id,
        username,
        bio,
        image,
    }))
}

fn link_tags(conn: &mut DbConnection, article: ArticleId, tag_ids: &[i64]) -> QueryResult<()> {
    if tag_ids.is_empty() {
        return Ok(());
    }
    let links: Vec<_> = tag_ids
        .iter()
        .map(|t| {
            (
                article_tags::article_id.eq(article.get()),
                article_tags::tag_id.eq(*t),
            )
        })
        .collect();
    execute(
        conn,
        diesel::insert_into(article_tags::table).values(&links),
    )?;
    Ok(())
}

/// Per-connection settings applied once when the pool opens a connection.
pub(super) fn prepare_session(
    conn: &mut DbConnection,
    statement_timeout: Duration,
) -> QueryResult<()> {
    match conn {
        // No Memoize nodes: for a page joined to its authors the planner
        // sizes Memoize's hash table by the authors of the whole table, not
        // of the page it ends up reading, and builds it on every execution:
        // on 1M articles that was most of an anonymous list page's time
        // (0.2 ms in the plan's nodes, 1.5 ms in all), and pgbench ran the
        // statement at ~6,000 tx/s with it and 8,000-10,500 without. A page
        // of 20 rows has next to nothing to memoize (bench/README.md).
        DbConnection::Pg(c) => c.batch_execute(&format!(
            "SET statement_timeout = {}; SET lock_timeout = {}; SET enable_memoize = off",
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
pub(super) fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, BoxError> {
    match conn {
        DbConnection::Pg(c) => migrate_postgres(c),
        DbConnection::Sqlite(c) => c.exclusive_transaction::<_, BoxError, _>(|c| {
            let versions = c.run_pending_migrations(SQLITE_MIGRATIONS)?;
            Ok(versions.iter().map(|v| v.to_string()).collect())
        }),
    }
}

fn migrate_postgres(c: &mut PgConnection) -> Result<Vec<String>, BoxError> {
    c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
    let result = c
        .run_pending_migrations(PG_MIGRATIONS)
        .map(|versions| versions.iter().map(|v| v.to_string()).collect());
    let unlock = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
    let applied = result?;
    unlock?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_page_sums_the_site_counter_shards() {
        let pattern = format!("c.name LIKE '{}%'", counters::SITE_PREFIX);
        for sql in [
            ListPagePg::<10>::SQL,
            ListPagePg::<20>::SQL,
            ListPagePg::<0>::SQL,
        ] {
            assert!(sql.contains(&pattern), "{sql}");
        }
    }
}
