use std::fmt;

use causeway_core::{Address, Amount, AssetId, ChainId, Hash32, IdError, UnixMillis};
use ed25519_dalek::VerifyingKey;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::OfferError;

/// The only offer format version this crate reads and writes.
pub const OFFER_VERSION: u32 = 1;
/// Preimage length every chain in a swap must use (specs/htlc.md §2).
pub const PREIMAGE_LEN: u32 = 32;
/// Longest swap id accepted; ids are embedded in action ids and storage keys.
pub const MAX_SWAP_ID_LEN: usize = 64;

/// Which of the two legs: A is the initiator's lock (on chain A, for the participant),
/// B the participant's lock (on chain B, for the initiator).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegId {
    A,
    B,
}

impl LegId {
    pub fn letter(self) -> char {
        match self {
            LegId::A => 'a',
            LegId::B => 'b',
        }
    }

    pub fn other(self) -> LegId {
        match self {
            LegId::A => LegId::B,
            LegId::B => LegId::A,
        }
    }
}

impl fmt::Display for LegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LegId::A => f.write_str("leg A"),
            LegId::B => f.write_str("leg B"),
        }
    }
}

/// The hash function named in an offer. Only SHA-256 exists: a chain that hashes anything
/// else (e.g. the hex text of the secret) cannot take part (specs/htlc.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlg {
    Sha256,
}

impl HashAlg {
    pub const SHA256_NAME: &'static str = "sha256";
}

/// A swap's identifier: 1-64 characters from `[a-z0-9-]`, so it can prefix action ids
/// (`<swap_id>/claim-b`) and storage keys unescaped.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SwapId(String);

impl SwapId {
    pub fn new(value: impl Into<String>) -> Result<SwapId, OfferError> {
        let value = value.into();
        let well_formed = !value.is_empty()
            && value.len() <= MAX_SWAP_ID_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if well_formed {
            Ok(SwapId(value))
        } else {
            Err(OfferError::BadSwapId { value })
        }
    }

    /// 16 random bytes in hex: unique without coordination.
    pub fn random() -> SwapId {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        SwapId(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SwapId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SwapId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SwapId({:?})", self.0)
    }
}

impl<'de> Deserialize<'de> for SwapId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SwapId::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The initiator's Ed25519 identity public key, 64 hex digits in text form. Parsing
/// checks it is a valid curve point, so a decoded offer's key can always verify.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdentityKey(VerifyingKey);

impl IdentityKey {
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    pub fn from_hex(text: &str) -> Result<IdentityKey, OfferError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| OfferError::BadIdentityKey {
            reason: format!("expected 64 hex digits, got {text:?}"),
        })?;
        VerifyingKey::from_bytes(&bytes)
            .map(IdentityKey)
            .map_err(|_| OfferError::BadIdentityKey {
                reason: format!("{text} is not an Ed25519 public key"),
            })
    }
}

impl From<VerifyingKey> for IdentityKey {
    fn from(key: VerifyingKey) -> Self {
        IdentityKey(key)
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", self.to_hex())
    }
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for IdentityKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for IdentityKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IdentityKey::from_hex(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One leg's terms: who locks what for whom on which chain, until when (by that chain's
/// block time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leg {
    pub chain_id: ChainId,
    pub asset: AssetId,
    pub amount: Amount,
    /// The account that locks (and is refunded after expiry).
    pub sender: Address,
    /// The account that may claim with the preimage before expiry.
    pub recipient: Address,
    /// Lock expiry by this leg's chain's block time: claims need block time < expiry,
    /// refunds need block time >= expiry.
    pub expiry_ms: UnixMillis,
}

impl Leg {
    /// Builds a leg from text ids, as typed by a user or read from a config file.
    pub fn parse(
        chain_id: &str,
        asset: &str,
        amount: Amount,
        sender: &str,
        recipient: &str,
        expiry_ms: UnixMillis,
    ) -> Result<Leg, IdError> {
        Ok(Leg {
            chain_id: ChainId::new(chain_id)?,
            asset: AssetId::new(asset)?,
            amount,
            sender: Address::new(sender)?,
            recipient: Address::new(recipient)?,
            expiry_ms,
        })
    }
}

/// A swap's terms as the initiator proposes them (specs/htlc.md §3). Field order is the
/// canonical JSON order; do not reorder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    pub version: u32,
    pub swap_id: SwapId,
    pub hash_alg: HashAlg,
    pub preimage_len: u32,
    pub hashlock: Hash32,
    /// The initiator's lock on chain A, for the participant; expires at T1.
    pub leg_a: Leg,
    /// The participant's lock on chain B, for the initiator; expires at T2.
    pub leg_b: Leg,
    /// Chain B block time by which the participant's lock must be final.
    pub accept_by_ms: UnixMillis,
    pub initiator_key: IdentityKey,
}

impl Offer {
    /// An offer in the current version with the only supported hash rule.
    pub fn new(
        swap_id: SwapId,
        hashlock: Hash32,
        leg_a: Leg,
        leg_b: Leg,
        accept_by_ms: UnixMillis,
        initiator_key: IdentityKey,
    ) -> Offer {
        Offer {
            version: OFFER_VERSION,
            swap_id,
            hash_alg: HashAlg::Sha256,
            preimage_len: PREIMAGE_LEN,
            hashlock,
            leg_a,
            leg_b,
            accept_by_ms,
            initiator_key,
        }
    }

    pub fn leg(&self, id: LegId) -> &Leg {
        match id {
            LegId::A => &self.leg_a,
            LegId::B => &self.leg_b,
        }
    }

    /// Checks what needs no chain knowledge; deadlines are judged by [`crate::check_plan`].
    pub fn validate(&self) -> Result<(), OfferError> {
        if self.version != OFFER_VERSION {
            return Err(OfferError::UnsupportedVersion {
                found: self.version.to_string(),
            });
        }
        if self.preimage_len != PREIMAGE_LEN {
            return Err(OfferError::UnsupportedPreimageLength {
                found: self.preimage_len.to_string(),
            });
        }
        if self.hashlock.is_zero() {
            return Err(OfferError::ZeroHashlock);
        }
        if self.leg_a.chain_id == self.leg_b.chain_id {
            return Err(OfferError::SameChain {
                chain: self.leg_a.chain_id.clone(),
            });
        }
        for id in [LegId::A, LegId::B] {
            let leg = self.leg(id);
            if leg.amount.is_zero() {
                return Err(OfferError::ZeroAmount {
                    leg: id,
                    chain: leg.chain_id.clone(),
                });
            }
            if leg.sender == leg.recipient {
                return Err(OfferError::SelfPayment {
                    leg: id,
                    chain: leg.chain_id.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::Secret;
    use ed25519_dalek::SigningKey;

    pub fn signing_key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    pub fn secret() -> Secret {
        Secret::from_bytes([42; 32])
    }

    pub fn leg(
        chain: &str,
        asset: &str,
        amount: u128,
        sender: &str,
        recipient: &str,
        expiry_ms: u64,
    ) -> Leg {
        Leg::parse(chain, asset, Amount(amount), sender, recipient, expiry_ms).unwrap()
    }

    /// Chain times start at 1_000_000 ms; A and B use 1 s instant blocks.
    pub fn offer() -> Offer {
        Offer::new(
            SwapId::new("swap-1").unwrap(),
            secret().hashlock(),
            leg("chain-a", "USD", 100, "alice-a", "bob-a", 1_200_000),
            leg("chain-b", "GOLD", 5, "bob-b", "alice-b", 1_120_000),
            1_060_000,
            signing_key().verifying_key().into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::offer;
    use super::*;

    // specs/htlc.md §3.3: structural checks name the leg and chain.
    #[test]
    fn validate_rejects_zero_amount_same_chain_and_self_payment() {
        assert!(offer().validate().is_ok());

        let mut o = offer();
        o.leg_b.amount = Amount::ZERO;
        let err = o.validate().unwrap_err().to_string();
        assert!(err.contains("leg B") && err.contains("chain-b"), "{err}");

        let mut o = offer();
        o.leg_b.chain_id = o.leg_a.chain_id.clone();
        assert!(matches!(o.validate(), Err(OfferError::SameChain { .. })));

        let mut o = offer();
        o.leg_a.recipient = o.leg_a.sender.clone();
        assert!(matches!(
            o.validate(),
            Err(OfferError::SelfPayment { leg: LegId::A, .. })
        ));

        let mut o = offer();
        o.preimage_len = 64;
        assert!(matches!(
            o.validate(),
            Err(OfferError::UnsupportedPreimageLength { .. })
        ));
    }

    #[test]
    fn swap_ids_are_slugs_and_random_ones_are_valid() {
        assert!(SwapId::new("a/b").is_err());
        assert!(SwapId::new("").is_err());
        assert!(SwapId::new("x".repeat(MAX_SWAP_ID_LEN + 1)).is_err());
        let id = SwapId::random();
        assert_eq!(SwapId::new(id.as_str()).unwrap(), id);
    }

    #[test]
    fn identity_key_rejects_bad_hex() {
        assert!(IdentityKey::from_hex("zz").is_err());
        let key = offer().initiator_key;
        assert_eq!(IdentityKey::from_hex(&key.to_hex()).unwrap(), key);
    }
}
