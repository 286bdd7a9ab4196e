use causeway_core::{Address, Amount, AssetId, ChainId, Hash32, UnixMillis};
use serde::{Deserialize, Serialize};

/// Something the relay asks a chain to do, signed by the adapter's configured account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Transfer {
        to: Address,
        asset: AssetId,
        amount: Amount,
    },
    HtlcLock {
        recipient: Address,
        asset: AssetId,
        amount: Amount,
        hashlock: Hash32,
        expiry_ms: UnixMillis,
    },
    HtlcClaim {
        lock_id: Hash32,
        preimage: Hash32,
    },
    HtlcRefund {
        lock_id: Hash32,
    },
    /// Hands `amount` of `asset` to this chain's bridge for `recipient` on `dest_chain`.
    BridgeSend {
        dest_chain: ChainId,
        recipient: Address,
        asset: AssetId,
        amount: Amount,
    },
    /// Gives the bridge a committee-signed attestation: `notary::Attestation::to_bytes`
    /// and the group's Ed25519 signature over them, both hex.
    BridgeSubmitAttestation {
        attestation: String,
        signature: String,
    },
    /// Pays out one transfer of an accepted batch, proven by its Merkle path.
    BridgeExecute {
        transfer: causeway_notary::Transfer,
        proof: causeway_notary::MerkleProof,
    },
    /// A signed transfer batch and all of its transfers, in batch order: accepted and paid
    /// out in one transaction (offered when `Capabilities::bridge_batch`).
    BridgeSubmitBatch {
        attestation: String,
        signature: String,
        transfers: Vec<causeway_notary::Transfer>,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Transfer { .. } => "transfer",
            Action::HtlcLock { .. } => "htlc_lock",
            Action::HtlcClaim { .. } => "htlc_claim",
            Action::HtlcRefund { .. } => "htlc_refund",
            Action::BridgeSend { .. } => "bridge_send",
            Action::BridgeSubmitAttestation { .. } => "bridge_submit_attestation",
            Action::BridgeExecute { .. } => "bridge_execute",
            Action::BridgeSubmitBatch { .. } => "bridge_submit_batch",
        }
    }
}

/// A signed transaction ready to broadcast. The relay stores it *before* broadcasting, so
/// that after a crash it re-broadcasts these exact bytes (same id, same effect) rather than
/// signing a second, different transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedTx {
    pub chain_id: ChainId,
    /// The chain's transaction hash.
    pub id: Hash32,
    pub action: Action,
    /// The chain-specific signed transaction, opaque to everyone but its adapter.
    pub raw: serde_json::Value,
}

/// Where a transaction stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TxState {
    /// The chain has never heard of it (or forgot it, e.g. a restarted node's mempool).
    Unknown,
    Pending,
    /// In a block that is not final yet (reorg-prone chains only).
    Included {
        height: u64,
    },
    Final {
        height: u64,
        outcome: TxOutcome,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TxOutcome {
    Success,
    /// Final but without effect; `reason` is the chain's own words.
    Failed {
        reason: String,
    },
}

/// What a chain offers. A chain may support HTLC swaps only, notary transfers only, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub transfer: bool,
    pub htlc: bool,
    /// Notary-committee transfers (a bridge module or contract).
    #[serde(default)]
    pub bridge: bool,
    /// `BridgeSubmitBatch`: a whole batch accepted and paid in one transaction.
    #[serde(default)]
    pub bridge_batch: bool,
    /// Largest `BridgeSubmitBatch` (its JSON encoding) the chain takes in one transaction;
    /// larger batches go as an attestation then one execution per transfer.
    #[serde(default = "default_batch_bytes")]
    pub max_batch_bytes: u32,
}

/// The whole-batch bound of a chain that does not declare one: it fits the 16 KiB
/// transaction bound most ledgers keep, and an EVM block's gas for a 32-transfer batch.
pub const DEFAULT_BATCH_SUBMISSION_BYTES: u32 = 12 * 1024;

fn default_batch_bytes() -> u32 {
    DEFAULT_BATCH_SUBMISSION_BYTES
}
