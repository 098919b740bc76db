//! JSON Web Tokens: HS256 only, `exp` enforced, subject = user id.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
}

/// Signing and verification keys, built once from `JWT_SECRET`.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &Secret, ttl: Duration) -> Self {
        // Pinning the algorithm rejects `alg: none` and key-confusion tokens.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            ttl,
        }
    }

    pub fn issue(&self, user_id: i64) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now,
            exp: now + self.ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The user id in a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Option<i64> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        data.claims.sub.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str, ttl: Duration) -> JwtKeys {
        JwtKeys::new(&Secret::new(secret), ttl)
    }

    #[test]
    fn round_trips_the_user_id() {
        let k = keys(
            "a-test-secret-that-is-long-enough!!",
            Duration::from_secs(60),
        );
        let token = k.issue(42).unwrap();
        assert_eq!(k.verify(&token), Some(42));
    }

    #[test]
    fn rejects_other_secrets_and_garbage() {
        let a = keys(
            "a-test-secret-that-is-long-enough!!",
            Duration::from_secs(60),
        );
        let b = keys(
            "another-secret-that-is-long-enough!",
            Duration::from_secs(60),
        );
        assert_eq!(b.verify(&a.issue(1).unwrap()), None);
        assert_eq!(a.verify("not.a.jwt"), None);
    }

    #[test]
    fn rejects_expired_tokens() {
        let k = keys(
            "a-test-secret-that-is-long-enough!!",
            Duration::from_secs(0),
        );
        let claims = Claims {
            sub: "1".into(),
            iat: 0,
            exp: 1,
        };
        let old =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding).unwrap();
        assert_eq!(k.verify(&old), None);
    }

    #[test]
    fn rejects_unsigned_tokens() {
        let k = keys(
            "a-test-secret-that-is-long-enough!!",
            Duration::from_secs(60),
        );
        // header {"alg":"none","typ":"JWT"}, payload {"sub":"1","exp":9999999999}
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert_eq!(k.verify(none), None);
    }
}
