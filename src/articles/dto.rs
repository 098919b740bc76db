//! Request and response bodies of `/articles`, and their parsing.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::model::ArticleView;
use super::repo::{ListFilter, NewArticle, Page};
use crate::error::{AppError, AppResult};
use crate::profiles::dto::Profile;
use crate::validation::{self, *};

/// Default and maximum page size. Larger `limit`s are capped, not refused.
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

#[derive(Deserialize, Validate)]
pub struct CreateArticleRequest {
    #[validate(nested)]
    pub article: NewArticleDto,
}

#[derive(Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct NewArticleDto {
    #[validate(
        required(message = "can't be blank"),
        length(max = TITLE_MAX, message = "is too long (at most 200 characters)"),
        custom(function = "validation::not_blank")
    )]
    pub title: Option<String>,
    #[validate(
        required(message = "can't be blank"),
        length(max = DESCRIPTION_MAX, message = "is too long (at most 1000 characters)")
    )]
    pub description: Option<String>,
    #[validate(
        required(message = "can't be blank"),
        length(max = ARTICLE_BODY_MAX, message = "is too long (at most 50000 characters)"),
        custom(function = "validation::not_blank")
    )]
    pub body: Option<String>,
    #[validate(custom(function = "validation::tag_list"))]
    pub tag_list: Option<Vec<String>>,
}

impl CreateArticleRequest {
    pub fn parse(self) -> AppResult<NewArticle> {
        self.validate()?;
        let a = self.article;
        let (Some(title), Some(description), Some(body)) = (a.title, a.description, a.body) else {
            return Err(AppError::body("title, description and body are required"));
        };
        let mut tags: Vec<String> = a
            .tag_list
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.trim().to_owned())
            .collect();
        tags.sort();
        tags.dedup();
        Ok(NewArticle {
            title: title.trim().to_owned(),
            description: description.trim().to_owned(),
            body,
            tags,
        })
    }
}

#[derive(Deserialize, Validate)]
pub struct UpdateArticleRequest {
    #[validate(nested)]
    pub article: UpdateArticleDto,
}

#[derive(Deserialize, Validate)]
pub struct UpdateArticleDto {
    #[validate(
        length(max = TITLE_MAX, message = "is too long (at most 200 characters)"),
        custom(function = "validation::not_blank")
    )]
    pub title: Option<String>,
    #[validate(length(max = DESCRIPTION_MAX, message = "is too long (at most 1000 characters)"))]
    pub description: Option<String>,
    #[validate(
        length(max = ARTICLE_BODY_MAX, message = "is too long (at most 50000 characters)"),
        custom(function = "validation::not_blank")
    )]
    pub body: Option<String>,
}

pub struct ArticleUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub body: Option<String>,
}

impl UpdateArticleRequest {
    pub fn parse(self) -> AppResult<ArticleUpdate> {
        self.validate()?;
        let a = self.article;
        if a.title.is_none() && a.description.is_none() && a.body.is_none() {
            return Err(AppError::body(
                "at least one of title, description or body is required",
            ));
        }
        Ok(ArticleUpdate {
            title: a.title.map(|t| t.trim().to_owned()),
            description: a.description.map(|d| d.trim().to_owned()),
            body: a.body,
        })
    }
}

#[derive(Deserialize)]
pub struct ListParams {
    pub tag: Option<String>,
    pub author: Option<String>,
    pub favorited: Option<String>,
    // Not `#[serde(flatten)]`: flattened query strings lose their number types.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Deserialize)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl PageParams {
    pub fn parse(&self) -> AppResult<Page> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit < 1 {
            return Err(AppError::field("limit", "must be at least 1"));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(AppError::field("offset", "must be at least 0"));
        }
        Ok(Page {
            limit: limit.min(MAX_LIMIT),
            offset,
        })
    }
}

fn filter_value(field: &str, v: Option<String>) -> AppResult<Option<String>> {
    match v {
        Some(s) if s.chars().count() > FILTER_MAX => Err(AppError::field(field, "is too long")),
        Some(s) if s.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

impl ListParams {
    pub fn parse(self) -> AppResult<(ListFilter, Page)> {
        let page = PageParams {
            limit: self.limit,
            offset: self.offset,
        }
        .parse()?;
        let filter = ListFilter {
            tag: filter_value("tag", self.tag)?,
            author: filter_value("author", self.author)?,
            favorited: filter_value("favorited", self.favorited)?,
        };
        Ok((filter, page))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Article {
    pub slug: String,
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub tag_list: Vec<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: NaiveDateTime,
    pub favorited: bool,
    pub favorites_count: i64,
    pub author: Profile,
}

impl From<ArticleView> for Article {
    fn from(v: ArticleView) -> Self {
        Article {
            slug: v.summary.slug,
            title: v.summary.title,
            description: v.summary.description,
            body: v.body,
            tag_list: v.tags,
            created_at: v.summary.created_at,
            updated_at: v.summary.updated_at,
            favorited: v.favorited,
            favorites_count: v.summary.favorites_count,
            author: v.author.into_profile(v.following),
        }
    }
}

#[derive(Serialize)]
pub struct SingleArticleResponse {
    pub article: Article,
}

impl From<ArticleView> for SingleArticleResponse {
    fn from(v: ArticleView) -> Self {
        SingleArticleResponse { article: v.into() }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipleArticlesResponse {
    pub articles: Vec<Article>,
    pub articles_count: i64,
}

impl MultipleArticlesResponse {
    pub fn new(views: Vec<ArticleView>, total: i64) -> Self {
        MultipleArticlesResponse {
            articles: views.into_iter().map(Article::from).collect(),
            articles_count: total,
        }
    }
}
