//! `causeway bench transfers`: notary transfers between two devchain nodes through a
//! t-of-n committee of separate relay processes, each transfer timed at three stages:
//! final on the source chain, its batch accepted on the destination (attested and
//! submitted), and released to the recipient.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_adapters::devchain::DevchainAdapter;
use causeway_adapters::{Action, ChainAdapter, TxOutcome, TxState};
use causeway_core::{Amount, AssetId, ChainId, EventKind, Hash32, Position};
use clap::Args;
use serde_json::json;

use super::report::Sample;
use super::{work_dir, Run};
use crate::api::RelayApiClient;
use crate::cli::Output;
use crate::keystore::Keystore;
use crate::launch::committee::{self, MemberProcess};
use crate::launch::{devchain_table, free_port, init_devchain_with, DevchainProcess, Process};

/// Most transfers one run may drive.
const MAX_TRANSFERS: usize = 1_000_000;
/// Most sending accounts (each is a genesis account and a task).
const MAX_SENDERS: usize = 2_000;
/// How long the run waits for the last release after the last lock.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);
/// How often the destination's events are read.
const EVENT_POLL: Duration = Duration::from_millis(20);
const STAGES: [&str; 3] = [
    "final on source",
    "batch accepted on destination",
    "released",
];

#[derive(Args)]
pub struct TransferBenchArgs {
    #[arg(long, default_value_t = 200)]
    pub transfers: usize,
    /// Sending accounts, each sending its share one after another.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Committee size: one relay process per member.
    #[arg(long, default_value_t = 5)]
    pub members: usize,
    #[arg(long, default_value_t = 3)]
    pub threshold: u16,
    /// A batch closes every this many source blocks.
    #[arg(long, default_value_t = 1)]
    pub batch_blocks: u64,
    /// Where to write report.json and latency.svg.
    #[arg(long, value_name = "DIR", default_value = "bench-out")]
    pub out: PathBuf,
    /// Working directory (wiped first) [default: a temp dir].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

struct Lock {
    tx: Hash32,
    start: Instant,
    start_s: f64,
    final_ms: f64,
}

/// When the destination reported each release (by source tx) and batch (by sequence).
#[derive(Default)]
struct Seen {
    released: HashMap<Hash32, Instant>,
    accepted: HashMap<u64, Instant>,
}

pub async fn run(args: TransferBenchArgs, out: Output) -> Result<()> {
    if args.transfers == 0 || args.transfers > MAX_TRANSFERS {
        bail!("--transfers must be 1..={MAX_TRANSFERS}");
    }
    if args.concurrency == 0 || args.concurrency > MAX_SENDERS {
        bail!("--concurrency must be 1..={MAX_SENDERS}");
    }
    let dir = work_dir(args.dir.as_deref(), "transfers")?;
    let bin = std::env::current_exe().context("cannot find the causeway binary")?;
    let keys = dir.join("keys");
    let ks = Keystore::open(&keys);
    let (a, b) = (ChainId::new("bench-a")?, ChainId::new("bench-b")?);
    let senders: Vec<_> = (0..args.concurrency)
        .map(|i| ks.create(&format!("sender-{i}")))
        .collect::<Result<_>>()?;
    let (nodes, members) = launch(&bin, &dir, &keys, &args, &a, &b).await?;
    if !out.json {
        println!(
            "driving {} transfers {a} → {b} from {} accounts through a {}-of-{} committee ({} relay processes)",
            args.transfers, args.concurrency, args.threshold, args.members, args.members
        );
    }

    let seen = Arc::new(Mutex::new(Seen::default()));
    let watcher = tokio::spawn(watch_destination(
        DevchainAdapter::new(b.clone(), &nodes[1].rpc_url, None)?,
        seen.clone(),
    ));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        let share =
            args.transfers / args.concurrency + usize::from(i < args.transfers % args.concurrency);
        let adapter = DevchainAdapter::new(a.clone(), &nodes[0].rpc_url, Some(sender.key.clone()))?;
        let action = Action::BridgeSend {
            dest_chain: b.clone(),
            recipient: sender.address(),
            asset: AssetId::new("USD")?,
            amount: Amount(1),
        };
        tasks.push(tokio::spawn(async move {
            let mut locks = Vec::with_capacity(share);
            for _ in 0..share {
                let start = Instant::now();
                let start_s = started.elapsed().as_secs_f64();
                let tx = adapter
                    .submit(&action)
                    .await
                    .context("locking on the source chain")?;
                match adapter
                    .wait_final(&tx, DRAIN_TIMEOUT)
                    .await
                    .context("waiting for a lock to be final")?
                {
                    TxState::Final {
                        outcome: TxOutcome::Success,
                        ..
                    } => {}
                    other => bail!("lock {} did not succeed: {other:?}", tx.id),
                }
                locks.push(Lock {
                    tx: tx.id,
                    start,
                    start_s,
                    final_ms: ms(start.elapsed()),
                });
            }
            Ok::<_, anyhow::Error>(locks)
        }));
    }
    let mut locks = Vec::with_capacity(args.transfers);
    for t in tasks {
        locks.extend(t.await??);
    }
    let drained = Instant::now();
    loop {
        let released = seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .released
            .len();
        if released >= locks.len() {
            break;
        }
        if drained.elapsed() > DRAIN_TIMEOUT {
            bail!(
                "only {released} of {} transfers were released within {DRAIN_TIMEOUT:?}",
                locks.len()
            );
        }
        tokio::time::sleep(EVENT_POLL).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    watcher.abort();
    let samples = samples(&locks, &seen, &members, &a, &b).await?;

    let mut processes: Vec<(String, Process)> = members
        .into_iter()
        .enumerate()
        .map(|(i, m)| (format!("notary member {}", i + 1), m.process))
        .collect();
    for (node, chain) in nodes.into_iter().zip([&a, &b]) {
        processes.push((format!("devchain node {chain}"), node.process));
    }
    let run = Run {
        what: "transfers",
        stages: &STAGES,
        concurrency: args.concurrency,
        elapsed_s: elapsed,
        out_dir: &args.out,
        work_dir: &dir,
        measured: Vec::new(),
    };
    run.finish(samples, processes, out)
}

/// Two devchains whose bridges trust a fresh committee, and the committee's relays.
async fn launch(
    bin: &Path,
    dir: &Path,
    keys: &Path,
    args: &TransferBenchArgs,
    a: &ChainId,
    b: &ChainId,
) -> Result<(Vec<DevchainProcess>, Vec<MemberProcess>)> {
    let ks = Keystore::open(keys);
    let (port_a, port_b) = (free_port()?, free_port()?);
    committee::create_committee(bin, keys, dir, args.members, args.threshold)?;
    let settings = committee::local_settings(
        args.batch_blocks,
        1_000_000_000_000_000_000,
        &[(a.as_str(), b.as_str(), "USD")],
    );
    for number in 1..=args.members {
        let key = format!("member-{number}");
        ks.create(&key)?;
        let chains = devchain_table(a.as_str(), &format!("http://127.0.0.1:{port_a}"), &key)
            + &devchain_table(b.as_str(), &format!("http://127.0.0.1:{port_b}"), &key);
        committee::write_member_config(dir, keys, number, &settings, &chains)?;
    }
    let dkg = committee::run_dkg(bin, keys, dir, args.members, &[])?;
    let bridge_a = dir.join("bridge-a.json");
    let bridge_b = dir.join("bridge-b.json");
    committee::write_bridge_config(
        &bridge_a,
        &dkg[0],
        &json!([{"asset": "USD", "dest_chain": b, "dest_asset": "WUSD"}]),
        &json!([]),
    )?;
    committee::write_bridge_config(
        &bridge_b,
        &dkg[0],
        &json!([{"asset": "WUSD", "dest_chain": a, "dest_asset": "USD"}]),
        &json!([{"asset": "WUSD", "origin_chain": a, "origin_asset": "USD"}]),
    )?;
    let fund: Vec<String> = (0..args.concurrency)
        .map(|i| format!("sender-{i}=USD:1000000000"))
        .collect();
    let fund: Vec<&str> = fund.iter().map(String::as_str).collect();
    let mut nodes = Vec::new();
    for (chain, port, fund, bridge) in [
        (a, port_a, &fund[..], &bridge_a),
        (b, port_b, &["member-1=EUR:1"][..], &bridge_b),
    ] {
        let home = dir.join(chain.as_str());
        let bridge = bridge.to_str().context("work directory is not UTF-8")?;
        init_devchain_with(bin, &home, keys, chain, fund, &["--bridge", bridge])?;
        nodes.push(DevchainProcess::start(bin, &home, port).await?);
    }
    let mut members = Vec::new();
    for number in 1..=args.members {
        members.push(committee::start_member(bin, keys, dir, number, &[]).await?);
    }
    Ok((nodes, members))
}

/// Reads the destination's final events for as long as the run lasts.
async fn watch_destination(dest: DevchainAdapter, seen: Arc<Mutex<Seen>>) {
    let mut cursor = Position::default();
    loop {
        match dest.events(cursor, 1000).await {
            Ok(page) => {
                let now = Instant::now();
                let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                for e in &page.events {
                    match &e.kind {
                        EventKind::BridgeReceived { source_tx_hash, .. } => {
                            seen.released.insert(*source_tx_hash, now);
                        }
                        EventKind::BridgeBatchAccepted { sequence, .. } => {
                            seen.accepted.insert(*sequence, now);
                        }
                        _ => {}
                    }
                }
                let full = page.events.len() == 1000;
                cursor = page.next;
                drop(seen);
                if full {
                    continue;
                }
            }
            Err(e) => tracing::warn!("bench: destination events: {e}"),
        }
        tokio::time::sleep(EVENT_POLL).await;
    }
}

/// Each transfer's stages. Its batch's sequence comes from the first member that has
/// sealed it (a member that lagged behind the threshold may not have yet).
async fn samples(
    locks: &[Lock],
    seen: &Mutex<Seen>,
    members: &[MemberProcess],
    a: &ChainId,
    b: &ChainId,
) -> Result<Vec<Sample>> {
    let apis: Vec<_> = members.iter().map(MemberProcess::client).collect();
    let mut samples = Vec::with_capacity(locks.len());
    for lock in locks {
        let mut sequence = None;
        for api in &apis {
            sequence = api
                .notary_transfer(lock.tx)
                .await
                .context("asking a member which batch holds a transfer")?
                .into_iter()
                .find(|v| &v.source_chain == a && &v.dest_chain == b)
                .and_then(|v| v.sequence);
            if sequence.is_some() {
                break;
            }
        }
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        let at = |t: Option<&Instant>| t.map(|t| ms(t.saturating_duration_since(lock.start)));
        let accepted = at(sequence.and_then(|s| seen.accepted.get(&s)));
        let released = at(seen.released.get(&lock.tx));
        samples.push(Sample {
            start_s: lock.start_s,
            stages_ms: vec![
                lock.final_ms,
                accepted.unwrap_or(f64::NAN),
                released.unwrap_or(f64::NAN),
            ],
        });
    }
    Ok(samples)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
