//! Handlers of registration, login and the current user.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::{LoginRequest, RegisterRequest, UpdateUserRequest, UserResponse};
use super::model::{NewUserRow, UserChanges};
use super::repo;
use crate::auth::{AuthUser, JwtKeys, PasswordHasherPool};
use crate::db::{write_tx, Pool};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::rate_limit::AuthRateLimiter;
use crate::timestamp;

const TAKEN: &str = "has already been taken";

/// 422 naming each field another account already holds.
fn taken_error(username_taken: bool, email_taken: bool) -> Option<AppError> {
    let mut errors = FieldErrors::new();
    if username_taken {
        errors.insert("username".into(), vec![TAKEN.into()]);
    }
    if email_taken {
        errors.insert("email".into(), vec![TAKEN.into()]);
    }
    (!errors.is_empty()).then_some(AppError::Validation(errors))
}

/// Maps a unique violation that raced past the pre-check to the same 422.
fn unique_violation(err: diesel::result::Error) -> AppError {
    match repo::violated_unique_field(&err) {
        Some(field) => AppError::field(field, TAKEN),
        None => err.into(),
    }
}

fn issue_token(keys: &JwtKeys, user_id: i64) -> AppResult<String> {
    keys.issue(user_id)
        .map_err(|e| AppError::internal(format!("signing token: {e}")))
}

pub async fn register(
    req: HttpRequest,
    pool: web::Data<Pool>,
    keys: web::Data<JwtKeys>,
    hasher: web::Data<PasswordHasherPool>,
    limiter: web::Data<AuthRateLimiter>,
    body: web::Json<RegisterRequest>,
) -> AppResult<HttpResponse> {
    limiter.check(&req)?;
    let new_user = body.into_inner().parse()?;
    let password_hash = hasher.hash(new_user.password).await?;
    let row = pool
        .run(move |conn| {
            write_tx(conn, |conn| {
                let (u, e) =
                    repo::taken(conn, Some(&new_user.username), Some(&new_user.email), None)?;
                if let Some(err) = taken_error(u, e) {
                    return Err(err);
                }
                let now = timestamp::now();
                let row = NewUserRow {
                    username: &new_user.username,
                    email: &new_user.email,
                    password_hash: &password_hash,
                    created_at: now,
                    updated_at: now,
                };
                repo::insert(conn, &row).map_err(unique_violation)
            })
        })
        .await?;
    let token = issue_token(&keys, row.id)?;
    Ok(HttpResponse::Created().json(UserResponse::new(row, token)))
}

pub async fn login(
    req: HttpRequest,
    pool: web::Data<Pool>,
    keys: web::Data<JwtKeys>,
    hasher: web::Data<PasswordHasherPool>,
    limiter: web::Data<AuthRateLimiter>,
    body: web::Json<LoginRequest>,
) -> AppResult<HttpResponse> {
    limiter.check(&req)?;
    let credentials = body.into_inner().parse()?;
    let email = credentials.email;
    let row = pool
        .run(move |conn| Ok(repo::find_by_email(conn, &email)?))
        .await?;
    // Verified without holding a connection; an unknown email costs the same.
    let stored = row.as_ref().map(|r| r.password_hash.clone());
    if !hasher.verify(credentials.password, stored).await? {
        return Err(AppError::Unauthorized("email or password is invalid"));
    }
    let row = row.ok_or(AppError::Unauthorized("email or password is invalid"))?;
    let token = issue_token(&keys, row.id)?;
    Ok(HttpResponse::Ok().json(UserResponse::new(row, token)))
}

pub async fn current(pool: web::Data<Pool>, user: AuthUser) -> AppResult<HttpResponse> {
    let id = user.id;
    let row = pool
        .run(move |conn| Ok(repo::find_by_id(conn, id)?))
        .await?;
    // A valid token for a user that no longer exists is not a session.
    let row = row.ok_or(AppError::Unauthorized("user no longer exists"))?;
    Ok(HttpResponse::Ok().json(UserResponse::new(row, user.token)))
}

pub async fn update(
    pool: web::Data<Pool>,
    hasher: web::Data<PasswordHasherPool>,
    user: AuthUser,
    body: web::Json<UpdateUserRequest>,
) -> AppResult<HttpResponse> {
    let update = body.into_inner().parse()?;
    let password_hash = match update.password {
        Some(p) => Some(hasher.hash(p).await?),
        None => None,
    };
    let id = user.id;
    let row = pool
        .run(move |conn| {
            write_tx(conn, |conn| {
                let (u, e) = repo::taken(
                    conn,
                    update.username.as_deref(),
                    update.email.as_deref(),
                    Some(id),
                )?;
                if let Some(err) = taken_error(u, e) {
                    return Err(err);
                }
                let changes = UserChanges {
                    username: update.username,
                    email: update.email,
                    password_hash,
                    bio: update.bio,
                    image: update.image,
                    updated_at: Some(timestamp::now()),
                };
                repo::update(conn, id, &changes).map_err(|e| match e {
                    diesel::result::Error::NotFound => {
                        AppError::Unauthorized("user no longer exists")
                    }
                    other => unique_violation(other),
                })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserResponse::new(row, user.token)))
}
