//! The receiving half: accepts links that configured peers dial to this member and delivers
//! what they carry, each message named by the peer whose key completed the handshake.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};

use crate::dialer::{KEEPALIVE, MIN_BACKOFF};
use crate::frame::{read_frame, MAX_FRAME_BYTES};
use crate::handshake::respond;
use crate::peer::Peer;
use crate::{Inbound, MAX_INBOUND_CONNECTIONS};

/// A link that carries nothing, not even keepalives, for this long is dead; closing it frees
/// its slot.
pub const INBOUND_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * KEEPALIVE.as_secs());

/// Everything the acceptor and its connections share.
pub struct Listener {
    pub secret: Arc<[u8; 32]>,
    /// Configured peers by static public key.
    pub peers: BTreeMap<[u8; 32], Arc<Peer>>,
    pub inbound: mpsc::Sender<Inbound>,
    /// Connections closed before a peer was authenticated.
    pub refused: Arc<AtomicU64>,
}

pub async fn accept(
    tcp: TcpListener,
    listener: Arc<Listener>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_INBOUND_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            a = tcp.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Usually out of file descriptors; pausing lets some close.
                tracing::warn!("cannot accept a committee connection: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(MIN_BACKOFF) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            listener.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%addr, "refused a committee connection: {MAX_INBOUND_CONNECTIONS} already open");
            continue;
        };
        let (listener, shutdown) = (listener.clone(), shutdown.clone());
        tokio::spawn(async move {
            serve(stream, addr, &listener, shutdown).await;
            drop(slot);
        });
    }
}

async fn serve(
    mut stream: TcpStream,
    addr: SocketAddr,
    listener: &Listener,
    mut shutdown: watch::Receiver<bool>,
) {
    let handshake = respond(&mut stream, &listener.secret, |key| {
        listener.peers.get(key).cloned()
    });
    let (peer, mut noise) = tokio::select! {
        done = handshake => match done {
            Ok(done) => done,
            Err(e) => {
                listener.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%addr, "refused a committee connection: {e}");
                return;
            }
        },
        _ = shutdown.changed() => return,
    };
    let number = peer.spec.number;
    let mut plain = vec![0u8; MAX_FRAME_BYTES];
    loop {
        let frame = tokio::select! {
            f = tokio::time::timeout(INBOUND_IDLE_TIMEOUT, read_frame(&mut stream)) => f,
            _ = shutdown.changed() => return,
        };
        let frame = match frame {
            Ok(Ok(frame)) => frame,
            Ok(Err(_)) => {
                tracing::debug!(peer = number, %addr, "committee link closed by the peer");
                return;
            }
            Err(_) => {
                tracing::warn!(peer = number, %addr, "closing a committee link silent for {INBOUND_IDLE_TIMEOUT:?}");
                return;
            }
        };
        let n = match noise.read_message(&frame, &mut plain) {
            Ok(n) => n,
            Err(e) => {
                peer.count(|s| s.handshake_failures += 1);
                tracing::warn!(peer = number, %addr, "closing a committee link: a frame does not decrypt ({e})");
                return;
            }
        };
        if n == 0 {
            continue; // keepalive
        }
        peer.count(|s| s.frames_received += 1);
        let message = Inbound {
            from: number,
            payload: plain[..n].to_vec(),
        };
        // Waiting here, not buffering, is the backpressure: the peer's writes stall in TCP.
        tokio::select! {
            sent = listener.inbound.send(message) => if sent.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}
