//! HTTP plumbing shared by every route: extractor error handlers, response
//! caching (HTTP headers and the in-process cache), compression, security
//! headers and rate limiting.

pub mod cache;
pub mod compress;
pub mod extractors;
pub mod hex;
pub mod rate_limit;
pub mod response_cache;
pub mod security;

use actix_web::http::header::ContentType;
use actix_web::HttpResponse;
use serde::Serialize;

use crate::error::{AppError, AppResult};

/// `200 OK` with `value` as JSON, written into a buffer of `size_hint`
/// bytes. `HttpResponse::json` starts serde_json at 128 bytes and doubles,
/// six reallocations for an article list; the buffer is trimmed to the body
/// after, because a cached response keeps its allocation.
pub fn json_ok<T: Serialize>(value: &T, size_hint: usize) -> AppResult<HttpResponse> {
    let mut body = Vec::with_capacity(size_hint);
    serde_json::to_writer(&mut body, value)
        .map_err(|e| AppError::internal("serialising a response", e))?;
    if body.capacity() - body.len() > body.len() / 4 {
        body.shrink_to_fit();
    }
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}
