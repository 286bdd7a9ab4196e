//! How the relay stores its swaps (specs/htlc.md §8.4): the parts that never change once,
//! the rest at every step that changes it.
//!
//! - `swap_offers`: the signed offer, terms and string, written once when the swap is
//!   registered;
//! - `swap_progress`: the machine's [`SwapProgress`], the timeline and the relay's figures,
//!   rewritten at every step that changes the swap.
//!
//! A step used to rewrite the offer too, twice (the terms inside the swap, the signed
//! string beside it). In the demo's swap the offer is 1,920 bytes and the finished swap's
//! progress 2,768, so its last step wrote 2,768 bytes where the single value was about
//! 4,690. sled's cost is mostly per insert, not per byte, so the timeline stays in the
//! progress value rather than one key per entry, which cost more than it saved.
//!
//! Every write is one key inserted alone, never a sled batch (see `executor/records.rs`).
//! A new swap's offer is written before its progress: sled recovers a prefix of the writes,
//! so a crash leaves every stored progress with its offer, at a state the swap had; an offer
//! whose progress was lost belongs to a swap that was never registered, and is never read.
//!
//! Records of the earlier single-value layout (tree `swaps`) are moved into these trees when
//! the store opens, before the relay serves.

use anyhow::{anyhow, Context, Result};
use causeway_htlc::{Offer, Swap, SwapProgress};
use serde::{Deserialize, Serialize};

use super::record::{SwapRecord, TimelineEntry};

/// The swap's offer: the terms, and the signed string to show again.
#[derive(Serialize, Deserialize)]
struct StoredOffer {
    offer: Offer,
    text: String,
}

/// What a step changes: written with the live swap's parts borrowed, read back owned.
#[derive(Serialize, Deserialize)]
struct StoredProgress<P = SwapProgress, T = Vec<TimelineEntry>> {
    progress: P,
    created_ms: u64,
    timeline: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_trigger_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_reaction_ms: Option<u64>,
}

/// A swap as the single-value layout stored it.
#[derive(Deserialize)]
struct LegacyRecord {
    swap: Swap,
    offer: String,
    created_ms: u64,
    timeline: Vec<TimelineEntry>,
    #[serde(default)]
    claim_trigger_ms: Option<u64>,
    #[serde(default)]
    claim_reaction_ms: Option<u64>,
}

/// The swaps trees of one relay's database.
pub struct SwapStore {
    offers: sled::Tree,
    progress: sled::Tree,
}

/// The value a step writes for `record` (public so the swap-step benchmark sizes its limit
/// by it).
pub fn progress_value(record: &SwapRecord) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&StoredProgress {
        progress: record.swap.progress(),
        created_ms: record.created_ms,
        timeline: &record.timeline,
        claim_trigger_ms: record.claim_trigger_ms,
        claim_reaction_ms: record.claim_reaction_ms,
    })?)
}

fn corrupt(what: &str, id: &str) -> String {
    format!(
        "corrupt {what} of swap {id} in the relay's database; restore the data_dir from a backup"
    )
}

impl SwapStore {
    /// Opens the swaps trees, first moving any record of the single-value layout into them
    /// (one flush, at start-up).
    pub fn open(db: &sled::Db) -> Result<SwapStore> {
        let store = SwapStore {
            offers: db.open_tree("swap_offers")?,
            progress: db.open_tree("swap_progress")?,
        };
        store.migrate(&db.open_tree("swaps")?)?;
        Ok(store)
    }

    fn migrate(&self, legacy: &sled::Tree) -> Result<()> {
        let mut moved = 0usize;
        for kv in legacy.iter() {
            let (key, value) = kv?;
            let id = String::from_utf8_lossy(&key).into_owned();
            let old: LegacyRecord =
                serde_json::from_slice(&value).with_context(|| corrupt("record", &id))?;
            let record = SwapRecord {
                swap: old.swap,
                offer: old.offer,
                created_ms: old.created_ms,
                timeline: old.timeline,
                claim_trigger_ms: old.claim_trigger_ms,
                claim_reaction_ms: old.claim_reaction_ms,
            };
            self.insert_new(&record)?;
            // Removed only once its parts are in: a crash before this moves it again.
            legacy.remove(&key)?;
            moved += 1;
        }
        if moved > 0 {
            legacy.flush()?;
            tracing::info!(swaps = moved, "moved swap records to the per-part layout");
        }
        Ok(())
    }

    /// Writes a new swap whole: its offer, then its progress. Not durable until the caller
    /// flushes.
    pub fn insert_new(&self, record: &SwapRecord) -> Result<()> {
        let offer = StoredOffer {
            offer: record.swap.offer().clone(),
            text: record.offer.clone(),
        };
        self.offers
            .insert(record.swap.swap_id().as_str(), serde_json::to_vec(&offer)?)?;
        self.write(record)
    }

    /// Writes what a step changes: everything but the offer. Not durable until the caller
    /// flushes.
    pub fn write(&self, record: &SwapRecord) -> Result<()> {
        self.progress
            .insert(record.swap.swap_id().as_str(), progress_value(record)?)?;
        Ok(())
    }

    /// The stored swap `id`, whole.
    pub fn get(&self, id: &str) -> Result<Option<SwapRecord>> {
        let Some(value) = self.progress.get(id)? else {
            return Ok(None);
        };
        let stored: StoredProgress =
            serde_json::from_slice(&value).with_context(|| corrupt("progress", id))?;
        self.assemble(id, stored).map(Some)
    }

    /// Every swap not finished yet.
    pub fn unfinished(&self) -> Result<Vec<SwapRecord>> {
        self.decoded_progress()?
            .into_iter()
            .filter(|(_, p)| p.progress.outcome().is_none())
            .map(|(id, p)| self.assemble(&id, p))
            .collect()
    }

    /// The newest `limit` swaps (by creation), newest first; only those are read whole.
    pub fn newest(&self, limit: usize) -> Result<Vec<SwapRecord>> {
        let mut all = self.decoded_progress()?;
        all.sort_by_key(|(_, p)| std::cmp::Reverse(p.created_ms));
        all.truncate(limit);
        all.into_iter()
            .map(|(id, p)| self.assemble(&id, p))
            .collect()
    }

    fn decoded_progress(&self) -> Result<Vec<(String, StoredProgress)>> {
        self.progress
            .iter()
            .map(|kv| {
                let (key, value) = kv?;
                let id = String::from_utf8_lossy(&key).into_owned();
                let stored =
                    serde_json::from_slice(&value).with_context(|| corrupt("progress", &id))?;
                Ok((id, stored))
            })
            .collect()
    }

    fn assemble(&self, id: &str, stored: StoredProgress) -> Result<SwapRecord> {
        let value = self.offers.get(id)?.ok_or_else(|| {
            anyhow!(
                "swap {id} has progress but no offer stored; restore the data_dir from a backup"
            )
        })?;
        let offer: StoredOffer =
            serde_json::from_slice(&value).with_context(|| corrupt("offer", id))?;
        let swap = Swap::resume(offer.offer, stored.progress)?;
        Ok(SwapRecord {
            swap,
            offer: offer.text,
            created_ms: stored.created_ms,
            timeline: stored.timeline,
            claim_trigger_ms: stored.claim_trigger_ms,
            claim_reaction_ms: stored.claim_reaction_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_core::{Amount, ChainId, FinalityRule};
    use causeway_htlc::{
        plan, ChainParams, ChainTimes, Input, Leg, SafetyPolicy, Secret, SignedOffer, SwapId,
    };
    use ed25519_dalek::SigningKey;

    const NOW_MS: u64 = 1_700_000_000_000;

    /// An initiator's swap right after its first step (started, its lock submitted).
    fn record(n: u8, created_ms: u64) -> SwapRecord {
        let chain = |id: &str| ChainParams {
            chain_id: ChainId::new(id).unwrap(),
            finality: FinalityRule::Instant,
            block_time_ms: 1_000,
        };
        let (a, b) = (chain("chain-a"), chain("chain-b"));
        let policy = SafetyPolicy::default();
        let now = ChainTimes {
            a_ms: NOW_MS,
            b_ms: NOW_MS,
        };
        let deadlines = plan(&a, &b, &policy, now, 60_000).unwrap().deadlines;
        let identity = SigningKey::from_bytes(&[7; 32]);
        let secret = Secret::from_bytes([n; 32]);
        let leg = |chain: &ChainParams, asset, from, to, expiry_ms| {
            Leg::parse(
                chain.chain_id.as_str(),
                asset,
                Amount(5),
                from,
                to,
                expiry_ms,
            )
            .unwrap()
        };
        let offer = causeway_htlc::Offer::new(
            SwapId::new(format!("swap-{n}")).unwrap(),
            secret.hashlock(),
            leg(&a, "USD", "alice-a", "bob-a", deadlines.leg_a_expiry_ms),
            leg(&b, "GOLD", "bob-b", "alice-b", deadlines.leg_b_expiry_ms),
            deadlines.accept_by_ms,
            identity.verifying_key().into(),
        );
        let text = SignedOffer::sign(offer.clone(), &identity)
            .unwrap()
            .encode();
        let swap = Swap::initiator(offer, secret, &a, &b, &policy, now).unwrap();
        let mut record = SwapRecord::new(swap, text, created_ms);
        let mut outputs = record.swap.handle(Input::Start);
        for c in [&a, &b] {
            outputs.extend(record.swap.handle(Input::Tick {
                chain: c.chain_id.clone(),
                finalized_height: 10,
                time_ms: NOW_MS,
            }));
        }
        assert_eq!(record.note_all(outputs, created_ms).len(), 1);
        record
    }

    fn assert_same(found: &SwapRecord, expected: &SwapRecord) {
        assert_eq!(found.swap, expected.swap);
        assert_eq!(found.offer, expected.offer);
        assert_eq!(found.created_ms, expected.created_ms);
        assert_eq!(
            serde_json::to_value(&found.timeline).unwrap(),
            serde_json::to_value(&expected.timeline).unwrap()
        );
        assert_eq!(found.claim_trigger_ms, expected.claim_trigger_ms);
        assert_eq!(found.claim_reaction_ms, expected.claim_reaction_ms);
    }

    fn open() -> (tempfile::TempDir, sled::Db, SwapStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let store = SwapStore::open(&db).unwrap();
        (dir, db, store)
    }

    // specs/htlc.md §8.4: the offer is written once; a step rewrites only the progress.
    #[test]
    fn a_step_rewrites_the_progress_and_never_the_offer() {
        let (_dir, db, store) = open();
        let mut swap = record(1, 5);
        store.insert_new(&swap).unwrap();
        let offers = db.open_tree("swap_offers").unwrap();
        let offer_bytes = offers.get("swap-1").unwrap().unwrap();
        let first_progress = db
            .open_tree("swap_progress")
            .unwrap()
            .get("swap-1")
            .unwrap();

        let lock_a = causeway_htlc::Output::Progress("leg A locked".into());
        swap.note(&lock_a, 6);
        swap.claim_reaction_ms = Some(12);
        store.write(&swap).unwrap();

        assert_eq!(offers.get("swap-1").unwrap().unwrap(), offer_bytes);
        let progress = db
            .open_tree("swap_progress")
            .unwrap()
            .get("swap-1")
            .unwrap();
        assert_ne!(progress, first_progress);
        let progress = String::from_utf8(progress.unwrap().to_vec()).unwrap();
        assert!(
            !progress.contains(&swap.offer),
            "the signed offer is written again"
        );
        assert!(
            !progress.contains("\"offer\""),
            "the offer's terms are written again"
        );
        assert_same(&store.get("swap-1").unwrap().unwrap(), &swap);
        assert_same(&store.unfinished().unwrap()[0], &swap);
    }

    #[test]
    fn records_of_the_single_value_layout_are_moved_when_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let (old, newer) = (record(1, 5), record(2, 9));
        {
            let db = sled::open(dir.path().join("db")).unwrap();
            let legacy = db.open_tree("swaps").unwrap();
            for r in [&old, &newer] {
                let value = serde_json::json!({
                    "swap": r.swap,
                    "offer": r.offer,
                    "created_ms": r.created_ms,
                    "timeline": r.timeline,
                });
                legacy
                    .insert(
                        r.swap.swap_id().as_str(),
                        serde_json::to_vec(&value).unwrap(),
                    )
                    .unwrap();
            }
            db.flush().unwrap();
        }
        let db = sled::open(dir.path().join("db")).unwrap();
        let store = SwapStore::open(&db).unwrap();
        assert!(db.open_tree("swaps").unwrap().is_empty());
        assert_same(&store.get("swap-1").unwrap().unwrap(), &old);
        let newest = store.newest(1).unwrap();
        assert_eq!(newest.len(), 1);
        assert_same(&newest[0], &newer);
        assert_eq!(store.unfinished().unwrap().len(), 2);
    }

    #[test]
    fn progress_whose_offer_is_missing_is_reported_with_the_swap_id() {
        let (_dir, db, store) = open();
        store.insert_new(&record(3, 5)).unwrap();
        db.open_tree("swap_offers")
            .unwrap()
            .remove("swap-3")
            .unwrap();
        let err = store.get("swap-3").unwrap_err().to_string();
        assert!(
            err.contains("swap swap-3") && err.contains("no offer"),
            "{err}"
        );
        db.open_tree("swap_progress")
            .unwrap()
            .insert("swap-3", b"{not json".as_slice())
            .unwrap();
        let err = format!("{:#}", store.unfinished().unwrap_err());
        assert!(err.contains("corrupt progress of swap swap-3"), "{err}");
    }
}
