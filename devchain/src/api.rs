//! The node's JSON-RPC interface (HTTP and WebSocket), shared by server and client.
//!
//! Method names are `devchain_<name>`. Errors use the codes of [`ErrorCode`]; each error's
//! message says what is wrong and what to do, and its `data` carries the offending values.

use std::collections::BTreeMap;

use causeway_core::{
    Address, Amount, AssetId, ChainEvent, ChainInfo, Cursor, EventPage, Hash32, UnixMillis,
};
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};

use crate::tx::SignedTransaction;

/// Largest page `devchain_getEvents` returns; larger `limit`s are clamped.
pub const MAX_EVENTS_PER_PAGE: u32 = 1_000;
/// Longest `devchain_waitForHeight` holds a request; larger `timeout_ms` are clamped.
pub const MAX_WAIT_FOR_HEIGHT_MS: u64 = 5_000;

#[rpc(server, client, namespace = "devchain")]
pub trait DevchainApi {
    /// Chain id, heights, finality rule and block time.
    #[method(name = "chainInfo")]
    async fn chain_info(&self) -> RpcResult<ChainInfo>;

    /// Long poll: answers `chainInfo` as soon as a block above `height` is final, or after
    /// `timeout_ms` (clamped to [`MAX_WAIT_FOR_HEIGHT_MS`]) with whatever is final then.
    /// Followers use it to learn of a block when it is final instead of on their next poll.
    #[method(name = "waitForHeight")]
    async fn wait_for_height(&self, height: u64, timeout_ms: u64) -> RpcResult<ChainInfo>;

    /// Validates and queues a transaction; returns its hash. Idempotent: submitting a
    /// transaction the node already holds (pending or committed) returns the same hash.
    #[method(name = "submitTransaction")]
    async fn submit_transaction(&self, tx: SignedTransaction) -> RpcResult<Hash32>;

    /// The receipt of a committed transaction; `null` while it is pending or unknown.
    /// A receipt is only ever returned once its block is durable on disk.
    #[method(name = "getReceipt")]
    async fn receipt(&self, tx_hash: Hash32) -> RpcResult<Option<Receipt>>;

    /// Whether the node knows the transaction, and where it stands.
    #[method(name = "getTransactionStatus")]
    async fn transaction_status(&self, tx_hash: Hash32) -> RpcResult<TxStatus>;

    #[method(name = "getBlock")]
    async fn block(&self, height: u64) -> RpcResult<Option<Block>>;

    #[method(name = "getBalance")]
    async fn balance(&self, account: Address, asset: AssetId) -> RpcResult<Amount>;

    /// Next nonce and every balance of an account (an unknown account has nonce 0, no balances).
    #[method(name = "getAccount")]
    async fn account(&self, account: Address) -> RpcResult<AccountState>;

    #[method(name = "getHtlc")]
    async fn htlc(&self, lock_id: Hash32) -> RpcResult<Option<HtlcLock>>;

    /// Bridge config, current key epoch and key, last sequence per source, pause flag;
    /// `null` when genesis configured no bridge.
    #[method(name = "getBridge")]
    async fn bridge(&self) -> RpcResult<Option<crate::bridge::BridgeState>>;

    /// The node's own counters: how its bounded queues are doing.
    #[method(name = "nodeStats")]
    async fn node_stats(&self) -> RpcResult<NodeStats>;

    /// Streams finalized events from `cursor` on: first the backlog, then each new block's.
    #[subscription(name = "subscribeEvents" => "event", unsubscribe = "unsubscribeEvents", item = ChainEvent)]
    async fn subscribe_events(&self, cursor: Cursor) -> SubscriptionResult;
}

/// `devchain_getEvents`, as clients call it: finalized events at positions `>= cursor`, at
/// most `limit` (clamped to [`MAX_EVENTS_PER_PAGE`]), in position order.
#[rpc(client, namespace = "devchain")]
pub trait DevchainEvents {
    #[method(name = "getEvents")]
    async fn events(&self, cursor: Cursor, limit: u32) -> RpcResult<EventPage>;
}

/// `devchain_getEvents` as the node serves it: each event's JSON as stored, which is what
/// encoding the decoded event would give, without decoding and re-encoding every event
/// for every reader (a fifth of a node's CPU under load, with eight readers).
#[rpc(server, namespace = "devchain")]
pub trait StoredEvents {
    #[method(name = "getEvents")]
    async fn events(&self, cursor: Cursor, limit: u32) -> RpcResult<StoredEventPage>;
}

/// An [`EventPage`] whose events are left as the node stored them.
#[derive(Clone, Debug, Serialize)]
pub struct StoredEventPage {
    pub events: Vec<Box<serde_json::value::RawValue>>,
    pub next: Cursor,
    pub finalized_height: u64,
}

/// What `devchain_nodeStats` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStats {
    /// The batched signature checks of submissions (`specs/devchain.md` §6.1).
    pub verifier: crate::verifier::VerifierStats,
}

/// Outcome of a committed transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub tx_hash: Hash32,
    pub height: u64,
    /// Index of the transaction in its block.
    pub index: u32,
    pub time_ms: UnixMillis,
    pub outcome: TxOutcome,
    /// Events the transaction emitted (empty when it failed).
    pub events: Vec<ChainEvent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxOutcome {
    Success,
    /// Included (the nonce is used) but had no effect, e.g. a refund that came too early.
    Failed {
        code: i32,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    Unknown,
    Pending,
    Committed { receipt: Receipt },
}

/// A committed block. Blocks are signed by a validator and final once committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub header: BlockHeader,
    /// Hex Ed25519 signature of the proposing validator over the header's hash.
    pub signature: String,
    pub transactions: Vec<SignedTransaction>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    pub chain_id: causeway_core::ChainId,
    pub height: u64,
    pub parent_hash: Hash32,
    pub time_ms: UnixMillis,
    /// SHA-256 over the hashes of the block's transactions, in order.
    pub transactions_root: Hash32,
    /// Hex Ed25519 public key of the validator that proposed and signed the block.
    pub proposer: Address,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub nonce: u64,
    pub balances: BTreeMap<AssetId, Amount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HtlcLock {
    pub lock_id: Hash32,
    pub sender: Address,
    pub recipient: Address,
    pub asset: AssetId,
    pub amount: Amount,
    pub hashlock: Hash32,
    pub expiry_ms: UnixMillis,
    pub state: HtlcState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HtlcState {
    Locked,
    Claimed { preimage: Hash32 },
    Refunded,
}

/// JSON-RPC error codes of the node. Standard JSON-RPC codes (-32700..-32600) are used for
/// malformed requests; these are for well-formed requests the ledger refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ErrorCode {
    BadSignature = 1001,
    WrongChain = 1002,
    NonceTooLow = 1003,
    NonceTooHigh = 1004,
    InsufficientBalance = 1005,
    UnknownAsset = 1006,
    OversizeTransaction = 1007,
    InvalidAmount = 1008,
    MempoolFull = 1009,
    HtlcNotFound = 1010,
    HtlcAlreadySettled = 1011,
    WrongPreimage = 1012,
    HtlcNotExpired = 1013,
    HtlcExpired = 1014,
    HtlcDuplicate = 1015,
    HtlcInvalidTerms = 1016,
    /// A recipient or account field is not a hex Ed25519 public key.
    InvalidAddress = 1017,
    BridgeNotConfigured = 1018,
    BridgeBadSignature = 1019,
    BridgeWrongEpoch = 1020,
    BridgeWrongCommittee = 1021,
    /// Replayed batch sequence or root, executed transfer, or stale pause control.
    BridgeReplay = 1022,
    BridgeUnknownRoot = 1023,
    BridgeBadProof = 1024,
    BridgePaused = 1025,
    BridgeUnknownRoute = 1026,
    BridgeEmptyValue = 1027,
    /// Malformed hex or attestation, or one naming another destination chain.
    BridgeInvalid = 1028,
    Internal = 1099,
}

impl ErrorCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<ErrorCode> {
        use ErrorCode::*;
        [
            BadSignature,
            WrongChain,
            NonceTooLow,
            NonceTooHigh,
            InsufficientBalance,
            UnknownAsset,
            OversizeTransaction,
            InvalidAmount,
            MempoolFull,
            HtlcNotFound,
            HtlcAlreadySettled,
            WrongPreimage,
            HtlcNotExpired,
            HtlcExpired,
            HtlcDuplicate,
            HtlcInvalidTerms,
            InvalidAddress,
            BridgeNotConfigured,
            BridgeBadSignature,
            BridgeWrongEpoch,
            BridgeWrongCommittee,
            BridgeReplay,
            BridgeUnknownRoot,
            BridgeBadProof,
            BridgePaused,
            BridgeUnknownRoute,
            BridgeEmptyValue,
            BridgeInvalid,
            Internal,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }
}
