//! `causeway bench`: a load tool that starts real processes on loopback (two devchain nodes,
//! one relay per party) and drives swaps through them, reporting throughput and latency
//! percentiles, and each process's CPU time and peak memory; it writes the report as JSON
//! and a latency plot (SVG) to `--out`.

mod plot;
mod report;
mod transfers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_core::{Amount, AssetId, ChainId};
use clap::{Args, Subcommand};
use tokio::sync::Semaphore;

use super::Output;
use crate::api::{OfferRequest, RelayApiClient};
use crate::keystore::Keystore;
use crate::launch::usage::ProcessUsage;
use crate::launch::{init_and_start, start_relay, Process};
use report::{LoadReport, Sample};

/// A swap's stages, each timed from its offer request.
const SWAP_STAGES: [&str; 3] = ["offer accepted", "initiator finished", "both finished"];
/// What the participant's relay measures (specs/htlc.md §8.1, reaction time).
const REACTION: &str = "preimage revealed (block time) -> claim broadcast";

/// Longest a single swap may take before the run is declared failed.
const SWAP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a finished swap's reaction figure is waited for.
const REACTION_WAIT: Duration = Duration::from_secs(10);
/// Most swaps one run may drive (the relay's own bound is far higher).
const MAX_SWAPS: usize = 100_000;
/// Coarse enough not to load the relays it measures; it is the latency's resolution.
const STATUS_POLL: Duration = Duration::from_millis(50);
/// Status requests per second the load tool allows itself per relay: with many swaps in
/// flight each polls less often (see [`status_poll`]).
const STATUS_REQUESTS_PER_S: f64 = 2_000.0;
/// How long each process gets to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Complete N atomic swaps between two devchains, C at a time, through two relays.
    Swaps(SwapBenchArgs),
    /// Move N notary transfers between two devchains through a t-of-n committee of relay
    /// processes, from C sending accounts.
    Transfers(transfers::TransferBenchArgs),
}

#[derive(Args)]
pub struct SwapBenchArgs {
    #[arg(long, default_value_t = 50)]
    pub swaps: usize,
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Where to write the JSON report (report.json) and the latency plot (latency.svg).
    #[arg(long, value_name = "DIR", default_value = "bench-out")]
    pub out: PathBuf,
    /// Working directory (wiped first) [default: a temp dir].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub async fn run(cmd: BenchCommand, out: Output) -> Result<()> {
    match cmd {
        BenchCommand::Swaps(args) => swaps(args, out).await,
        BenchCommand::Transfers(args) => transfers::run(args, out).await,
    }
}

async fn swaps(args: SwapBenchArgs, out: Output) -> Result<()> {
    if args.swaps == 0 || args.swaps > MAX_SWAPS || args.concurrency == 0 {
        bail!("--swaps must be 1..={MAX_SWAPS} and --concurrency at least 1");
    }
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
    let (alice_api, bob_api) = (alice_relay.client(), bob_relay.client());
    let poll = status_poll(args.concurrency);
    if !out.json {
        println!(
            "driving {} swaps, {} at a time, between {a} and {b} (2 devchain nodes, 2 relays); each swap's status is polled every {} ms",
            args.swaps, args.concurrency, poll.as_millis()
        );
    }

    let slots = Arc::new(Semaphore::new(args.concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.swaps);
    for _ in 0..args.swaps {
        let permit = slots.clone().acquire_owned().await?;
        let (alice_api, bob_api) = (alice_api.clone(), bob_api.clone());
        let request = OfferRequest {
            give_chain: a.clone(),
            give_asset: AssetId::new("USD")?,
            give_amount: Amount(1),
            get_chain: b.clone(),
            get_asset: AssetId::new("GOLD")?,
            get_amount: Amount(1),
            counterparty_on_give_chain: bob.address(),
            counterparty_on_get_chain: bob.address(),
            accept_window_ms: 60_000,
        };
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let start_s = started.elapsed().as_secs_f64();
            let view = alice_api.swap_offer(request).await?;
            bob_api.swap_accept(view.offer.clone()).await?;
            let accepted = t0.elapsed();
            let mut initiator_done = None;
            loop {
                if initiator_done.is_none() {
                    let a = alice_api.swap_status(view.swap_id.clone()).await?;
                    if let Some(o) = a.status.outcome {
                        if o != causeway_htlc::SwapOutcome::Swapped {
                            bail!("swap {} ended {o} for the initiator", view.swap_id);
                        }
                        initiator_done = Some(t0.elapsed());
                    }
                }
                if initiator_done.is_some() {
                    let b = bob_api.swap_status(view.swap_id.clone()).await?;
                    if b.status.outcome.is_some() {
                        drop(permit);
                        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                        let sample = Sample {
                            start_s,
                            stages_ms: vec![
                                ms(accepted),
                                ms(initiator_done.unwrap_or_default()),
                                ms(t0.elapsed()),
                            ],
                        };
                        // The claim's event can finish the swap before the executor reports
                        // the claim's broadcast, which is when the figure is written.
                        let mut reaction = b.claim_reaction_ms;
                        let asked = Instant::now();
                        while reaction.is_none() && asked.elapsed() < REACTION_WAIT {
                            tokio::time::sleep(poll).await;
                            reaction = bob_api
                                .swap_status(view.swap_id.clone())
                                .await?
                                .claim_reaction_ms;
                        }
                        return Ok::<_, anyhow::Error>((sample, reaction.map(|r| r as f64)));
                    }
                }
                if t0.elapsed() > SWAP_TIMEOUT {
                    bail!(
                        "swap {} did not finish within {SWAP_TIMEOUT:?}",
                        view.swap_id
                    );
                }
                tokio::time::sleep(poll).await;
            }
        }));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    let mut reactions = Vec::with_capacity(tasks.len());
    for t in tasks {
        let (sample, reaction) = t.await??;
        samples.push(sample);
        reactions.extend(reaction);
    }
    let elapsed = started.elapsed().as_secs_f64();
    drop((alice_api, bob_api));
    // Relays before the nodes they follow; each measured just before it is stopped.
    let processes = vec![
        ("relay alice".to_string(), alice_relay.process),
        ("relay bob".to_string(), bob_relay.process),
        (format!("devchain node {a}"), node_a.process),
        (format!("devchain node {b}"), node_b.process),
    ];
    let run = Run {
        what: "swaps",
        stages: &SWAP_STAGES,
        concurrency: args.concurrency,
        elapsed_s: elapsed,
        out_dir: &args.out,
        work_dir: &dir,
        measured: vec![(REACTION, reactions)],
    };
    run.finish(samples, processes, out)
}

/// How often each in-flight swap polls its status: [`STATUS_POLL`], or less often when that
/// would exceed [`STATUS_REQUESTS_PER_S`] per relay.
fn status_poll(concurrency: usize) -> Duration {
    STATUS_POLL.max(Duration::from_secs_f64(
        concurrency as f64 / STATUS_REQUESTS_PER_S,
    ))
}

/// What a finished load run reports.
struct Run<'a> {
    what: &'a str,
    stages: &'a [&'a str],
    concurrency: usize,
    elapsed_s: f64,
    out_dir: &'a std::path::Path,
    work_dir: &'a std::path::Path,
    /// Durations the processes measured, by name.
    measured: Vec<(&'a str, Vec<f64>)>,
}

impl Run<'_> {
    /// Stops and measures the processes, writes and prints the report, removes the work dir.
    fn finish(
        self,
        samples: Vec<Sample>,
        processes: Vec<(String, Process)>,
        out: Output,
    ) -> Result<()> {
        let processes = stop_measured(processes)?;
        let report = self.measured.into_iter().fold(
            LoadReport::new(
                self.what,
                self.stages,
                self.concurrency,
                self.elapsed_s,
                samples,
                processes,
                self.out_dir,
            ),
            |report, (name, samples)| report.with_measured(name, samples),
        );
        report.write()?;
        out.print(&report, || report.text());
        let _ = std::fs::remove_dir_all(self.work_dir);
        Ok(())
    }
}

/// The run's working directory: `dir` wiped, or a fresh temporary one.
fn work_dir(dir: Option<&std::path::Path>, what: &str) -> Result<PathBuf> {
    let dir = match dir {
        Some(d) => {
            let _ = std::fs::remove_dir_all(d);
            d.to_path_buf()
        }
        None => std::env::temp_dir().join(format!("causeway-bench-{what}-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create work directory {}", dir.display()))?;
    Ok(dir)
}

/// Each process's usage under its label, read just before SIGTERM (its /proc entry goes
/// when it exits).
fn stop_measured(
    processes: impl IntoIterator<Item = (String, Process)>,
) -> Result<Vec<ProcessUsage>> {
    processes
        .into_iter()
        .map(|(label, mut p)| {
            let usage = ProcessUsage {
                name: label,
                ..p.usage()
            };
            p.terminate(STOP_TIMEOUT)?;
            Ok(usage)
        })
        .collect()
}
