//! Authenticated, encrypted channels between notary committee members
//! (specs/notary-transport.md): Noise `IK` over TCP, one outbound connection per peer for
//! sending and the peers' inbound connections for receiving. A peer is known by its static
//! X25519 key from the committee file; nothing is ever sent in plaintext.

mod acceptor;
mod config;
mod dialer;
mod error;
mod frame;
mod handshake;
mod keys;
mod peer;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

pub use config::{MemberNumber, PeerSpec, TransportConfig};
pub use error::TransportError;
pub use frame::MAX_PAYLOAD_BYTES;
pub use keys::{generate_keypair, public_from_secret};
pub use peer::{Inbound, PeerStatus};

use acceptor::Listener;
use peer::Peer;

/// Messages queued for one peer before `send` refuses more.
pub const MAX_QUEUED_PER_PEER: usize = 4096;
/// Authenticated messages received and not yet taken by the daemon; readers wait beyond it.
pub const MAX_INBOUND_QUEUE: usize = 8192;
/// Inbound connections served at once (each peer needs one; strangers are cut off fast).
pub const MAX_INBOUND_CONNECTIONS: usize = 1024;

struct Inner {
    peers: BTreeMap<MemberNumber, (Arc<Peer>, mpsc::Sender<Vec<u8>>)>,
    refused: Arc<AtomicU64>,
    shutdown: watch::Sender<bool>,
}

/// The member's channel to the rest of the committee. Cheap to clone.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

impl Transport {
    /// Binds `listen`, spawns the accept loop and one dialer task per peer; returns the
    /// handle and the single bounded stream of authenticated inbound messages.
    pub async fn start(
        config: TransportConfig,
    ) -> Result<(Transport, mpsc::Receiver<Inbound>), TransportError> {
        config.validate()?;
        let tcp =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| TransportError::Listen {
                    address: config.listen.clone(),
                    source,
                })?;
        let span = tracing::info_span!("committee_channel", me = config.me);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (inbound, inbound_rx) = mpsc::channel(MAX_INBOUND_QUEUE);
        let secret = Arc::new(config.noise_secret);
        let mut peers = BTreeMap::new();
        for spec in config.peers {
            let peer = Arc::new(Peer::new(spec));
            let (queue, queue_rx) = mpsc::channel(MAX_QUEUED_PER_PEER);
            let dialer = dialer::dial(peer.clone(), secret.clone(), queue_rx, shutdown_rx.clone());
            tokio::spawn(dialer.instrument(span.clone()));
            peers.insert(peer.spec.number, (peer, queue));
        }
        let refused = Arc::new(AtomicU64::new(0));
        let listener = Arc::new(Listener {
            secret,
            peers: peers
                .values()
                .map(|(p, _)| (p.spec.noise_public, p.clone()))
                .collect(),
            inbound,
            refused: refused.clone(),
        });
        tokio::spawn(acceptor::accept(tcp, listener, shutdown_rx).instrument(span));
        let inner = Inner {
            peers,
            refused,
            shutdown,
        };
        Ok((
            Transport {
                inner: Arc::new(inner),
            },
            inbound_rx,
        ))
    }

    /// Never blocks: queues `payload` for `to`, delivered in order once the link is up.
    pub fn send(&self, to: MemberNumber, payload: Vec<u8>) -> Result<(), TransportError> {
        let (peer, queue) = self
            .inner
            .peers
            .get(&to)
            .ok_or(TransportError::UnknownPeer { peer: to })?;
        if payload.is_empty() {
            return Err(TransportError::Empty { peer: to });
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(TransportError::TooLarge {
                peer: to,
                size: payload.len(),
            });
        }
        peer.queued_one();
        match queue.try_send(payload) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                peer.dequeued_one();
                peer.count(|s| s.dropped_queue_full += 1);
                Err(TransportError::QueueFull {
                    peer: to,
                    queued: MAX_QUEUED_PER_PEER,
                })
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                peer.dequeued_one();
                Err(TransportError::Closed { peer: to })
            }
        }
    }

    /// Peers whose outbound channel is handshaken and live right now.
    pub fn connected(&self) -> Vec<MemberNumber> {
        self.inner
            .peers
            .iter()
            .filter(|(_, (p, _))| p.is_connected())
            .map(|(n, _)| *n)
            .collect()
    }

    pub fn status(&self) -> Vec<PeerStatus> {
        self.inner.peers.values().map(|(p, _)| p.status()).collect()
    }

    /// Inbound connections closed before they proved to be a peer (unknown key, garbled or
    /// slow handshake, no free slot): strangers and misconfigured members.
    pub fn refused_connections(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// Stops every task and closes the listener (dropping the last clone does the same).
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
