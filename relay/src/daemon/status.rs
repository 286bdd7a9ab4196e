//! What the daemon knows about each chain right now, for the status API and health check.

use std::collections::BTreeMap;
use std::sync::Mutex;

use causeway_core::{ChainId, Cursor};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChainStatus {
    pub chain_id: ChainId,
    pub kind: String,
    pub endpoint: String,
    /// Whether the last request to the chain succeeded.
    pub connected: bool,
    pub height: u64,
    pub finalized_height: u64,
    /// Block time of the chain's finalized head (the chain's clock, ms).
    pub finalized_time_ms: u64,
    pub block_time_ms: u64,
    /// Next position the relay will read.
    pub cursor: Cursor,
    /// Finalized blocks not yet read: `finalized_height + 1 - cursor.height`.
    pub lag_blocks: u64,
    pub max_lag_blocks: u64,
    /// Events ingested since this relay process started (the store keeps them all).
    pub events_ingested: u64,
    pub consecutive_failures: u32,
    pub total_failures: u64,
    pub last_error: Option<String>,
}

impl ChainStatus {
    pub fn healthy(&self) -> bool {
        self.connected && self.lag_blocks <= self.max_lag_blocks
    }
}

#[derive(Default)]
pub struct StatusBoard {
    chains: Mutex<BTreeMap<ChainId, ChainStatus>>,
}

impl StatusBoard {
    pub fn register(&self, status: ChainStatus) {
        self.lock().insert(status.chain_id.clone(), status);
    }

    pub fn update(&self, chain: &ChainId, f: impl FnOnce(&mut ChainStatus)) {
        if let Some(s) = self.lock().get_mut(chain) {
            f(s);
            s.lag_blocks = (s.finalized_height + 1).saturating_sub(s.cursor.height);
        }
    }

    pub fn snapshot(&self) -> Vec<ChainStatus> {
        self.lock().values().cloned().collect()
    }

    pub fn get(&self, chain: &ChainId) -> Option<ChainStatus> {
        self.lock().get(chain).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ChainId, ChainStatus>> {
        // A panic elsewhere must not take the status API down with it.
        self.chains.lock().unwrap_or_else(|p| p.into_inner())
    }
}
