//! Wiring: builds the pool (once), runs migrations, configures the HTTP server
//! and its middleware, and handles shutdown signals. Port 0 picks a free port,
//! which the tests use.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{web, App, HttpResponse, HttpServer, ResponseError};

use crate::auth::{Authenticator, JwtKeys, PasswordHasherPool};
use crate::config::{Config, DatabaseConfig, MetricsExposure};
use crate::db::{Batcher, Pool, PoolError, PoolSettings};
use crate::error::AppError;
use crate::health::Health;
use crate::http::cache::{http_cache, HttpCaching};
use crate::http::compress::{compress, Compression};
use crate::http::rate_limit::AuthRateLimiter;
use crate::http::response_cache::ResponseCache;
use crate::http::{extractors, security};
use crate::routes;
use crate::shared::generations::Generations;
use crate::shared::redis::{RedisSetupError, RedisStore};
use crate::state::AppState;
use crate::telemetry::metrics::{Metrics, MetricsError};
use crate::telemetry::request::request_context;
use crate::{articles, tags};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database")]
    Database(#[from] PoolError),
    #[error("metrics")]
    Metrics(#[from] MetricsError),
    #[error("Redis")]
    Redis(#[from] RedisSetupError),
    #[error("response cache metrics")]
    CacheMetrics(#[source] prometheus::Error),
    #[error("starting the password hashing threads")]
    HashingThreads(#[source] std::io::Error),
    #[error("binding {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

fn pool_settings(database: &DatabaseConfig) -> PoolSettings {
    PoolSettings {
        max_size: database.pool_max_size,
        min_idle: database.pool_min_idle,
        acquire_timeout: database.pool_timeout,
        statement_timeout: database.statement_timeout,
    }
}

/// `conduit migrate`: apply pending migrations and return their versions.
/// Needs only the database settings.
pub fn migrate(database: &DatabaseConfig) -> Result<Vec<String>, StartupError> {
    let metrics = Metrics::new(false)?;
    let mut settings = pool_settings(database);
    settings.min_idle = 0;
    let pool = Pool::new(&database.url, &settings, metrics.db)?;
    Ok(pool.run_migrations()?)
}

pub struct Application {
    port: u16,
    server: Server,
    metrics_server: Option<Server>,
    state: web::Data<AppState>,
    drain: Duration,
}

impl Application {
    /// Builds everything the server needs, once: pool, Redis connection,
    /// caches, application state; binds the listener (port 0 picks a free
    /// one). Must run inside the async runtime.
    pub fn build(config: Config) -> Result<Self, StartupError> {
        let metrics = Metrics::new(config.telemetry.metrics == MetricsExposure::Public)?;
        let pool = Pool::new(
            &config.database.url,
            &pool_settings(&config.database),
            metrics.db.clone(),
        )?;
        if config.database.run_migrations {
            let applied = pool.run_migrations()?;
            if !applied.is_empty() {
                log::info!("applied migrations: {applied:?}");
            }
        }
        let addr = config.http.bind_address();
        let listener = TcpListener::bind(&addr).map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(config.http.port);

        let redis = match &config.redis {
            Some(redis) => Some(Arc::new(RedisStore::new(redis, &metrics.registry)?)),
            None => None,
        };
        let generations = Arc::new(match &redis {
            Some(redis) => Generations::shared(redis.clone()),
            None => Generations::local(),
        });
        let auth = Arc::new(Authenticator::new(
            JwtKeys::new(&config.auth.jwt_secret, config.auth.jwt_ttl),
            pool.clone(),
            generations.clone(),
        ));
        let cache = Arc::new(
            ResponseCache::new(
                &config.cache,
                generations.clone(),
                auth.clone(),
                &metrics.registry,
            )
            .map_err(StartupError::CacheMetrics)?,
        );
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            auth,
            hasher: PasswordHasherPool::new(config.auth.hash_concurrency)
                .map_err(StartupError::HashingThreads)?,
            limiter: AuthRateLimiter::new(
                &config.rate_limit,
                config.http.trust_proxy,
                redis.clone(),
            ),
            generations,
            health: Health::new(config.database.health_timeout, redis.clone()),
            article_creates: Batcher::writes(
                "article_create",
                articles::CREATE_BATCH_MAX,
                articles::repo::create_batch,
            ),
            tag_reads: Batcher::reads("tags", tags::READ_BATCH_MAX, tags::in_use_bodies),
        });
        let compression = Arc::new(Compression::new(config.http.compression_min_bytes));
        let http_caching = Arc::new(HttpCaching::new(config.cache.shared_max_age_secs));
        let http_metrics = metrics.http.clone();
        let body_limit = config.http.body_limit_bytes;
        let origins = config.http.cors_allowed_origins.clone();
        let app_state = state.clone();

        // Each worker has its own blocking pool for database work (hashing
        // has its own threads). Threads beyond a worker's share of the
        // connections would only wait, and every thread costs memory (stack,
        // allocator caches).
        let workers = config.http.workers;
        let blocking_threads = (config.database.pool_max_size as usize).div_ceil(workers) + 1;
        let server = HttpServer::new(move || {
            let compression = compression.clone();
            let http_caching = http_caching.clone();
            App::new()
                .app_data(app_state.clone())
                .app_data(extractors::json_config(body_limit))
                .app_data(extractors::query_config())
                .app_data(extractors::path_config())
                .configure(|cfg| routes::configure(cfg, &cache))
                // Innermost first: caching headers see the handler's body,
                // then compression, CORS, error shaping, security headers,
                // metrics, and outermost the request context that times and
                // logs the whole request.
                .wrap(from_fn(move |req: ServiceRequest, next: Next<BoxBody>| {
                    http_cache(http_caching.clone(), req, next)
                }))
                .wrap(from_fn(move |req: ServiceRequest, next: Next<BoxBody>| {
                    compress(compression.clone(), req, next)
                }))
                .wrap(cors(&origins))
                .wrap(json_errors())
                .wrap(security::headers())
                .wrap(http_metrics.clone())
                .wrap(from_fn(request_context))
        })
        .workers(workers)
        .worker_max_blocking_threads(blocking_threads)
        .keep_alive(config.http.keep_alive)
        .client_request_timeout(config.http.client_request_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .shutdown_timeout(config.shutdown.timeout.as_secs())
        .disable_signals()
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?
        .run();

        let metrics_server = match &config.telemetry.metrics {
            MetricsExposure::Separate(metrics_addr) => {
                Some(metrics_listener(*metrics_addr, metrics.registry.clone())?)
            }
            _ => None,
        };
        log::info!(
            "listening on {}:{port} ({workers} workers, database {:?}, {})",
            config.http.host,
            pool.backend(),
            if redis.is_some() {
                "shared state in Redis"
            } else {
                "single instance"
            }
        );
        Ok(Application {
            port,
            server,
            metrics_server,
            state,
            drain: config.shutdown.drain,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &Pool {
        &self.state.pool
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
        spawn_signal_listener(self.state.clone(), self.drain, handle, metrics_handle);
        if let Some(metrics_server) = self.metrics_server {
            actix_rt::spawn(metrics_server);
        }
        let result = self.server.await;
        drop(self.state);
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
    state: web::Data<AppState>,
    drain: Duration,
    handle: ServerHandle,
    metrics: Option<ServerHandle>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    for kind in [SignalKind::terminate(), SignalKind::interrupt()] {
        let state = state.clone();
        let handle = handle.clone();
        let metrics = metrics.clone();
        actix_rt::spawn(async move {
            let Ok(mut stream) = signal(kind) else {
                log::error!("cannot listen for signal {kind:?}");
                return;
            };
            stream.recv().await;
            if !state.health.start_draining() {
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
            s if s >= 500 => AppError::bug("the framework answered with a server error"),
            _ => AppError::body(status.canonical_reason().unwrap_or("bad request")),
        };
        let mut json = err.error_response();
        *json.status_mut() = status;
        let (req, _) = res.into_parts();
        let res: ServiceResponse<BoxBody> = ServiceResponse::new(req, json);
        Ok(ErrorHandlerResponse::Response(res.map_into_right_body()))
    })
}
