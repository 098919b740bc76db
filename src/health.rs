//! Health endpoints for load balancers and orchestrators.
//! `/health`: ready to serve (database round trip within a short timeout, and
//! not draining for shutdown). `/health/live`: the process answers; never
//! touches the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::db::Pool;

/// Set when a shutdown signal arrives, so balancers drain this instance.
#[derive(Default)]
pub struct Lifecycle {
    draining: AtomicBool,
}

impl Lifecycle {
    /// Returns false if draining had already begun.
    pub fn start_draining(&self) -> bool {
        !self.draining.swap(true, Ordering::SeqCst)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

pub struct HealthSettings {
    pub db_timeout: Duration,
}

fn unavailable(body: serde_json::Value) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header(("cache-control", "no-store"))
        .json(body)
}

pub async fn ready(
    pool: web::Data<Pool>,
    lifecycle: web::Data<Lifecycle>,
    settings: web::Data<HealthSettings>,
) -> HttpResponse {
    if lifecycle.is_draining() {
        return unavailable(json!({"status": "draining", "checks": {"server": "shutting down"}}));
    }
    match pool.ping(settings.db_timeout).await {
        Ok(()) => HttpResponse::Ok()
            .insert_header(("cache-control", "no-store"))
            .json(json!({"status": "ok", "checks": {"database": "ok"}})),
        Err(e) => {
            log::warn!("health check failed: {e}");
            unavailable(json!({"status": "unavailable", "checks": {"database": "unreachable"}}))
        }
    }
}

pub async fn live() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(json!({"status": "ok"}))
}
