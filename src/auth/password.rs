//! Password hashing with argon2id. Hashing is CPU- and memory-heavy, so it runs
//! in the blocking pool, never while holding a database connection, and at
//! most `PASSWORD_HASH_CONCURRENCY` hashes run at once (bounding memory).

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// OWASP's argon2id option of 7 MiB memory x 5 passes x 1 lane: as strong as
/// 19 MiB x 2 but with a third of the memory per concurrent hash, which keeps
/// the whole server within tens of megabytes under a login flood.
pub const MEMORY_KIB: u32 = 7 * 1024;
pub const PASSES: u32 = 5;
pub const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    // The constants above are valid parameters; this cannot fail.
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashing front end shared by the handlers.
#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
}

impl PasswordHasherPool {
    pub fn new(max_concurrent: usize) -> Self {
        PasswordHasherPool {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::internal(format!("hash semaphore closed: {e}")))?;
        actix_web::web::block(work)
            .await
            .map_err(|e| AppError::internal(format!("blocking pool: {e}")))
    }

    /// A PHC string (`$argon2id$v=19$m=7168,t=5,p=1$...`).
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.on_blocking_pool(move || hash_blocking(&password))
            .await?
    }

    /// Checks `password` against `stored`. With `stored = None` (no such user)
    /// a dummy hash is checked instead, so the response time does not reveal
    /// whether an account exists.
    pub async fn verify(&self, password: String, stored: Option<String>) -> AppResult<bool> {
        self.on_blocking_pool(move || {
            let exists = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
            let ok = verify_blocking(&password, &stored);
            exists && ok
        })
        .await
    }
}

fn hash_blocking(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("hashing password: {e}")))
}

fn verify_blocking(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        // Parameters come from the stored string, so old hashes keep working
        // if the constants above change.
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(e) => {
            log::error!("stored password hash is malformed: {e}");
            false
        }
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY
        .get_or_init(|| hash_blocking("dummy password for timing equalisation").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_use_argon2id_at_the_chosen_cost() {
        let h = hash_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(verify_blocking("correct horse", &h));
        assert!(!verify_blocking("wrong horse", &h));
        assert!(!verify_blocking("correct horse", "not a phc string"));
    }
}
