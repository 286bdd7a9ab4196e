//! The relay's event ingestion: one page of finalized events, their hashlock index and the
//! cursor past it written in one sled transaction, beside the physical limit: the same log
//! values (runs of events, `store::encode_chunks`) written atomically into one tree the
//! cheaper of sled's two ways, a batch or a transaction (on this machine the transaction).

use std::time::{Duration, Instant};

use causeway_benches::best_of_interleaved;

use causeway_core::{Address, Amount, AssetId, ChainEvent, ChainId, EventKind, Hash32, Position};
use causeway_relay::store::{encode_chunks, Store};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const PAGE: usize = 500;
/// Pages written per timed round of the printed ratio.
const RATIO_PAGES: u32 = 50;

fn page(chain: &ChainId, height: u64) -> Vec<ChainEvent> {
    (0..PAGE as u32)
        .map(|i| ChainEvent {
            chain_id: chain.clone(),
            position: Position::new(height, i),
            tx_hash: Hash32([i as u8; 32]),
            time_ms: 1_700_000_000_000,
            kind: EventKind::Transfer {
                from: Address::new("a".repeat(64)).unwrap(),
                to: Address::new("b".repeat(64)).unwrap(),
                asset: AssetId::new("USD").unwrap(),
                amount: Amount(1_000),
            },
        })
        .collect()
}

fn ingest(c: &mut Criterion) {
    let chain = ChainId::new("bench").unwrap();
    let mut group = c.benchmark_group("relay_ingest");
    group.throughput(Throughput::Elements(PAGE as u64));
    group
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let height = std::cell::Cell::new(0u64);
    group.bench_function("store_ingest_page_500", |b| {
        b.iter_batched(
            || {
                height.set(height.get() + 1);
                page(&chain, height.get())
            },
            |events| {
                let next = events[0].position.next_block();
                store.ingest_now(&chain, &events, next).unwrap()
            },
            BatchSize::SmallInput,
        )
    });

    // Physical limit: the same keys and values written atomically into one tree.
    let raw_dir = tempfile::tempdir().unwrap();
    let db = sled::open(raw_dir.path()).unwrap();
    let raw_tree = db.open_tree("events").unwrap();
    let raw_height = std::cell::Cell::new(0u64);
    let raw_batch = |events: &[ChainEvent]| {
        let mut batch = sled::Batch::default();
        for (key, value) in encode_chunks(&chain, events).unwrap() {
            batch.insert(key, value);
        }
        raw_tree.apply_batch(batch).unwrap();
    };
    let raw_transaction = |events: &[ChainEvent]| {
        let encoded = encode_chunks(&chain, events).unwrap();
        raw_tree
            .transaction(|log| {
                for (k, v) in &encoded {
                    log.insert(k.as_slice(), v.as_slice())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .unwrap();
    };
    for (name, write) in [
        ("raw_sled_batch_500", &raw_batch as &dyn Fn(&[ChainEvent])),
        ("raw_sled_transaction_500", &raw_transaction),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    raw_height.set(raw_height.get() + 1);
                    page(&chain, raw_height.get())
                },
                |events| write(&events),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    let timed = |write: &dyn Fn(&[ChainEvent]), height: &std::cell::Cell<u64>| {
        let pages: Vec<_> = (0..RATIO_PAGES)
            .map(|_| {
                height.set(height.get() + 1);
                page(&chain, height.get())
            })
            .collect();
        let start = Instant::now();
        for events in &pages {
            write(events);
        }
        start.elapsed() / RATIO_PAGES
    };
    let ours = |events: &[ChainEvent]| {
        let next = events[0].position.next_block();
        store.ingest_now(&chain, events, next).unwrap()
    };
    // Both raw writes each round, the cheaper one as the limit: which is cheaper depends on
    // the machine.
    let (ours, limit) = best_of_interleaved(
        || timed(&ours, &height),
        || timed(&raw_batch, &raw_height).min(timed(&raw_transaction, &raw_height)),
    );
    println!(
        "relay ingest, a page of {PAGE} events: {ours:?} ({:?} an event) vs raw atomic write of the same values into one tree (the cheaper of a batch and a transaction) {limit:?} = {:.2}x",
        ours / PAGE as u32,
        ours.as_secs_f64() / limit.as_secs_f64()
    );
}

criterion_group!(benches, ingest);
criterion_main!(benches);
