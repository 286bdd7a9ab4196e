//! Signing-session messages, outputs and refusal reasons (specs/notary.md §4.1).

use causeway_core::Hash32;
use frost_ed25519::round1::SigningCommitments;
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::{Identifier, SigningPackage};
use serde::{Deserialize, Serialize};

use crate::signing::nonces::NonceRecord;
use crate::transport::Envelope;

/// `SHA-256("CAUSEWAY-NOTARY-SESSION-V1" || attestation bytes)`: one session per message.
pub type SessionId = Hash32;

/// One round of one attempt: the unit a signer's nonces are bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RoundId {
    pub session: SessionId,
    /// Selects the coordinator; advances on timeout.
    pub attempt: u32,
    /// Advances within an attempt when the coordinator excludes a cheater.
    pub round: u32,
}

/// A 64-byte Ed25519 signature (`R || S`), hex in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureBytes(#[serde(with = "hex::serde")] pub [u8; 64]);

impl std::fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignatureBytes({})", hex::encode(self.0))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SigningMessage {
    /// Coordinator → everyone: send me a fresh commitment for this round.
    CommitRequest { round: RoundId },
    /// Signer → coordinator.
    Commitment {
        round: RoundId,
        commitments: Box<SigningCommitments>,
    },
    /// Coordinator → each chosen signer: the t commitments and the message.
    SignRequest {
        round: RoundId,
        package: SigningPackage,
    },
    /// Signer → coordinator.
    Share {
        round: RoundId,
        share: SignatureShare,
    },
    /// Coordinator → everyone: the verified group signature.
    Result {
        session: SessionId,
        signature: SignatureBytes,
    },
    /// Signer → one coordinator: commitments to nonces kept for that coordinator's sign
    /// requests only (§5.1). `restarted`: the signer lost every nonce behind commitments it
    /// gave before, so they are void.
    Pool {
        restarted: bool,
        commitments: Vec<SigningCommitments>,
    },
    /// Coordinator → signer: send me `want` more pooled commitments.
    PoolRequest { want: u16 },
}

impl SigningMessage {
    /// The session the message belongs to; pool messages belong to none.
    pub fn session(&self) -> Option<SessionId> {
        match self {
            SigningMessage::CommitRequest { round }
            | SigningMessage::Commitment { round, .. }
            | SigningMessage::SignRequest { round, .. }
            | SigningMessage::Share { round, .. } => Some(round.session),
            SigningMessage::Result { session, .. } => Some(*session),
            SigningMessage::Pool { .. } | SigningMessage::PoolRequest { .. } => None,
        }
    }
}

/// What the daemon must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigningOutput {
    Send(Envelope<SigningMessage>),
    /// Store `record` durably (replacing any record with the same key) and only **then**
    /// send `envelope`. A crash in between is safe; sending first is not.
    PersistNonceThenSend {
        record: Box<NonceRecord>,
        envelope: Envelope<SigningMessage>,
    },
    /// An attempt began: (re)arm this session's attempt timer.
    AttemptStarted {
        session: SessionId,
        attempt: u32,
        coordinator: Identifier,
    },
    /// A peer's message was not acted on; log it (and count it per peer). `session` is
    /// `None` for pool messages.
    Refused {
        session: Option<SessionId>,
        from: Identifier,
        reason: Refusal,
    },
    /// `culprit` sent an invalid signature share; it is excluded from this session.
    CheaterDetected {
        round: RoundId,
        culprit: Identifier,
        reason: String,
    },
    /// The session is over: the daemon may delete its nonce records.
    Completed {
        session: SessionId,
        message: Vec<u8>,
        signature: SignatureBytes,
    },
    Failed {
        session: SessionId,
        reason: SessionFailure,
    },
}

/// Why a peer's message was not acted on. None of these changes the session's state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{claimed} is not the coordinator of attempt {attempt} (that is {expected})")]
    NotCoordinator {
        claimed: String,
        expected: String,
        attempt: u32,
    },
    #[error("attempt {attempt} is older than the current attempt {current}")]
    StaleAttempt { attempt: u32, current: u32 },
    #[error("attempt {attempt} or round {round} exceeds the session's bound")]
    BeyondBounds { attempt: u32, round: u32 },
    #[error(
        "no commitment of ours exists for attempt {attempt} round {round}; nothing to sign with"
    )]
    NoNonceForRound { attempt: u32, round: u32 },
    #[error("our nonces for attempt {attempt} round {round} already signed a different package; refusing to reuse them")]
    NonceAlreadyUsed { attempt: u32, round: u32 },
    #[error("the package's message is not the attestation this session was started with")]
    DifferentMessage,
    #[error("the package's commitment for us is not the one we sent")]
    CommitmentMismatch,
    #[error("the package has {got} signers; at least {threshold} are required")]
    TooFewSigners { got: usize, threshold: u16 },
    #[error("member {member} is not in this committee")]
    UnknownMember { member: String },
    #[error("member {member} is excluded from this session as a cheater")]
    Excluded { member: String },
    #[error("the message is for a round this node is not coordinating")]
    NotCoordinating,
    #[error(
        "the message is for a session this daemon has not vouched for, and the buffer is full"
    )]
    NotVouched,
    #[error("the claimed group signature does not verify")]
    InvalidResult,
    #[error("the package's commitment for us is not one we pooled for this coordinator (used already, or made before we restarted)")]
    UnknownPooledCommitment,
    #[error("a pool message carries {got} commitments; at most {max} are allowed")]
    PoolTooLarge { got: usize, max: usize },
    #[error("FROST rejected the input: {reason}")]
    Frost { reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionFailure {
    #[error("gave up after {attempts} attempts; start a new session once peers are reachable")]
    AttemptsExhausted { attempts: u32 },
    #[error("only {honest} members are not excluded but {threshold} are needed")]
    TooFewHonest { honest: usize, threshold: u16 },
}
