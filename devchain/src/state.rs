//! Ledger state: accounts and HTLC locks, and read-only views layered over it.
//!
//! [`State`] is the committed state. [`Changes`] collects writes not yet committed (a block
//! being built, or the mempool's pending transactions); [`Layered`] reads through them.

use std::collections::{BTreeSet, HashMap};

use causeway_core::{Address, AssetId, ChainId, Hash32, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::api::{AccountState, HtlcLock};
use crate::bridge::BridgeState;

/// Read access the executor needs. `None` from [`StateView::account`] means "never seen":
/// nonce 0, no balances.
pub trait StateView {
    fn chain_id(&self) -> &ChainId;
    fn is_known_asset(&self, asset: &AssetId) -> bool;
    fn assets(&self) -> &BTreeSet<AssetId>;
    fn account(&self, address: &Address) -> Option<&AccountState>;
    fn htlc(&self, lock_id: &Hash32) -> Option<&HtlcLock>;
    /// `None` when genesis configured no bridge: the bridge then refuses everything.
    fn bridge(&self) -> Option<&BridgeState>;
}

/// The committed state of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub chain_id: ChainId,
    /// Assets are declared in genesis; nothing else can ever hold a balance.
    pub assets: BTreeSet<AssetId>,
    pub accounts: HashMap<Address, AccountState>,
    pub htlcs: HashMap<Hash32, HtlcLock>,
    pub bridge: Option<BridgeState>,
}

impl State {
    pub fn new(chain_id: ChainId, assets: BTreeSet<AssetId>) -> Self {
        State {
            chain_id,
            assets,
            accounts: HashMap::new(),
            htlcs: HashMap::new(),
            bridge: None,
        }
    }

    /// Makes `changes` part of the committed state.
    pub fn apply(&mut self, changes: Changes) {
        self.accounts.extend(changes.accounts);
        self.htlcs.extend(changes.htlcs);
        if changes.bridge.is_some() {
            self.bridge = changes.bridge;
        }
    }
}

impl StateView for State {
    fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }
    fn is_known_asset(&self, asset: &AssetId) -> bool {
        self.assets.contains(asset)
    }
    fn assets(&self) -> &BTreeSet<AssetId> {
        &self.assets
    }
    fn account(&self, address: &Address) -> Option<&AccountState> {
        self.accounts.get(address)
    }
    fn htlc(&self, lock_id: &Hash32) -> Option<&HtlcLock> {
        self.htlcs.get(lock_id)
    }
    fn bridge(&self) -> Option<&BridgeState> {
        self.bridge.as_ref()
    }
}

/// What executing transactions writes: the new value of every account and lock touched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub accounts: HashMap<Address, AccountState>,
    pub htlcs: HashMap<Hash32, HtlcLock>,
    /// The whole new bridge state, if a transaction changed it.
    pub bridge: Option<BridgeState>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.htlcs.is_empty() && self.bridge.is_none()
    }

    /// Later writes win: `other` happened after `self`.
    pub fn merge(&mut self, other: Changes) {
        self.accounts.extend(other.accounts);
        self.htlcs.extend(other.htlcs);
        if other.bridge.is_some() {
            self.bridge = other.bridge;
        }
    }
}

/// A view of `base` with `changes` written over it.
#[derive(Clone, Copy)]
pub struct Layered<'a> {
    pub base: &'a State,
    pub changes: &'a Changes,
}

impl StateView for Layered<'_> {
    fn chain_id(&self) -> &ChainId {
        &self.base.chain_id
    }
    fn is_known_asset(&self, asset: &AssetId) -> bool {
        self.base.assets.contains(asset)
    }
    fn assets(&self) -> &BTreeSet<AssetId> {
        &self.base.assets
    }
    fn account(&self, address: &Address) -> Option<&AccountState> {
        self.changes
            .accounts
            .get(address)
            .or_else(|| self.base.accounts.get(address))
    }
    fn htlc(&self, lock_id: &Hash32) -> Option<&HtlcLock> {
        self.changes
            .htlcs
            .get(lock_id)
            .or_else(|| self.base.htlcs.get(lock_id))
    }
    fn bridge(&self) -> Option<&BridgeState> {
        self.changes.bridge.as_ref().or(self.base.bridge.as_ref())
    }
}

/// The last committed block, as later blocks and readers need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub height: u64,
    pub hash: Hash32,
    pub time_ms: UnixMillis,
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_core::Amount;

    fn addr(c: char) -> Address {
        Address::new(c.to_string().repeat(64)).unwrap()
    }

    #[test]
    fn layered_view_prefers_changes_and_falls_back_to_base() {
        let mut base = State::new(ChainId::new("c").unwrap(), BTreeSet::new());
        let usd = AssetId::new("USD").unwrap();
        let mut old = AccountState::default();
        old.balances.insert(usd.clone(), Amount(1));
        base.accounts.insert(addr('a'), old.clone());
        base.accounts.insert(addr('b'), old.clone());
        let mut changes = Changes::default();
        let mut new = old.clone();
        new.nonce = 7;
        changes.accounts.insert(addr('a'), new.clone());
        let view = Layered {
            base: &base,
            changes: &changes,
        };
        assert_eq!(view.account(&addr('a')), Some(&new));
        assert_eq!(view.account(&addr('b')), Some(&old));
        assert_eq!(view.account(&addr('c')), None);
        base.apply(changes);
        assert_eq!(base.accounts[&addr('a')].nonce, 7);
    }
}
