//! The bridge's logs -> Causeway events (specs/evm-adapter.md §4.4): `Sent`, `BatchAccepted`,
//! `TransferExecuted`, `KeyRotated`, only from the configured bridge contract.

use alloy::sol_types::SolEvent;
use causeway_core::{Address, Amount, AssetId, ChainId, EventKind, Position};

use super::abi::CausewayBridge;
use super::config::{address_text, EvmConfig};
use super::events::{hash32, Skip};
use super::rpc::RpcLog;

fn text<T>(
    field: &str,
    value: String,
    make: impl FnOnce(String) -> Result<T, causeway_core::IdError>,
) -> Result<T, Skip> {
    make(value).map_err(|e| Skip::Undecodable(format!("{field}: {e}")))
}

/// The bridge's logs (specs/evm-adapter.md §4); `None` when `log` is not one.
pub fn bridge_event(config: &EvmConfig, log: &RpcLog) -> Result<Option<EventKind>, Skip> {
    let Some(bridge) = config.bridge.as_ref().filter(|b| b.contract == log.address) else {
        return Ok(None);
    };
    let topic0 = log.topics.first().copied().unwrap_or_default();
    let topics = log.topics.iter().copied();
    let decode_err = |e: alloy::sol_types::Error| Skip::Undecodable(e.to_string());
    Ok(Some(if topic0 == CausewayBridge::Sent::SIGNATURE_HASH {
        let e = CausewayBridge::Sent::decode_raw_log(topics, &log.data).map_err(decode_err)?;
        let dest_chain = text("destChain", e.destChain, ChainId::new)?;
        let asset = text("assetId", e.assetId, AssetId::new)?;
        EventKind::BridgeSent {
            sender: address_text(e.sender),
            dest_asset: bridge.dest_asset(&asset, &dest_chain),
            dest_chain,
            recipient: text("recipient", e.recipient, Address::new)?,
            asset,
            amount: Amount(e.amount),
        }
    } else if topic0 == CausewayBridge::BatchAccepted::SIGNATURE_HASH {
        let e =
            CausewayBridge::BatchAccepted::decode_raw_log(topics, &log.data).map_err(decode_err)?;
        EventKind::BridgeBatchAccepted {
            source_chain: text("sourceChain", e.sourceChain, ChainId::new)?,
            sequence: e.sequence,
            root: hash32(e.merkleRoot),
            key_epoch: e.keyEpoch,
        }
    } else if topic0 == CausewayBridge::TransferExecuted::SIGNATURE_HASH {
        let e = CausewayBridge::TransferExecuted::decode_raw_log(topics, &log.data)
            .map_err(decode_err)?;
        EventKind::BridgeReceived {
            source_chain: text("sourceChain", e.sourceChain, ChainId::new)?,
            source_position: Position::new(e.sourceHeight, e.sourceIndex),
            source_tx_hash: hash32(e.sourceTx),
            recipient: address_text(e.recipient),
            asset: text("destAsset", e.destAsset, AssetId::new)?,
            amount: Amount(e.amount),
        }
    } else if topic0 == CausewayBridge::KeyRotated::SIGNATURE_HASH {
        let e =
            CausewayBridge::KeyRotated::decode_raw_log(topics, &log.data).map_err(decode_err)?;
        EventKind::BridgeKeyRotated {
            key_epoch: e.newKeyEpoch,
            group_key: hash32(e.newGroupKey),
        }
    } else {
        return Ok(None);
    }))
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address as EvmAddress, B256};
    use causeway_core::Hash32;

    use super::*;
    use crate::evm::config::{BridgeRoute, EvmBridge};
    use crate::evm::events::event_of;
    use crate::evm::events::tests::{config, log_of};

    const BRIDGE: EvmAddress = EvmAddress::repeat_byte(0xB1);

    fn bridged() -> EvmConfig {
        let mut c = config();
        c.bridge = Some(EvmBridge {
            contract: BRIDGE,
            routes: vec![BridgeRoute {
                asset: AssetId::new("WUSD").unwrap(),
                dest_chain: ChainId::new("dev-a").unwrap(),
                dest_asset: AssetId::new("USD").unwrap(),
            }],
        });
        c
    }

    fn sent(asset: &str) -> CausewayBridge::Sent {
        CausewayBridge::Sent {
            nonce: 4,
            destChain: "dev-a".into(),
            assetId: asset.into(),
            sender: EvmAddress::repeat_byte(0xAB),
            recipient: "alice".into(),
            amount: 40,
        }
    }

    // specs/evm-adapter.md §4.4: the destination asset comes from the routes, else the same id.
    #[test]
    fn sent_maps_to_bridge_sent_with_the_routed_destination_asset() {
        let c = bridged();
        for (asset, dest) in [("WUSD", "USD"), ("GOLD", "GOLD")] {
            let ev = event_of(&c, &log_of(BRIDGE, sent(asset).encode_log_data()), 0).unwrap();
            assert_eq!(
                ev.kind,
                EventKind::BridgeSent {
                    sender: address_text(EvmAddress::repeat_byte(0xAB)),
                    dest_chain: ChainId::new("dev-a").unwrap(),
                    recipient: Address::new("alice").unwrap(),
                    asset: AssetId::new(asset).unwrap(),
                    dest_asset: AssetId::new(dest).unwrap(),
                    amount: Amount(40),
                }
            );
        }
    }

    // specs/evm-adapter.md §4.4: the payout names its source lock, so watchers match them.
    #[test]
    fn transfer_executed_maps_to_bridge_received_with_its_source() {
        let e = CausewayBridge::TransferExecuted {
            leafHash: B256::repeat_byte(1),
            merkleRoot: B256::repeat_byte(2),
            sourceChain: "dev-a".into(),
            sourceHeight: 12,
            sourceIndex: 3,
            sourceTx: B256::repeat_byte(5),
            destAsset: "WUSD".into(),
            recipient: EvmAddress::repeat_byte(0xCD),
            amount: 100,
        };
        let ev = event_of(&bridged(), &log_of(BRIDGE, e.encode_log_data()), 0).unwrap();
        assert_eq!(
            ev.kind,
            EventKind::BridgeReceived {
                source_chain: ChainId::new("dev-a").unwrap(),
                source_position: Position::new(12, 3),
                source_tx_hash: Hash32([5; 32]),
                recipient: address_text(EvmAddress::repeat_byte(0xCD)),
                asset: AssetId::new("WUSD").unwrap(),
                amount: Amount(100),
            }
        );
    }

    #[test]
    fn batch_accepted_and_key_rotated_map_to_their_events() {
        let c = bridged();
        let accepted = CausewayBridge::BatchAccepted {
            merkleRoot: B256::repeat_byte(7),
            sourceChain: "dev-a".into(),
            sequence: 2,
            transferCount: 3,
            keyEpoch: 1,
        };
        let rotated = CausewayBridge::KeyRotated {
            newKeyEpoch: 2,
            newGroupKey: B256::repeat_byte(8),
            previousKeyEpoch: 1,
        };
        let kind = |data| event_of(&c, &log_of(BRIDGE, data), 0).unwrap().kind;
        assert_eq!(
            kind(accepted.encode_log_data()),
            EventKind::BridgeBatchAccepted {
                source_chain: ChainId::new("dev-a").unwrap(),
                sequence: 2,
                root: Hash32([7; 32]),
                key_epoch: 1,
            }
        );
        assert_eq!(
            kind(rotated.encode_log_data()),
            EventKind::BridgeKeyRotated {
                key_epoch: 2,
                group_key: Hash32([8; 32]),
            }
        );
    }

    #[test]
    fn bridge_logs_from_another_contract_or_without_a_bridge_are_not_followed() {
        let forged = log_of(
            EvmAddress::repeat_byte(0x99),
            sent("WUSD").encode_log_data(),
        );
        assert!(bridge_event(&bridged(), &forged).unwrap().is_none());
        let genuine = log_of(BRIDGE, sent("WUSD").encode_log_data());
        assert!(bridge_event(&config(), &genuine).unwrap().is_none());
        assert!(event_of(&config(), &genuine, 0).is_err());
    }

    #[test]
    fn a_sent_log_naming_an_invalid_chain_id_is_skipped_with_the_field() {
        let mut e = sent("WUSD");
        e.destChain = String::new();
        let skipped = bridge_event(&bridged(), &log_of(BRIDGE, e.encode_log_data()));
        assert!(matches!(skipped, Err(Skip::Undecodable(why)) if why.contains("destChain")));
    }
}
