//! What an EVM chain's adapter is configured with.

use std::collections::BTreeMap;
use std::str::FromStr;

use alloy::primitives::Address as EvmAddress;
use causeway_core::{Address, AssetId, ChainId, FinalityRule};

use crate::AdapterError;

/// The text that maps an asset to the chain's native coin in the asset map.
pub const NATIVE: &str = "native";

/// Where an asset lives on the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetRef {
    Native,
    Erc20(EvmAddress),
}

impl FromStr for AssetRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == NATIVE {
            return Ok(AssetRef::Native);
        }
        parse_evm_address(s).map(AssetRef::Erc20)
    }
}

#[derive(Clone, Debug)]
pub struct EvmConfig {
    pub chain: ChainId,
    /// `http(s)://host:port` of the node's JSON-RPC.
    pub endpoint: String,
    /// The EVM chain id (EIP-155) the endpoint must report; every signature commits to it.
    pub evm_chain_id: u64,
    /// The deployed `CausewayHTLC`; without it the chain offers transfers only.
    pub htlc_contract: Option<EvmAddress>,
    /// Blocks built on a block before it is final: 0 for instant-finality (QBFT/IBFT with
    /// one-block finality is also 0; use 1 or more where a node may serve a fork).
    pub confirmations: u64,
    /// Declared target block interval.
    pub block_time_ms: u64,
    pub assets: BTreeMap<AssetId, AssetRef>,
    /// The deployed `CausewayBridge` and its outbound routes; without it no bridge actions.
    pub bridge: Option<EvmBridge>,
}

#[derive(Clone, Debug)]
pub struct EvmBridge {
    pub contract: EvmAddress,
    /// What each asset sent from here becomes on each destination chain (the contract's
    /// `Sent` event does not say; the notaries attest the destination asset).
    pub routes: Vec<BridgeRoute>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeRoute {
    pub asset: AssetId,
    pub dest_chain: ChainId,
    pub dest_asset: AssetId,
}

impl EvmBridge {
    /// The destination asset of `asset` sent to `dest_chain`; the same id when unrouted (the
    /// destination then refuses to pay it, visibly, rather than the transfer vanishing).
    pub fn dest_asset(&self, asset: &AssetId, dest_chain: &ChainId) -> AssetId {
        self.routes
            .iter()
            .find(|r| &r.asset == asset && &r.dest_chain == dest_chain)
            .map(|r| r.dest_asset.clone())
            .unwrap_or_else(|| asset.clone())
    }
}

impl EvmConfig {
    pub fn finality(&self) -> FinalityRule {
        if self.confirmations == 0 {
            FinalityRule::Instant
        } else {
            FinalityRule::Confirmations {
                depth: self.confirmations,
            }
        }
    }

    pub(crate) fn asset(&self, asset: &AssetId) -> Result<AssetRef, AdapterError> {
        self.assets
            .get(asset)
            .copied()
            .ok_or_else(|| AdapterError::Rejected {
                chain: self.chain.clone(),
                code: None,
                message: format!(
                    "unknown asset {asset}: this chain's config maps only {}; add it under [chain.evm.assets]",
                    self.assets.keys().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
                ),
            })
    }

    /// The asset id of a token address (or `None` for the native coin's `address(0)`).
    pub(crate) fn asset_of(&self, token: EvmAddress) -> Option<AssetId> {
        let wanted = if token.is_zero() {
            AssetRef::Native
        } else {
            AssetRef::Erc20(token)
        };
        self.assets
            .iter()
            .find(|(_, r)| **r == wanted)
            .map(|(id, _)| id.clone())
    }

    pub(crate) fn tokens(&self) -> Vec<EvmAddress> {
        self.assets
            .values()
            .filter_map(|r| match r {
                AssetRef::Erc20(a) => Some(*a),
                AssetRef::Native => None,
            })
            .collect()
    }
}

/// `0x` + 40 hex digits (any case) -> an address.
pub fn parse_evm_address(s: &str) -> Result<EvmAddress, String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("{s:?} is not an EVM address: expected 0x and 40 hex digits"))?;
    if digits.len() != 40 {
        return Err(format!(
            "{s:?} is not an EVM address: expected 0x and 40 hex digits"
        ));
    }
    EvmAddress::from_str(s).map_err(|e| format!("{s:?} is not an EVM address: {e}"))
}

/// The Causeway form of an EVM address: `0x` + 40 lowercase hex digits.
pub fn address_text(a: EvmAddress) -> Address {
    Address::new(format!("0x{}", alloy::hex::encode(a.as_slice())))
        .expect("0x + hex is a valid address")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_lowercase_and_parsed_strictly() {
        let a = parse_evm_address("0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266").unwrap();
        assert_eq!(
            address_text(a).as_str(),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        assert!(parse_evm_address("f39fd6e51aad88f6f4ce6ab8827279cfffb92266").is_err());
        assert!(parse_evm_address("0x1234").is_err());
        assert_eq!("native".parse::<AssetRef>().unwrap(), AssetRef::Native);
    }

    #[test]
    fn zero_confirmations_is_instant_finality() {
        let mut c = EvmConfig {
            chain: ChainId::new("evm").unwrap(),
            endpoint: "http://x".into(),
            evm_chain_id: 1,
            htlc_contract: None,
            confirmations: 0,
            block_time_ms: 1000,
            assets: BTreeMap::new(),
            bridge: None,
        };
        assert_eq!(c.finality(), FinalityRule::Instant);
        c.confirmations = 2;
        assert_eq!(c.finality(), FinalityRule::Confirmations { depth: 2 });
        let err = c.asset(&AssetId::new("USD").unwrap()).unwrap_err();
        assert!(err.to_string().contains("unknown asset USD"), "{err}");
    }
}
