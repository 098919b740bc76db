//! Handlers of `/profiles/{username}` and following.

use actix_web::{web, HttpResponse};

use super::dto::ProfileResponse;
use super::repo::{self, ANONYMOUS};
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::db::Pool;
use crate::error::{AppError, AppResult};

pub async fn get(
    pool: web::Data<Pool>,
    viewer: MaybeAuthUser,
    username: web::Path<String>,
) -> AppResult<HttpResponse> {
    let viewer = viewer.id().unwrap_or(ANONYMOUS);
    let username = username.into_inner();
    let (author, following) = pool
        .run(move |conn| Ok(repo::find_with_following(conn, &username, viewer)?))
        .await?
        .ok_or(AppError::NotFound("profile"))?;
    Ok(HttpResponse::Ok().json(ProfileResponse {
        profile: author.into_profile(following),
    }))
}

async fn set_following(
    pool: web::Data<Pool>,
    user: AuthUser,
    username: String,
    follow: bool,
) -> AppResult<HttpResponse> {
    let me = user.id;
    let author = pool
        .run(move |conn| {
            let author =
                repo::find_by_username(conn, &username)?.ok_or(AppError::NotFound("profile"))?;
            if author.id == me {
                return Err(AppError::field("username", "cannot follow yourself"));
            }
            if follow {
                repo::follow(conn, me, author.id)?;
            } else {
                repo::unfollow(conn, me, author.id)?;
            }
            Ok(author)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ProfileResponse {
        profile: author.into_profile(follow),
    }))
}

pub async fn follow(
    pool: web::Data<Pool>,
    user: AuthUser,
    username: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_following(pool, user, username.into_inner(), true).await
}

pub async fn unfollow(
    pool: web::Data<Pool>,
    user: AuthUser,
    username: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_following(pool, user, username.into_inner(), false).await
}
