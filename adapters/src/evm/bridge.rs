//! The bridge actions on an EVM chain (specs/evm-adapter.md §4): `send` (with an `approve`
//! first when the allowance is short), and the committee's attestations and executions,
//! rebuilt as the contract's ABI structs from the attested bytes so the contract verifies
//! exactly what the committee signed.

use alloy::primitives::{Address as EvmAddress, Bytes, B256, U256};
use alloy::sol_types::SolCall;
use causeway_notary::{Attestation, MerkleProof, Transfer};

use super::abi::{
    BridgeAsset, BridgeKeyRotation, BridgePauseControl, BridgeTransfer, BridgeTransferBatch,
    CausewayBridge, Erc20,
};
use super::config::{parse_evm_address, EvmBridge};
use super::rpc::CallRequest;
use super::EvmAdapter;
use crate::{Action, AdapterError};

/// Gas of a `send` signed together with its `approve`: it cannot be estimated before the
/// approval lands, so a fixed ceiling covers a vault pull or a wrapped burn.
const SEND_AFTER_APPROVE_GAS: u64 = 250_000;

type Calls = Vec<(CallRequest, Option<u64>)>;

impl EvmAdapter {
    fn bridge(&self) -> Result<&EvmBridge, AdapterError> {
        self.config
            .bridge
            .as_ref()
            .ok_or_else(|| AdapterError::Unsupported {
                chain: self.config.chain.clone(),
                what: "bridge actions without `bridge_contract` in the chain's [chain.evm] config"
                    .into(),
            })
    }

    pub(super) async fn bridge_calls(
        &self,
        from: EvmAddress,
        action: &Action,
    ) -> Result<Calls, AdapterError> {
        let bridge = self.bridge()?.contract;
        let call = |to: EvmAddress, input: Vec<u8>| CallRequest {
            from,
            to: Some(to),
            input: Bytes::from(input),
            value: U256::ZERO,
        };
        Ok(match action {
            Action::BridgeSend {
                dest_chain,
                recipient,
                asset,
                amount,
            } => {
                let send = call(
                    bridge,
                    CausewayBridge::sendCall {
                        destChain: dest_chain.to_string(),
                        assetId: asset.to_string(),
                        amount: amount.0,
                        recipient: recipient.to_string(),
                    }
                    .abi_encode(),
                );
                let token = self.bridge_token(from, bridge, asset.as_str()).await?;
                if self.allowance(token, from, bridge).await? >= U256::from(amount.0) {
                    vec![(send, None)]
                } else {
                    let approve = call(
                        token,
                        Erc20::approveCall {
                            spender: bridge,
                            value: U256::MAX,
                        }
                        .abi_encode(),
                    );
                    vec![(approve, None), (send, Some(SEND_AFTER_APPROVE_GAS))]
                }
            }
            Action::BridgeSubmitAttestation {
                attestation,
                signature,
            } => {
                let bytes = self.hex_field("attestation", attestation)?;
                let signature = Bytes::from(self.hex_field("signature", signature)?);
                let parsed = Attestation::from_bytes(&bytes)
                    .map_err(|e| self.rejected(format!("attestation: {e}")))?;
                let input = match parsed {
                    Attestation::TransferBatch(a) => CausewayBridge::submitBatchCall {
                        batch: BridgeTransferBatch {
                            keyEpoch: a.key_epoch,
                            sourceChain: a.source_chain.to_string(),
                            sequence: a.sequence,
                            transferCount: a.transfer_count,
                            merkleRoot: B256::from(a.merkle_root.0),
                        },
                        signature,
                    }
                    .abi_encode(),
                    Attestation::KeyRotation(r) => CausewayBridge::rotateKeyCall {
                        rotation: BridgeKeyRotation {
                            keyEpoch: r.key_epoch,
                            newEpoch: r.new_epoch,
                            newGroupKey: B256::from(r.new_group_key.0),
                            activateAtMs: r.activate_at_ms,
                            overlapMs: r.overlap_ms,
                        },
                        signature,
                    }
                    .abi_encode(),
                    Attestation::Pause(p) => CausewayBridge::setPausedCall {
                        control: BridgePauseControl {
                            keyEpoch: p.key_epoch,
                            controlSequence: p.control_sequence,
                            paused: p.paused,
                        },
                        signature,
                    }
                    .abi_encode(),
                };
                vec![(call(bridge, input), None)]
            }
            Action::BridgeExecute { transfer, proof } => {
                let input = self.execute_input(transfer, proof)?;
                vec![(call(bridge, input), None)]
            }
            other => return Err(self.rejected(format!("{} is not a bridge action", other.name()))),
        })
    }

    /// `execute(root, transfer, index, proof)`; the root is the one the proof leads to, so
    /// the contract checks it against the batches it accepted.
    fn execute_input(
        &self,
        transfer: &Transfer,
        proof: &MerkleProof,
    ) -> Result<Vec<u8>, AdapterError> {
        let leaf = transfer
            .leaf_hash()
            .map_err(|e| self.rejected(format!("transfer: {e}")))?;
        let root = proof
            .root_from(leaf)
            .map_err(|e| self.rejected(format!("proof: {e}")))?;
        let recipient = parse_evm_address(transfer.recipient.as_str())
            .map_err(|e| self.rejected(format!("transfer recipient: {e}")))?;
        Ok(CausewayBridge::executeCall {
            merkleRoot: B256::from(root.0),
            transfer: BridgeTransfer {
                sourceChain: transfer.source_chain.to_string(),
                sourceHeight: transfer.source_position.height,
                sourceIndex: transfer.source_position.index,
                sourceTx: B256::from(transfer.source_tx_hash.0),
                sourceAsset: transfer.asset.to_string(),
                amount: transfer.amount.0,
                sender: transfer.sender.to_string(),
                recipient,
                destAsset: transfer.dest_asset.to_string(),
            },
            index: proof.leaf_index,
            proof: proof.siblings.iter().map(|s| B256::from(s.0)).collect(),
        }
        .abi_encode())
    }

    /// The token the bridge moves for `asset` (a vault's token, or its wrapped token).
    async fn bridge_token(
        &self,
        from: EvmAddress,
        bridge: EvmAddress,
        asset: &str,
    ) -> Result<EvmAddress, AdapterError> {
        let latest = self.rpc.block_number().await?;
        let input = CausewayBridge::assetOfCall {
            assetId: asset.to_string(),
        }
        .abi_encode();
        let out = self.token_view(bridge, from, input, latest).await?;
        let BridgeAsset { mode, token } = CausewayBridge::assetOfCall::abi_decode_returns(&out)
            .map_err(|e| self.rpc.malformed(format!("assetOf({asset}): {e}")))?;
        if mode == 0 {
            return Err(self.rejected(format!(
                "asset {asset} is not listed in bridge {bridge}; deploy the bridge with it"
            )));
        }
        Ok(token)
    }

    fn hex_field(&self, field: &str, text: &str) -> Result<Vec<u8>, AdapterError> {
        alloy::hex::decode(text.trim_start_matches("0x"))
            .map_err(|e| self.rejected(format!("{field} is not hex: {e}")))
    }
}

/// One asset a new bridge lists: a vault for an existing token, or a wrapped token the
/// bridge deploys and alone mints (named after the asset, 18 decimals).
#[derive(Clone, Debug)]
pub struct BridgeAssetSpec {
    pub asset: causeway_core::AssetId,
    pub vault_token: Option<EvmAddress>,
}

/// The deployment code of `CausewayBridge`: its bytecode and ABI-encoded constructor
/// `(committeeId, chainId, groupKey, keyEpoch, assets)`.
pub fn bridge_deploy_code(
    bytecode: &[u8],
    committee_id: causeway_core::Hash32,
    chain: &causeway_core::ChainId,
    group_key: [u8; 32],
    key_epoch: u64,
    assets: &[BridgeAssetSpec],
) -> Vec<u8> {
    use alloy::sol_types::SolValue;
    let setups: Vec<super::abi::BridgeAssetSetup> = assets
        .iter()
        .map(|a| super::abi::BridgeAssetSetup {
            assetId: a.asset.to_string(),
            vaultToken: a.vault_token.unwrap_or(EvmAddress::ZERO),
            wrappedName: format!("Causeway {}", a.asset),
            wrappedSymbol: a.asset.to_string(),
            wrappedDecimals: 18,
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
