//! In-process cache of anonymous GET responses (article lists, articles,
//! comments, tags, profiles). It serves what `Cache-Control: public,
//! max-age=N` already lets any shared cache serve, for at most the same N
//! seconds, and is emptied by every successful write handled by this process,
//! so a single instance never serves data older than its last write. Requests
//! carrying `Authorization` never read or fill it: one user's view
//! (`following`, `favorited`) cannot reach another.

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
    stored: Instant,
}

#[derive(Default)]
struct State {
    generation: u64,
    entries: HashMap<String, Entry>,
    bytes: usize,
}

pub struct ResponseCache {
    ttl: Duration,
    state: Mutex<State>,
}

impl ResponseCache {
    /// A zero `ttl` disables the cache.
    pub fn new(ttl: Duration) -> Self {
        ResponseCache {
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    fn generation(&self) -> Option<u64> {
        self.state.lock().ok().map(|s| s.generation)
    }

    fn get(&self, key: &str) -> Option<Bytes> {
        let state = self.state.lock().ok()?;
        let entry = state.entries.get(key)?;
        (entry.stored.elapsed() < self.ttl).then(|| entry.body.clone())
    }

    /// Stores `body` unless a write happened since the response was computed
    /// (`generation` taken before the handler ran), which could make it stale.
    fn put(&self, key: String, body: Bytes, generation: u64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.generation != generation || body.len() > MAX_BODY_BYTES {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES || state.bytes + body.len() > MAX_TOTAL_BYTES {
            let ttl = self.ttl;
            state.entries.retain(|_, e| e.stored.elapsed() < ttl);
            state.bytes = state.entries.values().map(|e| e.body.len()).sum();
            if state.entries.len() >= MAX_ENTRIES || state.bytes + body.len() > MAX_TOTAL_BYTES {
                return;
            }
        }
        state.bytes += body.len();
        let stored = Instant::now();
        if let Some(old) = state.entries.insert(key, Entry { body, stored }) {
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

/// Resource middleware for the cacheable GET routes (it runs after routing,
/// so metrics and logs still see the route pattern on a cache hit).
pub async fn serve_cached(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let cache = req.app_data::<web::Data<ResponseCache>>().cloned();
    let Some(cache) = cache.filter(|c| !c.ttl.is_zero()) else {
        return next.call(req).await;
    };
    if req.method() != Method::GET || req.headers().contains_key(header::AUTHORIZATION) {
        return next.call(req).await;
    }
    let key = req.uri().to_string();
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
            cache.put(key, bytes.clone(), generation);
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
        let cache = ResponseCache::new(Duration::from_millis(50));
        let g = cache.generation().unwrap();
        cache.put("/a".into(), Bytes::from_static(b"1"), g);
        assert_eq!(cache.get("/a").as_deref(), Some(&b"1"[..]));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("/a"), None, "expired");
        cache.put("/a".into(), Bytes::from_static(b"2"), g);
        cache.invalidate();
        assert_eq!(cache.get("/a"), None, "invalidated");
        // A response computed before the write is not stored after it.
        cache.put("/a".into(), Bytes::from_static(b"3"), g);
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
