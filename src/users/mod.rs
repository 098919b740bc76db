//! Users and authentication: `POST /users`, `POST /users/login`,
//! `GET /user`, `PUT /user`. Nothing here is cached: each response carries
//! the caller's token.

pub mod dto;
mod handlers;
pub mod model;
pub mod repo;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").post(handlers::register))
        .service(web::resource("/users/login").post(handlers::login))
        .service(
            web::resource("/user")
                .get(handlers::current)
                .put(handlers::update),
        );
}
