//! Row structs of `comments`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::comments;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = comments)]
pub struct CommentRow {
    pub id: i64,
    pub body: String,
    pub author_id: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = comments)]
pub struct NewCommentRow<'a> {
    pub body: &'a str,
    pub article_id: i64,
    pub author_id: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
