//! Password hashing with argon2id. Hashing is CPU- and memory-heavy, so it
//! runs on `PASSWORD_HASH_CONCURRENCY` dedicated threads, never while holding
//! a database connection, each hashing in 7 MiB of memory it allocates once
//! and reuses: the hashing memory of the process is bounded by
//! `PASSWORD_HASH_CONCURRENCY x 7 MiB` however many logins arrive. The threads
//! run in the `SCHED_IDLE` class (nice 10 where that is unavailable), so a
//! login flood takes the CPU that requests for data leave idle instead of
//! delaying them.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{oneshot, Semaphore};

use crate::domain::Password;
use crate::error::{AppError, AppResult};

/// OWASP's argon2id option of 7 MiB memory x 5 passes x 1 lane: as strong as
/// 19 MiB x 2 but with a third of the memory per concurrent hash, which keeps
/// the whole server within tens of megabytes under a login flood.
pub const MEMORY_KIB: u32 = 7 * 1024;
pub const PASSES: u32 = 5;
pub const LANES: u32 = 1;
const OUTPUT_LEN: usize = 32;
/// Niceness of the hashing threads where `SCHED_IDLE` is not available
/// (0 is normal, 19 the lowest priority).
const HASHING_NICE: i32 = 10;
/// How long an idle hashing thread keeps its working memory.
const IDLE_RELEASE: Duration = Duration::from_secs(1);

fn params() -> Params {
    // The constants above are valid parameters; this cannot fail.
    Params::new(MEMORY_KIB, PASSES, LANES, Some(OUTPUT_LEN)).unwrap_or_default()
}

/// A hashing thread's working memory, allocated on first use and kept while
/// logins keep coming; released after `IDLE_RELEASE` without one, so the
/// 7 MiB per thread are resident only around login activity.
type Arena = Vec<Block>;

fn blocks(arena: &mut Arena, count: usize) -> &mut [Block] {
    if arena.len() < count {
        arena.resize(count, Block::default());
    }
    &mut arena[..count]
}

/// A job gets the thread's memory and its busy flag, which it clears before
/// handing over the result.
type Job = Box<dyn FnOnce(&mut Arena, &AtomicBool) + Send>;

/// One hashing thread as the request side sees it: a channel into it
/// (sending never blocks nor takes a lock the thread may hold, so a
/// low-priority hashing thread can never stall a request thread) and whether
/// it is running a job.
struct Worker {
    jobs: mpsc::Sender<Job>,
    busy: Arc<AtomicBool>,
}

/// Hashing front end shared by the handlers: a fixed set of hashing threads,
/// each with its own channel, and a semaphore admitting as many jobs as there
/// are threads, so requests beyond that wait without queueing work.
#[derive(Clone)]
pub struct PasswordHasherPool {
    inner: Arc<Inner>,
}

struct Inner {
    permits: Semaphore,
    workers: Vec<Worker>,
}

impl PasswordHasherPool {
    /// Dropping the last handle drops the channels; each thread then exits.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let (jobs, queue) = mpsc::channel::<Job>();
            let busy = Arc::new(AtomicBool::new(false));
            let thread_busy = busy.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || hashing_thread(&queue, &thread_busy))?;
            workers.push(Worker { jobs, busy });
        }
        Ok(PasswordHasherPool {
            inner: Arc::new(Inner {
                permits: Semaphore::new(workers.len()),
                workers,
            }),
        })
    }

    /// A thread that is not running a job; with a permit held there is one,
    /// unless a request gave up while its job still runs — then any thread,
    /// whose queue the job waits in.
    fn pick_worker(&self) -> &Worker {
        let workers = &self.inner.workers;
        workers
            .iter()
            .find(|w| {
                w.busy
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            })
            .unwrap_or(&workers[fastrand::usize(..workers.len())])
    }

    async fn on_hashing_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Arena) -> T + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::internal("hash semaphore closed", e))?;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |arena, busy| {
            // A request dropped meanwhile needs no hash.
            if done.is_closed() {
                return;
            }
            let result = work(arena);
            // Free before the result wakes the request and it returns its
            // permit, so a permit always finds a free thread.
            busy.store(false, Ordering::Release);
            let _ = done.send(result);
        });
        self.pick_worker()
            .jobs
            .send(job)
            .map_err(|_| AppError::bug("hashing threads are gone"))?;
        result
            .await
            .map_err(|_| AppError::bug("hashing job failed"))
    }

    /// A PHC string (`$argon2id$v=19$m=7168,t=5,p=1$...`).
    pub async fn hash(&self, password: Password) -> AppResult<String> {
        self.on_hashing_thread(move |arena| hash_blocking(arena, password.expose()))
            .await?
    }

    /// Checks `password` against `stored`. With `stored = None` (no such user)
    /// a dummy hash is checked instead, so the response time does not reveal
    /// whether an account exists.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> AppResult<bool> {
        self.on_hashing_thread(move |arena| {
            let exists = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash(arena).to_owned());
            let ok = verify_blocking(arena, password.expose(), &stored);
            exists && ok
        })
        .await
    }
}

/// Puts the calling thread in Linux's `SCHED_IDLE` class: it runs on CPU
/// time no normal thread wants, and a request thread that wakes up preempts
/// it at once (a niced thread may first finish its time slice).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn idle_scheduling() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread, and `param` is a valid
    // `sched_param` that outlives the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn idle_scheduling() -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

fn lower_priority() {
    if idle_scheduling().is_ok() {
        return;
    }
    if let Err(e) = rustix::process::setpriority_process(None, HASHING_NICE) {
        // Without it hashing still works, at the same priority as requests.
        log::warn!("could not lower the hashing thread's priority: {e}");
    }
}

fn hashing_thread(queue: &mpsc::Receiver<Job>, busy: &AtomicBool) {
    lower_priority();
    let mut arena = Arena::new();
    loop {
        match queue.recv_timeout(IDLE_RELEASE) {
            Ok(job) => {
                busy.store(true, Ordering::Release);
                // A panicking job drops its result sender (the request gets
                // a 500); the thread stays.
                if catch_unwind(AssertUnwindSafe(|| job(&mut arena, busy))).is_err() {
                    arena = Arena::new();
                }
                busy.store(false, Ordering::Release);
            }
            // Freed blocks of this size go back to the system (see main.rs).
            Err(mpsc::RecvTimeoutError::Timeout) => arena = Arena::new(),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn hash_blocking(arena: &mut Arena, password: &str) -> AppResult<String> {
    let fail = |e: &dyn std::fmt::Display| {
        AppError::internal("hashing a password", std::io::Error::other(e.to_string()))
    };
    let params = params();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_buf)
        .map_err(|e| fail(&e))?;
    let mut out = [0u8; OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    hash_into(arena, &argon2, password, salt_bytes, &mut out).map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// The raw argon2 output for `password` and `salt`, in the thread's arena.
fn hash_into(
    arena: &mut Arena,
    argon2: &Argon2,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let memory = blocks(arena, argon2.params().block_count());
    argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, memory)
}

/// Parameters come from the stored string, so hashes made with other
/// settings keep verifying if the constants above change.
fn verify_blocking(arena: &mut Arena, password: &str, stored: &str) -> bool {
    let mut check = || -> Result<bool, String> {
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
        let argon2 = Argon2::new(algorithm, version, params);
        hash_into(arena, &argon2, password, salt_bytes, &mut out).map_err(|e| e.to_string())?;
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

fn dummy_hash(arena: &mut Arena) -> &'static str {
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
        let mut arena = Arena::new();
        let h = hash_blocking(&mut arena, "correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(verify_blocking(&mut arena, "correct horse", &h));
        assert!(!verify_blocking(&mut arena, "wrong horse", &h));
        assert!(!verify_blocking(
            &mut arena,
            "correct horse",
            "not a phc string"
        ));
    }

    #[actix_rt::test]
    async fn hashing_runs_on_lower_priority_threads_that_survive_a_panic() {
        let pool = PasswordHasherPool::new(1).unwrap();
        // Field 41 of /proc/<tid>/stat is the scheduling policy (5: SCHED_IDLE).
        let policy = pool
            .on_hashing_thread(|_| {
                let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
                let after_name = stat.rsplit_once(") ").unwrap().1;
                after_name.split(' ').nth(41 - 3).unwrap().to_owned()
            })
            .await
            .unwrap();
        assert_eq!(policy, libc::SCHED_IDLE.to_string());
        let panicked = pool
            .on_hashing_thread(|_| -> u8 { panic!("job panics") })
            .await;
        assert!(panicked.is_err());
        let pw = || Password::new("still works".into()).unwrap();
        let h = pool.hash(pw()).await.unwrap();
        assert!(pool.verify(pw(), Some(h)).await.unwrap());
        assert!(!pool.verify(pw(), None).await.unwrap());
    }

    #[actix_rt::test]
    async fn more_concurrent_hashes_than_threads_all_complete() {
        let pool = PasswordHasherPool::new(2).unwrap();
        let pw = |i| Password::new(format!("password {i}")).unwrap();
        let hashes = futures_util::future::join_all((0..5).map(|i| pool.hash(pw(i)))).await;
        for (i, h) in hashes.into_iter().enumerate() {
            let h = h.unwrap();
            assert!(pool.verify(pw(i), Some(h)).await.unwrap());
        }
        for worker in &pool.inner.workers {
            assert!(
                !worker.busy.load(Ordering::Acquire),
                "all threads free again"
            );
        }
    }

    #[test]
    fn interoperates_with_the_reference_implementation() {
        let mut arena = Arena::new();
        // Ours verifies with the crate's own verifier...
        let ours = hash_blocking(&mut arena, "pw-123456").unwrap();
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
        assert!(verify_blocking(&mut arena, "pw-123456", &theirs));
        assert!(!verify_blocking(&mut arena, "pw-1234567", &theirs));
    }
}
