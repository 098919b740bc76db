//! Response caching (in process and in HTTP headers) and the Redis instance
//! that makes it coherent across replicas.

use std::fmt;
use std::time::Duration;

use super::source::{ConfigError, Source};
use crate::db::redact_url;

#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// `CACHE_MAX_AGE_SECONDS`: how long the server keeps an anonymous GET
    /// response in memory (default 30; 0: not at all). Every hit is first
    /// checked against the write generation, so this bounds only how long
    /// a change made outside the API (direct SQL) can take to show.
    pub anonymous_ttl: Duration,
    /// `CACHE_SIGNED_IN_MS`: the same for a signed-in user's responses, kept
    /// per user (default 5000; 0: not at all).
    pub signed_in_ttl: Duration,
    /// `CACHE_SHARED_MAX_AGE_SECONDS`: opt-in lifetime for shared caches
    /// (CDNs, proxies) of anonymous responses, sent as `s-maxage` (default 0:
    /// every cache must revalidate). Browsers always revalidate; a shared
    /// cache may serve a copy up to this old, even after a write.
    pub shared_max_age_secs: u32,
}

impl CacheConfig {
    pub(super) fn read(src: &Source) -> Result<Self, ConfigError> {
        Ok(CacheConfig {
            anonymous_ttl: src.seconds("CACHE_MAX_AGE_SECONDS", 30)?,
            signed_in_ttl: src.millis("CACHE_SIGNED_IN_MS", 5000)?,
            shared_max_age_secs: src.parse("CACHE_SHARED_MAX_AGE_SECONDS", 0u32)?,
        })
    }
}

#[derive(Clone)]
pub struct RedisConfig {
    /// `REDIS_URL`: `redis://[:password@]host[:port][/db]`. Unset: a single
    /// instance keeps all state in process.
    pub url: String,
    /// `REDIS_TIMEOUT_MS`: bound on every Redis call, connecting included
    /// (default 100). A call that takes longer counts as Redis being down.
    pub timeout: Duration,
    /// `REDIS_RETRY_MS`: after a failure, how long calls skip Redis (reads go
    /// to the database, limits are per instance) before trying again
    /// (default 1000).
    pub retry_after: Duration,
    /// `REDIS_KEY_PREFIX`: prefix of every key this service writes (default
    /// `conduit:`), so deployments can share a Redis.
    pub key_prefix: String,
}

impl RedisConfig {
    pub(super) fn read(src: &Source) -> Result<Option<Self>, ConfigError> {
        let Some(url) = src.var("REDIS_URL") else {
            return Ok(None);
        };
        if !(url.starts_with("redis://") || url.starts_with("redis+unix://")) {
            return Err(ConfigError::new(
                "REDIS_URL",
                format!(
                    "expected redis://host:port or redis+unix:///path, got {}",
                    redact_url(&url)
                ),
            ));
        }
        let timeout = src.millis("REDIS_TIMEOUT_MS", 100)?;
        if timeout.is_zero() {
            return Err(ConfigError::new("REDIS_TIMEOUT_MS", "must be at least 1"));
        }
        Ok(Some(RedisConfig {
            url,
            timeout,
            retry_after: src.millis("REDIS_RETRY_MS", 1000)?,
            key_prefix: src
                .var("REDIS_KEY_PREFIX")
                .unwrap_or_else(|| "conduit:".into()),
        }))
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
