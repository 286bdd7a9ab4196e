//! Making sled writes durable from async code, with group commit.
//!
//! sled 0.34's `flush_async` can deadlock when several flushes are polled at once (sled
//! issues #1241 and #1308, fixed on its main branch but never released); a relay under load
//! does exactly that (executor, swaps, notary). So every flush here is sled's synchronous
//! `flush`, run on tokio's blocking pool.
//!
//! A sled flush writes everything written to the database before it started, whatever the
//! tree. So callers that ask at about the same time share one flush (group commit): each
//! caller takes a ticket after its writes, and returns once a flush that began after its
//! ticket has completed. One flush runs at a time; while it runs, new tickets wait for the
//! next one, which covers them all.
//!
//! sled batches and transactions are applied by the flusher too ([`Durable::apply`]), between
//! two flushes, never from the runtime's threads. sled guards them with a process-wide lock
//! that a flush holds shared for its whole fsync: a batch applied elsewhere waits out the
//! flush in progress, and every read and write of the relay queues behind the waiting batch.
//! On the flusher no flush is in progress when the batch runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Result};
use tokio::sync::{oneshot, watch};

/// A write the flusher applies: a sled batch or transaction.
type Write = Box<dyn FnOnce() -> Result<()> + Send>;

/// Writes waiting for the flusher before `apply` refuses more (a bound on the queue).
pub const MAX_QUEUED_WRITES: usize = 65_536;

/// A write waiting for the flusher, and who to tell when it is applied (and flushed, if
/// `durable`).
struct Queued {
    write: Write,
    durable: bool,
    done: oneshot::Sender<Result<()>>,
}

/// Where the flushes stand: every ticket up to `covered` is on disk, unless `failed` says
/// the flush meant to cover them failed (a later successful flush covers them again).
#[derive(Clone, Debug, Default)]
struct Flushed {
    covered: u64,
    failed: Option<Arc<str>>,
}

/// The durability of one sled database. Cheap to clone; every clone shares the flushes.
#[derive(Clone)]
pub struct Durable {
    shared: Arc<Shared>,
}

struct Shared {
    db: sled::Db,
    /// Tickets handed out so far.
    tickets: AtomicU64,
    /// True while a flusher task runs.
    flushing: AtomicBool,
    flushed: watch::Sender<Flushed>,
    /// Flushes actually run (a metric: `tickets / flushes` is how much group commit saves).
    flushes: AtomicU64,
    /// Writes for the flusher to apply before its next flush.
    queue: std::sync::Mutex<Vec<Queued>>,
    /// Writes applied by the flusher (a metric).
    applied: AtomicU64,
}

/// Counters for the status API and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DurableStats {
    /// Flushes callers asked for.
    pub requested: u64,
    /// Flushes run to serve them.
    pub flushes: u64,
    /// Batches and transactions the flusher applied.
    #[serde(default)]
    pub applied: u64,
    /// Writes waiting for the flusher now (at most [`MAX_QUEUED_WRITES`]).
    #[serde(default)]
    pub queued_writes: usize,
}

impl Durable {
    pub fn new(db: &sled::Db) -> Durable {
        Durable {
            shared: Arc::new(Shared {
                db: db.clone(),
                tickets: AtomicU64::new(0),
                flushing: AtomicBool::new(false),
                flushed: watch::Sender::new(Flushed::default()),
                flushes: AtomicU64::new(0),
                queue: Default::default(),
                applied: AtomicU64::new(0),
            }),
        }
    }

    pub fn db(&self) -> &sled::Db {
        &self.shared.db
    }

    /// Returns once everything written to the database before this call is on disk.
    pub async fn flush(&self) -> Result<()> {
        let ticket = self.shared.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = self.shared.flushed.subscribe();
        self.ensure_flusher();
        let state = flushed
            .wait_for(|f| f.covered >= ticket)
            .await
            .map_err(|_| anyhow!("the relay database's flusher stopped"))?;
        match &state.failed {
            None => Ok(()),
            Some(reason) => Err(anyhow!("relay database flush failed: {reason}")),
        }
    }

    /// Runs `write` (a sled batch or transaction) on the flusher, between two flushes, and
    /// returns its result once it is applied; not yet durable.
    pub async fn apply(&self, write: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
        self.queue(Box::new(write), false).await
    }

    /// As [`Durable::apply`], and returns once the flush that follows it is done too.
    pub async fn apply_and_flush(
        &self,
        write: impl FnOnce() -> Result<()> + Send + 'static,
    ) -> Result<()> {
        self.queue(Box::new(write), true).await
    }

    async fn queue(&self, write: Write, durable: bool) -> Result<()> {
        let (done, applied) = oneshot::channel();
        {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.len() >= MAX_QUEUED_WRITES {
                return Err(anyhow!(
                    "the relay database has {MAX_QUEUED_WRITES} writes waiting for the disk; it is too slow for this load"
                ));
            }
            queue.push(Queued {
                write,
                durable,
                done,
            });
        }
        self.ensure_flusher();
        applied
            .await
            .map_err(|_| anyhow!("the relay database's flusher stopped"))?
    }

    pub fn stats(&self) -> DurableStats {
        DurableStats {
            requested: self.shared.tickets.load(Ordering::Relaxed),
            flushes: self.shared.flushes.load(Ordering::Relaxed),
            applied: self.shared.applied.load(Ordering::Relaxed),
            queued_writes: self
                .shared
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .len(),
        }
    }

    /// Starts a flusher unless one runs; a running one sees the new ticket before it stops.
    fn ensure_flusher(&self) {
        if self.shared.flushing.swap(true, Ordering::SeqCst) {
            return;
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.flush_until_caught_up());
    }
}

impl Shared {
    fn flush_until_caught_up(&self) {
        loop {
            let awaiting_flush = self.apply_queued();
            let target = self.tickets.load(Ordering::SeqCst);
            let result = self.db.flush();
            self.flushes.fetch_add(1, Ordering::Relaxed);
            let failed = result
                .as_ref()
                .err()
                .map(|e| Arc::<str>::from(e.to_string()));
            self.flushed.send_modify(|f| {
                f.covered = f.covered.max(target);
                f.failed = failed.clone();
            });
            for done in awaiting_flush {
                let _ = done.send(match &failed {
                    None => Ok(()),
                    Some(reason) => Err(anyhow!("relay database flush failed: {reason}")),
                });
            }
            if !self.idle(target) {
                continue;
            }
            self.flushing.store(false, Ordering::SeqCst);
            // A ticket taken or a write queued between the check and the store saw
            // `flushing` still true and left its flush to us: take the role back if nobody
            // else has.
            if self.idle(target) || self.flushing.swap(true, Ordering::SeqCst) {
                return;
            }
        }
    }

    /// No ticket after `target` and no write queued.
    fn idle(&self, target: u64) -> bool {
        self.tickets.load(Ordering::SeqCst) == target
            && self
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
    }

    /// Applies every queued write in order, answers those that wanted no flush, and returns
    /// the others', to be answered after the flush.
    fn apply_queued(&self) -> Vec<oneshot::Sender<Result<()>>> {
        let queued = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
        let mut awaiting_flush = Vec::new();
        for Queued {
            write,
            durable,
            done,
        } in queued
        {
            // A panicking write must not take the flusher down with `flushing` still set:
            // every later flush would wait for ever.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(write))
                .unwrap_or_else(|_| Err(anyhow!("a relay database write panicked; see the log")));
            self.applied.fetch_add(1, Ordering::Relaxed);
            if durable && result.is_ok() {
                awaiting_flush.push(done);
            } else {
                let _ = done.send(result);
            }
        }
        awaiting_flush
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all_within_a_minute(tasks: Vec<tokio::task::JoinHandle<()>>) {
        let all = futures::future::join_all(tasks);
        let done = tokio::time::timeout(std::time::Duration::from_secs(60), all)
            .await
            .expect("every task completes within a minute");
        for task in done {
            task.expect("no task panics");
        }
    }

    // Regression: under load a notary member hung for good in `flush_async` (five of them
    // awaiting at once); concurrent flushes must all complete.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_flushes_all_complete() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let durable = Durable::new(&db);
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let (db, durable) = (db.clone(), durable.clone());
                tokio::spawn(async move {
                    db.insert(i.to_be_bytes(), vec![0u8; 64]).unwrap();
                    durable.flush().await.unwrap();
                })
            })
            .collect();
        all_within_a_minute(tasks).await;
        assert_eq!(db.len(), 200);
        let stats = durable.stats();
        assert_eq!(stats.requested, 200);
        assert!(stats.flushes >= 1 && stats.flushes <= 200, "{stats:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_applied_by_the_flusher_are_visible_at_once_and_durable_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let durable = Durable::new(&db);
            let tasks: Vec<_> = (0..100u32)
                .map(|i| {
                    let (db, durable) = (db.clone(), durable.clone());
                    tokio::spawn(async move {
                        let mut batch = sled::Batch::default();
                        batch.insert(&i.to_be_bytes(), &[1u8; 8]);
                        batch.insert(&(1_000 + i).to_be_bytes(), &[2u8; 8]);
                        let tree = db.clone();
                        if i % 2 == 0 {
                            durable
                                .apply_and_flush(move || Ok(tree.apply_batch(batch)?))
                                .await
                                .unwrap();
                        } else {
                            durable
                                .apply(move || Ok(tree.apply_batch(batch)?))
                                .await
                                .unwrap();
                        }
                        assert!(db.contains_key(i.to_be_bytes()).unwrap());
                    })
                })
                .collect();
            all_within_a_minute(tasks).await;
            let stats = durable.stats();
            assert_eq!(stats.applied, 100);
            assert!(stats.flushes >= 1, "{stats:?}");
        }
        let config = sled::Config::new().path(dir.path());
        let db = causeway_devchain::storage::open_when_unlocked(&config).unwrap();
        for i in (0..100u32).step_by(2) {
            assert!(db.contains_key(i.to_be_bytes()).unwrap(), "{i} was flushed");
            assert!(db.contains_key((1_000 + i).to_be_bytes()).unwrap());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_is_reported_to_its_caller_and_the_next_one_still_runs() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let durable = Durable::new(&db);
        let err = durable
            .apply_and_flush(|| Err(anyhow!("conflict in tree `notary`")))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("conflict in tree `notary`"),
            "{err}"
        );
        let tree = db.clone();
        durable
            .apply_and_flush(move || Ok(tree.insert("k", "v").map(drop)?))
            .await
            .unwrap();
        assert!(db.contains_key("k").unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_write_is_an_error_and_the_flusher_keeps_serving() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let durable = Durable::new(&db);
        let err = durable.apply(|| panic!("encoder bug")).await.unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        db.insert("k", "v").unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(30), durable.flush())
            .await
            .expect("the flusher still serves")
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flush_after_a_write_makes_it_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
            let durable = Durable::new(&db);
            for i in 0..50u32 {
                db.insert(i.to_be_bytes(), vec![1u8; 16]).unwrap();
                durable.flush().await.unwrap();
            }
            // Sequential callers never wait on a flush that started before their write.
            assert_eq!(durable.stats().flushes, 50);
        }
        // Regression: CI saw this reopen fail with "could not acquire lock" while the last
        // flusher task still held its clone of the closed database.
        let config = sled::Config::new().path(dir.path());
        let db = causeway_devchain::storage::open_when_unlocked(&config).unwrap();
        assert_eq!(db.len(), 50);
    }
}
