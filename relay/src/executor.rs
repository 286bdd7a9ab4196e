//! Performs chain actions for the protocols, durably: each action is recorded under a stable
//! id before anything is signed, its signed transaction is on disk before it is broadcast
//! (one flush for every action of a chain signed together), and after a restart every
//! unfinished action is re-sent with the *same* transaction. So an action is never executed
//! twice with different effects, and never forgotten.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_adapters::{Action, AdapterError, ChainAdapter, PreparedTx, TxOutcome, TxState};
use causeway_core::ChainId;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};

mod records;
use records::{Records, Stored};

/// Actions queued per chain before `submit` waits.
pub const QUEUE_PER_CHAIN: usize = 4_096;
/// Transactions awaited at once (each chain's watcher asks for all of its own per block).
pub const MAX_WATCHED: usize = 4_096;
/// Longest a watcher waits between two status queries on a chain that cannot announce
/// final blocks (a devchain node answers the moment one is final).
const WATCH_POLL: Duration = Duration::from_millis(100);
/// Outcomes buffered for the owner before watchers wait.
pub const OUTCOME_QUEUE: usize = 16_384;
/// How long a transaction may wait for finality before the watcher logs it (then again
/// after as long again).
const FINALITY_WAIT: Duration = Duration::from_secs(120);
/// Longest pause between broadcast retries of an unreachable chain.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// Most queued actions of one chain signed and recorded under one flush.
pub const MAX_SEND_BATCH: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ActionStatus {
    /// Recorded; not signed yet.
    Queued,
    /// Signed and recorded; broadcast at least once or about to be.
    Sent,
    Final {
        height: u64,
        outcome: TxOutcome,
    },
    /// The chain refused the transaction outright; it never took effect.
    Refused {
        reason: String,
    },
}

impl ActionStatus {
    pub fn is_done(&self) -> bool {
        matches!(
            self,
            ActionStatus::Final { .. } | ActionStatus::Refused { .. }
        )
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Order of submission, to re-send in the same order after a restart.
    pub seq: u64,
    /// The owner's stable id, e.g. `swap:<id>:claim-b`.
    pub id: String,
    pub chain: ChainId,
    pub action: Action,
    pub tx: Option<PreparedTx>,
    pub status: ActionStatus,
    pub broadcasts: u32,
    /// Local wall-clock time of the first accepted broadcast (for latency figures; it is
    /// not persisted before the broadcast, so it may be missing after a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_broadcast_ms: Option<u64>,
}

/// What the owner of an action learns when it is done.
#[derive(Clone, Debug)]
pub struct ActionDone {
    pub id: String,
    pub chain: ChainId,
    pub status: ActionStatus,
    /// None when a finished action's outcome is delivered again (see
    /// [`Executor::submit_many`]): only its header is kept.
    pub tx: Option<PreparedTx>,
    /// See [`ActionRecord::first_broadcast_ms`].
    pub first_broadcast_ms: Option<u64>,
}

/// Local wall-clock milliseconds, for records shown to people (never for deadlines).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    durable: crate::durable::Durable,
    records: Records,
    adapters: BTreeMap<ChainId, Arc<dyn ChainAdapter>>,
    queues: BTreeMap<ChainId, mpsc::Sender<String>>,
    /// Each chain's watcher, which learns the outcome of every broadcast transaction.
    watchers: BTreeMap<ChainId, mpsc::Sender<Watched>>,
    done: mpsc::Sender<ActionDone>,
    watch_slots: Arc<Semaphore>,
    /// Actions recorded and not yet final or refused (a metric for the status API).
    in_flight: std::sync::atomic::AtomicUsize,
}

impl Executor {
    /// Opens the executor over `db`, starts one worker per chain, and re-queues every
    /// unfinished action found on disk. Outcomes arrive on the returned receiver.
    pub fn start(
        durable: &crate::durable::Durable,
        adapters: BTreeMap<ChainId, Arc<dyn ChainAdapter>>,
    ) -> Result<(Executor, mpsc::Receiver<ActionDone>)> {
        let db = durable.db();
        let records = Records::open(db.open_tree("actions")?)?;
        let (done_tx, done_rx) = mpsc::channel(OUTCOME_QUEUE);
        let mut queues = BTreeMap::new();
        let mut watchers = BTreeMap::new();
        let mut receivers = Vec::new();
        for chain in adapters.keys() {
            let (tx, rx) = mpsc::channel(QUEUE_PER_CHAIN);
            queues.insert(chain.clone(), tx);
            let (watch_tx, watch_rx) = mpsc::channel(MAX_WATCHED);
            watchers.insert(chain.clone(), watch_tx);
            receivers.push((chain.clone(), rx, watch_rx));
        }
        let executor = Executor {
            inner: Arc::new(Inner {
                db: db.clone(),
                durable: durable.clone(),
                records,
                adapters,
                queues,
                watchers,
                done: done_tx,
                watch_slots: Arc::new(Semaphore::new(MAX_WATCHED)),
                in_flight: Default::default(),
            }),
        };
        for (chain, rx, watch_rx) in receivers {
            let ex = executor.clone();
            let chain_of_watcher = chain.clone();
            tokio::spawn(async move { ex.worker(chain, rx).await });
            let ex = executor.clone();
            tokio::spawn(async move { ex.watcher(chain_of_watcher, watch_rx).await });
        }
        let mut unfinished: Vec<records::Header> = executor
            .inner
            .records
            .headers()?
            .into_iter()
            .filter(|r| !r.status.is_done())
            .collect();
        unfinished.sort_by_key(|r| r.seq);
        executor
            .inner
            .in_flight
            .store(unfinished.len(), std::sync::atomic::Ordering::Relaxed);
        for record in unfinished {
            tracing::info!(action = %record.id, chain = %record.chain, status = ?record.status, "resuming action");
            let queue = executor.inner.queues.get(&record.chain).cloned();
            match queue {
                Some(q) => {
                    let ex = executor.clone();
                    tokio::spawn(async move {
                        let _ = q.send(record.id).await;
                        drop(ex);
                    });
                }
                None => {
                    tracing::error!(action = %record.id, chain = %record.chain, "action for a chain no longer configured; add the chain back to finish it")
                }
            }
        }
        Ok((executor, done_rx))
    }

    /// Records and queues an action. Idempotent by `id`: a second submit of the same id does
    /// nothing, whether the first is still under way or done.
    pub async fn submit(&self, id: String, chain: &ChainId, action: Action) -> Result<()> {
        self.submit_many(vec![(id, chain.clone(), action)]).await
    }

    /// Records several actions, then queues them in order; idempotent by id like
    /// [`Executor::submit`]. An id already done has its recorded outcome delivered again:
    /// a crash between storing an outcome and delivering it would otherwise lose it for
    /// good, since the owner's re-submission at start found the id done and did nothing.
    /// Owners take a repeated outcome as a no-op.
    ///
    /// The records are not flushed here: the worker's flush, which stores the signed
    /// transaction before it is broadcast, covers them. A crash before that loses only
    /// actions nothing has done yet, and every owner submits its pending actions again at
    /// start from its own durable state (swaps: `pending_actions`; the notary: its book),
    /// under the same ids.
    pub async fn submit_many(&self, actions: Vec<(String, ChainId, Action)>) -> Result<()> {
        // Every chain and id first: nothing is recorded unless all of them can be queued.
        for (id, chain, _) in &actions {
            if !self.inner.queues.contains_key(chain) {
                bail!("action {id}: chain {chain} is not configured in this relay");
            }
            Records::check_id(id)?;
        }
        let mut fresh = Vec::new();
        let mut redelivered = Vec::new();
        for (id, chain, action) in actions {
            match self.inner.records.get(&id)? {
                Some(Stored::Unfinished(_)) => continue,
                Some(Stored::Done(header)) => {
                    redelivered.push(ActionDone {
                        id,
                        chain: header.chain,
                        status: header.status,
                        tx: None,
                        first_broadcast_ms: header.first_broadcast_ms,
                    });
                    continue;
                }
                None => {}
            }
            let queue = &self.inner.queues[&chain];
            let record = ActionRecord {
                seq: self.inner.db.generate_id()?,
                id,
                chain,
                action,
                tx: None,
                status: ActionStatus::Queued,
                broadcasts: 0,
                first_broadcast_ms: None,
            };
            self.write(&record)?;
            fresh.push((queue.clone(), record.id, record.chain));
        }
        self.inner
            .in_flight
            .fetch_add(fresh.len(), std::sync::atomic::Ordering::Relaxed);
        for (queue, id, chain) in fresh {
            queue
                .send(id)
                .await
                .map_err(|_| anyhow::anyhow!("executor for chain {chain} has stopped"))?;
        }
        if !redelivered.is_empty() {
            // Not awaited here: the owner may be submitting from the task that drains the
            // outcome queue, which would then wait on itself once the queue is full.
            let done = self.inner.done.clone();
            tokio::spawn(async move {
                for outcome in redelivered {
                    let _ = done.send(outcome).await;
                }
            });
        }
        Ok(())
    }

    /// Actions recorded and not yet done.
    pub fn in_flight(&self) -> usize {
        self.inner
            .in_flight
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// An action still to be done; `None` if it is done or was never submitted.
    fn unfinished(&self, id: &str) -> Result<Option<ActionRecord>> {
        Ok(match self.inner.records.get(id)? {
            Some(Stored::Unfinished(record)) => Some(*record),
            Some(Stored::Done(_)) | None => None,
        })
    }

    /// Writes a record durably: nothing is broadcast before its record is on disk.
    async fn put(&self, record: &ActionRecord) -> Result<()> {
        self.write(record)?;
        self.inner.durable.flush().await?;
        Ok(())
    }

    /// Writes a record, not yet durably: a flush must follow before anything acts on it.
    fn write(&self, record: &ActionRecord) -> Result<()> {
        self.inner.records.write(record)
    }

    async fn worker(self, chain: ChainId, mut rx: mpsc::Receiver<String>) {
        let mut ids = Vec::with_capacity(MAX_SEND_BATCH);
        while rx.recv_many(&mut ids, MAX_SEND_BATCH).await > 0 {
            if let Err(err) = self.send_batch(&chain, &ids).await {
                tracing::error!(chain = %chain, actions = ids.len(), "actions failed: {err:#}");
            }
            ids.clear();
        }
    }

    fn adapter(&self, chain: &ChainId) -> Result<Arc<dyn ChainAdapter>> {
        let adapter = self.inner.adapters.get(chain);
        Ok(adapter.context("chain not configured")?.clone())
    }

    /// Signs every queued action of one chain that is not signed yet, records them all with
    /// one flush, then broadcasts them in order. An action that cannot be signed now, or that
    /// was signed after a refused one in this batch, goes through [`Self::send_one`] alone.
    async fn send_batch(&self, chain: &ChainId, ids: &[String]) -> Result<()> {
        let adapter = self.adapter(chain)?;
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            records.extend(self.unfinished(id)?);
        }
        let unsigned: Vec<Action> = records
            .iter()
            .filter(|r| r.tx.is_none())
            .map(|r| r.action.clone())
            .collect();
        let mut prepared = adapter.prepare_many(&unsigned).await.into_iter();
        let mut ready = Vec::with_capacity(records.len());
        let mut alone = Vec::new();
        for mut record in records {
            let mut signed_now = false;
            if record.tx.is_none() {
                let Some(result) = prepared.next() else {
                    // An adapter that answered fewer than asked: this one goes alone.
                    alone.push(record.id);
                    continue;
                };
                match result {
                    Ok(tx) => {
                        record.tx = Some(tx);
                        record.status = ActionStatus::Sent;
                        self.write(&record)?;
                        signed_now = true;
                    }
                    Err(e) if e.is_transient() => {
                        alone.push(record.id);
                        continue;
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        self.finish(record, ActionStatus::Refused { reason })
                            .await?;
                        continue;
                    }
                }
            }
            ready.push((record, signed_now));
        }
        if ready.iter().any(|(_, signed_now)| *signed_now) {
            self.inner.durable.flush().await?;
        }
        let mut refused = false;
        for (mut record, signed_now) in ready {
            if refused && signed_now {
                // Signed after a transaction the chain refused, so its nonce may now leave a
                // gap; it was never broadcast, so it may be signed again.
                record.tx = None;
                record.status = ActionStatus::Queued;
                self.put(&record).await?;
                alone.push(record.id);
                continue;
            }
            if !self.broadcast_and_watch(record, &adapter).await? {
                refused = true;
            }
        }
        for id in alone {
            if let Err(err) = self.send_one(chain, &id).await {
                tracing::error!(action = %id, chain = %chain, "action failed: {err:#}");
            }
        }
        Ok(())
    }

    /// Signs one action alone (waiting out a chain that cannot sign it yet), records it, and
    /// broadcasts it.
    async fn send_one(&self, chain: &ChainId, id: &str) -> Result<()> {
        let Some(mut record) = self.unfinished(id)? else {
            return Ok(());
        };
        let adapter = self.adapter(chain)?;
        let mut pause = Duration::from_millis(100);
        while record.tx.is_none() {
            match adapter.prepare(&record.action).await {
                Ok(tx) => {
                    record.tx = Some(tx);
                    record.status = ActionStatus::Sent;
                    self.put(&record).await?;
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(action = %id, "cannot prepare yet: {e}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                }
                Err(e) => {
                    let reason = e.to_string();
                    return self.finish(record, ActionStatus::Refused { reason }).await;
                }
            }
        }
        self.broadcast_and_watch(record, &adapter).await?;
        Ok(())
    }

    /// Broadcasts a recorded transaction (retrying while the chain is unreachable) and hands
    /// it to a watcher. Returns false if the chain refused it.
    async fn broadcast_and_watch(
        &self,
        mut record: ActionRecord,
        adapter: &Arc<dyn ChainAdapter>,
    ) -> Result<bool> {
        let tx = record
            .tx
            .clone()
            .context("broadcast of an unsigned action")?;
        let mut pause = Duration::from_millis(100);
        loop {
            match adapter.broadcast(&tx).await {
                Ok(()) => {
                    record.broadcasts += 1;
                    record.first_broadcast_ms.get_or_insert_with(now_ms);
                    tracing::info!(action = %record.id, chain = %record.chain, tx = %tx.id, "broadcast {}", tx.action.name());
                    break;
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(action = %record.id, "broadcast failed, retrying: {e}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                }
                Err(e) => {
                    self.refused(record, adapter, e).await?;
                    return Ok(false);
                }
            }
        }
        let permit = self.inner.watch_slots.clone().acquire_owned().await?;
        let watcher = self
            .inner
            .watchers
            .get(&record.chain)
            .context("no watcher for the chain")?;
        let chain = record.chain.clone();
        watcher
            .send(Watched {
                tx_id: tx.id,
                record,
                since: Instant::now(),
                _slot: permit,
            })
            .await
            .map_err(|_| anyhow::anyhow!("the watcher of chain {chain} has stopped"))?;
        Ok(true)
    }

    /// A refusal at broadcast: the transaction may still have landed before (a re-send
    /// after a restart), so ask the chain before calling it refused.
    async fn refused(
        &self,
        record: ActionRecord,
        adapter: &Arc<dyn ChainAdapter>,
        err: AdapterError,
    ) -> Result<()> {
        if let Some(tx) = &record.tx {
            if let Ok(TxState::Final { height, outcome }) = adapter.tx_status(&tx.id).await {
                return self
                    .finish(record, ActionStatus::Final { height, outcome })
                    .await;
            }
        }
        tracing::warn!(action = %record.id, "refused by the chain: {err}");
        self.finish(
            record,
            ActionStatus::Refused {
                reason: err.to_string(),
            },
        )
        .await
    }

    /// Learns the outcome of every transaction of `chain` broadcast by this executor: once
    /// per final block (or [`WATCH_POLL`] where the chain cannot announce one) it asks for all
    /// of their statuses at once, records every final one under one flush, and re-broadcasts
    /// any the chain has forgotten.
    async fn watcher(self, chain: ChainId, mut rx: mpsc::Receiver<Watched>) {
        let Ok(adapter) = self.adapter(&chain) else {
            return;
        };
        let mut watched: Vec<Watched> = Vec::new();
        loop {
            if watched.is_empty() {
                match rx.recv().await {
                    Some(w) => watched.push(w),
                    None => return,
                }
            }
            while let Ok(w) = rx.try_recv() {
                watched.push(w);
            }
            match self.watch_round(&adapter, &mut watched).await {
                Ok(head) => {
                    if !watched.is_empty() {
                        let _ = adapter.wait_for_finalized(head, WATCH_POLL).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(chain = %chain, transactions = watched.len(), "cannot learn transaction outcomes yet: {e:#}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// One query of every watched transaction's status; returns the finalized height seen
    /// before it, for the wait for the next final block.
    async fn watch_round(
        &self,
        adapter: &Arc<dyn ChainAdapter>,
        watched: &mut Vec<Watched>,
    ) -> Result<u64> {
        let head = adapter.info().await?.finalized_height;
        let ids: Vec<_> = watched.iter().map(|w| w.tx_id).collect();
        let statuses = adapter.tx_statuses(&ids).await?;
        if statuses.len() != ids.len() {
            bail!(
                "asked the status of {} transactions, the adapter answered {}",
                ids.len(),
                statuses.len()
            );
        }
        let mut finals = Vec::new();
        let mut still = Vec::with_capacity(watched.len());
        for (mut w, status) in std::mem::take(watched).into_iter().zip(statuses) {
            match status {
                TxState::Final { height, outcome } => {
                    finals.push((w.record, ActionStatus::Final { height, outcome }));
                    continue;
                }
                TxState::Unknown => {
                    if let Some(tx) = &w.record.tx {
                        if let Err(e) = adapter.broadcast(tx).await {
                            tracing::warn!(action = %w.record.id, "re-broadcast of a forgotten transaction failed: {e}");
                        }
                    }
                }
                TxState::Pending | TxState::Included { .. } => {}
            }
            if w.since.elapsed() >= FINALITY_WAIT {
                tracing::warn!(action = %w.record.id, tx = %w.tx_id, "still waiting for finality after {FINALITY_WAIT:?}");
                w.since = Instant::now();
            }
            still.push(w);
        }
        *watched = still;
        if let Err(e) = self.finish_all(finals).await {
            tracing::error!("cannot record outcomes: {e:#}");
        }
        Ok(head)
    }

    async fn finish(&self, record: ActionRecord, status: ActionStatus) -> Result<()> {
        self.finish_all(vec![(record, status)]).await
    }

    /// Records every outcome under one flush, then tells the owner of each.
    async fn finish_all(&self, outcomes: Vec<(ActionRecord, ActionStatus)>) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut records = Vec::with_capacity(outcomes.len());
        for (mut record, status) in outcomes {
            record.status = status;
            self.write(&record)?;
            records.push(record);
        }
        self.inner.durable.flush().await?;
        self.inner
            .in_flight
            .fetch_sub(records.len(), std::sync::atomic::Ordering::Relaxed);
        for record in records {
            let _ = self
                .inner
                .done
                .send(ActionDone {
                    id: record.id,
                    chain: record.chain,
                    status: record.status,
                    tx: record.tx,
                    first_broadcast_ms: record.first_broadcast_ms,
                })
                .await;
        }
        Ok(())
    }
}

/// A broadcast transaction its chain's watcher waits on, holding one of [`MAX_WATCHED`]
/// slots.
struct Watched {
    tx_id: causeway_core::Hash32,
    record: ActionRecord,
    /// Broadcast, or last logged as still waiting.
    since: Instant,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_adapters::devchain::DevchainAdapter;
    use causeway_core::{Address, Amount, AssetId};

    // Regression: an outcome stored, then lost to a crash before its owner heard of it, was
    // never delivered: the owner's re-submission at start found the id done and did nothing.
    #[tokio::test]
    async fn a_done_action_submitted_again_has_its_outcome_delivered_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let chain = ChainId::new("a").unwrap();
        let id = "swap:x:lock";
        let header = records::Header {
            seq: 1,
            id: id.into(),
            chain: chain.clone(),
            status: ActionStatus::Refused {
                reason: "insufficient balance".into(),
            },
            broadcasts: 1,
            first_broadcast_ms: Some(5),
            tx_id: None,
        };
        db.open_tree("actions")
            .unwrap()
            .insert(id, serde_json::to_vec(&header).unwrap())
            .unwrap();
        // Never reached: a done action is not sent again.
        let adapter: Arc<dyn ChainAdapter> =
            Arc::new(DevchainAdapter::new(chain.clone(), "http://127.0.0.1:9", None).unwrap());
        let (executor, mut outcomes) = Executor::start(
            &crate::durable::Durable::new(&db),
            BTreeMap::from([(chain.clone(), adapter)]),
        )
        .unwrap();
        let action = Action::Transfer {
            to: Address::new("bb").unwrap(),
            asset: AssetId::new("USD").unwrap(),
            amount: Amount(1),
        };
        executor.submit(id.into(), &chain, action).await.unwrap();
        let done = tokio::time::timeout(Duration::from_secs(10), outcomes.recv())
            .await
            .expect("the outcome is delivered again")
            .unwrap();
        assert_eq!(done.id, id);
        assert!(matches!(done.status, ActionStatus::Refused { .. }));
        assert_eq!(done.first_broadcast_ms, Some(5));
        assert_eq!(executor.in_flight(), 0);
    }
}
