//! A real node in-process on port 0: RPC over HTTP and WebSocket, blocks, HTLCs, events,
//! malformed requests and reopening the same home. Sections refer to specs/devchain.md.

use std::path::Path;
use std::time::Duration;

use causeway_core::{sha256, Amount, AssetId, ChainEvent, ChainId, Cursor, EventKind, Hash32};
use causeway_devchain::api::{
    DevchainApiClient, DevchainEventsClient, ErrorCode, HtlcState, Receipt, TxOutcome, TxStatus,
};
use causeway_devchain::block::verify_seal;
use causeway_devchain::tx::{Payload, SignedTransaction, Transaction};
use causeway_devchain::{
    htlc_lock_id, init_home, GenesisAccount, InitOptions, Node, NodeOverrides,
};
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::ws_client::WsClientBuilder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;
use support::{addr, key, usd, RunningNode, MAX_POLLS, POLL_EVERY};

const INTERVAL_MS: u64 = 25;
const FUNDS: u128 = 1_000_000;

fn chain() -> ChainId {
    ChainId::new("dev-it").unwrap()
}

type Running = RunningNode;

fn init(home: &Path) {
    let accounts = (1..=3)
        .map(|seed| GenesisAccount {
            address: addr(seed),
            balances: [(usd(), Amount(FUNDS))].into(),
        })
        .collect();
    init_home(
        home,
        InitOptions {
            chain_id: chain(),
            rpc_addr: "127.0.0.1:0".parse().unwrap(),
            block_interval_ms: INTERVAL_MS,
            accounts,
            force: false,
            bridge: None,
        },
    )
    .unwrap();
}

async fn start(home: &Path) -> Running {
    RunningNode::start(home).await
}

/// A node on a newly initialised home (dropping the home deletes it).
async fn fresh() -> (tempfile::TempDir, Running) {
    let home = tempfile::tempdir().unwrap();
    init(home.path());
    let node = start(home.path()).await;
    (home, node)
}

fn signed_by(seed: u8, nonce: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        chain_id: chain(),
        from: addr(seed),
        nonce,
        payload,
    }
    .sign(&key(seed))
}

async fn next_nonce(rpc: &HttpClient, seed: u8) -> u64 {
    rpc.account(addr(seed)).await.unwrap().nonce
}

async fn sign_next(rpc: &HttpClient, seed: u8, payload: Payload) -> SignedTransaction {
    signed_by(seed, next_nonce(rpc, seed).await, payload)
}

async fn wait_receipt(rpc: &HttpClient, hash: Hash32) -> Receipt {
    for _ in 0..MAX_POLLS {
        if let Some(receipt) = rpc.receipt(hash).await.unwrap() {
            return receipt;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    panic!("transaction {hash} was never committed");
}

async fn submit_and_wait(rpc: &HttpClient, tx: SignedTransaction) -> Receipt {
    let hash = rpc.submit_transaction(tx).await.unwrap();
    wait_receipt(rpc, hash).await
}

fn transfer(to: u8, amount: u128) -> Payload {
    Payload::Transfer {
        to: addr(to),
        asset: usd(),
        amount: Amount(amount),
    }
}

fn rejection_code(err: ClientError) -> i32 {
    match err {
        ClientError::Call(obj) => obj.code(),
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

async fn rejected(rpc: &HttpClient, tx: SignedTransaction) -> i32 {
    rejection_code(rpc.submit_transaction(tx).await.unwrap_err())
}

// §5, §6, §8: transfers, receipts, balances, idempotency, events and their cursors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_commit_with_receipts_balances_and_paged_events() {
    let (_home, node) = fresh().await;
    let rpc = &node.rpc;
    let info = rpc.chain_info().await.unwrap();
    assert_eq!(info.chain_id, chain());
    assert_eq!(info.kind, "devchain");

    let mut receipts = Vec::new();
    for amount in [10, 20, 30] {
        let tx = sign_next(rpc, 1, transfer(2, amount)).await;
        let receipt = submit_and_wait(rpc, tx.clone()).await;
        assert_eq!(receipt.outcome, TxOutcome::Success);
        // §6.1: resubmitting a committed transaction returns its hash.
        assert_eq!(rpc.submit_transaction(tx).await.unwrap(), receipt.tx_hash);
        receipts.push(receipt);
    }
    assert_eq!(
        rpc.balance(addr(1), usd()).await.unwrap(),
        Amount(FUNDS - 60)
    );
    assert_eq!(
        rpc.balance(addr(2), usd()).await.unwrap(),
        Amount(FUNDS + 60)
    );
    let account = rpc.account(addr(1)).await.unwrap();
    assert_eq!(account.nonce, 3);
    let status = rpc.transaction_status(receipts[0].tx_hash).await.unwrap();
    assert_eq!(
        status,
        TxStatus::Committed {
            receipt: receipts[0].clone()
        }
    );
    assert_eq!(
        rpc.transaction_status(Hash32([7; 32])).await.unwrap(),
        TxStatus::Unknown
    );

    let block = rpc.block(receipts[0].height).await.unwrap().unwrap();
    assert!(verify_seal(&block));
    assert_eq!(
        block.transactions[receipts[0].index as usize].hash(),
        receipts[0].tx_hash
    );
    assert!(rpc.block(u64::MAX).await.unwrap().is_none());

    // §8: page through with limit 2; the last page is not full and skips to the next block.
    let page = rpc.events(Cursor::default(), 2).await.unwrap();
    assert_eq!(page.events.len(), 2);
    assert_eq!(page.next, page.events[1].position.successor());
    let rest = rpc.events(page.next, 2).await.unwrap();
    assert_eq!(rest.events.len(), 1);
    assert_eq!(rest.next, Cursor::new(rest.finalized_height + 1, 0));
    let all: Vec<Hash32> = page
        .events
        .iter()
        .chain(&rest.events)
        .map(|e| e.tx_hash)
        .collect();
    let expected: Vec<Hash32> = receipts.iter().map(|r| r.tx_hash).collect();
    assert_eq!(all, expected);
    let beyond = rpc.events(Cursor::new(u64::MAX / 2, 0), 10).await.unwrap();
    assert!(beyond.events.is_empty());
    assert_eq!(
        beyond.next,
        Cursor::new(u64::MAX / 2, 0),
        "next never goes backwards"
    );
    node.shutdown().await;
}

// §7: lock, claim with the preimage, early refund refused, refund after expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htlc_lock_claim_and_refund() {
    let (_home, node) = fresh().await;
    let rpc = &node.rpc;
    let secret = Hash32([9; 32]);
    let hashlock = sha256(secret.as_bytes());
    let now = rpc.chain_info().await.unwrap().finalized_time_ms;

    let far = now + 600_000;
    let lock = Payload::HtlcLock {
        recipient: addr(2),
        asset: usd(),
        amount: Amount(500),
        hashlock,
        expiry_ms: far,
    };
    let locked = submit_and_wait(rpc, sign_next(rpc, 1, lock).await).await;
    let lock_id = htlc_lock_id(
        &chain(),
        &addr(1),
        &addr(2),
        &usd(),
        Amount(500),
        &hashlock,
        far,
    );
    assert!(
        matches!(&locked.events[0].kind, EventKind::HtlcLocked { lock_id: id, .. } if *id == lock_id)
    );
    let refund_early = sign_next(rpc, 1, Payload::HtlcRefund { lock_id }).await;
    assert_eq!(
        rejected(rpc, refund_early).await,
        ErrorCode::HtlcNotExpired.code()
    );
    let wrong = sign_next(
        rpc,
        3,
        Payload::HtlcClaim {
            lock_id,
            preimage: Hash32([8; 32]),
        },
    )
    .await;
    assert_eq!(rejected(rpc, wrong).await, ErrorCode::WrongPreimage.code());
    let claim = sign_next(
        rpc,
        3,
        Payload::HtlcClaim {
            lock_id,
            preimage: secret,
        },
    )
    .await;
    let claimed = submit_and_wait(rpc, claim).await;
    assert!(
        matches!(&claimed.events[0].kind, EventKind::HtlcClaimed { preimage, .. } if *preimage == secret)
    );
    assert_eq!(
        rpc.balance(addr(2), usd()).await.unwrap(),
        Amount(FUNDS + 500)
    );
    let settled = rpc.htlc(lock_id).await.unwrap().unwrap();
    assert_eq!(settled.state, HtlcState::Claimed { preimage: secret });
    let twice = sign_next(
        rpc,
        3,
        Payload::HtlcClaim {
            lock_id,
            preimage: secret,
        },
    )
    .await;
    assert_eq!(
        rejected(rpc, twice).await,
        ErrorCode::HtlcAlreadySettled.code()
    );

    // A short lock: refundable once chain time reaches its expiry.
    let head = rpc.chain_info().await.unwrap().finalized_time_ms;
    let soon = head + 4 * INTERVAL_MS;
    let short = Payload::HtlcLock {
        recipient: addr(2),
        asset: usd(),
        amount: Amount(7),
        hashlock,
        expiry_ms: soon,
    };
    submit_and_wait(rpc, sign_next(rpc, 1, short).await).await;
    let short_id = htlc_lock_id(
        &chain(),
        &addr(1),
        &addr(2),
        &usd(),
        Amount(7),
        &hashlock,
        soon,
    );
    for _ in 0..MAX_POLLS {
        if rpc.chain_info().await.unwrap().finalized_time_ms >= soon {
            break;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    let refund = sign_next(rpc, 2, Payload::HtlcRefund { lock_id: short_id }).await;
    let refunded = submit_and_wait(rpc, refund).await;
    assert!(
        matches!(&refunded.events[0].kind, EventKind::HtlcRefunded { sender, .. } if *sender == addr(1))
    );
    assert_eq!(
        rpc.htlc(short_id).await.unwrap().unwrap().state,
        HtlcState::Refunded
    );
    assert_eq!(
        rpc.balance(addr(1), usd()).await.unwrap(),
        Amount(FUNDS - 500)
    );
    node.shutdown().await;
}

// §6: every admission error has its own code, a message and data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_errors_carry_codes_messages_and_data() {
    let (_home, node) = fresh().await;
    let rpc = &node.rpc;

    let forged = Transaction {
        chain_id: chain(),
        from: addr(1),
        nonce: 0,
        payload: transfer(2, 1),
    }
    .sign(&key(2));
    assert_eq!(rejected(rpc, forged).await, ErrorCode::BadSignature.code());

    let foreign = Transaction {
        chain_id: ChainId::new("elsewhere").unwrap(),
        from: addr(1),
        nonce: 0,
        payload: transfer(2, 1),
    }
    .sign(&key(1));
    assert_eq!(rejected(rpc, foreign).await, ErrorCode::WrongChain.code());

    let too_far = signed_by(1, 100, transfer(2, 1));
    match rpc.submit_transaction(too_far).await.unwrap_err() {
        ClientError::Call(obj) => {
            assert_eq!(obj.code(), ErrorCode::NonceTooHigh.code());
            assert!(
                obj.message().contains("next nonce is 0"),
                "{}",
                obj.message()
            );
            let data: serde_json::Value = serde_json::from_str(obj.data().unwrap().get()).unwrap();
            assert_eq!(data["expected"], 0);
            assert_eq!(data["got"], 100);
        }
        other => panic!("{other}"),
    }
    submit_and_wait(rpc, sign_next(rpc, 1, transfer(2, 1)).await).await;
    let stale = signed_by(1, 0, transfer(2, 2));
    assert_eq!(rejected(rpc, stale).await, ErrorCode::NonceTooLow.code());

    let cases = [
        (transfer(2, FUNDS + 1), ErrorCode::InsufficientBalance),
        (transfer(2, 0), ErrorCode::InvalidAmount),
        (
            Payload::Transfer {
                to: addr(2),
                asset: AssetId::new("EUR").unwrap(),
                amount: Amount(1),
            },
            ErrorCode::UnknownAsset,
        ),
        (
            Payload::HtlcClaim {
                lock_id: Hash32([3; 32]),
                preimage: Hash32([4; 32]),
            },
            ErrorCode::HtlcNotFound,
        ),
        (
            Payload::HtlcLock {
                recipient: addr(2),
                asset: usd(),
                amount: Amount(1),
                hashlock: Hash32::ZERO,
                expiry_ms: u64::MAX,
            },
            ErrorCode::HtlcInvalidTerms,
        ),
    ];
    for (payload, code) in cases {
        let tx = sign_next(rpc, 1, payload.clone()).await;
        assert_eq!(rejected(rpc, tx).await, code.code(), "{payload:?}");
    }

    let mut oversize = sign_next(rpc, 1, transfer(2, 1)).await;
    // Over the default bound, and still under the request-body bound.
    oversize.signature = "ab".repeat(causeway_devchain::config::DEFAULT_MAX_TX_BYTES / 2 + 1);
    assert_eq!(
        rejected(rpc, oversize).await,
        ErrorCode::OversizeTransaction.code()
    );
    assert_eq!(
        next_nonce(rpc, 1).await,
        1,
        "refused transactions use no nonce"
    );
    node.shutdown().await;
}

// §4: a transaction a few nonces ahead is held (and reported pending) until the gap fills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_nonces_are_held_until_the_gap_fills() {
    let (_home, node) = fresh().await;
    let rpc = &node.rpc;
    let signed_at = |nonce| signed_by(1, nonce, transfer(2, 10));
    let second = rpc.submit_transaction(signed_at(1)).await.unwrap();
    assert_eq!(
        rpc.transaction_status(second).await.unwrap(),
        TxStatus::Pending
    );
    assert_eq!(
        rpc.submit_transaction(signed_at(1)).await.unwrap(),
        second,
        "idempotent while held"
    );
    let first = rpc.submit_transaction(signed_at(0)).await.unwrap();
    let first = wait_receipt(rpc, first).await;
    let second = wait_receipt(rpc, second).await;
    assert!((second.height, second.index) > (first.height, first.index));
    assert_eq!(
        rpc.balance(addr(2), usd()).await.unwrap(),
        Amount(FUNDS + 20)
    );
    node.shutdown().await;
}

// §6.2: a transaction admitted at head time can still fail at block time: Failed receipt,
// nonce used, no state change, no events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execution_failure_uses_the_nonce_and_changes_nothing_else() {
    let (_home, node) = fresh().await;
    let rpc = &node.rpc;
    // Expiring one millisecond after the head: admitted now, but every later block is later.
    let mut receipt = None;
    for _ in 0..100 {
        let head_time = rpc.chain_info().await.unwrap().finalized_time_ms;
        let lock = Payload::HtlcLock {
            recipient: addr(2),
            asset: usd(),
            amount: Amount(5),
            hashlock: Hash32([1; 32]),
            expiry_ms: head_time + 1,
        };
        match rpc.submit_transaction(sign_next(rpc, 1, lock).await).await {
            Ok(hash) => {
                receipt = Some(wait_receipt(rpc, hash).await);
                break;
            }
            // The head moved between reading it and submitting: try again.
            Err(err) => assert_eq!(rejection_code(err), ErrorCode::HtlcInvalidTerms.code()),
        }
    }
    let receipt = receipt.expect("a lock was admitted");
    assert!(
        matches!(&receipt.outcome, TxOutcome::Failed { code, .. } if *code == ErrorCode::HtlcInvalidTerms.code()),
        "{:?}",
        receipt.outcome
    );
    assert!(receipt.events.is_empty());
    assert_eq!(next_nonce(rpc, 1).await, 1);
    assert_eq!(rpc.balance(addr(1), usd()).await.unwrap(), Amount(FUNDS));
    let page = rpc.events(Cursor::default(), 10).await.unwrap();
    assert!(page.events.is_empty());
    node.shutdown().await;
}

async fn next_event(sub: &mut jsonrpsee::core::client::Subscription<ChainEvent>) -> ChainEvent {
    tokio::time::timeout(Duration::from_secs(30), sub.next())
        .await
        .expect("an event within 30 s")
        .expect("subscription open")
        .expect("event decodes")
}

// §8.2: the WebSocket subscription sends the backlog, then live events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_streams_backlog_then_live_events() {
    let (_home, node) = fresh().await;
    let rpc = &node.rpc;
    let first = submit_and_wait(rpc, sign_next(rpc, 1, transfer(2, 1)).await).await;
    let ws = WsClientBuilder::default()
        .build(format!("ws://{}", node.addr))
        .await
        .unwrap();
    let mut sub = ws.subscribe_events(Cursor::default()).await.unwrap();
    let backlog = next_event(&mut sub).await;
    assert_eq!(backlog.tx_hash, first.tx_hash);
    let second = submit_and_wait(rpc, sign_next(rpc, 1, transfer(3, 2)).await).await;
    let live = next_event(&mut sub).await;
    assert_eq!(live.tx_hash, second.tx_hash);
    assert_eq!(live.position, second.events[0].position);
    node.shutdown().await;
}

/// The response, or how the node closed the connection. The node may answer an oversized
/// body (413) and close before reading all of it, so a write that fails with a broken pipe
/// is an answer, not a test failure (this once failed CI).
async fn raw_post(addr: std::net::SocketAddr, body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let wrote = stream.write_all(request.as_bytes()).await;
    let mut response = String::new();
    let read = stream.read_to_string(&mut response).await;
    match (response.is_empty(), wrote.and(read.map(|_| ()))) {
        (true, Err(e)) => format!("{CLOSED_BY_NODE}: {e}"),
        _ => response,
    }
}

const CLOSED_BY_NODE: &str = "connection closed by the node";

// §11: malformed requests get standard JSON-RPC errors and the node keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_answered_and_the_node_keeps_running() {
    let (_home, node) = fresh().await;
    let parse = raw_post(node.addr, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":").await;
    assert!(parse.contains("-32700"), "{parse}");
    let params = raw_post(
        node.addr,
        r#"{"jsonrpc":"2.0","id":2,"method":"devchain_submitTransaction","params":[{"tx":42}]}"#,
    )
    .await;
    assert!(params.contains("-32602"), "{params}");
    let unknown = raw_post(
        node.addr,
        r#"{"jsonrpc":"2.0","id":3,"method":"devchain_nope"}"#,
    )
    .await;
    assert!(unknown.contains("-32601"), "{unknown}");
    let huge = raw_post(node.addr, &format!("\"{}\"", "x".repeat(600 * 1024))).await;
    assert!(
        huge.contains("413") || huge.contains("-32007") || huge.starts_with(CLOSED_BY_NODE),
        "{huge}"
    );
    let info = node.rpc.chain_info().await.unwrap();
    assert_eq!(info.chain_id, chain());
    assert!(node.url.starts_with("http://127.0.0.1:"));
    node.shutdown().await;
}

// §9: a node reopened on the same home resumes at the same height with the same balances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_the_home_restores_height_and_balances() {
    let (home, node) = fresh().await;
    let receipt = submit_and_wait(&node.rpc, sign_next(&node.rpc, 1, transfer(2, 123)).await).await;
    node.shutdown().await;
    assert!(
        !home.path().join("rpc.addr").exists(),
        "a stopped node leaves no stale address"
    );

    let reopened = Node::open(home.path(), NodeOverrides::default()).unwrap();
    let stopped_at = reopened.head().height;
    assert!(stopped_at >= receipt.height);
    assert_eq!(reopened.account(&addr(1)).nonce, 1);
    assert_eq!(
        reopened.account(&addr(2)).balances[&usd()],
        Amount(FUNDS + 123)
    );
    drop(reopened);

    let node = start(home.path()).await;
    assert_eq!(
        node.rpc.receipt(receipt.tx_hash).await.unwrap(),
        Some(receipt.clone())
    );
    assert_eq!(
        node.rpc.balance(addr(1), usd()).await.unwrap(),
        Amount(FUNDS - 123)
    );
    let next = submit_and_wait(&node.rpc, sign_next(&node.rpc, 1, transfer(2, 1)).await).await;
    assert!(
        next.height > stopped_at,
        "the chain continues after its old head"
    );
    let block = node.rpc.block(stopped_at + 1).await.unwrap().unwrap();
    let parent = node.rpc.block(stopped_at).await.unwrap().unwrap();
    assert!(block.header.time_ms > parent.header.time_ms);
    node.shutdown().await;
}

// §11 `devchain_waitForHeight`: a long poll answers once a block above the height is final,
// at once when one already is, and at its (clamped) timeout otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_height_answers_when_a_block_above_it_is_final() {
    let (_home, node) = fresh().await;
    let now = node.rpc.chain_info().await.unwrap().finalized_height;
    let next = node.rpc.wait_for_height(now, 5_000).await.unwrap();
    assert!(
        next.finalized_height > now,
        "{} > {now}",
        next.finalized_height
    );

    let already = node.rpc.wait_for_height(0, 5_000).await.unwrap();
    assert!(already.finalized_height >= next.finalized_height);

    let far = u64::MAX - 1;
    let started = std::time::Instant::now();
    let timed_out = node.rpc.wait_for_height(far, 300).await.unwrap();
    assert!(timed_out.finalized_height < far);
    assert!(started.elapsed() >= Duration::from_millis(300));
    node.shutdown().await;
}

// §6.1 "Signatures in batches": concurrent submissions are checked together, a forged
// signature among them refuses only its own transaction, and nodeStats counts them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_signature_among_concurrent_submissions_refuses_only_its_own() {
    let (_home, node) = fresh().await;
    let rpc = &node.rpc;
    let forged = {
        let mut tx = signed_by(3, 0, transfer(1, 5));
        tx.signature = signed_by(2, 0, transfer(1, 5)).signature;
        tx
    };
    let honest: Vec<_> = (0..40)
        .map(|nonce| signed_by(1 + (nonce % 2) as u8, nonce / 2, transfer(3, 1)))
        .collect();
    let (forged_result, honest_results) = tokio::join!(
        rpc.submit_transaction(forged),
        futures::future::join_all(honest.iter().map(|tx| rpc.submit_transaction(tx.clone())))
    );
    assert_eq!(
        rejection_code(forged_result.unwrap_err()),
        ErrorCode::BadSignature.code()
    );
    for (tx, result) in honest.iter().zip(honest_results) {
        assert_eq!(
            result.unwrap(),
            tx.hash(),
            "an honest submission was refused"
        );
    }
    let stats = rpc.node_stats().await.unwrap().verifier;
    assert_eq!(stats.signatures, 41);
    assert!(stats.batches <= 41 && stats.largest_batch >= 1);
    assert_eq!((stats.queued, stats.refused), (0, 0));
    node.shutdown().await;
}
