//! In-process cache of GET responses (article lists, the feed, articles,
//! comments, tags, profiles), declared per route with `ResponseCache::layer`.
//!
//! Coherence: every entry is stamped with the data generation it was
//! computed under (`shared::generations`), and a hit is served only while
//! that is still the current generation, which every request reads (from
//! process memory, or from Redis with several instances). So a write
//! acknowledged by any instance is seen by every later read through any
//! instance. When the generation cannot be read (Redis down) the cache is
//! emptied and bypassed: reads go to the database until it answers again.
//!
//! - Anonymous responses are kept for up to `CACHE_MAX_AGE_SECONDS`, signed-in
//!   ones per user (keyed by the verified token's user id, so one user's
//!   `following` / `favorited` never reaches another) for up to
//!   `CACHE_SIGNED_IN_MS`. A request with an invalid token bypasses the
//!   cache and gets its 401 from the handler.
//! - Concurrent misses of one key wait (up to 1 s) for the first of them
//!   instead of all querying the database; an entry past its randomised
//!   freshness is still served while one request refreshes it, up to its
//!   full lifetime and never beyond.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{Error, HttpResponse};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use tokio::sync::watch;

use super::cache::etag_of;
use crate::auth::Authenticator;
use crate::config::CacheConfig;
use crate::shared::generations::Generations;

/// Bounds that keep the cache within a few megabytes (enough for a thousand
/// single articles with 2 KB bodies).
const MAX_ENTRIES: usize = 2048;
const MAX_TOTAL_BYTES: usize = 3 * 1024 * 1024;
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The longest a request waits for another one computing the same response
/// before computing it itself.
const COALESCE_WAIT: Duration = Duration::from_secs(1);

struct Entry {
    body: Bytes,
    etag: HeaderValue,
    /// The data generation the body was computed under.
    generation: u64,
    /// Until then the entry is served as is; a random 75-100 % of the ttl,
    /// so entries filled together do not expire together.
    fresh_until: Instant,
    /// After `fresh_until` the first request refreshes the entry while the
    /// others are still served it, up to the full ttl and never beyond.
    serve_until: Instant,
}

/// Maps keyed by `key_for`'s keys, hashed with foldhash: a hit hashes its
/// key once, and SipHash's flooding resistance buys nothing for keys that
/// are bounded in number and evicted.
type KeyMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

#[derive(Default)]
struct State {
    /// The generation last observed; entries of any other one are dropped.
    generation: Option<u64>,
    entries: KeyMap<Entry>,
    bytes: usize,
    /// Keys being computed right now, with the generation each computation
    /// runs under; the sender is dropped when done.
    inflight: KeyMap<(u64, watch::Sender<()>)>,
}

/// What a request should do about its key.
enum Lookup {
    Hit(Bytes, HeaderValue),
    /// Another request is computing this key: wait for it, then look again.
    Wait(watch::Receiver<()>),
    /// Compute the response; `leading` (if this request is the one others
    /// wait for) wakes them when dropped.
    Compute(Option<Leading>),
}

/// Marks a key as being computed; dropping it (also on error or panic)
/// releases the requests waiting for it.
struct Leading {
    cache: Arc<ResponseCache>,
    key: String,
    generation: u64,
}

impl Drop for Leading {
    fn drop(&mut self) {
        if let Ok(mut state) = self.cache.state.lock() {
            // Unless a computation under a newer generation took over.
            if state.inflight.get(&self.key).map(|(g, _)| *g) == Some(self.generation) {
                state.inflight.remove(&self.key);
            }
        }
    }
}

struct CacheMetrics {
    hits: IntCounter,
    misses: IntCounter,
    bypasses: IntCounter,
    entries: IntGauge,
    bytes: IntGauge,
}

impl CacheMetrics {
    fn new(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new(
                "conduit_cache_requests_total",
                "Cacheable GETs by outcome: hit, miss (computed), bypass (generation unknown or token invalid)",
            ),
            &["result"],
        )?;
        let entries = IntGauge::new("conduit_cache_entries", "Responses held in the cache")?;
        let bytes = IntGauge::new("conduit_cache_bytes", "Bytes of response bodies held")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(entries.clone()))?;
        registry.register(Box::new(bytes.clone()))?;
        Ok(CacheMetrics {
            hits: requests.with_label_values(&["hit"]),
            misses: requests.with_label_values(&["miss"]),
            bypasses: requests.with_label_values(&["bypass"]),
            entries,
            bytes,
        })
    }
}

pub struct ResponseCache {
    anonymous_ttl: Duration,
    signed_in_ttl: Duration,
    generations: Arc<Generations>,
    auth: Arc<Authenticator>,
    state: Mutex<State>,
    metrics: CacheMetrics,
}

impl ResponseCache {
    /// A zero ttl disables the cache for that kind of request.
    pub fn new(
        config: &CacheConfig,
        generations: Arc<Generations>,
        auth: Arc<Authenticator>,
        registry: &Registry,
    ) -> prometheus::Result<Self> {
        Ok(ResponseCache {
            anonymous_ttl: config.anonymous_ttl,
            signed_in_ttl: config.signed_in_ttl,
            generations,
            auth,
            state: Mutex::new(State::default()),
            metrics: CacheMetrics::new(registry)?,
        })
    }

    /// The middleware a cacheable route wraps its resource in.
    pub fn layer(self: &Arc<Self>) -> CacheLayer {
        CacheLayer {
            cache: self.clone(),
        }
    }

    /// The entry if it is of `generation` and fresh, or still servable while
    /// a refresh of it is in flight.
    fn usable(state: &State, key: &str, generation: u64) -> Option<(Bytes, HeaderValue)> {
        let entry = state.entries.get(key)?;
        if entry.generation != generation {
            return None;
        }
        let now = Instant::now();
        let usable = now < entry.fresh_until
            || (now < entry.serve_until
                && state
                    .inflight
                    .get(key)
                    .is_some_and(|(g, _)| *g == generation));
        usable.then(|| (entry.body.clone(), entry.etag.clone()))
    }

    fn observe(&self, state: &mut State, generation: u64) {
        if state.generation != Some(generation) {
            state.generation = Some(generation);
            state.entries.clear();
            state.bytes = 0;
            self.update_gauges(state);
        }
    }

    /// A hit; else, when nobody is computing `key` under `generation`, the
    /// lead on it; else (if `may_wait`) a wait for the request computing it.
    fn lookup(this: &Arc<Self>, key: &str, generation: u64, may_wait: bool) -> Option<Lookup> {
        let mut state = this.state.lock().ok()?;
        this.observe(&mut state, generation);
        if let Some((body, etag)) = Self::usable(&state, key, generation) {
            return Some(Lookup::Hit(body, etag));
        }
        // Only a computation under this request's generation can answer
        // it; one under an older generation (a write came since) is not
        // waited for: this request leads its own.
        match state.inflight.get(key) {
            Some((g, computing)) if *g == generation && may_wait => {
                Some(Lookup::Wait(computing.subscribe()))
            }
            Some((g, _)) if *g == generation => Some(Lookup::Compute(None)),
            _ => {
                state
                    .inflight
                    .insert(key.to_owned(), (generation, watch::channel(()).0));
                Some(Lookup::Compute(Some(Leading {
                    cache: this.clone(),
                    key: key.to_owned(),
                    generation,
                })))
            }
        }
    }

    fn put(&self, key: String, body: Bytes, etag: HeaderValue, generation: u64, ttl: Duration) {
        let fresh = ttl.mul_f64(0.75 + 0.25 * fastrand::f64());
        self.store(key, body, etag, generation, fresh, ttl);
    }

    /// Stores `body` unless the generation moved on since it was computed.
    fn store(
        &self,
        key: String,
        body: Bytes,
        etag: HeaderValue,
        generation: u64,
        fresh: Duration,
        ttl: Duration,
    ) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.generation != Some(generation) || body.len() > MAX_BODY_BYTES {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES || state.bytes + body.len() > MAX_TOTAL_BYTES {
            let now = Instant::now();
            state.entries.retain(|_, e| now < e.serve_until);
            state.bytes = state.entries.values().map(|e| e.body.len()).sum();
            if state.entries.len() >= MAX_ENTRIES || state.bytes + body.len() > MAX_TOTAL_BYTES {
                return;
            }
        }
        state.bytes += body.len();
        let now = Instant::now();
        let entry = Entry {
            body,
            etag,
            generation,
            fresh_until: now + fresh,
            serve_until: now + ttl,
        };
        if let Some(old) = state.entries.insert(key, entry) {
            state.bytes -= old.body.len();
        }
        self.update_gauges(&state);
    }

    /// Drops every entry: their generation can no longer be checked.
    fn clear(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.generation = None;
            state.entries.clear();
            state.bytes = 0;
            self.update_gauges(&state);
        }
    }

    fn update_gauges(&self, state: &State) {
        self.metrics.entries.set(state.entries.len() as i64);
        self.metrics.bytes.set(state.bytes as i64);
    }
}

/// The cache key and lifetime for `req`, or `None` if it must not use the
/// cache (not a GET, caching off for its kind, or an invalid token).
///
/// Anonymous: the path and query. Signed in: the user id in 16 hex digits,
/// a space, then the path and query, so a key of one user's view never
/// equals another user's or an anonymous one (those start with `/`). Built
/// by hand: formatting the URI and the id took more instructions than the
/// rest of a hit's lookup.
async fn key_for(
    cache: &ResponseCache,
    req: &ServiceRequest,
    stamp: crate::shared::generations::Stamp,
) -> Option<(String, Duration)> {
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    if !req.headers().contains_key(header::AUTHORIZATION) {
        return Some((target.to_owned(), cache.anonymous_ttl));
    }
    let user = cache
        .auth
        .authenticate(req.request(), Some(stamp))
        .await
        .ok()??;
    Some((signed_in_key(user.id, target), cache.signed_in_ttl))
}

fn signed_in_key(user: crate::domain::UserId, target: &str) -> String {
    let mut key = String::with_capacity(17 + target.len());
    key.push_str(super::hex::write_lower(
        &mut [0u8; 16],
        u128::from(user.get() as u64),
    ));
    key.push(' ');
    key.push_str(target);
    key
}

/// `ResponseCache::layer`: serves the wrapped resource's GETs from the cache.
pub struct CacheLayer {
    cache: Arc<ResponseCache>,
}

type Inner = ServiceResponse<BoxBody>;

impl<S> Transform<S, ServiceRequest> for CacheLayer
where
    S: Service<ServiceRequest, Response = Inner, Error = Error> + 'static,
{
    type Response = Inner;
    type Error = Error;
    type Transform = CacheService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CacheService {
            service: Rc::new(service),
            cache: self.cache.clone(),
        }))
    }
}

pub struct CacheService<S> {
    service: Rc<S>,
    cache: Arc<ResponseCache>,
}

impl<S> Service<ServiceRequest> for CacheService<S>
where
    S: Service<ServiceRequest, Response = Inner, Error = Error> + 'static,
{
    type Response = Inner;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Inner, Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        Box::pin(serve_cached(self.cache.clone(), req, self.service.clone()))
    }
}

async fn serve_cached<S>(
    cache: Arc<ResponseCache>,
    req: ServiceRequest,
    next: Rc<S>,
) -> Result<Inner, Error>
where
    S: Service<ServiceRequest, Response = Inner, Error = Error>,
{
    let ttl = if req.headers().contains_key(header::AUTHORIZATION) {
        cache.signed_in_ttl
    } else {
        cache.anonymous_ttl
    };
    if req.method() != Method::GET || ttl.is_zero() {
        return next.call(req).await;
    }
    let Some(stamp) = cache.generations.current().await else {
        cache.clear();
        cache.metrics.bypasses.inc();
        return next.call(req).await;
    };
    let Some((key, ttl)) = key_for(&cache, &req, stamp).await else {
        cache.metrics.bypasses.inc();
        return next.call(req).await;
    };
    let mut may_wait = true;
    let leading = loop {
        match ResponseCache::lookup(&cache, &key, stamp.data, may_wait) {
            None => return next.call(req).await,
            Some(Lookup::Hit(body, etag)) => {
                cache.metrics.hits.inc();
                let res = HttpResponse::Ok()
                    .content_type("application/json")
                    .insert_header((header::ETAG, etag))
                    .body(body);
                return Ok(req.into_response(res));
            }
            Some(Lookup::Wait(mut done)) => {
                // Err: the computing request finished (its sender dropped).
                let _ = tokio::time::timeout(COALESCE_WAIT, done.changed()).await;
                may_wait = false;
            }
            Some(Lookup::Compute(leading)) => break leading,
        }
    };
    cache.metrics.misses.inc();
    let res = next.call(req).await?;
    if res.status() != StatusCode::OK {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let res = match body.try_into_bytes() {
        Ok(bytes) => {
            let etag = etag_of(&bytes);
            head.headers_mut().insert(header::ETAG, etag.clone());
            cache.put(key, bytes.clone(), etag, stamp.data, ttl);
            ServiceResponse::new(req, head.set_body(BoxBody::new(bytes)))
        }
        Err(body) => ServiceResponse::new(req, head.set_body(body)),
    };
    // Stored (or not): the requests waiting for this one look again.
    drop(leading);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(ttl: Duration) -> Arc<ResponseCache> {
        let config = CacheConfig {
            anonymous_ttl: ttl,
            signed_in_ttl: ttl,
            shared_max_age_secs: 0,
        };
        let registry = Registry::new();
        let keys = crate::auth::JwtKeys::new(
            &crate::config::Secret::new("a-test-secret-that-is-long-enough!!"),
            ttl,
        );
        let pool = crate::db::Pool::new(
            "/nonexistent/never-opened.db",
            &crate::db::PoolSettings {
                max_size: 1,
                min_idle: 0,
                acquire_timeout: Duration::from_millis(10),
                statement_timeout: Duration::from_millis(10),
            },
            crate::db::DbMetrics::new(&registry).unwrap(),
        )
        .unwrap();
        let generations = Arc::new(Generations::local());
        Arc::new(
            ResponseCache::new(
                &config,
                generations.clone(),
                Arc::new(Authenticator::new(keys, pool, generations)),
                &registry,
            )
            .unwrap(),
        )
    }

    fn etag() -> HeaderValue {
        HeaderValue::from_static("W/\"1\"")
    }

    fn get(cache: &Arc<ResponseCache>, key: &str, generation: u64) -> Option<Bytes> {
        match ResponseCache::lookup(cache, key, generation, false)? {
            Lookup::Hit(body, _) => Some(body),
            _ => None,
        }
    }

    #[test]
    fn signed_in_keys_are_per_user_and_never_an_anonymous_key() {
        use crate::domain::UserId;
        let key = signed_in_key(UserId::new(0x2a), "/api/articles?limit=20");
        assert_eq!(key, "000000000000002a /api/articles?limit=20");
        assert_ne!(
            key,
            signed_in_key(UserId::new(0x2b), "/api/articles?limit=20")
        );
        assert!(!key.starts_with('/'));
    }

    #[test]
    fn entries_expire_and_a_new_generation_empties_the_cache() {
        let ttl = Duration::from_millis(50);
        let cache = cache(ttl);
        assert!(get(&cache, "/a", 1).is_none());
        cache.put("/a".into(), Bytes::from_static(b"1"), etag(), 1, ttl);
        assert_eq!(get(&cache, "/a", 1).as_deref(), Some(&b"1"[..]));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(get(&cache, "/a", 1), None, "expired");
        cache.put("/a".into(), Bytes::from_static(b"2"), etag(), 1, ttl);
        assert_eq!(get(&cache, "/a", 2), None, "another generation");
        // A response computed under the old generation is not stored after it.
        cache.put("/a".into(), Bytes::from_static(b"3"), etag(), 1, ttl);
        assert_eq!(get(&cache, "/a", 2), None);
        assert_eq!(get(&cache, "/a", 1), None, "old entries were dropped");
    }

    #[actix_rt::test]
    async fn concurrent_misses_of_one_key_wait_for_a_single_computation() {
        let ttl = Duration::from_secs(5);
        let cache = cache(ttl);
        let Some(Lookup::Compute(Some(leading))) = ResponseCache::lookup(&cache, "/a", 1, true)
        else {
            panic!("the first miss computes and leads");
        };
        let Some(Lookup::Wait(mut done)) = ResponseCache::lookup(&cache, "/a", 1, true) else {
            panic!("the second miss waits");
        };
        assert!(
            matches!(
                ResponseCache::lookup(&cache, "/a", 1, false),
                Some(Lookup::Compute(None))
            ),
            "one that has waited already computes without leading"
        );
        assert!(matches!(
            ResponseCache::lookup(&cache, "/b", 1, true),
            Some(Lookup::Compute(Some(_)))
        ));
        cache.put("/a".into(), Bytes::from_static(b"1"), etag(), 1, ttl);
        drop(leading);
        assert!(done.changed().await.is_err(), "waiters are released");
        assert!(matches!(
            ResponseCache::lookup(&cache, "/a", 1, true),
            Some(Lookup::Hit(..))
        ));
    }

    #[actix_rt::test]
    async fn a_miss_after_a_write_does_not_wait_for_a_computation_from_before_it() {
        let ttl = Duration::from_secs(5);
        let cache = cache(ttl);
        let Some(Lookup::Compute(Some(old))) = ResponseCache::lookup(&cache, "/a", 1, true) else {
            panic!("leads under generation 1");
        };
        let Some(Lookup::Compute(Some(new))) = ResponseCache::lookup(&cache, "/a", 2, true) else {
            panic!("generation 2 leads its own computation");
        };
        drop(old);
        assert!(
            matches!(
                ResponseCache::lookup(&cache, "/a", 2, true),
                Some(Lookup::Wait(_))
            ),
            "the older leader finishing does not end the newer one's lead"
        );
        drop(new);
    }

    #[actix_rt::test]
    async fn a_stale_entry_is_served_only_while_it_is_refreshed_and_within_its_ttl() {
        let ttl = Duration::from_millis(200);
        let cache = cache(ttl);
        assert!(get(&cache, "/a", 1).is_none());
        let fresh = Duration::from_millis(20);
        cache.store(
            "/a".into(),
            Bytes::from_static(b"old"),
            etag(),
            1,
            fresh,
            ttl,
        );
        std::thread::sleep(Duration::from_millis(40)); // past fresh
        let Some(Lookup::Compute(Some(refresh))) = ResponseCache::lookup(&cache, "/a", 1, true)
        else {
            panic!("the first request after fresh refreshes");
        };
        assert!(
            matches!(ResponseCache::lookup(&cache, "/a", 1, true), Some(Lookup::Hit(b, _)) if b == "old"),
            "the others get the entry meanwhile"
        );
        std::thread::sleep(Duration::from_millis(170)); // past the ttl
        assert!(
            matches!(
                ResponseCache::lookup(&cache, "/a", 1, true),
                Some(Lookup::Wait(_))
            ),
            "never beyond the ttl"
        );
        drop(refresh);
    }
}
