//! `causeway bench`: a load tool that starts real processes on loopback (two devchain nodes,
//! one relay per party) and drives swaps through them, reporting throughput and latency
//! percentiles, and each process's CPU time and peak memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_core::{Amount, AssetId, ChainId};
use clap::{Args, Subcommand};
use serde::Serialize;
use tokio::sync::Semaphore;

use super::Output;
use crate::api::{OfferRequest, RelayApiClient};
use crate::keystore::Keystore;
use crate::launch::{init_and_start, start_relay, Process};

/// Longest a single swap may take before the run is declared failed.
const SWAP_TIMEOUT: Duration = Duration::from_secs(120);
/// Most swaps one run may drive (the relay's own bound is far higher).
const MAX_SWAPS: usize = 100_000;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Complete N atomic swaps between two devchains, C at a time, through two relays.
    Swaps(SwapBenchArgs),
}

#[derive(Args)]
pub struct SwapBenchArgs {
    #[arg(long, default_value_t = 50)]
    pub swaps: usize,
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Write the report as JSON here too.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Working directory (wiped first) [default: a temp dir].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Serialize)]
struct Percentiles {
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn percentiles(mut samples: Vec<f64>) -> Percentiles {
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        if samples.is_empty() {
            return 0.0;
        }
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i.min(samples.len() - 1)]
    };
    Percentiles {
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

#[derive(Serialize)]
struct ProcessUsage {
    name: String,
    cpu_seconds: f64,
    peak_rss_mib: f64,
}

/// CPU time (user+system) and peak resident memory of a live process, from /proc.
fn usage(p: &Process) -> Option<ProcessUsage> {
    let pid = p.pid()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(ProcessUsage {
        name: p.name.clone(),
        cpu_seconds: ticks / 100.0,
        peak_rss_mib: hwm_kib / 1024.0,
    })
}

#[derive(Serialize)]
struct SwapReport {
    swaps: usize,
    concurrency: usize,
    elapsed_s: f64,
    swaps_per_s: f64,
    /// From offer request to both relays reporting the swap finished.
    latency: Percentiles,
    /// From offer request to the initiator's relay reporting it finished.
    initiator_latency: Percentiles,
    processes: Vec<ProcessUsage>,
}

pub async fn run(cmd: BenchCommand, out: Output) -> Result<()> {
    match cmd {
        BenchCommand::Swaps(args) => swaps(args, out).await,
    }
}

async fn swaps(args: SwapBenchArgs, out: Output) -> Result<()> {
    if args.swaps == 0 || args.swaps > MAX_SWAPS || args.concurrency == 0 {
        bail!("--swaps must be 1..={MAX_SWAPS} and --concurrency at least 1");
    }
    let dir = match &args.dir {
        Some(d) => {
            let _ = std::fs::remove_dir_all(d);
            d.clone()
        }
        None => std::env::temp_dir().join(format!("causeway-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
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
    if !out.json {
        println!(
            "driving {} swaps, {} at a time, between {a} and {b} (2 devchain nodes, 2 relays)",
            args.swaps, args.concurrency
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
            let view = alice_api.swap_offer(request).await?;
            bob_api.swap_accept(view.offer.clone()).await?;
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
                        return Ok::<_, anyhow::Error>((
                            t0.elapsed(),
                            initiator_done.unwrap_or_default(),
                        ));
                    }
                }
                if t0.elapsed() > SWAP_TIMEOUT {
                    bail!(
                        "swap {} did not finish within {SWAP_TIMEOUT:?}",
                        view.swap_id
                    );
                }
                // Coarse enough not to load the relays it measures; latency resolution is 50 ms.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    let mut both = Vec::new();
    let mut first = Vec::new();
    for t in tasks {
        let (all, init) = t.await??;
        both.push(all.as_secs_f64() * 1000.0);
        first.push(init.as_secs_f64() * 1000.0);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let processes = [
        &node_a.process,
        &node_b.process,
        &alice_relay.process,
        &bob_relay.process,
    ]
    .into_iter()
    .filter_map(usage)
    .collect();
    let report = SwapReport {
        swaps: args.swaps,
        concurrency: args.concurrency,
        elapsed_s: elapsed,
        swaps_per_s: args.swaps as f64 / elapsed,
        latency: percentiles(both),
        initiator_latency: percentiles(first),
        processes,
    };
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    out.print(&report, || {
        let mut lines = vec![
            format!("{} swaps in {:.2} s: {:.1} swaps/s", report.swaps, report.elapsed_s, report.swaps_per_s),
            format!(
                "latency (offer -> both finished): p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
                report.latency.p50_ms, report.latency.p90_ms, report.latency.p99_ms, report.latency.max_ms
            ),
            format!(
                "initiator finished:               p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms",
                report.initiator_latency.p50_ms, report.initiator_latency.p90_ms, report.initiator_latency.p99_ms
            ),
            format!("{:<40} {:>10} {:>14}", "PROCESS", "CPU s", "PEAK RSS MiB"),
        ];
        for p in &report.processes {
            lines.push(format!("{:<40} {:>10.2} {:>14.1}", p.name, p.cpu_seconds, p.peak_rss_mib));
        }
        lines.join("\n")
    });
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
