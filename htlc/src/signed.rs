use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, SIGNATURE_LENGTH};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::OfferError;
use crate::offer::{HashAlg, Offer, OFFER_VERSION, PREIMAGE_LEN};

/// Every offer string starts with this; the `1` is the string format, not the offer version.
pub const OFFER_PREFIX: &str = "cwoffer1";
/// Longest offer string accepted, so a pasted blob cannot make us allocate without bound.
pub const MAX_OFFER_STRING_LEN: usize = 4096;
/// Signed bytes are this context followed by the canonical JSON, so an offer signature
/// can never be replayed as a signature over anything else the identity key signs.
const SIGNING_CONTEXT: &[u8] = b"causeway-offer-v1:";

/// An offer with the initiator's signature, as pasted between users (specs/htlc.md §3).
///
/// String form: `cwoffer1` + base64url (no padding) of `signature (64 bytes) || canonical
/// JSON of the offer`. The signature is Ed25519 by `offer.initiator_key` over
/// `"causeway-offer-v1:" || JSON`. A value of this type has always been verified: the
/// only ways to get one are [`SignedOffer::sign`] and [`SignedOffer::decode`].
#[derive(Clone, PartialEq, Eq)]
pub struct SignedOffer {
    offer: Offer,
    canonical_json: Vec<u8>,
    signature: Signature,
}

impl SignedOffer {
    /// Signs `offer` with the initiator's identity key, which must be `offer.initiator_key`.
    pub fn sign(offer: Offer, key: &SigningKey) -> Result<SignedOffer, OfferError> {
        offer.validate()?;
        if key.verifying_key() != *offer.initiator_key.verifying_key() {
            return Err(OfferError::KeyMismatch {
                offer_key: offer.initiator_key.to_hex(),
            });
        }
        let canonical_json = canonical_json(&offer)?;
        let signature = key.sign(&signed_message(&canonical_json));
        Ok(SignedOffer {
            offer,
            canonical_json,
            signature,
        })
    }

    /// Parses and verifies an offer string; see the type docs for the format.
    pub fn decode(text: &str) -> Result<SignedOffer, OfferError> {
        let text = text.trim();
        if text.len() > MAX_OFFER_STRING_LEN {
            return Err(OfferError::TooLong {
                len: text.len(),
                max: MAX_OFFER_STRING_LEN,
            });
        }
        let body = text
            .strip_prefix(OFFER_PREFIX)
            .ok_or_else(|| OfferError::BadPrefix {
                expected: OFFER_PREFIX,
                found: text.chars().take(OFFER_PREFIX.len()).collect(),
            })?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| OfferError::BadEncoding {
                reason: e.to_string(),
            })?;
        if bytes.len() <= SIGNATURE_LENGTH {
            return Err(OfferError::TooShort { len: bytes.len() });
        }
        let (signature_bytes, json) = bytes.split_at(SIGNATURE_LENGTH);
        let offer = parse_terms(json)?;
        let mut signature_array = [0u8; SIGNATURE_LENGTH];
        signature_array.copy_from_slice(signature_bytes);
        let signature = Signature::from_bytes(&signature_array);
        offer
            .initiator_key
            .verifying_key()
            .verify_strict(&signed_message(json), &signature)
            .map_err(|_| OfferError::BadSignature {
                key: offer.initiator_key.to_hex(),
            })?;
        // One offer has exactly one string: re-encoding must reproduce the signed bytes.
        if canonical_json(&offer)? != json {
            return Err(OfferError::NotCanonical);
        }
        offer.validate()?;
        Ok(SignedOffer {
            offer,
            canonical_json: json.to_vec(),
            signature,
        })
    }

    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(SIGNATURE_LENGTH + self.canonical_json.len());
        bytes.extend_from_slice(&self.signature.to_bytes());
        bytes.extend_from_slice(&self.canonical_json);
        format!("{OFFER_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn offer(&self) -> &Offer {
        &self.offer
    }

    pub fn into_offer(self) -> Offer {
        self.offer
    }
}

fn canonical_json(offer: &Offer) -> Result<Vec<u8>, OfferError> {
    serde_json::to_vec(offer).map_err(|e| OfferError::BadTerms {
        reason: e.to_string(),
    })
}

fn signed_message(json: &[u8]) -> Vec<u8> {
    [SIGNING_CONTEXT, json].concat()
}

/// Checks version, hash and preimage length before the full parse so that an offer from a
/// newer or incompatible peer gets a precise error instead of "unknown field".
fn parse_terms(json: &[u8]) -> Result<Offer, OfferError> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| OfferError::BadTerms {
            reason: e.to_string(),
        })?;
    let field = |name: &str| {
        value
            .get(name)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "(missing)".into())
    };
    if value.get("version").and_then(|v| v.as_u64()) != Some(u64::from(OFFER_VERSION)) {
        return Err(OfferError::UnsupportedVersion {
            found: field("version"),
        });
    }
    if value.get("hash_alg").and_then(|v| v.as_str()) != Some(HashAlg::SHA256_NAME) {
        return Err(OfferError::UnsupportedHash {
            found: field("hash_alg"),
        });
    }
    if value.get("preimage_len").and_then(|v| v.as_u64()) != Some(u64::from(PREIMAGE_LEN)) {
        return Err(OfferError::UnsupportedPreimageLength {
            found: field("preimage_len"),
        });
    }
    serde_json::from_value(value).map_err(|e| OfferError::BadTerms {
        reason: e.to_string(),
    })
}

impl fmt::Display for SignedOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl fmt::Debug for SignedOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedOffer")
            .field("offer", &self.offer)
            .finish_non_exhaustive()
    }
}

impl FromStr for SignedOffer {
    type Err = OfferError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SignedOffer::decode(s)
    }
}

/// Persisted as its offer string, so a stored offer is re-verified when loaded.
impl Serialize for SignedOffer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for SignedOffer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SignedOffer::decode(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offer::fixtures::{offer, signing_key};

    fn encode_raw(signature: &[u8], json: &[u8]) -> String {
        format!(
            "{OFFER_PREFIX}{}",
            URL_SAFE_NO_PAD.encode([signature, json].concat())
        )
    }

    /// Re-signs arbitrary JSON with the fixture key, to test checks behind the signature.
    fn signed_raw(json: &str) -> String {
        let signature = signing_key().sign(&signed_message(json.as_bytes()));
        encode_raw(&signature.to_bytes(), json.as_bytes())
    }

    // specs/htlc.md §3.1
    #[test]
    fn offer_round_trips_through_its_string() {
        let signed = SignedOffer::sign(offer(), &signing_key()).unwrap();
        let text = signed.encode();
        assert!(text.starts_with(OFFER_PREFIX));
        let decoded: SignedOffer = text.parse().unwrap();
        assert_eq!(decoded.offer(), &offer());
        assert_eq!(decoded.encode(), text);
        let json = serde_json::to_string(&decoded).unwrap();
        assert_eq!(serde_json::from_str::<SignedOffer>(&json).unwrap(), decoded);
    }

    // specs/htlc.md §3.2
    #[test]
    fn tampered_offer_fails_signature() {
        let signed = SignedOffer::sign(offer(), &signing_key()).unwrap();
        let mut json = signed.canonical_json.clone();
        let text = String::from_utf8(json.clone())
            .unwrap()
            .replace("\"100\"", "\"900\"");
        json = text.into_bytes();
        let tampered = encode_raw(&signed.signature.to_bytes(), &json);
        assert!(matches!(
            SignedOffer::decode(&tampered),
            Err(OfferError::BadSignature { .. })
        ));
    }

    // specs/htlc.md §3.2
    #[test]
    fn decode_names_each_malformation() {
        let text = SignedOffer::sign(offer(), &signing_key()).unwrap().encode();
        assert!(matches!(
            SignedOffer::decode(&text.replacen("cwoffer1", "lnbc1", 1)),
            Err(OfferError::BadPrefix { .. })
        ));
        assert!(matches!(
            SignedOffer::decode(&format!("{text}!")),
            Err(OfferError::BadEncoding { .. })
        ));
        assert!(matches!(
            SignedOffer::decode(&format!("{OFFER_PREFIX}AAAA")),
            Err(OfferError::TooShort { .. })
        ));
        let huge = format!("{OFFER_PREFIX}{}", "A".repeat(MAX_OFFER_STRING_LEN));
        assert!(matches!(
            SignedOffer::decode(&huge),
            Err(OfferError::TooLong { .. })
        ));
    }

    // specs/htlc.md §3.2: a peer hashing the hex text of the secret, or a newer version,
    // is refused by name even when correctly signed.
    #[test]
    fn decode_refuses_other_hash_rules_and_versions() {
        let json = String::from_utf8(canonical_json(&offer()).unwrap()).unwrap();
        let cases = [
            (
                json.replace("\"sha256\"", "\"sha256-hex\""),
                "hash algorithm \"sha256-hex\"",
            ),
            (
                json.replace("\"preimage_len\":32", "\"preimage_len\":64"),
                "preimage length 64",
            ),
            (json.replace("\"version\":1", "\"version\":2"), "version 2"),
        ];
        for (bad, expected) in cases {
            let err = SignedOffer::decode(&signed_raw(&bad))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn decode_refuses_non_canonical_json() {
        let json = String::from_utf8(canonical_json(&offer()).unwrap()).unwrap();
        let spaced = json.replacen(",", ", ", 1);
        assert_eq!(
            SignedOffer::decode(&signed_raw(&spaced)),
            Err(OfferError::NotCanonical)
        );
    }

    // specs/htlc.md §3.1: the example in the spec is a valid offer.
    #[test]
    fn spec_example_decodes() {
        let spec = include_str!("../../specs/htlc.md");
        let example = spec
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(OFFER_PREFIX) && !l.contains(char::is_whitespace))
            .expect("spec has an example offer line");
        let offer = SignedOffer::decode(example).unwrap().into_offer();
        assert_eq!(offer.swap_id.as_str(), "3f2a9c0d5e8b4a17b6c1d2e3f4a5b6c7");
        assert_eq!(offer.initiator_key, signing_key().verifying_key().into());
    }

    #[test]
    fn sign_refuses_a_key_other_than_the_offers() {
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(matches!(
            SignedOffer::sign(offer(), &other),
            Err(OfferError::KeyMismatch { .. })
        ));
    }
}
