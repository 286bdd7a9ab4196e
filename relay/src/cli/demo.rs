//! `causeway demo`: devchain nodes (and with `--evm`, a real anvil) and a relay per party as
//! real processes on loopback, then a transfer and an HTLC swap followed end to end, printed
//! as a timeline.

mod anvil;
mod committee;
mod devchains;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_core::{Address, Amount, AssetId, ChainId};
use causeway_htlc::SwapOutcome;
use clap::Args;

use super::Output;
use crate::api::{OfferRequest, RelayApiClient};
use crate::launch::{Process, RelayProcess};

/// How long the demo waits for a relay to see a transfer.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the swap may take from offer to both relays finishing.
const SWAP_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the relays are asked for news of the swap.
const SWAP_POLL: Duration = Duration::from_millis(50);
/// How long each process gets to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a bid stays open for the counterparty to accept.
const ACCEPT_WINDOW_MS: u64 = 30_000;

#[derive(Args)]
pub struct DemoArgs {
    /// Working directory for node homes, keys and logs (wiped first) [default: a temp dir].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Swap between a devchain node and a real anvil (EVM) chain, with Causeway's HTLC and an
    /// OpenZeppelin ERC-20 deployed on it. Needs `bash scripts/setup-evm.sh` once.
    #[arg(long)]
    pub evm: bool,
    /// The anvil binary for --evm [default: node_modules/.bin/anvil of the Causeway
    /// repository, looked for from the current directory and the binary's directory upward,
    /// or $CAUSEWAY_ANVIL].
    #[arg(long, value_name = "PATH", requires = "evm")]
    pub anvil: Option<PathBuf>,
}

/// What the demo prints, step by step, with the time since it started.
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

/// Where the demo runs: its directory, the `causeway` binary, and the keystore in it.
struct Workdir {
    dir: PathBuf,
    bin: PathBuf,
    keys: PathBuf,
}

pub async fn run(args: DemoArgs, out: Output) -> Result<()> {
    // Before anything starts, so a missing install costs nothing to find out.
    let anvil = match args.evm {
        true => Some(crate::launch::evm::find_anvil(args.anvil.as_deref())?),
        false => None,
    };
    let dir = workdir(args.dir)?;
    let w = Workdir {
        bin: std::env::current_exe().context("cannot find the causeway binary")?,
        keys: dir.join("keys"),
        dir,
    };
    let mut t = Timeline {
        started: Instant::now(),
        json: out.json,
        steps: Vec::new(),
    };
    t.step(format!("working in {}", w.dir.display()));
    let processes = match anvil {
        Some(anvil) => anvil::run(&mut t, &w, &anvil).await?,
        None => devchains::run(&mut t, &w).await?,
    };
    stop(&mut t, processes)?;
    if out.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"ok": true, "timeline": t.steps}))?
        );
    } else {
        println!("demo complete; logs in {}", w.dir.display());
    }
    Ok(())
}

/// `dir` wiped and created, or a fresh temp dir; absolute, since the relays' configs name it.
fn workdir(dir: Option<PathBuf>) -> Result<PathBuf> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("causeway-demo-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the demo directory {}", dir.display()))?;
    Ok(std::path::absolute(&dir)?)
}

/// SIGTERM to each process in order (relays before the chains they follow).
fn stop(t: &mut Timeline, processes: Vec<Process>) -> Result<()> {
    for mut p in processes {
        p.terminate(STOP_TIMEOUT)?;
    }
    t.step("relays and chains stopped cleanly (SIGTERM)".into());
    Ok(())
}

/// A chain and each party's account on it.
struct Accounts {
    chain: ChainId,
    alice: Address,
    bob: Address,
}

/// One side of a swap: what moves, on which chain, between which accounts.
struct Leg {
    asset: AssetId,
    amount: Amount,
    on: Accounts,
}

/// The demo's swap: alice gives 100 USD on `usd`'s chain for bob's 50 GOLD on `gold`'s.
async fn swap_usd_for_gold(
    t: &mut Timeline,
    relays: [&RelayProcess; 2],
    usd: Accounts,
    gold: Accounts,
) -> Result<()> {
    let give = Leg {
        asset: AssetId::new("USD")?,
        amount: Amount(100),
        on: usd,
    };
    let get = Leg {
        asset: AssetId::new("GOLD")?,
        amount: Amount(50),
        on: gold,
    };
    swap(t, relays, &give, &get).await
}

/// Alice offers `give` for `get` on her relay, bob accepts on his, and both relays' timelines
/// are printed until each reports the swap finished; fails unless both swapped.
async fn swap(t: &mut Timeline, relays: [&RelayProcess; 2], give: &Leg, get: &Leg) -> Result<()> {
    let [alice_relay, bob_relay] = relays;
    let (alice, bob) = (alice_relay.client(), bob_relay.client());
    let offer = alice
        .swap_offer(OfferRequest {
            give_chain: give.on.chain.clone(),
            give_asset: give.asset.clone(),
            give_amount: give.amount,
            get_chain: get.on.chain.clone(),
            get_asset: get.asset.clone(),
            get_amount: get.amount,
            counterparty_on_give_chain: give.on.bob.clone(),
            counterparty_on_get_chain: get.on.bob.clone(),
            accept_window_ms: ACCEPT_WINDOW_MS,
        })
        .await
        .context("alice's relay refused the swap offer")?;
    t.step(format!(
        "alice offers {} {} on {} for {} {} on {}: swap {} (offer {} chars)",
        give.amount,
        give.asset,
        give.on.chain,
        get.amount,
        get.asset,
        get.on.chain,
        short(&offer.swap_id),
        offer.offer.len()
    ));
    t.step(format!(
        "plan: bob must lock by {} time +{:.1}s; bob's lock expires {:.1}s before alice's",
        get.on.chain,
        offer.status.accept_by.left_ms.unwrap_or(0) as f64 / 1000.0,
        (offer
            .terms
            .leg_a
            .expiry_ms
            .saturating_sub(offer.terms.leg_b.expiry_ms)) as f64
            / 1000.0
    ));
    bob.swap_accept(offer.offer.clone())
        .await
        .context("bob's relay refused the offer")?;
    t.step("bob accepts the offer on his relay".into());
    let mut shown = (0usize, 0usize);
    let started = Instant::now();
    let outcomes = loop {
        let a = alice.swap_status(offer.swap_id.clone()).await?;
        let b = bob.swap_status(offer.swap_id.clone()).await?;
        for e in a.timeline.iter().skip(shown.0) {
            t.step(format!("alice's relay: {}", e.text));
        }
        for e in b.timeline.iter().skip(shown.1) {
            t.step(format!("bob's relay:   {}", e.text));
        }
        shown = (a.timeline.len(), b.timeline.len());
        if let (Some(a), Some(b)) = (a.status.outcome, b.status.outcome) {
            break (a, b);
        }
        if started.elapsed() > SWAP_TIMEOUT {
            bail!(
                "swap {} did not finish within {SWAP_TIMEOUT:?}; the relays' logs are {} and {}",
                offer.swap_id,
                alice_relay.process.log.display(),
                bob_relay.process.log.display()
            );
        }
        tokio::time::sleep(SWAP_POLL).await;
    };
    if outcomes != (SwapOutcome::Swapped, SwapOutcome::Swapped) {
        bail!(
            "swap {} ended {} for alice and {} for bob, not swapped",
            offer.swap_id,
            outcomes.0,
            outcomes.1
        );
    }
    t.step(format!(
        "swap complete: both relays report swap {} swapped",
        short(&offer.swap_id)
    ));
    balances(t, alice_relay, give, get).await
}

/// Both parties' balances of both legs' assets, read through alice's relay's adapters.
async fn balances(t: &mut Timeline, relay: &RelayProcess, give: &Leg, get: &Leg) -> Result<()> {
    let adapters = relay.adapters()?;
    let mut line = Vec::new();
    for (who, bob) in [("alice", false), ("bob", true)] {
        let mut held = Vec::new();
        for leg in [give, get] {
            let adapter = adapters
                .get(&leg.on.chain)
                .with_context(|| format!("alice's relay does not follow {}", leg.on.chain))?;
            let account = if bob { &leg.on.bob } else { &leg.on.alice };
            let amount = adapter.balance(account, &leg.asset).await?;
            held.push(format!("{amount} {} on {}", leg.asset, leg.on.chain));
        }
        line.push(format!("{who} {}", held.join(", ")));
    }
    t.step(format!("balances: {}", line.join("; ")));
    Ok(())
}

fn short(s: &str) -> String {
    match s.char_indices().nth(12) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_string(),
    }
}
