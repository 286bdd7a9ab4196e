//! EVM chains in the relay: the `[chain.evm]` config table and building the adapter from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use causeway_adapters::evm::{
    parse_evm_address, AssetRef, BridgeRoute, EvmAdapter, EvmBridge, EvmConfig,
};
use causeway_adapters::ChainAdapter;
use causeway_core::AssetId;
use serde::Deserialize;

use crate::config::ChainConfig;
use crate::keystore::Keystore;

/// Most assets one EVM chain maps.
pub const MAX_EVM_ASSETS: usize = 64;
/// Most `[[chain.evm.bridge_routes]]` one EVM chain lists.
pub const MAX_BRIDGE_ROUTES: usize = 256;

/// `[chain.evm]`: what only an EVM chain needs.
#[derive(Debug, Clone, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct EvmChainConfig {
    /// The chain's EIP-155 chain id; the adapter refuses an endpoint reporting another.
    #[arg(long = "evm-chain-id", default_value_t = 31337)]
    pub evm_chain_id: u64,
    /// Address of the deployed CausewayHTLC (`causeway evm deploy-htlc`); without it the
    /// chain offers transfers only.
    #[serde(default)]
    #[arg(long = "htlc-contract")]
    pub htlc_contract: Option<String>,
    /// Blocks built on top before a block counts as final.
    #[serde(default = "default_confirmations")]
    #[arg(long, default_value_t = default_confirmations())]
    pub confirmations: u64,
    /// Declared target block interval.
    #[serde(default = "default_block_time_ms")]
    #[arg(long = "block-time-ms", default_value_t = default_block_time_ms())]
    pub block_time_ms: u64,
    /// Asset id -> ERC-20 address, or "native" for the chain's coin.
    #[serde(default)]
    #[arg(long = "evm-asset", value_name = "ASSET=ADDRESS|native", value_parser = parse_asset_arg)]
    #[serde(skip_deserializing)]
    pub asset_args: Vec<(AssetId, String)>,
    #[serde(default)]
    #[arg(skip)]
    pub assets: BTreeMap<AssetId, String>,
    /// Address of the deployed CausewayBridge (`causeway evm deploy-bridge`); without it
    /// the chain takes no part in notary transfers.
    #[serde(default)]
    #[arg(skip)]
    pub bridge: Option<String>,
    /// `[[chain.evm.bridge_routes]]`: what an asset sent from here becomes on a destination.
    #[serde(default)]
    #[arg(skip)]
    pub bridge_routes: Vec<BridgeRoute>,
}

fn default_confirmations() -> u64 {
    1
}

fn default_block_time_ms() -> u64 {
    1_000
}

fn parse_asset_arg(s: &str) -> Result<(AssetId, String), String> {
    let (asset, target) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected ASSET=0xTOKEN or ASSET=native"))?;
    Ok((
        AssetId::new(asset).map_err(|e| e.to_string())?,
        target.to_string(),
    ))
}

impl EvmChainConfig {
    /// The adapter's config, every field checked and named on error.
    pub fn adapter_config(&self, chain: &ChainConfig) -> Result<EvmConfig> {
        let at = format!("chain {} [chain.evm]", chain.id);
        let mut assets = BTreeMap::new();
        let all = self
            .assets
            .iter()
            .map(|(a, t)| (a.clone(), t.clone()))
            .chain(self.asset_args.iter().cloned());
        for (asset, target) in all {
            let r: AssetRef = target
                .parse()
                .map_err(|e| anyhow::anyhow!("{at}.assets.{asset}: {e}, or \"native\""))?;
            assets.insert(asset, r);
        }
        if assets.len() > MAX_EVM_ASSETS {
            bail!(
                "{at}.assets: {} assets, at most {MAX_EVM_ASSETS}",
                assets.len()
            );
        }
        let htlc_contract = self
            .htlc_contract
            .as_deref()
            .map(parse_evm_address)
            .transpose()
            .map_err(|e| anyhow::anyhow!("{at}.htlc_contract: {e}"))?;
        if !(1..=600_000).contains(&self.block_time_ms) {
            bail!(
                "{at}.block_time_ms: {} is outside 1..=600000",
                self.block_time_ms
            );
        }
        if self.bridge_routes.len() > MAX_BRIDGE_ROUTES {
            bail!(
                "{at}.bridge_routes: {} routes, at most {MAX_BRIDGE_ROUTES}",
                self.bridge_routes.len()
            );
        }
        let bridge = self
            .bridge
            .as_deref()
            .map(parse_evm_address)
            .transpose()
            .map_err(|e| anyhow::anyhow!("{at}.bridge: {e}"))?
            .map(|contract| EvmBridge {
                contract,
                routes: self.bridge_routes.clone(),
            });
        if bridge.is_none() && !self.bridge_routes.is_empty() {
            bail!("{at}.bridge_routes: set `bridge` too (the routes belong to a bridge)");
        }
        Ok(EvmConfig {
            chain: chain.id.clone(),
            endpoint: chain.endpoint.clone(),
            evm_chain_id: self.evm_chain_id,
            htlc_contract,
            confirmations: self.confirmations,
            block_time_ms: self.block_time_ms,
            assets,
            bridge,
        })
    }
}

/// The EVM adapter for a `kind = "evm"` chain, signing with its secp256k1 `key`.
pub fn build_evm_adapter(
    chain: &ChainConfig,
    keystore: &Keystore,
) -> Result<Arc<dyn ChainAdapter>> {
    let section = chain.evm.as_ref().with_context(|| {
        format!(
            "chain {}: kind \"evm\" needs a [chain.evm] table with at least evm_chain_id",
            chain.id
        )
    })?;
    let secret = match &chain.key {
        Some(name) => Some(
            keystore
                .load_secp256k1(name)
                .with_context(|| format!("chain {}: key {name:?}", chain.id))?
                .secret,
        ),
        None => None,
    };
    Ok(Arc::new(EvmAdapter::new(
        section.adapter_config(chain)?,
        secret,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(evm_table: &str) -> ChainConfig {
        toml::from_str(&format!(
            "id = \"evm-b\"\nkind = \"evm\"\nendpoint = \"http://127.0.0.1:8545\"\n[evm]\nevm_chain_id = 31337\n{evm_table}"
        ))
        .unwrap()
    }

    fn adapter_config(evm_table: &str) -> Result<EvmConfig> {
        let chain = chain(evm_table);
        chain.evm.as_ref().unwrap().adapter_config(&chain)
    }

    const ROUTE: &str =
        "[[evm.bridge_routes]]\nasset = \"WUSD\"\ndest_chain = \"dev-a\"\ndest_asset = \"USD\"\n";

    // specs/evm-adapter.md §1, §4.1: `bridge` names the contract; routes need a bridge.
    #[test]
    fn the_bridge_and_its_routes_are_read_and_checked() {
        assert!(adapter_config("").unwrap().bridge.is_none());
        let bridge = format!("0x{}", "b1".repeat(20));
        let config = adapter_config(&format!("bridge = \"{bridge}\"\n{ROUTE}")).unwrap();
        let read = config.bridge.unwrap();
        assert_eq!(read.contract, parse_evm_address(&bridge).unwrap());
        let (wusd, dev_a) = (AssetId::new("WUSD").unwrap(), "dev-a".parse().unwrap());
        assert_eq!(read.dest_asset(&wusd, &dev_a).as_str(), "USD");
        let orphan = adapter_config(ROUTE).unwrap_err().to_string();
        assert!(orphan.contains("set `bridge` too"), "{orphan}");
        let typo = adapter_config("bridge = \"0x12\"\n")
            .unwrap_err()
            .to_string();
        assert!(typo.contains("[chain.evm].bridge"), "{typo}");
        let many = format!(
            "bridge = \"{bridge}\"\n{}",
            ROUTE.repeat(MAX_BRIDGE_ROUTES + 1)
        );
        let err = adapter_config(&many).unwrap_err().to_string();
        assert!(err.contains("at most"), "{err}");
    }
}
