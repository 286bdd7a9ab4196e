use ed25519_dalek::{Signer, SigningKey};

use super::*;
use crate::attestation::TransferBatch;
use crate::test_support::{batch, committee_id, transfer};

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn signed(b: &TransferBatch) -> (Attestation, [u8; 64]) {
    let a = Attestation::TransferBatch(b.attestation.clone());
    let sig = key().sign(&a.to_bytes().unwrap()).to_bytes();
    (a, sig)
}

// specs/notary.md §7.7: a valid signature verifies; any change to any field does not.
#[test]
fn signature_covers_every_field() {
    let b = batch(4);
    let (a, sig) = signed(&b);
    let pk = key().verifying_key().to_bytes();
    verify_attestation(&pk, &a, &sig).unwrap();
    let bytes = a.to_bytes().unwrap();
    assert_eq!(verify_attestation_bytes(&pk, &bytes, &sig).unwrap(), a);
    for i in 0..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[i] ^= 0x01;
        assert!(
            verify_attestation_bytes(&pk, &tampered, &sig).is_err(),
            "byte {i} not covered"
        );
    }
    let mut bad_sig = sig;
    bad_sig[63] ^= 0x10;
    assert!(matches!(
        verify_attestation(&pk, &a, &bad_sig),
        Err(AttestationError::BadSignature { key_epoch: 1 })
    ));
}

// specs/notary.md §7.7 (Wormhole lesson): the key must be the one for this committee and epoch.
#[test]
fn wrong_committee_or_epoch_is_refused_before_the_signature() {
    let (a, sig) = signed(&batch(1));
    let good = CommitteeKey {
        committee_id: committee_id(),
        epoch: 1,
        group_key: GroupKey(key().verifying_key().to_bytes()),
    };
    verify_for_committee(&good, &a, &sig).unwrap();
    let other_epoch = CommitteeKey { epoch: 2, ..good };
    assert!(matches!(
        verify_for_committee(&other_epoch, &a, &sig),
        Err(AttestationError::WrongEpoch {
            expected: 2,
            found: 1
        })
    ));
    let other_committee = CommitteeKey {
        committee_id: causeway_core::sha256(b"x"),
        ..good
    };
    assert!(matches!(
        verify_for_committee(&other_committee, &a, &sig),
        Err(AttestationError::WrongCommittee { .. })
    ));
}

// specs/notary.md §7.6–§7.7: every transfer proves membership; a forged one does not.
#[test]
fn transfers_prove_membership() {
    let b = batch(5);
    for (i, t) in b.transfers.iter().enumerate() {
        verify_transfer(&b.attestation, t, &b.proof(i).unwrap()).unwrap();
    }
    let mut forged = transfer(2);
    forged.amount = causeway_core::Amount(10_000_000);
    assert!(matches!(
        verify_transfer(&b.attestation, &forged, &b.proof(2).unwrap()),
        Err(AttestationError::ProofMismatch { leaf_index: 2, .. })
    ));
    let mut short = b.proof(0).unwrap();
    short.leaf_count = 4;
    assert!(matches!(
        verify_transfer(&b.attestation, &b.transfers[0], &short),
        Err(AttestationError::ProofCountMismatch { .. })
    ));
}
