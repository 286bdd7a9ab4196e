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

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Result};
use tokio::sync::watch;

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
}

/// Counters for the status API and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DurableStats {
    /// Flushes callers asked for.
    pub requested: u64,
    /// Flushes run to serve them.
    pub flushes: u64,
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

    pub fn stats(&self) -> DurableStats {
        DurableStats {
            requested: self.shared.tickets.load(Ordering::Relaxed),
            flushes: self.shared.flushes.load(Ordering::Relaxed),
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
            let target = self.tickets.load(Ordering::SeqCst);
            let result = self.db.flush();
            self.flushes.fetch_add(1, Ordering::Relaxed);
            self.flushed.send_modify(|f| {
                f.covered = f.covered.max(target);
                f.failed = result.as_ref().err().map(|e| Arc::from(e.to_string()));
            });
            if self.tickets.load(Ordering::SeqCst) != target {
                continue;
            }
            self.flushing.store(false, Ordering::SeqCst);
            // A ticket taken between the check and the store saw `flushing` still true and
            // left its flush to us: take the role back if nobody else has.
            if self.tickets.load(Ordering::SeqCst) == target
                || self.flushing.swap(true, Ordering::SeqCst)
            {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let all = futures::future::join_all(tasks);
        tokio::time::timeout(std::time::Duration::from_secs(60), all)
            .await
            .expect("every flush completes");
        assert_eq!(db.len(), 200);
        let stats = durable.stats();
        assert_eq!(stats.requested, 200);
        assert!(stats.flushes >= 1 && stats.flushes <= 200, "{stats:?}");
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
