use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use causeway_adapter_sdk::AdapterIdentity;
use causeway_adapters::conformance::{self, Fixture};
use causeway_adapters::devchain::DevchainAdapter;
use causeway_adapters::remote::RemoteAdapter;
use causeway_core::{Amount, AssetId};
use clap::{Args, Subcommand};

use super::devchain::resolve_account;
use super::Output;
use crate::config::ChainConfig;
use crate::keystore::Keystore;

#[derive(Subcommand)]
pub enum AdapterCommand {
    /// Run the adapter conformance suite (specs/adapter.md) against a live chain, and print
    /// a pass/fail line per requirement with its spec section. Exits non-zero on any failure.
    Conformance(ConformanceArgs),
    /// Serve a built-in adapter over the out-of-process adapter protocol
    /// (specs/adapter-protocol.md), so a relay reaches it with `kind = "remote"`.
    #[command(subcommand)]
    Serve(ServeCommand),
}

#[derive(Subcommand)]
pub enum ServeCommand {
    /// Serve the devchain adapter for the node at --rpc.
    Devchain(ServeDevchainArgs),
}

#[derive(Args)]
pub struct ServeDevchainArgs {
    /// The devchain node's JSON-RPC URL.
    #[arg(long)]
    pub rpc: String,
    #[arg(long)]
    pub chain_id: causeway_core::ChainId,
    /// Keystore key the adapter signs with (without it, prepare fails with NoSigner).
    #[arg(long)]
    pub key: Option<String>,
    /// Where to listen; port 0 picks a free one (see --addr-file).
    #[arg(long, default_value = "127.0.0.1:8700")]
    pub listen: std::net::SocketAddr,
    /// Write the bound HOST:PORT to this file once listening.
    #[arg(long)]
    pub addr_file: Option<std::path::PathBuf>,
}

#[derive(Args)]
pub struct ConformanceArgs {
    /// Adapter kind.
    #[arg(long, default_value = "devchain")]
    pub kind: String,
    /// The chain's endpoint URL.
    #[arg(long)]
    pub url: String,
    /// The chain id the endpoint must serve.
    #[arg(long)]
    pub chain_id: causeway_core::ChainId,
    /// Keystore key of a funded account the suite signs with (not for `--kind remote`,
    /// whose adapter process signs with its own key).
    #[arg(long)]
    pub key: Option<String>,
    /// How long one call to a remote adapter may take.
    #[arg(long, default_value = "10000")]
    pub request_timeout_ms: u64,
    /// Account (key name or address) that receives the suite's transfers and locks.
    #[arg(long)]
    pub peer: String,
    /// Asset the key holds (at least 10x --amount).
    #[arg(long, default_value = "USD")]
    pub asset: AssetId,
    #[arg(long, default_value = "1")]
    pub amount: String,
    /// For `--kind evm`: the chain's EVM parameters.
    #[command(flatten)]
    pub evm: crate::evm::EvmChainConfig,
}

pub async fn run(cmd: AdapterCommand, keystore: &Keystore, out: Output) -> Result<()> {
    match cmd {
        AdapterCommand::Serve(ServeCommand::Devchain(args)) => serve_devchain(args, keystore).await,
        AdapterCommand::Conformance(args) => {
            // Two clients: the second checks that a reconnecting client sees the same events.
            let adapter = conformance_adapter(&args, keystore)?;
            let fresh = conformance_adapter(&args, keystore)?;
            let fixture = Fixture {
                peer: resolve_account(&args.peer, keystore)?,
                asset: args.asset,
                amount: args
                    .amount
                    .parse::<Amount>()
                    .map_err(|e| anyhow::anyhow!("--amount: {e}"))?,
            };
            let checks =
                conformance::run_with_fresh_client(adapter.as_ref(), fresh.as_ref(), &fixture)
                    .await;
            let failed = checks.iter().filter(|c| !c.passed).count();
            out.print(
                &serde_json::json!({"passed": failed == 0, "checks": checks}),
                || {
                    let mut lines: Vec<String> = checks
                        .iter()
                        .map(|c| {
                            format!(
                                "{} {:<6} {} — {}",
                                if c.passed { "PASS" } else { "FAIL" },
                                c.section,
                                c.requirement,
                                c.detail
                            )
                        })
                        .collect();
                    lines.push(format!(
                        "{} of {} requirements passed",
                        checks.len() - failed,
                        checks.len()
                    ));
                    lines.join("\n")
                },
            );
            if failed > 0 {
                bail!("{failed} conformance requirement(s) failed");
            }
            Ok(())
        }
    }
}

fn conformance_adapter(
    args: &ConformanceArgs,
    keystore: &Keystore,
) -> Result<Arc<dyn causeway_adapters::ChainAdapter>> {
    if args.kind == "remote" {
        if args.key.is_some() {
            bail!("--key is for built-in adapters: a remote adapter signs with its own key");
        }
        return Ok(Arc::new(RemoteAdapter::with_timeout(
            args.chain_id.clone(),
            &args.url,
            Duration::from_millis(args.request_timeout_ms),
        )?));
    }
    let chain = ChainConfig {
        id: args.chain_id.clone(),
        kind: args.kind.clone(),
        endpoint: args.url.clone(),
        key: args.key.clone(),
        poll_interval_ms: 50,
        max_lag_blocks: 50,
        evm: (args.kind == "evm").then(|| args.evm.clone()),
    };
    crate::daemon::build_adapter(&chain, keystore)
}

async fn serve_devchain(args: ServeDevchainArgs, keystore: &Keystore) -> Result<()> {
    let key = match &args.key {
        Some(name) => Some(
            keystore
                .load(name)
                .with_context(|| format!("--key {name:?}"))?
                .key,
        ),
        None => None,
    };
    let adapter = DevchainAdapter::new(args.chain_id.clone(), &args.rpc, key)?;
    let identity = AdapterIdentity {
        name: "causeway-devchain".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let server = causeway_adapter_sdk::serve(Arc::new(adapter), args.listen, identity).await?;
    let addr = server.local_addr();
    if let Some(path) = &args.addr_file {
        crate::daemon::write_atomically(path, &addr.to_string())?;
    }
    tracing::info!(chain = %args.chain_id, rpc = %args.rpc, "serving the devchain adapter on http://{addr} and ws://{addr}");
    eprintln!(
        "serving the devchain adapter for {} on http://{addr} and ws://{addr}",
        args.chain_id
    );
    super::signal::terminate().await;
    server.stop();
    server.stopped().await;
    Ok(())
}
