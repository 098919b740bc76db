//! Tags: `GET /tags`, the tags in use.

pub mod repo;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::db::Pool;
use crate::error::AppResult;
use crate::http::response_cache::serve_cached;

#[derive(Serialize)]
struct TagsResponse {
    tags: Vec<String>,
}

async fn list(pool: web::Data<Pool>) -> AppResult<HttpResponse> {
    let tags = pool.run(|conn| Ok(repo::in_use(conn)?)).await?;
    Ok(HttpResponse::Ok().json(TagsResponse { tags }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/tags").wrap(from_fn(serve_cached)).get(list));
}
