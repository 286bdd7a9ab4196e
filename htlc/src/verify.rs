//! Checking an observed lock against the offer (specs/htlc.md §6.1).

use std::fmt;

use causeway_core::{Address, Amount, AssetId, Hash32, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::offer::Leg;

/// The fields of an `HtlcLocked` event, as a chain reported them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockTerms<'a> {
    pub recipient: &'a Address,
    pub asset: &'a AssetId,
    pub amount: Amount,
    pub hashlock: &'a Hash32,
    pub expiry_ms: UnixMillis,
}

/// One way an observed lock differs from the offer. Chain and sender are not listed: they
/// decide *whose* lock an event is, so a lock by anyone else is ignored, not a mismatch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum Mismatch {
    Amount {
        expected: Amount,
        found: Amount,
        asset: AssetId,
    },
    Asset {
        expected: AssetId,
        found: AssetId,
    },
    Recipient {
        expected: Address,
        found: Address,
    },
    Expiry {
        expected: UnixMillis,
        found: UnixMillis,
    },
    Hashlock {
        expected: Hash32,
        found: Hash32,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Amount {
                expected,
                found,
                asset,
            } => {
                write!(f, "locked {found} instead of {expected} {asset}")
            }
            Mismatch::Asset { expected, found } => {
                write!(f, "locked asset {found} instead of {expected}")
            }
            Mismatch::Recipient { expected, found } => {
                write!(f, "pays {found} instead of {expected}")
            }
            Mismatch::Expiry { expected, found } => {
                write!(f, "expires at {found} ms instead of {expected} ms")
            }
            Mismatch::Hashlock { expected, found } => {
                write!(f, "uses hashlock {found} instead of {expected}")
            }
        }
    }
}

/// Every way `observed` differs from `leg` under `hashlock`; empty means it matches exactly.
/// The expiry must be equal, not merely close: a longer lock shifts risk onto the other
/// party, a shorter one shrinks the claim window the plan was checked for.
pub fn mismatches(leg: &Leg, hashlock: &Hash32, observed: &LockTerms<'_>) -> Vec<Mismatch> {
    [
        differ(&leg.asset, observed.asset, |expected, found| {
            Mismatch::Asset { expected, found }
        }),
        differ(&leg.amount, &observed.amount, |expected, found| {
            Mismatch::Amount {
                expected,
                found,
                asset: leg.asset.clone(),
            }
        }),
        differ(&leg.recipient, observed.recipient, |expected, found| {
            Mismatch::Recipient { expected, found }
        }),
        differ(&leg.expiry_ms, &observed.expiry_ms, |expected, found| {
            Mismatch::Expiry { expected, found }
        }),
        differ(hashlock, observed.hashlock, |expected, found| {
            Mismatch::Hashlock { expected, found }
        }),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn differ<T: PartialEq + Clone>(
    expected: &T,
    found: &T,
    mismatch: impl FnOnce(T, T) -> Mismatch,
) -> Option<Mismatch> {
    (expected != found).then(|| mismatch(expected.clone(), found.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offer::fixtures::offer;

    fn terms_of(leg: &Leg, hashlock: &Hash32) -> (Address, AssetId, Amount, Hash32, UnixMillis) {
        (
            leg.recipient.clone(),
            leg.asset.clone(),
            leg.amount,
            *hashlock,
            leg.expiry_ms,
        )
    }

    // specs/htlc.md §6.1
    #[test]
    fn exact_lock_matches_and_each_field_is_reported() {
        let o = offer();
        let (recipient, asset, amount, hashlock, expiry_ms) = terms_of(&o.leg_b, &o.hashlock);
        let exact = LockTerms {
            recipient: &recipient,
            asset: &asset,
            amount,
            hashlock: &hashlock,
            expiry_ms,
        };
        assert!(mismatches(&o.leg_b, &o.hashlock, &exact).is_empty());

        let short = LockTerms {
            amount: Amount(4),
            ..exact.clone()
        };
        let found = mismatches(&o.leg_b, &o.hashlock, &short);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].to_string(), "locked 4 instead of 5 GOLD");

        let stranger = Address::new("mallory-b").unwrap();
        let other_hash = Hash32([1; 32]);
        let everything_wrong = LockTerms {
            recipient: &stranger,
            asset: &o.leg_a.asset,
            amount: Amount(6),
            hashlock: &other_hash,
            expiry_ms: expiry_ms + 1,
        };
        assert_eq!(
            mismatches(&o.leg_b, &o.hashlock, &everything_wrong).len(),
            5
        );
    }
}
