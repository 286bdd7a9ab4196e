//! Out-of-process adapters end to end (specs/adapter-protocol.md): the Python example ledger
//! and `causeway adapter serve devchain`, checked by `causeway adapter conformance --kind
//! remote`, faulty adapters caught by the right requirement, and a relay that follows a
//! remote adapter across kill -9.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use causeway_adapters::remote::RemoteAdapter;
use causeway_adapters::{finalized_events, Action, AdapterError, ChainAdapter, PreparedTx};
use causeway_core::{Address, Amount, AssetId, ChainId, Cursor};
use causeway_e2e::{
    eventually, example_adapter, python_ledger, relay_events, CliRun, Net, Process, LEDGER_CHAIN,
};
use causeway_relay::api::RelayApiClient;
use causeway_relay::launch::wait_for_file;

const WAIT: Duration = Duration::from_secs(30);

fn conformance(net: &Net, url: &str, chain: &str, peer: &Address) -> CliRun {
    net.cli(&[
        "adapter",
        "conformance",
        "--kind",
        "remote",
        "--url",
        url,
        "--chain-id",
        chain,
        "--peer",
        peer.as_str(),
        "--request-timeout-ms",
        "500",
    ])
}

fn assert_all_pass(run: &CliRun) {
    assert!(
        run.success && !run.stdout.contains("FAIL"),
        "conformance failed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains("PASS §2.5"), "{}", run.stdout);
}

// specs/adapter-protocol.md §8; specs/adapter.md §1–5
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_example_ledger_passes_conformance() {
    let net = Net::new();
    let peer = net.key("peer");
    let ledger = python_ledger(&net.path().join("ledger"), 0, &[]).await;
    assert_all_pass(&conformance(&net, &ledger.url, LEDGER_CHAIN, &peer));
}

// specs/adapter-protocol.md §7: the SDK serves any ChainAdapter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devchain_served_by_the_sdk_passes_conformance() {
    let net = Net::new();
    net.key("alice");
    let bob = net.key("bob");
    let node = net.devchain("dev-a", &["alice=USD:1000000"]).await.unwrap();
    let dir = net.path().join("serve");
    std::fs::create_dir_all(&dir).unwrap();
    let addr_file = dir.join("addr");
    let serve = |listen: &str| {
        let _ = std::fs::remove_file(&addr_file);
        let mut cmd = Command::new(&net.bin);
        cmd.arg("--keystore")
            .arg(net.keystore())
            .args(["adapter", "serve", "devchain", "--rpc", &node.rpc_url])
            .args(["--chain-id", "dev-a", "--key", "alice"])
            .args(["--listen", listen, "--addr-file"])
            .arg(&addr_file);
        Process::spawn("adapter serve", cmd, &dir.join("serve.log")).unwrap()
    };
    let mut server = serve("127.0.0.1:0");
    let addr = wait_for_file(&addr_file, &mut server).await.unwrap();
    assert_all_pass(&conformance(&net, &format!("http://{addr}"), "dev-a", &bob));
    // specs/adapter-protocol.md §2.1: the same adapter over its WebSocket transport, and a
    // WebSocket session that drops (adapter restarted) is opened again.
    let ws = format!("ws://{addr}");
    assert_all_pass(&conformance(&net, &ws, "dev-a", &bob));
    let adapter = RemoteAdapter::new(ChainId::new("dev-a").unwrap(), &ws).unwrap();
    let before = retrying(|| adapter.info()).await.height;
    server.kill_hard();
    let mut server = serve(&addr);
    wait_for_file(&addr_file, &mut server).await.unwrap();
    let after = retrying(|| adapter.info()).await.height;
    assert!(after >= before, "{after} < {before}");
}

// specs/adapter.md §1.1, §2.2, §3.2, §5.2, §6.1; specs/adapter-protocol.md §4
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_faulty_python_adapter_fails_the_requirement_it_breaks() {
    let net = Net::new();
    let peer = net.key("peer");
    let cases: &[(&[&str], &str, &str)] = &[
        (&["out-of-order"], "§2.2", "out of order"),
        (&["above-finalized"], "§2.2", "above the finalized height"),
        (&["wrong-hashlock"], "§1.1", "§5.2 requires SHA-256"),
        (
            &["wrong-hashlock", "hide-hashlock"],
            "§5.2",
            "claim with the right preimage failed",
        ),
        (&["non-idempotent-broadcast"], "§3.2", "for one transfer"),
        (&["wrong-chain-id"], "§1.1", "wrong chain"),
        (&["malformed-json"], "§1.1", "does not fit the protocol"),
        (&["slow"], "§1.1", "gave up waiting"),
    ];
    for (i, (faults, section, words)) in cases.iter().enumerate() {
        let flags: Vec<&str> = faults.iter().flat_map(|f| ["--fault", *f]).collect();
        let ledger = python_ledger(&net.path().join(format!("ledger-{i}")), 0, &flags).await;
        let run = conformance(&net, &ledger.url, LEDGER_CHAIN, &peer);
        assert!(
            !run.success,
            "{faults:?} passed conformance:\n{}",
            run.stdout
        );
        assert!(
            !run.stderr.contains("panicked"),
            "{faults:?}: {}",
            run.stderr
        );
        let caught = run
            .stdout
            .lines()
            .any(|l| l.starts_with(&format!("FAIL {section}")) && l.contains(words));
        assert!(
            caught,
            "{faults:?} should fail {section} mentioning {words:?}:\n{}",
            run.stdout
        );
    }
}

// specs/adapter-protocol.md §2
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_of_another_major_protocol_version_is_refused_naming_both() {
    let net = Net::new();
    let peer = net.key("peer");
    let ledger = python_ledger(
        &net.path().join("ledger"),
        0,
        &["--protocol-version", "2.3"],
    )
    .await;
    let run = conformance(&net, &ledger.url, LEDGER_CHAIN, &peer);
    assert!(!run.success);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("FAIL §1.1"))
        .unwrap_or_else(|| panic!("no §1.1 failure:\n{}", run.stdout));
    assert!(
        line.contains("2.3") && line.contains("1.0") && line.contains("major versions must match"),
        "{line}"
    );

    // The relay library refuses it the same way, without retrying it as transient.
    let adapter = RemoteAdapter::new(ChainId::new(LEDGER_CHAIN).unwrap(), &ledger.url).unwrap();
    let err = adapter.info().await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("2.3"), "{err}");

    // A relay configured with it keeps running and reports why it does not follow it.
    let relay = net
        .relay(&relay_config(
            &net,
            "follower",
            &remote_chain_toml(&ledger.url),
        ))
        .await
        .unwrap();
    let api = relay.client();
    let reported = eventually("the relay to report the refusal", WAIT, || async {
        let status = api.status().await.ok()?;
        status.chains[0]
            .last_error
            .clone()
            .filter(|e| e.contains("2.3") && e.contains("1.0"))
    })
    .await
    .unwrap();
    assert!(reported.contains("major versions must match"), "{reported}");
}

#[test]
fn python_ledger_unit_tests_pass() {
    let dir = example_adapter().parent().unwrap().to_path_buf();
    let out = Command::new("python3")
        .args(["-B", "-m", "unittest", "discover", "-s"])
        .arg(&dir)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `[[chain]]` table of the Python ledger behind `url` (no key: the adapter signs).
fn remote_chain_toml(url: &str) -> String {
    format!("\n[[chain]]\nid = \"{LEDGER_CHAIN}\"\nkind = \"remote\"\nendpoint = \"{url}\"\npoll_interval_ms = 20\n")
}

/// Writes `relay-NAME/relay.toml` with the shared header, then `tables`.
fn relay_config(net: &Net, name: &str, tables: &str) -> PathBuf {
    let dir = net.path().join(format!("relay-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("relay.toml");
    let header = format!(
        "data_dir = \"data\"\napi_listen = \"127.0.0.1:0\"\nkeystore = {:?}\n",
        net.keystore()
    );
    std::fs::write(&config, header + tables).unwrap();
    config
}

/// Submits, retrying transport trouble (the adapter may be restarting).
async fn submit_retrying(adapter: &RemoteAdapter, action: &Action) -> PreparedTx {
    let tx = retrying(|| adapter.prepare(action)).await;
    retrying(|| adapter.broadcast(&tx)).await;
    tx
}

async fn retrying<T, F, Fut>(mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AdapterError>>,
{
    eventually("the adapter to answer", WAIT, || {
        let attempt = call();
        async move {
            match attempt.await {
                Ok(v) => Some(v),
                Err(e) if e.is_transient() => None,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .unwrap()
}

// specs/adapter.md §2.5, §6.1; specs/adapter-protocol.md §1 (the relay owns the cursor)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_follows_a_remote_adapter_across_kill_9_without_missing_or_doubling() {
    let net = Net::new();
    let peer = net.key("peer");
    let dir = net.path().join("ledger");
    let mut ledger = python_ledger(&dir, 0, &[]).await;
    let chain = ChainId::new(LEDGER_CHAIN).unwrap();

    let config = relay_config(&net, "follower", &remote_chain_toml(&ledger.url));
    let relay = net.relay(&config).await.unwrap();
    let adapter = RemoteAdapter::new(chain.clone(), &ledger.url).unwrap();
    let transfer = |i: u128| Action::Transfer {
        to: peer.clone(),
        asset: AssetId::new("USD").unwrap(),
        amount: Amount(i + 1),
    };

    let mut last = None;
    for round in 0..3u128 {
        for i in 0..15 {
            last = Some(submit_retrying(&adapter, &transfer(round * 100 + i)).await);
        }
        if round < 2 {
            // kill -9 mid-stream, then restart on the same port and database.
            ledger.process.kill_hard();
            ledger = python_ledger(&dir, ledger.port, &[]).await;
        }
    }
    retrying(|| adapter.wait_final(last.as_ref().unwrap(), WAIT)).await;

    let expected = retrying(|| finalized_events(&adapter, Cursor::default())).await;
    assert_eq!(
        expected.len(),
        45,
        "every broadcast transfer is on the ledger once"
    );
    let api = relay.client();
    let seen = eventually("the relay to catch up", WAIT, || async {
        let seen = relay_events(&api, &chain).await.ok()?;
        (seen.len() >= expected.len()).then_some(seen)
    })
    .await
    .unwrap();
    assert_eq!(
        seen, expected,
        "the relay's log differs from the ledger's events"
    );
}

// specs/htlc.md (a whole swap), specs/adapter-protocol.md §1.1: one leg on devchain, the other
// on the Python ledger behind `kind = "remote"`, each party's adapter signing as that party.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_between_devchain_and_the_python_ledger_completes() {
    let net = Net::new();
    let alice = net.key("alice");
    let bob = net.key("bob");
    let dev = net.devchain("dev-a", &["alice=USD:1000"]).await.unwrap();
    // Two adapter processes on one ledger database (the last --db wins): bob's creates it
    // with his GOLD, alice's joins it.
    let db = net.path().join("ledger.sqlite");
    let db = db.to_str().unwrap();
    let bob_ledger = python_ledger(
        &net.path().join("adapter-bob"),
        0,
        &["--db", db, "--operator", bob.as_str(), "--fund", "GOLD:500"],
    )
    .await;
    let alice_ledger = python_ledger(
        &net.path().join("adapter-alice"),
        0,
        &["--db", db, "--operator", alice.as_str(), "--fund", ""],
    )
    .await;

    let mut relays = Vec::new();
    for (who, ledger) in [("alice", &alice_ledger), ("bob", &bob_ledger)] {
        let tables = format!(
            "[swap]\nreaction_delay_ms = 1000\nclock_skew_ms = 500\nextra_margin_ms = 500\n\n\
             [[chain]]\nid = \"dev-a\"\nkind = \"devchain\"\nendpoint = \"{}\"\nkey = \"{who}\"\npoll_interval_ms = 20\n{}",
            dev.rpc_url,
            remote_chain_toml(&ledger.url)
        );
        let config = relay_config(&net, who, &tables);
        let relay = net.relay(&config).await.unwrap();
        // The remote adapter announces its signer and capabilities in the handshake, which
        // the relay makes on its first call: offer once every chain is connected.
        let api = relay.client();
        eventually("the relay to connect to both chains", WAIT, || async {
            let status = api.status().await.ok()?;
            status.chains.iter().all(|c| c.connected).then_some(())
        })
        .await
        .unwrap();
        relays.push(relay);
    }
    let offer = net
        .cli_ok(&[
            "--json",
            "swap",
            "offer",
            "--relay",
            &relays[0].api_url,
            "--give",
            "dev-a:USD:100",
            "--get",
            &format!("{LEDGER_CHAIN}:GOLD:50"),
            "--to",
            "bob",
            "--from",
            "bob",
            "--accept-within-secs",
            "30",
        ])
        .json();
    let swap_id = offer["swap_id"].as_str().unwrap().to_string();
    net.cli_ok(&[
        "swap",
        "accept",
        offer["offer"].as_str().unwrap(),
        "--relay",
        &relays[1].api_url,
    ]);
    for relay in &relays {
        let view = eventually("the swap to finish", Duration::from_secs(90), || async {
            let v = net
                .cli_ok(&[
                    "--json",
                    "swap",
                    "status",
                    &swap_id,
                    "--relay",
                    &relay.api_url,
                ])
                .json();
            (!v["status"]["outcome"].is_null()).then_some(v)
        })
        .await
        .unwrap();
        assert_eq!(view["status"]["outcome"], "swapped", "{view:#}");
    }
    let ledger =
        RemoteAdapter::new(ChainId::new(LEDGER_CHAIN).unwrap(), &alice_ledger.url).unwrap();
    let gold = AssetId::new("GOLD").unwrap();
    assert_eq!(ledger.balance(&alice, &gold).await.unwrap(), Amount(50));
    assert_eq!(ledger.balance(&bob, &gold).await.unwrap(), Amount(450));
    let bob_on_dev = net
        .cli_ok(&["--json", "balance", "bob", "--rpc", &dev.rpc_url])
        .json();
    assert_eq!(bob_on_dev["balances"]["USD"], "100", "{bob_on_dev:#}");
}
