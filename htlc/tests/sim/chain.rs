//! A simulated chain: its own clock (real time + offset), fixed block interval,
//! confirmation-depth finality, and an HTLC contract with the rules of specs/htlc.md §1.3.

use std::collections::{BTreeMap, HashMap};

use causeway_core::{sha256, Address, ChainEvent, ChainId, EventKind, Hash32, Position};
use causeway_htlc::ActionKind;

/// Chain clocks read about this at real time zero.
pub const EPOCH_MS: i64 = 1_700_000_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockFate {
    Open,
    Claimed,
    Refunded,
}

#[derive(Clone, Debug)]
pub struct SimLock {
    pub sender: Address,
    pub recipient: Address,
    pub amount: u128,
    pub hashlock: Hash32,
    pub expiry_ms: u64,
    pub fate: LockFate,
}

pub struct Block {
    pub time_ms: u64,
    pub events: Vec<ChainEvent>,
    /// Real time at which this block became final.
    pub final_at_real: Option<u64>,
}

pub struct Tx {
    /// `<party>:<action id>`; the chain applies a key once (idempotent broadcast).
    pub key: String,
    pub sender: Address,
    pub kind: ActionKind,
}

pub struct SimChain {
    pub id: ChainId,
    pub block_time_ms: u64,
    pub depth: u64,
    pub offset_ms: i64,
    pub blocks: Vec<Block>,
    mempool: Vec<Tx>,
    pub locks: BTreeMap<Hash32, SimLock>,
    /// Preimages carried by every claim transaction included, failed ones too: a claim
    /// that lands after expiry fails but still publishes its secret.
    pub revealed: Vec<Hash32>,
    /// key → (height, result) once included.
    results: HashMap<String, (u64, Result<(), String>)>,
}

impl SimChain {
    pub fn new(id: &str, block_time_ms: u64, depth: u64, offset_ms: i64) -> SimChain {
        SimChain {
            id: ChainId::new(id).unwrap(),
            block_time_ms,
            depth,
            offset_ms,
            blocks: Vec::new(),
            mempool: Vec::new(),
            locks: BTreeMap::new(),
            revealed: Vec::new(),
            results: HashMap::new(),
        }
    }

    /// Chain time at `real_ms`: a common epoch plus this chain's clock error.
    pub fn clock(&self, real_ms: u64) -> u64 {
        (EPOCH_MS + real_ms as i64 + self.offset_ms) as u64
    }

    /// Chain time the next block will carry if produced at its scheduled real time.
    pub fn next_block_time(&self, real_ms: u64) -> u64 {
        let next_real = (real_ms / self.block_time_ms + 1) * self.block_time_ms;
        self.clock(next_real)
    }

    pub fn finalized_count(&self) -> usize {
        self.blocks.len().saturating_sub(self.depth as usize)
    }

    pub fn finalized_time(&self) -> u64 {
        self.blocks[self.finalized_count() - 1].time_ms
    }

    pub fn submit(&mut self, tx: Tx) {
        let known =
            self.results.contains_key(&tx.key) || self.mempool.iter().any(|t| t.key == tx.key);
        if !known {
            self.mempool.push(tx);
        }
    }

    /// The final result of a transaction, if its block is final.
    pub fn final_result(&self, key: &str) -> Option<Result<(), String>> {
        let (height, result) = self.results.get(key)?;
        ((*height as usize) < self.finalized_count()).then(|| result.clone())
    }

    /// Produces a block if one is due at `real_ms`.
    pub fn advance(&mut self, real_ms: u64) {
        if real_ms / self.block_time_ms * self.block_time_ms != real_ms {
            return;
        }
        let height = self.blocks.len() as u64;
        let time_ms = self.clock(real_ms);
        let mut events = Vec::new();
        for tx in std::mem::take(&mut self.mempool) {
            if let ActionKind::Claim { preimage, .. } = &tx.kind {
                self.revealed.push(*preimage);
            }
            let result = self.apply(&tx, time_ms);
            let position = Position::new(height, events.len() as u32);
            if let Ok(kind) = &result {
                let kind = kind.clone();
                events.push(ChainEvent {
                    chain_id: self.id.clone(),
                    position,
                    tx_hash: sha256(tx.key.as_bytes()),
                    time_ms,
                    kind,
                });
            }
            self.results.insert(tx.key, (height, result.map(|_| ())));
        }
        self.blocks.push(Block {
            time_ms,
            events,
            final_at_real: (self.depth == 0).then_some(real_ms),
        });
        if self.depth > 0 && self.blocks.len() as u64 > self.depth {
            let newly_final = self.blocks.len() - 1 - self.depth as usize;
            self.blocks[newly_final].final_at_real = Some(real_ms);
        }
    }

    fn open_lock(&mut self, lock_id: &Hash32) -> Result<&mut SimLock, String> {
        match self.locks.get_mut(lock_id) {
            Some(lock) if lock.fate == LockFate::Open => Ok(lock),
            Some(lock) => Err(format!("lock already {:?}", lock.fate)),
            None => Err("no such lock".into()),
        }
    }

    fn apply(&mut self, tx: &Tx, time_ms: u64) -> Result<EventKind, String> {
        match &tx.kind {
            ActionKind::Lock {
                recipient,
                asset,
                amount,
                hashlock,
                expiry_ms,
            } => {
                let lock_id = sha256(tx.key.as_bytes());
                self.locks.insert(
                    lock_id,
                    SimLock {
                        sender: tx.sender.clone(),
                        recipient: recipient.clone(),
                        amount: amount.0,
                        hashlock: *hashlock,
                        expiry_ms: *expiry_ms,
                        fate: LockFate::Open,
                    },
                );
                Ok(EventKind::HtlcLocked {
                    lock_id,
                    sender: tx.sender.clone(),
                    recipient: recipient.clone(),
                    asset: asset.clone(),
                    amount: *amount,
                    hashlock: *hashlock,
                    expiry_ms: *expiry_ms,
                })
            }
            ActionKind::Claim { lock_id, preimage } => {
                let lock = self.open_lock(lock_id)?;
                if time_ms >= lock.expiry_ms {
                    return Err(format!(
                        "lock expired at {}, block time {time_ms}",
                        lock.expiry_ms
                    ));
                }
                if sha256(preimage.as_bytes()) != lock.hashlock {
                    return Err("wrong preimage".into());
                }
                lock.fate = LockFate::Claimed;
                Ok(EventKind::HtlcClaimed {
                    lock_id: *lock_id,
                    hashlock: lock.hashlock,
                    preimage: *preimage,
                    recipient: lock.recipient.clone(),
                })
            }
            ActionKind::Refund { lock_id } => {
                let lock = self.open_lock(lock_id)?;
                if time_ms < lock.expiry_ms {
                    return Err(format!(
                        "lock not expired until {}, block time {time_ms}",
                        lock.expiry_ms
                    ));
                }
                lock.fate = LockFate::Refunded;
                Ok(EventKind::HtlcRefunded {
                    lock_id: *lock_id,
                    hashlock: lock.hashlock,
                    sender: lock.sender.clone(),
                })
            }
        }
    }
}
