//! The notary committee inside the relay daemon (the I/O half of specs/notary.md):
//! member keys and the committee seat, the encrypted channel, the DKG ceremony, the signing
//! service and the attester that turns final bridge events into signed, submitted batches.

pub mod attester;
pub mod book;
pub mod config;
pub mod controls;
pub mod dkg;
pub mod keys;
pub mod seat;
pub mod signer;
pub mod status;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use causeway_adapters::ChainAdapter;
use causeway_core::ChainId;
use causeway_notary::governor::Governor;
use causeway_notary::signing::SigningNode;
use causeway_transport::Transport;
use frost_ed25519::Identifier;

use attester::{Attester, AttesterSetup, RECONCILE_INTERVAL};
use config::NotaryConfig;
use seat::Seat;
use signer::{SessionEnd, SignerHandle, SignerSetup, COMPLETION_QUEUE};

/// A running notary member.
pub struct Notary {
    pub seat: Seat,
    pub key_epoch: u64,
    pub group_key: [u8; 32],
    pub transport: Transport,
    pub signer: SignerHandle,
    pub attester: Arc<Attester>,
}

impl Notary {
    /// Loads the seat and key share, opens the channel and starts signing and attesting.
    pub async fn start(
        config: &NotaryConfig,
        durable: &crate::durable::Durable,
        adapters: &BTreeMap<ChainId, Arc<dyn ChainAdapter>>,
        executor: crate::executor::Executor,
    ) -> Result<Arc<Notary>> {
        let seat = Seat::load(config)?;
        for warning in &seat.committee.warnings {
            tracing::warn!("committee: {warning}");
        }
        let passphrase = config.passphrase()?;
        let share_path = config.share_path(config.key_epoch);
        let share =
            causeway_notary::keystore::load(&share_path, &passphrase).with_context(|| {
                format!(
                    "cannot load the key share for epoch {} (run `causeway notary dkg` first)",
                    config.key_epoch
                )
            })?;
        if share.epoch != config.key_epoch {
            bail!(
                "{} holds a share of epoch {}, not {}",
                share_path.display(),
                share.epoch,
                config.key_epoch
            );
        }
        if *share.key_package.identifier() != seat.identifier {
            bail!(
                "{} is the share of another member, not of member #{}",
                share_path.display(),
                seat.member
            );
        }
        let group_key =
            causeway_notary::GroupKey::from_public_key_package(&share.public_key_package)?;
        let members: Vec<Identifier> = share
            .public_key_package
            .verifying_shares()
            .keys()
            .copied()
            .collect();
        if members.len() != seat.committee.config.members.len() {
            bail!(
                "the key share was made for {} members but the committee file lists {}",
                members.len(),
                seat.committee.config.members.len()
            );
        }
        let nonces = durable.db().open_tree("notary_nonces")?;
        let restored = signer::stored_nonces(&nonces)?;
        if !restored.is_empty() {
            tracing::info!(records = restored.len(), "restored nonce records");
        }
        let node = SigningNode::new(
            share.key_package,
            share.public_key_package,
            restored,
            rand::rngs::OsRng,
        )?;
        let (transport, inbound) =
            Transport::start(seat.transport_config(config.listen.as_deref()))
                .await
                .context("cannot open the committee channel")?;
        let (completions_tx, mut completions) = tokio::sync::mpsc::channel(COMPLETION_QUEUE);
        let signer = signer::spawn(SignerSetup {
            node,
            nonces,
            durable: durable.clone(),
            transport: transport.clone(),
            inbound,
            members: members.len(),
            epoch: config.key_epoch,
            attempt_timeout: Duration::from_millis(config.attempt_timeout_ms),
            completions: completions_tx,
        });
        let governor = Governor::new(config.flow_limits()).context("notary.limit")?;
        let attester = Attester::open(
            AttesterSetup {
                committee_id: seat.committee.committee_id,
                key_epoch: config.key_epoch,
                me: seat.identifier,
                members,
                chains: adapters.keys().cloned().collect(),
                batch_submit: adapters
                    .iter()
                    .filter_map(|(id, a)| {
                        let caps = a.capabilities();
                        caps.bridge_batch
                            .then(|| (id.clone(), caps.max_batch_bytes as usize))
                    })
                    .collect(),
                batch_blocks: config.batch_blocks,
                max_batch: config.max_batch,
                fallback: Duration::from_millis(config.fallback_ms),
                governor,
            },
            durable,
            signer.clone(),
            executor,
        )?;
        // A new signature starts a reconcile pass at once rather than at the next tick; the
        // wake-ups of passes already due collapse into one.
        let signed = Arc::new(tokio::sync::Notify::new());
        {
            let (attester, signed) = (attester.clone(), signed.clone());
            tokio::spawn(async move {
                while let Some(end) = completions.recv().await {
                    match end {
                        SessionEnd::Signed(done) => {
                            if let Err(e) = attester.on_completion(done).await {
                                tracing::error!("cannot record a signature: {e:#}");
                            }
                            signed.notify_one();
                        }
                        SessionEnd::Abandoned { session } => attester.on_abandoned(session).await,
                    }
                }
            });
        }
        {
            let attester = attester.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(RECONCILE_INTERVAL);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        () = signed.notified() => {}
                    }
                    if let Err(e) = attester.reconcile().await {
                        tracing::warn!("notary reconcile: {e:#}");
                    }
                }
            });
        }
        tracing::info!(member = seat.member, epoch = config.key_epoch, group_key = %hex::encode(group_key.0), "notary member started");
        Ok(Arc::new(Notary {
            seat,
            key_epoch: config.key_epoch,
            group_key: group_key.0,
            transport,
            signer,
            attester,
        }))
    }
}
