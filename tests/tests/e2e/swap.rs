//! HTLC swaps end to end: two real devchain nodes, one relay per party, driven by the CLI.

use std::time::Duration;

use causeway_adapters::devchain::DevchainAdapter;
use causeway_adapters::{Action, ChainAdapter, TxOutcome, TxState};
use causeway_core::{Address, Amount, AssetId, ChainId, Hash32};
use causeway_e2e::{eventually, DevchainProcess, Net, RelayProcess};
use causeway_relay::api::{RelayApiClient, SwapChange};
use jsonrpsee::core::client::Subscription;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(90);

/// Tight but valid safety assumptions, so expiries come within seconds.
const FAST_POLICY: &str =
    "[swap]\nreaction_delay_ms = 1000\nclock_skew_ms = 500\nextra_margin_ms = 500\n";

struct World {
    net: Net,
    a: DevchainProcess,
    b: DevchainProcess,
    alice: Address,
    bob: Address,
}

async fn world() -> World {
    let net = Net::new();
    let alice = net.key("alice");
    let bob = net.key("bob");
    let a = net
        .devchain("dev-a", &["alice=USD:1000", "bob=USD:10"])
        .await
        .unwrap();
    let b = net
        .devchain("dev-b", &["bob=GOLD:500", "alice=GOLD:10"])
        .await
        .unwrap();
    World {
        net,
        a,
        b,
        alice,
        bob,
    }
}

impl World {
    fn relay_config(&self, who: &str, policy: &str) -> std::path::PathBuf {
        self.net.relay_config_with(
            &format!("relay-{who}"),
            &[
                ("dev-a", &self.a.rpc_url, Some(who)),
                ("dev-b", &self.b.rpc_url, Some(who)),
            ],
            policy,
        )
    }

    async fn relay(&self, who: &str) -> RelayProcess {
        self.relay_with(who, FAST_POLICY).await
    }

    async fn relay_with(&self, who: &str, policy: &str) -> RelayProcess {
        self.net
            .relay(&self.relay_config(who, policy))
            .await
            .unwrap()
    }

    fn offer(&self, relay: &RelayProcess, give: &str, get: &str, accept_secs: u64) -> Value {
        self.net
            .swap_offer(&relay.api_url, [give, get, "bob", "bob"], accept_secs)
    }

    fn balance(&self, rpc: &str, who: &str, asset: &str) -> u128 {
        self.net.balance(rpc, who, asset)
    }

    async fn await_balance(&self, rpc: &str, who: &str, asset: &str, want: u128) {
        eventually(
            &format!("{who}'s {asset} to reach {want}"),
            WAIT,
            || async { (self.balance(rpc, who, asset) == want).then_some(()) },
        )
        .await
        .unwrap();
    }

    fn accept(&self, relay: &RelayProcess, offer: &Value) {
        self.net.swap_accept(&relay.api_url, offer)
    }

    async fn outcome(&self, relay: &RelayProcess, swap_id: &str) -> Value {
        self.net
            .swap_outcome(&relay.api_url, swap_id, WAIT)
            .await
            .unwrap()
    }
}

/// The relay's pushed swap changes (`relay_subscribeSwaps`), and the client that holds them.
async fn subscribe_swaps(relay: &RelayProcess) -> (WsClient, Subscription<SwapChange>) {
    let client = WsClientBuilder::default()
        .build(relay.api_url.replacen("http://", "ws://", 1))
        .await
        .unwrap();
    let changes = client.subscribe_swaps().await.unwrap();
    (client, changes)
}

/// Every change pushed for `swap_id` until the one that finishes it.
async fn changes_until_finished(
    changes: &mut Subscription<SwapChange>,
    swap_id: &str,
) -> Vec<SwapChange> {
    let mut seen = Vec::new();
    while seen.last().is_none_or(|c: &SwapChange| c.outcome.is_none()) {
        let change = tokio::time::timeout(WAIT, changes.next())
            .await
            .expect("a change within the wait")
            .expect("the subscription stays open")
            .unwrap();
        if change.swap_id == swap_id {
            seen.push(change);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_swap_moves_both_assets_and_balances_are_right() {
    let w = world().await;
    let alice_relay = w.relay("alice").await;
    let bob_relay = w.relay("bob").await;
    let (_alice_ws, mut alice_changes) = subscribe_swaps(&alice_relay).await;
    let (_bob_ws, mut bob_changes) = subscribe_swaps(&bob_relay).await;
    let offer = w.offer(&alice_relay, "dev-a:USD:100", "dev-b:GOLD:50", 30);
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    assert!(offer["offer"].as_str().unwrap().starts_with("cwoffer1"));

    let accepted = w
        .net
        .cli_ok(&[
            "--json",
            "swap",
            "accept",
            offer["offer"].as_str().unwrap(),
            "--relay",
            &bob_relay.api_url,
        ])
        .json();
    assert_eq!(accepted["swap_id"], swap_id);

    // Each relay pushes the swap's every step, in order, the last one finishing it
    // (specs/htlc.md §8.1, change notifications).
    for changes in [&mut alice_changes, &mut bob_changes] {
        let seen = changes_until_finished(changes, &swap_id).await;
        assert!(seen.len() >= 3, "a lock, a claim and the end: {seen:#?}");
        assert!(
            seen.windows(2)
                .all(|w| w[0].timeline_len <= w[1].timeline_len),
            "{seen:#?}"
        );
        let last = seen.last().unwrap();
        assert_eq!(last.outcome, Some(causeway_htlc::SwapOutcome::Swapped));
        assert_eq!(
            last.phase,
            causeway_htlc::Phase::Finished(causeway_htlc::SwapOutcome::Swapped)
        );
    }
    let alice_view = w.outcome(&alice_relay, &swap_id).await;
    let bob_view = w.outcome(&bob_relay, &swap_id).await;
    assert_eq!(alice_view["status"]["outcome"], "swapped", "{alice_view:#}");
    assert_eq!(bob_view["status"]["outcome"], "swapped", "{bob_view:#}");

    assert_eq!(w.balance(&w.a.rpc_url, "alice", "USD"), 900);
    assert_eq!(w.balance(&w.a.rpc_url, "bob", "USD"), 110);
    assert_eq!(w.balance(&w.b.rpc_url, "alice", "GOLD"), 60);
    assert_eq!(w.balance(&w.b.rpc_url, "bob", "GOLD"), 450);

    let human = w
        .net
        .cli_ok(&["swap", "status", &swap_id, "--relay", &alice_relay.api_url])
        .stdout;
    assert!(
        human.contains("leg A on dev-a") && human.contains("outcome: swapped"),
        "{human}"
    );
    // The swap ends on the claim *events*; each executor records its claims' finality on
    // its own poll, a moment later.
    for relay in [&alice_relay, &bob_relay] {
        let net = &w.net;
        let status = eventually("every chain action to be final", WAIT, || async {
            let status = net
                .cli_ok(&["--json", "relay", "status", "--api", &relay.api_url])
                .json();
            (status["actions_in_flight"] == 0).then_some(status)
        })
        .await
        .unwrap();
        assert_eq!(status["swaps_active"], 0, "{status:#}");
        // Every swap step was flushed, and every page of events went through the flusher.
        let storage = &status["storage"];
        assert!(storage["flushes"].as_u64() > Some(0), "{status:#}");
        assert!(storage["applied"].as_u64() > Some(0), "{status:#}");
        assert_eq!(storage["queued_writes"], 0, "{status:#}");
    }
    let list = w
        .net
        .cli_ok(&["swap", "list", "--relay", &bob_relay.api_url])
        .stdout;
    assert!(list.contains(&swap_id), "{list}");
    let _ = (&w.alice, &w.bob);
}

/// `swap accept --follow` prints each step the relay pushes (specs/htlc.md §8.1, change
/// notifications) until the swap finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_with_follow_prints_each_step_until_the_swap_finishes() {
    let w = world().await;
    let alice_relay = w.relay("alice").await;
    let bob_relay = w.relay("bob").await;
    let offer = w.offer(&alice_relay, "dev-a:USD:100", "dev-b:GOLD:50", 30);
    let followed = w
        .net
        .cli_ok(&[
            "swap",
            "accept",
            offer["offer"].as_str().unwrap(),
            "--relay",
            &bob_relay.api_url,
            "--follow",
        ])
        .stdout;
    assert!(
        followed.contains("submitting") && followed.contains("outcome: swapped"),
        "{followed}"
    );
    assert_eq!(w.balance(&w.a.rpc_url, "bob", "USD"), 110);
    assert_eq!(w.balance(&w.b.rpc_url, "alice", "GOLD"), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participant_who_never_locks_leaves_the_initiator_refunded_after_expiry() {
    let w = world().await;
    let alice_relay = w.relay("alice").await;
    let offer = w.offer(&alice_relay, "dev-a:USD:100", "dev-b:GOLD:50", 2);
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    w.await_balance(&w.a.rpc_url, "alice", "USD", 900).await;

    let view = w.outcome(&alice_relay, &swap_id).await;
    assert_eq!(view["status"]["outcome"], "refunded", "{view:#}");
    assert_eq!(w.balance(&w.a.rpc_url, "alice", "USD"), 1000);
    assert_eq!(w.balance(&w.a.rpc_url, "bob", "USD"), 10);
}

/// Bob locks by hand with wrong terms; alice's relay must refuse to claim and refund.
async fn counterparty_locks_wrong_terms(
    amount: u128,
    hashlock_override: Option<Hash32>,
    expiry_extra_ms: u64,
) -> (World, Value) {
    let w = world().await;
    let alice_relay = w.relay("alice").await;
    let offer = w.offer(&alice_relay, "dev-a:USD:100", "dev-b:GOLD:50", 3);
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    let terms = &offer["terms"];
    let hashlock: Hash32 = terms["hashlock"].as_str().unwrap().parse().unwrap();
    let expiry = terms["leg_b"]["expiry_ms"].as_u64().unwrap();

    let bob_b = DevchainAdapter::new(
        ChainId::new("dev-b").unwrap(),
        &w.b.rpc_url,
        Some(w.net.signing_key("bob")),
    )
    .unwrap();
    let lock = bob_b
        .submit(&Action::HtlcLock {
            recipient: w.alice.clone(),
            asset: AssetId::new("GOLD").unwrap(),
            amount: Amount(amount),
            hashlock: hashlock_override.unwrap_or(hashlock),
            expiry_ms: expiry + expiry_extra_ms,
        })
        .await
        .unwrap();
    assert!(matches!(
        bob_b.wait_final(&lock, WAIT).await.unwrap(),
        TxState::Final {
            outcome: TxOutcome::Success,
            ..
        }
    ));

    let view = w.outcome(&alice_relay, &swap_id).await;
    assert_eq!(view["status"]["outcome"], "refunded", "{view:#}");
    assert_eq!(
        w.balance(&w.a.rpc_url, "alice", "USD"),
        1000,
        "alice's USD not refunded"
    );
    assert_eq!(
        w.balance(&w.b.rpc_url, "alice", "GOLD"),
        10,
        "alice claimed a bad lock"
    );
    (w, view)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participant_locking_the_wrong_amount_is_refused_and_the_initiator_refunds() {
    let (_w, view) = counterparty_locks_wrong_terms(40, None, 0).await;
    let aborted = view["status"]["aborted"].to_string();
    assert!(
        aborted.contains("40") && aborted.contains("50"),
        "abort reason does not name the amounts: {aborted}"
    );
    let timeline = view["timeline"].to_string();
    assert!(
        timeline.contains("refunded automatically once dev-a"),
        "{timeline}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participant_locking_with_a_too_long_timelock_is_refused_and_the_initiator_refunds() {
    let (_w, view) = counterparty_locks_wrong_terms(50, None, 3_600_000).await;
    assert!(!view["status"]["aborted"].is_null(), "{view:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participant_locking_under_another_hash_is_ignored_and_the_initiator_refunds() {
    let (w, _view) = counterparty_locks_wrong_terms(50, Some(Hash32([9; 32])), 0).await;
    // Bob gets his own lock back with the CLI once it expires.
    let _ = w;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participant_relay_killed_between_the_two_claims_completes_the_swap_after_restart() {
    // The plan promises safety while each relay reacts within `reaction_delay_ms`; this test
    // keeps bob's relay down for a few seconds, so both relays declare 10 s.
    let policy = "[swap]\nreaction_delay_ms = 10000\nclock_skew_ms = 500\nextra_margin_ms = 500\n";
    let w = world().await;
    let alice_relay = w.relay_with("alice", policy).await;
    let mut bob_relay = w.relay_with("bob", policy).await;
    let offer = w.offer(&alice_relay, "dev-a:USD:100", "dev-b:GOLD:50", 30);
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    w.accept(&bob_relay, &offer);

    // As soon as bob's lock is final, SIGKILL bob's relay: alice then claims on dev-b
    // while bob's relay is down, revealing the preimage.
    w.await_balance(&w.b.rpc_url, "bob", "GOLD", 450).await;
    bob_relay.process.kill_hard();
    w.await_balance(&w.b.rpc_url, "alice", "GOLD", 60).await;
    assert_eq!(
        w.balance(&w.a.rpc_url, "bob", "USD"),
        10,
        "bob claimed while his relay was dead?"
    );

    let bob_relay = w.relay_with("bob", policy).await;
    let bob_view = w.outcome(&bob_relay, &swap_id).await;
    assert_eq!(bob_view["status"]["outcome"], "swapped", "{bob_view:#}");
    let alice_view = w.outcome(&alice_relay, &swap_id).await;
    assert_eq!(alice_view["status"]["outcome"], "swapped", "{alice_view:#}");
    assert_eq!(w.balance(&w.a.rpc_url, "bob", "USD"), 110);
    assert_eq!(w.balance(&w.a.rpc_url, "alice", "USD"), 900);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiator_relay_killed_after_locking_resumes_and_completes_the_swap() {
    let w = world().await;
    initiator_killed_after_locking_completes_the_swap(&w, |_| {}).await;
}

/// Alice offers and locks, her relay is SIGKILLed, `while_down` runs on it, bob accepts and
/// locks, alice's relay restarts: the swap completes on both relays with alice's leg locked
/// once. Returns alice's restarted relay.
async fn initiator_killed_after_locking_completes_the_swap(
    w: &World,
    while_down: impl FnOnce(&RelayProcess),
) -> RelayProcess {
    let policy = "[swap]\nreaction_delay_ms = 10000\nclock_skew_ms = 500\nextra_margin_ms = 500\n";
    let mut alice_relay = w.relay_with("alice", policy).await;
    let bob_relay = w.relay_with("bob", policy).await;
    let offer = w.offer(&alice_relay, "dev-a:USD:100", "dev-b:GOLD:50", 30);
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    w.await_balance(&w.a.rpc_url, "alice", "USD", 900).await;
    alice_relay.process.kill_hard();
    while_down(&alice_relay);
    w.accept(&bob_relay, &offer);
    w.await_balance(&w.b.rpc_url, "bob", "GOLD", 450).await;

    let alice_relay = w.relay_with("alice", policy).await;
    for relay in [&alice_relay, &bob_relay] {
        let view = w.outcome(relay, &swap_id).await;
        assert_eq!(view["status"]["outcome"], "swapped", "{view:#}");
    }
    assert_eq!(
        w.balance(&w.a.rpc_url, "alice", "USD"),
        900,
        "alice locked twice?"
    );
    assert_eq!(w.balance(&w.b.rpc_url, "alice", "GOLD"), 60);
    alice_relay
}

/// Rewrites a stopped relay's swaps in the layout releases before specs/htlc.md §8.4 used:
/// one value per swap in tree `swaps`, the whole `Swap` (its offer inside) beside the signed
/// offer string, the timeline and the reaction figures.
fn rewrite_in_the_single_value_layout(relay: &RelayProcess) -> usize {
    let dir = relay
        .config
        .parent()
        .unwrap()
        .join("data")
        .join("relay.sled");
    let db = sled::open(&dir).unwrap();
    let offers = db.open_tree("swap_offers").unwrap();
    let progress = db.open_tree("swap_progress").unwrap();
    let legacy = db.open_tree("swaps").unwrap();
    let mut rewritten = 0;
    for kv in progress.iter() {
        let (id, value) = kv.unwrap();
        let mut record: Value = serde_json::from_slice(&value).unwrap();
        let mut offer: Value = serde_json::from_slice(&offers.get(&id).unwrap().unwrap()).unwrap();
        let record_fields = record.as_object_mut().unwrap();
        let mut swap = record_fields.remove("progress").unwrap();
        swap["offer"] = offer["offer"].take();
        record_fields.insert("swap".into(), swap);
        record_fields.insert("offer".into(), offer["text"].take());
        legacy
            .insert(&id, serde_json::to_vec(&record).unwrap())
            .unwrap();
        rewritten += 1;
    }
    offers.clear().unwrap();
    progress.clear().unwrap();
    db.flush().unwrap();
    rewritten
}

// specs/htlc.md §8.4: a data_dir written by an earlier release, with a swap in flight (the
// initiator's leg locked), is moved to the two-part layout when the relay opens it, and the
// swap completes with nothing done twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_in_flight_in_the_single_value_layout_completes_after_the_upgrade() {
    let w = world().await;
    let mut alice_relay = initiator_killed_after_locking_completes_the_swap(&w, |relay| {
        assert_eq!(rewrite_in_the_single_value_layout(relay), 1);
    })
    .await;
    alice_relay.process.kill_hard();
    let db = sled::open(relay_db(&alice_relay)).unwrap();
    assert!(
        db.open_tree("swaps").unwrap().is_empty(),
        "the old layout was not moved"
    );
    assert_eq!(db.open_tree("swap_offers").unwrap().len(), 1);
}

fn relay_db(relay: &RelayProcess) -> std::path::PathBuf {
    relay
        .config
        .parent()
        .unwrap()
        .join("data")
        .join("relay.sled")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_swap_requests_get_errors_that_say_what_to_do() {
    let w = world().await;
    let relay = w.relay("alice").await;
    let api = relay.api_url.as_str();
    let offer_args = |give: &'static str| {
        [
            "swap",
            "offer",
            "--relay",
            api,
            "--give",
            give,
            "--get",
            "dev-b:GOLD:5",
            "--to",
            "bob",
            "--from",
            "bob",
        ]
    };
    w.net
        .cli_err(&offer_args("dev-a:USD"), "CHAIN:ASSET:AMOUNT");
    w.net
        .cli_err(&offer_args("dev-a:USD:0"), "greater than zero");
    let run = w.net.cli_err(&offer_args("dev-z:USD:1"), "dev-z");
    assert!(run.stderr.contains("not configured"), "{}", run.stderr);
    w.net.cli_err(
        &["swap", "accept", "cwoffer1garbage", "--relay", api],
        "offer",
    );
    // An offer meant for bob cannot be accepted by alice's relay.
    let offer = w.offer(&relay, "dev-a:USD:1", "dev-b:GOLD:1", 30);
    w.net.cli_err(
        &[
            "swap",
            "accept",
            offer["offer"].as_str().unwrap(),
            "--relay",
            api,
        ],
        "made offer",
    );
    w.net.cli_err(
        &["swap", "status", "nope", "--relay", api],
        "causeway swap list",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initiator_claiming_at_the_last_moment_still_leaves_the_participant_time_to_claim() {
    let policy = "[swap]\nreaction_delay_ms = 3000\nclock_skew_ms = 500\nextra_margin_ms = 500\n";
    let w = world().await;
    let mut alice_relay = w.relay_with("alice", policy).await;
    let bob_relay = w.relay_with("bob", policy).await;
    let offer = w.offer(&alice_relay, "dev-a:USD:100", "dev-b:GOLD:50", 5);
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    let claim_window_ms = offer["status"]["claim_window"]["at_ms"].as_u64().unwrap();
    w.await_balance(&w.a.rpc_url, "alice", "USD", 900).await;
    // Alice's relay goes away before bob locks, so nobody claims dev-b early.
    alice_relay.process.kill_hard();
    w.accept(&bob_relay, &offer);
    w.await_balance(&w.b.rpc_url, "bob", "GOLD", 450).await;

    // Bring alice back just before her claim window on dev-b closes (by dev-b's clock).
    let net = &w.net;
    eventually(
        "dev-b's clock to near the end of the claim window",
        WAIT,
        || async {
            let info = net
                .cli_ok(&["--json", "chain", "status", "--rpc", &w.b.rpc_url])
                .json();
            (info["finalized_time_ms"].as_u64().unwrap() + 2_000 >= claim_window_ms).then_some(())
        },
    )
    .await
    .unwrap();
    let alice_relay = w.relay_with("alice", policy).await;
    for relay in [&alice_relay, &bob_relay] {
        let view = w.outcome(relay, &swap_id).await;
        assert_eq!(view["status"]["outcome"], "swapped", "{view:#}");
    }
    assert_eq!(w.balance(&w.a.rpc_url, "bob", "USD"), 110);
    assert_eq!(w.balance(&w.b.rpc_url, "alice", "GOLD"), 60);
}
