//! Comments on an article: `GET|POST /articles/{slug}/comments`,
//! `DELETE /articles/{slug}/comments/{id}`. Mounted inside the articles scope.

pub mod dto;
mod handlers;
pub mod model;
pub mod repo;

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::http::response_cache::serve_cached;

/// Registers routes relative to the `/articles` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/{slug}/comments")
            .wrap(from_fn(serve_cached))
            .get(handlers::list)
            .post(handlers::create),
    )
    .service(web::resource("/{slug}/comments/{id}").delete(handlers::delete));
}
