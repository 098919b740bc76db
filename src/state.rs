//! The one application state every handler receives (`web::Data<AppState>`),
//! built once at start-up, and the extractors that read from it. A handler
//! that needs something the state lacks does not compile.
//!
//! Handlers touch the database only through `read` and `write` (and their
//! batched forms, `db::Batcher`): a write moves the cache generations after
//! it commits and before its response is sent, so no cache anywhere serves
//! data older than an acknowledged write.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use crate::articles::model::ArticleView;
use crate::articles::repo::NewArticleBy;
use crate::auth::{AuthUser, Authenticator, MaybeAuthUser, PasswordHasherPool};
use crate::db::{Batcher, DbConnection, Pool};
use crate::error::{AppError, AppResult};
use crate::health::Health;
use crate::http::rate_limit::AuthRateLimiter;
use crate::shared::generations::{Changes, Generations};

pub struct AppState {
    pub pool: Pool,
    pub auth: Arc<Authenticator>,
    pub hasher: PasswordHasherPool,
    pub limiter: AuthRateLimiter,
    pub generations: Arc<Generations>,
    pub health: Health,
    /// Article creates, run in batches (`db::Batcher`).
    pub article_creates: Arc<Batcher<NewArticleBy, ArticleView>>,
    /// Tag-list reads, one query for all that wait (`db::Batcher`).
    pub tag_reads: Arc<Batcher<(), web::Bytes>>,
}

impl AppState {
    /// A read-only unit of work (retried once if its connection was lost).
    pub async fn read<T, F>(&self, f: F) -> AppResult<T>
    where
        F: Fn(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.pool.read(f).await
    }

    /// A write transaction that changes data responses show.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.write_changing(Changes::DATA, f).await
    }

    /// A write of statements that each commit on their own
    /// (`Pool::write_statements`): the same generation move as `write`.
    pub async fn write_statements<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let result = self.pool.write_statements(f).await;
        self.after_write(&result, Changes::DATA).await;
        result
    }

    /// A read queued on `batcher` and answered by the run that takes it
    /// with the others queued meanwhile (`db::Batcher`).
    pub async fn read_batched<J, R>(&self, batcher: &Arc<Batcher<J, R>>, job: J) -> AppResult<R>
    where
        J: Send + 'static,
        R: Send + 'static,
    {
        self.pool.batched(batcher, job).await
    }

    /// A write queued on `batcher` and run with the others queued with it
    /// (`db::Batcher`): the same generation move as `write`.
    pub async fn write_batched<J, R>(&self, batcher: &Arc<Batcher<J, R>>, job: J) -> AppResult<R>
    where
        J: Send + 'static,
        R: Send + 'static,
    {
        let result = self.pool.batched(batcher, job).await;
        self.after_write(&result, Changes::DATA).await;
        result
    }

    /// A write transaction; once it has committed (or may have: a lost
    /// connection leaves the outcome unknown), the generations of `changes`
    /// move before the response goes out.
    pub async fn write_changing<T, F>(&self, changes: Changes, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let result = self.pool.write(f).await;
        self.after_write(&result, changes).await;
        result
    }

    /// Moves the generations once a write has committed, or may have (a lost
    /// connection leaves the outcome unknown).
    async fn after_write<T>(&self, result: &AppResult<T>, changes: Changes) {
        if matches!(
            result,
            Ok(_) | Err(AppError::Unavailable { .. } | AppError::Internal { .. })
        ) {
            self.generations.changed(changes).await;
        }
    }
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

/// The caller of `req` (`None` without a token), resolved once per request:
/// the response cache may already have done it.
async fn caller(req: &HttpRequest) -> AppResult<Option<AuthUser>> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(AppError::bug("the application state is not registered"))?;
    state.auth.authenticate(req, None).await
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            caller(&req)
                .await?
                .ok_or(AppError::Unauthorized("missing token"))
        })
    }
}

impl FromRequest for MaybeAuthUser {
    type Error = AppError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { caller(&req).await.map(MaybeAuthUser) })
    }
}
