//! Handlers of `/articles/{slug}/comments`.

use actix_web::{web, HttpResponse};

use super::dto::{Comment, MultipleCommentsResponse, NewCommentRequest, SingleCommentResponse};
use super::repo;
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::db::DbConnection;
use crate::domain::{ArticleId, CommentId, Slug};
use crate::error::{AppError, AppResult};
use crate::profiles::repo as profiles;
use crate::state::AppState;

const NO_ARTICLE: AppError = AppError::NotFound("article");

fn article_id(conn: &mut DbConnection, slug: &Slug) -> AppResult<ArticleId> {
    repo::article_id(conn, slug)?.ok_or(NO_ARTICLE)
}

pub async fn list(
    state: web::Data<AppState>,
    viewer: MaybeAuthUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    let slug = Slug::lookup(&slug).ok_or(NO_ARTICLE)?;
    let viewer = viewer.viewer();
    let rows = state
        .read(move |conn| {
            let id = article_id(conn, &slug)?;
            Ok(repo::list(conn, id, viewer)?)
        })
        .await?;
    let comments = rows
        .into_iter()
        .map(|(row, author, following)| Comment::new(row, author, following))
        .collect();
    Ok(HttpResponse::Ok().json(MultipleCommentsResponse { comments }))
}

pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    slug: web::Path<String>,
    body: web::Json<NewCommentRequest>,
) -> AppResult<HttpResponse> {
    let text = body.into_inner().parse()?;
    let slug = Slug::lookup(&slug).ok_or(NO_ARTICLE)?;
    let (row, author) = state
        .write(move |conn| {
            let id = article_id(conn, &slug)?;
            let row = repo::insert(conn, id, user.id, &text)?;
            Ok((row, profiles::find_by_id(conn, user.id)?))
        })
        .await?;
    // Nobody follows themselves, so the author's own view is `following: false`.
    Ok(HttpResponse::Ok().json(SingleCommentResponse {
        comment: Comment::new(row, author, false),
    }))
}

pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(String, i64)>,
) -> AppResult<HttpResponse> {
    let (slug, comment) = path.into_inner();
    let slug = Slug::lookup(&slug).ok_or(NO_ARTICLE)?;
    let comment = CommentId::new(comment);
    state
        .write(move |conn| {
            let id = article_id(conn, &slug)?;
            let author =
                repo::find_author(conn, id, comment)?.ok_or(AppError::NotFound("comment"))?;
            if author != user.id {
                return Err(AppError::Forbidden(
                    "only the author may delete this comment",
                ));
            }
            repo::delete(conn, comment)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
