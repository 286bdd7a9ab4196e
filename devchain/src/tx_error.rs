//! Why the ledger refuses a transaction, at admission (RPC error) or at execution (a
//! `Failed` receipt). Each variant maps to one [`ErrorCode`]; its message says what to do
//! and its fields travel as the JSON-RPC error's `data`.

use causeway_core::{Address, Amount, AssetId, ChainId, Hash32, UnixMillis};
use serde::Serialize;

use crate::api::ErrorCode;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TxError {
    #[error("bad signature: {reason}; sign Transaction::signing_bytes() with the Ed25519 key whose hex public key is `from`")]
    BadSignature { reason: String },

    #[error("transaction is for chain {found} but this node runs chain {expected}; set chain_id to {expected}")]
    WrongChain { expected: ChainId, found: ChainId },

    #[error("nonce {got} of {sender} is already used; its next nonce is {expected} (read it with devchain_getAccount)")]
    NonceTooLow {
        sender: Address,
        got: u64,
        expected: u64,
    },

    #[error("nonce {got} of {sender} is too far ahead: its next nonce is {expected} and at most {max_gap} later ones are held; submit the missing nonces first")]
    NonceTooHigh {
        sender: Address,
        got: u64,
        expected: u64,
        max_gap: u64,
    },

    #[error("{account} has {available} {asset} (after its pending transactions) but needs {needed}; fund the account or send less")]
    InsufficientBalance {
        account: Address,
        asset: AssetId,
        available: Amount,
        needed: Amount,
    },

    #[error("asset {asset} is not declared in this chain's genesis; use one of {known:?}")]
    UnknownAsset { asset: AssetId, known: Vec<AssetId> },

    #[error("transaction is {size} bytes of JSON, over the {limit}-byte limit; send a smaller transaction")]
    OversizeTransaction { size: usize, limit: usize },

    #[error("`{field}` must be greater than zero")]
    InvalidAmount { field: &'static str },

    #[error("`{field}` {value:?} is not a devchain address; use a hex Ed25519 public key (64 hex digits)")]
    InvalidAddress { field: &'static str, value: String },

    #[error("the mempool holds its limit of {capacity} transactions; retry after the next block")]
    MempoolFull { capacity: usize },

    #[error("the mempool holds {bytes} bytes of transactions and its limit is {limit}; retry after the next block")]
    MempoolBytesFull { bytes: usize, limit: usize },

    #[error("the node has {queued} signatures waiting to be checked, its limit; retry after the next block")]
    VerifierBusy { queued: usize },

    #[error("no HTLC lock {lock_id} exists on this chain; check the lock id (devchain_getHtlc)")]
    HtlcNotFound { lock_id: Hash32 },

    #[error("HTLC lock {lock_id} is already {state}; it cannot be claimed or refunded again")]
    HtlcAlreadySettled {
        lock_id: Hash32,
        state: &'static str,
    },

    #[error("preimage hashes to {preimage_hash}, but HTLC lock {lock_id} has hashlock {hashlock}; send the preimage of the hashlock")]
    WrongPreimage {
        lock_id: Hash32,
        hashlock: Hash32,
        preimage_hash: Hash32,
    },

    #[error("HTLC lock {lock_id} expires at {expiry_ms} but chain time is {now_ms}; refund once a block with time >= {expiry_ms} is committed")]
    HtlcNotExpired {
        lock_id: Hash32,
        expiry_ms: UnixMillis,
        now_ms: UnixMillis,
    },

    #[error("HTLC lock {lock_id} expired at {expiry_ms} (chain time {now_ms}); it can only be refunded now")]
    HtlcExpired {
        lock_id: Hash32,
        expiry_ms: UnixMillis,
        now_ms: UnixMillis,
    },

    #[error(
        "HTLC lock {lock_id} already exists with these exact terms; change the hashlock or expiry"
    )]
    HtlcDuplicate { lock_id: Hash32 },

    #[error("invalid HTLC terms: {reason}")]
    HtlcInvalidTerms { reason: String },

    #[error("this chain has no bridge configured; re-create it with `causeway devchain init --bridge FILE`")]
    BridgeNotConfigured,

    #[error("attestation signature does not verify under the group key of epoch {key_epoch}; have the current committee sign the exact attestation bytes")]
    BridgeBadSignature { key_epoch: u64 },

    #[error("attestation names key epoch {found} but the bridge accepts only epoch {expected}; re-sign with the current key (devchain_getBridge)")]
    BridgeWrongEpoch { expected: u64, found: u64 },

    #[error("attestation is from committee {found} but the bridge trusts committee {expected}")]
    BridgeWrongCommittee { expected: Hash32, found: Hash32 },

    #[error("replay refused: {what}")]
    BridgeReplay { what: String },

    #[error("no accepted batch has Merkle root {root}; submit its attestation first")]
    BridgeUnknownRoot { root: Hash32 },

    #[error("transfer proof does not verify: {reason}")]
    BridgeBadProof { reason: String },

    #[error("the bridge is paused (control sequence {control_sequence}); wait for the committee to unpause it")]
    BridgePaused { control_sequence: u64 },

    #[error("the bridge has no route for asset {asset} with chain {chain}; see devchain_getBridge for the routes")]
    BridgeUnknownRoute { asset: AssetId, chain: ChainId },

    #[error("the bridge has no route to or from chain {chain}; attestations from it are refused")]
    BridgeUnknownSource { chain: ChainId },

    #[error("`{field}` is zero or empty; the bridge never treats a default value as valid")]
    BridgeEmptyValue { field: &'static str },

    #[error("invalid bridge request: {reason}")]
    BridgeInvalid { reason: String },

    #[error("crediting {amount} {asset} to {account} would overflow its balance")]
    BalanceOverflow {
        account: Address,
        asset: AssetId,
        amount: Amount,
    },
}

impl TxError {
    pub fn code(&self) -> ErrorCode {
        use TxError::*;
        match self {
            BadSignature { .. } => ErrorCode::BadSignature,
            WrongChain { .. } => ErrorCode::WrongChain,
            NonceTooLow { .. } => ErrorCode::NonceTooLow,
            NonceTooHigh { .. } => ErrorCode::NonceTooHigh,
            InsufficientBalance { .. } => ErrorCode::InsufficientBalance,
            UnknownAsset { .. } => ErrorCode::UnknownAsset,
            OversizeTransaction { .. } => ErrorCode::OversizeTransaction,
            InvalidAmount { .. } => ErrorCode::InvalidAmount,
            InvalidAddress { .. } => ErrorCode::InvalidAddress,
            MempoolFull { .. } | MempoolBytesFull { .. } | VerifierBusy { .. } => {
                ErrorCode::MempoolFull
            }
            HtlcNotFound { .. } => ErrorCode::HtlcNotFound,
            HtlcAlreadySettled { .. } => ErrorCode::HtlcAlreadySettled,
            WrongPreimage { .. } => ErrorCode::WrongPreimage,
            HtlcNotExpired { .. } => ErrorCode::HtlcNotExpired,
            HtlcExpired { .. } => ErrorCode::HtlcExpired,
            HtlcDuplicate { .. } => ErrorCode::HtlcDuplicate,
            HtlcInvalidTerms { .. } => ErrorCode::HtlcInvalidTerms,
            BridgeNotConfigured => ErrorCode::BridgeNotConfigured,
            BridgeBadSignature { .. } => ErrorCode::BridgeBadSignature,
            BridgeWrongEpoch { .. } => ErrorCode::BridgeWrongEpoch,
            BridgeWrongCommittee { .. } => ErrorCode::BridgeWrongCommittee,
            BridgeReplay { .. } => ErrorCode::BridgeReplay,
            BridgeUnknownRoot { .. } => ErrorCode::BridgeUnknownRoot,
            BridgeBadProof { .. } => ErrorCode::BridgeBadProof,
            BridgePaused { .. } => ErrorCode::BridgePaused,
            BridgeUnknownRoute { .. } | BridgeUnknownSource { .. } => ErrorCode::BridgeUnknownRoute,
            BridgeEmptyValue { .. } => ErrorCode::BridgeEmptyValue,
            BridgeInvalid { .. } => ErrorCode::BridgeInvalid,
            BalanceOverflow { .. } => ErrorCode::Internal,
        }
    }

    /// Whether a transaction failing this way at execution is still included in the block
    /// (its nonce is used, its receipt says `Failed`). Transactions that could never have
    /// been signed for this chain and slot are left out instead.
    pub fn uses_nonce(&self) -> bool {
        !matches!(
            self,
            TxError::BadSignature { .. }
                | TxError::WrongChain { .. }
                | TxError::NonceTooLow { .. }
                | TxError::NonceTooHigh { .. }
                | TxError::OversizeTransaction { .. }
                | TxError::MempoolFull { .. }
                | TxError::MempoolBytesFull { .. }
                | TxError::VerifierBusy { .. }
        )
    }

    /// The error's fields as JSON, for the JSON-RPC error's `data`.
    pub fn data(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_carries_kind_and_fields() {
        let err = TxError::NonceTooLow {
            sender: Address::new("ab").unwrap(),
            got: 1,
            expected: 3,
        };
        let data = err.data();
        assert_eq!(data["kind"], "nonce_too_low");
        assert_eq!(data["expected"], 3);
        assert_eq!(err.code(), ErrorCode::NonceTooLow);
        assert!(!err.uses_nonce());
        assert!(err.to_string().contains("next nonce is 3"));
    }

    #[test]
    fn execution_failures_use_the_nonce() {
        let err = TxError::HtlcNotFound {
            lock_id: Hash32::ZERO,
        };
        assert!(err.uses_nonce());
        assert_eq!(err.code().code(), 1010);
    }
}
