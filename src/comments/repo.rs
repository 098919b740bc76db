//! Queries on `comments`.

use diesel::dsl::exists;
use diesel::prelude::*;

use super::model::CommentRow;
use crate::db::schema::{articles, comments, follows, users};
use crate::db::{on_backend, DbConnection};
use crate::domain::ids::viewer_key;
use crate::domain::{ArticleId, CommentId, Slug, UserId, Viewer};
use crate::profiles::repo::AuthorRow;
use crate::timestamp;

pub fn article_id(conn: &mut DbConnection, slug: &Slug) -> QueryResult<Option<ArticleId>> {
    articles::table
        .filter(articles::slug.eq(slug.as_str()))
        .select(articles::id)
        .first::<i64>(conn)
        .optional()
        .map(|id| id.map(ArticleId::new))
}

/// Comments of an article, oldest first, with whether `viewer` follows each author.
pub fn list(
    conn: &mut DbConnection,
    article: ArticleId,
    viewer: Viewer,
) -> QueryResult<Vec<(CommentRow, AuthorRow, bool)>> {
    on_backend!(conn, |c| comments::table
        .inner_join(users::table)
        .filter(comments::article_id.eq(article.get()))
        .select((
            CommentRow::as_select(),
            AuthorRow::as_select(),
            exists(
                follows::table
                    .filter(follows::follower_id.eq(viewer_key(viewer)))
                    .filter(follows::followee_id.eq(comments::author_id)),
            ),
        ))
        .order((comments::created_at.asc(), comments::id.asc()))
        .load(c))
}

pub fn insert(
    conn: &mut DbConnection,
    article: ArticleId,
    author: UserId,
    body: &str,
) -> QueryResult<CommentRow> {
    let now = timestamp::now();
    diesel::insert_into(comments::table)
        .values((
            comments::body.eq(body),
            comments::article_id.eq(article.get()),
            comments::author_id.eq(author.get()),
            comments::created_at.eq(now),
            comments::updated_at.eq(now),
        ))
        .returning((
            comments::id,
            comments::body,
            comments::author_id,
            comments::created_at,
            comments::updated_at,
        ))
        .get_result(conn)
}

/// The author of comment `id` on article `article`.
pub fn find_author(
    conn: &mut DbConnection,
    article: ArticleId,
    id: CommentId,
) -> QueryResult<Option<UserId>> {
    comments::table
        .filter(comments::id.eq(id.get()))
        .filter(comments::article_id.eq(article.get()))
        .select(comments::author_id)
        .first::<i64>(conn)
        .optional()
        .map(|a| a.map(UserId::new))
}

pub fn delete(conn: &mut DbConnection, id: CommentId) -> QueryResult<usize> {
    diesel::delete(comments::table.find(id.get())).execute(conn)
}
