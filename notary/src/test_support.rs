//! Fixtures shared by this crate's unit tests.

use causeway_core::{Address, Amount, AssetId, ChainId, Hash32, Position};

use crate::attestation::{Transfer, TransferBatch};

pub(crate) fn chain(s: &str) -> ChainId {
    ChainId::new(s).expect("fixture chain id is valid")
}

pub(crate) fn transfer(i: u32) -> Transfer {
    Transfer {
        source_chain: chain("devchain-a"),
        source_position: Position::new(10 + u64::from(i), i),
        source_tx_hash: causeway_core::sha256(&i.to_be_bytes()),
        asset: AssetId::new("USD").expect("fixture asset"),
        amount: Amount(1_000 + u128::from(i)),
        sender: Address::new(format!("{:064x}", i + 1)).expect("fixture sender"),
        recipient: Address::new(format!("0x{:040x}", i + 0xabc)).expect("fixture recipient"),
        dest_asset: AssetId::new("wUSD").expect("fixture dest asset"),
    }
}

pub(crate) fn committee_id() -> Hash32 {
    causeway_core::sha256(b"test committee")
}

pub(crate) fn batch(n: u32) -> TransferBatch {
    TransferBatch::build(
        committee_id(),
        1,
        chain("devchain-a"),
        chain("evm-b"),
        1,
        (0..n).map(transfer).collect(),
    )
    .expect("fixture batch is valid")
}
