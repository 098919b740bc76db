//! Queries on articles, their tags and favorites. A page of articles is a
//! constant number of statements whatever its size: filters resolved first
//! (which also yields the total from a maintained counter), then one page
//! query joined to authors with the viewer's favorite/follow flags (tag names
//! are stored on the article row). On PostgreSQL the unfiltered list's and
//! the feed's pages carry their total themselves: one statement.

use diesel::dsl::{count_star, exists};
use diesel::prelude::*;

use super::model::{ArticleChanges, ArticleRow, ArticleSummaryRow, ArticleView};
use crate::db::constraints::{self, Unique};
use crate::db::counters::{self, ArticleChange, Shard};
use crate::db::dialect::{self, NewArticleRow};
use crate::db::functions::lower;
use crate::db::schema::{article_tags, articles, favorites, follows, users};
use crate::db::{on_backend, Db, DbConnection};
use crate::domain::ids::viewer_key;
use crate::domain::{ArticleId, Slug, TagList, TagName, UserId, Username, Viewer};
use crate::error::{AppError, AppResult};
use crate::profiles::repo::AuthorRow;
use crate::tags::repo as tags;
use crate::timestamp;

/// Slug candidates tried before giving up: the base, then random suffixes.
const SLUG_ATTEMPTS: usize = 8;

/// What a list may be narrowed by (all optional, combined with AND).
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub tag: Option<TagName>,
    pub author: Option<Username>,
    pub favorited: Option<Username>,
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
    Author(UserId),
    Favorited(UserId),
    Feed(UserId),
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
            Resolved::Author(id) => q.filter(written_by(id.get())),
            Resolved::Favorited(id) => q.filter(favorited_by_user(id.get())),
            Resolved::Feed(id) => q.filter(in_feed_of(id.get())),
        };
    }
    q
}

/// A user's id and one of their counters, by username.
fn user_counter(
    conn: &mut DbConnection,
    username: &Username,
    favorited: bool,
) -> QueryResult<Option<(UserId, i64)>> {
    let q = users::table.filter(lower(users::username).eq(username.key()));
    let found: Option<(i64, i64)> = if favorited {
        q.select((users::id, users::articles_favorited))
            .first(conn)
            .optional()?
    } else {
        q.select((users::id, users::articles_authored))
            .first(conn)
            .optional()?
    };
    Ok(found.map(|(id, n)| (UserId::new(id), n)))
}

/// Resolves names to ids. `None` means a filter matches nothing.
fn resolve(
    conn: &mut DbConnection,
    filter: &ListFilter,
) -> QueryResult<Option<(Vec<Resolved>, Option<i64>)>> {
    let mut resolved = Vec::new();
    let mut total = None;
    if let Some(name) = &filter.tag {
        let Some((id, count)) = tags::find_with_count(conn, name)? else {
            return Ok(None);
        };
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
    let total = total.filter(|_| resolved.len() == 1);
    Ok(Some((resolved, total)))
}

/// Global list (optionally filtered), newest first. Returns the page and the
/// total number of matches. On PostgreSQL an unfiltered page is one
/// statement that also carries the site's total, and a page past the end
/// reads the total afterwards; filtered lists (and SQLite) read the total
/// first (a counter, or a count for combined filters) and skip a page past it.
pub fn list(
    conn: &mut DbConnection,
    filter: &ListFilter,
    page: Page,
    viewer: Viewer,
) -> AppResult<(Vec<ArticleView>, i64)> {
    let Some((filters, counted)) = resolve(conn, filter)? else {
        return Ok((Vec::new(), 0));
    };
    if filters.is_empty() {
        let viewer = viewer_key(viewer);
        if let Some(rows) = dialect::list_page::<CountedRow>(conn, viewer, page.limit, page.offset)
        {
            return match counted_views(rows?)? {
                (items, Some(total)) => Ok((items, total)),
                (_, None) => Ok((Vec::new(), counters::site_total(conn)?)),
            };
        }
    }
    let total = match counted {
        Some(n) => n,
        None if filters.is_empty() => counters::site_total(conn)?,
        None => filtered(&filters).select(count_star()).first(conn)?,
    };
    let items = if page.offset >= total {
        Vec::new()
    } else {
        load_page(conn, &filters, page, viewer)?
    };
    Ok((items, total))
}

/// Articles by authors `viewer` follows, newest first. On PostgreSQL a page
/// with rows is one statement that also carries the total; a page past the
/// end (or SQLite) reads the total from the followed authors' counters.
pub fn feed(
    conn: &mut DbConnection,
    page: Page,
    viewer: UserId,
) -> AppResult<(Vec<ArticleView>, i64)> {
    if let Some(rows) = dialect::feed_page::<CountedRow>(conn, viewer, page.limit, page.offset) {
        return match counted_views(rows?)? {
            (items, Some(total)) => Ok((items, total)),
            (_, None) => Ok((Vec::new(), feed_total(conn, viewer)?)),
        };
    }
    let total = feed_total(conn, viewer)?;
    if page.offset >= total {
        return Ok((Vec::new(), total));
    }
    let items = load_page(conn, &[Resolved::Feed(viewer)], page, Some(viewer))?;
    Ok((items, total))
}

/// The number of articles in `viewer`'s feed: the followed authors' counters.
fn feed_total(conn: &mut DbConnection, viewer: UserId) -> AppResult<i64> {
    let counts: Vec<i64> = on_backend!(conn, |c| users::table
        .filter(
            users::id.eq_any(
                follows::table
                    .filter(follows::follower_id.eq(viewer.get()))
                    .select(follows::followee_id),
            ),
        )
        .select(users::articles_authored)
        .load(c))?;
    Ok(counts.iter().sum())
}

/// A row of a PostgreSQL page that carries its total (`dialect::feed_page`,
/// `dialect::list_page`): a page row and the total.
type CountedRow = (ArticleSummaryRow, AuthorRow, bool, bool, i64);

/// The views of a counted page and its total, `None` for a page without
/// rows (past the end), which does not carry it.
fn counted_views(rows: Vec<CountedRow>) -> AppResult<(Vec<ArticleView>, Option<i64>)> {
    let total = rows.first().map(|&(.., total)| total);
    let items = rows
        .into_iter()
        .map(|(summary, author, favorited, following, _)| {
            ArticleView::new((summary, author, favorited, following), None)
        })
        .collect::<AppResult<_>>()?;
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
    viewer: Viewer,
) -> QueryResult<Vec<PageRow>> {
    let viewer = viewer_key(viewer);
    let joined = articles::table.inner_join(users::table);
    match filters {
        // PostgreSQL's unfiltered pages come from `dialect::list_page` (see `list`).
        [] => on_backend!(conn, |c| load_page_of!(joined, c, page, viewer)),
        [Resolved::Tag(id)] => on_backend!(conn, |c| load_page_of!(
            joined.filter(has_tag(*id)),
            c,
            page,
            viewer
        )),
        [Resolved::Author(id)] => on_backend!(conn, |c| load_page_of!(
            joined.filter(written_by(id.get())),
            c,
            page,
            viewer
        )),
        [Resolved::Favorited(id)] => on_backend!(conn, |c| load_page_of!(
            joined.filter(favorited_by_user(id.get())),
            c,
            page,
            viewer
        )),
        // PostgreSQL's feed pages come from `dialect::feed_page` (see `feed`).
        [Resolved::Feed(id)] => on_backend!(conn, |c| load_page_of!(
            joined.filter(in_feed_of(id.get())),
            c,
            page,
            viewer
        )),
        _ => load_page_of!(filtered(filters), conn, page, viewer),
    }
}

fn load_page(
    conn: &mut DbConnection,
    filters: &[Resolved],
    page: Page,
    viewer: Viewer,
) -> AppResult<Vec<ArticleView>> {
    page_rows(conn, filters, page, viewer)?
        .into_iter()
        .map(|row| ArticleView::new(row, None))
        .collect()
}

/// One article with body, as `viewer` sees it.
pub fn find_view(
    conn: &mut DbConnection,
    slug: &Slug,
    viewer: Viewer,
) -> AppResult<Option<ArticleView>> {
    let viewer = viewer_key(viewer);
    let row: Option<(ArticleRow, AuthorRow, bool, bool)> = on_backend!(conn, |c| articles::table
        .inner_join(users::table)
        .filter(articles::slug.eq(slug.as_str()))
        .select((
            ArticleRow::as_select(),
            AuthorRow::as_select(),
            favorited_by(viewer),
            author_followed_by(viewer),
        ))
        .first(c)
        .optional())?;
    row.map(|(article, author, favorited, following)| {
        ArticleView::new(
            (article.summary, author, favorited, following),
            Some(article.body),
        )
    })
    .transpose()
}

/// What write paths need to know about an article before changing it.
#[derive(Debug)]
pub struct ArticleRef {
    pub id: ArticleId,
    pub author: UserId,
    pub title: String,
}

pub fn find_ref(conn: &mut DbConnection, slug: &Slug) -> QueryResult<Option<ArticleRef>> {
    let found: Option<(i64, i64, String)> = articles::table
        .filter(articles::slug.eq(slug.as_str()))
        .select((articles::id, articles::author_id, articles::title))
        .first(conn)
        .optional()?;
    Ok(found.map(|(id, author, title)| ArticleRef {
        id: ArticleId::new(id),
        author: UserId::new(author),
        title,
    }))
}

/// A validated new article.
pub struct NewArticle {
    pub title: String,
    pub description: String,
    pub body: String,
    pub tags: TagList,
}

fn no_free_slug() -> AppError {
    AppError::field(
        "title",
        "gives a slug that is taken too often; try another title",
    )
}

/// Creates an article with a unique slug, its tags and every counter that
/// counts it, inside the caller's write transaction. The slug candidates and
/// tags are handled here for both backends; the insert itself is
/// `dialect::create_article`.
pub fn create(conn: &mut DbConnection, author: UserId, new: &NewArticle) -> AppResult<ArticleView> {
    let tag_ids = tags::ids_creating_missing(conn, &new.tags)?;
    let now = timestamp::now();
    let tag_list = new.tags.to_json();
    let shard = Shard::random();
    for slug in Slug::candidates(&new.title, SLUG_ATTEMPTS) {
        let row = NewArticleRow {
            slug: slug.as_str(),
            title: &new.title,
            description: &new.description,
            body: &new.body,
            author,
            created_at: now,
            tag_list: &tag_list,
            tag_ids: &tag_ids,
        };
        let Some(created) = dialect::create_article(conn, &row, shard)? else {
            continue;
        };
        return Ok(created_view(author, new, slug, now, tag_list, created));
    }
    Err(no_free_slug())
}

/// One article to create, by `author`.
pub struct NewArticleBy {
    pub author: UserId,
    pub article: NewArticle,
}

/// Creates the articles of `batch` (`db::Batcher`), answering each in order
/// exactly as `create` would. Their first slug candidates go in one
/// `dialect::create_articles` statement; an article whose slug was taken,
/// or that shares it with an earlier one of the batch, then goes through
/// `create` for a suffixed slug. A batch that fails as a whole changed
/// nothing, so each article is then created on its own and gets its own
/// answer, unless the connection was lost (the outcome is unknown, and a
/// create is never repeated): then every one gets a 503.
pub fn create_batch(
    conn: &mut DbConnection,
    batch: &[NewArticleBy],
) -> Vec<AppResult<ArticleView>> {
    if let [one] = batch {
        return vec![create(conn, one.author, &one.article)];
    }
    let created = match create_together(conn, batch) {
        Ok(created) => created,
        Err(e @ AppError::Unavailable { .. }) => {
            return batch.iter().map(|_| Err(e.for_another())).collect();
        }
        Err(e) => {
            log::debug!("batched create failed, creating one by one: {e}");
            batch.iter().map(|_| None).collect()
        }
    };
    batch
        .iter()
        .zip(created)
        .map(|(job, view)| match view {
            Some(view) => Ok(view),
            None => create(conn, job.author, &job.article),
        })
        .collect()
}

/// The single statement of `create_batch`: `None` for an article left to
/// `create`.
fn create_together(
    conn: &mut DbConnection,
    batch: &[NewArticleBy],
) -> AppResult<Vec<Option<ArticleView>>> {
    let mut names: Vec<&str> = batch
        .iter()
        .flat_map(|job| job.article.tags.as_slice().iter().map(TagName::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    let ids: std::collections::HashMap<String, i64> =
        tags::named_ids_creating_missing(conn, &names)?
            .into_iter()
            .collect();
    let now = timestamp::now();
    let shard = Shard::random();
    // Each article's first slug candidate, its tags' ids and its tag list;
    // `None` for a slug already taken by an earlier article of the batch.
    let mut seen = std::collections::HashSet::new();
    let mut prepared: Vec<Option<(Slug, Vec<i64>, String)>> = batch
        .iter()
        .map(|job| {
            let slug = Slug::candidates(&job.article.title, 1).next()?;
            if !seen.insert(slug.as_str().to_owned()) {
                return None;
            }
            let mut tag_ids = job
                .article
                .tags
                .as_slice()
                .iter()
                .map(|t| ids.get(t.as_str()).copied())
                .collect::<Option<Vec<i64>>>()?;
            tag_ids.sort_unstable();
            Some((slug, tag_ids, job.article.tags.to_json()))
        })
        .collect();
    let (jobs, rows): (Vec<usize>, Vec<NewArticleRow<'_>>) = batch
        .iter()
        .zip(&prepared)
        .enumerate()
        .filter_map(|(i, (job, prepared))| {
            let (slug, tag_ids, tag_list) = prepared.as_ref()?;
            Some((
                i,
                NewArticleRow {
                    slug: slug.as_str(),
                    title: &job.article.title,
                    description: &job.article.description,
                    body: &job.article.body,
                    author: job.author,
                    created_at: now,
                    tag_list,
                    tag_ids,
                },
            ))
        })
        .unzip();
    let created = dialect::create_articles(conn, &rows, shard)?;
    drop(rows);
    let mut views: Vec<Option<ArticleView>> = batch.iter().map(|_| None).collect();
    for (i, created) in jobs.into_iter().zip(created) {
        let (Some(created), Some((slug, _, tag_list))) = (created, prepared[i].take()) else {
            continue;
        };
        let job = &batch[i];
        views[i] = Some(created_view(
            job.author,
            &job.article,
            slug,
            now,
            tag_list,
            created,
        ));
    }
    Ok(views)
}

/// The view of an article just created, as its author sees it.
fn created_view(
    author: UserId,
    new: &NewArticle,
    slug: Slug,
    now: chrono::NaiveDateTime,
    tag_list: String,
    created: dialect::CreatedArticle,
) -> ArticleView {
    ArticleView {
        summary: ArticleSummaryRow {
            id: ArticleId::new(created.id),
            slug: slug.into_string(),
            title: new.title.clone(),
            description: new.description.clone(),
            author_id: author,
            favorites_count: 0,
            created_at: now,
            updated_at: now,
            tag_list,
        },
        body: Some(new.body.clone()),
        tags: new.tags.clone(),
        author: AuthorRow {
            id: author,
            username: created.username,
            bio: created.bio,
            image: created.image,
        },
        favorited: false,
        following: false,
    }
}

/// Applies `changes`; a title that slugifies differently also gets a new
/// unique slug. Returns the article's slug afterwards.
pub fn update(
    conn: &mut DbConnection,
    article: &ArticleRef,
    mut changes: ArticleChanges,
) -> AppResult<Slug> {
    let new_title = changes
        .title
        .clone()
        .filter(|t| Slug::base(t) != Slug::base(&article.title));
    let Some(title) = new_title else {
        let slug: String = diesel::update(articles::table.find(article.id.get()))
            .set(&changes)
            .returning(articles::slug)
            .get_result(conn)?;
        return Ok(Slug::from_stored(slug));
    };
    for candidate in Slug::candidates(&title, SLUG_ATTEMPTS) {
        changes.slug = Some(candidate.into_string());
        // A savepoint, so a taken slug does not abort the outer transaction.
        let result = conn.transaction(|c| {
            diesel::update(articles::table.find(article.id.get()))
                .set(&changes)
                .returning(articles::slug)
                .get_result::<String>(c)
        });
        match result {
            Err(e) if constraints::unique_violation(&e) == Some(Unique::Slug) => continue,
            other => return Ok(Slug::from_stored(other?)),
        }
    }
    Err(no_free_slug())
}

/// Deletes an article and keeps every counter that counted it exact.
pub fn delete(conn: &mut DbConnection, article: &ArticleRef) -> QueryResult<()> {
    let favoriters: Vec<UserId> = favorites::table
        .filter(favorites::article_id.eq(article.id.get()))
        .select(favorites::user_id)
        .load::<i64>(conn)?
        .into_iter()
        .map(UserId::new)
        .collect();
    let tag_ids: Vec<i64> = article_tags::table
        .filter(article_tags::article_id.eq(article.id.get()))
        .select(article_tags::tag_id)
        .load(conn)?;
    // The article row first (it cascades to favorites, tags and comments),
    // then the counters in their lock order.
    diesel::delete(articles::table.find(article.id.get())).execute(conn)?;
    let change = ArticleChange {
        author: article.author,
        favoriters: &favoriters,
        tags: &tag_ids,
        delta: -1,
    };
    counters::apply_article_change(conn, &change, Shard::random())
}

/// Marks `article` as a favorite of `user`; idempotent. Counters move only
/// when a row was actually added.
pub fn favorite(conn: &mut DbConnection, user: UserId, article: ArticleId) -> QueryResult<()> {
    let row = (
        favorites::user_id.eq(user.get()),
        favorites::article_id.eq(article.get()),
        favorites::created_at.eq(timestamp::now()),
    );
    let added = dialect::execute(
        conn,
        diesel::insert_into(favorites::table)
            .values(row)
            .on_conflict_do_nothing(),
    )?;
    if added == 1 {
        counters::apply_favorite_change(conn, user, article, 1)?;
    }
    Ok(())
}

pub fn unfavorite(conn: &mut DbConnection, user: UserId, article: ArticleId) -> QueryResult<()> {
    let removed =
        diesel::delete(favorites::table.find((user.get(), article.get()))).execute(conn)?;
    if removed == 1 {
        counters::apply_favorite_change(conn, user, article, -1)?;
    }
    Ok(())
}
