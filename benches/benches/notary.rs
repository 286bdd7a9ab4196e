//! Notary signing sessions through the sans-I/O state machines, beside the physical limit:
//! raw frost-ed25519 round1 + round2 + aggregate for the same t-of-n. Also the Merkle batch
//! of 1,000 transfers (build + verify every proof).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use causeway_core::{sha256, Address, Amount, AssetId, ChainId, Position};
use causeway_notary::signing::{SigningMessage, SigningNode, SigningOutput};
use causeway_notary::{verify_transfer, Transfer, TransferBatch};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use frost_ed25519::keys::{IdentifierList, KeyPackage, PublicKeyPackage};
use frost_ed25519::{Identifier, SigningPackage};
use rand::rngs::StdRng;
use rand::SeedableRng;

const SIZES: [(u16, u16); 5] = [(2, 3), (5, 7), (7, 10), (14, 20), (67, 100)];

fn transfer(i: u32) -> Transfer {
    Transfer {
        source_chain: ChainId::new("devchain-a").unwrap(),
        source_position: Position::new(u64::from(i) + 1, 0),
        source_tx_hash: sha256(&i.to_be_bytes()),
        asset: AssetId::new("USD").unwrap(),
        amount: Amount(1_000 + u128::from(i)),
        sender: Address::new(format!("{:064x}", i + 1)).unwrap(),
        recipient: Address::new(format!("0x{:040x}", i + 7)).unwrap(),
        dest_asset: AssetId::new("wUSD").unwrap(),
    }
}

fn batch(n: u32) -> TransferBatch {
    let chain = |s: &str| ChainId::new(s).unwrap();
    TransferBatch::build(
        sha256(b"bench"),
        1,
        chain("devchain-a"),
        chain("evm-b"),
        1,
        (0..n).map(transfer).collect(),
    )
    .unwrap()
}

struct Keys {
    shares: BTreeMap<Identifier, KeyPackage>,
    public: PublicKeyPackage,
}

fn keys(t: u16, n: u16) -> Keys {
    let (shares, public) = frost_ed25519::keys::generate_with_dealer(
        n,
        t,
        IdentifierList::Default,
        StdRng::seed_from_u64(1),
    )
    .unwrap();
    Keys {
        shares: shares
            .into_iter()
            .map(|(id, s)| (id, KeyPackage::try_from(s).unwrap()))
            .collect(),
        public,
    }
}

/// One full session: every member online, outputs routed to inputs until a signature.
fn machine_session(keys: &Keys, message: &[u8]) {
    let mut nodes: BTreeMap<Identifier, SigningNode<StdRng>> = keys
        .shares
        .iter()
        .map(|(id, k)| {
            (
                *id,
                SigningNode::new(
                    k.clone(),
                    keys.public.clone(),
                    vec![],
                    StdRng::seed_from_u64(7),
                )
                .unwrap(),
            )
        })
        .collect();
    let mut queue: VecDeque<(
        Identifier,
        causeway_notary::transport::Envelope<SigningMessage>,
    )> = VecDeque::new();
    let mut done = false;
    let mut absorb = |from: Identifier, outs: Vec<SigningOutput>, queue: &mut VecDeque<_>| {
        for o in outs {
            match o {
                SigningOutput::Send(e)
                | SigningOutput::PersistNonceThenSend { envelope: e, .. } => {
                    queue.push_back((from, e))
                }
                SigningOutput::Completed { .. } => done = true,
                _ => {}
            }
        }
    };
    let ids: Vec<Identifier> = nodes.keys().copied().collect();
    for id in &ids {
        let out = nodes.get_mut(id).unwrap().start(message.to_vec()).unwrap();
        absorb(*id, out, &mut queue);
    }
    while let Some((from, envelope)) = queue.pop_front() {
        for id in &ids {
            if envelope.to.includes(*id) {
                let out = nodes
                    .get_mut(id)
                    .unwrap()
                    .receive(from, envelope.message.clone());
                absorb(*id, out, &mut queue);
            }
        }
    }
    assert!(done, "session did not complete");
}

/// The physical limit: t signers' round 1, round 2 and one aggregation, nothing else.
fn raw_frost(keys: &Keys, t: u16, message: &[u8]) {
    let mut rng = StdRng::seed_from_u64(9);
    let signers: Vec<&KeyPackage> = keys.shares.values().take(usize::from(t)).collect();
    let mut nonces = BTreeMap::new();
    let mut commitments = BTreeMap::new();
    for k in &signers {
        let (n, c) = frost_ed25519::round1::commit(k.signing_share(), &mut rng);
        nonces.insert(*k.identifier(), n);
        commitments.insert(*k.identifier(), c);
    }
    let package = SigningPackage::new(commitments, message);
    let shares: BTreeMap<_, _> = signers
        .iter()
        .map(|k| {
            (
                *k.identifier(),
                frost_ed25519::round2::sign(&package, &nonces[k.identifier()], k).unwrap(),
            )
        })
        .collect();
    frost_ed25519::aggregate(&package, &shares, &keys.public).unwrap();
}

fn mean_time(runs: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..runs {
        f();
    }
    start.elapsed() / runs
}

fn signing(c: &mut Criterion) {
    let message = batch(10).signing_bytes().unwrap();
    let mut group = c.benchmark_group("notary_signing");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    for (t, n) in SIZES {
        let k = keys(t, n);
        let label = format!("{t}-of-{n}");
        if n >= 100 {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(1))
                .warm_up_time(Duration::from_millis(200));
        }
        group.bench_with_input(BenchmarkId::new("state_machines", &label), &k, |b, k| {
            b.iter(|| machine_session(k, &message))
        });
        group.bench_with_input(BenchmarkId::new("raw_frost", &label), &k, |b, k| {
            b.iter(|| raw_frost(k, t, &message))
        });
        let runs = if n >= 100 { 1 } else { 5 };
        let machine = mean_time(runs, || machine_session(&k, &message));
        let raw = mean_time(runs, || raw_frost(&k, t, &message));
        println!(
            "notary {label}: state machines {machine:?} vs raw frost {raw:?} = overhead ×{:.2} (all n members run; each verifies shares/signature)",
            machine.as_secs_f64() / raw.as_secs_f64()
        );
    }
    group.finish();
}

fn merkle(c: &mut Criterion) {
    let transfers: Vec<Transfer> = (0..1_000).map(transfer).collect();
    let mut group = c.benchmark_group("notary_merkle");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    group.bench_function("build_1000", |b| {
        b.iter(|| {
            let chain = |s: &str| ChainId::new(s).unwrap();
            TransferBatch::build(
                sha256(b"bench"),
                1,
                chain("devchain-a"),
                chain("evm-b"),
                1,
                transfers.clone(),
            )
            .unwrap()
        })
    });
    let built = batch(1_000);
    let proofs: Vec<_> = (0..1_000).map(|i| built.proof(i).unwrap()).collect();
    group.bench_function("verify_1000_proofs", |b| {
        b.iter(|| {
            for (t, p) in built.transfers.iter().zip(&proofs) {
                verify_transfer(&built.attestation, t, p).unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, signing, merkle);
criterion_main!(benches);
