//! The relay daemon: follows every configured chain and serves the status API.

pub mod follower;
mod server;
pub mod status;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use causeway_adapters::ChainAdapter;
use jsonrpsee::server::{Server, ServerConfig};
use tokio::sync::watch;

use crate::api::RelayApiServer;
use crate::config::{ChainConfig, RelayConfig};
use crate::executor::Executor;
use crate::keystore::Keystore;
use crate::store::Store;
use crate::swaps::SwapEngine;
use follower::{EventConsumer, Follower, IngestGates};
use status::{ChainStatus, StatusBoard};

/// Largest request the API accepts.
const MAX_API_REQUEST_BYTES: u32 = 1 << 20;
/// Most concurrent API connections.
const MAX_API_CONNECTIONS: u32 = 256;
/// Action outcomes applied to the protocols in one step (one flush for all of them).
const MAX_OUTCOMES_PER_STEP: usize = 256;

/// Builds the adapter a chain's config asks for.
pub fn build_adapter(chain: &ChainConfig, keystore: &Keystore) -> Result<Arc<dyn ChainAdapter>> {
    if chain.kind == "evm" {
        return crate::evm::build_evm_adapter(chain, keystore);
    }
    let key = match &chain.key {
        Some(name) => Some(
            keystore
                .load(name)
                .with_context(|| format!("chain {}: key {name:?}", chain.id))?
                .key,
        ),
        None => None,
    };
    match chain.kind.as_str() {
        "devchain" => Ok(Arc::new(causeway_adapters::devchain::DevchainAdapter::new(
            chain.id.clone(),
            &chain.endpoint,
            key,
        )?)),
        "remote" => {
            // specs/adapter-protocol.md §1: the adapter process holds the chain key.
            if let Some(name) = &chain.key {
                anyhow::bail!(
                    "chain {}: key {name:?} is set, but a remote adapter signs with its own key: \
                     remove `key` from this chain's config",
                    chain.id
                );
            }
            Ok(Arc::new(causeway_adapters::remote::RemoteAdapter::new(
                chain.id.clone(),
                &chain.endpoint,
            )?))
        }
        other => anyhow::bail!("chain {}: unknown adapter kind {other:?}", chain.id),
    }
}

/// Runs until `shutdown` resolves, then stops followers, the API and flushes state.
pub async fn run(
    config: RelayConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    // Off the runtime's threads: opening may wait up to 2 s for the database's lock.
    let data_dir = config.data_dir.clone();
    let store = Arc::new(
        tokio::task::spawn_blocking(move || Store::open(&data_dir))
            .await
            .context("opening the relay database panicked")??,
    );
    let keystore = Keystore::open(
        config
            .keystore
            .clone()
            .unwrap_or_else(Keystore::default_dir),
    );
    let board = Arc::new(StatusBoard::default());
    let gates = Arc::new(IngestGates::default());

    let mut adapters = BTreeMap::new();
    for chain in &config.chains {
        adapters.insert(chain.id.clone(), build_adapter(chain, &keystore)?);
    }
    let (executor, mut outcomes) = Executor::start(store.durable(), adapters.clone())?;
    let identity = identity_key(&config, &keystore)?;
    let swaps = SwapEngine::open(
        store.clone(),
        gates.clone(),
        adapters.clone(),
        executor.clone(),
        config.swap.policy(),
        identity,
    )
    .await?;
    let notary = match &config.notary {
        Some(notary_config) => Some(
            crate::notary::Notary::start(
                notary_config,
                store.durable(),
                &adapters,
                executor.clone(),
            )
            .await
            .context("notary")?,
        ),
        None => None,
    };
    // Outcomes of chain actions go back to the protocol that asked for them.
    let router = {
        let swaps = swaps.clone();
        let notary = notary.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_OUTCOMES_PER_STEP);
            while outcomes.recv_many(&mut batch, MAX_OUTCOMES_PER_STEP).await > 0 {
                for done in &batch {
                    if let (Some(notary), true) = (&notary, done.id.starts_with("notary:")) {
                        if let Err(e) = notary.attester.on_action_done(done).await {
                            tracing::error!(action = %done.id, "cannot apply action outcome: {e:#}");
                        }
                    } else if !SwapEngine::owns(done) {
                        tracing::warn!(action = %done.id, "outcome for an action no protocol claims");
                    }
                }
                if let Err(e) = swaps.on_actions_done(&batch).await {
                    tracing::error!(
                        outcomes = batch.len(),
                        "cannot apply swap action outcomes: {e:#}"
                    );
                }
                batch.clear();
            }
        })
    };

    let mut followers = Vec::new();
    for chain in &config.chains {
        let cursor = store.cursor(&chain.id)?;
        board.register(ChainStatus {
            chain_id: chain.id.clone(),
            kind: chain.kind.clone(),
            endpoint: chain.endpoint.clone(),
            connected: false,
            height: 0,
            finalized_height: 0,
            finalized_time_ms: 0,
            block_time_ms: 0,
            cursor,
            lag_blocks: 0,
            max_lag_blocks: chain.max_lag_blocks,
            events_ingested: 0,
            consecutive_failures: 0,
            total_failures: 0,
            last_error: None,
        });
        tracing::info!(chain = %chain.id, kind = %chain.kind, endpoint = %chain.endpoint, cursor = %cursor, "following chain");
        followers.push(Follower {
            adapter: adapters[&chain.id].clone(),
            gates: gates.clone(),
            store: store.clone(),
            board: board.clone(),
            consumers: consumers(&swaps, notary.as_ref()),
            poll_interval: Duration::from_millis(chain.poll_interval_ms),
        });
    }

    let server = Server::builder()
        .set_config(
            ServerConfig::builder()
                .max_request_body_size(MAX_API_REQUEST_BYTES)
                .max_connections(MAX_API_CONNECTIONS)
                .build(),
        )
        .build(config.api_listen)
        .await
        .with_context(|| format!("cannot listen on api_listen {}", config.api_listen))?;
    let api_addr = server.local_addr()?;
    let api = server::ApiServer {
        board: board.clone(),
        store: store.clone(),
        swaps: swaps.clone(),
        executor: executor.clone(),
        notary: notary.clone(),
        started: Instant::now(),
    };
    let handle = server.start(api.into_rpc());
    write_atomically(&config.data_dir.join("api.addr"), &api_addr.to_string())?;
    tracing::info!(api = %format!("http://{api_addr}"), chains = config.chains.len(), "relay started");

    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks: Vec<_> = followers
        .into_iter()
        .map(|f| tokio::spawn(f.run(stop_rx.clone())))
        .collect();

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let _ = handle.stop();
    handle.stopped().await;
    router.abort();
    store.flush().await?;
    tracing::info!("relay stopped cleanly");
    Ok(())
}

fn consumers(
    swaps: &Arc<SwapEngine>,
    notary: Option<&Arc<crate::notary::Notary>>,
) -> Vec<Arc<dyn EventConsumer>> {
    let mut out = vec![swaps.clone() as Arc<dyn EventConsumer>];
    if let Some(notary) = notary {
        out.push(notary.attester.clone() as Arc<dyn EventConsumer>);
    }
    out
}

/// The key that signs this relay's swap offers: the configured one, or one kept in the data
/// directory and created on first start.
fn identity_key(config: &RelayConfig, keystore: &Keystore) -> Result<ed25519_dalek::SigningKey> {
    if let Some(name) = &config.identity_key {
        return Ok(keystore
            .load(name)
            .with_context(|| format!("identity_key {name:?}"))?
            .key);
    }
    let own = Keystore::open(&config.data_dir);
    match own.load("identity") {
        Ok(k) => Ok(k.key),
        Err(_) if !config.data_dir.join("identity.json").exists() => {
            Ok(own.create("identity")?.key)
        }
        Err(e) => Err(e),
    }
}

pub fn write_atomically(path: &std::path::Path, contents: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
