//! Queries on `comments`.

use diesel::dsl::exists;
use diesel::prelude::*;

use super::model::{CommentRow, NewCommentRow};
use crate::db::schema::{articles, comments, follows, users};
use crate::db::DbConnection;
use crate::profiles::repo::AuthorRow;

pub fn article_id(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<i64>> {
    articles::table
        .filter(articles::slug.eq(slug))
        .select(articles::id)
        .first(conn)
        .optional()
}

/// Comments of an article, oldest first, with whether `viewer` follows each author.
pub fn list(
    conn: &mut DbConnection,
    article_id: i64,
    viewer: i64,
) -> QueryResult<Vec<(CommentRow, AuthorRow, bool)>> {
    comments::table
        .inner_join(users::table)
        .filter(comments::article_id.eq(article_id))
        .select((
            CommentRow::as_select(),
            AuthorRow::as_select(),
            exists(
                follows::table
                    .filter(follows::follower_id.eq(viewer))
                    .filter(follows::followee_id.eq(comments::author_id)),
            ),
        ))
        .order((comments::created_at.asc(), comments::id.asc()))
        .load(conn)
}

pub fn insert(conn: &mut DbConnection, new: &NewCommentRow<'_>) -> QueryResult<CommentRow> {
    diesel::insert_into(comments::table)
        .values(new)
        .returning((
            comments::id,
            comments::body,
            comments::author_id,
            comments::created_at,
            comments::updated_at,
        ))
        .get_result(conn)
}

pub fn author(conn: &mut DbConnection, user_id: i64) -> QueryResult<AuthorRow> {
    users::table
        .find(user_id)
        .select(AuthorRow::as_select())
        .first(conn)
}

/// `author_id` of comment `id` on article `article_id`.
pub fn find_author(conn: &mut DbConnection, article_id: i64, id: i64) -> QueryResult<Option<i64>> {
    comments::table
        .filter(comments::id.eq(id))
        .filter(comments::article_id.eq(article_id))
        .select(comments::author_id)
        .first(conn)
        .optional()
}

pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(comments::table.find(id)).execute(conn)
}
