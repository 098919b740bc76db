//! Tags: `GET /tags`, the tags in use.

pub mod repo;

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::error::AppResult;
use crate::http::extractors::only;
use crate::http::response_cache::ResponseCache;
use crate::state::AppState;

#[derive(Serialize)]
struct TagsResponse {
    tags: Vec<String>,
}

async fn list(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let tags = state.read(|conn| Ok(repo::in_use(conn)?)).await?;
    Ok(HttpResponse::Ok().json(TagsResponse { tags }))
}

pub fn configure(cfg: &mut web::ServiceConfig, cache: &Arc<ResponseCache>) {
    cfg.service(
        web::resource("/tags")
            .wrap(cache.layer())
            .get(list)
            .default_service(only("GET")),
    );
}
