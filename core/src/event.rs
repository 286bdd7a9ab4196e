use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Address, Amount, AssetId, ChainId, Hash32, UnixMillis};

/// Where an event stands in its chain's history: block height, then index among that
/// block's events. Positions are totally ordered and never change once final.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Position {
    pub height: u64,
    pub index: u32,
}

impl Position {
    pub fn new(height: u64, index: u32) -> Self {
        Position { height, index }
    }

    /// The cursor that reads everything after this event.
    pub fn successor(self) -> Cursor {
        Position::new(self.height, self.index + 1)
    }

    /// The first position of the block after this one.
    pub fn next_block(self) -> Cursor {
        Position::new(self.height + 1, 0)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.height, self.index)
    }
}

impl FromStr for Position {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (h, i) = s
            .split_once(':')
            .ok_or_else(|| format!("cursor {s:?} must look like HEIGHT:INDEX, e.g. 12:0"))?;
        Ok(Position {
            height: h
                .parse()
                .map_err(|_| format!("cursor height {h:?} is not a number"))?,
            index: i
                .parse()
                .map_err(|_| format!("cursor index {i:?} is not a number"))?,
        })
    }
}

/// A cursor is the position of the next event to read: reading from it returns events at
/// positions `>= cursor`. `Cursor::default()` (0:0) reads from genesis.
pub type Cursor = Position;

/// How a chain decides that a block can no longer change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum FinalityRule {
    /// BFT-style: a committed block is final at once (devchain, QBFT, IBFT).
    Instant,
    /// Probabilistic or reorg-prone: final once `depth` blocks are built on top.
    Confirmations { depth: u64 },
}

/// What a chain says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainInfo {
    pub chain_id: ChainId,
    /// Adapter family, e.g. `devchain` or `evm`.
    pub kind: String,
    pub height: u64,
    pub finalized_height: u64,
    /// Block time of the finalized head, by the chain's own clock.
    pub finalized_time_ms: UnixMillis,
    /// Declared target interval between blocks.
    pub block_time_ms: u64,
    pub finality: FinalityRule,
}

/// A finalized event observed on a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainEvent {
    pub chain_id: ChainId,
    pub position: Position,
    pub tx_hash: Hash32,
    /// Time of the block holding the event, by the chain's own clock.
    pub time_ms: UnixMillis,
    pub kind: EventKind,
}

/// The typed events Causeway acts on. Chains emit them; relays follow them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Transfer {
        from: Address,
        to: Address,
        asset: AssetId,
        amount: Amount,
    },
    HtlcLocked {
        lock_id: Hash32,
        sender: Address,
        recipient: Address,
        asset: AssetId,
        amount: Amount,
        hashlock: Hash32,
        expiry_ms: UnixMillis,
    },
    HtlcClaimed {
        lock_id: Hash32,
        hashlock: Hash32,
        preimage: Hash32,
        recipient: Address,
    },
    HtlcRefunded {
        lock_id: Hash32,
        hashlock: Hash32,
        sender: Address,
    },
    /// A user handed `amount` of `asset` to this chain's bridge (locked in its vault, or
    /// burned if wrapped) for `recipient` on `dest_chain`, to receive `dest_asset` there.
    BridgeSent {
        sender: Address,
        dest_chain: ChainId,
        recipient: Address,
        asset: AssetId,
        dest_asset: AssetId,
        amount: Amount,
    },
    /// A committee-signed batch of transfers from `source_chain` was accepted.
    BridgeBatchAccepted {
        source_chain: ChainId,
        sequence: u64,
        root: Hash32,
        key_epoch: u64,
    },
    /// One attested transfer was paid out here (minted, or released from the vault).
    BridgeReceived {
        source_chain: ChainId,
        source_position: Position,
        source_tx_hash: Hash32,
        recipient: Address,
        asset: AssetId,
        amount: Amount,
    },
    /// The committee key this chain's bridge accepts changed.
    BridgeKeyRotated { key_epoch: u64, group_key: Hash32 },
}

impl EventKind {
    /// Short name of the event type, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Transfer { .. } => "transfer",
            EventKind::HtlcLocked { .. } => "htlc_locked",
            EventKind::HtlcClaimed { .. } => "htlc_claimed",
            EventKind::HtlcRefunded { .. } => "htlc_refunded",
            EventKind::BridgeSent { .. } => "bridge_sent",
            EventKind::BridgeBatchAccepted { .. } => "bridge_batch_accepted",
            EventKind::BridgeReceived { .. } => "bridge_received",
            EventKind::BridgeKeyRotated { .. } => "bridge_key_rotated",
        }
    }

    /// The hashlock of an HTLC event; `None` for every other kind.
    pub fn hashlock(&self) -> Option<Hash32> {
        match self {
            EventKind::HtlcLocked { hashlock, .. }
            | EventKind::HtlcClaimed { hashlock, .. }
            | EventKind::HtlcRefunded { hashlock, .. } => Some(*hashlock),
            _ => None,
        }
    }
}

/// One page of finalized events, in position order, and where to read next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<ChainEvent>,
    /// Resume here: past the last event returned, or past every finalized block scanned.
    pub next: Cursor,
    /// The finalized height this page was read against.
    pub finalized_height: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_height_then_index() {
        assert!(Position::new(1, 9) < Position::new(2, 0));
        assert!(Position::new(2, 0) < Position::new(2, 1));
        assert_eq!(Position::new(3, 4).successor(), Position::new(3, 5));
        assert_eq!("7:2".parse::<Position>().unwrap(), Position::new(7, 2));
        assert!("7".parse::<Position>().is_err());
    }

    #[test]
    fn events_serialize_with_a_type_tag() {
        let e = EventKind::HtlcRefunded {
            lock_id: Hash32::ZERO,
            hashlock: Hash32::ZERO,
            sender: Address::new("ab").unwrap(),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "htlc_refunded");
        assert_eq!(serde_json::from_value::<EventKind>(v).unwrap(), e);
    }
}
