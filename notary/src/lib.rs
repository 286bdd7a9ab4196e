//! The notary committee protocol (pure, no I/O): FROST (Ed25519) key generation and
//! signing as sans-I/O state machines, attestations with Merkle batches, committee
//! validation, the governor and encrypted key shares. The protocol is specified in
//! `specs/notary.md`; tests name the section they check.

pub mod attestation;
mod attestation_error;
#[cfg(test)]
mod attestation_vectors_tests;
mod codec;
pub mod committee;
pub mod dkg;
pub mod governor;
pub mod keystore;
pub mod merkle;
pub mod signing;
#[cfg(test)]
mod test_support;
pub mod transport;
pub mod verify;

pub use attestation::{
    Attestation, AttestationError, GroupKey, KeyRotation, PauseControl, Transfer,
    TransferAttestation, TransferBatch,
};
pub use codec::MAX_TEXT_FIELD_BYTES;
pub use merkle::{MerkleProof, MerkleTree};
pub use verify::{
    verify_attestation, verify_attestation_bytes, verify_for_committee, verify_transfer,
    CommitteeKey,
};
