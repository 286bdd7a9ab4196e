//! The foundation end to end: real `causeway devchain` nodes and a real `causeway relay`.

use std::collections::BTreeSet;
use std::time::Duration;

use causeway_adapters::devchain::DevchainAdapter;
use causeway_adapters::{finalized_events, Action, ChainAdapter, TxOutcome, TxState};
use causeway_core::{Address, Amount, AssetId, ChainId, Cursor, EventKind};
use causeway_devchain::api::DevchainApiClient;
use causeway_e2e::{eventually, free_port, post_raw, relay_events, Net};
use causeway_relay::api::RelayApiClient;

const WAIT: Duration = Duration::from_secs(30);

fn usd() -> AssetId {
    AssetId::new("USD").unwrap()
}

/// `amount` USD to `to`.
fn pay(to: &Address, amount: u128) -> Action {
    Action::Transfer {
        to: to.clone(),
        asset: usd(),
        amount: Amount(amount),
    }
}

/// Every event of `chain` the node has finalized, read page by page.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_through_cli_is_final_and_followed_by_relay() {
    let net = Net::new();
    let alice = net.key("alice");
    let bob = net.key("bob");
    let a = net
        .devchain("dev-a", &["alice=USD:1000,GOLD:5"])
        .await
        .unwrap();
    let b = net.devchain("dev-b", &["bob=GOLD:70"]).await.unwrap();
    let config = net.relay_config(
        "relay",
        &[("dev-a", &a.rpc_url, None), ("dev-b", &b.rpc_url, None)],
    );
    let relay = net.relay(&config).await.unwrap();

    let sent = net.cli_ok(&[
        "--json", "send", "--rpc", &a.rpc_url, "--key", "alice", "--to", "bob", "--asset", "USD",
        "--amount", "250",
    ]);
    let tx_hash = sent.json()["tx_hash"].as_str().unwrap().to_string();

    let bal = net
        .cli_ok(&["--json", "balance", "bob", "--rpc", &a.rpc_url])
        .json();
    assert_eq!(bal["balances"]["USD"], "250");
    let bal = net
        .cli_ok(&["--json", "balance", &alice.to_string(), "--rpc", &a.rpc_url])
        .json();
    assert_eq!(bal["balances"]["USD"], "750");
    assert_eq!(bal["balances"]["GOLD"], "5");
    assert_eq!(bal["nonce"], 1);

    let api = relay.client();
    let dev_a = ChainId::new("dev-a").unwrap();
    let event = eventually("the relay to ingest the transfer", WAIT, || async {
        relay_events(&api, &dev_a)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.tx_hash.to_string() == tx_hash)
    })
    .await
    .unwrap();
    assert_eq!(
        event.kind,
        EventKind::Transfer {
            from: alice,
            to: bob,
            asset: usd(),
            amount: Amount(250)
        }
    );
    let status = eventually("both chains followed", WAIT, || async {
        let s = api.status().await.ok()?;
        (s.healthy && s.chains.iter().all(|c| c.connected && c.cursor.height > 0)).then_some(s)
    })
    .await
    .unwrap();
    assert_eq!(status.chains.len(), 2);

    let human = net
        .cli_ok(&["relay", "status", "--api", &relay.api_url])
        .stdout;
    assert!(
        human.contains("dev-a") && human.contains("following"),
        "{human}"
    );
    let info = net
        .cli_ok(&["--json", "chain", "status", "--rpc", &b.rpc_url])
        .json();
    assert_eq!(info["chain_id"], "dev-b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_killed_with_sigkill_mid_stream_keeps_every_committed_transaction() {
    let net = Net::new();
    net.key("alice");
    let bob = net.key("bob");
    let mut node = net.devchain("dev-a", &["alice=USD:1000000"]).await.unwrap();
    let chain = ChainId::new("dev-a").unwrap();
    let adapter =
        DevchainAdapter::new(chain.clone(), &node.rpc_url, Some(net.signing_key("alice"))).unwrap();

    // Stream transfers; remember every one the node reported final before the kill.
    let mut finals = Vec::new();
    let mut in_flight = Vec::new();
    for i in 0..60u128 {
        let tx = adapter.submit(&pay(&bob, i + 1)).await.unwrap();
        in_flight.push((tx, i + 1));
        if i % 10 == 9 {
            for (tx, amount) in in_flight.drain(..) {
                if let TxState::Final {
                    height,
                    outcome: TxOutcome::Success,
                } = adapter.wait_final(&tx, WAIT).await.unwrap()
                {
                    finals.push((tx.id, height, amount));
                }
            }
        }
        if i == 45 {
            node.process.kill_hard();
            break;
        }
    }
    let height_before = finals.iter().map(|f| f.1).max().unwrap();
    assert!(finals.len() >= 40);

    let node = net.restart_devchain(&node).await.unwrap();
    let client = node.client();
    let info = client.chain_info().await.unwrap();
    assert!(
        info.height >= height_before,
        "restarted at {} below {height_before}",
        info.height
    );
    for (id, height, _) in &finals {
        let receipt = client
            .receipt(*id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("committed tx {id} lost"));
        assert_eq!(receipt.height, *height);
    }
    // Balances agree with what was committed: every final transfer, plus possibly the few
    // that were in flight at the kill and landed, and nothing else.
    let received = client.balance(bob.clone(), usd()).await.unwrap().0;
    let committed: u128 = finals.iter().map(|f| f.2).sum();
    let in_flight_total: u128 = in_flight.iter().map(|f| f.1).sum();
    assert!(
        received >= committed && received <= committed + in_flight_total,
        "bob has {received}, committed {committed}"
    );
    let alice = client.account(adapter.signer().unwrap()).await.unwrap();
    assert_eq!(
        alice.balances[&usd()].0 + received,
        1_000_000,
        "supply not conserved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_killed_with_sigkill_neither_misses_nor_doubles_events() {
    let net = Net::new();
    net.key("alice");
    let bob = net.key("bob");
    let node = net.devchain("dev-a", &["alice=USD:1000000"]).await.unwrap();
    let chain = ChainId::new("dev-a").unwrap();
    let config = net.relay_config("relay", &[("dev-a", &node.rpc_url, None)]);
    let mut relay = net.relay(&config).await.unwrap();
    let adapter =
        DevchainAdapter::new(chain.clone(), &node.rpc_url, Some(net.signing_key("alice"))).unwrap();

    let mut last = None;
    for round in 0..4 {
        for i in 0..25u128 {
            last = Some(adapter.submit(&pay(&bob, i + 1)).await.unwrap());
        }
        if round == 1 {
            relay.process.kill_hard();
            relay = net.relay(&config).await.unwrap();
        }
        if round == 2 {
            relay.process.kill_hard();
        }
    }
    adapter
        .wait_final(last.as_ref().unwrap(), WAIT)
        .await
        .unwrap();
    let relay = net.relay(&config).await.unwrap();
    let expected = finalized_events(&adapter, Cursor::default()).await.unwrap();
    assert_eq!(expected.len(), 100);
    let api = relay.client();
    let seen = eventually("the relay to catch up", WAIT, || async {
        let seen = relay_events(&api, &chain).await.unwrap();
        (seen.len() >= expected.len()).then_some(seen)
    })
    .await
    .unwrap();
    assert_eq!(
        seen, expected,
        "the relay's log differs from the chain's events"
    );
    let positions: BTreeSet<_> = seen.iter().map(|e| e.position).collect();
    assert_eq!(positions.len(), seen.len(), "an event was doubled");
    let status = api.status().await.unwrap();
    assert!(status.chains[0].events_ingested as usize <= expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_retries_an_unreachable_chain_and_catches_up_when_it_comes_back() {
    let net = Net::new();
    net.key("alice");
    let bob = net.key("bob");
    let node = net.devchain("dev-a", &["alice=USD:100"]).await.unwrap();
    let url = node.rpc_url.clone();
    let mut node = node;
    node.process.kill_hard();

    let config = net.relay_config("relay", &[("dev-a", &url, None)]);
    let relay = net.relay(&config).await.unwrap();
    let api = relay.client();
    let down = eventually("the relay to report the chain down", WAIT, || async {
        let s = api.status().await.ok()?;
        let c = &s.chains[0];
        (c.consecutive_failures >= 2 && !c.connected && c.last_error.is_some()).then(|| s.clone())
    })
    .await
    .unwrap();
    assert!(!down.healthy);
    assert!(
        down.chains[0]
            .last_error
            .as_ref()
            .unwrap()
            .contains("dev-a"),
        "{:?}",
        down.chains[0].last_error
    );
    let human = net
        .cli_ok(&["relay", "status", "--api", &relay.api_url])
        .stdout;
    assert!(
        human.contains("UNHEALTHY") && human.contains("retrying"),
        "{human}"
    );

    let node = net.restart_devchain(&node).await.unwrap();
    net.cli_ok(&[
        "send",
        "--rpc",
        &node.rpc_url,
        "--key",
        "alice",
        "--to",
        &bob.to_string(),
        "--asset",
        "USD",
        "--amount",
        "7",
    ]);
    eventually("the relay to follow again", WAIT, || async {
        let s = api.status().await.ok()?;
        (s.healthy && s.chains[0].events_ingested >= 1).then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_stops_cleanly_on_sigterm() {
    let net = Net::new();
    let node = net.devchain("dev-a", &[]).await.unwrap();
    let config = net.relay_config("relay", &[("dev-a", &node.rpc_url, None)]);
    let mut relay = net.relay(&config).await.unwrap();
    assert!(
        relay.process.terminate(Duration::from_secs(10)).unwrap(),
        "non-zero exit on SIGTERM"
    );
    assert!(relay.process.log_text().contains("relay stopped cleanly"));
    // And it starts again on the same data, here logging JSON lines.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("log_format = \"json\"\n{text}")).unwrap();
    let mut relay = net.relay(&config).await.unwrap();
    relay.client().status().await.unwrap();
    assert!(relay.process.terminate(Duration::from_secs(10)).unwrap());
    let log = relay.process.log_text();
    let json_lines: Vec<serde_json::Value> = log
        .lines()
        .skip_while(|l| !l.starts_with('{'))
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    assert!(
        json_lines
            .iter()
            .any(|l| l["fields"]["message"] == "relay started"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_relay_config_is_refused_naming_the_key() {
    let net = Net::new();
    let cases: &[(&str, &str)] = &[
        ("data_dir = \"d\"\n", "no chains"),
        ("data_dir = \"d\"\n[[chain]]\nid = \"a\"\nkind = \"fabric\"\nendpoint = \"http://x:1\"\n", "kind"),
        ("data_dir = \"d\"\n[[chain]]\nid = \"a\"\nkind = \"devchain\"\nendpoint = \"x:1\"\n", "endpoint"),
        ("data_dir = \"d\"\nbogus = 1\n[[chain]]\nid = \"a\"\nkind = \"devchain\"\nendpoint = \"http://x:1\"\n", "bogus"),
        ("data_dir = \"d\"\napi_listen = \"here\"\n", "api_listen"),
        ("data_dir = \"d\"\n[[chain]]\nid = \"a\"\nkind = \"devchain\"\nendpoint = \"http://127.0.0.1:1\"\nkey = \"nobody\"\n", "nobody"),
        ("this is not toml", "invalid"),
    ];
    for (i, (text, must_mention)) in cases.iter().enumerate() {
        let path = net.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let run = net.cli(&["relay", "start", "--config", path.to_str().unwrap()]);
        assert!(!run.success, "config {i} accepted");
        assert!(
            run.stderr.contains(must_mention),
            "config {i}: error does not mention {must_mention:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    let missing = net.cli(&["relay", "start", "--config", "/nonexistent/relay.toml"]);
    assert!(!missing.success && missing.stderr.contains("cannot read relay config"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rpc_input_gets_a_precise_error_and_the_node_keeps_running() {
    let net = Net::new();
    net.key("alice");
    let bob = net.key("bob");
    let node = net.devchain("dev-a", &["alice=USD:100"]).await.unwrap();
    let chain = ChainId::new("dev-a").unwrap();

    let malformed = post_raw(&node.rpc_url, b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":")
        .await
        .unwrap();
    assert!(malformed.contains("-32700"), "{malformed}");
    let bad_params = post_raw(
        &node.rpc_url,
        br#"{"jsonrpc":"2.0","id":1,"method":"devchain_getBalance","params":["x y","USD"]}"#,
    )
    .await
    .unwrap();
    assert!(bad_params.contains("-32602"), "{bad_params}");

    let alice =
        DevchainAdapter::new(chain.clone(), &node.rpc_url, Some(net.signing_key("alice"))).unwrap();
    let rejected_code =
        |r: Result<causeway_adapters::PreparedTx, causeway_adapters::AdapterError>| match r {
            Err(causeway_adapters::AdapterError::Rejected { code, message, .. }) => {
                (code.unwrap(), message)
            }
            other => panic!("expected a rejection, got {other:?}"),
        };
    let (code, msg) = rejected_code(alice.submit(&pay(&bob, 101)).await);
    assert_eq!(code, 1005, "{msg}");
    let (code, msg) = rejected_code(
        alice
            .submit(&Action::Transfer {
                to: bob.clone(),
                asset: AssetId::new("EUR").unwrap(),
                amount: Amount(1),
            })
            .await,
    );
    assert_eq!(code, 1006, "{msg}");
    assert!(msg.contains("EUR"), "{msg}");

    // A transaction whose `from` is alice but signed by bob.
    let forged = causeway_devchain::tx::Transaction {
        chain_id: chain.clone(),
        from: alice.signer().unwrap(),
        nonce: 0,
        payload: causeway_devchain::tx::Payload::Transfer {
            to: bob.clone(),
            asset: usd(),
            amount: Amount(1),
        },
    }
    .sign(&net.signing_key("bob"));
    let err = node
        .client()
        .submit_transaction(forged)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("1001"), "{err}");
    // Replay: the same nonce again after it was used.
    let ok = alice.submit(&pay(&bob, 1)).await.unwrap();
    alice.wait_final(&ok, WAIT).await.unwrap();
    let mut replay: causeway_devchain::tx::SignedTransaction =
        serde_json::from_value(ok.raw.clone()).unwrap();
    replay.tx.payload = causeway_devchain::tx::Payload::Transfer {
        to: bob.clone(),
        asset: usd(),
        amount: Amount(2),
    };
    let replay = replay.tx.sign(&net.signing_key("alice"));
    let err = node
        .client()
        .submit_transaction(replay)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("1003"), "{err}");
    // Oversize payload.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"devchain_submitTransaction","params":[{{"tx":{{"chain_id":"dev-a","from":"{}","nonce":9,"payload":{{"op":"transfer","to":"{}","asset":"USD","amount":"1"}}}},"signature":"{}"}}]}}"#,
        "a".repeat(64),
        "b".repeat(64),
        "0".repeat(200_000)
    );
    let oversize = post_raw(&node.rpc_url, huge.as_bytes()).await.unwrap();
    assert!(
        oversize.contains("1007")
            || oversize.contains("-32701")
            || oversize.contains("too large")
            || oversize.contains("-32600"),
        "{oversize}"
    );

    let info = node.client().chain_info().await.unwrap();
    assert_eq!(info.chain_id, chain);
    net.cli_err(
        &[
            "send",
            "--rpc",
            &node.rpc_url,
            "--key",
            "alice",
            "--to",
            "bob",
            "--asset",
            "USD",
            "--amount",
            "0",
        ],
        "greater than zero",
    );
    net.cli_err(
        &[
            "send",
            "--rpc",
            &node.rpc_url,
            "--key",
            "mallory",
            "--to",
            "bob",
            "--asset",
            "USD",
            "--amount",
            "1",
        ],
        "causeway keys new mallory",
    );
    net.cli_err(
        &[
            "chain",
            "status",
            "--rpc",
            &format!("http://127.0.0.1:{}", free_port()),
        ],
        "is `causeway devchain start` running",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cli_input_is_refused_saying_what_to_do() {
    let net = Net::new();
    let home = net.path().join("home");
    let home = home.to_str().unwrap();
    let missing = net.path().join("missing");
    let missing = missing.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["devchain", "init", "--home", home, "--fund", "alice"],
            "ACCOUNT=ASSET:AMOUNT",
        ),
        (
            &["devchain", "init", "--home", home, "--fund", "nobody=USD:5"],
            "causeway keys new nobody",
        ),
        (
            &[
                "devchain",
                "init",
                "--home",
                home,
                "--rpc-addr",
                "10.1.2.3:80",
            ],
            "not a loopback address",
        ),
        (
            &["devchain", "init", "--home", home, "--bridge", missing],
            "cannot read --bridge file",
        ),
        (
            &["devchain", "start", "--home", missing],
            "causeway devchain init --home",
        ),
        (&["bench", "swaps", "--swaps", "0"], "--swaps must be"),
        (&["keys", "new", "../x"], "is invalid"),
        (&["keys", "show", "nobody"], "causeway keys new nobody"),
        (
            &[
                "swap", "offer", "--give", "a:b:c", "--get", "x:y:1", "--to", "a", "--from", "b",
            ],
            "whole number",
        ),
        (
            &["relay", "status", "--api", "http://127.0.0.1:1"],
            "is `causeway relay start` running",
        ),
    ];
    for (args, must_mention) in cases {
        net.cli_err(args, must_mention);
    }
    // Nothing was half-created by the refused inits.
    assert!(!std::path::Path::new(home).join("genesis.json").exists());
}

// specs/adapter.md §3.3. Regression guard: a node whose `limits.max_batch_calls` is below the
// adapter's status batch refuses the batch; the executor's watcher would then never learn an
// outcome unless the adapter falls back to one call per id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_are_answered_by_a_node_that_refuses_large_batches() {
    let net = Net::new();
    net.key("alice");
    let bob = net.key("bob");
    let mut node = net.devchain("dev-a", &["alice=USD:1000000"]).await.unwrap();
    assert!(
        node.process.terminate(WAIT).unwrap(),
        "the node stops cleanly"
    );
    let config = node.home.join("node.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let default = causeway_devchain::config::DEFAULT_MAX_BATCH_CALLS;
    let limited = text.replace(
        &format!("max_batch_calls = {default}"),
        "max_batch_calls = 2",
    );
    assert_ne!(text, limited, "node.toml names max_batch_calls: {text}");
    std::fs::write(&config, limited).unwrap();
    let node = causeway_relay::launch::DevchainProcess::start(&net.bin, &node.home, 0)
        .await
        .unwrap();
    let adapter = DevchainAdapter::new(
        ChainId::new("dev-a").unwrap(),
        &node.rpc_url,
        Some(net.signing_key("alice")),
    )
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..3u128 {
        let tx = adapter.submit(&pay(&bob, i + 1)).await.unwrap();
        adapter.wait_final(&tx, WAIT).await.unwrap();
        ids.push(tx.id);
    }
    ids.insert(1, causeway_core::sha256(b"a transaction nobody sent"));
    for _ in 0..2 {
        let statuses = adapter.tx_statuses(&ids).await.unwrap();
        assert!(
            matches!(
                statuses[..],
                [
                    TxState::Final { .. },
                    TxState::Unknown,
                    TxState::Final { .. },
                    TxState::Final { .. }
                ]
            ),
            "{statuses:?}"
        );
    }
}
