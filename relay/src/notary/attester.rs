//! The attester: turns final `BridgeSent` events into deterministic batches, vouches for
//! their attestations, and carries signed batches to the destination chain
//! (specs/notary.md §12). Every member builds byte-identical batches from the same final
//! events, so honest members vouch for the same sessions and nothing else gets signed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_trait::async_trait;
use causeway_adapters::Action;
use causeway_core::{ChainEvent, ChainId, EventKind, Hash32, Position};
use causeway_notary::governor::{Decision, Governor};
use causeway_notary::signing::{coordinator_order, session_id};
use causeway_notary::{Transfer, TransferBatch};
use frost_ed25519::Identifier;
use tokio::sync::Mutex;

use super::book::{
    batch_key, route_key, transfer_key, BatchRecord, Book, Changes, PendingTransfer, RouteState,
    TransferEntry, TransferState,
};
use super::signer::{Completion, SignerHandle};
use crate::daemon::follower::EventConsumer;
use crate::executor::{now_ms, ActionDone, ActionStatus, Executor};

/// How often signed batches are checked for submission and execution.
pub const RECONCILE_INTERVAL: Duration = Duration::from_millis(100);
/// Submissions of one batch (or executions) retried after the chain refused them.
pub const MAX_SUBMIT_ATTEMPTS: u32 = 16;
/// Unfinished batches handled per reconcile pass (the rest wait for the next).
const MAX_OPEN_PER_PASS: usize = 256;
/// Consecutive batches of a route that share one first-ranked submitter, so that member can
/// pipeline them (the chain takes sequence n+1 only after n); the role rotates per window.
pub const SUBMIT_WINDOW: u64 = 64;
/// Transfers the first-ranked member is expected to execute within one fallback period.
const EXECUTIONS_PER_FALLBACK: u32 = 16;
/// Unaccepted batches of one route a member may have submitted ahead of acceptance.
pub const MAX_PIPELINED_BATCHES: usize = 32;
/// How long after the signer gave up on a session (its attempts ran out, or it could not be
/// opened) this member vouches for it again: a backlog's sessions must not stall a route.
pub const SESSION_RETRY: Duration = Duration::from_secs(2);

pub struct AttesterSetup {
    pub committee_id: Hash32,
    pub key_epoch: u64,
    pub me: Identifier,
    pub members: Vec<Identifier>,
    /// Chains this relay follows and can submit to.
    pub chains: BTreeSet<ChainId>,
    pub batch_blocks: u64,
    pub max_batch: u32,
    pub fallback: Duration,
    pub governor: Governor,
    /// Destinations that take a whole batch in one transaction (`bridge_batch`), each with
    /// the largest such submission it accepts (`max_batch_bytes`).
    pub batch_submit: BTreeMap<ChainId, usize>,
}

pub struct Attester {
    pub(super) setup: AttesterSetup,
    pub(super) book: Book,
    signer: SignerHandle,
    pub(super) executor: Executor,
    pub(super) state: Mutex<Volatile>,
}

/// What is kept in memory only: rebuilt after a restart.
#[derive(Default)]
pub(super) struct Volatile {
    governor: Governor,
    /// Sessions vouched for in this run.
    vouched: BTreeSet<Hash32>,
    /// Sessions the signer gave up on, and when to vouch for each again; an entry lives at
    /// most [`SESSION_RETRY`].
    retry_at: BTreeMap<Hash32, Instant>,
    /// When this run first saw each batch (or control) signed / accepted (fallback timing).
    pub(super) signed_at: BTreeMap<Vec<u8>, Instant>,
    accepted_at: BTreeMap<Vec<u8>, Instant>,
    /// The destination block each batch was accepted in, as this run saw it, and the last
    /// head (finalized height) each followed chain delivered after all its events: see
    /// [`acceptance_block_complete`].
    accepted_in: BTreeMap<Vec<u8>, u64>,
    heads: BTreeMap<ChainId, u64>,
    /// Batches this run submitted (by submit attempt), and whose executions it queued (by
    /// execute attempt): each is handed to the executor once per attempt, not every pass.
    submitted: BTreeMap<Vec<u8>, u32>,
    executing: BTreeMap<Vec<u8>, u32>,
}

impl Attester {
    pub fn open(
        mut setup: AttesterSetup,
        durable: &crate::durable::Durable,
        signer: SignerHandle,
        executor: Executor,
    ) -> Result<Arc<Attester>> {
        let book = Book::open(durable)?;
        let governor = std::mem::take(&mut setup.governor);
        let governor = rebuild_governor(governor, &book)?;
        reseal_for_epoch(&book, &setup)?;
        Ok(Arc::new(Attester {
            setup,
            book,
            signer,
            executor,
            state: Mutex::new(Volatile {
                governor,
                ..Volatile::default()
            }),
        }))
    }

    pub fn book(&self) -> &Book {
        &self.book
    }

    pub fn members(&self) -> &[Identifier] {
        &self.setup.members
    }

    pub async fn vouched(&self, session: &Hash32) -> bool {
        self.state.lock().await.vouched.contains(session)
    }

    /// The signer gave up on `session`: vouch for it again after [`SESSION_RETRY`].
    pub async fn on_abandoned(&self, session: Hash32) {
        let mut state = self.state.lock().await;
        state.vouched.remove(&session);
        state
            .retry_at
            .insert(session, Instant::now() + SESSION_RETRY);
    }

    /// A signature completed: record it on its batch.
    pub async fn on_completion(&self, done: Completion) -> Result<()> {
        let a = match causeway_notary::Attestation::from_bytes(&done.message) {
            Ok(causeway_notary::Attestation::TransferBatch(a)) => a,
            Ok(_) => return self.on_control_signed(done).await,
            Err(_) => return Ok(()),
        };
        let _writer = self.state.lock().await;
        let Some(mut batch) = self
            .book
            .batch(&a.source_chain, &a.dest_chain, a.sequence)?
        else {
            tracing::warn!(session = %done.session, "signature for a batch this member does not hold");
            return Ok(());
        };
        if batch.session != done.session || batch.signature.is_some() {
            return Ok(());
        }
        batch.signature = Some(hex::encode(done.signature));
        batch.signed_ms = Some(now_ms());
        let mut changes = Changes::default();
        changes.put_batch(&batch);
        self.book.apply(changes).await?;
        tracing::info!(source = %a.source_chain, dest = %a.dest_chain, sequence = a.sequence, transfers = batch.transfers.len(), "batch attested");
        Ok(())
    }

    /// A chain action of ours finished. State follows the chains' events; a refusal only
    /// earns a retry with a fresh action id.
    pub async fn on_action_done(&self, done: &ActionDone) -> Result<()> {
        if done.id.starts_with(super::controls::CONTROL_ACTION_PREFIX) {
            return self.on_control_done(done).await;
        }
        let ActionStatus::Refused { reason } = &done.status else {
            return Ok(());
        };
        tracing::warn!(action = %done.id, chain = %done.chain, "chain refused a notary action: {reason}");
        let Some((source, dest, sequence, what, attempt)) = parse_action_id(&done.id) else {
            return Ok(());
        };
        if already_done(reason) {
            // Another member got there first: its event will mark the batch; no retry.
            return Ok(());
        }
        let _writer = self.state.lock().await;
        let Some(mut batch) = self.book.batch(&source, &dest, sequence)? else {
            return Ok(());
        };
        // One refusal moves its round on once: the other refused actions of that round (or
        // a transfer another member already paid) do not use up the rounds.
        let round = if what == "submit" {
            &mut batch.submit_attempt
        } else {
            &mut batch.execute_attempt
        };
        if *round != attempt {
            return Ok(());
        }
        *round += 1;
        let mut changes = Changes::default();
        changes.put_batch(&batch);
        self.book.apply(changes).await
    }

    /// Submits signed batches and executes accepted ones, the first-ranked member at once
    /// and the others only after their fallback delay.
    pub async fn reconcile(&self) -> Result<()> {
        self.reconcile_controls().await?;
        // Heads read before the batches: the book holds every event up to them, so a batch
        // read below was read with all of its acceptance block's payments.
        let heads = self.state.lock().await.heads.clone();
        let open = self.book.open_batches()?;
        // Per route: how many unaccepted batches are already on their way from this member.
        // The chain accepts sequence n only after n-1, and one account's transactions land
        // in nonce order, so this member may pipeline its own submissions; after a batch
        // someone else must submit, the route waits for acceptance.
        let mut in_flight: BTreeMap<(ChainId, ChainId), Option<usize>> = BTreeMap::new();
        self.forget_finished(&open).await;
        for batch in open.into_iter().take(MAX_OPEN_PER_PASS) {
            let route = (batch.source_chain.clone(), batch.dest_chain.clone());
            let key = batch_key(&batch.source_chain, &batch.dest_chain, batch.sequence);
            let signature = match (&batch.signature, batch.accepted) {
                (Some(signature), _) => signature.clone(),
                (None, true) => String::new(),
                (None, false) => {
                    self.vouch(&batch).await?;
                    in_flight.insert(route, None);
                    continue;
                }
            };
            let rank = self.rank(&submitter_seed(&batch)) as u32;
            let wait = self.setup.fallback * rank;
            if !batch.accepted {
                let ahead = in_flight.entry(route).or_insert(Some(0));
                if ahead.is_none_or(|depth| depth >= MAX_PIPELINED_BATCHES) {
                    continue;
                }
                let mut state = self.state.lock().await;
                let since = *state
                    .signed_at
                    .entry(key.clone())
                    .or_insert_with(Instant::now);
                let mine = state.submitted.get(&key) == Some(&batch.submit_attempt);
                let my_turn = since.elapsed() >= wait && batch.submit_attempt < MAX_SUBMIT_ATTEMPTS;
                let (step, next) = pipeline(*ahead, mine, my_turn);
                *ahead = next;
                if step != Pipeline::SubmitNow {
                    continue;
                }
                state.submitted.insert(key, batch.submit_attempt);
                drop(state);
                let whole_limit = self.setup.batch_submit.get(&batch.dest_chain).copied();
                let action = submission(&batch, signature, whole_limit);
                self.executor
                    .submit(
                        action_id(&batch, "submit", batch.submit_attempt),
                        &batch.dest_chain,
                        action,
                    )
                    .await?;
                continue;
            }
            // Executions are one transaction per transfer: a fallback member waits longer for
            // a large batch before it concludes the first-ranked one is not doing them.
            let wait = wait * (1 + batch.transfers.len() as u32 / EXECUTIONS_PER_FALLBACK);
            let mut state = self.state.lock().await;
            if !acceptance_block_complete(
                state.accepted_in.get(&key).copied(),
                heads.get(&batch.dest_chain).copied(),
            ) {
                continue;
            }
            let since = *state
                .accepted_at
                .entry(key.clone())
                .or_insert_with(Instant::now);
            if since.elapsed() < wait
                || batch.execute_attempt >= MAX_SUBMIT_ATTEMPTS
                || state.executing.get(&key) == Some(&batch.execute_attempt)
            {
                continue;
            }
            state.executing.insert(key, batch.execute_attempt);
            drop(state);
            let built = self.rebuild(&batch)?;
            for (index, transfer) in batch.transfers.iter().enumerate() {
                if batch.executed.get(index).copied().unwrap_or(true) {
                    continue;
                }
                self.executor
                    .submit(
                        format!(
                            "{}:{index}",
                            action_id(&batch, "execute", batch.execute_attempt)
                        ),
                        &batch.dest_chain,
                        Action::BridgeExecute {
                            transfer: transfer.clone(),
                            proof: built.proof(index)?,
                        },
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Drops the timing of batches no longer open, so memory stays bounded by open batches.
    async fn forget_finished(&self, open: &[BatchRecord]) {
        let keys: BTreeSet<Vec<u8>> = open
            .iter()
            .map(|b| batch_key(&b.source_chain, &b.dest_chain, b.sequence))
            .collect();
        let mut state = self.state.lock().await;
        let keep = |k: &Vec<u8>| keys.contains(k);
        state.signed_at.retain(|k, _| keep(k) || k.len() == 32);
        state.accepted_at.retain(|k, _| keep(k));
        state.accepted_in.retain(|k, _| keep(k));
        state.submitted.retain(|k, _| keep(k));
        state.executing.retain(|k, _| keep(k));
        let now = Instant::now();
        state.retry_at.retain(|_, at| *at > now);
    }

    async fn vouch(&self, batch: &BatchRecord) -> Result<()> {
        self.vouch_bytes(batch.session, &batch.attestation).await
    }

    /// Opens the signing session of attestation bytes this member built: once per run, and
    /// again after the signer gave up on it. Callers must not hold the state lock: the
    /// signer's queue may make this wait, and the signer's completions take that lock
    /// (regression: a member hung under load).
    pub(super) async fn vouch_bytes(&self, session: Hash32, attestation: &[u8]) -> Result<()> {
        let fresh = {
            let mut state = self.state.lock().await;
            match state.retry_at.get(&session) {
                Some(at) if Instant::now() < *at => false,
                _ => {
                    state.retry_at.remove(&session);
                    state.vouched.insert(session)
                }
            }
        };
        if fresh {
            self.signer.start(attestation.to_vec()).await?;
        }
        Ok(())
    }

    pub(super) fn rank(&self, session: &Hash32) -> usize {
        coordinator_order(session, &self.setup.members)
            .iter()
            .position(|m| *m == self.setup.me)
            .unwrap_or(0)
    }

    fn rebuild(&self, batch: &BatchRecord) -> Result<TransferBatch> {
        TransferBatch::build(
            self.setup.committee_id,
            self.setup.key_epoch,
            batch.source_chain.clone(),
            batch.dest_chain.clone(),
            batch.sequence,
            batch.transfers.to_vec(),
        )
        .context("a stored batch no longer builds")
    }

    async fn ingest(&self, chain: &ChainId, events: &[ChainEvent]) -> Result<()> {
        let mut changes = Changes::default();
        let mut touched = false;
        let mut batches: BTreeMap<Vec<u8>, BatchRecord> = BTreeMap::new();
        let mut state = self.state.lock().await;
        for event in events {
            match &event.kind {
                EventKind::BridgeSent {
                    sender,
                    dest_chain,
                    recipient,
                    asset,
                    dest_asset,
                    amount,
                } => {
                    if !self.setup.chains.contains(dest_chain) {
                        tracing::debug!(source = %chain, dest = %dest_chain, "bridge transfer to a chain this relay does not follow");
                        continue;
                    }
                    let key = transfer_key(chain, dest_chain, event.position);
                    if self.book.has_transfer(&key)? {
                        continue;
                    }
                    let transfer = Transfer {
                        source_chain: chain.clone(),
                        source_position: event.position,
                        source_tx_hash: event.tx_hash,
                        asset: asset.clone(),
                        amount: *amount,
                        sender: sender.clone(),
                        recipient: recipient.clone(),
                        dest_asset: dest_asset.clone(),
                    };
                    let state_now = match state.governor.check(&transfer, dest_chain, event.time_ms)
                    {
                        Ok(Decision::Approved) => TransferState::Pending,
                        Ok(Decision::Held { hold_id, reason }) => {
                            let _ = state.governor.reject(hold_id);
                            tracing::warn!(source = %chain, dest = %dest_chain, tx = %event.tx_hash, amount = %amount, "transfer held for operator review: {reason}");
                            TransferState::Held {
                                reason: reason.to_string(),
                            }
                        }
                        Err(e) => TransferState::Held {
                            reason: e.to_string(),
                        },
                    };
                    changes.put_transfer(
                        &key,
                        &TransferEntry {
                            transfer,
                            dest_chain: dest_chain.clone(),
                            time_ms: event.time_ms,
                            seen_ms: Some(now_ms()),
                            state: state_now,
                        },
                        None,
                    );
                    touched = true;
                }
                EventKind::BridgeKeyRotated { key_epoch, .. } => {
                    self.on_key_rotated(chain, *key_epoch, &mut changes)?;
                    touched = true;
                }
                EventKind::BridgeBatchAccepted {
                    source_chain,
                    sequence,
                    root,
                    ..
                } => {
                    let k = batch_key(source_chain, chain, *sequence);
                    let Some(mut batch) =
                        self.cached_batch(&mut batches, source_chain, chain, *sequence)?
                    else {
                        continue;
                    };
                    if batch_root(&batch) != Some(*root) {
                        tracing::error!(source = %source_chain, dest = %chain, sequence, "the chain accepted a batch with a root this member did not attest");
                        continue;
                    }
                    batch.accepted = true;
                    state.accepted_in.insert(k.clone(), event.position.height);
                    batches.insert(k, batch);
                }
                EventKind::BridgeReceived {
                    source_chain,
                    source_position,
                    ..
                } => {
                    let tkey = transfer_key(source_chain, chain, *source_position);
                    let Some(TransferEntry {
                        state: TransferState::Batched { sequence, index },
                        ..
                    }) = self.book.transfer(&tkey)?
                    else {
                        continue;
                    };
                    let Some(mut batch) =
                        self.cached_batch(&mut batches, source_chain, chain, sequence)?
                    else {
                        continue;
                    };
                    if let Some(i) = batch.place_of(index, *source_position) {
                        if let Some(flag) = batch.executed.get_mut(i) {
                            *flag = true;
                        }
                    }
                    batches.insert(batch_key(source_chain, chain, sequence), batch);
                }
                _ => {}
            }
        }
        for batch in batches.values() {
            changes.put_batch(batch);
            touched = true;
        }
        if touched {
            self.book.apply(changes).await?;
        }
        drop(state);
        Ok(())
    }

    fn cached_batch(
        &self,
        cache: &mut BTreeMap<Vec<u8>, BatchRecord>,
        source: &ChainId,
        dest: &ChainId,
        sequence: u64,
    ) -> Result<Option<BatchRecord>> {
        let k = batch_key(source, dest, sequence);
        if let Some(b) = cache.remove(&k) {
            return Ok(Some(b));
        }
        self.book.batch(source, dest, sequence)
    }

    /// Closes every batch whose boundary the source chain's finality has passed: pending
    /// transfers at heights up to the last multiple of `batch_blocks`, grouped by boundary,
    /// at most `max_batch` per batch, in position order (specs/notary.md §12.1).
    async fn close_batches(&self, source: &ChainId, finalized_height: u64) -> Result<()> {
        let state = self.state.lock().await;
        let k = self.setup.batch_blocks;
        let boundary = finalized_height / k * k;
        let mut new_batches = Vec::new();
        let mut changes = Changes::default();
        for dest in &self.setup.chains {
            if dest == source {
                continue;
            }
            let mut route = self.book.route(source, dest)?;
            let mut pending =
                self.book
                    .pending_of_route(source, dest, route.sealed_below, boundary)?;
            if pending.is_empty() {
                continue;
            }
            let bucket = |p: &PendingTransfer| p.entry.transfer.source_position.height.div_ceil(k);
            let mut start = 0;
            while start < pending.len() {
                let b = bucket(&pending[start]);
                let mut end = start;
                while end < pending.len()
                    && end - start < self.setup.max_batch as usize
                    && bucket(&pending[end]) == b
                {
                    end += 1;
                }
                let chunk = &mut pending[start..end];
                let batch = self.seal(source, dest, route.next_sequence, chunk, &mut changes)?;
                route.next_sequence += 1;
                new_batches.push(batch);
                start = end;
            }
            changes.put_route(
                source,
                dest,
                RouteState {
                    next_sequence: route.next_sequence,
                    // Everything pending up to the boundary is sealed now.
                    sealed_below: route
                        .sealed_below
                        .max(Some(Position::new(boundary.saturating_add(1), 0))),
                },
            );
        }
        if new_batches.is_empty() {
            return Ok(());
        }
        self.book.apply(changes).await?;
        drop(state);
        for batch in &new_batches {
            tracing::info!(source = %batch.source_chain, dest = %batch.dest_chain, sequence = batch.sequence, transfers = batch.transfers.len(), session = %batch.session, "batch closed; vouching");
            self.vouch(batch).await?;
        }
        Ok(())
    }

    fn seal(
        &self,
        source: &ChainId,
        dest: &ChainId,
        sequence: u64,
        chunk: &mut [PendingTransfer],
        changes: &mut Changes,
    ) -> Result<BatchRecord> {
        let transfers: Vec<Transfer> = chunk.iter().map(|p| p.entry.transfer.clone()).collect();
        let built = TransferBatch::build(
            self.setup.committee_id,
            self.setup.key_epoch,
            source.clone(),
            dest.clone(),
            sequence,
            transfers.clone(),
        )
        .with_context(|| format!("cannot build batch {sequence} of {source} → {dest}"))?;
        let attestation = built.signing_bytes()?;
        for (index, pending) in (0u32..).zip(chunk.iter_mut()) {
            let before = std::mem::replace(
                &mut pending.entry.state,
                TransferState::Batched {
                    sequence,
                    index: Some(index),
                },
            );
            changes.put_transfer(&pending.key, &pending.entry, Some(&before));
            if pending.listed {
                changes.unlist_pending(&pending.key);
            }
        }
        let record = BatchRecord {
            source_chain: source.clone(),
            dest_chain: dest.clone(),
            sequence,
            session: session_id(&attestation),
            attestation,
            executed: vec![false; transfers.len()],
            transfers: Arc::new(transfers),
            signature: None,
            signed_ms: None,
            accepted: false,
            submit_attempt: 0,
            execute_attempt: 0,
        };
        changes.put_new_batch(&record);
        Ok(record)
    }

    /// An operator's decision on a held transfer: release it into the next batch, or reject it.
    pub async fn review(&self, source_tx: &Hash32, release: bool) -> Result<usize> {
        let _writer = self.state.lock().await;
        let mut changes = Changes::default();
        let mut count = 0;
        for key in self.book.transfers_of_tx(source_tx)? {
            let Some(mut entry) = self.book.transfer(&key)? else {
                continue;
            };
            if !matches!(entry.state, TransferState::Held { .. }) {
                continue;
            }
            let before = std::mem::replace(
                &mut entry.state,
                if release {
                    TransferState::Pending
                } else {
                    TransferState::Rejected
                },
            );
            changes.put_transfer(&key, &entry, Some(&before));
            count += 1;
        }
        if count > 0 {
            self.book.apply(changes).await?;
        }
        Ok(count)
    }
}

#[async_trait]
impl EventConsumer for Attester {
    async fn on_events(&self, chain: &ChainId, events: &[ChainEvent]) -> Result<()> {
        self.ingest(chain, events).await
    }

    async fn on_head(&self, chain: &ChainId, finalized_height: u64, _time_ms: u64) -> Result<()> {
        self.state
            .lock()
            .await
            .heads
            .insert(chain.clone(), finalized_height);
        self.close_batches(chain, finalized_height).await
    }
}

/// Whether this member has taken in every event of the block that accepted a batch (its
/// follower delivered a head at or past it), so the batch's `executed` flags are complete.
/// A whole-batch submission pays every transfer in the acceptance's own transaction, but a
/// page of events can end between the acceptance and those payments: executing on the
/// flags alone sent every "unpaid" transfer again, each refused as already executed.
/// An acceptance seen before a restart is unknown and counts as complete: at worst a few
/// executions are refused as already done.
fn acceptance_block_complete(accepted_in: Option<u64>, head: Option<u64>) -> bool {
    match accepted_in {
        None => true,
        Some(height) => head.is_some_and(|head| head >= height),
    }
}

fn batch_root(batch: &BatchRecord) -> Option<Hash32> {
    match causeway_notary::Attestation::from_bytes(&batch.attestation).ok()? {
        causeway_notary::Attestation::TransferBatch(a) => Some(a.merkle_root),
        _ => None,
    }
}

/// `notary:<source>:<dest>:<sequence>:<what>:<attempt>` (executions add `:<index>`).
fn action_id(batch: &BatchRecord, what: &str, attempt: u32) -> String {
    format!(
        "notary:{}:{}:{}:{what}:{attempt}",
        batch.source_chain, batch.dest_chain, batch.sequence
    )
}

/// What orders the members for submitting `batch`: its route and sequence window, not its
/// session, so one member submits a window's batches back to back.
fn submitter_seed(batch: &BatchRecord) -> Hash32 {
    let mut seed = b"CAUSEWAY-NOTARY-SUBMITTER-V1".to_vec();
    seed.extend_from_slice(&route_key(&batch.source_chain, &batch.dest_chain));
    seed.extend_from_slice(&(batch.sequence / SUBMIT_WINDOW).to_be_bytes());
    causeway_core::sha256(&seed)
}

/// A refusal saying the work is already done on the chain (specs/devchain.md §13.3–§13.4,
/// the EVM bridge's `AlreadyExecuted`/`BatchAlreadyAccepted`, the Python ledger's replay).
fn already_done(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason.contains("replay") || reason.contains("already")
}

fn parse_action_id(id: &str) -> Option<(ChainId, ChainId, u64, String, u32)> {
    let mut parts = id.strip_prefix("notary:")?.split(':');
    let source = ChainId::new(parts.next()?).ok()?;
    let dest = ChainId::new(parts.next()?).ok()?;
    let sequence = parts.next()?.parse().ok()?;
    let what = parts.next()?.to_string();
    let attempt = parts.next()?.parse().ok()?;
    Some((source, dest, sequence, what, attempt))
}

/// After a key rotation, batches the chains have not accepted are re-sealed under the
/// new epoch (same transfers, same sequence): the chains accept only the current key.
fn reseal_for_epoch(book: &Book, setup: &AttesterSetup) -> Result<()> {
    let mut changes = Changes::default();
    let mut count = 0;
    for mut batch in book.open_batches()? {
        let stale = matches!(
            causeway_notary::Attestation::from_bytes(&batch.attestation),
            Ok(causeway_notary::Attestation::TransferBatch(a)) if a.key_epoch != setup.key_epoch
        );
        if !stale || batch.accepted {
            continue;
        }
        let built = TransferBatch::build(
            setup.committee_id,
            setup.key_epoch,
            batch.source_chain.clone(),
            batch.dest_chain.clone(),
            batch.sequence,
            batch.transfers.to_vec(),
        )?;
        batch.attestation = built.signing_bytes()?;
        batch.session = session_id(&batch.attestation);
        batch.signature = None;
        batch.signed_ms = None;
        changes.put_batch(&batch);
        count += 1;
    }
    if count > 0 {
        tracing::info!(
            batches = count,
            epoch = setup.key_epoch,
            "re-sealed unaccepted batches under the new key epoch"
        );
        book.tree_apply_blocking(changes)?;
    }
    Ok(())
}

/// After a restart the governor's windows are refilled from the approved transfers on
/// disk, oldest first, so a restart never opens a fresh allowance. Only those recent enough
/// to count are read: reading every transfer ever taken in made a member's start grow with
/// its history.
fn rebuild_governor(mut governor: Governor, book: &Book) -> Result<Governor> {
    let lookback = governor.lookback_ms();
    if lookback == 0 {
        return Ok(governor);
    }
    let mut approved = Vec::new();
    for entry in book.recent_transfers(lookback)? {
        if matches!(
            entry.state,
            TransferState::Pending | TransferState::Batched { .. }
        ) {
            approved.push(entry);
        }
    }
    approved.sort_by_key(|e| e.time_ms);
    for entry in approved {
        if let Ok(Decision::Held { hold_id, .. }) =
            governor.check(&entry.transfer, &entry.dest_chain, entry.time_ms)
        {
            let _ = governor.reject(hold_id);
        }
    }
    Ok(governor)
}

/// What the reconcile pass does with one signed, unaccepted batch of a route.
#[derive(Debug, PartialEq, Eq)]
enum Pipeline {
    /// Not now: its turn has not come, or it waits behind a batch that is not ours.
    Wait,
    /// This member submitted it already (this attempt).
    Submitted,
    SubmitNow,
}

/// The pipelining rule (specs/notary.md §12.2) for one batch, in sequence order. `ahead`
/// counts this member's own unaccepted submissions before it on the route, `None` once a
/// batch before it is someone else's or unsigned. Returns the step and the new `ahead`.
fn pipeline(ahead: Option<usize>, mine: bool, my_turn: bool) -> (Pipeline, Option<usize>) {
    match ahead {
        Some(depth) if depth < MAX_PIPELINED_BATCHES => match (mine, my_turn) {
            (true, _) => (Pipeline::Submitted, Some(depth + 1)),
            (false, true) => (Pipeline::SubmitNow, Some(depth + 1)),
            (false, false) => (Pipeline::Wait, None),
        },
        other => (Pipeline::Wait, other),
    }
}

/// The whole batch in one transaction where the destination takes one of up to
/// `whole_limit` bytes and it fits; the attestation alone (then one execution per transfer)
/// otherwise, and after a refusal (specs/notary.md §12.2).
fn submission(batch: &BatchRecord, signature: String, whole_limit: Option<usize>) -> Action {
    let attestation = hex::encode(&batch.attestation);
    if let (0, Some(limit)) = (batch.submit_attempt, whole_limit) {
        let whole = Action::BridgeSubmitBatch {
            attestation: attestation.clone(),
            signature: signature.clone(),
            transfers: batch.transfers.to_vec(),
        };
        if serde_json::to_vec(&whole).is_ok_and(|b| b.len() <= limit) {
            return whole;
        }
    }
    Action::BridgeSubmitAttestation {
        attestation,
        signature,
    }
}

#[cfg(test)]
mod tests {
    // Regression: a page of events ending between a batch's acceptance and its payments (a
    // 256-transfer batch is 257 events, a page 500) made the first-ranked member execute
    // every transfer again, each refused as already executed (700 refusals in a run).
    #[test]
    fn executions_wait_for_the_rest_of_the_acceptance_block() {
        assert!(!super::acceptance_block_complete(Some(7), None));
        assert!(!super::acceptance_block_complete(Some(7), Some(6)));
        assert!(super::acceptance_block_complete(Some(7), Some(7)));
        assert!(super::acceptance_block_complete(Some(7), Some(9)));
        assert!(super::acceptance_block_complete(None, None));
    }

    use super::*;
    use crate::notary::book::tests::batch;

    // Regression: every `relay_notaryTransfer` of a released transfer decoded its whole
    // batch's transfers to find its place (71% of a member's CPU under the load tool).
    #[test]
    fn a_transfer_is_placed_by_its_recorded_index_without_the_batch_transfers() {
        let full = batch(1, 4);
        let third = full.transfers[2].source_position;
        let mut status_only = full.clone();
        status_only.transfers = Arc::default();
        assert_eq!(status_only.place_of(Some(2), third), Some(2));
        assert_eq!(full.place_of(Some(2), third), Some(2));
        // Records without an index, or with one the transfers contradict, are scanned.
        assert_eq!(full.place_of(None, third), Some(2));
        assert_eq!(full.place_of(Some(0), third), Some(2));
        assert_eq!(status_only.place_of(None, third), None);
    }

    fn is_whole(action: &Action) -> bool {
        matches!(action, Action::BridgeSubmitBatch { .. })
    }

    // specs/notary.md §12.2: each destination's own whole-batch bound decides.
    #[test]
    fn a_batch_goes_whole_only_where_the_destination_takes_its_size() {
        let big = batch(1, 256);
        let devchain = causeway_adapters::Capabilities {
            transfer: true,
            htlc: true,
            bridge: true,
            bridge_batch: true,
            max_batch_bytes: 120 * 1024,
        };
        let declared = Some(devchain.max_batch_bytes as usize);
        let default = Some(causeway_adapters::DEFAULT_BATCH_SUBMISSION_BYTES as usize);
        assert!(is_whole(&submission(&big, "s".into(), declared)));
        assert!(!is_whole(&submission(&big, "s".into(), default)));
        assert!(is_whole(&submission(&batch(2, 8), "s".into(), default)));
        assert!(!is_whole(&submission(&batch(3, 8), "s".into(), None)));
        let mut refused = batch(4, 8);
        refused.submit_attempt = 1;
        assert!(!is_whole(&submission(&refused, "s".into(), declared)));
    }

    /// One pass over `batches` (mine, my turn) of one route, as `reconcile` walks them.
    fn pass(batches: &[(bool, bool)]) -> Vec<Pipeline> {
        let mut ahead = Some(0);
        batches
            .iter()
            .map(|&(mine, my_turn)| {
                let (step, next) = pipeline(ahead, mine, my_turn);
                ahead = next;
                step
            })
            .collect()
    }

    // Regression: only one new batch per route was submitted per reconcile pass (every
    // 100 ms), which capped a committee at about 320 transfers/s.
    #[test]
    fn consecutive_batches_whose_turn_it_is_are_all_submitted_in_one_pass() {
        assert_eq!(
            pass(&[(true, true), (false, true), (false, true), (false, true)]),
            [
                Pipeline::Submitted,
                Pipeline::SubmitNow,
                Pipeline::SubmitNow,
                Pipeline::SubmitNow
            ]
        );
    }

    #[test]
    fn nothing_is_submitted_behind_a_batch_that_is_not_ours() {
        assert_eq!(
            pass(&[(false, false), (false, true), (true, true)]),
            [Pipeline::Wait, Pipeline::Wait, Pipeline::Wait]
        );
    }

    #[test]
    fn at_most_max_pipelined_batches_are_in_flight_per_route() {
        let steps = pass(&[(false, true); MAX_PIPELINED_BATCHES + 3]);
        let submitted = steps.iter().filter(|s| **s == Pipeline::SubmitNow).count();
        assert_eq!(submitted, MAX_PIPELINED_BATCHES);
    }

    // Regression: a member's start decoded every transfer its book ever held to rebuild
    // the governor's windows. Reading each route back to the longest window gives the
    // same windows.
    #[test]
    fn the_governor_is_rebuilt_from_the_transfers_its_windows_can_still_count() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let book = Book::open(&crate::durable::Durable::new(&db)).unwrap();
        crate::notary::book::tests::put_pending_route(&book, "a", "b", 3_000);
        // An entry far older than any window is never read: the rebuild would fail on it.
        let ancient = transfer_key(
            &ChainId::new("a").unwrap(),
            &ChainId::new("b").unwrap(),
            Position::new(1, 0),
        );
        db.open_tree("notary")
            .unwrap()
            .insert(ancient, &b"not an entry"[..])
            .unwrap();
        let route = causeway_notary::governor::Route {
            source_chain: ChainId::new("a").unwrap(),
            dest_chain: ChainId::new("b").unwrap(),
            asset: causeway_core::AssetId::new("USD").unwrap(),
        };
        let limit = causeway_notary::governor::FlowLimit {
            route: route.clone(),
            ceiling: causeway_core::Amount(u128::MAX / 2),
            window_ms: 1_000,
        };
        let mut rebuilt = rebuild_governor(Governor::new(vec![limit]).unwrap(), &book).unwrap();
        // Transfers 2,900..2,999 (block times 29,000..29,990) are in the window ending at
        // the newest; transfer i carries 1,000 + i.
        let expected: u128 = (2_900..3_000u128).map(|i| 1_000 + i).sum();
        assert_eq!(
            rebuilt.window_total(&route),
            causeway_core::Amount(expected)
        );
    }
}
