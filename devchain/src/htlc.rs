//! The HTLC module: lock funds under a SHA-256 hashlock until a block-time deadline.
//!
//! Semantics and the lock id encoding are specified in `specs/devchain.md` §7.

use causeway_core::{sha256, Address, Amount, AssetId, ChainId, EventKind, Hash32, UnixMillis};

use crate::api::{HtlcLock, HtlcState};
use crate::executor::{
    require_address, require_known_asset, require_positive, BlockContext, Scratch,
};
use crate::state::StateView;
use crate::tx_error::TxError;

/// Domain separation: a lock id can never collide with any other hash on any chain.
const LOCK_ID_DOMAIN: &[u8] = b"causeway-devchain/htlc-lock-id/v1\0";

/// Longest a lock may run. Catches deadlines given in microseconds or seconds-as-millis
/// by mistake, which would otherwise freeze funds for centuries.
pub const MAX_LOCK_DURATION_MS: u64 = 366 * 24 * 60 * 60 * 1000;

/// The id of a lock: SHA-256 over the domain tag, then each text field as a 4-byte
/// big-endian length and its UTF-8 bytes, the amount as 16 bytes big-endian, the hashlock's
/// 32 bytes and the expiry as 8 bytes big-endian (`specs/devchain.md` §7.1).
pub fn htlc_lock_id(
    chain_id: &ChainId,
    sender: &Address,
    recipient: &Address,
    asset: &AssetId,
    amount: Amount,
    hashlock: &Hash32,
    expiry_ms: UnixMillis,
) -> Hash32 {
    let mut bytes = LOCK_ID_DOMAIN.to_vec();
    for text in [
        chain_id.as_str(),
        sender.as_str(),
        recipient.as_str(),
        asset.as_str(),
    ] {
        // Every id type is at most 128 bytes, so the length always fits.
        bytes.extend((text.len() as u32).to_be_bytes());
        bytes.extend(text.as_bytes());
    }
    bytes.extend(amount.0.to_be_bytes());
    bytes.extend(hashlock.as_bytes());
    bytes.extend(expiry_ms.to_be_bytes());
    sha256(&bytes)
}

pub(crate) struct LockTerms<'a> {
    pub sender: &'a Address,
    pub recipient: &'a Address,
    pub asset: &'a AssetId,
    pub amount: Amount,
    pub hashlock: &'a Hash32,
    pub expiry_ms: UnixMillis,
}

fn invalid_terms(reason: String) -> TxError {
    TxError::HtlcInvalidTerms { reason }
}

pub(crate) fn lock(
    scratch: &mut Scratch<'_, impl StateView>,
    ctx: &BlockContext,
    terms: LockTerms<'_>,
) -> Result<EventKind, TxError> {
    require_known_asset(scratch.view, terms.asset)?;
    require_positive(terms.amount, "amount")?;
    require_address(terms.recipient, "recipient")?;
    if terms.hashlock.is_zero() {
        return Err(invalid_terms(
            "hashlock is all zeros; use the SHA-256 of a secret 32-byte preimage".into(),
        ));
    }
    if terms.expiry_ms <= ctx.time_ms {
        return Err(invalid_terms(format!(
            "expiry_ms {} is not after chain time {}; choose a deadline in the future (milliseconds since the Unix epoch)",
            terms.expiry_ms, ctx.time_ms
        )));
    }
    if terms.expiry_ms - ctx.time_ms > MAX_LOCK_DURATION_MS {
        return Err(invalid_terms(format!(
            "expiry_ms {} is more than {MAX_LOCK_DURATION_MS} ms after chain time {}; is it in milliseconds?",
            terms.expiry_ms, ctx.time_ms
        )));
    }
    let lock_id = htlc_lock_id(
        scratch.view.chain_id(),
        terms.sender,
        terms.recipient,
        terms.asset,
        terms.amount,
        terms.hashlock,
        terms.expiry_ms,
    );
    if scratch.htlc(&lock_id).is_some() {
        return Err(TxError::HtlcDuplicate { lock_id });
    }
    scratch.debit(terms.sender, terms.asset, terms.amount)?;
    let lock = HtlcLock {
        lock_id,
        sender: terms.sender.clone(),
        recipient: terms.recipient.clone(),
        asset: terms.asset.clone(),
        amount: terms.amount,
        hashlock: *terms.hashlock,
        expiry_ms: terms.expiry_ms,
        state: HtlcState::Locked,
    };
    let event = EventKind::HtlcLocked {
        lock_id,
        sender: lock.sender.clone(),
        recipient: lock.recipient.clone(),
        asset: lock.asset.clone(),
        amount: lock.amount,
        hashlock: lock.hashlock,
        expiry_ms: lock.expiry_ms,
    };
    scratch.put_htlc(lock);
    Ok(event)
}

/// The lock, if it exists and is still open.
fn open_lock(scratch: &Scratch<'_, impl StateView>, lock_id: &Hash32) -> Result<HtlcLock, TxError> {
    let lock = scratch
        .htlc(lock_id)
        .ok_or(TxError::HtlcNotFound { lock_id: *lock_id })?;
    match lock.state {
        HtlcState::Locked => Ok(lock.clone()),
        HtlcState::Claimed { .. } => Err(TxError::HtlcAlreadySettled {
            lock_id: *lock_id,
            state: "claimed",
        }),
        HtlcState::Refunded => Err(TxError::HtlcAlreadySettled {
            lock_id: *lock_id,
            state: "refunded",
        }),
    }
}

pub(crate) fn claim(
    scratch: &mut Scratch<'_, impl StateView>,
    ctx: &BlockContext,
    lock_id: &Hash32,
    preimage: &Hash32,
) -> Result<EventKind, TxError> {
    let mut lock = open_lock(scratch, lock_id)?;
    if ctx.time_ms >= lock.expiry_ms {
        return Err(TxError::HtlcExpired {
            lock_id: *lock_id,
            expiry_ms: lock.expiry_ms,
            now_ms: ctx.time_ms,
        });
    }
    let preimage_hash = sha256(preimage.as_bytes());
    if preimage_hash != lock.hashlock {
        return Err(TxError::WrongPreimage {
            lock_id: *lock_id,
            hashlock: lock.hashlock,
            preimage_hash,
        });
    }
    scratch.credit(&lock.recipient, &lock.asset, lock.amount)?;
    lock.state = HtlcState::Claimed {
        preimage: *preimage,
    };
    let event = EventKind::HtlcClaimed {
        lock_id: *lock_id,
        hashlock: lock.hashlock,
        preimage: *preimage,
        recipient: lock.recipient.clone(),
    };
    scratch.put_htlc(lock);
    Ok(event)
}

pub(crate) fn refund(
    scratch: &mut Scratch<'_, impl StateView>,
    ctx: &BlockContext,
    lock_id: &Hash32,
) -> Result<EventKind, TxError> {
    let mut lock = open_lock(scratch, lock_id)?;
    if ctx.time_ms < lock.expiry_ms {
        return Err(TxError::HtlcNotExpired {
            lock_id: *lock_id,
            expiry_ms: lock.expiry_ms,
            now_ms: ctx.time_ms,
        });
    }
    scratch.credit(&lock.sender, &lock.asset, lock.amount)?;
    lock.state = HtlcState::Refunded;
    let event = EventKind::HtlcRefunded {
        lock_id: *lock_id,
        hashlock: lock.hashlock,
        sender: lock.sender.clone(),
    };
    scratch.put_htlc(lock);
    Ok(event)
}
