//! SHA-256 Merkle tree over a batch of transfer leaves (specs/notary.md §7.6).
//!
//! Leaves and inner nodes carry distinct one-byte domain prefixes (as in RFC 6962) so a leaf
//! can never be passed off as an inner node. An odd node at the end of a level is promoted
//! unchanged rather than paired with a copy of itself, so two different batches can never
//! share a root (the duplicated-last-leaf ambiguity of Bitcoin's tree, CVE-2012-2459).

use causeway_core::Hash32;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::attestation::AttestationError;

/// Domain prefix of a leaf hash: `SHA-256(0x00 || leaf bytes)`.
pub const LEAF_PREFIX: u8 = 0x00;
/// Domain prefix of an inner node: `SHA-256(0x01 || left || right)`.
pub const NODE_PREFIX: u8 = 0x01;
/// Largest batch one attestation may cover; bounds proof length to 14 hashes.
pub const MAX_LEAVES: usize = 10_000;

pub fn leaf_hash(leaf_bytes: &[u8]) -> Hash32 {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(leaf_bytes);
    Hash32(h.finalize().into())
}

pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Hash32(h.finalize().into())
}

/// Every level of the tree, leaves first, so proofs are read off without rehashing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash32>>,
}

/// The path from one leaf to the root: siblings bottom-up, skipping promoted levels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    pub leaf_index: u32,
    pub leaf_count: u32,
    pub siblings: Vec<Hash32>,
}

impl MerkleTree {
    /// Builds the tree over already-hashed leaves. An empty batch has no valid root.
    pub fn build(leaves: Vec<Hash32>) -> Result<MerkleTree, AttestationError> {
        check_leaf_count(leaves.len())?;
        let mut levels = vec![leaves];
        while let Some(level) = levels.last().filter(|l| l.len() > 1) {
            let next = level
                .chunks(2)
                .map(|pair| match pair {
                    [left, right] => node_hash(left, right),
                    [lone] => *lone,
                    _ => unreachable!("chunks(2) yields one or two items"),
                })
                .collect();
            levels.push(next);
        }
        Ok(MerkleTree { levels })
    }

    pub fn root(&self) -> Hash32 {
        // build() guarantees at least one level with at least one node.
        self.levels
            .last()
            .and_then(|l| l.first())
            .copied()
            .unwrap_or(Hash32::ZERO)
    }

    pub fn leaf_count(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    pub fn proof(&self, leaf_index: usize) -> Result<MerkleProof, AttestationError> {
        let leaf_count = self.leaf_count();
        if leaf_index >= leaf_count {
            return Err(AttestationError::LeafIndexOutOfRange {
                index: leaf_index as u64,
                leaf_count: leaf_count as u64,
            });
        }
        let mut siblings = Vec::new();
        let mut index = leaf_index;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = index ^ 1;
            if let Some(hash) = level.get(sibling) {
                siblings.push(*hash);
            }
            index /= 2;
        }
        Ok(MerkleProof {
            // Both bounded by MAX_LEAVES, checked in build().
            leaf_index: leaf_index as u32,
            leaf_count: leaf_count as u32,
            siblings,
        })
    }
}

impl MerkleProof {
    /// Recomputes the root this proof leads to from `leaf`; every sibling must be used.
    pub fn root_from(&self, leaf: Hash32) -> Result<Hash32, AttestationError> {
        let count = self.leaf_count as usize;
        check_leaf_count(count)?;
        if self.leaf_index >= self.leaf_count {
            return Err(AttestationError::LeafIndexOutOfRange {
                index: u64::from(self.leaf_index),
                leaf_count: u64::from(self.leaf_count),
            });
        }
        let mut siblings = self.siblings.iter();
        let mut node = leaf;
        let mut index = self.leaf_index as usize;
        let mut width = count;
        while width > 1 {
            let is_right = index % 2 == 1;
            let has_sibling = is_right || index + 1 < width;
            if has_sibling {
                let sibling = siblings.next().ok_or(AttestationError::ProofLength {
                    leaf_index: self.leaf_index,
                    got: self.siblings.len(),
                })?;
                node = if is_right {
                    node_hash(sibling, &node)
                } else {
                    node_hash(&node, sibling)
                };
            }
            index /= 2;
            width = width.div_ceil(2);
        }
        if siblings.next().is_some() {
            return Err(AttestationError::ProofLength {
                leaf_index: self.leaf_index,
                got: self.siblings.len(),
            });
        }
        Ok(node)
    }

    pub fn verify(&self, root: &Hash32, leaf: Hash32) -> Result<(), AttestationError> {
        let computed = self.root_from(leaf)?;
        if computed == *root {
            Ok(())
        } else {
            Err(AttestationError::ProofMismatch {
                leaf_index: self.leaf_index,
                computed,
                expected: *root,
            })
        }
    }
}

fn check_leaf_count(count: usize) -> Result<(), AttestationError> {
    if count == 0 {
        return Err(AttestationError::EmptyBatch);
    }
    if count > MAX_LEAVES {
        return Err(AttestationError::BatchTooLarge {
            count,
            max: MAX_LEAVES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash32> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    // specs/notary.md §7.6: one leaf's root is its leaf hash; three leaves promote the third.
    #[test]
    fn small_trees_have_the_specified_shape() {
        let l = leaves(3);
        assert_eq!(MerkleTree::build(l[..1].to_vec()).unwrap().root(), l[0]);
        let root3 = MerkleTree::build(l.clone()).unwrap().root();
        assert_eq!(root3, node_hash(&node_hash(&l[0], &l[1]), &l[2]));
    }

    #[test]
    fn empty_and_oversized_batches_are_refused() {
        assert!(matches!(
            MerkleTree::build(vec![]),
            Err(AttestationError::EmptyBatch)
        ));
        assert!(matches!(
            MerkleTree::build(vec![Hash32::ZERO; MAX_LEAVES + 1]),
            Err(AttestationError::BatchTooLarge { .. })
        ));
    }

    #[test]
    fn leaf_and_node_domains_differ() {
        let l = leaves(2);
        let mut inner = l[0].0.to_vec();
        inner.extend_from_slice(&l[1].0);
        assert_ne!(leaf_hash(&inner), node_hash(&l[0], &l[1]));
    }

    #[test]
    fn duplicated_last_leaf_does_not_share_the_root() {
        let l = leaves(3);
        let mut dup = l.clone();
        dup.push(l[2]);
        assert_ne!(
            MerkleTree::build(l).unwrap().root(),
            MerkleTree::build(dup).unwrap().root()
        );
    }

    proptest! {
        // specs/notary.md §7.6: every leaf's proof verifies; any other leaf, index or sibling fails.
        #[test]
        fn proofs_verify_and_tampering_fails(n in 1usize..80, pick in any::<prop::sample::Index>(), flip in any::<u8>()) {
            let l = leaves(n);
            let tree = MerkleTree::build(l.clone()).unwrap();
            let i = pick.index(n);
            let proof = tree.proof(i).unwrap();
            prop_assert!(proof.verify(&tree.root(), l[i]).is_ok());
            prop_assert!(proof.verify(&tree.root(), leaf_hash(b"other")).is_err());
            if n > 1 {
                let mut moved = proof.clone();
                moved.leaf_index = ((i + 1) % n) as u32;
                prop_assert!(moved.verify(&tree.root(), l[i]).is_err());
                let mut bent = proof.clone();
                let k = usize::from(flip) % bent.siblings.len();
                bent.siblings[k].0[0] ^= 1;
                prop_assert!(bent.verify(&tree.root(), l[i]).is_err());
                let mut long = proof.clone();
                long.siblings.push(l[0]);
                prop_assert!(long.verify(&tree.root(), l[i]).is_err());
            }
        }
    }
}
