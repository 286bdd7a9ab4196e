//! The bridge module: vault-lock or burn on send, and committee-attested mint or release on
//! receipt (`specs/devchain.md` §13; the EVM twin is `contracts/src/CausewayBridge.sol`).
//!
//! Wormhole lesson: every field acted on is covered by the signature checked against the key
//! of the *current* epoch. Nomad lesson: nothing zero, empty or unconfigured is ever valid.

use std::collections::BTreeMap;

use causeway_core::{Address, Amount, AssetId, ChainId, EventKind, Hash32};
use causeway_notary::{
    verify_for_committee, verify_transfer, Attestation, AttestationError, CommitteeKey, GroupKey,
    KeyRotation, MerkleProof, PauseControl, Transfer, TransferAttestation,
};
use serde::{Deserialize, Serialize};

use crate::executor::{
    require_address, require_known_asset, require_positive, BlockContext, Scratch,
};
use crate::state::StateView;
use crate::tx_error::TxError;

use causeway_notary::attestation::MAX_ATTESTATION_BYTES;

/// Bound on routes and wrapped assets in a genesis bridge config.
pub const MAX_BRIDGE_ROUTES: usize = 256;

/// Where an asset of this chain may be sent, and what it becomes there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeRoute {
    pub asset: AssetId,
    pub dest_chain: ChainId,
    pub dest_asset: AssetId,
}

/// An asset minted here that represents `origin_asset` locked on `origin_chain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedAsset {
    pub asset: AssetId,
    pub origin_chain: ChainId,
    pub origin_asset: AssetId,
}

/// The bridge's genesis configuration (`causeway devchain init --bridge FILE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    pub committee_id: Hash32,
    /// The committee's FROST (Ed25519) group key, 64 hex digits.
    pub group_key: GroupKey,
    pub key_epoch: u64,
    pub routes: Vec<BridgeRoute>,
    #[serde(default)]
    pub wrapped: Vec<WrappedAsset>,
}

impl BridgeConfig {
    /// Refuses every default or empty value (Nomad), naming the field.
    pub fn validate(&self, this_chain: &ChainId) -> Result<(), String> {
        if self.committee_id.is_zero() {
            return Err(
                "bridge.committee_id is all zeros; use the committee id from the DKG".into(),
            );
        }
        self.group_key
            .check()
            .map_err(|e| format!("bridge.group_key: {e}"))?;
        if self.key_epoch == 0 {
            return Err("bridge.key_epoch is 0; epochs start at 1".into());
        }
        if self.routes.is_empty() {
            return Err("bridge.routes is empty; add at least one route".into());
        }
        if self.routes.len() + self.wrapped.len() > MAX_BRIDGE_ROUTES {
            return Err(format!(
                "bridge has more than {MAX_BRIDGE_ROUTES} routes and wrapped assets"
            ));
        }
        let remote = self
            .routes
            .iter()
            .map(|r| &r.dest_chain)
            .chain(self.wrapped.iter().map(|w| &w.origin_chain));
        if let Some(chain) = remote.into_iter().find(|c| *c == this_chain) {
            return Err(format!("bridge route names this chain {chain} as remote"));
        }
        Ok(())
    }

    fn route(&self, asset: &AssetId, dest_chain: &ChainId) -> Option<&BridgeRoute> {
        self.routes
            .iter()
            .find(|r| &r.asset == asset && &r.dest_chain == dest_chain)
    }

    fn wrapped(&self, asset: &AssetId) -> Option<&WrappedAsset> {
        self.wrapped.iter().find(|w| &w.asset == asset)
    }

    fn is_known_source(&self, chain: &ChainId) -> bool {
        self.routes.iter().any(|r| &r.dest_chain == chain)
            || self.wrapped.iter().any(|w| &w.origin_chain == chain)
    }
}

/// The bridge's ledger state (what `devchain_getBridge` returns).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeState {
    pub config: BridgeConfig,
    pub key_epoch: u64,
    pub group_key: GroupKey,
    /// Last accepted batch sequence per source chain; the next must be exactly one more.
    pub last_sequence: BTreeMap<ChainId, u64>,
    pub last_control_sequence: u64,
    pub paused: bool,
    /// Accepted batches by Merkle root. Persistent (structurally shared) collections: every
    /// bridge transaction works on a copy of the state, and these two grow with the bridge's
    /// whole history, so a `BTreeMap` copy made each transaction cost O(history).
    pub batches: imbl::OrdMap<Hash32, TransferAttestation>,
    /// Leaf hashes of transfers already paid out.
    pub executed: imbl::OrdSet<Hash32>,
    /// Native assets held for other chains.
    pub vault: BTreeMap<AssetId, Amount>,
    /// Wrapped assets in circulation here.
    pub wrapped_supply: BTreeMap<AssetId, Amount>,
}

impl BridgeState {
    pub fn new(config: BridgeConfig) -> Self {
        BridgeState {
            key_epoch: config.key_epoch,
            group_key: config.group_key,
            config,
            last_sequence: BTreeMap::new(),
            last_control_sequence: 0,
            paused: false,
            batches: imbl::OrdMap::new(),
            executed: imbl::OrdSet::new(),
            vault: BTreeMap::new(),
            wrapped_supply: BTreeMap::new(),
        }
    }

    fn committee_key(&self) -> CommitteeKey {
        CommitteeKey {
            committee_id: self.config.committee_id,
            epoch: self.key_epoch,
            group_key: self.group_key,
        }
    }

    fn require_running(&self) -> Result<(), TxError> {
        if self.paused {
            Err(TxError::BridgePaused {
                control_sequence: self.last_control_sequence,
            })
        } else {
            Ok(())
        }
    }
}

fn add(
    map: &mut BTreeMap<AssetId, Amount>,
    asset: &AssetId,
    amount: Amount,
) -> Result<(), TxError> {
    let slot = map.entry(asset.clone()).or_default();
    *slot = slot
        .checked_add(amount)
        .ok_or_else(|| TxError::BridgeInvalid {
            reason: format!("bridge total of {asset} would overflow"),
        })?;
    Ok(())
}

fn sub(
    map: &mut BTreeMap<AssetId, Amount>,
    asset: &AssetId,
    amount: Amount,
    what: &str,
) -> Result<(), TxError> {
    let slot = map.entry(asset.clone()).or_default();
    let held = *slot;
    *slot = held
        .checked_sub(amount)
        .ok_or_else(|| TxError::BridgeInvalid {
            reason: format!("{what} holds {held} {asset}, less than {amount}"),
        })?;
    Ok(())
}

/// `BridgeSend`: lock a native asset in the vault, or burn a wrapped one.
pub(crate) fn send(
    scratch: &mut Scratch<'_, impl StateView>,
    sender: &Address,
    dest_chain: &ChainId,
    recipient: &Address,
    asset: &AssetId,
    amount: Amount,
) -> Result<EventKind, TxError> {
    require_known_asset(scratch.view, asset)?;
    require_positive(amount, "amount")?;
    if recipient.as_str().is_empty() {
        return Err(TxError::BridgeEmptyValue { field: "recipient" });
    }
    let mut bridge = scratch.bridge()?;
    bridge.require_running()?;
    let dest_asset = bridge
        .config
        .route(asset, dest_chain)
        .ok_or_else(|| TxError::BridgeUnknownRoute {
            asset: asset.clone(),
            chain: dest_chain.clone(),
        })?
        .dest_asset
        .clone();
    scratch.debit(sender, asset, amount)?;
    if bridge.config.wrapped(asset).is_some() {
        sub(&mut bridge.wrapped_supply, asset, amount, "wrapped supply")?;
    } else {
        add(&mut bridge.vault, asset, amount)?;
    }
    scratch.put_bridge(bridge);
    Ok(EventKind::BridgeSent {
        sender: sender.clone(),
        dest_chain: dest_chain.clone(),
        recipient: recipient.clone(),
        asset: asset.clone(),
        dest_asset,
        amount,
    })
}

fn decode_hex<const N: usize>(field: &'static str, text: &str) -> Result<Vec<u8>, TxError> {
    let bytes = hex::decode(text).map_err(|e| TxError::BridgeInvalid {
        reason: format!("`{field}` is not hex: {e}"),
    })?;
    if bytes.is_empty() || bytes.len() > N {
        return Err(TxError::BridgeInvalid {
            reason: format!("`{field}` is {} bytes; expected 1..={N}", bytes.len()),
        });
    }
    Ok(bytes)
}

fn signature_error(err: AttestationError) -> TxError {
    match err {
        AttestationError::WrongCommittee { expected, found } => {
            TxError::BridgeWrongCommittee { expected, found }
        }
        AttestationError::WrongEpoch { expected, found } => {
            TxError::BridgeWrongEpoch { expected, found }
        }
        AttestationError::BadSignature { key_epoch } => TxError::BridgeBadSignature { key_epoch },
        other => TxError::BridgeInvalid {
            reason: other.to_string(),
        },
    }
}

/// `BridgeSubmitAttestation`: a transfer batch, key rotation or pause control.
pub(crate) fn submit_attestation(
    scratch: &mut Scratch<'_, impl StateView>,
    ctx: &BlockContext,
    attestation_hex: &str,
    signature_hex: &str,
) -> Result<EventKind, TxError> {
    let mut bridge = scratch.bridge()?;
    let message = decode_hex::<MAX_ATTESTATION_BYTES>("attestation", attestation_hex)?;
    let signature: [u8; 64] = decode_hex::<64>("signature", signature_hex)?
        .try_into()
        .map_err(|_| TxError::BridgeInvalid {
            reason: "`signature` must be 64 bytes (128 hex digits)".into(),
        })?;
    let attestation = Attestation::from_bytes(&message).map_err(signature_error)?;
    verify_for_committee(&bridge.committee_key(), &attestation, &signature)
        .map_err(signature_error)?;
    let this_chain = scratch.view.chain_id().clone();
    let event = match attestation {
        Attestation::TransferBatch(batch) => accept_batch(&mut bridge, &this_chain, batch)?,
        Attestation::KeyRotation(rotation) => rotate(&mut bridge, ctx, &this_chain, rotation)?,
        Attestation::Pause(control) => set_paused(&mut bridge, &this_chain, control)?,
    };
    scratch.put_bridge(bridge);
    Ok(event)
}

fn require_this_chain(this_chain: &ChainId, named: &ChainId) -> Result<(), TxError> {
    if named == this_chain {
        Ok(())
    } else {
        Err(TxError::BridgeInvalid {
            reason: format!("attestation is for chain {named}, not this chain {this_chain}"),
        })
    }
}

fn accept_batch(
    bridge: &mut BridgeState,
    this_chain: &ChainId,
    batch: TransferAttestation,
) -> Result<EventKind, TxError> {
    bridge.require_running()?;
    require_this_chain(this_chain, &batch.dest_chain)?;
    if !bridge.config.is_known_source(&batch.source_chain) {
        return Err(TxError::BridgeUnknownSource {
            chain: batch.source_chain,
        });
    }
    if batch.merkle_root.is_zero() || batch.transfer_count == 0 {
        return Err(TxError::BridgeEmptyValue {
            field: "merkle_root/transfer_count",
        });
    }
    let expected = bridge
        .last_sequence
        .get(&batch.source_chain)
        .copied()
        .unwrap_or(0)
        .saturating_add(1);
    if batch.sequence != expected {
        return Err(TxError::BridgeReplay {
            what: format!(
                "batch sequence {} from {}; the next expected is {expected}",
                batch.sequence, batch.source_chain
            ),
        });
    }
    if bridge.batches.contains_key(&batch.merkle_root) {
        return Err(TxError::BridgeReplay {
            what: format!("batch root {} was already accepted", batch.merkle_root),
        });
    }
    bridge
        .last_sequence
        .insert(batch.source_chain.clone(), batch.sequence);
    let event = EventKind::BridgeBatchAccepted {
        source_chain: batch.source_chain.clone(),
        sequence: batch.sequence,
        root: batch.merkle_root,
        key_epoch: batch.key_epoch,
    };
    bridge.batches.insert(batch.merkle_root, batch);
    Ok(event)
}

fn rotate(
    bridge: &mut BridgeState,
    ctx: &BlockContext,
    this_chain: &ChainId,
    rotation: KeyRotation,
) -> Result<EventKind, TxError> {
    require_this_chain(this_chain, &rotation.chain)?;
    // As on EVM: a rotation takes effect no earlier than the committee said it would.
    if rotation.activate_at_ms > ctx.time_ms {
        return Err(TxError::BridgeInvalid {
            reason: format!(
                "key rotation activates at {} but chain time is {}; resubmit after that",
                rotation.activate_at_ms, ctx.time_ms
            ),
        });
    }
    if rotation.new_epoch != bridge.key_epoch.saturating_add(1) {
        return Err(TxError::BridgeWrongEpoch {
            expected: bridge.key_epoch.saturating_add(1),
            found: rotation.new_epoch,
        });
    }
    rotation
        .new_group_key
        .check()
        .map_err(|e| TxError::BridgeInvalid {
            reason: format!("new_group_key: {e}"),
        })?;
    // Only the current epoch's key is ever accepted: the old key dies with this rotation.
    bridge.key_epoch = rotation.new_epoch;
    bridge.group_key = rotation.new_group_key;
    Ok(EventKind::BridgeKeyRotated {
        key_epoch: rotation.new_epoch,
        group_key: Hash32(rotation.new_group_key.0),
    })
}

fn set_paused(
    bridge: &mut BridgeState,
    this_chain: &ChainId,
    control: PauseControl,
) -> Result<EventKind, TxError> {
    require_this_chain(this_chain, &control.chain)?;
    if control.control_sequence <= bridge.last_control_sequence {
        return Err(TxError::BridgeReplay {
            what: format!(
                "control sequence {} is not after {}",
                control.control_sequence, bridge.last_control_sequence
            ),
        });
    }
    if control.paused == bridge.paused {
        return Err(TxError::BridgeInvalid {
            reason: format!("the bridge is already paused={}", bridge.paused),
        });
    }
    bridge.last_control_sequence = control.control_sequence;
    bridge.paused = control.paused;
    // core has no pause event; the key event re-announces the unchanged key and epoch.
    Ok(EventKind::BridgeKeyRotated {
        key_epoch: bridge.key_epoch,
        group_key: Hash32(bridge.group_key.0),
    })
}

/// `BridgeExecute`: pay out one transfer of an accepted batch, at most once.
pub(crate) fn execute(
    scratch: &mut Scratch<'_, impl StateView>,
    transfer: &Transfer,
    proof: &MerkleProof,
) -> Result<EventKind, TxError> {
    let mut bridge = scratch.bridge()?;
    bridge.require_running()?;
    let bad_proof = |e: AttestationError| TxError::BridgeBadProof {
        reason: e.to_string(),
    };
    let leaf = transfer.leaf_hash().map_err(bad_proof)?;
    let root = &proof.root_from(leaf).map_err(bad_proof)?;
    if root.is_zero() {
        return Err(TxError::BridgeEmptyValue { field: "root" });
    }
    let batch = bridge
        .batches
        .get(root)
        .ok_or(TxError::BridgeUnknownRoot { root: *root })?
        .clone();
    verify_transfer(&batch, transfer, proof).map_err(bad_proof)?;
    if bridge.executed.insert(leaf).is_some() {
        return Err(TxError::BridgeReplay {
            what: format!("transfer leaf {leaf} was already executed"),
        });
    }
    let asset = &transfer.dest_asset;
    require_known_asset(scratch.view, asset)?;
    require_address(&transfer.recipient, "recipient")?;
    match bridge.config.wrapped(asset) {
        Some(w) if w.origin_chain == transfer.source_chain && w.origin_asset == transfer.asset => {
            add(&mut bridge.wrapped_supply, asset, transfer.amount)?
        }
        Some(_) => return Err(unknown_route(transfer)),
        None => {
            let route = bridge.config.route(asset, &transfer.source_chain);
            if route.map(|r| &r.dest_asset) != Some(&transfer.asset) {
                return Err(unknown_route(transfer));
            }
            sub(&mut bridge.vault, asset, transfer.amount, "the vault")?
        }
    }
    scratch.credit(&transfer.recipient, asset, transfer.amount)?;
    scratch.put_bridge(bridge);
    Ok(EventKind::BridgeReceived {
        source_chain: transfer.source_chain.clone(),
        source_position: transfer.source_position,
        source_tx_hash: transfer.source_tx_hash,
        recipient: transfer.recipient.clone(),
        asset: asset.clone(),
        amount: transfer.amount,
    })
}

/// Most transfers one `BridgeSubmitBatch` pays out (the transaction size bounds it too).
pub const MAX_BATCH_EXECUTIONS: usize = 256;

/// `BridgeSubmitBatch`: accepts a transfer batch and pays out all of its transfers, each
/// proven by the tree rebuilt from `transfers` (which must be the whole batch, in order).
/// All or nothing: if one transfer cannot be paid, the batch is not accepted either.
pub(crate) fn submit_batch(
    scratch: &mut Scratch<'_, impl StateView>,
    ctx: &BlockContext,
    attestation_hex: &str,
    signature_hex: &str,
    transfers: &[Transfer],
) -> Result<Vec<EventKind>, TxError> {
    if transfers.is_empty() || transfers.len() > MAX_BATCH_EXECUTIONS {
        return Err(TxError::BridgeInvalid {
            reason: format!(
                "a batch submission carries 1..={MAX_BATCH_EXECUTIONS} transfers, not {}",
                transfers.len()
            ),
        });
    }
    let bad_proof = |e: AttestationError| TxError::BridgeBadProof {
        reason: e.to_string(),
    };
    let leaves = transfers
        .iter()
        .map(Transfer::leaf_hash)
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad_proof)?;
    let tree = causeway_notary::MerkleTree::build(leaves).map_err(bad_proof)?;
    let accepted = submit_attestation(scratch, ctx, attestation_hex, signature_hex)?;
    match &accepted {
        EventKind::BridgeBatchAccepted { root, .. } if *root == tree.root() => {}
        EventKind::BridgeBatchAccepted { .. } => {
            return Err(TxError::BridgeBadProof {
                reason: "the transfers are not the attested batch (their root differs)".into(),
            })
        }
        _ => {
            return Err(TxError::BridgeInvalid {
                reason: "a batch submission needs a transfer-batch attestation".into(),
            })
        }
    }
    let mut events = Vec::with_capacity(transfers.len() + 1);
    events.push(accepted);
    for (index, transfer) in transfers.iter().enumerate() {
        let proof = tree.proof(index).map_err(bad_proof)?;
        events.push(execute(scratch, transfer, &proof)?);
    }
    Ok(events)
}

fn unknown_route(transfer: &Transfer) -> TxError {
    TxError::BridgeUnknownRoute {
        asset: transfer.dest_asset.clone(),
        chain: transfer.source_chain.clone(),
    }
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
