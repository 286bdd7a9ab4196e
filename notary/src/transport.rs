//! What the state machines ask the daemon to send, and to whom. The daemon's transport is
//! authenticated: the `from` it passes with each received message is the verified sender.

use frost_ed25519::Identifier;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", content = "member", rename_all = "snake_case")]
pub enum Recipient {
    /// Every committee member, **including the sender itself**: the daemon loops its own copy
    /// back into the machine, so a coordinator is also an ordinary signer.
    Everyone,
    Member(Identifier),
}

impl Recipient {
    pub fn includes(&self, member: Identifier) -> bool {
        match self {
            Recipient::Everyone => true,
            Recipient::Member(id) => *id == member,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<M> {
    pub to: Recipient,
    pub message: M,
}

impl<M> Envelope<M> {
    pub fn everyone(message: M) -> Self {
        Envelope {
            to: Recipient::Everyone,
            message,
        }
    }

    pub fn member(member: Identifier, message: M) -> Self {
        Envelope {
            to: Recipient::Member(member),
            message,
        }
    }
}

/// A member's identifier as the short text used in logs and errors (its FROST scalar, hex).
pub fn member_label(id: &Identifier) -> String {
    hex::encode(id.serialize())
}
