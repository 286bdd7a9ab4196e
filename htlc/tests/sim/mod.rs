//! A small world of two simulated chains, honest relays and scripted adversaries, used by
//! the property tests in `simulation.rs` (specs/htlc.md §9).

pub mod adversary;
pub mod chain;
pub mod relay;

use causeway_core::{Address, Amount, FinalityRule};
use causeway_htlc::{
    plan, ChainParams, ChainTimes, Input, Leg, LegId, Offer, Role, SafetyPolicy, Secret, Swap,
    SwapId,
};
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use adversary::{Adversary, Cheat};
use chain::SimChain;
use relay::{Faults, HonestRelay};

/// Real-time resolution of the simulation.
pub const STEP_MS: u64 = 100;
/// History produced before the swap starts.
const WARMUP_MS: u64 = 20_000;
/// How long the world keeps running after both expiries, for refunds to land.
const COOLDOWN_MS: u64 = 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cast {
    HonestPair,
    CheatingInitiator(Cheat),
    CheatingParticipant(Cheat),
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub block_time_ms: [u64; 2],
    pub depth: [u64; 2],
    pub offset_ms: [i64; 2],
    pub accept_window_ms: u64,
    pub cast: Cast,
    pub crash_rate: f64,
    pub offline_rate: f64,
    /// The initiator's relay is down from before accept_by until close to T2 (beyond the
    /// policy's assumptions), so it meets the participant's lock near its claim window's end.
    pub initiator_outage: bool,
    pub seed: u64,
}

pub struct World {
    pub chains: [SimChain; 2],
    pub offer: Offer,
    pub honest: Vec<HonestRelay>,
}

fn params(chain: &SimChain) -> ChainParams {
    ChainParams {
        chain_id: chain.id.clone(),
        finality: match chain.depth {
            0 => FinalityRule::Instant,
            depth => FinalityRule::Confirmations { depth },
        },
        block_time_ms: chain.block_time_ms,
    }
}

pub fn run(s: &Scenario) -> World {
    let mut rng = StdRng::seed_from_u64(s.seed);
    let mut chains = [
        SimChain::new("chain-a", s.block_time_ms[0], s.depth[0], s.offset_ms[0]),
        SimChain::new("chain-b", s.block_time_ms[1], s.depth[1], s.offset_ms[1]),
    ];
    let mut real_ms = 0;
    while real_ms < WARMUP_MS {
        real_ms += STEP_MS;
        chains.iter_mut().for_each(|c| c.advance(real_ms));
    }

    let policy = SafetyPolicy::default();
    let (params_a, params_b) = (params(&chains[0]), params(&chains[1]));
    let now = ChainTimes {
        a_ms: chains[0].finalized_time(),
        b_ms: chains[1].finalized_time(),
    };
    let planned = plan(&params_a, &params_b, &policy, now, s.accept_window_ms).expect("plan");
    let d = planned.deadlines;
    let secret = Secret::from_bytes(rng.gen());
    let offer = Offer::new(
        SwapId::new("sim").unwrap(),
        secret.hashlock(),
        Leg::parse(
            "chain-a",
            "USD",
            Amount(100),
            "alice-a",
            "bob-a",
            d.leg_a_expiry_ms,
        )
        .unwrap(),
        Leg::parse(
            "chain-b",
            "GOLD",
            Amount(5),
            "bob-b",
            "alice-b",
            d.leg_b_expiry_ms,
        )
        .unwrap(),
        d.accept_by_ms,
        SigningKey::from_bytes(&[7; 32]).verifying_key().into(),
    );
    let faults = Faults {
        crash_before_persist: s.crash_rate,
        crash_before_broadcast: s.crash_rate,
        go_offline: s.offline_rate,
        max_lag_ms: policy.reaction_delay_ms / 2,
    };
    let real_at_b = |b_ms: u64| (b_ms as i64 - s.offset_ms[1] - chain::EPOCH_MS) as u64;
    let settle_b = planned.requirements.settle_ms(LegId::B);
    let alice = [
        Address::new("alice-a").unwrap(),
        Address::new("alice-b").unwrap(),
    ];
    let bob = [
        Address::new("bob-a").unwrap(),
        Address::new("bob-b").unwrap(),
    ];
    let honest_initiator = || {
        let swap = Swap::initiator(offer.clone(), secret, &params_a, &params_b, &policy, now)
            .expect("initiator");
        HonestRelay::new("alice", alice.clone(), swap, real_ms)
    };
    let honest_participant = || {
        let swap = Swap::participant(offer.clone(), &params_a, &params_b, &policy, now)
            .expect("participant");
        HonestRelay::new("bob", bob.clone(), swap, real_ms)
    };
    let window_edge_ms = rng.gen_range(0..=settle_b + policy.reaction_delay_ms);
    let cheater = |role, cheat, secret| {
        Some(Adversary::new(
            role,
            cheat,
            offer.clone(),
            secret,
            window_edge_ms,
        ))
    };
    let (mut honest, mut adversary) = match s.cast {
        Cast::HonestPair => (vec![honest_initiator(), honest_participant()], None),
        Cast::CheatingInitiator(cheat) => (
            vec![honest_participant()],
            cheater(Role::Initiator, cheat, Some(secret)),
        ),
        Cast::CheatingParticipant(cheat) => (
            vec![honest_initiator()],
            cheater(Role::Participant, cheat, None),
        ),
    };
    let outage = s.initiator_outage.then(|| {
        let back = d.leg_b_expiry_ms - rng.gen_range(0..=settle_b + policy.reaction_delay_ms);
        (real_at_b(d.accept_by_ms - settle_b), real_at_b(back))
    });
    for relay in honest
        .iter_mut()
        .filter(|r| r.swap.role() == Role::Initiator)
    {
        relay.outage = outage;
        let no_crash = Faults {
            crash_before_persist: 0.0,
            crash_before_broadcast: 0.0,
            ..faults
        };
        relay.feed(Input::Start, &mut chains, &no_crash, &mut rng);
    }

    let end_ms = [
        (d.leg_a_expiry_ms as i64 - s.offset_ms[0] - chain::EPOCH_MS) as u64,
        (d.leg_b_expiry_ms as i64 - s.offset_ms[1] - chain::EPOCH_MS) as u64,
    ]
    .into_iter()
    .max()
    .unwrap()
        + COOLDOWN_MS;
    while real_ms < end_ms {
        real_ms += STEP_MS;
        chains.iter_mut().for_each(|c| c.advance(real_ms));
        if rng.gen_bool(0.5) {
            honest.reverse();
        }
        for relay in honest.iter_mut() {
            relay.step(real_ms, &mut chains, &faults, &mut rng);
        }
        if let Some(adversary) = adversary.as_mut() {
            adversary.step(real_ms, &mut chains);
        }
    }
    World {
        chains,
        offer,
        honest,
    }
}

impl World {
    pub fn leg_chain(&self, leg: LegId) -> &SimChain {
        &self.chains[relay::leg_index(leg)]
    }
}
