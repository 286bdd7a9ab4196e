//! The record of every action a swap has emitted, so each is emitted once, retried a
//! bounded number of times, and reported as outstanding after a restart (specs/htlc.md §8).

use causeway_core::ChainId;
use serde::{Deserialize, Serialize};

use crate::io::{bounded_reason, ActionKind, SwapAction};
use crate::offer::{LegId, SwapId};

/// Attempts per claim or refund. A failed claim or refund is retried while its window is
/// open because funds depend on it; a lock is never retried (a failed lock aborts).
pub const MAX_ATTEMPTS: u32 = 3;

/// The three things a party ever does, each at most [`MAX_ATTEMPTS`] times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    /// Lock our own leg.
    Lock,
    /// Claim the counterparty's leg.
    Claim,
    /// Refund our own leg.
    Refund,
}

impl Slot {
    fn max_attempts(self) -> u32 {
        match self {
            Slot::Lock => 1,
            Slot::Claim | Slot::Refund => MAX_ATTEMPTS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Slot::Lock => "lock",
            Slot::Claim => "claim",
            Slot::Refund => "refund",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Emitted; its outcome is not known yet. Re-broadcast after a restart.
    Pending,
    /// Its effect is final on chain (reported by the relay or seen as an event).
    Succeeded,
    Failed(String),
    /// No longer relevant because the swap finished; never re-broadcast.
    Superseded,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub slot: Slot,
    pub number: u32,
    pub action: SwapAction,
    pub status: AttemptStatus,
}

/// What recording an outcome changed, for the machine to react to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Recorded {
    Unknown,
    Duplicate,
    Succeeded(Slot),
    Failed {
        slot: Slot,
        reason: String,
        exhausted: bool,
    },
}

/// At most 1 + 2 × [`MAX_ATTEMPTS`] entries by construction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionLog {
    attempts: Vec<Attempt>,
}

impl ActionLog {
    fn last(&self, slot: Slot) -> Option<&Attempt> {
        self.attempts.iter().rev().find(|a| a.slot == slot)
    }

    fn count(&self, slot: Slot) -> u32 {
        self.attempts.iter().filter(|a| a.slot == slot).count() as u32
    }

    pub fn attempted(&self, slot: Slot) -> bool {
        self.last(slot).is_some()
    }

    /// Never tried, or the last try failed and attempts remain.
    pub fn may_attempt(&self, slot: Slot) -> bool {
        match self.last(slot) {
            None => true,
            Some(last) => {
                matches!(last.status, AttemptStatus::Failed(_))
                    && self.count(slot) < slot.max_attempts()
            }
        }
    }

    /// The last attempt may still take (or has taken) effect that we have not seen yet.
    pub fn in_flight(&self, slot: Slot) -> bool {
        self.last(slot)
            .is_some_and(|a| matches!(a.status, AttemptStatus::Pending | AttemptStatus::Succeeded))
    }

    /// The last attempt failed for good (no attempts left or not retryable).
    pub fn failed_for_good(&self, slot: Slot) -> bool {
        self.last(slot)
            .is_some_and(|a| matches!(a.status, AttemptStatus::Failed(_)))
            && !self.may_attempt(slot)
    }

    /// Records a new attempt and returns the action to submit.
    pub(crate) fn begin(
        &mut self,
        swap: &SwapId,
        slot: Slot,
        leg: LegId,
        chain: &ChainId,
        kind: ActionKind,
    ) -> SwapAction {
        let number = self.count(slot) + 1;
        let mut id = format!("{swap}/{}-{}", slot.name(), leg.letter());
        if number > 1 {
            id.push_str(&format!("#{number}"));
        }
        let action = SwapAction {
            id,
            chain: chain.clone(),
            kind,
        };
        self.attempts.push(Attempt {
            slot,
            number,
            action: action.clone(),
            status: AttemptStatus::Pending,
        });
        action
    }

    /// An event showed the slot's effect on chain: its pending attempt succeeded.
    pub(crate) fn confirm(&mut self, slot: Slot) {
        for attempt in self.attempts.iter_mut().filter(|a| a.slot == slot) {
            if attempt.status == AttemptStatus::Pending {
                attempt.status = AttemptStatus::Succeeded;
            }
        }
    }

    pub(crate) fn record(&mut self, action_id: &str, ok: Result<(), &str>) -> Recorded {
        let Some(index) = self.attempts.iter().position(|a| a.action.id == action_id) else {
            return Recorded::Unknown;
        };
        let attempt = &mut self.attempts[index];
        if attempt.status != AttemptStatus::Pending {
            return Recorded::Duplicate;
        }
        let slot = attempt.slot;
        match ok {
            Ok(()) => {
                attempt.status = AttemptStatus::Succeeded;
                Recorded::Succeeded(slot)
            }
            Err(reason) => {
                let reason = bounded_reason(reason);
                attempt.status = AttemptStatus::Failed(reason.clone());
                Recorded::Failed {
                    slot,
                    reason,
                    exhausted: !self.may_attempt(slot),
                }
            }
        }
    }

    pub(crate) fn pending(&self) -> Vec<SwapAction> {
        self.attempts
            .iter()
            .filter(|a| a.status == AttemptStatus::Pending)
            .map(|a| a.action.clone())
            .collect()
    }

    pub(crate) fn supersede_pending(&mut self) {
        for attempt in &mut self.attempts {
            if attempt.status == AttemptStatus::Pending {
                attempt.status = AttemptStatus::Superseded;
            }
        }
    }

    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_core::Hash32;

    fn refund() -> ActionKind {
        ActionKind::Refund {
            lock_id: Hash32::ZERO,
        }
    }

    // specs/htlc.md §8.2: ids are stable, retries are numbered and bounded.
    #[test]
    fn retries_get_numbered_ids_until_exhausted() {
        let swap = SwapId::new("s1").unwrap();
        let chain = ChainId::new("chain-a").unwrap();
        let mut log = ActionLog::default();
        assert!(log.may_attempt(Slot::Refund));
        let first = log.begin(&swap, Slot::Refund, LegId::A, &chain, refund());
        assert_eq!(first.id, "s1/refund-a");
        assert!(!log.may_attempt(Slot::Refund));
        assert_eq!(log.pending(), vec![first.clone()]);

        assert_eq!(log.record("nope", Ok(())), Recorded::Unknown);
        assert!(matches!(
            log.record(&first.id, Err("too early")),
            Recorded::Failed {
                exhausted: false,
                ..
            }
        ));
        assert_eq!(log.record(&first.id, Ok(())), Recorded::Duplicate);
        let second = log.begin(&swap, Slot::Refund, LegId::A, &chain, refund());
        assert_eq!(second.id, "s1/refund-a#2");
        log.record(&second.id, Err("x"));
        let third = log.begin(&swap, Slot::Refund, LegId::A, &chain, refund());
        assert!(matches!(
            log.record(&third.id, Err("x")),
            Recorded::Failed {
                exhausted: true,
                ..
            }
        ));
        assert!(log.failed_for_good(Slot::Refund));
        assert!(log.pending().is_empty());
    }

    #[test]
    fn a_failed_lock_is_never_retried_and_events_confirm_pending_attempts() {
        let swap = SwapId::new("s1").unwrap();
        let chain = ChainId::new("chain-a").unwrap();
        let mut log = ActionLog::default();
        let lock = log.begin(&swap, Slot::Lock, LegId::B, &chain, refund());
        assert_eq!(lock.id, "s1/lock-b");
        log.confirm(Slot::Lock);
        assert!(log.in_flight(Slot::Lock));
        assert!(log.pending().is_empty());

        let mut log = ActionLog::default();
        let lock = log.begin(&swap, Slot::Lock, LegId::B, &chain, refund());
        log.record(&lock.id, Err("insufficient balance"));
        assert!(log.failed_for_good(Slot::Lock));
    }
}
