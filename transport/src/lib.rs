//! Authenticated, encrypted channels between notary committee members
//! (specs/notary-transport.md): Noise `IK` over TCP, one outbound connection per peer for
//! sending and the peers' inbound connections for receiving. A peer is known by its static
//! X25519 key from the committee file; nothing is ever sent in plaintext.

mod frame;
mod keys;
mod link;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub use frame::MAX_PAYLOAD_BYTES;
pub use keys::{generate_keypair, public_from_secret};

/// A member's number: 1-based, equal to its FROST identifier.
pub type MemberNumber = u16;

/// Messages queued for one peer before `send` refuses more.
pub const MAX_QUEUED_PER_PEER: usize = 4096;
/// Authenticated messages received and not yet taken by the daemon; readers wait beyond it.
pub const MAX_INBOUND_QUEUE: usize = 8192;
/// Inbound connections served at once (each peer needs one; strangers are cut off fast).
pub const MAX_INBOUND_CONNECTIONS: usize = 1024;

#[derive(Clone, Debug)]
pub struct PeerSpec {
    pub number: MemberNumber,
    pub noise_public: [u8; 32],
    /// `host:port`.
    pub endpoint: String,
}

#[derive(Clone)]
pub struct TransportConfig {
    pub me: MemberNumber,
    pub noise_secret: [u8; 32],
    /// `host:port` to listen on.
    pub listen: String,
    /// Every other member.
    pub peers: Vec<PeerSpec>,
}

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

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot listen on {address}: {source}; is another member or process using it?")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("member {0} is not a peer of this member; check the committee file")]
    UnknownPeer(MemberNumber),
    #[error("message of {size} bytes is larger than the channel's {MAX_PAYLOAD_BYTES}")]
    TooLarge { size: usize },
    #[error("{queued} messages already wait for member {peer} (limit {MAX_QUEUED_PER_PEER}); it is down or slow")]
    QueueFull { peer: MemberNumber, queued: usize },
    #[error("the channel is shut down")]
    Closed,
    #[error("noise: {0}")]
    Noise(String),
}

impl From<snow::Error> for TransportError {
    fn from(e: snow::Error) -> Self {
        TransportError::Noise(e.to_string())
    }
}

/// What every task shares about one peer.
pub(crate) struct Peer {
    pub spec: PeerSpec,
    pub connected: AtomicBool,
    pub queued: AtomicUsize,
    pub stats: Mutex<PeerStatus>,
}

impl Peer {
    pub fn count(&self, f: impl FnOnce(&mut PeerStatus)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

struct Inner {
    peers: BTreeMap<MemberNumber, (Arc<Peer>, mpsc::Sender<Vec<u8>>)>,
    shutdown: watch::Sender<bool>,
}

/// The member's channel to the rest of the committee. Cheap to clone.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

impl Transport {
    /// Binds `listen`, starts the accept loop and one dialer per peer, and returns the handle
    /// and the stream of authenticated inbound messages.
    pub async fn start(
        config: TransportConfig,
    ) -> Result<(Transport, mpsc::Receiver<Inbound>), TransportError> {
        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| TransportError::Listen {
                    address: config.listen.clone(),
                    source,
                })?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (inbound_tx, inbound_rx) = mpsc::channel(MAX_INBOUND_QUEUE);
        let secret = Arc::new(config.noise_secret);
        let mut peers = BTreeMap::new();
        for spec in config.peers {
            let peer = Arc::new(Peer {
                stats: Mutex::new(PeerStatus {
                    number: spec.number,
                    ..PeerStatus::default()
                }),
                spec,
                connected: AtomicBool::new(false),
                queued: AtomicUsize::new(0),
            });
            let (tx, rx) = mpsc::channel(MAX_QUEUED_PER_PEER);
            tokio::spawn(link::dial(
                peer.clone(),
                secret.clone(),
                rx,
                shutdown_rx.clone(),
            ));
            peers.insert(peer.spec.number, (peer, tx));
        }
        let known: Arc<BTreeMap<[u8; 32], Arc<Peer>>> = Arc::new(
            peers
                .values()
                .map(|(p, _)| (p.spec.noise_public, p.clone()))
                .collect(),
        );
        tokio::spawn(link::accept(
            listener,
            secret,
            known,
            inbound_tx,
            shutdown_rx,
        ));
        Ok((
            Transport {
                inner: Arc::new(Inner { peers, shutdown }),
            },
            inbound_rx,
        ))
    }

    /// Queues `payload` for `to` without waiting.
    pub fn send(&self, to: MemberNumber, payload: Vec<u8>) -> Result<(), TransportError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(TransportError::TooLarge {
                size: payload.len(),
            });
        }
        let (peer, queue) = self
            .inner
            .peers
            .get(&to)
            .ok_or(TransportError::UnknownPeer(to))?;
        match queue.try_send(payload) {
            Ok(()) => {
                peer.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                peer.count(|s| s.dropped_queue_full += 1);
                Err(TransportError::QueueFull {
                    peer: to,
                    queued: MAX_QUEUED_PER_PEER,
                })
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(TransportError::Closed),
        }
    }

    /// Peers whose outbound channel is handshaken and live now.
    pub fn connected(&self) -> Vec<MemberNumber> {
        self.inner
            .peers
            .iter()
            .filter(|(_, (p, _))| p.connected.load(Ordering::Relaxed))
            .map(|(n, _)| *n)
            .collect()
    }

    pub fn status(&self) -> Vec<PeerStatus> {
        self.inner
            .peers
            .values()
            .map(|(p, _)| {
                let mut s = p.stats.lock().unwrap_or_else(|e| e.into_inner()).clone();
                s.connected = p.connected.load(Ordering::Relaxed);
                s.queued = p.queued.load(Ordering::Relaxed);
                s
            })
            .collect()
    }

    /// Stops every task and closes the listener.
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[cfg(test)]
mod tests;
