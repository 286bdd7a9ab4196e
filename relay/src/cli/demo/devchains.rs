//! The default demo: two devchain nodes, a transfer the relay follows, a notary transfer
//! through a 2-of-3 committee, then a swap.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_adapters::{Action, TxOutcome, TxState};
use causeway_core::{Amount, AssetId, ChainId, EventKind};

use super::{committee, short, swap_usd_for_gold, Accounts, Timeline, Workdir, FOLLOW_TIMEOUT};
use crate::api::RelayApiClient;
use crate::keystore::Keystore;
use crate::launch::{
    self, devchain_table, free_port, init_devchain_with, start_relay, DevchainProcess, Process,
    RelayProcess,
};
use serde_json::json;

/// How long the demo transfer may take to become final.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(30);
/// Most events read from the relay per page while looking for the transfer.
const EVENTS_PAGE: u32 = 1000;

/// Runs the demo; returns the processes it started, in the order to stop them.
pub(super) async fn run(t: &mut Timeline, w: &Workdir) -> Result<Vec<Process>> {
    let keystore = Keystore::open(&w.keys);
    let alice = keystore.create("alice")?;
    let bob = keystore.create("bob")?;
    t.step(format!(
        "keys: alice {}, bob {}",
        short(alice.address().as_str()),
        short(bob.address().as_str())
    ));

    let dev_a = ChainId::new("devchain-a")?;
    let dev_b = ChainId::new("devchain-b")?;
    let (url_a, url_b) = (local_url()?, local_url()?);
    // The committee's key comes first: each chain's bridge is configured with it at genesis.
    let routes = [(dev_a.as_str(), dev_b.as_str(), "USD")];
    let dkg = committee::keys_and_dkg(t, w, &routes, |n| {
        let key = committee::member_key(w, n)?;
        Ok(devchain_table(dev_a.as_str(), &url_a, &key)
            + &devchain_table(dev_b.as_str(), &url_b, &key))
    })?;
    let bridge_a = json!({"routes": [{"asset": "USD", "dest_chain": dev_b, "dest_asset": "WUSD"}], "wrapped": []});
    let bridge_b = json!({
        "routes": [{"asset": "WUSD", "dest_chain": dev_a, "dest_asset": "USD"}],
        "wrapped": [{"asset": "WUSD", "origin_chain": dev_a, "origin_asset": "USD"}],
    });
    let fund_a = ["alice=USD:1000000", "bob=USD:1000"];
    let node_a = start_with_bridge(w, &dev_a, &url_a, &fund_a, &dkg, &bridge_a).await?;
    t.step(format!("devchain {dev_a} up at {}", node_a.rpc_url));
    let fund_b = ["bob=GOLD:1000000", "alice=GOLD:1000"];
    let node_b = start_with_bridge(w, &dev_b, &url_b, &fund_b, &dkg, &bridge_b).await?;
    t.step(format!("devchain {dev_b} up at {}", node_b.rpc_url));

    // One relay per party: each holds only its own keys.
    let chains = [
        (&dev_a, node_a.rpc_url.as_str()),
        (&dev_b, node_b.rpc_url.as_str()),
    ];
    let alice_relay = start_relay(&w.bin, &w.dir, &w.keys, "alice", &chains).await?;
    t.step(format!("alice's relay up, API at {}", alice_relay.api_url));
    let bob_relay = start_relay(&w.bin, &w.dir, &w.keys, "bob", &chains).await?;
    t.step(format!("bob's relay up, API at {}", bob_relay.api_url));

    let usd = AssetId::new("USD")?;
    transfer(t, &alice_relay, &dev_a, &usd, &bob.address()).await?;

    let members = committee::start(t, w).await?;
    committee::transfer(
        t,
        w,
        &members,
        &[
            "--from-chain",
            dev_a.as_str(),
            "--to-chain",
            dev_b.as_str(),
            "--key",
            "alice",
            "--to",
            "bob",
            "--asset",
            "USD",
            "--amount",
            "100",
        ],
    )?;

    let accounts = |chain| Accounts {
        chain,
        alice: alice.address(),
        bob: bob.address(),
    };
    let relays = [&alice_relay, &bob_relay];
    swap_usd_for_gold(t, relays, accounts(dev_a), accounts(dev_b)).await?;
    let mut processes = committee::processes(members);
    processes.extend([
        bob_relay.process,
        alice_relay.process,
        node_a.process,
        node_b.process,
    ]);
    Ok(processes)
}

/// A loopback URL on a port free a moment ago (the committee's configs need it before the
/// node starts).
pub(super) fn local_url() -> Result<String> {
    Ok(format!("http://127.0.0.1:{}", free_port()?))
}

/// Inits `chain` with `fund` and a bridge trusting the committee's key, and starts it on
/// `url`'s port.
pub(super) async fn start_with_bridge(
    w: &Workdir,
    chain: &ChainId,
    url: &str,
    fund: &[&str],
    dkg: &serde_json::Value,
    bridge: &serde_json::Value,
) -> Result<DevchainProcess> {
    let home = w.dir.join(chain.as_str());
    let file = w.dir.join(format!("bridge-{chain}.json"));
    launch::committee::write_bridge_config(&file, dkg, &bridge["routes"], &bridge["wrapped"])?;
    let file = file.to_str().context("demo directory is not UTF-8")?;
    init_devchain_with(&w.bin, &home, &w.keys, chain, fund, &["--bridge", file])?;
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    DevchainProcess::start(&w.bin, &home, port).await
}

/// Alice sends bob 250 `asset` on `chain` with her relay's key, and the relay is watched
/// until it has followed the transfer.
async fn transfer(
    t: &mut Timeline,
    alice_relay: &RelayProcess,
    chain: &ChainId,
    asset: &AssetId,
    to: &causeway_core::Address,
) -> Result<()> {
    let adapters = alice_relay.adapters()?;
    let adapter = adapters
        .get(chain)
        .with_context(|| format!("alice's relay does not follow {chain}"))?;
    let amount = Amount(250);
    let tx = adapter
        .submit(&Action::Transfer {
            to: to.clone(),
            asset: asset.clone(),
            amount,
        })
        .await?;
    t.step(format!(
        "alice sends {amount} {asset} to bob on {chain}: tx {}",
        short(&tx.id.to_string())
    ));
    match adapter.wait_final(&tx, TRANSFER_TIMEOUT).await? {
        TxState::Final {
            height,
            outcome: TxOutcome::Success,
        } => t.step(format!("tx final at height {height}")),
        other => bail!("demo transfer did not succeed: {other:?}"),
    }
    let balance = adapter.balance(to, asset).await?;
    t.step(format!("bob's {asset} balance on {chain}: {balance}"));

    let api = alice_relay.client();
    let followed_at = Instant::now();
    let event = loop {
        let events =
            RelayApiClient::events(&api, chain.clone(), Default::default(), EVENTS_PAGE).await?;
        if let Some(e) = events.into_iter().find(|e| e.tx_hash == tx.id) {
            break e;
        }
        if followed_at.elapsed() > FOLLOW_TIMEOUT {
            bail!("the relay did not see the transfer within {FOLLOW_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if let EventKind::Transfer { amount, .. } = &event.kind {
        t.step(format!(
            "relay followed the transfer of {amount} {asset} at position {}",
            event.position
        ));
    }
    for c in &api.status().await?.chains {
        t.step(format!(
            "relay: {} finalized {} cursor {} lag {} block(s)",
            c.chain_id, c.finalized_height, c.cursor, c.lag_blocks
        ));
    }
    Ok(())
}
