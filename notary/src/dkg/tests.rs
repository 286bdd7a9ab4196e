//! In-memory ceremonies: every output is routed to the inputs it addresses.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::signing::tests::{message, Net};
use crate::signing::{session_id, SigningOutput};
use crate::transport::Recipient;

pub(crate) fn setup(n: u16, t: u16) -> (DkgSetup, BTreeMap<Identifier, SigningKey>) {
    let identities: BTreeMap<Identifier, SigningKey> = (1..=n)
        .map(|i| {
            let id = Identifier::try_from(i).expect("non-zero");
            (id, SigningKey::from_bytes(&sha256(&i.to_be_bytes()).0))
        })
        .collect();
    let setup = DkgSetup {
        ceremony: sha256(b"test ceremony"),
        threshold: t,
        members: identities
            .iter()
            .map(|(id, k)| (*id, k.verifying_key()))
            .collect(),
    };
    (setup, identities)
}

type Packet = (Identifier, Option<Identifier>, DkgMessage);

struct Ceremony {
    members: BTreeMap<Identifier, DkgMember>,
    queue: VecDeque<Packet>,
    results: BTreeMap<Identifier, DkgResult>,
    errors: BTreeMap<Identifier, DkgError>,
    shuffle: StdRng,
}

impl Ceremony {
    fn start(n: u16, t: u16, seed: u64) -> Ceremony {
        let (setup, identities) = setup(n, t);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut ceremony = Ceremony {
            members: BTreeMap::new(),
            queue: VecDeque::new(),
            results: BTreeMap::new(),
            errors: BTreeMap::new(),
            shuffle: StdRng::seed_from_u64(seed ^ 0x5eed),
        };
        for (id, identity) in identities {
            let (member, out) =
                DkgMember::start(setup.clone(), id, identity, &mut rng).expect("valid setup");
            ceremony.members.insert(id, member);
            ceremony.absorb(id, out);
        }
        ceremony
    }

    fn absorb(&mut self, from: Identifier, outputs: Vec<DkgOutput>) {
        for output in outputs {
            match output {
                DkgOutput::Send(envelope) => {
                    let to = match envelope.to {
                        Recipient::Everyone => None,
                        Recipient::Member(id) => Some(id),
                    };
                    self.queue.push_back((from, to, envelope.message));
                }
                DkgOutput::SendSecret { to, message } => {
                    self.queue.push_back((from, Some(to), message))
                }
                DkgOutput::Completed(result) => {
                    self.results.insert(from, *result);
                }
            }
        }
    }

    fn run(&mut self, shuffled: bool) {
        while !self.queue.is_empty() {
            let pick = if shuffled {
                self.shuffle.gen_range(0..self.queue.len())
            } else {
                0
            };
            let Some((from, to, message)) = self.queue.remove(pick) else {
                break;
            };
            let ids: Vec<Identifier> = self.members.keys().copied().collect();
            for id in ids {
                if to.is_some_and(|t| t != id) || self.errors.contains_key(&id) {
                    continue;
                }
                let member = self.members.get_mut(&id).expect("member");
                match member.receive(from, message.clone()) {
                    Ok(out) => self.absorb(id, out),
                    Err(e) => {
                        self.errors.insert(id, e);
                    }
                }
            }
        }
    }
}

// specs/notary.md §3.2: n=5, t=3 — every member ends with the same group key and transcript.
#[test]
fn five_members_agree_on_one_key_and_transcript() {
    let mut c = Ceremony::start(5, 3, 1);
    c.run(false);
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.results.len(), 5);
    let first = c.results.values().next().expect("a result");
    for r in c.results.values() {
        assert_eq!(r.transcript_hash, first.transcript_hash);
        assert_eq!(r.public_key_package, first.public_key_package);
    }
    assert!(c.members.values().all(DkgMember::is_done));
}

// specs/notary.md §3.3: a member that signs two different round-1 packages is named, with a
// proof anyone can check against its identity key.
#[test]
fn equivocating_member_is_named_with_a_checkable_proof() {
    let (setup, identities) = setup(4, 3);
    let mut c = Ceremony::start(4, 3, 2);
    let liar = *identities.keys().nth(1).expect("member");
    // Replace the liar's broadcast with two different signed packages, one per half.
    let mut rng = StdRng::seed_from_u64(77);
    let (_, other_package) = frost_dkg::part1(liar, 4, 3, &mut rng).expect("part1");
    let signed = sign_round1(
        &identities[&liar],
        &setup.ceremony,
        liar,
        package_digest(&other_package).expect("digest"),
    );
    let original = c
        .queue
        .iter()
        .position(|(from, _, _)| *from == liar)
        .and_then(|i| c.queue.remove(i))
        .expect("liar's round 1");
    for (i, id) in identities.keys().enumerate() {
        if i % 2 == 0 {
            c.queue.push_back((liar, Some(*id), original.2.clone()));
        } else {
            c.queue.push_back((
                liar,
                Some(*id),
                DkgMessage::Round1 {
                    package: other_package.clone(),
                    signature: signed.signature,
                },
            ));
        }
    }
    c.run(false);
    assert!(c.results.is_empty(), "no key may be accepted");
    let honest_errors: Vec<&DkgError> = c
        .errors
        .iter()
        .filter(|(id, _)| **id != liar)
        .map(|(_, e)| e)
        .collect();
    assert!(!honest_errors.is_empty());
    for e in honest_errors {
        let DkgError::Equivocation { proof } = e else {
            panic!("expected equivocation, got {e}")
        };
        assert_eq!(proof.member, liar);
        assert!(proof.verify(&identities[&liar].verifying_key()));
        assert!(!proof
            .verify(&identities[&identities.keys().next().copied().expect("m")].verifying_key()));
    }
}

#[test]
fn forged_round1_signature_and_strangers_are_refused() {
    let (setup, identities) = setup(3, 2);
    let ids: Vec<Identifier> = identities.keys().copied().collect();
    let mut rng = StdRng::seed_from_u64(3);
    let (mut member, _) =
        DkgMember::start(setup, ids[0], identities[&ids[0]].clone(), &mut rng).expect("start");
    let (_, package) = frost_dkg::part1(ids[1], 3, 2, &mut rng).expect("part1");
    let forged = DkgMessage::Round1 {
        package,
        signature: crate::signing::SignatureBytes([1; 64]),
    };
    assert!(
        matches!(member.receive(ids[1], forged.clone()), Err(DkgError::BadSignature { member, .. }) if member == ids[1])
    );
    let stranger = Identifier::try_from(9).expect("non-zero");
    assert!(matches!(
        member.receive(stranger, forged),
        Err(DkgError::UnknownMember { .. })
    ));
}

#[test]
fn bad_setups_are_refused_with_a_reason() {
    let (setup, identities) = setup(3, 2);
    let me = *identities.keys().next().expect("member");
    let mut rng = StdRng::seed_from_u64(4);
    let wrong_identity = SigningKey::from_bytes(&[1; 32]);
    for (bad, key) in [
        (
            DkgSetup {
                threshold: 1,
                ..setup.clone()
            },
            identities[&me].clone(),
        ),
        (
            DkgSetup {
                threshold: 4,
                ..setup.clone()
            },
            identities[&me].clone(),
        ),
        (
            DkgSetup {
                ceremony: Hash32::ZERO,
                ..setup.clone()
            },
            identities[&me].clone(),
        ),
        (setup.clone(), wrong_identity),
    ] {
        assert!(matches!(
            DkgMember::start(bad, me, key, &mut rng),
            Err(DkgError::InvalidSetup { .. })
        ));
    }
}

// specs/notary.md §3 then §4–§6: keys from a real DKG sign with two members absent, then with
// a cheater among the signers.
#[test]
fn dkg_keys_sign_with_absentees_and_with_a_cheater() {
    let mut c = Ceremony::start(5, 3, 5);
    c.run(false);
    let public = c
        .results
        .values()
        .next()
        .expect("result")
        .public_key_package
        .clone();
    let keys: BTreeMap<_, _> = c
        .results
        .iter()
        .map(|(id, r)| (*id, r.key_package.clone()))
        .collect();

    let mut net = Net::new(keys.clone(), public.clone());
    let ids = net.ids();
    net.offline.extend([ids[0], ids[4]]);
    let m = message(7);
    net.start_all(&m);
    net.run_to_completion(session_id(&m));
    assert!(net.completed_signature(session_id(&m)).is_some());

    let mut net = Net::new(keys, public);
    let m = message(8);
    let session = session_id(&m);
    let coordinator = crate::signing::coordinator_order(&session, &ids)[0];
    let cheater = ids
        .iter()
        .copied()
        .find(|id| *id != coordinator)
        .expect("n > 1");
    net.corrupt_shares_from.insert(cheater);
    net.start_all(&m);
    net.run_to_completion(session);
    assert!(net.completed_signature(session).is_some());
    assert!(net.events.iter().any(
        |(_, e)| matches!(e, SigningOutput::CheaterDetected { culprit, .. } if *culprit == cheater)
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    // specs/notary.md §3.2: any delivery order yields the same key at every member.
    #[test]
    fn any_delivery_order_agrees(seed in any::<u64>()) {
        let mut c = Ceremony::start(4, 3, seed);
        c.run(true);
        prop_assert!(c.errors.is_empty(), "{:?}", c.errors);
        let keys: BTreeSet<_> = c.results.values().map(|r| (r.transcript_hash, r.public_key_package.clone().verifying_key().serialize().ok())).collect();
        prop_assert_eq!(c.results.len(), 4);
        prop_assert_eq!(keys.len(), 1);
    }
}
