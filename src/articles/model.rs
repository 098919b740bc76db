//! Row structs of `articles` and the assembled view of one article.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::articles;
use crate::domain::{ArticleId, TagList, UserId};
use crate::error::{AppError, AppResult};
use crate::profiles::repo::AuthorRow;

/// Everything a list item shows; no body.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = articles)]
pub struct ArticleSummaryRow {
    #[diesel(deserialize_as = i64)]
    pub id: ArticleId,
    pub slug: String,
    pub title: String,
    pub description: String,
    #[diesel(deserialize_as = i64)]
    pub author_id: UserId,
    pub favorites_count: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Sorted tag names as a JSON array (see the `article_tag_list` migration).
    pub tag_list: String,
}

impl ArticleSummaryRow {
    /// The stored tag names; a malformed column is an error, not `[]`.
    pub fn tags(&self) -> AppResult<TagList> {
        TagList::from_json(&self.tag_list)
            .map_err(|e| AppError::internal("reading an article's tag_list", e))
    }
}

/// A single article: the summary plus its body.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = articles)]
pub struct ArticleRow {
    #[diesel(embed)]
    pub summary: ArticleSummaryRow,
    pub body: String,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = articles)]
pub struct ArticleChanges {
    pub slug: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub body: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

/// An article as one viewer sees it, ready to serialise.
#[derive(Debug, Clone)]
pub struct ArticleView {
    pub summary: ArticleSummaryRow,
    /// `None` in lists, which omit the body.
    pub body: Option<String>,
    pub tags: TagList,
    pub author: AuthorRow,
    pub favorited: bool,
    pub following: bool,
}

impl ArticleView {
    pub fn new(
        (summary, author, favorited, following): (ArticleSummaryRow, AuthorRow, bool, bool),
        body: Option<String>,
    ) -> AppResult<Self> {
        Ok(ArticleView {
            tags: summary.tags()?,
            summary,
            body,
            author,
            favorited,
            following,
        })
    }
}
