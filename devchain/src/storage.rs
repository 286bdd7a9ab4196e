//! sled persistence. One tree, prefixed keys, one atomic batch and one flush per block.
//!
//! Layout (`specs/devchain.md` §9): `meta/head`, `meta/genesis`, `acct/<address>`,
//! `htlc/<lock id bytes>`, `blk/<height BE>`, `rcpt/<tx hash bytes>`,
//! `evt/<height BE><index BE>`; values are JSON.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use causeway_core::{sha256, Address, ChainEvent, Cursor, Hash32};
use ed25519_dalek::SigningKey;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::api::{AccountState, Block, BlockHeader, HtlcLock, Receipt};
use crate::block::{seal, transactions_root, BlockOutput};
use crate::error::DevchainError;
use crate::genesis::Genesis;
use crate::state::{Changes, Head, State};
use crate::tx::address_of;

const HEAD_KEY: &[u8] = b"meta/head";
/// The whole bridge state, one value (`specs/devchain.md` §13).
const BRIDGE_KEY: &[u8] = b"meta/bridge";
const GENESIS_KEY: &[u8] = b"meta/genesis";
const ACCOUNT_PREFIX: &[u8] = b"acct/";
const HTLC_PREFIX: &[u8] = b"htlc/";
const BLOCK_PREFIX: &[u8] = b"blk/";
const RECEIPT_PREFIX: &[u8] = b"rcpt/";
const EVENT_PREFIX: &[u8] = b"evt/";

fn prefixed(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + rest.len());
    key.extend_from_slice(prefix);
    key.extend_from_slice(rest);
    key
}

fn event_key(position: Cursor) -> Vec<u8> {
    let mut rest = [0u8; 12];
    rest[..8].copy_from_slice(&position.height.to_be_bytes());
    rest[8..].copy_from_slice(&position.index.to_be_bytes());
    prefixed(EVENT_PREFIX, &rest)
}

fn position_of_event_key(key: &[u8]) -> Option<Cursor> {
    let rest = key.strip_prefix(EVENT_PREFIX)?;
    let height = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    let index = u32::from_be_bytes(rest.get(8..12)?.try_into().ok()?);
    Some(Cursor::new(height, index))
}

fn encode(value: &impl Serialize) -> Vec<u8> {
    // Our own types always serialise; an empty value would fail loudly on decode.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T, DevchainError> {
    serde_json::from_slice(value).map_err(|e| DevchainError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        detail: e.to_string(),
    })
}

/// sled's page cache for the chain (sled's default is 1 GiB): a node's resident memory
/// stays bounded as the chain grows.
pub const CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// sled releases a closed database's file lock only when its background flusher thread
/// exits, a moment after the last handle is dropped: a reopen in the same process (a node
/// restarted in place, a test) waits this long for it before calling the home taken.
const LOCK_WAIT: Duration = Duration::from_secs(2);
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// sled 0.34 reports a held lock only in its message (`ErrorKind::Other`).
fn is_lock_held(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// Opens a sled database, waiting up to 2 s (`LOCK_WAIT`) for a handle this process just
/// dropped to release its lock; a lock held longer is returned as sled's error.
pub fn open_when_unlocked(config: &sled::Config) -> sled::Result<sled::Db> {
    let waited_since = Instant::now();
    loop {
        match config.open() {
            Err(e) if is_lock_held(&e) && waited_since.elapsed() < LOCK_WAIT => {
                std::thread::sleep(LOCK_RETRY);
            }
            opened => return opened,
        }
    }
}

#[derive(Clone)]
pub struct Storage {
    db: sled::Db,
    path: PathBuf,
}

impl Storage {
    pub fn open(path: &Path) -> Result<Storage, DevchainError> {
        let config = sled::Config::new().path(path).cache_capacity(CACHE_BYTES);
        let db = open_when_unlocked(&config).map_err(|source| DevchainError::OpenDatabase {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Storage {
            db,
            path: path.to_path_buf(),
        })
    }

    fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, DevchainError> {
        let what = format!("read of {}", String::from_utf8_lossy(key));
        match self.db.get(key).map_err(DevchainError::storage(what))? {
            Some(value) => decode(key, &value).map(Some),
            None => Ok(None),
        }
    }

    /// The committed state and head; on first open, commits genesis as block 0.
    pub fn load(
        &self,
        genesis: &Genesis,
        validator: &SigningKey,
    ) -> Result<(State, Head), DevchainError> {
        let genesis_id = sha256(&encode(genesis));
        let Some(head) = self.get::<Head>(HEAD_KEY)? else {
            return self.commit_genesis(genesis, genesis_id, validator);
        };
        let stored: Option<Hash32> = self.get(GENESIS_KEY)?;
        if stored != Some(genesis_id) {
            let block0: Option<Block> = self.block(0)?;
            return Err(DevchainError::GenesisMismatch {
                path: self.path.clone(),
                expected: genesis.chain_id.to_string(),
                found: block0.map_or("an unknown chain".into(), |b| b.header.chain_id.to_string()),
            });
        }
        let mut state = State::new(genesis.chain_id.clone(), genesis.assets.clone());
        for entry in self.db.scan_prefix(ACCOUNT_PREFIX) {
            let (k, v) = entry.map_err(DevchainError::storage("scan of accounts"))?;
            let address =
                Address::new(String::from_utf8_lossy(&k[ACCOUNT_PREFIX.len()..]).into_owned())
                    .map_err(|e| DevchainError::Corrupt {
                        key: String::from_utf8_lossy(&k).into_owned(),
                        detail: e.to_string(),
                    })?;
            state.accounts.insert(address, decode(&k, &v)?);
        }
        for entry in self.db.scan_prefix(HTLC_PREFIX) {
            let (k, v) = entry.map_err(DevchainError::storage("scan of HTLC locks"))?;
            let lock: HtlcLock = decode(&k, &v)?;
            state.htlcs.insert(lock.lock_id, lock);
        }
        state.bridge = self.get(BRIDGE_KEY)?;
        Ok((state, head))
    }

    fn commit_genesis(
        &self,
        genesis: &Genesis,
        genesis_id: Hash32,
        validator: &SigningKey,
    ) -> Result<(State, Head), DevchainError> {
        let state = genesis.initial_state();
        let header = BlockHeader {
            chain_id: genesis.chain_id.clone(),
            height: 0,
            parent_hash: Hash32::ZERO,
            time_ms: genesis.genesis_time_ms,
            transactions_root: transactions_root(&[]),
            proposer: address_of(&validator.verifying_key()),
        };
        let (block, head) = seal(header, Vec::new(), validator);
        let output = BlockOutput {
            block,
            head,
            receipts: Vec::new(),
            events: Vec::new(),
            changes: Changes {
                accounts: state.accounts.clone(),
                htlcs: Default::default(),
                bridge: state.bridge.clone(),
            },
            skipped: 0,
        };
        let mut batch = Self::block_batch(&output);
        batch.insert(GENESIS_KEY, encode(&genesis_id));
        self.apply_durably(batch)?;
        Ok((state, head))
    }

    fn block_batch(output: &BlockOutput) -> sled::Batch {
        let mut batch = sled::Batch::default();
        for (address, account) in &output.changes.accounts {
            batch.insert(
                prefixed(ACCOUNT_PREFIX, address.as_str().as_bytes()),
                encode(account),
            );
        }
        for (lock_id, lock) in &output.changes.htlcs {
            batch.insert(prefixed(HTLC_PREFIX, lock_id.as_bytes()), encode(lock));
        }
        if let Some(bridge) = &output.changes.bridge {
            batch.insert(BRIDGE_KEY, encode(bridge));
        }
        for receipt in &output.receipts {
            batch.insert(
                prefixed(RECEIPT_PREFIX, receipt.tx_hash.as_bytes()),
                encode(receipt),
            );
        }
        for event in &output.events {
            batch.insert(event_key(event.position), encode(event));
        }
        batch.insert(
            prefixed(BLOCK_PREFIX, &output.head.height.to_be_bytes()),
            encode(&output.block),
        );
        batch.insert(HEAD_KEY, encode(&output.head));
        batch
    }

    fn apply_durably(&self, batch: sled::Batch) -> Result<(), DevchainError> {
        self.db
            .apply_batch(batch)
            .map_err(DevchainError::storage("block write"))?;
        self.db.flush().map_err(DevchainError::storage("flush"))?;
        Ok(())
    }

    /// Writes the block and everything it changed atomically, then waits until it is on
    /// disk. Only after this returns may anyone learn of the block (`specs/devchain.md` §9).
    pub fn commit(&self, output: &BlockOutput) -> Result<(), DevchainError> {
        self.apply_durably(Self::block_batch(output))
    }

    /// Stored block at `height`. Callers clamp to the published head: sled may already
    /// hold a block whose flush has not finished.
    pub fn block(&self, height: u64) -> Result<Option<Block>, DevchainError> {
        self.get(&prefixed(BLOCK_PREFIX, &height.to_be_bytes()))
    }

    pub fn receipt(&self, tx_hash: &Hash32) -> Result<Option<Receipt>, DevchainError> {
        self.get(&prefixed(RECEIPT_PREFIX, tx_hash.as_bytes()))
    }

    /// Up to `limit` events at positions `>= from` in blocks `<= up_to_height`, in order.
    pub fn events(
        &self,
        from: Cursor,
        up_to_height: u64,
        limit: usize,
    ) -> Result<Vec<ChainEvent>, DevchainError> {
        self.scan_events(from, up_to_height, limit)
            .map(|entry| entry.and_then(|(k, v)| decode(&k, &v)))
            .collect()
    }

    /// [`Storage::events`] as stored: each event's JSON as it was written, with its
    /// position, for answering `getEvents` without decoding and re-encoding every event.
    pub fn stored_events(
        &self,
        from: Cursor,
        up_to_height: u64,
        limit: usize,
    ) -> Result<Vec<(Cursor, Box<RawValue>)>, DevchainError> {
        self.scan_events(from, up_to_height, limit)
            .map(|entry| {
                let (k, v) = entry?;
                let corrupt = |detail: String| DevchainError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    detail,
                };
                let position =
                    position_of_event_key(&k).ok_or_else(|| corrupt("not an event key".into()))?;
                // Checks that it is JSON (a scan, much cheaper than decoding the event).
                let json =
                    serde_json::from_slice::<&RawValue>(&v).map_err(|e| corrupt(e.to_string()))?;
                Ok((position, json.to_owned()))
            })
            .collect()
    }

    /// The stored events [`Storage::events`] reads, as keys and values.
    fn scan_events(
        &self,
        from: Cursor,
        up_to_height: u64,
        limit: usize,
    ) -> impl Iterator<Item = Result<(sled::IVec, sled::IVec), DevchainError>> + '_ {
        let end = event_key(Cursor::new(up_to_height, 0).next_block());
        (from.height <= up_to_height)
            .then(|| self.db.range(event_key(from)..end).take(limit))
            .into_iter()
            .flatten()
            .map(|entry| entry.map_err(DevchainError::storage("scan of events")))
    }

    /// Account as stored (test and tooling aid; the node serves accounts from memory).
    pub fn account(&self, address: &Address) -> Result<Option<AccountState>, DevchainError> {
        self.get(&prefixed(ACCOUNT_PREFIX, address.as_str().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::build_block;
    use crate::genesis::GenesisAccount;
    use crate::test_support::*;
    use causeway_core::Amount;

    fn genesis() -> Genesis {
        Genesis {
            chain_id: chain(),
            genesis_time_ms: 1_000,
            validators: vec![addr(42)],
            assets: [usd()].into(),
            accounts: vec![GenesisAccount {
                address: addr(1),
                balances: [(usd(), Amount(500))].into(),
            }],
            bridge: None,
        }
    }

    // specs/devchain.md §9: what was committed is exactly what a reopen loads.
    #[test]
    fn committed_blocks_survive_reopen_with_state_receipts_and_events() {
        let dir = tempfile::tempdir().unwrap();
        let (head, state, tx_hash) = {
            let storage = Storage::open(dir.path()).unwrap();
            let (mut state, genesis_head) = storage.load(&genesis(), &key(42)).unwrap();
            assert_eq!(genesis_head.height, 0);
            assert_eq!(balance(&state, 1), 500);
            let out = build_block(
                &state,
                &genesis_head,
                2_000,
                vec![signed(1, 0, transfer(2, 200))],
                &key(42),
            );
            storage.commit(&out).unwrap();
            state.apply(out.changes.clone());
            (out.head, state, out.receipts[0].tx_hash)
        };
        let storage = Storage::open(dir.path()).unwrap();
        let (reloaded, reloaded_head) = storage.load(&genesis(), &key(42)).unwrap();
        assert_eq!(reloaded_head, head);
        assert_eq!(reloaded, state);
        assert_eq!(balance(&reloaded, 2), 200);
        assert_eq!(storage.receipt(&tx_hash).unwrap().unwrap().height, 1);
        assert_eq!(storage.block(1).unwrap().unwrap().header.time_ms, 2_000);
        assert_eq!(storage.block(0).unwrap().unwrap().header.time_ms, 1_000);
        assert_eq!(storage.events(Cursor::default(), 1, 10).unwrap().len(), 1);
        assert!(
            storage.events(Cursor::default(), 0, 10).unwrap().is_empty(),
            "clamped to height 0"
        );
        assert_eq!(storage.account(&addr(2)).unwrap().unwrap().nonce, 0);
    }

    // specs/devchain.md §8.1: getEvents serves the events as stored; they are exactly the
    // encoding of the decoded events, with their positions, under the same bounds.
    #[test]
    fn stored_events_are_the_encoded_events_with_their_positions() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let (state, genesis_head) = storage.load(&genesis(), &key(42)).unwrap();
        let txs = (0..3).map(|n| signed(1, n, transfer(2, 10))).collect();
        let out = build_block(&state, &genesis_head, 2_000, txs, &key(42));
        storage.commit(&out).unwrap();
        for (from, up_to, limit) in [
            (Cursor::default(), 1, 10),
            (Cursor::new(1, 1), 1, 10),
            (Cursor::default(), 1, 2),
            (Cursor::default(), 0, 10),
        ] {
            let decoded = storage.events(from, up_to, limit).unwrap();
            let stored = storage.stored_events(from, up_to, limit).unwrap();
            let as_stored: Vec<(Cursor, String)> = stored
                .iter()
                .map(|(at, json)| (*at, json.get().to_string()))
                .collect();
            let encoded: Vec<(Cursor, String)> = decoded
                .iter()
                .map(|e| (e.position, serde_json::to_string(e).unwrap()))
                .collect();
            assert_eq!(
                as_stored, encoded,
                "from {from:?} up to {up_to} limit {limit}"
            );
        }
        assert_eq!(
            storage
                .stored_events(Cursor::default(), 1, 10)
                .unwrap()
                .len(),
            3
        );
    }

    // specs/devchain.md §9
    #[test]
    fn a_database_of_another_genesis_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Storage::open(dir.path())
            .unwrap()
            .load(&genesis(), &key(42))
            .unwrap();
        let mut other = genesis();
        other.genesis_time_ms += 1;
        let err = Storage::open(dir.path())
            .unwrap()
            .load(&other, &key(42))
            .unwrap_err();
        assert!(
            matches!(err, DevchainError::GenesisMismatch { .. }),
            "{err}"
        );
    }

    // Regression: CI saw a reopen right after a drop fail with "could not acquire lock",
    // sled's flusher thread still holding the file lock for a moment.
    #[test]
    fn a_reopen_right_after_closing_waits_for_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..20 {
            drop(Storage::open(dir.path()).unwrap());
        }
    }

    #[test]
    fn a_home_held_open_by_another_handle_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let _held = Storage::open(dir.path()).unwrap();
        let err = Storage::open(dir.path())
            .err()
            .expect("second open refused");
        assert!(matches!(err, DevchainError::OpenDatabase { .. }), "{err}");
        assert!(err.to_string().contains("another node"), "{err}");
    }
}
