//! HTTP caching of successful JSON GETs, for browsers and proxies: an `ETag`
//! over the exact body (a matching `If-None-Match` gets a 304) and a
//! `Cache-Control` that never lets a cache reuse a response without asking:
//! API resources change with every write, and a browser that reused its copy
//! would show a user the comment they just deleted. Revalidation is cheap
//! (the server answers it from its own cache) and never stale.
//!
//! - Anonymous responses: `no-cache`, or with `CACHE_SHARED_MAX_AGE_SECONDS`
//!   set, `public, max-age=0, must-revalidate, s-maxage=N`: browsers still
//!   revalidate every time, shared caches (CDNs) may serve a copy up to N s
//!   old — the deployment's trade-off.
//! - Responses to a request with credentials: `private, no-cache`.
//! - Always `Vary: Authorization`, so no cache hands one user's view
//!   (`following`, `favorited`) to another.
//!
//! A handler that sets `Cache-Control` itself (e.g. `no-store` for a body
//! carrying a token) is left alone.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpResponse};

use super::compress::vary_for_json;

pub struct HttpCaching {
    anonymous: HeaderValue,
}

const SIGNED_IN: HeaderValue = HeaderValue::from_static("private, no-cache");

impl HttpCaching {
    pub fn new(shared_max_age_secs: u32) -> Self {
        let anonymous = if shared_max_age_secs == 0 {
            HeaderValue::from_static("no-cache")
        } else {
            HeaderValue::from_str(&format!(
                "public, max-age=0, must-revalidate, s-maxage={shared_max_age_secs}"
            ))
            .unwrap_or(HeaderValue::from_static("no-cache"))
        };
        HttpCaching { anonymous }
    }
}

/// A weak validator over the body. Not a security boundary: a 64-bit content
/// hash is enough to tell bodies apart. XXH3 is specified, so every replica
/// and every build gives a body the same tag, and it reads a 7 KB article
/// list in a fraction of SipHash's time (~4 instructions per byte).
pub fn etag_of(body: &[u8]) -> HeaderValue {
    let hash = xxhash_rust::xxh3::xxh3_64(body);
    HeaderValue::from_str(&format!("W/\"{hash:016x}\""))
        .unwrap_or(HeaderValue::from_static("W/\"0\""))
}

fn matches(if_none_match: Option<&HeaderValue>, etag: &HeaderValue) -> bool {
    let (Some(v), Ok(ours)) = (if_none_match.and_then(|v| v.to_str().ok()), etag.to_str()) else {
        return false;
    };
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = strip(ours);
    v.split(',').any(|t| t.trim() == "*" || strip(t) == ours)
}

fn is_json(headers: &header::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"))
}

pub async fn http_cache(
    policy: Arc<HttpCaching>,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() != Method::GET {
        return next.call(req).await;
    }
    let authenticated = req.headers().contains_key(header::AUTHORIZATION);
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let res = next.call(req).await?;
    if res.status() != StatusCode::OK
        || !is_json(res.headers())
        || res.headers().contains_key(header::CACHE_CONTROL)
    {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes: Bytes = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        // A streamed body: pass it through without validators.
        Err(body) => return Ok(ServiceResponse::new(req, head.set_body(body))),
    };
    // The response cache stores the ETag with the body; compute it otherwise.
    let etag = match head.headers().get(header::ETAG) {
        Some(etag) => etag.clone(),
        None => etag_of(&bytes),
    };
    let headers = head.headers_mut();
    vary_for_json(headers);
    let cache_control = if authenticated {
        SIGNED_IN
    } else {
        policy.anonymous.clone()
    };
    headers.insert(header::CACHE_CONTROL, cache_control);
    headers.insert(header::ETAG, etag.clone());
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
        assert!(matches(Some(&e), &e));
        let strong = HeaderValue::from_str(e.to_str().unwrap().trim_start_matches("W/")).unwrap();
        assert!(matches(Some(&strong), &e));
        assert!(matches(Some(&HeaderValue::from_static("\"x\", *")), &e));
        assert!(!matches(Some(&HeaderValue::from_static("\"other\"")), &e));
        assert!(!matches(None, &e));
    }

    #[test]
    fn the_tag_is_xxh3_of_the_body_so_every_replica_agrees() {
        // XXH3-64 of the empty input, from the algorithm's specification.
        assert_eq!(etag_of(b""), "W/\"2d06800538d394c2\"");
        assert_ne!(etag_of(b"{\"a\":1}"), etag_of(b"{\"a\":2}"));
    }

    #[test]
    fn anonymous_responses_must_be_revalidated_unless_a_shared_lifetime_is_chosen() {
        assert_eq!(HttpCaching::new(0).anonymous, "no-cache");
        assert_eq!(
            HttpCaching::new(30).anonymous,
            "public, max-age=0, must-revalidate, s-maxage=30"
        );
    }
}
