//! `node.toml`: how a node serves and paces itself, with every limit named.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::error::DevchainError;

pub const DEFAULT_BLOCK_INTERVAL_MS: u64 = 200;
/// Faster than this and an empty chain spends its time writing empty blocks.
pub const MIN_BLOCK_INTERVAL_MS: u64 = 10;
/// Slower than this and HTLC deadlines would be judged too coarsely.
pub const MAX_BLOCK_INTERVAL_MS: u64 = 60_000;
pub const DEFAULT_MAX_TXS_PER_BLOCK: usize = 5_000;
pub const DEFAULT_MEMPOOL_CAPACITY: usize = 20_000;
/// Largest transaction accepted, measured as its JSON: room for a whole notary batch of a
/// few hundred transfers in one transaction (geth's bound is the same 128 KiB).
pub const DEFAULT_MAX_TX_BYTES: usize = 128 * 1024;
/// JSON bytes of all queued and held transactions: with large transactions allowed the
/// count alone would let the mempool reach gigabytes.
pub const DEFAULT_MEMPOOL_MAX_BYTES: usize = 64 * 1024 * 1024;
/// JSON bytes of one block's transactions, well under the 10 MiB responses clients read.
pub const DEFAULT_MAX_BLOCK_BYTES: usize = 4 * 1024 * 1024;
/// Largest HTTP/WebSocket request body: room for a batch of transactions, no more.
pub const DEFAULT_MAX_REQUEST_BYTES: u32 = 512 * 1024;
/// Largest number of calls in one JSON-RPC batch.
pub const DEFAULT_MAX_BATCH_CALLS: u32 = 64;
pub const DEFAULT_MAX_CONNECTIONS: u32 = 256;
pub const DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION: u32 = 16;
/// Blocks of events buffered for WebSocket subscribers; one further behind is dropped.
pub const DEFAULT_SUBSCRIBER_LAG_BLOCKS: usize = 1_024;
/// Ceilings on the configurable limits, so a typo cannot exhaust memory.
const MAX_TXS_PER_BLOCK_CEILING: usize = 100_000;
const MEMPOOL_CAPACITY_CEILING: usize = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Loopback address the JSON-RPC server (HTTP and WebSocket) listens on; port 0 picks one.
    pub rpc_addr: SocketAddr,
    #[serde(default = "default_block_interval")]
    pub block_interval_ms: u64,
    #[serde(default)]
    pub limits: Limits,
}

fn default_block_interval() -> u64 {
    DEFAULT_BLOCK_INTERVAL_MS
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_txs_per_block: usize,
    pub max_block_bytes: usize,
    pub mempool_capacity: usize,
    pub mempool_max_bytes: usize,
    pub max_tx_bytes: usize,
    pub max_request_bytes: u32,
    pub max_batch_calls: u32,
    pub max_connections: u32,
    pub max_subscriptions_per_connection: u32,
    pub subscriber_lag_blocks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_txs_per_block: DEFAULT_MAX_TXS_PER_BLOCK,
            max_block_bytes: DEFAULT_MAX_BLOCK_BYTES,
            mempool_capacity: DEFAULT_MEMPOOL_CAPACITY,
            mempool_max_bytes: DEFAULT_MEMPOOL_MAX_BYTES,
            max_tx_bytes: DEFAULT_MAX_TX_BYTES,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_batch_calls: DEFAULT_MAX_BATCH_CALLS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscriptions_per_connection: DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION,
            subscriber_lag_blocks: DEFAULT_SUBSCRIBER_LAG_BLOCKS,
        }
    }
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    field: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<(), DevchainError> {
    if value < min || value > max {
        return Err(DevchainError::InvalidConfig {
            field,
            reason: format!("{value} is outside {min}..={max}"),
        });
    }
    Ok(())
}

impl NodeConfig {
    pub fn new(rpc_addr: SocketAddr, block_interval_ms: u64) -> Self {
        NodeConfig {
            rpc_addr,
            block_interval_ms,
            limits: Limits::default(),
        }
    }

    /// The node has no authentication: it only ever listens on loopback.
    pub fn validate(&self) -> Result<(), DevchainError> {
        if !self.rpc_addr.ip().is_loopback() {
            return Err(DevchainError::InvalidConfig {
                field: "rpc_addr",
                reason: format!(
                    "{} is not a loopback address; the node has no authentication, so use 127.0.0.1 or [::1]",
                    self.rpc_addr
                ),
            });
        }
        in_range(
            "block_interval_ms",
            self.block_interval_ms,
            MIN_BLOCK_INTERVAL_MS,
            MAX_BLOCK_INTERVAL_MS,
        )?;
        let l = &self.limits;
        in_range(
            "limits.max_txs_per_block",
            l.max_txs_per_block,
            1,
            MAX_TXS_PER_BLOCK_CEILING,
        )?;
        in_range(
            "limits.mempool_capacity",
            l.mempool_capacity,
            1,
            MEMPOOL_CAPACITY_CEILING,
        )?;
        in_range("limits.max_tx_bytes", l.max_tx_bytes, 256, 1024 * 1024)?;
        // A transaction of the largest size must fit in a block and in the mempool.
        in_range(
            "limits.max_block_bytes",
            l.max_block_bytes,
            l.max_tx_bytes,
            64 * 1024 * 1024,
        )?;
        in_range(
            "limits.mempool_max_bytes",
            l.mempool_max_bytes,
            l.max_tx_bytes,
            1024 * 1024 * 1024,
        )?;
        in_range(
            "limits.max_request_bytes",
            l.max_request_bytes,
            1024,
            64 * 1024 * 1024,
        )?;
        in_range("limits.max_batch_calls", l.max_batch_calls, 1, 10_000)?;
        in_range("limits.max_connections", l.max_connections, 1, 100_000)?;
        in_range(
            "limits.max_subscriptions_per_connection",
            l.max_subscriptions_per_connection,
            1,
            10_000,
        )?;
        in_range(
            "limits.subscriber_lag_blocks",
            l.subscriber_lag_blocks,
            1,
            1_000_000,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip_through_toml() {
        let config = NodeConfig::new("127.0.0.1:0".parse().unwrap(), DEFAULT_BLOCK_INTERVAL_MS);
        config.validate().unwrap();
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<NodeConfig>(&text).unwrap(), config);
        let minimal: NodeConfig = toml::from_str("rpc_addr = \"127.0.0.1:9\"").unwrap();
        assert_eq!(minimal.block_interval_ms, DEFAULT_BLOCK_INTERVAL_MS);
    }

    #[test]
    fn rejects_public_address_and_silly_interval_naming_the_field() {
        let public = NodeConfig::new("0.0.0.0:1".parse().unwrap(), 200);
        let err = public.validate().unwrap_err().to_string();
        assert!(
            err.contains("rpc_addr") && err.contains("loopback"),
            "{err}"
        );
        let fast = NodeConfig::new("127.0.0.1:1".parse().unwrap(), 1);
        let err = fast.validate().unwrap_err().to_string();
        assert!(err.contains("block_interval_ms"), "{err}");
    }

    // specs/devchain.md §12: the largest transaction must fit a block and the mempool.
    #[test]
    fn a_block_or_mempool_byte_bound_below_the_transaction_bound_is_refused() {
        let mut config = NodeConfig::new("127.0.0.1:1".parse().unwrap(), 200);
        config.limits.max_block_bytes = config.limits.max_tx_bytes - 1;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("limits.max_block_bytes"), "{err}");
        let mut config = NodeConfig::new("127.0.0.1:1".parse().unwrap(), 200);
        config.limits.mempool_max_bytes = 1024;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("limits.mempool_max_bytes"), "{err}");
    }
}
