//! The load tool's view of a relay's swaps as the relay pushes their changes
//! (`relay_subscribeSwaps`): a swap's driver learns the moment it finishes, where polling
//! every in-flight swap's status cost the relays a fifth of their CPU and the figures up to
//! a poll interval of latency.
//!
//! If the subscription ends (the relay dropped a lagging subscriber, or stopped), every
//! waiter is told so and goes back to polling: the run's figures stay right, only costlier.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use causeway_htlc::SwapOutcome;
use jsonrpsee::core::client::Subscription;
use jsonrpsee::ws_client::WsClientBuilder;
use tokio::sync::oneshot;

use crate::api::{RelayApiClient, SwapChange};

/// How one swap ended, as its relay reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    pub outcome: SwapOutcome,
    pub claim_reaction_ms: Option<u64>,
}

pub struct SwapFeed {
    state: Arc<Mutex<FeedState>>,
    reader: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct FeedState {
    /// Every swap seen finished during the run (bounded by the run's swap count).
    finished: HashMap<String, Finished>,
    waiting: HashMap<String, Vec<oneshot::Sender<Finished>>>,
    /// Why the subscription ended, once it has.
    ended: Option<String>,
}

impl SwapFeed {
    /// Subscribes to the relay at `api_url` (its `http://` address; the same port serves
    /// WebSocket).
    pub async fn connect(api_url: &str) -> Result<SwapFeed> {
        let ws_url = api_url.replacen("http://", "ws://", 1);
        let client = WsClientBuilder::default()
            .build(&ws_url)
            .await
            .with_context(|| format!("cannot open a WebSocket to the relay at {ws_url}"))?;
        let changes = client
            .subscribe_swaps()
            .await
            .with_context(|| format!("the relay at {ws_url} refused relay_subscribeSwaps"))?;
        let state = Arc::new(Mutex::new(FeedState::default()));
        let reader = tokio::spawn(read(client, changes, state.clone()));
        Ok(SwapFeed { state, reader })
    }

    /// How `swap_id` ended, once its relay reports it; `None` if the subscription ended
    /// first (the caller polls instead).
    pub async fn finished(&self, swap_id: &str) -> Option<Finished> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = lock(&self.state);
            if let Some(done) = state.finished.get(swap_id) {
                return Some(*done);
            }
            if state.ended.is_some() {
                return None;
            }
            state
                .waiting
                .entry(swap_id.to_string())
                .or_default()
                .push(tx);
        }
        rx.await.ok()
    }

    /// The reaction figure of a finished swap, if its relay has reported one yet.
    pub fn reaction(&self, swap_id: &str) -> Option<u64> {
        lock(&self.state)
            .finished
            .get(swap_id)
            .and_then(|f| f.claim_reaction_ms)
    }
}

impl Drop for SwapFeed {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn lock(state: &Mutex<FeedState>) -> std::sync::MutexGuard<'_, FeedState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Applies each change; when the subscription ends, releases every waiter to poll.
async fn read(
    _client: jsonrpsee::ws_client::WsClient,
    mut changes: Subscription<SwapChange>,
    state: Arc<Mutex<FeedState>>,
) {
    let ended = loop {
        match changes.next().await {
            Some(Ok(change)) => apply(&mut lock(&state), change),
            Some(Err(e)) => break format!("a change could not be read: {e}"),
            None => break "the relay ended the subscription".to_string(),
        }
    };
    tracing::warn!("swap feed stopped ({ended}); polling swap status instead");
    let mut state = lock(&state);
    state.ended = Some(ended);
    // Dropping the senders wakes each waiter with `None`.
    state.waiting.clear();
}

fn apply(state: &mut FeedState, change: SwapChange) {
    let Some(outcome) = change.outcome else {
        return;
    };
    let done = Finished {
        outcome,
        claim_reaction_ms: change.claim_reaction_ms,
    };
    state.finished.insert(change.swap_id.clone(), done);
    for waiter in state.waiting.remove(&change.swap_id).unwrap_or_default() {
        let _ = waiter.send(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_htlc::Phase;

    fn change(id: &str, outcome: Option<SwapOutcome>, reaction: Option<u64>) -> SwapChange {
        SwapChange {
            swap_id: id.into(),
            phase: outcome.map_or(Phase::Locking, Phase::Finished),
            outcome,
            timeline_len: 3,
            claim_reaction_ms: reaction,
        }
    }

    #[test]
    fn a_finishing_change_wakes_its_waiters_and_is_kept_for_later_ones() {
        let mut state = FeedState::default();
        let (tx, mut rx) = oneshot::channel();
        state.waiting.insert("s1".into(), vec![tx]);
        apply(&mut state, change("s1", None, None));
        assert!(
            rx.try_recv().is_err(),
            "a change short of the end wakes nobody"
        );
        apply(&mut state, change("s1", Some(SwapOutcome::Swapped), None));
        assert_eq!(rx.try_recv().unwrap().outcome, SwapOutcome::Swapped);
        apply(
            &mut state,
            change("s1", Some(SwapOutcome::Swapped), Some(7)),
        );
        assert_eq!(state.finished["s1"].claim_reaction_ms, Some(7));
        assert!(state.waiting.is_empty());
    }
}
