//! JSON Web Tokens: HS256 only, `exp` enforced, subject = user id, and `pwd`
//! = a fingerprint of the password hash the token was issued under, so
//! changing the password invalidates every token issued before.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::domain::UserId;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
    pwd: String,
}

/// What a valid token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    pub user: UserId,
    pub password: PasswordFingerprint,
}

/// Identifies a stored password hash without revealing anything about it
/// (the hash is salted; this is 64 bits of FNV-1a over the PHC string, stable
/// across builds, so every replica computes the same value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordFingerprint(u64);

impl PasswordFingerprint {
    pub fn of(password_hash: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in password_hash.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        PasswordFingerprint(h)
    }

    fn to_claim(self) -> String {
        format!("{:016x}", self.0)
    }

    fn from_claim(s: &str) -> Option<Self> {
        u64::from_str_radix(s, 16).ok().map(PasswordFingerprint)
    }
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

    pub fn issue(
        &self,
        user: UserId,
        password_hash: &str,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            sub: user.to_string(),
            iat: now,
            exp: now + self.ttl.as_secs(),
            pwd: PasswordFingerprint::of(password_hash).to_claim(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The claims of a valid, unexpired token signed with our key.
    pub fn verify(&self, token: &str) -> Option<TokenClaims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        Some(TokenClaims {
            user: UserId::new(data.claims.sub.parse().ok()?),
            password: PasswordFingerprint::from_claim(&data.claims.pwd)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str, ttl: Duration) -> JwtKeys {
        JwtKeys::new(&Secret::new(secret), ttl)
    }

    const SECRET: &str = "a-test-secret-that-is-long-enough!!";

    #[test]
    fn round_trips_the_user_and_the_password_fingerprint() {
        let k = keys(SECRET, Duration::from_secs(60));
        let token = k.issue(UserId::new(42), "$argon2id$hash-a").unwrap();
        let claims = k.verify(&token).unwrap();
        assert_eq!(claims.user, UserId::new(42));
        assert_eq!(claims.password, PasswordFingerprint::of("$argon2id$hash-a"));
        assert_ne!(claims.password, PasswordFingerprint::of("$argon2id$hash-b"));
    }

    #[test]
    fn the_fingerprint_is_fnv_1a_64_as_every_replica_and_the_benchmark_compute_it() {
        assert_eq!(PasswordFingerprint::of("a").to_claim(), "af63dc4c8601ec8c");
        assert_eq!(PasswordFingerprint::of("").to_claim(), "cbf29ce484222325");
    }

    #[test]
    fn rejects_other_secrets_and_garbage() {
        let a = keys(SECRET, Duration::from_secs(60));
        let b = keys(
            "another-secret-that-is-long-enough!",
            Duration::from_secs(60),
        );
        assert_eq!(b.verify(&a.issue(UserId::new(1), "h").unwrap()), None);
        assert_eq!(a.verify("not.a.jwt"), None);
    }

    #[test]
    fn rejects_expired_tokens_and_tokens_without_a_fingerprint() {
        let k = keys(SECRET, Duration::from_secs(0));
        let claims = Claims {
            sub: "1".into(),
            iat: 0,
            exp: 1,
            pwd: "00".into(),
        };
        let old =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding).unwrap();
        assert_eq!(k.verify(&old), None);
        #[derive(Serialize)]
        struct Legacy {
            sub: String,
            exp: u64,
        }
        let legacy = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Legacy {
                sub: "1".into(),
                exp: 9_999_999_999,
            },
            &k.encoding,
        )
        .unwrap();
        assert_eq!(k.verify(&legacy), None);
    }

    #[test]
    fn rejects_unsigned_tokens() {
        let k = keys(SECRET, Duration::from_secs(60));
        // header {"alg":"none","typ":"JWT"}, payload {"sub":"1","exp":9999999999}
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert_eq!(k.verify(none), None);
    }
}
