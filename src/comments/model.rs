//! Row structs of `comments`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::comments;
use crate::domain::{CommentId, UserId};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = comments)]
pub struct CommentRow {
    #[diesel(deserialize_as = i64)]
    pub id: CommentId,
    pub body: String,
    #[diesel(deserialize_as = i64)]
    pub author_id: UserId,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
