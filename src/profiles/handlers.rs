//! Handlers of `/profiles/{username}` and following.

use actix_web::{web, HttpResponse};

use super::dto::ProfileResponse;
use super::repo;
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::domain::Username;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

const NOT_FOUND: AppError = AppError::NotFound("profile");

pub async fn get(
    state: web::Data<AppState>,
    viewer: MaybeAuthUser,
    username: web::Path<String>,
) -> AppResult<HttpResponse> {
    let username = Username::lookup(&username).ok_or(NOT_FOUND)?;
    let viewer = viewer.viewer();
    let (author, following) = state
        .read(move |conn| Ok(repo::find_with_following(conn, &username, viewer)?))
        .await?
        .ok_or(NOT_FOUND)?;
    Ok(HttpResponse::Ok().json(ProfileResponse {
        profile: author.into_profile(following),
    }))
}

async fn set_following(
    state: web::Data<AppState>,
    user: AuthUser,
    username: String,
    follow: bool,
) -> AppResult<HttpResponse> {
    let username = Username::lookup(&username).ok_or(NOT_FOUND)?;
    let me = user.id;
    let author = state
        .write(move |conn| {
            let author = repo::find_by_username(conn, &username)?.ok_or(NOT_FOUND)?;
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
    state: web::Data<AppState>,
    user: AuthUser,
    username: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_following(state, user, username.into_inner(), true).await
}

pub async fn unfollow(
    state: web::Data<AppState>,
    user: AuthUser,
    username: web::Path<String>,
) -> AppResult<HttpResponse> {
    set_following(state, user, username.into_inner(), false).await
}
