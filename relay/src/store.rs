//! The relay's durable state in sled: per-chain cursors and the log of ingested events.
//!
//! Ingestion is exactly-once by construction: a page of events and the cursor past it are
//! written in one transaction, and events are keyed by their position, so a page read twice
//! (after a crash between fetch and commit) overwrites itself instead of doubling.
//!
//! The log keeps runs of consecutive events together, one sled value per run of about
//! [`CHUNK_BYTES`], keyed by the run's first position. One sled insert per event was a fifth
//! of a notary member's CPU under load (tree descents and leaf splits, 500 per page); a run
//! of 6 KiB keeps sled's leaves of 16 values under its 128 KiB blob threshold. Values of
//! older versions hold one event each and read the same way.

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

/// About how many bytes of encoded events one log value holds (one event may exceed it).
pub const CHUNK_BYTES: usize = 6 * 1024;

/// `chain id \0 height index`: ids never contain NUL, so one chain's keys form one range
/// in position order.
fn event_key(chain: &ChainId, pos: Position) -> Vec<u8> {
    let mut key = Vec::with_capacity(chain.as_str().len() + 13);
    key.extend_from_slice(chain.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(&cursor_bytes(pos));
    key
}

/// `chain id \0`: the start of the chain's range of keys.
fn chain_prefix(chain: &ChainId) -> Vec<u8> {
    let mut prefix = chain.as_str().as_bytes().to_vec();
    prefix.push(0);
    prefix
}

/// The page's events as runs of about [`CHUNK_BYTES`] of JSON, each keyed by its first
/// event's position; a run is a JSON array built from the events' own encodings.
pub fn encode_chunks(chain: &ChainId, events: &[ChainEvent]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut chunks: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for event in events {
        let json = serde_json::to_vec(event)?;
        match chunks.last_mut() {
            Some((_, run)) if run.len() + json.len() < CHUNK_BYTES => {
                run.push(b',');
                run.extend_from_slice(&json);
            }
            _ => {
                if let Some((_, run)) = chunks.last_mut() {
                    run.push(b']');
                }
                let mut run = Vec::with_capacity(CHUNK_BYTES + 512);
                run.push(b'[');
                run.extend_from_slice(&json);
                chunks.push((event_key(chain, event.position), run));
            }
        }
    }
    if let Some((_, run)) = chunks.last_mut() {
        run.push(b']');
    }
    Ok(chunks)
}

/// A log value stored under `key`: a run of events, or one event as older versions stored
/// it. A value that decodes as neither is reported with its chain and position.
fn decode_chunk(key: &[u8], bytes: &[u8]) -> Result<Vec<ChainEvent>> {
    let decoded = if bytes.first() == Some(&b'[') {
        serde_json::from_slice(bytes)
    } else {
        serde_json::from_slice(bytes).map(|e| vec![e])
    };
    decoded.with_context(|| {
        let split = key.len().saturating_sub(12);
        let chain = String::from_utf8_lossy(key[..split].strip_suffix(&[0]).unwrap_or_default());
        let at = cursor_from(&key[split..]).map_or("?".into(), |p| p.to_string());
        format!("the relay's event log of {chain} is corrupt at {at}; stop the relay and restore its data_dir from a backup")
    })
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
        let encoded = encode_chunks(chain, events)?;
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
        let mut out: Vec<ChainEvent> = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let prefix = chain_prefix(chain);
        let wanted = event_key(chain, from);
        // The run holding `from` may start before it.
        let begin = match self
            .events
            .range(prefix.clone()..=wanted.clone())
            .next_back()
        {
            Some(kv) => kv?.0.to_vec(),
            None => wanted,
        };
        let mut end = prefix;
        *end.last_mut().expect("a prefix ends in NUL") = 1;
        for kv in self.events.range(begin..end) {
            let (k, v) = kv?;
            for event in decode_chunk(&k, &v)? {
                // Skips what precedes `from` and, defensively, anything a run overlapping
                // its predecessor repeats.
                let after_last = out.last().is_none_or(|l| event.position > l.position);
                if event.position >= from && after_last {
                    out.push(event);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every ingested HTLC event with this hashlock, on any chain, in (chain, position) order.
    pub fn htlc_events(&self, hashlock: &Hash32) -> Result<Vec<ChainEvent>> {
        let mut out = Vec::new();
        for kv in self.hashlocks.scan_prefix(hashlock.as_bytes()) {
            let (k, _) = kv?;
            out.extend(self.event_at(&k[32..])?);
        }
        Ok(out)
    }

    /// The event stored under `key` (an [`event_key`]), from the run that holds it.
    fn event_at(&self, key: &[u8]) -> Result<Option<ChainEvent>> {
        let Some(split) = key.len().checked_sub(12) else {
            return Ok(None);
        };
        let (prefix, position) = key.split_at(split);
        let Some(position) = cursor_from(position) else {
            return Ok(None);
        };
        let Some(kv) = self.events.range(prefix..=key).next_back() else {
            return Ok(None);
        };
        let (k, v) = kv?;
        Ok(decode_chunk(&k, &v)?
            .into_iter()
            .find(|e| e.position == position))
    }

    /// How many events of `chain` have been ingested.
    pub fn event_count(&self, chain: &ChainId) -> Result<usize> {
        Ok(self.events(chain, Cursor::default(), usize::MAX)?.len())
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
        assert_eq!(store.event_count(&a).unwrap(), 3);
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
        assert_eq!(store.event_count(&a).unwrap(), 1);
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

    fn long_page(chain: &ChainId, events: u32) -> Vec<ChainEvent> {
        (0..events)
            .map(|i| {
                let mut e = event(chain, 10 + u64::from(i / 7), i % 7);
                if i % 50 == 0 {
                    e.kind = EventKind::HtlcRefunded {
                        lock_id: Hash32::ZERO,
                        hashlock: Hash32([i as u8; 32]),
                        sender: Address::new("aa").unwrap(),
                    };
                }
                e
            })
            .collect()
    }

    /// A fresh store, and a long page of chain `a` not yet ingested.
    fn store_and_page(events: u32) -> (tempfile::TempDir, Store, ChainId, Vec<ChainEvent>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = ChainId::new("a").unwrap();
        let page = long_page(&a, events);
        (dir, store, a, page)
    }

    #[test]
    fn a_page_is_stored_in_runs_and_read_back_from_any_position_inside_one() {
        let (_dir, store, a, page) = store_and_page(500);
        let next = page.last().unwrap().position.next_block();
        store.ingest_now(&a, &page, next).unwrap();
        let values = store.events.len();
        assert!(values > 1 && values < 100, "{values} values for 500 events");
        assert_eq!(store.event_count(&a).unwrap(), 500);
        for start in [0usize, 1, 17, 250, 499] {
            let from = page[start].position;
            let read = store.events(&a, from, 30).unwrap();
            assert_eq!(read, page[start..(start + 30).min(500)], "from {from}");
        }
        assert!(store.events(&a, next, 10).unwrap().is_empty());
        // Regression: a limit of 0 returned the first event of the run.
        assert!(store.events(&a, page[3].position, 0).unwrap().is_empty());
        let found = store.htlc_events(&Hash32([200; 32])).unwrap();
        assert_eq!(found, vec![page[200].clone()]);
    }

    #[test]
    fn a_corrupt_log_value_is_reported_with_its_chain_and_position() {
        let (_dir, store, a, page) = store_and_page(3);
        store
            .ingest_now(&a, &page, page[2].position.next_block())
            .unwrap();
        store
            .events
            .insert(event_key(&a, page[0].position), &b"[{\"truncated"[..])
            .unwrap();
        let err = store.events(&a, Cursor::default(), 10).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("event log of a is corrupt at") && text.contains("backup"),
            "{text}"
        );
    }

    #[test]
    fn events_stored_one_per_value_by_an_older_version_still_read() {
        let (_dir, store, a, page) = store_and_page(60);
        for e in &page[..51] {
            let key = event_key(&a, e.position);
            store
                .events
                .insert(&key, serde_json::to_vec(e).unwrap())
                .unwrap();
            if let Some(h) = e.kind.hashlock() {
                store
                    .hashlocks
                    .insert([h.as_bytes().as_slice(), &key].concat(), &[])
                    .unwrap();
            }
        }
        let next = page.last().unwrap().position.next_block();
        store.ingest_now(&a, &page[51..], next).unwrap();
        assert_eq!(store.events(&a, Cursor::default(), 100).unwrap(), page);
        assert_eq!(
            store.events(&a, page[49].position, 3).unwrap(),
            page[49..52]
        );
        assert_eq!(
            store.htlc_events(&Hash32([50; 32])).unwrap(),
            vec![page[50].clone()]
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
        assert_eq!(store.event_count(&a).unwrap(), 1);
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
