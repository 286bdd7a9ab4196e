//! Verification of attestations and transfers, as a destination chain performs it
//! (specs/notary.md §7.7). A FROST(Ed25519, SHA-512) group signature is a standard RFC 8032
//! signature, so `verify_strict` against the group key is the whole signature check.

use causeway_core::Hash32;
use ed25519_dalek::Signature;

use crate::attestation::{Attestation, AttestationError, GroupKey, Transfer, TransferAttestation};
use crate::merkle::MerkleProof;

/// Checks `signature` over the canonical bytes of `attestation` (which are validated
/// field by field first) under `group_key`. The caller must pass the key registered for
/// `attestation.key_epoch()`; [`verify_for_committee`] does that check too.
pub fn verify_attestation(
    group_key: &[u8; 32],
    attestation: &Attestation,
    signature: &[u8; 64],
) -> Result<(), AttestationError> {
    let message = attestation.to_bytes()?;
    verify_message(group_key, attestation.key_epoch(), &message, signature)
}

/// Parses canonical attestation bytes and checks the signature over exactly those bytes.
pub fn verify_attestation_bytes(
    group_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<Attestation, AttestationError> {
    let attestation = Attestation::from_bytes(message)?;
    verify_message(group_key, attestation.key_epoch(), message, signature)?;
    Ok(attestation)
}

/// The key a verifier trusts: one committee, one epoch, one group key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitteeKey {
    pub committee_id: Hash32,
    pub epoch: u64,
    pub group_key: GroupKey,
}

/// As [`verify_attestation`], and also refuses attestations for another committee or epoch
/// (Wormhole lesson: a signature is only as good as the key it was checked against).
pub fn verify_for_committee(
    key: &CommitteeKey,
    attestation: &Attestation,
    signature: &[u8; 64],
) -> Result<(), AttestationError> {
    if attestation.committee_id() != key.committee_id {
        return Err(AttestationError::WrongCommittee {
            expected: key.committee_id,
            found: attestation.committee_id(),
        });
    }
    if attestation.key_epoch() != key.epoch {
        return Err(AttestationError::WrongEpoch {
            expected: key.epoch,
            found: attestation.key_epoch(),
        });
    }
    verify_attestation(&key.group_key.0, attestation, signature)
}

/// Checks that `transfer` is leaf `proof.leaf_index` of the batch `attestation` commits to.
/// Verify the attestation's signature first; this only proves membership.
pub fn verify_transfer(
    attestation: &TransferAttestation,
    transfer: &Transfer,
    proof: &MerkleProof,
) -> Result<(), AttestationError> {
    Attestation::TransferBatch(attestation.clone()).validate()?;
    let index = proof.leaf_index as usize;
    transfer.validate(index)?;
    if transfer.source_chain != attestation.source_chain {
        return Err(AttestationError::TransferChainMismatch {
            index,
            expected: attestation.source_chain.clone(),
            found: transfer.source_chain.clone(),
        });
    }
    if proof.leaf_count != attestation.transfer_count {
        return Err(AttestationError::ProofCountMismatch {
            proof_count: proof.leaf_count,
            attested_count: attestation.transfer_count,
        });
    }
    proof.verify(&attestation.merkle_root, transfer.leaf_hash()?)
}

fn verify_message(
    group_key: &[u8; 32],
    key_epoch: u64,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), AttestationError> {
    let key = GroupKey(*group_key).check()?;
    key.verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| AttestationError::BadSignature { key_epoch })
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
