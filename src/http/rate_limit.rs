//! Per-client-IP rate limiting of the credential endpoints (login and
//! registration), which are the expensive and abusable ones.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

pub struct AuthRateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    trust_proxy: bool,
    checks: AtomicU64,
}

impl AuthRateLimiter {
    /// `None` for `per_minute` disables limiting (`RATE_LIMIT=off`).
    pub fn new(per_minute: Option<u32>, burst: u32, trust_proxy: bool) -> Self {
        let limiter = per_minute.and_then(NonZeroU32::new).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        AuthRateLimiter {
            limiter,
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

    pub fn check(&self, req: &HttpRequest) -> Result<(), AppError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        // Forget idle clients now and then so the table stays small.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            limiter.retain_recent();
        }
        let Some(ip) = self.client_ip(req) else {
            return Ok(());
        };
        limiter
            .check_key(&ip)
            .map_err(|not_until| AppError::TooManyRequests {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
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
