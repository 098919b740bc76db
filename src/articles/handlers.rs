//! Handlers of `/articles`: list, feed, read, create, update, delete, favorite.

use actix_web::{web, HttpResponse};

use super::dto::{
    CreateArticleRequest, ListParams, MultipleArticlesResponse, PageParams, SingleArticleResponse,
    UpdateArticleRequest,
};
use super::model::{ArticleChanges, ArticleView};
use super::repo::{self, ArticleRef, NewArticleBy};
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::db::DbConnection;
use crate::domain::{Slug, UserId};
use crate::error::{AppError, AppResult};
use crate::http::json_ok;
use crate::state::AppState;
use crate::timestamp;

const NOT_FOUND: AppError = AppError::NotFound("article");

pub async fn list(
    state: web::Data<AppState>,
    viewer: MaybeAuthUser,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let (filter, page) = params.into_inner().parse()?;
    let Some(filter) = filter else {
        return Ok(HttpResponse::Ok().json(MultipleArticlesResponse::new(Vec::new(), 0)));
    };
    let viewer = viewer.viewer();
    let (views, total) = state
        .read(move |conn| repo::list(conn, &filter, page, viewer))
        .await?;
    page_of(views, total)
}

pub async fn feed(
    state: web::Data<AppState>,
    user: AuthUser,
    params: web::Query<PageParams>,
) -> AppResult<HttpResponse> {
    let page = params.parse()?;
    let (views, total) = state
        .read(move |conn| repo::feed(conn, page, user.id))
        .await?;
    page_of(views, total)
}

/// A list or feed page as JSON, in a buffer sized for its items.
fn page_of(views: Vec<ArticleView>, total: i64) -> AppResult<HttpResponse> {
    let page = MultipleArticlesResponse::new(views, total);
    json_ok(&page, page.size_hint())
}

pub async fn get(
    state: web::Data<AppState>,
    viewer: MaybeAuthUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    let slug = Slug::lookup(&slug).ok_or(NOT_FOUND)?;
    let viewer = viewer.viewer();
    let view = state
        .read(move |conn| repo::find_view(conn, &slug, viewer))
        .await?
        .ok_or(NOT_FOUND)?;
    Ok(HttpResponse::Ok().json(SingleArticleResponse::from(view)))
}

pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<CreateArticleRequest>,
) -> AppResult<HttpResponse> {
    let article = body.into_inner().parse()?;
    // Queued with the creates that arrive meanwhile: their tags are created
    // (idempotently) first, then the articles and every counter in one
    // atomic statement (`repo::create_batch`).
    let job = NewArticleBy {
        author: user.id,
        article,
    };
    let view = state.write_batched(&state.article_creates, job).await?;
    Ok(HttpResponse::Created().json(SingleArticleResponse::from(view)))
}

fn find_article(conn: &mut DbConnection, slug: &Slug) -> AppResult<ArticleRef> {
    repo::find_ref(conn, slug)?.ok_or(NOT_FOUND)
}

/// The article at `slug` if `user` wrote it: 404 / 403 otherwise.
fn owned_article(conn: &mut DbConnection, slug: &Slug, user: UserId) -> AppResult<ArticleRef> {
    let article = find_article(conn, slug)?;
    if article.author != user {
        return Err(AppError::Forbidden(
            "only the author may change this article",
        ));
    }
    Ok(article)
}

pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    slug: web::Path<String>,
    body: web::Json<UpdateArticleRequest>,
) -> AppResult<HttpResponse> {
    let update = body.into_inner().parse()?;
    let slug = Slug::lookup(&slug).ok_or(NOT_FOUND)?;
    let view = state
        .write(move |conn| {
            let article = owned_article(conn, &slug, user.id)?;
            let changes = ArticleChanges {
                slug: None,
                title: update.title,
                description: update.description,
                body: update.body,
                updated_at: Some(timestamp::now()),
            };
            let new_slug = repo::update(conn, &article, changes)?;
            repo::find_view(conn, &new_slug, Some(user.id))?.ok_or(NOT_FOUND)
        })
        .await?;
    Ok(HttpResponse::Ok().json(SingleArticleResponse::from(view)))
}

pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    let slug = Slug::lookup(&slug).ok_or(NOT_FOUND)?;
    state
        .write(move |conn| {
            let article = owned_article(conn, &slug, user.id)?;
            Ok(repo::delete(conn, &article)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn set_favorite(
    state: web::Data<AppState>,
    user: AuthUser,
    slug: String,
    favorite: bool,
) -> AppResult<HttpResponse> {
    let slug = Slug::lookup(&slug).ok_or(NOT_FOUND)?;
    let view = state
        .write(move |conn| {
            let article = find_article(conn, &slug)?;
            if favorite {
                repo::favorite(conn, user.id, article.id)?;
            } else {
                repo::unfavorite(conn, user.id, article.id)?;
            }
            repo::find_view(conn, &slug, Some(user.id))?.ok_or(NOT_FOUND)
        })
        .await?;
    Ok(HttpResponse::Ok().json(SingleArticleResponse::from(view)))
}

pub async fn favorite(
    state: web::Data<AppState>,
    user: AuthUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_favorite(state, user, slug.into_inner(), true).await
}

pub async fn unfavorite(
    state: web::Data<AppState>,
    user: AuthUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_favorite(state, user, slug.into_inner(), false).await
}
