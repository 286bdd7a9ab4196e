//! The out-of-process adapter protocol (`specs/adapter-protocol.md`): JSON-RPC 2.0 methods
//! that an adapter process serves and the relay calls, one per [`crate::ChainAdapter`]
//! method, and the error codes that carry an [`AdapterError`] across the wire.
//!
//! Both ends use this one definition: [`crate::remote::RemoteAdapter`] is the client, the
//! `causeway-adapter-sdk` crate the server.

use causeway_core::{Address, Amount, AssetId, ChainId, ChainInfo, Cursor, EventPage, Hash32};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use serde::{Deserialize, Serialize};

use crate::{Action, AdapterError, Capabilities, PreparedTx, TxState};

/// The protocol version this build speaks. Peers must agree on the major version; a newer
/// minor version only adds optional methods or fields.
pub const PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion { major: 1, minor: 0 };

/// Most events one `adapter_events` call may return (the relay never asks for more).
pub const MAX_EVENTS_PER_PAGE: u32 = 1_000;

/// Longest adapter name or version string a handshake may carry.
pub const MAX_IDENTITY_CHARS: usize = 128;

/// Longest error message kept from a remote adapter; the rest is cut off.
pub const MAX_REMOTE_MESSAGE_CHARS: usize = 1_000;

/// `specs/adapter-protocol.md` §5: error codes, from the JSON-RPC server-error range.
pub mod codes {
    /// The method, action or capability is not supported by this adapter.
    pub const UNSUPPORTED: i32 = -32001;
    /// The chain refused the request; `data.chain_code` is the chain's own code.
    pub const REJECTED: i32 = -32002;
    /// The adapter cannot reach its chain right now (node down, syncing): retry later.
    pub const NOT_READY: i32 = -32003;
    /// The adapter has no signing key configured.
    pub const NO_SIGNER: i32 = -32004;
    /// The adapter's chain is not the one the request was meant for.
    pub const WRONG_CHAIN: i32 = -32005;
    /// The adapter gave up waiting on its chain: retry later.
    pub const TIMEOUT: i32 = -32006;
    /// The chain answered the adapter something that breaks the contract.
    pub const MALFORMED: i32 = -32007;
    /// The handshake's major protocol versions differ.
    pub const INCOMPATIBLE_VERSION: i32 = -32008;
    /// JSON-RPC 2.0's own: unknown method.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// JSON-RPC 2.0's own: parameters do not parse.
    pub const INVALID_PARAMS: i32 = -32602;
}

/// `MAJOR.MINOR`, written as that text on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolVersion {
    pub major: u32,
    pub minor: u32,
}

impl ProtocolVersion {
    pub fn is_compatible_with(self, other: ProtocolVersion) -> bool {
        self.major == other.major
    }
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl std::str::FromStr for ProtocolVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("protocol version {s:?} must look like MAJOR.MINOR, e.g. 1.0");
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        Ok(ProtocolVersion {
            major: major.parse().map_err(|_| bad())?,
            minor: minor.parse().map_err(|_| bad())?,
        })
    }
}

/// Who an adapter process is, for logs and status pages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterIdentity {
    pub name: String,
    pub version: String,
}

/// The answer to `adapter_handshake` (`specs/adapter-protocol.md` §3.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    /// `MAJOR.MINOR`.
    pub protocol_version: String,
    pub adapter: AdapterIdentity,
    pub chain_id: ChainId,
    pub capabilities: Capabilities,
    /// The account the adapter signs with, if it has a key.
    pub signer: Option<Address>,
}

/// The methods, namespaced `adapter_`. Parameters are passed by name.
#[rpc(client, server, namespace = "adapter")]
pub trait AdapterRpc {
    /// `protocol_version` is the caller's; an adapter may refuse an incompatible one.
    #[method(name = "handshake", param_kind = map)]
    async fn handshake(&self, protocol_version: String) -> RpcResult<Handshake>;

    #[method(name = "info", param_kind = map)]
    async fn info(&self) -> RpcResult<ChainInfo>;

    #[method(name = "events", param_kind = map)]
    async fn events(&self, cursor: Cursor, limit: u32) -> RpcResult<EventPage>;

    #[method(name = "balance", param_kind = map)]
    async fn balance(&self, account: Address, asset: AssetId) -> RpcResult<Amount>;

    #[method(name = "prepare", param_kind = map)]
    async fn prepare(&self, action: Action) -> RpcResult<PreparedTx>;

    #[method(name = "broadcast", param_kind = map)]
    async fn broadcast(&self, tx: PreparedTx) -> RpcResult<()>;

    #[method(name = "txStatus", param_kind = map)]
    async fn tx_status(&self, id: Hash32) -> RpcResult<TxState>;

    /// Optional: the hashlock the chain's HTLC computes for `preimage`.
    #[method(name = "hashlock", param_kind = map)]
    async fn hashlock(&self, preimage: Hash32) -> RpcResult<Hash32>;
}

/// The `data` member of an error: whatever the variant needs besides its message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_ms: Option<u64>,
}

/// The wire form of an adapter's error. The message is the variant's own words (without the
/// chain prefix, which the relay adds back).
pub fn error_to_rpc(err: &AdapterError) -> ErrorObjectOwned {
    let data = ErrorData::default();
    let (code, message, data) = match err {
        AdapterError::Unsupported { what, .. } => (codes::UNSUPPORTED, what.clone(), data),
        AdapterError::Rejected { code, message, .. } => (
            codes::REJECTED,
            message.clone(),
            ErrorData {
                chain_code: *code,
                ..data
            },
        ),
        AdapterError::Unreachable {
            endpoint, reason, ..
        } => (
            codes::NOT_READY,
            format!("cannot reach {endpoint}: {reason}"),
            data,
        ),
        AdapterError::NoSigner { .. } => (codes::NO_SIGNER, "no signing key".into(), data),
        AdapterError::WrongChain {
            expected, found, ..
        } => (
            codes::WRONG_CHAIN,
            format!("is {found}, expected {expected}"),
            ErrorData {
                expected: Some(expected.to_string()),
                found: Some(found.clone()),
                ..data
            },
        ),
        AdapterError::Timeout { what, after_ms, .. } => (
            codes::TIMEOUT,
            what.clone(),
            ErrorData {
                after_ms: Some(*after_ms),
                ..data
            },
        ),
        AdapterError::Malformed { detail, .. } => (codes::MALFORMED, detail.clone(), data),
    };
    ErrorObject::owned(code, message, Some(data))
}

/// The [`AdapterError`] a remote adapter's error object stands for. Unknown codes are chain
/// refusals: they repeat, so retrying would not help.
pub fn error_from_rpc(chain: &ChainId, endpoint: &str, obj: &ErrorObject<'_>) -> AdapterError {
    let chain = chain.clone();
    let message = bounded(obj.message());
    let data: ErrorData = obj
        .data()
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .unwrap_or_default();
    match obj.code() {
        codes::UNSUPPORTED | codes::METHOD_NOT_FOUND => AdapterError::Unsupported {
            chain,
            what: message,
        },
        codes::REJECTED => AdapterError::Rejected {
            chain,
            code: data.chain_code,
            message,
        },
        codes::NOT_READY => AdapterError::Unreachable {
            chain,
            endpoint: endpoint.to_string(),
            reason: format!("the adapter is not ready: {message}"),
        },
        codes::NO_SIGNER => AdapterError::NoSigner { chain },
        codes::WRONG_CHAIN => AdapterError::WrongChain {
            expected: chain.clone(),
            chain,
            found: data.found.map(|f| bounded(&f)).unwrap_or(message),
        },
        codes::TIMEOUT => AdapterError::Timeout {
            chain,
            what: message,
            after_ms: data.after_ms.unwrap_or(0),
        },
        codes::MALFORMED | codes::INCOMPATIBLE_VERSION => AdapterError::Malformed {
            chain,
            detail: message,
        },
        other => AdapterError::Rejected {
            chain,
            code: Some(other),
            message,
        },
    }
}

/// A remote's text, cut to [`MAX_REMOTE_MESSAGE_CHARS`] so a hostile adapter cannot flood logs.
pub fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_REMOTE_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}… (cut)", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> ChainId {
        ChainId::new("ledger-1").unwrap()
    }

    fn round_trip(err: AdapterError) -> AdapterError {
        let wire = serde_json::to_string(&error_to_rpc(&err)).unwrap();
        let obj: ErrorObjectOwned = serde_json::from_str(&wire).unwrap();
        error_from_rpc(&chain(), "http://x", &obj)
    }

    // specs/adapter-protocol.md §3.1: an adapter written before a capability existed still
    // handshakes, with the capability off and the default whole-batch bound.
    #[test]
    fn capabilities_omitted_by_an_older_adapter_take_their_defaults() {
        let caps: crate::Capabilities =
            serde_json::from_str(r#"{"transfer":true,"htlc":true}"#).unwrap();
        assert!(!caps.bridge && !caps.bridge_batch);
        assert_eq!(caps.max_batch_bytes, crate::DEFAULT_BATCH_SUBMISSION_BYTES);
        assert_eq!(
            crate::DEFAULT_BATCH_SUBMISSION_BYTES,
            12_288,
            "the spec names it"
        );
    }

    // specs/adapter-protocol.md §5
    #[test]
    fn every_error_keeps_its_kind_and_transience_across_the_wire() {
        let c = chain();
        let cases = [
            AdapterError::Unsupported {
                chain: c.clone(),
                what: "action bridge_send".into(),
            },
            AdapterError::Rejected {
                chain: c.clone(),
                code: Some(7),
                message: "insufficient balance".into(),
            },
            AdapterError::Unreachable {
                chain: c.clone(),
                endpoint: "node".into(),
                reason: "refused".into(),
            },
            AdapterError::NoSigner { chain: c.clone() },
            AdapterError::WrongChain {
                chain: c.clone(),
                expected: c.clone(),
                found: "other".into(),
            },
            AdapterError::Timeout {
                chain: c.clone(),
                what: "a block".into(),
                after_ms: 5,
            },
            AdapterError::Malformed {
                chain: c.clone(),
                detail: "bad page".into(),
            },
        ];
        for err in cases {
            let back = round_trip(err.clone());
            assert_eq!(
                std::mem::discriminant(&back),
                std::mem::discriminant(&err),
                "{err:?} came back as {back:?}"
            );
            assert_eq!(back.is_transient(), err.is_transient());
        }
        match round_trip(AdapterError::Rejected {
            chain: c,
            code: Some(7),
            message: "insufficient balance".into(),
        }) {
            AdapterError::Rejected { code, message, .. } => {
                assert_eq!(code, Some(7));
                assert_eq!(message, "insufficient balance");
            }
            other => panic!("{other:?}"),
        }
    }

    // specs/adapter-protocol.md §5: unknown codes are refusals, not retried.
    #[test]
    fn unknown_codes_are_non_transient_refusals_and_messages_are_bounded() {
        let obj = ErrorObject::owned(-1234, "x".repeat(5_000), None::<()>);
        let err = error_from_rpc(&chain(), "http://x", &obj);
        assert!(!err.is_transient());
        assert!(matches!(
            err,
            AdapterError::Rejected {
                code: Some(-1234),
                ..
            }
        ));
        assert!(err.to_string().len() < 1_200, "{}", err.to_string().len());
    }

    // specs/adapter-protocol.md §2
    #[test]
    fn versions_parse_and_only_majors_must_match() {
        let v: ProtocolVersion = "1.7".parse().unwrap();
        assert!(v.is_compatible_with(PROTOCOL_VERSION));
        assert!(!"2.0"
            .parse::<ProtocolVersion>()
            .unwrap()
            .is_compatible_with(PROTOCOL_VERSION));
        assert!("1".parse::<ProtocolVersion>().is_err());
        assert!("one.two".parse::<ProtocolVersion>().is_err());
        assert_eq!(PROTOCOL_VERSION.to_string(), "1.0");
    }
}
