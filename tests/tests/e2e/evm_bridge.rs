//! The EVM adapter's bridge support against a real anvil and the real `CausewayBridge`
//! (issue 5): a committee key from a real FROST 3-of-5 dealer, attestations signed by real
//! threshold signatures, the adapter's bridge actions and events, `causeway evm
//! deploy-bridge` through the binary; then a whole committee of relay processes moving
//! assets devchain -> anvil -> devchain.

use std::collections::BTreeMap;
use std::time::Duration;

use causeway_adapters::evm::EvmConfig;
use causeway_adapters::evm::{parse_evm_address, AssetRef, BridgeRoute, EvmAdapter, EvmBridge};
use causeway_adapters::{finalized_events, Action, AdapterError, ChainAdapter, PreparedTx};
use causeway_core::{Address, Amount, AssetId, Cursor, EventKind, Hash32, Position};
use causeway_e2e::{devchain_table, free_port, AnvilProcess, DevchainProcess, Net};
use causeway_notary::{Attestation, GroupKey, KeyRotation, Transfer, TransferBatch};
use causeway_relay::config::RelayConfig;
use causeway_relay::keystore::Keystore;
use causeway_relay::launch::committee::{self, MemberProcess};
use causeway_relay::launch::evm::EvmTable;
use frost_ed25519::keys::{IdentifierList, KeyPackage, PublicKeyPackage};
use frost_ed25519::{Identifier, SigningPackage};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

const N: usize = 5;
const EVM_CHAIN: &str = "evm-b";
const DEV_CHAIN: &str = "dev-a";
const WAIT: Duration = Duration::from_secs(60);

/// A FROST 3-of-5 committee from a trusted dealer (the daemon runs a real DKG; the bridge
/// cannot tell the difference: both produce one Ed25519 group key).
struct DealerCommittee {
    id: Hash32,
    keys: BTreeMap<Identifier, KeyPackage>,
    public: PublicKeyPackage,
    rng: StdRng,
}

impl DealerCommittee {
    fn new(seed: u64) -> DealerCommittee {
        let mut rng = StdRng::seed_from_u64(seed);
        let (shares, public) =
            frost_ed25519::keys::generate_with_dealer(5, 3, IdentifierList::Default, &mut rng)
                .unwrap();
        let keys = shares
            .into_iter()
            .map(|(id, share)| (id, KeyPackage::try_from(share).unwrap()))
            .collect();
        DealerCommittee {
            id: causeway_notary::committee::committee_id("evm-bridge-test"),
            keys,
            public,
            rng,
        }
    }

    fn group_key(&self) -> GroupKey {
        GroupKey::from_public_key_package(&self.public).unwrap()
    }

    /// A threshold signature by members 2, 4 and 5: two rounds and the aggregate, as hex.
    fn sign(&mut self, message: &[u8]) -> String {
        let signers: Vec<(&Identifier, &KeyPackage)> = self
            .keys
            .iter()
            .enumerate()
            .filter(|(i, _)| [1, 3, 4].contains(i))
            .map(|(_, k)| k)
            .collect();
        let mut nonces = BTreeMap::new();
        let mut commitments = BTreeMap::new();
        for (id, key) in &signers {
            let (n, c) = frost_ed25519::round1::commit(key.signing_share(), &mut self.rng);
            nonces.insert(**id, n);
            commitments.insert(**id, c);
        }
        let package = SigningPackage::new(commitments, message);
        let shares = signers
            .iter()
            .map(|(id, key)| {
                let share = frost_ed25519::round2::sign(&package, &nonces[*id], key).unwrap();
                (**id, share)
            })
            .collect();
        let signature = frost_ed25519::aggregate(&package, &shares, &self.public).unwrap();
        hex_of(&signature.serialize().unwrap())
    }

    fn attest(&mut self, attestation: &Attestation) -> Action {
        let bytes = attestation.to_bytes().unwrap();
        Action::BridgeSubmitAttestation {
            signature: self.sign(&bytes),
            attestation: hex_of(&bytes),
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn id<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().unwrap()
}

fn asset(text: &str) -> AssetId {
    AssetId::new(text).unwrap()
}

/// `causeway evm deploy-bridge` arguments for this test's chain, deploying as `dev0`.
fn deploy_bridge_args(
    anvil: &AnvilProcess,
    committee_id: &str,
    group_key: &str,
    assets: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = [
        "--json",
        "evm",
        "deploy-bridge",
        "--rpc",
        &anvil.rpc_url,
        "--key",
        "dev0",
        "--chain-id",
        EVM_CHAIN,
        "--committee-id",
        committee_id,
        "--group-key",
        group_key,
    ]
    .map(str::to_string)
    .to_vec();
    for a in assets {
        args.extend(["--asset".to_string(), a.to_string()]);
    }
    args
}

fn cli_args(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The adapter a relay builds from `[chain.evm]` with `bridge` set (or not), signing as `key`.
fn adapter(
    net: &Net,
    anvil: &AnvilProcess,
    deployed: &Value,
    key: &str,
    bridge: bool,
) -> EvmAdapter {
    let token = |t: &Value| AssetRef::Erc20(parse_evm_address(t.as_str().unwrap()).unwrap());
    let assets = BTreeMap::from([
        (asset("GOLD"), token(&deployed["assets"]["GOLD"])),
        (asset("WUSD"), token(&deployed["assets"]["WUSD"])),
    ]);
    let bridge = bridge.then(|| EvmBridge {
        contract: parse_evm_address(deployed["address"].as_str().unwrap()).unwrap(),
        routes: vec![BridgeRoute {
            asset: asset("WUSD"),
            dest_chain: id(DEV_CHAIN),
            dest_asset: asset("USD"),
        }],
    });
    let secret = Keystore::open(net.keystore())
        .load_secp256k1(key)
        .unwrap()
        .secret;
    EvmAdapter::new(
        EvmConfig {
            chain: id(EVM_CHAIN),
            endpoint: anvil.rpc_url.clone(),
            evm_chain_id: anvil.evm_chain_id,
            htlc_contract: None,
            confirmations: 1,
            block_time_ms: 1000,
            assets,
            bridge,
        },
        Some(secret),
    )
    .unwrap()
}

/// Submits `action`, checks it is not final (nor its events served) while inside the
/// confirmation window, then mines past the window and waits for it to be final.
async fn run(chain: &EvmAdapter, anvil: &AnvilProcess, action: &Action) -> PreparedTx {
    let tx = chain.submit(action).await.unwrap();
    let served = finalized_events(chain, Cursor::default()).await.unwrap();
    assert!(
        served.iter().all(|e| e.tx_hash != tx.id),
        "{} served inside the confirmation window",
        action.name()
    );
    anvil.rpc("anvil_mine", vec![json!("0x1")]).await.unwrap();
    chain.wait_final(&tx, WAIT).await.unwrap();
    tx
}

/// The events of transaction `tx`, once final.
async fn events_of(chain: &EvmAdapter, tx: &PreparedTx) -> Vec<EventKind> {
    finalized_events(chain, Cursor::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.tx_hash == tx.id)
        .map(|e| e.kind)
        .filter(|k| k.name().starts_with("bridge_"))
        .collect()
}

async fn balance(chain: &EvmAdapter, who: &Address, of: &str) -> u128 {
    chain.balance(who, &asset(of)).await.unwrap().0
}

/// The refusal `prepare` gives `action` (the gas estimate replays the contract's checks).
async fn refusal(chain: &EvmAdapter, action: &Action) -> String {
    match chain.prepare(action).await {
        Err(e @ AdapterError::Rejected { .. }) => e.to_string(),
        other => panic!("{} was not refused: {other:?}", action.name()),
    }
}

fn incoming(
    position: u64,
    asset_id: &str,
    dest_asset: &str,
    to: &Address,
    amount: u128,
) -> Transfer {
    Transfer {
        source_chain: id(DEV_CHAIN),
        source_position: Position::new(position, 0),
        source_tx_hash: Hash32([position as u8; 32]),
        asset: asset(asset_id),
        amount: Amount(amount),
        sender: Address::new("alice").unwrap(),
        recipient: to.clone(),
        dest_asset: asset(dest_asset),
    }
}

fn batch(committee: &DealerCommittee, sequence: u64, transfers: Vec<Transfer>) -> TransferBatch {
    TransferBatch::build(
        committee.id,
        1,
        id(DEV_CHAIN),
        id(EVM_CHAIN),
        sequence,
        transfers,
    )
    .unwrap()
}

// specs/evm-adapter.md §4 (send, attestations, execute, events, refusals) and §4.6
// (`causeway evm deploy-bridge`), with the real contract verifying a real FROST signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_actions_and_events_through_the_adapter() {
    let net = Net::new();
    let anvil = AnvilProcess::start(net.path(), 31337, None).await.unwrap();
    net.evm_key("dev0", 0);
    let carol = net.evm_key("carol", 1);
    let dave = net.evm_key("dave", 2);
    let gold = net.deploy_evm(&anvil, "dev0", &[(&carol, 1_000)]).token;
    let mut committee = DealerCommittee::new(7);

    let committee_id = committee.id.to_string();
    let zero_key = deploy_bridge_args(&anvil, &committee_id, &hex_of(&[0; 32]), &["W=wrapped"]);
    net.cli_err(&cli_args(&zero_key), "--group-key");
    let gold_vault = format!("GOLD={gold}");
    let group_key = hex_of(&committee.group_key().0);
    let args = deploy_bridge_args(
        &anvil,
        &committee_id,
        &group_key,
        &[&gold_vault, "WUSD=wrapped"],
    );
    let deployed = net.cli_ok(&cli_args(&args)).json();
    assert_eq!(deployed["contract"], "CausewayBridge", "{deployed}");
    assert_eq!(
        deployed["assets"]["GOLD"],
        json!(gold.to_lowercase()),
        "{deployed}"
    );
    let bridge = Address::new(deployed["address"].as_str().unwrap()).unwrap();

    let without = adapter(&net, &anvil, &deployed, "carol", false);
    assert!(!without.capabilities().bridge);
    let send = |what: &str, to: &str, amount: u128| Action::BridgeSend {
        dest_chain: id(DEV_CHAIN),
        recipient: Address::new(to).unwrap(),
        asset: asset(what),
        amount: Amount(amount),
    };
    match without.prepare(&send("GOLD", "alice", 1)).await {
        Err(AdapterError::Unsupported { what, .. }) => {
            assert!(what.contains("[chain.evm] bridge"), "{what}")
        }
        other => panic!("a bridge action without a bridge: {other:?}"),
    }

    // Out: a vault deposit (approve first), reported once final; unrouted keeps its id.
    let chain = adapter(&net, &anvil, &deployed, "carol", true);
    assert!(chain.capabilities().bridge);
    let sent = run(&chain, &anvil, &send("GOLD", "alice", 30)).await;
    assert_eq!(
        events_of(&chain, &sent).await,
        vec![EventKind::BridgeSent {
            sender: carol.clone(),
            dest_chain: id(DEV_CHAIN),
            recipient: Address::new("alice").unwrap(),
            asset: asset("GOLD"),
            dest_asset: asset("GOLD"),
            amount: Amount(30),
        }]
    );
    assert_eq!(balance(&chain, &carol, "GOLD").await, 970);
    assert_eq!(balance(&chain, &bridge, "GOLD").await, 30);

    // In: a committee-signed batch, then each transfer by its Merkle proof.
    let transfers = vec![
        incoming(5, "USD", "WUSD", &carol, 100),
        incoming(6, "GOLD", "GOLD", &dave, 7),
    ];
    let first = batch(&committee, 1, transfers.clone());
    let accept = committee.attest(&Attestation::TransferBatch(first.attestation.clone()));
    let accepted = run(&chain, &anvil, &accept).await;
    assert_eq!(
        events_of(&chain, &accepted).await,
        vec![EventKind::BridgeBatchAccepted {
            source_chain: id(DEV_CHAIN),
            sequence: 1,
            root: first.attestation.merkle_root,
            key_epoch: 1,
        }]
    );
    let execute = |i: usize| Action::BridgeExecute {
        transfer: transfers[i].clone(),
        proof: first.proof(i).unwrap(),
    };
    for (i, to, of, amount) in [(0, &carol, "WUSD", 100), (1, &dave, "GOLD", 7)] {
        let paid = run(&chain, &anvil, &execute(i)).await;
        assert_eq!(
            events_of(&chain, &paid).await,
            vec![EventKind::BridgeReceived {
                source_chain: id(DEV_CHAIN),
                source_position: transfers[i].source_position,
                source_tx_hash: transfers[i].source_tx_hash,
                recipient: to.clone(),
                asset: asset(of),
                amount: Amount(amount),
            }]
        );
        assert_eq!(balance(&chain, to, of).await, amount);
    }
    assert_eq!(
        balance(&chain, &bridge, "GOLD").await,
        23,
        "vault released 7"
    );

    // Replays and forgeries are refused before anything is signed, naming the reason.
    let replayed = refusal(&chain, &accept).await;
    assert!(replayed.contains("UnexpectedSequence"), "{replayed}");
    let again = refusal(&chain, &execute(0)).await;
    assert!(again.contains("AlreadyExecuted"), "{again}");
    let second = batch(&committee, 2, vec![incoming(9, "USD", "WUSD", &carol, 1)]);
    let decoy = batch(
        &committee,
        2,
        vec![incoming(9, "USD", "WUSD", &carol, 1_000_000)],
    );
    let Action::BridgeSubmitAttestation { attestation, .. } =
        committee.attest(&Attestation::TransferBatch(second.attestation.clone()))
    else {
        unreachable!()
    };
    let Action::BridgeSubmitAttestation { signature, .. } =
        committee.attest(&Attestation::TransferBatch(decoy.attestation.clone()))
    else {
        unreachable!()
    };
    let forged = Action::BridgeSubmitAttestation {
        attestation: attestation.clone(),
        signature: signature.clone(),
    };
    let refused = refusal(&chain, &forged).await;
    assert!(refused.contains("InvalidSignature"), "{refused}");
    let mut elsewhere = second.attestation.clone();
    elsewhere.dest_chain = id("evm-c");
    let misrouted = refusal(
        &chain,
        &committee.attest(&Attestation::TransferBatch(elsewhere)),
    )
    .await;
    assert!(misrouted.contains("not evm-b"), "{misrouted}");
    let garbled = Action::BridgeSubmitAttestation {
        attestation: format!("{attestation}zz"),
        signature,
    };
    assert!(refusal(&chain, &garbled)
        .await
        .contains("attestation is not hex"));

    // Out again: burning the wrapped token (approve first), routed to USD on the devchain.
    let back = run(&chain, &anvil, &send("WUSD", "alice", 40)).await;
    assert!(matches!(
        &events_of(&chain, &back).await[..],
        [EventKind::BridgeSent { dest_asset, amount: Amount(40), .. }] if dest_asset.as_str() == "USD"
    ));
    assert_eq!(balance(&chain, &carol, "WUSD").await, 60);

    // A key rotation, signed by the old key, takes effect: old-epoch batches are refused.
    let next = DealerCommittee::new(8);
    let now_ms = chain.info().await.unwrap().finalized_time_ms;
    let rotation = committee.attest(&Attestation::KeyRotation(KeyRotation {
        committee_id: committee.id,
        key_epoch: 1,
        chain: id(EVM_CHAIN),
        new_epoch: 2,
        new_group_key: next.group_key(),
        activate_at_ms: now_ms,
        overlap_ms: 0,
    }));
    let rotated = run(&chain, &anvil, &rotation).await;
    assert_eq!(
        events_of(&chain, &rotated).await,
        vec![EventKind::BridgeKeyRotated {
            key_epoch: 2,
            group_key: Hash32(next.group_key().0),
        }]
    );
    let stale = committee.attest(&Attestation::TransferBatch(second.attestation.clone()));
    assert!(refusal(&chain, &stale).await.contains("WrongKeyEpoch"));
}

/// Member `i`'s `[[chain]]` table for anvil, with the bridge once it is deployed.
fn evm_table(i: usize, anvil: &AnvilProcess, bridge: Option<&Value>) -> String {
    let mut table = EvmTable::new(EVM_CHAIN, anvil, &format!("e{i}"), 0);
    if let Some(b) = bridge {
        table.bridge = b["address"].as_str().map(str::to_string);
        table.routes = vec![("WUSD".into(), "dev-a".into(), "USD".into())];
        table.assets = vec![("WUSD".into(), b["assets"]["WUSD"].as_str().unwrap().into())];
    }
    table.toml()
}

fn settings() -> String {
    committee::local_settings(
        1,
        None,
        1_000_000,
        &[("dev-a", EVM_CHAIN, "USD"), (EVM_CHAIN, "dev-a", "WUSD")],
    )
}

async fn wusd_balance(net: &Net, who: &Address) -> u128 {
    let config =
        RelayConfig::load(&committee::member_dir(net.path(), 1).join("relay.toml")).unwrap();
    let chain = config
        .chains
        .iter()
        .find(|c| c.id.as_str() == EVM_CHAIN)
        .unwrap();
    let adapter =
        causeway_relay::daemon::build_adapter(chain, &Keystore::open(net.keystore())).unwrap();
    adapter
        .balance(who, &AssetId::new("WUSD").unwrap())
        .await
        .unwrap()
        .0
}

fn transfer(net: &Net, members: &[Option<MemberProcess>], args: &[&str]) -> Value {
    let chains = committee::member_dir(net.path(), 1).join("relay.toml");
    let mut all = vec![
        "--json",
        "transfer",
        "--chains",
        chains.to_str().unwrap(),
        "--timeout-secs",
        "120",
    ];
    all.extend_from_slice(args);
    for m in members.iter().flatten() {
        all.extend(["--relay", m.api_url.as_str()]);
    }
    net.cli_ok(&all).json()
}

// specs/evm-adapter.md §4, specs/notary.md §12: devchain -> anvil -> devchain through a
// 3-of-5 committee of relay processes, the way back with two members down.
#[tokio::test(flavor = "multi_thread")]
async fn committee_moves_assets_from_devchain_to_anvil_and_back() {
    let net = Net::new();
    net.key("alice");
    let deployer = net.evm_key("dev0", 0);
    let carol = net.evm_key("carol", 1);
    let anvil = AnvilProcess::start(net.path(), 31337, None).await.unwrap();
    let ks = Keystore::open(net.keystore());
    let port_a = free_port();
    let a_url = format!("http://127.0.0.1:{port_a}");
    committee::create_committee(&net.bin, &net.keystore(), net.path(), N, 3).unwrap();
    for i in 1..=N {
        net.key(&format!("n{i}"));
        let evm_key = ks.create_secp256k1(&format!("e{i}")).unwrap();
        anvil
            .rpc(
                "anvil_setBalance",
                vec![json!(evm_key.address), json!("0x56BC75E2D63100000")],
            )
            .await
            .unwrap();
        let chains =
            devchain_table("dev-a", &a_url, &format!("n{i}")) + &evm_table(i, &anvil, None);
        committee::write_member_config(net.path(), &net.keystore(), i, &settings(), &chains)
            .unwrap();
    }
    let dkg = committee::run_dkg(&net.bin, &net.keystore(), net.path(), N, &[]).unwrap();
    let args = deploy_bridge_args(
        &anvil,
        dkg[0]["committee_id"].as_str().unwrap(),
        dkg[0]["group_key"].as_str().unwrap(),
        &["WUSD=wrapped"],
    );
    let bridge = net.cli_ok(&cli_args(&args)).json();
    assert_ne!(bridge["assets"]["WUSD"], Value::Null, "{bridge}");
    for i in 1..=N {
        let chains = devchain_table("dev-a", &a_url, &format!("n{i}"))
            + &evm_table(i, &anvil, Some(&bridge));
        committee::write_member_config(net.path(), &net.keystore(), i, &settings(), &chains)
            .unwrap();
    }
    let bridge_a = net.path().join("bridge-a.json");
    committee::write_bridge_config(
        &bridge_a,
        &dkg[0],
        &json!([{"asset": "USD", "dest_chain": EVM_CHAIN, "dest_asset": "WUSD"}]),
        &json!([]),
    )
    .unwrap();
    let home_a = net.path().join("dev-a");
    net.cli_ok(&[
        "devchain",
        "init",
        "--home",
        home_a.to_str().unwrap(),
        "--chain-id",
        "dev-a",
        "--rpc-addr",
        "127.0.0.1:0",
        "--fund",
        "alice=USD:1000",
        "--bridge",
        bridge_a.to_str().unwrap(),
    ]);
    let a = DevchainProcess::start(&net.bin, &home_a, port_a)
        .await
        .unwrap();
    let mut members = Vec::new();
    for i in 1..=N {
        members.push(Some(
            committee::start_member(&net.bin, &net.keystore(), net.path(), i, &[])
                .await
                .unwrap(),
        ));
    }

    let out = transfer(
        &net,
        &members,
        &[
            "--from-chain",
            "dev-a",
            "--to-chain",
            EVM_CHAIN,
            "--key",
            "alice",
            "--to",
            carol.as_str(),
            "--asset",
            "USD",
            "--amount",
            "100",
        ],
    );
    assert_eq!(
        out["steps"].as_array().unwrap().last().unwrap()["stage"],
        "released",
        "{out}"
    );
    println!("devchain -> anvil released after {} ms", out["elapsed_ms"]);
    assert_eq!(wusd_balance(&net, &carol).await, 100);
    assert_eq!(net.balance(&a.rpc_url, "alice", "USD"), 900);

    members[1] = None;
    members[3] = None;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let back = transfer(
        &net,
        &members,
        &[
            "--from-chain",
            EVM_CHAIN,
            "--to-chain",
            "dev-a",
            "--key",
            "carol",
            "--to",
            "alice",
            "--asset",
            "WUSD",
            "--amount",
            "40",
        ],
    );
    println!("anvil -> devchain released after {} ms", back["elapsed_ms"]);
    assert_eq!(wusd_balance(&net, &carol).await, 60);
    assert_eq!(net.balance(&a.rpc_url, "alice", "USD"), 940);
    drop(deployer);
}
