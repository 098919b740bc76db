//! Articles, the feed and favorites, mounted once under `/articles`
//! (comments, which live under an article, are mounted in the same scope).

pub mod dto;
mod handlers;
pub mod model;
pub mod repo;
pub mod slug;

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::http::response_cache::serve_cached;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/articles")
            .service(
                web::resource("")
                    .wrap(from_fn(serve_cached))
                    .get(handlers::list)
                    .post(handlers::create),
            )
            // Before `/{slug}`, which would otherwise match "feed".
            .service(
                web::resource("/feed")
                    .wrap(from_fn(serve_cached))
                    .get(handlers::feed),
            )
            .service(
                web::resource("/{slug}")
                    .wrap(from_fn(serve_cached))
                    .get(handlers::get)
                    .put(handlers::update)
                    .delete(handlers::delete),
            )
            .service(
                web::resource("/{slug}/favorite")
                    .post(handlers::favorite)
                    .delete(handlers::unfavorite),
            )
            .configure(crate::comments::configure),
    );
}
