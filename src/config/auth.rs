//! Tokens and password hashing.

use std::fmt;
use std::time::Duration;

use super::source::{cpus, ConfigError, Source};
use super::Environment;

/// The value shipped in `.env.example`; refused in production.
pub const EXAMPLE_JWT_SECRET: &str = "change-me-to-a-long-random-string-of-32-bytes-or-more";
const MIN_JWT_SECRET_LEN: usize = 32;

#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// `JWT_SECRET`: the HS256 key, at least 32 bytes; required in
    /// production, random per process in development.
    pub jwt_secret: Secret,
    /// `JWT_TTL_SECONDS`: token lifetime (default 7 days).
    pub jwt_ttl: Duration,
    /// `PASSWORD_HASH_CONCURRENCY`: argon2id hashing threads, i.e. hashes
    /// running at once, 7 MiB each while in use (default: CPU cores).
    pub hash_concurrency: usize,
}

impl AuthConfig {
    pub(super) fn read(src: &Source, env: Environment) -> Result<Self, ConfigError> {
        Ok(AuthConfig {
            jwt_secret: jwt_secret(env, src.var("JWT_SECRET"))?,
            jwt_ttl: src.seconds("JWT_TTL_SECONDS", 7 * 24 * 3600)?,
            hash_concurrency: src.at_least("PASSWORD_HASH_CONCURRENCY", cpus(), 1)?,
        })
    }
}

/// A string that never shows up in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

fn jwt_secret(env: Environment, value: Option<String>) -> Result<Secret, ConfigError> {
    match (env, value) {
        (Environment::Production, None) => Err(ConfigError::new(
            "JWT_SECRET",
            "is required when APP_ENV=production",
        )),
        (Environment::Production, Some(v)) if v == EXAMPLE_JWT_SECRET => Err(ConfigError::new(
            "JWT_SECRET",
            "is the example value from .env.example; generate a random one",
        )),
        (_, Some(v)) if v.len() < MIN_JWT_SECRET_LEN => Err(ConfigError::new(
            "JWT_SECRET",
            format!("must be at least {MIN_JWT_SECRET_LEN} bytes long"),
        )),
        (_, Some(v)) => Ok(Secret::new(v)),
        (Environment::Development, None) => {
            // Development without a secret: a random one per process, so tokens
            // do not survive a restart but nothing guessable is ever accepted.
            log::warn!(
                "JWT_SECRET is not set: using a random secret for this process (development only)"
            );
            Ok(Secret::new(random_secret()))
        }
    }
}

fn random_secret() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_missing_short_or_example_secret() {
        assert!(jwt_secret(Environment::Production, None).is_err());
        assert!(jwt_secret(Environment::Production, Some("short".into())).is_err());
        assert!(jwt_secret(Environment::Production, Some(EXAMPLE_JWT_SECRET.into())).is_err());
        let ok = jwt_secret(Environment::Production, Some("x".repeat(40))).unwrap();
        assert_eq!(ok.expose().len(), 40);
    }

    #[test]
    fn development_generates_a_random_secret() {
        let a = jwt_secret(Environment::Development, None).unwrap();
        let b = jwt_secret(Environment::Development, None).unwrap();
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
