//! Deterministic coordinator rotation (specs/notary.md §4.3): every member computes the same
//! order from the session id alone, so after a timeout all agree on the next coordinator
//! without exchanging a message.

use causeway_core::Hash32;
use frost_ed25519::Identifier;
use sha2::{Digest, Sha256};

const COORDINATOR_ORDER_DOMAIN: &[u8] = b"CAUSEWAY-NOTARY-COORDINATOR-V1";

/// Members ranked by `SHA-256(domain || session id || identifier)`; attempt `k` is led by
/// `order[k mod n]`, so n consecutive attempts try n different coordinators.
pub fn coordinator_order(session: &Hash32, members: &[Identifier]) -> Vec<Identifier> {
    let mut ranked: Vec<(Hash32, Identifier)> = members
        .iter()
        .map(|id| {
            let mut h = Sha256::new();
            h.update(COORDINATOR_ORDER_DOMAIN);
            h.update(session.0);
            h.update(id.serialize());
            (Hash32(h.finalize().into()), *id)
        })
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, id)| id).collect()
}

/// The coordinator of `attempt`, or `None` for an empty committee.
pub fn coordinator_for(order: &[Identifier], attempt: u32) -> Option<Identifier> {
    if order.is_empty() {
        return None;
    }
    order.get(attempt as usize % order.len()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u16) -> Vec<Identifier> {
        (1..=n)
            .map(|i| Identifier::try_from(i).expect("non-zero"))
            .collect()
    }

    // specs/notary.md §4.3: the order is a permutation, independent of input order, and
    // n consecutive attempts visit every member once.
    #[test]
    fn order_is_a_stable_permutation_visiting_everyone() {
        let members = ids(7);
        let session = causeway_core::sha256(b"s");
        let order = coordinator_order(&session, &members);
        let mut reversed = members.clone();
        reversed.reverse();
        assert_eq!(order, coordinator_order(&session, &reversed));
        let mut visited: Vec<_> = (0..7).filter_map(|k| coordinator_for(&order, k)).collect();
        visited.sort();
        assert_eq!(visited, members);
        assert_eq!(coordinator_for(&order, 7), coordinator_for(&order, 0));
        assert_ne!(
            order,
            coordinator_order(&causeway_core::sha256(b"t"), &members)
        );
        assert_eq!(coordinator_for(&[], 0), None);
    }
}
