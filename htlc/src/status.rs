//! A read-only summary of a swap for logs, the CLI and monitoring (specs/htlc.md §7.6).

use causeway_core::{ChainId, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::actions::Slot;
use crate::io::{AbortReason, SwapAction, SwapOutcome};
use crate::offer::{LegId, SwapId};
use crate::swap::{LockState, Role, Swap};

/// Where a swap stands, derived from its facts (never stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", content = "outcome", rename_all = "snake_case")]
pub enum Phase {
    /// Initiator before `Start`.
    Created,
    /// Our lock was submitted and is not final yet.
    Locking,
    /// Waiting for the counterparty's lock (participant: the initiator's on A; initiator:
    /// the participant's on B).
    AwaitingCounterpartyLock,
    /// Claiming (or about to claim) the counterparty's lock.
    Claiming,
    /// Waiting for the counterparty to claim our lock (initiator: after claiming B;
    /// participant: after locking B).
    AwaitingCounterpartyClaim,
    /// The swap will not complete; waiting for our lock's expiry to refund it.
    Refunding,
    Finished(SwapOutcome),
}

/// A deadline on one chain's clock and how much of that clock's time is left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub chain: ChainId,
    pub at_ms: UnixMillis,
    /// Latest finalized time seen on `chain`.
    pub chain_time_ms: Option<UnixMillis>,
    /// `at_ms - chain_time_ms`; negative once passed; `None` before the first tick.
    pub left_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegStatus {
    pub chain: ChainId,
    pub lock: LockState,
    pub expiry: Deadline,
    pub finalized_height: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapStatus {
    pub swap_id: SwapId,
    pub role: Role,
    pub phase: Phase,
    pub leg_a: LegStatus,
    pub leg_b: LegStatus,
    /// Chain B time by which the participant's lock must be final.
    pub accept_by: Deadline,
    /// Last moment (exclusive) at which we may submit our claim on the counterparty's leg:
    /// for an initiator whose secret is still private, leg B's expiry minus settle(B);
    /// otherwise the counterparty lock's expiry.
    pub claim_window: Deadline,
    pub aborted: Option<AbortReason>,
    pub outcome: Option<SwapOutcome>,
    pub pending_actions: Vec<SwapAction>,
}

impl Swap {
    pub fn status(&self) -> SwapStatus {
        let offer = self.offer();
        let deadline = |leg: LegId, at_ms: UnixMillis| {
            let view = self.view(leg);
            Deadline {
                chain: offer.leg(leg).chain_id.clone(),
                at_ms,
                chain_time_ms: view.time_ms,
                left_ms: view.left_until(at_ms),
            }
        };
        let leg_status = |leg: LegId| LegStatus {
            chain: offer.leg(leg).chain_id.clone(),
            lock: self.lock_state(leg).clone(),
            expiry: deadline(leg, offer.leg(leg).expiry_ms),
            finalized_height: self.view(leg).finalized_height,
        };
        let their = self.role().their_leg();
        let their_expiry = offer.leg(their).expiry_ms;
        let claim_closes_ms = if self.role() == Role::Initiator && !self.claim_submitted_or_seen() {
            their_expiry.saturating_sub(self.requirements().settle_ms(their))
        } else {
            their_expiry
        };
        SwapStatus {
            swap_id: offer.swap_id.clone(),
            role: self.role(),
            phase: self.phase(),
            leg_a: leg_status(LegId::A),
            leg_b: leg_status(LegId::B),
            accept_by: deadline(LegId::B, offer.accept_by_ms),
            claim_window: deadline(their, claim_closes_ms),
            aborted: self.aborted().cloned(),
            outcome: self.outcome(),
            pending_actions: self.pending_actions(),
        }
    }

    fn claim_submitted_or_seen(&self) -> bool {
        self.action_log().attempted(Slot::Claim)
            || matches!(
                self.lock_state(self.role().their_leg()),
                LockState::Claimed { .. }
            )
    }

    /// The phase table of specs/htlc.md §7.6.
    pub fn phase(&self) -> Phase {
        if let Some(outcome) = self.outcome() {
            return Phase::Finished(outcome);
        }
        let (own, their) = (self.role().own_leg(), self.role().their_leg());
        let log = self.action_log();
        match (self.lock_state(own), self.lock_state(their)) {
            (LockState::NotSeen, _) if self.role() == Role::Initiator && !self.started() => {
                Phase::Created
            }
            (LockState::NotSeen, _) if log.attempted(Slot::Lock) => Phase::Locking,
            (LockState::NotSeen, _) => Phase::AwaitingCounterpartyLock,
            (LockState::Locked(_), _)
                if self.aborted().is_some() && !log.in_flight(Slot::Claim) =>
            {
                Phase::Refunding
            }
            (LockState::Locked(_), LockState::NotSeen) => Phase::AwaitingCounterpartyLock,
            (LockState::Locked(_), LockState::Locked(_)) => match self.role() {
                Role::Initiator => Phase::Claiming,
                Role::Participant => Phase::AwaitingCounterpartyClaim,
            },
            (LockState::Locked(_), LockState::Claimed { .. }) => Phase::AwaitingCounterpartyClaim,
            (LockState::Locked(_), LockState::Refunded { .. }) => Phase::Refunding,
            (LockState::Claimed { .. } | LockState::Refunded { .. }, _) => Phase::Claiming,
        }
    }
}
