use frost_ed25519::Identifier;

use crate::dkg::messages::EquivocationProof;
use crate::transport::member_label;

/// Why a key-generation ceremony was aborted. Every variant names the member at fault;
/// the ceremony must be restarted (with a new ceremony id) without it or after fixing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DkgError {
    #[error("invalid DKG setup: {reason}")]
    InvalidSetup { reason: String },
    #[error("member {} is not a participant of this ceremony", member_label(.member))]
    UnknownMember { member: Identifier },
    #[error("member {} equivocated: it signed two different round-1 packages (proof attached); exclude it", member_label(&.proof.member))]
    Equivocation { proof: Box<EquivocationProof> },
    #[error("member {}'s {what} signature does not verify under its identity key", member_label(.member))]
    BadSignature {
        member: Identifier,
        what: &'static str,
    },
    #[error("member {}'s echo is malformed or carries a forged entry for {}", member_label(.from), member_label(.about))]
    BadEcho { from: Identifier, about: Identifier },
    #[error("member {} sent a second, different {what}", member_label(.member))]
    ConflictingMessage {
        member: Identifier,
        what: &'static str,
    },
    #[error("member {} sent {what} out of turn", member_label(.member))]
    OutOfTurn {
        member: Identifier,
        what: &'static str,
    },
    #[error("member {} confirmed a different transcript or group key; the views diverged", member_label(.member))]
    TranscriptMismatch { member: Identifier },
    #[error("FROST rejected member {}'s contribution: {reason}", .culprit.as_ref().map(member_label).unwrap_or_else(|| "(unknown)".into()))]
    Frost {
        culprit: Option<Identifier>,
        reason: String,
    },
}
