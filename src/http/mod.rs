//! HTTP plumbing shared by every route: extractor error handlers, response
//! caching headers, compression and rate limiting.

pub mod cache;
pub mod compress;
pub mod extractors;
pub mod rate_limit;
pub mod response_cache;
