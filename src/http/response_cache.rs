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
use tokio::sync::watch;

/// Bounds that keep the cache within a few megabytes (enough for a thousand
/// single articles with 2 KB bodies).
const MAX_ENTRIES: usize = 2048;
const MAX_TOTAL_BYTES: usize = 3 * 1024 * 1024;
const MAX_BODY_BYTES: usize = 64 * 1024;

struct Entry {
    body: Bytes,
    /// Until then the entry is served as is; a random 75-100 % of the ttl,
    /// so entries filled together do not expire together.
    fresh_until: Instant,
    /// After `fresh_until` the first request refreshes the entry while the
    /// others are still served it, up to the full ttl and never beyond.
    serve_until: Instant,
}

#[derive(Default)]
struct State {
    generation: u64,
    entries: HashMap<String, Entry>,
    bytes: usize,
    /// Keys being computed right now; the sender is dropped when done.
    inflight: HashMap<String, watch::Sender<()>>,
}

/// What a request should do about its key.
enum Lookup {
    Hit(Bytes),
    /// Another request is computing this key: wait for it, then look again.
    Wait(watch::Receiver<()>),
    /// Compute the response; `generation` is taken now, and `leading` (if
    /// this request is the one others wait for) wakes them when dropped.
    Compute {
        generation: u64,
        leading: Option<Leading>,
    },
}

/// Marks a key as being computed; dropping it (also on error or panic)
/// releases the requests waiting for it.
struct Leading {
    cache: web::Data<ResponseCache>,
    key: String,
}

impl Drop for Leading {
    fn drop(&mut self) {
        if let Ok(mut state) = self.cache.state.lock() {
            state.inflight.remove(&self.key);
        }
    }
}

/// The longest a request waits for another one computing the same response
/// before computing it itself.
const COALESCE_WAIT: Duration = Duration::from_secs(1);

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

    #[cfg(test)]
    fn generation(&self) -> Option<u64> {
        self.state.lock().ok().map(|s| s.generation)
    }

    #[cfg(test)]
    fn get(&self, key: &str) -> Option<Bytes> {
        let state = self.state.lock().ok()?;
        self.lookup_in(&state, key)
    }

    /// The entry if it is fresh, or still servable while a refresh of it is
    /// in flight.
    fn lookup_in(&self, state: &State, key: &str) -> Option<Bytes> {
        let entry = state.entries.get(key)?;
        let now = Instant::now();
        let usable = now < entry.fresh_until
            || (now < entry.serve_until && state.inflight.contains_key(key));
        usable.then(|| entry.body.clone())
    }

    /// A hit; else, when nobody is computing `key`, the lead on it; else (if
    /// `may_wait`) a wait for the request computing it. Concurrent misses of
    /// one key (a popular page just expired) thus reach the database once,
    /// and while an entry that is past fresh but within its ttl is refreshed,
    /// the others keep getting it.
    fn lookup(this: &web::Data<Self>, key: &str, may_wait: bool) -> Option<Lookup> {
        let mut state = this.state.lock().ok()?;
        if let Some(body) = this.lookup_in(&state, key) {
            return Some(Lookup::Hit(body));
        }
        let generation = state.generation;
        match state.inflight.get(key) {
            Some(computing) if may_wait => Some(Lookup::Wait(computing.subscribe())),
            Some(_) => Some(Lookup::Compute {
                generation,
                leading: None,
            }),
            None => {
                state.inflight.insert(key.to_owned(), watch::channel(()).0);
                Some(Lookup::Compute {
                    generation,
                    leading: Some(Leading {
                        cache: this.clone(),
                        key: key.to_owned(),
                    }),
                })
            }
        }
    }

    /// Stores `body` unless a write happened since the response was computed
    /// (`generation` taken before the handler ran), which could make it stale.
    fn put(&self, key: String, body: Bytes, generation: u64, ttl: Duration) {
        let fresh = ttl.mul_f64(0.75 + 0.25 * fastrand::f64());
        self.store(key, body, generation, fresh, ttl);
    }

    fn store(&self, key: String, body: Bytes, generation: u64, fresh: Duration, ttl: Duration) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.generation != generation || body.len() > MAX_BODY_BYTES {
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
            fresh_until: now + fresh,
            serve_until: now + ttl,
        };
        if let Some(old) = state.entries.insert(key, entry) {
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
    let mut may_wait = true;
    let (generation, leading) = loop {
        match ResponseCache::lookup(&cache, &key, may_wait) {
            None => return next.call(req).await,
            Some(Lookup::Hit(body)) => {
                let res = HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body);
                return Ok(req.into_response(res));
            }
            Some(Lookup::Wait(mut done)) => {
                // Err: the computing request finished (its sender dropped).
                let _ = tokio::time::timeout(COALESCE_WAIT, done.changed()).await;
                may_wait = false;
            }
            Some(Lookup::Compute {
                generation,
                leading,
            }) => break (generation, leading),
        }
    };
    let res = next.call(req).await?;
    if res.status() != StatusCode::OK {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let res = match body.try_into_bytes() {
        Ok(bytes) => {
            cache.put(key, bytes.clone(), generation, ttl);
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

    #[actix_rt::test]
    async fn concurrent_misses_of_one_key_wait_for_a_single_computation() {
        let ttl = Duration::from_secs(5);
        let cache = web::Data::new(ResponseCache::new(ttl, ttl));
        let Some(Lookup::Compute {
            generation,
            leading: Some(leading),
        }) = ResponseCache::lookup(&cache, "/a", true)
        else {
            panic!("the first miss computes and leads");
        };
        let Some(Lookup::Wait(mut done)) = ResponseCache::lookup(&cache, "/a", true) else {
            panic!("the second miss waits");
        };
        assert!(
            matches!(
                ResponseCache::lookup(&cache, "/a", false),
                Some(Lookup::Compute { leading: None, .. })
            ),
            "one that has waited already computes without leading"
        );
        assert!(matches!(
            ResponseCache::lookup(&cache, "/b", true),
            Some(Lookup::Compute {
                leading: Some(_),
                ..
            })
        ));
        cache.put("/a".into(), Bytes::from_static(b"1"), generation, ttl);
        drop(leading);
        assert!(done.changed().await.is_err(), "waiters are released");
        assert!(matches!(
            ResponseCache::lookup(&cache, "/a", true),
            Some(Lookup::Hit(_))
        ));
    }

    #[actix_rt::test]
    async fn a_stale_entry_is_served_only_while_it_is_refreshed_and_within_its_ttl() {
        let ttl = Duration::from_millis(200);
        let cache = web::Data::new(ResponseCache::new(ttl, ttl));
        let g = cache.generation().unwrap();
        let fresh = Duration::from_millis(20);
        cache.store("/a".into(), Bytes::from_static(b"old"), g, fresh, ttl);
        std::thread::sleep(Duration::from_millis(40)); // past fresh
        let Some(Lookup::Compute {
            leading: Some(refresh),
            ..
        }) = ResponseCache::lookup(&cache, "/a", true)
        else {
            panic!("the first request after fresh refreshes");
        };
        assert!(
            matches!(ResponseCache::lookup(&cache, "/a", true), Some(Lookup::Hit(b)) if b == "old"),
            "the others get the entry meanwhile"
        );
        std::thread::sleep(Duration::from_millis(170)); // past the ttl
        assert!(
            matches!(
                ResponseCache::lookup(&cache, "/a", true),
                Some(Lookup::Wait(_))
            ),
            "never beyond the ttl"
        );
        drop(refresh);
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
