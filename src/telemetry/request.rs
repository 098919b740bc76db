//! The request context middleware: assigns the request id (kept from an
//! incoming `X-Request-Id` when it is sane), makes it visible to every log
//! line written while the request is served, returns it in the response, and
//! writes the one access-log line per request.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::Error;

pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
const MAX_ID_LEN: usize = 128;

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<Arc<str>> {
    REQUEST_ID.try_with(Arc::clone).ok()
}

/// Printable ASCII without spaces or quotes, of bounded length: safe to echo
/// in a header and to write into a log line.
fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

/// 128 random bits in 32 hex digits, written by hand: `format!` of the two
/// halves cost more instructions than the rest of this middleware.
fn generate() -> String {
    crate::http::hex::write_lower(&mut [0u8; 32], fastrand::u128(..)).to_owned()
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id: Arc<str> = match req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane(v))
    {
        Some(given) => given.into(),
        None => generate().into(),
    };
    let method = req.method().clone();
    let id_for_task = id.clone();
    let mut res = REQUEST_ID.scope(id_for_task, next.call(req)).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER.clone(), v);
    }
    // Debug (health probes) is enabled only where Info is: with Info off
    // there is no line to write, and finding the route pattern (a second
    // walk of the routes) is skipped.
    if !log::log_enabled!(target: "conduit::access", log::Level::Info) {
        return Ok(res);
    }
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "<unmatched>".to_owned());
    let status = res.status().as_u16();
    let size = match res.response().body().size() {
        BodySize::Sized(n) => n as i64,
        BodySize::None => 0,
        BodySize::Stream => -1,
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let latency_ms = (latency_ms * 1000.0).round() / 1000.0;
    // Health probes arrive every second from every balancer: debug level.
    let level = if route == "/health" || route == "/health/live" {
        log::Level::Debug
    } else {
        log::Level::Info
    };
    log::log!(
        target: "conduit::access",
        level,
        method = method.as_str(),
        route = route.as_str(),
        status = status,
        latency_ms = latency_ms,
        bytes = size,
        request_id = &*id;
        "request"
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_checked() {
        assert!(is_sane("abc-123_X.y"));
        assert!(!is_sane(""));
        assert!(!is_sane("has space"));
        assert!(!is_sane("new\nline"));
        assert!(!is_sane(&"a".repeat(129)));
        let id = generate();
        assert_eq!(id.len(), 32);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(id, generate());
    }
}
