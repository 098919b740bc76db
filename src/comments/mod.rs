//! Comments on an article: `GET|POST /articles/{slug}/comments`,
//! `DELETE /articles/{slug}/comments/{id}`. Mounted inside the articles scope.

pub mod dto;
mod handlers;
pub mod model;
pub mod repo;

use actix_web::web;

/// Registers routes relative to the `/articles` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/{slug}/comments")
            .get(handlers::list)
            .post(handlers::create),
    )
    .service(web::resource("/{slug}/comments/{id}").delete(handlers::delete));
}
