//! The Redis connection every instance shares state through: multiplexed,
//! self-reconnecting connections (`redis`' `ConnectionManager`, which
//! pipelines concurrent commands), one per worker thread and opened on its
//! first use there, so a command, its reply and the request waiting for it
//! stay on one thread (no cross-thread wake-up per cache hit). Every call is bounded by `REDIS_TIMEOUT_MS`; after a failure,
//! calls skip Redis for `REDIS_RETRY_MS` and fail at once, so a slow or dead
//! Redis costs a request at most one timeout per retry period. Callers
//! degrade on failure (caches bypass, limits go per instance); none fails a
//! request because Redis did.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::RedisResult;
use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

use crate::config::RedisConfig;

#[derive(Debug, thiserror::Error)]
pub enum RedisFailure {
    #[error("Redis is skipped after a recent failure")]
    Skipped,
    #[error("Redis call timed out after {0:?}")]
    Timeout(Duration),
    #[error("Redis call failed")]
    Redis(#[from] ::redis::RedisError),
}

#[derive(Debug, thiserror::Error)]
pub enum RedisSetupError {
    #[error("invalid REDIS_URL")]
    Url(#[source] ::redis::RedisError),
    #[error("registering Redis metrics")]
    Metrics(#[from] prometheus::Error),
}

struct RedisMetrics {
    up: IntGauge,
    errors: IntCounterVec,
    in_flight: IntGauge,
    duration: Histogram,
}

impl RedisMetrics {
    fn new(registry: &Registry) -> prometheus::Result<Self> {
        let up = IntGauge::new(
            "conduit_redis_up",
            "1 while Redis answers, 0 after a failed call until one succeeds",
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "conduit_redis_errors_total",
                "Redis calls that failed, timed out or were skipped after a failure",
            ),
            &["operation"],
        )?;
        let in_flight = IntGauge::new(
            "conduit_redis_commands_in_flight",
            "Redis calls waiting for their reply on the shared connection",
        )?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "conduit_redis_command_duration_seconds",
                "Round trip of a Redis call",
            )
            .buckets(vec![
                0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
            ]),
        )?;
        registry.register(Box::new(up.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(RedisMetrics {
            up,
            errors,
            in_flight,
            duration,
        })
    }
}

static NEXT_STORE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// (store id, connection) for each store this thread has used.
    static THREAD_CONNECTIONS: RefCell<Vec<(usize, ConnectionManager)>> =
        const { RefCell::new(Vec::new()) };
}

pub struct RedisStore {
    /// Tells this store's connections apart in the threads' lists.
    id: usize,
    client: ::redis::Client,
    manager_config: ConnectionManagerConfig,
    timeout: Duration,
    retry_after: Duration,
    key_prefix: String,
    epoch: Instant,
    /// Calls fail at once until this many ms after `epoch`.
    skip_until_ms: AtomicU64,
    up: AtomicBool,
    metrics: RedisMetrics,
}

impl RedisStore {
    /// Sets up the connection without connecting (must be called inside the
    /// async runtime): the server starts whether or not Redis is up.
    pub fn new(config: &RedisConfig, registry: &Registry) -> Result<Self, RedisSetupError> {
        let client = ::redis::Client::open(config.url.as_str()).map_err(RedisSetupError::Url)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(config.retry_after.max(Duration::from_millis(10)));
        let metrics = RedisMetrics::new(registry)?;
        Ok(RedisStore {
            id: NEXT_STORE.fetch_add(1, Ordering::Relaxed),
            client,
            manager_config,
            timeout: config.timeout,
            retry_after: config.retry_after,
            key_prefix: config.key_prefix.clone(),
            epoch: Instant::now(),
            skip_until_ms: AtomicU64::new(0),
            up: AtomicBool::new(false),
            metrics,
        })
    }

    /// This thread's connection, set up (without connecting) on first use.
    fn connection(&self) -> RedisResult<ConnectionManager> {
        THREAD_CONNECTIONS.with(|list| {
            if let Some((_, conn)) = list.borrow().iter().find(|(id, _)| *id == self.id) {
                return Ok(conn.clone());
            }
            let conn = ConnectionManager::new_lazy_with_config(
                self.client.clone(),
                self.manager_config.clone(),
            )?;
            list.borrow_mut().push((self.id, conn.clone()));
            Ok(conn)
        })
    }

    /// The longest one `call` can take: two bounded attempts.
    pub fn call_bound(&self) -> Duration {
        2 * self.timeout
    }

    /// A key in this deployment's namespace.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.key_prefix)
    }

    /// Whether the last call succeeded.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs one Redis call (`op` names it in metrics and logs) on the shared
    /// connection, bounded by the timeout and skipped while Redis is
    /// considered down. A call that finds the connection dropped (Redis
    /// restarted, say) is made once more at once: the manager reconnects, and
    /// a restart then costs no request its Redis.
    pub async fn call<T, F, Fut>(&self, op: &'static str, call: F) -> Result<T, RedisFailure>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if self.now_ms() < self.skip_until_ms.load(Ordering::Acquire) {
            self.metrics.errors.with_label_values(&[op]).inc();
            return Err(RedisFailure::Skipped);
        }
        self.call_even_if_down(op, call).await
    }

    /// `call`, made even while Redis is considered down: for a write's
    /// publication, which other instances rely on. Skipping it would let
    /// them trust a copy the write made stale for as long as this instance
    /// waits to retry, though Redis may be back already.
    pub async fn call_even_if_down<T, F, Fut>(
        &self,
        op: &'static str,
        call: F,
    ) -> Result<T, RedisFailure>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = match self.connection() {
            Ok(conn) => conn,
            Err(e) => return Err(RedisFailure::Redis(e)),
        };
        let mut result = self.bounded(call(conn.clone())).await;
        if let Err(RedisFailure::Redis(e)) = &result {
            if e.is_io_error() || e.is_connection_dropped() {
                result = self.bounded(call(conn)).await;
            }
        }
        match &result {
            Ok(_) => {
                if !self.up.swap(true, Ordering::AcqRel) {
                    log::info!("Redis is reachable");
                }
                self.metrics.up.set(1);
            }
            Err(e) => {
                self.metrics.errors.with_label_values(&[op]).inc();
                self.metrics.up.set(0);
                let retry_ms = u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX);
                self.skip_until_ms
                    .store(self.now_ms().saturating_add(retry_ms), Ordering::Release);
                // One line per outage; callers carry on without Redis.
                if self.up.swap(false, Ordering::AcqRel) {
                    log::warn!(
                        "Redis unavailable ({op}: {}); caches bypassed and limits per instance until it answers",
                        crate::error::Chain(e)
                    );
                }
            }
        }
        result
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, RedisFailure> {
        let started = Instant::now();
        self.metrics.in_flight.inc();
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(RedisFailure::Redis(e)),
            Err(_) => Err(RedisFailure::Timeout(self.timeout)),
        };
        self.metrics.in_flight.dec();
        self.metrics
            .duration
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// A round trip, for `/health`.
    pub async fn ping(&self) -> Result<(), RedisFailure> {
        self.call("ping", |mut conn| async move {
            ::redis::cmd("PING").query_async::<()>(&mut conn).await
        })
        .await
    }
}
