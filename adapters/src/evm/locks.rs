//! The parameters of HTLC locks, by lock id: `claim` and `refund` must pass them back to
//! the contract (specs/evm-contracts.md §2.8), and the `Locked` log is where they live.

use std::collections::HashMap;
use std::sync::Mutex;

use alloy::sol_types::SolEvent;
use causeway_core::Hash32;

use super::abi::{CausewayHtlc, LockParams};
use super::events::hash32;
use super::rpc::RpcLog;

/// Most locks remembered; past it the book starts over (a miss costs one `eth_getLogs`).
pub const MAX_REMEMBERED_LOCKS: usize = 4_096;

#[derive(Default)]
pub struct LockBook {
    locks: Mutex<HashMap<Hash32, LockParams>>,
}

impl LockBook {
    pub fn get(&self, lock_id: &Hash32) -> Option<LockParams> {
        self.locks.lock().ok().and_then(|m| m.get(lock_id).cloned())
    }

    /// Records the lock of a `Locked` log; other logs are ignored. The caller filters by
    /// the HTLC contract's address.
    pub fn learn(&self, log: &RpcLog) {
        if log.topics.first() != Some(&CausewayHtlc::Locked::SIGNATURE_HASH) {
            return;
        }
        let Ok(e) = CausewayHtlc::Locked::decode_raw_log(log.topics.iter().copied(), &log.data)
        else {
            return;
        };
        let params = LockParams {
            sender: e.sender,
            recipient: e.recipient,
            token: e.token,
            amount: e.amount,
            hashlock: e.hashlock,
            expiry: e.expiry,
        };
        // The id commits to every parameter: a log whose parameters do not hash to its id
        // did not come from CausewayHTLC, and using it would only make the claim revert.
        if alloy::primitives::keccak256(alloy::sol_types::SolValue::abi_encode(&params)) != e.lockId
        {
            return;
        }
        if let Ok(mut m) = self.locks.lock() {
            if m.len() >= MAX_REMEMBERED_LOCKS {
                m.clear();
            }
            m.insert(hash32(e.lockId), params);
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
    use alloy::sol_types::SolValue;

    use super::*;

    fn log(params: &LockParams, lock_id: B256) -> RpcLog {
        let data = CausewayHtlc::Locked {
            lockId: lock_id,
            hashlock: params.hashlock,
            sender: params.sender,
            recipient: params.recipient,
            token: params.token,
            amount: params.amount,
            expiry: params.expiry,
        }
        .encode_log_data();
        RpcLog {
            address: Address::repeat_byte(0x11),
            topics: data.topics().to_vec(),
            data: Bytes::from(data.data.to_vec()),
            block_number: 1,
            block_hash: B256::ZERO,
            tx_hash: B256::ZERO,
            log_index: 0,
        }
    }

    // specs/evm-contracts.md §2.1: lockId = keccak256(abi.encode(params)).
    #[test]
    fn only_logs_whose_id_matches_their_parameters_are_learned() {
        let params = LockParams {
            sender: Address::repeat_byte(1),
            recipient: Address::repeat_byte(2),
            token: Address::ZERO,
            amount: U256::from(7u8),
            hashlock: B256::repeat_byte(3),
            expiry: 99,
        };
        let id = keccak256(params.abi_encode());
        let book = LockBook::default();
        book.learn(&log(&params, B256::repeat_byte(9)));
        assert!(book.get(&Hash32([9; 32])).is_none());
        book.learn(&log(&params, id));
        assert_eq!(book.get(&Hash32(id.0)), Some(params));
    }
}
