//! What an operator sees of this member (`relay_notaryStatus`, `causeway notary status`)
//! and what a user sees of one transfer (`relay_notaryTransfer`, `causeway transfer`).

use causeway_core::{Amount, AssetId, ChainId, Hash32};
use serde::{Deserialize, Serialize};

use super::book::TransferState;
use super::signer::SignerStats;
use super::Notary;
use crate::daemon::status::ChainStatus;

/// Batches listed per status call.
pub const MAX_BATCHES_SHOWN: usize = 64;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotaryStatus {
    pub member: u16,
    pub operator: String,
    pub committee: String,
    pub committee_id: Hash32,
    pub threshold: u16,
    pub members: usize,
    pub key_epoch: u64,
    pub group_key: String,
    pub peers: Vec<PeerView>,
    /// Members (this one included) this member can reach now.
    pub members_online: usize,
    pub signer: SignerStats,
    pub held: Vec<TransferView>,
    pub open_batches: Vec<BatchView>,
    pub batches_total: usize,
    /// True only when this member can sign: share loaded, t−1 peers reachable, every chain
    /// followed within its lag bound.
    pub healthy: bool,
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerView {
    pub member: u16,
    pub operator: String,
    pub connected: bool,
    pub dropped_queue_full: u64,
    pub handshake_failures: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchView {
    pub source_chain: ChainId,
    pub dest_chain: ChainId,
    pub sequence: u64,
    pub session: Hash32,
    pub transfers: usize,
    pub signed: bool,
    pub accepted: bool,
    pub executed: usize,
}

/// One transfer as this member sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferView {
    pub source_chain: ChainId,
    pub dest_chain: ChainId,
    pub source_tx_hash: Hash32,
    pub asset: AssetId,
    pub amount: Amount,
    pub recipient: String,
    /// `pending`, `held`, `rejected`, `batched`, `signed`, `accepted`, `released`.
    pub stage: String,
    pub hold_reason: Option<String>,
    pub sequence: Option<u64>,
    /// This member built the batch's attestation itself and vouched for it.
    pub vouched: bool,
    /// The source block's time (Unix ms): when the lock became final there.
    #[serde(default)]
    pub block_time_ms: Option<u64>,
    /// This member's clock (Unix ms) when it took the final lock in, and when its batch's
    /// threshold signature completed.
    #[serde(default)]
    pub seen_ms: Option<u64>,
    #[serde(default)]
    pub signed_ms: Option<u64>,
}

impl Notary {
    pub async fn status(&self, chains: &[ChainStatus]) -> anyhow::Result<NotaryStatus> {
        let seat = &self.seat;
        let transport = self.transport.status();
        let peers: Vec<PeerView> = transport
            .iter()
            .map(|p| PeerView {
                member: p.number,
                operator: seat.operator_of(p.number).to_string(),
                connected: p.connected,
                dropped_queue_full: p.dropped_queue_full,
                handshake_failures: p.handshake_failures,
            })
            .collect();
        let members_online = 1 + peers.iter().filter(|p| p.connected).count();
        let threshold = seat.committee.threshold();
        let mut problems = Vec::new();
        if members_online < usize::from(threshold) {
            problems.push(format!(
                "only {members_online} of {} members reachable; signing needs {threshold}",
                seat.committee.config.members.len()
            ));
        }
        for chain in chains.iter().filter(|c| !c.healthy()) {
            problems.push(format!(
                "chain {} is not followed within its lag bound",
                chain.chain_id
            ));
        }
        let book = self.attester.book();
        let mut held = Vec::new();
        for entry in book.held(MAX_BATCHES_SHOWN)? {
            held.push(self.transfer_view(entry).await?);
        }
        let open = book.open_batches()?;
        let open_batches = open
            .iter()
            .take(MAX_BATCHES_SHOWN)
            .map(|b| BatchView {
                source_chain: b.source_chain.clone(),
                dest_chain: b.dest_chain.clone(),
                sequence: b.sequence,
                session: b.session,
                transfers: b.transfers.len(),
                signed: b.signature.is_some(),
                accepted: b.accepted,
                executed: b.executed.iter().filter(|e| **e).count(),
            })
            .collect();
        Ok(NotaryStatus {
            member: seat.member,
            operator: seat.operator_of(seat.member).to_string(),
            committee: seat.committee.config.name.clone(),
            committee_id: seat.committee.committee_id,
            threshold,
            members: seat.committee.config.members.len(),
            key_epoch: self.key_epoch,
            group_key: hex::encode(self.group_key),
            peers,
            members_online,
            signer: self.signer.stats(),
            held,
            open_batches,
            batches_total: book.batch_count(),
            healthy: problems.is_empty(),
            problems,
        })
    }

    /// Every transfer of source transaction `tx` this member has seen final.
    pub async fn transfers_of_tx(&self, tx: &Hash32) -> anyhow::Result<Vec<TransferView>> {
        let book = self.attester.book();
        let mut out = Vec::new();
        for key in book.transfers_of_tx(tx)? {
            if let Some(entry) = book.transfer(&key)? {
                out.push(self.transfer_view(entry).await?);
            }
        }
        Ok(out)
    }

    async fn transfer_view(
        &self,
        entry: super::book::TransferEntry,
    ) -> anyhow::Result<TransferView> {
        let t = &entry.transfer;
        let mut view = TransferView {
            source_chain: t.source_chain.clone(),
            dest_chain: entry.dest_chain.clone(),
            source_tx_hash: t.source_tx_hash,
            asset: t.asset.clone(),
            amount: t.amount,
            recipient: t.recipient.to_string(),
            stage: String::new(),
            hold_reason: None,
            sequence: None,
            vouched: false,
            block_time_ms: Some(entry.time_ms),
            seen_ms: entry.seen_ms,
            signed_ms: None,
        };
        view.stage = match entry.state {
            TransferState::Pending => "pending".into(),
            TransferState::Held { reason } => {
                view.hold_reason = Some(reason);
                "held".into()
            }
            TransferState::Rejected => "rejected".into(),
            TransferState::Batched { sequence, index } => {
                view.sequence = Some(sequence);
                let book = self.attester.book();
                // Its index spares decoding the whole batch's transfers for one view.
                let batch = match index {
                    Some(_) => book.batch_status(&t.source_chain, &entry.dest_chain, sequence)?,
                    None => book.batch(&t.source_chain, &entry.dest_chain, sequence)?,
                };
                match batch {
                    Some(batch) => {
                        view.vouched = self.attester.vouched(&batch.session).await
                            || batch.signature.is_some();
                        view.signed_ms = batch.signed_ms;
                        let i = batch.place_of(index, t.source_position);
                        if i.and_then(|i| batch.executed.get(i).copied())
                            .unwrap_or(false)
                        {
                            "released".into()
                        } else if batch.accepted {
                            "accepted".into()
                        } else if batch.signature.is_some() {
                            "signed".into()
                        } else {
                            "batched".into()
                        }
                    }
                    None => "batched".into(),
                }
            }
        };
        Ok(view)
    }
}
