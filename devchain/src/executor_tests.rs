//! Tests of the pure executor and the HTLC module (`specs/devchain.md` §4–§7).

use causeway_core::{sha256, Amount, EventKind, Hash32};
use proptest::prelude::*;

use crate::api::{ErrorCode, HtlcState};
use crate::executor::{execute, BlockContext, Effects};
use crate::htlc::{htlc_lock_id, MAX_LOCK_DURATION_MS};
use crate::state::{State, StateView};
use crate::test_support::*;
use crate::tx::{Payload, Transaction};
use crate::tx_error::TxError;

const NOW: u64 = 10_000;

fn at(time_ms: u64) -> BlockContext {
    BlockContext { time_ms }
}

/// Executes and, on success, commits into `state`.
fn run(state: &mut State, time_ms: u64, tx: &Transaction) -> Result<Vec<EventKind>, TxError> {
    let effects = execute(state, &at(time_ms), tx)?;
    state.apply(effects.changes);
    Ok(effects.events)
}

fn next_nonce(state: &State, seed: u8) -> u64 {
    state.account(&addr(seed)).map_or(0, |a| a.nonce)
}

fn submit(
    state: &mut State,
    time_ms: u64,
    from: u8,
    payload: Payload,
) -> Result<Vec<EventKind>, TxError> {
    let tx = unsigned(from, next_nonce(state, from), payload);
    run(state, time_ms, &tx)
}

fn lock_id_for(sender: u8, recipient: u8, amount: u128, secret: u8, expiry_ms: u64) -> Hash32 {
    htlc_lock_id(
        &chain(),
        &addr(sender),
        &addr(recipient),
        &usd(),
        Amount(amount),
        &hashlock_of(secret),
        expiry_ms,
    )
}

// specs/devchain.md §5.1
#[test]
fn transfer_moves_funds_uses_the_nonce_and_emits_an_event() {
    let mut state = funded_state();
    let events = submit(&mut state, NOW, 1, transfer(2, 300)).unwrap();
    assert_eq!(balance(&state, 1), START_BALANCE - 300);
    assert_eq!(balance(&state, 2), START_BALANCE + 300);
    assert_eq!(next_nonce(&state, 1), 1);
    assert_eq!(
        events,
        vec![EventKind::Transfer {
            from: addr(1),
            to: addr(2),
            asset: usd(),
            amount: Amount(300),
        }]
    );
}

// specs/devchain.md §5.1
#[test]
fn transfer_to_self_and_to_a_new_account_conserve_funds() {
    let mut state = funded_state();
    submit(&mut state, NOW, 1, transfer(1, 400)).unwrap();
    assert_eq!(balance(&state, 1), START_BALANCE);
    submit(&mut state, NOW, 1, transfer(9, START_BALANCE)).unwrap();
    assert_eq!(balance(&state, 9), START_BALANCE);
    assert_eq!(balance(&state, 1), 0);
    assert!(
        !state.accounts[&addr(1)].balances.contains_key(&usd()),
        "empty balances are dropped"
    );
}

// specs/devchain.md §4
#[test]
fn nonces_must_be_exactly_the_next_one() {
    let mut state = funded_state();
    let err = run(&mut state, NOW, &unsigned(1, 1, transfer(2, 1))).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NonceTooHigh);
    run(&mut state, NOW, &unsigned(1, 0, transfer(2, 1))).unwrap();
    let err = run(&mut state, NOW, &unsigned(1, 0, transfer(2, 1))).unwrap_err();
    assert!(
        matches!(
            err,
            TxError::NonceTooLow {
                got: 0,
                expected: 1,
                ..
            }
        ),
        "{err}"
    );
}

// specs/devchain.md §6
#[test]
fn invalid_transfers_are_refused_with_their_own_code() {
    let state = funded_state();
    let cases = [
        (
            transfer(2, START_BALANCE + 1),
            ErrorCode::InsufficientBalance,
        ),
        (transfer(2, 0), ErrorCode::InvalidAmount),
        (
            Payload::Transfer {
                to: addr(2),
                asset: causeway_core::AssetId::new("EUR").unwrap(),
                amount: Amount(1),
            },
            ErrorCode::UnknownAsset,
        ),
        (
            Payload::Transfer {
                to: causeway_core::Address::new("0xnotakey").unwrap(),
                asset: usd(),
                amount: Amount(1),
            },
            ErrorCode::InvalidAddress,
        ),
    ];
    for (payload, code) in cases {
        let err = execute(&state, &at(NOW), &unsigned(1, 0, payload.clone())).unwrap_err();
        assert_eq!(err.code(), code, "{payload:?}: {err}");
        assert!(err.uses_nonce(), "{err}");
    }
    let mut foreign = unsigned(1, 0, transfer(2, 1));
    foreign.chain_id = causeway_core::ChainId::new("other").unwrap();
    assert_eq!(
        execute(&state, &at(NOW), &foreign).unwrap_err().code(),
        ErrorCode::WrongChain
    );
}

// specs/devchain.md §7.1
#[test]
fn lock_id_is_pinned_and_depends_on_every_term() {
    let base = lock_id_for(1, 2, 100, 7, 20_000);
    assert_eq!(
        base.to_hex(),
        "c79e7aa6c7abce5ecfd80d176cfbed56c1510baef4934e20e27a1725f926fafb",
        "the lock id encoding is part of the wire contract; update specs/devchain.md §7.1 if it changes"
    );
    let variants = [
        lock_id_for(3, 2, 100, 7, 20_000),
        lock_id_for(1, 3, 100, 7, 20_000),
        lock_id_for(1, 2, 101, 7, 20_000),
        lock_id_for(1, 2, 100, 8, 20_000),
        lock_id_for(1, 2, 100, 7, 20_001),
        htlc_lock_id(
            &causeway_core::ChainId::new("other").unwrap(),
            &addr(1),
            &addr(2),
            &usd(),
            Amount(100),
            &hashlock_of(7),
            20_000,
        ),
        htlc_lock_id(
            &chain(),
            &addr(1),
            &addr(2),
            &gold(),
            Amount(100),
            &hashlock_of(7),
            20_000,
        ),
    ];
    for variant in variants {
        assert_ne!(variant, base);
    }
}

// specs/devchain.md §7.2
#[test]
fn lock_then_claim_pays_the_recipient_and_reveals_the_preimage() {
    let mut state = funded_state();
    let events = submit(&mut state, NOW, 1, lock(2, 100, 7, 20_000)).unwrap();
    let lock_id = lock_id_for(1, 2, 100, 7, 20_000);
    assert!(matches!(&events[0], EventKind::HtlcLocked { lock_id: id, .. } if *id == lock_id));
    assert_eq!(balance(&state, 1), START_BALANCE - 100);
    assert_eq!(state.htlcs[&lock_id].state, HtlcState::Locked);
    // Anyone may claim: account 3 pays the fee-less transaction, account 2 gets the funds.
    let claim = Payload::HtlcClaim {
        lock_id,
        preimage: preimage(7),
    };
    let events = submit(&mut state, 19_999, 3, claim.clone()).unwrap();
    assert_eq!(
        events,
        vec![EventKind::HtlcClaimed {
            lock_id,
            hashlock: hashlock_of(7),
            preimage: preimage(7),
            recipient: addr(2),
        }]
    );
    assert_eq!(balance(&state, 2), START_BALANCE + 100);
    assert_eq!(balance(&state, 3), START_BALANCE);
    assert_eq!(
        state.htlcs[&lock_id].state,
        HtlcState::Claimed {
            preimage: preimage(7)
        }
    );
    let again = submit(&mut state, 19_999, 2, claim).unwrap_err();
    assert_eq!(again.code(), ErrorCode::HtlcAlreadySettled);
    let refund = submit(&mut state, 30_000, 1, Payload::HtlcRefund { lock_id }).unwrap_err();
    assert_eq!(refund.code(), ErrorCode::HtlcAlreadySettled);
}

// specs/devchain.md §7.3
#[test]
fn refund_only_from_expiry_and_never_after_a_refund() {
    let mut state = funded_state();
    submit(&mut state, NOW, 1, lock(2, 100, 7, 20_000)).unwrap();
    let lock_id = lock_id_for(1, 2, 100, 7, 20_000);
    let early = submit(&mut state, 19_999, 2, Payload::HtlcRefund { lock_id }).unwrap_err();
    assert!(
        matches!(
            early,
            TxError::HtlcNotExpired {
                expiry_ms: 20_000,
                now_ms: 19_999,
                ..
            }
        ),
        "{early}"
    );
    // Expiry is inclusive for refunds: at exactly expiry_ms the lock is refundable.
    let events = submit(&mut state, 20_000, 2, Payload::HtlcRefund { lock_id }).unwrap();
    assert!(matches!(&events[0], EventKind::HtlcRefunded { sender, .. } if *sender == addr(1)));
    assert_eq!(balance(&state, 1), START_BALANCE);
    let claim = Payload::HtlcClaim {
        lock_id,
        preimage: preimage(7),
    };
    assert_eq!(
        submit(&mut state, 19_000, 2, claim).unwrap_err().code(),
        ErrorCode::HtlcAlreadySettled
    );
}

// specs/devchain.md §7.2
#[test]
fn claim_fails_with_wrong_preimage_after_expiry_or_unknown_lock() {
    let mut state = funded_state();
    submit(&mut state, NOW, 1, lock(2, 100, 7, 20_000)).unwrap();
    let lock_id = lock_id_for(1, 2, 100, 7, 20_000);
    let wrong = Payload::HtlcClaim {
        lock_id,
        preimage: preimage(8),
    };
    let err = submit(&mut state, NOW, 2, wrong).unwrap_err();
    assert!(
        matches!(err, TxError::WrongPreimage { preimage_hash, .. } if preimage_hash == sha256(&[8; 32])),
        "{err}"
    );
    let late = Payload::HtlcClaim {
        lock_id,
        preimage: preimage(7),
    };
    assert_eq!(
        submit(&mut state, 20_000, 2, late).unwrap_err().code(),
        ErrorCode::HtlcExpired
    );
    let missing = Payload::HtlcRefund {
        lock_id: Hash32([9; 32]),
    };
    assert_eq!(
        submit(&mut state, NOW, 2, missing).unwrap_err().code(),
        ErrorCode::HtlcNotFound
    );
}

// specs/devchain.md §7.2
#[test]
fn lock_terms_are_checked() {
    let mut state = funded_state();
    let zero_hashlock = Payload::HtlcLock {
        recipient: addr(2),
        asset: usd(),
        amount: Amount(1),
        hashlock: Hash32::ZERO,
        expiry_ms: 20_000,
    };
    let cases = [
        (zero_hashlock, ErrorCode::HtlcInvalidTerms),
        (lock(2, 1, 7, NOW), ErrorCode::HtlcInvalidTerms),
        (
            lock(2, 1, 7, NOW + MAX_LOCK_DURATION_MS + 1),
            ErrorCode::HtlcInvalidTerms,
        ),
        (lock(2, 0, 7, 20_000), ErrorCode::InvalidAmount),
        (
            lock(2, START_BALANCE + 1, 7, 20_000),
            ErrorCode::InsufficientBalance,
        ),
    ];
    for (payload, code) in cases {
        let err = execute(&state, &at(NOW), &unsigned(1, 0, payload.clone())).unwrap_err();
        assert_eq!(err.code(), code, "{payload:?}: {err}");
    }
    submit(&mut state, NOW, 1, lock(2, 1, 7, 20_000)).unwrap();
    let dup = submit(&mut state, NOW, 1, lock(2, 1, 7, 20_000)).unwrap_err();
    assert_eq!(dup.code(), ErrorCode::HtlcDuplicate);
}

// specs/devchain.md §6: a failed transaction still uses its nonce and does nothing else.
#[test]
fn nonce_only_effects_touch_just_the_sender_nonce() {
    let state = funded_state();
    let effects = Effects::nonce_only(&state, &addr(1));
    assert!(effects.events.is_empty());
    assert_eq!(effects.changes.accounts.len(), 1);
    let account = &effects.changes.accounts[&addr(1)];
    assert_eq!(account.nonce, 1);
    assert_eq!(account.balances, state.accounts[&addr(1)].balances);
}

#[derive(Clone, Debug)]
enum Op {
    Transfer {
        from: u8,
        to: u8,
        amount: u128,
        gold: bool,
    },
    Lock {
        from: u8,
        to: u8,
        amount: u128,
        secret: u8,
        ttl: u64,
    },
    Claim {
        by: u8,
        pick: usize,
        secret: u8,
    },
    Refund {
        by: u8,
        pick: usize,
    },
    Tick {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1..=3u8, 1..=4u8, 0..1_200u128, any::<bool>()).prop_map(|(from, to, amount, gold)| {
            Op::Transfer {
                from,
                to,
                amount,
                gold,
            }
        }),
        (1..=3u8, 1..=4u8, 0..600u128, 0..4u8, 0..50u64).prop_map(
            |(from, to, amount, secret, ttl)| Op::Lock {
                from,
                to,
                amount,
                secret,
                ttl
            }
        ),
        (1..=4u8, 0..8usize, 0..4u8).prop_map(|(by, pick, secret)| Op::Claim { by, pick, secret }),
        (1..=4u8, 0..8usize).prop_map(|(by, pick)| Op::Refund { by, pick }),
        (1..40u64).prop_map(|ms| Op::Tick { ms }),
    ]
}

/// Funds held by accounts plus funds held in open locks.
fn supply(state: &State, asset: &causeway_core::AssetId) -> u128 {
    let held: u128 = state
        .accounts
        .values()
        .filter_map(|a| a.balances.get(asset))
        .map(|a| a.0)
        .sum();
    let locked: u128 = state
        .htlcs
        .values()
        .filter(|l| &l.asset == asset && l.state == HtlcState::Locked)
        .map(|l| l.amount.0)
        .sum();
    held + locked
}

proptest! {
    // specs/devchain.md §10 invariants 1 and 2.
    #[test]
    fn supply_is_conserved_and_nonces_advance_by_one(ops in proptest::collection::vec(op(), 1..60)) {
        let mut state = funded_state();
        let start_usd = supply(&state, &usd());
        let start_gold = supply(&state, &gold());
        let mut time = NOW;
        let mut locks: Vec<Hash32> = Vec::new();
        for op in ops {
            let (sender, payload) = match op {
                Op::Tick { ms } => { time += ms; continue; }
                Op::Transfer { from, to, amount, gold: g } => (from, Payload::Transfer {
                    to: addr(to), asset: if g { gold() } else { usd() }, amount: Amount(amount),
                }),
                Op::Lock { from, to, amount, secret, ttl } => (from, lock(to, amount, secret, time + ttl)),
                Op::Claim { by, pick, secret } => match locks.get(pick) {
                    Some(id) => (by, Payload::HtlcClaim { lock_id: *id, preimage: preimage(secret) }),
                    None => continue,
                },
                Op::Refund { by, pick } => match locks.get(pick) {
                    Some(id) => (by, Payload::HtlcRefund { lock_id: *id }),
                    None => continue,
                },
            };
            let nonce_before = next_nonce(&state, sender);
            let tx = unsigned(sender, nonce_before, payload);
            match execute(&state, &at(time), &tx) {
                Ok(effects) => {
                    for event in &effects.events {
                        if let EventKind::HtlcLocked { lock_id, .. } = event { locks.push(*lock_id); }
                    }
                    state.apply(effects.changes);
                }
                Err(err) => {
                    prop_assert!(err.uses_nonce(), "unexpected {err}");
                    state.apply(Effects::nonce_only(&state, &tx.from).changes);
                }
            }
            prop_assert_eq!(next_nonce(&state, sender), nonce_before + 1);
            prop_assert_eq!(supply(&state, &usd()), start_usd);
            prop_assert_eq!(supply(&state, &gold()), start_gold);
        }
    }
}
