//! Request and response bodies of `/articles`, and their parsing.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::model::ArticleView;
use super::repo::{ListFilter, NewArticle, Page};
use crate::domain::{TagList, TagName, Username};
use crate::error::{AppError, AppResult};
use crate::profiles::dto::Profile;
use crate::users::dto::field;
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
        length(max = DESCRIPTION_MAX, message = "is too long (at most 1000 characters)"),
        custom(function = "validation::storable")
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
        Ok(NewArticle {
            title: title.trim().to_owned(),
            description: description.trim().to_owned(),
            body,
            tags: field("tagList", TagList::parse(&a.tag_list.unwrap_or_default()))?,
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
    #[validate(
        length(max = DESCRIPTION_MAX, message = "is too long (at most 1000 characters)"),
        custom(function = "validation::storable")
    )]
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

/// `?tag=&author=&favorited=&limit=&offset=`. Numbers are read as text and
/// parsed here, so a bad one is reported under its own name.
#[derive(Deserialize)]
pub struct ListParams {
    pub tag: Option<String>,
    pub author: Option<String>,
    pub favorited: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
}

#[derive(Deserialize)]
pub struct PageParams {
    pub limit: Option<String>,
    pub offset: Option<String>,
}

fn number(field: &str, raw: Option<&str>, default: i64, min: i64) -> AppResult<i64> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(default);
    };
    let n: i64 = raw
        .parse()
        .map_err(|_| AppError::field(field, "must be an integer"))?;
    if n < min {
        return Err(AppError::field(field, format!("must be at least {min}")));
    }
    Ok(n)
}

impl PageParams {
    pub fn parse(&self) -> AppResult<Page> {
        page(self.limit.as_deref(), self.offset.as_deref())
    }
}

fn page(limit: Option<&str>, offset: Option<&str>) -> AppResult<Page> {
    Ok(Page {
        limit: number("limit", limit, DEFAULT_LIMIT, 1)?.min(MAX_LIMIT),
        offset: number("offset", offset, 0, 0)?,
    })
}

/// A filter value: blank means "no filter"; `Err(None)` one that no article
/// can match (so the answer is an empty page without a query).
fn filter_value<T>(
    field: &str,
    v: Option<String>,
    lookup: impl FnOnce(&str) -> Option<T>,
) -> AppResult<Result<Option<T>, ()>> {
    match v {
        Some(s) if s.chars().count() > FILTER_MAX => Err(AppError::field(field, "is too long")),
        Some(s) if s.trim().is_empty() => Ok(Ok(None)),
        Some(s) => Ok(lookup(&s).map(Some).ok_or(())),
        None => Ok(Ok(None)),
    }
}

impl ListParams {
    /// The filter and page; `None` for a filter that matches nothing.
    pub fn parse(self) -> AppResult<(Option<ListFilter>, Page)> {
        let page = page(self.limit.as_deref(), self.offset.as_deref())?;
        let tag = filter_value("tag", self.tag, TagName::lookup)?;
        let author = filter_value("author", self.author, Username::lookup)?;
        let favorited = filter_value("favorited", self.favorited, Username::lookup)?;
        let (Ok(tag), Ok(author), Ok(favorited)) = (tag, author, favorited) else {
            return Ok((None, page));
        };
        Ok((
            Some(ListFilter {
                tag,
                author,
                favorited,
            }),
            page,
        ))
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
    pub tag_list: TagList,
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

/// About what one list item takes as JSON (no body): the seeded articles
/// take ~360 bytes, a RealWorld frontend's a little more.
pub const LIST_ITEM_JSON_BYTES: usize = 448;

impl MultipleArticlesResponse {
    /// A starting size for this page's JSON body.
    pub fn size_hint(&self) -> usize {
        64 + self.articles.len() * LIST_ITEM_JSON_BYTES
    }

    pub fn new(views: Vec<ArticleView>, total: i64) -> Self {
        MultipleArticlesResponse {
            articles: views.into_iter().map(Article::from).collect(),
            articles_count: total,
        }
    }
}
