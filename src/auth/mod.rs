//! Authentication: JWT issue/verify, password hashing, and resolving the
//! caller of a request from `Authorization: Token <jwt>`.
//!
//! A token is valid when its signature and expiry check out and it was
//! issued under the user's current password (its `pwd` fingerprint). The
//! current fingerprint of each recent user is kept in memory, stamped with
//! the credentials generation (`shared::generations`), so a password change
//! on any instance revokes older tokens everywhere at once, while a request
//! costs a database lookup only the first time a user is seen after one.

pub mod jwt;
pub mod password;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};
use diesel::prelude::*;

use crate::db::schema::users;
use crate::db::Pool;
use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::shared::generations::{Generations, Stamp};
pub use jwt::{JwtKeys, PasswordFingerprint};
pub use password::PasswordHasherPool;

/// An authenticated caller, resolved from a valid token.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: UserId,
    /// The token as sent (echoed by `GET /api/user`), shared with the
    /// verified-token memo.
    pub token: Arc<str>,
}

/// The caller if a token was sent; a token that is sent must be valid.
#[derive(Clone, Debug)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl MaybeAuthUser {
    pub fn viewer(&self) -> Option<UserId> {
        self.0.as_ref().map(|u| u.id)
    }
}

/// The outcome of resolving a request's caller, kept in its extensions so
/// that middleware and extractors resolve it once.
#[derive(Clone)]
struct Resolved(Option<AuthUser>);

/// Users remembered at once; beyond that the map starts over.
const MAX_REMEMBERED: usize = 10_000;

pub struct Authenticator {
    keys: JwtKeys,
    pool: Pool,
    generations: Arc<Generations>,
    /// user -> (fingerprint of the current password hash, credentials
    /// generation it was read under).
    current: Mutex<HashMap<UserId, (PasswordFingerprint, u64), foldhash::fast::RandomState>>,
}

fn token_from(req: &HttpRequest) -> AppResult<Option<&str>> {
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
    Ok(Some(token.trim()))
}

impl Authenticator {
    pub fn new(keys: JwtKeys, pool: Pool, generations: Arc<Generations>) -> Self {
        Authenticator {
            keys,
            pool,
            generations,
            current: Mutex::new(HashMap::default()),
        }
    }

    /// A token for `user` under the password hash it has now.
    pub fn issue(&self, user: UserId, password_hash: &str) -> AppResult<String> {
        self.keys
            .issue(user, password_hash)
            .map_err(|e| AppError::internal("signing a token", e))
    }

    /// The caller of `req`: `None` without a token, 401 for a malformed,
    /// invalid, expired or revoked one. `observed` is the generation the
    /// request already read, if it did; resolved once per request.
    pub async fn authenticate(
        &self,
        req: &HttpRequest,
        observed: Option<Stamp>,
    ) -> AppResult<Option<AuthUser>> {
        if let Some(Resolved(user)) = req.extensions().get::<Resolved>() {
            return Ok(user.clone());
        }
        let user = self.resolve(req, observed).await?;
        req.extensions_mut().insert(Resolved(user.clone()));
        Ok(user)
    }

    async fn resolve(
        &self,
        req: &HttpRequest,
        observed: Option<Stamp>,
    ) -> AppResult<Option<AuthUser>> {
        let Some(token) = token_from(req)? else {
            return Ok(None);
        };
        let jwt::Session { claims, token } = self
            .keys
            .verify(token)
            .ok_or(AppError::Unauthorized("invalid or expired token"))?;
        // Unknown (Redis down): the database decides.
        let stamp = match observed {
            Some(stamp) => Some(stamp),
            None => self.generations.current().await,
        };
        let current = match self.remembered(claims.user, stamp) {
            Some(fingerprint) => fingerprint,
            None => self.look_up(claims.user, stamp).await?,
        };
        if current != claims.password {
            return Err(AppError::Unauthorized(
                "token issued before the password changed",
            ));
        }
        Ok(Some(AuthUser {
            id: claims.user,
            token,
        }))
    }

    fn remembered(&self, user: UserId, stamp: Option<Stamp>) -> Option<PasswordFingerprint> {
        let stamp = stamp?;
        let current = self.current.lock().ok()?;
        match current.get(&user) {
            Some((fingerprint, generation)) if *generation == stamp.credentials => {
                Some(*fingerprint)
            }
            _ => None,
        }
    }

    async fn look_up(&self, user: UserId, stamp: Option<Stamp>) -> AppResult<PasswordFingerprint> {
        let hash: Option<String> = self
            .pool
            .read(move |conn| {
                Ok(users::table
                    .find(user.get())
                    .select(users::password_hash)
                    .first(conn)
                    .optional()?)
            })
            .await?;
        // A valid token of a user that no longer exists is not a session.
        let hash = hash.ok_or(AppError::Unauthorized("user no longer exists"))?;
        let fingerprint = PasswordFingerprint::of(&hash);
        if let (Some(stamp), Ok(mut current)) = (stamp, self.current.lock()) {
            if current.len() >= MAX_REMEMBERED {
                current.clear();
            }
            current.insert(user, (fingerprint, stamp.credentials));
        }
        Ok(fingerprint)
    }
}
