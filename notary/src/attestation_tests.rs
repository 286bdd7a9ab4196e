use proptest::prelude::*;

use super::*;
use crate::test_support::{batch, chain, committee_id, transfer};

fn rotation() -> KeyRotation {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    KeyRotation {
        committee_id: committee_id(),
        key_epoch: 1,
        chain: chain("evm-b"),
        new_epoch: 2,
        new_group_key: GroupKey(key.to_bytes()),
        activate_at_ms: 1_700_000_000_000,
        overlap_ms: 3_600_000,
    }
}

fn pause() -> PauseControl {
    PauseControl {
        committee_id: committee_id(),
        key_epoch: 1,
        chain: chain("evm-b"),
        control_sequence: 1,
        paused: true,
    }
}

// specs/notary.md §7.2–§7.5: every kind round-trips through its canonical bytes.
#[test]
fn every_kind_round_trips() {
    for a in [
        Attestation::TransferBatch(batch(3).attestation),
        Attestation::KeyRotation(rotation()),
        Attestation::Pause(pause()),
    ] {
        let bytes = a.to_bytes().unwrap();
        assert_eq!(&bytes[..18], DOMAIN_TAG);
        assert_eq!(Attestation::from_bytes(&bytes).unwrap(), a);
    }
}

// specs/notary.md §7.3: offsets and total length of a transfer batch message.
#[test]
fn transfer_batch_layout_matches_the_table() {
    let a = batch(3).attestation;
    let bytes = Attestation::TransferBatch(a.clone()).to_bytes().unwrap();
    let (s, d) = (a.source_chain.as_str().len(), a.dest_chain.as_str().len());
    assert_eq!(bytes.len(), 107 + s + d);
    assert_eq!(bytes[18], KIND_TRANSFER_BATCH);
    assert_eq!(&bytes[19..51], &a.committee_id.0);
    assert_eq!(&bytes[51..59], &1u64.to_be_bytes());
    assert_eq!(&bytes[59..61], &(s as u16).to_be_bytes());
    assert_eq!(&bytes[61..61 + s], a.source_chain.as_str().as_bytes());
    assert_eq!(&bytes[63 + s + d..71 + s + d], &1u64.to_be_bytes());
    assert_eq!(&bytes[71 + s + d..75 + s + d], &3u32.to_be_bytes());
    assert_eq!(&bytes[75 + s + d..], &a.merkle_root.0);
}

// specs/notary.md §7.4 and §7.5: total lengths.
#[test]
fn rotation_and_pause_lengths_match_the_tables() {
    let c = "evm-b".len();
    assert_eq!(
        Attestation::KeyRotation(rotation())
            .to_bytes()
            .unwrap()
            .len(),
        117 + c
    );
    assert_eq!(
        Attestation::Pause(pause()).to_bytes().unwrap().len(),
        70 + c
    );
}

// specs/notary.md §7.7 (Nomad lesson): zero/default values are refused, never "unset".
#[test]
fn zero_values_are_refused_by_name() {
    let base = batch(2).attestation;
    let cases: Vec<(TransferAttestation, &str)> = vec![
        (
            TransferAttestation {
                committee_id: Hash32::ZERO,
                ..base.clone()
            },
            "committee_id",
        ),
        (
            TransferAttestation {
                key_epoch: 0,
                ..base.clone()
            },
            "key_epoch",
        ),
        (
            TransferAttestation {
                sequence: 0,
                ..base.clone()
            },
            "sequence",
        ),
        (
            TransferAttestation {
                merkle_root: Hash32::ZERO,
                ..base.clone()
            },
            "merkle_root",
        ),
        (
            TransferAttestation {
                transfer_count: 0,
                ..base.clone()
            },
            "at least one transfer",
        ),
    ];
    for (bad, needle) in cases {
        let err = Attestation::TransferBatch(bad).to_bytes().unwrap_err();
        assert!(
            err.to_string().contains(needle),
            "{err} should name {needle}"
        );
    }
    let zero_key = KeyRotation {
        new_group_key: GroupKey([0; 32]),
        ..rotation()
    };
    assert!(matches!(
        Attestation::KeyRotation(zero_key).validate(),
        Err(AttestationError::ZeroField { field: "group_key" })
    ));
    let zero_seq = PauseControl {
        control_sequence: 0,
        ..pause()
    };
    assert!(Attestation::Pause(zero_seq).validate().is_err());
}

#[test]
fn same_chain_and_bad_rotation_are_refused() {
    let mut a = batch(1).attestation;
    a.dest_chain = a.source_chain.clone();
    assert!(matches!(
        Attestation::TransferBatch(a).validate(),
        Err(AttestationError::SameChain { .. })
    ));
    for bad in [
        KeyRotation {
            new_epoch: 3,
            ..rotation()
        },
        KeyRotation {
            key_epoch: u64::MAX,
            new_epoch: 0,
            ..rotation()
        },
        KeyRotation {
            overlap_ms: MAX_ROTATION_OVERLAP_MS + 1,
            ..rotation()
        },
        KeyRotation {
            activate_at_ms: 0,
            ..rotation()
        },
    ] {
        assert!(Attestation::KeyRotation(bad).validate().is_err());
    }
}

#[test]
fn small_order_and_non_point_keys_are_refused() {
    // The identity point (y = 1) has small order.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(GroupKey(identity).check().is_err());
    // y = 2 is not on the curve.
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    assert!(GroupKey(not_a_point).check().is_err());
}

#[test]
fn non_canonical_bytes_are_refused() {
    let bytes = Attestation::Pause(pause()).to_bytes().unwrap();
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        Attestation::from_bytes(&trailing),
        Err(AttestationError::TrailingBytes { extra: 1 })
    ));
    let mut flag = bytes.clone();
    *flag.last_mut().unwrap() = 2;
    assert!(Attestation::from_bytes(&flag).is_err());
    let mut kind = bytes.clone();
    kind[18] = 9;
    assert!(Attestation::from_bytes(&kind).is_err());
    let mut tag = bytes.clone();
    tag[0] ^= 1;
    assert!(Attestation::from_bytes(&tag).is_err());
    for cut in 0..bytes.len() {
        assert!(
            Attestation::from_bytes(&bytes[..cut]).is_err(),
            "prefix {cut} accepted"
        );
    }
    assert!(Attestation::from_bytes(&vec![0; MAX_ATTESTATION_BYTES + 1]).is_err());
}

#[test]
fn batches_refuse_foreign_duplicate_and_zero_transfers() {
    let build = |transfers| {
        TransferBatch::build(
            committee_id(),
            1,
            chain("devchain-a"),
            chain("evm-b"),
            1,
            transfers,
        )
    };
    let mut foreign = transfer(1);
    foreign.source_chain = chain("other");
    assert!(matches!(
        build(vec![transfer(0), foreign]),
        Err(AttestationError::TransferChainMismatch { index: 1, .. })
    ));
    assert!(matches!(
        build(vec![transfer(0), transfer(0)]),
        Err(AttestationError::DuplicateTransfer { index: 1 })
    ));
    let mut zero = transfer(0);
    zero.amount = causeway_core::Amount::ZERO;
    assert!(matches!(
        build(vec![zero]),
        Err(AttestationError::TransferZeroField {
            index: 0,
            field: "amount"
        })
    ));
    assert!(matches!(build(vec![]), Err(AttestationError::EmptyBatch)));
}

proptest! {
    // specs/notary.md §7.1: any valid field values survive encode → decode unchanged.
    #[test]
    fn arbitrary_batches_round_trip(
        epoch in 1u64.., sequence in 1u64.., count in 1u32..=10_000, root in any::<[u8; 32]>(),
        src in "[a-z0-9.-]{1,64}", dst in "[A-Z_]{1,64}",
    ) {
        prop_assume!(root != [0; 32]);
        let a = Attestation::TransferBatch(TransferAttestation {
            committee_id: committee_id(),
            key_epoch: epoch,
            source_chain: chain(&src),
            dest_chain: chain(&dst),
            sequence,
            transfer_count: count,
            merkle_root: Hash32(root),
        });
        prop_assert_eq!(Attestation::from_bytes(&a.to_bytes().unwrap()).unwrap(), a);
    }
}
