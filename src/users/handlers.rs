//! Handlers of registration, login and the current user.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::{LoginRequest, RegisterRequest, UpdateUserRequest, UserResponse};
use super::model::{NewUserRow, UserChanges, UserRow};
use super::repo;
use crate::auth::AuthUser;
use crate::db::constraints;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::shared::generations::Changes;
use crate::state::AppState;
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
    match constraints::unique_violation(&err) {
        Some(constraint) => AppError::field(constraint.field(), TAKEN),
        None => err.into(),
    }
}

/// The user's own record carries their token: no cache may keep it.
fn private_user(status: actix_web::http::StatusCode, row: UserRow, token: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(UserResponse::new(row, token))
}

pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> AppResult<HttpResponse> {
    state.limiter.check(&req).await?;
    let new_user = body.into_inner().parse()?;
    let password_hash = state.hasher.hash(new_user.password).await?;
    let row = state
        .write(move |conn| {
            let (u, e) = repo::taken(conn, Some(&new_user.username), Some(&new_user.email), None)?;
            if let Some(err) = taken_error(u, e) {
                return Err(err);
            }
            let now = timestamp::now();
            let row = NewUserRow {
                username: new_user.username.as_str(),
                email: new_user.email.as_str(),
                password_hash: &password_hash,
                created_at: now,
                updated_at: now,
            };
            repo::insert(conn, &row).map_err(unique_violation)
        })
        .await?;
    let token = state.auth.issue(row.id, &row.password_hash)?;
    Ok(private_user(
        actix_web::http::StatusCode::CREATED,
        row,
        token,
    ))
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> AppResult<HttpResponse> {
    state.limiter.check(&req).await?;
    let credentials = body.into_inner().parse()?;
    let email = credentials.email;
    let row = state
        .read(move |conn| Ok(repo::find_by_email(conn, &email)?))
        .await?;
    // Verified without holding a connection; an unknown email costs the same.
    let stored = row.as_ref().map(|r| r.password_hash.clone());
    if !state.hasher.verify(credentials.password, stored).await? {
        return Err(AppError::Unauthorized("email or password is invalid"));
    }
    let row = row.ok_or(AppError::Unauthorized("email or password is invalid"))?;
    let token = state.auth.issue(row.id, &row.password_hash)?;
    Ok(private_user(actix_web::http::StatusCode::OK, row, token))
}

pub async fn current(state: web::Data<AppState>, user: AuthUser) -> AppResult<HttpResponse> {
    let id = user.id;
    let row = state
        .read(move |conn| Ok(repo::find_by_id(conn, id)?))
        .await?
        // A valid token for a user that no longer exists is not a session.
        .ok_or(AppError::Unauthorized("user no longer exists"))?;
    Ok(private_user(
        actix_web::http::StatusCode::OK,
        row,
        user.token.to_string(),
    ))
}

/// A new password revokes every token issued before it (on every instance:
/// the credentials generation moves), so the response carries a new one.
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<UpdateUserRequest>,
) -> AppResult<HttpResponse> {
    let update = body.into_inner().parse()?;
    let password_hash = match update.password {
        Some(p) => Some(state.hasher.hash(p).await?),
        None => None,
    };
    let changes = if password_hash.is_some() {
        Changes::DATA_AND_CREDENTIALS
    } else {
        Changes::DATA
    };
    let new_password = password_hash.is_some();
    let id = user.id;
    let row = state
        .write_changing(changes, move |conn| {
            let (u, e) = repo::taken(
                conn,
                update.username.as_ref(),
                update.email.as_ref(),
                Some(id),
            )?;
            if let Some(err) = taken_error(u, e) {
                return Err(err);
            }
            let changes = UserChanges {
                username: update.username.map(|u| u.as_str().to_owned()),
                email: update.email.map(|e| e.as_str().to_owned()),
                password_hash,
                bio: update.bio,
                image: update.image,
                updated_at: Some(timestamp::now()),
            };
            repo::update(conn, id, &changes).map_err(|e| match e {
                diesel::result::Error::NotFound => AppError::Unauthorized("user no longer exists"),
                other => unique_violation(other),
            })
        })
        .await?;
    let token = if new_password {
        state.auth.issue(row.id, &row.password_hash)?
    } else {
        user.token.to_string()
    };
    Ok(private_user(actix_web::http::StatusCode::OK, row, token))
}
