//! JSON Web Tokens: HS256 only, `exp` enforced, subject = user id, and `pwd`
//! = a fingerprint of the password hash the token was issued under, so
//! changing the password invalidates every token issued before.
//!
//! A client sends the same token with every request, so the outcome of
//! checking it is remembered: a token byte for byte identical to one whose
//! signature verified is not decoded and hashed again, while its expiry is
//! still checked on every request. Only valid tokens are remembered, so
//! garbage cannot fill the memo; it holds at most `MAX_REMEMBERED` and starts
//! over when full. A remembered token costs no allocation: the memo's own
//! copy is shared with the request (`Session::token`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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

/// A valid token and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub claims: TokenClaims,
    /// The token as sent, shared with the memo.
    pub token: Arc<str>,
}

/// Tokens remembered at once (about 250 bytes each).
const MAX_REMEMBERED: usize = 4096;

/// A token whose signature verified: what it says and when it expires.
#[derive(Clone)]
struct Verified {
    claims: TokenClaims,
    exp: u64,
}

/// Keys are tokens whose signature verified, so an attacker cannot choose
/// them; a fast hasher (seeded per process) suits them better than SipHash,
/// which costs ~4 instructions per byte of a ~200-byte token.
type Memo = HashMap<Arc<str>, Verified, foldhash::fast::RandomState>;

/// Signing and verification keys, built once from `JWT_SECRET`.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    verified: Mutex<Memo>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
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
            verified: Mutex::new(Memo::default()),
        }
    }

    pub fn issue(
        &self,
        user: UserId,
        password_hash: &str,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let claims = Claims {
            sub: user.to_string(),
            iat: now,
            exp: now + self.ttl.as_secs(),
            pwd: PasswordFingerprint::of(password_hash).to_claim(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The claims of a valid, unexpired token signed with our key.
    pub fn verify(&self, token: &str) -> Option<Session> {
        self.verify_at(token, unix_now())
    }

    /// `verify` at `now` (seconds since the epoch). The signature is checked
    /// the first time a token is seen, the expiry every time, with the same
    /// leeway as the full check.
    fn verify_at(&self, token: &str, now: u64) -> Option<Session> {
        let unexpired = |v: &Verified| now <= v.exp.saturating_add(self.validation.leeway);
        // A poisoned memo is skipped, not trusted: the full check decides.
        if let Ok(verified) = self.verified.lock() {
            if let Some((token, v)) = verified.get_key_value(token) {
                return unexpired(v).then(|| Session {
                    claims: v.claims.clone(),
                    token: token.clone(),
                });
            }
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let v = Verified {
            claims: TokenClaims {
                user: UserId::new(data.claims.sub.parse().ok()?),
                password: PasswordFingerprint::from_claim(&data.claims.pwd)?,
            },
            exp: data.claims.exp,
        };
        // jsonwebtoken checked `exp` against the clock; `now` may differ.
        if !unexpired(&v) {
            return None;
        }
        let token: Arc<str> = token.into();
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= MAX_REMEMBERED {
                verified.clear();
            }
            verified.insert(token.clone(), v.clone());
        }
        Some(Session {
            claims: v.claims,
            token,
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
        let session = k.verify(&token).unwrap();
        assert_eq!(*session.token, *token);
        let claims = session.claims;
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
    fn a_remembered_token_still_expires_and_only_the_identical_token_is_remembered() {
        let k = keys(SECRET, Duration::from_secs(60));
        let token = k.issue(UserId::new(7), "h").unwrap();
        let now = unix_now();
        let session = k.verify_at(&token, now).unwrap();
        assert_eq!(k.verified.lock().unwrap().len(), 1);
        let again = k.verify_at(&token, now + 30).unwrap();
        assert_eq!(again, session);
        assert!(
            Arc::ptr_eq(&again.token, &session.token),
            "a remembered token is shared, not copied"
        );
        let exp = k.verified.lock().unwrap()[token.as_str()].exp;
        let last_valid = exp + k.validation.leeway;
        assert!(k.verify_at(&token, last_valid).is_some());
        assert_eq!(k.verify_at(&token, last_valid + 1), None, "expired");
        // A tampered copy is checked in full and fails; it is not remembered.
        let mut tampered = token.clone().into_bytes();
        let i = tampered.len() - 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(k.verify_at(&tampered, now), None);
        assert_eq!(k.verify_at("not.a.jwt", now), None);
        assert_eq!(k.verified.lock().unwrap().len(), 1);
    }

    #[test]
    fn the_memo_is_bounded() {
        let k = keys(SECRET, Duration::from_secs(60));
        for user in 0..=MAX_REMEMBERED as i64 {
            assert!(k
                .verify(&k.issue(UserId::new(user + 1), "h").unwrap())
                .is_some());
        }
        assert!(k.verified.lock().unwrap().len() <= MAX_REMEMBERED);
    }

    #[test]
    fn rejects_unsigned_tokens() {
        let k = keys(SECRET, Duration::from_secs(60));
        // header {"alg":"none","typ":"JWT"}, payload {"sub":"1","exp":9999999999}
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert_eq!(k.verify(none), None);
    }
}
