//! The attester's durable state, in one sled tree so every change is one atomic batch:
//! transfers seen final (`t/`), per-route sequence counters (`r/`), batches (`b/`, the
//! small part that changes), their members (`bt/`, written once when the batch closes),
//! the unfinished batches (`o/`) and a source-transaction index (`x/`).
//!
//! A batch's transfers are kept apart from its status because the status is rewritten on
//! every step (signed, accepted, each transfer paid) and read on every reconcile pass,
//! while the transfers never change: re-encoding hundreds of them each time was a fifth
//! of a member's CPU under load. `bt/` names them by source position only; each transfer
//! is stored once, in its `t/` entry. A `bt/` value holding the transfers themselves
//! (tens of KiB at 256 a batch) made sled rewrite leaves of up to 16 of them as blob
//! files: 25 KiB written to disk per transfer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use causeway_core::{ChainId, Hash32, Position, UnixMillis};
use causeway_notary::Transfer;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TransferState {
    /// Approved by the governor; waits for its batch boundary.
    Pending,
    /// Over the governor's ceiling: waits for an operator (`causeway notary release`).
    Held { reason: String },
    Batched {
        sequence: u64,
        /// Its place in the batch, so its status is read without the batch's transfers;
        /// absent in records written before it was kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
    },
    /// An operator refused it; it is never attested.
    Rejected,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferEntry {
    pub transfer: Transfer,
    pub dest_chain: ChainId,
    pub time_ms: UnixMillis,
    /// This member's clock when it took the transfer in (the load tool's "finality seen");
    /// none in records written before it was kept.
    #[serde(default)]
    pub seen_ms: Option<UnixMillis>,
    pub state: TransferState,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchRecord {
    pub source_chain: ChainId,
    pub dest_chain: ChainId,
    pub sequence: u64,
    pub session: Hash32,
    #[serde(with = "hex::serde")]
    pub attestation: Vec<u8>,
    /// In batch order. Shared, because they never change once the batch is sealed; the
    /// stored status omits them (they live under `bt/`), records of older versions carry them.
    #[serde(default, skip_serializing_if = "no_transfers")]
    pub transfers: Arc<Vec<Transfer>>,
    pub signature: Option<String>,
    /// This member's clock when the threshold signature completed.
    #[serde(default)]
    pub signed_ms: Option<UnixMillis>,
    pub accepted: bool,
    pub executed: Vec<bool>,
    /// Bumped when the chain refused our submission, so a retry gets a fresh action id.
    pub submit_attempt: u32,
    pub execute_attempt: u32,
}

impl BatchRecord {
    pub fn done(&self) -> bool {
        self.accepted && self.executed.iter().all(|e| *e)
    }

    /// Where the transfer at `source_position` sits in this batch: its recorded `index`
    /// (from [`TransferState::Batched`]) when the transfers confirm it or were not loaded,
    /// else found by a scan (records older than the index).
    pub fn place_of(&self, index: Option<u32>, source_position: Position) -> Option<usize> {
        let recorded = index.map(|i| i as usize).filter(|&i| {
            self.transfers
                .get(i)
                .is_none_or(|t| t.source_position == source_position)
        });
        recorded.or_else(|| {
            self.transfers
                .iter()
                .position(|t| t.source_position == source_position)
        })
    }

    /// The record as stored under `b/`: everything but the transfers.
    fn status(&self) -> BatchRecord {
        BatchRecord {
            transfers: Arc::default(),
            ..self.clone()
        }
    }
}

fn no_transfers(transfers: &Arc<Vec<Transfer>>) -> bool {
    transfers.is_empty()
}

/// A committee control (key rotation or pause) operators asked this member to sign.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ControlRecord {
    pub chain: ChainId,
    pub session: Hash32,
    #[serde(with = "hex::serde")]
    pub attestation: Vec<u8>,
    pub signature: Option<String>,
    /// The chain took it (its submission finalized, or the chain reported the new key).
    pub applied: bool,
    pub attempt: u32,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct RouteState {
    /// The sequence the next batch gets; the chain accepts 1 first (specs/devchain.md §13.3).
    pub next_sequence: u64,
    /// Every transfer of the route below this position was batched, held or rejected when
    /// a batch last closed, or is listed under `p/`: a transfer taken in pending is found
    /// from here, without a listing of its own. Set at open for books of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_below: Option<Position>,
}

/// A transfer waiting for its batch, as [`Book::pending_of_route`] finds it.
pub struct PendingTransfer {
    pub key: Vec<u8>,
    pub entry: TransferEntry,
    /// Listed under `p/` (released from hold, or taken in by an older version): sealing it
    /// removes the listing ([`Changes::unlist_pending`]).
    pub listed: bool,
}

pub struct Book {
    tree: sled::Tree,
    durable: crate::durable::Durable,
    /// Transfers of batches sealed or read since the last [`Book::open_batches`], which
    /// forgets those no longer open: at most the open batches plus the few looked up since.
    bodies: Mutex<BTreeMap<Vec<u8>, Arc<Vec<Transfer>>>>,
}

pub fn route_key(source: &ChainId, dest: &ChainId) -> Vec<u8> {
    let mut k = Vec::with_capacity(source.as_str().len() + dest.as_str().len() + 2);
    k.extend_from_slice(source.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(dest.as_str().as_bytes());
    k.push(0);
    k
}

fn key(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

pub fn transfer_key(source: &ChainId, dest: &ChainId, position: Position) -> Vec<u8> {
    key(
        b"t/",
        &[
            &route_key(source, dest),
            &position.height.to_be_bytes(),
            &position.index.to_be_bytes(),
        ],
    )
}

pub fn batch_key(source: &ChainId, dest: &ChainId, sequence: u64) -> Vec<u8> {
    key(b"b/", &[&route_key(source, dest), &sequence.to_be_bytes()])
}

/// The source position at the end of a transfer key.
fn position_in_key(transfer_key: &[u8]) -> Option<Position> {
    let tail = transfer_key.len().checked_sub(POSITION_BYTES)?;
    decode_positions(&transfer_key[tail..])?.pop()
}

/// `bt/` + the batch key's route and sequence: the batch's transfers.
fn body_key(batch_key: &[u8]) -> Vec<u8> {
    key(b"bt/", &[&batch_key[2..]])
}

/// The version byte of a `bt/` value that lists its transfers' source positions (each
/// height u64 then index u32, big-endian, in batch order). Older versions stored the
/// transfers as a JSON array, which starts with `[`.
const BODY_POSITIONS: u8 = 1;
const POSITION_BYTES: usize = 12;

fn encode_body(transfers: &[Transfer]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + transfers.len() * POSITION_BYTES);
    out.push(BODY_POSITIONS);
    for t in transfers {
        out.extend_from_slice(&t.source_position.height.to_be_bytes());
        out.extend_from_slice(&t.source_position.index.to_be_bytes());
    }
    out
}

fn decode_positions(bytes: &[u8]) -> Option<Vec<Position>> {
    let chunks = bytes.chunks_exact(POSITION_BYTES);
    if !chunks.remainder().is_empty() {
        return None;
    }
    chunks
        .map(|c| {
            Some(Position::new(
                u64::from_be_bytes(c[..8].try_into().ok()?),
                u32::from_be_bytes(c[8..].try_into().ok()?),
            ))
        })
        .collect()
}

/// Present once every batch keeps its transfers under `bt/` (records of older versions
/// carried them inline and are moved at the first open).
const BODIES_SPLIT_KEY: &[u8] = b"m/bodies-split";

fn open_key(batch_key: &[u8]) -> Vec<u8> {
    key(b"o/", &[batch_key])
}

fn route_state_key(source: &ChainId, dest: &ChainId) -> Vec<u8> {
    key(b"r/", &[&route_key(source, dest)])
}

/// `p/` + transfer key: pending transfers the route's sealed cursor does not find (released
/// from hold, or taken in by an older version, which listed every one), so closing a batch
/// never scans history.
fn pending_key(transfer_key: &[u8]) -> Vec<u8> {
    key(b"p/", &[transfer_key])
}

/// `h/` + transfer key: transfers awaiting an operator.
fn held_key(transfer_key: &[u8]) -> Vec<u8> {
    key(b"h/", &[transfer_key])
}

fn tx_key(tx: &Hash32, transfer_key: &[u8]) -> Vec<u8> {
    key(b"x/", &[&tx.0, transfer_key])
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).with_context(|| format!("stored notary {what} is corrupt"))
}

/// Changes collected and applied in one atomic write. A value that cannot be encoded
/// fails the whole write at [`Book::apply`] rather than storing an empty value.
#[derive(Default)]
pub struct Changes {
    batch: sled::Batch,
    unencodable: Option<String>,
    /// Transfers of batches sealed by this change, for the book's cache once it is applied:
    /// the reconcile pass right after a seal needs them, and they are in hand.
    sealed: Vec<Sealed>,
}

/// A sealed batch's key and transfers.
type Sealed = (Vec<u8>, Arc<Vec<Transfer>>);

impl Changes {
    fn put<T: Serialize + ?Sized>(&mut self, key: impl AsRef<[u8]>, what: &str, value: &T) {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.batch.insert(key.as_ref(), bytes),
            Err(e) => {
                self.unencodable
                    .get_or_insert_with(|| format!("cannot encode notary {what}: {e}"));
            }
        }
    }

    fn mark(&mut self, key: impl AsRef<[u8]>) {
        self.batch.insert(key.as_ref(), &[][..]);
    }

    fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.batch.remove(key.as_ref());
    }

    fn into_batch(self) -> Result<(sled::Batch, Vec<Sealed>)> {
        match self.unencodable {
            Some(error) => bail!("{error}; nothing of this change was written"),
            None => Ok((self.batch, self.sealed)),
        }
    }

    /// Stores a transfer whose stored state was `before` (`None`: it is new), touching only
    /// the index keys its change of state moves: a transfer is written twice on its way
    /// through (taken in, then batched), and each index write is a sled tree operation.
    /// One taken in pending is found by its route's sealed cursor and gets no `p/` listing;
    /// one released from hold (perhaps below the cursor) is listed; sealing removes a
    /// listing through [`Changes::unlist_pending`].
    pub fn put_transfer(
        &mut self,
        key: &[u8],
        entry: &TransferEntry,
        before: Option<&TransferState>,
    ) {
        let pending = |s: &TransferState| *s == TransferState::Pending;
        let held = |s: &TransferState| matches!(s, TransferState::Held { .. });
        if before.is_some_and(|b| !pending(b)) && pending(&entry.state) {
            self.mark(pending_key(key));
        }
        self.move_index(held_key(key), before.is_some_and(held), held(&entry.state));
        self.put(key, "transfer", entry);
        if before.is_none() {
            self.batch
                .insert(tx_key(&entry.transfer.source_tx_hash, key), key);
        }
    }

    /// A listed pending transfer was sealed.
    pub fn unlist_pending(&mut self, key: &[u8]) {
        self.remove(pending_key(key));
    }

    fn move_index(&mut self, index_key: Vec<u8>, was_in: bool, is_in: bool) {
        match (was_in, is_in) {
            (false, true) => self.mark(index_key),
            (true, false) => self.remove(index_key),
            _ => {}
        }
    }

    /// A batch just sealed: which transfers it holds (once) and its status. Its transfers'
    /// `t/` entries must be stored, by this change or an earlier one: the batch names them.
    pub fn put_new_batch(&mut self, batch: &BatchRecord) {
        let k = batch_key(&batch.source_chain, &batch.dest_chain, batch.sequence);
        self.batch
            .insert(body_key(&k), encode_body(&batch.transfers));
        self.sealed.push((k, batch.transfers.clone()));
        self.put_batch(batch);
    }

    /// A change to a batch's status; its transfers are never rewritten.
    pub fn put_batch(&mut self, batch: &BatchRecord) {
        let k = batch_key(&batch.source_chain, &batch.dest_chain, batch.sequence);
        if batch.done() {
            self.remove(open_key(&k));
        } else {
            self.mark(open_key(&k));
        }
        self.put(k, "batch", &batch.status());
    }

    pub fn put_control(&mut self, control: &ControlRecord) {
        self.put(key(b"c/", &[&control.session.0]), "control", control);
    }

    pub fn put_route(&mut self, source: &ChainId, dest: &ChainId, state: RouteState) {
        self.put(route_state_key(source, dest), "route state", &state);
    }
}

impl Book {
    pub fn open(durable: &crate::durable::Durable) -> Result<Book> {
        let book = Book {
            tree: durable.db().open_tree("notary")?,
            durable: durable.clone(),
            bodies: Mutex::default(),
        };
        book.split_inline_bodies()?;
        book.set_sealed_cursors()?;
        Ok(book)
    }

    /// Gives each route of an older version's book its sealed cursor: past its last stored
    /// transfer, since those versions listed every pending transfer under `p/`.
    fn set_sealed_cursors(&self) -> Result<()> {
        let mut changes = Changes::default();
        let mut set = 0;
        for item in self.tree.scan_prefix(b"r/") {
            let (k, v) = item?;
            let mut state: RouteState = decode(&v, "route")?;
            if state.sealed_below.is_some() {
                continue;
            }
            let last = self
                .tree
                .scan_prefix(key(b"t/", &[&k[2..]]))
                .keys()
                .next_back()
                .transpose()?;
            state.sealed_below = Some(match last {
                Some(t) => position_in_key(&t)
                    .with_context(|| "stored notary transfer key is corrupt")?
                    .successor(),
                None => Position::default(),
            });
            changes.put(&*k, "route state", &state);
            set += 1;
        }
        if set > 0 {
            self.tree_apply_blocking(changes)?;
        }
        Ok(())
    }

    /// Moves the transfers of batches written by older versions out of their status
    /// records, in one atomic write; after that a marker makes this a single lookup.
    fn split_inline_bodies(&self) -> Result<()> {
        if self.tree.contains_key(BODIES_SPLIT_KEY)? {
            return Ok(());
        }
        let mut changes = Changes::default();
        let mut moved = 0;
        for item in self.tree.scan_prefix(b"b/") {
            let (k, v) = item?;
            let batch: BatchRecord = decode(&v, "batch")?;
            if !batch.transfers.is_empty() {
                changes.put(body_key(&k), "batch transfers", &*batch.transfers);
                changes.put(&*k, "batch", &batch.status());
                moved += 1;
            }
        }
        changes.mark(BODIES_SPLIT_KEY);
        self.tree_apply_blocking(changes)?;
        if moved > 0 {
            tracing::info!(
                batches = moved,
                "moved stored batch transfers apart from their status"
            );
        }
        Ok(())
    }

    /// A stored status with its transfers: from the cache, else decoded once from `bt/`.
    fn with_body(&self, k: &[u8], status: &[u8]) -> Result<BatchRecord> {
        let mut batch: BatchRecord = decode(status, "batch")?;
        if !batch.transfers.is_empty() {
            return Ok(batch);
        }
        let mut bodies = self.bodies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(transfers) = bodies.get(k) {
            batch.transfers = transfers.clone();
            return Ok(batch);
        }
        let body = self
            .tree
            .get(body_key(k))?
            .with_context(|| format!("stored notary batch {} has no transfers", batch.sequence))?;
        let transfers: Arc<Vec<Transfer>> = Arc::new(match body.split_first() {
            Some((&BODY_POSITIONS, positions)) => self.transfers_of_batch(&batch, positions)?,
            _ => decode(&body, "batch transfers")?,
        });
        bodies.insert(k.to_vec(), transfers.clone());
        batch.transfers = transfers;
        Ok(batch)
    }

    /// The transfers a `bt/` value names by source position, from their `t/` entries.
    fn transfers_of_batch(&self, batch: &BatchRecord, positions: &[u8]) -> Result<Vec<Transfer>> {
        let positions = decode_positions(positions).with_context(|| {
            format!(
                "stored notary batch {} lists its transfers in a corrupt form",
                batch.sequence
            )
        })?;
        positions
            .into_iter()
            .map(|p| {
                let entry = self
                    .transfer(&transfer_key(&batch.source_chain, &batch.dest_chain, p))?
                    .with_context(|| {
                        format!(
                            "stored notary batch {} names a transfer at {p} that is not stored",
                            batch.sequence
                        )
                    })?;
                Ok(entry.transfer)
            })
            .collect()
    }

    fn remember_sealed(&self, sealed: Vec<Sealed>) {
        if sealed.is_empty() {
            return;
        }
        let mut bodies = self.bodies.lock().unwrap_or_else(|e| e.into_inner());
        bodies.extend(sealed);
    }

    /// `apply` for start-up, before the runtime serves anything.
    pub fn tree_apply_blocking(&self, changes: Changes) -> Result<()> {
        let (batch, sealed) = changes.into_batch()?;
        self.tree.apply_batch(batch)?;
        self.tree.flush()?;
        self.remember_sealed(sealed);
        Ok(())
    }

    /// Applies the changes as one batch, on the flusher (see `durable.rs`), and returns once
    /// they are durable.
    pub async fn apply(&self, changes: Changes) -> Result<()> {
        let (batch, sealed) = changes.into_batch()?;
        let tree = self.tree.clone();
        self.durable
            .apply_and_flush(move || Ok(tree.apply_batch(batch)?))
            .await?;
        self.remember_sealed(sealed);
        Ok(())
    }

    /// Whether the book holds the transfer, without decoding it (ingest asks for every new
    /// lock).
    pub fn has_transfer(&self, key: &[u8]) -> Result<bool> {
        Ok(self.tree.contains_key(key)?)
    }

    pub fn transfer(&self, key: &[u8]) -> Result<Option<TransferEntry>> {
        self.tree
            .get(key)?
            .map(|v| decode(&v, "transfer"))
            .transpose()
    }

    /// The entries of each route whose block time is within `lookback_ms` of the route's
    /// newest entry, newest first: all a governor window can still count, read without the
    /// rest of the route's history (positions, and so block times, only grow).
    pub fn recent_transfers(&self, lookback_ms: u64) -> Result<Vec<TransferEntry>> {
        let mut out = Vec::new();
        // Routes from the last, each ending below the previous one's first key.
        let mut below = b"t0".to_vec();
        loop {
            let mut newest_first = self.tree.range(b"t/".to_vec()..below).rev();
            let Some(first) = newest_first.next() else {
                return Ok(out);
            };
            let (k, v) = first?;
            let route_prefix = k[..k.len().saturating_sub(POSITION_BYTES)].to_vec();
            let newest: TransferEntry = decode(&v, "transfer")?;
            let cutoff = newest.time_ms.saturating_sub(lookback_ms);
            out.push(newest);
            for kv in newest_first {
                let (k, v) = kv?;
                if !k.starts_with(&route_prefix) {
                    break;
                }
                let entry: TransferEntry = decode(&v, "transfer")?;
                if entry.time_ms < cutoff {
                    break;
                }
                out.push(entry);
            }
            below = route_prefix;
        }
    }

    /// Transfers held for review, oldest route position first, at most `limit`.
    pub fn held(&self, limit: usize) -> Result<Vec<TransferEntry>> {
        let mut out = Vec::new();
        for k in self.tree.scan_prefix(b"h/").keys().take(limit) {
            if let Some(entry) = self.transfer(&k?[2..])? {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Pending transfers of one route at heights up to `up_to_height`, in source position
    /// order: those listed under `p/`, and those taken in at or after `sealed_below` (the
    /// route's [`RouteState::sealed_below`]).
    pub fn pending_of_route(
        &self,
        source: &ChainId,
        dest: &ChainId,
        sealed_below: Option<Position>,
        up_to_height: u64,
    ) -> Result<Vec<PendingTransfer>> {
        let mut found: BTreeMap<Vec<u8>, PendingTransfer> = BTreeMap::new();
        let listed = pending_key(&key(b"t/", &[&route_key(source, dest)]));
        for k in self.tree.scan_prefix(listed).keys() {
            let tkey = k?[2..].to_vec();
            let Some(entry) = self.transfer(&tkey)? else {
                continue;
            };
            if entry.transfer.source_position.height > up_to_height {
                break;
            }
            found.insert(
                tkey.clone(),
                PendingTransfer {
                    key: tkey,
                    entry,
                    listed: true,
                },
            );
        }
        let from = sealed_below.unwrap_or_default();
        let to = Position::new(up_to_height.saturating_add(1), 0);
        if from < to {
            let range = transfer_key(source, dest, from)..transfer_key(source, dest, to);
            for item in self.tree.range(range) {
                let (k, v) = item?;
                if found.contains_key(&*k) {
                    continue;
                }
                let entry: TransferEntry = decode(&v, "transfer")?;
                if entry.state == TransferState::Pending {
                    found.insert(
                        k.to_vec(),
                        PendingTransfer {
                            key: k.to_vec(),
                            entry,
                            listed: false,
                        },
                    );
                }
            }
        }
        Ok(found.into_values().collect())
    }

    /// Transfer keys recorded for a source transaction.
    pub fn transfers_of_tx(&self, tx: &Hash32) -> Result<Vec<Vec<u8>>> {
        self.tree
            .scan_prefix(key(b"x/", &[&tx.0]))
            .values()
            .map(|v| Ok(v?.to_vec()))
            .collect()
    }

    pub fn route(&self, source: &ChainId, dest: &ChainId) -> Result<RouteState> {
        Ok(match self.tree.get(route_state_key(source, dest))? {
            Some(v) => decode(&v, "route")?,
            None => RouteState {
                next_sequence: 1,
                sealed_below: None,
            },
        })
    }

    pub fn batch(
        &self,
        source: &ChainId,
        dest: &ChainId,
        sequence: u64,
    ) -> Result<Option<BatchRecord>> {
        let k = batch_key(source, dest, sequence);
        self.tree
            .get(&k)?
            .map(|v| self.with_body(&k, &v))
            .transpose()
    }

    /// A batch's status without decoding its transfers (a record of an older version may
    /// still carry them inline).
    pub fn batch_status(
        &self,
        source: &ChainId,
        dest: &ChainId,
        sequence: u64,
    ) -> Result<Option<BatchRecord>> {
        self.tree
            .get(batch_key(source, dest, sequence))?
            .map(|v| decode(&v, "batch"))
            .transpose()
    }

    /// Unfinished batches, by route then sequence.
    pub fn open_batches(&self) -> Result<Vec<BatchRecord>> {
        let mut out = Vec::new();
        let mut open = std::collections::BTreeSet::new();
        for k in self.tree.scan_prefix(b"o/").keys() {
            let k = k?;
            if let Some(v) = self.tree.get(&k[2..])? {
                out.push(self.with_body(&k[2..], &v)?);
                open.insert(k[2..].to_vec());
            }
        }
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| open.contains(k));
        Ok(out)
    }

    pub fn control(&self, session: &Hash32) -> Result<Option<ControlRecord>> {
        self.tree
            .get(key(b"c/", &[&session.0]))?
            .map(|v| decode(&v, "control"))
            .transpose()
    }

    pub fn controls(&self) -> Result<Vec<ControlRecord>> {
        self.tree
            .scan_prefix(b"c/")
            .values()
            .map(|v| decode(&v?, "control"))
            .collect()
    }

    pub fn batch_count(&self) -> usize {
        self.tree.scan_prefix(b"b/").count()
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
pub(crate) mod tests;
