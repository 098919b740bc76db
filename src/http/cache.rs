//! HTTP caching of successful GETs: an `ETag` over the exact body (answering
//! `If-None-Match` with 304) and `Cache-Control`. Anonymous responses are
//! `public, max-age=N`; responses to a request carrying credentials are
//! `private, no-cache`, and every cached response varies on `Authorization`,
//! so no cache can hand one user's view (`following`, `favorited`) to another.

use std::hash::Hasher;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse};

use super::response_cache::{is_write, ResponseCache};

#[derive(Clone, Copy, Debug)]
pub struct CacheSettings {
    pub public_max_age_secs: u32,
}

fn etag_of(body: &[u8]) -> String {
    // Not a security boundary: a 64-bit content hash is enough to tell bodies apart.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(body);
    format!("W/\"{:016x}\"", h.finish())
}

fn matches(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(v) = if_none_match.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = strip(etag);
    v.split(',').any(|t| t.trim() == "*" || strip(t) == ours)
}

pub async fn http_cache(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let cacheable = req.method() == Method::GET && req.path().starts_with("/api/");
    if !cacheable {
        let res = next.call(req).await?;
        if is_write(res.request().method(), res.request().path(), res.status()) {
            if let Some(cache) = res.request().app_data::<web::Data<ResponseCache>>() {
                cache.invalidate();
            }
        }
        return Ok(res);
    }
    let authenticated = req.headers().contains_key(header::AUTHORIZATION);
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let max_age = req
        .app_data::<web::Data<CacheSettings>>()
        .map_or(0, |s| s.public_max_age_secs);
    let res = next.call(req).await?;
    if res.status() != StatusCode::OK {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        // A streamed body: pass it through without validators.
        Err(body) => return Ok(ServiceResponse::new(req, head.set_body(body))),
    };
    let etag = etag_of(&bytes);
    let cache_control = if authenticated {
        "private, no-cache".to_owned()
    } else {
        format!("public, max-age={max_age}")
    };
    let headers = head.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("authorization"));
    if let Ok(v) = HeaderValue::from_str(&cache_control) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if matches(if_none_match.as_ref(), &etag) {
        let mut not_modified = HttpResponse::NotModified();
        for (name, value) in head.headers() {
            if name == header::ETAG || name == header::CACHE_CONTROL || name == header::VARY {
                not_modified.append_header((name.clone(), value.clone()));
            }
        }
        return Ok(ServiceResponse::new(req, not_modified.finish()));
    }
    Ok(ServiceResponse::new(
        req,
        head.set_body(BoxBody::new(bytes)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly() {
        let e = etag_of(b"{}");
        assert!(matches(Some(&HeaderValue::from_str(&e).unwrap()), &e));
        let strong = e.trim_start_matches("W/").to_owned();
        assert!(matches(Some(&HeaderValue::from_str(&strong).unwrap()), &e));
        assert!(matches(Some(&HeaderValue::from_static("\"x\", *")), &e));
        assert!(!matches(Some(&HeaderValue::from_static("\"other\"")), &e));
        assert!(!matches(None, &e));
    }
}
