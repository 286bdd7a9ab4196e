//! Committee configuration and its validation (specs/notary.md §2), with the lessons of
//! bridges that lost funds: Ronin (5 of 9 keys, 4 with one operator) and Harmony Horizon
//! (2-of-5).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use causeway_core::{sha256, Hash32};
use ed25519_dalek::VerifyingKey;
use frost_ed25519::Identifier;
use serde::{Deserialize, Serialize};

use crate::attestation::GroupKey;
use crate::dkg::{DkgSetup, MAX_DKG_MEMBERS};

/// Longest operator name, member name or endpoint accepted.
pub const MAX_LABEL_BYTES: usize = 256;
const COMMITTEE_ID_DOMAIN: &[u8] = b"CAUSEWAY-COMMITTEE-ID-V1";
const CEREMONY_DOMAIN: &[u8] = b"CAUSEWAY-DKG-CEREMONY-V1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitteeMember {
    /// The operator (organisation) running this member; one operator may run several.
    pub operator: String,
    /// Long-term Ed25519 identity key, 64 hex digits: authenticates the member's messages.
    pub identity_key: String,
    /// Long-term X25519 key of the member's encrypted channel (Noise), 64 hex digits.
    pub noise_key: String,
    /// Where peers reach this member's relay, e.g. `https://notary-1.example:7443`.
    pub endpoint: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitteeConfig {
    /// Stable name; the committee id on every chain is derived from it.
    pub name: String,
    pub threshold: u16,
    /// Member `i` (0-based) holds FROST share identifier `i + 1`.
    pub members: Vec<CommitteeMember>,
    /// Accept a threshold of n/2 or less. Never do this for a committee that holds value.
    #[serde(default)]
    pub force_low_threshold: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitteeError {
    #[error("committee has {count} members; it needs 2..={max}")]
    Size { count: usize, max: usize },
    #[error("member #{number} (operator {operator:?}): field `{field}` {problem}")]
    Field {
        number: usize,
        operator: String,
        field: &'static str,
        problem: String,
    },
    #[error("committee field `{field}` {problem}")]
    Committee {
        field: &'static str,
        problem: String,
    },
    #[error(
        "members #{first} and #{second} have the same identity key; each member needs its own"
    )]
    DuplicateIdentity { first: usize, second: usize },
    #[error("threshold {threshold} of {n} is n/2 or less: half the committee could sign alone (Harmony lost funds at 2-of-5); raise it to at least {suggested} or set force_low_threshold")]
    ThresholdTooLow {
        threshold: u16,
        n: usize,
        suggested: u16,
    },
    #[error("operator {operator:?} holds {shares} shares (members {members:?}) and the threshold is {threshold}: it could sign alone (Ronin lost funds this way); spread the shares across operators")]
    OperatorCanSignAlone {
        operator: String,
        shares: usize,
        members: Vec<usize>,
        threshold: u16,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitteeWarning {
    /// Below ⌊2n/3⌋+1 the committee tolerates fewer faulty members than a BFT quorum.
    BelowTwoThirds { threshold: u16, recommended: u16 },
    /// Accepted only because `force_low_threshold` was set.
    ForcedLowThreshold { threshold: u16, n: usize },
    /// This operator alone can stop the committee from signing (a liveness risk).
    OperatorCanBlock { operator: String, shares: usize },
}

impl std::fmt::Display for CommitteeWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitteeWarning::BelowTwoThirds { threshold, recommended } => write!(
                f,
                "threshold {threshold} is below the recommended {recommended} (⌊2n/3⌋+1)"
            ),
            CommitteeWarning::ForcedLowThreshold { threshold, n } => write!(
                f,
                "threshold {threshold} of {n} is n/2 or less and was forced; do not hold value with it"
            ),
            CommitteeWarning::OperatorCanBlock { operator, shares } => write!(
                f,
                "operator {operator:?} holds {shares} shares: enough to halt signing by going offline"
            ),
        }
    }
}

/// A committee that passed validation; everything the DKG and signing need.
#[derive(Clone, Debug)]
pub struct Committee {
    pub config: CommitteeConfig,
    pub committee_id: Hash32,
    pub identities: BTreeMap<Identifier, VerifyingKey>,
    /// Each member's Noise static key, by member number (1-based).
    pub noise_keys: BTreeMap<u16, [u8; 32]>,
    pub warnings: Vec<CommitteeWarning>,
}

impl CommitteeConfig {
    pub fn validate(&self) -> Result<Committee, CommitteeError> {
        let n = self.members.len();
        if !(2..=MAX_DKG_MEMBERS).contains(&n) {
            return Err(CommitteeError::Size {
                count: n,
                max: MAX_DKG_MEMBERS,
            });
        }
        check_label("name", &self.name).map_err(|problem| CommitteeError::Committee {
            field: "name",
            problem,
        })?;
        let mut identities = BTreeMap::new();
        let mut noise_keys = BTreeMap::new();
        let mut seen: BTreeMap<[u8; 32], usize> = BTreeMap::new();
        for (i, member) in self.members.iter().enumerate() {
            let number = i + 1;
            let field_error = |field, problem| CommitteeError::Field {
                number,
                operator: member.operator.clone(),
                field,
                problem,
            };
            check_label("operator", &member.operator).map_err(|p| field_error("operator", p))?;
            check_label("endpoint", &member.endpoint).map_err(|p| field_error("endpoint", p))?;
            let key =
                parse_identity(&member.identity_key).map_err(|p| field_error("identity_key", p))?;
            if let Some(first) = seen.insert(key.to_bytes(), number) {
                return Err(CommitteeError::DuplicateIdentity {
                    first,
                    second: number,
                });
            }
            let noise =
                parse_noise_key(&member.noise_key).map_err(|p| field_error("noise_key", p))?;
            if let Some(first) = noise_keys
                .iter()
                .find(|(_, k)| **k == noise)
                .map(|(n, _)| *n)
            {
                return Err(field_error(
                    "noise_key",
                    format!("is member #{first}'s too; each member needs its own"),
                ));
            }
            noise_keys.insert(number as u16, noise);
            // n ≤ MAX_DKG_MEMBERS < u16::MAX, and identifiers start at 1, so this cannot fail.
            let id = Identifier::try_from(number as u16)
                .map_err(|e| field_error("identifier", e.to_string()))?;
            identities.insert(id, key);
        }
        let warnings = self.check_threshold()?;
        Ok(Committee {
            config: self.clone(),
            committee_id: committee_id(&self.name),
            identities,
            noise_keys,
            warnings,
        })
    }

    fn check_threshold(&self) -> Result<Vec<CommitteeWarning>, CommitteeError> {
        let n = self.members.len();
        let t = self.threshold;
        let mut warnings = Vec::new();
        if t == 0 || usize::from(t) > n {
            return Err(CommitteeError::Committee {
                field: "threshold",
                problem: format!("is {t}; it must be in 1..={n}"),
            });
        }
        let majority = (n / 2 + 1) as u16;
        if usize::from(t) * 2 <= n {
            if !self.force_low_threshold {
                return Err(CommitteeError::ThresholdTooLow {
                    threshold: t,
                    n,
                    suggested: majority,
                });
            }
            warnings.push(CommitteeWarning::ForcedLowThreshold { threshold: t, n });
        }
        let recommended = (2 * n / 3 + 1).min(n) as u16;
        if t < recommended {
            warnings.push(CommitteeWarning::BelowTwoThirds {
                threshold: t,
                recommended,
            });
        }
        for (operator, members) in self.shares_by_operator() {
            if members.len() >= usize::from(t) {
                return Err(CommitteeError::OperatorCanSignAlone {
                    operator,
                    shares: members.len(),
                    members,
                    threshold: t,
                });
            }
            if members.len() > n - usize::from(t) {
                warnings.push(CommitteeWarning::OperatorCanBlock {
                    operator,
                    shares: members.len(),
                });
            }
        }
        Ok(warnings)
    }

    /// Operator → the member numbers (1-based, = FROST identifiers) it runs.
    pub fn shares_by_operator(&self) -> BTreeMap<String, Vec<usize>> {
        let mut by_operator: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, m) in self.members.iter().enumerate() {
            by_operator
                .entry(m.operator.clone())
                .or_default()
                .push(i + 1);
        }
        by_operator
    }
}

impl Committee {
    pub fn threshold(&self) -> u16 {
        self.config.threshold
    }

    /// The configured member holding FROST identifier `id` (member number = identifier).
    pub fn member(&self, id: &Identifier) -> Option<(usize, &CommitteeMember)> {
        let number = self.identities.keys().position(|k| k == id)? + 1;
        self.config.members.get(number - 1).map(|m| (number, m))
    }

    /// The DKG setup for key epoch `epoch`; the ceremony id binds committee and epoch.
    pub fn dkg_setup(&self, epoch: u64) -> DkgSetup {
        let mut input = Vec::with_capacity(64);
        input.extend_from_slice(CEREMONY_DOMAIN);
        input.extend_from_slice(&self.committee_id.0);
        input.extend_from_slice(&epoch.to_be_bytes());
        for key in self.identities.values() {
            input.extend_from_slice(key.as_bytes());
        }
        input.extend_from_slice(&self.config.threshold.to_be_bytes());
        DkgSetup {
            ceremony: sha256(&input),
            threshold: self.config.threshold,
            members: self.identities.clone(),
        }
    }

    /// The table an operator reviews before a ceremony: who holds which shares.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        let t = self.config.threshold;
        let n = self.config.members.len();
        let _ = writeln!(
            out,
            "committee {:?}  id {}  threshold {t} of {n}",
            self.config.name, self.committee_id
        );
        let _ = writeln!(
            out,
            "{:<4} {:<20} {:<66} endpoint",
            "#", "operator", "identity key"
        );
        for (i, m) in self.config.members.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:<4} {:<20} {:<66} {}",
                i + 1,
                m.operator,
                m.identity_key.to_lowercase(),
                m.endpoint
            );
        }
        let _ = writeln!(
            out,
            "\n{:<20} {:<7} {:<12} members",
            "operator", "shares", "can"
        );
        for (operator, members) in self.config.shares_by_operator() {
            let power = if members.len() >= usize::from(t) {
                "SIGN ALONE"
            } else if members.len() > n - usize::from(t) {
                "block"
            } else {
                "-"
            };
            let list: Vec<String> = members.iter().map(|m| format!("#{m}")).collect();
            let _ = writeln!(
                out,
                "{:<20} {:<7} {:<12} {}",
                operator,
                members.len(),
                power,
                list.join(" ")
            );
        }
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        out
    }
}

/// The committee id registered on every chain: stable across key rotations.
pub fn committee_id(name: &str) -> Hash32 {
    sha256(&[COMMITTEE_ID_DOMAIN, name.as_bytes()].concat())
}

fn check_label(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("is empty; set the {field}"));
    }
    if value.len() > MAX_LABEL_BYTES {
        return Err(format!(
            "is {} bytes; at most {MAX_LABEL_BYTES}",
            value.len()
        ));
    }
    Ok(())
}

fn parse_identity(text: &str) -> Result<VerifyingKey, String> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut bytes)
        .map_err(|_| format!("must be 64 hex digits (an Ed25519 public key), got {text:?}"))?;
    GroupKey(bytes)
        .check()
        .map_err(|e| format!("is not a usable Ed25519 key: {e}"))
}

fn parse_noise_key(text: &str) -> Result<[u8; 32], String> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut bytes)
        .map_err(|_| format!("must be 64 hex digits (an X25519 public key), got {text:?}"))?;
    if bytes == [0u8; 32] {
        return Err("is all zeros; run `causeway notary init` for a real key".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(operator: &str, seed: u8) -> CommitteeMember {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
        CommitteeMember {
            operator: operator.into(),
            identity_key: hex::encode(key.to_bytes()),
            noise_key: hex::encode([seed; 32]),
            endpoint: format!("https://n{seed}.example:7443"),
        }
    }

    fn config(t: u16, operators: &[&str]) -> CommitteeConfig {
        CommitteeConfig {
            name: "test".into(),
            threshold: t,
            members: operators
                .iter()
                .enumerate()
                .map(|(i, o)| member(o, i as u8 + 1))
                .collect(),
            force_low_threshold: false,
        }
    }

    // specs/notary.md §2: a well-spread 5-of-7 passes without warnings.
    #[test]
    fn spread_two_thirds_committee_passes_cleanly() {
        let c = config(5, &["a", "b", "c", "d", "e", "f", "g"])
            .validate()
            .expect("valid");
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.identities.len(), 7);
        assert!(c.render_table().contains("threshold 5 of 7"));
    }

    // specs/notary.md §2 (Harmony): 2-of-5 is refused unless forced, then warned.
    #[test]
    fn half_or_less_is_refused_unless_forced() {
        let mut c = config(2, &["a", "b", "c", "d", "e"]);
        assert!(matches!(
            c.validate(),
            Err(CommitteeError::ThresholdTooLow {
                threshold: 2,
                n: 5,
                suggested: 3
            })
        ));
        c.force_low_threshold = true;
        let ok = c.validate().expect("forced");
        assert!(ok
            .warnings
            .contains(&CommitteeWarning::ForcedLowThreshold { threshold: 2, n: 5 }));
        assert!(matches!(
            config(3, &["a", "b", "c", "d", "e", "f"]).validate(),
            Err(CommitteeError::ThresholdTooLow { .. })
        ));
    }

    // specs/notary.md §2: between a majority and 2n/3+1 is accepted with a warning.
    #[test]
    fn below_two_thirds_warns() {
        let c = config(5, &["a", "b", "c", "d", "e", "f", "g", "h", "i"])
            .validate()
            .expect("valid");
        assert!(c.warnings.contains(&CommitteeWarning::BelowTwoThirds {
            threshold: 5,
            recommended: 7
        }));
    }

    // specs/notary.md §2 (Ronin): one operator with t shares is refused, by name.
    #[test]
    fn operator_with_threshold_shares_is_refused() {
        let ops = ["sky", "sky", "sky", "sky", "a", "b", "c", "d", "e"];
        let err = config(4, &ops).validate();
        assert!(matches!(err, Err(CommitteeError::ThresholdTooLow { .. })));
        let err = config(
            7,
            &["sky", "sky", "sky", "sky", "sky", "sky", "sky", "a", "b"],
        )
        .validate()
        .unwrap_err();
        assert!(
            matches!(&err, CommitteeError::OperatorCanSignAlone { operator, shares: 7, .. } if operator == "sky"),
            "{err}"
        );
        let table = config(6, &ops).validate().expect("4 < 6").render_table();
        assert!(
            table.contains("sky") && table.contains("#1 #2 #3 #4"),
            "{table}"
        );
    }

    #[test]
    fn bad_fields_name_the_member_and_field() {
        let mut c = config(3, &["a", "b", "c", "d"]);
        c.members[2].identity_key = "zz".into();
        let err = c.validate().unwrap_err();
        assert!(
            matches!(
                &err,
                CommitteeError::Field {
                    number: 3,
                    field: "identity_key",
                    ..
                }
            ),
            "{err}"
        );
        let mut c = config(3, &["a", "b", "c", "d"]);
        c.members[1].endpoint = " ".into();
        assert!(matches!(
            c.validate(),
            Err(CommitteeError::Field {
                number: 2,
                field: "endpoint",
                ..
            })
        ));
        let mut c = config(3, &["a", "b", "c", "d"]);
        c.members[3].identity_key = c.members[0].identity_key.clone();
        assert!(matches!(
            c.validate(),
            Err(CommitteeError::DuplicateIdentity {
                first: 1,
                second: 4
            })
        ));
        assert!(matches!(
            config(5, &["a", "b", "c", "d"]).validate(),
            Err(CommitteeError::Committee {
                field: "threshold",
                ..
            })
        ));
        assert!(matches!(
            config(1, &["a"]).validate(),
            Err(CommitteeError::Size { .. })
        ));
    }

    #[test]
    fn ceremony_ids_differ_per_epoch() {
        let c = config(3, &["a", "b", "c", "d"]).validate().expect("valid");
        assert_ne!(c.dkg_setup(1).ceremony, c.dkg_setup(2).ceremony);
        assert_eq!(c.dkg_setup(1).members, c.identities);
        let third = Identifier::try_from(3).expect("non-zero");
        assert_eq!(
            c.member(&third).map(|(n, m)| (n, m.operator.as_str())),
            Some((3, "c"))
        );
    }
}
