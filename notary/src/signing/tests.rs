//! In-memory committee runs: outputs are routed to inputs by a tiny simulated network.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use frost_ed25519::keys::{IdentifierList, KeyPackage, PublicKeyPackage};
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::Identifier;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::test_support::batch;
use crate::transport::{Envelope, Recipient};
use crate::verify::verify_attestation_bytes;

type Shares = BTreeMap<Identifier, KeyPackage>;

pub(crate) fn dealer_keys(n: u16, t: u16, seed: u64) -> (Shares, PublicKeyPackage) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (shares, public) =
        frost_ed25519::keys::generate_with_dealer(n, t, IdentifierList::Default, &mut rng)
            .expect("valid parameters");
    let keys = shares
        .into_iter()
        .map(|(id, s)| (id, KeyPackage::try_from(s).expect("dealer share verifies")))
        .collect();
    (keys, public)
}

pub(crate) fn message(n: u32) -> Vec<u8> {
    batch(n).signing_bytes().expect("fixture batch encodes")
}

/// A simulated authenticated network plus each node's durable nonce store.
pub(crate) struct Net {
    pub nodes: BTreeMap<Identifier, SigningNode<StdRng>>,
    pub offline: BTreeSet<Identifier>,
    pub disk: BTreeMap<Identifier, BTreeMap<RoundId, NonceRecord>>,
    pub events: Vec<(Identifier, SigningOutput)>,
    pub corrupt_shares_from: BTreeSet<Identifier>,
    /// Messages delivered, by kind (a broadcast counts once).
    pub delivered: BTreeMap<&'static str, usize>,
    queue: VecDeque<(Identifier, Envelope<SigningMessage>)>,
    shuffle: Option<StdRng>,
    public: PublicKeyPackage,
}

impl Net {
    pub fn new(keys: Shares, public: PublicKeyPackage) -> Net {
        let nodes = keys
            .into_iter()
            .enumerate()
            .map(|(i, (id, key))| {
                let rng = StdRng::seed_from_u64(1000 + i as u64);
                (
                    id,
                    SigningNode::new(key, public.clone(), vec![], rng).expect("consistent keys"),
                )
            })
            .collect();
        Net {
            nodes,
            offline: BTreeSet::new(),
            disk: BTreeMap::new(),
            events: Vec::new(),
            corrupt_shares_from: BTreeSet::new(),
            delivered: BTreeMap::new(),
            queue: VecDeque::new(),
            shuffle: None,
            public,
        }
    }

    pub fn ids(&self) -> Vec<Identifier> {
        self.nodes.keys().copied().collect()
    }

    pub fn shuffled(mut self, seed: u64) -> Net {
        self.shuffle = Some(StdRng::seed_from_u64(seed));
        self
    }

    pub fn absorb(&mut self, id: Identifier, outputs: Vec<SigningOutput>) {
        for output in outputs {
            match output {
                SigningOutput::Send(envelope) => self.queue.push_back((id, envelope)),
                SigningOutput::PersistNonceThenSend { record, envelope } => {
                    self.disk
                        .entry(id)
                        .or_default()
                        .insert(record.round, *record);
                    self.queue.push_back((id, envelope));
                }
                other => self.events.push((id, other)),
            }
        }
    }

    pub fn node(&mut self, id: Identifier) -> &mut SigningNode<StdRng> {
        self.nodes.get_mut(&id).expect("a member of this network")
    }

    /// The members `ids` vouch for `message`; their outputs go on the network.
    pub fn start(&mut self, ids: &[Identifier], message: &[u8]) {
        for id in ids {
            let out = self.node(*id).start(message.to_vec()).expect("start");
            self.absorb(*id, out);
        }
    }

    pub fn start_all(&mut self, message: &[u8]) {
        let online: Vec<Identifier> = self
            .ids()
            .into_iter()
            .filter(|id| !self.offline.contains(id))
            .collect();
        self.start(&online, message);
    }

    /// Every online member announces its pools (specs/notary.md §5.1), as a daemon does at
    /// start, and the network runs until they are exchanged.
    pub fn announce_all(&mut self) {
        for id in self.ids() {
            if !self.offline.contains(&id) {
                let out = self.nodes.get_mut(&id).expect("node").announce_pools();
                self.absorb(id, out);
            }
        }
        self.run();
    }

    pub fn timeout_all(&mut self, session: SessionId) {
        for id in self.ids() {
            if !self.offline.contains(&id) {
                let out = self.nodes.get_mut(&id).expect("node").timeout(session);
                self.absorb(id, out);
            }
        }
    }

    pub fn run(&mut self) {
        let mut steps = 0;
        while !self.queue.is_empty() {
            steps += 1;
            assert!(steps < 100_000, "network did not quiesce");
            let pick = match self.shuffle.as_mut() {
                Some(rng) => rng.gen_range(0..self.queue.len()),
                None => 0,
            };
            let Some((from, mut envelope)) = self.queue.remove(pick) else {
                break;
            };
            if self.offline.contains(&from) {
                continue;
            }
            *self.delivered.entry(kind(&envelope.message)).or_default() += 1;
            if let SigningMessage::Share { share, .. } = &mut envelope.message {
                if self.corrupt_shares_from.contains(&from) {
                    *share = SignatureShare::deserialize(&[7; 32]).expect("scalar encoding");
                }
            }
            for to in self.ids() {
                if envelope.to.includes(to) && !self.offline.contains(&to) {
                    let out = self
                        .nodes
                        .get_mut(&to)
                        .expect("node")
                        .receive(from, envelope.message.clone());
                    self.absorb(to, out);
                }
            }
        }
    }

    /// Runs to completion, firing every online node's timer whenever the network goes quiet.
    pub fn run_to_completion(&mut self, session: SessionId) {
        for _ in 0..MAX_ATTEMPTS {
            self.run();
            if self.completed_signature(session).is_some() {
                return;
            }
            self.timeout_all(session);
        }
    }

    pub fn completed_signature(&self, session: SessionId) -> Option<SignatureBytes> {
        self.events.iter().find_map(|(_, e)| match e {
            SigningOutput::Completed {
                session: s,
                signature,
                ..
            } if *s == session => Some(*signature),
            _ => None,
        })
    }

    pub fn completions(&self) -> BTreeSet<Identifier> {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, SigningOutput::Completed { .. }))
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn group_key(&self) -> [u8; 32] {
        self.public
            .verifying_key()
            .serialize()
            .expect("serializable")
            .try_into()
            .expect("32 bytes")
    }

    pub fn restart(&mut self, id: Identifier, key: KeyPackage, seed: u64) {
        let records = self
            .disk
            .get(&id)
            .map(|d| d.values().cloned().collect())
            .unwrap_or_default();
        let node = SigningNode::new(
            key,
            self.public.clone(),
            records,
            StdRng::seed_from_u64(seed),
        )
        .expect("restore");
        self.nodes.insert(id, node);
    }
}

fn kind(message: &SigningMessage) -> &'static str {
    match message {
        SigningMessage::CommitRequest { .. } => "commit_request",
        SigningMessage::Commitment { .. } => "commitment",
        SigningMessage::SignRequest { .. } => "sign_request",
        SigningMessage::Share { .. } => "share",
        SigningMessage::Result { .. } => "result",
        SigningMessage::Pool { .. } => "pool",
        SigningMessage::PoolRequest { .. } => "pool_request",
    }
}

/// Five members (threshold 3) delivering in an order drawn from `seed`; with `pooled`
/// they exchange pools first; then the members at the `absent` indices go silent.
pub(crate) fn shuffled_five(keys_seed: u64, seed: u64, pooled: bool, absent: &[usize]) -> Net {
    let (keys, public) = dealer_keys(5, 3, keys_seed);
    let mut net = Net::new(keys, public).shuffled(seed);
    if pooled {
        net.announce_all();
    }
    let ids = net.ids();
    net.offline.extend(absent.iter().map(|i| ids[*i]));
    net
}

/// A fresh network of dealer keys and one attestation message for it.
pub(crate) fn session_net(
    n: u16,
    t: u16,
    seed: u64,
    transfers: u32,
) -> (Net, Vec<u8>, SessionId, Vec<Identifier>) {
    let (keys, public) = dealer_keys(n, t, seed);
    let net = Net::new(keys, public);
    let m = message(transfers);
    let session = session_id(&m);
    let order = coordinator_order(&session, &net.ids());
    (net, m, session, order)
}

pub(crate) fn assert_verifies(net: &Net, message: &[u8], signature: SignatureBytes) {
    verify_attestation_bytes(&net.group_key(), message, &signature.0)
        .expect("group signature verifies");
}

// specs/notary.md §4.4: all online, every member completes with one verifying signature.
#[test]
fn all_members_complete_one_session() {
    let (keys, public) = dealer_keys(5, 3, 1);
    let mut net = Net::new(keys, public);
    let m = message(3);
    net.start_all(&m);
    net.run();
    let signature = net.completed_signature(session_id(&m)).expect("completed");
    assert_verifies(&net, &m, signature);
    assert_eq!(net.completions().len(), 5);
}

// specs/notary.md §4.3: with two members absent (whoever they are) the session completes,
// after timeouts if an absent member was first in line to coordinate.
#[test]
fn completes_with_two_members_absent_including_the_first_coordinator() {
    let (mut net, m, session, order) = session_net(5, 3, 2, 2);
    net.offline.extend([order[0], order[3]]);
    net.start_all(&m);
    net.run();
    assert!(
        net.completed_signature(session).is_none(),
        "the first coordinator is down"
    );
    net.timeout_all(session);
    net.run();
    let signature = net
        .completed_signature(session)
        .expect("fallback coordinator completes");
    assert_verifies(&net, &m, signature);
    assert!(
        net.events.iter().any(|(_, e)| matches!(e,
        SigningOutput::AttemptStarted { attempt: 1, coordinator, .. } if *coordinator == order[1]))
    );
}

// specs/notary.md §6: an invalid share names its sender, who is excluded; the rest finish.
#[test]
fn cheater_is_named_excluded_and_the_session_still_completes() {
    let (mut net, m, session, order) = session_net(5, 3, 3, 4);
    // FIFO delivery answers the commit request in identifier order, so the lowest
    // identifier other than the coordinator is certainly among the first t signers.
    let cheater = net
        .ids()
        .into_iter()
        .find(|id| *id != order[0])
        .expect("n > 1");
    net.corrupt_shares_from.insert(cheater);
    net.start_all(&m);
    net.run_to_completion(session);
    let signature = net
        .completed_signature(session)
        .expect("completes without the cheater");
    assert_verifies(&net, &m, signature);
    let named: BTreeSet<Identifier> = net
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            SigningOutput::CheaterDetected { culprit, .. } => Some(*culprit),
            _ => None,
        })
        .collect();
    assert_eq!(named, BTreeSet::from([cheater]));
}

#[test]
fn too_many_cheaters_fail_the_session_by_name() {
    let (mut net, m, session, order) = session_net(3, 2, 4, 1);
    net.corrupt_shares_from.extend([order[1], order[2]]);
    net.start_all(&m);
    net.run();
    assert!(net.events.iter().any(|(_, e)| matches!(
        e,
        SigningOutput::Failed {
            reason: SessionFailure::TooFewHonest { .. },
            ..
        }
    )));
    assert!(net.completed_signature(session).is_none());
}

// specs/notary.md §4.4: a session that failed (here its attempts ran out while only t-1
// members were up) may be started again, and completes once a threshold is back; a
// completed session is never reopened. Regression: a backlog after a destination outage
// exhausted sessions' attempts and the route stalled until the daemons restarted.
#[test]
fn a_failed_session_started_again_completes_once_a_threshold_is_back() {
    let (mut net, m, session, order) = session_net(3, 2, 6, 2);
    net.offline.extend([order[1], order[2]]);
    net.start_all(&m);
    for _ in 0..MAX_ATTEMPTS {
        net.run();
        net.timeout_all(session);
    }
    assert!(net.events.iter().any(|(_, e)| matches!(
        e,
        SigningOutput::Failed {
            reason: SessionFailure::AttemptsExhausted { .. },
            ..
        }
    )));
    net.offline.clear();
    net.start_all(&m);
    net.run_to_completion(session);
    let signature = net
        .completed_signature(session)
        .expect("the retry completes");
    assert_verifies(&net, &m, signature);

    let node = net.nodes.get_mut(&order[0]).expect("node");
    assert!(node.start(m.clone()).expect("start").is_empty());
    assert_eq!(node.open_sessions(), 0, "a completed session stays closed");
}

// specs/notary.md §4.2: a session the daemon has not started is never signed.
#[test]
fn unvouched_messages_are_held_then_refused_and_non_attestations_rejected() {
    let (keys, public) = dealer_keys(3, 2, 5);
    let mut net = Net::new(keys, public);
    let ids = net.ids();
    let node = net.nodes.get_mut(&ids[0]).expect("node");
    assert!(matches!(
        node.start(b"not an attestation".to_vec()),
        Err(SigningError::NotAnAttestation(_))
    ));
    let round = RoundId {
        session: session_id(&message(1)),
        attempt: 0,
        round: 0,
    };
    for _ in 0..MAX_BUFFERED_MESSAGES {
        assert!(node
            .receive(ids[1], SigningMessage::CommitRequest { round })
            .is_empty());
    }
    let out = node.receive(ids[1], SigningMessage::CommitRequest { round });
    assert!(matches!(
        &out[..],
        [SigningOutput::Refused {
            reason: Refusal::NotVouched,
            ..
        }]
    ));
}

// specs/notary.md §4.3: only the scheduled coordinator of an attempt is obeyed.
#[test]
fn requests_from_a_non_coordinator_are_refused() {
    let (mut net, m, session, order) = session_net(3, 2, 6, 1);
    let node = net.nodes.get_mut(&order[2]).expect("node");
    node.start(m).expect("start");
    let out = node.receive(
        order[1],
        SigningMessage::CommitRequest {
            round: RoundId {
                session,
                attempt: 0,
                round: 0,
            },
        },
    );
    assert!(matches!(
        &out[..],
        [SigningOutput::Refused {
            reason: Refusal::NotCoordinator { .. },
            ..
        }]
    ));
}

// specs/notary.md §5: a signer that crashes between commitment and share, and is restored
// from its persisted records, never lets its nonces sign anything but one package for the
// session's message; a retried round gets fresh nonces.
#[test]
fn restored_signer_never_reuses_a_nonce() {
    let (keys, public) = dealer_keys(3, 2, 7);
    let m = message(2);
    let session = session_id(&m);
    let ids: Vec<Identifier> = keys.keys().copied().collect();
    let order = coordinator_order(&session, &ids);
    let (coord, signer) = (order[0], order[1]);
    let mut net = Net::new(keys.clone(), public);
    net.start_all(&m);
    // Deliver only the commit request, so the signer commits and persists.
    let round = RoundId {
        session,
        attempt: 0,
        round: 0,
    };
    let out = net
        .nodes
        .get_mut(&signer)
        .expect("node")
        .receive(coord, SigningMessage::CommitRequest { round });
    let [SigningOutput::PersistNonceThenSend { record, envelope }] = &out[..] else {
        panic!("{out:?}")
    };
    assert!(matches!(record.state, NonceState::Committed { .. }));
    let SigningMessage::Commitment { commitments, .. } = &envelope.message else {
        panic!()
    };
    let commitments = **commitments;
    assert_eq!(envelope.to, Recipient::Member(coord));
    net.absorb(signer, out.clone());

    // Crash and restore from the persisted record.
    net.restart(signer, keys[&signer].clone(), 99);
    let node = net.nodes.get_mut(&signer).expect("node");
    node.start(m.clone()).expect("restart session");
    assert_eq!(node.nonce_records(), 1);
    // A re-sent request gets the same commitment, not fresh nonces for the same round.
    let again = node.receive(coord, SigningMessage::CommitRequest { round });
    assert!(matches!(&again[..], [SigningOutput::Send(e)]
        if e.message == SigningMessage::Commitment { round, commitments: Box::new(commitments) }));

    // Package for a different message using our commitment: refused.
    let other = message(3);
    let coord_commit =
        frost_ed25519::round1::commit(keys[&coord].signing_share(), &mut StdRng::seed_from_u64(5))
            .1;
    let mixed = BTreeMap::from([(signer, commitments), (coord, coord_commit)]);
    let node = net.nodes.get_mut(&signer).expect("node");
    let bad = node.receive(
        coord,
        SigningMessage::SignRequest {
            round,
            package: frost_ed25519::SigningPackage::new(mixed.clone(), &other),
        },
    );
    assert!(matches!(
        &bad[..],
        [SigningOutput::Refused {
            reason: Refusal::DifferentMessage,
            ..
        }]
    ));

    // The right package is signed once; the same package again gets the same share.
    let package = frost_ed25519::SigningPackage::new(mixed.clone(), &m);
    let first = node.receive(
        coord,
        SigningMessage::SignRequest {
            round,
            package: package.clone(),
        },
    );
    let [SigningOutput::PersistNonceThenSend {
        record: used,
        envelope,
    }] = &first[..]
    else {
        panic!("{first:?}")
    };
    assert!(matches!(used.state, NonceState::Used { .. }));
    let repeat = node.receive(coord, SigningMessage::SignRequest { round, package });
    assert!(matches!(&repeat[..], [SigningOutput::Send(e)] if e.message == envelope.message));
    net.absorb(signer, first.clone());

    // Crash again after the share: a different package (other co-signer set) is refused.
    net.restart(signer, keys[&signer].clone(), 100);
    let node = net.nodes.get_mut(&signer).expect("node");
    node.start(m.clone()).expect("restart session");
    let third = order[2];
    let third_commit =
        frost_ed25519::round1::commit(keys[&third].signing_share(), &mut StdRng::seed_from_u64(6))
            .1;
    let node = net.nodes.get_mut(&signer).expect("node");
    let swapped = frost_ed25519::SigningPackage::new(
        BTreeMap::from([(signer, commitments), (third, third_commit)]),
        &m,
    );
    let reuse = node.receive(
        coord,
        SigningMessage::SignRequest {
            round,
            package: swapped,
        },
    );
    assert!(matches!(
        &reuse[..],
        [SigningOutput::Refused {
            reason: Refusal::NonceAlreadyUsed { .. },
            ..
        }]
    ));

    // A retried round uses fresh nonces.
    let next = RoundId { round: 1, ..round };
    let fresh = node.receive(coord, SigningMessage::CommitRequest { round: next });
    let [SigningOutput::PersistNonceThenSend { envelope, .. }] = &fresh[..] else {
        panic!("{fresh:?}")
    };
    assert!(
        !matches!(&envelope.message, SigningMessage::Commitment { commitments: c, .. } if **c == commitments)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    // specs/notary.md §4.4: whichever members are absent (up to n - t) and in whatever order
    // messages arrive, the survivors produce a signature that verifies under ed25519-dalek.
    #[test]
    fn any_t_subset_signs_in_any_delivery_order(absent in proptest::sample::subsequence((0..5usize).collect::<Vec<_>>(), 0..=2), seed in any::<u64>()) {
        let mut net = shuffled_five(8, seed, false, &absent);
        let m = message(5);
        let session = session_id(&m);
        net.start_all(&m);
        net.run_to_completion(session);
        let signature = net.completed_signature(session).expect("completes");
        prop_assert!(verify_attestation_bytes(&net.group_key(), &m, &signature.0).is_ok());
    }
}
