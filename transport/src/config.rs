//! Who this member is and whom it talks to, checked before anything is bound or dialed.

use std::collections::BTreeMap;

use crate::TransportError;

/// A member's number: 1-based, equal to its FROST identifier.
pub type MemberNumber = u16;

#[derive(Clone, Debug)]
pub struct PeerSpec {
    pub number: MemberNumber,
    /// The peer's static X25519 public key: the only proof of who is on the other end.
    pub noise_public: [u8; 32],
    /// `host:port`.
    pub endpoint: String,
}

#[derive(Clone)]
pub struct TransportConfig {
    pub me: MemberNumber,
    /// This member's static X25519 private key.
    pub noise_secret: [u8; 32],
    /// `host:port` to listen on.
    pub listen: String,
    /// Every other member.
    pub peers: Vec<PeerSpec>,
}

impl TransportConfig {
    /// A responder names the sender by its static key, so numbers and keys must each be unique
    /// or messages would be attributed to the wrong member.
    pub(crate) fn validate(&self) -> Result<(), TransportError> {
        if self.noise_secret == [0u8; 32] {
            return Err(TransportError::ZeroSecret);
        }
        let mut numbers = BTreeMap::new();
        let mut keys = BTreeMap::new();
        for peer in &self.peers {
            if peer.number == self.me {
                return Err(TransportError::PeerIsSelf { me: self.me });
            }
            if numbers.insert(peer.number, ()).is_some() {
                return Err(TransportError::DuplicatePeer { peer: peer.number });
            }
            if let Some(first) = keys.insert(peer.noise_public, peer.number) {
                return Err(TransportError::SharedKey {
                    first,
                    second: peer.number,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(number: MemberNumber, key: u8) -> PeerSpec {
        PeerSpec {
            number,
            noise_public: [key; 32],
            endpoint: format!("127.0.0.1:{}", 9000 + number),
        }
    }

    fn config(peers: Vec<PeerSpec>) -> TransportConfig {
        TransportConfig {
            me: 1,
            noise_secret: [7; 32],
            listen: "127.0.0.1:9001".into(),
            peers,
        }
    }

    // specs/notary-transport.md §2: one number, one key, one member.
    #[test]
    fn distinct_peers_pass() {
        assert!(config(vec![peer(2, 2), peer(3, 3)]).validate().is_ok());
    }

    #[test]
    fn listing_oneself_is_refused() {
        let err = config(vec![peer(1, 2)]).validate().unwrap_err();
        assert!(matches!(err, TransportError::PeerIsSelf { me: 1 }), "{err}");
    }

    #[test]
    fn a_number_listed_twice_is_refused() {
        let err = config(vec![peer(2, 2), peer(2, 3)]).validate().unwrap_err();
        assert!(
            matches!(err, TransportError::DuplicatePeer { peer: 2 }),
            "{err}"
        );
    }

    #[test]
    fn two_members_sharing_a_key_are_refused() {
        let err = config(vec![peer(2, 5), peer(3, 5)]).validate().unwrap_err();
        assert!(
            matches!(
                err,
                TransportError::SharedKey {
                    first: 2,
                    second: 3
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_all_zero_secret_is_refused() {
        let mut c = config(vec![peer(2, 2)]);
        c.noise_secret = [0; 32];
        assert!(matches!(c.validate(), Err(TransportError::ZeroSecret)));
    }
}
