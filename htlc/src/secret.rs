use std::fmt;

use causeway_core::{sha256, Hash32};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The swap's secret preimage: exactly 32 random bytes (specs/htlc.md §2).
///
/// Its hashlock is SHA-256 of the 32 raw bytes — never of their hex text — on every chain.
/// It serializes (the relay must persist it to finish a swap after a crash) but never
/// prints: `Debug` is redacted so it cannot leak into logs.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(Hash32);

impl Secret {
    /// Draws a fresh preimage from the operating system's CSPRNG.
    pub fn generate() -> Secret {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Secret(Hash32(bytes))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Secret {
        Secret(Hash32(bytes))
    }

    /// The hashlock both legs lock under.
    pub fn hashlock(&self) -> Hash32 {
        sha256(self.0.as_bytes())
    }

    /// The preimage in the form chain claims carry.
    pub fn preimage(&self) -> Hash32 {
        self.0
    }

    /// Whether `preimage` opens `hashlock` under the swap's hash rule.
    pub fn opens(preimage: &Hash32, hashlock: &Hash32) -> bool {
        sha256(preimage.as_bytes()) == *hashlock
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // specs/htlc.md §2: hashlock = SHA-256 over the 32 raw bytes, not their hex text.
    #[test]
    fn hashlock_is_sha256_of_raw_bytes() {
        let secret = Secret::from_bytes([0xab; 32]);
        assert_eq!(secret.hashlock(), sha256(&[0xab; 32]));
        assert_ne!(
            secret.hashlock(),
            sha256(secret.preimage().to_hex().as_bytes())
        );
        assert!(Secret::opens(&secret.preimage(), &secret.hashlock()));
        assert!(!Secret::opens(&Hash32([0xac; 32]), &secret.hashlock()));
    }

    #[test]
    fn generated_secrets_differ_and_debug_is_redacted() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert_ne!(a, b);
        assert!(!format!("{a:?}").contains(&a.preimage().to_hex()));
    }
}
