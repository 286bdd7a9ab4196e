//! Fixtures shared by the unit tests.

use std::collections::BTreeSet;

use causeway_core::{sha256, Address, Amount, AssetId, ChainId, Hash32, UnixMillis};
use ed25519_dalek::SigningKey;

use crate::api::AccountState;
use crate::state::State;
use crate::tx::{address_of, Payload, SignedTransaction, Transaction};

pub const START_BALANCE: u128 = 1_000;

pub fn chain() -> ChainId {
    ChainId::new("dev-test").unwrap()
}

pub fn usd() -> AssetId {
    AssetId::new("USD").unwrap()
}

pub fn gold() -> AssetId {
    AssetId::new("GOLD").unwrap()
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn addr(seed: u8) -> Address {
    address_of(&key(seed).verifying_key())
}

pub fn preimage(seed: u8) -> Hash32 {
    Hash32([seed; 32])
}

pub fn hashlock_of(seed: u8) -> Hash32 {
    sha256(preimage(seed).as_bytes())
}

/// Accounts 1..=3 each hold START_BALANCE of USD and GOLD.
pub fn funded_state() -> State {
    let mut state = State::new(chain(), BTreeSet::from([usd(), gold()]));
    for seed in 1..=3 {
        let mut account = AccountState::default();
        account.balances.insert(usd(), Amount(START_BALANCE));
        account.balances.insert(gold(), Amount(START_BALANCE));
        state.accounts.insert(addr(seed), account);
    }
    state
}

pub fn unsigned(from: u8, nonce: u64, payload: Payload) -> Transaction {
    Transaction {
        chain_id: chain(),
        from: addr(from),
        nonce,
        payload,
    }
}

pub fn signed(from: u8, nonce: u64, payload: Payload) -> SignedTransaction {
    unsigned(from, nonce, payload).sign(&key(from))
}

pub fn transfer(to: u8, amount: u128) -> Payload {
    Payload::Transfer {
        to: addr(to),
        asset: usd(),
        amount: Amount(amount),
    }
}

pub fn lock(recipient: u8, amount: u128, secret: u8, expiry_ms: UnixMillis) -> Payload {
    Payload::HtlcLock {
        recipient: addr(recipient),
        asset: usd(),
        amount: Amount(amount),
        hashlock: hashlock_of(secret),
        expiry_ms,
    }
}

pub fn balance(state: &State, seed: u8) -> u128 {
    state
        .accounts
        .get(&addr(seed))
        .and_then(|a| a.balances.get(&usd()))
        .map_or(0, |a| a.0)
}
