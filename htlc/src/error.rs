use causeway_core::ChainId;

use crate::offer::LegId;
use crate::plan::Stage;

/// Why an offer string or offer could not be used. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("offer is {len} characters long, more than the {max} allowed; ask the initiator for a fresh offer")]
    TooLong { len: usize, max: usize },
    #[error("offer must start with {expected:?}, but starts with {found:?}; paste the whole offer string")]
    BadPrefix {
        expected: &'static str,
        found: String,
    },
    #[error("offer is not valid base64url after its prefix ({reason}); it was probably cut or altered when pasted")]
    BadEncoding { reason: String },
    #[error("offer is too short ({len} bytes) to hold a signature and terms; paste the whole offer string")]
    TooShort { len: usize },
    #[error("offer signature does not verify against the initiator key {key}; the offer was altered or not signed by that key — do not accept it")]
    BadSignature { key: String },
    #[error("initiator identity key is invalid: {reason}")]
    BadIdentityKey { reason: String },
    #[error("signing key does not match the offer's initiator_key {offer_key}; sign with the identity key named in the offer")]
    KeyMismatch { offer_key: String },
    #[error("offer version {found} is not supported (this build reads version {supported}); upgrade causeway or ask for a version-{supported} offer", supported = crate::offer::OFFER_VERSION)]
    UnsupportedVersion { found: String },
    #[error("offer hash algorithm {found} is not supported: every chain in a swap must hash the 32 raw preimage bytes with sha256")]
    UnsupportedHash { found: String },
    #[error("offer preimage length {found} is not supported: preimages are exactly 32 bytes")]
    UnsupportedPreimageLength { found: String },
    #[error("offer terms are not valid JSON for this version: {reason}")]
    BadTerms { reason: String },
    #[error("offer terms are not in canonical form (fields, order or number format differ); ask the initiator to re-create the offer")]
    NotCanonical,
    #[error("swap id {value:?} is invalid: use 1-64 characters from [a-z0-9-]")]
    BadSwapId { value: String },
    #[error("offer hashlock is all zeros; generate a real secret and derive its sha256")]
    ZeroHashlock,
    #[error("both legs are on chain {chain}; an HTLC swap needs two different chains")]
    SameChain { chain: ChainId },
    #[error("{leg} on chain {chain} moves zero; amounts must be at least 1 base unit")]
    ZeroAmount { leg: LegId, chain: ChainId },
    #[error("{leg} on chain {chain} pays its own sender; sender and recipient must differ")]
    SelfPayment { leg: LegId, chain: ChainId },
}

/// Why a swap's deadlines are unsafe for the chains and policy involved. Messages carry
/// the numbers and the formula so an operator can fix the plan (specs/htlc.md §4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("chain {chain}: {reason}")]
    InvalidChainParams { chain: ChainId, reason: String },
    #[error("safety policy {field} = {value_ms} ms is invalid: {reason}")]
    InvalidPolicy {
        field: &'static str,
        value_ms: u64,
        reason: String,
    },
    #[error(
        "chain parameters for {leg} are for chain {got}, but the offer puts {leg} on {expected}"
    )]
    WrongChain {
        leg: LegId,
        expected: ChainId,
        got: ChainId,
    },
    #[error("safety margin T1 - T2 = {margin} is below the required {required} = {breakdown}; move leg A's expiry later or leg B's earlier", margin = crate::plan::secs_signed(*margin_ms), required = crate::plan::secs(*required_ms))]
    MarginTooSmall {
        margin_ms: i128,
        required_ms: u64,
        breakdown: String,
    },
    #[error("claim room T2 - accept_by = {room} is below the required {required} = {breakdown}; move leg B's expiry later or the accept deadline earlier", room = crate::plan::secs_signed(*room_ms), required = crate::plan::secs(*required_ms))]
    ClaimRoomTooSmall {
        room_ms: i128,
        required_ms: u64,
        breakdown: String,
    },
    #[error("at {stage}, accept_by - chain {chain} time = {left} is below the required {required} = {breakdown}; {advice}", left = crate::plan::secs_signed(*left_ms), required = crate::plan::secs(*required_ms), advice = stage.advice())]
    AcceptRoomTooSmall {
        stage: Stage,
        chain: ChainId,
        left_ms: i128,
        required_ms: u64,
        breakdown: String,
    },
    #[error("chain {chain_a} time {a_ms} and chain {chain_b} time {b_ms} differ by more than the allowed {allowed} (clock skew + the slower finality); fix the chains' clocks or raise clock_skew_ms", allowed = crate::plan::secs(*allowed_ms))]
    ClockSkew {
        chain_a: ChainId,
        a_ms: u64,
        chain_b: ChainId,
        b_ms: u64,
        allowed_ms: u64,
    },
    #[error("{leg} on chain {chain} would stay locked for {duration} from now, more than the {max} allowed; shorten the swap", duration = crate::plan::secs_signed(*duration_ms), max = crate::plan::secs(*max_ms))]
    LockTooLong {
        leg: LegId,
        chain: ChainId,
        duration_ms: i128,
        max_ms: u64,
    },
}

/// Why a swap machine could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Offer(#[from] OfferError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the secret does not hash to the offer's hashlock {hashlock}; use the secret the offer was made from")]
    SecretMismatch { hashlock: String },
    #[error("stored progress of swap {swap_id} is for chains {found_a} and {found_b}, but its offer is for {offer_a} and {offer_b}; the store mixed two swaps up — restore the data_dir from a backup")]
    ProgressMismatch {
        swap_id: String,
        found_a: ChainId,
        found_b: ChainId,
        offer_a: ChainId,
        offer_b: ChainId,
    },
}
