//! Static X25519 keys for the channel.

use crate::TransportError;

/// A fresh static keypair (secret, public) from the OS RNG, via snow.
pub fn generate_keypair() -> ([u8; 32], [u8; 32]) {
    let mut secret = [0u8; 32];
    let mut public = [0u8; 32];
    // The pattern is a constant known to snow; building it cannot fail.
    if let Ok(pair) = snow::Builder::new(crate::frame::params()).generate_keypair() {
        secret.copy_from_slice(&pair.private);
        public.copy_from_slice(&pair.public);
    }
    (secret, public)
}

/// The public key of `secret` (X25519 base-point multiplication with clamping, RFC 7748).
pub fn public_from_secret(secret: &[u8; 32]) -> Result<[u8; 32], TransportError> {
    Ok(curve25519_dalek::MontgomeryPoint::mul_base_clamped(*secret).to_bytes())
}
