//! Property tests: honest parties driven through a simulated two-chain world with random
//! chain parameters, delivery interleavings, delays, crashes and cheating counterparties
//! (specs/htlc.md §9).

mod sim;

use causeway_htlc::{LegId, SwapOutcome};
use proptest::prelude::*;

use sim::adversary::Cheat;
use sim::chain::LockFate;
use sim::relay::HonestRelay;
use sim::{run, Cast, Scenario, World};

/// 40 per property by default; raise with `SIM_CASES=500` for a deeper search.
fn cases() -> u32 {
    std::env::var("SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

fn cheat() -> impl Strategy<Value = Cheat> {
    prop_oneof![
        Just(Cheat::NeverLock),
        Just(Cheat::WrongAmount),
        Just(Cheat::WrongRecipient),
        Just(Cheat::WrongHash),
        Just(Cheat::LongerExpiry),
        Just(Cheat::ShorterExpiry),
        Just(Cheat::LateLock),
        Just(Cheat::LockAtWindowEdge),
        Just(Cheat::NeverClaim),
        Just(Cheat::LastMomentClaim),
    ]
}

prop_compose! {
    fn scenario(cast: BoxedStrategy<Cast>)(
        block_time_ms in [block_time(), block_time()],
        depth in [0u64..=3, 0u64..=3],
        offset_ms in [-1_000i64..=1_000, -1_000i64..=1_000],
        accept_window_ms in prop_oneof![Just(0u64), Just(60_000)],
        cast in cast,
        crash_rate in prop_oneof![Just(0.0), Just(0.02), Just(0.2)],
        offline_rate in prop_oneof![Just(0.0), Just(0.05)],
        initiator_outage in prop_oneof![3 => Just(false), 1 => Just(true)],
        seed in any::<u64>(),
    ) -> Scenario {
        Scenario { block_time_ms, depth, offset_ms, accept_window_ms, cast, crash_rate, offline_rate, initiator_outage, seed }
    }
}

fn block_time() -> impl Strategy<Value = u64> {
    prop_oneof![Just(200u64), Just(500), Just(1_000), Just(2_000)]
}

/// What actually happened to an honest party's funds, read from the chains.
#[derive(Debug)]
struct Truth {
    locked: usize,
    gave: bool,
    refunded: bool,
    received: bool,
    stuck: bool,
}

fn truth(world: &World, relay: &HonestRelay) -> Truth {
    let (own, their) = (relay.swap.role().own_leg(), relay.swap.role().their_leg());
    let hashlock = world.offer.hashlock;
    let own_locks: Vec<_> = world
        .leg_chain(own)
        .locks
        .values()
        .filter(|l| &l.sender == relay.account(own) && l.hashlock == hashlock)
        .collect();
    let received_locks: Vec<_> = world
        .leg_chain(their)
        .locks
        .values()
        .filter(|l| &l.recipient == relay.account(their) && l.fate == LockFate::Claimed)
        .collect();
    for lock in &received_locks {
        assert_eq!(
            lock.amount,
            world.offer.leg(their).amount.0,
            "claimed a lock with other terms"
        );
    }
    Truth {
        locked: own_locks.len(),
        gave: own_locks.iter().any(|l| l.fate == LockFate::Claimed),
        refunded: own_locks.iter().any(|l| l.fate == LockFate::Refunded),
        received: !received_locks.is_empty(),
        stuck: own_locks.iter().any(|l| l.fate == LockFate::Open),
    }
}

/// specs/htlc.md §9.1 (I1–I4): an honest party never gives without receiving, never
/// leaves its lock stuck, finishes, and reports what really happened.
fn check_honest(world: &World, relay: &HonestRelay) -> Result<SwapOutcome, TestCaseError> {
    let t = truth(world, relay);
    let outcome = relay.swap.outcome();
    let context = format!(
        "{:?} truth {t:?} outcome {outcome:?} crashes {}\n{}",
        relay.swap.role(),
        relay.crashes,
        relay
            .trace
            .iter()
            .filter(|l| !l.contains("Tick"))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    prop_assert!(t.locked <= 1, "locked twice: {}", context);
    prop_assert!(!t.gave || t.received, "gave without receiving: {}", context);
    prop_assert!(!t.stuck, "own lock left open: {}", context);
    let Some(outcome) = outcome else {
        return Err(TestCaseError::fail(format!("never finished: {context}")));
    };
    let expected = match (t.locked, t.gave, t.refunded, t.received) {
        (0, ..) => SwapOutcome::NothingLocked,
        (_, true, _, true) => SwapOutcome::Swapped,
        (_, _, true, true) => SwapOutcome::SwappedAndRefunded,
        (_, _, true, false) => SwapOutcome::Refunded,
        _ => SwapOutcome::Lost,
    };
    prop_assert_eq!(outcome, expected, "{}", context);
    prop_assert_ne!(outcome, SwapOutcome::Lost, "{}", context);
    prop_assert!(
        relay.swap.pending_actions().is_empty(),
        "finished with pending actions: {}",
        context
    );
    Ok(outcome)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    // specs/htlc.md §9.1 I1–I4, §9.2 L1: two honest parties always swap when the
    // participant has a real accept window, whatever the delays and crashes.
    #[test]
    fn honest_pair_is_safe_and_swaps(s in scenario(Just(Cast::HonestPair).boxed())) {
        let world = run(&s);
        for relay in &world.honest {
            check_honest(&world, relay)?;
        }
        if s.accept_window_ms > 0 && !s.initiator_outage {
            for leg in [LegId::A, LegId::B] {
                let relay = world.honest.iter().find(|r| r.swap.role().own_leg() == leg).unwrap();
                let trace = relay.trace.iter().filter(|l| !l.contains("Tick")).cloned().collect::<Vec<_>>().join("\n");
                prop_assert_eq!(relay.swap.outcome(), Some(SwapOutcome::Swapped), "{:?}\n{}", s, trace);
            }
        }
    }

    // specs/htlc.md §9.1, §9.2 L2: a cheating or absent participant cannot make the
    // honest initiator lose.
    #[test]
    fn honest_initiator_survives_any_participant(s in scenario(cheat().prop_map(Cast::CheatingParticipant).boxed())) {
        let world = run(&s);
        let outcome = check_honest(&world, &world.honest[0])?;
        let Cast::CheatingParticipant(cheat) = s.cast else { unreachable!() };
        if s.initiator_outage {
            // Beyond the reaction assumption only safety is promised (the claim window, §7.4).
            return Ok(());
        }
        match cheat {
            Cheat::NeverClaim => prop_assert_eq!(outcome, SwapOutcome::SwappedAndRefunded),
            Cheat::LastMomentClaim => prop_assert_eq!(outcome, SwapOutcome::Swapped),
            Cheat::LateLock | Cheat::LockAtWindowEdge => {}
            _ => prop_assert_eq!(outcome, SwapOutcome::Refunded),
        }
    }

    // specs/htlc.md §9.1, §9.2 L3: a cheating or absent initiator cannot make the honest
    // participant lose; a claim in the last block before T2 still leaves it time to claim.
    #[test]
    fn honest_participant_survives_any_initiator(s in scenario(cheat().prop_map(Cast::CheatingInitiator).boxed())) {
        let world = run(&s);
        let outcome = check_honest(&world, &world.honest[0])?;
        let Cast::CheatingInitiator(cheat) = s.cast else { unreachable!() };
        match cheat {
            Cheat::NeverClaim => prop_assert_eq!(outcome, SwapOutcome::Refunded),
            Cheat::LastMomentClaim => prop_assert_eq!(outcome, SwapOutcome::Swapped),
            Cheat::LateLock | Cheat::LockAtWindowEdge => {}
            _ => prop_assert_eq!(outcome, SwapOutcome::NothingLocked),
        }
    }
}

/// Regression: the simulated relay could go a whole reaction delay without ticking chain B
/// (a random partial read each step, then offline), so the initiator's first tick after
/// Start came 5.6 s late and it aborted TooLateToLock with nothing locked (specs/htlc.md §9).
#[test]
fn initiator_ticks_within_the_reaction_delay_and_refunds_a_participant_who_never_locks() {
    for seed in [18369865939623693499, 10641325792258993070] {
        let s = Scenario {
            block_time_ms: [200, 200],
            depth: [0, 0],
            offset_ms: [0, 0],
            accept_window_ms: 0,
            cast: Cast::CheatingParticipant(Cheat::NeverLock),
            crash_rate: 0.0,
            offline_rate: 0.05,
            initiator_outage: false,
            seed,
        };
        let world = run(&s);
        let outcome = check_honest(&world, &world.honest[0]).unwrap();
        assert_eq!(outcome, SwapOutcome::Refunded, "seed {seed}");
    }
}
