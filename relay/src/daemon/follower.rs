//! Follows one chain's finalized events from the persisted cursor, forever, with backoff.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use causeway_adapters::ChainAdapter;
use causeway_core::{ChainEvent, ChainId, EventPage};
use tokio::sync::watch;

use super::status::StatusBoard;
use crate::store::Store;

/// Events requested per page.
pub const PAGE_SIZE: u32 = 500;
/// Longest wait between retries of an unreachable chain.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// Something that acts on finalized events (the swap engine, the notary). Called before the
/// cursor moves past the events, so a crash re-delivers them: consumers must be idempotent.
#[async_trait]
pub trait EventConsumer: Send + Sync {
    async fn on_events(&self, chain: &ChainId, events: &[ChainEvent]) -> anyhow::Result<()>;

    /// The chain's finalized head moved (chain time advances deadlines).
    async fn on_head(
        &self,
        _chain: &ChainId,
        _finalized_height: u64,
        _time_ms: u64,
    ) -> anyhow::Result<()> {
        Ok(())
    }
}

/// One lock per chain, held by its follower from handing a page to consumers until the page
/// is ingested. A consumer registering new interest (a new swap) takes every gate, then
/// back-fills from the store: no page can slip between the two.
#[derive(Default)]
pub struct IngestGates {
    gates: std::sync::Mutex<std::collections::BTreeMap<ChainId, Arc<tokio::sync::Mutex<()>>>>,
}

impl IngestGates {
    pub async fn enter(&self, chain: &ChainId) -> tokio::sync::OwnedMutexGuard<()> {
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            gates.entry(chain.clone()).or_default().clone()
        };
        gate.lock_owned().await
    }

    /// Takes every chain's gate, in a fixed order (no deadlock with the followers).
    pub async fn enter_all(&self, chains: &[ChainId]) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        let mut sorted = chains.to_vec();
        sorted.sort();
        let mut guards = Vec::with_capacity(sorted.len());
        for chain in &sorted {
            guards.push(self.enter(chain).await);
        }
        guards
    }
}

/// Where a follower stands after one round.
enum Round {
    /// The page was full: read the next one at once.
    More,
    /// Every final event up to this height is ingested.
    CaughtUp { finalized_height: u64 },
}

/// The head a full page proves complete: its last event below the page's `next` block, with
/// that event's block time. Every event at or below that height has been handed over (the
/// rest come at `next` or later), so heads keep moving while a chain produces more than a
/// page per read; before, a follower under sustained load heard of no head at all, and no
/// batch closed until the load dipped. The time is a block time at or before the height's,
/// so a deadline is judged no earlier than the chain's clock allows.
fn complete_below_cursor(page: &EventPage) -> Option<(u64, u64)> {
    page.events
        .iter()
        .rev()
        .find(|e| e.position.height < page.next.height)
        .map(|e| (e.position.height, e.time_ms))
}

pub struct Follower {
    pub adapter: Arc<dyn ChainAdapter>,
    pub gates: Arc<IngestGates>,
    pub store: Arc<Store>,
    pub board: Arc<StatusBoard>,
    pub consumers: Vec<Arc<dyn EventConsumer>>,
    pub poll_interval: Duration,
}

impl Follower {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let chain = self.adapter.chain_id().clone();
        let mut backoff = MIN_BACKOFF;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let pause = match self.step(&chain).await {
                Ok(Round::More) => {
                    backoff = MIN_BACKOFF;
                    Duration::ZERO
                }
                Ok(Round::CaughtUp { finalized_height }) => {
                    backoff = MIN_BACKOFF;
                    // Until the next final block (a devchain node answers the moment it is
                    // final), or a poll interval for chains that cannot tell.
                    let waited = tokio::select! {
                        r = self.adapter.wait_for_finalized(finalized_height, self.poll_interval) => r.is_ok(),
                        _ = shutdown.changed() => true,
                    };
                    if waited {
                        Duration::ZERO
                    } else {
                        self.poll_interval
                    }
                }
                Err(err) => {
                    let failures = self.record_failure(&chain, &err);
                    tracing::warn!(chain = %chain, failures, retry_in_ms = backoff.as_millis() as u64, "chain unavailable: {err:#}");
                    let pause = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    pause
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        tracing::info!(chain = %chain, "follower stopped");
    }

    /// One round: read a page and ingest it. Returns whether there may be more right away.
    ///
    /// The head is read *before* the page, so when the page is not full every event at or
    /// below that head has been handed to consumers before they hear of the head: a
    /// deadline is never judged on a height whose events were not seen yet.
    async fn step(&self, chain: &ChainId) -> anyhow::Result<Round> {
        let info = self.adapter.info().await?;
        let _gate = self.gates.enter(chain).await;
        let cursor = self.store.cursor(chain)?;
        let page = self.adapter.events(cursor, PAGE_SIZE).await?;
        if !page.events.is_empty() {
            for consumer in &self.consumers {
                consumer.on_events(chain, &page.events).await?;
            }
        }
        if !page.events.is_empty() || page.next != cursor {
            self.store.ingest(chain, &page.events, page.next).await?;
        }
        let n = page.events.len() as u64;
        let full = n == u64::from(PAGE_SIZE);
        let head = if !full && page.finalized_height >= info.finalized_height {
            Some((info.finalized_height, info.finalized_time_ms))
        } else if full {
            complete_below_cursor(&page)
        } else {
            None
        };
        if let Some((height, time_ms)) = head {
            for consumer in &self.consumers {
                consumer.on_head(chain, height, time_ms).await?;
            }
        }
        self.board.update(chain, |s| {
            s.connected = true;
            s.consecutive_failures = 0;
            s.last_error = None;
            s.cursor = page.next;
            s.height = s.height.max(info.height);
            s.finalized_height = page.finalized_height.max(info.finalized_height);
            s.finalized_time_ms = s.finalized_time_ms.max(info.finalized_time_ms);
            s.block_time_ms = info.block_time_ms;
            s.events_ingested += n;
        });
        if n > 0 {
            tracing::debug!(chain = %chain, events = n, next = %page.next, "ingested");
        }
        Ok(if full {
            Round::More
        } else {
            Round::CaughtUp {
                finalized_height: page.finalized_height.max(info.finalized_height),
            }
        })
    }

    fn record_failure(&self, chain: &ChainId, err: &anyhow::Error) -> u32 {
        let mut failures = 0;
        self.board.update(chain, |s| {
            s.connected = false;
            s.consecutive_failures += 1;
            s.total_failures += 1;
            s.last_error = Some(format!("{err:#}"));
            failures = s.consecutive_failures;
        });
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_core::{Address, Amount, AssetId, EventKind, Hash32, Position};

    fn at(height: u64, index: u32) -> ChainEvent {
        ChainEvent {
            chain_id: ChainId::new("a").unwrap(),
            position: Position::new(height, index),
            tx_hash: Hash32::ZERO,
            time_ms: 1_000 * height,
            kind: EventKind::Transfer {
                from: Address::new("aa").unwrap(),
                to: Address::new("bb").unwrap(),
                asset: AssetId::new("USD").unwrap(),
                amount: Amount(1),
            },
        }
    }

    fn page(events: Vec<ChainEvent>, next: Position) -> EventPage {
        EventPage {
            events,
            next,
            finalized_height: 99,
        }
    }

    // Regression: under sustained load every page was full and no head was delivered, so a
    // member closed no batch for seconds at a time, then dozens at once.
    #[test]
    fn a_full_page_ending_inside_a_block_proves_the_blocks_before_it() {
        let mid_block = page(vec![at(4, 0), at(5, 0), at(5, 1)], Position::new(5, 2));
        assert_eq!(complete_below_cursor(&mid_block), Some((4, 4_000)));
        let at_block_end = page(vec![at(4, 0), at(5, 0)], Position::new(6, 0));
        assert_eq!(complete_below_cursor(&at_block_end), Some((5, 5_000)));
        let one_block = page(vec![at(7, 0), at(7, 1)], Position::new(7, 2));
        assert_eq!(complete_below_cursor(&one_block), None);
    }
}
