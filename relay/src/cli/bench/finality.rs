//! How the load tool learns that its locks are final: one reader of the source chain's
//! final events for the whole run, woken by the node's long poll as each block is final,
//! instead of every sender polling its own transaction's status. Polling cost the node
//! under test three to four extra requests per lock and timed finality only to the
//! nearest poll (20, 40, 80, 160, then 250 ms apart), well behind the block.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_adapters::devchain::DevchainAdapter;
use causeway_adapters::{ChainAdapter, PreparedTx, TxOutcome, TxState};
use causeway_core::{ChainEvent, EventKind, Hash32, Position};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Events read per request.
const PAGE: u32 = 1_000;
/// How long a caught-up reader waits for the next final block at most.
const BLOCK_WAIT: Duration = Duration::from_millis(100);
/// How long a sender waits for its lock's event before it asks the chain itself: a lock
/// that failed has no event, and one the node forgot must be sent again.
const EVENT_WAIT: Duration = Duration::from_secs(10);
/// Broadcasts of one lock at most, the first pause between them, and the longest.
const MAX_BROADCASTS: u32 = 8;
const BROADCAST_RETRY: Duration = Duration::from_millis(20);
const MAX_BROADCAST_PAUSE: Duration = Duration::from_millis(500);
/// Backoff after a failed read.
const RETRY: Duration = Duration::from_millis(100);

/// Locks awaited, by transaction id; at most one per sender at a time.
type Waiting = Arc<Mutex<HashMap<Hash32, oneshot::Sender<Instant>>>>;

pub struct FinalityWatch {
    waiting: Waiting,
    reader: JoinHandle<()>,
}

impl FinalityWatch {
    /// Starts reading `source` from its first event.
    pub fn start(source: DevchainAdapter) -> FinalityWatch {
        let waiting = Waiting::default();
        let reader = tokio::spawn(read(source, waiting.clone()));
        FinalityWatch { waiting, reader }
    }

    /// Broadcasts `tx` (prepared by `sender`) and returns once it is final and succeeded,
    /// with when the reader saw its block final.
    pub async fn send_and_wait(
        &self,
        sender: &DevchainAdapter,
        tx: &PreparedTx,
    ) -> Result<Instant> {
        let (seen, final_at) = oneshot::channel();
        self.lock_waiting().insert(tx.id, seen);
        if let Err(e) = broadcast_retrying(sender, tx).await {
            self.lock_waiting().remove(&tx.id);
            return Err(e).context("locking on the source chain");
        }
        if let Ok(Ok(at)) = tokio::time::timeout(EVENT_WAIT, final_at).await {
            return Ok(at);
        }
        self.lock_waiting().remove(&tx.id);
        match sender
            .wait_final(tx, super::transfers::DRAIN_TIMEOUT)
            .await
            .context("waiting for a lock to be final")?
        {
            TxState::Final {
                outcome: TxOutcome::Success,
                ..
            } => Ok(Instant::now()),
            other => bail!("lock {} did not succeed: {other:?}", tx.id),
        }
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, HashMap<Hash32, oneshot::Sender<Instant>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Broadcasts `tx`, again after a pause while the node is unreachable or refuses the
/// connection for load (HTTP 429, past its `max_connections` requests in flight): a
/// broadcast is idempotent, and a thousand senders starting at once can briefly hold more
/// requests open than a node serves.
async fn broadcast_retrying(
    sender: &DevchainAdapter,
    tx: &PreparedTx,
) -> Result<(), causeway_adapters::AdapterError> {
    let mut pause = BROADCAST_RETRY;
    for _ in 1..MAX_BROADCASTS {
        match sender.broadcast(tx).await {
            Err(e) if e.is_transient() => {
                tracing::debug!(tx = %tx.id, "broadcast retried: {e}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_BROADCAST_PAUSE);
            }
            done => return done,
        }
    }
    sender.broadcast(tx).await
}

impl Drop for FinalityWatch {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read(source: DevchainAdapter, waiting: Waiting) {
    read_final_events(source, "source", |events, now| {
        let mut waiting = waiting.lock().unwrap_or_else(|p| p.into_inner());
        for e in events {
            if matches!(e.kind, EventKind::BridgeSent { .. }) {
                if let Some(seen) = waiting.remove(&e.tx_hash) {
                    let _ = seen.send(now);
                }
            }
        }
    })
    .await
}

/// Reads `chain`'s final events from its first for as long as the run lasts, handing each
/// page to `on_page` with when it was read; caught up, it waits in the node's long poll for
/// the next final block. While the node is down (a held run) the failure is logged once,
/// not on every try.
pub async fn read_final_events(
    chain: DevchainAdapter,
    which: &str,
    mut on_page: impl FnMut(&[ChainEvent], Instant),
) {
    let mut cursor = Position::default();
    let mut failing = false;
    loop {
        let page = match chain.events(cursor, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                if !failing {
                    tracing::warn!("bench: {which} events: {e}");
                }
                failing = true;
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        failing = false;
        on_page(&page.events, Instant::now());
        let full = page.events.len() == PAGE as usize;
        cursor = page.next;
        if !full {
            let _ = chain
                .wait_for_finalized(page.finalized_height, BLOCK_WAIT)
                .await;
        }
    }
}
