//! Deploying `CausewayBridge` (specs/evm-contracts.md §3): its constructor arguments, and
//! reading back the tokens it listed, for `causeway evm deploy-bridge`.

use alloy::primitives::{Address as EvmAddress, B256};
use alloy::sol_types::SolValue;
use causeway_core::{AssetId, ChainId, Hash32};

use super::abi::BridgeAssetSetup;
use super::EvmAdapter;
use crate::AdapterError;

/// Decimals of every wrapped token a bridge deploys (the devchain's amounts are integers, so
/// this only affects how wallets display them).
pub const WRAPPED_DECIMALS: u8 = 18;

/// One asset a new bridge lists: a vault for an existing token, or a wrapped token the
/// bridge deploys and alone mints (named after the asset, 18 decimals).
#[derive(Clone, Debug)]
pub struct BridgeAssetSpec {
    pub asset: AssetId,
    pub vault_token: Option<EvmAddress>,
}

/// The deployment code of `CausewayBridge`: its bytecode and ABI-encoded constructor
/// `(committeeId, chainId, groupKey, keyEpoch, assets)`.
pub fn bridge_deploy_code(
    bytecode: &[u8],
    committee_id: Hash32,
    chain: &ChainId,
    group_key: [u8; 32],
    key_epoch: u64,
    assets: &[BridgeAssetSpec],
) -> Vec<u8> {
    let setups: Vec<BridgeAssetSetup> = assets
        .iter()
        .map(|a| BridgeAssetSetup {
            assetId: a.asset.to_string(),
            vaultToken: a.vault_token.unwrap_or(EvmAddress::ZERO),
            wrappedName: format!("Causeway {}", a.asset),
            wrappedSymbol: a.asset.to_string(),
            wrappedDecimals: WRAPPED_DECIMALS,
        })
        .collect();
    let args = (
        B256::from(committee_id.0),
        chain.to_string(),
        B256::from(group_key),
        key_epoch,
        setups,
    )
        .abi_encode_params();
    [bytecode, &args].concat()
}

impl EvmAdapter {
    /// The token `bridge` moves for `asset` (for deployment tools: a wrapped token's address).
    pub async fn bridge_asset_token(
        &self,
        bridge: EvmAddress,
        asset: &str,
    ) -> Result<EvmAddress, AdapterError> {
        let from = self.signer_key()?.address();
        self.bridge_token(from, bridge, asset).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // specs/evm-adapter.md §4.6: the constructor arguments follow the bytecode, in order.
    #[test]
    fn deploy_code_is_the_bytecode_then_the_constructor_arguments() {
        let assets = [
            BridgeAssetSpec {
                asset: AssetId::new("GOLD").unwrap(),
                vault_token: Some(EvmAddress::repeat_byte(0x70)),
            },
            BridgeAssetSpec {
                asset: AssetId::new("WUSD").unwrap(),
                vault_token: None,
            },
        ];
        let chain = ChainId::new("evm-b").unwrap();
        let code = bridge_deploy_code(&[0x60, 0x80], Hash32([1; 32]), &chain, [2; 32], 3, &assets);
        assert_eq!(&code[..2], &[0x60, 0x80]);
        type Args = (B256, String, B256, u64, Vec<BridgeAssetSetup>);
        let (committee, chain_id, key, epoch, setups) =
            <Args as SolValue>::abi_decode_params(&code[2..]).unwrap();
        assert_eq!(
            (committee, key),
            (B256::repeat_byte(1), B256::repeat_byte(2))
        );
        assert_eq!((chain_id.as_str(), epoch), ("evm-b", 3));
        assert_eq!(setups[0].vaultToken, EvmAddress::repeat_byte(0x70));
        assert_eq!(setups[1].vaultToken, EvmAddress::ZERO);
        assert_eq!(setups[1].wrappedSymbol, "WUSD");
        assert_eq!(setups[1].wrappedDecimals, WRAPPED_DECIMALS);
    }
}
