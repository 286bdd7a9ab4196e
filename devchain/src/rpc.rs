//! The JSON-RPC handlers: [`DevchainApiServer`] over the shared node state.

use std::sync::Arc;

use causeway_core::{
    Address, Amount, AssetId, ChainEvent, ChainInfo, Cursor, FinalityRule, Hash32,
};
use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use jsonrpsee::PendingSubscriptionSink;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::api::{
    AccountState, Block, DevchainApiServer, ErrorCode, HtlcLock, NodeStats, Receipt,
    StoredEventPage, StoredEventsServer, TxStatus, MAX_EVENTS_PER_PAGE, MAX_WAIT_FOR_HEIGHT_MS,
};
use crate::error::DevchainError;
use crate::mempool::check_unsigned;
use crate::shared::{BlockEvents, Shared};
use crate::state::StateView;
use crate::tx::SignedTransaction;
use crate::tx_error::TxError;
use crate::verifier::{VerifyError, MAX_QUEUED_SIGNATURES};

pub(crate) struct Rpc {
    pub shared: Arc<Shared>,
}

fn rejected(err: &TxError) -> ErrorObjectOwned {
    ErrorObject::owned(err.code().code(), err.to_string(), Some(err.data()))
}

fn internal(err: DevchainError) -> ErrorObjectOwned {
    tracing::error!(error = %err, "JSON-RPC request failed inside the node");
    ErrorObject::owned(ErrorCode::Internal.code(), err.to_string(), None::<()>)
}

#[async_trait]
impl StoredEventsServer for Rpc {
    async fn events(&self, cursor: Cursor, limit: u32) -> RpcResult<StoredEventPage> {
        let limit = limit.min(MAX_EVENTS_PER_PAGE) as usize;
        self.shared.event_page(cursor, limit).map_err(internal)
    }
}

#[async_trait]
impl DevchainApiServer for Rpc {
    async fn chain_info(&self) -> RpcResult<ChainInfo> {
        let head = self.shared.head();
        Ok(ChainInfo {
            chain_id: self.shared.chain_id.clone(),
            kind: "devchain".into(),
            height: head.height,
            finalized_height: head.height,
            finalized_time_ms: head.time_ms,
            block_time_ms: self.shared.block_interval_ms,
            finality: FinalityRule::Instant,
        })
    }

    async fn wait_for_height(&self, height: u64, timeout_ms: u64) -> RpcResult<ChainInfo> {
        let wait = std::time::Duration::from_millis(timeout_ms.min(MAX_WAIT_FOR_HEIGHT_MS));
        let mut published = self.shared.published.subscribe();
        // Timing out is an answer too: the caller reads the heights it is given.
        let _ = tokio::time::timeout(wait, published.wait_for(|h| *h > height)).await;
        self.chain_info().await
    }

    async fn submit_transaction(&self, tx: SignedTransaction) -> RpcResult<Hash32> {
        let shared = &self.shared;
        let (unsigned, check) = check_unsigned(&shared.chain_id, tx, shared.limits.max_tx_bytes)
            .map_err(|e| rejected(&e))?;
        let valid = match shared.verifier.verify(check).await {
            Ok(()) => true,
            Err(VerifyError::Invalid) => false,
            Err(VerifyError::Busy) => {
                return Err(rejected(&TxError::VerifierBusy {
                    queued: MAX_QUEUED_SIGNATURES,
                }))
            }
        };
        let verified = unsigned.into_verified(valid).map_err(|e| rejected(&e))?;
        let hash = verified.hash;
        let admitted = {
            let mut mempool = shared.mempool();
            let ledger = shared.ledger();
            mempool.admit(&ledger.state, ledger.head.time_ms, verified)
        };
        match admitted {
            Ok(admission) => Ok(admission.hash()),
            // A used nonce may be this very transaction, already committed: idempotent.
            Err(err @ TxError::NonceTooLow { .. }) => {
                match shared.receipt(&hash).map_err(internal)? {
                    Some(_) => Ok(hash),
                    None => Err(rejected(&err)),
                }
            }
            Err(err) => Err(rejected(&err)),
        }
    }

    async fn node_stats(&self) -> RpcResult<NodeStats> {
        Ok(NodeStats {
            verifier: self.shared.verifier.stats(),
        })
    }

    async fn receipt(&self, tx_hash: Hash32) -> RpcResult<Option<Receipt>> {
        self.shared.receipt(&tx_hash).map_err(internal)
    }

    async fn transaction_status(&self, tx_hash: Hash32) -> RpcResult<TxStatus> {
        // The producer trims the mempool and publishes the block in one step, so a
        // transaction that has left the mempool has a visible receipt.
        if self.shared.mempool().contains(&tx_hash) {
            return Ok(TxStatus::Pending);
        }
        Ok(match self.shared.receipt(&tx_hash).map_err(internal)? {
            Some(receipt) => TxStatus::Committed { receipt },
            None => TxStatus::Unknown,
        })
    }

    async fn block(&self, height: u64) -> RpcResult<Option<Block>> {
        if height > self.shared.head().height {
            return Ok(None);
        }
        self.shared.storage.block(height).map_err(internal)
    }

    async fn balance(&self, account: Address, asset: AssetId) -> RpcResult<Amount> {
        let ledger = self.shared.ledger();
        Ok(ledger
            .state
            .account(&account)
            .and_then(|a| a.balances.get(&asset).copied())
            .unwrap_or_default())
    }

    async fn account(&self, account: Address) -> RpcResult<AccountState> {
        let ledger = self.shared.ledger();
        Ok(ledger.state.account(&account).cloned().unwrap_or_default())
    }

    async fn htlc(&self, lock_id: Hash32) -> RpcResult<Option<HtlcLock>> {
        Ok(self.shared.ledger().state.htlc(&lock_id).cloned())
    }

    async fn bridge(&self) -> RpcResult<Option<crate::bridge::BridgeState>> {
        Ok(self.shared.ledger().state.bridge.clone())
    }

    async fn subscribe_events(
        &self,
        pending: PendingSubscriptionSink,
        cursor: Cursor,
    ) -> SubscriptionResult {
        // Subscribe before reading the backlog, so no block falls between the two.
        let mut live = self.shared.block_events.subscribe();
        let sink = pending.accept().await?;
        let mut next = cursor;
        loop {
            let page = self
                .shared
                .event_page(next, MAX_EVENTS_PER_PAGE as usize)
                .map_err(|e| e.to_string())?;
            let full = page.events.len() == MAX_EVENTS_PER_PAGE as usize;
            // Sent as stored, like getEvents: no decoding and re-encoding.
            for event in page.events {
                sink.send(jsonrpsee::SubscriptionMessage::from(event))
                    .await?;
            }
            next = page.next;
            if !full {
                break;
            }
        }
        loop {
            let block = tokio::select! {
                () = sink.closed() => return Ok(()),
                block = next_live_block(&mut live, next) => block?,
            };
            let Some(events) = block else {
                return Ok(());
            };
            for event in &events {
                sink.send(event_message(event)?).await?;
                next = event.position.successor();
            }
        }
    }
}

/// The next committed block's events at positions `>= next` (earlier ones went out with
/// the backlog); `None` once the node stops. A receiver that fell further behind than the
/// channel holds gets an error instead of a silent gap.
pub(crate) async fn next_live_block(
    live: &mut broadcast::Receiver<BlockEvents>,
    next: Cursor,
) -> Result<Option<Vec<ChainEvent>>, String> {
    match live.recv().await {
        Ok(events) => Ok(Some(events.iter().filter(|e| e.position >= next).cloned().collect())),
        Err(RecvError::Lagged(missed)) => Err(format!(
            "subscriber fell {missed} blocks behind and was dropped so that it never silently skips events; \
             resubscribe from cursor {next}"
        )),
        Err(RecvError::Closed) => Ok(None),
    }
}

fn event_message(event: &ChainEvent) -> Result<jsonrpsee::SubscriptionMessage, serde_json::Error> {
    serde_json::value::to_raw_value(event).map(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use causeway_core::{EventKind, Position};

    fn event(height: u64, index: u32) -> ChainEvent {
        ChainEvent {
            chain_id: chain(),
            position: Position::new(height, index),
            tx_hash: Hash32::ZERO,
            time_ms: height,
            kind: EventKind::HtlcRefunded {
                lock_id: Hash32::ZERO,
                hashlock: Hash32::ZERO,
                sender: addr(1),
            },
        }
    }

    // specs/devchain.md §8.2: live events skip what the backlog sent, never more.
    #[tokio::test]
    async fn live_blocks_skip_only_events_already_sent() {
        let (tx, mut rx) = broadcast::channel(4);
        tx.send(std::sync::Arc::new(vec![event(5, 0), event(5, 1)]))
            .unwrap();
        let events = next_live_block(&mut rx, Position::new(5, 1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(events, vec![event(5, 1)]);
        drop(tx);
        assert_eq!(
            next_live_block(&mut rx, Position::new(6, 0)).await,
            Ok(None)
        );
    }

    // specs/devchain.md §8.2: a lagging subscriber is closed with a cursor to resume from.
    #[tokio::test]
    async fn a_lagging_subscriber_gets_an_error_naming_its_cursor() {
        let (tx, mut rx) = broadcast::channel(1);
        for height in 1..=3 {
            tx.send(std::sync::Arc::new(vec![event(height, 0)]))
                .unwrap();
        }
        let err = next_live_block(&mut rx, Position::new(1, 0))
            .await
            .unwrap_err();
        assert!(
            err.contains("2 blocks behind") && err.contains("cursor 1:0"),
            "{err}"
        );
    }
}
