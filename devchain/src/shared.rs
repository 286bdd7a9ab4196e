//! What the RPC handlers and the block producer share, and the rules for touching it.
//!
//! Lock order is always mempool, then ledger. The producer publishes a block (new state,
//! new head, mempool trimmed) under both locks at once, and only after the block is durable,
//! so no reader ever sees a receipt, balance or event that a crash could take back.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use causeway_core::{ChainEvent, ChainId, Cursor, Hash32};
use tokio::sync::broadcast;

use crate::api::{Receipt, StoredEventPage};
use crate::config::Limits;
use crate::error::DevchainError;
use crate::mempool::Mempool;
use crate::state::{Head, State};
use crate::storage::Storage;
use crate::verifier::BatchVerifier;

/// The committed, durable, published state.
pub(crate) struct Ledger {
    pub state: State,
    pub head: Head,
}

/// Each committed block's events, in order, as sent to live subscribers.
pub(crate) type BlockEvents = Arc<Vec<ChainEvent>>;

pub(crate) struct Shared {
    pub chain_id: ChainId,
    pub block_interval_ms: u64,
    pub limits: Limits,
    pub storage: Storage,
    /// Checks submissions' signatures in batches.
    pub verifier: BatchVerifier,
    ledger: RwLock<Ledger>,
    mempool: Mutex<Mempool>,
    pub block_events: broadcast::Sender<BlockEvents>,
    /// Height of the last published (durable, final) block, for `devchain_waitForHeight`.
    pub published: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    pub fn new(
        chain_id: ChainId,
        block_interval_ms: u64,
        limits: Limits,
        storage: Storage,
        ledger: Ledger,
    ) -> Self {
        let (block_events, _) = broadcast::channel(limits.subscriber_lag_blocks);
        let published = tokio::sync::watch::Sender::new(ledger.head.height);
        Shared {
            chain_id,
            block_interval_ms,
            mempool: Mutex::new(Mempool::new(
                limits.mempool_capacity,
                limits.mempool_max_bytes,
            )),
            limits,
            storage,
            verifier: BatchVerifier::new(),
            ledger: RwLock::new(ledger),
            block_events,
            published,
        }
    }

    // A panic while holding a lock leaves data that was consistent before the panicking
    // statement (every update is a single assignment), so poisoning is not fatal here.
    pub fn ledger(&self) -> RwLockReadGuard<'_, Ledger> {
        self.ledger.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn ledger_mut(&self) -> RwLockWriteGuard<'_, Ledger> {
        self.ledger.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn mempool(&self) -> MutexGuard<'_, Mempool> {
        self.mempool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn head(&self) -> Head {
        self.ledger().head
    }

    /// The receipt, if its block is published.
    pub fn receipt(&self, tx_hash: &Hash32) -> Result<Option<Receipt>, DevchainError> {
        let published = self.head().height;
        Ok(self
            .storage
            .receipt(tx_hash)?
            .filter(|receipt| receipt.height <= published))
    }

    /// Finalized events from `cursor`, as stored (see `specs/devchain.md` §8 for `next`):
    /// what `getEvents` answers and a subscription's backlog sends.
    pub fn event_page(
        &self,
        cursor: Cursor,
        limit: usize,
    ) -> Result<StoredEventPage, DevchainError> {
        let finalized_height = self.head().height;
        let stored = self
            .storage
            .stored_events(cursor, finalized_height, limit)?;
        let next = match stored.last() {
            Some((last, _)) if stored.len() == limit => last.successor(),
            _ if limit == 0 => cursor,
            // Not full: every finalized block was scanned, so never rescan them.
            _ => cursor.max(Cursor::new(finalized_height, 0).next_block()),
        };
        Ok(StoredEventPage {
            events: stored.into_iter().map(|(_, json)| json).collect(),
            next,
            finalized_height,
        })
    }
}
