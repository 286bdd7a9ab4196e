//! Notary transfers between devchain and a real anvil (issue 5): the committee's five relay
//! processes follow both chains, the Solidity bridge verifies the FROST group signature
//! on-chain and mints a wrapped token, and the way back releases devchain's vault.

use std::time::Duration;

use causeway_core::{Address, AssetId};
use causeway_e2e::{devchain_table, free_port, AnvilProcess, DevchainProcess, Net};
use causeway_relay::config::RelayConfig;
use causeway_relay::keystore::Keystore;
use causeway_relay::launch::committee::{self, MemberProcess};
use serde_json::{json, Value};

const N: usize = 5;
const EVM_CHAIN: &str = "evm-b";

/// Member `i`'s `[[chain]]` table for anvil, with the bridge once it is deployed.
fn evm_table(i: usize, anvil: &AnvilProcess, bridge: Option<&Value>) -> String {
    let mut text = format!(
        "\n[[chain]]\nid = \"{EVM_CHAIN}\"\nkind = \"evm\"\nendpoint = \"{}\"\npoll_interval_ms = 50\nkey = \"e{i}\"\n\
         [chain.evm]\nevm_chain_id = {}\nconfirmations = 0\nblock_time_ms = 1000\n",
        anvil.rpc_url, anvil.evm_chain_id
    );
    if let Some(b) = bridge {
        text.push_str(&format!(
            "bridge_contract = {}\n[[chain.evm.bridge_routes]]\nasset = \"WUSD\"\ndest_chain = \"dev-a\"\ndest_asset = \"USD\"\n\
             [chain.evm.assets]\nWUSD = {}\n",
            b["address"], b["assets"]["WUSD"]
        ));
    }
    text
}

fn settings() -> String {
    let mut text = String::from("batch_blocks = 1\nattempt_timeout_ms = 1500\nfallback_ms = 600\n");
    for (source, dest, asset) in [("dev-a", EVM_CHAIN, "USD"), (EVM_CHAIN, "dev-a", "WUSD")] {
        text.push_str(&format!(
            "\n[[notary.limit]]\nsource_chain = \"{source}\"\ndest_chain = \"{dest}\"\nasset = \"{asset}\"\nceiling = \"1000000\"\nwindow_ms = 3600000\n"
        ));
    }
    text
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
// 3-of-5 committee, the way back with two members down.
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
    let bridge = net
        .cli_ok(&[
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
            dkg[0]["committee_id"].as_str().unwrap(),
            "--group-key",
            dkg[0]["group_key"].as_str().unwrap(),
            "--wrapped",
            "WUSD",
        ])
        .json();
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
