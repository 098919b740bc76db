//! Profiles and follows: `GET /profiles/{username}`,
//! `POST|DELETE /profiles/{username}/follow`.

pub mod dto;
mod handlers;
pub mod repo;

use std::sync::Arc;

use actix_web::web;

use crate::http::extractors::only;
use crate::http::response_cache::ResponseCache;

pub fn configure(cfg: &mut web::ServiceConfig, cache: &Arc<ResponseCache>) {
    cfg.service(
        web::scope("/profiles/{username}")
            .service(
                web::resource("")
                    .wrap(cache.layer())
                    .get(handlers::get)
                    .default_service(only("GET")),
            )
            .service(
                web::resource("/follow")
                    .post(handlers::follow)
                    .delete(handlers::unfollow)
                    .default_service(only("POST, DELETE")),
            ),
    );
}
