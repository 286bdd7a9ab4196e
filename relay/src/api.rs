//! The relay's JSON-RPC API (operators and the CLI), shared by server and client.
//! Methods are `relay_<name>`.

use causeway_core::{ChainEvent, ChainId, Cursor, Hash32};
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};

pub use crate::daemon::status::ChainStatus;
pub use crate::notary::status::{NotaryStatus, TransferView};
pub use crate::swaps::{OfferRequest, SwapChange};

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

    /// Over WebSocket: every change a step makes to any of this relay's swaps from now on,
    /// as it becomes durable, so a client learns when a swap moves (or finishes) without
    /// polling its status. A subscriber that falls [`crate::swaps::MAX_QUEUED_SWAP_CHANGES`]
    /// behind is dropped with an error; it resubscribes and reads what it follows once.
    #[subscription(name = "subscribeSwaps" => "swapChange", unsubscribe = "unsubscribeSwaps", item = SwapChange)]
    async fn subscribe_swaps(&self) -> SubscriptionResult;

    /// Swaps, newest first.
    #[method(name = "swapList")]
    async fn swap_list(&self, limit: u32) -> RpcResult<Vec<SwapView>>;

    /// This relay's notary member: committee, peers, sessions, cheaters, held transfers, health.
    #[method(name = "notaryStatus")]
    async fn notary_status(&self) -> RpcResult<NotaryStatus>;

    /// Every bridge transfer of source transaction `tx_hash` this member has seen final.
    #[method(name = "notaryTransfer")]
    async fn notary_transfer(&self, tx_hash: Hash32) -> RpcResult<Vec<TransferView>>;

    /// One batch as this member holds it: its transfers, attestation bytes and, once
    /// signed, the committee's signature.
    #[method(name = "notaryBatch")]
    async fn notary_batch(
        &self,
        source_chain: ChainId,
        dest_chain: ChainId,
        sequence: u64,
    ) -> RpcResult<Option<crate::notary::book::BatchRecord>>;

    /// An operator asks this member to sign a committee control (key rotation or pause);
    /// it is signed once t members asked for the identical terms, then submitted.
    #[method(name = "notaryControl")]
    async fn notary_control(
        &self,
        request: crate::notary::controls::ControlRequest,
    ) -> RpcResult<crate::notary::controls::ControlView>;

    /// An operator's review of held transfers of `tx_hash`: release into the next batch or
    /// reject for good. Returns how many transfers changed.
    #[method(name = "notaryReview")]
    async fn notary_review(&self, tx_hash: Hash32, release: bool) -> RpcResult<usize>;
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
    /// From the final event that made this relay claim to the claim's broadcast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_reaction_ms: Option<u64>,
}

impl From<&crate::swaps::SwapRecord> for SwapView {
    fn from(r: &crate::swaps::SwapRecord) -> Self {
        SwapView {
            swap_id: r.swap.swap_id().to_string(),
            offer: r.offer.clone(),
            status: r.swap.status(),
            terms: r.swap.offer().clone(),
            timeline: r.timeline.clone(),
            claim_reaction_ms: r.claim_reaction_ms,
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
    /// The relay database's flushes and the writes queued for its flusher (absent from
    /// relays older than this field).
    #[serde(default)]
    pub storage: crate::durable::DurableStats,
}

/// JSON-RPC error codes of the relay API.
pub mod codes {
    pub const UNKNOWN_CHAIN: i32 = 2001;
    pub const SWAP_REFUSED: i32 = 2010;
    pub const UNKNOWN_SWAP: i32 = 2011;
    /// This relay has no `[notary]` section.
    pub const NOT_A_NOTARY: i32 = 2020;
    pub const INTERNAL: i32 = 2099;
}
