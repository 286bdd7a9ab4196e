//! How the executor stores its actions: one sled value per action, keyed by its id. While the
//! action is unfinished the value is the whole [`ActionRecord`] (its action, then its signed
//! transaction); once it is done it shrinks to a [`Header`], kept so that a re-submit of a
//! finished id stays a no-op.
//!
//! A finished action therefore costs its header alone: a whole notary batch is ~100 KiB
//! signed, and keeping it made the store grow with every transfer ever sent.
//!
//! Every write is a single-key `insert`, never a sled batch. sled's batches take a
//! process-wide write lock that waits out every flush in progress and blocks every read
//! behind it; with a flush almost always running under load, a batch per status change
//! tripled the relay's CPU per swap (`a_status_change_is_one_insert_never_a_batch`).
//!
//! One release kept a header under the id and the payload under a second key; [`Records::open`]
//! folds such records back into one value, once, before anything else reads them.

use anyhow::{bail, Context, Result};
use causeway_adapters::{Action, PreparedTx};
use causeway_core::{ChainId, Hash32};
use serde::{Deserialize, Serialize};

use super::{ActionRecord, ActionStatus};

/// The first byte of the payload keys of the split layout; an id never starts with it.
const BODY_PREFIX: u8 = 0;

/// What an action is to its owner once looked up.
pub enum Stored {
    Unfinished(Box<ActionRecord>),
    /// Only its header remains; see [`Records::headers`].
    Done(Box<Header>),
}

/// Everything about an action but its payload. A whole record decodes as one too.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    pub seq: u64,
    pub id: String,
    pub chain: ChainId,
    pub status: ActionStatus,
    pub broadcasts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_broadcast_ms: Option<u64>,
    /// The signed transaction's hash, once signed (for operators reading a finished record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<Hash32>,
}

/// The payload the split layout kept apart: a signed transaction carries its action.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Body {
    Unsigned(Action),
    Signed(PreparedTx),
}

/// The executor's records in one sled tree.
#[derive(Clone)]
pub struct Records {
    tree: sled::Tree,
}

impl Records {
    /// Opens the records, first folding any split-layout payload back into its record (one
    /// batch and one flush at start-up, before the runtime serves anything).
    pub fn open(tree: sled::Tree) -> Result<Records> {
        let records = Records { tree };
        records.fold_split_bodies()?;
        Ok(records)
    }

    /// Refuses an id the layout cannot tell apart from a split-layout payload key.
    pub fn check_id(id: &str) -> Result<()> {
        if id.is_empty() || id.as_bytes()[0] == BODY_PREFIX {
            bail!("action id {id:?} is empty or starts with a NUL byte; owners name actions like `swap:<id>:claim`");
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Option<Stored>> {
        let Some(value) = self.tree.get(id.as_bytes())? else {
            return Ok(None);
        };
        let header: Header = decode(&value, id)?;
        if header.status.is_done() {
            return Ok(Some(Stored::Done(Box::new(header))));
        }
        let record: ActionRecord = decode(&value, id)?;
        Ok(Some(Stored::Unfinished(Box::new(record))))
    }

    /// Every action's header.
    pub fn headers(&self) -> Result<Vec<Header>> {
        self.tree
            .range([BODY_PREFIX + 1].as_slice()..)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&v, &String::from_utf8_lossy(&k))
            })
            .collect()
    }

    /// Writes a record (not durably: the caller flushes): the whole of it while unfinished,
    /// its header once done.
    pub fn write(&self, record: &ActionRecord) -> Result<()> {
        let value = if record.status.is_done() {
            serde_json::to_vec(&header_of(record))?
        } else {
            serde_json::to_vec(record)?
        };
        self.tree.insert(record.id.as_bytes(), value)?;
        Ok(())
    }

    fn fold_split_bodies(&self) -> Result<()> {
        let mut batch = sled::Batch::default();
        let mut folded = 0usize;
        for kv in self.tree.range(..[BODY_PREFIX + 1].as_slice()) {
            let (key, body) = kv?;
            let id = String::from_utf8_lossy(&key[1..]).into_owned();
            batch.remove(key);
            folded += 1;
            let Some(value) = self.tree.get(id.as_bytes())? else {
                continue;
            };
            let header: Header = decode(&value, &id)?;
            if header.status.is_done() {
                continue;
            }
            let (action, tx) = match decode::<Body>(&body, &id)? {
                Body::Unsigned(action) => (action, None),
                Body::Signed(tx) => (tx.action.clone(), Some(tx)),
            };
            let record = ActionRecord {
                seq: header.seq,
                id: header.id,
                chain: header.chain,
                action,
                tx,
                status: header.status,
                broadcasts: header.broadcasts,
                first_broadcast_ms: header.first_broadcast_ms,
            };
            batch.insert(id.as_bytes(), serde_json::to_vec(&record)?);
        }
        if folded > 0 {
            self.tree.apply_batch(batch)?;
            self.tree.flush()?;
            tracing::info!(
                actions = folded,
                "executor records folded into one value each"
            );
        }
        Ok(())
    }
}

fn header_of(record: &ActionRecord) -> Header {
    Header {
        seq: record.seq,
        id: record.id.clone(),
        chain: record.chain.clone(),
        status: record.status.clone(),
        broadcasts: record.broadcasts,
        first_broadcast_ms: record.first_broadcast_ms,
        tx_id: record.tx.as_ref().map(|tx| tx.id),
    }
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], id: &str) -> Result<T> {
    serde_json::from_slice(bytes).with_context(|| {
        format!("stored action {id} is corrupt; restore the relay's data_dir from a backup")
    })
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
