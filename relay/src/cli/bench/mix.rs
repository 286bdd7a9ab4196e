//! `causeway bench mix`: notary transfers through a committee and atomic swaps through two
//! party relays at once, on the same two devchain nodes, each with its own concurrency and
//! rate; one report per kind (`--out`/transfers, `--out`/swaps), with every process's usage.

use std::collections::BTreeMap;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use super::report::LoadReport;
use super::transfers::{self, CommitteeArgs};
use super::{stop_measured, swaps, work_dir, Pacer, Run};
use crate::cli::Output;
use crate::keystore::Keystore;
use crate::launch::start_relay;

#[derive(Args)]
pub struct MixBenchArgs {
    #[command(flatten)]
    pub committee: CommitteeArgs,
    #[arg(long, default_value_t = 50)]
    pub swaps: usize,
    /// Swaps in flight at once.
    #[arg(long, default_value_t = 10)]
    pub swap_concurrency: usize,
    /// Start at most this many swaps a second [default: as fast as --swap-concurrency allows].
    #[arg(long, value_name = "PER_S")]
    pub swap_rate: Option<f64>,
    /// Where to write transfers/ and swaps/, each a report.json and a latency.svg.
    #[arg(long, value_name = "DIR", default_value = "bench-out")]
    pub out: PathBuf,
    /// Working directory (wiped first) [default: a temp dir].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Serialize)]
struct MixReport {
    transfers: LoadReport,
    swaps: LoadReport,
}

pub async fn run(args: MixBenchArgs, out: Output) -> Result<()> {
    let c = &args.committee;
    transfers::check(c)?;
    swaps::check(args.swaps, args.swap_concurrency, args.swap_rate, "swap-")?;
    let dir = work_dir(args.dir.as_deref(), "mix")?;
    let keys = dir.join("keys");
    let ks = Keystore::open(&keys);
    ks.create("alice")?;
    let bob = ks.create("bob")?;
    let mut bridge = transfers::launch(
        &dir,
        c,
        &["alice=USD:1000000000".into()],
        &["bob=GOLD:1000000000".into()],
    )
    .await?;
    let bin = std::env::current_exe().context("cannot find the causeway binary")?;
    let chains = [
        (&bridge.source, bridge.nodes[0].rpc_url.as_str()),
        (&bridge.dest, bridge.nodes[1].rpc_url.as_str()),
    ];
    let alice_relay = start_relay(&bin, &dir, &keys, "alice", &chains).await?;
    let bob_relay = start_relay(&bin, &dir, &keys, "bob", &chains).await?;
    let parties = swaps::Parties {
        alice: swaps::Party::of(&alice_relay).await?,
        bob: swaps::Party::of(&bob_relay).await?,
        bob_address: bob.address(),
        give: bridge.source.clone(),
        get: bridge.dest.clone(),
    };
    if !out.json {
        println!(
            "driving {} transfers {} → {} from {} accounts{} through a {}-of-{} committee, and at once {} swaps, {} at a time{}, through 2 party relays",
            c.transfers,
            bridge.source,
            bridge.dest,
            c.concurrency,
            swaps::rate_text(c.rate),
            c.threshold,
            c.members,
            args.swaps,
            args.swap_concurrency,
            swaps::rate_text(args.swap_rate),
        );
    }
    let (moved, swapped) = tokio::try_join!(
        transfers::drive(&mut bridge, c, Pacer::new(c.rate), false),
        swaps::drive(
            parties,
            args.swaps,
            args.swap_concurrency,
            Pacer::new(args.swap_rate)
        ),
    )?;
    let mut processes = vec![
        ("relay alice".to_string(), alice_relay.process),
        ("relay bob".to_string(), bob_relay.process),
    ];
    processes.extend(bridge.processes());
    let usage = stop_measured(processes)?;
    let report = MixReport {
        transfers: Run {
            what: "transfers",
            stages: &transfers::STAGES,
            concurrency: c.concurrency,
            rate: c.rate,
            elapsed_s: moved.elapsed_s,
            out_dir: &args.out.join("transfers"),
            work_dir: &dir,
            measured: vec![(transfers::TO_ATTESTED, moved.to_attested)],
            in_flight: None,
            // Both kinds run at once on shared processes: their CPU is not told apart.
            load_cpu: BTreeMap::new(),
        }
        .report(moved.samples, usage.clone()),
        swaps: Run {
            what: "swaps",
            stages: &swaps::STAGES,
            concurrency: args.swap_concurrency,
            rate: args.swap_rate,
            elapsed_s: swapped.elapsed_s,
            out_dir: &args.out.join("swaps"),
            work_dir: &dir,
            measured: vec![(swaps::REACTION, swapped.reactions)],
            in_flight: None,
            load_cpu: BTreeMap::new(),
        }
        .report(swapped.samples, usage),
    };
    report.transfers.write()?;
    report.swaps.write()?;
    out.print(&report, || {
        format!("{}\n\n{}", report.transfers.text(), report.swaps.text())
    });
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
