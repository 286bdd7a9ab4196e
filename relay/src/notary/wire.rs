//! What notaries say to each other over the committee channel: one JSON message per
//! transport payload (the channel authenticates the sender and bounds the size).

use causeway_core::Hash32;
use causeway_notary::dkg::DkgMessage;
use causeway_notary::signing::SigningMessage;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wire {
    /// A DKG message of ceremony `ceremony` (messages of other ceremonies are ignored).
    Dkg {
        ceremony: Hash32,
        message: Box<DkgMessage>,
    },
    /// A signing-session message under key epoch `epoch`.
    Signing {
        epoch: u64,
        message: Box<SigningMessage>,
    },
}

impl Wire {
    pub fn encode(&self) -> Vec<u8> {
        // Every field is plain data; encoding to JSON cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Wire, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
