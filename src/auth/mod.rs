//! Authentication: JWT issue/verify, password hashing, and the `AuthUser` /
//! `MaybeAuthUser` extractors that read `Authorization: Token <jwt>`.

pub mod jwt;
pub mod password;

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use crate::error::AppError;
pub use jwt::JwtKeys;
pub use password::PasswordHasherPool;

/// An authenticated caller; the id comes from a verified token.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: i64,
    pub token: String,
}

/// The caller if a token was sent; a token that is sent must be valid.
#[derive(Clone, Debug)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl MaybeAuthUser {
    pub fn id(&self) -> Option<i64> {
        self.0.as_ref().map(|u| u.id)
    }
}

fn token_from(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AppError::Unauthorized("malformed authorization header"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AppError::Unauthorized("expected 'Token <jwt>'"))?;
    if !(scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer")) {
        return Err(AppError::Unauthorized("expected 'Token <jwt>'"));
    }
    Ok(Some(token.trim().to_owned()))
}

fn authenticate(req: &HttpRequest) -> Result<Option<AuthUser>, AppError> {
    let Some(token) = token_from(req)? else {
        return Ok(None);
    };
    let keys = req
        .app_data::<web::Data<JwtKeys>>()
        .ok_or_else(|| AppError::internal("JwtKeys missing from app data"))?;
    let id = keys
        .verify(&token)
        .ok_or(AppError::Unauthorized("invalid or expired token"))?;
    Ok(Some(AuthUser { id, token }))
}

/// The id of the caller's verified token: `Ok(None)` without a token, an
/// error for a malformed, invalid or expired one.
pub fn viewer_id(req: &HttpRequest) -> Result<Option<i64>, AppError> {
    authenticate(req).map(|u| u.map(|u| u.id))
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|u| u.ok_or(AppError::Unauthorized("missing token"))))
    }
}

impl FromRequest for MaybeAuthUser {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(MaybeAuthUser))
    }
}
