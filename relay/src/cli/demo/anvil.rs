//! `causeway demo --evm`: a devchain node and a real anvil with CausewayHTLC and an
//! OpenZeppelin ERC-20 deployed, then a swap between them.

use std::path::Path;

use anyhow::Result;
use causeway_core::{AssetId, ChainId};

use super::{short, swap_usd_for_gold, Accounts, Timeline, Workdir};
use crate::keystore::Keystore;
use crate::launch::evm::{deploy_evm, evm_table, import_anvil_key, AnvilProcess};
use crate::launch::{devchain_table, init_and_start, start_relay_with, Process};

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
    let node = init_and_start(
        &w.bin,
        &w.dir,
        &w.keys,
        &dev,
        &["bob=GOLD:1000000", "alice=GOLD:1000"],
    )
    .await?;
    t.step(format!("devchain {dev} up at {}", node.rpc_url));
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

    // Seam for the notary transfer devchain -> anvil (issue 5, added by the lead): it goes
    // here, between the relays coming up and the swap, as `transfer` does in devchains.rs.

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
    Ok(vec![
        bob_relay.process,
        alice_relay.process,
        chain.process,
        node.process,
    ])
}
