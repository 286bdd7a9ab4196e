//! The relay's JSON-RPC API (operators and the CLI), shared by server and client.
//! Methods are `relay_<name>`.

use causeway_core::{ChainEvent, ChainId, Cursor};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};

pub use crate::daemon::status::ChainStatus;
pub use crate::swaps::OfferRequest;

/// Largest page `relay_events` and `relay_swapList` return.
pub const MAX_EVENTS_PER_CALL: u32 = 1_000;

#[rpc(server, client, namespace = "relay")]
pub trait RelayApi {
    /// Every chain with heights, cursor and lag, and whether the relay is healthy.
    #[method(name = "status")]
    async fn status(&self) -> RpcResult<RelayStatus>;

    /// Events the relay has ingested from `chain`, from `cursor` on.
    #[method(name = "events")]
    async fn events(
        &self,
        chain: ChainId,
        cursor: Cursor,
        limit: u32,
    ) -> RpcResult<Vec<ChainEvent>>;

    /// Creates a swap as initiator with this relay's accounts, locks, and returns the signed
    /// offer to give to the counterparty.
    #[method(name = "swapOffer")]
    async fn swap_offer(&self, request: OfferRequest) -> RpcResult<SwapView>;

    /// Accepts a counterparty's offer with this relay's accounts.
    #[method(name = "swapAccept")]
    async fn swap_accept(&self, offer: String) -> RpcResult<SwapView>;

    #[method(name = "swapStatus")]
    async fn swap_status(&self, swap_id: String) -> RpcResult<SwapView>;

    /// Swaps, newest first.
    #[method(name = "swapList")]
    async fn swap_list(&self, limit: u32) -> RpcResult<Vec<SwapView>>;
}

/// A swap as the API shows it: live status (deadlines with time left by each chain's
/// clock) and its timeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SwapView {
    pub swap_id: String,
    pub offer: String,
    pub status: causeway_htlc::SwapStatus,
    pub terms: causeway_htlc::Offer,
    pub timeline: Vec<crate::swaps::TimelineEntry>,
}

impl From<&crate::swaps::SwapRecord> for SwapView {
    fn from(r: &crate::swaps::SwapRecord) -> Self {
        SwapView {
            swap_id: r.swap.swap_id().to_string(),
            offer: r.offer.clone(),
            status: r.swap.status(),
            terms: r.swap.offer().clone(),
            timeline: r.timeline.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RelayStatus {
    pub version: String,
    pub uptime_ms: u64,
    /// True when every chain is connected and followed within its lag bound.
    pub healthy: bool,
    pub chains: Vec<ChainStatus>,
    /// Swaps not finished yet.
    pub swaps_active: usize,
    /// Chain actions recorded and not yet final or refused.
    pub actions_in_flight: usize,
}

/// JSON-RPC error codes of the relay API.
pub mod codes {
    pub const UNKNOWN_CHAIN: i32 = 2001;
    pub const SWAP_REFUSED: i32 = 2010;
    pub const UNKNOWN_SWAP: i32 = 2011;
    pub const INTERNAL: i32 = 2099;
}
