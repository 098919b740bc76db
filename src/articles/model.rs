//! Row structs of `articles` and the assembled view of one article.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::articles;
use crate::profiles::repo::AuthorRow;

/// Everything a list item shows; no body.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = articles)]
pub struct ArticleSummaryRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub author_id: i64,
    pub favorites_count: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Sorted tag names as a JSON array (see the `article_tag_list` migration).
    pub tag_list: String,
}

impl ArticleSummaryRow {
    pub fn tags(&self) -> Vec<String> {
        serde_json::from_str(&self.tag_list).unwrap_or_else(|e| {
            log::error!("article {} has a malformed tag_list: {e}", self.id);
            Vec::new()
        })
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

#[derive(Insertable)]
#[diesel(table_name = articles)]
pub struct NewArticleRow<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub body: &'a str,
    pub author_id: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub tag_list: &'a str,
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
    pub tags: Vec<String>,
    pub author: AuthorRow,
    pub favorited: bool,
    pub following: bool,
}
