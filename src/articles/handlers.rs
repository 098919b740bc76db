//! Handlers of `/articles`: list, feed, read, create, update, delete, favorite.

use actix_web::{web, HttpResponse};

use super::dto::{
    CreateArticleRequest, ListParams, MultipleArticlesResponse, PageParams, SingleArticleResponse,
    UpdateArticleRequest,
};
use super::model::ArticleChanges;
use super::repo::{self, ArticleRef};
use super::slug;
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::db::{write_tx, DbConnection, Pool};
use crate::error::{AppError, AppResult};
use crate::profiles::repo::ANONYMOUS;
use crate::timestamp;

pub async fn list(
    pool: web::Data<Pool>,
    viewer: MaybeAuthUser,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let (filter, page) = params.into_inner().parse()?;
    let viewer = viewer.id().unwrap_or(ANONYMOUS);
    let (views, total) = pool
        .run(move |conn| Ok(repo::list(conn, &filter, page, viewer)?))
        .await?;
    Ok(HttpResponse::Ok().json(MultipleArticlesResponse::new(views, total)))
}

pub async fn feed(
    pool: web::Data<Pool>,
    user: AuthUser,
    params: web::Query<PageParams>,
) -> AppResult<HttpResponse> {
    let page = params.parse()?;
    let (views, total) = pool
        .run(move |conn| Ok(repo::feed(conn, page, user.id)?))
        .await?;
    Ok(HttpResponse::Ok().json(MultipleArticlesResponse::new(views, total)))
}

pub async fn get(
    pool: web::Data<Pool>,
    viewer: MaybeAuthUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    let viewer = viewer.id().unwrap_or(ANONYMOUS);
    let slug = slug.into_inner();
    let view = pool
        .run(move |conn| Ok(repo::find_view(conn, &slug, viewer)?))
        .await?
        .ok_or(AppError::NotFound("article"))?;
    Ok(HttpResponse::Ok().json(SingleArticleResponse::from(view)))
}

pub async fn create(
    pool: web::Data<Pool>,
    user: AuthUser,
    body: web::Json<CreateArticleRequest>,
) -> AppResult<HttpResponse> {
    let new = body.into_inner().parse()?;
    let view = pool
        .run(move |conn| repo::create(conn, user.id, &new))
        .await?;
    Ok(HttpResponse::Created().json(SingleArticleResponse::from(view)))
}

fn find_article(conn: &mut DbConnection, slug: &str) -> AppResult<ArticleRef> {
    repo::find_ref(conn, slug)?.ok_or(AppError::NotFound("article"))
}

/// The article at `slug` if `user` wrote it: 404 / 403 otherwise.
fn owned_article(conn: &mut DbConnection, slug: &str, user: i64) -> AppResult<ArticleRef> {
    let article = find_article(conn, slug)?;
    if article.author_id != user {
        return Err(AppError::Forbidden(
            "only the author may change this article",
        ));
    }
    Ok(article)
}

pub async fn update(
    pool: web::Data<Pool>,
    user: AuthUser,
    slug_param: web::Path<String>,
    body: web::Json<UpdateArticleRequest>,
) -> AppResult<HttpResponse> {
    let update = body.into_inner().parse()?;
    let current_slug = slug_param.into_inner();
    let view = pool
        .run(move |conn| {
            write_tx(conn, |conn| {
                let article = owned_article(conn, &current_slug, user.id)?;
                // A new title gets a new slug unless it slugifies the same.
                let new_base = update
                    .title
                    .as_deref()
                    .map(slug::base)
                    .filter(|b| *b != slug::base(&article.title));
                let changes = ArticleChanges {
                    slug: None,
                    title: update.title,
                    description: update.description,
                    body: update.body,
                    updated_at: Some(timestamp::now()),
                };
                let new_slug = repo::update(conn, article.id, new_base, changes)?;
                repo::find_view(conn, &new_slug, user.id)?.ok_or(AppError::NotFound("article"))
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(SingleArticleResponse::from(view)))
}

pub async fn delete(
    pool: web::Data<Pool>,
    user: AuthUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    let slug = slug.into_inner();
    pool.run(move |conn| {
        write_tx(conn, |conn| {
            let article = owned_article(conn, &slug, user.id)?;
            Ok(repo::delete(conn, article.id, article.author_id)?)
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn set_favorite(
    pool: web::Data<Pool>,
    user: AuthUser,
    slug: String,
    favorite: bool,
) -> AppResult<HttpResponse> {
    let view = pool
        .run(move |conn| {
            write_tx(conn, |conn| {
                let article = find_article(conn, &slug)?;
                if favorite {
                    repo::favorite(conn, user.id, article.id)?;
                } else {
                    repo::unfavorite(conn, user.id, article.id)?;
                }
                repo::find_view(conn, &slug, user.id)?.ok_or(AppError::NotFound("article"))
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(SingleArticleResponse::from(view)))
}

pub async fn favorite(
    pool: web::Data<Pool>,
    user: AuthUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_favorite(pool, user, slug.into_inner(), true).await
}

pub async fn unfavorite(
    pool: web::Data<Pool>,
    user: AuthUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_favorite(pool, user, slug.into_inner(), false).await
}
