//! Profiles and follows: `GET /profiles/{username}`,
//! `POST|DELETE /profiles/{username}/follow`.

pub mod dto;
mod handlers;
pub mod repo;

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::http::response_cache::serve_cached;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/profiles/{username}")
            .service(
                web::resource("")
                    .wrap(from_fn(serve_cached))
                    .get(handlers::get),
            )
            .service(
                web::resource("/follow")
                    .post(handlers::follow)
                    .delete(handlers::unfollow),
            ),
    );
}
