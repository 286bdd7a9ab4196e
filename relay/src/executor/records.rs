//! How the executor stores its actions: a small header per action, rewritten at every status
//! change and kept after it is done (so a re-submit of a finished id stays a no-op), and a
//! body (the action, then its signed transaction) kept only while the action is unfinished.
//!
//! A finished action therefore costs its header alone: a whole notary batch is ~100 KiB
//! signed, and keeping it (as earlier versions did, inline in the header) made the store grow
//! with every transfer ever sent. Header and body share one tree, so one sled batch writes
//! both atomically. Records written inline by earlier versions are still read.

use anyhow::{bail, Context, Result};
use causeway_adapters::{Action, PreparedTx};
use causeway_core::{ChainId, Hash32};
use serde::{Deserialize, Serialize};

use super::{ActionRecord, ActionStatus};

/// Bodies live under this first byte; a header's key is its id, which never starts with it.
const BODY_PREFIX: u8 = 0;

/// What an action is to its owner once looked up.
pub enum Stored {
    Unfinished(Box<ActionRecord>),
    /// Only its header remains; see [`Records::headers`].
    Done,
}

/// Everything about an action but its payload.
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

/// The payload of an unfinished action: a signed transaction carries its action.
#[derive(Serialize, Deserialize)]
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
    pub fn new(tree: sled::Tree) -> Records {
        Records { tree }
    }

    /// Refuses an id the layout cannot store apart from the bodies.
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
            return Ok(Some(Stored::Done));
        }
        let (action, tx) = match self.tree.get(body_key(id))? {
            Some(body) => match decode::<Body>(&body, id)? {
                Body::Unsigned(action) => (action, None),
                Body::Signed(tx) => (tx.action.clone(), Some(tx)),
            },
            None => {
                let legacy: ActionRecord = decode(&value, id)
                    .with_context(|| format!("action {id} has neither a body nor an inline one"))?;
                (legacy.action, legacy.tx)
            }
        };
        Ok(Some(Stored::Unfinished(Box::new(ActionRecord {
            seq: header.seq,
            id: header.id,
            chain: header.chain,
            action,
            tx,
            status: header.status,
            broadcasts: header.broadcasts,
            first_broadcast_ms: header.first_broadcast_ms,
        }))))
    }

    /// Every action's header, bodies skipped.
    pub fn headers(&self) -> Result<Vec<Header>> {
        self.tree
            .range([BODY_PREFIX + 1].as_slice()..)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&v, &String::from_utf8_lossy(&k))
            })
            .collect()
    }

    /// Writes a record (not durably: the caller flushes). A done record drops its body.
    pub fn write(&self, record: &ActionRecord) -> Result<()> {
        let header = Header {
            seq: record.seq,
            id: record.id.clone(),
            chain: record.chain.clone(),
            status: record.status.clone(),
            broadcasts: record.broadcasts,
            first_broadcast_ms: record.first_broadcast_ms,
            tx_id: record.tx.as_ref().map(|tx| tx.id),
        };
        let mut batch = sled::Batch::default();
        batch.insert(record.id.as_bytes(), serde_json::to_vec(&header)?);
        if record.status.is_done() {
            batch.remove(body_key(&record.id));
        } else {
            let body = match &record.tx {
                Some(tx) => serde_json::to_vec(&BodyRef::Signed(tx))?,
                None => serde_json::to_vec(&BodyRef::Unsigned(&record.action))?,
            };
            batch.insert(body_key(&record.id), body);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

/// [`Body`] by reference, so a write does not clone a ~100 KiB transaction to encode it.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum BodyRef<'a> {
    Unsigned(&'a Action),
    Signed(&'a PreparedTx),
}

fn body_key(id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(id.len() + 1);
    key.push(BODY_PREFIX);
    key.extend_from_slice(id.as_bytes());
    key
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], id: &str) -> Result<T> {
    serde_json::from_slice(bytes).with_context(|| {
        format!("stored action {id} is corrupt; restore the relay's data_dir from a backup")
    })
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
