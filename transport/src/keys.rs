//! Static X25519 keys for the channel.

use x25519_dalek::{PublicKey, StaticSecret};

use crate::TransportError;

/// A fresh static keypair (secret, public) from the OS RNG, via snow.
pub fn generate_keypair() -> ([u8; 32], [u8; 32]) {
    let from_snow = crate::frame::params()
        .and_then(|params| snow::Builder::new(params).generate_keypair())
        .ok()
        .and_then(|pair| Some((pair.private.try_into().ok()?, pair.public.try_into().ok()?)));
    // snow fails only if its resolver lacks X25519, which the default one has; should that
    // ever change, a key from the same curve library is as good and never all zeros.
    from_snow.unwrap_or_else(|| {
        let secret = StaticSecret::random_from_rng(rand_core::OsRng);
        (secret.to_bytes(), PublicKey::from(&secret).to_bytes())
    })
}

/// The public key of `secret` (X25519 base-point multiplication with clamping, RFC 7748).
pub fn public_from_secret(secret: &[u8; 32]) -> Result<[u8; 32], TransportError> {
    // All zeros is a valid scalar after clamping, but in practice it means "never written".
    if *secret == [0u8; 32] {
        return Err(TransportError::ZeroSecret);
    }
    Ok(PublicKey::from(&StaticSecret::from(*secret)).to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // specs/notary-transport.md §1: the committee file's key is the public half of the secret.
    #[test]
    fn public_key_matches_the_generated_pair() {
        let (secret, public) = generate_keypair();
        assert_ne!(secret, [0u8; 32]);
        assert_eq!(public_from_secret(&secret).unwrap(), public);
    }

    #[test]
    fn keypairs_differ() {
        assert_ne!(generate_keypair().0, generate_keypair().0);
    }

    // RFC 7748 §6.1 test vector (Alice).
    #[test]
    fn matches_rfc7748_vector() {
        let hex32 = |s: &str| -> [u8; 32] { hex::decode(s).unwrap().try_into().unwrap() };
        let secret = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public = hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert_eq!(public_from_secret(&secret).unwrap(), public);
    }

    #[test]
    fn an_all_zero_secret_is_refused() {
        assert!(matches!(
            public_from_secret(&[0; 32]),
            Err(TransportError::ZeroSecret)
        ));
    }
}
