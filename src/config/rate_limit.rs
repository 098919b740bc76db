//! The login and registration rate limit.

use super::source::{ConfigError, Source};

#[derive(Clone, Debug)]
pub struct RateLimitConfig {
    /// `RATE_LIMIT`: `off` disables the limiter (tests, benchmarks); default on.
    pub enabled: bool,
    /// `RATE_LIMIT_PER_MINUTE`: sustained attempts per client address (default 30).
    pub per_minute: u32,
    /// `RATE_LIMIT_BURST`: attempts allowed at once (default 10).
    pub burst: u32,
}

impl RateLimitConfig {
    pub(super) fn read(src: &Source) -> Result<Self, ConfigError> {
        let enabled = src.parse_bool("RATE_LIMIT", true)?;
        let per_minute = src.parse("RATE_LIMIT_PER_MINUTE", 30u32)?;
        if per_minute == 0 {
            return Err(ConfigError::new(
                "RATE_LIMIT_PER_MINUTE",
                "must be at least 1 (use RATE_LIMIT=off to disable)",
            ));
        }
        Ok(RateLimitConfig {
            enabled,
            per_minute,
            burst: src.at_least("RATE_LIMIT_BURST", 10u32, 1)?,
        })
    }
}
