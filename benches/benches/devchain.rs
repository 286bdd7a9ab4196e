//! devchain hot paths, each beside its physical limit:
//! (a) admitting and executing one signed transfer vs. a raw Ed25519 verification;
//! (b) building and durably committing a block of 1000 transfers vs. raw sled inserts + flush
//!     of the same number of records;
//! (c) admission's signature checks, one at a time and in a full batch, vs. a raw Ed25519
//!     verification each.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use causeway_core::{Amount, AssetId, ChainId};
use causeway_devchain::api::AccountState;
use causeway_devchain::block::build_block;
use causeway_devchain::executor::{execute, BlockContext};
use causeway_devchain::mempool::check_stateless;
use causeway_devchain::state::{Head, State};
use causeway_devchain::storage::Storage;
use causeway_devchain::tx::{address_of, Payload, SignedTransaction, Transaction};
use causeway_devchain::verifier::{verify_all, SignatureCheck, MAX_VERIFY_BATCH};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};

const BLOCK_TXS: usize = 1_000;
const MAX_TX_BYTES: usize = causeway_devchain::config::DEFAULT_MAX_TX_BYTES;
/// Iterations of the hand-timed comparison printed as a ratio.
const RATIO_ROUNDS: u32 = 2_000;
/// Blocks committed for the durable block's printed ratio.
const DURABLE_RATIO_BLOCKS: u32 = 40;

fn chain() -> ChainId {
    ChainId::new("bench").unwrap()
}

fn usd() -> AssetId {
    AssetId::new("USD").unwrap()
}

fn sender(i: usize) -> SigningKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
    SigningKey::from_bytes(&seed)
}

/// `senders` funded accounts.
fn funded_state(senders: usize) -> State {
    let mut state = State::new(chain(), BTreeSet::from([usd()]));
    for i in 0..senders {
        let mut account = AccountState::default();
        account.balances.insert(usd(), Amount(1_000_000));
        state
            .accounts
            .insert(address_of(&sender(i).verifying_key()), account);
    }
    state
}

fn transfer_from(i: usize) -> SignedTransaction {
    let key = sender(i);
    Transaction {
        chain_id: chain(),
        from: address_of(&key.verifying_key()),
        nonce: 0,
        payload: Payload::Transfer {
            to: address_of(&sender(i + 1).verifying_key()),
            asset: usd(),
            amount: Amount(1),
        },
    }
    .sign(&key)
}

fn admit_and_execute(state: &State, tx: SignedTransaction) {
    let verified = check_stateless(&chain(), tx, MAX_TX_BYTES).unwrap();
    black_box(execute(state, &BlockContext { time_ms: 1 }, &verified.tx.tx).unwrap());
}

fn raw_verify(key: &SigningKey, message: &[u8], signature: &Signature) {
    key.verifying_key()
        .verify(black_box(message), signature)
        .unwrap();
}

fn time_per_op(op: impl FnMut()) -> Duration {
    time_per_op_n(RATIO_ROUNDS, op)
}

fn time_per_op_n(rounds: u32, mut op: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        op();
    }
    start.elapsed() / rounds
}

fn signed_transfer(c: &mut Criterion) {
    let state = funded_state(2);
    let tx = transfer_from(0);
    let key = sender(0);
    let message = tx.tx.signing_bytes();
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(&tx.signature, &mut bytes).unwrap();
    let signature = Signature::from_bytes(&bytes);

    let mut group = c.benchmark_group("devchain_signed_transfer");
    group.throughput(Throughput::Elements(1));
    group
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    group.bench_function("admit_and_execute", |b| {
        b.iter_batched(
            || tx.clone(),
            |tx| admit_and_execute(&state, tx),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("raw_ed25519_verify (limit)", |b| {
        b.iter(|| raw_verify(&key, &message, &signature))
    });
    group.finish();

    let ours = time_per_op(|| admit_and_execute(&state, tx.clone()));
    let limit = time_per_op(|| raw_verify(&key, &message, &signature));
    println!(
        "devchain signed transfer: {ours:?} vs raw verify {limit:?} = {:.2}x the physical limit",
        ours.as_secs_f64() / limit.as_secs_f64()
    );
}

fn durable_block(c: &mut Criterion) {
    let state = funded_state(BLOCK_TXS + 1);
    let txs: Vec<SignedTransaction> = (0..BLOCK_TXS).map(transfer_from).collect();
    let validator = SigningKey::from_bytes(&[1; 32]);
    let parent = Head {
        height: 0,
        hash: causeway_core::Hash32::ZERO,
        time_ms: 1,
    };
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&dir.path().join("devchain")).unwrap();
    let raw = sled::open(dir.path().join("raw")).unwrap();
    // The same number of records of about the same size as the block writes.
    let sample = build_block(&state, &parent, 2, txs.clone(), &validator);
    let records = sample.receipts.len() + sample.events.len() + sample.changes.accounts.len() + 2;
    let record = vec![0xabu8; serde_json_len(&sample.receipts[0])];

    let mut group = c.benchmark_group("devchain_durable_block");
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    // sled skips a write whose value equals the stored one: each iteration's block and
    // records differ (block time, a stamped counter), so both sides really write.
    let step = std::cell::Cell::new(2u64);
    group.bench_function("build_and_commit_1000_transfers", |b| {
        b.iter_batched(
            || {
                step.set(step.get() + 1);
                (txs.clone(), step.get())
            },
            |(txs, time_ms)| {
                let out = build_block(&state, &parent, time_ms, txs, &validator);
                storage.commit(&out).unwrap();
            },
            BatchSize::LargeInput,
        )
    });
    let raw_write = || {
        step.set(step.get() + 1);
        let mut record = record.clone();
        record[..8].copy_from_slice(&step.get().to_be_bytes());
        let mut batch = sled::Batch::default();
        for i in 0..records {
            batch.insert(&(i as u64).to_be_bytes(), record.as_slice());
        }
        raw.apply_batch(batch).unwrap();
        raw.flush().unwrap();
    };
    group.bench_function("raw_sled_batch_and_flush (limit)", |b| b.iter(raw_write));
    group.finish();

    let mut inputs = (0..DURABLE_RATIO_BLOCKS)
        .map(|_| txs.clone())
        .collect::<Vec<_>>()
        .into_iter();
    let ours = time_per_op_n(DURABLE_RATIO_BLOCKS, || {
        step.set(step.get() + 1);
        let txs = inputs.next().unwrap();
        let out = build_block(&state, &parent, step.get(), txs, &validator);
        storage.commit(&out).unwrap();
    });
    let limit = time_per_op_n(DURABLE_RATIO_BLOCKS, raw_write);
    println!(
        "devchain durable block of {BLOCK_TXS} transfers: built and committed in {ours:?} ({:.0} transfers/s) vs raw sled batch + flush of {records} records {limit:?} = {:.2}x",
        BLOCK_TXS as f64 / ours.as_secs_f64(),
        ours.as_secs_f64() / limit.as_secs_f64()
    );
}

fn serde_json_len(value: &impl serde::Serialize) -> usize {
    serde_json::to_vec(value).map_or(256, |v| v.len())
}

/// Signature checks as admission makes them ([`causeway_devchain::verifier`]): alone (a
/// lone submission) and as one full batch (submissions arriving together), per signature.
fn signature_checks(c: &mut Criterion) {
    let txs: Vec<SignedTransaction> = (0..MAX_VERIFY_BATCH).map(transfer_from).collect();
    let checks: Vec<SignatureCheck> = txs
        .iter()
        .map(|tx| SignatureCheck::of(tx, tx.tx.signing_bytes()).unwrap())
        .collect();
    let refs: Vec<&SignatureCheck> = checks.iter().collect();
    let full_batch = || assert!(!black_box(verify_all(black_box(&refs))).batch_failed);
    let alone = || assert!(black_box(&checks[0]).verify_alone());
    let key = sender(0);
    let message = txs[0].tx.signing_bytes();
    let signature = key.sign(&message);
    let raw = || raw_verify(&key, &message, &signature);

    let mut group = c.benchmark_group("devchain_signature_check");
    group
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    group.throughput(Throughput::Elements(1));
    group.bench_function("alone", |b| b.iter(alone));
    group.bench_function("raw_ed25519_verify (limit)", |b| b.iter(raw));
    group.throughput(Throughput::Elements(MAX_VERIFY_BATCH as u64));
    group.bench_function(format!("full_batch_of_{MAX_VERIFY_BATCH}"), |b| {
        b.iter(full_batch)
    });
    group.finish();

    let per_signature_in_batch = time_per_op(full_batch) / MAX_VERIFY_BATCH as u32;
    let limit = time_per_op(raw);
    println!(
        "devchain signature check: {per_signature_in_batch:?} per signature in a batch of {MAX_VERIFY_BATCH} vs raw verify {limit:?} = {:.2}x the single-verification limit",
        per_signature_in_batch.as_secs_f64() / limit.as_secs_f64()
    );
}

criterion_group!(benches, signed_transfer, durable_block, signature_checks);
criterion_main!(benches);
