//! The swap state machine for both roles (specs/htlc.md §7).
//!
//! The machine keeps *facts* (what each chain has shown, which actions were emitted) and,
//! after every input, applies a fixed list of rules to them. Because rules look only at
//! facts, feeding an input twice changes nothing and a restored machine decides exactly
//! what the original would have.

use causeway_core::{ChainEvent, ChainId, EventKind, Hash32, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::actions::{ActionLog, Recorded, Slot};
use crate::error::SetupError;
use crate::io::{AbortReason, ActionKind, ActionResult, Input, Output, SwapAction, SwapOutcome};
use crate::offer::{LegId, Offer, SwapId};
use crate::plan::{check_plan, ChainParams, ChainTimes, Requirements, SafetyPolicy, Stage};
use crate::secret::Secret;
use crate::verify::{mismatches, LockTerms};

/// Which side of the swap this machine plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Holds the secret, locks leg A first, claims leg B.
    Initiator,
    /// Locks leg B after verifying leg A, learns the secret from the claim on B, claims A.
    Participant,
}

impl Role {
    pub fn own_leg(self) -> LegId {
        match self {
            Role::Initiator => LegId::A,
            Role::Participant => LegId::B,
        }
    }

    pub fn their_leg(self) -> LegId {
        self.own_leg().other()
    }
}

/// The latest finalized head seen on one chain. Only moves forward.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainView {
    pub finalized_height: Option<u64>,
    pub time_ms: Option<UnixMillis>,
}

impl ChainView {
    fn advance_time(&mut self, time_ms: UnixMillis) {
        self.time_ms = Some(self.time_ms.map_or(time_ms, |t| t.max(time_ms)));
    }

    fn advance(&mut self, height: u64, time_ms: UnixMillis) {
        self.finalized_height = Some(self.finalized_height.map_or(height, |h| h.max(height)));
        self.advance_time(time_ms);
    }

    /// Milliseconds from the latest known chain time to `deadline_ms` (negative once past).
    pub fn left_until(&self, deadline_ms: UnixMillis) -> Option<i64> {
        let left = i128::from(deadline_ms) - i128::from(self.time_ms?);
        Some(left.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }
}

/// A lock this swap tracks, as the chain reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenLock {
    pub lock_id: Hash32,
    /// The expiry the chain enforces (for our own lock, refunds are timed by this).
    pub expiry_ms: UnixMillis,
    pub locked_at_ms: UnixMillis,
}

/// One leg's lock as far as finalized events show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LockState {
    NotSeen,
    Locked(SeenLock),
    /// Claimed by the leg's recipient.
    Claimed {
        lock: SeenLock,
        preimage: Hash32,
    },
    /// Returned to the leg's sender.
    Refunded {
        lock: SeenLock,
    },
}

impl LockState {
    pub fn lock(&self) -> Option<&SeenLock> {
        match self {
            LockState::NotSeen => None,
            LockState::Locked(lock)
            | LockState::Claimed { lock, .. }
            | LockState::Refunded { lock } => Some(lock),
        }
    }
}

/// A swap in progress, for either role. Serialize it after every [`Swap::handle`] and
/// before performing the returned actions; deserialize it to resume (specs/htlc.md §8).
///
/// Its offer never changes once made, so a store may keep the offer once and only the
/// [`SwapProgress`] after each step, joining them again with [`Swap::resume`]; serialized
/// whole, a swap is its offer beside its progress's fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Swap {
    offer: Offer,
    #[serde(flatten)]
    progress: SwapProgress,
}

/// Everything of a [`Swap`] but its offer: what its steps change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapProgress {
    role: Role,
    requirements: Requirements,
    /// The initiator's from the start; the participant's once a claim reveals it.
    secret: Option<Secret>,
    /// The secret may be known to others: a claim carrying it was seen or submitted.
    preimage_public: bool,
    started: bool,
    view_a: ChainView,
    view_b: ChainView,
    leg_a: LockState,
    leg_b: LockState,
    actions: ActionLog,
    aborted: Option<AbortReason>,
    outcome: Option<SwapOutcome>,
}

impl SwapProgress {
    pub fn outcome(&self) -> Option<SwapOutcome> {
        self.outcome
    }
}

impl Swap {
    /// The initiator's machine, right after making the offer. Checks the plan at
    /// [`Stage::Offer`] against the chains' current finalized times `now`.
    pub fn initiator(
        offer: Offer,
        secret: Secret,
        chain_a: &ChainParams,
        chain_b: &ChainParams,
        policy: &SafetyPolicy,
        now: ChainTimes,
    ) -> Result<Swap, SetupError> {
        if secret.hashlock() != offer.hashlock {
            return Err(SetupError::SecretMismatch {
                hashlock: offer.hashlock.to_hex(),
            });
        }
        Swap::new(
            Role::Initiator,
            offer,
            Some(secret),
            chain_a,
            chain_b,
            policy,
            now,
            Stage::Offer,
        )
    }

    /// The participant's machine, when accepting a (verified) offer. Checks the plan at
    /// [`Stage::Accept`] against the chains' current finalized times `now`.
    pub fn participant(
        offer: Offer,
        chain_a: &ChainParams,
        chain_b: &ChainParams,
        policy: &SafetyPolicy,
        now: ChainTimes,
    ) -> Result<Swap, SetupError> {
        Swap::new(
            Role::Participant,
            offer,
            None,
            chain_a,
            chain_b,
            policy,
            now,
            Stage::Accept,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        role: Role,
        offer: Offer,
        secret: Option<Secret>,
        chain_a: &ChainParams,
        chain_b: &ChainParams,
        policy: &SafetyPolicy,
        now: ChainTimes,
        stage: Stage,
    ) -> Result<Swap, SetupError> {
        offer.validate()?;
        let plan = check_plan(&offer, chain_a, chain_b, policy, now, stage)?;
        let view = |time_ms| ChainView {
            finalized_height: None,
            time_ms: Some(time_ms),
        };
        Ok(Swap {
            offer,
            progress: SwapProgress {
                role,
                requirements: plan.requirements,
                secret,
                preimage_public: false,
                started: false,
                view_a: view(now.a_ms),
                view_b: view(now.b_ms),
                leg_a: LockState::NotSeen,
                leg_b: LockState::NotSeen,
                actions: ActionLog::default(),
                aborted: None,
                outcome: None,
            },
        })
    }

    /// Joins a stored offer and progress back into the swap they were split from (see
    /// [`Swap`]). Refuses parts that cannot belong together: progress planned for other
    /// chains, or a secret that does not open the offer's hashlock.
    pub fn resume(offer: Offer, progress: SwapProgress) -> Result<Swap, SetupError> {
        let req = &progress.requirements;
        if req.chain_a != offer.leg_a.chain_id || req.chain_b != offer.leg_b.chain_id {
            return Err(SetupError::ProgressMismatch {
                swap_id: offer.swap_id.to_string(),
                found_a: req.chain_a.clone(),
                found_b: req.chain_b.clone(),
                offer_a: offer.leg_a.chain_id.clone(),
                offer_b: offer.leg_b.chain_id.clone(),
            });
        }
        if progress
            .secret
            .as_ref()
            .is_some_and(|s| s.hashlock() != offer.hashlock)
        {
            return Err(SetupError::SecretMismatch {
                hashlock: offer.hashlock.to_hex(),
            });
        }
        Ok(Swap { offer, progress })
    }

    /// What the swap's steps change: everything but its offer.
    pub fn progress(&self) -> &SwapProgress {
        &self.progress
    }

    pub fn role(&self) -> Role {
        self.progress.role
    }

    pub fn offer(&self) -> &Offer {
        &self.offer
    }

    pub fn swap_id(&self) -> &SwapId {
        &self.offer.swap_id
    }

    pub fn requirements(&self) -> &Requirements {
        &self.progress.requirements
    }

    pub fn secret(&self) -> Option<&Secret> {
        self.progress.secret.as_ref()
    }

    pub fn aborted(&self) -> Option<&AbortReason> {
        self.progress.aborted.as_ref()
    }

    pub fn outcome(&self) -> Option<SwapOutcome> {
        self.progress.outcome
    }

    pub fn is_finished(&self) -> bool {
        self.progress.outcome.is_some()
    }

    pub fn started(&self) -> bool {
        self.progress.started
    }

    pub fn lock_state(&self, leg: LegId) -> &LockState {
        match leg {
            LegId::A => &self.progress.leg_a,
            LegId::B => &self.progress.leg_b,
        }
    }

    pub fn view(&self, leg: LegId) -> &ChainView {
        match leg {
            LegId::A => &self.progress.view_a,
            LegId::B => &self.progress.view_b,
        }
    }

    pub fn action_log(&self) -> &ActionLog {
        &self.progress.actions
    }

    /// Actions emitted whose outcome has not been fed back: after a restart the relay
    /// re-broadcasts the transactions it prepared for these ids (or prepares them if it
    /// crashed before), then feeds each outcome as [`Input::ActionOutcome`].
    pub fn pending_actions(&self) -> Vec<SwapAction> {
        self.progress.actions.pending()
    }

    /// Applies one input and returns what to do and tell (specs/htlc.md §7).
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        if self.progress.outcome.is_some() {
            return out;
        }
        let fresh = match &input {
            Input::Tick { chain, .. } => self.leg_on(chain),
            _ => None,
        };
        match input {
            Input::Start => {
                if self.progress.role == Role::Initiator && !self.progress.started {
                    self.progress.started = true;
                    out.push(Output::Progress("swap started".into()));
                }
            }
            Input::Observed { chain, event } => self.observe(chain, event, &mut out),
            Input::Tick {
                chain,
                finalized_height,
                time_ms,
            } => match self.leg_on(&chain) {
                Some(leg) => self.view_mut(leg).advance(finalized_height, time_ms),
                None => out.push(self.foreign_chain(&chain)),
            },
            Input::ActionOutcome { action_id, result } => {
                self.record_outcome(&action_id, result, &mut out)
            }
        }
        self.advance(fresh, &mut out);
        out
    }

    fn leg_on(&self, chain: &ChainId) -> Option<LegId> {
        [LegId::A, LegId::B]
            .into_iter()
            .find(|leg| &self.offer.leg(*leg).chain_id == chain)
    }

    fn foreign_chain(&self, chain: &ChainId) -> Output {
        Output::Warning(format!(
            "ignoring input from chain {chain}: swap {} runs on {} and {}",
            self.offer.swap_id, self.offer.leg_a.chain_id, self.offer.leg_b.chain_id
        ))
    }

    fn view_mut(&mut self, leg: LegId) -> &mut ChainView {
        match leg {
            LegId::A => &mut self.progress.view_a,
            LegId::B => &mut self.progress.view_b,
        }
    }

    fn lock_state_mut(&mut self, leg: LegId) -> &mut LockState {
        match leg {
            LegId::A => &mut self.progress.leg_a,
            LegId::B => &mut self.progress.leg_b,
        }
    }

    fn abort(&mut self, reason: AbortReason, out: &mut Vec<Output>) {
        if self.progress.aborted.is_none() {
            self.progress.aborted = Some(reason.clone());
            out.push(Output::Aborted(reason));
        }
    }

    // ---- facts from chain events (§7.2) ----

    fn observe(&mut self, chain: ChainId, event: ChainEvent, out: &mut Vec<Output>) {
        if event.chain_id != chain {
            out.push(Output::Warning(format!(
                "ignoring event {} stamped with chain {} but delivered as from {chain}",
                event.tx_hash, event.chain_id
            )));
            return;
        }
        let Some(leg) = self.leg_on(&chain) else {
            out.push(self.foreign_chain(&chain));
            return;
        };
        self.view_mut(leg).advance_time(event.time_ms);
        match &event.kind {
            EventKind::HtlcLocked {
                lock_id,
                sender,
                recipient,
                asset,
                amount,
                hashlock,
                expiry_ms,
            } if *hashlock == self.offer.hashlock => {
                let terms = LockTerms {
                    recipient,
                    asset,
                    amount: *amount,
                    hashlock,
                    expiry_ms: *expiry_ms,
                };
                self.observe_lock(leg, *lock_id, sender.as_str(), &terms, event.time_ms, out)
            }
            EventKind::HtlcClaimed {
                lock_id,
                hashlock,
                preimage,
                ..
            } if *hashlock == self.offer.hashlock => {
                self.observe_claim(leg, *lock_id, *preimage, out)
            }
            EventKind::HtlcRefunded {
                lock_id, hashlock, ..
            } if *hashlock == self.offer.hashlock => self.close_lock(leg, *lock_id, None, out),
            _ => {}
        }
    }

    fn observe_lock(
        &mut self,
        leg: LegId,
        lock_id: Hash32,
        sender: &str,
        terms: &LockTerms<'_>,
        time_ms: UnixMillis,
        out: &mut Vec<Output>,
    ) {
        let expected = self.offer.leg(leg);
        let chain = expected.chain_id.clone();
        if sender != expected.sender.as_str() {
            out.push(Output::Progress(format!(
                "ignoring lock {lock_id} on {chain} by {sender}: this swap's {leg} is locked by {}",
                expected.sender
            )));
            return;
        }
        match self.lock_state(leg) {
            LockState::NotSeen => {}
            state if state.lock().is_some_and(|l| l.lock_id == lock_id) => return,
            _ => {
                out.push(Output::Warning(format!(
                    "ignoring a second lock {lock_id} by {sender} on {chain}; the swap tracks its first lock"
                )));
                return;
            }
        }
        let found = mismatches(expected, &self.offer.hashlock, terms);
        let seen = SeenLock {
            lock_id,
            expiry_ms: terms.expiry_ms,
            locked_at_ms: time_ms,
        };
        let own = leg == self.progress.role.own_leg();
        // Our own lock is tracked even when wrong, so that it is refunded at its expiry.
        if own || found.is_empty() {
            *self.lock_state_mut(leg) = LockState::Locked(seen);
        }
        if own {
            self.progress.actions.confirm(Slot::Lock);
        }
        if found.is_empty() {
            out.push(Output::Progress(format!(
                "{leg} locked on {chain} as offered (lock {lock_id})"
            )));
        } else if own {
            self.abort(
                AbortReason::OwnLockMismatch {
                    chain,
                    lock_id,
                    mismatches: found,
                },
                out,
            );
        } else {
            // Not recorded: a lock we refuse must never become claimable or lockable-against.
            self.abort(
                AbortReason::CounterpartyLockMismatch {
                    chain,
                    lock_id,
                    mismatches: found,
                },
                out,
            );
        }
    }

    fn observe_claim(
        &mut self,
        leg: LegId,
        lock_id: Hash32,
        preimage: Hash32,
        out: &mut Vec<Output>,
    ) {
        if !Secret::opens(&preimage, &self.offer.hashlock) {
            out.push(Output::Warning(format!(
                "claim of lock {lock_id} on {} reports a preimage that does not open the swap's hashlock; ignoring it",
                self.offer.leg(leg).chain_id
            )));
            return;
        }
        self.progress.preimage_public = true;
        if self.progress.secret.is_none() {
            self.progress.secret = Some(Secret::from_bytes(preimage.0));
            out.push(Output::Progress(format!(
                "learned the secret from a claim on {}",
                self.offer.leg(leg).chain_id
            )));
        }
        self.close_lock(leg, lock_id, Some(preimage), out);
    }

    /// A tracked open lock was claimed (`preimage` given) or refunded: record it, and
    /// confirm our action that had this effect, if any.
    fn close_lock(
        &mut self,
        leg: LegId,
        lock_id: Hash32,
        preimage: Option<Hash32>,
        out: &mut Vec<Output>,
    ) {
        let LockState::Locked(lock) = self.lock_state(leg) else {
            return;
        };
        if lock.lock_id != lock_id {
            return;
        }
        let lock = lock.clone();
        let (closed, ours, verb) = match preimage {
            Some(preimage) => (
                LockState::Claimed { lock, preimage },
                (self.progress.role.their_leg(), Slot::Claim),
                "claimed",
            ),
            None => (
                LockState::Refunded { lock },
                (self.progress.role.own_leg(), Slot::Refund),
                "refunded",
            ),
        };
        *self.lock_state_mut(leg) = closed;
        if leg == ours.0 {
            self.progress.actions.confirm(ours.1);
        }
        out.push(Output::Progress(format!("{leg} {verb} (lock {lock_id})")));
    }

    fn record_outcome(&mut self, action_id: &str, result: ActionResult, out: &mut Vec<Output>) {
        let recorded = match &result {
            ActionResult::Ok => self.progress.actions.record(action_id, Ok(())),
            ActionResult::Failed(reason) => self.progress.actions.record(action_id, Err(reason)),
        };
        match recorded {
            Recorded::Unknown => out.push(Output::Warning(format!(
                "ignoring outcome of unknown action {action_id} for swap {}",
                self.offer.swap_id
            ))),
            Recorded::Duplicate => {}
            Recorded::Succeeded(_) => {
                out.push(Output::Progress(format!("action {action_id} is final")))
            }
            Recorded::Failed {
                slot,
                reason,
                exhausted,
            } => {
                let own = self.progress.role.own_leg();
                if slot == Slot::Lock && self.lock_state(own) == &LockState::NotSeen {
                    let chain = self.offer.leg(own).chain_id.clone();
                    self.abort(AbortReason::LockFailed { chain, reason }, out);
                } else if exhausted {
                    out.push(Output::Warning(format!(
                        "action {action_id} failed ({reason}) and no attempts remain; an operator must act"
                    )));
                } else {
                    out.push(Output::Warning(format!(
                        "action {action_id} failed ({reason}); will retry if still useful"
                    )));
                }
            }
        }
    }

    // ---- rules (§7.3), applied in this order after every input ----

    /// `fresh` is the leg whose chain just ticked: decisions guarded by a deadline are
    /// taken only on a tick of the chain that judges it, because between ticks (e.g. while
    /// a relay catches up on a backlog of events) the known chain time can be far behind.
    fn advance(&mut self, fresh: Option<LegId>, out: &mut Vec<Output>) {
        if self.progress.outcome.is_some() {
            return;
        }
        self.rule_lock(fresh == Some(LegId::B), out);
        self.rule_counterparty_absent(out);
        self.rule_claim(fresh == Some(self.progress.role.their_leg()), out);
        self.rule_refund(out);
        self.rule_finish(out);
    }

    fn submit(&mut self, slot: Slot, leg: LegId, kind: ActionKind, out: &mut Vec<Output>) {
        let chain = self.offer.leg(leg).chain_id.clone();
        let action = self
            .progress
            .actions
            .begin(&self.offer.swap_id, slot, leg, &chain, kind);
        out.push(Output::Submit(action));
    }

    /// R1: lock our leg once ready, on a chain-B tick, if enough chain-B time remains
    /// before accept_by.
    fn rule_lock(&mut self, b_fresh: bool, out: &mut Vec<Output>) {
        let (own, their) = (self.progress.role.own_leg(), self.progress.role.their_leg());
        if self.progress.aborted.is_some()
            || self.lock_state(own) != &LockState::NotSeen
            || self.progress.actions.attempted(Slot::Lock)
        {
            return;
        }
        let (ready, stage) = match self.progress.role {
            Role::Initiator => (self.progress.started, Stage::Offer),
            Role::Participant => match self.lock_state(their) {
                LockState::NotSeen => (false, Stage::Accept),
                LockState::Locked(_) => (true, Stage::Accept),
                gone => {
                    let what = if matches!(gone, LockState::Claimed { .. }) {
                        "claimed"
                    } else {
                        "refunded"
                    };
                    let chain = self.offer.leg(their).chain_id.clone();
                    self.abort(
                        AbortReason::CounterpartyLockGone {
                            chain,
                            what: what.into(),
                        },
                        out,
                    );
                    return;
                }
            },
        };
        let Some(now_b) = self.progress.view_b.time_ms.filter(|_| ready && b_fresh) else {
            return;
        };
        let required_ms = self.progress.requirements.accept_room_ms(stage);
        if now_b.saturating_add(required_ms) > self.offer.accept_by_ms {
            let reason = AbortReason::TooLateToLock {
                chain: self.offer.leg_b.chain_id.clone(),
                chain_time_ms: now_b,
                accept_by_ms: self.offer.accept_by_ms,
                required_ms,
            };
            self.abort(reason, out);
            return;
        }
        let leg = self.offer.leg(own);
        let kind = ActionKind::Lock {
            recipient: leg.recipient.clone(),
            asset: leg.asset.clone(),
            amount: leg.amount,
            hashlock: self.offer.hashlock,
            expiry_ms: leg.expiry_ms,
        };
        self.submit(Slot::Lock, own, kind, out);
    }

    /// R2: no acceptable counterparty lock by accept_by (chain B time) → abort.
    fn rule_counterparty_absent(&mut self, out: &mut Vec<Output>) {
        let their = self.progress.role.their_leg();
        let committed =
            self.progress.role == Role::Participant || self.progress.actions.attempted(Slot::Lock);
        if self.progress.aborted.is_some()
            || !committed
            || self.lock_state(their) != &LockState::NotSeen
        {
            return;
        }
        let Some(now_b) = self.progress.view_b.time_ms else {
            return;
        };
        if now_b >= self.offer.accept_by_ms {
            let reason = AbortReason::CounterpartyAbsent {
                chain: self.offer.leg(their).chain_id.clone(),
                clock_chain: self.offer.leg_b.chain_id.clone(),
                accept_by_ms: self.offer.accept_by_ms,
                chain_time_ms: now_b,
            };
            self.abort(reason, out);
        }
    }

    /// R3: claim the counterparty's verified lock once we have given ours. While the
    /// secret is still private, only on a tick of that lock's chain inside the claim
    /// window (§7.4); once public, at any input until the lock's expiry.
    fn rule_claim(&mut self, their_fresh: bool, out: &mut Vec<Output>) {
        let (own, their) = (self.progress.role.own_leg(), self.progress.role.their_leg());
        let LockState::Locked(lock) = self.lock_state(their) else {
            return;
        };
        let lock = lock.clone();
        let given = matches!(
            self.lock_state(own),
            LockState::Locked(_) | LockState::Claimed { .. }
        );
        let Some(secret) = self.progress.secret else {
            return;
        };
        if !given || !self.progress.actions.may_attempt(Slot::Claim) {
            return;
        }
        let now = self.view(their).time_ms;
        if self.progress.preimage_public {
            if now.is_some_and(|t| t >= lock.expiry_ms) {
                return;
            }
        } else {
            let Some(now) = now.filter(|_| self.progress.aborted.is_none() && their_fresh) else {
                return;
            };
            let settle_ms = self.progress.requirements.settle_ms(their);
            if now.saturating_add(settle_ms) >= lock.expiry_ms {
                let reason = AbortReason::ClaimWindowClosed {
                    chain: self.offer.leg(their).chain_id.clone(),
                    chain_time_ms: now,
                    settle_ms,
                    expiry_ms: lock.expiry_ms,
                };
                self.abort(reason, out);
                return;
            }
        }
        self.progress.preimage_public = true;
        let kind = ActionKind::Claim {
            lock_id: lock.lock_id,
            preimage: secret.preimage(),
        };
        self.submit(Slot::Claim, their, kind, out);
    }

    /// R4: refund our lock once its own chain's time reaches the lock's expiry.
    fn rule_refund(&mut self, out: &mut Vec<Output>) {
        let own = self.progress.role.own_leg();
        let LockState::Locked(lock) = self.lock_state(own) else {
            return;
        };
        let lock_id = lock.lock_id;
        let expired = self.view(own).time_ms.is_some_and(|t| t >= lock.expiry_ms);
        if expired && self.progress.actions.may_attempt(Slot::Refund) {
            self.submit(Slot::Refund, own, ActionKind::Refund { lock_id }, out);
        }
    }

    /// R5: finish once both legs are settled as far as we are concerned (§7.5).
    fn rule_finish(&mut self, out: &mut Vec<Output>) {
        let Some(outcome) = self.settled_outcome() else {
            return;
        };
        self.progress.outcome = Some(outcome);
        self.progress.actions.supersede_pending();
        if outcome == SwapOutcome::Lost {
            out.push(Output::Warning(format!(
                "swap {}: our asset was claimed but we could not claim the counterparty's before it expired",
                self.offer.swap_id
            )));
        }
        out.push(Output::Finished(outcome));
    }

    fn settled_outcome(&self) -> Option<SwapOutcome> {
        let (own, their) = (self.progress.role.own_leg(), self.progress.role.their_leg());
        let claim_unsettled = self.progress.actions.in_flight(Slot::Claim);
        match (self.lock_state(own), self.lock_state(their)) {
            (LockState::NotSeen, _) => {
                let gave_up = self.progress.aborted.is_some()
                    || self.progress.actions.failed_for_good(Slot::Lock);
                (gave_up && !self.progress.actions.in_flight(Slot::Lock))
                    .then_some(SwapOutcome::NothingLocked)
            }
            (LockState::Locked(_), _) => None,
            (LockState::Refunded { .. }, LockState::Claimed { .. }) => {
                Some(SwapOutcome::SwappedAndRefunded)
            }
            (LockState::Refunded { .. }, _) => (!claim_unsettled).then_some(SwapOutcome::Refunded),
            (LockState::Claimed { .. }, LockState::Claimed { .. }) => Some(SwapOutcome::Swapped),
            (LockState::Claimed { .. }, LockState::Locked(lock)) => {
                let expired = self
                    .view(their)
                    .time_ms
                    .is_some_and(|t| t >= lock.expiry_ms);
                let hopeless = expired || !self.progress.actions.may_attempt(Slot::Claim);
                (!claim_unsettled && hopeless).then_some(SwapOutcome::Lost)
            }
            (LockState::Claimed { .. }, _) => (!claim_unsettled).then_some(SwapOutcome::Lost),
        }
    }
}

#[cfg(test)]
#[path = "swap_tests.rs"]
mod tests;
