//! Admission: which transactions the node accepts, and the queue they wait in.
//!
//! The mempool keeps the effects of all its transactions, in order, layered over the
//! committed state, so a new transaction is checked against "state plus pending" exactly
//! as the next block will execute it (only block time may still differ).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use causeway_core::{Address, ChainId, Hash32, UnixMillis};

use crate::executor::{execute, BlockContext, Effects};
use crate::state::{Changes, Layered, State, StateView};
use crate::tx::{Payload, SignatureError, SignedTransaction};
use crate::tx_error::TxError;
use crate::verifier::SignatureCheck;

/// A transaction whose size, chain and signature have been checked.
#[derive(Clone, Debug)]
pub struct VerifiedTx {
    pub tx: SignedTransaction,
    pub hash: Hash32,
    /// Bytes of its JSON: what it costs the mempool and a block.
    pub size: usize,
}

/// The checks that need no state, done before taking any lock.
pub fn check_stateless(
    chain_id: &ChainId,
    tx: SignedTransaction,
    max_tx_bytes: usize,
) -> Result<VerifiedTx, TxError> {
    let (unsigned, check) = check_unsigned(chain_id, tx, max_tx_bytes)?;
    let valid = crate::verifier::verify_all(&[&check]).valid == [true];
    unsigned.into_verified(valid)
}

/// A transaction whose size, chain and signature's form are checked; the signature itself
/// is checked apart (alone, or in a batch: [`crate::verifier`]).
pub struct Unsigned {
    tx: SignedTransaction,
    hash: Hash32,
    size: usize,
}

impl Unsigned {
    /// The transaction once its signature was checked and found `valid` (or not).
    pub fn into_verified(self, valid: bool) -> Result<VerifiedTx, TxError> {
        if !valid {
            return Err(bad_signature(SignatureError::Invalid(
                self.tx.tx.from.to_string(),
            )));
        }
        Ok(VerifiedTx {
            tx: self.tx,
            hash: self.hash,
            size: self.size,
        })
    }
}

fn bad_signature(e: SignatureError) -> TxError {
    TxError::BadSignature {
        reason: e.to_string(),
    }
}

/// Size, chain, and that the sender is a key and the signature 64 bytes: every stateless
/// check but the signature's own, which the returned [`SignatureCheck`] makes.
pub fn check_unsigned(
    chain_id: &ChainId,
    tx: SignedTransaction,
    max_tx_bytes: usize,
) -> Result<(Unsigned, SignatureCheck), TxError> {
    // The signed bytes serve the size, the hash and the signature check: built once.
    let message = tx.tx.signing_bytes();
    let size = tx.json_len(&message);
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
    let hash = causeway_core::sha256(&message);
    let check = SignatureCheck::of(&tx, message).map_err(bad_signature)?;
    Ok((Unsigned { tx, hash, size }, check))
}

/// How far ahead of its sender's next nonce a transaction may be and still be held until
/// the gap fills (`specs/devchain.md` §4).
pub const MAX_NONCE_GAP: u64 = 64;
/// Most transactions held for a nonce gap, across all senders. Only their signature is
/// checked until they become executable, so they get a small share of the mempool.
pub const MAX_HELD: usize = 4_096;
/// A transaction writes at most three entries (sender, recipient or lock owner, lock).
const PENDING_ENTRIES_PER_TX: usize = 3;
/// Below this many stale pending entries a replay is not worth its time.
const MIN_PENDING_ENTRIES_BEFORE_REPLAY: usize = 4_096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Queued for the next blocks.
    Accepted(Hash32),
    /// Its nonce is ahead: held until the sender's earlier nonces arrive.
    Held(Hash32),
    /// The same transaction was already waiting: nothing changed.
    AlreadyPending(Hash32),
}

impl Admission {
    pub fn hash(self) -> Hash32 {
        match self {
            Admission::Accepted(h) | Admission::Held(h) | Admission::AlreadyPending(h) => h,
        }
    }
}

#[derive(Clone)]
pub struct Mempool {
    /// Executable transactions, in the order blocks will take them.
    queue: VecDeque<VerifiedTx>,
    /// Transactions waiting for a nonce gap to fill, by sender and nonce.
    held: HashMap<Address, BTreeMap<u64, VerifiedTx>>,
    held_count: usize,
    /// Hashes of every queued and held transaction.
    hashes: HashSet<Hash32>,
    /// State after every queued transaction, over the committed state.
    pending: Changes,
    /// Earliest expiry among queued locks and claims (may be stale-early, never late).
    earliest_deadline: Option<UnixMillis>,
    capacity: usize,
    /// JSON bytes of every queued and held transaction, bounded by `max_bytes`: with large
    /// transactions allowed, a count alone would not bound memory.
    bytes: usize,
    max_bytes: usize,
}

impl Mempool {
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Mempool {
            queue: VecDeque::new(),
            held: HashMap::new(),
            held_count: 0,
            hashes: HashSet::new(),
            pending: Changes::default(),
            earliest_deadline: None,
            capacity,
            bytes: 0,
            max_bytes,
        }
    }

    /// Queued and held transactions together.
    pub fn len(&self) -> usize {
        self.queue.len() + self.held_count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, hash: &Hash32) -> bool {
        self.hashes.contains(hash)
    }

    /// JSON bytes of the queued and held transactions.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn remember(&mut self, tx: &VerifiedTx) {
        self.hashes.insert(tx.hash);
        self.bytes += tx.size;
    }

    fn forget(&mut self, tx: &VerifiedTx) {
        self.hashes.remove(&tx.hash);
        self.bytes -= tx.size;
    }

    /// Queues `tx` if it would execute on top of `state` and the queue at `head_time`, or
    /// holds it if only earlier nonces of its sender are missing.
    pub fn admit(
        &mut self,
        state: &State,
        head_time: UnixMillis,
        tx: VerifiedTx,
    ) -> Result<Admission, TxError> {
        if self.contains(&tx.hash) {
            return Ok(Admission::AlreadyPending(tx.hash));
        }
        if self.len() >= self.capacity {
            return Err(TxError::MempoolFull {
                capacity: self.capacity,
            });
        }
        if self.bytes + tx.size > self.max_bytes {
            return Err(TxError::MempoolBytesFull {
                bytes: self.bytes,
                limit: self.max_bytes,
            });
        }
        let ctx = BlockContext { time_ms: head_time };
        let hash = tx.hash;
        match self.effects_of(state, &ctx, &tx) {
            Ok(effects) => {
                let sender = tx.tx.tx.from.clone();
                self.enqueue(state, tx, effects);
                self.release_held(state, &ctx, &sender);
                Ok(Admission::Accepted(hash))
            }
            Err(TxError::NonceTooHigh { got, expected, .. })
                if got - expected <= MAX_NONCE_GAP && self.held_count < MAX_HELD =>
            {
                self.hold(tx);
                Ok(Admission::Held(hash))
            }
            Err(err) => Err(err),
        }
    }

    fn effects_of(
        &self,
        state: &State,
        ctx: &BlockContext,
        tx: &VerifiedTx,
    ) -> Result<Effects, TxError> {
        let view = Layered {
            base: state,
            changes: &self.pending,
        };
        execute(&view, ctx, &tx.tx.tx)
    }

    fn enqueue(&mut self, state: &State, tx: VerifiedTx, effects: Effects) {
        self.note_deadline(state, &tx);
        self.pending.merge(effects.changes);
        self.remember(&tx);
        self.queue.push_back(tx);
    }

    /// Locks and claims are the only transactions whose outcome changes as chain time
    /// passes (success turns to failure at the lock's expiry); remember the earliest such
    /// moment among the queue so the pending state is replayed once it is reached.
    fn note_deadline(&mut self, state: &State, tx: &VerifiedTx) {
        let deadline = match &tx.tx.tx.payload {
            Payload::HtlcLock { expiry_ms, .. } => Some(*expiry_ms),
            Payload::HtlcClaim { lock_id, .. } => Layered {
                base: state,
                changes: &self.pending,
            }
            .htlc(lock_id)
            .map(|lock| lock.expiry_ms),
            // Bridge outcomes do not depend on chain time.
            Payload::Transfer { .. }
            | Payload::HtlcRefund { .. }
            | Payload::BridgeSend { .. }
            | Payload::BridgeSubmitAttestation { .. }
            | Payload::BridgeExecute { .. }
            | Payload::BridgeSubmitBatch { .. } => None,
        };
        if let Some(deadline) = deadline {
            self.earliest_deadline =
                Some(self.earliest_deadline.map_or(deadline, |d| d.min(deadline)));
        }
    }

    /// A later transaction for the same held nonce replaces the earlier one: neither ran.
    fn hold(&mut self, tx: VerifiedTx) {
        self.remember(&tx);
        let slots = self.held.entry(tx.tx.tx.from.clone()).or_default();
        match slots.insert(tx.tx.tx.nonce, tx) {
            Some(replaced) => self.forget(&replaced),
            None => self.held_count += 1,
        }
    }

    /// Moves `sender`'s held transactions into the queue while their nonce is next. One
    /// that would fail now is dropped (its sender sees it become unknown); held ones whose
    /// nonce is already used are dropped too.
    fn release_held(&mut self, state: &State, ctx: &BlockContext, sender: &Address) {
        loop {
            let next = Layered {
                base: state,
                changes: &self.pending,
            }
            .account(sender)
            .map_or(0, |a| a.nonce);
            let Some(slots) = self.held.get_mut(sender) else {
                return;
            };
            let mut released = None;
            while let Some(entry) = slots.first_entry() {
                if *entry.key() > next {
                    break;
                }
                let nonce = *entry.key();
                let tx = entry.remove();
                self.held_count -= 1;
                if nonce == next {
                    released = Some(tx);
                    break;
                }
                // Not `forget`: `slots` still borrows `self.held`.
                self.hashes.remove(&tx.hash);
                self.bytes -= tx.size;
            }
            if slots.is_empty() {
                self.held.remove(sender);
            }
            let Some(tx) = released else {
                return;
            };
            match self.effects_of(state, ctx, &tx) {
                Ok(effects) => self.enqueue(state, tx, effects),
                Err(err) => {
                    tracing::debug!(tx = %tx.hash, error = %err, "dropped a held transaction that no longer applies");
                    self.forget(&tx);
                }
            }
        }
    }

    /// The oldest executable transactions, at most `max` of them and `max_bytes` of JSON
    /// (the first always, however large): the next block's candidates. They stay queued (and
    /// count as pending) until [`Mempool::remove_committed`].
    pub fn candidates(&self, max: usize, max_bytes: usize) -> Vec<SignedTransaction> {
        let mut bytes = 0;
        self.queue
            .iter()
            .take(max)
            .take_while(|v| {
                bytes += v.size;
                bytes == v.size || bytes <= max_bytes
            })
            .map(|v| v.tx.clone())
            .collect()
    }

    /// Drops the `count` oldest transactions, now in a durable block over `state`, and
    /// brings the rest up to date. The pending state is replayed on the new state unless it
    /// is provably unchanged: the block executed every candidate as admission simulated
    /// (`as_simulated`), and no queued lock or claim reached its expiry by `head_time`, so
    /// every remaining transaction has the same outcome as when it was admitted
    /// (`specs/devchain.md` §6.2). Held transactions whose gap is now filled join the queue.
    pub fn remove_committed(
        &mut self,
        count: usize,
        state: &State,
        head_time: UnixMillis,
        as_simulated: bool,
    ) {
        for _ in 0..count {
            let Some(tx) = self.queue.pop_front() else {
                break;
            };
            self.forget(&tx);
        }
        let ctx = BlockContext { time_ms: head_time };
        let deadline_reached = self.earliest_deadline.is_some_and(|d| head_time >= d);
        if self.queue.is_empty() {
            self.pending = Changes::default();
            self.earliest_deadline = None;
        } else if !as_simulated || deadline_reached || self.pending_is_bloated() {
            self.replay(state, &ctx);
        }
        let waiting: Vec<Address> = self.held.keys().cloned().collect();
        for sender in waiting {
            self.release_held(state, &ctx, &sender);
        }
    }

    /// The pending state keeps entries of committed transactions until the next replay;
    /// this bounds how many.
    fn pending_is_bloated(&self) -> bool {
        let entries = self.pending.accounts.len() + self.pending.htlcs.len();
        entries > PENDING_ENTRIES_PER_TX * self.queue.len() + MIN_PENDING_ENTRIES_BEFORE_REPLAY
    }

    /// Re-executes the queue on `state`. A transaction that can no longer ever apply (its
    /// nonce is gone) is dropped; one that would now fail at execution stays, as the next
    /// block will include it with a `Failed` receipt.
    fn replay(&mut self, state: &State, ctx: &BlockContext) {
        self.pending = Changes::default();
        self.earliest_deadline = None;
        let queue = std::mem::take(&mut self.queue);
        for tx in queue {
            self.forget(&tx);
            let view = Layered {
                base: state,
                changes: &self.pending,
            };
            let effects = match execute(&view, ctx, &tx.tx.tx) {
                Ok(effects) => effects,
                Err(err) if err.uses_nonce() => Effects::nonce_only(&view, &tx.tx.tx.from),
                Err(_) => continue,
            };
            self.enqueue(state, tx, effects);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;
    use crate::state::StateView;
    use crate::test_support::*;
    use crate::tx::Payload;

    const HEAD_TIME: UnixMillis = 10_000;
    const AMPLE_BYTES: usize = 1 << 30;

    /// The byte count the pool keeps equals its transactions' sizes.
    fn counted_bytes(pool: &Mempool) -> usize {
        let queued: usize = pool.queue.iter().map(|t| t.size).sum();
        let held: usize = pool
            .held
            .values()
            .flat_map(|s| s.values())
            .map(|t| t.size)
            .sum();
        queued + held
    }

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
        let mut pool = Mempool::new(10, AMPLE_BYTES);
        admit(&mut pool, &state, verified(1, 0, 600)).unwrap();
        assert_eq!(
            admit(&mut pool, &state, verified(1, 0, 1)),
            Err(ErrorCode::NonceTooLow)
        );
        let beyond_gap = 2 + MAX_NONCE_GAP;
        assert_eq!(
            admit(&mut pool, &state, verified(1, beyond_gap, 1)),
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
        let mut pool = Mempool::new(2, AMPLE_BYTES);
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

    // specs/devchain.md §6.1: the mempool's bytes are bounded, not only its count.
    #[test]
    fn a_mempool_at_its_byte_limit_refuses_more_and_names_the_limit() {
        let state = funded_state();
        let size = verified(1, 0, 1).size;
        let mut pool = Mempool::new(100, 2 * size + size / 2);
        admit(&mut pool, &state, verified(1, 0, 1)).unwrap();
        admit(&mut pool, &state, verified(1, 2, 1)).unwrap(); // held: counts too
        let err = pool
            .admit(&state, HEAD_TIME, verified(2, 0, 1))
            .unwrap_err();
        assert!(matches!(err, TxError::MempoolBytesFull { .. }), "{err}");
        assert_eq!(err.code(), ErrorCode::MempoolFull);
        assert!(
            err.to_string().contains("retry after the next block"),
            "{err}"
        );
        assert_eq!(pool.bytes(), 2 * size);
    }

    // specs/devchain.md §5: a block takes at most `max_block_bytes` of transactions.
    #[test]
    fn block_candidates_stop_at_the_byte_bound_but_always_take_one() {
        let state = funded_state();
        let mut pool = Mempool::new(100, AMPLE_BYTES);
        for nonce in 0..5 {
            admit(&mut pool, &state, verified(1, nonce, 1)).unwrap();
        }
        let size = verified(1, 0, 1).size;
        assert_eq!(pool.candidates(10, 3 * size).len(), 3);
        assert_eq!(pool.candidates(2, 3 * size).len(), 2);
        assert_eq!(
            pool.candidates(10, 1).len(),
            1,
            "the oldest is never starved"
        );
    }

    // specs/devchain.md §6.2
    #[test]
    fn removing_committed_transactions_replays_the_rest_on_the_new_state() {
        let mut state = funded_state();
        let mut pool = Mempool::new(10, AMPLE_BYTES);
        for nonce in 0..3 {
            admit(&mut pool, &state, verified(1, nonce, 100)).unwrap();
        }
        let candidates = pool.candidates(2, AMPLE_BYTES);
        assert_eq!(candidates.len(), 2);
        // Commit the first two as a block would.
        for tx in &candidates {
            let effects =
                crate::executor::execute(&state, &BlockContext { time_ms: HEAD_TIME }, &tx.tx)
                    .unwrap();
            state.apply(effects.changes);
        }
        pool.remove_committed(2, &state, HEAD_TIME + 1, true);
        assert_eq!(pool.len(), 1);
        assert!(!pool.contains(&candidates[0].hash()));
        assert!(admit(&mut pool, &state, verified(1, 3, 100)).is_ok());
        assert_eq!(state.account(&addr(1)).map(|a| a.nonce), Some(2));
    }

    // specs/devchain.md §6.2: a queued transaction whose nonce the chain already used is dropped.
    #[test]
    fn transactions_that_can_never_apply_are_dropped_on_replay() {
        let mut state = funded_state();
        let mut pool = Mempool::new(10, AMPLE_BYTES);
        admit(&mut pool, &state, verified(1, 0, 1)).unwrap();
        state.apply(Effects::nonce_only(&state, &addr(1)).changes);
        pool.remove_committed(0, &state, HEAD_TIME, false);
        assert!(pool.is_empty());
    }

    // specs/devchain.md §4: a nonce gap of up to MAX_NONCE_GAP is held until it fills.
    #[test]
    fn future_nonces_are_held_until_the_gap_fills() {
        let state = funded_state();
        let mut pool = Mempool::new(10, AMPLE_BYTES);
        let third = verified(1, 2, 1);
        let third_hash = third.hash;
        assert_eq!(
            admit(&mut pool, &state, third),
            Ok(Admission::Held(third_hash))
        );
        assert_eq!(
            admit(&mut pool, &state, verified(1, 1, 1)).map(|a| matches!(a, Admission::Held(_))),
            Ok(true)
        );
        assert!(
            pool.contains(&third_hash),
            "held transactions count as pending"
        );
        assert!(
            pool.candidates(10, AMPLE_BYTES).is_empty(),
            "nothing executable yet"
        );
        admit(&mut pool, &state, verified(1, 0, 1)).unwrap();
        let nonces: Vec<u64> = pool
            .candidates(10, AMPLE_BYTES)
            .iter()
            .map(|t| t.tx.nonce)
            .collect();
        assert_eq!(nonces, vec![0, 1, 2]);
        assert_eq!(pool.len(), 3);
    }

    // specs/devchain.md §4: a held transaction that no longer applies when released is dropped.
    #[test]
    fn held_transactions_that_cannot_apply_are_dropped_on_release() {
        let state = funded_state();
        let mut pool = Mempool::new(10, AMPLE_BYTES);
        let broke = check_stateless(
            &chain(),
            signed(1, 1, transfer(2, START_BALANCE)),
            16 * 1024,
        )
        .unwrap();
        let broke_hash = broke.hash;
        admit(&mut pool, &state, broke).unwrap();
        admit(&mut pool, &state, verified(1, 0, 1)).unwrap();
        assert!(
            !pool.contains(&broke_hash),
            "1000 USD is no longer there after sending 1"
        );
        assert_eq!(pool.len(), 1);
    }

    // specs/devchain.md §4: a held transaction whose gap is filled by a block is released.
    #[test]
    fn a_committed_block_releases_held_transactions() {
        let mut state = funded_state();
        let mut pool = Mempool::new(10, AMPLE_BYTES);
        admit(&mut pool, &state, verified(1, 1, 5)).unwrap();
        // Nonce 0 was committed by another node's block, never seen by this mempool.
        state.apply(Effects::nonce_only(&state, &addr(1)).changes);
        pool.remove_committed(0, &state, HEAD_TIME, false);
        let nonces: Vec<u64> = pool
            .candidates(10, AMPLE_BYTES)
            .iter()
            .map(|t| t.tx.nonce)
            .collect();
        assert_eq!(nonces, vec![1]);
    }

    fn view_of<'a>(pool: &'a Mempool, state: &'a State) -> Layered<'a> {
        Layered {
            base: state,
            changes: &pool.pending,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(64))]
        // specs/devchain.md §6.2: skipping the replay after an all-success block leaves the
        // same pending state and queue as replaying.
        #[test]
        fn skipping_the_replay_is_exact_when_the_block_matched_admission(
            ops in proptest::collection::vec((1..=3u8, 0..4u8, 1..300u128, 0..2u8, 1..60u64), 1..16),
            take in 0..16usize,
            block_delay in 1..80u64,
        ) {
            let mut state = funded_state();
            let mut pool = Mempool::new(100, AMPLE_BYTES);
            let mut locks = Vec::new();
            for (from, kind, amount, secret, ttl) in ops {
                let nonce = view_of(&pool, &state).account(&addr(from)).map_or(0, |a| a.nonce);
                let payload = match (kind, locks.get(amount as usize % 3).copied()) {
                    (1, _) => {
                        let expiry = HEAD_TIME + ttl;
                        locks.push(crate::htlc_lock_id(
                            &chain(),
                            &addr(from),
                            &addr(from % 3 + 1),
                            &usd(),
                            causeway_core::Amount(amount),
                            &hashlock_of(secret),
                            expiry,
                        ));
                        lock(from % 3 + 1, amount, secret, expiry)
                    }
                    (2, Some(lock_id)) => Payload::HtlcClaim { lock_id, preimage: preimage(secret) },
                    (3, Some(lock_id)) => Payload::HtlcRefund { lock_id },
                    _ => transfer(from % 3 + 1, amount),
                };
                let tx = check_stateless(&chain(), signed(from, nonce, payload), 16 * 1024).unwrap();
                let _ = pool.admit(&state, HEAD_TIME, tx);
            }
            let candidates = pool.candidates(take, AMPLE_BYTES);
            let taken = candidates.len();
            let parent = crate::state::Head { height: 0, hash: Hash32::ZERO, time_ms: HEAD_TIME };
            let out = crate::block::build_block(&state, &parent, HEAD_TIME + block_delay, candidates, &key(42));
            let all_succeeded = out.skipped == 0
                && out.receipts.iter().all(|r| r.outcome == crate::api::TxOutcome::Success);
            state.apply(out.changes);
            let mut skipped = pool.clone();
            let mut replayed = pool;
            skipped.remove_committed(taken, &state, out.head.time_ms, all_succeeded);
            replayed.remove_committed(taken, &state, out.head.time_ms, false);
            let hashes = |p: &Mempool| p.queue.iter().map(|t| t.hash).collect::<Vec<_>>();
            proptest::prop_assert_eq!(hashes(&skipped), hashes(&replayed));
            proptest::prop_assert_eq!(skipped.bytes(), counted_bytes(&skipped));
            proptest::prop_assert_eq!(replayed.bytes(), counted_bytes(&replayed));
            let (fast, slow) = (view_of(&skipped, &state), view_of(&replayed, &state));
            for seed in 1..=3 {
                proptest::prop_assert_eq!(fast.account(&addr(seed)), slow.account(&addr(seed)));
            }
            for id in &locks {
                proptest::prop_assert_eq!(fast.htlc(id), slow.htlc(id));
            }
        }
    }
}
