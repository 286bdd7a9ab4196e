//! Checking an untrusted page of events against `specs/adapter.md` §2.2–2.4, shared by
//! every adapter that reads events from another process.

use causeway_core::{ChainId, Cursor, EventPage};

use crate::AdapterError;

/// Rejects pages that break the contract: out of order, before the cursor, a cursor that
/// goes backwards, or events from another chain.
pub fn check_page(chain: &ChainId, from: Cursor, page: &EventPage) -> Result<(), AdapterError> {
    let malformed = |detail: String| AdapterError::Malformed {
        chain: chain.clone(),
        detail,
    };
    let mut last: Option<Cursor> = None;
    for event in &page.events {
        if &event.chain_id != chain {
            return Err(malformed(format!(
                "event from chain {} in its page",
                event.chain_id
            )));
        }
        if event.position < from || last.is_some_and(|l| event.position <= l) {
            return Err(malformed(format!(
                "event at {} is out of order (cursor {from}, previous {last:?})",
                event.position
            )));
        }
        if event.position.height > page.finalized_height {
            return Err(malformed(format!(
                "event at {} is above the finalized height {}",
                event.position, page.finalized_height
            )));
        }
        last = Some(event.position);
    }
    if page.next < from || last.is_some_and(|l| page.next <= l) {
        return Err(malformed(format!(
            "next cursor {} goes backwards",
            page.next
        )));
    }
    Ok(())
}
