//! HTLC, bridge and ERC-20 logs -> Causeway events (specs/adapter.md §2.6).

use alloy::primitives::{B256, U256};
use alloy::sol_types::SolEvent;
use causeway_core::{Amount, ChainEvent, EventKind, Hash32, Position};

use super::abi::{CausewayBridge, CausewayHtlc, Erc20};
use super::bridge_events::bridge_event;
use super::config::{address_text, EvmConfig};
use super::rpc::RpcLog;

/// Why a log is not an event the relay can act on.
#[derive(Debug, PartialEq, Eq)]
pub enum Skip {
    /// A token or coin that is not in the asset map (nothing the relay could act on).
    UnmappedAsset,
    /// Not an event this adapter follows, or one the contract could not have emitted.
    Undecodable(String),
}

/// Topic 0 of every log the adapter follows.
pub fn followed_topics() -> Vec<B256> {
    vec![
        CausewayHtlc::Locked::SIGNATURE_HASH,
        CausewayHtlc::Claimed::SIGNATURE_HASH,
        CausewayHtlc::Refunded::SIGNATURE_HASH,
        Erc20::Transfer::SIGNATURE_HASH,
        CausewayBridge::Sent::SIGNATURE_HASH,
        CausewayBridge::BatchAccepted::SIGNATURE_HASH,
        CausewayBridge::TransferExecuted::SIGNATURE_HASH,
        CausewayBridge::KeyRotated::SIGNATURE_HASH,
    ]
}

pub fn hash32(b: B256) -> Hash32 {
    Hash32(b.0)
}

fn amount(v: U256) -> Result<Amount, Skip> {
    u128::try_from(v)
        .map(Amount)
        .map_err(|_| Skip::Undecodable(format!("amount {v} exceeds u128")))
}

/// Maps one log, whose block was stamped `time_ms`, to an event.
pub fn event_of(config: &EvmConfig, log: &RpcLog, time_ms: u64) -> Result<ChainEvent, Skip> {
    let topic0 = log.topics.first().copied().unwrap_or_default();
    let from_htlc = Some(log.address) == config.htlc_contract;
    let decode_err = |e: alloy::sol_types::Error| Skip::Undecodable(e.to_string());
    let topics = log.topics.iter().copied();
    let kind = if let Some(kind) = bridge_event(config, log)? {
        kind
    } else if from_htlc && topic0 == CausewayHtlc::Locked::SIGNATURE_HASH {
        let e = CausewayHtlc::Locked::decode_raw_log(topics, &log.data).map_err(decode_err)?;
        EventKind::HtlcLocked {
            lock_id: hash32(e.lockId),
            sender: address_text(e.sender),
            recipient: address_text(e.recipient),
            asset: config.asset_of(e.token).ok_or(Skip::UnmappedAsset)?,
            amount: amount(e.amount)?,
            hashlock: hash32(e.hashlock),
            expiry_ms: e.expiry.saturating_mul(1000),
        }
    } else if from_htlc && topic0 == CausewayHtlc::Claimed::SIGNATURE_HASH {
        let e = CausewayHtlc::Claimed::decode_raw_log(topics, &log.data).map_err(decode_err)?;
        EventKind::HtlcClaimed {
            lock_id: hash32(e.lockId),
            hashlock: hash32(e.hashlock),
            preimage: hash32(e.preimage),
            recipient: address_text(e.recipient),
        }
    } else if from_htlc && topic0 == CausewayHtlc::Refunded::SIGNATURE_HASH {
        let e = CausewayHtlc::Refunded::decode_raw_log(topics, &log.data).map_err(decode_err)?;
        EventKind::HtlcRefunded {
            lock_id: hash32(e.lockId),
            hashlock: hash32(e.hashlock),
            sender: address_text(e.sender),
        }
    } else if topic0 == Erc20::Transfer::SIGNATURE_HASH && !log.address.is_zero() {
        let asset = config.asset_of(log.address).ok_or(Skip::UnmappedAsset)?;
        let e = Erc20::Transfer::decode_raw_log(topics, &log.data).map_err(decode_err)?;
        EventKind::Transfer {
            from: address_text(e.from),
            to: address_text(e.to),
            asset,
            amount: amount(e.value)?,
        }
    } else {
        return Err(Skip::Undecodable(format!(
            "log with topic {topic0} from {}",
            log.address
        )));
    };
    Ok(ChainEvent {
        chain_id: config.chain.clone(),
        position: Position::new(log.block_number, log.log_index),
        tx_hash: hash32(log.tx_hash),
        time_ms,
        kind,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use alloy::primitives::{Address as EvmAddress, Bytes};
    use causeway_core::{AssetId, ChainId};

    use super::*;
    use crate::evm::config::AssetRef;

    pub(in crate::evm) fn config() -> EvmConfig {
        let mut assets = BTreeMap::new();
        assets.insert(AssetId::new("ETH").unwrap(), AssetRef::Native);
        assets.insert(
            AssetId::new("USD").unwrap(),
            AssetRef::Erc20(EvmAddress::repeat_byte(0x70)),
        );
        EvmConfig {
            chain: ChainId::new("evm-a").unwrap(),
            endpoint: "http://x".into(),
            evm_chain_id: 31337,
            htlc_contract: Some(EvmAddress::repeat_byte(0x11)),
            confirmations: 1,
            block_time_ms: 1000,
            assets,
            bridge: None,
        }
    }

    pub(in crate::evm) fn log_of(
        address: EvmAddress,
        encoded: alloy::primitives::LogData,
    ) -> RpcLog {
        RpcLog {
            address,
            topics: encoded.topics().to_vec(),
            data: Bytes::from(encoded.data.to_vec()),
            block_number: 7,
            block_hash: B256::repeat_byte(9),
            tx_hash: B256::repeat_byte(8),
            log_index: 3,
        }
    }

    // specs/adapter.md §2.6, specs/evm-adapter.md §2.2: expiry seconds -> ms, addresses
    // lowercase, asset by map.
    #[test]
    fn locked_log_maps_to_htlc_locked_with_ms_expiry_and_mapped_asset() {
        let c = config();
        let e = CausewayHtlc::Locked {
            lockId: B256::repeat_byte(1),
            hashlock: B256::repeat_byte(2),
            sender: EvmAddress::repeat_byte(0xAB),
            recipient: EvmAddress::repeat_byte(0xCD),
            token: EvmAddress::repeat_byte(0x70),
            amount: U256::from(5u8),
            expiry: 1_700_000_000,
        };
        let ev = event_of(
            &c,
            &log_of(c.htlc_contract.unwrap(), e.encode_log_data()),
            42,
        )
        .unwrap();
        assert_eq!(ev.position, Position::new(7, 3));
        match ev.kind {
            EventKind::HtlcLocked {
                expiry_ms,
                asset,
                sender,
                amount,
                ..
            } => {
                assert_eq!(expiry_ms, 1_700_000_000_000);
                assert_eq!(asset.as_str(), "USD");
                assert_eq!(sender.as_str(), format!("0x{}", "ab".repeat(20)));
                assert_eq!(amount, Amount(5));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn native_lock_uses_the_native_asset_and_unmapped_tokens_are_skipped() {
        let c = config();
        let mut e = CausewayHtlc::Locked {
            lockId: B256::repeat_byte(1),
            hashlock: B256::repeat_byte(2),
            sender: EvmAddress::repeat_byte(0xAB),
            recipient: EvmAddress::repeat_byte(0xCD),
            token: EvmAddress::ZERO,
            amount: U256::from(5u8),
            expiry: 1,
        };
        let htlc = c.htlc_contract.unwrap();
        let ev = event_of(&c, &log_of(htlc, e.encode_log_data()), 0).unwrap();
        assert!(
            matches!(ev.kind, EventKind::HtlcLocked { ref asset, .. } if asset.as_str() == "ETH")
        );
        e.token = EvmAddress::repeat_byte(0x99);
        assert_eq!(
            event_of(&c, &log_of(htlc, e.encode_log_data()), 0),
            Err(Skip::UnmappedAsset)
        );
    }

    #[test]
    fn htlc_events_from_another_contract_are_not_followed() {
        let c = config();
        let e = CausewayHtlc::Refunded {
            lockId: B256::repeat_byte(1),
            hashlock: B256::repeat_byte(2),
            sender: EvmAddress::repeat_byte(0xAB),
        };
        let forged = log_of(EvmAddress::repeat_byte(0x70), e.encode_log_data());
        assert!(matches!(
            event_of(&c, &forged, 0),
            Err(Skip::Undecodable(_))
        ));
    }

    #[test]
    fn token_transfer_maps_to_transfer() {
        let c = config();
        let e = Erc20::Transfer {
            from: EvmAddress::repeat_byte(1),
            to: EvmAddress::repeat_byte(2),
            value: U256::from(9u8),
        };
        let ev = event_of(
            &c,
            &log_of(EvmAddress::repeat_byte(0x70), e.encode_log_data()),
            0,
        )
        .unwrap();
        assert!(matches!(
            ev.kind,
            EventKind::Transfer {
                amount: Amount(9),
                ..
            }
        ));
    }
}
