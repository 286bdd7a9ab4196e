//! `causeway bench swaps`: atomic swaps between two devchain nodes through one relay per
//! party, each swap timed at three stages: offer accepted, initiator finished, both
//! finished; the participant's relay also reports its own reaction time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_core::{Address, Amount, AssetId, ChainId};
use clap::Args;
use jsonrpsee::http_client::HttpClient;
use tokio::sync::Semaphore;

use super::report::Sample;
use super::swap_feed::{Finished, SwapFeed};
use super::{cpu_between, ms, status_poll, usage_of, work_dir, Pacer, Run};
use crate::api::{OfferRequest, RelayApiClient};
use crate::cli::Output;
use crate::keystore::Keystore;
use crate::launch::{init_and_start, start_relay, RelayProcess};

/// A swap's stages, each timed from its offer request.
pub const STAGES: [&str; 3] = ["offer accepted", "initiator finished", "both finished"];
/// What the participant's relay measures (specs/htlc.md §8.1, reaction time).
pub const REACTION: &str = "preimage revealed (block time) -> claim broadcast";

/// Longest a single swap may take before the run is declared failed.
const SWAP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a finished swap's reaction figure is waited for.
const REACTION_WAIT: Duration = Duration::from_secs(10);
/// Most swaps one run may drive (the relay's own bound is far higher).
pub const MAX_SWAPS: usize = 100_000;

#[derive(Args)]
pub struct SwapBenchArgs {
    #[arg(long, default_value_t = 50)]
    pub swaps: usize,
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Start at most this many swaps a second [default: as fast as --concurrency allows].
    #[arg(long, value_name = "PER_S")]
    pub rate: Option<f64>,
    /// Where to write the JSON report (report.json) and the latency plot (latency.svg).
    #[arg(long, value_name = "DIR", default_value = "bench-out")]
    pub out: std::path::PathBuf,
    /// Working directory (wiped first) [default: a temp dir].
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

/// The two parties' relays and what they swap: alice gives USD on `give`, bob GOLD on `get`.
#[derive(Clone)]
pub struct Parties {
    pub alice: Party,
    pub bob: Party,
    pub bob_address: Address,
    pub give: ChainId,
    pub get: ChainId,
}

/// One party's relay: its API, and the swap changes it pushes.
#[derive(Clone)]
pub struct Party {
    pub api: HttpClient,
    pub feed: Arc<SwapFeed>,
}

impl Party {
    pub async fn of(relay: &RelayProcess) -> Result<Party> {
        Ok(Party {
            api: relay.client(),
            feed: Arc::new(SwapFeed::connect(&relay.api_url).await?),
        })
    }

    /// How the swap ended for this party: pushed by its relay, or, if the feed ended,
    /// polled every `poll` until `deadline`.
    async fn finished(&self, swap_id: &str, deadline: Instant, poll: Duration) -> Result<Finished> {
        let pushed = tokio::time::timeout_at(deadline.into(), self.feed.finished(swap_id)).await;
        match pushed {
            Ok(Some(done)) => return Ok(done),
            Err(_) => bail!("swap {swap_id} did not finish within {SWAP_TIMEOUT:?}"),
            Ok(None) => {}
        }
        loop {
            let view = self.api.swap_status(swap_id.to_string()).await?;
            if let Some(outcome) = view.status.outcome {
                return Ok(Finished {
                    outcome,
                    claim_reaction_ms: view.claim_reaction_ms,
                });
            }
            if Instant::now() > deadline {
                bail!("swap {swap_id} did not finish within {SWAP_TIMEOUT:?}");
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// What the swaps of a run measured.
pub struct Driven {
    pub samples: Vec<Sample>,
    pub reactions: Vec<f64>,
    pub elapsed_s: f64,
}

pub async fn run(args: SwapBenchArgs, out: Output) -> Result<()> {
    check(args.swaps, args.concurrency, args.rate, "")?;
    let dir = work_dir(args.dir.as_deref(), "swaps")?;
    let bin = std::env::current_exe().context("cannot find the causeway binary")?;
    let keys = dir.join("keys");
    let ks = Keystore::open(&keys);
    ks.create("alice")?;
    let bob = ks.create("bob")?;
    let (a, b) = (ChainId::new("bench-a")?, ChainId::new("bench-b")?);
    let node_a = init_and_start(&bin, &dir, &keys, &a, &["alice=USD:1000000000"]).await?;
    let node_b = init_and_start(&bin, &dir, &keys, &b, &["bob=GOLD:1000000000"]).await?;
    let chains = [(&a, node_a.rpc_url.as_str()), (&b, node_b.rpc_url.as_str())];
    let alice_relay = start_relay(&bin, &dir, &keys, "alice", &chains).await?;
    let bob_relay = start_relay(&bin, &dir, &keys, "bob", &chains).await?;
    if !out.json {
        println!(
            "driving {} swaps, {} at a time{}, between {a} and {b} (2 devchain nodes, 2 relays); the relays push each swap's changes",
            args.swaps,
            args.concurrency,
            rate_text(args.rate),
        );
    }
    let parties = Parties {
        alice: Party::of(&alice_relay).await?,
        bob: Party::of(&bob_relay).await?,
        bob_address: bob.address(),
        give: a.clone(),
        get: b.clone(),
    };
    // Relays before the nodes they follow; each measured just before it is stopped.
    let labels = [
        "relay alice".to_string(),
        "relay bob".to_string(),
        format!("devchain node {a}"),
        format!("devchain node {b}"),
    ];
    let usage = || {
        usage_of(labels.iter().cloned().zip([
            &alice_relay.process,
            &bob_relay.process,
            &node_a.process,
            &node_b.process,
        ]))
    };
    let cpu_at_start = usage();
    let driven = drive(parties, args.swaps, args.concurrency, Pacer::new(args.rate)).await?;
    let load_cpu = cpu_between(&cpu_at_start, &usage());
    let processes = labels.clone().into_iter().zip([
        alice_relay.process,
        bob_relay.process,
        node_a.process,
        node_b.process,
    ]);
    let run = Run {
        what: "swaps",
        stages: &STAGES,
        concurrency: args.concurrency,
        rate: args.rate,
        elapsed_s: driven.elapsed_s,
        out_dir: &args.out,
        work_dir: &dir,
        measured: vec![(REACTION, driven.reactions)],
        in_flight: None,
        load_cpu,
    };
    run.finish(driven.samples, processes.collect(), out)
}

/// The swap options every run checks the same way; `flags` prefixes the concurrency and
/// rate flags' names (`swap-` in `bench mix`), so the error names the flag given.
pub fn check(swaps: usize, concurrency: usize, rate: Option<f64>, flags: &str) -> Result<()> {
    if swaps == 0 || swaps > MAX_SWAPS || concurrency == 0 {
        bail!("--swaps must be 1..={MAX_SWAPS} and --{flags}concurrency at least 1");
    }
    super::check_rate(&format!("--{flags}rate"), rate)
}

pub fn rate_text(rate: Option<f64>) -> String {
    rate.map(|r| format!(" at most {r}/s")).unwrap_or_default()
}

/// Completes `count` swaps, `concurrency` at a time, started no faster than `pacer` allows.
pub async fn drive(
    parties: Parties,
    count: usize,
    concurrency: usize,
    pacer: Arc<Pacer>,
) -> Result<Driven> {
    let poll = status_poll(concurrency);
    let slots = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let permit = slots.clone().acquire_owned().await?;
        pacer.wait().await;
        let parties = parties.clone();
        tasks.push(tokio::spawn(async move {
            let (sample, swap_id, reaction) = one_swap(&parties, started, poll).await?;
            drop(permit);
            let reaction = reaction_of(&parties.bob, swap_id, reaction, poll).await?;
            Ok::<_, anyhow::Error>((sample, reaction))
        }));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    let mut reactions = Vec::with_capacity(tasks.len());
    for t in tasks {
        let (sample, reaction) = t.await??;
        samples.push(sample);
        reactions.extend(reaction);
    }
    Ok(Driven {
        samples,
        reactions,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// One swap from offer to both parties finished: its timings, its id, and the participant
/// relay's reaction time if it has written it yet.
async fn one_swap(
    parties: &Parties,
    started: Instant,
    poll: Duration,
) -> Result<(Sample, String, Option<u64>)> {
    let request = OfferRequest {
        give_chain: parties.give.clone(),
        give_asset: AssetId::new("USD")?,
        give_amount: Amount(1),
        get_chain: parties.get.clone(),
        get_asset: AssetId::new("GOLD")?,
        get_amount: Amount(1),
        counterparty_on_give_chain: parties.bob_address.clone(),
        counterparty_on_get_chain: parties.bob_address.clone(),
        accept_window_ms: 60_000,
    };
    let (alice, bob) = (&parties.alice, &parties.bob);
    let t0 = Instant::now();
    let deadline = t0 + SWAP_TIMEOUT;
    let start_s = started.elapsed().as_secs_f64();
    let view = alice.api.swap_offer(request).await?;
    bob.api.swap_accept(view.offer.clone()).await?;
    let accepted = t0.elapsed();
    let a = alice.finished(&view.swap_id, deadline, poll).await?;
    if a.outcome != causeway_htlc::SwapOutcome::Swapped {
        bail!(
            "swap {} ended {} for the initiator",
            view.swap_id,
            a.outcome
        );
    }
    let initiator_done = t0.elapsed();
    let b = bob.finished(&view.swap_id, deadline, poll).await?;
    let sample = Sample {
        start_s,
        stages_ms: vec![ms(accepted), ms(initiator_done), ms(t0.elapsed())],
    };
    Ok((sample, view.swap_id, b.claim_reaction_ms))
}

/// The claim's event can finish the swap before the executor reports the claim's
/// broadcast, which is when the relay writes its reaction figure: wait a little for it.
async fn reaction_of(
    bob: &Party,
    swap_id: String,
    mut reaction: Option<u64>,
    poll: Duration,
) -> Result<Option<f64>> {
    let asked = Instant::now();
    while reaction.is_none() && asked.elapsed() < REACTION_WAIT {
        tokio::time::sleep(poll).await;
        reaction = match bob.feed.reaction(&swap_id) {
            Some(pushed) => Some(pushed),
            None => {
                bob.api
                    .swap_status(swap_id.clone())
                    .await?
                    .claim_reaction_ms
            }
        };
    }
    Ok(reaction.map(|r| r as f64))
}
