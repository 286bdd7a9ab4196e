//! The sending half of a peer link: keeps one outbound connection to the peer up and writes
//! its queue over it, forever until shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};

use crate::frame::{write_frame, MAX_FRAME_BYTES};
use crate::handshake::{initiate, HandshakeError, HANDSHAKE_TIMEOUT};
use crate::peer::Peer;

/// First and longest pause between connection attempts to a peer.
pub const MIN_BACKOFF: Duration = Duration::from_millis(50);
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// An idle link carries an empty frame this often, so the listener can tell it from a dead one.
pub const KEEPALIVE: Duration = Duration::from_secs(1);
/// A peer that takes no bytes for this long is treated as gone (its host may have vanished
/// without a reset); what was being written is sent again on the next link. Long, because a
/// live peer whose daemon is busy also stops taking bytes (backpressure), and each give-up
/// leaves it one more link to drain.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a link ended.
enum LinkEnd {
    /// The peer went away or a write failed: connect again.
    Broken,
    /// Shutdown, or the transport was dropped: stop for good.
    Stop,
}

enum ConnectError {
    /// No TCP connection: the peer is down or not yet up. Normal; not counted.
    Unreachable(String),
    /// TCP worked but the peer could not prove its key, or refused ours.
    Handshake(HandshakeError),
}

pub async fn dial(
    peer: Arc<Peer>,
    secret: Arc<[u8; 32]>,
    mut queue: mpsc::Receiver<Vec<u8>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = MIN_BACKOFF;
    // Taken from the queue but not written; it goes first on the next link (at least once).
    let mut unsent: Option<Vec<u8>> = None;
    let mut links = 0u64;
    loop {
        let link = tokio::select! {
            link = connect(&peer, &secret) => link,
            _ = shutdown.changed() => return,
        };
        match link {
            Ok((stream, noise)) => {
                backoff = MIN_BACKOFF;
                links += 1;
                if links > 1 {
                    peer.count(|s| s.reconnects += 1);
                }
                peer.set_connected(true);
                tracing::debug!(peer = peer.spec.number, "committee link up");
                let end =
                    send_until_broken(&peer, stream, noise, &mut queue, &mut unsent, &mut shutdown)
                        .await;
                peer.set_connected(false);
                match end {
                    LinkEnd::Stop => return,
                    LinkEnd::Broken => {
                        tracing::debug!(
                            peer = peer.spec.number,
                            "committee link down; reconnecting"
                        );
                    }
                }
            }
            Err(failure) => {
                match failure {
                    ConnectError::Handshake(e) => {
                        peer.count(|s| s.handshake_failures += 1);
                        tracing::warn!(peer = peer.spec.number, endpoint = %peer.spec.endpoint, "committee link handshake failed: {e}");
                    }
                    ConnectError::Unreachable(e) => {
                        tracing::debug!(peer = peer.spec.number, endpoint = %peer.spec.endpoint, "cannot reach peer: {e}");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn connect(
    peer: &Peer,
    secret: &[u8; 32],
) -> Result<(TcpStream, snow::TransportState), ConnectError> {
    let mut stream = timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(&peer.spec.endpoint))
        .await
        .map_err(|_| ConnectError::Unreachable(format!("no answer in {HANDSHAKE_TIMEOUT:?}")))?
        .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
    // Committee messages are small and latency-bound.
    let _ = stream.set_nodelay(true);
    let noise = initiate(&mut stream, secret, &peer.spec.noise_public)
        .await
        .map_err(ConnectError::Handshake)?;
    Ok((stream, noise))
}

async fn send_until_broken(
    peer: &Peer,
    mut stream: TcpStream,
    mut noise: snow::TransportState,
    queue: &mut mpsc::Receiver<Vec<u8>>,
    unsent: &mut Option<Vec<u8>>,
    shutdown: &mut watch::Receiver<bool>,
) -> LinkEnd {
    let (mut reader, mut writer) = stream.split();
    let mut keepalive = interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut probe = [0u8; 64];
    let mut sealed = vec![0u8; MAX_FRAME_BYTES];
    loop {
        let payload = match unsent.take() {
            Some(p) => Some(p),
            None => tokio::select! {
                p = queue.recv() => match p {
                    Some(p) => Some(p),
                    None => return LinkEnd::Stop,
                },
                _ = keepalive.tick() => None,
                // The peer never sends on this link; reading only notices it going away.
                read = reader.read(&mut probe) => match read {
                    Ok(n) if n > 0 => continue,
                    _ => return LinkEnd::Broken,
                },
                _ = shutdown.changed() => return LinkEnd::Stop,
            },
        };
        let plain = payload.as_deref().unwrap_or(&[]);
        let n = match noise.write_message(plain, &mut sealed) {
            Ok(n) => n,
            Err(e) => {
                // `send` bounds the size, so only a worn-out session gets here; retrying the
                // message could loop forever, so it is dropped and a fresh session started.
                tracing::error!(
                    peer = peer.spec.number,
                    "cannot encrypt a message, dropping it: {e}"
                );
                if payload.is_some() {
                    peer.dequeued_one();
                }
                return LinkEnd::Broken;
            }
        };
        let written = tokio::select! {
            w = timeout(WRITE_TIMEOUT, write_frame(&mut writer, &sealed[..n])) => matches!(w, Ok(Ok(()))),
            _ = shutdown.changed() => return LinkEnd::Stop,
        };
        if !written {
            *unsent = payload;
            return LinkEnd::Broken;
        }
        if payload.is_some() {
            peer.dequeued_one();
            peer.count(|s| s.frames_sent += 1);
        }
    }
}
