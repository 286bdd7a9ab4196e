//! The EVM adapter against a real anvil: the conformance suite, HTLC swaps devchain <-> anvil
//! and anvil <-> anvil through the CLI and two relays, a refund, and reorgs.

use std::collections::BTreeMap;
use std::time::Duration;

use causeway_adapters::evm::{parse_evm_address, AssetRef, EvmAdapter, EvmConfig};
use causeway_adapters::{finalized_events, Action, AdapterError, ChainAdapter, TxState};
use causeway_core::{Address, Amount, AssetId, ChainId, Cursor};
use causeway_e2e::{
    devchain_table, eventually, evm_table, AnvilProcess, DevchainProcess, EvmDeployment, Net,
    RelayProcess, ANVIL_DEV_KEYS,
};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

/// Tight but valid safety assumptions, so expiries come within seconds.
const FAST_POLICY: &str =
    "[swap]\nreaction_delay_ms = 1000\nclock_skew_ms = 500\nextra_margin_ms = 500\n";

fn adapter(
    id: &str,
    anvil: &AnvilProcess,
    deployed: &EvmDeployment,
    confirmations: u64,
    key: Option<usize>,
) -> EvmAdapter {
    let mut assets = BTreeMap::new();
    assets.insert(
        AssetId::new("USD").unwrap(),
        AssetRef::Erc20(parse_evm_address(&deployed.token).unwrap()),
    );
    let secret = key.map(|i| {
        let mut s = [0u8; 32];
        hex_to(&mut s, ANVIL_DEV_KEYS[i]);
        s
    });
    EvmAdapter::new(
        EvmConfig {
            chain: ChainId::new(id).unwrap(),
            endpoint: anvil.rpc_url.clone(),
            evm_chain_id: anvil.evm_chain_id,
            htlc_contract: Some(parse_evm_address(&deployed.htlc).unwrap()),
            confirmations,
            block_time_ms: 1000,
            assets,
            bridge: None,
        },
        secret,
    )
    .unwrap()
}

fn hex_to(out: &mut [u8; 32], text: &str) {
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
}

async fn usd(adapter: &EvmAdapter, who: &Address) -> u128 {
    adapter
        .balance(who, &AssetId::new("USD").unwrap())
        .await
        .unwrap()
        .0
}

// specs/adapter.md (every section the suite checks), through `causeway adapter conformance`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_against_anvil() {
    let net = Net::new();
    let anvil = AnvilProcess::start(net.path(), 31337, Some(1))
        .await
        .unwrap();
    let dev0 = net.evm_key("dev0", 0);
    let peer = net.evm_key("peer", 1);
    let deployed = net.deploy_evm(&anvil, "dev0", &[(&dev0, 1_000_000)]);
    let base = [
        "adapter",
        "conformance",
        "--kind",
        "evm",
        "--url",
        &anvil.rpc_url,
        "--chain-id",
        "anvil-a",
        "--key",
        "dev0",
        "--peer",
        peer.as_str(),
    ];
    let token = format!("USD={}", deployed.token);
    let good = [
        "--asset",
        "USD",
        "--amount",
        "10",
        "--evm-chain-id",
        "31337",
        "--htlc-contract",
        &deployed.htlc,
        "--evm-asset",
        &token,
        "--confirmations",
        "1",
    ];
    let run = net.cli_ok(&[&["--json"][..], &base, &good].concat());
    let v = run.json();
    assert_eq!(v["passed"], true, "{v:#}");
    // specs/evm-adapter.md §1: a wrong EVM chain id is refused by name before anything is signed.
    let wrong = net.cli(&[&base[..], &["--evm-chain-id", "1"]].concat());
    assert!(!wrong.success);
    assert!(
        wrong.stdout.contains("EVM chain id 31337"),
        "{}",
        wrong.stdout
    );
}

/// Two parties with a relay each, following two chains.
struct SwapWorld {
    net: Net,
    bob_evm: Address,
    alice_evm: Address,
}

impl SwapWorld {
    fn offer(
        &self,
        relay: &RelayProcess,
        give: &str,
        get: &str,
        to: &str,
        from: &str,
        secs: u64,
    ) -> Value {
        self.net
            .swap_offer(&relay.api_url, [give, get, to, from], secs)
    }

    /// Alice gives 100 USD on anvil-a for 50 GOLD of bob's on dev-b.
    fn offer_usd_for_gold(&self, relay: &RelayProcess, accept_within_secs: u64) -> Value {
        self.offer(
            relay,
            "anvil-a:USD:100",
            "dev-b:GOLD:50",
            "bob-evm",
            "bob",
            accept_within_secs,
        )
    }

    fn accept(&self, relay: &RelayProcess, offer: &Value) {
        self.net.swap_accept(&relay.api_url, offer);
    }

    async fn outcome(&self, relay: &RelayProcess, swap_id: &str) -> Value {
        self.net
            .swap_outcome(&relay.api_url, swap_id, WAIT)
            .await
            .unwrap()
    }

    fn dev_balance(&self, node: &DevchainProcess, who: &str, asset: &str) -> u128 {
        self.net.balance(&node.rpc_url, who, asset)
    }
}

/// Alice and bob on dev-b (devchain) and anvil-a; `anvil_block_time_s: None` is automine.
async fn swap_world(
    anvil_block_time_s: Option<u64>,
) -> (SwapWorld, DevchainProcess, AnvilProcess, EvmDeployment) {
    let net = Net::new();
    net.key("alice");
    net.key("bob");
    net.evm_key("dev0", 0);
    let alice_evm = net.evm_key("alice-evm", 1);
    let bob_evm = net.evm_key("bob-evm", 2);
    let dev = net
        .devchain("dev-b", &["bob=GOLD:500", "alice=GOLD:10"])
        .await
        .unwrap();
    let anvil = AnvilProcess::start(net.path(), 31337, anvil_block_time_s)
        .await
        .unwrap();
    let deployed = net.deploy_evm(&anvil, "dev0", &[(&alice_evm, 1000), (&bob_evm, 10)]);
    (
        SwapWorld {
            net,
            bob_evm,
            alice_evm,
        },
        dev,
        anvil,
        deployed,
    )
}

async fn relay_with_policy(
    w: &SwapWorld,
    who: &str,
    dev: &DevchainProcess,
    anvil: &AnvilProcess,
    deployed: &EvmDeployment,
    confirmations: u64,
    policy: &str,
) -> RelayProcess {
    let chains = format!(
        "{}{}",
        devchain_table("dev-b", &dev.rpc_url, who),
        evm_table(
            "anvil-a",
            anvil,
            &format!("{who}-evm"),
            confirmations,
            deployed,
            "USD"
        )
    );
    let config = w
        .net
        .relay_config_toml(&format!("relay-{who}"), policy, &chains);
    w.net.relay(&config).await.unwrap()
}

// specs/htlc.md: a completed swap between devchain and an EVM chain moves both assets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_between_devchain_and_anvil_completes_through_two_relays() {
    let (w, dev, anvil, deployed) = swap_world(Some(1)).await;
    let alice_relay = relay_with_policy(&w, "alice", &dev, &anvil, &deployed, 1, FAST_POLICY).await;
    let bob_relay = relay_with_policy(&w, "bob", &dev, &anvil, &deployed, 1, FAST_POLICY).await;
    let offer = w.offer_usd_for_gold(&alice_relay, 30);
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    w.accept(&bob_relay, &offer);
    let alice_view = w.outcome(&alice_relay, &swap_id).await;
    let bob_view = w.outcome(&bob_relay, &swap_id).await;
    assert_eq!(
        alice_view["status"]["outcome"],
        "swapped",
        "{:#}\nbob's relay:\n{}",
        bob_view["timeline"],
        bob_relay.process.log_text()
    );
    assert_eq!(bob_view["status"]["outcome"], "swapped", "{bob_view:#}");

    let reader = adapter("anvil-a", &anvil, &deployed, 1, None);
    assert_eq!(usd(&reader, &w.alice_evm).await, 900);
    assert_eq!(usd(&reader, &w.bob_evm).await, 110);
    assert_eq!(w.dev_balance(&dev, "alice", "GOLD"), 60);
    assert_eq!(w.dev_balance(&dev, "bob", "GOLD"), 450);
}

// Durability (issue 5): the participant's relay is SIGKILLed mid-swap, after its devchain
// lock and before its EVM claim; restarted, it reads the revealed preimage and claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_killed_mid_swap_between_devchain_and_anvil_resumes_and_claims() {
    // Bob's relay is down for seconds: both relays declare a 10 s reaction time.
    let policy = "[swap]\nreaction_delay_ms = 10000\nclock_skew_ms = 500\nextra_margin_ms = 500\n";
    let (w, dev, anvil, deployed) = swap_world(Some(1)).await;
    let alice_relay = relay_with_policy(&w, "alice", &dev, &anvil, &deployed, 1, policy).await;
    let mut bob_relay = relay_with_policy(&w, "bob", &dev, &anvil, &deployed, 1, policy).await;
    let offer = w.offer_usd_for_gold(&alice_relay, 60);
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    w.accept(&bob_relay, &offer);
    eventually("bob's GOLD locked on dev-b", WAIT, || async {
        (w.dev_balance(&dev, "bob", "GOLD") == 450).then_some(())
    })
    .await
    .unwrap();
    bob_relay.process.kill_hard();
    eventually("alice's claim on dev-b", WAIT, || async {
        (w.dev_balance(&dev, "alice", "GOLD") == 60).then_some(())
    })
    .await
    .unwrap();
    let reader = adapter("anvil-a", &anvil, &deployed, 1, None);
    assert_eq!(
        usd(&reader, &w.bob_evm).await,
        10,
        "bob claimed while his relay was dead?"
    );

    let bob_relay = relay_with_policy(&w, "bob", &dev, &anvil, &deployed, 1, policy).await;
    let bob_view = w.outcome(&bob_relay, &swap_id).await;
    assert_eq!(bob_view["status"]["outcome"], "swapped", "{bob_view:#}");
    assert_eq!(usd(&reader, &w.bob_evm).await, 110);
    assert_eq!(usd(&reader, &w.alice_evm).await, 900);
}

// specs/htlc.md: the initiator's EVM lock is refunded once it expires when nobody locks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evm_lock_is_refunded_when_the_participant_never_locks() {
    let (w, dev, anvil, deployed) = swap_world(Some(1)).await;
    let alice_relay = relay_with_policy(&w, "alice", &dev, &anvil, &deployed, 1, FAST_POLICY).await;
    let offer = w.offer_usd_for_gold(&alice_relay, 2);
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    let reader = adapter("anvil-a", &anvil, &deployed, 1, None);
    eventually("alice's lock to take her USD", WAIT, || async {
        (usd(&reader, &w.alice_evm).await == 900).then_some(())
    })
    .await
    .unwrap();
    let view = w.outcome(&alice_relay, &swap_id).await;
    assert_eq!(view["status"]["outcome"], "refunded", "{view:#}");
    assert_eq!(usd(&reader, &w.alice_evm).await, 1000);
    assert_eq!(usd(&reader, &w.bob_evm).await, 10);
}

// specs/evm-adapter.md §2.1, §2.4: a reorg inside the confirmation window never surfaces the
// dropped event, and one below it (finality broken) is reported as Malformed, never served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_inside_the_confirmation_window_never_surfaces_the_dropped_event() {
    let net = Net::new();
    let anvil = AnvilProcess::start(net.path(), 31337, None).await.unwrap();
    let dev0 = net.evm_key("dev0", 0);
    let peer = net.evm_key("peer", 1);
    let deployed = net.deploy_evm(&anvil, "dev0", &[(&dev0, 1_000)]);
    let chain = adapter("anvil-a", &anvil, &deployed, 3, Some(0));
    anvil.rpc("anvil_mine", vec![json!("0x5")]).await.unwrap();

    let snapshot = anvil.rpc("evm_snapshot", vec![]).await.unwrap();
    let usd_id = AssetId::new("USD").unwrap();
    let transfer = |amount: u128| Action::Transfer {
        to: peer.clone(),
        asset: usd_id.clone(),
        amount: Amount(amount),
    };
    let doomed = chain.submit(&transfer(7)).await.unwrap();
    let included = eventually("the transfer to be mined", WAIT, || async {
        match chain.tx_status(&doomed.id).await.unwrap() {
            TxState::Included { height } => Some(height),
            _ => None,
        }
    })
    .await
    .unwrap();
    let before = finalized_events(&chain, Cursor::default()).await.unwrap();
    assert!(
        before.iter().all(|e| e.tx_hash != doomed.id),
        "an event inside the window was served: {before:?}"
    );
    assert_eq!(usd(&chain, &peer).await, 0, "finalized balance moved early");

    // Drop the transfer's block, then build past the window on the other branch.
    assert_eq!(
        anvil.rpc("evm_revert", vec![snapshot]).await.unwrap(),
        json!(true)
    );
    anvil.rpc("anvil_mine", vec![json!("0x8")]).await.unwrap();
    let after = finalized_events(&chain, Cursor::default()).await.unwrap();
    assert!(
        after.iter().all(|e| e.tx_hash != doomed.id),
        "the dropped transfer (block {included}) surfaced: {after:?}"
    );
    assert!(!matches!(
        chain.tx_status(&doomed.id).await.unwrap(),
        TxState::Final { .. }
    ));
    assert_eq!(usd(&chain, &peer).await, 0);

    // A reorg deeper than the confirmations: reported, never served.
    let deep = anvil.rpc("evm_snapshot", vec![]).await.unwrap();
    anvil.rpc("anvil_mine", vec![json!("0x6")]).await.unwrap();
    finalized_events(&chain, Cursor::default()).await.unwrap();
    assert_eq!(
        anvil.rpc("evm_revert", vec![deep]).await.unwrap(),
        json!(true)
    );
    chain.submit(&transfer(1)).await.unwrap();
    anvil.rpc("anvil_mine", vec![json!("0x8")]).await.unwrap();
    let err = finalized_events(&chain, Cursor::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Malformed { detail, .. } if detail.contains("reorganised deeper")),
        "{err}"
    );
}

// specs/evm-adapter.md §1, §3.3: anvil <-> anvil, two EVM chains told apart by chain id, both
// legs ERC-20 (each lock approves the HTLC first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_between_two_anvils_completes() {
    let net = Net::new();
    net.evm_key("dev0", 0);
    let alice_evm = net.evm_key("alice-evm", 1);
    let bob_evm = net.evm_key("bob-evm", 2);
    let a = AnvilProcess::start(net.path(), 31337, Some(1))
        .await
        .unwrap();
    let b = AnvilProcess::start(net.path(), 31338, Some(1))
        .await
        .unwrap();
    let on_a = net.deploy_evm(&a, "dev0", &[(&alice_evm, 1000)]);
    let on_b = net.deploy_evm(&b, "dev0", &[(&bob_evm, 500)]);
    let w = SwapWorld {
        net,
        bob_evm,
        alice_evm,
    };
    let mut relays = Vec::new();
    for who in ["alice", "bob"] {
        let key = format!("{who}-evm");
        let chains = format!(
            "{}{}",
            evm_table("anvil-a", &a, &key, 1, &on_a, "USD"),
            evm_table("anvil-b", &b, &key, 1, &on_b, "GOLD")
        );
        let config = w
            .net
            .relay_config_toml(&format!("relay-{who}"), FAST_POLICY, &chains);
        relays.push(w.net.relay(&config).await.unwrap());
    }
    let offer = w.offer(
        &relays[0],
        "anvil-a:USD:100",
        "anvil-b:GOLD:50",
        "bob-evm",
        "bob-evm",
        30,
    );
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    w.accept(&relays[1], &offer);
    let view = w.outcome(&relays[0], &swap_id).await;
    assert_eq!(view["status"]["outcome"], "swapped", "{view:#}");
    let reader_a = adapter("anvil-a", &a, &on_a, 1, None);
    assert_eq!(usd(&reader_a, &w.alice_evm).await, 900);
    assert_eq!(usd(&reader_a, &w.bob_evm).await, 100);
    let mut gold = BTreeMap::new();
    gold.insert(
        AssetId::new("GOLD").unwrap(),
        AssetRef::Erc20(parse_evm_address(&on_b.token).unwrap()),
    );
    let reader_b = EvmAdapter::new(
        EvmConfig {
            chain: ChainId::new("anvil-b").unwrap(),
            endpoint: b.rpc_url.clone(),
            evm_chain_id: 31338,
            htlc_contract: None,
            confirmations: 1,
            block_time_ms: 1000,
            assets: gold,
            bridge: None,
        },
        None,
    )
    .unwrap();
    let gold_id = AssetId::new("GOLD").unwrap();
    assert_eq!(
        reader_b.balance(&w.alice_evm, &gold_id).await.unwrap().0,
        50
    );
    assert_eq!(reader_b.balance(&w.bob_evm, &gold_id).await.unwrap().0, 450);
}

// specs/evm-adapter.md §2.1 through a relay: the participant's EVM lock is mined, then dropped
// by a reorg inside the confirmation window. The initiator's relay must never act on it (no
// claim, so the secret stays unrevealed) and ends refunded on its own chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_never_acts_on_a_lock_dropped_by_a_reorg_inside_the_window() {
    let (w, dev, anvil, deployed) = swap_world(None).await;
    let alice_relay = relay_with_policy(&w, "alice", &dev, &anvil, &deployed, 3, FAST_POLICY).await;
    let offer = w.offer(
        &alice_relay,
        "dev-b:GOLD:5",
        "anvil-a:USD:5",
        "bob",
        "bob-evm",
        3,
    );
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    let terms = &offer["terms"];
    eventually("alice's GOLD to be locked", WAIT, || async {
        (w.dev_balance(&dev, "alice", "GOLD") == 5).then_some(())
    })
    .await
    .unwrap();

    let snapshot = anvil.rpc("evm_snapshot", vec![]).await.unwrap();
    let bob = adapter("anvil-a", &anvil, &deployed, 3, Some(2));
    let lock = bob
        .submit(&Action::HtlcLock {
            recipient: w.alice_evm.clone(),
            asset: AssetId::new("USD").unwrap(),
            amount: Amount(5),
            hashlock: terms["hashlock"].as_str().unwrap().parse().unwrap(),
            expiry_ms: terms["leg_b"]["expiry_ms"].as_u64().unwrap(),
        })
        .await
        .unwrap();
    eventually("bob's lock to be mined", WAIT, || async {
        matches!(
            bob.tx_status(&lock.id).await.unwrap(),
            TxState::Included { .. }
        )
        .then_some(())
    })
    .await
    .unwrap();
    // Give alice's relay (polling every 50 ms) ample time to wrongly act on it.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        anvil.rpc("evm_revert", vec![snapshot]).await.unwrap(),
        json!(true)
    );
    anvil.rpc("anvil_mine", vec![json!("0x8")]).await.unwrap();

    let view = w.outcome(&alice_relay, &swap_id).await;
    assert_eq!(view["status"]["outcome"], "refunded", "{view:#}");
    let timeline = view["timeline"].to_string();
    assert!(
        !timeline.contains("claim-b") && view["status"]["leg_b"]["lock"]["state"] == "not_seen",
        "alice's relay acted on a lock that a reorg dropped: {view:#}"
    );
    assert_eq!(w.dev_balance(&dev, "alice", "GOLD"), 10);
    assert_eq!(usd(&bob, &w.alice_evm).await, 1000);
}

// Issue 5: `causeway demo --evm` starts anvil itself, deploys the HTLC and an ERC-20, and
// completes its swap devchain <-> anvil through the binary.
#[test]
fn demo_evm_completes_its_swap_against_anvil() {
    let net = Net::new();
    let dir = net.path().join("demo");
    let anvil = causeway_relay::launch::evm::find_anvil(None).unwrap();
    let run = net.cli_ok(&[
        "demo",
        "--evm",
        "--anvil",
        anvil.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(
        run.stdout.contains("deployed CausewayHTLC"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("swap complete"), "{}", run.stdout);
    // Alice moved 100 of her 1000 GOLD to anvil through the committee, then got 50 in the swap.
    assert!(
        run.stdout.contains("notary transfer released: on anvil"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("alice 999900 USD on anvil, 950 GOLD on devchain-a"),
        "{}",
        run.stdout
    );
}
