//! devchain: Causeway's embedded consortium ledger.
//!
//! A real, small permissioned ledger: Ed25519 accounts, per-asset balances, signed
//! transactions with per-account nonces, blocks signed by a validator and final once
//! committed, state persisted in sled, and a JSON-RPC API over HTTP and WebSocket.
//! `specs/devchain.md` describes it; [`api`] is its wire interface.

pub mod api;
pub mod block;
pub mod bridge;
mod clock;
pub mod config;
mod error;
pub mod executor;
pub mod genesis;
mod htlc;
pub mod mempool;
pub mod node;
mod rpc;
mod shared;
pub mod state;
pub mod storage;
pub mod tx;
mod tx_error;
pub mod verifier;

#[cfg(test)]
mod executor_tests;
#[cfg(test)]
mod test_support;

pub use bridge::{BridgeConfig, BridgeRoute, BridgeState, WrappedAsset};
pub use error::DevchainError;
pub use genesis::{init_home, Genesis, GenesisAccount, InitOptions};
pub use htlc::{htlc_lock_id, MAX_LOCK_DURATION_MS};
pub use node::{Node, NodeOverrides};
pub use tx_error::TxError;
