use causeway_htlc::{Output, Phase, Swap, SwapAction, SwapOutcome};
use serde::{Deserialize, Serialize};

/// Timeline entries kept per swap; older ones are dropped first.
pub const MAX_TIMELINE: usize = 64;

/// A swap as the relay holds it: the protocol state plus what the user sees. It is stored
/// in two parts, its offer once and the rest at every step (`swaps/storage.rs`).
#[derive(Clone, Debug)]
pub struct SwapRecord {
    pub swap: Swap,
    /// The signed offer string, to show again or hand to the counterparty.
    pub offer: String,
    /// Local wall-clock time of creation, for listing only (never for deadlines).
    pub created_ms: u64,
    pub timeline: Vec<TimelineEntry>,
    /// Block time of the final event that made this relay claim: the counterparty's lock
    /// (initiator) or the preimage revealed by the initiator's claim (participant).
    pub claim_trigger_ms: Option<u64>,
    /// The relay's reaction: from that block's time to its claim's first broadcast
    /// (specs/htlc.md §8.1, reaction time). Both clocks are this machine's on a local devchain.
    pub claim_reaction_ms: Option<u64>,
}

/// What `relay_subscribeSwaps` pushes each time a step changed a swap: enough to know when
/// to read the whole view (`relay_swapStatus`), without sending it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapChange {
    pub swap_id: String,
    pub phase: Phase,
    pub outcome: Option<SwapOutcome>,
    /// Entries the swap's timeline has noted so far (older ones may have been dropped).
    pub timeline_len: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_reaction_ms: Option<u64>,
}

impl SwapChange {
    pub fn of(record: &SwapRecord) -> SwapChange {
        SwapChange {
            swap_id: record.swap.swap_id().to_string(),
            phase: record.swap.phase(),
            outcome: record.swap.outcome(),
            timeline_len: record.timeline.len(),
            claim_reaction_ms: record.claim_reaction_ms,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Local wall-clock time, for display only.
    pub at_ms: u64,
    pub kind: String,
    pub text: String,
}

impl SwapRecord {
    pub fn new(swap: Swap, offer: String, now_ms: u64) -> SwapRecord {
        SwapRecord {
            swap,
            offer,
            created_ms: now_ms,
            timeline: Vec::new(),
            claim_trigger_ms: None,
            claim_reaction_ms: None,
        }
    }

    /// Notes every output in the timeline (and the log) and returns the actions to submit.
    pub fn note_all(&mut self, outputs: Vec<Output>, now_ms: u64) -> Vec<SwapAction> {
        let mut submits = Vec::new();
        for out in outputs {
            if let Output::Submit(action) = &out {
                submits.push(action.clone());
            }
            if let Some(text) = self.note(&out, now_ms).map(|e| e.text.clone()) {
                tracing::info!(swap = %self.swap.swap_id(), "{text}");
            }
        }
        submits
    }

    /// Adds a timeline entry for an output worth showing, and returns it.
    pub fn note(&mut self, out: &Output, now_ms: u64) -> Option<&TimelineEntry> {
        let (kind, text) = match out {
            Output::Submit(a) => ("submit", format!("submitting {} on {}", a.id, a.chain)),
            Output::Progress(p) => ("progress", p.clone()),
            Output::Warning(w) => ("warning", w.clone()),
            Output::Aborted(r) => {
                let own = self.swap.offer().leg(self.swap.role().own_leg());
                (
                    "aborted",
                    format!(
                        "{r}; any lock of ours is refunded automatically once {} block time reaches {} ms (its expiry)",
                        own.chain_id,
                        own.expiry_ms
                    ),
                )
            }
            Output::Finished(o) => ("finished", format!("finished: {o}")),
        };
        if self.timeline.len() >= MAX_TIMELINE {
            self.timeline.remove(0);
        }
        self.timeline.push(TimelineEntry {
            at_ms: now_ms,
            kind: kind.to_string(),
            text,
        });
        self.timeline.last()
    }
}
