//! DKG messages and the signed statements that make equivocation provable
//! (specs/notary.md §3.1).

use causeway_core::Hash32;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use frost_ed25519::keys::dkg::{round1, round2};
use frost_ed25519::Identifier;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::signing::SignatureBytes;

const ROUND1_STATEMENT_DOMAIN: &[u8] = b"CAUSEWAY-NOTARY-DKG-ROUND1-V1";
const CONFIRM_STATEMENT_DOMAIN: &[u8] = b"CAUSEWAY-NOTARY-DKG-CONFIRM-V1";
const TRANSCRIPT_DOMAIN: &[u8] = b"CAUSEWAY-NOTARY-DKG-TRANSCRIPT-V1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DkgMessage {
    /// Broadcast: the sender's FROST round-1 package, signed with its identity key.
    Round1 {
        package: round1::Package,
        signature: SignatureBytes,
    },
    /// Broadcast: every round-1 package digest the sender received, each with its author's
    /// signature, so any disagreement is attributable.
    Echo {
        received: Vec<(Identifier, SignedDigest)>,
    },
    /// Secret, to one member only, over the encrypted channel.
    Round2 { package: round2::Package },
    /// Broadcast: the sender accepts this transcript and group key.
    Confirm {
        transcript_hash: Hash32,
        group_key: Hash32,
        signature: SignatureBytes,
    },
}

/// `digest = SHA-256(serialized round-1 package)` signed by its author over
/// `domain || ceremony id || author identifier || digest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDigest {
    pub digest: Hash32,
    pub signature: SignatureBytes,
}

/// Two round-1 statements by the same member for different packages: proof that it
/// showed different packages to different peers. Anyone holding the member's identity key
/// can check it with [`EquivocationProof::verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquivocationProof {
    pub ceremony: Hash32,
    pub member: Identifier,
    pub first: SignedDigest,
    pub second: SignedDigest,
}

impl EquivocationProof {
    pub fn verify(&self, identity: &VerifyingKey) -> bool {
        self.first.digest != self.second.digest
            && verify_round1_statement(identity, &self.ceremony, self.member, &self.first)
            && verify_round1_statement(identity, &self.ceremony, self.member, &self.second)
    }
}

fn round1_statement(ceremony: &Hash32, author: Identifier, digest: &Hash32) -> Vec<u8> {
    [
        ROUND1_STATEMENT_DOMAIN,
        &ceremony.0,
        &author.serialize(),
        &digest.0,
    ]
    .concat()
}

pub(crate) fn sign_round1(
    identity: &SigningKey,
    ceremony: &Hash32,
    author: Identifier,
    digest: Hash32,
) -> SignedDigest {
    SignedDigest {
        digest,
        signature: SignatureBytes(
            identity
                .sign(&round1_statement(ceremony, author, &digest))
                .to_bytes(),
        ),
    }
}

pub(crate) fn verify_round1_statement(
    identity: &VerifyingKey,
    ceremony: &Hash32,
    author: Identifier,
    signed: &SignedDigest,
) -> bool {
    let statement = round1_statement(ceremony, author, &signed.digest);
    identity
        .verify_strict(
            &statement,
            &ed25519_dalek::Signature::from_bytes(&signed.signature.0),
        )
        .is_ok()
}

fn confirm_statement(
    ceremony: &Hash32,
    author: Identifier,
    transcript: &Hash32,
    group_key: &Hash32,
) -> Vec<u8> {
    [
        CONFIRM_STATEMENT_DOMAIN,
        &ceremony.0,
        &author.serialize(),
        &transcript.0,
        &group_key.0,
    ]
    .concat()
}

pub(crate) fn sign_confirm(
    identity: &SigningKey,
    ceremony: &Hash32,
    author: Identifier,
    transcript: &Hash32,
    group_key: &Hash32,
) -> SignatureBytes {
    SignatureBytes(
        identity
            .sign(&confirm_statement(ceremony, author, transcript, group_key))
            .to_bytes(),
    )
}

pub(crate) fn verify_confirm(
    identity: &VerifyingKey,
    ceremony: &Hash32,
    author: Identifier,
    transcript: &Hash32,
    group_key: &Hash32,
    signature: &SignatureBytes,
) -> bool {
    identity
        .verify_strict(
            &confirm_statement(ceremony, author, transcript, group_key),
            &ed25519_dalek::Signature::from_bytes(&signature.0),
        )
        .is_ok()
}

/// The transcript every member confirms: ceremony, parameters and every round-1 digest in
/// identifier order. Equal transcripts mean equal round-1 views, hence one group key.
pub(crate) fn transcript_hash(
    ceremony: &Hash32,
    threshold: u16,
    digests: &std::collections::BTreeMap<Identifier, SignedDigest>,
) -> Hash32 {
    let mut h = Sha256::new();
    h.update(TRANSCRIPT_DOMAIN);
    h.update(ceremony.0);
    h.update(threshold.to_be_bytes());
    // The committee size is bounded far below u32::MAX by the committee rules.
    h.update((digests.len() as u32).to_be_bytes());
    for (id, signed) in digests {
        h.update(id.serialize());
        h.update(signed.digest.0);
    }
    Hash32(h.finalize().into())
}
