//! In-process cache of GET responses (article lists, the feed, articles,
//! comments, tags, profiles), emptied by every successful write handled by
//! this process, so a single instance never serves data older than its last
//! write.
//!
//! - Anonymous responses are kept for what `Cache-Control: public,
//!   max-age=N` already lets any shared cache serve: at most the same N seconds.
//! - Signed-in responses are keyed by the user id of the verified token, so
//!   one user's view (`following`, `favorited`) never reaches another, and
//!   kept for a much shorter time (`CACHE_SIGNED_IN_MS`, default 1 s): that is
//!   how stale a signed-in view can be after a write handled by another
//!   instance. A request with an invalid token bypasses the cache (and gets
//!   its 401 from the handler).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{Error, HttpResponse};

/// Bounds that keep the cache within about a megabyte or two.
const MAX_ENTRIES: usize = 1024;
const MAX_TOTAL_BYTES: usize = 2 * 1024 * 1024;
const MAX_BODY_BYTES: usize = 64 * 1024;

struct Entry {
    body: Bytes,
    expires: Instant,
}

#[derive(Default)]
struct State {
    generation: u64,
    entries: HashMap<String, Entry>,
    bytes: usize,
}

pub struct ResponseCache {
    anonymous_ttl: Duration,
    signed_in_ttl: Duration,
    state: Mutex<State>,
}

impl ResponseCache {
    /// A zero ttl disables the cache for that kind of request.
    pub fn new(anonymous_ttl: Duration, signed_in_ttl: Duration) -> Self {
        ResponseCache {
            anonymous_ttl,
            signed_in_ttl,
            state: Mutex::new(State::default()),
        }
    }

    fn generation(&self) -> Option<u64> {
        self.state.lock().ok().map(|s| s.generation)
    }

    fn get(&self, key: &str) -> Option<Bytes> {
        let state = self.state.lock().ok()?;
        let entry = state.entries.get(key)?;
        (Instant::now() < entry.expires).then(|| entry.body.clone())
    }

    /// Stores `body` unless a write happened since the response was computed
    /// (`generation` taken before the handler ran), which could make it stale.
    fn put(&self, key: String, body: Bytes, generation: u64, ttl: Duration) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.generation != generation || body.len() > MAX_BODY_BYTES {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES || state.bytes + body.len() > MAX_TOTAL_BYTES {
            let now = Instant::now();
            state.entries.retain(|_, e| now < e.expires);
            state.bytes = state.entries.values().map(|e| e.body.len()).sum();
            if state.entries.len() >= MAX_ENTRIES || state.bytes + body.len() > MAX_TOTAL_BYTES {
                return;
            }
        }
        state.bytes += body.len();
        let expires = Instant::now() + ttl;
        if let Some(old) = state.entries.insert(key, Entry { body, expires }) {
            state.bytes -= old.body.len();
        }
    }

    /// Called after every successful write.
    pub fn invalidate(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.generation += 1;
            state.entries.clear();
            state.bytes = 0;
        }
    }
}

/// Whether a finished request changed data that cached responses may show.
pub fn is_write(method: &Method, path: &str, status: StatusCode) -> bool {
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    // A login changes nothing anyone can read.
    !reads && status.is_success() && path != "/api/users/login"
}

/// The cache key and lifetime for `req`, or `None` if it must not use the
/// cache (not a GET, an invalid token, or caching off for its kind).
fn key_for(req: &ServiceRequest, cache: &ResponseCache) -> Option<(String, Duration)> {
    if req.method() != Method::GET {
        return None;
    }
    let uri = req.uri();
    if !req.headers().contains_key(header::AUTHORIZATION) {
        let ttl = cache.anonymous_ttl;
        return (!ttl.is_zero()).then(|| (uri.to_string(), ttl));
    }
    let ttl = cache.signed_in_ttl;
    if ttl.is_zero() {
        return None;
    }
    // A space cannot occur in a request URI, so keys cannot collide.
    let viewer = crate::auth::viewer_id(req.request()).ok()??;
    Some((format!("{viewer} {uri}"), ttl))
}

/// Resource middleware for the cacheable GET routes (it runs after routing,
/// so metrics and logs still see the route pattern on a cache hit).
pub async fn serve_cached(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let cache = req.app_data::<web::Data<ResponseCache>>().cloned();
    let Some((cache, (key, ttl))) = cache.and_then(|c| key_for(&req, &c).map(|k| (c, k))) else {
        return next.call(req).await;
    };
    if let Some(body) = cache.get(&key) {
        let res = HttpResponse::Ok()
            .content_type("application/json")
            .body(body);
        return Ok(req.into_response(res));
    }
    let Some(generation) = cache.generation() else {
        return next.call(req).await;
    };
    let res = next.call(req).await?;
    if res.status() != StatusCode::OK {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    match body.try_into_bytes() {
        Ok(bytes) => {
            cache.put(key, bytes.clone(), generation, ttl);
            Ok(ServiceResponse::new(
                req,
                head.set_body(BoxBody::new(bytes)),
            ))
        }
        Err(body) => Ok(ServiceResponse::new(req, head.set_body(body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_writes_invalidate() {
        let ttl = Duration::from_millis(50);
        let cache = ResponseCache::new(ttl, ttl);
        let g = cache.generation().unwrap();
        cache.put("/a".into(), Bytes::from_static(b"1"), g, ttl);
        assert_eq!(cache.get("/a").as_deref(), Some(&b"1"[..]));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("/a"), None, "expired");
        cache.put("/a".into(), Bytes::from_static(b"2"), g, ttl);
        cache.invalidate();
        assert_eq!(cache.get("/a"), None, "invalidated");
        // A response computed before the write is not stored after it.
        cache.put("/a".into(), Bytes::from_static(b"3"), g, ttl);
        assert_eq!(cache.get("/a"), None);
    }

    #[test]
    fn only_successful_writes_invalidate() {
        assert!(is_write(
            &Method::POST,
            "/api/articles",
            StatusCode::CREATED
        ));
        assert!(is_write(
            &Method::DELETE,
            "/api/articles/x",
            StatusCode::NO_CONTENT
        ));
        assert!(!is_write(
            &Method::POST,
            "/api/articles",
            StatusCode::UNPROCESSABLE_ENTITY
        ));
        assert!(!is_write(&Method::GET, "/api/articles", StatusCode::OK));
        assert!(!is_write(&Method::POST, "/api/users/login", StatusCode::OK));
    }
}
