//! Articles, the feed and favorites, mounted once under `/articles`
//! (comments, which live under an article, are mounted in the same scope).

pub mod dto;
mod handlers;
pub mod model;
pub mod repo;

use std::sync::Arc;

use actix_web::web;

use crate::http::extractors::only;
use crate::http::response_cache::ResponseCache;

/// The most article creates one batched statement takes (`repo::create_batch`).
/// The batch holds what queued while the previous one ran, so under load it
/// grows to about the number of clients creating at once; the cap bounds
/// one statement's size and time.
pub const CREATE_BATCH_MAX: usize = 64;

pub fn configure(cfg: &mut web::ServiceConfig, cache: &Arc<ResponseCache>) {
    cfg.service(
        web::scope("/articles")
            .service(
                web::resource("")
                    .wrap(cache.layer())
                    .get(handlers::list)
                    .post(handlers::create)
                    .default_service(only("GET, POST")),
            )
            // Before `/{slug}`, which would otherwise match "feed".
            .service(
                web::resource("/feed")
                    .wrap(cache.layer())
                    .get(handlers::feed)
                    .default_service(only("GET")),
            )
            .service(
                web::resource("/{slug}")
                    .wrap(cache.layer())
                    .get(handlers::get)
                    .put(handlers::update)
                    .delete(handlers::delete)
                    .default_service(only("GET, PUT, DELETE")),
            )
            .service(
                web::resource("/{slug}/favorite")
                    .post(handlers::favorite)
                    .delete(handlers::unfavorite)
                    .default_service(only("POST, DELETE")),
            )
            .configure(|cfg| crate::comments::configure(cfg, cache)),
    );
}
