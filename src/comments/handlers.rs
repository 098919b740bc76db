//! Handlers of `/articles/{slug}/comments`.

use actix_web::{web, HttpResponse};

use super::dto::{Comment, MultipleCommentsResponse, NewCommentRequest, SingleCommentResponse};
use super::model::NewCommentRow;
use super::repo;
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::db::{DbConnection, Pool};
use crate::error::{AppError, AppResult};
use crate::profiles::repo::ANONYMOUS;
use crate::timestamp;

fn article_id(conn: &mut DbConnection, slug: &str) -> AppResult<i64> {
    repo::article_id(conn, slug)?.ok_or(AppError::NotFound("article"))
}

pub async fn list(
    pool: web::Data<Pool>,
    viewer: MaybeAuthUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    let viewer = viewer.id().unwrap_or(ANONYMOUS);
    let slug = slug.into_inner();
    let rows = pool
        .run(move |conn| {
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
    pool: web::Data<Pool>,
    user: AuthUser,
    slug: web::Path<String>,
    body: web::Json<NewCommentRequest>,
) -> AppResult<HttpResponse> {
    let text = body.into_inner().parse()?;
    let slug = slug.into_inner();
    let (row, author) = pool
        .run(move |conn| {
            let id = article_id(conn, &slug)?;
            let now = timestamp::now();
            let row = repo::insert(
                conn,
                &NewCommentRow {
                    body: &text,
                    article_id: id,
                    author_id: user.id,
                    created_at: now,
                    updated_at: now,
                },
            )?;
            Ok((row, repo::author(conn, user.id)?))
        })
        .await?;
    // Nobody follows themselves, so the author's own view is `following: false`.
    Ok(HttpResponse::Ok().json(SingleCommentResponse {
        comment: Comment::new(row, author, false),
    }))
}

pub async fn delete(
    pool: web::Data<Pool>,
    user: AuthUser,
    path: web::Path<(String, i64)>,
) -> AppResult<HttpResponse> {
    let (slug, comment_id) = path.into_inner();
    pool.run(move |conn| {
        let id = article_id(conn, &slug)?;
        let author =
            repo::find_author(conn, id, comment_id)?.ok_or(AppError::NotFound("comment"))?;
        if author != user.id {
            return Err(AppError::Forbidden(
                "only the author may delete this comment",
            ));
        }
        repo::delete(conn, comment_id)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
