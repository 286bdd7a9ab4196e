//! `causeway bench transfers`: notary transfers between two devchain nodes through a
//! t-of-n committee of separate relay processes, each transfer timed at five stages from
//! its lock's submission: final on the source (as the sender saw it), finality seen by a
//! threshold of members, attested (threshold signature), its batch accepted on the
//! destination, and released to the recipient. `--destination-down` holds every transfer
//! in flight (the destination node stopped) to measure what the processes then use.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use causeway_adapters::devchain::DevchainAdapter;
use causeway_adapters::{Action, ChainAdapter, PreparedTx};
use causeway_core::{Amount, AssetId, ChainId, EventKind, Hash32};
use clap::Args;
use futures::StreamExt;
use serde_json::json;

use super::finality::{read_final_events, retrying_transient, FinalityWatch};
use super::report::{InFlight, Sample};
use super::{cpu_between, ms, usage_of, work_dir, Pacer, Run, STOP_TIMEOUT};
use crate::api::RelayApiClient;
use crate::cli::Output;
use crate::executor::now_ms;
use crate::keystore::{Keystore, StoredKey};
use crate::launch::committee::{self, MemberProcess};
use crate::launch::usage::ProcessUsage;
use crate::launch::{devchain_table, free_port, init_devchain_with, DevchainProcess, Process};
use crate::notary::config::MAX_BATCH_LIMIT;
use crate::notary::status::TransferView;

/// Most transfers one run may drive.
const MAX_TRANSFERS: usize = 1_000_000;
/// Most sending accounts (each is a genesis account and a task).
const MAX_SENDERS: usize = 2_000;
/// Locks a sender signs at once, with consecutive nonces (bounds the tool's memory to
/// senders × this many signed transactions).
const SIGNED_AHEAD: usize = 64;
/// Most committee members one run may start (each is a process).
const MAX_MEMBERS: usize = 100;
/// How long the run waits for the last release after the last lock, at least.
pub(super) const DRAIN_TIMEOUT: Duration = Duration::from_secs(180);
/// Releases per second the drain timeout assumes at worst, for long runs.
const DRAIN_FLOOR_PER_S: u64 = 100;
/// How often the drain checks how many releases the destination reported.
const EVENT_POLL: Duration = Duration::from_millis(20);
/// How long the drain goes without a release before it asks whether transfers are held.
const STALL_CHECK: Duration = Duration::from_secs(10);
/// How often a held run checks whether every member has seen every lock.
const SEEN_POLL: Duration = Duration::from_millis(200);
/// A held run's pause after every member has seen every lock, so the figures include
/// what the members do next (batch, sign, retry the stopped destination).
const HOLD_SETTLE: Duration = Duration::from_secs(3);
/// Member queries in flight while reading back each transfer's stages.
const QUERIES_IN_FLIGHT: usize = 32;

pub const STAGES: [&str; 5] = [
    "final on source",
    "finality seen by t members",
    "attested (threshold signature)",
    "batch accepted on destination",
    "released",
];
/// The committee's added latency (issue #7's target): from the source block's time to the
/// batch's threshold signature, on the members' clocks.
pub const TO_ATTESTED: &str = "source block time -> attested";

/// The committee and the transfers it carries, shared by `transfers` and `mix`.
#[derive(Args, Clone)]
pub struct CommitteeArgs {
    #[arg(long, default_value_t = 200)]
    pub transfers: usize,
    /// Sending accounts, each sending its share one after another.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Start at most this many transfers a second across all senders [default: as fast as
    /// --concurrency allows].
    #[arg(long, value_name = "PER_S")]
    pub rate: Option<f64>,
    /// Committee size: one relay process per member.
    #[arg(long, default_value_t = 5)]
    pub members: usize,
    #[arg(long, default_value_t = 3)]
    pub threshold: u16,
    /// A batch closes every this many source blocks.
    #[arg(long, default_value_t = 1)]
    pub batch_blocks: u64,
    /// Most transfers in one batch (notary.max_batch) [default: the relay's].
    #[arg(long, value_name = "N")]
    pub max_batch: Option<u32>,
    /// The members' flow limit on the route, in units an hour (each transfer moves 1);
    /// transfers past it are held for review and the run stops saying so.
    #[arg(long, value_name = "UNITS", default_value_t = NO_FLOW_LIMIT)]
    pub flow_ceiling: u128,
}

/// A flow ceiling no run reaches.
const NO_FLOW_LIMIT: u128 = 1_000_000_000_000_000_000;

#[derive(Args)]
pub struct TransferBenchArgs {
    #[command(flatten)]
    pub committee: CommitteeArgs,
    /// Stop the destination node first, lock every transfer, and measure the processes
    /// once every member has seen them all (the memory of N transfers in flight); then
    /// restart it and drain.
    #[arg(long)]
    pub destination_down: bool,
    /// Where to write report.json and latency.svg.
    #[arg(long, value_name = "DIR", default_value = "bench-out")]
    pub out: PathBuf,
    /// Working directory (wiped first) [default: a temp dir].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Two devchains whose bridges trust a fresh committee, the committee's relays, and the
/// funded senders.
pub struct Bridge {
    pub source: ChainId,
    pub dest: ChainId,
    /// The source node, then the destination node.
    pub nodes: Vec<DevchainProcess>,
    pub members: Vec<MemberProcess>,
    senders: Vec<StoredKey>,
    bin: PathBuf,
}

/// What the transfers of a run measured.
pub struct Driven {
    pub samples: Vec<Sample>,
    pub to_attested: Vec<f64>,
    pub elapsed_s: f64,
    pub in_flight: Option<InFlight>,
    /// CPU seconds per process from the first lock to the last release.
    pub load_cpu: BTreeMap<String, f64>,
}

struct Lock {
    sender: usize,
    tx: Hash32,
    start: Instant,
    start_s: f64,
    start_unix_ms: u64,
    final_ms: f64,
}

/// When the destination reported each release (by source tx) and batch (by sequence).
#[derive(Default)]
struct Seen {
    released: HashMap<Hash32, Instant>,
    accepted: HashMap<u64, Instant>,
}

pub async fn run(args: TransferBenchArgs, out: Output) -> Result<()> {
    let c = &args.committee;
    check(c)?;
    let dir = work_dir(args.dir.as_deref(), "transfers")?;
    let mut bridge = launch(&dir, c, &[], &[]).await?;
    if !out.json {
        println!(
            "driving {} transfers {} → {} from {} accounts{} through a {}-of-{} committee ({} relay processes){}",
            c.transfers,
            bridge.source,
            bridge.dest,
            c.concurrency,
            super::swaps::rate_text(c.rate),
            c.threshold,
            c.members,
            c.members,
            if args.destination_down {
                "; the destination is down until every lock is final and seen"
            } else {
                ""
            }
        );
    }
    let driven = drive(&mut bridge, c, Pacer::new(c.rate), args.destination_down).await?;
    let run = Run {
        what: "transfers",
        stages: &STAGES,
        concurrency: c.concurrency,
        rate: c.rate,
        elapsed_s: driven.elapsed_s,
        out_dir: &args.out,
        work_dir: &dir,
        measured: vec![(TO_ATTESTED, driven.to_attested)],
        in_flight: driven.in_flight,
        load_cpu: driven.load_cpu,
    };
    run.finish(driven.samples, bridge.processes(), out)
}

pub fn check(c: &CommitteeArgs) -> Result<()> {
    if c.transfers == 0 || c.transfers > MAX_TRANSFERS {
        bail!("--transfers must be 1..={MAX_TRANSFERS}");
    }
    if c.concurrency == 0 || c.concurrency > MAX_SENDERS {
        bail!("--concurrency must be 1..={MAX_SENDERS}");
    }
    if c.members == 0 || c.members > MAX_MEMBERS {
        bail!("--members must be 1..={MAX_MEMBERS}");
    }
    if c.threshold == 0 || usize::from(c.threshold) > c.members {
        bail!("--threshold must be 1..={} (at most --members)", c.members);
    }
    if c.max_batch.is_some_and(|n| n == 0 || n > MAX_BATCH_LIMIT) {
        bail!("--max-batch must be 1..={MAX_BATCH_LIMIT}");
    }
    if c.flow_ceiling == 0 {
        bail!("--flow-ceiling must be at least 1 (units an hour)");
    }
    super::check_rate("--rate", c.rate)
}

/// Starts the two chains and the committee in `dir`; `fund_source` and `fund_dest` are
/// extra genesis balances (`key=ASSET:amount`) for keys already in `dir/keys`.
pub async fn launch(
    dir: &Path,
    c: &CommitteeArgs,
    fund_source: &[String],
    fund_dest: &[String],
) -> Result<Bridge> {
    let bin = std::env::current_exe().context("cannot find the causeway binary")?;
    let keys = dir.join("keys");
    let ks = Keystore::open(&keys);
    let (a, b) = (ChainId::new("bench-a")?, ChainId::new("bench-b")?);
    let senders: Vec<_> = (0..c.concurrency)
        .map(|i| ks.create(&format!("sender-{i}")))
        .collect::<Result<_>>()?;
    let (port_a, port_b) = (free_port()?, free_port()?);
    committee::create_committee(&bin, &keys, dir, c.members, c.threshold)?;
    let settings = committee::local_settings(
        c.batch_blocks,
        c.max_batch,
        c.flow_ceiling,
        &[(a.as_str(), b.as_str(), "USD")],
    );
    for number in 1..=c.members {
        let key = format!("member-{number}");
        ks.create(&key)?;
        let chains = devchain_table(a.as_str(), &format!("http://127.0.0.1:{port_a}"), &key)
            + &devchain_table(b.as_str(), &format!("http://127.0.0.1:{port_b}"), &key);
        committee::write_member_config(dir, &keys, number, &settings, &chains)?;
    }
    let dkg = committee::run_dkg(&bin, &keys, dir, c.members, &[])?;
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
    let fund_a: Vec<String> = (0..c.concurrency)
        .map(|i| format!("sender-{i}=USD:1000000000"))
        .chain(fund_source.iter().cloned())
        .collect();
    let fund_b: Vec<String> = std::iter::once("member-1=EUR:1".to_string())
        .chain(fund_dest.iter().cloned())
        .collect();
    let mut nodes = Vec::new();
    for (chain, port, fund, bridge) in [
        (&a, port_a, &fund_a, &bridge_a),
        (&b, port_b, &fund_b, &bridge_b),
    ] {
        let home = dir.join(chain.as_str());
        let bridge = bridge.to_str().context("work directory is not UTF-8")?;
        let fund: Vec<&str> = fund.iter().map(String::as_str).collect();
        init_devchain_with(&bin, &home, &keys, chain, &fund, &["--bridge", bridge])?;
        nodes.push(DevchainProcess::start(&bin, &home, port).await?);
    }
    let mut members = Vec::new();
    for number in 1..=c.members {
        members.push(committee::start_member(&bin, &keys, dir, number, &[]).await?);
    }
    Ok(Bridge {
        source: a,
        dest: b,
        nodes,
        members,
        senders,
        bin,
    })
}

impl Bridge {
    /// Every process under its label, members before the nodes they follow.
    pub fn processes(self) -> Vec<(String, Process)> {
        let mut processes: Vec<(String, Process)> = self
            .members
            .into_iter()
            .enumerate()
            .map(|(i, m)| (format!("notary member {}", i + 1), m.process))
            .collect();
        for (node, chain) in self.nodes.into_iter().zip([&self.source, &self.dest]) {
            processes.push((format!("devchain node {chain}"), node.process));
        }
        processes
    }

    fn usage(&self) -> Vec<ProcessUsage> {
        let members = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("notary member {}", i + 1), &m.process));
        let nodes = self
            .nodes
            .iter()
            .zip([&self.source, &self.dest])
            .map(|(n, chain)| (format!("devchain node {chain}"), &n.process));
        usage_of(members.chain(nodes))
    }

    fn dest_node(&mut self) -> &mut DevchainProcess {
        &mut self.nodes[1]
    }
}

/// Drives `c.transfers` transfers and times each; with `hold`, the destination node is
/// stopped until every lock is final and seen by every member.
pub async fn drive(
    bridge: &mut Bridge,
    c: &CommitteeArgs,
    pacer: Arc<Pacer>,
    hold: bool,
) -> Result<Driven> {
    let dest_home = bridge.dest_node().home.clone();
    let dest_port = bridge.dest_node().port();
    let dest_url = bridge.dest_node().rpc_url.clone();
    if hold {
        bridge.dest_node().process.terminate(STOP_TIMEOUT)?;
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watcher = tokio::spawn(watch_destination(
        DevchainAdapter::new(bridge.dest.clone(), &dest_url, None)?,
        seen.clone(),
    ));
    let cpu_at_start = bridge.usage();
    let started = Instant::now();
    let locks = lock_all(bridge, c, pacer, started).await?;
    let in_flight = if hold {
        wait_seen_by_every_member(&bridge.members, &locks).await?;
        tokio::time::sleep(HOLD_SETTLE).await;
        let in_flight = InFlight {
            operations: locks.len(),
            how: "the destination node was stopped; every lock final on the source and seen by every member".into(),
            processes: bridge.usage(),
        };
        // On stderr at once: a drain that fails must not lose the figure.
        eprintln!("{}", in_flight.text("transfers"));
        let bin = bridge.bin.clone();
        *bridge.dest_node() = DevchainProcess::start(&bin, &dest_home, dest_port)
            .await
            .context("restarting the destination node after the hold")?;
        Some(in_flight)
    } else {
        None
    };
    let drain_timeout = drain_timeout(locks.len());
    let drained = Instant::now();
    let mut progress = (0, Instant::now());
    loop {
        let released = seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .released
            .len();
        if released >= locks.len() {
            break;
        }
        if released > progress.0 {
            progress = (released, Instant::now());
        } else if progress.1.elapsed() > STALL_CHECK {
            fail_if_held(&bridge.members[0], released, locks.len()).await?;
            progress.1 = Instant::now();
        }
        if drained.elapsed() > drain_timeout {
            bail!(
                "only {released} of {} transfers were released within {drain_timeout:?}",
                locks.len()
            );
        }
        tokio::time::sleep(EVENT_POLL).await;
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    // Before the read-back below, which queries every member about every transfer.
    let load_cpu = cpu_between(&cpu_at_start, &bridge.usage());
    watcher.abort();
    let (samples, to_attested) = samples(&locks, &seen, bridge, usize::from(c.threshold)).await?;
    Ok(Driven {
        samples,
        to_attested,
        elapsed_s,
        in_flight,
        load_cpu,
    })
}

/// Signs `count` locks for one sender after a single read of its nonce, as a wallet that
/// keeps its own nonce does: a lock then costs the source node one request (its broadcast)
/// instead of two.
async fn sign_ahead(
    adapter: &DevchainAdapter,
    action: &Action,
    count: usize,
) -> Result<VecDeque<PreparedTx>> {
    let actions = vec![action.clone(); count];
    retrying_transient(|| async {
        let signed = adapter.prepare_many(&actions).await;
        signed.into_iter().collect::<Result<VecDeque<_>, _>>()
    })
    .await
    .context("signing locks for the source chain")
}

/// Every sender sends its share one lock after another, each start paced by `pacer`; one
/// reader of the source's final events tells each when its lock is final.
async fn lock_all(
    bridge: &Bridge,
    c: &CommitteeArgs,
    pacer: Arc<Pacer>,
    started: Instant,
) -> Result<Vec<Lock>> {
    let source_url = &bridge.nodes[0].rpc_url;
    let watch = Arc::new(FinalityWatch::start(DevchainAdapter::new(
        bridge.source.clone(),
        source_url,
        None,
    )?));
    let mut tasks = Vec::new();
    for (i, sender) in bridge.senders.iter().enumerate() {
        let share = c.transfers / c.concurrency + usize::from(i < c.transfers % c.concurrency);
        let adapter =
            DevchainAdapter::new(bridge.source.clone(), source_url, Some(sender.key.clone()))?;
        let action = Action::BridgeSend {
            dest_chain: bridge.dest.clone(),
            recipient: sender.address(),
            asset: AssetId::new("USD")?,
            amount: Amount(1),
        };
        let (pacer, watch) = (pacer.clone(), watch.clone());
        tasks.push(tokio::spawn(async move {
            let mut locks = Vec::with_capacity(share);
            let mut signed = VecDeque::new();
            for left in (1..=share).rev() {
                pacer.wait().await;
                if signed.is_empty() {
                    signed = sign_ahead(&adapter, &action, left.min(SIGNED_AHEAD)).await?;
                }
                let tx = signed
                    .pop_front()
                    .context("the source adapter signed no lock")?;
                let start = Instant::now();
                let start_s = started.elapsed().as_secs_f64();
                let start_unix_ms = now_ms();
                let final_at = watch.send_and_wait(&adapter, &tx).await?;
                locks.push(Lock {
                    sender: i,
                    tx: tx.id,
                    start,
                    start_s,
                    start_unix_ms,
                    final_ms: ms(final_at.saturating_duration_since(start)),
                });
            }
            Ok::<_, anyhow::Error>(locks)
        }));
    }
    let mut locks = Vec::with_capacity(c.transfers);
    for t in tasks {
        locks.extend(t.await??);
    }
    Ok(locks)
}

/// Ends a stalled drain at once, saying why, when the committee's governor holds transfers:
/// they wait for an operator and would never be released.
async fn fail_if_held(member: &MemberProcess, released: usize, total: usize) -> Result<()> {
    let status = member
        .client()
        .notary_status()
        .await
        .context("asking member 1 why releases stalled")?;
    if let Some(first) = status.held.first() {
        bail!(
            "only {released} of {total} transfers were released: member 1 holds transfers for operator review (the first: {}); raise the route's flow limit or review them with `causeway notary review`",
            first.hold_reason.as_deref().unwrap_or("no reason given"),
        );
    }
    Ok(())
}

/// Waits until every member has taken in every lock. Members follow the source in order
/// and each sender's locks are sequential, so it is enough that each member has seen every
/// sender's newest lock.
async fn wait_seen_by_every_member(members: &[MemberProcess], locks: &[Lock]) -> Result<()> {
    let mut newest: HashMap<usize, Hash32> = HashMap::new();
    for lock in locks {
        newest.insert(lock.sender, lock.tx);
    }
    let waited = Instant::now();
    let timeout = drain_timeout(locks.len());
    for (i, member) in members.iter().enumerate() {
        let api = member.client();
        for tx in newest.values() {
            loop {
                let views = api
                    .notary_transfer(*tx)
                    .await
                    .with_context(|| format!("asking member {} about a lock", i + 1))?;
                if views.iter().any(|v| v.seen_ms.is_some()) {
                    break;
                }
                if waited.elapsed() > timeout {
                    bail!("member {} had not seen lock {tx} within {timeout:?}", i + 1);
                }
                tokio::time::sleep(SEEN_POLL).await;
            }
        }
    }
    Ok(())
}

/// How long a run of `transfers` may take to drain: long runs at the floor rate.
fn drain_timeout(transfers: usize) -> Duration {
    DRAIN_TIMEOUT.max(Duration::from_secs(transfers as u64 / DRAIN_FLOOR_PER_S))
}

/// Notes when the destination reported each release and batch, for as long as the run lasts.
async fn watch_destination(dest: DevchainAdapter, seen: Arc<Mutex<Seen>>) {
    read_final_events(dest, "destination", |events, now| {
        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        for e in events {
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
    })
    .await
}

/// Each transfer's stages as every member reports them: finality seen is when the
/// `threshold`-th member took the lock in, attested the first member's signature time.
async fn samples(
    locks: &[Lock],
    seen: &Mutex<Seen>,
    bridge: &Bridge,
    threshold: usize,
) -> Result<(Vec<Sample>, Vec<f64>)> {
    let apis: Vec<_> = bridge.members.iter().map(MemberProcess::client).collect();
    let (a, b) = (&bridge.source, &bridge.dest);
    let views: Vec<Vec<TransferView>> = futures::stream::iter(locks)
        .map(|lock| {
            let apis = &apis;
            async move {
                let mut views = Vec::with_capacity(apis.len());
                for api in apis {
                    let view = api
                        .notary_transfer(lock.tx)
                        .await
                        .context("asking a member for a transfer's stages")?
                        .into_iter()
                        .find(|v| &v.source_chain == a && &v.dest_chain == b);
                    views.extend(view);
                }
                Ok::<_, anyhow::Error>(views)
            }
        })
        .buffered(QUERIES_IN_FLIGHT)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    let mut samples = Vec::with_capacity(locks.len());
    let mut to_attested = Vec::with_capacity(locks.len());
    for (lock, views) in locks.iter().zip(&views) {
        let stages = TransferStages::of(views, threshold);
        let since_start = |unix_ms: Option<u64>| {
            unix_ms.map_or(f64::NAN, |t| t.saturating_sub(lock.start_unix_ms) as f64)
        };
        let at = |t: Option<&Instant>| {
            t.map_or(f64::NAN, |t| ms(t.saturating_duration_since(lock.start)))
        };
        if let (Some(block), Some(signed)) = (stages.block_time_ms, stages.signed_ms) {
            to_attested.push(signed.saturating_sub(block) as f64);
        }
        samples.push(Sample {
            start_s: lock.start_s,
            stages_ms: vec![
                lock.final_ms,
                since_start(stages.seen_ms),
                since_start(stages.signed_ms),
                at(stages.sequence.and_then(|s| seen.accepted.get(&s))),
                at(seen.released.get(&lock.tx)),
            ],
        });
    }
    Ok((samples, to_attested))
}

/// One transfer's times as the members' views tell them (Unix ms, members' clocks).
#[derive(Debug, PartialEq)]
struct TransferStages {
    block_time_ms: Option<u64>,
    /// When the `threshold`-th member took it in: none until that many have.
    seen_ms: Option<u64>,
    /// The earliest signature time any member recorded for its batch.
    signed_ms: Option<u64>,
    /// Its batch, from the first member that sealed one (a lagging member may not have).
    sequence: Option<u64>,
}

impl TransferStages {
    fn of(views: &[TransferView], threshold: usize) -> TransferStages {
        let mut seen: Vec<u64> = views.iter().filter_map(|v| v.seen_ms).collect();
        seen.sort_unstable();
        TransferStages {
            block_time_ms: views.iter().find_map(|v| v.block_time_ms),
            seen_ms: threshold.checked_sub(1).and_then(|i| seen.get(i).copied()),
            signed_ms: views.iter().filter_map(|v| v.signed_ms).min(),
            sequence: views.iter().find_map(|v| v.sequence),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_core::Amount;

    fn view(seen_ms: Option<u64>, signed_ms: Option<u64>, sequence: Option<u64>) -> TransferView {
        TransferView {
            source_chain: ChainId::new("bench-a").unwrap(),
            dest_chain: ChainId::new("bench-b").unwrap(),
            source_tx_hash: Hash32([1; 32]),
            asset: AssetId::new("USD").unwrap(),
            amount: Amount(1),
            recipient: "r".into(),
            stage: "signed".into(),
            hold_reason: None,
            sequence,
            vouched: true,
            block_time_ms: Some(1_000),
            seen_ms,
            signed_ms,
        }
    }

    #[test]
    fn finality_is_seen_when_the_threshold_th_member_took_the_lock_in() {
        let views = [
            view(Some(1_030), None, None),
            view(Some(1_010), Some(1_050), Some(4)),
            view(Some(1_020), Some(1_045), Some(4)),
        ];
        let stages = TransferStages::of(&views, 2);
        assert_eq!(
            stages,
            TransferStages {
                block_time_ms: Some(1_000),
                seen_ms: Some(1_020),
                signed_ms: Some(1_045),
                sequence: Some(4),
            }
        );
    }

    #[test]
    fn fewer_members_than_the_threshold_have_not_seen_it() {
        let views = [view(Some(1_010), None, None), view(None, None, None)];
        assert_eq!(TransferStages::of(&views, 2).seen_ms, None);
        assert_eq!(TransferStages::of(&[], 1).sequence, None);
    }
}
