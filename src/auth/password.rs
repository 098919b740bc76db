//! Password hashing with argon2id. Hashing is CPU- and memory-heavy, so it runs
//! in the blocking pool, never while holding a database connection, at most
//! `PASSWORD_HASH_CONCURRENCY` at once, and in memory allocated once and
//! reused: the hashing memory of the process is bounded by
//! `PASSWORD_HASH_CONCURRENCY x 7 MiB` however many logins arrive.

use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// OWASP's argon2id option of 7 MiB memory x 5 passes x 1 lane: as strong as
/// 19 MiB x 2 but with a third of the memory per concurrent hash, which keeps
/// the whole server within tens of megabytes under a login flood.
pub const MEMORY_KIB: u32 = 7 * 1024;
pub const PASSES: u32 = 5;
pub const LANES: u32 = 1;
const OUTPUT_LEN: usize = 32;

fn params() -> Params {
    // The constants above are valid parameters; this cannot fail.
    Params::new(MEMORY_KIB, PASSES, LANES, Some(OUTPUT_LEN)).unwrap_or_default()
}

/// Reusable argon2 working memory, one buffer per concurrent hash. Without it
/// every hash allocates 7 MiB on whichever blocking thread runs it, and the
/// allocator keeps such blocks cached per thread.
#[derive(Default)]
struct Arena {
    buffers: Mutex<Vec<Vec<Block>>>,
}

impl Arena {
    fn with_blocks<T>(&self, count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let taken = self.buffers.lock().ok().and_then(|mut b| b.pop());
        let mut buffer = taken.unwrap_or_default();
        if buffer.len() < count {
            buffer.resize(count, Block::default());
        }
        let result = f(&mut buffer[..count]);
        if let Ok(mut buffers) = self.buffers.lock() {
            buffers.push(buffer);
        }
        result
    }
}

/// Hashing front end shared by the handlers.
#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
    arena: Arc<Arena>,
}

impl PasswordHasherPool {
    pub fn new(max_concurrent: usize) -> Self {
        PasswordHasherPool {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            arena: Arc::new(Arena::default()),
        }
    }

    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Arena) -> T + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::internal(format!("hash semaphore closed: {e}")))?;
        let arena = self.arena.clone();
        actix_web::web::block(move || work(&arena))
            .await
            .map_err(|e| AppError::internal(format!("blocking pool: {e}")))
    }

    /// A PHC string (`$argon2id$v=19$m=7168,t=5,p=1$...`).
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.on_blocking_pool(move |arena| hash_blocking(arena, &password))
            .await?
    }

    /// Checks `password` against `stored`. With `stored = None` (no such user)
    /// a dummy hash is checked instead, so the response time does not reveal
    /// whether an account exists.
    pub async fn verify(&self, password: String, stored: Option<String>) -> AppResult<bool> {
        self.on_blocking_pool(move |arena| {
            let exists = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash(arena).to_owned());
            let ok = verify_blocking(arena, &password, &stored);
            exists && ok
        })
        .await
    }
}

fn hash_blocking(arena: &Arena, password: &str) -> AppResult<String> {
    let fail = |e: &dyn std::fmt::Display| AppError::internal(format!("hashing password: {e}"));
    let params = params();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_buf)
        .map_err(|e| fail(&e))?;
    let mut out = [0u8; OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    arena
        .with_blocks(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, blocks)
        })
        .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// Parameters come from the stored string, so hashes made with other
/// settings keep verifying if the constants above change.
fn verify_blocking(arena: &Arena, password: &str, stored: &str) -> bool {
    let check = || -> Result<bool, String> {
        let parsed = PasswordHash::new(stored).map_err(|e| e.to_string())?;
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| e.to_string())?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err("hash without salt or output".into());
        };
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| e.to_string())?;
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        arena
            .with_blocks(params.block_count(), |blocks| {
                argon2.hash_password_into_with_memory(
                    password.as_bytes(),
                    salt_bytes,
                    &mut out,
                    blocks,
                )
            })
            .map_err(|e| e.to_string())?;
        // `Output` compares in constant time.
        Ok(Output::new(&out).map_err(|e| e.to_string())? == expected)
    };
    match check() {
        Ok(matches) => matches,
        Err(e) => {
            log::error!("stored password hash is unusable: {e}");
            false
        }
    }
}

fn dummy_hash(arena: &Arena) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking(arena, "dummy password for timing equalisation").unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn hashes_verify_and_use_argon2id_at_the_chosen_cost() {
        let arena = Arena::default();
        let h = hash_blocking(&arena, "correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(verify_blocking(&arena, "correct horse", &h));
        assert!(!verify_blocking(&arena, "wrong horse", &h));
        assert!(!verify_blocking(
            &arena,
            "correct horse",
            "not a phc string"
        ));
    }

    #[test]
    fn interoperates_with_the_reference_implementation() {
        let arena = Arena::default();
        // Ours verifies with the crate's own verifier...
        let ours = hash_blocking(&arena, "pw-123456").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"pw-123456", &parsed)
            .is_ok());
        // ...and a hash made by the crate with other parameters verifies here.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19 * 1024, 2, 1, None).unwrap(),
        )
        .hash_password(b"pw-123456", &salt)
        .unwrap()
        .to_string();
        assert!(verify_blocking(&arena, "pw-123456", &theirs));
        assert!(!verify_blocking(&arena, "pw-1234567", &theirs));
    }
}
