//! Health endpoints for load balancers and orchestrators.
//! `/health`: ready to serve (database round trip within a short timeout, and
//! not draining for shutdown); Redis, when configured, is reported but never
//! makes the instance unready: without it the service is slower, not wrong.
//! `/health/live`: the process answers; never touches a dependency.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use crate::error::Chain;
use crate::shared::redis::RedisStore;
use crate::state::AppState;

pub struct Health {
    draining: AtomicBool,
    db_timeout: Duration,
    redis: Option<Arc<RedisStore>>,
}

impl Health {
    pub fn new(db_timeout: Duration, redis: Option<Arc<RedisStore>>) -> Self {
        Health {
            draining: AtomicBool::new(false),
            db_timeout,
            redis,
        }
    }

    /// Set when a shutdown signal arrives, so balancers drain this instance.
    /// Returns false if draining had already begun.
    pub fn start_draining(&self) -> bool {
        !self.draining.swap(true, Ordering::SeqCst)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

fn reply(ok: bool, body: Value) -> HttpResponse {
    let mut res = if ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header(("cache-control", "no-store")).json(body)
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let health = &state.health;
    if health.is_draining() {
        return reply(
            false,
            json!({"status": "draining", "checks": {"server": "shutting down"}}),
        );
    }
    let mut checks = Map::new();
    let database = state.pool.ping(health.db_timeout).await;
    if let Err(e) = &database {
        log::warn!("health check: database unreachable: {}", Chain(e));
    }
    checks.insert(
        "database".into(),
        if database.is_ok() {
            "ok"
        } else {
            "unreachable"
        }
        .into(),
    );
    let mut redis_ok = true;
    if let Some(redis) = &health.redis {
        redis_ok = redis.ping().await.is_ok();
        checks.insert(
            "redis".into(),
            if redis_ok { "ok" } else { "degraded" }.into(),
        );
    }
    let status = match (database.is_ok(), redis_ok) {
        (false, _) => "unavailable",
        (true, false) => "degraded",
        (true, true) => "ok",
    };
    reply(
        database.is_ok(),
        json!({"status": status, "checks": Value::Object(checks)}),
    )
}

pub async fn live() -> HttpResponse {
    reply(true, json!({"status": "ok"}))
}
