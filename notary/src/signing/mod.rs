//! Threshold signing sessions as a sans-I/O state machine (specs/notary.md §4–§6).
//!
//! One [`SigningNode`] per member runs every session that member takes part in, as signer
//! and, when its turn comes, as coordinator.

mod coordinator;
mod messages;
mod node;
mod nonces;
mod pool;
mod schedule;

pub use messages::{
    Refusal, RoundId, SessionFailure, SessionId, SignatureBytes, SigningMessage, SigningOutput,
};
pub use node::{
    session_id, RoundCounts, SigningError, SigningNode, MAX_ATTEMPTS, MAX_BUFFERED_MESSAGES,
    MAX_OPEN_SESSIONS, MAX_ROUNDS_PER_ATTEMPT, SUGGESTED_ATTEMPT_TIMEOUT_MS,
};
pub use nonces::{NonceRecord, NonceState, MAX_NONCE_RECORDS};
pub use pool::{POOL_TARGET, SIGNER_POOL_LIMIT};
pub use schedule::{coordinator_for, coordinator_order};

#[cfg(test)]
mod pool_tests;
#[cfg(test)]
pub(crate) mod tests;
