//! Per-client-address rate limiting of the credential endpoints (login and
//! registration), the expensive and abusable ones. The budget is a GCRA
//! (`RATE_LIMIT_PER_MINUTE` sustained, `RATE_LIMIT_BURST` at once): with
//! Redis, one budget per client across every instance, decided atomically by
//! a script on Redis' clock; without Redis, or while it is unreachable, each
//! instance keeps its own budget in memory.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitConfig;
use crate::error::AppError;
use crate::shared::redis::RedisStore;

/// GCRA on Redis: `KEYS[1]` holds the client's theoretical arrival time in
/// ms; `ARGV[1]` is the emission interval, `ARGV[2]` the burst tolerance.
/// Returns 0 when admitted, else the ms to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
if tat - now > tolerance then return tat - now - tolerance end
local next_tat = tat + interval
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now + 1)
return 0
";

struct Shared {
    redis: Arc<RedisStore>,
    script: ::redis::Script,
    interval_ms: u64,
    tolerance_ms: u64,
}

pub struct AuthRateLimiter {
    local: Option<DefaultKeyedRateLimiter<IpAddr>>,
    shared: Option<Shared>,
    trust_proxy: bool,
    checks: AtomicU64,
}

impl AuthRateLimiter {
    pub fn new(
        config: &RateLimitConfig,
        trust_proxy: bool,
        redis: Option<Arc<RedisStore>>,
    ) -> Self {
        if !config.enabled {
            return AuthRateLimiter {
                local: None,
                shared: None,
                trust_proxy,
                checks: AtomicU64::new(0),
            };
        }
        let rate = NonZeroU32::new(config.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.burst).unwrap_or(NonZeroU32::MIN);
        let interval_ms = 60_000 / u64::from(rate.get()).max(1);
        AuthRateLimiter {
            local: Some(RateLimiter::keyed(
                Quota::per_minute(rate).allow_burst(burst),
            )),
            shared: redis.map(|redis| Shared {
                redis,
                script: ::redis::Script::new(GCRA),
                interval_ms,
                tolerance_ms: interval_ms * u64::from(burst.get() - 1),
            }),
            trust_proxy,
            checks: AtomicU64::new(0),
        }
    }

    /// The client address: the peer, or with `TRUST_PROXY=true` the left-most
    /// address of `Forwarded` / `X-Forwarded-For` set by the proxy in front.
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let info = req.connection_info();
        let raw = if self.trust_proxy {
            info.realip_remote_addr()
        } else {
            info.peer_addr()
        }?;
        parse_ip(raw)
    }

    /// Admits one attempt from the caller, or a 429 with the time to wait.
    pub async fn check(&self, req: &HttpRequest) -> Result<(), AppError> {
        let Some(local) = &self.local else {
            return Ok(());
        };
        let Some(ip) = self.client_ip(req) else {
            return Ok(());
        };
        if let Some(shared) = &self.shared {
            if let Some(decision) = shared.check(ip).await {
                return decision;
            }
        }
        // Forget idle clients now and then so the table stays small.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            local.retain_recent();
        }
        local
            .check_key(&ip)
            .map_err(|not_until| AppError::TooManyRequests {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            })
    }
}

impl Shared {
    /// The shared decision, or `None` when Redis cannot give one.
    async fn check(&self, ip: IpAddr) -> Option<Result<(), AppError>> {
        let key = self.redis.key(&format!("ratelimit:{ip}"));
        let mut invocation = self.script.key(key);
        invocation.arg(self.interval_ms).arg(self.tolerance_ms);
        let invocation = &invocation;
        let wait_ms: u64 = self
            .redis
            .call("rate_limit", |mut conn| async move {
                invocation.invoke_async(&mut conn).await
            })
            .await
            .ok()?;
        Some(match wait_ms {
            0 => Ok(()),
            ms => Err(AppError::TooManyRequests {
                retry_after: Duration::from_millis(ms),
            }),
        })
    }
}

/// Accepts `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:5678`.
fn parse_ip(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    if let Ok(ip) = raw.parse() {
        return Some(ip);
    }
    if let Ok(sock) = raw.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    raw.trim_start_matches('[').split(']').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_with_and_without_ports() {
        assert_eq!(parse_ip("1.2.3.4"), "1.2.3.4".parse().ok());
        assert_eq!(parse_ip("1.2.3.4:80"), "1.2.3.4".parse().ok());
        assert_eq!(parse_ip("[::1]:80"), "::1".parse().ok());
        assert_eq!(parse_ip("::1"), "::1".parse().ok());
        assert_eq!(parse_ip("nonsense"), None);
    }
}
