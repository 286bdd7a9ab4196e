//! The chain adapter interface, and the adapters Causeway ships.
//!
//! A chain is reached only through [`ChainAdapter`]. The relay never sees a chain's wire
//! format; an adapter never sees swap or transfer state. `specs/adapter.md` is the contract
//! in prose; [`conformance`] checks it against a live chain.

mod action;
pub mod conformance;
pub mod devchain;
mod error;
pub mod evm;
mod http;
mod page;
pub mod protocol;
pub mod remote;
mod traits;

pub use action::{
    Action, Capabilities, PreparedTx, TxOutcome, TxState, DEFAULT_BATCH_SUBMISSION_BYTES,
};
pub use error::AdapterError;
pub use page::check_page;
pub use traits::{finalized_events, ChainAdapter, MAX_EVENT_PAGES};
