//! The pure transaction executor: state view and block time in, writes and events out.
//!
//! No I/O and no clock: the same view, block time and transaction always give the same
//! result, which is what lets the mempool predict a block and tests enumerate cases.

use std::collections::HashMap;

use causeway_core::{Address, Amount, AssetId, EventKind, Hash32, UnixMillis};

use crate::api::{AccountState, HtlcLock};
use crate::bridge::{self, BridgeState};
use crate::htlc;
use crate::mempool::MAX_NONCE_GAP;
use crate::state::{Changes, StateView};
use crate::tx::{public_key_of, Payload, Transaction};
use crate::tx_error::TxError;

/// What a transaction may know about the block executing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockContext {
    /// The block's time: every HTLC deadline is judged against it.
    pub time_ms: UnixMillis,
}

/// The result of executing one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    pub changes: Changes,
    pub events: Vec<EventKind>,
}

impl Effects {
    /// A transaction that failed at execution still uses its sender's nonce, and does nothing else.
    pub fn nonce_only(view: &impl StateView, sender: &Address) -> Effects {
        let mut scratch = Scratch::new(view);
        scratch.bump_nonce(sender);
        Effects {
            changes: scratch.into_changes(),
            events: Vec::new(),
        }
    }
}

/// Executes `tx` (whose signature the caller has checked) against `view` at `ctx`.
pub fn execute(
    view: &impl StateView,
    ctx: &BlockContext,
    tx: &Transaction,
) -> Result<Effects, TxError> {
    if &tx.chain_id != view.chain_id() {
        return Err(TxError::WrongChain {
            expected: view.chain_id().clone(),
            found: tx.chain_id.clone(),
        });
    }
    let expected = view.account(&tx.from).map_or(0, |a| a.nonce);
    if tx.nonce < expected {
        return Err(TxError::NonceTooLow {
            sender: tx.from.clone(),
            got: tx.nonce,
            expected,
        });
    }
    if tx.nonce > expected {
        return Err(TxError::NonceTooHigh {
            sender: tx.from.clone(),
            got: tx.nonce,
            expected,
            max_gap: MAX_NONCE_GAP,
        });
    }
    let mut scratch = Scratch::new(view);
    scratch.bump_nonce(&tx.from);
    let event = match &tx.payload {
        Payload::Transfer { to, asset, amount } => {
            transfer(&mut scratch, &tx.from, to, asset, *amount)?
        }
        Payload::HtlcLock {
            recipient,
            asset,
            amount,
            hashlock,
            expiry_ms,
        } => htlc::lock(
            &mut scratch,
            ctx,
            htlc::LockTerms {
                sender: &tx.from,
                recipient,
                asset,
                amount: *amount,
                hashlock,
                expiry_ms: *expiry_ms,
            },
        )?,
        Payload::HtlcClaim { lock_id, preimage } => {
            htlc::claim(&mut scratch, ctx, lock_id, preimage)?
        }
        Payload::HtlcRefund { lock_id } => htlc::refund(&mut scratch, ctx, lock_id)?,
        Payload::BridgeSend {
            dest_chain,
            recipient,
            asset,
            amount,
        } => bridge::send(
            &mut scratch,
            &tx.from,
            dest_chain,
            recipient,
            asset,
            *amount,
        )?,
        Payload::BridgeSubmitAttestation {
            attestation,
            signature,
        } => bridge::submit_attestation(&mut scratch, ctx, attestation, signature)?,
        Payload::BridgeExecute { transfer, proof } => {
            bridge::execute(&mut scratch, transfer, proof)?
        }
        Payload::BridgeSubmitBatch {
            attestation,
            signature,
            transfers,
        } => {
            let events =
                bridge::submit_batch(&mut scratch, ctx, attestation, signature, transfers)?;
            return Ok(Effects {
                changes: scratch.into_changes(),
                events,
            });
        }
    };
    Ok(Effects {
        changes: scratch.into_changes(),
        events: vec![event],
    })
}

fn transfer(
    scratch: &mut Scratch<'_, impl StateView>,
    from: &Address,
    to: &Address,
    asset: &AssetId,
    amount: Amount,
) -> Result<EventKind, TxError> {
    require_known_asset(scratch.view, asset)?;
    require_positive(amount, "amount")?;
    require_address(to, "to")?;
    scratch.debit(from, asset, amount)?;
    scratch.credit(to, asset, amount)?;
    Ok(EventKind::Transfer {
        from: from.clone(),
        to: to.clone(),
        asset: asset.clone(),
        amount,
    })
}

pub(crate) fn require_known_asset(view: &impl StateView, asset: &AssetId) -> Result<(), TxError> {
    if view.is_known_asset(asset) {
        Ok(())
    } else {
        Err(TxError::UnknownAsset {
            asset: asset.clone(),
            known: view.assets().iter().cloned().collect(),
        })
    }
}

pub(crate) fn require_positive(amount: Amount, field: &'static str) -> Result<(), TxError> {
    if amount.is_zero() {
        Err(TxError::InvalidAmount { field })
    } else {
        Ok(())
    }
}

/// Funds sent to anything but a public key could never be spent again.
pub(crate) fn require_address(address: &Address, field: &'static str) -> Result<(), TxError> {
    match public_key_of(address) {
        Some(_) => Ok(()),
        None => Err(TxError::InvalidAddress {
            field,
            value: address.to_string(),
        }),
    }
}

/// Copy-on-write writes over a view, for the duration of one transaction.
pub(crate) struct Scratch<'v, V: StateView> {
    pub(crate) view: &'v V,
    accounts: HashMap<Address, AccountState>,
    htlcs: HashMap<Hash32, HtlcLock>,
    bridge: Option<BridgeState>,
}

impl<'v, V: StateView> Scratch<'v, V> {
    pub(crate) fn new(view: &'v V) -> Self {
        Scratch {
            view,
            accounts: HashMap::new(),
            htlcs: HashMap::new(),
            bridge: None,
        }
    }

    fn account_mut(&mut self, address: &Address) -> &mut AccountState {
        let view = self.view;
        self.accounts
            .entry(address.clone())
            .or_insert_with(|| view.account(address).cloned().unwrap_or_default())
    }

    fn bump_nonce(&mut self, address: &Address) {
        let account = self.account_mut(address);
        account.nonce = account.nonce.saturating_add(1);
    }

    pub(crate) fn debit(
        &mut self,
        address: &Address,
        asset: &AssetId,
        amount: Amount,
    ) -> Result<(), TxError> {
        let account = self.account_mut(address);
        let available = account.balances.get(asset).copied().unwrap_or_default();
        let left = available
            .checked_sub(amount)
            .ok_or_else(|| TxError::InsufficientBalance {
                account: address.clone(),
                asset: asset.clone(),
                available,
                needed: amount,
            })?;
        if left.is_zero() {
            account.balances.remove(asset);
        } else {
            account.balances.insert(asset.clone(), left);
        }
        Ok(())
    }

    pub(crate) fn credit(
        &mut self,
        address: &Address,
        asset: &AssetId,
        amount: Amount,
    ) -> Result<(), TxError> {
        let account = self.account_mut(address);
        let balance = account.balances.entry(asset.clone()).or_default();
        *balance = balance
            .checked_add(amount)
            .ok_or_else(|| TxError::BalanceOverflow {
                account: address.clone(),
                asset: asset.clone(),
                amount,
            })?;
        Ok(())
    }

    pub(crate) fn htlc(&self, lock_id: &Hash32) -> Option<&HtlcLock> {
        self.htlcs.get(lock_id).or_else(|| self.view.htlc(lock_id))
    }

    pub(crate) fn put_htlc(&mut self, lock: HtlcLock) {
        self.htlcs.insert(lock.lock_id, lock);
    }

    /// A copy of the bridge state to modify; refuses everything when none is configured.
    pub(crate) fn bridge(&self) -> Result<BridgeState, TxError> {
        self.bridge
            .as_ref()
            .or_else(|| self.view.bridge())
            .cloned()
            .ok_or(TxError::BridgeNotConfigured)
    }

    pub(crate) fn put_bridge(&mut self, bridge: BridgeState) {
        self.bridge = Some(bridge);
    }

    fn into_changes(self) -> Changes {
        Changes {
            accounts: self.accounts,
            htlcs: self.htlcs,
            bridge: self.bridge,
        }
    }
}
