//! A dishonest or absent counterparty. It sees every block at once (not only final ones),
//! acts instantly and ignores the protocol's guards, within what the chain allows.

use causeway_core::{Address, Amount, Hash32};
use causeway_htlc::{ActionKind, LegId, Offer, Role, Secret};

use super::chain::{LockFate, SimChain, Tx};
use super::relay::leg_index;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cheat {
    NeverLock,
    WrongAmount,
    WrongRecipient,
    WrongHash,
    LongerExpiry,
    ShorterExpiry,
    /// Participant only: locks correct terms after the accept deadline.
    LateLock,
    /// Participant only: locks correct terms so late that the initiator's claim window
    /// is about to close, hoping for a claim that lands after T2 and leaks the secret.
    LockAtWindowEdge,
    /// Locks correctly, never claims.
    NeverClaim,
    /// Locks correctly, claims in the last block the chain accepts.
    LastMomentClaim,
}

pub struct Adversary {
    pub role: Role,
    pub cheat: Cheat,
    offer: Offer,
    /// The initiator's from the start; a participant's once seen on chain.
    secret: Option<Secret>,
    locked: bool,
    claimed: bool,
    /// For `LockAtWindowEdge`: how long before T2 the lock lands.
    window_edge_ms: u64,
    refund_tries: u32,
}

impl Adversary {
    pub fn new(
        role: Role,
        cheat: Cheat,
        offer: Offer,
        secret: Option<Secret>,
        window_edge_ms: u64,
    ) -> Adversary {
        Adversary {
            role,
            cheat,
            offer,
            secret,
            locked: false,
            claimed: false,
            window_edge_ms,
            refund_tries: 0,
        }
    }

    fn key(&self, what: &str) -> String {
        format!("mallory-{:?}:{what}", self.role)
    }

    pub fn step(&mut self, real_ms: u64, chains: &mut [SimChain; 2]) {
        let own = self.role.own_leg();
        self.learn_secret(chains);
        if !self.locked && self.ready_to_lock(real_ms, chains) {
            self.lock(chains);
        }
        if !self.claimed {
            self.try_claim(real_ms, chains);
        }
        // Keep trying to take our lock back, early or not: the chain must refuse until expiry.
        if real_ms / 1_000 * 1_000 == real_ms {
            let own_chain = &chains[leg_index(own)];
            let ours: Vec<Hash32> = own_chain
                .locks
                .iter()
                .filter(|(_, l)| l.fate == LockFate::Open && &l.sender == self.address(own))
                .map(|(id, _)| *id)
                .collect();
            for lock_id in ours {
                self.refund_tries += 1;
                let tx = Tx {
                    key: self.key(&format!("refund-{}", self.refund_tries)),
                    sender: self.address(own).clone(),
                    kind: ActionKind::Refund { lock_id },
                };
                chains[leg_index(own)].submit(tx);
            }
        }
    }

    fn address(&self, leg: LegId) -> &Address {
        &self.offer.leg(leg).sender
    }

    fn ready_to_lock(&self, real_ms: u64, chains: &[SimChain; 2]) -> bool {
        match (self.role, self.cheat) {
            (_, Cheat::NeverLock) => false,
            (Role::Initiator, _) => true,
            (Role::Participant, Cheat::LateLock) => {
                chains[1].next_block_time(real_ms) >= self.offer.accept_by_ms + 1_000
            }
            (Role::Participant, Cheat::LockAtWindowEdge) => {
                chains[1].next_block_time(real_ms) + self.window_edge_ms
                    >= self.offer.leg_b.expiry_ms
            }
            (Role::Participant, _) => self.their_open_lock(chains).is_some(),
        }
    }

    fn lock(&mut self, chains: &mut [SimChain; 2]) {
        let own = self.role.own_leg();
        let mut leg = self.offer.leg(own).clone();
        let mut hashlock = self.offer.hashlock;
        match self.cheat {
            Cheat::WrongAmount => leg.amount = Amount(leg.amount.0 - 1),
            Cheat::WrongRecipient => leg.recipient = Address::new("mallory-elsewhere").unwrap(),
            Cheat::WrongHash => hashlock = Hash32([0xee; 32]),
            Cheat::LongerExpiry => leg.expiry_ms += 60_000,
            Cheat::ShorterExpiry => leg.expiry_ms -= 5_000,
            _ => {}
        }
        let tx = Tx {
            key: self.key("lock"),
            sender: leg.sender.clone(),
            kind: ActionKind::Lock {
                recipient: leg.recipient,
                asset: leg.asset,
                amount: leg.amount,
                hashlock,
                expiry_ms: leg.expiry_ms,
            },
        };
        chains[leg_index(own)].submit(tx);
        self.locked = true;
    }

    /// The honest counterparty's open lock paying us under the swap's hashlock.
    fn their_open_lock(&self, chains: &[SimChain; 2]) -> Option<Hash32> {
        let their = self.role.their_leg();
        let terms = self.offer.leg(their);
        chains[leg_index(their)]
            .locks
            .iter()
            .find(|(_, l)| {
                l.fate == LockFate::Open
                    && l.recipient == terms.recipient
                    && l.hashlock == self.offer.hashlock
            })
            .map(|(id, _)| *id)
    }

    fn learn_secret(&mut self, chains: &[SimChain; 2]) {
        if self.secret.is_some() {
            return;
        }
        let hashlock = self.offer.hashlock;
        let leaked = chains
            .iter()
            .flat_map(|c| &c.revealed)
            .find(|p| Secret::opens(p, &hashlock));
        self.secret = leaked.map(|p| Secret::from_bytes(p.0));
    }

    fn try_claim(&mut self, real_ms: u64, chains: &mut [SimChain; 2]) {
        let their = self.role.their_leg();
        let (Some(secret), Some(lock_id)) = (self.secret, self.their_open_lock(chains)) else {
            return;
        };
        let chain = &chains[leg_index(their)];
        let expiry = self.offer.leg(their).expiry_ms;
        let next = chain.next_block_time(real_ms);
        let now = match self.cheat {
            Cheat::NeverClaim => false,
            Cheat::LastMomentClaim => next < expiry && next + chain.block_time_ms >= expiry,
            _ => true,
        };
        if now {
            let tx = Tx {
                key: self.key("claim"),
                sender: self.offer.leg(their).recipient.clone(),
                kind: ActionKind::Claim {
                    lock_id,
                    preimage: secret.preimage(),
                },
            };
            chains[leg_index(their)].submit(tx);
            self.claimed = true;
        }
    }
}
