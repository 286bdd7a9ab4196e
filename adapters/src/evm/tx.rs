//! Building and signing EVM transactions (EIP-1559 where the chain has a base fee, legacy
//! EIP-155 otherwise), and the opaque form a [`crate::PreparedTx`] carries.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{TxKind, B256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use causeway_core::Hash32;
use serde::{Deserialize, Serialize};

use super::rpc::CallRequest;

/// How the transaction pays for gas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fees {
    Eip1559 { max_fee: u128, max_priority: u128 },
    Legacy { gas_price: u128 },
}

/// One signed transaction: its hash and its EIP-2718 bytes, `0x` hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTx {
    pub hash: Hash32,
    pub rlp: String,
}

/// `PreparedTx::raw` of the EVM adapter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEvmTx {
    /// The signer, `0x` lowercase.
    pub from: String,
    /// The nonce of the first transaction; the others follow it.
    pub nonce: u64,
    /// Transactions that must land first, in order: the ERC-20 `approve` of an HTLC lock
    /// when the contract's allowance is short.
    #[serde(default)]
    pub prior: Vec<SignedTx>,
    /// The action's own transaction; its hash is the prepared transaction's id.
    pub main: SignedTx,
}

/// Signs `call` as a transaction with these parameters.
pub fn sign(
    key: &PrivateKeySigner,
    evm_chain_id: u64,
    nonce: u64,
    gas_limit: u64,
    fees: Fees,
    call: &CallRequest,
) -> Result<SignedTx, String> {
    let to = match call.to {
        Some(a) => TxKind::Call(a),
        None => TxKind::Create,
    };
    let envelope: TxEnvelope = match fees {
        Fees::Eip1559 {
            max_fee,
            max_priority,
        } => {
            let tx = TxEip1559 {
                chain_id: evm_chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: max_priority,
                to,
                value: call.value,
                access_list: Default::default(),
                input: call.input.clone(),
            };
            let sig = key
                .sign_hash_sync(&tx.signature_hash())
                .map_err(|e| e.to_string())?;
            tx.into_signed(sig).into()
        }
        Fees::Legacy { gas_price } => {
            let tx = TxLegacy {
                chain_id: Some(evm_chain_id),
                nonce,
                gas_price,
                gas_limit,
                to,
                value: call.value,
                input: call.input.clone(),
            };
            let sig = key
                .sign_hash_sync(&tx.signature_hash())
                .map_err(|e| e.to_string())?;
            tx.into_signed(sig).into()
        }
    };
    let hash: B256 = *envelope.tx_hash();
    Ok(SignedTx {
        hash: Hash32(hash.0),
        rlp: format!("0x{}", alloy::hex::encode(envelope.encoded_2718())),
    })
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{keccak256, Address, Bytes, U256};

    use super::*;

    // specs/evm-adapter.md §3.1, specs/adapter.md §3.1: the hash is keccak256 of the exact
    // bytes broadcast, so a re-broadcast after a crash is recognised as the same transaction.
    #[test]
    fn id_is_keccak_of_the_signed_bytes_for_both_fee_kinds() {
        let key = PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap();
        let call = CallRequest {
            from: key.address(),
            to: Some(Address::repeat_byte(1)),
            input: Bytes::from(vec![1, 2, 3]),
            value: U256::from(5u8),
        };
        for fees in [
            Fees::Eip1559 {
                max_fee: 10,
                max_priority: 1,
            },
            Fees::Legacy { gas_price: 10 },
        ] {
            let tx = sign(&key, 31337, 4, 21_000, fees, &call).unwrap();
            let bytes = alloy::hex::decode(&tx.rlp).unwrap();
            assert_eq!(keccak256(&bytes).0, tx.hash.0);
            assert_eq!(sign(&key, 31337, 4, 21_000, fees, &call).unwrap(), tx);
        }
    }
}
