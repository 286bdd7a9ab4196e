//! What goes into and comes out of a [`crate::Swap`] (specs/htlc.md §5).

use std::fmt;

use causeway_core::{Address, Amount, AssetId, ChainEvent, ChainId, Hash32, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::verify::Mismatch;

/// Longest failure reason kept from an action outcome; longer ones are cut, so persisted
/// state stays small whatever a chain says.
pub const MAX_REASON_LEN: usize = 512;

/// Something the relay observed or learned, fed to [`crate::Swap::handle`].
// Inputs are handled one at a time and never stored in bulk, so boxing the event would
// only make the relay's code noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    /// The initiator may lock now (sent once, after the offer is published; re-send it after
    /// a restart if [`crate::Swap::started`] is false). The lock is emitted on the next
    /// chain-B tick. Participants ignore it.
    Start,
    /// A finalized event from `chain`. Feed the HTLC events whose hashlock matches the
    /// swap's; anything else is ignored. Re-feeding an event is harmless.
    Observed { chain: ChainId, event: ChainEvent },
    /// `chain`'s finalized head, as just read. Contract: send it only when caught up —
    /// every matching event at or below `finalized_height` has been fed — so `time_ms` is
    /// the chain's current finalized time. Deadline-guarded steps (locking, revealing the
    /// secret) are decided only on ticks. Tick every poll, even when nothing changed.
    Tick {
        chain: ChainId,
        finalized_height: u64,
        time_ms: UnixMillis,
    },
    /// How a submitted action ended: its transaction is final and took effect (`Ok`), or
    /// is final without effect or can never be sent (`Failed`).
    ActionOutcome {
        action_id: String,
        result: ActionResult,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", content = "reason", rename_all = "snake_case")]
pub enum ActionResult {
    Ok,
    Failed(String),
}

/// Something the relay must do or tell the user, returned by [`crate::Swap::handle`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "output", rename_all = "snake_case")]
pub enum Output {
    /// Prepare, persist and broadcast this transaction (after persisting the swap).
    Submit(SwapAction),
    /// Informational: a step happened.
    Progress(String),
    /// Something unexpected that an operator should look at; the swap continues.
    Warning(String),
    /// The swap will not complete; the machine keeps running to recover funds (refund).
    Aborted(AbortReason),
    /// Terminal: nothing more will happen.
    Finished(SwapOutcome),
}

/// A chain transaction the swap needs, with a stable id: the relay stores the prepared
/// transaction under `id` and re-broadcasts that same transaction after a crash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapAction {
    /// `<swap_id>/<lock|claim|refund>-<a|b>`, with `#<n>` appended for retry n ≥ 2.
    pub id: String,
    pub chain: ChainId,
    pub kind: ActionKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionKind {
    Lock {
        recipient: Address,
        asset: AssetId,
        amount: Amount,
        hashlock: Hash32,
        expiry_ms: UnixMillis,
    },
    Claim {
        lock_id: Hash32,
        preimage: Hash32,
    },
    Refund {
        lock_id: Hash32,
    },
}

/// How a swap ended for this party.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwapOutcome {
    /// We gave our asset and received the counterparty's.
    Swapped,
    /// Our lock came back to us; we received nothing.
    Refunded,
    /// We never locked anything.
    NothingLocked,
    /// We received the counterparty's asset and ours came back too (the counterparty
    /// failed to claim before our lock expired).
    SwappedAndRefunded,
    /// Our asset went to the counterparty and we did not get theirs. Only possible when
    /// the relay broke the plan's assumptions (offline longer than the reaction delay).
    Lost,
}

impl fmt::Display for SwapOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SwapOutcome::Swapped => "swapped",
            SwapOutcome::Refunded => "refunded",
            SwapOutcome::NothingLocked => "nothing locked",
            SwapOutcome::SwappedAndRefunded => "swapped and refunded",
            SwapOutcome::Lost => "lost",
        })
    }
}

/// Why a swap stopped going forward (specs/htlc.md §6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AbortReason {
    #[error("{}", describe_mismatches("counterparty", chain, lock_id, mismatches))]
    CounterpartyLockMismatch {
        chain: ChainId,
        lock_id: Hash32,
        mismatches: Vec<Mismatch>,
    },
    #[error(
        "{}; our relay or adapter locked different terms than the offer — investigate",
        describe_mismatches("our own lock", chain, lock_id, mismatches)
    )]
    OwnLockMismatch {
        chain: ChainId,
        lock_id: Hash32,
        mismatches: Vec<Mismatch>,
    },
    #[error("counterparty did not lock on {chain} by the accept deadline {accept_by_ms} ({clock_chain} time is now {chain_time_ms}); any lock of ours is refunded at its expiry")]
    CounterpartyAbsent {
        chain: ChainId,
        clock_chain: ChainId,
        accept_by_ms: UnixMillis,
        chain_time_ms: UnixMillis,
    },
    #[error("too late to lock: chain {chain} time {chain_time_ms} leaves {left} before the accept deadline {accept_by_ms}, but locking safely needs {required}", left = crate::plan::secs_signed(i128::from(*accept_by_ms) - i128::from(*chain_time_ms)), required = crate::plan::secs(*required_ms))]
    TooLateToLock {
        chain: ChainId,
        chain_time_ms: UnixMillis,
        accept_by_ms: UnixMillis,
        required_ms: u64,
    },
    #[error("claim window on {chain} closed: chain time {chain_time_ms} + settle {settle} is not before the lock's expiry {expiry_ms}; not revealing the secret, waiting to refund", settle = crate::plan::secs(*settle_ms))]
    ClaimWindowClosed {
        chain: ChainId,
        chain_time_ms: UnixMillis,
        settle_ms: u64,
        expiry_ms: UnixMillis,
    },
    #[error("our lock on {chain} failed: {reason}")]
    LockFailed { chain: ChainId, reason: String },
    #[error("counterparty's lock on {chain} was {what} before we locked; not locking")]
    CounterpartyLockGone { chain: ChainId, what: String },
}

fn describe_mismatches(
    whose: &str,
    chain: &ChainId,
    lock_id: &Hash32,
    mismatches: &[Mismatch],
) -> String {
    let details: Vec<String> = mismatches.iter().map(|m| format!("{whose} {m}")).collect();
    format!("{} on {chain} (lock {lock_id})", details.join("; "))
}

pub(crate) fn bounded_reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON_LEN {
        return reason.to_string();
    }
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_cut_at_a_char_boundary() {
        let long = "é".repeat(MAX_REASON_LEN);
        let cut = bounded_reason(&long);
        assert!(cut.len() <= MAX_REASON_LEN + '…'.len_utf8());
        assert_eq!(bounded_reason("short"), "short");
    }

    #[test]
    fn inputs_serialize_with_a_tag() {
        let input = Input::ActionOutcome {
            action_id: "s/claim-b".into(),
            result: ActionResult::Failed("expired".into()),
        };
        let json = serde_json::to_value(&input).unwrap();
        assert_eq!(json["input"], "action_outcome");
        assert_eq!(serde_json::from_value::<Input>(json).unwrap(), input);
    }
}
