//! Two in-process nodes bridged by a committee key made in the test: A -> B mint,
//! B -> A burn and release, replays, wrong epoch, rotation, zero root and pause
//! (`specs/devchain.md` §13).

use std::path::Path;

use causeway_core::{Amount, AssetId, ChainId, EventKind, Hash32, Position};
use causeway_devchain::api::{DevchainApiClient, ErrorCode, TxOutcome};
use causeway_devchain::tx::{Payload, Transaction};
use causeway_devchain::{
    init_home, BridgeConfig, BridgeRoute, GenesisAccount, InitOptions, WrappedAsset,
};
use causeway_notary::{
    Attestation, GroupKey, KeyRotation, MerkleProof, PauseControl, Transfer, TransferBatch,
};
use jsonrpsee::core::ClientError;

mod support;
use support::{addr, key, usd, RunningNode, MAX_POLLS, POLL_EVERY};

const INTERVAL_MS: u64 = 20;
const FUNDS: u128 = 1_000;
const COMMITTEE: Hash32 = Hash32([0x42; 32]);

fn chain_a() -> ChainId {
    ChainId::new("bridge-a").unwrap()
}
fn chain_b() -> ChainId {
    ChainId::new("bridge-b").unwrap()
}
fn wusd() -> AssetId {
    AssetId::new("WUSD").unwrap()
}

/// A FROST group signature is a plain Ed25519 signature, so the committee is
/// one trusted-dealer FROST key set: we sign with `frost_ed25519` and verify on chain.
struct Committee {
    shares: std::collections::BTreeMap<frost_ed25519::Identifier, frost_ed25519::keys::KeyPackage>,
    public: frost_ed25519::keys::PublicKeyPackage,
}

impl Committee {
    fn new() -> Committee {
        let (secret_shares, public) = frost_ed25519::keys::generate_with_dealer(
            3,
            2,
            frost_ed25519::keys::IdentifierList::Default,
            rand::rngs::OsRng,
        )
        .unwrap();
        let shares = secret_shares
            .into_iter()
            .map(|(id, share)| {
                (
                    id,
                    frost_ed25519::keys::KeyPackage::try_from(share).unwrap(),
                )
            })
            .collect();
        Committee { shares, public }
    }

    fn group_key(&self) -> GroupKey {
        GroupKey::from_public_key_package(&self.public).unwrap()
    }

    /// Two-of-three FROST signing over `message`.
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut rng = rand::rngs::OsRng;
        let signers: Vec<_> = self.shares.iter().take(2).collect();
        let mut nonces = std::collections::BTreeMap::new();
        let mut commitments = std::collections::BTreeMap::new();
        for (id, package) in &signers {
            let (n, c) = frost_ed25519::round1::commit(package.signing_share(), &mut rng);
            nonces.insert(**id, n);
            commitments.insert(**id, c);
        }
        let package = frost_ed25519::SigningPackage::new(commitments, message);
        let mut shares = std::collections::BTreeMap::new();
        for (id, key_package) in &signers {
            let share = frost_ed25519::round2::sign(&package, &nonces[*id], key_package).unwrap();
            shares.insert(**id, share);
        }
        let signature = frost_ed25519::aggregate(&package, &shares, &self.public).unwrap();
        signature.serialize().unwrap().try_into().unwrap()
    }

    fn payload(&self, attestation: &Attestation) -> Payload {
        let bytes = attestation.to_bytes().unwrap();
        Payload::BridgeSubmitAttestation {
            attestation: hex::encode(&bytes),
            signature: hex::encode(self.sign(&bytes)),
        }
    }
}

fn config(committee: &Committee, here: &ChainId) -> BridgeConfig {
    if *here == chain_a() {
        BridgeConfig {
            committee_id: COMMITTEE,
            group_key: committee.group_key(),
            key_epoch: 1,
            routes: vec![BridgeRoute {
                asset: usd(),
                dest_chain: chain_b(),
                dest_asset: wusd(),
            }],
            wrapped: vec![],
        }
    } else {
        BridgeConfig {
            committee_id: COMMITTEE,
            group_key: committee.group_key(),
            key_epoch: 1,
            routes: vec![BridgeRoute {
                asset: wusd(),
                dest_chain: chain_a(),
                dest_asset: usd(),
            }],
            wrapped: vec![WrappedAsset {
                asset: wusd(),
                origin_chain: chain_a(),
                origin_asset: usd(),
            }],
        }
    }
}

struct Running {
    node: RunningNode,
    chain: ChainId,
}

impl std::ops::Deref for Running {
    type Target = RunningNode;
    fn deref(&self) -> &RunningNode {
        &self.node
    }
}

async fn init_and_start(home: &Path, chain: ChainId, committee: &Committee) -> Running {
    // The CLI reads this same JSON shape from `--bridge FILE`.
    let json = serde_json::to_string(&config(committee, &chain)).unwrap();
    let bridge: BridgeConfig = serde_json::from_str(&json).unwrap();
    init_home(
        home,
        InitOptions {
            chain_id: chain.clone(),
            rpc_addr: "127.0.0.1:0".parse().unwrap(),
            block_interval_ms: INTERVAL_MS,
            accounts: vec![GenesisAccount {
                address: addr(1),
                balances: [(usd(), Amount(FUNDS))].into(),
            }],
            force: false,
            bridge: Some(bridge),
        },
    )
    .unwrap();
    start(home, chain).await
}

async fn start(home: &Path, chain: ChainId) -> Running {
    Running {
        node: RunningNode::start(home).await,
        chain,
    }
}

impl Running {
    async fn shutdown(self) {
        self.node.shutdown().await
    }

    /// Submits from `seed` and waits for the receipt: `Ok(events)` or the error code,
    /// whether refused at admission or failed in the block.
    async fn submit(&self, seed: u8, payload: Payload) -> Result<Vec<EventKind>, i32> {
        let nonce = self.rpc.account(addr(seed)).await.unwrap().nonce;
        let tx = Transaction {
            chain_id: self.chain.clone(),
            from: addr(seed),
            nonce,
            payload,
        }
        .sign(&key(seed));
        let hash = match self.rpc.submit_transaction(tx).await {
            Ok(hash) => hash,
            Err(ClientError::Call(obj)) => return Err(obj.code()),
            Err(other) => panic!("expected a JSON-RPC error, got {other}"),
        };
        for _ in 0..MAX_POLLS {
            if let Some(receipt) = self.rpc.receipt(hash).await.unwrap() {
                return match receipt.outcome {
                    TxOutcome::Success => Ok(receipt.events.into_iter().map(|e| e.kind).collect()),
                    TxOutcome::Failed { code, .. } => Err(code),
                };
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!("transaction {hash} was never committed");
    }

    async fn balance(&self, seed: u8, asset: AssetId) -> u128 {
        self.rpc.balance(addr(seed), asset).await.unwrap().0
    }
}

/// The relay's job, done by hand: turn a `BridgeSent` into a one-transfer batch.
fn batch_of(
    sent: &EventKind,
    source: ChainId,
    dest: ChainId,
    sequence: u64,
    epoch: u64,
) -> TransferBatch {
    let EventKind::BridgeSent {
        sender,
        recipient,
        asset,
        dest_asset,
        amount,
        ..
    } = sent.clone()
    else {
        panic!("expected BridgeSent, got {sent:?}");
    };
    let transfer = Transfer {
        source_chain: source.clone(),
        source_position: Position::new(sequence, 0),
        source_tx_hash: Hash32([sequence as u8; 32]),
        asset,
        amount,
        sender,
        recipient,
        dest_asset,
    };
    TransferBatch::build(COMMITTEE, epoch, source, dest, sequence, vec![transfer]).unwrap()
}

fn execute(batch: &TransferBatch) -> Payload {
    Payload::BridgeExecute {
        transfer: batch.transfers[0].clone(),
        proof: batch.proof(0).unwrap(),
    }
}

fn send(dest_chain: ChainId, asset: AssetId, amount: u128) -> Payload {
    Payload::BridgeSend {
        dest_chain,
        recipient: addr(2),
        asset,
        amount: Amount(amount),
    }
}

fn code(error: ErrorCode) -> Result<Vec<EventKind>, i32> {
    Err(error.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_replays_rotation_zero_root_and_pause() {
    let committee = Committee::new();
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = init_and_start(home_a.path(), chain_a(), &committee).await;
    let b = init_and_start(home_b.path(), chain_b(), &committee).await;

    // A -> B: lock 100 USD in A's vault, mint 100 WUSD on B.
    let sent = a.submit(1, send(chain_b(), usd(), 100)).await.unwrap();
    let to_b = batch_of(&sent[0], chain_a(), chain_b(), 1, 1);
    let attestation = Attestation::TransferBatch(to_b.attestation.clone());
    b.submit(3, committee.payload(&attestation)).await.unwrap();
    let received = b.submit(3, execute(&to_b)).await.unwrap();
    assert!(matches!(received[0], EventKind::BridgeReceived { .. }));
    assert_eq!(b.balance(2, wusd()).await, 100);
    // Replays: the same attestation and the same transfer.
    assert_eq!(
        b.submit(3, committee.payload(&attestation)).await,
        code(ErrorCode::BridgeReplay)
    );
    assert_eq!(
        b.submit(3, execute(&to_b)).await,
        code(ErrorCode::BridgeReplay)
    );

    // B -> A: burn 60 WUSD on B, release 60 USD from A's vault.
    let burned = b.submit(2, send(chain_a(), wusd(), 60)).await.unwrap();
    let to_a = batch_of(&burned[0], chain_b(), chain_a(), 1, 1);
    a.submit(
        3,
        committee.payload(&Attestation::TransferBatch(to_a.attestation.clone())),
    )
    .await
    .unwrap();
    a.submit(3, execute(&to_a)).await.unwrap();
    assert_eq!(a.balance(2, usd()).await, 60);
    assert_eq!(a.balance(1, usd()).await, FUNDS - 100);
    let status = a.rpc.bridge().await.unwrap().unwrap();
    assert_eq!(status.vault[&usd()], Amount(40));
    assert_eq!(status.last_sequence[&chain_b()], 1);

    // Wrong epoch: the chain is at epoch 1.
    let sent = a.submit(1, send(chain_b(), usd(), 10)).await.unwrap();
    let epoch_two = batch_of(&sent[0], chain_a(), chain_b(), 2, 2);
    let wrong_epoch = Attestation::TransferBatch(epoch_two.attestation.clone());
    assert_eq!(
        b.submit(3, committee.payload(&wrong_epoch)).await,
        code(ErrorCode::BridgeWrongEpoch)
    );

    // Zero root: no batch was ever accepted under it.
    let zero_root = Payload::BridgeExecute {
        transfer: epoch_two.transfers[0].clone(),
        proof: MerkleProof {
            leaf_index: 0,
            leaf_count: 1,
            siblings: vec![],
        },
    };
    assert_eq!(
        b.submit(3, zero_root).await,
        code(ErrorCode::BridgeUnknownRoot)
    );

    // Rotation to a new committee; then the old key is refused.
    let next = Committee::new();
    let rotation = Attestation::KeyRotation(KeyRotation {
        committee_id: COMMITTEE,
        key_epoch: 1,
        chain: chain_b(),
        new_epoch: 2,
        new_group_key: next.group_key(),
        activate_at_ms: 1,
        overlap_ms: 0,
    });
    b.submit(3, committee.payload(&rotation)).await.unwrap();
    assert_eq!(
        b.submit(3, committee.payload(&wrong_epoch)).await,
        code(ErrorCode::BridgeBadSignature)
    );
    b.submit(3, next.payload(&wrong_epoch)).await.unwrap();
    assert_eq!(b.rpc.bridge().await.unwrap().unwrap().key_epoch, 2);

    // Pause refuses execution until unpaused.
    let pause = |control_sequence, paused| {
        Attestation::Pause(PauseControl {
            committee_id: COMMITTEE,
            key_epoch: 2,
            chain: chain_b(),
            control_sequence,
            paused,
        })
    };
    b.submit(3, next.payload(&pause(1, true))).await.unwrap();
    assert_eq!(
        b.submit(3, execute(&epoch_two)).await,
        code(ErrorCode::BridgePaused)
    );
    b.submit(3, next.payload(&pause(2, false))).await.unwrap();
    b.submit(3, execute(&epoch_two)).await.unwrap();
    assert_eq!(b.balance(2, wusd()).await, 50);

    // §13.1: the bridge state is durable: a reopened node reports the same state.
    let before = b.rpc.bridge().await.unwrap();
    b.shutdown().await;
    let b = start(home_b.path(), chain_b()).await;
    assert_eq!(b.rpc.bridge().await.unwrap(), before);
    assert_eq!(
        b.submit(3, execute(&epoch_two)).await,
        code(ErrorCode::BridgeReplay)
    );
    a.shutdown().await;
    b.shutdown().await;
}
