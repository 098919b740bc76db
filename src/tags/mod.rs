//! Tags: `GET /tags`, the tags in use.

pub mod repo;

use std::sync::Arc;

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::http::extractors::only;
use crate::http::response_cache::ResponseCache;
use crate::state::AppState;

/// The most tag-list requests one query answers. Every request waiting
/// when the query starts gets the same body, so this only bounds the
/// queue taken at once.
pub const READ_BATCH_MAX: usize = 1024;

#[derive(Serialize)]
struct TagsResponse {
    tags: Vec<String>,
}

/// The body of `GET /tags` for every request of a batch (`db::Batcher`):
/// one query and one serialisation, shared.
pub fn in_use_bodies(conn: &mut DbConnection, requests: &[()]) -> Vec<AppResult<web::Bytes>> {
    let body = repo::in_use(conn)
        .map_err(AppError::from)
        .and_then(|tags| {
            serde_json::to_vec(&TagsResponse { tags })
                .map_err(|e| AppError::internal("serialising the tags", e))
        })
        .map(web::Bytes::from);
    requests
        .iter()
        .map(|()| match &body {
            Ok(body) => Ok(body.clone()),
            Err(e) => Err(e.for_another()),
        })
        .collect()
}

/// Served by one query for all requests that arrive while the previous one
/// runs: the answer is never older than the request (`db::Batcher`).
async fn list(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let body = state.read_batched(&state.tag_reads, ()).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}

pub fn configure(cfg: &mut web::ServiceConfig, cache: &Arc<ResponseCache>) {
    cfg.service(
        web::resource("/tags")
            .wrap(cache.layer())
            .get(list)
            .default_service(only("GET")),
    );
}
