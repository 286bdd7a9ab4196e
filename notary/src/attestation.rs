//! What the committee signs: canonical, domain-separated attestation bytes (specs/notary.md §7).
//!
//! The byte layout is the contract with every verifier (the Solidity bridge included), so it
//! is written out field by field here and in the spec; change both or neither.

use causeway_core::{Address, Amount, AssetId, ChainId, Hash32, Position, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::codec::{Reader, Writer};
use crate::merkle::{leaf_hash, MerkleProof, MerkleTree, MAX_LEAVES};

pub use crate::attestation_error::AttestationError;

/// First bytes of every attestation: no other Causeway signature can be mistaken for one.
pub const DOMAIN_TAG: &[u8; 18] = b"CAUSEWAY-NOTARY-V1";
pub const KIND_TRANSFER_BATCH: u8 = 0x01;
pub const KIND_KEY_ROTATION: u8 = 0x02;
pub const KIND_PAUSE: u8 = 0x03;
/// Longest overlap in which old and new keys are both accepted after a rotation.
pub const MAX_ROTATION_OVERLAP_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Longest attestation message; the largest real one is about 700 bytes.
pub const MAX_ATTESTATION_BYTES: usize = 1024;

/// A committee's Ed25519 group public key (compressed Edwards point, RFC 8032 encoding).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupKey(#[serde(with = "hex::serde")] pub [u8; 32]);

impl GroupKey {
    /// The group key of a FROST key package, checked as [`GroupKey::check`] does.
    pub fn from_public_key_package(
        public: &frost_ed25519::keys::PublicKeyPackage,
    ) -> Result<GroupKey, AttestationError> {
        let invalid = |reason: String| AttestationError::InvalidGroupKey { reason };
        let bytes = public
            .verifying_key()
            .serialize()
            .map_err(|e| invalid(e.to_string()))?;
        let key = GroupKey(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| invalid(format!("{} bytes, expected 32", bytes.len())))?,
        );
        key.check()?;
        Ok(key)
    }

    /// Refuses the zero encoding, non-points and small-order points: such a "key" would let
    /// anyone forge signatures.
    pub fn check(&self) -> Result<ed25519_dalek::VerifyingKey, AttestationError> {
        if self.0 == [0; 32] {
            return Err(AttestationError::ZeroField { field: "group_key" });
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|e| {
            AttestationError::InvalidGroupKey {
                reason: format!("not a valid Ed25519 point encoding ({e})"),
            }
        })?;
        if key.is_weak() {
            return Err(AttestationError::InvalidGroupKey {
                reason: "small-order point".into(),
            });
        }
        Ok(key)
    }
}

impl std::fmt::Debug for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupKey({})", hex::encode(self.0))
    }
}

/// One lock on the source chain that the destination chain should honour.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transfer {
    pub source_chain: ChainId,
    pub source_position: Position,
    pub source_tx_hash: Hash32,
    pub asset: AssetId,
    pub amount: Amount,
    pub sender: Address,
    /// On the destination chain, in its canonical text form (lowercase `0x…` on EVM chains).
    pub recipient: Address,
    pub dest_asset: AssetId,
}

impl Transfer {
    pub fn validate(&self, index: usize) -> Result<(), AttestationError> {
        if self.source_tx_hash.is_zero() {
            return Err(AttestationError::TransferZeroField {
                index,
                field: "source_tx_hash",
            });
        }
        if self.amount.is_zero() {
            return Err(AttestationError::TransferZeroField {
                index,
                field: "amount",
            });
        }
        Ok(())
    }

    /// specs/notary.md §7.2.
    pub fn leaf_bytes(&self) -> Result<Vec<u8>, AttestationError> {
        let mut w = Writer::with_capacity(256);
        w.text("source_chain", self.source_chain.as_str())?
            .u64(self.source_position.height)
            .u32(self.source_position.index)
            .raw(&self.source_tx_hash.0)
            .text("asset", self.asset.as_str())?
            .u128(self.amount.0)
            .text("sender", self.sender.as_str())?
            .text("recipient", self.recipient.as_str())?
            .text("dest_asset", self.dest_asset.as_str())?;
        Ok(w.finish())
    }

    pub fn leaf_hash(&self) -> Result<Hash32, AttestationError> {
        Ok(leaf_hash(&self.leaf_bytes()?))
    }
}

/// Kind 0x01: a batch of transfers from one chain to another, committed by Merkle root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferAttestation {
    pub committee_id: Hash32,
    pub key_epoch: u64,
    pub source_chain: ChainId,
    pub dest_chain: ChainId,
    /// Per (committee, source, dest) route, starting at 1.
    pub sequence: u64,
    pub transfer_count: u32,
    pub merkle_root: Hash32,
}

/// Kind 0x02: hands the committee's authority on `chain` to a new group key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotation {
    pub committee_id: Hash32,
    /// The epoch of the key signing this rotation.
    pub key_epoch: u64,
    pub chain: ChainId,
    pub new_epoch: u64,
    pub new_group_key: GroupKey,
    /// By `chain`'s own block time; from here the new key is valid.
    pub activate_at_ms: UnixMillis,
    /// The old key stays valid until `activate_at_ms + overlap_ms`, so in-flight batches land.
    pub overlap_ms: u64,
}

/// Kind 0x03: pauses or resumes the bridge on `chain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseControl {
    pub committee_id: Hash32,
    pub key_epoch: u64,
    pub chain: ChainId,
    /// Strictly increasing per (committee, chain), starting at 1, so an old pause cannot be replayed.
    pub control_sequence: u64,
    pub paused: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attestation {
    TransferBatch(TransferAttestation),
    KeyRotation(KeyRotation),
    Pause(PauseControl),
}

fn positive(field: &'static str, value: u64) -> Result<(), AttestationError> {
    if value == 0 {
        Err(AttestationError::NotPositive { field, value })
    } else {
        Ok(())
    }
}

fn non_zero_hash(field: &'static str, value: &Hash32) -> Result<(), AttestationError> {
    if value.is_zero() {
        Err(AttestationError::ZeroField { field })
    } else {
        Ok(())
    }
}

impl Attestation {
    pub fn committee_id(&self) -> Hash32 {
        match self {
            Attestation::TransferBatch(a) => a.committee_id,
            Attestation::KeyRotation(a) => a.committee_id,
            Attestation::Pause(a) => a.committee_id,
        }
    }

    pub fn key_epoch(&self) -> u64 {
        match self {
            Attestation::TransferBatch(a) => a.key_epoch,
            Attestation::KeyRotation(a) => a.key_epoch,
            Attestation::Pause(a) => a.key_epoch,
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Attestation::TransferBatch(_) => KIND_TRANSFER_BATCH,
            Attestation::KeyRotation(_) => KIND_KEY_ROTATION,
            Attestation::Pause(_) => KIND_PAUSE,
        }
    }

    /// Every field a verifier acts on is checked here (Nomad lesson: no zero defaults).
    pub fn validate(&self) -> Result<(), AttestationError> {
        non_zero_hash("committee_id", &self.committee_id())?;
        positive("key_epoch", self.key_epoch())?;
        match self {
            Attestation::TransferBatch(a) => {
                if a.source_chain == a.dest_chain {
                    return Err(AttestationError::SameChain {
                        chain: a.source_chain.clone(),
                    });
                }
                positive("sequence", a.sequence)?;
                if a.transfer_count == 0 {
                    return Err(AttestationError::EmptyBatch);
                }
                if a.transfer_count as usize > MAX_LEAVES {
                    return Err(AttestationError::BatchTooLarge {
                        count: a.transfer_count as usize,
                        max: MAX_LEAVES,
                    });
                }
                non_zero_hash("merkle_root", &a.merkle_root)
            }
            Attestation::KeyRotation(r) => {
                if r.key_epoch.checked_add(1) != Some(r.new_epoch) {
                    return Err(AttestationError::EpochNotNext {
                        key_epoch: r.key_epoch,
                        new_epoch: r.new_epoch,
                    });
                }
                r.new_group_key.check()?;
                positive("activate_at_ms", r.activate_at_ms)?;
                if r.overlap_ms > MAX_ROTATION_OVERLAP_MS {
                    return Err(AttestationError::OverlapTooLong {
                        overlap_ms: r.overlap_ms,
                        max_ms: MAX_ROTATION_OVERLAP_MS,
                    });
                }
                Ok(())
            }
            Attestation::Pause(p) => positive("control_sequence", p.control_sequence),
        }
    }

    /// The exact message the committee signs (specs/notary.md §7.1). Validates first, so
    /// an invalid attestation never reaches a signer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, AttestationError> {
        self.validate()?;
        let mut w = Writer::with_capacity(256);
        w.raw(DOMAIN_TAG)
            .u8(self.kind())
            .raw(&self.committee_id().0)
            .u64(self.key_epoch());
        match self {
            Attestation::TransferBatch(a) => {
                w.text("source_chain", a.source_chain.as_str())?
                    .text("dest_chain", a.dest_chain.as_str())?
                    .u64(a.sequence)
                    .u32(a.transfer_count)
                    .raw(&a.merkle_root.0);
            }
            Attestation::KeyRotation(r) => {
                w.text("chain", r.chain.as_str())?
                    .u64(r.new_epoch)
                    .raw(&r.new_group_key.0)
                    .u64(r.activate_at_ms)
                    .u64(r.overlap_ms);
            }
            Attestation::Pause(p) => {
                w.text("chain", p.chain.as_str())?
                    .u64(p.control_sequence)
                    .u8(u8::from(p.paused));
            }
        }
        Ok(w.finish())
    }

    /// Parses canonical bytes; any other byte string (trailing data, unknown kind, a
    /// non-0/1 pause flag, an invalid field) is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Attestation, AttestationError> {
        if bytes.len() > MAX_ATTESTATION_BYTES {
            return Err(AttestationError::TooLong {
                len: bytes.len(),
                max: MAX_ATTESTATION_BYTES,
            });
        }
        let mut r = Reader::new(bytes);
        if r.take("domain_tag", DOMAIN_TAG.len())? != DOMAIN_TAG {
            return Err(AttestationError::Malformed {
                field: "domain_tag",
                offset: 0,
                reason: "not a Causeway notary attestation".into(),
            });
        }
        let kind_offset = r.offset();
        let kind = r.u8("kind")?;
        let committee_id = Hash32(r.array("committee_id")?);
        let key_epoch = r.u64("key_epoch")?;
        let attestation = match kind {
            KIND_TRANSFER_BATCH => Attestation::TransferBatch(TransferAttestation {
                committee_id,
                key_epoch,
                source_chain: chain_field(&mut r, "source_chain")?,
                dest_chain: chain_field(&mut r, "dest_chain")?,
                sequence: r.u64("sequence")?,
                transfer_count: r.u32("transfer_count")?,
                merkle_root: Hash32(r.array("merkle_root")?),
            }),
            KIND_KEY_ROTATION => Attestation::KeyRotation(KeyRotation {
                committee_id,
                key_epoch,
                chain: chain_field(&mut r, "chain")?,
                new_epoch: r.u64("new_epoch")?,
                new_group_key: GroupKey(r.array("new_group_key")?),
                activate_at_ms: r.u64("activate_at_ms")?,
                overlap_ms: r.u64("overlap_ms")?,
            }),
            KIND_PAUSE => {
                let chain = chain_field(&mut r, "chain")?;
                let control_sequence = r.u64("control_sequence")?;
                let flag_offset = r.offset();
                let paused = match r.u8("paused")? {
                    0 => false,
                    1 => true,
                    other => {
                        return Err(AttestationError::Malformed {
                            field: "paused",
                            offset: flag_offset,
                            reason: format!("flag must be 0 or 1, got {other}"),
                        })
                    }
                };
                Attestation::Pause(PauseControl {
                    committee_id,
                    key_epoch,
                    chain,
                    control_sequence,
                    paused,
                })
            }
            other => {
                return Err(AttestationError::Malformed {
                    field: "kind",
                    offset: kind_offset,
                    reason: format!("unknown attestation kind 0x{other:02x}"),
                })
            }
        };
        r.finish()?;
        attestation.validate()?;
        Ok(attestation)
    }
}

fn chain_field(r: &mut Reader<'_>, field: &'static str) -> Result<ChainId, AttestationError> {
    let offset = r.offset();
    let text = r.text(field)?;
    ChainId::new(text).map_err(|e| AttestationError::Malformed {
        field,
        offset,
        reason: e.to_string(),
    })
}

/// A transfer attestation together with the transfers it commits to, for proofs.
#[derive(Clone, Debug)]
pub struct TransferBatch {
    pub attestation: TransferAttestation,
    pub transfers: Vec<Transfer>,
    tree: MerkleTree,
}

impl TransferBatch {
    /// Builds the Merkle tree and the attestation over `transfers`, in the given order.
    pub fn build(
        committee_id: Hash32,
        key_epoch: u64,
        source_chain: ChainId,
        dest_chain: ChainId,
        sequence: u64,
        transfers: Vec<Transfer>,
    ) -> Result<TransferBatch, AttestationError> {
        let mut leaves = Vec::with_capacity(transfers.len());
        let mut seen = std::collections::HashSet::with_capacity(transfers.len());
        for (index, transfer) in transfers.iter().enumerate() {
            transfer.validate(index)?;
            if transfer.source_chain != source_chain {
                return Err(AttestationError::TransferChainMismatch {
                    index,
                    expected: source_chain,
                    found: transfer.source_chain.clone(),
                });
            }
            let leaf = transfer.leaf_hash()?;
            if !seen.insert(leaf) {
                return Err(AttestationError::DuplicateTransfer { index });
            }
            leaves.push(leaf);
        }
        let tree = MerkleTree::build(leaves)?;
        let attestation = TransferAttestation {
            committee_id,
            key_epoch,
            source_chain,
            dest_chain,
            sequence,
            // MerkleTree::build bounds the count by MAX_LEAVES.
            transfer_count: tree.leaf_count() as u32,
            merkle_root: tree.root(),
        };
        Attestation::TransferBatch(attestation.clone()).validate()?;
        Ok(TransferBatch {
            attestation,
            transfers,
            tree,
        })
    }

    pub fn proof(&self, index: usize) -> Result<MerkleProof, AttestationError> {
        self.tree.proof(index)
    }

    pub fn signing_bytes(&self) -> Result<Vec<u8>, AttestationError> {
        Attestation::TransferBatch(self.attestation.clone()).to_bytes()
    }
}

#[cfg(test)]
#[path = "attestation_tests.rs"]
mod tests;
