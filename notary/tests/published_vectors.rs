//! Published test vectors (specs/notary.md §7.8): RFC 8032 §7.1 checked with ed25519-dalek,
//! and RFC 9591 Appendix E.1 checked against frost-ed25519 step by step. The same files
//! check the Solidity verifier.

use std::collections::BTreeMap;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use frost_core::round1::Nonce;
use frost_ed25519::keys::{KeyPackage, SigningShare, VerifyingShare};
use frost_ed25519::round1::{SigningCommitments, SigningNonces};
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::{Ed25519Sha512, Identifier, SigningPackage};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn array<const N: usize>(v: &Value) -> [u8; N] {
    bytes(v).try_into().expect("right length")
}

#[test]
fn rfc8032_section_7_1_vectors_verify_strictly() {
    let file = load("rfc8032.json");
    let vectors = file["vectors"].as_array().expect("vectors");
    let names: Vec<&str> = vectors.iter().filter_map(|v| v["name"].as_str()).collect();
    assert_eq!(
        names,
        ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"]
    );
    for v in vectors {
        let name = v["name"].as_str().expect("name");
        let key = SigningKey::from_bytes(&array(&v["secret_key"]));
        let public =
            VerifyingKey::from_bytes(&array(&v["public_key"])).expect("public key decodes");
        let message = bytes(&v["message"]);
        let signature = ed25519_dalek::Signature::from_bytes(&array(&v["signature"]));
        assert_eq!(key.verifying_key(), public, "{name}: public key");
        assert_eq!(
            key.sign(&message),
            signature,
            "{name}: deterministic signature"
        );
        public
            .verify_strict(&message, &signature)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut tampered = message.clone();
        tampered.push(0);
        assert!(
            public.verify_strict(&tampered, &signature).is_err(),
            "{name}: tampered message"
        );
    }
}

#[test]
fn rfc9591_appendix_e1_vector_matches_frost_ed25519() {
    let file = load("rfc9591-ed25519.json");
    let inputs = &file["inputs"];
    let message = bytes(&inputs["message"]);
    let min_signers: u16 = file["config"]["MIN_PARTICIPANTS"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("min");

    let group_secret = frost_ed25519::SigningKey::deserialize(&bytes(&inputs["group_secret_key"]))
        .expect("secret");
    let group_key = frost_ed25519::VerifyingKey::from(&group_secret);
    assert_eq!(
        group_key.serialize().expect("key"),
        bytes(&inputs["verifying_key_key"])
    );

    let id = |v: &Value| {
        Identifier::try_from(v.as_u64().and_then(|n| u16::try_from(n).ok()).expect("id"))
            .expect("non-zero")
    };
    let mut key_packages = BTreeMap::new();
    for share in inputs["participant_shares"].as_array().expect("shares") {
        let signing =
            SigningShare::deserialize(&bytes(&share["participant_share"])).expect("share");
        let verifying = VerifyingShare::from(signing);
        key_packages.insert(
            id(&share["identifier"]),
            KeyPackage::new(
                id(&share["identifier"]),
                signing,
                verifying,
                group_key,
                min_signers,
            ),
        );
    }

    let mut nonces = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    for out in file["round_one_outputs"]["outputs"]
        .as_array()
        .expect("round one")
    {
        let hiding =
            Nonce::<Ed25519Sha512>::deserialize(&bytes(&out["hiding_nonce"])).expect("hiding");
        let binding =
            Nonce::<Ed25519Sha512>::deserialize(&bytes(&out["binding_nonce"])).expect("binding");
        let signer_nonces = SigningNonces::from_nonces(hiding, binding);
        let c: &SigningCommitments = signer_nonces.commitments();
        assert_eq!(
            c.hiding().serialize().expect("hiding"),
            bytes(&out["hiding_nonce_commitment"])
        );
        assert_eq!(
            c.binding().serialize().expect("binding"),
            bytes(&out["binding_nonce_commitment"])
        );
        commitments.insert(id(&out["identifier"]), *c);
        nonces.insert(id(&out["identifier"]), signer_nonces);
    }

    let package = SigningPackage::new(commitments, &message);
    let mut shares = BTreeMap::new();
    for out in file["round_two_outputs"]["outputs"]
        .as_array()
        .expect("round two")
    {
        let signer = id(&out["identifier"]);
        let share = frost_ed25519::round2::sign(&package, &nonces[&signer], &key_packages[&signer])
            .expect("sign");
        assert_eq!(
            share,
            SignatureShare::deserialize(&bytes(&out["sig_share"])).expect("share"),
            "share of {signer:?}"
        );
        shares.insert(signer, share);
    }
    let public = frost_ed25519::keys::PublicKeyPackage::new(
        key_packages
            .iter()
            .map(|(i, k)| (*i, *k.verifying_share()))
            .collect(),
        group_key,
        Some(min_signers),
    );
    let signature = frost_ed25519::aggregate(&package, &shares, &public).expect("aggregate");
    let expected = bytes(&file["final_output"]["sig"]);
    assert_eq!(signature.serialize().expect("signature"), expected);

    // The threshold signature is a plain RFC 8032 signature under the group key.
    let dalek_key =
        VerifyingKey::from_bytes(&array(&inputs["verifying_key_key"])).expect("group key");
    let sig = ed25519_dalek::Signature::from_bytes(&expected.try_into().expect("64 bytes"));
    dalek_key
        .verify_strict(&message, &sig)
        .expect("verifies as Ed25519");
}
