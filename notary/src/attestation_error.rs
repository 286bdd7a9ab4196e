use causeway_core::{ChainId, Hash32};

/// Why an attestation, transfer, proof or signature was refused. Each variant names the
/// field at fault; none of them is ever "probably fine".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("attestation field `{field}` is zero/empty; default values are never valid (set it explicitly)")]
    ZeroField { field: &'static str },
    #[error("attestation field `{field}` is {value}; the first valid value is 1")]
    NotPositive { field: &'static str, value: u64 },
    #[error("a batch must hold at least one transfer; do not attest an empty batch")]
    EmptyBatch,
    #[error(
        "batch of {count} transfers exceeds the limit of {max}; split it into several attestations"
    )]
    BatchTooLarge { count: usize, max: usize },
    #[error("transfer {index} appears twice in the batch; each transfer may be attested once")]
    DuplicateTransfer { index: usize },
    #[error(
        "transfer {index} is from chain {found} but the attestation's source chain is {expected}"
    )]
    TransferChainMismatch {
        index: usize,
        expected: ChainId,
        found: ChainId,
    },
    #[error("transfer {index}: field `{field}` is zero; a real transfer never has it")]
    TransferZeroField { index: usize, field: &'static str },
    #[error("source and destination chain are both {chain}; an attestation must cross chains")]
    SameChain { chain: ChainId },
    #[error("rotation's new epoch {new_epoch} must be exactly current epoch {key_epoch} + 1")]
    EpochNotNext { key_epoch: u64, new_epoch: u64 },
    #[error("rotation overlap of {overlap_ms} ms exceeds the limit of {max_ms} ms")]
    OverlapTooLong { overlap_ms: u64, max_ms: u64 },
    #[error("group key is unusable: {reason}")]
    InvalidGroupKey { reason: String },
    #[error("signature does not verify under the group key for epoch {key_epoch} (strict RFC 8032 check)")]
    BadSignature { key_epoch: u64 },
    #[error("attestation is for committee {found}, expected {expected}")]
    WrongCommittee { expected: Hash32, found: Hash32 },
    #[error(
        "attestation is signed for key epoch {found}, but the key given is for epoch {expected}"
    )]
    WrongEpoch { expected: u64, found: u64 },
    #[error("text field `{field}` is {len} bytes; allowed 1..={max}")]
    FieldLength {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("attestation bytes end inside field `{field}` at offset {offset}")]
    Truncated { field: &'static str, offset: usize },
    #[error("field `{field}` at offset {offset} is malformed: {reason}")]
    Malformed {
        field: &'static str,
        offset: usize,
        reason: String,
    },
    #[error("{extra} unexpected bytes after the attestation; the encoding is canonical")]
    TrailingBytes { extra: usize },
    #[error("attestation is {len} bytes, more than the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("proof names leaf {index} of a {leaf_count}-leaf batch")]
    LeafIndexOutOfRange { index: u64, leaf_count: u64 },
    #[error("proof for leaf {leaf_index} has the wrong number of siblings ({got})")]
    ProofLength { leaf_index: u32, got: usize },
    #[error("proof is for a {proof_count}-leaf batch but the attestation covers {attested_count}")]
    ProofCountMismatch {
        proof_count: u32,
        attested_count: u32,
    },
    #[error(
        "proof for leaf {leaf_index} leads to root {computed}, not the attested root {expected}"
    )]
    ProofMismatch {
        leaf_index: u32,
        computed: Hash32,
        expected: Hash32,
    },
}
