//! Request and response bodies of comments.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::model::CommentRow;
use crate::domain::CommentId;
use crate::error::{AppError, AppResult};
use crate::profiles::dto::Profile;
use crate::profiles::repo::AuthorRow;
use crate::validation::{self, COMMENT_MAX};

#[derive(Deserialize, Validate)]
pub struct NewCommentRequest {
    #[validate(nested)]
    pub comment: NewCommentDto,
}

#[derive(Deserialize, Validate)]
pub struct NewCommentDto {
    #[validate(
        required(message = "can't be blank"),
        length(max = COMMENT_MAX, message = "is too long (at most 10000 characters)"),
        custom(function = "validation::not_blank")
    )]
    pub body: Option<String>,
}

impl NewCommentRequest {
    /// The comment text.
    pub fn parse(self) -> AppResult<String> {
        self.validate()?;
        self.comment
            .body
            .ok_or_else(|| AppError::field("body", "can't be blank"))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: CommentId,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: NaiveDateTime,
    pub body: String,
    pub author: Profile,
}

impl Comment {
    pub fn new(row: CommentRow, author: AuthorRow, following: bool) -> Self {
        Comment {
            id: row.id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            body: row.body,
            author: author.into_profile(following),
        }
    }
}

#[derive(Serialize)]
pub struct SingleCommentResponse {
    pub comment: Comment,
}

#[derive(Serialize)]
pub struct MultipleCommentsResponse {
    pub comments: Vec<Comment>,
}
