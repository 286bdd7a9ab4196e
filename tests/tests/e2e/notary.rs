//! The notary committee end to end (issue 4, specs/notary.md): five `causeway relay`
//! processes make a 3-of-5 FROST key with their own DKG over the encrypted committee
//! channel, then move assets between two devchain nodes through the bridge module.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use causeway_adapters::devchain::DevchainAdapter;
use causeway_adapters::remote::RemoteAdapter;
use causeway_adapters::{Action, AdapterError, ChainAdapter};
use causeway_core::{Address, AssetId, ChainId};
use causeway_devchain::api::DevchainApiClient;
use causeway_e2e::{
    devchain_table, eventually, free_port, python_ledger, DevchainProcess, Net, PythonLedger,
    LEDGER_CHAIN,
};
use causeway_relay::api::RelayApiClient;
use causeway_relay::launch::committee::{self, MemberProcess};
use serde_json::{json, Value};

const N: usize = 5;
const WAIT: Duration = Duration::from_secs(90);

#[derive(Default, Clone, Copy)]
struct Options {
    /// This member (1-based) sends invalid signature shares.
    bad_shares: Option<usize>,
    /// This member follows a fork of dev-a on which mallory made a lock nobody else saw.
    forked: Option<usize>,
    /// Chain B is the Python example ledger (by URL, through the adapter protocol).
    python_b: bool,
    /// Each signing attempt's timeout, shorter than `local_settings`' so that sessions run
    /// out of attempts within seconds.
    attempt_timeout_ms: Option<u64>,
    /// dev-b's `limits.max_tx_bytes`, below what its adapter declares a whole batch may be.
    b_max_tx_bytes: Option<usize>,
}

struct Committee {
    net: Net,
    a: DevchainProcess,
    b: Option<DevchainProcess>,
    ledger: Option<PythonLedger>,
    b_id: &'static str,
    /// The fork of dev-a that `Options::forked` follows.
    fork: Option<DevchainProcess>,
    relays: Vec<Option<MemberProcess>>,
    options: Options,
    dkg: Vec<Value>,
}

fn member_dir(net: &Net, i: usize) -> PathBuf {
    committee::member_dir(net.path(), i)
}

/// Fast batches and attempts, so failures and fallbacks show within seconds.
fn notary_settings(b_id: &str, attempt_timeout_ms: Option<u64>) -> String {
    let settings = committee::local_settings(
        2,
        None,
        500,
        &[("dev-a", b_id, "USD"), (b_id, "dev-a", "WUSD")],
    );
    match attempt_timeout_ms {
        Some(ms) => settings.replace(
            "attempt_timeout_ms = 1500",
            &format!("attempt_timeout_ms = {ms}"),
        ),
        None => settings,
    }
}

/// The whole committee: member keys, committee file, DKG by five processes, two chains
/// whose bridges trust the new group key, and five relays.
async fn committee(options: Options) -> Committee {
    let net = Net::new();
    for name in ["alice", "bob", "mallory", "carol", "dave"] {
        net.key(name);
    }
    let (port_a, port_b, port_fork) = (free_port(), free_port(), free_port());
    let b_id = if options.python_b {
        LEDGER_CHAIN
    } else {
        "dev-b"
    };
    committee::create_committee(&net.bin, &net.keystore(), net.path(), N, 3).unwrap();
    for i in 1..=N {
        net.key(&format!("n{i}"));
        let a_port = if options.forked == Some(i) {
            port_fork
        } else {
            port_a
        };
        let b_url = format!("http://127.0.0.1:{port_b}");
        let b_table = if options.python_b {
            format!("\n[[chain]]\nid = \"{b_id}\"\nkind = \"remote\"\nendpoint = \"{b_url}\"\npoll_interval_ms = 20\n")
        } else {
            devchain_table("dev-b", &b_url, &format!("n{i}"))
        };
        let a_table = devchain_table(
            "dev-a",
            &format!("http://127.0.0.1:{a_port}"),
            &format!("n{i}"),
        );
        committee::write_member_config(
            net.path(),
            &net.keystore(),
            i,
            &notary_settings(b_id, options.attempt_timeout_ms),
            &(a_table + &b_table),
        )
        .unwrap();
    }

    let dkg = run_dkg_with(&net, &[]);
    let bridge = |name: &str, routes: Value, wrapped: Value| {
        let path = net.path().join(format!("bridge-{name}.json"));
        committee::write_bridge_config(&path, &dkg[0], &routes, &wrapped).unwrap();
    };
    bridge(
        "a",
        json!([{"asset": "USD", "dest_chain": b_id, "dest_asset": "WUSD"}]),
        json!([]),
    );
    bridge(
        "b",
        json!([{"asset": "WUSD", "dest_chain": "dev-a", "dest_asset": "USD"}]),
        json!([{"asset": "WUSD", "origin_chain": "dev-a", "origin_asset": "USD"}]),
    );
    let home_a = net.path().join("dev-a");
    let home_b = net.path().join("dev-b");
    init_devchain(
        &net,
        &home_a,
        "dev-a",
        &[
            "alice=USD:1000",
            "mallory=USD:1000",
            "carol=USD:1000",
            "dave=USD:1000",
        ],
        "a",
    );
    if !options.python_b {
        init_devchain(&net, &home_b, "dev-b", &["bob=EUR:10"], "b");
    }
    if let Some(bytes) = options.b_max_tx_bytes {
        let config = home_b.join("node.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let default = causeway_devchain::config::DEFAULT_MAX_TX_BYTES;
        let limited = text.replace(
            &format!("max_tx_bytes = {default}"),
            &format!("max_tx_bytes = {bytes}"),
        );
        assert_ne!(text, limited, "node.toml names max_tx_bytes: {text}");
        std::fs::write(&config, limited).unwrap();
    }
    let fork = match options.forked {
        Some(_) => {
            let home = net.path().join("dev-a-fork");
            copy_dir(&home_a, &home);
            Some(
                DevchainProcess::start(&net.bin, &home, port_fork)
                    .await
                    .unwrap(),
            )
        }
        None => None,
    };
    let a = DevchainProcess::start(&net.bin, &home_a, port_a)
        .await
        .unwrap();
    let (b, ledger) = if options.python_b {
        let bridge = net.path().join("bridge-b.json");
        let ledger = python_ledger(
            &net.path().join("ledger"),
            port_b,
            &["--bridge", bridge.to_str().unwrap()],
        )
        .await;
        (None, Some(ledger))
    } else {
        let b = DevchainProcess::start(&net.bin, &home_b, port_b)
            .await
            .unwrap();
        (Some(b), None)
    };
    let mut c = Committee {
        net,
        a,
        b,
        ledger,
        b_id,
        fork,
        relays: (0..N).map(|_| None).collect(),
        options,
        dkg,
    };
    for i in 1..=N {
        c.start(i).await;
    }
    c
}

fn run_dkg_with(net: &Net, extra: &[&str]) -> Vec<Value> {
    committee::run_dkg(&net.bin, &net.keystore(), net.path(), N, extra).unwrap()
}

fn init_devchain(net: &Net, home: &Path, chain: &str, fund: &[&str], bridge: &str) {
    let mut args = vec![
        "devchain".to_string(),
        "init".into(),
        "--home".into(),
        home.display().to_string(),
        "--chain-id".into(),
        chain.into(),
        "--rpc-addr".into(),
        "127.0.0.1:0".into(),
        "--bridge".into(),
        net.path()
            .join(format!("bridge-{bridge}.json"))
            .display()
            .to_string(),
    ];
    for f in fund {
        args.push("--fund".into());
        args.push(f.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    net.cli_ok(&args);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Committee {
    /// Batch 1 of dev-a -> dev-b as member 1 holds it (attestation and signature).
    async fn first_batch(&self) -> causeway_relay::notary::book::BatchRecord {
        let route = (
            ChainId::new("dev-a").unwrap(),
            ChainId::new("dev-b").unwrap(),
        );
        self.relays[0]
            .as_ref()
            .unwrap()
            .client()
            .notary_batch(route.0, route.1, 1)
            .await
            .unwrap()
            .expect("member 1 holds batch 1")
    }

    /// An outsider's adapter on dev-b, to submit what the committee already submitted.
    fn mallory_on_b(&self) -> DevchainAdapter {
        let key = self.net.signing_key("mallory");
        DevchainAdapter::new(ChainId::new("dev-b").unwrap(), &self.b().rpc_url, Some(key)).unwrap()
    }

    fn b(&self) -> &DevchainProcess {
        self.b.as_ref().expect("chain B is a devchain in this test")
    }

    async fn start(&mut self, i: usize) {
        let env: &[(&str, &str)] = if self.options.bad_shares == Some(i) {
            &[("CAUSEWAY_TEST_BAD_SHARES", "1")]
        } else {
            &[]
        };
        let m =
            committee::start_member(&self.net.bin, &self.net.keystore(), self.net.path(), i, env)
                .await
                .unwrap();
        self.relays[i - 1] = Some(m);
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut relay) = self.relays[i - 1].take() {
            relay.process.kill_hard();
        }
    }

    fn live(&self) -> impl Iterator<Item = (usize, &MemberProcess)> {
        self.relays
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| (i + 1, r)))
    }

    fn api(&self, i: usize) -> &str {
        &self.relays[i - 1]
            .as_ref()
            .expect("member is running")
            .api_url
    }

    fn status(&self, i: usize) -> Value {
        self.net
            .cli_ok(&["--json", "notary", "status", "--api", self.api(i)])
            .json()
    }

    fn transfer_args(
        &self,
        key: &str,
        from: &DevchainProcess,
        to: &DevchainProcess,
        recipient: &str,
        asset: &str,
        amount: u128,
    ) -> Vec<String> {
        let mut args: Vec<String> = [
            "--json",
            "transfer",
            "--key",
            key,
            "--rpc",
            &from.rpc_url,
            "--to-rpc",
            &to.rpc_url,
            "--to",
            recipient,
            "--asset",
            asset,
            "--amount",
            &amount.to_string(),
            "--timeout-secs",
            "90",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (_, relay) in self.live() {
            args.push("--relay".into());
            args.push(relay.api_url.clone());
        }
        args
    }

    /// `causeway transfer`, followed to the end.
    fn transfer(
        &self,
        key: &str,
        from: &DevchainProcess,
        to: &DevchainProcess,
        recipient: &str,
        asset: &str,
        amount: u128,
    ) -> Value {
        let args = self.transfer_args(key, from, to, recipient, asset, amount);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.net.cli_ok(&args).json()
    }

    /// The same, as a background process.
    fn spawn_transfer(
        &self,
        key: &str,
        from: &DevchainProcess,
        to: &DevchainProcess,
        recipient: &str,
        asset: &str,
        amount: u128,
    ) -> Child {
        Command::new(&self.net.bin)
            .arg("--keystore")
            .arg(self.net.keystore())
            .args(self.transfer_args(key, from, to, recipient, asset, amount))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start transfer")
    }

    fn balance(&self, node: &DevchainProcess, who: &str, asset: &str) -> u128 {
        self.net.balance(&node.rpc_url, who, asset)
    }

    fn logs(&self) -> String {
        self.live()
            .map(|(i, r)| format!("--- notary {i} ---\n{}", tail(&r.process.log_text())))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Waits for a background transfer and returns its JSON summary.
async fn finish(mut child: Child, c: &Committee) -> Value {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "transfer did not finish\n{}",
            c.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "transfer failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        c.logs()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn bridge_state(node: &DevchainProcess) -> Value {
    let state = node.client().bridge().await.unwrap();
    serde_json::to_value(state).unwrap()
}

// specs/notary.md §3, §12: DKG among five processes; a transfer A → B and back, with two
// notaries down for the way back; balances and supply checked on both chains.
#[tokio::test(flavor = "multi_thread")]
async fn committee_moves_assets_both_ways_with_two_members_down() {
    let mut c = committee(Options::default()).await;
    let out = c.transfer("alice", &c.a, c.b(), "bob", "USD", 120);
    let stages: Vec<&str> = out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages.first(), Some(&"locked"), "{out}");
    assert_eq!(stages.last(), Some(&"released"), "{out}");
    assert!(stages.contains(&"final"), "{out}");
    assert_eq!(c.balance(&c.a, "alice", "USD"), 880);
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 120);
    // specs/notary.md §5.1: the members exchanged pools at start, so signing took one round
    // trip; every member holds nonces pooled for the others.
    let statuses: Vec<Value> = (1..=N).map(|i| c.status(i)).collect();
    let pooled_rounds: u64 = statuses
        .iter()
        .map(|s| s["signer"]["pooled_rounds"].as_u64().unwrap())
        .sum();
    assert!(pooled_rounds >= 1, "{statuses:?}");
    for s in &statuses {
        assert!(s["signer"]["pooled_nonces"].as_u64().unwrap() > 0, "{s}");
    }

    c.kill(2);
    c.kill(4);
    c.transfer("bob", c.b(), &c.a, "alice", "WUSD", 50);
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 70);
    assert_eq!(c.balance(&c.a, "alice", "USD"), 930);
    let bridge_a = bridge_state(&c.a).await;
    assert_eq!(bridge_a["vault"]["USD"], "70", "{bridge_a}");
    let bridge_b = bridge_state(c.b()).await;
    assert_eq!(bridge_b["wrapped_supply"]["WUSD"], "70", "{bridge_b}");

    let s = c.status(1);
    assert_eq!(s["members_online"], 3, "{s}");
    assert_eq!(s["healthy"], true, "{s}");
    assert_eq!(s["threshold"], 3);
    assert_eq!(s["group_key"], c.dkg[0]["group_key"]);
    assert!(
        s["signer"]["sessions_completed"].as_u64().unwrap() >= 2,
        "{s}"
    );

    // A wrong passphrase is a clear refusal, not a crash.
    let config = member_dir(&c.net, 2).join("relay.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(c.net.path().join("wrong.txt"), "not the passphrase").unwrap();
    std::fs::write(&config, text.replace("../notary-pass.txt", "../wrong.txt")).unwrap();
    c.net.cli_err(
        &["relay", "start", "--config", config.to_str().unwrap()],
        "wrong passphrase",
    );
}

// Issue 4: with three of five down nothing is signed; once one returns, the transfer
// completes. A member's health says whether it can sign.
#[tokio::test(flavor = "multi_thread")]
async fn three_members_down_sign_nothing_until_one_returns() {
    let mut c = committee(Options::default()).await;
    c.kill(1);
    c.kill(2);
    c.kill(3);
    let child = c.spawn_transfer("alice", &c.a, c.b(), "bob", "USD", 75);
    // Long enough for the lock to be final and several signing attempts to time out.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 0);
    let s = c.status(4);
    assert_eq!(s["healthy"], false, "{s}");
    assert!(
        s["problems"][0]
            .as_str()
            .unwrap()
            .contains("signing needs 3"),
        "{s}"
    );
    assert_eq!(s["open_batches"][0]["signed"], false, "{s}");
    assert_eq!(s["signer"]["sessions_completed"], 0, "{s}");

    c.start(2).await;
    finish(child, &c).await;
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 75);
    assert_eq!(c.balance(&c.a, "alice", "USD"), 925);
}

// specs/notary.md §4.3: with too few members up, the live members' sessions run out of
// attempts; once a threshold is back the batch is vouched for again and released, without
// restarting anyone. Regression: a failed session was never retried, so its route stalled
// until the daemons restarted (a 100k backlog after a destination outage stopped at a batch).
#[tokio::test(flavor = "multi_thread")]
async fn sessions_that_ran_out_of_attempts_are_retried_once_a_threshold_is_back() {
    let mut c = committee(Options {
        attempt_timeout_ms: Some(100),
        ..Options::default()
    })
    .await;
    c.kill(1);
    c.kill(2);
    c.kill(3);
    let child = c.spawn_transfer("alice", &c.a, c.b(), "bob", "USD", 75);
    // 32 attempts of 100 ms each, with room for the lock to be final first.
    let failed = tokio::time::Instant::now();
    while c.status(4)["signer"]["sessions_failed"]
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        assert!(
            failed.elapsed() < Duration::from_secs(60),
            "no session ran out of attempts: {}",
            c.status(4)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 0);

    c.start(2).await;
    finish(child, &c).await;
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 75);
    assert_eq!(c.balance(&c.a, "alice", "USD"), 925);
}

// specs/notary.md §6: a member sending invalid signature shares is identified by the
// coordinator, excluded, counted in status, and the transfers still complete.
#[tokio::test(flavor = "multi_thread")]
async fn member_sending_bad_shares_is_named_and_transfers_complete() {
    let mut c = committee(Options {
        bad_shares: Some(5),
        ..Options::default()
    })
    .await;
    // With one honest member down, the cheater is among the first three commitments often.
    c.kill(1);
    let mut detected = false;
    for round in 1..=6u128 {
        c.transfer("alice", &c.a, c.b(), "bob", "USD", round);
        detected = c
            .live()
            .map(|(i, _)| c.status(i))
            .any(|s| s["signer"]["cheaters"]["5"].as_u64().unwrap_or(0) > 0);
        if detected {
            break;
        }
    }
    assert!(
        detected,
        "no member counted member 5 as a cheater\n{}",
        c.logs()
    );
    let logs = c.logs();
    assert!(logs.contains("invalid signature share"), "{logs}");
}

// Issue 4 (forged event): one member follows a fork of dev-a where mallory locked funds;
// only that member ever vouches for the forged transfer, so it is never signed, while the
// honest transfer completes.
#[tokio::test(flavor = "multi_thread")]
async fn forged_lock_seen_by_one_member_is_never_signed() {
    let c = committee(Options {
        forked: Some(5),
        ..Options::default()
    })
    .await;
    let fork = c.fork.as_ref().unwrap();
    // Mallory's lock exists only on the fork that member 5 follows.
    let forged = c.spawn_transfer("mallory", fork, c.b(), "mallory", "USD", 400);
    c.transfer("alice", &c.a, c.b(), "bob", "USD", 30);
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 30);
    // Let member 5's forged batch run through several attempts.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(c.balance(c.b(), "mallory", "WUSD"), 0);
    let s = c.status(5);
    let forged_batch = s["open_batches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["signed"] == false)
        .cloned();
    assert!(
        forged_batch.is_some(),
        "member 5 holds no unsigned batch: {s}"
    );
    let mut forged = forged;
    let _ = forged.kill();
}

// Wormhole/Nomad lessons at the chain: a signed attestation replayed, and one of its
// transfers executed again, are refused by the bridge module.
#[tokio::test(flavor = "multi_thread")]
async fn replayed_attestation_and_transfer_are_refused() {
    let c = committee(Options::default()).await;
    c.transfer("alice", &c.a, c.b(), "bob", "USD", 10);
    let batch = c.first_batch().await;
    let adapter = c.mallory_on_b();
    let replay = adapter
        .submit(&Action::BridgeSubmitAttestation {
            attestation: hex_of(&batch.attestation),
            signature: batch.signature.clone().expect("batch 1 is signed"),
        })
        .await;
    assert_refused(replay, "replay");
    let built = causeway_notary_batch(&batch);
    let again = adapter
        .submit(&Action::BridgeExecute {
            transfer: batch.transfers[0].clone(),
            proof: built.proof(0).unwrap(),
        })
        .await;
    assert_refused(again, "replay");
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 10);
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn causeway_notary_batch(
    batch: &causeway_relay::notary::book::BatchRecord,
) -> causeway_notary::TransferBatch {
    let causeway_notary::Attestation::TransferBatch(a) =
        causeway_notary::Attestation::from_bytes(&batch.attestation).unwrap()
    else {
        panic!("not a transfer batch")
    };
    causeway_notary::TransferBatch::build(
        a.committee_id,
        a.key_epoch,
        a.source_chain,
        a.dest_chain,
        a.sequence,
        batch.transfers.to_vec(),
    )
    .unwrap()
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, AdapterError>, must_mention: &str) {
    match result {
        Err(e) => {
            let text = e.to_string().to_lowercase();
            assert!(
                text.contains(must_mention),
                "refused for another reason: {e}"
            );
        }
        Ok(v) => panic!("the chain accepted a replay: {v:?}"),
    }
}

// Durability: notaries SIGKILLed at every phase of their sessions (never more than two at
// once) while transfers stream through; every transfer is released exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn sigkilled_members_lose_nothing_and_release_nothing_twice() {
    let mut c = committee(Options::default()).await;
    let mut children = Vec::new();
    let mut sent = 0u128;
    for round in 0..6usize {
        let amount = 10 + round as u128;
        sent += amount;
        children.push(c.spawn_transfer("alice", &c.a, c.b(), "bob", "USD", amount));
        // Kill two members at staggered moments of the session, then bring them back.
        let victims = [1 + round % N, 1 + (round + 2) % N];
        tokio::time::sleep(Duration::from_millis(150 * (round as u64 % 4))).await;
        c.kill(victims[0]);
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.kill(victims[1]);
        tokio::time::sleep(Duration::from_millis(400)).await;
        c.start(victims[0]).await;
        c.start(victims[1]).await;
    }
    for child in children {
        finish(child, &c).await;
    }
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), sent);
    assert_eq!(c.balance(&c.a, "alice", "USD"), 1000 - sent);
    let bridge_b = bridge_state(c.b()).await;
    assert_eq!(
        bridge_b["wrapped_supply"]["WUSD"],
        sent.to_string(),
        "{bridge_b}"
    );
    assert_eq!(
        bridge_b["executed"].as_array().map(|e| e.len()),
        Some(6),
        "{bridge_b}"
    );
}

// specs/notary.md §12.2: a destination node that takes smaller transactions than its adapter
// declares refuses the whole batch; the committee then submits the attestation alone and pays
// each transfer out with its own execution, and nothing is paid twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_whole_batch_the_destination_refuses_is_paid_out_one_transfer_at_a_time() {
    let c = committee(Options {
        // Under a whole batch of even one transfer (~1050 bytes of JSON), over the
        // attestation alone (~690) and one execution with a 4-leaf proof (~840).
        b_max_tx_bytes: Some(960),
        ..Options::default()
    })
    .await;
    let senders = ["alice", "mallory", "carol", "dave"];
    let children: Vec<Child> = senders
        .iter()
        .map(|key| c.spawn_transfer(key, &c.a, c.b(), "bob", "USD", 25))
        .collect();
    for child in children {
        finish(child, &c).await;
    }
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 100);
    let bridge_b = bridge_state(c.b()).await;
    assert_eq!(bridge_b["wrapped_supply"]["WUSD"], "100", "{bridge_b}");
    assert_eq!(
        bridge_b["executed"].as_array().map(|e| e.len()),
        Some(senders.len()),
        "{bridge_b}"
    );
    // Each member counts only the refusals of its own submissions.
    let route = (
        ChainId::new("dev-a").unwrap(),
        ChainId::new("dev-b").unwrap(),
    );
    let mut attempts = Vec::new();
    for (_, member) in c.live() {
        let first = member
            .client()
            .notary_batch(route.0.clone(), route.1.clone(), 1)
            .await
            .unwrap()
            .expect("every member holds batch 1");
        attempts.push(first.submit_attempt);
    }
    assert!(
        attempts.iter().any(|&a| a >= 1),
        "some member's whole submission of batch 1 was refused, then sent again as the \
         attestation alone: attempts {attempts:?}\n{}",
        c.logs()
    );
}

// specs/notary.md §9: a transfer over the route's ceiling is held for review, not signed;
// an operator's release lets it through.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_transfer_is_held_until_operators_release_it() {
    let c = committee(Options::default()).await;
    let child = c.spawn_transfer("alice", &c.a, c.b(), "bob", "USD", 600);
    let held = eventually("the transfer held on every member", WAIT, || async {
        let all: Vec<Value> = c.live().map(|(i, _)| c.status(i)).collect();
        all.iter()
            .all(|s| s["held"].as_array().is_some_and(|h| !h.is_empty()))
            .then(|| all[0]["held"][0].clone())
    })
    .await
    .unwrap();
    assert!(
        held["hold_reason"].as_str().unwrap().contains("ceiling"),
        "{held}"
    );
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 0);
    let tx = held["source_tx_hash"].as_str().unwrap().to_string();
    for (_, relay) in c.live() {
        c.net.cli_ok(&[
            "notary",
            "review",
            "--api",
            &relay.api_url,
            "--tx",
            &tx,
            "--release",
        ]);
    }
    finish(child, &c).await;
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 600);
}

// Ronin/Harmony lessons and bad operator input, through the CLI.
#[tokio::test(flavor = "multi_thread")]
async fn committee_review_refuses_weak_thresholds_and_bad_keys() {
    let net = Net::new();
    let mut members = String::new();
    for i in 1..=5 {
        let v = net
            .cli_ok(&[
                "--json",
                "notary",
                "init",
                "--dir",
                net.path().join(format!("k{i}")).to_str().unwrap(),
                "--operator",
                if i <= 3 { "big-op" } else { "small-op" },
                "--endpoint",
                "127.0.0.1:1",
            ])
            .json();
        members.push_str(&format!(
            "\n[[members]]\noperator = {}\nidentity_key = {}\nnoise_key = {}\nendpoint = {}\n",
            v["operator"], v["identity_key"], v["noise_key"], v["endpoint"]
        ));
    }
    let file = net.path().join("committee.toml");
    let write = |threshold: u16, body: &str| {
        std::fs::write(
            &file,
            format!("name = \"c\"\nthreshold = {threshold}\n{body}"),
        )
        .unwrap();
    };
    write(2, &members);
    net.cli_err(
        &["notary", "committee", "--committee", file.to_str().unwrap()],
        "Harmony",
    );
    write(3, &members);
    net.cli_err(
        &["notary", "committee", "--committee", file.to_str().unwrap()],
        "Ronin",
    );
    let spread = members.replacen("big-op", "third-op", 1);
    write(4, &spread);
    let ok = net.cli_ok(&["notary", "committee", "--committee", file.to_str().unwrap()]);
    assert!(ok.stdout.contains("threshold 4 of 5"), "{}", ok.stdout);
    write(4, &spread.replacen("noise_key = \"", "noise_key = \"zz", 1));
    net.cli_err(
        &["notary", "committee", "--committee", file.to_str().unwrap()],
        "noise_key",
    );
    net.cli_err(
        &[
            "notary",
            "init",
            "--dir",
            net.path().join("k1").to_str().unwrap(),
            "--operator",
            "x",
            "--endpoint",
            "127.0.0.1:1",
        ],
        "already exists",
    );
}

// specs/notary.md §8: a committee change (threshold 3 → 4) runs a new DKG; the old committee
// hands each chain's bridge over by a signed key rotation; transfers continue under the new
// key, and an attestation signed by the old key is refused from then on.
#[tokio::test(flavor = "multi_thread")]
async fn committee_change_hands_over_to_a_new_key_by_attestation() {
    let mut c = committee(Options::default()).await;
    c.transfer("alice", &c.a, c.b(), "bob", "USD", 20);
    let old_batch = c.first_batch().await;

    // The new committee: same members, threshold 4, and its own ceremony endpoints.
    let old = std::fs::read_to_string(c.net.path().join("committee.toml")).unwrap();
    let mut new = old.replace("threshold = 3", "threshold = 4");
    for line in old.lines().filter(|l| l.starts_with("endpoint")) {
        new = new.replace(line, &format!("endpoint = \"127.0.0.1:{}\"", free_port()));
    }
    std::fs::write(c.net.path().join("committee-2.toml"), new).unwrap();
    let summaries = run_dkg_with(
        &c.net,
        &["--epoch", "2", "--committee", "../committee-2.toml"],
    );
    let new_key = summaries[0]["group_key"].as_str().unwrap().to_string();
    assert_ne!(summaries[0]["group_key"], c.dkg[0]["group_key"]);

    let activate = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    for (_, relay) in c.live() {
        for chain in ["dev-a", "dev-b"] {
            c.net.cli_ok(&[
                "notary",
                "rotate",
                "--api",
                &relay.api_url,
                "--chain",
                chain,
                "--new-epoch",
                "2",
                "--new-group-key",
                &new_key,
                "--activate-at-ms",
                &activate,
            ]);
        }
    }
    for node in [&c.a, c.b()] {
        eventually("the bridge rotated to epoch 2", WAIT, || async {
            (bridge_state(node).await["key_epoch"] == 2).then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", c.logs()));
    }
    let adapter = c.mallory_on_b();
    let stale = adapter
        .submit(&Action::BridgeSubmitAttestation {
            attestation: hex_of(&old_batch.attestation),
            signature: old_batch.signature.clone().unwrap(),
        })
        .await;
    assert_refused(stale, "epoch");

    // Every member restarts on the new share and committee.
    for i in 1..=N {
        c.kill(i);
        let config = member_dir(&c.net, i).join("relay.toml");
        let text = std::fs::read_to_string(&config).unwrap().replace(
            "committee = \"../committee.toml\"",
            "committee = \"../committee-2.toml\"\nkey_epoch = 2",
        );
        std::fs::write(&config, text).unwrap();
        c.start(i).await;
    }
    c.kill(3);
    c.transfer("alice", &c.a, c.b(), "bob", "USD", 30);
    assert_eq!(c.balance(c.b(), "bob", "WUSD"), 50);
    let s = c.status(1);
    assert_eq!(
        (s["key_epoch"].as_u64(), s["threshold"].as_u64()),
        (Some(2), Some(4)),
        "{s}"
    );
    assert_eq!(s["group_key"], new_key.as_str());
}

// Issue 6: a notary transfer between devchain and the Python example ledger, which every
// member knows only by URL (adapter protocol); the ledger verifies the committee's
// signature itself and mints, and the way back releases from devchain's vault.
#[tokio::test(flavor = "multi_thread")]
async fn committee_moves_assets_between_devchain_and_the_python_ledger() {
    let c = committee(Options {
        python_b: true,
        ..Options::default()
    })
    .await;
    let ledger = c.ledger.as_ref().unwrap();
    let chains = member_dir(&c.net, 1).join("relay.toml");
    let chains = chains.to_str().unwrap();
    let relays: Vec<String> = c.live().map(|(_, r)| r.api_url.clone()).collect();
    let transfer =
        |from: &str, to: &str, key: Option<&str>, recipient: &str, asset: &str, amount: &str| {
            let mut args = vec![
                "--json",
                "transfer",
                "--chains",
                chains,
                "--from-chain",
                from,
                "--to-chain",
                to,
                "--to",
                recipient,
                "--asset",
                asset,
                "--amount",
                amount,
                "--timeout-secs",
                "90",
            ];
            if let Some(key) = key {
                args.extend(["--key", key]);
            }
            for r in &relays {
                args.extend(["--relay", r.as_str()]);
            }
            c.net.cli_ok(&args).json()
        };
    let out = transfer("dev-a", c.b_id, Some("alice"), "operator", "USD", "90");
    assert_eq!(
        out["steps"].as_array().unwrap().last().unwrap()["stage"],
        "released",
        "{out}"
    );
    let remote = RemoteAdapter::new(ChainId::new(c.b_id).unwrap(), &ledger.url).unwrap();
    let operator = Address::new("operator").unwrap();
    let wusd = AssetId::new("WUSD").unwrap();
    assert_eq!(remote.balance(&operator, &wusd).await.unwrap().0, 90);
    assert_eq!(c.balance(&c.a, "alice", "USD"), 910);

    transfer(c.b_id, "dev-a", None, "bob", "WUSD", "25");
    assert_eq!(remote.balance(&operator, &wusd).await.unwrap().0, 65);
    assert_eq!(c.balance(&c.a, "bob", "USD"), 25);
    assert_eq!(bridge_state(&c.a).await["vault"]["USD"], "65");
}
