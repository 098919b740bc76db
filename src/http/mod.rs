//! HTTP plumbing shared by every route: extractor error handlers, response
//! caching (HTTP headers and the in-process cache), compression, security
//! headers and rate limiting.

pub mod cache;
pub mod compress;
pub mod extractors;
pub mod rate_limit;
pub mod response_cache;
pub mod security;
