//! An honest party's relay as specs/htlc.md §8 prescribes: feed events then ticks per
//! chain in order, persist after every `handle` and before broadcasting, and after a crash
//! restore, re-broadcast `pending_actions()` and re-read from the persisted cursors.

use causeway_core::Address;
use causeway_htlc::{ActionResult, Input, LegId, Output, Swap};
use rand::rngs::StdRng;
use rand::Rng;

use super::chain::{SimChain, Tx};

pub struct Faults {
    /// Chance per handled input of crashing before persisting (outputs lost).
    pub crash_before_persist: f64,
    /// Chance per submitted action of crashing after persisting, before broadcasting.
    pub crash_before_broadcast: f64,
    /// Chance per step, unless a tick is overdue, of going offline for up to `max_lag_ms`.
    pub go_offline: f64,
    /// Bound on delivery lag, on the online time between two ticks of a chain and on each
    /// offline period; two of them fit in the policy's reaction delay.
    pub max_lag_ms: u64,
}

pub struct HonestRelay {
    pub name: &'static str,
    /// Our account on chain A and chain B.
    pub accounts: [Address; 2],
    pub swap: Swap,
    persisted: String,
    persisted_cursor: [usize; 2],
    /// Finalized blocks already fed, per chain.
    cursor: [usize; 2],
    /// Real time of the last tick fed, per chain.
    ticked_at: [u64; 2],
    offline_until: u64,
    /// A real-time span during which this relay is down, beyond the policy's assumptions.
    pub outage: Option<(u64, u64)>,
    pub crashes: u32,
    /// Inputs and outputs, for failure reports.
    pub trace: Vec<String>,
}

impl HonestRelay {
    /// A relay that read both chains' heads at `read_at_ms`, when the swap was made.
    pub fn new(
        name: &'static str,
        accounts: [Address; 2],
        swap: Swap,
        read_at_ms: u64,
    ) -> HonestRelay {
        let persisted = serde_json::to_string(&swap).unwrap();
        HonestRelay {
            name,
            accounts,
            swap,
            persisted,
            persisted_cursor: [0, 0],
            cursor: [0, 0],
            ticked_at: [read_at_ms; 2],
            offline_until: 0,
            outage: None,
            crashes: 0,
            trace: Vec::new(),
        }
    }

    /// Handles one input with persistence and possible crashes. Returns false on a crash.
    pub fn feed(
        &mut self,
        input: Input,
        chains: &mut [SimChain; 2],
        faults: &Faults,
        rng: &mut StdRng,
    ) -> bool {
        self.trace.push(format!("in  {input:?}"));
        let outputs = self.swap.handle(input);
        for output in &outputs {
            self.trace.push(format!("out {output:?}"));
        }
        if rng.gen_bool(faults.crash_before_persist) {
            self.crash(chains, rng);
            return false;
        }
        self.persisted = serde_json::to_string(&self.swap).unwrap();
        self.persisted_cursor = self.cursor;
        for output in outputs {
            if let Output::Submit(action) = output {
                if rng.gen_bool(faults.crash_before_broadcast) {
                    self.crash(chains, rng);
                    return false;
                }
                self.broadcast(&action, chains);
            }
        }
        true
    }

    fn broadcast(&self, action: &causeway_htlc::SwapAction, chains: &mut [SimChain; 2]) {
        let index = chains
            .iter()
            .position(|c| c.id == action.chain)
            .expect("action on a swap chain");
        chains[index].submit(Tx {
            key: format!("{}:{}", self.name, action.id),
            sender: self.accounts[index].clone(),
            kind: action.kind.clone(),
        });
    }

    /// Restart: reload the persisted swap and cursors (sometimes re-reading a little
    /// more, as at-least-once delivery may), then re-broadcast what is outstanding.
    fn crash(&mut self, chains: &mut [SimChain; 2], rng: &mut StdRng) {
        self.crashes += 1;
        self.trace.push("CRASH".into());
        self.swap = serde_json::from_str(&self.persisted).expect("persisted swap loads");
        for (cursor, persisted) in self.cursor.iter_mut().zip(self.persisted_cursor) {
            *cursor = persisted.saturating_sub(rng.gen_range(0..3));
        }
        for action in self.swap.pending_actions() {
            self.broadcast(&action, chains);
        }
    }

    pub fn step(
        &mut self,
        real_ms: u64,
        chains: &mut [SimChain; 2],
        faults: &Faults,
        rng: &mut StdRng,
    ) {
        let in_outage = self
            .outage
            .is_some_and(|(from, until)| (from..until).contains(&real_ms));
        if real_ms < self.offline_until || in_outage || self.swap.is_finished() {
            return;
        }
        // Never offline while a tick is overdue, so lag and one offline period add up to
        // at most R between two ticks of a chain (regression: ticks were not bounded at
        // all, and a first chain-B tick 5.6 s after Start made the initiator abort
        // TooLateToLock).
        let tick_overdue = self
            .ticked_at
            .iter()
            .any(|&t| real_ms >= t + faults.max_lag_ms);
        if !tick_overdue && rng.gen_bool(faults.go_offline) {
            self.offline_until = real_ms + rng.gen_range(0..=faults.max_lag_ms);
            return;
        }
        let order = if rng.gen_bool(0.5) { [0, 1] } else { [1, 0] };
        for index in order {
            if !self.deliver(index, real_ms, chains, faults, rng) {
                return;
            }
        }
        self.poll_outcomes(chains, faults, rng);
    }

    /// Feeds some finalized blocks of chain `index`: a random number, but at least every
    /// block final for longer than the lag bound, and all of them (then a tick) once the
    /// last tick is that old.
    fn deliver(
        &mut self,
        index: usize,
        real_ms: u64,
        chains: &mut [SimChain; 2],
        faults: &Faults,
        rng: &mut StdRng,
    ) -> bool {
        let finalized = chains[index].finalized_count();
        let overdue = chains[index].blocks[..finalized]
            .iter()
            .take_while(|b| {
                b.final_at_real
                    .is_some_and(|t| t + faults.max_lag_ms <= real_ms)
            })
            .count();
        let from = self.cursor[index];
        let until = if real_ms >= self.ticked_at[index] + faults.max_lag_ms {
            finalized
        } else {
            rng.gen_range(overdue.max(from)..=finalized)
        };
        let chain_id = chains[index].id.clone();
        for height in from..until {
            for event in chains[index].blocks[height].events.clone() {
                let input = Input::Observed {
                    chain: chain_id.clone(),
                    event,
                };
                if !self.feed(input, chains, faults, rng) {
                    return false;
                }
            }
            self.cursor[index] = height + 1;
        }
        // Tick only once caught up, with the head as just read (the Tick contract).
        if until < finalized {
            return true;
        }
        let tick = Input::Tick {
            chain: chain_id,
            finalized_height: finalized as u64 - 1,
            time_ms: chains[index].finalized_time(),
        };
        let fed = self.feed(tick, chains, faults, rng);
        if fed {
            self.ticked_at[index] = real_ms;
        }
        fed
    }

    /// Like a relay polling `tx_status` of its outstanding transactions.
    fn poll_outcomes(&mut self, chains: &mut [SimChain; 2], faults: &Faults, rng: &mut StdRng) {
        for action in self.swap.pending_actions() {
            let index = chains.iter().position(|c| c.id == action.chain).unwrap();
            let key = format!("{}:{}", self.name, action.id);
            let Some(result) = chains[index].final_result(&key) else {
                continue;
            };
            let result = match result {
                Ok(()) => ActionResult::Ok,
                Err(reason) => ActionResult::Failed(reason),
            };
            let input = Input::ActionOutcome {
                action_id: action.id,
                result,
            };
            if !self.feed(input, chains, faults, rng) {
                return;
            }
        }
    }

    pub fn account(&self, leg: LegId) -> &Address {
        &self.accounts[leg_index(leg)]
    }
}

pub fn leg_index(leg: LegId) -> usize {
    match leg {
        LegId::A => 0,
        LegId::B => 1,
    }
}
