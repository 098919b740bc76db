//! Comments on an article: `GET|POST /articles/{slug}/comments`,
//! `DELETE /articles/{slug}/comments/{id}`. Mounted inside the articles scope.

pub mod dto;
mod handlers;
pub mod model;
pub mod repo;

use std::sync::Arc;

use actix_web::web;

use crate::http::extractors::only;
use crate::http::response_cache::ResponseCache;

/// Registers routes relative to the `/articles` scope.
pub fn configure(cfg: &mut web::ServiceConfig, cache: &Arc<ResponseCache>) {
    cfg.service(
        web::resource("/{slug}/comments")
            .wrap(cache.layer())
            .get(handlers::list)
            .post(handlers::create)
            .default_service(only("GET, POST")),
    )
    .service(
        web::resource("/{slug}/comments/{id}")
            .delete(handlers::delete)
            .default_service(only("DELETE")),
    );
}
