//! `causeway demo`: two devchain nodes and a relay per party as real processes on
//! loopback, then a transfer and an HTLC swap followed end to end, printed as a timeline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_adapters::devchain::DevchainAdapter;
use causeway_adapters::{Action, ChainAdapter, TxOutcome, TxState};
use causeway_core::{Amount, AssetId, ChainId, EventKind};
use clap::Args;

use super::Output;
use crate::api::{OfferRequest, RelayApiClient};
use crate::keystore::Keystore;
use crate::launch::{init_and_start, start_relay};

/// How long the demo waits for the relay to see the transfer.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Args)]
pub struct DemoArgs {
    /// Working directory for node homes, keys and logs (wiped first) [default: a temp dir].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

struct Timeline {
    started: Instant,
    json: bool,
    steps: Vec<serde_json::Value>,
}

impl Timeline {
    fn step(&mut self, what: String) {
        let ms = self.started.elapsed().as_millis() as u64;
        if !self.json {
            println!("[{:>7.3}s] {what}", ms as f64 / 1000.0);
        }
        self.steps
            .push(serde_json::json!({"at_ms": ms, "step": what}));
    }
}

pub async fn run(args: DemoArgs, out: Output) -> Result<()> {
    let temp;
    let dir = match args.dir {
        Some(d) => {
            let _ = std::fs::remove_dir_all(&d);
            d
        }
        None => {
            temp = tempdir()?;
            temp.clone()
        }
    };
    std::fs::create_dir_all(&dir)?;
    let bin = std::env::current_exe().context("cannot find the causeway binary")?;
    let mut t = Timeline {
        started: Instant::now(),
        json: out.json,
        steps: Vec::new(),
    };
    t.step(format!("working in {}", dir.display()));

    let keystore_dir = dir.join("keys");
    let keystore = Keystore::open(&keystore_dir);
    let alice = keystore.create("alice")?;
    let bob = keystore.create("bob")?;
    t.step(format!(
        "keys: alice {}, bob {}",
        short(&alice.address().to_string()),
        short(&bob.address().to_string())
    ));

    let dev_a = ChainId::new("devchain-a")?;
    let dev_b = ChainId::new("devchain-b")?;
    let node_a = init_and_start(
        &bin,
        &dir,
        &keystore_dir,
        &dev_a,
        &["alice=USD:1000000", "bob=USD:1000"],
    )
    .await?;
    t.step(format!("devchain {dev_a} up at {}", node_a.rpc_url));
    let node_b = init_and_start(
        &bin,
        &dir,
        &keystore_dir,
        &dev_b,
        &["bob=GOLD:1000000", "alice=GOLD:1000"],
    )
    .await?;
    t.step(format!("devchain {dev_b} up at {}", node_b.rpc_url));

    // One relay per party: each holds only its own keys.
    let alice_relay = start_relay(
        &bin,
        &dir,
        &keystore_dir,
        "alice",
        &[(&dev_a, &node_a.rpc_url), (&dev_b, &node_b.rpc_url)],
    )
    .await?;
    t.step(format!("alice's relay up, API at {}", alice_relay.api_url));
    let bob_relay = start_relay(
        &bin,
        &dir,
        &keystore_dir,
        "bob",
        &[(&dev_a, &node_a.rpc_url), (&dev_b, &node_b.rpc_url)],
    )
    .await?;
    t.step(format!("bob's relay up, API at {}", bob_relay.api_url));
    let relay = &alice_relay;

    let usd = AssetId::new("USD")?;
    let amount = Amount(250);
    let adapter = DevchainAdapter::new(dev_a.clone(), &node_a.rpc_url, Some(alice.key.clone()))?;
    let tx = adapter
        .submit(&Action::Transfer {
            to: bob.address(),
            asset: usd.clone(),
            amount,
        })
        .await?;
    t.step(format!(
        "alice sends {amount} USD to bob on {dev_a}: tx {}",
        short(&tx.id.to_string())
    ));
    match adapter.wait_final(&tx, Duration::from_secs(30)).await? {
        TxState::Final {
            height,
            outcome: TxOutcome::Success,
        } => t.step(format!("tx final at height {height}")),
        other => bail!("demo transfer did not succeed: {other:?}"),
    }
    let bob_usd = adapter.balance(&bob.address(), &usd).await?;
    t.step(format!("bob's USD balance on {dev_a}: {bob_usd}"));

    let api = relay.client();
    let followed_at = Instant::now();
    let event = loop {
        let events = RelayApiClient::events(&api, dev_a.clone(), Default::default(), 1000).await?;
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
            "relay followed the transfer of {amount} USD at position {}",
            event.position
        ));
    }
    let status = api.status().await?;
    for c in &status.chains {
        t.step(format!(
            "relay: {} finalized {} cursor {} lag {} block(s)",
            c.chain_id, c.finalized_height, c.cursor, c.lag_blocks
        ));
    }

    // The swap: alice gives 100 USD on devchain-a for bob's 50 GOLD on devchain-b.
    let offer = api
        .swap_offer(OfferRequest {
            give_chain: dev_a.clone(),
            give_asset: usd.clone(),
            give_amount: Amount(100),
            get_chain: dev_b.clone(),
            get_asset: AssetId::new("GOLD")?,
            get_amount: Amount(50),
            counterparty_on_give_chain: bob.address(),
            counterparty_on_get_chain: bob.address(),
            accept_window_ms: 30_000,
        })
        .await
        .context("alice's relay refused the swap offer")?;
    t.step(format!(
        "alice offers 100 USD on {dev_a} for 50 GOLD on {dev_b}: swap {} (offer {} chars)",
        short(&offer.swap_id),
        offer.offer.len()
    ));
    t.step(format!(
        "plan: bob must lock by {dev_b} time +{:.1}s; bob's lock expires {:.1}s before alice's",
        offer.status.accept_by.left_ms.unwrap_or(0) as f64 / 1000.0,
        (offer
            .terms
            .leg_a
            .expiry_ms
            .saturating_sub(offer.terms.leg_b.expiry_ms)) as f64
            / 1000.0
    ));
    let bob_api = bob_relay.client();
    bob_api
        .swap_accept(offer.offer.clone())
        .await
        .context("bob's relay refused the offer")?;
    t.step("bob accepts the offer on his relay".into());
    let mut shown = (0usize, 0usize);
    let swap_started = Instant::now();
    loop {
        let a = api.swap_status(offer.swap_id.clone()).await?;
        let b = bob_api.swap_status(offer.swap_id.clone()).await?;
        for e in a.timeline.iter().skip(shown.0) {
            t.step(format!("alice's relay: {}", e.text));
        }
        for e in b.timeline.iter().skip(shown.1) {
            t.step(format!("bob's relay:   {}", e.text));
        }
        shown = (a.timeline.len(), b.timeline.len());
        if a.status.outcome.is_some() && b.status.outcome.is_some() {
            break;
        }
        if swap_started.elapsed() > FOLLOW_TIMEOUT * 4 {
            bail!("the swap did not finish within {:?}", FOLLOW_TIMEOUT * 4);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let gold = AssetId::new("GOLD")?;
    let b_adapter = DevchainAdapter::new(dev_b.clone(), &node_b.rpc_url, None)?;
    t.step(format!(
        "balances: alice {} USD on {dev_a}, {} GOLD on {dev_b}; bob {} USD, {} GOLD",
        adapter.balance(&alice.address(), &usd).await?,
        b_adapter.balance(&alice.address(), &gold).await?,
        adapter.balance(&bob.address(), &usd).await?,
        b_adapter.balance(&bob.address(), &gold).await?,
    ));

    drop(api);
    drop(bob_api);
    let mut relay = alice_relay;
    let mut bob_relay = bob_relay;
    let mut node_a = node_a;
    let mut node_b = node_b;
    bob_relay.process.terminate(Duration::from_secs(10))?;
    relay.process.terminate(Duration::from_secs(10))?;
    node_a.process.terminate(Duration::from_secs(10))?;
    node_b.process.terminate(Duration::from_secs(10))?;
    t.step("relays and nodes stopped cleanly (SIGTERM)".into());
    if out.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"ok": true, "timeline": t.steps}))?
        );
    } else {
        println!("demo complete; logs in {}", dir.display());
    }
    Ok(())
}

fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("causeway-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn short(s: &str) -> String {
    if s.len() > 12 {
        format!("{}…", &s[..12])
    } else {
        s.to_string()
    }
}
