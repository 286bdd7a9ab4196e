use super::*;
use causeway_adapters::TxOutcome;

fn tree() -> (tempfile::TempDir, Records) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path()).unwrap();
    (dir, Records::new(db.open_tree("actions").unwrap()))
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
        Some(Stored::Done) => panic!("{id} is done"),
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
        Some(Stored::Done)
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
fn headers_list_every_action_once_and_never_a_body() {
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
    assert!(matches!(records.get(&done.id).unwrap(), Some(Stored::Done)));
}

#[test]
fn an_id_that_would_collide_with_the_bodies_is_refused() {
    assert!(Records::check_id("").is_err());
    assert!(Records::check_id("\0swap").is_err());
    assert!(Records::check_id("swap:1:claim").is_ok());
}
