use super::*;
use causeway_adapters::TxOutcome;

fn tree() -> (tempfile::TempDir, Records) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path()).unwrap();
    (
        dir,
        Records::open(db.open_tree("actions").unwrap()).unwrap(),
    )
}

fn claim(id: &str) -> ActionRecord {
    ActionRecord {
        seq: 7,
        id: id.into(),
        chain: ChainId::new("chain-b").unwrap(),
        action: Action::HtlcClaim {
            lock_id: Hash32([1; 32]),
            preimage: Hash32([2; 32]),
        },
        tx: None,
        status: ActionStatus::Queued,
        broadcasts: 0,
        first_broadcast_ms: None,
    }
}

fn signed(mut record: ActionRecord) -> ActionRecord {
    record.tx = Some(PreparedTx {
        chain_id: record.chain.clone(),
        id: Hash32([3; 32]),
        action: record.action.clone(),
        raw: serde_json::json!({ "signed": "x".repeat(4096) }),
    });
    record.status = ActionStatus::Sent;
    record
}

fn unfinished(records: &Records, id: &str) -> ActionRecord {
    match records.get(id).unwrap() {
        Some(Stored::Unfinished(record)) => *record,
        Some(Stored::Done(_)) => panic!("{id} is done"),
        None => panic!("{id} is missing"),
    }
}

fn stored_bytes(records: &Records) -> usize {
    records
        .tree
        .iter()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            k.len() + v.len()
        })
        .sum()
}

#[test]
fn an_unfinished_action_reads_back_as_written_unsigned_and_signed() {
    let (_dir, records) = tree();
    let queued = claim("swap:1:claim");
    records.write(&queued).unwrap();
    assert_eq!(unfinished(&records, "swap:1:claim").action, queued.action);
    let sent = signed(queued);
    records.write(&sent).unwrap();
    let back = unfinished(&records, "swap:1:claim");
    assert_eq!(back.tx, sent.tx);
    assert_eq!(back.action, sent.action);
    assert_eq!(back.status, ActionStatus::Sent);
}

#[test]
fn a_finished_action_keeps_its_header_but_no_copy_of_its_transaction() {
    let (_dir, records) = tree();
    let mut record = signed(claim("swap:1:claim"));
    records.write(&record).unwrap();
    let while_sent = stored_bytes(&records);
    record.status = ActionStatus::Final {
        height: 9,
        outcome: TxOutcome::Success,
    };
    records.write(&record).unwrap();
    assert!(matches!(
        records.get("swap:1:claim").unwrap(),
        Some(Stored::Done(_))
    ));
    let header = records.headers().unwrap().remove(0);
    assert_eq!(header.tx_id, Some(Hash32([3; 32])));
    assert!(
        stored_bytes(&records) < 512 && while_sent > 4096,
        "done: {} bytes, sent: {while_sent} bytes",
        stored_bytes(&records)
    );
}

#[test]
fn headers_list_every_action_once() {
    let (_dir, records) = tree();
    records.write(&claim("a")).unwrap();
    records.write(&signed(claim("b"))).unwrap();
    let ids: Vec<String> = records
        .headers()
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn a_record_written_inline_by_an_earlier_version_is_still_read() {
    let (_dir, records) = tree();
    let legacy = signed(claim("notary:a:b:1:submit:0"));
    let inline = serde_json::to_vec(&legacy).unwrap();
    records.tree.insert(legacy.id.as_bytes(), inline).unwrap();
    let back = unfinished(&records, &legacy.id);
    assert_eq!((&back.tx, back.seq), (&legacy.tx, legacy.seq));
    let mut done = legacy.clone();
    done.status = ActionStatus::Refused {
        reason: "nonce too low".into(),
    };
    let inline = serde_json::to_vec(&done).unwrap();
    records.tree.insert(done.id.as_bytes(), inline).unwrap();
    assert!(matches!(
        records.get(&done.id).unwrap(),
        Some(Stored::Done(_))
    ));
}

/// The previous release kept a header under the id and the payload under `\0` + id.
fn write_split(tree: &sled::Tree, record: &ActionRecord) {
    let mut header = serde_json::to_value(header_of(record)).unwrap();
    header.as_object_mut().unwrap().remove("tx_id");
    tree.insert(record.id.as_bytes(), serde_json::to_vec(&header).unwrap())
        .unwrap();
    let body = match &record.tx {
        Some(tx) => serde_json::json!({ "signed": tx }),
        None => serde_json::json!({ "unsigned": record.action }),
    };
    let mut key = vec![0u8];
    key.extend_from_slice(record.id.as_bytes());
    tree.insert(key, serde_json::to_vec(&body).unwrap())
        .unwrap();
}

#[test]
fn split_records_of_the_previous_release_are_folded_into_one_value_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path()).unwrap();
    let tree = db.open_tree("actions").unwrap();
    let queued = claim("swap:1:lock");
    let sent = signed(claim("swap:1:claim"));
    let mut done = signed(claim("swap:2:claim"));
    done.status = ActionStatus::Final {
        height: 3,
        outcome: TxOutcome::Success,
    };
    for record in [&queued, &sent, &done] {
        write_split(&tree, record);
    }
    let records = Records::open(tree).unwrap();
    assert_eq!(unfinished(&records, "swap:1:lock").action, queued.action);
    let back = unfinished(&records, "swap:1:claim");
    assert_eq!((&back.tx, &back.status), (&sent.tx, &sent.status));
    assert!(matches!(
        records.get("swap:2:claim").unwrap(),
        Some(Stored::Done(_))
    ));
    let keys: Vec<Vec<u8>> = records
        .tree
        .iter()
        .keys()
        .map(|k| k.unwrap().to_vec())
        .collect();
    assert!(keys.iter().all(|k| k[0] != 0), "a payload key is left");
    assert_eq!(keys.len(), 3);
}

#[test]
fn an_id_that_would_collide_with_the_bodies_is_refused() {
    assert!(Records::check_id("").is_err());
    assert!(Records::check_id("\0swap").is_err());
    assert!(Records::check_id("swap:1:claim").is_ok());
}
