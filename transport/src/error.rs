//! What can go wrong for the daemon that uses the channel.

use crate::{MemberNumber, MAX_PAYLOAD_BYTES, MAX_QUEUED_PER_PEER};

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot listen for committee channels on {address}: {source}; free the port or set another listen address")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("member {peer} is not a peer of this member; check the committee file")]
    UnknownPeer { peer: MemberNumber },
    #[error("a message of {size} bytes for member {peer} exceeds the channel's {MAX_PAYLOAD_BYTES}; split it")]
    TooLarge { peer: MemberNumber, size: usize },
    #[error("an empty message for member {peer}: empty frames are the channel's keepalives and are never delivered; send at least one byte")]
    Empty { peer: MemberNumber },
    #[error("{queued} messages already wait for member {peer} (limit {MAX_QUEUED_PER_PEER}); it is down or slow, retry later")]
    QueueFull { peer: MemberNumber, queued: usize },
    #[error("the channel to member {peer} is shut down; start a new transport")]
    Closed { peer: MemberNumber },
    #[error("member {me} lists itself among its peers; list only the other members")]
    PeerIsSelf { me: MemberNumber },
    #[error("member {peer} is listed twice among the peers; each member needs exactly one entry")]
    DuplicatePeer { peer: MemberNumber },
    #[error("members {first} and {second} have the same Noise public key; each member needs its own key")]
    SharedKey {
        first: MemberNumber,
        second: MemberNumber,
    },
    #[error("the Noise secret key is all zeros, so it was never generated or the key file is damaged; generate a new member key")]
    ZeroSecret,
}
