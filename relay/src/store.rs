//! The relay's durable state in sled: per-chain cursors and the log of ingested events.
//!
//! Ingestion is exactly-once by construction: a page of events and the cursor past it are
//! written in one transaction, and events are keyed by their position, so a page read twice
//! (after a crash between fetch and commit) overwrites itself instead of doubling.

use std::path::Path;

use anyhow::{Context, Result};
use causeway_core::{ChainEvent, ChainId, Cursor, Hash32, Position};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

/// sled's page cache for the relay database (sled's default is 1 GiB): resident memory
/// stays bounded however many swaps and transfers the database holds.
pub const CACHE_BYTES: u64 = 128 * 1024 * 1024;

pub struct Store {
    db: sled::Db,
    durable: crate::durable::Durable,
    cursors: sled::Tree,
    events: sled::Tree,
    /// `hashlock chain \0 position` -> (): finds a swap's HTLC events without a scan.
    hashlocks: sled::Tree,
}

fn cursor_bytes(c: Cursor) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&c.height.to_be_bytes());
    out[8..].copy_from_slice(&c.index.to_be_bytes());
    out
}

fn cursor_from(bytes: &[u8]) -> Option<Cursor> {
    let height = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let index = u32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?);
    Some(Position::new(height, index))
}

/// `chain id \0 height index`: ids never contain NUL, so one chain's keys form one range
/// in position order.
fn event_key(chain: &ChainId, pos: Position) -> Vec<u8> {
    let mut key = Vec::with_capacity(chain.as_str().len() + 13);
    key.extend_from_slice(chain.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(&cursor_bytes(pos));
    key
}

impl Store {
    pub fn open(dir: &Path) -> Result<Store> {
        let config = sled::Config::new()
            .path(dir.join("relay.sled"))
            .cache_capacity(CACHE_BYTES);
        let db = causeway_devchain::storage::open_when_unlocked(&config).with_context(|| {
            format!(
                "cannot open relay database in {} (is another relay using this data_dir?)",
                dir.display()
            )
        })?;
        Ok(Store {
            cursors: db.open_tree("cursors")?,
            events: db.open_tree("events")?,
            hashlocks: db.open_tree("hashlocks")?,
            durable: crate::durable::Durable::new(&db),
            db,
        })
    }

    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    pub fn cursor(&self, chain: &ChainId) -> Result<Cursor> {
        Ok(self
            .cursors
            .get(chain.as_str())?
            .and_then(|v| cursor_from(&v))
            .unwrap_or_default())
    }

    /// Records a page of events and the cursor past it, atomically. The transaction runs on
    /// the flusher (see `durable.rs`), not on the runtime's threads; it is not yet durable
    /// when this returns (a crash re-reads the page).
    pub async fn ingest(&self, chain: &ChainId, events: &[ChainEvent], next: Cursor) -> Result<()> {
        self.durable
            .apply(self.page_write(chain, events, next)?)
            .await
    }

    /// [`Store::ingest`] in place, for callers outside the runtime (tests, benchmarks).
    pub fn ingest_now(&self, chain: &ChainId, events: &[ChainEvent], next: Cursor) -> Result<()> {
        self.page_write(chain, events, next)?()
    }

    /// The transaction that records a page: events, their hashlock index, the cursor.
    fn page_write(
        &self,
        chain: &ChainId,
        events: &[ChainEvent],
        next: Cursor,
    ) -> Result<impl FnOnce() -> Result<()> + Send + 'static> {
        let encoded: Vec<(Vec<u8>, Vec<u8>)> = events
            .iter()
            .map(|e| Ok((event_key(chain, e.position), serde_json::to_vec(e)?)))
            .collect::<Result<_>>()?;
        let indexed: Vec<Vec<u8>> = events
            .iter()
            .filter_map(|e| {
                e.kind
                    .hashlock()
                    .map(|h| [h.as_bytes().as_slice(), &event_key(chain, e.position)].concat())
            })
            .collect();
        let trees = (
            self.cursors.clone(),
            self.events.clone(),
            self.hashlocks.clone(),
        );
        let (chain, next) = (chain.clone(), cursor_bytes(next));
        Ok(move || {
            (&trees.0, &trees.1, &trees.2)
                .transaction(|(cursors, log, index)| {
                    for (k, v) in &encoded {
                        log.insert(k.as_slice(), v.as_slice())?;
                    }
                    for k in &indexed {
                        index.insert(k.as_slice(), &[])?;
                    }
                    cursors.insert(chain.as_str(), &next)?;
                    Ok::<_, ConflictableTransactionError<()>>(())
                })
                .map_err(|e: TransactionError<()>| {
                    anyhow::anyhow!("relay database write failed: {e:?}")
                })
        })
    }

    /// Ingested events of `chain` at positions `>= from`, at most `limit`.
    pub fn events(&self, chain: &ChainId, from: Cursor, limit: usize) -> Result<Vec<ChainEvent>> {
        let start = event_key(chain, from);
        let mut end = chain.as_str().as_bytes().to_vec();
        end.push(1);
        self.events
            .range(start..end)
            .take(limit)
            .map(|kv| {
                let (_, v) = kv?;
                Ok(serde_json::from_slice(&v)?)
            })
            .collect()
    }

    /// Every ingested HTLC event with this hashlock, on any chain, in (chain, position) order.
    pub fn htlc_events(&self, hashlock: &Hash32) -> Result<Vec<ChainEvent>> {
        let mut out = Vec::new();
        for kv in self.hashlocks.scan_prefix(hashlock.as_bytes()) {
            let (k, _) = kv?;
            if let Some(v) = self.events.get(&k[32..])? {
                out.push(serde_json::from_slice(&v)?);
            }
        }
        Ok(out)
    }

    /// How many events of `chain` have been ingested.
    pub fn event_count(&self, chain: &ChainId) -> usize {
        let mut prefix = chain.as_str().as_bytes().to_vec();
        prefix.push(0);
        self.events.scan_prefix(prefix).count()
    }

    pub async fn flush(&self) -> Result<()> {
        self.durable.flush().await
    }

    /// The database's group-committed flushes, shared by everything that writes to it.
    pub fn durable(&self) -> &crate::durable::Durable {
        &self.durable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_core::{Address, Amount, AssetId, EventKind};

    fn event(chain: &ChainId, h: u64, i: u32) -> ChainEvent {
        ChainEvent {
            chain_id: chain.clone(),
            position: Position::new(h, i),
            tx_hash: Hash32::ZERO,
            time_ms: 0,
            kind: EventKind::Transfer {
                from: Address::new("aa").unwrap(),
                to: Address::new("bb").unwrap(),
                asset: AssetId::new("USD").unwrap(),
                amount: Amount(1),
            },
        }
    }

    #[test]
    fn ingesting_a_page_twice_does_not_double_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = ChainId::new("a").unwrap();
        let page = vec![event(&a, 1, 0), event(&a, 1, 1), event(&a, 2, 0)];
        store.ingest_now(&a, &page, Position::new(3, 0)).unwrap();
        store.ingest_now(&a, &page, Position::new(3, 0)).unwrap();
        assert_eq!(store.event_count(&a), 3);
        assert_eq!(store.cursor(&a).unwrap(), Position::new(3, 0));
        assert_eq!(store.events(&a, Position::new(1, 1), 10).unwrap().len(), 2);
    }

    #[test]
    fn chains_do_not_see_each_others_events_even_with_prefix_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = ChainId::new("a").unwrap();
        let ab = ChainId::new("ab").unwrap();
        store
            .ingest_now(&a, &[event(&a, 1, 0)], Position::new(2, 0))
            .unwrap();
        store
            .ingest_now(&ab, &[event(&ab, 1, 0)], Position::new(2, 0))
            .unwrap();
        assert_eq!(store.event_count(&a), 1);
        assert_eq!(store.events(&a, Cursor::default(), 10).unwrap().len(), 1);
        assert_eq!(
            store.cursor(&ChainId::new("zz").unwrap()).unwrap(),
            Cursor::default()
        );
    }

    #[test]
    fn htlc_events_are_found_by_hashlock_across_chains() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (a, b) = (ChainId::new("a").unwrap(), ChainId::new("b").unwrap());
        let lock = |chain: &ChainId, h: u64, hashlock: Hash32| ChainEvent {
            kind: EventKind::HtlcRefunded {
                lock_id: Hash32::ZERO,
                hashlock,
                sender: Address::new("aa").unwrap(),
            },
            ..event(chain, h, 0)
        };
        let wanted = Hash32([7; 32]);
        store
            .ingest_now(
                &a,
                &[lock(&a, 1, wanted), event(&a, 2, 0)],
                Position::new(3, 0),
            )
            .unwrap();
        store
            .ingest_now(
                &b,
                &[lock(&b, 5, Hash32([8; 32])), lock(&b, 6, wanted)],
                Position::new(7, 0),
            )
            .unwrap();
        let found = store.htlc_events(&wanted).unwrap();
        assert_eq!(
            found
                .iter()
                .map(|e| (e.chain_id.as_str(), e.position.height))
                .collect::<Vec<_>>(),
            vec![("a", 1), ("b", 6)]
        );
    }

    #[test]
    fn state_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = ChainId::new("a").unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .ingest_now(&a, &[event(&a, 4, 0)], Position::new(5, 0))
                .unwrap();
            store.db().flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.cursor(&a).unwrap(), Position::new(5, 0));
        assert_eq!(store.event_count(&a), 1);
    }

    // The reopen waits for a lock just released, but one still held ends in an error that
    // says what to check, not in a hang.
    #[test]
    fn a_data_dir_held_by_another_relay_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).err().expect("second open refused");
        assert!(
            format!("{err:#}").contains("is another relay using this data_dir?"),
            "{err:#}"
        );
    }
}
