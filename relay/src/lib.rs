//! The Causeway relay: the daemon, its API, and the `causeway` command-line tool.
//!
//! This crate is the only place that joins the pure protocols (`htlc`, `notary`) to I/O:
//! chains through `adapters`, storage through sled, the network through jsonrpsee.

pub mod api;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod durable;
pub mod evm;
pub mod executor;
pub mod keystore;
pub mod launch;
pub mod logging;
pub mod notary;
pub mod store;
pub mod swaps;
