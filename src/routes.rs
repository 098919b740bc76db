//! The one place every route is mounted: the API under `/api` (one scope per
//! domain, each prefix mounted once), health, and a JSON 404 for the rest.
//! Cacheable GETs are declared where their routes are, with the response
//! cache passed in here.

use std::sync::Arc;

use actix_web::web;

use crate::http::extractors::only;
use crate::http::response_cache::ResponseCache;
use crate::{articles, health, http, profiles, tags, users};

pub fn configure(cfg: &mut web::ServiceConfig, cache: &Arc<ResponseCache>) {
    cfg.service(
        web::scope("/api")
            .configure(users::configure)
            .configure(|cfg| profiles::configure(cfg, cache))
            .configure(|cfg| articles::configure(cfg, cache))
            .configure(|cfg| tags::configure(cfg, cache)),
    )
    .service(
        web::resource("/health")
            .get(health::ready)
            .default_service(only("GET")),
    )
    .service(
        web::resource("/health/live")
            .get(health::live)
            .default_service(only("GET")),
    )
    .default_service(web::to(http::extractors::not_found));
}
