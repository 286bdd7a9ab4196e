//! How the load tool learns that its locks are final: one reader of the source chain's
//! final events for the whole run, woken by the node's long poll as each block is final,
//! instead of every sender polling its own transaction's status. Polling cost the node
//! under test three to four extra requests per lock and timed finality only to the
//! nearest poll (20, 40, 80, 160, then 250 ms apart), well behind the block.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_adapters::devchain::DevchainAdapter;
use causeway_adapters::{AdapterError, ChainAdapter, PreparedTx, TxOutcome, TxState};
use causeway_core::{ChainEvent, EventKind, Hash32, Position};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Events read per request.
const PAGE: u32 = 1_000;
/// How long a caught-up reader waits for the next final block at most.
const BLOCK_WAIT: Duration = Duration::from_millis(100);
/// How long a sender waits for its lock's event before it asks the chain itself: a lock
/// that failed has no event, and one the node forgot must be sent again.
const EVENT_WAIT: Duration = Duration::from_secs(10);
/// Attempts of one request to the node at most, the first pause between them, and the
/// longest.
const MAX_ATTEMPTS: u32 = 8;
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(20);
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Backoff after a failed read.
const RETRY: Duration = Duration::from_millis(100);

/// Locks awaited, by transaction id; at most one per sender at a time.
type Waiting = Arc<Mutex<HashMap<Hash32, oneshot::Sender<Instant>>>>;

pub struct FinalityWatch {
    waiting: Waiting,
    reader: JoinHandle<()>,
}

impl FinalityWatch {
    /// Starts reading `source` from its first event.
    pub fn start(source: DevchainAdapter) -> FinalityWatch {
        let waiting = Waiting::default();
        let reader = tokio::spawn(read(source, waiting.clone()));
        FinalityWatch { waiting, reader }
    }

    /// Broadcasts `tx` (prepared by `sender`) and returns once it is final and succeeded,
    /// with when the reader saw its block final.
    pub async fn send_and_wait(
        &self,
        sender: &DevchainAdapter,
        tx: &PreparedTx,
    ) -> Result<Instant> {
        let (seen, final_at) = oneshot::channel();
        self.lock_waiting().insert(tx.id, seen);
        if let Err(e) = broadcast_retrying(sender, tx).await {
            self.lock_waiting().remove(&tx.id);
            return Err(e).context("locking on the source chain");
        }
        if let Ok(Ok(at)) = tokio::time::timeout(EVENT_WAIT, final_at).await {
            return Ok(at);
        }
        self.lock_waiting().remove(&tx.id);
        match sender
            .wait_final(tx, super::transfers::DRAIN_TIMEOUT)
            .await
            .context("waiting for a lock to be final")?
        {
            TxState::Final {
                outcome: TxOutcome::Success,
                ..
            } => Ok(Instant::now()),
            other => bail!("lock {} did not succeed: {other:?}", tx.id),
        }
    }

    fn lock_waiting(&self) -> std::sync::MutexGuard<'_, HashMap<Hash32, oneshot::Sender<Instant>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Broadcasts `tx`, again after a pause while the node is unreachable or refuses the
/// connection for load: a broadcast is idempotent.
async fn broadcast_retrying(
    sender: &DevchainAdapter,
    tx: &PreparedTx,
) -> Result<(), causeway_adapters::AdapterError> {
    retrying_transient(|| sender.broadcast(tx)).await
}

/// Runs `request` again after a pause, up to [`MAX_ATTEMPTS`] times in all, while it fails
/// transiently: the node is unreachable or refuses the connection for load (HTTP 429, past
/// its `max_connections` requests in flight), as a thousand senders starting at once can
/// briefly make it. Only for requests that may be repeated (reads, broadcasts).
pub async fn retrying_transient<T, F, Fut>(mut request: F) -> Result<T, AdapterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AdapterError>>,
{
    let mut pause = FIRST_RETRY_PAUSE;
    for _ in 1..MAX_ATTEMPTS {
        match request().await {
            Err(e) if e.is_transient() => {
                tracing::debug!("request to the node retried: {e}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RETRY_PAUSE);
            }
            done => return done,
        }
    }
    request().await
}

impl Drop for FinalityWatch {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read(source: DevchainAdapter, waiting: Waiting) {
    read_final_events(source, "source", |events, now| {
        let mut waiting = waiting.lock().unwrap_or_else(|p| p.into_inner());
        for e in events {
            if matches!(e.kind, EventKind::BridgeSent { .. }) {
                if let Some(seen) = waiting.remove(&e.tx_hash) {
                    let _ = seen.send(now);
                }
            }
        }
    })
    .await
}

/// Reads `chain`'s final events from its first for as long as the run lasts, handing each
/// page to `on_page` with when it was read; caught up, it waits in the node's long poll for
/// the next final block. While the node is down (a held run) the failure is logged once,
/// not on every try.
pub async fn read_final_events(
    chain: DevchainAdapter,
    which: &str,
    mut on_page: impl FnMut(&[ChainEvent], Instant),
) {
    let mut cursor = Position::default();
    let mut failing = false;
    loop {
        let page = match chain.events(cursor, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                if !failing {
                    tracing::warn!("bench: {which} events: {e}");
                }
                failing = true;
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        failing = false;
        on_page(&page.events, Instant::now());
        let full = page.events.len() == PAGE as usize;
        cursor = page.next;
        if !full {
            let _ = chain
                .wait_for_finalized(page.finalized_height, BLOCK_WAIT)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_core::{Amount, AssetId, ChainId};
    use causeway_devchain::api::DevchainApiClient;
    use causeway_devchain::config::NodeConfig;
    use causeway_devchain::genesis::{CONFIG_FILE, RPC_ADDR_FILE};
    use causeway_devchain::tx::address_of;
    use causeway_devchain::{init_home, GenesisAccount, InitOptions, Node, NodeOverrides};
    use ed25519_dalek::SigningKey;

    /// A real node serving one request at a time (`max_connections = 1`).
    async fn node_of_one_connection(home: &std::path::Path, funded: &SigningKey) -> String {
        init_home(
            home,
            InitOptions {
                chain_id: ChainId::new("busy").unwrap(),
                rpc_addr: "127.0.0.1:0".parse().unwrap(),
                block_interval_ms: 50,
                accounts: vec![GenesisAccount {
                    address: address_of(&funded.verifying_key()),
                    balances: [(AssetId::new("USD").unwrap(), Amount(100))].into(),
                }],
                force: false,
                bridge: None,
            },
        )
        .unwrap();
        let path = home.join(CONFIG_FILE);
        let mut config: NodeConfig =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config.limits.max_connections = 1;
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
        let node = Node::open(home, NodeOverrides::default()).unwrap();
        tokio::spawn(node.run(std::future::pending()));
        for _ in 0..200 {
            if let Ok(addr) = std::fs::read_to_string(home.join(RPC_ADDR_FILE)) {
                return format!("http://{addr}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the node never wrote its address");
    }

    /// A funded sender's adapter to a fresh node of one connection, the node's home and URL.
    async fn sender_to_a_node_of_one_connection() -> (tempfile::TempDir, String, DevchainAdapter) {
        let home = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[9; 32]);
        let url = node_of_one_connection(home.path(), &key).await;
        let sender = DevchainAdapter::new(ChainId::new("busy").unwrap(), &url, Some(key)).unwrap();
        (home, url, sender)
    }

    fn transfer() -> causeway_adapters::Action {
        causeway_adapters::Action::Transfer {
            to: address_of(&SigningKey::from_bytes(&[8; 32]).verifying_key()),
            asset: AssetId::new("USD").unwrap(),
            amount: Amount(1),
        }
    }

    /// Holds the node's only request permit with a long poll for 400 ms; returns once it
    /// is held, with the poll's handle.
    async fn hold_the_only_permit(
        url: &str,
    ) -> JoinHandle<Result<causeway_core::ChainInfo, jsonrpsee::core::ClientError>> {
        let holder = jsonrpsee::http_client::HttpClientBuilder::default()
            .build(url)
            .unwrap();
        let poll = tokio::spawn(async move { holder.wait_for_height(u64::MAX / 2, 400).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        poll
    }

    // Regression: at 1,000 senders the node refused broadcasts for load (HTTP 429) and the
    // load tool stopped; a refused broadcast is retried.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broadcast_refused_for_load_is_retried_until_the_node_takes_it() {
        let (_home, url, sender) = sender_to_a_node_of_one_connection().await;
        let tx = sender.prepare(&transfer()).await.unwrap();
        let first = hold_the_only_permit(&url).await;
        let refused = sender.broadcast(&tx).await.unwrap_err();
        assert!(refused.is_transient(), "{refused}");
        assert!(refused.to_string().contains("429"), "{refused}");
        broadcast_retrying(&sender, &tx).await.unwrap();
        first.await.unwrap().unwrap();
        let state = sender
            .wait_final(&tx, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(
            matches!(
                state,
                TxState::Final {
                    outcome: TxOutcome::Success,
                    ..
                }
            ),
            "{state:?}"
        );
    }

    // Regression: at 1,000 senders the node refused a sender's first prepare (its nonce
    // read) for load, and the run stopped with "preparing a lock on the source chain".
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_prepare_refused_for_load_is_retried_until_the_node_answers() {
        let (_home, url, sender) = sender_to_a_node_of_one_connection().await;
        let action = transfer();
        let first = hold_the_only_permit(&url).await;
        let refused = sender.prepare(&action).await.unwrap_err();
        assert!(refused.is_transient(), "{refused}");
        assert!(refused.to_string().contains("429"), "{refused}");
        let tx = retrying_transient(|| sender.prepare(&action))
            .await
            .unwrap();
        first.await.unwrap().unwrap();
        assert_eq!(tx.action, action);
    }
}
