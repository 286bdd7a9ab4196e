//! The bridge actions on an EVM chain (specs/evm-adapter.md §4): `send` (with an `approve`
//! first when the allowance is short), and the committee's attestations and executions,
//! rebuilt as the contract's ABI structs from the attested bytes so the contract verifies
//! exactly what the committee signed.

use alloy::primitives::{Address as EvmAddress, Bytes, B256, U256};
use alloy::sol_types::SolCall;
use causeway_notary::{Attestation, MerkleProof, Transfer};

use super::abi::{
    BridgeAsset, BridgeKeyRotation, BridgePauseControl, BridgeTransfer, BridgeTransferBatch,
    CausewayBridge,
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
                what: "bridge actions without a bridge: set `[chain.evm] bridge` to the address \
                       `causeway evm deploy-bridge` printed"
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
                let amount = U256::from(amount.0);
                self.approving_first(token, bridge, amount, send, SEND_AFTER_APPROVE_GAS)
                    .await?
            }
            Action::BridgeSubmitAttestation {
                attestation,
                signature,
            } => {
                let bytes = self.hex_field("attestation", attestation)?;
                let signature = Bytes::from(self.hex_field("signature", signature)?);
                let parsed = Attestation::from_bytes(&bytes)
                    .map_err(|e| self.rejected(format!("attestation: {e}")))?;
                self.check_attested_chain(&parsed)?;
                let input = match parsed {
                    Attestation::TransferBatch(a) => CausewayBridge::submitBatchCall {
                        batch: abi_batch(&a),
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
            Action::BridgeSubmitBatch {
                attestation,
                signature,
                transfers,
            } => {
                let input = self.submit_and_execute_input(attestation, signature, transfers)?;
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
        Ok(CausewayBridge::executeCall {
            merkleRoot: B256::from(root.0),
            transfer: self.abi_transfer(transfer)?,
            index: proof.leaf_index,
            proof: proof.siblings.iter().map(|s| B256::from(s.0)).collect(),
        }
        .abi_encode())
    }

    /// `submitAndExecute(batch, signature, transfers, indices, proofs)` for a whole batch:
    /// the proofs come from the tree rebuilt from `transfers` (specs/evm-contracts.md §3).
    fn submit_and_execute_input(
        &self,
        attestation: &str,
        signature: &str,
        transfers: &[Transfer],
    ) -> Result<Vec<u8>, AdapterError> {
        let bytes = self.hex_field("attestation", attestation)?;
        let signature = Bytes::from(self.hex_field("signature", signature)?);
        let parsed = Attestation::from_bytes(&bytes)
            .map_err(|e| self.rejected(format!("attestation: {e}")))?;
        self.check_attested_chain(&parsed)?;
        let Attestation::TransferBatch(a) = parsed else {
            return Err(
                self.rejected("a batch submission needs a transfer-batch attestation".into())
            );
        };
        let leaves = transfers
            .iter()
            .map(Transfer::leaf_hash)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.rejected(format!("transfer: {e}")))?;
        let tree = causeway_notary::MerkleTree::build(leaves)
            .map_err(|e| self.rejected(format!("transfers: {e}")))?;
        let mut proofs = Vec::with_capacity(transfers.len());
        for index in 0..transfers.len() {
            let proof = tree
                .proof(index)
                .map_err(|e| self.rejected(format!("proof: {e}")))?;
            proofs.push(proof.siblings.iter().map(|s| B256::from(s.0)).collect());
        }
        Ok(CausewayBridge::submitAndExecuteCall {
            batch: abi_batch(&a),
            signature,
            transfers: transfers
                .iter()
                .map(|t| self.abi_transfer(t))
                .collect::<Result<_, _>>()?,
            indices: (0..transfers.len() as u32).collect(),
            proofs,
        }
        .abi_encode())
    }

    fn abi_transfer(&self, transfer: &Transfer) -> Result<BridgeTransfer, AdapterError> {
        let recipient = parse_evm_address(transfer.recipient.as_str())
            .map_err(|e| self.rejected(format!("transfer recipient: {e}")))?;
        Ok(BridgeTransfer {
            sourceChain: transfer.source_chain.to_string(),
            sourceHeight: transfer.source_position.height,
            sourceIndex: transfer.source_position.index,
            sourceTx: B256::from(transfer.source_tx_hash.0),
            sourceAsset: transfer.asset.to_string(),
            amount: transfer.amount.0,
            sender: transfer.sender.to_string(),
            recipient,
            destAsset: transfer.dest_asset.to_string(),
        })
    }

    /// The token the bridge moves for `asset` (a vault's token, or its wrapped token).
    pub(super) async fn bridge_token(
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

    /// The contract rebuilds the signed bytes with its own chain id, so an attestation for
    /// another chain could only fail as `InvalidSignature`: name the real mistake instead.
    fn check_attested_chain(&self, attestation: &Attestation) -> Result<(), AdapterError> {
        let chain = match attestation {
            Attestation::TransferBatch(a) => &a.dest_chain,
            Attestation::KeyRotation(r) => &r.chain,
            Attestation::Pause(p) => &p.chain,
        };
        if chain == &self.config.chain {
            return Ok(());
        }
        Err(self.rejected(format!(
            "the attestation is for chain {chain}, not {}: submit it to {chain}'s bridge",
            self.config.chain
        )))
    }

    fn hex_field(&self, field: &str, text: &str) -> Result<Vec<u8>, AdapterError> {
        alloy::hex::decode(text.trim_start_matches("0x"))
            .map_err(|e| self.rejected(format!("{field} is not hex: {e}")))
    }
}

/// `Attestations.TransferBatch` of an attested transfer batch.
fn abi_batch(a: &causeway_notary::TransferAttestation) -> BridgeTransferBatch {
    BridgeTransferBatch {
        keyEpoch: a.key_epoch,
        sourceChain: a.source_chain.to_string(),
        sequence: a.sequence,
        transferCount: a.transfer_count,
        merkleRoot: B256::from(a.merkle_root.0),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use causeway_core::{Address, Amount, AssetId, ChainId, Hash32, Position};
    use causeway_notary::{PauseControl, TransferAttestation, TransferBatch};

    use super::*;
    use crate::evm::config::EvmConfig;

    const BRIDGE: EvmAddress = EvmAddress::repeat_byte(0xB1);

    /// No node behind it: the attestation and execute paths read nothing from the chain.
    fn adapter(bridge: bool) -> EvmAdapter {
        let config = EvmConfig {
            chain: ChainId::new("evm-b").unwrap(),
            endpoint: "http://127.0.0.1:9".into(),
            evm_chain_id: 31337,
            htlc_contract: None,
            confirmations: 1,
            block_time_ms: 1000,
            assets: BTreeMap::new(),
            bridge: bridge.then(|| EvmBridge {
                contract: BRIDGE,
                routes: vec![],
            }),
        };
        EvmAdapter::new(config, Some([7; 32])).unwrap()
    }

    fn batch(dest: &str) -> TransferBatch {
        let transfers = (1..=3)
            .map(|i| Transfer {
                source_chain: ChainId::new("dev-a").unwrap(),
                source_position: Position::new(i, 0),
                source_tx_hash: Hash32([i as u8; 32]),
                asset: AssetId::new("USD").unwrap(),
                amount: Amount(u128::from(i)),
                sender: Address::new("alice").unwrap(),
                recipient: Address::new(format!("0x{}", "cd".repeat(20))).unwrap(),
                dest_asset: AssetId::new("WUSD").unwrap(),
            })
            .collect();
        let id = Hash32([9; 32]);
        let (source, dest) = (ChainId::new("dev-a").unwrap(), ChainId::new(dest).unwrap());
        TransferBatch::build(id, 1, source, dest, 4, transfers).unwrap()
    }

    fn submit(attestation: &Attestation) -> Action {
        Action::BridgeSubmitAttestation {
            attestation: alloy::hex::encode(attestation.to_bytes().unwrap()),
            signature: "ab".repeat(64),
        }
    }

    async fn only_call(adapter: &EvmAdapter, action: &Action) -> CallRequest {
        let mut calls = adapter
            .bridge_calls(EvmAddress::ZERO, action)
            .await
            .unwrap();
        assert_eq!(calls.len(), 1);
        let (call, gas) = calls.remove(0);
        assert_eq!((call.to, gas), (Some(BRIDGE), None));
        call
    }

    // specs/evm-adapter.md §4.2: the ABI struct carries exactly the attested fields.
    #[tokio::test]
    async fn a_transfer_attestation_becomes_submit_batch_with_its_fields() {
        let attested: TransferAttestation = batch("evm-b").attestation;
        let call = only_call(
            &adapter(true),
            &submit(&Attestation::TransferBatch(attested.clone())),
        )
        .await;
        let decoded = CausewayBridge::submitBatchCall::abi_decode(&call.input).unwrap();
        assert_eq!(decoded.batch.keyEpoch, 1);
        assert_eq!(decoded.batch.sourceChain, "dev-a");
        assert_eq!(decoded.batch.sequence, 4);
        assert_eq!(decoded.batch.transferCount, 3);
        assert_eq!(decoded.batch.merkleRoot.0, attested.merkle_root.0);
        assert_eq!(decoded.signature.to_vec(), vec![0xab; 64]);
    }

    #[tokio::test]
    async fn a_pause_attestation_becomes_set_paused() {
        let pause = Attestation::Pause(PauseControl {
            committee_id: Hash32([9; 32]),
            key_epoch: 3,
            chain: ChainId::new("evm-b").unwrap(),
            control_sequence: 5,
            paused: true,
        });
        let call = only_call(&adapter(true), &submit(&pause)).await;
        let decoded = CausewayBridge::setPausedCall::abi_decode(&call.input).unwrap();
        assert_eq!(
            (
                decoded.control.keyEpoch,
                decoded.control.controlSequence,
                decoded.control.paused
            ),
            (3, 5, true)
        );
    }

    // specs/evm-adapter.md §4.3: the root is the one the proof leads to.
    #[tokio::test]
    async fn execute_passes_the_transfer_its_proof_and_the_root_it_leads_to() {
        let batch = batch("evm-b");
        let action = Action::BridgeExecute {
            transfer: batch.transfers[2].clone(),
            proof: batch.proof(2).unwrap(),
        };
        let call = only_call(&adapter(true), &action).await;
        let decoded = CausewayBridge::executeCall::abi_decode(&call.input).unwrap();
        assert_eq!(decoded.merkleRoot.0, batch.attestation.merkle_root.0);
        assert_eq!(decoded.index, 2);
        assert_eq!(decoded.transfer.sourceHeight, 3);
        assert_eq!(decoded.transfer.recipient, EvmAddress::repeat_byte(0xCD));
        assert_eq!(decoded.transfer.destAsset, "WUSD");
    }

    #[tokio::test]
    async fn refusals_name_the_mistake() {
        let chain = adapter(true);
        let elsewhere = submit(&Attestation::TransferBatch(batch("evm-c").attestation));
        let err = chain
            .bridge_calls(EvmAddress::ZERO, &elsewhere)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("for chain evm-c, not evm-b"),
            "{err}"
        );
        let garbled = Action::BridgeSubmitAttestation {
            attestation: "0102".into(),
            signature: "zz".into(),
        };
        let err = chain
            .bridge_calls(EvmAddress::ZERO, &garbled)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("signature is not hex"), "{err}");
        let mut transfer = batch("evm-b").transfers[0].clone();
        let proof = batch("evm-b").proof(0).unwrap();
        transfer.recipient = Address::new("alice").unwrap();
        let err = chain
            .bridge_calls(EvmAddress::ZERO, &Action::BridgeExecute { transfer, proof })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("transfer recipient"), "{err}");
        let err = adapter(false)
            .bridge_calls(EvmAddress::ZERO, &elsewhere)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AdapterError::Unsupported { ref what, .. } if what.contains("[chain.evm] bridge"))
        );
    }
}
