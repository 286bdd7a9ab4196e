//! Building, hashing and signing blocks.

use causeway_core::{sha256, ChainEvent, Hash32, Position, UnixMillis};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};

use crate::api::{Block, BlockHeader, Receipt, TxOutcome};
use crate::executor::{execute, BlockContext, Effects};
use crate::state::{Changes, Head, Layered, State};
use crate::tx::{address_of, public_key_of, SignedTransaction};

/// Domain separation for block header hashes (the message validators sign).
const BLOCK_DOMAIN: &[u8] = b"causeway-devchain/block/v1\n";

/// The hash a validator signs: SHA-256 of the domain tag and the header's JSON.
pub fn header_hash(header: &BlockHeader) -> Hash32 {
    let mut bytes = BLOCK_DOMAIN.to_vec();
    // Serialising our own struct is deterministic: fields in declaration order.
    bytes.extend(serde_json::to_vec(header).unwrap_or_default());
    sha256(&bytes)
}

/// SHA-256 over the concatenated hashes of the block's transactions, in order.
pub fn transactions_root(tx_hashes: &[Hash32]) -> Hash32 {
    let bytes: Vec<u8> = tx_hashes.iter().flat_map(|h| h.0).collect();
    sha256(&bytes)
}

/// Block time never goes backwards and never repeats, whatever the wall clock does.
pub fn next_block_time(parent: &Head, now_ms: UnixMillis) -> UnixMillis {
    now_ms.max(parent.time_ms.saturating_add(1))
}

/// Signs `header` with the validator's key.
pub fn seal(
    header: BlockHeader,
    transactions: Vec<SignedTransaction>,
    key: &SigningKey,
) -> (Block, Head) {
    let hash = header_hash(&header);
    let signature = hex::encode(key.sign(hash.as_bytes()).to_bytes());
    let head = Head {
        height: header.height,
        hash,
        time_ms: header.time_ms,
    };
    let block = Block {
        header,
        signature,
        transactions,
    };
    (block, head)
}

/// Whether `block` carries a valid signature of its proposer over its header hash.
pub fn verify_seal(block: &Block) -> bool {
    let Some(proposer) = public_key_of(&block.header.proposer) else {
        return false;
    };
    let mut sig = [0u8; 64];
    if hex::decode_to_slice(&block.signature, &mut sig).is_err() {
        return false;
    }
    proposer
        .verify(
            header_hash(&block.header).as_bytes(),
            &Signature::from_bytes(&sig),
        )
        .is_ok()
}

/// A block ready to be made durable, with everything it changes.
#[derive(Clone, Debug)]
pub struct BlockOutput {
    pub block: Block,
    pub head: Head,
    pub receipts: Vec<Receipt>,
    /// Every event of the block, in position order.
    pub events: Vec<ChainEvent>,
    pub changes: Changes,
    /// How many candidates were left out because they could never apply (wrong nonce).
    pub skipped: usize,
}

/// Executes `candidates` in order on top of `state` and seals the result as the block after
/// `parent`. A candidate that fails with [`crate::TxError::uses_nonce`] is included with a
/// `Failed` receipt; any other failure leaves it out.
pub fn build_block(
    state: &State,
    parent: &Head,
    time_ms: UnixMillis,
    candidates: Vec<SignedTransaction>,
    key: &SigningKey,
) -> BlockOutput {
    let height = parent.height + 1;
    let ctx = BlockContext { time_ms };
    let mut changes = Changes::default();
    let mut included = Vec::with_capacity(candidates.len());
    let mut tx_hashes = Vec::with_capacity(candidates.len());
    let mut receipts = Vec::with_capacity(candidates.len());
    let mut events = Vec::new();
    let mut skipped = 0;
    for signed in candidates {
        let view = Layered {
            base: state,
            changes: &changes,
        };
        let (effects, outcome) = match execute(&view, &ctx, &signed.tx) {
            Ok(effects) => (effects, TxOutcome::Success),
            Err(err) if err.uses_nonce() => (
                Effects::nonce_only(&view, &signed.tx.from),
                TxOutcome::Failed {
                    code: err.code().code(),
                    message: err.to_string(),
                },
            ),
            Err(_) => {
                skipped += 1;
                continue;
            }
        };
        let tx_hash = signed.hash();
        let tx_events: Vec<ChainEvent> = effects
            .events
            .into_iter()
            .map(|kind| {
                // Bounded by the block's transaction limit, far below u32::MAX.
                let index = events.len() as u32;
                let event = ChainEvent {
                    chain_id: state.chain_id.clone(),
                    position: Position::new(height, index),
                    tx_hash,
                    time_ms,
                    kind,
                };
                events.push(event.clone());
                event
            })
            .collect();
        receipts.push(Receipt {
            tx_hash,
            height,
            index: included.len() as u32,
            time_ms,
            outcome,
            events: tx_events,
        });
        changes.merge(effects.changes);
        tx_hashes.push(tx_hash);
        included.push(signed);
    }
    let header = BlockHeader {
        chain_id: state.chain_id.clone(),
        height,
        parent_hash: parent.hash,
        time_ms,
        transactions_root: transactions_root(&tx_hashes),
        proposer: address_of(&key.verifying_key()),
    };
    let (block, head) = seal(header, included, key);
    BlockOutput {
        block,
        head,
        receipts,
        events,
        changes,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;
    use crate::test_support::*;
    use crate::tx::Payload;
    use causeway_core::EventKind;

    fn genesis_head() -> Head {
        Head {
            height: 0,
            hash: Hash32([1; 32]),
            time_ms: 5_000,
        }
    }

    // specs/devchain.md §5
    #[test]
    fn block_time_is_strictly_monotonic() {
        let parent = genesis_head();
        assert_eq!(next_block_time(&parent, 9_000), 9_000);
        assert_eq!(next_block_time(&parent, 5_000), 5_001);
        assert_eq!(next_block_time(&parent, 1), 5_001);
    }

    // specs/devchain.md §5, §6.2, §8
    #[test]
    fn block_includes_failures_skips_impossible_nonces_and_numbers_events() {
        let state = funded_state();
        let validator = key(42);
        let candidates = vec![
            signed(1, 0, transfer(2, 10)),
            signed(
                2,
                0,
                Payload::HtlcRefund {
                    lock_id: Hash32([5; 32]),
                },
            ),
            signed(1, 5, transfer(2, 10)),
            signed(3, 0, transfer(1, 20)),
        ];
        let out = build_block(&state, &genesis_head(), 6_000, candidates, &validator);
        assert_eq!(out.skipped, 1, "nonce 5 can never apply");
        assert_eq!(out.block.transactions.len(), 3);
        assert_eq!(out.receipts[1].index, 1);
        assert!(matches!(
            &out.receipts[1].outcome,
            TxOutcome::Failed { code, .. } if *code == ErrorCode::HtlcNotFound.code()
        ));
        assert!(out.receipts[1].events.is_empty());
        assert_eq!(
            out.changes.accounts[&addr(2)].nonce,
            1,
            "a failed transaction uses its nonce"
        );
        let positions: Vec<_> = out.events.iter().map(|e| e.position).collect();
        assert_eq!(positions, vec![Position::new(1, 0), Position::new(1, 1)]);
        assert_eq!(out.receipts[2].events[0].position, Position::new(1, 1));
        assert!(matches!(out.events[1].kind, EventKind::Transfer { .. }));
        assert_eq!(out.head.height, 1);
        assert_eq!(out.block.header.parent_hash, genesis_head().hash);
        let hashes: Vec<_> = out.block.transactions.iter().map(|t| t.hash()).collect();
        assert_eq!(
            out.block.header.transactions_root,
            transactions_root(&hashes)
        );
        assert!(verify_seal(&out.block));
        let mut forged = out.block.clone();
        forged.header.time_ms += 1;
        assert!(!verify_seal(&forged));
    }

    fn candidate() -> impl proptest::strategy::Strategy<Value = (u8, u8, u128, u8)> {
        // (sender, kind, amount, secret): kind 0 transfer, 1 lock, 2 claim, 3 refund.
        (1..=3u8, 0..4u8, 0..400u128, 0..3u8)
    }

    proptest::proptest! {
        // Each case signs up to ~100 transactions: fewer cases keep the suite quick.
        #![proptest_config(proptest::test_runner::Config::with_cases(64))]
        // specs/devchain.md §10 invariants 3, 4 and 5, over several chained blocks.
        #[test]
        fn chained_blocks_keep_heights_times_positions_and_settle_locks_once(
            blocks in proptest::collection::vec(
                (0..30u64, proptest::collection::vec(candidate(), 0..12)),
                1..8,
            )
        ) {
            let validator = key(42);
            let mut state = funded_state();
            let mut parent = genesis_head();
            let mut last_position: Option<Position> = None;
            let mut locks: Vec<Hash32> = Vec::new();
            let mut settled = std::collections::HashSet::new();
            for (clock_step, picks) in blocks {
                let mut nonces = std::collections::HashMap::new();
                let candidates: Vec<_> = picks
                    .into_iter()
                    .map(|(from, kind, amount, secret)| {
                        let nonce = nonces.entry(from).or_insert_with(|| {
                            state.accounts.get(&addr(from)).map_or(0, |a| a.nonce)
                        });
                        let payload = match (kind, locks.get(amount as usize % 4)) {
                            (1, _) => lock(from % 3 + 1, amount, secret, parent.time_ms + 20 + amount as u64 % 40),
                            (2, Some(id)) => Payload::HtlcClaim { lock_id: *id, preimage: preimage(secret) },
                            (3, Some(id)) => Payload::HtlcRefund { lock_id: *id },
                            _ => transfer(from % 3 + 1, amount),
                        };
                        *nonce += 1;
                        signed(from, *nonce - 1, payload)
                    })
                    .collect();
                // A wall clock that may stand still: block time must still move on.
                let time = next_block_time(&parent, parent.time_ms.saturating_sub(5) + clock_step);
                let out = build_block(&state, &parent, time, candidates, &validator);
                proptest::prop_assert_eq!(out.head.height, parent.height + 1);
                proptest::prop_assert!(out.head.time_ms > parent.time_ms);
                proptest::prop_assert_eq!(out.block.header.parent_hash, parent.hash);
                proptest::prop_assert_eq!(out.skipped, 0);
                for event in &out.events {
                    proptest::prop_assert!(last_position.is_none_or(|p| event.position > p));
                    last_position = Some(event.position);
                    match &event.kind {
                        EventKind::HtlcLocked { lock_id, .. } => locks.push(*lock_id),
                        EventKind::HtlcClaimed { lock_id, .. } | EventKind::HtlcRefunded { lock_id, .. } => {
                            proptest::prop_assert!(settled.insert(*lock_id), "lock {} settled twice", lock_id);
                        }
                        _ => {}
                    }
                }
                state.apply(out.changes);
                parent = out.head;
            }
        }
    }
}
