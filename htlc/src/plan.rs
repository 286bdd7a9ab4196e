//! Deadline planning and checking (specs/htlc.md §4). All times are chain block times in
//! milliseconds; T1 is on chain A's clock, T2 and accept_by on chain B's.

use std::fmt;

use causeway_core::{ChainId, ChainInfo, FinalityRule, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::error::PlanError;
use crate::offer::{LegId, Offer};

/// Slowest block interval a chain may declare; beyond this the arithmetic below stops
/// describing a chain anyone would swap on.
pub const MAX_BLOCK_TIME_MS: u64 = 3_600_000;
/// Deepest confirmation rule accepted.
pub const MAX_CONFIRMATION_DEPTH: u64 = 1_000;
/// Largest value any safety-policy delay may take (one day).
pub const MAX_POLICY_DELAY_MS: u64 = 86_400_000;
/// A relay cannot react faster than this; smaller settings are a misconfiguration.
pub const MIN_REACTION_DELAY_MS: u64 = 1_000;
/// Longest time any leg may stay locked, counted from the plan's "now" (one week), so a
/// typo in a deadline cannot freeze funds for years.
pub const MAX_LOCK_DURATION_MS: u64 = 7 * 86_400_000;

/// What the plan needs to know about one chain: its declared finality and block time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainParams {
    pub chain_id: ChainId,
    pub finality: FinalityRule,
    pub block_time_ms: u64,
}

impl ChainParams {
    pub fn from_info(info: &ChainInfo) -> ChainParams {
        ChainParams {
            chain_id: info.chain_id.clone(),
            finality: info.finality,
            block_time_ms: info.block_time_ms,
        }
    }

    /// Longest time from submitting a transaction to its block being final: one block to
    /// be included, `depth` more to be final. Also bounds how far real chain time can be
    /// ahead of the finalized head's time.
    pub fn finality_ms(&self) -> u64 {
        let depth = match self.finality {
            FinalityRule::Instant => 0,
            FinalityRule::Confirmations { depth } => depth,
        };
        depth.saturating_add(1).saturating_mul(self.block_time_ms)
    }

    pub fn validate(&self) -> Result<(), PlanError> {
        let invalid = |reason: String| PlanError::InvalidChainParams {
            chain: self.chain_id.clone(),
            reason,
        };
        if self.block_time_ms == 0 || self.block_time_ms > MAX_BLOCK_TIME_MS {
            return Err(invalid(format!(
                "declared block time {} ms is outside 1..={MAX_BLOCK_TIME_MS} ms; check the chain's info",
                self.block_time_ms
            )));
        }
        if let FinalityRule::Confirmations { depth } = self.finality {
            if depth > MAX_CONFIRMATION_DEPTH {
                return Err(invalid(format!(
                    "finality depth {depth} exceeds the supported {MAX_CONFIRMATION_DEPTH} confirmations"
                )));
            }
        }
        Ok(())
    }
}

/// The operator's assumptions about its own relay and the chains' clocks.
///
/// `Default` is the safe choice for a relay polling every second or so on NTP-synced chains.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyPolicy {
    /// Worst time from an event or head being final on a chain to the relay's resulting
    /// transaction being broadcast (polling, preparing, short outages included).
    pub reaction_delay_ms: u64,
    /// Largest difference between chain A's and chain B's block clocks.
    pub clock_skew_ms: u64,
    /// Slack added to every requirement for what the model leaves out.
    pub extra_margin_ms: u64,
}

impl Default for SafetyPolicy {
    fn default() -> Self {
        SafetyPolicy {
            reaction_delay_ms: 5_000,
            clock_skew_ms: 2_000,
            extra_margin_ms: 2_000,
        }
    }
}

impl SafetyPolicy {
    pub fn validate(&self) -> Result<(), PlanError> {
        let fields = [
            (
                "reaction_delay_ms",
                self.reaction_delay_ms,
                MIN_REACTION_DELAY_MS,
            ),
            ("clock_skew_ms", self.clock_skew_ms, 0),
            ("extra_margin_ms", self.extra_margin_ms, 0),
        ];
        for (field, value_ms, min) in fields {
            if !(min..=MAX_POLICY_DELAY_MS).contains(&value_ms) {
                return Err(PlanError::InvalidPolicy {
                    field,
                    value_ms,
                    reason: format!("must be within {min}..={MAX_POLICY_DELAY_MS} ms"),
                });
            }
        }
        Ok(())
    }
}

/// When a plan is checked: the initiator making the offer, or the participant accepting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Offer,
    Accept,
}

impl Stage {
    pub(crate) fn advice(self) -> &'static str {
        match self {
            Stage::Offer => "set the accept deadline later (plan it from the current chain B time)",
            Stage::Accept => {
                "too little time is left to lock safely: do not accept, ask for a fresh offer"
            }
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Offer => "offer creation",
            Stage::Accept => "acceptance",
        })
    }
}

/// Current finalized block times of both chains, as read from their heads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainTimes {
    pub a_ms: UnixMillis,
    pub b_ms: UnixMillis,
}

/// A swap's three deadlines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// T1, chain A time: the initiator's lock expires.
    pub leg_a_expiry_ms: UnixMillis,
    /// T2, chain B time: the participant's lock expires.
    pub leg_b_expiry_ms: UnixMillis,
    /// Chain B time by which the participant's lock must be final.
    pub accept_by_ms: UnixMillis,
}

impl Deadlines {
    pub fn of(offer: &Offer) -> Deadlines {
        Deadlines {
            leg_a_expiry_ms: offer.leg_a.expiry_ms,
            leg_b_expiry_ms: offer.leg_b.expiry_ms,
            accept_by_ms: offer.accept_by_ms,
        }
    }
}

/// The quantities every rule is built from (specs/htlc.md §4.1), derived from both chains'
/// declared parameters and the policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirements {
    pub chain_a: ChainId,
    pub chain_b: ChainId,
    pub finality_a_ms: u64,
    pub finality_b_ms: u64,
    pub reaction_ms: u64,
    pub clock_skew_ms: u64,
    pub extra_ms: u64,
}

impl Requirements {
    pub fn derive(
        a: &ChainParams,
        b: &ChainParams,
        policy: &SafetyPolicy,
    ) -> Result<Self, PlanError> {
        a.validate()?;
        b.validate()?;
        policy.validate()?;
        Ok(Requirements {
            chain_a: a.chain_id.clone(),
            chain_b: b.chain_id.clone(),
            finality_a_ms: a.finality_ms(),
            finality_b_ms: b.finality_ms(),
            reaction_ms: policy.reaction_delay_ms,
            clock_skew_ms: policy.clock_skew_ms,
            extra_ms: policy.extra_margin_ms,
        })
    }

    /// settle(C) = 2 × finality(C) + reaction: from deciding on a finalized head's time t
    /// to the resulting transaction being final, by chain C's clock (§4.1).
    pub fn settle_ms(&self, leg: LegId) -> u64 {
        let finality = match leg {
            LegId::A => self.finality_a_ms,
            LegId::B => self.finality_b_ms,
        };
        2 * finality + self.reaction_ms
    }

    /// §4.2: T1 − T2 must cover the participant learning the preimage from a claim that
    /// lands just before T2 and getting its own claim final on A before T1.
    pub fn margin_ms(&self) -> u64 {
        self.margin_parts().iter().map(|(_, ms)| ms).sum()
    }

    /// §4.3: T2 − accept_by must let the initiator see the participant's lock and still be
    /// inside its claim window.
    pub fn claim_room_ms(&self) -> u64 {
        self.claim_room_parts().iter().map(|(_, ms)| ms).sum()
    }

    /// §4.4: accept_by − now(B) needed before a lock is made at `stage`.
    pub fn accept_room_ms(&self, stage: Stage) -> u64 {
        self.accept_room_parts(stage).iter().map(|(_, ms)| ms).sum()
    }

    fn margin_parts(&self) -> Vec<(String, u64)> {
        vec![
            (format!("finality {}", self.chain_a), self.finality_a_ms),
            (format!("finality {}", self.chain_b), self.finality_b_ms),
            ("reaction".into(), self.reaction_ms),
            ("clock skew".into(), self.clock_skew_ms),
            ("extra".into(), self.extra_ms),
        ]
    }

    fn claim_room_parts(&self) -> Vec<(String, u64)> {
        vec![
            (self.settle_label(LegId::B), self.settle_ms(LegId::B)),
            (format!("finality {}", self.chain_b), self.finality_b_ms),
            ("reaction".into(), self.reaction_ms),
            ("extra".into(), self.extra_ms),
        ]
    }

    fn accept_room_parts(&self, stage: Stage) -> Vec<(String, u64)> {
        match stage {
            Stage::Offer => vec![
                (self.settle_label(LegId::A), self.settle_ms(LegId::A)),
                ("clock skew".into(), self.clock_skew_ms),
                ("reaction".into(), self.reaction_ms),
                (self.settle_label(LegId::B), self.settle_ms(LegId::B)),
                ("extra".into(), self.extra_ms),
            ],
            Stage::Accept => vec![(self.settle_label(LegId::B), self.settle_ms(LegId::B))],
        }
    }

    fn settle_label(&self, leg: LegId) -> String {
        let (chain, finality) = match leg {
            LegId::A => (&self.chain_a, self.finality_a_ms),
            LegId::B => (&self.chain_b, self.finality_b_ms),
        };
        format!(
            "settle {chain} (2 × finality {} + reaction {})",
            secs(finality),
            secs(self.reaction_ms)
        )
    }
}

fn breakdown(parts: &[(String, u64)]) -> String {
    parts
        .iter()
        .map(|(name, ms)| format!("{name} {}", secs(*ms)))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Milliseconds as seconds for messages: `4 s`, `1.5 s`.
pub(crate) fn secs(ms: u64) -> String {
    secs_signed(i128::from(ms))
}

pub(crate) fn secs_signed(ms: i128) -> String {
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        let text = format!("{:.3}", ms as f64 / 1000.0);
        format!("{} s", text.trim_end_matches('0'))
    }
}

/// A checked plan: the deadlines and how much room each rule has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub deadlines: Deadlines,
    pub requirements: Requirements,
    /// T1 − T2 (cross-clock; the requirement includes clock skew).
    pub margin_ms: u64,
    /// T2 − accept_by.
    pub claim_room_ms: u64,
    /// accept_by − now(B) at the time of the check.
    pub accept_room_ms: u64,
}

/// Picks the earliest safe deadlines for a swap starting now (specs/htlc.md §4.5), giving
/// the participant at least `accept_window_ms` of chain B time to accept (raised to the
/// minimum the chains need plus one reaction delay).
pub fn plan(
    a: &ChainParams,
    b: &ChainParams,
    policy: &SafetyPolicy,
    now: ChainTimes,
    accept_window_ms: u64,
) -> Result<Plan, PlanError> {
    let req = Requirements::derive(a, b, policy)?;
    // One reaction delay on top of the minimum: the initiator's own lock is decided on its
    // next chain-B tick, which must still find enough room (§7.3 R1).
    let min_window_ms = req.accept_room_ms(Stage::Offer) + req.reaction_ms;
    let accept_by_ms = now.b_ms.saturating_add(accept_window_ms.max(min_window_ms));
    let leg_b_expiry_ms = accept_by_ms.saturating_add(req.claim_room_ms());
    let leg_a_expiry_ms = leg_b_expiry_ms.saturating_add(req.margin_ms());
    let deadlines = Deadlines {
        leg_a_expiry_ms,
        leg_b_expiry_ms,
        accept_by_ms,
    };
    check_deadlines(&deadlines, req, now, Stage::Offer)
}

/// Checks an offer's deadlines against both chains and the policy, at offer creation or at
/// acceptance (specs/htlc.md §4). `a` and `b` must describe the offer's leg A and B chains.
pub fn check_plan(
    offer: &Offer,
    a: &ChainParams,
    b: &ChainParams,
    policy: &SafetyPolicy,
    now: ChainTimes,
    stage: Stage,
) -> Result<Plan, PlanError> {
    check_chains(offer, a, b)?;
    let req = Requirements::derive(a, b, policy)?;
    check_deadlines(&Deadlines::of(offer), req, now, stage)
}

pub(crate) fn check_chains(
    offer: &Offer,
    a: &ChainParams,
    b: &ChainParams,
) -> Result<(), PlanError> {
    for (leg, params) in [(LegId::A, a), (LegId::B, b)] {
        let expected = &offer.leg(leg).chain_id;
        if &params.chain_id != expected {
            return Err(PlanError::WrongChain {
                leg,
                expected: expected.clone(),
                got: params.chain_id.clone(),
            });
        }
    }
    Ok(())
}

fn check_deadlines(
    d: &Deadlines,
    req: Requirements,
    now: ChainTimes,
    stage: Stage,
) -> Result<Plan, PlanError> {
    let gap = |later: u64, earlier: u64| i128::from(later) - i128::from(earlier);
    let short = |have: i128, need: u64| have < i128::from(need);

    // Finalized heads lag real time by up to one finality each, so only a difference
    // beyond skew + the larger lag proves the clocks break the policy's assumption.
    let allowed_skew_ms = req.clock_skew_ms + req.finality_a_ms.max(req.finality_b_ms);
    let observed_skew_ms = gap(now.a_ms, now.b_ms).unsigned_abs();
    if observed_skew_ms > u128::from(allowed_skew_ms) {
        return Err(PlanError::ClockSkew {
            chain_a: req.chain_a.clone(),
            a_ms: now.a_ms,
            chain_b: req.chain_b.clone(),
            b_ms: now.b_ms,
            allowed_ms: allowed_skew_ms,
        });
    }

    let margin = gap(d.leg_a_expiry_ms, d.leg_b_expiry_ms);
    if short(margin, req.margin_ms()) {
        return Err(PlanError::MarginTooSmall {
            margin_ms: margin,
            required_ms: req.margin_ms(),
            breakdown: breakdown(&req.margin_parts()),
        });
    }
    let claim_room = gap(d.leg_b_expiry_ms, d.accept_by_ms);
    if short(claim_room, req.claim_room_ms()) {
        return Err(PlanError::ClaimRoomTooSmall {
            room_ms: claim_room,
            required_ms: req.claim_room_ms(),
            breakdown: breakdown(&req.claim_room_parts()),
        });
    }
    let accept_room = gap(d.accept_by_ms, now.b_ms);
    if short(accept_room, req.accept_room_ms(stage)) {
        return Err(PlanError::AcceptRoomTooSmall {
            stage,
            chain: req.chain_b.clone(),
            left_ms: accept_room,
            required_ms: req.accept_room_ms(stage),
            breakdown: breakdown(&req.accept_room_parts(stage)),
        });
    }
    let lock_spans = [
        (LegId::A, &req.chain_a, gap(d.leg_a_expiry_ms, now.a_ms)),
        (LegId::B, &req.chain_b, gap(d.leg_b_expiry_ms, now.b_ms)),
    ];
    for (leg, chain, duration_ms) in lock_spans {
        if duration_ms > i128::from(MAX_LOCK_DURATION_MS) {
            return Err(PlanError::LockTooLong {
                leg,
                chain: chain.clone(),
                duration_ms,
                max_ms: MAX_LOCK_DURATION_MS,
            });
        }
    }
    // The gaps above are all non-negative here, so the narrowing casts are exact.
    Ok(Plan {
        deadlines: *d,
        requirements: req,
        margin_ms: margin as u64,
        claim_room_ms: claim_room as u64,
        accept_room_ms: accept_room as u64,
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn instant(chain: &str, block_time_ms: u64) -> ChainParams {
        ChainParams {
            chain_id: ChainId::new(chain).unwrap(),
            finality: FinalityRule::Instant,
            block_time_ms,
        }
    }

    pub fn chains() -> (ChainParams, ChainParams) {
        (instant("chain-a", 1_000), instant("chain-b", 1_000))
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{chains, instant};
    use super::*;
    use crate::offer::fixtures::offer;

    const NOW: ChainTimes = ChainTimes {
        a_ms: 1_000_000,
        b_ms: 1_000_000,
    };

    #[test]
    fn finality_counts_inclusion_plus_confirmations() {
        assert_eq!(instant("x", 1_000).finality_ms(), 1_000);
        let deep = ChainParams {
            finality: FinalityRule::Confirmations { depth: 12 },
            ..instant("x", 2_000)
        };
        assert_eq!(deep.finality_ms(), 26_000);
    }

    // specs/htlc.md §4.2: the refusal states the numbers and the formula.
    #[test]
    fn margin_refusal_explains_the_formula() {
        let (a, b) = chains();
        let mut o = offer();
        o.leg_a.expiry_ms = o.leg_b.expiry_ms + 4_000;
        let err = check_plan(&o, &a, &b, &SafetyPolicy::default(), NOW, Stage::Offer).unwrap_err();
        assert_eq!(
            err.to_string(),
            "safety margin T1 - T2 = 4 s is below the required 11 s = finality chain-a 1 s + \
             finality chain-b 1 s + reaction 5 s + clock skew 2 s + extra 2 s; \
             move leg A's expiry later or leg B's earlier"
        );
    }

    // specs/htlc.md §4.3
    #[test]
    fn claim_room_refusal() {
        let (a, b) = chains();
        let mut o = offer();
        o.accept_by_ms = o.leg_b.expiry_ms - 14_999;
        let err = check_plan(&o, &a, &b, &SafetyPolicy::default(), NOW, Stage::Offer).unwrap_err();
        assert!(
            matches!(
                err,
                PlanError::ClaimRoomTooSmall {
                    required_ms: 15_000,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("14.999 s"), "{err}");
    }

    // specs/htlc.md §4.4: acceptance needs less room than the offer, but some.
    #[test]
    fn accept_room_depends_on_stage() {
        let (a, b) = chains();
        let policy = SafetyPolicy::default();
        let o = offer();
        let at = |b_ms| ChainTimes { a_ms: b_ms, b_ms };
        let late = at(o.accept_by_ms - 10_000);
        let err = check_plan(&o, &a, &b, &policy, late, Stage::Offer).unwrap_err();
        assert!(
            matches!(
                err,
                PlanError::AcceptRoomTooSmall {
                    required_ms: 23_000,
                    ..
                }
            ),
            "{err}"
        );
        assert!(check_plan(&o, &a, &b, &policy, late, Stage::Accept).is_ok());
        let too_late = at(o.accept_by_ms - 6_999);
        let err = check_plan(&o, &a, &b, &policy, too_late, Stage::Accept).unwrap_err();
        assert!(err.to_string().contains("do not accept"), "{err}");
    }

    // specs/htlc.md §4.4: clocks further apart than the policy allows void every margin.
    #[test]
    fn refuses_clocks_further_apart_than_the_policy_allows() {
        let (a, b) = chains();
        let policy = SafetyPolicy::default();
        let skewed = ChainTimes {
            a_ms: NOW.a_ms + 3_001,
            b_ms: NOW.b_ms,
        };
        let err = check_plan(&offer(), &a, &b, &policy, skewed, Stage::Offer).unwrap_err();
        assert!(
            matches!(
                err,
                PlanError::ClockSkew {
                    allowed_ms: 3_000,
                    ..
                }
            ),
            "{err}"
        );
        let within = ChainTimes {
            a_ms: NOW.a_ms + 3_000,
            ..skewed
        };
        assert!(check_plan(&offer(), &a, &b, &policy, within, Stage::Offer).is_ok());
    }

    #[test]
    fn refuses_wrong_chain_params_long_locks_and_bad_policy() {
        let (a, b) = chains();
        let policy = SafetyPolicy::default();
        let o = offer();
        assert!(matches!(
            check_plan(&o, &b, &a, &policy, NOW, Stage::Offer),
            Err(PlanError::WrongChain { leg: LegId::A, .. })
        ));
        let mut far = o.clone();
        far.leg_a.expiry_ms = NOW.a_ms + MAX_LOCK_DURATION_MS + 1;
        assert!(matches!(
            check_plan(&far, &a, &b, &policy, NOW, Stage::Offer),
            Err(PlanError::LockTooLong { leg: LegId::A, .. })
        ));
        let rushed = SafetyPolicy {
            reaction_delay_ms: 10,
            ..policy
        };
        assert!(matches!(
            check_plan(&o, &a, &b, &rushed, NOW, Stage::Offer),
            Err(PlanError::InvalidPolicy {
                field: "reaction_delay_ms",
                ..
            })
        ));
        let frozen = instant("chain-a", 0);
        assert!(matches!(
            check_plan(&o, &frozen, &b, &policy, NOW, Stage::Offer),
            Err(PlanError::InvalidChainParams { .. })
        ));
    }

    // specs/htlc.md §4.5: a planned swap passes its own checks, even with skewed clocks
    // and slow finality.
    #[test]
    fn planned_deadlines_pass_the_checks() {
        let a = ChainParams {
            finality: FinalityRule::Confirmations { depth: 6 },
            ..instant("chain-a", 2_000)
        };
        let b = instant("chain-b", 500);
        let policy = SafetyPolicy::default();
        for now in [
            NOW,
            ChainTimes {
                a_ms: 1_010_000,
                b_ms: 1_000_000,
            },
        ] {
            let planned = plan(&a, &b, &policy, now, 60_000).unwrap();
            let d = planned.deadlines;
            assert_eq!(d.accept_by_ms, now.b_ms + 60_000);
            let mut o = offer();
            o.leg_a.expiry_ms = d.leg_a_expiry_ms;
            o.leg_b.expiry_ms = d.leg_b_expiry_ms;
            o.accept_by_ms = d.accept_by_ms;
            assert_eq!(
                check_plan(&o, &a, &b, &policy, now, Stage::Offer).unwrap(),
                planned
            );
        }
    }
}
