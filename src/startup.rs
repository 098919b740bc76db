//! Wiring: builds the pool (once), runs migrations, configures the HTTP server
//! and its middleware, and handles shutdown signals. Port 0 picks a free port,
//! which the tests use.

use std::net::TcpListener;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServerHandle, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpResponse, HttpServer, ResponseError};

use crate::auth::{JwtKeys, PasswordHasherPool};
use crate::config::{Config, MetricsExposure};
use crate::db::{Pool, PoolSettings};
use crate::error::AppError;
use crate::health::{HealthSettings, Lifecycle};
use crate::http::cache::{http_cache, CacheSettings};
use crate::http::compress::{compress, Compression};
use crate::http::extractors;
use crate::http::rate_limit::AuthRateLimiter;
use crate::http::response_cache::ResponseCache;
use crate::routes;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::request::request_context;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(String),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("starting the password hashing threads: {0}")]
    HashingThreads(std::io::Error),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

fn pool_settings(config: &Config) -> PoolSettings {
    PoolSettings {
        max_size: config.pool_max_size,
        min_idle: config.pool_min_idle,
        acquire_timeout: config.pool_timeout,
        statement_timeout: config.statement_timeout,
    }
}

/// `conduit migrate`: apply pending migrations and return their versions.
pub fn migrate(config: &Config) -> Result<Vec<String>, StartupError> {
    let metrics = Metrics::new(false).map_err(StartupError::Metrics)?;
    let mut settings = pool_settings(config);
    settings.min_idle = 0;
    let pool =
        Pool::new(&config.database_url, &settings, metrics.db).map_err(StartupError::Database)?;
    pool.run_migrations().map_err(StartupError::Database)
}

pub struct Application {
    port: u16,
    server: Server,
    metrics_server: Option<Server>,
    pool: Pool,
    lifecycle: web::Data<Lifecycle>,
    drain: Duration,
}

impl Application {
    pub fn build(config: Config) -> Result<Self, StartupError> {
        let metrics = Metrics::new(config.metrics == MetricsExposure::Public)
            .map_err(StartupError::Metrics)?;
        let pool = Pool::new(
            &config.database_url,
            &pool_settings(&config),
            metrics.db.clone(),
        )
        .map_err(StartupError::Database)?;
        if config.run_migrations {
            let applied = pool.run_migrations().map_err(StartupError::Database)?;
            if !applied.is_empty() {
                log::info!("applied migrations: {applied:?}");
            }
        }
        let addr = config.bind_address();
        let listener = TcpListener::bind(&addr).map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(config.port);

        let lifecycle = web::Data::new(Lifecycle::default());
        let pool_data = web::Data::new(pool.clone());
        let keys = web::Data::new(JwtKeys::new(&config.jwt_secret, config.jwt_ttl));
        let hasher = web::Data::new(
            PasswordHasherPool::new(config.max_concurrent_hashes)
                .map_err(StartupError::HashingThreads)?,
        );
        let limiter = web::Data::new(AuthRateLimiter::new(
            config
                .rate_limit_enabled
                .then_some(config.rate_limit_per_minute),
            config.rate_limit_burst,
            config.trust_proxy,
        ));
        let health = web::Data::new(HealthSettings {
            db_timeout: config.health_db_timeout,
        });
        let cache = web::Data::new(CacheSettings {
            public_max_age_secs: config.cache_max_age_secs,
        });
        let response_cache = web::Data::new(ResponseCache::new(
            Duration::from_secs(u64::from(config.cache_max_age_secs)),
            config.cache_signed_in,
        ));
        let compression = web::Data::new(Compression::new(config.compression_min_bytes));
        let http_metrics = metrics.http.clone();
        let body_limit = config.body_limit_bytes;
        let origins = config.cors_allowed_origins.clone();
        let lifecycle_data = lifecycle.clone();

        // Each worker has its own blocking pool for database work (hashing
        // has its own threads). Threads beyond a worker's share of the
        // connections would only wait, and every thread costs memory (stack,
        // allocator caches).
        let blocking_threads = (config.pool_max_size as usize).div_ceil(config.workers) + 1;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(pool_data.clone())
                .app_data(keys.clone())
                .app_data(hasher.clone())
                .app_data(limiter.clone())
                .app_data(health.clone())
                .app_data(cache.clone())
                .app_data(compression.clone())
                .app_data(response_cache.clone())
                .app_data(lifecycle_data.clone())
                .app_data(extractors::json_config(body_limit))
                .app_data(extractors::query_config())
                .app_data(extractors::path_config())
                .configure(routes::configure)
                // Innermost first: caching sees the handler's body, then
                // compression, CORS, error shaping, metrics, and outermost
                // the request context that times and logs the whole request.
                .wrap(from_fn(http_cache))
                .wrap(from_fn(compress))
                .wrap(cors(&origins))
                .wrap(json_errors())
                .wrap(http_metrics.clone())
                .wrap(from_fn(request_context))
        })
        .workers(config.workers)
        .worker_max_blocking_threads(blocking_threads)
        .keep_alive(config.keep_alive)
        .client_request_timeout(config.client_request_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .shutdown_timeout(config.shutdown_timeout.as_secs())
        .disable_signals()
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?
        .run();

        let metrics_server = match &config.metrics {
            MetricsExposure::Separate(metrics_addr) => {
                Some(metrics_listener(*metrics_addr, metrics.registry.clone())?)
            }
            _ => None,
        };
        log::info!(
            "listening on {}:{port} ({} workers, database {:?})",
            config.host,
            config.workers,
            pool.backend()
        );
        Ok(Application {
            port,
            server,
            metrics_server,
            pool,
            lifecycle,
            drain: config.shutdown_drain,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or SIGINT, then drains: `/health` turns 503, after
    /// `SHUTDOWN_DRAIN_SECONDS` the listener closes, in-flight requests get up
    /// to `SHUTDOWN_TIMEOUT_SECONDS` to finish, and the pool is closed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let metrics_handle = self.metrics_server.as_ref().map(Server::handle);
        spawn_signal_listener(self.lifecycle.clone(), self.drain, handle, metrics_handle);
        if let Some(metrics_server) = self.metrics_server {
            actix_rt::spawn(metrics_server);
        }
        let result = self.server.await;
        drop(self.pool);
        log::info!("server stopped");
        result
    }
}

fn metrics_listener(
    addr: std::net::SocketAddr,
    registry: prometheus::Registry,
) -> Result<Server, StartupError> {
    let bind_err = |source| StartupError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(bind_err)?;
    let server = HttpServer::new(move || {
        let registry = registry.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let body = Metrics::render(&registry);
                async move {
                    HttpResponse::Ok()
                        .content_type("text/plain; version=0.0.4")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(bind_err)?
    .run();
    log::info!("metrics on http://{addr}/metrics");
    Ok(server)
}

fn spawn_signal_listener(
    lifecycle: web::Data<Lifecycle>,
    drain: Duration,
    handle: ServerHandle,
    metrics: Option<ServerHandle>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    for kind in [SignalKind::terminate(), SignalKind::interrupt()] {
        let lifecycle = lifecycle.clone();
        let handle = handle.clone();
        let metrics = metrics.clone();
        actix_rt::spawn(async move {
            let Ok(mut stream) = signal(kind) else {
                log::error!("cannot listen for signal {kind:?}");
                return;
            };
            stream.recv().await;
            if !lifecycle.start_draining() {
                return;
            }
            log::info!("shutdown signal received; draining for {drain:?}");
            if !drain.is_zero() {
                actix_rt::time::sleep(drain).await;
            }
            if let Some(m) = metrics {
                m.stop(true).await;
            }
            handle.stop(true).await;
        });
    }
}

fn cors(origins: &[String]) -> Cors {
    let base = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "DELETE", "OPTIONS"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([
            header::ETAG,
            header::HeaderName::from_static("x-request-id"),
        ])
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        // Tokens travel in a header, not cookies, so any origin is safe to
        // allow for development; production lists its frontends.
        base.allow_any_origin().send_wildcard()
    } else {
        origins.iter().fold(base, |cors, o| cors.allowed_origin(o))
    }
}

/// Gives error responses produced outside our handlers (405, CORS refusals,
/// ...) the same JSON body as `AppError`.
fn json_errors<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"));
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let err = match status.as_u16() {
            404 => AppError::NotFound("route"),
            405 => AppError::field("method", "not allowed for this route"),
            413 => AppError::PayloadTooLarge,
            s if s >= 500 => AppError::Internal(format!("framework error {status}")),
            _ => AppError::body(status.canonical_reason().unwrap_or("bad request")),
        };
        let mut json = err.error_response();
        *json.status_mut() = status;
        let (req, _) = res.into_parts();
        let res: ServiceResponse<BoxBody> = ServiceResponse::new(req, json);
        Ok(ErrorHandlerResponse::Response(res.map_into_right_body()))
    })
}
