//! Pre-processed nonces (specs/notary.md §5.1): each member hands every coordinator a queue
//! of commitments ahead of time, so a session needs one round trip instead of two.
//!
//! A member's nonces for coordinator C are usable only in C's sign requests, so two
//! coordinators never race for one nonce. They live in memory only: a nonce that never
//! reaches disk cannot be restored and used twice, and a restarted member announces fresh
//! ones (`SigningNode::announce_pools`).

use std::collections::{BTreeMap, VecDeque};

use frost_ed25519::keys::KeyPackage;
use frost_ed25519::round1::{self, SigningCommitments, SigningNonces};
use frost_ed25519::Identifier;
use rand_core::{CryptoRng, RngCore};

/// Commitments a coordinator holds for each member; also the most one message carries.
pub const POOL_TARGET: usize = 32;
/// Nonces a signer keeps for one coordinator. Commitments a coordinator dropped unused
/// (sessions that failed) would otherwise pile up; the oldest go first, and the argument of
/// specs/notary.md §5.1 shows a commitment the coordinator still holds is never among them.
pub const SIGNER_POOL_LIMIT: usize = 4 * POOL_TARGET;

/// The signer's half: secret nonces, per coordinator, oldest first.
#[derive(Default)]
pub(crate) struct SignerPools {
    by_coordinator: BTreeMap<Identifier, VecDeque<SigningNonces>>,
}

impl SignerPools {
    /// `count` (at most [`POOL_TARGET`]) new nonces for `coordinator`. Returns their
    /// commitments, in order.
    pub(crate) fn generate<R: RngCore + CryptoRng>(
        &mut self,
        coordinator: Identifier,
        count: usize,
        key: &KeyPackage,
        rng: &mut R,
    ) -> Vec<SigningCommitments> {
        let pool = self.by_coordinator.entry(coordinator).or_default();
        (0..count.min(POOL_TARGET))
            .map(|_| {
                let (nonces, commitments) = round1::commit(key.signing_share(), rng);
                if pool.len() >= SIGNER_POOL_LIMIT {
                    pool.pop_front();
                }
                pool.push_back(nonces);
                commitments
            })
            .collect()
    }

    /// Removes and returns the nonces behind `commitments`, if `coordinator` was given them
    /// and they are unused. Removal comes first, so they can sign one package only.
    pub(crate) fn take(
        &mut self,
        coordinator: Identifier,
        commitments: &SigningCommitments,
    ) -> Option<SigningNonces> {
        let pool = self.by_coordinator.get_mut(&coordinator)?;
        let at = pool.iter().position(|n| n.commitments() == commitments)?;
        pool.remove(at)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_coordinator.values().map(VecDeque::len).sum()
    }
}

#[derive(Default)]
struct View {
    commitments: VecDeque<SigningCommitments>,
    /// A batch was asked for and has not arrived: ask no more until it does.
    requested: bool,
    /// It left a pooled round unanswered: it is down, or does not vouch for what this
    /// coordinator signs (it follows another fork, or its governor held a transfer). Not
    /// chosen until it shows it signs again (a share or commitment) or restarts.
    suspect: bool,
}

/// The coordinator's half: each member's commitments reserved for this coordinator, in the
/// order the member made them. Used oldest first, which is what keeps them inside the
/// member's bounded pool (§5.1).
#[derive(Default)]
pub(crate) struct PoolViews {
    by_member: BTreeMap<Identifier, View>,
}

impl PoolViews {
    /// A batch from `member`, appended; after its restart, it replaces everything held.
    /// Repeats (a re-delivered message) are skipped.
    pub(crate) fn receive(
        &mut self,
        member: Identifier,
        restarted: bool,
        commitments: Vec<SigningCommitments>,
    ) {
        let view = self.by_member.entry(member).or_default();
        if restarted {
            view.commitments.clear();
            view.suspect = false;
        }
        view.requested = false;
        for c in commitments {
            if view.commitments.contains(&c) {
                continue;
            }
            if view.commitments.len() >= POOL_TARGET {
                view.commitments.pop_front();
            }
            view.commitments.push_back(c);
        }
    }

    /// Whether `member` can be chosen for a pooled round: it has commitments here and is
    /// not suspect.
    pub(crate) fn has(&self, member: &Identifier) -> bool {
        self.by_member
            .get(member)
            .is_some_and(|v| !v.suspect && !v.commitments.is_empty())
    }

    /// `member` sent a share or a commitment: it signs with this coordinator again.
    pub(crate) fn answered(&mut self, member: &Identifier) {
        if let Some(view) = self.by_member.get_mut(member) {
            view.suspect = false;
        }
    }

    pub(crate) fn take(&mut self, member: &Identifier) -> Option<SigningCommitments> {
        self.by_member.get_mut(member)?.commitments.pop_front()
    }

    /// How many commitments to ask `member` for, if its queue ran below half and no top-up
    /// is on its way (the request is then counted as sent).
    pub(crate) fn top_up(&mut self, member: &Identifier) -> Option<usize> {
        let view = self.by_member.get_mut(member)?;
        if view.requested || view.commitments.len() >= POOL_TARGET / 2 {
            return None;
        }
        view.requested = true;
        Some(POOL_TARGET - view.commitments.len())
    }

    /// This coordinator just started: hold nothing of `member`'s until it answers the
    /// request for a batch the caller sends.
    pub(crate) fn void(&mut self, member: Identifier) {
        let view = self.by_member.entry(member).or_default();
        view.commitments.clear();
        view.requested = true;
    }

    /// `member` left a pooled round unanswered: void what it gave and suspect it.
    pub(crate) fn suspect(&mut self, member: Identifier) {
        self.void(member);
        if let Some(view) = self.by_member.get_mut(&member) {
            view.suspect = true;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_member.values().map(|v| v.commitments.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::signing::tests::dealer_keys;

    fn key() -> KeyPackage {
        dealer_keys(3, 2, 11)
            .0
            .into_values()
            .next()
            .expect("a share")
    }

    fn ids() -> (Identifier, Identifier) {
        (
            Identifier::try_from(1).expect("nonzero"),
            Identifier::try_from(2).expect("nonzero"),
        )
    }

    // specs/notary.md §5.1: a nonce signs at most once, and only for the coordinator it was
    // made for.
    #[test]
    fn a_pooled_nonce_is_taken_once_and_only_by_its_coordinator() {
        let (c1, c2) = ids();
        let mut rng = StdRng::seed_from_u64(1);
        let mut pools = SignerPools::default();
        let made = pools.generate(c1, 3, &key(), &mut rng);
        assert_eq!(made.len(), 3);
        assert!(pools.take(c2, &made[1]).is_none(), "another coordinator");
        assert!(pools.take(c1, &made[1]).is_some());
        assert!(pools.take(c1, &made[1]).is_none(), "already taken");
        assert_eq!(pools.len(), 2);
    }

    #[test]
    fn a_signers_pool_for_one_coordinator_is_bounded() {
        let (c1, _) = ids();
        let mut rng = StdRng::seed_from_u64(2);
        let mut pools = SignerPools::default();
        let first = pools.generate(c1, 1, &key(), &mut rng);
        for _ in 0..SIGNER_POOL_LIMIT / POOL_TARGET {
            assert_eq!(
                pools.generate(c1, POOL_TARGET * 2, &key(), &mut rng).len(),
                POOL_TARGET,
                "one batch is at most POOL_TARGET"
            );
        }
        assert_eq!(pools.len(), SIGNER_POOL_LIMIT);
        assert!(pools.take(c1, &first[0]).is_none(), "the oldest went first");
    }

    // specs/notary.md §5.1: commitments are used oldest first; a top-up is asked for once
    // until it arrives; a voided member is used again only once it answers; a restarted
    // member's batch replaces what was held.
    #[test]
    fn a_coordinators_view_uses_oldest_first_and_asks_once() {
        let (c1, member) = ids();
        let mut rng = StdRng::seed_from_u64(3);
        let mut pools = SignerPools::default();
        let mut views = PoolViews::default();
        let batch = pools.generate(c1, POOL_TARGET, &key(), &mut rng);
        views.receive(member, false, batch.clone());
        views.receive(member, false, batch.clone());
        assert_eq!(
            views.len(),
            POOL_TARGET,
            "a re-delivered batch is not doubled"
        );
        assert_eq!(views.top_up(&member), None, "full");
        for c in batch.iter().take(POOL_TARGET / 2 + 1) {
            assert_eq!(views.take(&member).as_ref(), Some(c), "oldest first");
        }
        assert_eq!(views.top_up(&member), Some(POOL_TARGET / 2 + 1));
        assert_eq!(views.top_up(&member), None, "already asked");

        views.void(member);
        assert!(!views.has(&member));
        assert_eq!(views.top_up(&member), None, "the void asked already");
        let answer = pools.generate(c1, 2, &key(), &mut rng);
        views.receive(member, false, answer.clone());
        assert_eq!(views.take(&member), Some(answer[0]));

        let after_restart = SignerPools::default().generate(c1, 1, &key(), &mut rng);
        views.receive(member, true, after_restart.clone());
        assert_eq!(
            views.len(),
            1,
            "a restarted member's old commitments are void"
        );
        assert_eq!(views.take(&member), Some(after_restart[0]));
    }
}
