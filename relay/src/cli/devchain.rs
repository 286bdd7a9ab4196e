use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use causeway_core::{Address, Amount, AssetId, ChainId};
use causeway_devchain::genesis::{init_home, GenesisAccount, InitOptions};
use causeway_devchain::node::{Node, NodeOverrides};
use clap::Subcommand;
use serde_json::json;

use super::Output;
use crate::config::LogFormat;
use crate::keystore::Keystore;

#[derive(Subcommand)]
pub enum DevchainCommand {
    /// Write a genesis (chain id, validator key, funded accounts) into a new node home.
    Init {
        /// Node home directory to create.
        #[arg(long, value_name = "DIR")]
        home: PathBuf,
        #[arg(long, default_value = "devchain-a")]
        chain_id: ChainId,
        /// Loopback address the node serves JSON-RPC (HTTP and WebSocket) on.
        #[arg(long, default_value = "127.0.0.1:8645")]
        rpc_addr: SocketAddr,
        /// Interval between blocks.
        #[arg(long, default_value_t = 200)]
        block_interval_ms: u64,
        /// Fund an account at genesis: `ACCOUNT=ASSET:AMOUNT[,ASSET:AMOUNT...]`, where ACCOUNT
        /// is a key name from the keystore or a hex address. Repeatable.
        #[arg(long, value_name = "ACCOUNT=ASSET:AMOUNT,...")]
        fund: Vec<String>,
        /// Overwrite an existing home.
        #[arg(long)]
        force: bool,
        /// JSON bridge config (specs/devchain.md §13.1); without it the bridge refuses everything.
        #[arg(long, value_name = "FILE")]
        bridge: Option<PathBuf>,
    },
    /// Run a node from its home until SIGTERM or Ctrl-C.
    Start {
        #[arg(long, value_name = "DIR")]
        home: PathBuf,
        /// Override the home's RPC address (port 0 picks a free port, written to HOME/rpc.addr).
        #[arg(long)]
        rpc_addr: Option<SocketAddr>,
        #[arg(long)]
        block_interval_ms: Option<u64>,
        #[arg(long, value_enum, default_value = "human")]
        log_format: LogFormat,
    },
}

pub async fn run(cmd: DevchainCommand, keystore: &Keystore, out: Output) -> Result<()> {
    match cmd {
        DevchainCommand::Init {
            home,
            chain_id,
            rpc_addr,
            block_interval_ms,
            fund,
            force,
            bridge,
        } => {
            let bridge = bridge.as_deref().map(read_bridge_config).transpose()?;
            let accounts = fund
                .iter()
                .map(|spec| parse_fund(spec, keystore))
                .collect::<Result<Vec<_>>>()?;
            let funded = accounts.len();
            init_home(
                &home,
                InitOptions {
                    chain_id: chain_id.clone(),
                    rpc_addr,
                    block_interval_ms,
                    accounts,
                    force,
                    bridge,
                },
            )
            .with_context(|| format!("cannot initialise devchain home {}", home.display()))?;
            out.print(
                &json!({"home": home, "chain_id": chain_id, "rpc_addr": rpc_addr, "funded_accounts": funded}),
                || {
                    format!(
                        "initialised devchain {chain_id} in {} ({funded} funded account(s))\nstart it with: causeway devchain start --home {}",
                        home.display(),
                        home.display()
                    )
                },
            );
            Ok(())
        }
        DevchainCommand::Start {
            home,
            rpc_addr,
            block_interval_ms,
            log_format,
        } => {
            crate::logging::init(log_format);
            let node = Node::open(
                &home,
                NodeOverrides {
                    rpc_addr,
                    block_interval_ms,
                },
            )
            .with_context(|| format!("cannot open devchain home {}", home.display()))?;
            node.run(super::signal::terminate()).await?;
            Ok(())
        }
    }
}

/// Parses `ACCOUNT=ASSET:AMOUNT[,ASSET:AMOUNT...]`.
fn read_bridge_config(path: &Path) -> Result<causeway_devchain::BridgeConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --bridge file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "--bridge file {} is not a bridge config (specs/devchain.md §13.1)",
            path.display()
        )
    })
}

fn parse_fund(spec: &str, keystore: &Keystore) -> Result<GenesisAccount> {
    let hint = "expected ACCOUNT=ASSET:AMOUNT[,ASSET:AMOUNT...], e.g. alice=USD:1000000,GOLD:500";
    let (account, assets) = spec
        .split_once('=')
        .with_context(|| format!("--fund {spec:?}: {hint}"))?;
    let address = resolve_account(account, keystore)?;
    let mut balances = BTreeMap::new();
    for item in assets.split(',') {
        let (asset, amount) = item
            .split_once(':')
            .with_context(|| format!("--fund {spec:?}: {item:?} has no ':'; {hint}"))?;
        let asset = AssetId::new(asset).with_context(|| format!("--fund {spec:?}"))?;
        let amount: Amount = amount
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--fund {spec:?}: {e}"))?;
        if balances.insert(asset.clone(), amount).is_some() {
            bail!("--fund {spec:?}: asset {asset} is listed twice");
        }
    }
    Ok(GenesisAccount { address, balances })
}

/// A key name from the keystore, or a 64-hex-digit devchain address.
pub fn resolve_account(account: &str, keystore: &Keystore) -> Result<Address> {
    if account.len() == 64 && account.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Address::new(account.to_ascii_lowercase())?);
    }
    if causeway_adapters::evm::parse_evm_address(account).is_ok() {
        return Ok(Address::new(account.to_ascii_lowercase())?);
    }
    Ok(keystore
        .address_of(account)
        .with_context(|| format!("{account:?} is neither a hex address nor a key name"))?
        .1)
}

#[cfg(test)]
mod tests {
    use super::*;

    // specs/devchain.md §13.1: the `--bridge FILE` JSON shape.
    #[test]
    fn bridge_file_is_read_and_a_bad_one_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("bridge.json");
        let json = json!({
            "committee_id": "07".repeat(32),
            "group_key": "11".repeat(32),
            "key_epoch": 1,
            "routes": [{"asset": "USD", "dest_chain": "devchain-b", "dest_asset": "WUSD"}],
        });
        std::fs::write(&good, json.to_string()).unwrap();
        let config = read_bridge_config(&good).unwrap();
        assert_eq!(config.key_epoch, 1);
        assert!(config.wrapped.is_empty());
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"key_epoch\": 1}").unwrap();
        let err = format!("{:#}", read_bridge_config(&bad).unwrap_err());
        assert!(err.contains("bad.json"), "{err}");
    }
}
