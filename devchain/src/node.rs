//! A running node: opens its home, serves JSON-RPC and produces a block every interval.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use causeway_core::{Address, ChainId};
use ed25519_dalek::SigningKey;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use tokio::time::MissedTickBehavior;

use crate::api::{AccountState, DevchainApiServer, StoredEventsServer, TxOutcome};
use crate::block::{build_block, next_block_time, BlockOutput};
use crate::clock::now_ms;
use crate::config::NodeConfig;
use crate::error::DevchainError;
use crate::genesis::{read_home, Genesis, DB_DIR, RPC_ADDR_FILE};
use crate::rpc::Rpc;
use crate::shared::{Ledger, Shared};
use crate::state::{Head, State, StateView};
use crate::storage::Storage;

/// Settings given on the command line win over `node.toml`.
#[derive(Clone, Debug, Default)]
pub struct NodeOverrides {
    pub rpc_addr: Option<SocketAddr>,
    pub block_interval_ms: Option<u64>,
}

pub struct Node {
    home: PathBuf,
    genesis: Genesis,
    config: NodeConfig,
    key: SigningKey,
    storage: Storage,
    state: State,
    head: Head,
}

impl Node {
    /// Reads the home, opens (or on first start, initialises) its database at `home/db`.
    pub fn open(home: &Path, overrides: NodeOverrides) -> Result<Node, DevchainError> {
        let files = read_home(home)?;
        let mut config = files.config;
        if let Some(addr) = overrides.rpc_addr {
            config.rpc_addr = addr;
        }
        if let Some(interval) = overrides.block_interval_ms {
            config.block_interval_ms = interval;
        }
        config.validate()?;
        let storage = Storage::open(&home.join(DB_DIR))?;
        let (state, head) = storage.load(&files.genesis, &files.key)?;
        Ok(Node {
            home: home.to_path_buf(),
            genesis: files.genesis,
            config,
            key: files.key,
            storage,
            state,
            head,
        })
    }

    pub fn chain_id(&self) -> &ChainId {
        &self.genesis.chain_id
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The last committed block.
    pub fn head(&self) -> Head {
        self.head
    }

    pub fn account(&self, address: &Address) -> AccountState {
        self.state.account(address).cloned().unwrap_or_default()
    }

    /// Serves JSON-RPC and produces blocks until `shutdown` completes; then finishes the
    /// block in progress (already durable when it returns), stops serving and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), DevchainError> {
        let addr_file = self.home.join(RPC_ADDR_FILE);
        // A stale file would send clients to the previous run's port.
        remove_if_present(&addr_file)?;
        let shared = Arc::new(Shared::new(
            self.genesis.chain_id.clone(),
            self.config.block_interval_ms,
            self.config.limits.clone(),
            self.storage,
            Ledger {
                state: self.state,
                head: self.head,
            },
        ));
        let (server, bound) = serve(&self.config, Arc::clone(&shared)).await?;
        write_atomically(&addr_file, &bound.to_string())?;
        tracing::info!(
            chain = %shared.chain_id,
            height = shared.head().height,
            "devchain {} serving JSON-RPC on http://{bound}",
            shared.chain_id
        );
        let produced = produce_until(&shared, &self.key, shutdown).await;
        if server.stop().is_ok() {
            server.stopped().await;
        }
        remove_if_present(&addr_file)?;
        tracing::info!(chain = %shared.chain_id, height = shared.head().height, "devchain stopped");
        produced
    }
}

async fn serve(
    config: &NodeConfig,
    shared: Arc<Shared>,
) -> Result<(ServerHandle, SocketAddr), DevchainError> {
    let limits = &config.limits;
    let server_config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch_calls))
        .build();
    let bind_error = |source| DevchainError::Bind {
        addr: config.rpc_addr,
        source,
    };
    let server = Server::builder()
        .set_config(server_config)
        .build(config.rpc_addr)
        .await
        .map_err(bind_error)?;
    let bound = server.local_addr().map_err(bind_error)?;
    let mut methods = DevchainApiServer::into_rpc(Rpc {
        shared: Arc::clone(&shared),
    });
    methods
        .merge(StoredEventsServer::into_rpc(Rpc { shared }))
        .expect("getEvents is served once");
    Ok((server.start(methods), bound))
}

async fn produce_until(
    shared: &Arc<Shared>,
    key: &SigningKey,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), DevchainError> {
    let mut ticker = tokio::time::interval(Duration::from_millis(shared.block_interval_ms));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            _ = ticker.tick() => {}
        }
        produce_block(shared, key).await?;
    }
}

/// Builds, persists and only then publishes one block.
async fn produce_block(shared: &Arc<Shared>, key: &SigningKey) -> Result<(), DevchainError> {
    let candidates = shared.mempool().candidates(
        shared.limits.max_txs_per_block,
        shared.limits.max_block_bytes,
    );
    let taken = candidates.len();
    let worker = Arc::clone(shared);
    let key = key.clone();
    // Execution and the disk flush are blocking work: keep them off the async workers.
    let output: BlockOutput = tokio::task::spawn_blocking(move || {
        let output = {
            let ledger = worker.ledger();
            let time_ms = next_block_time(&ledger.head, now_ms());
            build_block(&ledger.state, &ledger.head, time_ms, candidates, &key)
        };
        worker.storage.commit(&output).map(|()| output)
    })
    .await
    .map_err(|e| DevchainError::Producer {
        detail: format!("block task crashed: {e}"),
    })??;
    let as_simulated = executed_as_simulated(&output, taken);
    let BlockOutput {
        head,
        events,
        changes,
        skipped,
        receipts,
        ..
    } = output;
    {
        let mut mempool = shared.mempool();
        let mut ledger = shared.ledger_mut();
        ledger.state.apply(changes);
        ledger.head = head;
        mempool.remove_committed(taken, &ledger.state, head.time_ms, as_simulated);
    }
    tracing::debug!(
        height = head.height,
        txs = receipts.len(),
        skipped,
        events = events.len(),
        "committed block"
    );
    if !events.is_empty() {
        // No subscribers is fine: the events are on disk for getEvents.
        let _ = shared.block_events.send(Arc::new(events));
    }
    shared.published.send_replace(head.height);
    Ok(())
}

/// Whether every candidate succeeded. The mempool simulated them in the same order on the
/// same state; deadlines only ever turn a success into a failure as time advances, and a
/// success's effects never depend on time, so then its simulation was exact
/// (`specs/devchain.md` §6.2).
fn executed_as_simulated(output: &BlockOutput, taken: usize) -> bool {
    output.skipped == 0
        && output.receipts.len() == taken
        && output
            .receipts
            .iter()
            .all(|r| r.outcome == TxOutcome::Success)
}

fn remove_if_present(path: &Path) -> Result<(), DevchainError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(DevchainError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}

/// Readers polling the file never see it half-written.
fn write_atomically(path: &Path, text: &str) -> Result<(), DevchainError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(DevchainError::io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(DevchainError::io("rename into place", path))
}
