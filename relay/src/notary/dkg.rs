//! Runs one distributed key generation ceremony with the other members over the
//! encrypted committee channel (specs/notary.md §3). No dealer: each member ends with its
//! own share, encrypted at rest, and the group key every member confirmed.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use causeway_core::Hash32;
use causeway_notary::dkg::{DkgMember, DkgMessage, DkgOutput, DkgResult};
use causeway_notary::keystore::{self, KdfParams, KeyShare};
use causeway_notary::transport::Recipient;
use causeway_transport::Transport;
use frost_ed25519::Identifier;
use serde::Serialize;

use super::config::NotaryConfig;
use super::seat::{member_number, Seat};
use super::wire::Wire;

/// How long a finished member keeps its channel open so slower peers get its last messages.
const LINGER_LIMIT: Duration = Duration::from_secs(30);

/// The public outcome every member prints and every chain's bridge is configured with.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct DkgSummary {
    pub committee: String,
    pub committee_id: Hash32,
    pub key_epoch: u64,
    pub group_key: String,
    pub transcript_hash: Hash32,
    pub threshold: u16,
    pub members: usize,
    pub share_file: PathBuf,
}

pub async fn run_ceremony(
    config: &NotaryConfig,
    epoch: u64,
    passphrase: &str,
    timeout: Duration,
) -> Result<DkgSummary> {
    let seat = Seat::load(config)?;
    let share_path = config.share_path(epoch);
    if share_path.exists() {
        bail!(
            "{} already exists: this member already holds a share for key epoch {epoch}; \
             a new ceremony needs a new epoch (--epoch {})",
            share_path.display(),
            epoch + 1
        );
    }
    let setup = seat.committee.dkg_setup(epoch);
    let ceremony = setup.ceremony;
    let n = seat.committee.config.members.len();
    let (transport, mut inbound) =
        Transport::start(seat.transport_config(config.listen.as_deref()))
            .await
            .context("cannot open the committee channel")?;
    tracing::info!(member = seat.member, epoch, ceremony = %ceremony, "DKG started; waiting for the other members");

    let (mut member, first) = DkgMember::start(
        setup,
        seat.identifier,
        seat.keys.identity.clone(),
        &mut rand::rngs::OsRng,
    )
    .context("cannot start the ceremony")?;
    let mut local: VecDeque<(Identifier, DkgMessage)> = VecDeque::new();
    let mut result: Option<DkgResult> = None;
    let mut pending = first;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        for output in pending.drain(..) {
            match output {
                DkgOutput::Send(envelope) => {
                    let wire = Wire::Dkg {
                        ceremony,
                        message: Box::new(envelope.message.clone()),
                    }
                    .encode();
                    for peer in seat.peers() {
                        if envelope.to.includes(Identifier::try_from(peer)?) {
                            transport.send(peer, wire.clone())?;
                        }
                    }
                    if envelope.to == Recipient::Everyone || envelope.to.includes(seat.identifier) {
                        local.push_back((seat.identifier, envelope.message));
                    }
                }
                DkgOutput::SendSecret { to, message } => {
                    let peer = member_number(&to, n).context("secret package for a non-member")?;
                    transport.send(
                        peer,
                        Wire::Dkg {
                            ceremony,
                            message: Box::new(message),
                        }
                        .encode(),
                    )?;
                }
                DkgOutput::Completed(done) => result = Some(*done),
            }
        }
        if result.is_some() {
            break;
        }
        let (from, message) =
            if let Some(next) = local.pop_front() {
                next
            } else {
                let received =
                    tokio::time::timeout_at(deadline, inbound.recv())
                        .await
                        .map_err(|_| {
                            let missing: Vec<String> = seat
                                .peers()
                                .into_iter()
                                .filter(|p| !transport.connected().contains(p))
                                .map(|p| format!("#{p} ({})", seat.operator_of(p)))
                                .collect();
                            anyhow::anyhow!(
                        "the ceremony did not finish within {}s; members not reachable: {}. \
                         Every member must run `causeway notary dkg` at the same time",
                        timeout.as_secs(),
                        if missing.is_empty() { "none".into() } else { missing.join(", ") }
                    )
                        })?
                        .context("committee channel closed")?;
                let Ok(Wire::Dkg {
                    ceremony: c,
                    message,
                }) = Wire::decode(&received.payload)
                else {
                    tracing::warn!(
                        from = received.from,
                        "ignoring a non-DKG or malformed message"
                    );
                    continue;
                };
                if c != ceremony {
                    tracing::warn!(
                        from = received.from,
                        "ignoring a message of another ceremony"
                    );
                    continue;
                }
                (Identifier::try_from(received.from)?, *message)
            };
        pending = member
            .receive(from, message)
            .context("the ceremony was aborted")?;
    }
    let result = result.context("ceremony ended without a result")?;
    let share = KeyShare {
        epoch,
        key_package: result.key_package.clone(),
        public_key_package: result.public_key_package.clone(),
    };
    keystore::save(
        &share_path,
        &share,
        passphrase,
        KdfParams::default(),
        &mut rand::rngs::OsRng,
    )
    .context("cannot store the key share")?;
    let group_key = causeway_notary::GroupKey::from_public_key_package(&result.public_key_package)
        .context("the group key is unusable")?;
    linger(&transport).await;
    transport.shutdown();
    Ok(DkgSummary {
        committee: seat.committee.config.name.clone(),
        committee_id: seat.committee.committee_id,
        key_epoch: epoch,
        group_key: hex::encode(group_key.0),
        transcript_hash: result.transcript_hash,
        threshold: seat.committee.threshold(),
        members: n,
        share_file: share_path,
    })
}

/// Waits (bounded) until every queued message has left, so peers still finishing get our
/// confirmation. A peer whose channel is down has finished and left: every member sent
/// us its messages before we could finish, so it was connected once.
async fn linger(transport: &Transport) {
    let until = tokio::time::Instant::now() + LINGER_LIMIT;
    while tokio::time::Instant::now() < until {
        if transport
            .status()
            .iter()
            .all(|p| p.queued == 0 || !p.connected)
        {
            // Give the last frames time to be read by peers before the sockets close.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
