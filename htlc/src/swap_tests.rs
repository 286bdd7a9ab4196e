//! Transition tests for both roles. Fixture (offer::fixtures, plan::fixtures): 1 s instant
//! chains, default policy, now = 1_000_000 on both clocks, accept_by = 1_060_000,
//! T2 = 1_120_000, T1 = 1_200_000; settle(B) = 7 s, offer accept room = 23 s.

use causeway_core::{Address, Amount, ChainEvent, EventKind, Position};

use super::*;
use crate::offer::fixtures::{offer, secret};
use crate::plan::fixtures::chains;
use crate::status::Phase;
use crate::verify::Mismatch;

const NOW: ChainTimes = ChainTimes {
    a_ms: 1_000_000,
    b_ms: 1_000_000,
};
const LOCK_A: Hash32 = Hash32([0xa1; 32]);
const LOCK_B: Hash32 = Hash32([0xb1; 32]);

fn lock_id_of(leg: LegId) -> Hash32 {
    match leg {
        LegId::A => LOCK_A,
        LegId::B => LOCK_B,
    }
}

/// `action` is the first claim of `leg`'s lock with the swap's secret.
fn assert_claims_with_secret(action: &SwapAction, leg: LegId) {
    assert_eq!(action.id, format!("swap-1/claim-{}", leg.letter()));
    let expected = ActionKind::Claim {
        lock_id: lock_id_of(leg),
        preimage: secret().preimage(),
    };
    assert_eq!(action.kind, expected);
}

fn initiator() -> Swap {
    let (a, b) = chains();
    Swap::initiator(offer(), secret(), &a, &b, &SafetyPolicy::default(), NOW).unwrap()
}

fn participant() -> Swap {
    let (a, b) = chains();
    Swap::participant(offer(), &a, &b, &SafetyPolicy::default(), NOW).unwrap()
}

fn chain(leg: LegId) -> ChainId {
    offer().leg(leg).chain_id.clone()
}

fn event(leg: LegId, time_ms: u64, kind: EventKind) -> Input {
    Input::Observed {
        chain: chain(leg),
        event: ChainEvent {
            chain_id: chain(leg),
            position: Position::new(time_ms / 1000, 0),
            tx_hash: Hash32([time_ms as u8; 32]),
            time_ms,
            kind,
        },
    }
}

/// A lock of `leg` exactly as offered, then altered by `tweak`.
fn lock_with(leg: LegId, time_ms: u64, tweak: impl FnOnce(&mut crate::offer::Leg)) -> Input {
    let mut terms = offer().leg(leg).clone();
    tweak(&mut terms);
    let lock_id = lock_id_of(leg);
    event(
        leg,
        time_ms,
        EventKind::HtlcLocked {
            lock_id,
            sender: terms.sender,
            recipient: terms.recipient,
            asset: terms.asset,
            amount: terms.amount,
            hashlock: offer().hashlock,
            expiry_ms: terms.expiry_ms,
        },
    )
}

fn lock(leg: LegId, time_ms: u64) -> Input {
    lock_with(leg, time_ms, |_| {})
}

fn claimed(leg: LegId, time_ms: u64, preimage: Hash32) -> Input {
    let lock_id = lock_id_of(leg);
    let recipient = offer().leg(leg).recipient.clone();
    let hashlock = offer().hashlock;
    event(
        leg,
        time_ms,
        EventKind::HtlcClaimed {
            lock_id,
            hashlock,
            preimage,
            recipient,
        },
    )
}

fn refunded(leg: LegId, time_ms: u64) -> Input {
    let lock_id = lock_id_of(leg);
    let sender = offer().leg(leg).sender.clone();
    event(
        leg,
        time_ms,
        EventKind::HtlcRefunded {
            lock_id,
            hashlock: offer().hashlock,
            sender,
        },
    )
}

fn tick(leg: LegId, time_ms: u64) -> Input {
    Input::Tick {
        chain: chain(leg),
        finalized_height: time_ms / 1000,
        time_ms,
    }
}

fn outcome_of(id: &str, result: ActionResult) -> Input {
    Input::ActionOutcome {
        action_id: id.into(),
        result,
    }
}

fn submits(outputs: &[Output]) -> Vec<SwapAction> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Submit(a) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

fn only_submit(outputs: &[Output]) -> SwapAction {
    let actions = submits(outputs);
    assert_eq!(actions.len(), 1, "expected one action in {outputs:?}");
    actions[0].clone()
}

fn abort_of(outputs: &[Output]) -> AbortReason {
    outputs
        .iter()
        .find_map(|o| match o {
            Output::Aborted(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no abort in {outputs:?}"))
}

/// `action` is the lock of `leg` with exactly the offered terms.
fn assert_locks_as_offered(action: &SwapAction, leg: LegId) {
    let terms = offer().leg(leg).clone();
    assert_eq!(action.id, format!("swap-1/lock-{}", leg.letter()));
    assert_eq!(action.chain, terms.chain_id);
    let expected = ActionKind::Lock {
        recipient: terms.recipient,
        asset: terms.asset,
        amount: terms.amount,
        hashlock: secret().hashlock(),
        expiry_ms: terms.expiry_ms,
    };
    assert_eq!(action.kind, expected);
}

/// The outputs refuse to lock for lack of `required_ms` and end the swap with nothing locked.
fn assert_too_late(outputs: &[Output], required_ms: u64) {
    let reason = abort_of(outputs);
    assert!(
        matches!(reason, AbortReason::TooLateToLock { required_ms: r, .. } if r == required_ms),
        "{reason:?}"
    );
    assert_eq!(finished(outputs), Some(SwapOutcome::NothingLocked));
}

fn finished(outputs: &[Output]) -> Option<SwapOutcome> {
    outputs.iter().find_map(|o| match o {
        Output::Finished(outcome) => Some(*outcome),
        _ => None,
    })
}

/// Feeds inputs in order, returning all outputs.
fn feed(swap: &mut Swap, inputs: Vec<Input>) -> Vec<Output> {
    inputs.into_iter().flat_map(|i| swap.handle(i)).collect()
}

/// An initiator that has locked A and seen its lock final.
fn initiator_locked() -> Swap {
    let mut swap = initiator();
    feed(
        &mut swap,
        vec![
            Input::Start,
            tick(LegId::B, NOW.b_ms),
            lock(LegId::A, 1_001_000),
        ],
    );
    swap
}

/// A participant that has seen A locked and has locked B.
fn participant_locked() -> Swap {
    let mut swap = participant();
    feed(
        &mut swap,
        vec![
            lock(LegId::A, 1_001_000),
            tick(LegId::B, 1_001_000),
            lock(LegId::B, 1_003_000),
        ],
    );
    swap
}

/// An initiator that has seen B's lock (at `time_ms`) and a B tick at that time.
fn initiator_sees_b_locked(swap: &mut Swap, time_ms: u64) -> Vec<Output> {
    feed(swap, vec![lock(LegId::B, time_ms), tick(LegId::B, time_ms)])
}

// ---- initiator ----

// specs/htlc.md §7.3 R1
#[test]
fn initiator_locks_leg_a_once_on_start() {
    let mut swap = initiator();
    assert_eq!(swap.phase(), Phase::Created);
    assert!(
        submits(&swap.handle(Input::Start)).is_empty(),
        "waits for a chain-B tick"
    );
    let action = only_submit(&swap.handle(tick(LegId::B, NOW.b_ms)));
    assert_locks_as_offered(&action, LegId::A);
    assert_eq!(swap.phase(), Phase::Locking);
    assert!(submits(&feed(
        &mut swap,
        vec![Input::Start, tick(LegId::B, NOW.b_ms)]
    ))
    .is_empty());
    assert_eq!(swap.pending_actions(), vec![action.clone()]);
    swap.handle(lock(LegId::A, 1_001_000));
    assert!(
        swap.pending_actions().is_empty(),
        "the lock event confirms the lock action"
    );
    assert_eq!(swap.phase(), Phase::AwaitingCounterpartyLock);
}

// specs/htlc.md §7.3 R3, §7.5
#[test]
fn initiator_happy_path_claims_b_then_finishes_swapped() {
    let mut swap = initiator_locked();
    assert!(
        submits(&swap.handle(lock(LegId::B, 1_010_000))).is_empty(),
        "waits for a B tick"
    );
    let claim = only_submit(&swap.handle(tick(LegId::B, 1_010_000)));
    assert_claims_with_secret(&claim, LegId::B);
    assert_eq!(swap.phase(), Phase::Claiming);
    swap.handle(outcome_of(&claim.id, ActionResult::Ok));
    swap.handle(claimed(LegId::B, 1_012_000, secret().preimage()));
    assert_eq!(swap.phase(), Phase::AwaitingCounterpartyClaim);
    let outputs = swap.handle(claimed(LegId::A, 1_016_000, secret().preimage()));
    assert_eq!(finished(&outputs), Some(SwapOutcome::Swapped));
    assert_eq!(swap.phase(), Phase::Finished(SwapOutcome::Swapped));
    assert!(
        swap.handle(tick(LegId::A, 2_000_000)).is_empty(),
        "finished swaps ignore input"
    );
}

// specs/htlc.md §8.1: re-feeding everything seen so far emits nothing new.
#[test]
fn refeeding_inputs_is_harmless() {
    let history = vec![
        Input::Start,
        tick(LegId::B, NOW.b_ms),
        lock(LegId::A, 1_001_000),
        lock(LegId::B, 1_010_000),
        tick(LegId::B, 1_010_000),
        outcome_of("swap-1/claim-b", ActionResult::Ok),
        claimed(LegId::B, 1_012_000, secret().preimage()),
    ];
    let mut swap = initiator();
    let first = feed(&mut swap, history.clone());
    assert_eq!(submits(&first).len(), 2);
    let snapshot = swap.clone();
    let again = feed(&mut swap, history);
    assert!(submits(&again).is_empty(), "{again:?}");
    assert_eq!(swap, snapshot);
}

// specs/htlc.md §7.3 R2, R4
#[test]
fn initiator_refunds_when_participant_never_locks() {
    let mut swap = initiator_locked();
    assert!(swap.handle(tick(LegId::B, 1_059_999)).is_empty());
    let reason = abort_of(&swap.handle(tick(LegId::B, 1_060_000)));
    assert!(
        matches!(reason, AbortReason::CounterpartyAbsent { .. }),
        "{reason}"
    );
    assert_eq!(swap.phase(), Phase::Refunding);
    assert!(submits(&swap.handle(tick(LegId::A, 1_199_999))).is_empty());
    let refund = only_submit(&swap.handle(tick(LegId::A, 1_200_000)));
    assert_eq!(refund.id, "swap-1/refund-a");
    assert_eq!(refund.kind, ActionKind::Refund { lock_id: LOCK_A });
    let outputs = swap.handle(refunded(LegId::A, 1_201_000));
    assert_eq!(finished(&outputs), Some(SwapOutcome::Refunded));
}

// specs/htlc.md §6.1: a wrong counterparty lock aborts with a human reason, never claims.
#[test]
fn initiator_aborts_on_each_counterparty_mismatch() {
    type Tweak = Box<dyn Fn(&mut crate::offer::Leg)>;
    let cases: Vec<(Tweak, &str)> = vec![
        (
            Box::new(|l| l.amount = Amount(4)),
            "counterparty locked 4 instead of 5 GOLD on chain-b",
        ),
        (
            Box::new(|l| l.recipient = Address::new("mallory-b").unwrap()),
            "counterparty pays mallory-b instead of alice-b",
        ),
        (
            Box::new(|l| l.expiry_ms += 60_000),
            "counterparty expires at 1180000 ms instead of 1120000 ms",
        ),
        (
            Box::new(|l| l.asset = causeway_core::AssetId::new("LEAD").unwrap()),
            "locked asset LEAD instead of GOLD",
        ),
    ];
    for (tweak, expected) in cases {
        let mut swap = initiator_locked();
        let mut outputs = swap.handle(lock_with(LegId::B, 1_010_000, tweak));
        outputs.extend(swap.handle(tick(LegId::B, 1_010_000)));
        assert!(submits(&outputs).is_empty());
        let reason = abort_of(&outputs).to_string();
        assert!(reason.contains(expected), "{reason}");
        assert_eq!(swap.lock_state(LegId::B), &LockState::NotSeen);
        let refund = only_submit(&swap.handle(tick(LegId::A, 1_200_000)));
        assert_eq!(refund.kind, ActionKind::Refund { lock_id: LOCK_A });
    }
}

// specs/htlc.md §6.2: locks by anyone but the leg's sender are not the counterparty's.
#[test]
fn strangers_locks_are_ignored() {
    let mut swap = initiator_locked();
    let outputs = swap.handle(lock_with(LegId::B, 1_005_000, |l| {
        l.sender = Address::new("mallory-b").unwrap();
        l.amount = Amount(1);
    }));
    assert!(
        submits(&outputs).is_empty() && swap.aborted().is_none(),
        "{outputs:?}"
    );
    assert!(matches!(outputs[0], Output::Progress(_)));
    assert_eq!(
        submits(&initiator_sees_b_locked(&mut swap, 1_010_000)).len(),
        1
    );
}

// specs/htlc.md §7.4: the initiator never reveals the secret inside settle(B) of T2.
#[test]
fn claim_window_closes_settle_before_t2() {
    let settle_b = 7_000;
    let t2 = offer().leg_b.expiry_ms;
    // A late (after accept_by) but otherwise correct lock: the event's own time decides.
    let mut swap = initiator_locked();
    let outputs = initiator_sees_b_locked(&mut swap, t2 - settle_b - 1);
    assert_eq!(
        submits(&outputs).len(),
        1,
        "last moment allowed: {outputs:?}"
    );

    let mut swap = initiator_locked();
    let outputs = initiator_sees_b_locked(&mut swap, t2 - settle_b);
    assert!(submits(&outputs).is_empty());
    assert!(matches!(
        abort_of(&outputs),
        AbortReason::ClaimWindowClosed { .. }
    ));
    assert_eq!(swap.status().claim_window.at_ms, t2 - settle_b);
}

// specs/htlc.md §7.3 R1: Start after the offer went stale locks nothing.
#[test]
fn initiator_does_not_lock_when_too_late() {
    let mut swap = initiator();
    swap.handle(Input::Start);
    let outputs = swap.handle(tick(LegId::B, 1_060_000 - 22_999));
    assert_too_late(&outputs, 23_000);
}

// specs/htlc.md §7.3 R1: a failed lock is final; nothing was locked.
#[test]
fn failed_lock_aborts_with_nothing_locked() {
    let mut swap = initiator();
    feed(&mut swap, vec![Input::Start, tick(LegId::B, NOW.b_ms)]);
    let outputs = swap.handle(outcome_of(
        "swap-1/lock-a",
        ActionResult::Failed("insufficient USD".into()),
    ));
    assert!(abort_of(&outputs).to_string().contains("insufficient USD"));
    assert_eq!(finished(&outputs), Some(SwapOutcome::NothingLocked));
}

// specs/htlc.md §8.2: claims are retried with numbered ids, at most MAX_ATTEMPTS times.
#[test]
fn failed_claims_are_retried_then_reported() {
    let mut swap = initiator_locked();
    initiator_sees_b_locked(&mut swap, 1_010_000);
    let retry = only_submit(&swap.handle(outcome_of(
        "swap-1/claim-b",
        ActionResult::Failed("nonce".into()),
    )));
    assert_eq!(retry.id, "swap-1/claim-b#2");
    let last =
        only_submit(&swap.handle(outcome_of(&retry.id, ActionResult::Failed("nonce".into()))));
    assert_eq!(last.id, "swap-1/claim-b#3");
    let outputs = swap.handle(outcome_of(&last.id, ActionResult::Failed("nonce".into())));
    assert!(submits(&outputs).is_empty());
    assert!(outputs
        .iter()
        .any(|o| matches!(o, Output::Warning(w) if w.contains("operator"))));
}

// specs/htlc.md §7.5: the participant never claimed A; the initiator keeps both.
#[test]
fn initiator_refunds_a_when_participant_does_not_claim() {
    let mut swap = initiator_locked();
    initiator_sees_b_locked(&mut swap, 1_010_000);
    swap.handle(claimed(LegId::B, 1_012_000, secret().preimage()));
    let refund = only_submit(&swap.handle(tick(LegId::A, 1_200_000)));
    assert_eq!(refund.id, "swap-1/refund-a");
    let outputs = swap.handle(refunded(LegId::A, 1_201_000));
    assert_eq!(finished(&outputs), Some(SwapOutcome::SwappedAndRefunded));
}

// specs/htlc.md §6.1: our own lock with wrong terms is tracked and refunded at its real expiry.
#[test]
fn own_lock_mismatch_aborts_and_refunds_at_actual_expiry() {
    let mut swap = initiator();
    feed(&mut swap, vec![Input::Start, tick(LegId::B, NOW.b_ms)]);
    let outputs = swap.handle(lock_with(LegId::A, 1_001_000, |l| l.expiry_ms = 1_300_000));
    assert!(matches!(
        abort_of(&outputs),
        AbortReason::OwnLockMismatch { .. }
    ));
    assert!(
        submits(&initiator_sees_b_locked(&mut swap, 1_010_000)).is_empty(),
        "never claims after abort"
    );
    assert!(submits(&swap.handle(tick(LegId::A, 1_200_000))).is_empty());
    assert_eq!(
        only_submit(&swap.handle(tick(LegId::A, 1_300_000))).id,
        "swap-1/refund-a"
    );
}

// specs/htlc.md §8: state survives serialization with its pending actions.
#[test]
fn swap_round_trips_through_json_mid_flight() {
    let mut swap = initiator_locked();
    initiator_sees_b_locked(&mut swap, 1_010_000);
    let json = serde_json::to_string(&swap).unwrap();
    let restored: Swap = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, swap);
    assert_eq!(restored.pending_actions()[0].id, "swap-1/claim-b");
}

// specs/htlc.md §7.1: a swap stored as its offer and its progress resumes as it was, and
// its whole serialization keeps the shape stored swaps always had (the offer beside the rest).
#[test]
fn a_swap_split_into_offer_and_progress_resumes_equal() {
    let mut swap = initiator_locked();
    initiator_sees_b_locked(&mut swap, 1_010_000);
    let progress: SwapProgress =
        serde_json::from_str(&serde_json::to_string(swap.progress()).unwrap()).unwrap();
    let resumed = Swap::resume(offer(), progress).unwrap();
    assert_eq!(resumed, swap);
    assert_eq!(resumed.pending_actions()[0].id, "swap-1/claim-b");
    let whole = serde_json::to_value(&swap).unwrap();
    for field in [
        "offer",
        "role",
        "requirements",
        "secret",
        "leg_a",
        "actions",
        "outcome",
    ] {
        assert!(
            whole.get(field).is_some(),
            "{field} is not a top-level field"
        );
    }
    assert!(serde_json::to_value(swap.progress())
        .unwrap()
        .get("offer")
        .is_none());
}

#[test]
fn resume_refuses_progress_of_another_swaps_chains_or_secret() {
    let progress = initiator().progress().clone();
    let mut other_chains = offer();
    other_chains.leg_b.chain_id = ChainId::new("chain-z").unwrap();
    let err = Swap::resume(other_chains, progress.clone()).unwrap_err();
    assert!(
        matches!(&err, SetupError::ProgressMismatch { found_b, offer_b, .. }
            if found_b.as_str() == "chain-b" && offer_b.as_str() == "chain-z"),
        "{err}"
    );
    assert!(err.to_string().contains("restore the data_dir"), "{err}");
    let mut other_hashlock = offer();
    other_hashlock.hashlock = Hash32([9; 32]);
    assert!(matches!(
        Swap::resume(other_hashlock, progress),
        Err(SetupError::SecretMismatch { .. })
    ));
}

#[test]
fn inputs_from_other_chains_are_ignored_with_a_warning() {
    let mut swap = initiator();
    let stray = Input::Tick {
        chain: ChainId::new("chain-z").unwrap(),
        finalized_height: 1,
        time_ms: 5_000_000,
    };
    assert!(matches!(swap.handle(stray)[0], Output::Warning(_)));
    let Input::Observed { event, .. } = lock(LegId::B, 1_010_000) else {
        unreachable!()
    };
    let mislabeled = Input::Observed {
        chain: chain(LegId::A),
        event,
    };
    assert!(matches!(swap.handle(mislabeled)[0], Output::Warning(_)));
    assert_eq!(swap.lock_state(LegId::B), &LockState::NotSeen);
}

// ---- participant ----

// specs/htlc.md §7.3 R1
#[test]
fn participant_locks_b_after_verifying_a() {
    let mut swap = participant();
    assert_eq!(swap.phase(), Phase::AwaitingCounterpartyLock);
    assert!(submits(&swap.handle(Input::Start)).is_empty());
    assert!(
        submits(&swap.handle(lock(LegId::A, 1_001_000))).is_empty(),
        "waits for a B tick"
    );
    let action = only_submit(&swap.handle(tick(LegId::B, 1_001_000)));
    assert_locks_as_offered(&action, LegId::B);
    swap.handle(lock(LegId::B, 1_003_000));
    assert_eq!(swap.phase(), Phase::AwaitingCounterpartyClaim);
}

// specs/htlc.md §6.1
#[test]
fn participant_refuses_a_wrong_initiator_lock() {
    let mut swap = participant();
    let outputs = swap.handle(lock_with(LegId::A, 1_001_000, |l| l.amount = Amount(90)));
    assert!(submits(&outputs).is_empty());
    let reason = abort_of(&outputs);
    assert_eq!(
        reason.to_string(),
        format!("counterparty locked 90 instead of 100 USD on chain-a (lock {LOCK_A})")
    );
    let AbortReason::CounterpartyLockMismatch { mismatches, .. } = reason else {
        unreachable!()
    };
    assert!(matches!(mismatches[0], Mismatch::Amount { .. }));
    assert_eq!(finished(&outputs), Some(SwapOutcome::NothingLocked));
}

// specs/htlc.md §7.3 R1: too little chain-B time before accept_by → no lock.
#[test]
fn participant_does_not_lock_close_to_accept_deadline() {
    let mut ok = participant();
    ok.handle(lock(LegId::A, 1_050_000));
    assert_eq!(
        submits(&ok.handle(tick(LegId::B, 1_060_000 - 7_000))).len(),
        1
    );

    let mut late = participant();
    late.handle(lock(LegId::A, 1_050_000));
    let outputs = late.handle(tick(LegId::B, 1_060_000 - 6_999));
    assert_too_late(&outputs, 7_000);
}

// specs/htlc.md §7.3 R2
#[test]
fn participant_gives_up_when_initiator_never_locks() {
    let mut swap = participant();
    let outputs = swap.handle(tick(LegId::B, 1_060_000));
    assert!(matches!(
        abort_of(&outputs),
        AbortReason::CounterpartyAbsent { .. }
    ));
    assert_eq!(finished(&outputs), Some(SwapOutcome::NothingLocked));
}

// specs/htlc.md §7.3 R3: the secret comes from the claim on B; then claim A.
#[test]
fn participant_learns_secret_and_claims_a() {
    let mut swap = participant_locked();
    assert!(swap.secret().is_none());
    let claim = only_submit(&swap.handle(claimed(LegId::B, 1_012_000, secret().preimage())));
    assert_eq!(swap.secret(), Some(&secret()));
    assert_claims_with_secret(&claim, LegId::A);
    let outputs = swap.handle(claimed(LegId::A, 1_014_000, secret().preimage()));
    assert_eq!(finished(&outputs), Some(SwapOutcome::Swapped));
}

// specs/htlc.md §7.3 R4
#[test]
fn participant_refunds_b_when_initiator_never_claims() {
    let mut swap = participant_locked();
    assert!(submits(&swap.handle(tick(LegId::B, 1_119_999))).is_empty());
    let refund = only_submit(&swap.handle(tick(LegId::B, 1_120_000)));
    assert_eq!(refund.kind, ActionKind::Refund { lock_id: LOCK_B });
    let outputs = swap.handle(refunded(LegId::B, 1_121_000));
    assert_eq!(finished(&outputs), Some(SwapOutcome::Refunded));
}

// specs/htlc.md §7.2: a claim whose preimage does not open the hashlock teaches nothing.
#[test]
fn bogus_preimage_is_not_learned() {
    let mut swap = participant_locked();
    let outputs = swap.handle(claimed(LegId::B, 1_012_000, Hash32([9; 32])));
    assert!(matches!(outputs[0], Output::Warning(_)));
    assert!(swap.secret().is_none());
    assert!(submits(&outputs).is_empty());
}

// specs/htlc.md §7.5: beyond the plan's assumptions (offline past T1) the loss is reported.
#[test]
fn participant_offline_past_t1_reports_lost() {
    let mut swap = participant_locked();
    swap.handle(tick(LegId::A, 1_200_000));
    let outputs = swap.handle(claimed(LegId::B, 1_100_000, secret().preimage()));
    assert!(submits(&outputs).is_empty());
    assert_eq!(finished(&outputs), Some(SwapOutcome::Lost));
}

// specs/htlc.md §7.6
#[test]
fn status_reports_deadlines_left_by_each_chain_clock() {
    let mut swap = initiator_locked();
    swap.handle(tick(LegId::B, 1_030_000));
    let status = swap.status();
    assert_eq!(status.phase, Phase::AwaitingCounterpartyLock);
    assert_eq!(status.accept_by.left_ms, Some(30_000));
    assert_eq!(status.leg_b.expiry.left_ms, Some(90_000));
    assert_eq!(status.leg_a.expiry.left_ms, Some(199_000));
    assert_eq!(status.claim_window.left_ms, Some(83_000));
    assert_eq!(status.leg_a.lock.lock().map(|l| l.lock_id), Some(LOCK_A));
    assert_eq!(status.leg_b.finalized_height, Some(1_030));
}

#[test]
fn setup_refuses_wrong_secret_and_unsafe_plans() {
    let (a, b) = chains();
    let policy = SafetyPolicy::default();
    let wrong = Secret::from_bytes([1; 32]);
    assert!(matches!(
        Swap::initiator(offer(), wrong, &a, &b, &policy, NOW),
        Err(SetupError::SecretMismatch { .. })
    ));
    let mut tight = offer();
    tight.leg_a.expiry_ms = tight.leg_b.expiry_ms + 1_000;
    assert!(matches!(
        Swap::participant(tight, &a, &b, &policy, NOW),
        Err(SetupError::Plan(crate::PlanError::MarginTooSmall { .. }))
    ));
}
