//! The coordinator's half of one round (specs/notary.md §4.4, §6): gather t commitments,
//! hand out one signing package, verify every share as it arrives, aggregate.

use std::collections::BTreeMap;

use frost_ed25519::keys::PublicKeyPackage;
use frost_ed25519::round1::SigningCommitments;
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::{Identifier, SigningPackage};

use crate::signing::messages::{Refusal, RoundId};
use crate::transport::member_label;

pub(crate) struct CoordinatorRound {
    pub(crate) round: RoundId,
    commitments: BTreeMap<Identifier, SigningCommitments>,
    package: Option<SigningPackage>,
    shares: BTreeMap<Identifier, SignatureShare>,
    /// The package was built from pooled commitments (§5.1), not from this round's.
    pooled: bool,
}

pub(crate) enum ShareOutcome {
    Waiting,
    /// The share did not verify: the sender is a cheater.
    Invalid {
        culprit: Identifier,
        reason: String,
    },
    /// All shares verified and aggregated; the 64-byte group signature.
    Complete([u8; 64]),
}

impl CoordinatorRound {
    pub(crate) fn new(round: RoundId) -> Self {
        CoordinatorRound {
            round,
            commitments: BTreeMap::new(),
            package: None,
            shares: BTreeMap::new(),
            pooled: false,
        }
    }

    /// A round whose package is already built from pooled commitments: one round trip.
    pub(crate) fn pooled(round: RoundId, package: SigningPackage) -> Self {
        CoordinatorRound {
            round,
            commitments: package.signing_commitments().clone(),
            package: Some(package),
            shares: BTreeMap::new(),
            pooled: true,
        }
    }

    /// Pooled signers whose share has not arrived: if one of them voids its pool (or never
    /// answers), this round cannot complete.
    pub(crate) fn pooled_signers_pending(&self) -> Vec<Identifier> {
        match (&self.package, self.pooled) {
            (Some(package), true) => package
                .signing_commitments()
                .keys()
                .filter(|id| !self.shares.contains_key(id))
                .copied()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Records a commitment; returns the signing package once `threshold` are in. Later
    /// commitments are ignored: exactly t signers keeps the share wait short.
    pub(crate) fn add_commitment(
        &mut self,
        from: Identifier,
        commitments: SigningCommitments,
        threshold: u16,
        message: &[u8],
    ) -> Option<SigningPackage> {
        if self.package.is_some() {
            return None;
        }
        self.commitments.insert(from, commitments);
        if self.commitments.len() < usize::from(threshold) {
            return None;
        }
        let package = SigningPackage::new(self.commitments.clone(), message);
        self.package = Some(package.clone());
        Some(package)
    }

    pub(crate) fn add_share(
        &mut self,
        from: Identifier,
        share: SignatureShare,
        keys: &PublicKeyPackage,
    ) -> Result<ShareOutcome, Refusal> {
        let package = self.package.as_ref().ok_or(Refusal::NotCoordinating)?;
        let verifying_share = match (
            package.signing_commitment(&from),
            keys.verifying_shares().get(&from),
        ) {
            (Some(_), Some(v)) => v,
            _ => {
                return Err(Refusal::UnknownMember {
                    member: member_label(&from),
                })
            }
        };
        if let Err(e) = frost_core::verify_signature_share(
            from,
            verifying_share,
            &share,
            package,
            keys.verifying_key(),
        ) {
            return Ok(ShareOutcome::Invalid {
                culprit: from,
                reason: e.to_string(),
            });
        }
        self.shares.insert(from, share);
        if self.shares.len() < package.signing_commitments().len() {
            return Ok(ShareOutcome::Waiting);
        }
        let signature =
            frost_ed25519::aggregate(package, &self.shares, keys).map_err(|e| Refusal::Frost {
                reason: e.to_string(),
            })?;
        let bytes = signature.serialize().map_err(|e| Refusal::Frost {
            reason: e.to_string(),
        })?;
        let signature: [u8; 64] = bytes.as_slice().try_into().map_err(|_| Refusal::Frost {
            reason: format!("signature is {} bytes, expected 64", bytes.len()),
        })?;
        Ok(ShareOutcome::Complete(signature))
    }
}
