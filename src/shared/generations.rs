//! Generations: the version of the data a cached copy was made from. Every
//! committed write moves the generation of what it changed before its
//! response is sent; a cached copy is used only while the current generation
//! is still the one it was made under. That is what makes in-process caches
//! read-your-writes: a write acknowledged anywhere is seen by every later
//! read everywhere.
//!
//! Two scopes: `data` (everything a response shows; every write moves it)
//! and `credentials` (which tokens are valid; a password change moves it).
//!
//! - One instance (no `REDIS_URL`): two counters in process.
//! - Several instances: each scope is a key in Redis holding a random token;
//!   a write sets a new one. A read asks Redis for the current tokens after
//!   its request arrived, in one round trip that the requests arriving
//!   together on its worker thread share (a batch is sent only after
//!   everyone in it arrived, so each still sees every write acknowledged
//!   before it). Random tokens never repeat,
//!   so a Redis restart that loses the keys cannot revive an old copy.
//! - Redis unreachable: `current` returns `None` and callers bypass their
//!   caches (correct, slower). A write's own publication is tried even
//!   then, so that instances which reach Redis again learn of it at once
//!   rather than when this one next tries Redis. A write whose new
//!   generation could not be published is remembered and published first, before any cached copy is
//!   trusted again, and retried in the background so other instances learn
//!   of it as soon as Redis answers.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use ::redis::aio::ConnectionManager;
use tokio::sync::oneshot;

use super::redis::{RedisFailure, RedisStore};

/// The generations a read observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub data: u64,
    pub credentials: u64,
}

/// What a committed write changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Changes {
    credentials: bool,
}

impl Changes {
    /// Data any response may show.
    pub const DATA: Changes = Changes { credentials: false };
    /// Data, and which tokens are valid (a password change).
    pub const DATA_AND_CREDENTIALS: Changes = Changes { credentials: true };
}

pub struct Generations {
    inner: Inner,
}

enum Inner {
    Local {
        data: AtomicU64,
        credentials: AtomicU64,
    },
    Shared(Arc<Shared>),
}

/// Whether a publication is tried while Redis is considered down.
#[derive(Clone, Copy)]
enum Attempt {
    /// A write's own: the instances that reach Redis must learn of it now.
    EvenIfDown,
    /// A retry (before a read, in the background): skipped until Redis is
    /// tried again, so an outage does not cost every request a timeout.
    UnlessDown,
}

const DATA: usize = 0;
const CREDENTIALS: usize = 1;

struct Shared {
    /// Tells this instance's batches apart in the threads' lists.
    id: usize,
    redis: Arc<RedisStore>,
    keys: [String; 2],
    /// New generations not yet published to Redis, per scope.
    pending: [AtomicBool; 2],
    publisher_running: AtomicBool,
}

/// The reads waiting on one worker thread for the next round trip. Batches
/// are per thread, like the Redis connections: a request, its batch and the
/// reply stay on the thread that serves it.
#[derive(Default)]
struct Batch {
    waiting: Vec<oneshot::Sender<Option<Stamp>>>,
    fetching: bool,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static BATCHES: RefCell<Vec<(usize, Rc<RefCell<Batch>>)>> = const { RefCell::new(Vec::new()) };
}

fn new_token() -> u64 {
    fastrand::u64(..)
}

impl Generations {
    pub fn local() -> Self {
        Generations {
            inner: Inner::Local {
                data: AtomicU64::new(1),
                credentials: AtomicU64::new(1),
            },
        }
    }

    pub fn shared(redis: Arc<RedisStore>) -> Self {
        let keys = [
            redis.key("generation:data"),
            redis.key("generation:credentials"),
        ];
        Generations {
            inner: Inner::Shared(Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                redis,
                keys,
                pending: [AtomicBool::new(false), AtomicBool::new(false)],
                publisher_running: AtomicBool::new(false),
            })),
        }
    }

    /// The current generations, observed after this call began; `None` when
    /// they cannot be known (Redis down): do not trust any cached copy.
    pub async fn current(&self) -> Option<Stamp> {
        match &self.inner {
            Inner::Local { data, credentials } => Some(Stamp {
                data: data.load(Ordering::Acquire),
                credentials: credentials.load(Ordering::Acquire),
            }),
            Inner::Shared(shared) => Shared::current(shared).await,
        }
    }

    /// Called after a write committed, before its response is sent.
    pub async fn changed(&self, changes: Changes) {
        match &self.inner {
            Inner::Local { data, credentials } => {
                data.fetch_add(1, Ordering::AcqRel);
                if changes.credentials {
                    credentials.fetch_add(1, Ordering::AcqRel);
                }
            }
            Inner::Shared(shared) => {
                shared.pending[DATA].store(true, Ordering::Release);
                if changes.credentials {
                    shared.pending[CREDENTIALS].store(true, Ordering::Release);
                }
                if Shared::publish(shared, Attempt::EvenIfDown).await.is_err() {
                    Shared::publish_in_background(shared);
                }
            }
        }
    }
}

impl Shared {
    fn thread_batch(&self) -> Rc<RefCell<Batch>> {
        BATCHES.with(|list| {
            if let Some((_, batch)) = list.borrow().iter().find(|(id, _)| *id == self.id) {
                return batch.clone();
            }
            let batch = Rc::new(RefCell::new(Batch::default()));
            list.borrow_mut().push((self.id, batch.clone()));
            batch
        })
    }

    async fn current(this: &Arc<Self>) -> Option<Stamp> {
        let batch = this.thread_batch();
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut b = batch.borrow_mut();
            b.waiting.push(tx);
            !std::mem::replace(&mut b.fetching, true)
        };
        if start {
            actix_rt::spawn(Self::fetch_batches(this.clone(), batch));
        }
        // A batch makes at most three bounded calls (publish, read, start);
        // a request never waits longer, whatever happens to the task.
        let bound = 3 * this.redis.call_bound() + std::time::Duration::from_millis(50);
        tokio::time::timeout(bound, rx).await.ok()?.ok().flatten()
    }

    /// Answers this thread's waiting requests a batch at a time: each batch
    /// is taken before its round trip starts, so its answer is newer than
    /// each of its requests.
    async fn fetch_batches(this: Arc<Self>, batch: Rc<RefCell<Batch>>) {
        /// Clears `fetching` however the task ends (also if it is dropped),
        /// so a later request starts a new one.
        struct Fetching(Rc<RefCell<Batch>>);
        impl Drop for Fetching {
            fn drop(&mut self) {
                if let Ok(mut b) = self.0.try_borrow_mut() {
                    b.fetching = false;
                }
            }
        }
        let _fetching = Fetching(batch.clone());
        loop {
            let waiting = {
                let mut b = batch.borrow_mut();
                if b.waiting.is_empty() {
                    return;
                }
                std::mem::take(&mut b.waiting)
            };
            let stamp = this.fetch().await;
            for request in waiting {
                let _ = request.send(stamp);
            }
        }
    }

    async fn fetch(&self) -> Option<Stamp> {
        if self.has_pending() && self.publish(Attempt::UnlessDown).await.is_err() {
            return None;
        }
        let keys = &self.keys;
        let values: Vec<Option<u64>> = self
            .redis
            .call("generation_read", |mut conn| async move {
                ::redis::cmd("MGET").arg(keys).query_async(&mut conn).await
            })
            .await
            .ok()?;
        match values.as_slice() {
            [Some(data), Some(credentials)] => Some(Stamp {
                data: *data,
                credentials: *credentials,
            }),
            // A fresh (or restarted) Redis: start the missing scopes with new
            // tokens; whichever instance sets one first wins.
            _ => self.initialise().await.ok(),
        }
    }

    async fn initialise(&self) -> Result<Stamp, RedisFailure> {
        let keys = &self.keys;
        let values: (u64, u64) = self
            .redis
            .call("generation_init", |mut conn| async move {
                ::redis::pipe()
                    .cmd("SET")
                    .arg(&keys[DATA])
                    .arg(new_token())
                    .arg("NX")
                    .ignore()
                    .cmd("SET")
                    .arg(&keys[CREDENTIALS])
                    .arg(new_token())
                    .arg("NX")
                    .ignore()
                    .cmd("GET")
                    .arg(&keys[DATA])
                    .cmd("GET")
                    .arg(&keys[CREDENTIALS])
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(Stamp {
            data: values.0,
            credentials: values.1,
        })
    }

    fn has_pending(&self) -> bool {
        self.pending.iter().any(|p| p.load(Ordering::Acquire))
    }

    /// Sets new tokens for the scopes with unpublished changes.
    async fn publish(&self, attempt: Attempt) -> Result<(), RedisFailure> {
        let scopes: Vec<usize> = (0..2)
            .filter(|&s| self.pending[s].swap(false, Ordering::AcqRel))
            .collect();
        if scopes.is_empty() {
            return Ok(());
        }
        let mut pipe = ::redis::pipe();
        for &s in &scopes {
            pipe.cmd("SET").arg(&self.keys[s]).arg(new_token()).ignore();
        }
        let pipe = &pipe;
        let bump =
            |mut conn: ConnectionManager| async move { pipe.query_async::<()>(&mut conn).await };
        let result = match attempt {
            Attempt::UnlessDown => self.redis.call("generation_bump", bump).await,
            Attempt::EvenIfDown => self.redis.call_even_if_down("generation_bump", bump).await,
        };
        if result.is_err() {
            for &s in &scopes {
                self.pending[s].store(true, Ordering::Release);
            }
        }
        result
    }

    /// Keeps trying to publish unpublished changes until Redis takes them,
    /// so other instances stop trusting their copies as soon as possible.
    fn publish_in_background(this: &Arc<Self>) {
        if this.publisher_running.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = this.clone();
        actix_rt::spawn(async move {
            let pause = std::time::Duration::from_millis(100);
            while this.has_pending() {
                actix_rt::time::sleep(pause).await;
                if this.publish(Attempt::UnlessDown).await.is_ok() {
                    log::info!("published the writes made while Redis was unreachable");
                }
            }
            this.publisher_running.store(false, Ordering::Release);
            // A change marked pending after the loop ended but before the
            // flag was cleared would otherwise wait for the next read.
            if this.has_pending() {
                Self::publish_in_background(&this);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn local_generations_move_with_each_write() {
        let g = Generations::local();
        let a = g.current().await.unwrap();
        g.changed(Changes::DATA).await;
        let b = g.current().await.unwrap();
        assert_ne!(a.data, b.data);
        assert_eq!(a.credentials, b.credentials);
        g.changed(Changes::DATA_AND_CREDENTIALS).await;
        let c = g.current().await.unwrap();
        assert_ne!(b.credentials, c.credentials);
    }
}
