use causeway_core::ChainId;

/// Everything an adapter can report. Each variant names the chain.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdapterError {
    #[error("chain {chain}: cannot reach {endpoint}: {reason} (is the node running? check the endpoint in the config)")]
    Unreachable {
        chain: ChainId,
        endpoint: String,
        reason: String,
    },
    #[error("chain {chain}: rejected: {message}")]
    Rejected {
        chain: ChainId,
        /// The chain's own error code, when it has one.
        code: Option<i32>,
        message: String,
    },
    #[error("chain {chain}: answered something that breaks the adapter contract: {detail}")]
    Malformed { chain: ChainId, detail: String },
    #[error("chain {chain}: {what} is not supported by this chain's adapter")]
    Unsupported { chain: ChainId, what: String },
    #[error("chain {chain}: no signing key is configured (set `key` for this chain in the relay config)")]
    NoSigner { chain: ChainId },
    #[error("chain {chain}: is {found}, but the config expects {expected}: the endpoint points at the wrong chain")]
    WrongChain {
        chain: ChainId,
        expected: ChainId,
        found: String,
    },
    #[error("chain {chain}: gave up waiting for {what} after {after_ms} ms")]
    Timeout {
        chain: ChainId,
        what: String,
        after_ms: u64,
    },
}

impl AdapterError {
    /// Whether trying again later may succeed (transport trouble), as opposed to a refusal
    /// that will repeat.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AdapterError::Unreachable { .. } | AdapterError::Timeout { .. }
        )
    }

    pub fn chain(&self) -> &ChainId {
        match self {
            AdapterError::Unreachable { chain, .. }
            | AdapterError::Rejected { chain, .. }
            | AdapterError::Malformed { chain, .. }
            | AdapterError::Unsupported { chain, .. }
            | AdapterError::NoSigner { chain }
            | AdapterError::WrongChain { chain, .. }
            | AdapterError::Timeout { chain, .. } => chain,
        }
    }
}
