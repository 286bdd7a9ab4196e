use std::time::Duration;

use async_trait::async_trait;
use causeway_core::{
    sha256, Address, Amount, AssetId, ChainId, ChainInfo, Cursor, EventPage, Hash32,
};

use crate::{
    Action, AdapterError, Capabilities, PreparedTx, TxState, DEFAULT_BATCH_SUBMISSION_BYTES,
};

/// How a relay reaches one chain.
///
/// The required core is small: identity, finalized events from a cursor, balances, and
/// prepare/broadcast/status of transactions. Everything else has a default built on it
/// (like ripgrep's `Matcher`), so a new chain implements seven methods and is done.
///
/// Contract (see `specs/adapter.md`):
/// - `events` returns only *finalized* events, in strictly increasing position order, and
///   the same cursor always yields the same events: a relay that persists `next` neither
///   misses nor repeats an event across restarts.
/// - `broadcast` is idempotent: broadcasting the same [`PreparedTx`] twice has one effect.
/// - Deadlines are judged by `ChainInfo::finalized_time_ms`, the chain's own clock.
#[async_trait]
pub trait ChainAdapter: Send + Sync + 'static {
    /// The chain this adapter was configured for; every error names it.
    fn chain_id(&self) -> &ChainId;

    /// Identity, heights, finality rule, block time. Fails with `WrongChain` if the
    /// endpoint serves another chain than configured.
    async fn info(&self) -> Result<ChainInfo, AdapterError>;

    /// Finalized events at positions `>= from`, at most `limit`, in order.
    async fn events(&self, from: Cursor, limit: u32) -> Result<EventPage, AdapterError>;

    async fn balance(&self, account: &Address, asset: &AssetId) -> Result<Amount, AdapterError>;

    /// Builds and signs the transaction for `action` with this adapter's account. Nothing is
    /// sent; the caller persists the result, then calls [`ChainAdapter::broadcast`].
    async fn prepare(&self, action: &Action) -> Result<PreparedTx, AdapterError>;

    /// [`ChainAdapter::prepare`] for several actions, in order, one result each; a relay
    /// signing a batch asks once. The default prepares each in turn; a chain can share
    /// what the actions have in common (devchain reads the account's nonce once).
    async fn prepare_many(&self, actions: &[Action]) -> Vec<Result<PreparedTx, AdapterError>> {
        let mut prepared = Vec::with_capacity(actions.len());
        for action in actions {
            prepared.push(self.prepare(action).await);
        }
        prepared
    }

    /// Sends a prepared transaction. Sending one the chain already has is not an error.
    async fn broadcast(&self, tx: &PreparedTx) -> Result<(), AdapterError>;

    async fn tx_status(&self, id: &Hash32) -> Result<TxState, AdapterError>;

    /// The status of each of `ids`, in order; a relay watching many transactions asks once
    /// per block. The default asks [`ChainAdapter::tx_status`] for each in turn.
    async fn tx_statuses(&self, ids: &[Hash32]) -> Result<Vec<TxState>, AdapterError> {
        statuses_one_by_one(self, ids).await
    }

    /// The account this adapter signs with, if it has a key.
    fn signer(&self) -> Option<Address>;

    /// What the chain supports.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            transfer: true,
            htlc: false,
            bridge: false,
            bridge_batch: false,
            max_batch_bytes: DEFAULT_BATCH_SUBMISSION_BYTES,
        }
    }

    /// The hashlock this chain's HTLC computes for `preimage`. Every chain must agree with
    /// SHA-256 over the 32 raw preimage bytes; the conformance suite checks it on-chain.
    fn hashlock(&self, preimage: &Hash32) -> Hash32 {
        sha256(preimage.as_bytes())
    }

    /// Prepare, then broadcast.
    async fn submit(&self, action: &Action) -> Result<PreparedTx, AdapterError> {
        let tx = self.prepare(action).await?;
        self.broadcast(&tx).await?;
        Ok(tx)
    }

    /// Returns once a block above `height` may be final, or after about `poll`, whichever
    /// comes first; followers call it when they have caught up. The default sleeps `poll`.
    /// A chain that can announce blocks answers as soon as one is final, so relays react to
    /// it without waiting out a poll interval.
    async fn wait_for_finalized(&self, height: u64, poll: Duration) -> Result<(), AdapterError> {
        let _ = height;
        tokio::time::sleep(poll).await;
        Ok(())
    }

    /// Polls until the transaction is final, re-broadcasting it if the chain forgets it.
    async fn wait_final(
        &self,
        tx: &PreparedTx,
        timeout: Duration,
    ) -> Result<TxState, AdapterError> {
        let started = std::time::Instant::now();
        let mut poll = Duration::from_millis(20);
        loop {
            match self.tx_status(&tx.id).await? {
                state @ TxState::Final { .. } => return Ok(state),
                TxState::Unknown => self.broadcast(tx).await?,
                TxState::Pending | TxState::Included { .. } => {}
            }
            if started.elapsed() >= timeout {
                return Err(AdapterError::Timeout {
                    chain: self.chain_id().clone(),
                    what: format!("transaction {} to become final", tx.id),
                    after_ms: timeout.as_millis() as u64,
                });
            }
            tokio::time::sleep(poll).await;
            poll = (poll * 2).min(Duration::from_millis(250));
        }
    }
}

/// [`ChainAdapter::tx_statuses`] by one `tx_status` call per id, in order.
pub async fn statuses_one_by_one<A: ChainAdapter + ?Sized>(
    adapter: &A,
    ids: &[Hash32],
) -> Result<Vec<TxState>, AdapterError> {
    let mut statuses = Vec::with_capacity(ids.len());
    for id in ids {
        statuses.push(adapter.tx_status(id).await?);
    }
    Ok(statuses)
}

/// Most pages [`finalized_events`] reads before it gives up (a bound on a chain that never
/// stops answering with events).
pub const MAX_EVENT_PAGES: usize = 10_000;

/// Every finalized event from `from` on, read page by page; fails on a chain whose `next`
/// cursor goes backwards (specs/adapter.md §2.4) or that has more than [`MAX_EVENT_PAGES`].
pub async fn finalized_events<A: ChainAdapter + ?Sized>(
    adapter: &A,
    from: Cursor,
) -> Result<Vec<causeway_core::ChainEvent>, AdapterError> {
    let mut all = Vec::new();
    let mut cursor = from;
    for _ in 0..MAX_EVENT_PAGES {
        let page = adapter.events(cursor, 500).await?;
        if page.next < cursor {
            return Err(AdapterError::Malformed {
                chain: adapter.chain_id().clone(),
                detail: format!("next cursor {} is before {cursor}", page.next),
            });
        }
        let done = page.events.is_empty();
        all.extend(page.events);
        cursor = page.next;
        if done {
            return Ok(all);
        }
    }
    Err(AdapterError::Malformed {
        chain: adapter.chain_id().clone(),
        detail: format!("more than {MAX_EVENT_PAGES} pages of events"),
    })
}
