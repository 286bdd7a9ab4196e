//! What the daemon sees of each peer, and the state every task shares about it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::{MemberNumber, PeerSpec};

/// One authenticated message: `from` is the peer whose static key completed the handshake.
#[derive(Debug)]
pub struct Inbound {
    pub from: MemberNumber,
    pub payload: Vec<u8>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerStatus {
    pub number: MemberNumber,
    pub connected: bool,
    pub queued: usize,
    pub frames_sent: u64,
    pub frames_received: u64,
    pub dropped_queue_full: u64,
    pub handshake_failures: u64,
    pub reconnects: u64,
}

pub(crate) struct Peer {
    pub spec: PeerSpec,
    connected: AtomicBool,
    queued: AtomicUsize,
    counters: Mutex<PeerStatus>,
}

impl Peer {
    pub fn new(spec: PeerSpec) -> Self {
        Peer {
            counters: Mutex::new(PeerStatus {
                number: spec.number,
                ..PeerStatus::default()
            }),
            spec,
            connected: AtomicBool::new(false),
            queued: AtomicUsize::new(0),
        }
    }

    pub fn count(&self, f: impl FnOnce(&mut PeerStatus)) {
        // A panic elsewhere must not stop the counting.
        f(&mut self.counters.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Called before the message enters the queue, so the dialer never takes it first and
    /// the count never dips below zero.
    pub fn queued_one(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// The message left the queue: written to a link, or refused by it.
    pub fn dequeued_one(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn status(&self) -> PeerStatus {
        let mut status = self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        status.connected = self.is_connected();
        status.queued = self.queued.load(Ordering::Relaxed);
        status
    }
}
