//! Serves the relay API.

use std::sync::Arc;
use std::time::Instant;

use causeway_core::{ChainEvent, ChainId, Cursor, Hash32};
use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::PendingSubscriptionSink;
use tokio::sync::broadcast::error::RecvError;

use super::status::StatusBoard;
use crate::api::{
    codes, NotaryStatus, OfferRequest, RelayApiServer, RelayStatus, SwapView, TransferView,
    MAX_EVENTS_PER_CALL,
};
use crate::store::Store;
use crate::swaps::SwapEngine;

pub struct ApiServer {
    pub board: Arc<StatusBoard>,
    pub store: Arc<Store>,
    pub swaps: Arc<SwapEngine>,
    pub executor: crate::executor::Executor,
    pub notary: Option<Arc<crate::notary::Notary>>,
    pub started: Instant,
}

impl ApiServer {
    fn notary(&self) -> RpcResult<&Arc<crate::notary::Notary>> {
        self.notary.as_ref().ok_or_else(|| {
            ErrorObjectOwned::owned(
                codes::NOT_A_NOTARY,
                "this relay is not a notary member (its config has no [notary] section)",
                None::<()>,
            )
        })
    }
}

fn refused(err: anyhow::Error) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::SWAP_REFUSED, format!("{err:#}"), None::<()>)
}

fn internal(err: anyhow::Error) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::INTERNAL, format!("{err:#}"), None::<()>)
}

#[async_trait]
impl RelayApiServer for ApiServer {
    async fn status(&self) -> RpcResult<RelayStatus> {
        let chains = self.board.snapshot();
        Ok(RelayStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_ms: self.started.elapsed().as_millis() as u64,
            healthy: chains.iter().all(|c| c.healthy()),
            chains,
            swaps_active: self.swaps.active_count().await,
            actions_in_flight: self.executor.in_flight(),
            storage: self.store.durable().stats(),
        })
    }

    async fn events(
        &self,
        chain: ChainId,
        cursor: Cursor,
        limit: u32,
    ) -> RpcResult<Vec<ChainEvent>> {
        if self.board.get(&chain).is_none() {
            let known: Vec<String> = self
                .board
                .snapshot()
                .into_iter()
                .map(|c| c.chain_id.to_string())
                .collect();
            return Err(ErrorObjectOwned::owned(
                codes::UNKNOWN_CHAIN,
                format!(
                    "unknown chain {chain}; this relay follows: {}",
                    known.join(", ")
                ),
                None::<()>,
            ));
        }
        let limit = limit.min(MAX_EVENTS_PER_CALL) as usize;
        self.store.events(&chain, cursor, limit).map_err(internal)
    }

    async fn swap_offer(&self, request: OfferRequest) -> RpcResult<SwapView> {
        let (record, _) = self.swaps.offer(request).await.map_err(refused)?;
        Ok(SwapView::from(&record))
    }

    async fn swap_accept(&self, offer: String) -> RpcResult<SwapView> {
        let record = self.swaps.accept(&offer).await.map_err(refused)?;
        Ok(SwapView::from(&record))
    }

    async fn swap_status(&self, swap_id: String) -> RpcResult<SwapView> {
        match self.swaps.get(&swap_id).await.map_err(internal)? {
            Some(r) => Ok(SwapView::from(&r)),
            None => Err(ErrorObjectOwned::owned(
                codes::UNKNOWN_SWAP,
                format!("this relay has no swap {swap_id:?} (list them with `causeway swap list`)"),
                None::<()>,
            )),
        }
    }

    async fn subscribe_swaps(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        // Subscribed before accepting, so a client that reads a swap's status right after
        // its subscription is confirmed misses none of the changes after that read.
        let mut changes = self.swaps.subscribe_changes();
        let sink = pending.accept().await?;
        loop {
            let change = tokio::select! {
                () = sink.closed() => return Ok(()),
                change = changes.recv() => change,
            };
            match change {
                Ok(change) => {
                    let message = serde_json::value::to_raw_value(&change)?;
                    sink.send(jsonrpsee::SubscriptionMessage::from(message))
                        .await?
                }
                Err(RecvError::Lagged(missed)) => {
                    return Err(format!(
                        "this subscriber fell {missed} swap changes behind and was dropped so that it never silently misses one; \
                         subscribe again, then read the swaps you follow with relay_swapStatus"
                    )
                    .into())
                }
                Err(RecvError::Closed) => return Ok(()),
            }
        }
    }

    async fn swap_list(&self, limit: u32) -> RpcResult<Vec<SwapView>> {
        let limit = limit.min(MAX_EVENTS_PER_CALL) as usize;
        Ok(self
            .swaps
            .list(limit)
            .map_err(internal)?
            .iter()
            .map(SwapView::from)
            .collect())
    }

    async fn notary_status(&self) -> RpcResult<NotaryStatus> {
        self.notary()?
            .status(&self.board.snapshot())
            .await
            .map_err(internal)
    }

    async fn notary_transfer(&self, tx_hash: Hash32) -> RpcResult<Vec<TransferView>> {
        self.notary()?
            .transfers_of_tx(&tx_hash)
            .await
            .map_err(internal)
    }

    async fn notary_review(&self, tx_hash: Hash32, release: bool) -> RpcResult<usize> {
        self.notary()?
            .attester
            .review(&tx_hash, release)
            .await
            .map_err(internal)
    }

    async fn notary_batch(
        &self,
        source_chain: ChainId,
        dest_chain: ChainId,
        sequence: u64,
    ) -> RpcResult<Option<crate::notary::book::BatchRecord>> {
        self.notary()?
            .attester
            .book()
            .batch(&source_chain, &dest_chain, sequence)
            .map_err(internal)
    }

    async fn notary_control(
        &self,
        request: crate::notary::controls::ControlRequest,
    ) -> RpcResult<crate::notary::controls::ControlView> {
        self.notary()?
            .attester
            .control(request)
            .await
            .map_err(refused)
    }
}
