//! Queries on articles, their tags and favorites. A page of articles is a
//! constant number of statements whatever its size: filters resolved first
//! (which also yields the total from a maintained counter), then one page
//! query joined to authors with the viewer's favorite/follow flags (tag names
//! are stored on the article row).

use diesel::dsl::{count_star, exists};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
use diesel::upsert::excluded;

use super::model::{ArticleChanges, ArticleRow, ArticleSummaryRow, ArticleView, NewArticleRow};
use super::slug;
use crate::db::functions::lower;
use crate::db::schema::{
    article_tags, articles, counters, favorites, follows, tag_counts, tags, users,
};
use crate::db::{dialect, on_backend, write_tx, Db, DbConnection};
use crate::error::AppResult;
use crate::profiles::repo::AuthorRow;
use crate::timestamp;

/// The site-wide article count (`counters` rows `articles/0` ..) and each
/// tag's count (`tag_counts` rows) are spread over this many shards, so
/// concurrent writers rarely meet on one row lock.
const COUNTER_SHARDS: u32 = 16;
const SLUG_ATTEMPTS: usize = 8;

/// What a list may be narrowed by (all optional, combined with AND).
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub tag: Option<String>,
    pub author: Option<String>,
    pub favorited: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// A filter resolved to ids, with the counter that gives its total.
#[derive(Debug, Clone, Copy)]
enum Resolved {
    Tag(i64),
    Author(i64),
    Favorited(i64),
    Feed(i64),
}

#[diesel::dsl::auto_type]
fn favorited_by(viewer: i64) -> _ {
    exists(
        favorites::table
            .filter(favorites::user_id.eq(viewer))
            .filter(favorites::article_id.eq(articles::id)),
    )
}

#[diesel::dsl::auto_type]
fn author_followed_by(viewer: i64) -> _ {
    exists(
        follows::table
            .filter(follows::follower_id.eq(viewer))
            .filter(follows::followee_id.eq(articles::author_id)),
    )
}

type ArticlesWithAuthors<'a> =
    diesel::dsl::IntoBoxed<'a, diesel::dsl::InnerJoin<articles::table, users::table>, Db>;

// One condition per filter, shared by the static page queries and the boxed
// query for combinations.

#[diesel::dsl::auto_type]
fn has_tag(tag_id: i64) -> _ {
    articles::id.eq_any(
        article_tags::table
            .filter(article_tags::tag_id.eq(tag_id))
            .select(article_tags::article_id),
    )
}

#[diesel::dsl::auto_type]
fn written_by(author_id: i64) -> _ {
    articles::author_id.eq(author_id)
}

#[diesel::dsl::auto_type]
fn favorited_by_user(user_id: i64) -> _ {
    articles::id.eq_any(
        favorites::table
            .filter(favorites::user_id.eq(user_id))
            .select(favorites::article_id),
    )
}

#[diesel::dsl::auto_type]
fn in_feed_of(follower: i64) -> _ {
    articles::author_id.eq_any(
        follows::table
            .filter(follows::follower_id.eq(follower))
            .select(follows::followee_id),
    )
}

fn filtered<'a>(filters: &[Resolved]) -> ArticlesWithAuthors<'a> {
    let mut q = articles::table.inner_join(users::table).into_boxed();
    for f in filters {
        q = match *f {
            Resolved::Tag(id) => q.filter(has_tag(id)),
            Resolved::Author(id) => q.filter(written_by(id)),
            Resolved::Favorited(id) => q.filter(favorited_by_user(id)),
            Resolved::Feed(id) => q.filter(in_feed_of(id)),
        };
    }
    q
}

/// A user's id and one of their counters, by username.
fn user_counter(
    conn: &mut DbConnection,
    username: &str,
    favorited: bool,
) -> QueryResult<Option<(i64, i64)>> {
    let q = users::table.filter(lower(users::username).eq(username.to_lowercase()));
    if favorited {
        q.select((users::id, users::articles_favorited))
            .first(conn)
            .optional()
    } else {
        q.select((users::id, users::articles_authored))
            .first(conn)
            .optional()
    }
}

/// Resolves names to ids. `None` means a filter matches nothing.
fn resolve(
    conn: &mut DbConnection,
    filter: &ListFilter,
) -> QueryResult<Option<(Vec<Resolved>, Option<i64>)>> {
    let mut resolved = Vec::new();
    let mut total = None;
    if let Some(name) = &filter.tag {
        // A tag's count is the sum of its shards (no rows: a tag never used).
        let shards: Vec<(i64, Option<i64>)> = tags::table
            .left_join(tag_counts::table)
            .filter(tags::name.eq(name))
            .select((tags::id, tag_counts::articles_count.nullable()))
            .load(conn)?;
        let Some(&(id, _)) = shards.first() else {
            return Ok(None);
        };
        let count = shards.iter().filter_map(|(_, c)| *c).sum();
        resolved.push(Resolved::Tag(id));
        total = Some(count);
    }
    if let Some(name) = &filter.author {
        let Some((id, count)) = user_counter(conn, name, false)? else {
            return Ok(None);
        };
        resolved.push(Resolved::Author(id));
        total = Some(count);
    }
    if let Some(name) = &filter.favorited {
        let Some((id, count)) = user_counter(conn, name, true)? else {
            return Ok(None);
        };
        resolved.push(Resolved::Favorited(id));
        total = Some(count);
    }
    // With two or more filters no single counter is the total.
    Ok(Some((
        resolved.clone(),
        total.filter(|_| resolved.len() == 1),
    )))
}

fn site_total(conn: &mut DbConnection) -> QueryResult<i64> {
    let shards: Vec<i64> = counters::table
        .filter(counters::name.like("articles/%"))
        .select(counters::value)
        .load(conn)?;
    Ok(shards.iter().sum())
}

/// Global list (optionally filtered), newest first. Returns the page and the
/// total number of matches.
pub fn list(
    conn: &mut DbConnection,
    filter: &ListFilter,
    page: Page,
    viewer: i64,
) -> QueryResult<(Vec<ArticleView>, i64)> {
    let Some((filters, counted)) = resolve(conn, filter)? else {
        return Ok((Vec::new(), 0));
    };
    let total = match counted {
        Some(n) => n,
        None if filters.is_empty() => site_total(conn)?,
        None => filtered(&filters).select(count_star()).first(conn)?,
    };
    let items = if page.offset >= total {
        Vec::new()
    } else {
        load_page(conn, &filters, page, viewer)?
    };
    Ok((items, total))
}

/// Articles by authors `viewer` follows, newest first.
pub fn feed(
    conn: &mut DbConnection,
    page: Page,
    viewer: i64,
) -> QueryResult<(Vec<ArticleView>, i64)> {
    let counts: Vec<i64> = users::table
        .filter(
            users::id.eq_any(
                follows::table
                    .filter(follows::follower_id.eq(viewer))
                    .select(follows::followee_id),
            ),
        )
        .select(users::articles_authored)
        .load(conn)?;
    let total: i64 = counts.iter().sum();
    if page.offset >= total {
        return Ok((Vec::new(), total));
    }
    let items = load_page(conn, &[Resolved::Feed(viewer)], page, viewer)?;
    Ok((items, total))
}

/// One row of a page: the article, its author, and the viewer's flags.
type PageRow = (ArticleSummaryRow, AuthorRow, bool, bool);

/// Selects, orders and paginates `$query` (articles joined to users) and loads it.
macro_rules! load_page_of {
    ($query:expr, $conn:expr, $page:expr, $viewer:expr) => {
        $query
            .select((
                ArticleSummaryRow::as_select(),
                AuthorRow::as_select(),
                favorited_by($viewer),
                author_followed_by($viewer),
            ))
            .order((articles::created_at.desc(), articles::id.desc()))
            .limit($page.limit)
            .offset($page.offset)
            .load::<PageRow>($conn)
    };
}

/// The page query. The common shapes (no filter, one filter, feed) are
/// static queries, which Diesel prepares once per connection and PostgreSQL
/// then runs from a cached plan; planning costs more than executing these.
/// Rarer combinations of filters use a boxed (unprepared) query.
fn page_rows(
    conn: &mut DbConnection,
    filters: &[Resolved],
    page: Page,
    viewer: i64,
) -> QueryResult<Vec<PageRow>> {
    let joined = articles::table.inner_join(users::table);
    match filters {
        [] => load_page_of!(joined, conn, page, viewer),
        [Resolved::Tag(id)] => load_page_of!(joined.filter(has_tag(*id)), conn, page, viewer),
        [Resolved::Author(id)] => load_page_of!(joined.filter(written_by(*id)), conn, page, viewer),
        [Resolved::Favorited(id)] => {
            load_page_of!(joined.filter(favorited_by_user(*id)), conn, page, viewer)
        }
        [Resolved::Feed(id)] => load_page_of!(joined.filter(in_feed_of(*id)), conn, page, viewer),
        _ => load_page_of!(filtered(filters), conn, page, viewer),
    }
}

fn load_page(
    conn: &mut DbConnection,
    filters: &[Resolved],
    page: Page,
    viewer: i64,
) -> QueryResult<Vec<ArticleView>> {
    let rows = page_rows(conn, filters, page, viewer)?;
    Ok(rows
        .into_iter()
        .map(|(summary, author, favorited, following)| ArticleView {
            tags: summary.tags(),
            summary,
            body: None,
            author,
            favorited,
            following,
        })
        .collect())
}

/// One article with body, as `viewer` sees it.
pub fn find_view(
    conn: &mut DbConnection,
    slug: &str,
    viewer: i64,
) -> QueryResult<Option<ArticleView>> {
    let row: Option<(ArticleRow, AuthorRow, bool, bool)> = articles::table
        .inner_join(users::table)
        .filter(articles::slug.eq(slug))
        .select((
            ArticleRow::as_select(),
            AuthorRow::as_select(),
            favorited_by(viewer),
            author_followed_by(viewer),
        ))
        .first(conn)
        .optional()?;
    let Some((article, author, favorited, following)) = row else {
        return Ok(None);
    };
    let tags = article.summary.tags();
    Ok(Some(ArticleView {
        summary: article.summary,
        body: Some(article.body),
        tags,
        author,
        favorited,
        following,
    }))
}

/// What write paths need to know about an article before changing it.
#[derive(Queryable, Debug)]
pub struct ArticleRef {
    pub id: i64,
    pub author_id: i64,
    pub title: String,
}

pub fn find_ref(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<ArticleRef>> {
    articles::table
        .filter(articles::slug.eq(slug))
        .select((articles::id, articles::author_id, articles::title))
        .first(conn)
        .optional()
}

pub struct NewArticle {
    pub title: String,
    pub description: String,
    pub body: String,
    /// Trimmed, de-duplicated and sorted.
    pub tags: Vec<String>,
}

/// Creates an article with a unique slug, its tags and every counter that
/// counts it. Row locks are taken in the order every write path uses
/// (article, users by id, tag count shards by tag id, a counter shard), so
/// none deadlock.
///
/// PostgreSQL: tags are looked up (and missing ones created) first, then one
/// statement per slug attempt inserts the article and its links and moves
/// the counters; a single statement is atomic, so no transaction is needed
/// and a create is usually two round trips. SQLite: the same steps as
/// separate statements in one write transaction.
pub fn create(conn: &mut DbConnection, author_id: i64, new: &NewArticle) -> AppResult<ArticleView> {
    if let DbConnection::Sqlite(_) = conn {
        return write_tx(conn, |conn| Ok(insert_in_steps(conn, author_id, new)?));
    }
    let tag_ids = tag_ids_creating_missing(conn, &new.tags)?;
    let DbConnection::Pg(pg) = conn else {
        unreachable!("checked above")
    };
    let now = timestamp::now();
    let base = slug::base(&new.title);
    let tag_list = tag_list_json(&new.tags)?;
    let shard = fastrand::u32(..COUNTER_SHARDS);
    for attempt in 0..SLUG_ATTEMPTS {
        let candidate = slug::candidate(&base, attempt);
        let created: Option<CreatedRow> = diesel::sql_query(CREATE_ARTICLE_PG)
            .bind::<Text, _>(&candidate)
            .bind::<Text, _>(&new.title)
            .bind::<Text, _>(&new.description)
            .bind::<Text, _>(&new.body)
            .bind::<BigInt, _>(author_id)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(&tag_list)
            .bind::<Array<BigInt>, _>(&tag_ids)
            .bind::<BigInt, _>(i64::from(shard))
            .bind::<Text, _>(format!("articles/{shard}"))
            .get_result(pg)
            .optional()?;
        if let Some(row) = created {
            let author = AuthorRow {
                id: author_id,
                username: row.username,
                bio: row.bio,
                image: row.image,
            };
            return Ok(new_view(
                row.id, candidate, author_id, now, tag_list, new, author,
            ));
        }
    }
    Err(no_free_slug(&base).into())
}

/// One slug attempt of a PostgreSQL create. `ON CONFLICT DO NOTHING` makes a
/// taken slug return no row, and every other part depends on the inserted
/// row, so such an attempt changes nothing. Lock order: the final SELECT
/// runs `article` and `author` (users row) first; the remaining parts run
/// after it, in an order PostgreSQL does not promise, so `site_total` reads
/// `tag_totals`, which makes the tag count shards (upserted in tag id order)
/// locked before the counter shard — the order `delete` uses too.
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
    UPDATE counters SET value = value + 1
    WHERE name = $10 AND EXISTS (SELECT 1 FROM article)
      AND (SELECT count(*) FROM tag_totals) >= 0
)
SELECT article.id, author.username, author.bio, author.image FROM article, author";

#[derive(QueryableByName)]
struct CreatedRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Nullable<Text>)]
    bio: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    image: Option<String>,
}

fn tag_list_json(tags: &[String]) -> QueryResult<String> {
    serde_json::to_string(tags).map_err(|e| DieselError::SerializationError(Box::new(e)))
}

fn no_free_slug(base: &str) -> DieselError {
    DieselError::DatabaseError(
        DatabaseErrorKind::UniqueViolation,
        Box::new(format!("no free slug for base {base:?}")),
    )
}

fn new_view(
    id: i64,
    slug: String,
    author_id: i64,
    now: chrono::NaiveDateTime,
    tag_list: String,
    new: &NewArticle,
    author: AuthorRow,
) -> ArticleView {
    ArticleView {
        summary: ArticleSummaryRow {
            id,
            slug,
            title: new.title.clone(),
            description: new.description.clone(),
            author_id,
            favorites_count: 0,
            created_at: now,
            updated_at: now,
            tag_list,
        },
        body: Some(new.body.clone()),
        tags: new.tags.clone(),
        author,
        favorited: false,
        following: false,
    }
}

/// The SQLite create: each step a statement, in the caller's write transaction.
fn insert_in_steps(
    conn: &mut DbConnection,
    author_id: i64,
    new: &NewArticle,
) -> QueryResult<ArticleView> {
    let now = timestamp::now();
    let base = slug::base(&new.title);
    let tag_list = tag_list_json(&new.tags)?;
    let mut inserted = None;
    for attempt in 0..SLUG_ATTEMPTS {
        let candidate = slug::candidate(&base, attempt);
        let row = NewArticleRow {
            slug: &candidate,
            title: &new.title,
            description: &new.description,
            body: &new.body,
            author_id,
            created_at: now,
            updated_at: now,
            tag_list: &tag_list,
        };
        let id: Option<i64> = on_backend!(conn, |c| diesel::insert_into(articles::table)
            .values(&row)
            .on_conflict(articles::slug)
            .do_nothing()
            .returning(articles::id)
            .get_result(c)
            .optional())?;
        if let Some(id) = id {
            inserted = Some((id, candidate));
            break;
        }
    }
    let Some((id, slug)) = inserted else {
        return Err(no_free_slug(&base));
    };
    let tag_ids = tag_ids_creating_missing(conn, &new.tags)?;
    link_tags(conn, id, &tag_ids)?;
    let author: AuthorRow = diesel::update(users::table.find(author_id))
        .set(users::articles_authored.eq(users::articles_authored + 1))
        .returning((users::id, users::username, users::bio, users::image))
        .get_result(conn)?;
    adjust_article_counts(conn, &tag_ids, 1)?;
    Ok(new_view(id, slug, author_id, now, tag_list, new, author))
}

/// The ids of the tags named (sorted, de-duplicated), creating the missing
/// ones; ascending. Takes no locks on existing tag rows.
fn tag_ids_creating_missing(conn: &mut DbConnection, names: &[String]) -> QueryResult<Vec<i64>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let tag_ids = |conn: &mut DbConnection| {
        tags::table
            .filter(tags::name.eq_any(names))
            .select(tags::id)
            .order(tags::id.asc())
            .load::<i64>(conn)
    };
    // Most tags already exist: one read, and an insert only for new ones.
    let ids = tag_ids(conn)?;
    if ids.len() == names.len() {
        return Ok(ids);
    }
    // `names` is sorted, so concurrent creators insert new tags in one order.
    let new_tags: Vec<_> = names.iter().map(|n| tags::name.eq(n)).collect();
    on_backend!(conn, |c| diesel::insert_into(tags::table)
        .values(&new_tags)
        .on_conflict(tags::name)
        .do_nothing()
        .execute(c))?;
    tag_ids(conn)
}

fn link_tags(conn: &mut DbConnection, article_id: i64, tag_ids: &[i64]) -> QueryResult<()> {
    if tag_ids.is_empty() {
        return Ok(());
    }
    let links: Vec<_> = tag_ids
        .iter()
        .map(|t| {
            (
                article_tags::article_id.eq(article_id),
                article_tags::tag_id.eq(*t),
            )
        })
        .collect();
    on_backend!(conn, |c| diesel::insert_into(article_tags::table)
        .values(&links)
        .execute(c))?;
    Ok(())
}

/// Adds `delta` to the count of each tag in `ids` and to the site total, in
/// one shard picked at random. Rows are locked in (tag id, shard) order by a
/// single upsert of sorted rows, then the counter shard: the order every
/// writer uses, so none deadlock, and writers in different shards of a
/// popular tag do not wait for each other at all.
fn adjust_article_counts(conn: &mut DbConnection, ids: &[i64], delta: i64) -> QueryResult<()> {
    let shard = fastrand::u32(..COUNTER_SHARDS);
    if !ids.is_empty() {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        let rows: Vec<_> = ids
            .iter()
            .map(|id| {
                (
                    tag_counts::tag_id.eq(*id),
                    tag_counts::shard.eq(i64::from(shard)),
                    tag_counts::articles_count.eq(delta),
                )
            })
            .collect();
        on_backend!(conn, |c| diesel::insert_into(tag_counts::table)
            .values(&rows)
            .on_conflict((tag_counts::tag_id, tag_counts::shard))
            .do_update()
            .set(
                tag_counts::articles_count
                    .eq(tag_counts::articles_count + excluded(tag_counts::articles_count)),
            )
            .execute(c))?;
    }
    diesel::update(counters::table.find(format!("articles/{shard}")))
        .set(counters::value.eq(counters::value + delta))
        .execute(conn)?;
    Ok(())
}

/// Applies `changes` (a new title also gets a new unique slug). Returns the new slug.
pub fn update(
    conn: &mut DbConnection,
    id: i64,
    new_slug_base: Option<String>,
    mut changes: ArticleChanges,
) -> QueryResult<String> {
    let Some(base) = new_slug_base else {
        return diesel::update(articles::table.find(id))
            .set(&changes)
            .returning(articles::slug)
            .get_result(conn);
    };
    for attempt in 0..SLUG_ATTEMPTS {
        changes.slug = Some(slug::candidate(&base, attempt));
        // A savepoint, so a taken slug does not abort the outer transaction.
        let result = conn.transaction(|c| {
            diesel::update(articles::table.find(id))
                .set(&changes)
                .returning(articles::slug)
                .get_result(c)
        });
        match result {
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => continue,
            other => return other,
        }
    }
    Err(DieselError::DatabaseError(
        DatabaseErrorKind::UniqueViolation,
        Box::new(format!("no free slug for base {base:?}")),
    ))
}

/// Deletes an article and keeps every counter that counted it exact.
pub fn delete(conn: &mut DbConnection, id: i64, author_id: i64) -> QueryResult<()> {
    let favoriters: Vec<i64> = favorites::table
        .filter(favorites::article_id.eq(id))
        .select(favorites::user_id)
        .load(conn)?;
    let tag_ids: Vec<i64> = article_tags::table
        .filter(article_tags::article_id.eq(id))
        .select(article_tags::tag_id)
        .load(conn)?;
    // The article row first (it cascades to favorites, tags and comments),
    // then users (by id), tag count shards and a counter shard: the common order.
    diesel::delete(articles::table.find(id)).execute(conn)?;
    let mut user_ids = favoriters.clone();
    user_ids.push(author_id);
    user_ids.sort_unstable();
    user_ids.dedup();
    dialect::lock_users_in_order(conn, &user_ids)?;
    if !favoriters.is_empty() {
        diesel::update(users::table.filter(users::id.eq_any(&favoriters)))
            .set(users::articles_favorited.eq(users::articles_favorited - 1))
            .execute(conn)?;
    }
    diesel::update(users::table.find(author_id))
        .set(users::articles_authored.eq(users::articles_authored - 1))
        .execute(conn)?;
    adjust_article_counts(conn, &tag_ids, -1)
}

/// Marks `article_id` as a favorite of `user_id`; idempotent. Counters move
/// only when a row was actually added.
pub fn favorite(conn: &mut DbConnection, user_id: i64, article_id: i64) -> QueryResult<()> {
    let row = (
        favorites::user_id.eq(user_id),
        favorites::article_id.eq(article_id),
        favorites::created_at.eq(timestamp::now()),
    );
    let added = on_backend!(conn, |c| diesel::insert_into(favorites::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    if added == 1 {
        adjust_favorite_counters(conn, user_id, article_id, 1)?;
    }
    Ok(())
}

pub fn unfavorite(conn: &mut DbConnection, user_id: i64, article_id: i64) -> QueryResult<()> {
    let removed = diesel::delete(favorites::table.find((user_id, article_id))).execute(conn)?;
    if removed == 1 {
        adjust_favorite_counters(conn, user_id, article_id, -1)?;
    }
    Ok(())
}

fn adjust_favorite_counters(
    conn: &mut DbConnection,
    user_id: i64,
    article_id: i64,
    delta: i64,
) -> QueryResult<()> {
    diesel::update(articles::table.find(article_id))
        .set(articles::favorites_count.eq(articles::favorites_count + delta))
        .execute(conn)?;
    diesel::update(users::table.find(user_id))
        .set(users::articles_favorited.eq(users::articles_favorited + delta))
        .execute(conn)?;
    Ok(())
}
