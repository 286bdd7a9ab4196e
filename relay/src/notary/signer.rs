//! The signing service: drives this member's `SigningNode` over the committee channel
//! (specs/notary.md §4–§6). It announces pooled nonces at start, which stay in the node's
//! memory (§5.1); round-bound nonce records reach disk before the message they guard leaves
//! (§5); attempt timers move a stuck session to the next coordinator (§4.3); cheaters and
//! refusals are logged and counted (§6).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use causeway_notary::signing::{
    session_id, NonceRecord, RoundId, SessionId, SigningMessage, SigningNode, SigningOutput,
};
use causeway_notary::transport::{Envelope, Recipient};
use causeway_transport::{Inbound, Transport};
use frost_ed25519::Identifier;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::seat::member_number;
use super::wire::Wire;

/// Start requests queued before the attester waits.
const COMMAND_QUEUE: usize = 1024;
/// Committee messages handled between two flushes of their nonce records, at most.
const MAX_MESSAGES_PER_FLUSH: usize = 256;

/// Messages one round of outputs sends, in order, and whether a nonce record written for
/// them must be flushed first.
#[derive(Default)]
struct Outbox {
    messages: Vec<Envelope<SigningMessage>>,
    guarded: bool,
}
/// Completed signatures queued for the attester.
pub const COMPLETION_QUEUE: usize = 1024;
/// Test hook: a member started with this set to 1 sends invalid signature shares, so the
/// end-to-end tests can show cheater detection against a real process.
pub const BAD_SHARES_ENV: &str = "CAUSEWAY_TEST_BAD_SHARES";

/// How a session this member vouched for ended, for the attester.
#[derive(Clone, Debug)]
pub enum SessionEnd {
    Signed(Completion),
    /// The session failed, or could not be opened: the attester vouches again later.
    Abandoned {
        session: SessionId,
    },
}

/// A threshold signature this member saw completed.
#[derive(Clone, Debug)]
pub struct Completion {
    pub session: SessionId,
    pub message: Vec<u8>,
    pub signature: [u8; 64],
}

/// What the status API shows of the signer.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SignerStats {
    pub open_sessions: usize,
    pub sessions_completed: u64,
    pub sessions_failed: u64,
    pub nonce_records: usize,
    /// Secret nonces this member pooled for coordinators (§5.1), in memory only.
    #[serde(default)]
    pub pooled_nonces: usize,
    /// Commitments members pooled with this member as coordinator.
    #[serde(default)]
    pub pooled_commitments: usize,
    /// Rounds this member coordinated from pooled commitments (one round trip).
    #[serde(default)]
    pub pooled_rounds: u64,
    /// Rounds this member coordinated by asking for commitments (two round trips).
    #[serde(default)]
    pub commit_request_rounds: u64,
    /// Member number → invalid signature shares it sent (each excluded it from a session).
    pub cheaters: BTreeMap<u16, u64>,
    /// Member number → its messages this member refused to act on.
    pub refusals: BTreeMap<u16, u64>,
    /// Open sessions: id → current attempt.
    pub sessions: BTreeMap<String, u32>,
}

#[derive(Clone)]
pub struct SignerHandle {
    commands: mpsc::Sender<Vec<u8>>,
    stats: Arc<Mutex<SignerStats>>,
}

impl SignerHandle {
    /// Vouches for `attestation` (bytes this member built itself from final events) and
    /// joins or opens its session. Idempotent.
    pub async fn start(&self, attestation: Vec<u8>) -> Result<()> {
        self.commands
            .send(attestation)
            .await
            .map_err(|_| anyhow::anyhow!("the signing service has stopped"))
    }

    pub fn stats(&self) -> SignerStats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub struct SignerSetup {
    pub node: SigningNode<OsRng>,
    pub nonces: sled::Tree,
    pub durable: crate::durable::Durable,
    pub transport: Transport,
    pub inbound: mpsc::Receiver<Inbound>,
    pub members: usize,
    pub epoch: u64,
    pub attempt_timeout: Duration,
    pub completions: mpsc::Sender<SessionEnd>,
}

/// Nonce records persisted by an earlier run, to restore before signing anything.
pub fn stored_nonces(tree: &sled::Tree) -> Result<Vec<NonceRecord>> {
    tree.iter()
        .values()
        .map(|v| {
            let v = v?;
            serde_json::from_slice(&v).context("a stored nonce record is corrupt")
        })
        .collect()
}

pub fn spawn(setup: SignerSetup) -> SignerHandle {
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let stats = Arc::new(Mutex::new(SignerStats::default()));
    let service = Service {
        me: setup.node.identifier(),
        node: setup.node,
        nonces: setup.nonces,
        durable: setup.durable,
        transport: setup.transport,
        members: setup.members,
        epoch: setup.epoch,
        attempt_timeout: setup.attempt_timeout,
        completions: setup.completions,
        stats: stats.clone(),
        attempts: BTreeMap::new(),
        local: VecDeque::new(),
        bad_shares: std::env::var(BAD_SHARES_ENV).as_deref() == Ok("1"),
    };
    tokio::spawn(service.run(command_rx, setup.inbound));
    SignerHandle { commands, stats }
}

struct Service {
    me: Identifier,
    node: SigningNode<OsRng>,
    nonces: sled::Tree,
    durable: crate::durable::Durable,
    transport: Transport,
    members: usize,
    epoch: u64,
    attempt_timeout: Duration,
    completions: mpsc::Sender<SessionEnd>,
    stats: Arc<Mutex<SignerStats>>,
    /// Open sessions' current attempts: a timer fires only for the attempt that armed it.
    attempts: BTreeMap<SessionId, u32>,
    /// Messages this member sent to itself.
    local: VecDeque<SigningMessage>,
    bad_shares: bool,
}

impl Service {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Vec<u8>>,
        mut inbound: mpsc::Receiver<Inbound>,
    ) {
        if self.bad_shares {
            tracing::warn!(
                "{BAD_SHARES_ENV}=1: this member sends INVALID signature shares (test hook)"
            );
        }
        let (timer_tx, mut timers) = mpsc::channel::<(SessionId, u32)>(COMMAND_QUEUE);
        // Pooled nonces (§5.1) live in memory only: announce fresh ones to every coordinator.
        let announced = self.node.announce_pools();
        if let Err(e) = self.perform(announced, &timer_tx).await {
            tracing::error!("signing service stopped: {e:#}");
            return;
        }
        loop {
            let outputs = tokio::select! {
                Some(message) = commands.recv() => {
                    let session = session_id(&message);
                    match self.node.start(message) {
                        Ok(out) => out,
                        Err(e) => {
                            tracing::warn!(session = %session, "cannot open a signing session now; the attester retries: {e}");
                            if self.completions.send(SessionEnd::Abandoned { session }).await.is_err() {
                                break;
                            }
                            Vec::new()
                        }
                    }
                }
                Some(received) = inbound.recv() => {
                    let mut outputs = self.on_inbound(received);
                    // Whatever else has arrived shares this round's flush (below).
                    for _ in 1..MAX_MESSAGES_PER_FLUSH {
                        match inbound.try_recv() {
                            Ok(received) => outputs.extend(self.on_inbound(received)),
                            Err(_) => break,
                        }
                    }
                    outputs
                }
                Some((session, attempt)) = timers.recv() => {
                    if self.attempts.get(&session) == Some(&attempt) {
                        tracing::info!(session = %session, attempt, "attempt timed out; next coordinator");
                        self.node.timeout(session)
                    } else {
                        Vec::new()
                    }
                }
                else => break,
            };
            if let Err(e) = self.perform(outputs, &timer_tx).await {
                tracing::error!("signing service stopped: {e:#}");
                break;
            }
        }
    }

    fn on_inbound(&mut self, received: Inbound) -> Vec<SigningOutput> {
        match Wire::decode(&received.payload) {
            Ok(Wire::Signing { epoch, message }) if epoch == self.epoch => {
                match Identifier::try_from(received.from) {
                    Ok(from) => self.node.receive(from, *message),
                    Err(_) => Vec::new(),
                }
            }
            Ok(Wire::Signing { epoch, .. }) => {
                tracing::debug!(
                    from = received.from,
                    epoch,
                    "signing message for another key epoch"
                );
                Vec::new()
            }
            Ok(Wire::Dkg { .. }) => Vec::new(),
            Err(e) => {
                tracing::warn!(from = received.from, "malformed committee message: {e}");
                self.count_refusal(received.from);
                Vec::new()
            }
        }
    }

    /// Performs outputs, then whatever this member's messages to itself produce. The nonce
    /// records of all the outputs are written, then flushed once, and only then does any
    /// message leave, in order (§5): one flush per message made each member's sessions
    /// wait on one another's fsyncs, so that under load attempts timed out and were redone.
    async fn perform(
        &mut self,
        mut outputs: Vec<SigningOutput>,
        timers: &mpsc::Sender<(SessionId, u32)>,
    ) -> Result<()> {
        loop {
            let mut outbox = Outbox::default();
            for output in std::mem::take(&mut outputs) {
                self.perform_one(output, timers, &mut outbox).await?;
            }
            if outbox.guarded {
                self.durable.flush().await?;
            }
            for envelope in outbox.messages {
                self.send(envelope);
            }
            if self.local.is_empty() {
                break;
            }
            while let Some(message) = self.local.pop_front() {
                outputs.extend(self.node.receive(self.me, message));
            }
        }
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.open_sessions = self.node.open_sessions();
        stats.nonce_records = self.node.nonce_records();
        (stats.pooled_nonces, stats.pooled_commitments) = self.node.pooled();
        let rounds = self.node.round_counts();
        (stats.pooled_rounds, stats.commit_request_rounds) = (rounds.pooled, rounds.commit_request);
        stats.sessions = self
            .attempts
            .iter()
            .map(|(s, a)| (s.to_string(), *a))
            .collect();
        Ok(())
    }

    /// Performs one output; a message goes to `outbox`, to leave once the nonce records
    /// written for it are flushed.
    async fn perform_one(
        &mut self,
        output: SigningOutput,
        timers: &mpsc::Sender<(SessionId, u32)>,
        outbox: &mut Outbox,
    ) -> Result<()> {
        match output {
            SigningOutput::Send(envelope) => outbox.messages.push(envelope),
            SigningOutput::PersistNonceThenSend { record, envelope } => {
                // specs/notary.md §5: durable before the commitment or share leaves.
                self.store_nonce(&record)?;
                outbox.guarded = true;
                outbox.messages.push(envelope);
            }
            SigningOutput::AttemptStarted {
                session,
                attempt,
                coordinator,
            } => {
                self.attempts.insert(session, attempt);
                tracing::debug!(session = %session, attempt, coordinator = ?member_number(&coordinator, self.members), "attempt started");
                let timers = timers.clone();
                let wait = self.attempt_timeout;
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    let _ = timers.send((session, attempt)).await;
                });
            }
            SigningOutput::Refused {
                session,
                from,
                reason,
            } => {
                let from = member_number(&from, self.members).unwrap_or(0);
                let session = session.map_or_else(|| "none (pool)".to_string(), |s| s.to_string());
                tracing::warn!(session = %session, member = from, "refused a committee message: {reason}");
                self.count_refusal(from);
            }
            SigningOutput::CheaterDetected {
                round,
                culprit,
                reason,
            } => {
                let culprit = member_number(&culprit, self.members).unwrap_or(0);
                tracing::error!(session = %round.session, attempt = round.attempt, member = culprit, "member sent an invalid signature share and is excluded from this session: {reason}");
                let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
                *stats.cheaters.entry(culprit).or_default() += 1;
            }
            SigningOutput::Completed {
                session,
                message,
                signature,
            } => {
                self.finish(&session)?;
                self.stats
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .sessions_completed += 1;
                tracing::info!(session = %session, "threshold signature complete");
                self.completions
                    .send(SessionEnd::Signed(Completion {
                        session,
                        message,
                        signature: signature.0,
                    }))
                    .await
                    .map_err(|_| anyhow::anyhow!("the attester has stopped"))?;
            }
            SigningOutput::Failed { session, reason } => {
                self.finish(&session)?;
                self.stats
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .sessions_failed += 1;
                tracing::error!(session = %session, "signing session failed, the attester retries it: {reason:?}");
                self.completions
                    .send(SessionEnd::Abandoned { session })
                    .await
                    .map_err(|_| anyhow::anyhow!("the attester has stopped"))?;
            }
        }
        Ok(())
    }

    fn send(&mut self, envelope: Envelope<SigningMessage>) {
        let mut message = envelope.message;
        if self.bad_shares {
            corrupt_share(&mut message);
        }
        let wire = Wire::Signing {
            epoch: self.epoch,
            message: Box::new(message.clone()),
        }
        .encode();
        for peer in 1..=self.members as u16 {
            let Ok(id) = Identifier::try_from(peer) else {
                continue;
            };
            if id == self.me || !envelope.to.includes(id) {
                continue;
            }
            if let Err(e) = self.transport.send(peer, wire.clone()) {
                tracing::warn!(member = peer, "cannot queue a message: {e}");
            }
        }
        if envelope.to == Recipient::Everyone || envelope.to.includes(self.me) {
            self.local.push_back(message);
        }
    }

    fn store_nonce(&self, record: &NonceRecord) -> Result<()> {
        self.nonces
            .insert(nonce_key(&record.round), serde_json::to_vec(record)?)?;
        Ok(())
    }

    /// The session is over: its nonces are no longer needed (the node forgot them too).
    fn finish(&mut self, session: &SessionId) -> Result<()> {
        self.attempts.remove(session);
        for key in self.nonces.scan_prefix(session.0).keys() {
            self.nonces.remove(key?)?;
        }
        Ok(())
    }

    fn count_refusal(&self, from: u16) {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        *stats.refusals.entry(from).or_default() += 1;
    }
}

fn nonce_key(round: &RoundId) -> Vec<u8> {
    let mut key = Vec::with_capacity(40);
    key.extend_from_slice(&round.session.0);
    key.extend_from_slice(&round.attempt.to_be_bytes());
    key.extend_from_slice(&round.round.to_be_bytes());
    key
}

/// The test hook's damage: a well-formed share of the wrong value.
fn corrupt_share(message: &mut SigningMessage) {
    if let SigningMessage::Share { share, .. } = message {
        if let Ok(bad) = frost_ed25519::round2::SignatureShare::deserialize(&[7u8; 32]) {
            *share = bad;
        }
    }
}
