//! Committee controls: a key rotation (the committee hands a chain's bridge to a new group
//! key, specs/notary.md §8) or a pause. Unlike batches they start from operators: each
//! operator asks its own member, with the same terms, and the control is signed once t
//! members have vouched for the identical bytes.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use causeway_adapters::{Action, TxOutcome};
use causeway_core::{ChainId, Hash32};
use causeway_notary::signing::session_id;
use causeway_notary::{Attestation, GroupKey, KeyRotation, PauseControl};
use serde::{Deserialize, Serialize};

use super::attester::Attester;
use super::book::{Changes, ControlRecord};
use super::signer::Completion;
use crate::executor::{ActionDone, ActionStatus};

pub const CONTROL_ACTION_PREFIX: &str = "notary:control:";
/// Submissions of one control retried after the chain refused them.
const MAX_CONTROL_ATTEMPTS: u32 = 16;
/// Longest overlap a rotation may ask for (the spec's 7 days).
const MAX_OVERLAP_MS: u64 = 7 * 24 * 3600 * 1000;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "control", rename_all = "snake_case")]
pub enum ControlRequest {
    Rotate {
        chain: ChainId,
        new_epoch: u64,
        new_group_key: String,
        activate_at_ms: u64,
        overlap_ms: u64,
    },
    Pause {
        chain: ChainId,
        control_sequence: u64,
        paused: bool,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ControlView {
    pub chain: ChainId,
    pub session: Hash32,
    pub signed: bool,
    pub applied: bool,
}

impl From<&ControlRecord> for ControlView {
    fn from(c: &ControlRecord) -> Self {
        ControlView {
            chain: c.chain.clone(),
            session: c.session,
            signed: c.signature.is_some(),
            applied: c.applied,
        }
    }
}

impl Attester {
    /// Records the operator's request and vouches for its attestation.
    pub async fn control(&self, request: ControlRequest) -> Result<ControlView> {
        let committee_id = self.setup.committee_id;
        let key_epoch = self.setup.key_epoch;
        let (chain, attestation) = match request {
            ControlRequest::Rotate {
                chain,
                new_epoch,
                new_group_key,
                activate_at_ms,
                overlap_ms,
            } => {
                if new_epoch != key_epoch + 1 {
                    bail!(
                        "new_epoch must be {} (this member signs with epoch {key_epoch})",
                        key_epoch + 1
                    );
                }
                if overlap_ms > MAX_OVERLAP_MS {
                    bail!("overlap_ms {overlap_ms} is over the 7-day limit");
                }
                let mut key = [0u8; 32];
                hex::decode_to_slice(new_group_key.trim_start_matches("0x"), &mut key)
                    .context("new_group_key must be 64 hex digits (the new DKG's group key)")?;
                (
                    chain.clone(),
                    Attestation::KeyRotation(KeyRotation {
                        committee_id,
                        key_epoch,
                        chain,
                        new_epoch,
                        new_group_key: GroupKey(key),
                        activate_at_ms,
                        overlap_ms,
                    }),
                )
            }
            ControlRequest::Pause {
                chain,
                control_sequence,
                paused,
            } => (
                chain.clone(),
                Attestation::Pause(PauseControl {
                    committee_id,
                    key_epoch,
                    chain,
                    control_sequence,
                    paused,
                }),
            ),
        };
        if !self.setup.chains.contains(&chain) {
            bail!("this member does not follow chain {chain}; add it to the relay config");
        }
        attestation.validate().context("the control is invalid")?;
        let bytes = attestation.to_bytes()?;
        let session = session_id(&bytes);
        let state = self.state.lock().await;
        let record = match self.book.control(&session)? {
            Some(existing) => existing,
            None => {
                let record = ControlRecord {
                    chain,
                    session,
                    attestation: bytes,
                    signature: None,
                    applied: false,
                    attempt: 0,
                };
                let mut changes = Changes::default();
                changes.put_control(&record);
                self.book.apply(changes).await?;
                record
            }
        };
        drop(state);
        if record.signature.is_none() {
            self.vouch_bytes(session, &record.attestation).await?;
        }
        tracing::info!(chain = %record.chain, session = %session, "operator asked for a committee control; vouched");
        Ok(ControlView::from(&record))
    }

    pub(super) async fn on_control_signed(&self, done: Completion) -> Result<()> {
        let _writer = self.state.lock().await;
        let Some(mut record) = self.book.control(&done.session)? else {
            return Ok(());
        };
        if record.signature.is_some() {
            return Ok(());
        }
        record.signature = Some(hex::encode(done.signature));
        let mut changes = Changes::default();
        changes.put_control(&record);
        self.book.apply(changes).await?;
        tracing::info!(chain = %record.chain, session = %record.session, "committee control signed");
        Ok(())
    }

    pub(super) async fn on_control_done(&self, done: &ActionDone) -> Result<()> {
        let Some(session) = done
            .id
            .strip_prefix(CONTROL_ACTION_PREFIX)
            .and_then(|rest| rest.split(':').next())
            .and_then(|hex| hex.parse::<Hash32>().ok())
        else {
            return Ok(());
        };
        let _writer = self.state.lock().await;
        let Some(mut record) = self.book.control(&session)? else {
            return Ok(());
        };
        match &done.status {
            ActionStatus::Final {
                outcome: TxOutcome::Success,
                ..
            } => record.applied = true,
            ActionStatus::Refused { reason } => {
                tracing::warn!(chain = %record.chain, "chain refused a committee control: {reason}");
                record.attempt += 1;
            }
            ActionStatus::Final { outcome, .. } => {
                tracing::warn!(chain = %record.chain, "committee control had no effect: {outcome:?}");
                record.attempt += 1;
            }
            _ => return Ok(()),
        }
        let mut changes = Changes::default();
        changes.put_control(&record);
        self.book.apply(changes).await
    }

    /// A chain reports its bridge key changed: the rotation to that epoch is done.
    pub(super) fn on_key_rotated(
        &self,
        chain: &ChainId,
        key_epoch: u64,
        changes: &mut Changes,
    ) -> Result<()> {
        for mut record in self.book.controls()? {
            let rotates_here = &record.chain == chain
                && matches!(
                    Attestation::from_bytes(&record.attestation),
                    Ok(Attestation::KeyRotation(r)) if r.new_epoch == key_epoch
                );
            if rotates_here && !record.applied {
                record.applied = true;
                changes.put_control(&record);
            }
        }
        Ok(())
    }

    /// Submits signed controls: the first-ranked member at once, others after their delay.
    pub(super) async fn reconcile_controls(&self) -> Result<()> {
        for record in self.book.controls()? {
            let Some(signature) = &record.signature else {
                continue;
            };
            if record.applied || record.attempt >= MAX_CONTROL_ATTEMPTS {
                continue;
            }
            let wait = self.setup.fallback * self.rank(&record.session) as u32;
            let since = *self
                .state
                .lock()
                .await
                .signed_at
                .entry(record.session.0.to_vec())
                .or_insert_with(Instant::now);
            if since.elapsed() < wait {
                continue;
            }
            self.executor
                .submit(
                    format!(
                        "{CONTROL_ACTION_PREFIX}{}:{}",
                        record.session, record.attempt
                    ),
                    &record.chain,
                    Action::BridgeSubmitAttestation {
                        attestation: hex::encode(&record.attestation),
                        signature: signature.clone(),
                    },
                )
                .await?;
        }
        Ok(())
    }
}
