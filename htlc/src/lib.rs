//! The HTLC atomic-swap protocol as a pure state machine, and signed swap offers.
//!
//! Nothing here does I/O, reads a clock or spawns a task: chain time arrives only as
//! inputs ([`Input::Tick`], event timestamps). The protocol, formulas and invariants are
//! in `specs/htlc.md`; section numbers in comments and tests refer to it.
//!
//! # How a relay drives a swap (specs/htlc.md §8)
//!
//! Initiator:
//! 1. `let secret = Secret::generate();` read both chains' [`causeway_core::ChainInfo`]
//!    into [`ChainParams::from_info`] and [`ChainTimes`] (finalized head times).
//! 2. `let plan = plan(&a, &b, &policy, now, accept_window_ms)?;` build an [`Offer`] with
//!    [`Offer::new`] from `plan.deadlines`, `secret.hashlock()` and [`SwapId::random`];
//!    sign it with [`SignedOffer::sign`] and publish [`SignedOffer::encode`].
//! 3. `let mut swap = Swap::initiator(offer, secret, &a, &b, &policy, now)?;` persist it,
//!    then feed [`Input::Start`]; the lock is emitted on the next chain-B tick.
//!
//! Participant: [`SignedOffer::decode`] (verifies), show the terms and the initiator key,
//! then `Swap::participant(offer, &a, &b, &policy, now)?` and persist it.
//!
//! Both: per chain, feed finalized HTLC events ([`Input::Observed`]) and, once caught up,
//! the head ([`Input::Tick`]) every poll; feed transaction outcomes
//! ([`Input::ActionOutcome`]). After every [`Swap::handle`]: persist the swap, then
//! prepare, store (keyed by action id) and broadcast each [`Output::Submit`]. After a
//! restart: load the swap, re-broadcast the stored transactions of
//! [`Swap::pending_actions`], re-feed [`Input::Start`] if an initiator has not
//! [`Swap::started`], and keep feeding from the persisted cursors.

mod actions;
mod error;
mod io;
mod offer;
mod plan;
mod secret;
mod signed;
mod status;
mod swap;
mod verify;

pub use actions::{ActionLog, Attempt, AttemptStatus, Slot, MAX_ATTEMPTS};
pub use error::{OfferError, PlanError, SetupError};
pub use io::{
    AbortReason, ActionKind, ActionResult, Input, Output, SwapAction, SwapOutcome, MAX_REASON_LEN,
};
pub use offer::{
    HashAlg, IdentityKey, Leg, LegId, Offer, SwapId, MAX_SWAP_ID_LEN, OFFER_VERSION, PREIMAGE_LEN,
};
pub use plan::{
    check_plan, plan, ChainParams, ChainTimes, Deadlines, Plan, Requirements, SafetyPolicy, Stage,
    MAX_BLOCK_TIME_MS, MAX_CONFIRMATION_DEPTH, MAX_LOCK_DURATION_MS, MAX_POLICY_DELAY_MS,
    MIN_REACTION_DELAY_MS,
};
pub use secret::Secret;
pub use signed::{SignedOffer, MAX_OFFER_STRING_LEN, OFFER_PREFIX};
pub use status::{Deadline, LegStatus, Phase, SwapStatus};
pub use swap::{ChainView, LockState, Role, SeenLock, Swap, SwapProgress};
pub use verify::{mismatches, LockTerms, Mismatch};
