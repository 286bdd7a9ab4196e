//! Sessions over pre-processed nonces (specs/notary.md §5.1), in the simulated network.

use std::collections::BTreeMap;

use frost_ed25519::Identifier;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::tests::{assert_verifies, dealer_keys, message, session_net, shuffled_five, Net};
use super::*;
use crate::signing::coordinator_order;
use crate::verify::verify_attestation_bytes;

fn pooled_sign_requests(out: &[SigningOutput]) -> Vec<(Identifier, frost_ed25519::SigningPackage)> {
    out.iter()
        .filter_map(|o| match o {
            SigningOutput::Send(e) => match (&e.to, &e.message) {
                (
                    crate::transport::Recipient::Member(to),
                    SigningMessage::SignRequest { package, .. },
                ) => Some((*to, package.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

// specs/notary.md §5.1: once pools are exchanged a session is one round trip: no commit
// request and no commitment, only t sign requests and t shares.
#[test]
fn a_pooled_session_completes_in_one_round_trip() {
    let (mut net, m, session, _) = session_net(7, 5, 21, 3);
    net.announce_all();
    net.delivered.clear();
    net.start_all(&m);
    net.run();
    let signature = net.completed_signature(session).expect("completed");
    assert_verifies(&net, &m, signature);
    assert_eq!(net.completions().len(), 7);
    assert_eq!(net.delivered.get("commit_request"), None);
    assert_eq!(net.delivered.get("commitment"), None);
    assert_eq!(net.delivered.get("sign_request"), Some(&5));
    assert_eq!(net.delivered.get("share"), Some(&5));
}

// specs/notary.md §5.1: without pools (a coordinator that has heard from too few members)
// the session falls back to asking for commitments, and still completes.
#[test]
fn without_pools_a_session_asks_for_commitments() {
    let (mut net, m, session, _) = session_net(5, 3, 22, 2);
    net.start_all(&m);
    net.run();
    assert!(net.completed_signature(session).is_some());
    assert!(net.delivered.contains_key("commit_request"));
}

// specs/notary.md §5.1: a pooled signer that never answers is suspected at the attempt
// timeout and asked for a new batch; the session completes under a later coordinator, by
// the two-round flow (only a session's first round is pooled).
#[test]
fn a_silent_pooled_signer_is_voided_and_the_session_completes_without_it() {
    let (mut net, m, session, order) = session_net(5, 3, 23, 2);
    net.announce_all();
    // order[1] is among the first coordinator's chosen signers (itself first, then order).
    net.offline.insert(order[1]);
    net.start_all(&m);
    net.run();
    assert!(
        net.completed_signature(session).is_none(),
        "waits on order[1]"
    );
    net.delivered.clear();
    net.run_to_completion(session);
    assert!(
        net.delivered.contains_key("commit_request"),
        "only the first round is pooled: {:?}",
        net.delivered
    );
    assert_verifies(
        &net,
        &m,
        net.completed_signature(session).expect("completes"),
    );
    let coordinator = net.nodes.get(&order[0]).expect("node");
    assert!(
        coordinator.pooled().1 <= 4 * POOL_TARGET,
        "the silent member's commitments were dropped"
    );
}

// specs/notary.md §5.1: a signer that restarts loses its pooled nonces; its announcement
// voids them at the coordinator, which starts the waiting round over at once (no timeout).
#[test]
fn a_restarted_pooled_signer_voids_its_commitments_and_the_round_starts_over() {
    let (keys, public) = dealer_keys(5, 3, 24);
    let mut net = Net::new(keys.clone(), public);
    let m = message(4);
    let session = session_id(&m);
    let order = coordinator_order(&session, &net.ids());
    net.announce_all();
    let signer = order[1];
    net.offline.insert(signer);
    net.start_all(&m);
    net.run();
    assert!(net.completed_signature(session).is_none());

    net.restart(signer, keys[&signer].clone(), 77);
    net.offline.remove(&signer);
    let node = net.nodes.get_mut(&signer).expect("node");
    let mut out = node.announce_pools();
    out.extend(node.start(m.clone()).expect("start"));
    net.absorb(signer, out);
    net.run();
    assert_verifies(
        &net,
        &m,
        net.completed_signature(session)
            .expect("completes without any timeout"),
    );
}

// specs/notary.md §5.1: a pooled nonce signs one package only, and only in a sign request
// from the coordinator it was pooled for.
#[test]
fn a_pooled_nonce_signs_one_package_for_its_coordinator_only() {
    let (mut net, m, session, order) = session_net(5, 3, 25, 2);
    net.announce_all();
    let (c0, c1) = (order[0], order[1]);
    let out = net.node(c0).start(m.clone()).expect("start");
    let requests = pooled_sign_requests(&out);
    let (signer, package) = requests
        .iter()
        .find(|(to, _)| *to != c0)
        .cloned()
        .expect("a sign request to another member");
    let round = RoundId {
        session,
        attempt: 0,
        round: 0,
    };
    let node = net.nodes.get_mut(&signer).expect("node");
    node.start(m.clone()).expect("start");

    // The next attempt's coordinator cannot use commitments pooled for the first.
    let stolen = node.receive(
        c1,
        SigningMessage::SignRequest {
            round: RoundId {
                attempt: 1,
                ..round
            },
            package: package.clone(),
        },
    );
    assert!(
        matches!(
            &stolen[..],
            [SigningOutput::Refused {
                reason: Refusal::UnknownPooledCommitment,
                ..
            }]
        ),
        "{stolen:?}"
    );

    let signed = node.receive(
        c0,
        SigningMessage::SignRequest {
            round,
            package: package.clone(),
        },
    );
    assert!(
        matches!(&signed[..], [SigningOutput::Send(e)] if matches!(e.message, SigningMessage::Share { .. }))
    );

    // The same commitment in a second package (another co-signer set): refused.
    let mut commitments = package.signing_commitments().clone();
    let extra = *net
        .ids()
        .iter()
        .find(|id| !commitments.contains_key(id))
        .expect("n > t");
    let first = *commitments.keys().find(|id| **id != signer).expect("t > 1");
    let theirs = commitments.remove(&first).expect("present");
    commitments.insert(extra, theirs);
    let again = net.nodes.get_mut(&signer).expect("node").receive(
        c0,
        SigningMessage::SignRequest {
            round: RoundId { round: 1, ..round },
            package: frost_ed25519::SigningPackage::new(commitments, &m),
        },
    );
    assert!(
        matches!(
            &again[..],
            [SigningOutput::Refused {
                reason: Refusal::UnknownPooledCommitment,
                ..
            }]
        ),
        "{again:?}"
    );
}

// specs/notary.md §11: pool messages are bounded.
#[test]
fn oversized_pool_messages_are_refused() {
    let (keys, public) = dealer_keys(3, 2, 26);
    let ids: Vec<Identifier> = keys.keys().copied().collect();
    let mut net = Net::new(keys.clone(), public);
    let node = net.nodes.get_mut(&ids[0]).expect("node");
    let too_many = (0..=POOL_TARGET)
        .map(|_| {
            frost_ed25519::round1::commit(
                keys[&ids[1]].signing_share(),
                &mut StdRng::seed_from_u64(1),
            )
            .1
        })
        .collect();
    for message in [
        SigningMessage::Pool {
            restarted: false,
            commitments: too_many,
        },
        SigningMessage::PoolRequest {
            want: POOL_TARGET as u16 + 1,
        },
    ] {
        let out = node.receive(ids[1], message);
        assert!(
            matches!(
                &out[..],
                [SigningOutput::Refused {
                    session: None,
                    reason: Refusal::PoolTooLarge { .. },
                    ..
                }]
            ),
            "{out:?}"
        );
    }
    assert_eq!(node.pooled(), (0, 0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    // specs/notary.md §5.1: members that go silent after the pools were exchanged (up to
    // n - t of them), in any delivery order: the rest still sign, and the signature verifies.
    #[test]
    fn pooled_sessions_complete_whoever_goes_silent_in_any_order(absent in proptest::sample::subsequence((0..5usize).collect::<Vec<_>>(), 0..=2), seed in any::<u64>()) {
        let mut net = shuffled_five(27, seed, true, &absent);
        let mut sessions = BTreeMap::new();
        for n in 1..=3 {
            let m = message(n);
            sessions.insert(session_id(&m), m.clone());
            net.start_all(&m);
        }
        for (session, m) in &sessions {
            net.run_to_completion(*session);
            let signature = net.completed_signature(*session).expect("completes");
            prop_assert!(verify_attestation_bytes(&net.group_key(), m, &signature.0).is_ok());
        }
    }
}

/// A message whose session's first coordinator is `coordinator`, numbered from `from`.
fn message_coordinated_by(net: &Net, coordinator: Identifier, from: u32) -> Vec<u8> {
    (from..from + 1000)
        .map(message)
        .find(|m| coordinator_order(&session_id(m), &net.ids())[0] == coordinator)
        .expect("some message in 1000 is coordinated by each member")
}

// specs/notary.md §5.1: a member that is up but does not vouch for what the others sign
// (it follows a fork, or its governor held a transfer) costs a session one attempt timeout,
// after which the session completes by the two-round flow; the coordinator then suspects it
// and chooses it for no pooled round until it signs again. Regression: it answered every
// request for commitments, so it was chosen again at each attempt and the session never
// completed.
#[test]
fn a_member_that_does_not_vouch_is_suspected_and_not_chosen_again() {
    let (mut net, m, session, order) = session_net(5, 3, 28, 6);
    net.announce_all();
    // Chosen for the first round (the coordinator, then order[1] and order[2]); order[1]
    // coordinates attempt 1.
    let (coordinator, dissenter) = (order[0], order[2]);
    let others: Vec<Identifier> = net
        .ids()
        .into_iter()
        .filter(|id| *id != dissenter)
        .collect();
    let start_without_dissenter = |net: &mut Net, m: &[u8]| {
        net.start(&others, m);
        net.run();
    };
    start_without_dissenter(&mut net, &m);
    assert!(
        net.completed_signature(session).is_none(),
        "waits on the dissenter"
    );
    net.timeout_all(session);
    net.run();
    assert_verifies(
        &net,
        &m,
        net.completed_signature(session)
            .expect("attempt 1 completes"),
    );

    let next = message_coordinated_by(&net, coordinator, 100);
    let next_session = session_id(&next);
    net.delivered.clear();
    start_without_dissenter(&mut net, &next);
    assert_verifies(
        &net,
        &next,
        net.completed_signature(next_session)
            .expect("completes with no timeout: the dissenter is not chosen"),
    );
    assert_eq!(
        net.delivered.get("commit_request"),
        None,
        "still one round trip"
    );
}
