//! Prometheus metrics of the database layer: pool state, checkout waits and
//! timeouts, time spent in blocking sections, and SQL statements executed.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntGauge, Opts, Registry};

use super::pool::ConnectionManager;

/// Buckets from 50 µs to 5 s: pool waits and queries are usually sub-millisecond.
const BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

pub struct DbMetrics {
    checkout_wait: Histogram,
    timeouts: IntCounter,
    abandoned: IntCounter,
    section: Histogram,
    statements: IntCounter,
    evicted: IntCounter,
    batch_size: HistogramVec,
    waiting: Arc<AtomicI64>,
    pool: Arc<OnceLock<r2d2::Pool<ConnectionManager>>>,
}

impl DbMetrics {
    pub fn new(registry: &Registry) -> prometheus::Result<Arc<Self>> {
        let checkout_wait = Histogram::with_opts(
            HistogramOpts::new(
                "conduit_db_pool_checkout_wait_seconds",
                "Time spent waiting for a pooled database connection",
            )
            .buckets(BUCKETS.to_vec()),
        )?;
        let timeouts = IntCounter::new(
            "conduit_db_pool_timeouts_total",
            "Connection checkouts that failed (pool exhausted or database unreachable)",
        )?;
        let section = Histogram::with_opts(
            HistogramOpts::new(
                "conduit_db_query_duration_seconds",
                "Time a request's database work held a connection (one blocking section)",
            )
            .buckets(BUCKETS.to_vec()),
        )?;
        let statements = IntCounter::new(
            "conduit_db_statements_total",
            "SQL statements sent to the database",
        )?;
        let abandoned = IntCounter::new(
            "conduit_db_sections_abandoned_total",
            "Database sections whose request was answered 503 because the database did not reply in time",
        )?;
        let evicted = IntCounter::new(
            "conduit_db_pool_evicted_total",
            "Idle connections found dead when checked out (after a database outage) and replaced",
        )?;
        let batch_size = HistogramVec::new(
            HistogramOpts::new(
                "conduit_db_batch_size",
                "Requests served by one run of shared database work, by kind \
                 (article_create: one batched statement; tags: one query)",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]),
            &["kind"],
        )?;
        let metrics = Arc::new(DbMetrics {
            checkout_wait,
            timeouts,
            abandoned,
            section,
            statements,
            evicted,
            batch_size,
            waiting: Arc::new(AtomicI64::new(0)),
            pool: Arc::new(OnceLock::new()),
        });
        registry.register(Box::new(metrics.checkout_wait.clone()))?;
        registry.register(Box::new(metrics.timeouts.clone()))?;
        registry.register(Box::new(metrics.abandoned.clone()))?;
        registry.register(Box::new(metrics.section.clone()))?;
        registry.register(Box::new(metrics.statements.clone()))?;
        registry.register(Box::new(metrics.evicted.clone()))?;
        registry.register(Box::new(metrics.batch_size.clone()))?;
        registry.register(Box::new(PoolStateCollector::new(
            metrics.pool.clone(),
            metrics.waiting.clone(),
        )?))?;
        Ok(metrics)
    }

    pub(super) fn watch_pool(&self, pool: r2d2::Pool<ConnectionManager>) {
        let _ = self.pool.set(pool);
    }

    pub(super) fn observe_checkout(&self, waited: Duration) {
        self.checkout_wait.observe(waited.as_secs_f64());
    }

    pub(super) fn count_timeout(&self) {
        self.timeouts.inc();
    }

    pub(super) fn count_abandoned(&self) {
        self.abandoned.inc();
    }

    pub(super) fn observe_section(&self, held: Duration) {
        self.section.observe(held.as_secs_f64());
    }

    pub(super) fn waiting_guard(&self) -> WaitingGuard {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        WaitingGuard(self.waiting.clone())
    }

    pub(super) fn observe_batch(&self, kind: &str, requests: usize) {
        self.batch_size
            .with_label_values(&[kind])
            .observe(requests as f64);
    }

    pub(super) fn count_evicted(&self) {
        self.evicted.inc();
    }

    pub(super) fn statements_counter(&self) -> IntCounter {
        self.statements.clone()
    }

    /// Statements executed so far (the benchmark and tests read deltas).
    pub fn statements(&self) -> u64 {
        self.statements.get()
    }
}

pub(super) struct WaitingGuard(Arc<AtomicI64>);

impl Drop for WaitingGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Reads the pool's state at scrape time instead of tracking it on every checkout.
struct PoolStateCollector {
    pool: Arc<OnceLock<r2d2::Pool<ConnectionManager>>>,
    waiting_count: Arc<AtomicI64>,
    connections: IntGauge,
    idle: IntGauge,
    max: IntGauge,
    waiting: IntGauge,
    descs: Vec<Desc>,
}

impl PoolStateCollector {
    fn new(
        pool: Arc<OnceLock<r2d2::Pool<ConnectionManager>>>,
        waiting_count: Arc<AtomicI64>,
    ) -> prometheus::Result<Self> {
        let gauge = |name: &str, help: &str| IntGauge::with_opts(Opts::new(name, help));
        let connections = gauge(
            "conduit_db_pool_connections",
            "Open connections in the pool",
        )?;
        let idle = gauge(
            "conduit_db_pool_idle_connections",
            "Idle connections in the pool",
        )?;
        let max = gauge(
            "conduit_db_pool_max_connections",
            "Configured maximum pool size",
        )?;
        let waiting = gauge(
            "conduit_db_pool_waiting",
            "Blocking tasks currently waiting for a connection",
        )?;
        let descs = [&connections, &idle, &max, &waiting]
            .iter()
            .flat_map(|g| g.desc().into_iter().cloned())
            .collect();
        Ok(PoolStateCollector {
            pool,
            waiting_count,
            connections,
            idle,
            max,
            waiting,
            descs,
        })
    }
}

impl Collector for PoolStateCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        if let Some(pool) = self.pool.get() {
            let state = pool.state();
            self.connections.set(i64::from(state.connections));
            self.idle.set(i64::from(state.idle_connections));
            self.max.set(i64::from(pool.max_size()));
        }
        self.waiting.set(self.waiting_count.load(Ordering::Relaxed));
        [&self.connections, &self.idle, &self.max, &self.waiting]
            .iter()
            .flat_map(|g| g.collect())
            .collect()
    }
}
