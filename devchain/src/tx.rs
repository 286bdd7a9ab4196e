//! Transactions: what a client signs and the node verifies.

use causeway_core::{sha256, Address, Amount, AssetId, ChainId, Hash32, UnixMillis};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// Domain separation: a devchain signature can never be replayed as any other message.
const TX_DOMAIN: &[u8] = b"causeway-devchain/tx/v1\n";

/// The body a client signs. `from` is the hex Ed25519 public key of the signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    pub chain_id: ChainId,
    pub from: Address,
    /// Must equal the sender's next nonce: each nonce is used once, in order (no replay).
    pub nonce: u64,
    pub payload: Payload,
}

/// What the transaction does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Payload {
    Transfer {
        to: Address,
        asset: AssetId,
        amount: Amount,
    },
    /// Moves `amount` from the sender into a lock that `recipient` may claim with the
    /// preimage of `hashlock` before `expiry_ms` (block time), or the sender refund after.
    HtlcLock {
        recipient: Address,
        asset: AssetId,
        amount: Amount,
        hashlock: Hash32,
        expiry_ms: UnixMillis,
    },
    /// Anyone may submit; the funds go to the lock's recipient.
    HtlcClaim { lock_id: Hash32, preimage: Hash32 },
    /// Anyone may submit once the lock has expired; the funds go back to the lock's sender.
    HtlcRefund { lock_id: Hash32 },
    /// Vault-locks a native asset (or burns a wrapped one) for `recipient` on `dest_chain`.
    BridgeSend {
        dest_chain: ChainId,
        recipient: Address,
        asset: AssetId,
        amount: Amount,
    },
    /// A committee-signed attestation (`Attestation::to_bytes`, hex) and its group
    /// signature (128 hex digits). Anyone may submit.
    BridgeSubmitAttestation {
        attestation: String,
        signature: String,
    },
    /// Pays out one transfer of an accepted batch, proven by its Merkle path. Anyone may submit.
    BridgeExecute {
        transfer: causeway_notary::Transfer,
        proof: causeway_notary::MerkleProof,
    },
    /// A signed transfer batch together with all of its transfers, in batch order: accepted
    /// and every transfer paid out in one transaction. The chain rebuilds the Merkle root
    /// from `transfers`, so no proofs are carried. Anyone may submit.
    BridgeSubmitBatch {
        attestation: String,
        signature: String,
        transfers: Vec<causeway_notary::Transfer>,
    },
}

/// A transaction with its Ed25519 signature (128 hex digits) over [`Transaction::signing_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTransaction {
    pub tx: Transaction,
    pub signature: String,
}

impl Transaction {
    /// The exact bytes that are signed and hashed.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = TX_DOMAIN.to_vec();
        // Serialising our own struct is deterministic: fields in declaration order.
        out.extend(serde_json::to_vec(self).expect("transaction serialises"));
        out
    }

    /// The transaction's identity: SHA-256 of its signing bytes. (from, nonce) makes it unique.
    pub fn hash(&self) -> Hash32 {
        sha256(&self.signing_bytes())
    }

    pub fn sign(self, key: &SigningKey) -> SignedTransaction {
        let signature = key.sign(&self.signing_bytes());
        SignedTransaction {
            tx: self,
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

/// Why a signature does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("`from` {0:?} is not a hex Ed25519 public key (64 hex digits)")]
    BadSender(String),
    #[error("signature is not 128 hex digits")]
    Malformed,
    #[error("signature does not verify against `from` {0}")]
    Invalid(String),
}

impl SignedTransaction {
    /// Bytes of this transaction's JSON, found from its `signing_bytes` (which hold the
    /// JSON of `tx`) without serialising `tx` a second time.
    pub fn json_len(&self, signing_bytes: &[u8]) -> usize {
        const FRAME: usize = r#"{"tx":,"signature":}"#.len();
        let signature = serde_json::to_vec(&self.signature).map_or(usize::MAX / 2, |j| j.len());
        let tx = signing_bytes.len().saturating_sub(TX_DOMAIN.len());
        FRAME + tx + signature
    }

    pub fn hash(&self) -> Hash32 {
        self.tx.hash()
    }

    /// Strict Ed25519 verification against the sender named in the body.
    pub fn verify(&self) -> Result<(), SignatureError> {
        let check = crate::verifier::SignatureCheck::of(self, self.tx.signing_bytes())?;
        if check.verify_alone() {
            Ok(())
        } else {
            Err(SignatureError::Invalid(self.tx.from.to_string()))
        }
    }

    /// The sender's public key (named by `from`) and the parsed signature.
    pub fn key_and_signature(&self) -> Result<(VerifyingKey, Signature), SignatureError> {
        let sender = public_key_of(&self.tx.from)
            .ok_or_else(|| SignatureError::BadSender(self.tx.from.to_string()))?;
        let mut sig = [0u8; 64];
        hex::decode_to_slice(&self.signature, &mut sig).map_err(|_| SignatureError::Malformed)?;
        Ok((sender, Signature::from_bytes(&sig)))
    }
}

/// The devchain address of a key: its public key in hex.
pub fn address_of(key: &VerifyingKey) -> Address {
    Address::new(hex::encode(key.as_bytes())).expect("hex is a valid address")
}

/// Parses a devchain address back into a public key, if it is one.
pub fn public_key_of(address: &Address) -> Option<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(address.as_str(), &mut bytes).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression: admission serialised every transaction twice, once only for its size.
    #[test]
    fn json_len_from_the_signing_bytes_is_the_length_of_the_json() {
        let mut txs = vec![transfer_signed_by(1, 0), transfer_signed_by(2, 77)];
        for odd in ["\"quoted\" \\ back", "naïve ünïcode", "", "\u{7}"] {
            let mut tx = transfer_signed_by(3, 1);
            tx.signature = odd.into();
            txs.push(tx);
        }
        for tx in txs {
            let expected = serde_json::to_vec(&tx).unwrap().len();
            assert_eq!(tx.json_len(&tx.tx.signing_bytes()), expected, "{tx:?}");
        }
    }

    fn transfer_signed_by(seed: u8, nonce: u64) -> SignedTransaction {
        Transaction {
            chain_id: ChainId::new("dev-len").unwrap(),
            from: address_of(&key(seed).verifying_key()),
            nonce,
            payload: Payload::Transfer {
                to: address_of(&key(seed + 1).verifying_key()),
                asset: AssetId::new("USD").unwrap(),
                amount: Amount(5),
            },
        }
        .sign(&key(seed))
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn transfer(from: &SigningKey, nonce: u64) -> Transaction {
        Transaction {
            chain_id: ChainId::new("dev-a").unwrap(),
            from: address_of(&from.verifying_key()),
            nonce,
            payload: Payload::Transfer {
                to: address_of(&key(9).verifying_key()),
                asset: AssetId::new("USD").unwrap(),
                amount: Amount(5),
            },
        }
    }

    #[test]
    fn signed_transaction_verifies_and_tampering_breaks_it() {
        let k = key(1);
        let mut signed = transfer(&k, 0).sign(&k);
        assert!(signed.verify().is_ok());
        signed.tx.nonce = 1;
        assert!(matches!(signed.verify(), Err(SignatureError::Invalid(_))));
    }

    #[test]
    fn signature_by_another_key_is_rejected() {
        let signed = transfer(&key(1), 0).sign(&key(2));
        assert!(signed.verify().is_err());
    }

    #[test]
    fn hash_differs_by_nonce_and_survives_json_round_trip() {
        let k = key(1);
        let a = transfer(&k, 0).sign(&k);
        let b = transfer(&k, 1).sign(&k);
        assert_ne!(a.hash(), b.hash());
        let back: SignedTransaction =
            serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back.hash(), a.hash());
        assert!(back.verify().is_ok());
    }
}
