//! sled writes per swap step, beside the physical limit. The relay persists every swap a
//! step changed, one insert per swap keyed by swap id: its progress and timeline as JSON,
//! never its offer, which was written once (`swaps::SwapStore::write`, called here), then
//! waits for a group-committed flush (relay/src/durable.rs); the limit is raw sled inserts of
//! values of the same length and one synchronous flush. Once for one swap, once for 64
//! swaps changed by one step.
//!
//! The databases live in the system temp dir: set TMPDIR to measure another disk.

use std::hint::black_box;
use std::time::{Duration, Instant};

use causeway_benches::{best_of, best_of_interleaved};
use causeway_core::{Amount, ChainId, FinalityRule, UnixMillis};
use causeway_htlc::{
    plan, ChainParams, ChainTimes, Input, Leg, Offer, SafetyPolicy, Secret, SignedOffer, Swap,
    SwapId,
};
use causeway_relay::durable::Durable;
use causeway_relay::store::{Store, CACHE_BYTES};
use causeway_relay::swaps::{progress_value, SwapRecord, SwapStore};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use tokio::runtime::Runtime;

const NOW_MS: UnixMillis = 1_700_000_000_000;
const ACCEPT_WINDOW_MS: u64 = 60_000;
const STEP_SIZES: [usize; 2] = [1, 64];

fn chain(id: &str) -> ChainParams {
    ChainParams {
        chain_id: ChainId::new(id).unwrap(),
        finality: FinalityRule::Instant,
        block_time_ms: 1_000,
    }
}

fn devchain_address(seed: u32) -> String {
    format!("{:064x}", u64::from(seed) + 1)
}

fn evm_address(seed: u32) -> String {
    format!("0x{:040x}", u64::from(seed) + 1)
}

/// An initiator's swap as the relay holds it after its first step: planned from both
/// chains, offer signed, started, and its lock on chain A submitted after both chains ticked.
fn swap_record(i: u32) -> SwapRecord {
    let identity = SigningKey::from_bytes(&[7; 32]);
    let (a, b) = (chain("devchain-a"), chain("evm-b"));
    let policy = SafetyPolicy::default();
    let now = ChainTimes {
        a_ms: NOW_MS,
        b_ms: NOW_MS,
    };
    let deadlines = plan(&a, &b, &policy, now, ACCEPT_WINDOW_MS)
        .unwrap()
        .deadlines;
    let mut seed = [9u8; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    let secret = Secret::from_bytes(seed);
    let offer = Offer::new(
        SwapId::new(format!("bench-swap-{i:06}")).unwrap(),
        secret.hashlock(),
        Leg::parse(
            a.chain_id.as_str(),
            "USD",
            Amount(1_000_000 + u128::from(i)),
            &devchain_address(i),
            &devchain_address(i + 1_000_000),
            deadlines.leg_a_expiry_ms,
        )
        .unwrap(),
        Leg::parse(
            b.chain_id.as_str(),
            "GOLD",
            Amount(5_000 + u128::from(i)),
            &evm_address(i + 1_000_000),
            &evm_address(i),
            deadlines.leg_b_expiry_ms,
        )
        .unwrap(),
        deadlines.accept_by_ms,
        identity.verifying_key().into(),
    );
    let encoded = SignedOffer::sign(offer.clone(), &identity)
        .unwrap()
        .encode();
    let swap = Swap::initiator(offer, secret, &a, &b, &policy, now).unwrap();
    let mut record = SwapRecord::new(swap, encoded, NOW_MS);
    let mut outputs = record.swap.handle(Input::Start);
    for c in [&a, &b] {
        outputs.extend(record.swap.handle(Input::Tick {
            chain: c.chain_id.clone(),
            finalized_height: 1_000,
            time_ms: NOW_MS,
        }));
    }
    let submits = record.note_all(outputs, NOW_MS);
    assert_eq!(submits.len(), 1, "the initiator's lock is submitted");
    record
}

/// Runs per round of a ratio's side.
const RUNS_PER_ROUND: u32 = 40;

/// The relay's side: the records of the swaps one step changes, persisted as it does.
struct RelaySide<'a> {
    swaps: SwapStore,
    durable: &'a Durable,
    runtime: &'a Runtime,
    records: Vec<SwapRecord>,
    step: u64,
}

impl RelaySide<'_> {
    /// sled skips an insert whose value equals the stored one, so every step must change
    /// each record, as a real step does; the stamp keeps the JSON length fixed.
    fn change_records(&mut self) {
        self.step += 1;
        for record in &mut self.records {
            record.timeline.last_mut().unwrap().at_ms = NOW_MS + self.step;
        }
    }

    /// As SwapEngine's step persists: every changed record written, then the database's
    /// group-committed flush.
    fn step(&mut self) {
        self.write();
        self.runtime.block_on(self.durable.flush()).unwrap();
    }

    /// As [`RelaySide::step`] without the hop to tokio's blocking pool, to tell the cost of
    /// group commit from that of the writes.
    fn step_flushing_in_place(&mut self) {
        self.write();
        self.durable.db().flush().unwrap();
    }

    fn write(&mut self) {
        self.change_records();
        for record in &self.records {
            self.swaps.write(record).unwrap();
        }
    }

    fn assert_last_step_stored(&self) {
        for record in &self.records {
            let stored = self.swaps.get(record.swap.swap_id().as_str()).unwrap();
            let stored = stored.expect("the swap is stored");
            assert_eq!(stored.swap, record.swap);
            assert_eq!(
                serde_json::to_value(&stored.timeline).unwrap(),
                serde_json::to_value(&record.timeline).unwrap()
            );
        }
    }

    fn serialize_only(&self) {
        for record in &self.records {
            black_box(progress_value(record).unwrap());
        }
    }
}

/// The physical limit: the same keys, values of the same lengths made beforehand (changed
/// in place each step, for the same reason as the relay's), plain inserts, one flush.
struct RawSide {
    db: sled::Db,
    tree: sled::Tree,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    step: u64,
}

impl RawSide {
    fn new(db: &sled::Db, records: &[SwapRecord]) -> RawSide {
        RawSide {
            db: db.clone(),
            tree: db.open_tree("swaps").unwrap(),
            entries: records
                .iter()
                .map(|r| {
                    let len = progress_value(r).unwrap().len();
                    (
                        r.swap.swap_id().as_str().as_bytes().to_vec(),
                        vec![0xab; len],
                    )
                })
                .collect(),
            step: 0,
        }
    }

    fn step(&mut self) {
        self.step += 1;
        for (key, value) in &mut self.entries {
            value[..8].copy_from_slice(&self.step.to_be_bytes());
            self.tree.insert(key.as_slice(), value.as_slice()).unwrap();
        }
        self.db.flush().unwrap();
    }

    fn assert_last_step_stored(&self) {
        for (key, value) in &self.entries {
            let stored = self.tree.get(key).unwrap();
            assert_eq!(stored.as_deref(), Some(value.as_slice()));
        }
    }

    fn value_bytes(&self) -> usize {
        self.entries.iter().map(|(_, v)| v.len()).sum()
    }
}

fn time_per_run(runs: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..runs {
        f();
    }
    start.elapsed() / runs
}

fn swap_steps(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("relay")).unwrap();
    // Configured as Store::open configures the relay's database, so only the path differs.
    let raw_db = sled::Config::new()
        .path(dir.path().join("raw"))
        .cache_capacity(CACHE_BYTES)
        .open()
        .unwrap();
    let all: Vec<SwapRecord> = (0..*STEP_SIZES.iter().max().unwrap() as u32)
        .map(swap_record)
        .collect();

    let mut group = c.benchmark_group("swap_store");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for swaps in STEP_SIZES {
        let swaps_store = SwapStore::open(store.db()).unwrap();
        for record in &all[..swaps] {
            swaps_store.insert_new(record).unwrap();
        }
        let mut relay = RelaySide {
            swaps: swaps_store,
            durable: store.durable(),
            runtime: &runtime,
            records: all[..swaps].to_vec(),
            step: 0,
        };
        let mut raw = RawSide::new(&raw_db, &all[..swaps]);
        group.throughput(Throughput::Elements(swaps as u64));
        group.bench_function(
            BenchmarkId::new("relay_writes_and_group_commit", swaps),
            |b| b.iter(|| relay.step()),
        );
        group.bench_function(
            BenchmarkId::new("raw_sled_inserts_and_flush (limit)", swaps),
            |b| b.iter(|| raw.step()),
        );

        let (ours, limit) = best_of_interleaved(
            || time_per_run(RUNS_PER_ROUND, || relay.step()),
            || time_per_run(RUNS_PER_ROUND, || raw.step()),
        );
        relay.assert_last_step_stored();
        raw.assert_last_step_stored();
        let best_of = |f: &mut dyn FnMut()| best_of(|| time_per_run(RUNS_PER_ROUND, &mut *f));
        let serialize = best_of(&mut || relay.serialize_only());
        let flushed_in_place = best_of(&mut || relay.step_flushing_in_place());
        println!(
            "swap store, {swaps} swap(s) per step ({} JSON bytes): serialize + inserts + group-commit flush {ours:?} ({:?} per swap; serde_json alone {serialize:?}, with sled's flush called in place {flushed_in_place:?}) vs raw {swaps} sled insert(s) of as many bytes + flush {limit:?} ({:?} per swap) = ×{:.2}",
            raw.value_bytes(),
            ours / swaps as u32,
            limit / swaps as u32,
            ours.as_secs_f64() / limit.as_secs_f64()
        );
    }
    group.finish();
}

criterion_group!(benches, swap_steps);
criterion_main!(benches);
