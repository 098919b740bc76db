//! Users and authentication: `POST /users`, `POST /users/login`,
//! `GET /user`, `PUT /user`. Nothing here is cached: each response carries
//! the caller's token.

pub mod dto;
mod handlers;
pub mod model;
pub mod repo;

use actix_web::web;

use crate::http::extractors::only;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .post(handlers::register)
            .default_service(only("POST")),
    )
    .service(
        web::resource("/users/login")
            .post(handlers::login)
            .default_service(only("POST")),
    )
    .service(
        web::resource("/user")
            .get(handlers::current)
            .put(handlers::update)
            .default_service(only("GET, PUT")),
    );
}
