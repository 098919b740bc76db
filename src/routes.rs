//! The one place every route is mounted: the API under `/api` (one scope per
//! domain, each prefix mounted once), health, and a JSON 404 for the rest.

use actix_web::web;

use crate::{articles, health, http, profiles, tags, users};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .configure(users::configure)
            .configure(profiles::configure)
            .configure(articles::configure)
            .configure(tags::configure),
    )
    .service(web::resource("/health").get(health::ready))
    .service(web::resource("/health/live").get(health::live))
    .default_service(web::to(http::extractors::not_found));
}
