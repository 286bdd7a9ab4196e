//! `notary/vectors/attestation.json`: worked examples for other verifiers (the Solidity
//! bridge). The file is the output of this test; set `CAUSEWAY_WRITE_VECTORS=1` to rewrite it
//! after a deliberate format change (specs/notary.md §7.8).

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

use crate::attestation::{Attestation, GroupKey, KeyRotation, PauseControl};
use crate::merkle::leaf_hash;
use crate::test_support::{batch, chain, committee_id};
use crate::verify::verify_attestation_bytes;

const VECTORS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/attestation.json");
const TEST_KEY_SEED: [u8; 32] = [7; 32];

fn signed_entry(name: &str, key: &SigningKey, a: Attestation) -> Value {
    let message = a.to_bytes().expect("fixture attestation is valid");
    let signature = key.sign(&message).to_bytes();
    verify_attestation_bytes(&key.verifying_key().to_bytes(), &message, &signature)
        .expect("fixture signature verifies");
    json!({
        "name": name,
        "attestation": a,
        "message_hex": hex::encode(&message),
        "signature_hex": hex::encode(signature),
    })
}

fn build_vectors() -> Value {
    let key = SigningKey::from_bytes(&TEST_KEY_SEED);
    let b = batch(3);
    let transfers: Vec<Value> = b
        .transfers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let leaf = t.leaf_bytes().expect("fixture transfer is valid");
            json!({
                "transfer": t,
                "leaf_bytes_hex": hex::encode(&leaf),
                "leaf_hash": leaf_hash(&leaf),
                "proof": b.proof(i).expect("index in range"),
            })
        })
        .collect();
    let new_key = SigningKey::from_bytes(&[9; 32]).verifying_key().to_bytes();
    let attestations = vec![
        signed_entry(
            "transfer_batch_3",
            &key,
            Attestation::TransferBatch(b.attestation.clone()),
        ),
        signed_entry(
            "key_rotation_1_to_2",
            &key,
            Attestation::KeyRotation(KeyRotation {
                committee_id: committee_id(),
                key_epoch: 1,
                chain: chain("evm-b"),
                new_epoch: 2,
                new_group_key: GroupKey(new_key),
                activate_at_ms: 1_700_000_000_000,
                overlap_ms: 3_600_000,
            }),
        ),
        signed_entry(
            "pause",
            &key,
            Attestation::Pause(PauseControl {
                committee_id: committee_id(),
                key_epoch: 1,
                chain: chain("evm-b"),
                control_sequence: 1,
                paused: true,
            }),
        ),
    ];
    json!({
        "description": "Causeway notary attestation vectors, specs/notary.md §7. Signatures are RFC 8032 Ed25519 by the test key (a FROST group signature verifies identically).",
        "test_key_seed_hex": hex::encode(TEST_KEY_SEED),
        "group_key_hex": hex::encode(key.verifying_key().to_bytes()),
        "merkle_root": b.attestation.merkle_root,
        "transfers": transfers,
        "attestations": attestations,
    })
}

#[test]
fn published_attestation_vectors_match_the_code() {
    let expected = build_vectors();
    if std::env::var_os("CAUSEWAY_WRITE_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&expected).expect("vectors serialize");
        std::fs::write(VECTORS_PATH, text + "\n").expect("write vectors file");
    }
    let text = std::fs::read_to_string(VECTORS_PATH)
        .expect("notary/vectors/attestation.json exists (CAUSEWAY_WRITE_VECTORS=1 creates it)");
    let published: Value = serde_json::from_str(&text).expect("vectors file is JSON");
    assert_eq!(
        published, expected,
        "format changed: update specs/notary.md §7 and the vectors"
    );
}
