//! Admission: which transactions the node accepts, and the queue they wait in.
//!
//! The mempool keeps the effects of all its transactions, in order, layered over the
//! committed state, so a new transaction is checked against "state plus pending" exactly
//! as the next block will execute it (only block time may still differ).

use std::collections::{HashSet, VecDeque};

use causeway_core::{ChainId, Hash32, UnixMillis};

use crate::executor::{execute, BlockContext, Effects};
use crate::state::{Changes, Layered, State};
use crate::tx::SignedTransaction;
use crate::tx_error::TxError;

/// A transaction whose size, chain and signature have been checked.
#[derive(Clone, Debug)]
pub struct VerifiedTx {
    pub tx: SignedTransaction,
    pub hash: Hash32,
}

/// The checks that need no state, done before taking any lock.
pub fn check_stateless(
    chain_id: &ChainId,
    tx: SignedTransaction,
    max_tx_bytes: usize,
) -> Result<VerifiedTx, TxError> {
    let size = serde_json::to_vec(&tx).map_or(usize::MAX, |json| json.len());
    if size > max_tx_bytes {
        return Err(TxError::OversizeTransaction {
            size,
            limit: max_tx_bytes,
        });
    }
    if &tx.tx.chain_id != chain_id {
        return Err(TxError::WrongChain {
            expected: chain_id.clone(),
            found: tx.tx.chain_id.clone(),
        });
    }
    tx.verify().map_err(|e| TxError::BadSignature {
        reason: e.to_string(),
    })?;
    let hash = tx.hash();
    Ok(VerifiedTx { tx, hash })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Accepted(Hash32),
    /// The same transaction was already waiting: nothing changed.
    AlreadyPending(Hash32),
}

impl Admission {
    pub fn hash(self) -> Hash32 {
        match self {
            Admission::Accepted(h) | Admission::AlreadyPending(h) => h,
        }
    }
}

pub struct Mempool {
    queue: VecDeque<VerifiedTx>,
    hashes: HashSet<Hash32>,
    /// State after every queued transaction, over the committed state.
    pending: Changes,
    capacity: usize,
}

impl Mempool {
    pub fn new(capacity: usize) -> Self {
        Mempool {
            queue: VecDeque::new(),
            hashes: HashSet::new(),
            pending: Changes::default(),
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn contains(&self, hash: &Hash32) -> bool {
        self.hashes.contains(hash)
    }

    /// Queues `tx` if it would execute on top of `state` and the queue at `head_time`.
    pub fn admit(
        &mut self,
        state: &State,
        head_time: UnixMillis,
        tx: VerifiedTx,
    ) -> Result<Admission, TxError> {
        if self.contains(&tx.hash) {
            return Ok(Admission::AlreadyPending(tx.hash));
        }
        if self.queue.len() >= self.capacity {
            return Err(TxError::MempoolFull {
                capacity: self.capacity,
            });
        }
        let view = Layered {
            base: state,
            changes: &self.pending,
        };
        let effects = execute(&view, &BlockContext { time_ms: head_time }, &tx.tx.tx)?;
        self.pending.merge(effects.changes);
        self.hashes.insert(tx.hash);
        let hash = tx.hash;
        self.queue.push_back(tx);
        Ok(Admission::Accepted(hash))
    }

    /// The oldest `max` transactions: the next block's candidates. They stay queued (and
    /// count as pending) until [`Mempool::remove_committed`].
    pub fn candidates(&self, max: usize) -> Vec<SignedTransaction> {
        self.queue.iter().take(max).map(|v| v.tx.clone()).collect()
    }

    /// Drops the `count` oldest transactions, now in a durable block over `state`, and
    /// replays the rest on the new state. A transaction that can no longer ever apply (its
    /// nonce is gone) is dropped; one that would now fail at execution stays, as the next
    /// block will include it with a `Failed` receipt.
    pub fn remove_committed(&mut self, count: usize, state: &State, head_time: UnixMillis) {
        for gone in self.queue.drain(..count.min(self.queue.len())) {
            self.hashes.remove(&gone.hash);
        }
        self.pending = Changes::default();
        let ctx = BlockContext { time_ms: head_time };
        let queue = std::mem::take(&mut self.queue);
        for tx in queue {
            let view = Layered {
                base: state,
                changes: &self.pending,
            };
            let effects = match execute(&view, &ctx, &tx.tx.tx) {
                Ok(effects) => effects,
                Err(err) if err.uses_nonce() => Effects::nonce_only(&view, &tx.tx.tx.from),
                Err(_) => {
                    self.hashes.remove(&tx.hash);
                    continue;
                }
            };
            self.pending.merge(effects.changes);
            self.queue.push_back(tx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;
    use crate::state::StateView;
    use crate::test_support::*;

    const HEAD_TIME: UnixMillis = 10_000;

    fn verified(from: u8, nonce: u64, amount: u128) -> VerifiedTx {
        check_stateless(
            &chain(),
            signed(from, nonce, transfer(2, amount)),
            16 * 1024,
        )
        .unwrap()
    }

    fn admit(pool: &mut Mempool, state: &State, tx: VerifiedTx) -> Result<Admission, ErrorCode> {
        pool.admit(state, HEAD_TIME, tx).map_err(|e| e.code())
    }

    // specs/devchain.md §6.1
    #[test]
    fn stateless_checks_name_size_chain_and_signature() {
        let big = signed(1, 0, transfer(2, 1));
        let err = check_stateless(&chain(), big, 100).unwrap_err();
        assert!(
            matches!(err, TxError::OversizeTransaction { limit: 100, .. }),
            "{err}"
        );
        let other = causeway_core::ChainId::new("other").unwrap();
        let err = check_stateless(&other, signed(1, 0, transfer(2, 1)), 16 * 1024).unwrap_err();
        assert_eq!(err.code(), ErrorCode::WrongChain);
        let forged = unsigned(1, 0, transfer(2, 1)).sign(&key(2));
        let err = check_stateless(&chain(), forged, 16 * 1024).unwrap_err();
        assert_eq!(err.code(), ErrorCode::BadSignature);
    }

    // specs/devchain.md §4: the expected nonce counts the sender's pending transactions.
    #[test]
    fn nonces_and_balances_count_pending_transactions() {
        let state = funded_state();
        let mut pool = Mempool::new(10);
        admit(&mut pool, &state, verified(1, 0, 600)).unwrap();
        assert_eq!(
            admit(&mut pool, &state, verified(1, 0, 1)),
            Err(ErrorCode::NonceTooLow)
        );
        assert_eq!(
            admit(&mut pool, &state, verified(1, 2, 1)),
            Err(ErrorCode::NonceTooHigh)
        );
        assert_eq!(
            admit(&mut pool, &state, verified(1, 1, 600)),
            Err(ErrorCode::InsufficientBalance),
            "600 of 1000 is already pending"
        );
        admit(&mut pool, &state, verified(1, 1, 400)).unwrap();
        assert_eq!(pool.len(), 2);
    }

    // specs/devchain.md §6.1: idempotent submission, bounded queue.
    #[test]
    fn resubmission_is_idempotent_and_the_queue_is_bounded() {
        let state = funded_state();
        let mut pool = Mempool::new(2);
        let first = verified(1, 0, 1);
        let hash = first.hash;
        assert_eq!(
            admit(&mut pool, &state, first.clone()),
            Ok(Admission::Accepted(hash))
        );
        assert_eq!(
            admit(&mut pool, &state, first),
            Ok(Admission::AlreadyPending(hash))
        );
        admit(&mut pool, &state, verified(2, 0, 1)).unwrap();
        assert_eq!(
            admit(&mut pool, &state, verified(3, 0, 1)),
            Err(ErrorCode::MempoolFull)
        );
    }

    // specs/devchain.md §6.2
    #[test]
    fn removing_committed_transactions_replays_the_rest_on_the_new_state() {
        let mut state = funded_state();
        let mut pool = Mempool::new(10);
        for nonce in 0..3 {
            admit(&mut pool, &state, verified(1, nonce, 100)).unwrap();
        }
        let candidates = pool.candidates(2);
        assert_eq!(candidates.len(), 2);
        // Commit the first two as a block would.
        for tx in &candidates {
            let effects =
                crate::executor::execute(&state, &BlockContext { time_ms: HEAD_TIME }, &tx.tx)
                    .unwrap();
            state.apply(effects.changes);
        }
        pool.remove_committed(2, &state, HEAD_TIME + 1);
        assert_eq!(pool.len(), 1);
        assert!(!pool.contains(&candidates[0].hash()));
        assert!(admit(&mut pool, &state, verified(1, 3, 100)).is_ok());
        assert_eq!(state.account(&addr(1)).map(|a| a.nonce), Some(2));
    }

    // specs/devchain.md §6.2: a queued transaction whose nonce the chain already used is dropped.
    #[test]
    fn transactions_that_can_never_apply_are_dropped_on_replay() {
        let mut state = funded_state();
        let mut pool = Mempool::new(10);
        admit(&mut pool, &state, verified(1, 0, 1)).unwrap();
        state.apply(Effects::nonce_only(&state, &addr(1)).changes);
        pool.remove_committed(0, &state, HEAD_TIME);
        assert!(pool.is_empty());
    }
}
