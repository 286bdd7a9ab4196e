use super::*;
use causeway_core::{Address, Amount, AssetId};

fn chain(s: &str) -> ChainId {
    ChainId::new(s).unwrap()
}

fn transfer(i: u32) -> Transfer {
    Transfer {
        source_chain: chain("a"),
        source_position: Position::new(10 + u64::from(i), i),
        source_tx_hash: causeway_core::sha256(&i.to_be_bytes()),
        asset: AssetId::new("USD").unwrap(),
        amount: Amount(1_000 + u128::from(i)),
        sender: Address::new(format!("{:064x}", i + 1)).unwrap(),
        recipient: Address::new(format!("{:064x}", i + 0xabc)).unwrap(),
        dest_asset: AssetId::new("wUSD").unwrap(),
    }
}

/// Batch `sequence` of route a→b with `transfers` distinct transfers.
pub(crate) fn batch(sequence: u64, transfers: u32) -> BatchRecord {
    BatchRecord {
        source_chain: chain("a"),
        dest_chain: chain("b"),
        sequence,
        session: causeway_core::sha256(&sequence.to_be_bytes()),
        attestation: vec![1, 2, 3],
        transfers: Arc::new((0..transfers).map(transfer).collect()),
        signature: None,
        signed_ms: None,
        accepted: false,
        executed: vec![false; transfers as usize],
        submit_attempt: 0,
        execute_attempt: 0,
    }
}

/// What the attester writes when it seals `batch`: its transfers' entries, then the batch.
pub(crate) fn put_sealed(changes: &mut Changes, batch: &BatchRecord) {
    for (index, t) in (0u32..).zip(batch.transfers.iter()) {
        let entry = TransferEntry {
            transfer: t.clone(),
            dest_chain: batch.dest_chain.clone(),
            time_ms: 5,
            seen_ms: Some(6),
            state: TransferState::Batched {
                sequence: batch.sequence,
                index: Some(index),
            },
        };
        let key = transfer_key(&batch.source_chain, &batch.dest_chain, t.source_position);
        changes.put_transfer(&key, &entry, None);
    }
    changes.put_new_batch(batch);
}

/// Reopening waits for the previous handle's lock, which sled releases after the drop.
fn open_book(dir: &std::path::Path) -> (sled::Db, Book) {
    let db =
        causeway_devchain::storage::open_when_unlocked(&sled::Config::new().path(dir)).unwrap();
    let book = Book::open(&crate::durable::Durable::new(&db)).unwrap();
    (db, book)
}

fn stored_status(book: &Book, sequence: u64) -> serde_json::Value {
    let raw = book
        .tree
        .get(batch_key(&chain("a"), &chain("b"), sequence))
        .unwrap()
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

// Regression: every status change re-encoded all of a batch's transfers, and every
// reconcile pass decoded them again (a fifth of a member's CPU at 256-transfer batches).
#[test]
fn a_status_change_rewrites_the_status_but_never_the_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, book) = open_book(dir.path());
    let mut record = batch(1, 3);
    let mut changes = Changes::default();
    put_sealed(&mut changes, &record);
    book.tree_apply_blocking(changes).unwrap();
    let body = body_key(&batch_key(&chain("a"), &chain("b"), 1));
    let written = book.tree.get(&body).unwrap().unwrap();

    record.accepted = true;
    record.executed[0] = true;
    let mut changes = Changes::default();
    changes.put_batch(&record);
    book.tree_apply_blocking(changes).unwrap();

    assert!(stored_status(&book, 1).get("transfers").is_none());
    assert_eq!(book.tree.get(&body).unwrap().unwrap(), written);
    let read = book.batch(&chain("a"), &chain("b"), 1).unwrap().unwrap();
    assert_eq!(*read.transfers, *record.transfers);
    assert!(read.accepted && read.executed[0]);
    let open = book.open_batches().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(*open[0].transfers, *record.transfers);
}

#[test]
fn batches_written_with_their_transfers_inline_are_split_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = batch(1, 2);
    {
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("notary").unwrap();
        let k = batch_key(&chain("a"), &chain("b"), 1);
        tree.insert(&k, serde_json::to_vec(&legacy).unwrap())
            .unwrap();
        tree.insert(open_key(&k), &[][..]).unwrap();
        db.flush().unwrap();
    }
    let (_db, book) = open_book(dir.path());
    assert!(stored_status(&book, 1).get("transfers").is_none());
    let read = book.batch(&chain("a"), &chain("b"), 1).unwrap().unwrap();
    assert_eq!(*read.transfers, *legacy.transfers);
    assert_eq!(book.open_batches().unwrap().len(), 1);
    assert!(book.tree.contains_key(BODIES_SPLIT_KEY).unwrap());
}

#[test]
fn the_transfer_cache_keeps_only_open_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, book) = open_book(dir.path());
    let mut done = batch(1, 1);
    let mut changes = Changes::default();
    put_sealed(&mut changes, &done);
    put_sealed(&mut changes, &batch(2, 1));
    book.tree_apply_blocking(changes).unwrap();
    done.accepted = true;
    done.executed = vec![true];
    let mut changes = Changes::default();
    changes.put_batch(&done);
    book.tree_apply_blocking(changes).unwrap();

    assert_eq!(book.bodies.lock().unwrap().len(), 2, "sealing caches both");
    book.batch(&chain("a"), &chain("b"), 1).unwrap().unwrap();
    let open = book.open_batches().unwrap();
    assert_eq!(open.iter().map(|b| b.sequence).collect::<Vec<_>>(), [2]);
    let cached: Vec<Vec<u8>> = book.bodies.lock().unwrap().keys().cloned().collect();
    assert_eq!(cached, [batch_key(&chain("a"), &chain("b"), 2)]);
}

/// What reading batch `sequence` of route a→b fails with.
fn batch_error(book: &Book, sequence: u64) -> String {
    let err = book.batch(&chain("a"), &chain("b"), sequence).unwrap_err();
    format!("{err:#}")
}

#[test]
fn a_batch_whose_transfers_are_missing_is_reported_not_invented() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, book) = open_book(dir.path());
    let mut changes = Changes::default();
    changes.put_batch(&batch(7, 2));
    book.tree_apply_blocking(changes).unwrap();
    let err = batch_error(&book, 7);
    assert!(err.contains("batch 7 has no transfers"), "{err}");
}

struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("no encoding"))
    }
}

// A value that cannot be encoded used to be stored as an empty value, silently.
#[test]
fn a_value_that_cannot_be_encoded_fails_the_whole_change_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, book) = open_book(dir.path());
    let mut changes = Changes::default();
    put_sealed(&mut changes, &batch(1, 3));
    changes.put(b"x/broken", "test value", &Unencodable);
    let err = book.tree_apply_blocking(changes).unwrap_err().to_string();
    assert!(err.contains("cannot encode notary test value"), "{err}");
    assert!(book.batch(&chain("a"), &chain("b"), 1).unwrap().is_none());
    assert!(book.tree.get(b"x/broken").unwrap().is_none());
}

#[test]
fn a_batched_state_of_an_older_version_reads_without_its_index() {
    let old: TransferState = serde_json::from_str(r#"{"state":"batched","sequence":4}"#).unwrap();
    assert_eq!(
        old,
        TransferState::Batched {
            sequence: 4,
            index: None
        }
    );
    let new = TransferState::Batched {
        sequence: 4,
        index: Some(2),
    };
    let back: TransferState = serde_json::from_slice(&serde_json::to_vec(&new).unwrap()).unwrap();
    assert_eq!(back, new);
}

#[test]
fn a_batch_status_reads_back_without_its_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, book) = open_book(dir.path());
    let mut record = batch(1, 3);
    record.accepted = true;
    let mut changes = Changes::default();
    put_sealed(&mut changes, &record);
    book.tree_apply_blocking(changes).unwrap();
    let status = book
        .batch_status(&chain("a"), &chain("b"), 1)
        .unwrap()
        .unwrap();
    assert!(status.accepted && status.transfers.is_empty());
    assert_eq!(status.executed.len(), 3);
    assert!(book
        .batch_status(&chain("a"), &chain("b"), 2)
        .unwrap()
        .is_none());
}

fn entry(state: TransferState) -> TransferEntry {
    TransferEntry {
        transfer: transfer(1),
        dest_chain: chain("b"),
        time_ms: 5,
        seen_ms: Some(6),
        state,
    }
}

/// Which of the transfer's index keys are stored: pending, held, by source transaction.
fn indexed(book: &Book, key: &[u8]) -> [bool; 3] {
    let has = |k: Vec<u8>| book.tree.contains_key(k).unwrap();
    [
        has(pending_key(key)),
        has(held_key(key)),
        has(tx_key(&transfer(1).source_tx_hash, key)),
    ]
}

// A transfer's index keys follow its state through every change, though each change
// writes only the keys its state moves.
#[test]
fn index_keys_follow_a_transfer_from_taken_in_to_held_released_and_batched() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, book) = open_book(dir.path());
    let key = b"t/a/b/1".to_vec();
    let held = TransferState::Held {
        reason: "over the ceiling".into(),
    };
    let batched = TransferState::Batched {
        sequence: 1,
        index: Some(0),
    };
    let steps: [(Option<&TransferState>, &TransferState, [bool; 3]); 3] = [
        (None, &held, [false, true, true]),
        (Some(&held), &TransferState::Pending, [true, false, true]),
        (
            Some(&TransferState::Pending),
            &batched,
            [false, false, true],
        ),
    ];
    for (before, after, expected) in steps {
        let mut changes = Changes::default();
        changes.put_transfer(&key, &entry(after.clone()), before);
        if matches!(after, TransferState::Batched { .. }) {
            changes.unlist_pending(&key);
        }
        book.tree_apply_blocking(changes).unwrap();
        assert_eq!(indexed(&book, &key), expected, "after {after:?}");
        assert_eq!(book.transfer(&key).unwrap().unwrap().state, *after);
    }
}

// Regression: `bt/` held the batch's transfers themselves (about 85 KiB at 256 a batch),
// and sled rewrote leaves of up to 16 such values as blob files, so a member wrote about
// 25 KiB to disk per transfer under load. Now it names them by source position.
#[test]
fn a_sealed_batch_names_its_transfers_by_position_and_reads_them_back_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let record = batch(1, 3);
    {
        let (db, book) = open_book(dir.path());
        let mut changes = Changes::default();
        put_sealed(&mut changes, &record);
        book.tree_apply_blocking(changes).unwrap();
        let body = book
            .tree
            .get(body_key(&batch_key(&chain("a"), &chain("b"), 1)))
            .unwrap()
            .unwrap();
        assert_eq!(body.len(), 1 + 3 * POSITION_BYTES);
        db.flush().unwrap();
    }
    let (_db, book) = open_book(dir.path());
    assert!(book.bodies.lock().unwrap().is_empty());
    let read = book.batch(&chain("a"), &chain("b"), 1).unwrap().unwrap();
    assert_eq!(*read.transfers, *record.transfers);
}

#[test]
fn batch_transfers_stored_whole_by_an_older_version_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let record = batch(1, 2);
    {
        let (db, book) = open_book(dir.path());
        let k = batch_key(&chain("a"), &chain("b"), 1);
        book.tree
            .insert(
                body_key(&k),
                serde_json::to_vec(&*record.transfers).unwrap(),
            )
            .unwrap();
        book.tree
            .insert(&k, serde_json::to_vec(&record.status()).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let (_db, book) = open_book(dir.path());
    let read = book.batch(&chain("a"), &chain("b"), 1).unwrap().unwrap();
    assert_eq!(*read.transfers, *record.transfers);
}

#[test]
fn a_batch_naming_a_transfer_that_is_not_stored_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, book) = open_book(dir.path());
    let mut changes = Changes::default();
    changes.put_new_batch(&batch(4, 2));
    book.tree_apply_blocking(changes).unwrap();
    book.bodies.lock().unwrap().clear();
    let err = batch_error(&book, 4);
    assert!(
        err.contains("batch 4 names a transfer at 10:0 that is not stored"),
        "{err}"
    );
}

fn pending_keys(book: &Book) -> Vec<(Vec<u8>, bool)> {
    let route = book.route(&chain("a"), &chain("b")).unwrap();
    book.pending_of_route(&chain("a"), &chain("b"), route.sealed_below, 1_000)
        .unwrap()
        .into_iter()
        .map(|p| (p.key, p.listed))
        .collect()
}

// A transfer taken in pending was listed under `p/` and unlisted at sealing: two of the
// five tree writes each transfer cost a member. Its route's sealed cursor finds it now.
#[test]
fn a_transfer_taken_in_pending_is_found_by_its_route_cursor_without_a_listing() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, book) = open_book(dir.path());
    let taken_in = transfer_key(&chain("a"), &chain("b"), transfer(1).source_position);
    let mut changes = Changes::default();
    changes.put_transfer(&taken_in, &entry(TransferState::Pending), None);
    book.tree_apply_blocking(changes).unwrap();
    assert!(!book.tree.contains_key(pending_key(&taken_in)).unwrap());
    assert_eq!(pending_keys(&book), [(taken_in.clone(), false)]);

    // Released from hold above the cursor: listed, and found once.
    let held = TransferState::Held {
        reason: "over the ceiling".into(),
    };
    let released = transfer_key(&chain("a"), &chain("b"), transfer(2).source_position);
    let second = |state| TransferEntry {
        transfer: transfer(2),
        ..entry(state)
    };
    let mut changes = Changes::default();
    changes.put_transfer(&released, &second(held.clone()), None);
    changes.put_transfer(&released, &second(TransferState::Pending), Some(&held));
    book.tree_apply_blocking(changes).unwrap();
    assert_eq!(
        pending_keys(&book),
        [(taken_in.clone(), false), (released.clone(), true)]
    );

    // Past the route's cursor only listed transfers remain to be found.
    let mut changes = Changes::default();
    changes.put_route(
        &chain("a"),
        &chain("b"),
        RouteState {
            next_sequence: 2,
            sealed_below: Some(Position::new(13, 0)),
        },
    );
    book.tree_apply_blocking(changes).unwrap();
    assert_eq!(pending_keys(&book), [(released, true)]);
    assert!(book
        .pending_of_route(&chain("a"), &chain("b"), Some(Position::new(13, 0)), 11)
        .unwrap()
        .is_empty());
}

#[test]
fn a_route_of_an_older_book_gets_a_cursor_past_its_last_transfer_and_keeps_its_listings() {
    let dir = tempfile::tempdir().unwrap();
    let listed = transfer_key(&chain("a"), &chain("b"), transfer(1).source_position);
    {
        let (db, book) = open_book(dir.path());
        let older = entry(TransferState::Pending);
        book.tree
            .insert(&listed, serde_json::to_vec(&older).unwrap())
            .unwrap();
        book.tree.insert(pending_key(&listed), &[][..]).unwrap();
        book.tree
            .insert(
                route_state_key(&chain("a"), &chain("b")),
                &br#"{"next_sequence":4}"#[..],
            )
            .unwrap();
        db.flush().unwrap();
    }
    let (_db, book) = open_book(dir.path());
    let route = book.route(&chain("a"), &chain("b")).unwrap();
    assert_eq!(route.next_sequence, 4);
    assert_eq!(
        route.sealed_below,
        Some(transfer(1).source_position.successor())
    );
    assert_eq!(pending_keys(&book), [(listed, true)]);
}

#[test]
fn has_transfer_answers_for_stored_entries_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, book) = open_book(dir.path());
    let sealed = batch(1, 2);
    let mut changes = Changes::default();
    put_sealed(&mut changes, &sealed);
    book.tree_apply_blocking(changes).unwrap();
    let key = |t: &Transfer| transfer_key(&chain("a"), &chain("b"), t.source_position);
    assert!(book.has_transfer(&key(&sealed.transfers[0])).unwrap());
    assert!(book.has_transfer(&key(&sealed.transfers[1])).unwrap());
    assert!(!book.has_transfer(&key(&transfer(7))).unwrap());
}

/// Route `source`→`dest` transfers `0..n` taken in pending, transfer `i` at block time `10 i`.
pub(crate) fn put_pending_route(book: &Book, source: &str, dest: &str, n: u32) {
    let mut changes = Changes::default();
    for i in 0..n {
        let t = Transfer {
            source_chain: chain(source),
            ..transfer(i)
        };
        let key = transfer_key(&chain(source), &chain(dest), t.source_position);
        let entry = TransferEntry {
            transfer: t,
            dest_chain: chain(dest),
            time_ms: u64::from(i) * 10,
            seen_ms: None,
            state: TransferState::Pending,
        };
        changes.put_transfer(&key, &entry, None);
    }
    book.tree_apply_blocking(changes).unwrap();
}

#[test]
fn recent_transfers_reads_each_route_back_to_its_lookback_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, book) = open_book(dir.path());
    put_pending_route(&book, "a", "b", 100);
    put_pending_route(&book, "a", "c", 30);
    put_pending_route(&book, "c", "a", 5);
    let recent = book.recent_transfers(95).unwrap();
    let seen: Vec<(String, u64)> = recent
        .iter()
        .map(|e| {
            (
                format!("{}>{}", e.transfer.source_chain, e.dest_chain),
                e.time_ms,
            )
        })
        .collect();
    let route = |name: &'static str, times: std::ops::RangeInclusive<u64>| {
        times.rev().step_by(10).map(move |t| (name.to_string(), t))
    };
    let expected: Vec<_> = route("c>a", 0..=40)
        .chain(route("a>c", 200..=290))
        .chain(route("a>b", 900..=990))
        .collect();
    assert_eq!(seen, expected);
}
