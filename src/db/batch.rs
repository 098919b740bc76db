//! Requests that need the same kind of database work while it is already
//! running share the next run instead of each taking its own: group commit
//! for writes (article creates: one statement, one commit and one WAL flush
//! for the batch) and coalescing for reads that many requests ask at once
//! (the tag list: one query for everyone waiting).
//!
//! There is no timer: a request arriving at an idle server starts a drain at
//! once and pays no wait. One drain per kind runs at a time, on one blocking
//! thread and one pooled connection; it takes up to `max` queued requests,
//! runs them, answers each, and repeats until the queue is empty. A request
//! therefore waits for at most the run in flight before its own starts. That
//! is also why a shared read is never stale: it runs after every request it
//! answers arrived, so it sees every write acknowledged before them. Under
//! load the batches grow by themselves (`conduit_db_batch_size`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::pool::{Pool, Pooled, IDLE_BEFORE_PING};
use super::DbConnection;
use crate::error::{AppError, AppResult};

/// Runs a batch on one connection and answers each job, in order. What it
/// returns must have one entry per job.
pub type RunBatch<J, R> = fn(&mut DbConnection, &[J]) -> Vec<AppResult<R>>;

/// The queue of one kind of batched work.
pub struct Batcher<J, R> {
    queue: Mutex<Queue<J, R>>,
    /// The label of `conduit_db_batch_size`.
    kind: &'static str,
    max: usize,
    run: RunBatch<J, R>,
    /// Read-only work: run once more on another connection if the first
    /// turned out dead (as `Pool::read` does).
    retry_lost: bool,
}

struct Queue<J, R> {
    waiting: VecDeque<Waiting<J, R>>,
    /// A drain is running (and will see everything queued before it ends).
    draining: bool,
}

struct Waiting<J, R> {
    job: J,
    reply: oneshot::Sender<AppResult<R>>,
}

impl<J: Send + 'static, R: Send + 'static> Batcher<J, R> {
    /// Writes in batches of at most `max`, each run by `run`, which must
    /// change nothing if it fails (one statement, or one transaction): a
    /// batch is never repeated.
    pub fn writes(kind: &'static str, max: usize, run: RunBatch<J, R>) -> Arc<Self> {
        Self::new(kind, max, run, false)
    }

    /// Read-only work in batches of at most `max`, each run by `run`.
    pub fn reads(kind: &'static str, max: usize, run: RunBatch<J, R>) -> Arc<Self> {
        Self::new(kind, max, run, true)
    }

    fn new(kind: &'static str, max: usize, run: RunBatch<J, R>, retry_lost: bool) -> Arc<Self> {
        Arc::new(Batcher {
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                draining: false,
            }),
            kind,
            max: max.max(1),
            run,
            retry_lost,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue<J, R>> {
        // The queue is consistent after every statement that changes it.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`; true if no drain is running, so the caller starts one.
    fn push(&self, job: J, reply: oneshot::Sender<AppResult<R>>) -> bool {
        let mut queue = self.lock();
        queue.waiting.push_back(Waiting { job, reply });
        !std::mem::replace(&mut queue.draining, true)
    }

    /// The next batch, or `None` (and the drain over) if nothing waits. The
    /// check and the end happen under one lock, so a write queued meanwhile
    /// either is taken here or finds no drain and starts one.
    fn next_batch(&self) -> Option<Vec<Waiting<J, R>>> {
        let mut queue = self.lock();
        if queue.waiting.is_empty() {
            queue.draining = false;
            return None;
        }
        let n = queue.waiting.len().min(self.max);
        Some(queue.waiting.drain(..n).collect())
    }

    /// Ends a drain that cannot go on, answering everything queued with `error`.
    fn abandon(&self, error: impl Fn() -> AppError) {
        let waiting = {
            let mut queue = self.lock();
            queue.draining = false;
            std::mem::take(&mut queue.waiting)
        };
        for w in waiting {
            let _ = w.reply.send(Err(error()));
        }
    }
}

/// Ends the drain if it stops early (a panic outside `run`, whose own
/// panics `run_batch` catches): nothing stays queued with no drain to take it.
struct DrainGuard<'a, J: Send + 'static, R: Send + 'static>(&'a Batcher<J, R>);

impl<J: Send + 'static, R: Send + 'static> Drop for DrainGuard<'_, J, R> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0
                .abandon(|| AppError::bug("a batched section panicked"));
        }
    }
}

impl Pool {
    /// Queues `job` on `batcher` and waits for its answer, at most as long
    /// as any section may take.
    pub async fn batched<J, R>(&self, batcher: &Arc<Batcher<J, R>>, job: J) -> AppResult<R>
    where
        J: Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        if batcher.push(job, reply) {
            let (pool, batcher) = (self.clone(), batcher.clone());
            // Runs by itself; every request it takes is answered through
            // its own channel.
            drop(actix_web::rt::task::spawn_blocking(move || {
                pool.drain(&batcher)
            }));
        }
        match tokio::time::timeout(self.section_limit(), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(closed)) => Err(AppError::internal("batched section", closed)),
            Err(elapsed) => {
                self.metrics().count_abandoned();
                Err(AppError::unavailable(
                    "the database did not answer in time",
                    elapsed,
                ))
            }
        }
    }

    /// One run of `batcher`'s work: exactly one answer per job, and true if
    /// `run` panicked (the batch's jobs are then answered with an error and
    /// the connection, perhaps left inside a transaction, is not reused).
    fn run_batch<J: Send + 'static, R: Send + 'static>(
        &self,
        batcher: &Batcher<J, R>,
        conn: &mut Pooled,
        jobs: &[J],
    ) -> (Vec<AppResult<R>>, bool) {
        // Unwind safety: after a panic nothing of this batch is used again
        // but the jobs, which are only dropped, and the connection, which
        // goes back to r2d2 (it discards one with a transaction still open).
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.section(conn, |c| Ok((batcher.run)(c, jobs)))
        }));
        let panicked = ran.is_err();
        let mut results = match ran {
            Ok(results) => results.unwrap_or_default(),
            Err(_) => jobs
                .iter()
                .map(|_| Err(AppError::bug("a batched section panicked")))
                .collect(),
        };
        if results.len() != jobs.len() {
            results = jobs
                .iter()
                .map(|_| {
                    Err(AppError::bug(
                        "a batch answered another number of jobs than it took",
                    ))
                })
                .collect();
        }
        (results, panicked)
    }

    /// Runs batches from `batcher` on one connection until its queue is empty.
    fn drain<J: Send + 'static, R: Send + 'static>(&self, batcher: &Batcher<J, R>) {
        let _guard = DrainGuard(batcher);
        let mut conn = None;
        while let Some(batch) = batcher.next_batch() {
            let mut c = match conn.take() {
                Some(c) => c,
                None => match self.checkout_checked(None, Some(IDLE_BEFORE_PING)) {
                    Ok(c) => c,
                    Err(e) => {
                        let reason = e.to_string();
                        for w in batch {
                            let _ = w
                                .reply
                                .send(Err(AppError::unavailable("database pool", reason.clone())));
                        }
                        batcher.abandon(|| AppError::unavailable("database pool", reason.clone()));
                        return;
                    }
                },
            };
            self.metrics().observe_batch(batcher.kind, batch.len());
            let (jobs, replies): (Vec<J>, Vec<_>) =
                batch.into_iter().map(|w| (w.job, w.reply)).unzip();
            let (mut results, mut panicked) = self.run_batch(batcher, &mut c, &jobs);
            if batcher.retry_lost && !panicked && Pool::is_lost(&c) {
                match self.checkout_checked(None, Some(IDLE_BEFORE_PING)) {
                    Ok(fresh) => {
                        c = fresh;
                        (results, panicked) = self.run_batch(batcher, &mut c, &jobs);
                    }
                    Err(e) => log::warn!("no connection to repeat a batched read on: {e}"),
                }
            }
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
            // A connection that lost its server, or whose batch panicked,
            // goes back for r2d2 to check; the next batch checks one out.
            if !panicked && !Pool::is_lost(&c) {
                conn = Some(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;
    use std::time::Duration;

    use futures_util::future::join_all;

    use super::*;
    use crate::db::{DbMetrics, PoolSettings};

    /// The batch sizes `record` ran, in order.
    static SEEN: StdMutex<Vec<usize>> = StdMutex::new(Vec::new());

    /// Answers each job with itself doubled, after a pause long enough for
    /// every other job of the test to queue up; panics on a negative job.
    fn record(_: &mut DbConnection, jobs: &[i64]) -> Vec<AppResult<i64>> {
        std::thread::sleep(Duration::from_millis(200));
        assert!(jobs.iter().all(|&j| j >= 0), "negative job");
        SEEN.lock().unwrap().push(jobs.len());
        jobs.iter().map(|j| Ok(j * 2)).collect()
    }

    fn sqlite_pool(dir: &std::path::Path) -> Pool {
        let settings = PoolSettings {
            max_size: 2,
            min_idle: 0,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        };
        let metrics = DbMetrics::new(&prometheus::Registry::new()).unwrap();
        let url = dir.join("batch.db").display().to_string();
        Pool::new(&url, &settings, metrics).unwrap()
    }

    // One test, so the two parts cannot see each other's batches in `SEEN`.
    #[actix_rt::test]
    async fn queued_writes_run_together_each_gets_its_answer_and_a_panic_fails_only_its_batch() {
        let dir = std::env::temp_dir().join(format!("conduit-batch-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = sqlite_pool(&dir);
        let batcher = Batcher::writes("test", 4, record);

        // Ten writes at once: the first drain takes what has queued, the
        // rest wait for it and then go in batches of at most four.
        let answers = join_all((0..10).map(|j| pool.batched(&batcher, j))).await;
        let answers: Vec<i64> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, (0..10).map(|j| j * 2).collect::<Vec<_>>());
        let seen = std::mem::take(&mut *SEEN.lock().unwrap());
        assert_eq!(seen.iter().sum::<usize>(), 10, "{seen:?}");
        assert!(seen.iter().all(|&n| n <= 4), "{seen:?}");
        assert!(seen.len() < 10, "nothing was batched: {seen:?}");

        // A panicking batch answers its own writes with an error instead of
        // leaving them waiting, and the drain goes on with those queued
        // behind it. One job per batch, so which jobs share the panicking
        // batch does not depend on timing.
        let single = Batcher::writes("test", 1, record);
        let answers = join_all([-1, 5, 6].map(|j| pool.batched(&single, j))).await;
        assert!(
            matches!(&answers[0], Err(AppError::Internal { context, .. }) if context.contains("panicked")),
            "{answers:?}"
        );
        assert_eq!(
            answers[1..]
                .iter()
                .map(|a| *a.as_ref().unwrap())
                .collect::<Vec<_>>(),
            [10, 12]
        );
        assert_eq!(pool.batched(&single, 7).await.unwrap(), 14);
        // and the shared batcher is unaffected
        assert_eq!(pool.batched(&batcher, 8).await.unwrap(), 16);

        let _ = std::fs::remove_dir_all(&dir);
    }
}
