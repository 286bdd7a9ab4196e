//! `causeway demo --evm`: a devchain node and a real anvil with CausewayHTLC, an OpenZeppelin
//! ERC-20 and CausewayBridge deployed; a notary transfer devchain -> anvil through a 2-of-3
//! committee, then a swap between them.

use std::path::Path;

use anyhow::Result;
use causeway_core::{AssetId, ChainId};

use serde_json::json;

use super::{committee, devchains, short, swap_usd_for_gold, Accounts, Timeline, Workdir};
use crate::keystore::Keystore;
use crate::launch::evm::{deploy_evm, evm_table, import_anvil_key, AnvilProcess, EvmTable};
use crate::launch::{devchain_table, run_cli_json, start_relay_with, Process};

/// anvil's default EIP-155 chain id.
const EVM_CHAIN_ID: u64 = 31337;
/// One block a second, as on a typical consortium EVM chain (automine would stall finality).
const ANVIL_BLOCK_TIME_S: u64 = 1;
/// Blocks on top before the relays treat an anvil block as final.
const CONFIRMATIONS: u64 = 1;
/// Indices into anvil's dev accounts.
const DEPLOYER: usize = 0;
const ALICE_EVM: usize = 1;
const BOB_EVM: usize = 2;
/// What each committee member's anvil account is given for gas: 100 ETH, in wei (hex).
const MEMBER_WEI: &str = "0x56BC75E2D63100000";

/// Runs the demo with `anvil`; returns the processes it started, in the order to stop them.
pub(super) async fn run(t: &mut Timeline, w: &Workdir, anvil: &Path) -> Result<Vec<Process>> {
    let keystore = Keystore::open(&w.keys);
    let alice = keystore.create("alice")?;
    let bob = keystore.create("bob")?;
    import_anvil_key(&keystore, "deployer", DEPLOYER)?;
    let alice_evm = import_anvil_key(&keystore, "alice-evm", ALICE_EVM)?;
    let bob_evm = import_anvil_key(&keystore, "bob-evm", BOB_EVM)?;
    t.step(format!(
        "keys: alice {} (devchain) and {} (EVM), bob {} and {}",
        short(alice.address().as_str()),
        alice_evm.address,
        short(bob.address().as_str()),
        bob_evm.address
    ));

    let dev = ChainId::new("devchain-a")?;
    let evm = ChainId::new("anvil")?;
    let chain =
        AnvilProcess::start_with(anvil, &w.dir, EVM_CHAIN_ID, Some(ANVIL_BLOCK_TIME_S)).await?;
    t.step(format!(
        "anvil up as chain {evm} (EVM chain id {EVM_CHAIN_ID}) at {} ({})",
        chain.rpc_url,
        anvil.display()
    ));
    let mint = [(&alice_evm.address, 1_000_000), (&bob_evm.address, 1000)];
    let deployed = deploy_evm(&w.bin, &w.keys, &chain.rpc_url, "deployer", &mint)?;
    t.step(format!(
        "deployed CausewayHTLC at {} and an OpenZeppelin ERC-20 (USD) at {}; minted alice \
         1000000 USD, bob 1000",
        deployed.htlc, deployed.token
    ));

    // The notary committee: each member pays for its anvil transactions with its own key.
    for n in 1..=committee::MEMBERS {
        let key = keystore.create_secp256k1(&format!("member-{n}-evm"))?;
        chain
            .rpc(
                "anvil_setBalance",
                vec![json!(key.address), json!(MEMBER_WEI)],
            )
            .await?;
    }
    let url_a = devchains::local_url()?;
    let routes = [
        (dev.as_str(), evm.as_str(), "GOLD"),
        (evm.as_str(), dev.as_str(), "WGOLD"),
    ];
    let member_chains = |n: usize, bridge: Option<&serde_json::Value>| -> Result<String> {
        let mut table = EvmTable::new(
            evm.as_str(),
            &chain,
            &format!("member-{n}-evm"),
            CONFIRMATIONS,
        );
        if let Some(b) = bridge {
            table.bridge = b["address"].as_str().map(str::to_string);
            table.routes = vec![("WGOLD".into(), dev.to_string(), "GOLD".into())];
            table.assets = vec![(
                "WGOLD".into(),
                b["assets"]["WGOLD"].as_str().unwrap_or_default().into(),
            )];
        }
        Ok(devchain_table(dev.as_str(), &url_a, &committee::member_key(w, n)?) + &table.toml())
    };
    let dkg = committee::keys_and_dkg(t, w, &routes, |n| member_chains(n, None))?;
    let bridge = run_cli_json(
        &w.bin,
        &w.keys,
        &[
            "evm",
            "deploy-bridge",
            "--rpc",
            &chain.rpc_url,
            "--key",
            "deployer",
            "--chain-id",
            evm.as_str(),
            "--committee-id",
            dkg["committee_id"].as_str().unwrap_or_default(),
            "--group-key",
            dkg["group_key"].as_str().unwrap_or_default(),
            "--asset",
            "WGOLD=wrapped",
        ],
    )?;
    t.step(format!(
        "deployed CausewayBridge at {} trusting the committee's key; it mints WGOLD at {}",
        bridge["address"].as_str().unwrap_or_default(),
        bridge["assets"]["WGOLD"].as_str().unwrap_or_default()
    ));
    committee::rewrite_chains(w, &routes, |n| member_chains(n, Some(&bridge)))?;
    let bridge_a = json!({"routes": [{"asset": "GOLD", "dest_chain": evm, "dest_asset": "WGOLD"}], "wrapped": []});
    let fund = ["bob=GOLD:1000000", "alice=GOLD:1000"];
    let node = devchains::start_with_bridge(w, &dev, &url_a, &fund, &dkg, &bridge_a).await?;
    t.step(format!("devchain {dev} up at {}", node.rpc_url));

    let usd = AssetId::new("USD")?;
    // One relay per party: each holds only its own keys, one per chain.
    let tables = |who: &str| {
        let key = format!("{who}-evm");
        devchain_table(dev.as_str(), &node.rpc_url, who)
            + &evm_table(
                evm.as_str(),
                &chain,
                &key,
                CONFIRMATIONS,
                &deployed,
                usd.as_str(),
            )
    };
    let alice_relay = start_relay_with(&w.bin, &w.dir, &w.keys, "alice", &tables("alice")).await?;
    t.step(format!("alice's relay up, API at {}", alice_relay.api_url));
    let bob_relay = start_relay_with(&w.bin, &w.dir, &w.keys, "bob", &tables("bob")).await?;
    t.step(format!("bob's relay up, API at {}", bob_relay.api_url));

    let members = committee::start(t, w).await?;
    committee::transfer(
        t,
        w,
        &members,
        &[
            "--from-chain",
            dev.as_str(),
            "--to-chain",
            evm.as_str(),
            "--key",
            "alice",
            "--to",
            alice_evm.address.as_str(),
            "--asset",
            "GOLD",
            "--amount",
            "100",
        ],
    )?;

    // USD is the ERC-20 on anvil; GOLD is native to devchain-a.
    let usd_accounts = Accounts {
        chain: evm,
        alice: alice_evm.address,
        bob: bob_evm.address,
    };
    let gold_accounts = Accounts {
        chain: dev,
        alice: alice.address(),
        bob: bob.address(),
    };
    let relays = [&alice_relay, &bob_relay];
    swap_usd_for_gold(t, relays, usd_accounts, gold_accounts).await?;
    let mut processes = committee::processes(members);
    processes.extend([
        bob_relay.process,
        alice_relay.process,
        chain.process,
        node.process,
    ]);
    Ok(processes)
}
