//! The relay's event ingestion: one page of finalized events and the cursor past it written
//! in one sled transaction, beside the physical limit of the same log values (runs of
//! events, `store::encode_chunks`) as one raw sled batch.

use std::time::Duration;

use causeway_core::{Address, Amount, AssetId, ChainEvent, ChainId, EventKind, Hash32, Position};
use causeway_relay::store::{encode_chunks, Store};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const PAGE: usize = 500;

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

    // Physical limit: the same keys and values in one raw sled batch, no transaction.
    let raw_dir = tempfile::tempdir().unwrap();
    let db = sled::open(raw_dir.path()).unwrap();
    let raw_height = std::cell::Cell::new(0u64);
    group.bench_function("raw_sled_batch_500", |b| {
        b.iter_batched(
            || {
                raw_height.set(raw_height.get() + 1);
                page(&chain, raw_height.get())
            },
            |events| {
                let mut batch = sled::Batch::default();
                for (key, value) in encode_chunks(&chain, &events).unwrap() {
                    batch.insert(key, value);
                }
                db.apply_batch(batch).unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
