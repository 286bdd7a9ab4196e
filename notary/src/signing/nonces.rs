//! A signer's nonce records: the only state whose loss or misuse leaks the key share
//! (specs/notary.md §5). Every record is persisted by the daemon before the message it
//! guards leaves the machine (`SigningOutput::PersistNonceThenSend`).

use std::collections::BTreeMap;

use causeway_core::{sha256, Hash32};
use frost_ed25519::keys::KeyPackage;
use frost_ed25519::round1::{self, SigningCommitments, SigningNonces};
use frost_ed25519::round2::{self, SignatureShare};
use frost_ed25519::SigningPackage;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::signing::messages::{Refusal, RoundId, SessionId};

/// Most nonce records one node holds; beyond it new commitments are refused until
/// sessions complete (bounds a flood of rounds from a faulty coordinator).
pub const MAX_NONCE_RECORDS: usize = 4096;

/// One round's nonces, as the daemon stores them. `Committed` holds **secret** nonces:
/// store the record as carefully as the key share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceRecord {
    pub round: RoundId,
    /// SHA-256 of the message these nonces may sign; no other message, ever.
    pub message_digest: Hash32,
    pub state: NonceState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NonceState {
    Committed {
        nonces: Box<SigningNonces>,
    },
    /// The nonces are destroyed; only the package they signed and the resulting share remain,
    /// so a repeated request for the same package gets the same share and any other is refused.
    Used {
        package_digest: Hash32,
        share: SignatureShare,
    },
}

pub(crate) enum SignOutcome {
    /// First signature with these nonces: persist the record, then send the share.
    Fresh(Box<NonceRecord>, SignatureShare),
    /// The same package again: resend the share already given.
    Repeat(SignatureShare),
}

#[derive(Default)]
pub(crate) struct NonceBook {
    records: BTreeMap<RoundId, NonceRecord>,
}

impl NonceBook {
    pub(crate) fn restore(records: Vec<NonceRecord>) -> Result<Self, usize> {
        if records.len() > MAX_NONCE_RECORDS {
            return Err(records.len());
        }
        Ok(NonceBook {
            records: records.into_iter().map(|r| (r.round, r)).collect(),
        })
    }

    /// The commitment already made for `round`, if its nonces are still unused.
    pub(crate) fn existing_commitment(
        &self,
        round: &RoundId,
    ) -> Option<Result<SigningCommitments, Refusal>> {
        self.records.get(round).map(|record| match &record.state {
            NonceState::Committed { nonces } => Ok(*nonces.commitments()),
            NonceState::Used { .. } => Err(Refusal::NonceAlreadyUsed {
                attempt: round.attempt,
                round: round.round,
            }),
        })
    }

    /// Whether `round` has round-bound nonces here (committed or used).
    pub(crate) fn holds(&self, round: &RoundId) -> bool {
        self.records.contains_key(round)
    }

    /// Fresh nonces for a round that has none yet.
    pub(crate) fn commit<R: RngCore + CryptoRng>(
        &mut self,
        round: RoundId,
        message: &[u8],
        key: &KeyPackage,
        rng: &mut R,
    ) -> Result<NonceRecord, Refusal> {
        if self.records.len() >= MAX_NONCE_RECORDS {
            return Err(Refusal::BeyondBounds {
                attempt: round.attempt,
                round: round.round,
            });
        }
        let (nonces, _) = round1::commit(key.signing_share(), rng);
        let record = NonceRecord {
            round,
            message_digest: sha256(message),
            state: NonceState::Committed {
                nonces: Box::new(nonces),
            },
        };
        self.records.insert(round, record.clone());
        Ok(record)
    }

    pub(crate) fn sign(
        &mut self,
        round: RoundId,
        package: &SigningPackage,
        session_message: &[u8],
        key: &KeyPackage,
    ) -> Result<SignOutcome, Refusal> {
        let record = self
            .records
            .get_mut(&round)
            .ok_or(Refusal::NoNonceForRound {
                attempt: round.attempt,
                round: round.round,
            })?;
        if package.message().as_slice() != session_message
            || sha256(package.message()) != record.message_digest
        {
            return Err(Refusal::DifferentMessage);
        }
        let digest = package_digest(package)?;
        let share = match &record.state {
            NonceState::Used {
                package_digest,
                share,
            } => {
                return if *package_digest == digest {
                    Ok(SignOutcome::Repeat(*share))
                } else {
                    Err(Refusal::NonceAlreadyUsed {
                        attempt: round.attempt,
                        round: round.round,
                    })
                };
            }
            NonceState::Committed { nonces } => {
                if package.signing_commitment(key.identifier()) != Some(*nonces.commitments()) {
                    return Err(Refusal::CommitmentMismatch);
                }
                round2::sign(package, nonces, key).map_err(|e| Refusal::Frost {
                    reason: e.to_string(),
                })?
            }
        };
        // Replacing the state drops (and zeroizes) the secret nonces.
        record.state = NonceState::Used {
            package_digest: digest,
            share,
        };
        Ok(SignOutcome::Fresh(Box::new(record.clone()), share))
    }

    pub(crate) fn forget_session(&mut self, session: &SessionId) {
        self.records.retain(|round, _| round.session != *session);
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}

fn package_digest(package: &SigningPackage) -> Result<Hash32, Refusal> {
    package
        .serialize()
        .map(|bytes| sha256(&bytes))
        .map_err(|e| Refusal::Frost {
            reason: e.to_string(),
        })
}
