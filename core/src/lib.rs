//! The vocabulary every Causeway crate shares.
//!
//! This crate never does I/O and never depends on an async runtime: it is plain data with
//! validation, so that the protocol crates (`htlc`, `notary`) stay pure.

mod amount;
mod event;
mod hash;
mod ids;

pub use amount::Amount;
pub use event::{ChainEvent, ChainInfo, Cursor, EventKind, EventPage, FinalityRule, Position};
pub use hash::{sha256, Hash32};
pub use ids::{Address, AssetId, ChainId, IdError};

/// Milliseconds since the Unix epoch, as stamped by a chain on its blocks.
///
/// Deadlines are always judged by a chain's own block time, never by a local clock.
pub type UnixMillis = u64;
