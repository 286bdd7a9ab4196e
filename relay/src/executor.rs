//! Performs chain actions for the protocols, durably: each action is recorded under a stable
//! id before anything is signed, its signed transaction is recorded before it is broadcast,
//! and after a restart every unfinished action is re-sent with the *same* transaction. So an
//! action is never executed twice with different effects, and never forgotten.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use causeway_adapters::{Action, AdapterError, ChainAdapter, PreparedTx, TxOutcome, TxState};
use causeway_core::ChainId;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};

/// Actions queued per chain before `submit` waits.
pub const QUEUE_PER_CHAIN: usize = 4_096;
/// Transactions awaited at once (each is a polling task).
pub const MAX_WATCHED: usize = 4_096;
/// Outcomes buffered for the owner before watchers wait.
pub const OUTCOME_QUEUE: usize = 16_384;
/// How long one wait for finality lasts before it is logged and started again.
const FINALITY_WAIT: Duration = Duration::from_secs(120);
/// Longest pause between broadcast retries of an unreachable chain.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

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
}

/// What the owner of an action learns when it is done.
#[derive(Clone, Debug)]
pub struct ActionDone {
    pub id: String,
    pub chain: ChainId,
    pub status: ActionStatus,
    pub tx: Option<PreparedTx>,
}

#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    actions: sled::Tree,
    adapters: BTreeMap<ChainId, Arc<dyn ChainAdapter>>,
    queues: BTreeMap<ChainId, mpsc::Sender<String>>,
    done: mpsc::Sender<ActionDone>,
    watch_slots: Arc<Semaphore>,
    /// Actions recorded and not yet final or refused (a metric for the status API).
    in_flight: std::sync::atomic::AtomicUsize,
}

impl Executor {
    /// Opens the executor over `db`, starts one worker per chain, and re-queues every
    /// unfinished action found on disk. Outcomes arrive on the returned receiver.
    pub fn start(
        db: &sled::Db,
        adapters: BTreeMap<ChainId, Arc<dyn ChainAdapter>>,
    ) -> Result<(Executor, mpsc::Receiver<ActionDone>)> {
        let actions = db.open_tree("actions")?;
        let (done_tx, done_rx) = mpsc::channel(OUTCOME_QUEUE);
        let mut queues = BTreeMap::new();
        let mut receivers = Vec::new();
        for chain in adapters.keys() {
            let (tx, rx) = mpsc::channel(QUEUE_PER_CHAIN);
            queues.insert(chain.clone(), tx);
            receivers.push((chain.clone(), rx));
        }
        let executor = Executor {
            inner: Arc::new(Inner {
                db: db.clone(),
                actions,
                adapters,
                queues,
                done: done_tx,
                watch_slots: Arc::new(Semaphore::new(MAX_WATCHED)),
                in_flight: Default::default(),
            }),
        };
        for (chain, rx) in receivers {
            let ex = executor.clone();
            tokio::spawn(async move { ex.worker(chain, rx).await });
        }
        let mut unfinished: Vec<ActionRecord> = executor
            .records()?
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
    /// nothing and returns the existing record.
    pub async fn submit(
        &self,
        id: String,
        chain: &ChainId,
        action: Action,
    ) -> Result<ActionRecord> {
        if let Some(existing) = self.get(&id)? {
            return Ok(existing);
        }
        let queue = self.inner.queues.get(chain).with_context(|| {
            format!("action {id}: chain {chain} is not configured in this relay")
        })?;
        let record = ActionRecord {
            seq: self.inner.db.generate_id()?,
            id: id.clone(),
            chain: chain.clone(),
            action,
            tx: None,
            status: ActionStatus::Queued,
            broadcasts: 0,
        };
        self.put(&record).await?;
        self.inner
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        queue
            .send(id)
            .await
            .map_err(|_| anyhow::anyhow!("executor for chain {chain} has stopped"))?;
        Ok(record)
    }

    /// Actions recorded and not yet done.
    pub fn in_flight(&self) -> usize {
        self.inner
            .in_flight
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn get(&self, id: &str) -> Result<Option<ActionRecord>> {
        Ok(match self.inner.actions.get(id)? {
            Some(v) => Some(serde_json::from_slice(&v).context("corrupt action record")?),
            None => None,
        })
    }

    pub fn records(&self) -> Result<Vec<ActionRecord>> {
        self.inner
            .actions
            .iter()
            .map(|kv| serde_json::from_slice(&kv?.1).context("corrupt action record"))
            .collect()
    }

    /// Writes a record durably: nothing is broadcast before its record is on disk.
    async fn put(&self, record: &ActionRecord) -> Result<()> {
        self.inner
            .actions
            .insert(record.id.as_bytes(), serde_json::to_vec(record)?)?;
        crate::durable::flush(&self.inner.db).await?;
        Ok(())
    }

    async fn worker(self, chain: ChainId, mut rx: mpsc::Receiver<String>) {
        while let Some(id) = rx.recv().await {
            if let Err(err) = self.send_one(&chain, &id).await {
                tracing::error!(action = %id, chain = %chain, "action failed: {err:#}");
            }
        }
    }

    /// Signs (if not yet signed) and broadcasts one action, then hands it to a watcher.
    async fn send_one(&self, chain: &ChainId, id: &str) -> Result<()> {
        let Some(mut record) = self.get(id)? else {
            bail!("no record")
        };
        if record.status.is_done() {
            return Ok(());
        }
        let adapter = self
            .inner
            .adapters
            .get(chain)
            .context("chain not configured")?
            .clone();
        let mut pause = Duration::from_millis(100);
        loop {
            if record.tx.is_none() {
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
                        continue;
                    }
                    Err(e) => {
                        return self
                            .finish(
                                record,
                                ActionStatus::Refused {
                                    reason: e.to_string(),
                                },
                            )
                            .await
                    }
                }
            }
            let tx = record.tx.clone().expect("prepared above");
            match adapter.broadcast(&tx).await {
                Ok(()) => {
                    record.broadcasts += 1;
                    tracing::info!(action = %id, chain = %chain, tx = %tx.id, "broadcast {}", tx.action.name());
                    break;
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(action = %id, "broadcast failed, retrying: {e}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                }
                Err(e) => return self.refused(record, &adapter, e).await,
            }
        }
        let permit = self.inner.watch_slots.clone().acquire_owned().await?;
        let ex = self.clone();
        tokio::spawn(async move {
            ex.watch(record, adapter).await;
            drop(permit);
        });
        Ok(())
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

    async fn watch(&self, record: ActionRecord, adapter: Arc<dyn ChainAdapter>) {
        let Some(tx) = record.tx.clone() else { return };
        loop {
            match adapter.wait_final(&tx, FINALITY_WAIT).await {
                Ok(TxState::Final { height, outcome }) => {
                    if let Err(e) = self
                        .finish(record.clone(), ActionStatus::Final { height, outcome })
                        .await
                    {
                        tracing::error!(action = %record.id, "cannot record outcome: {e:#}");
                    }
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(action = %record.id, tx = %tx.id, "still waiting for finality: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn finish(&self, mut record: ActionRecord, status: ActionStatus) -> Result<()> {
        record.status = status.clone();
        self.put(&record).await?;
        self.inner
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let _ = self
            .inner
            .done
            .send(ActionDone {
                id: record.id.clone(),
                chain: record.chain.clone(),
                status,
                tx: record.tx.clone(),
            })
            .await;
        Ok(())
    }
}
