//! The two halves of a peer link: the dialer that sends to one peer (initiator) and the
//! acceptor that receives from any configured peer (responder).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};

use crate::frame::{params, read_frame, write_frame, MAX_FRAME_BYTES, PROLOGUE};
use crate::{Inbound, Peer, TransportError, MAX_INBOUND_CONNECTIONS};

/// First and longest pause between connection attempts to a peer.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Connecting and the handshake each get this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);
/// An idle link sends an empty frame this often, so a dead peer is noticed.
const KEEPALIVE: Duration = Duration::from_secs(1);

/// Keeps a link to `peer` up and sends its queue over it, forever until shutdown. A message
/// whose write fails is sent again on the next link (at least once).
pub async fn dial(
    peer: Arc<Peer>,
    secret: Arc<[u8; 32]>,
    mut queue: mpsc::Receiver<Vec<u8>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = MIN_BACKOFF;
    let mut unsent: Option<Vec<u8>> = None;
    let mut links = 0u64;
    while !*shutdown.borrow() {
        let link = tokio::select! {
            r = connect(&peer, &secret) => r,
            _ = shutdown.changed() => return,
        };
        let (stream, mut noise) = match link {
            Ok(l) => l,
            Err(e) => {
                if e.handshake {
                    peer.count(|s| s.handshake_failures += 1);
                    tracing::warn!(peer = peer.spec.number, endpoint = %peer.spec.endpoint, "committee channel handshake failed: {}", e.error);
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = MIN_BACKOFF;
        links += 1;
        if links > 1 {
            peer.count(|s| s.reconnects += 1);
        }
        peer.connected.store(true, Ordering::Relaxed);
        tracing::debug!(peer = peer.spec.number, "committee channel up");
        let (mut reader, mut writer) = stream.into_split();
        // The peer never sends on this link; any read result means it is gone.
        let mut closed = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while let Ok(n) = reader.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        });
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        let mut buf = vec![0u8; MAX_FRAME_BYTES];
        loop {
            let payload = match unsent.take() {
                Some(p) => Some(p),
                None => tokio::select! {
                    p = queue.recv() => match p {
                        Some(p) => Some(p),
                        None => return,
                    },
                    _ = keepalive.tick() => None,
                    _ = &mut closed => break,
                    _ = shutdown.changed() => return,
                },
            };
            let plain = payload.as_deref().unwrap_or(&[]);
            let written = match noise.write_message(plain, &mut buf) {
                Ok(n) => write_frame(&mut writer, &buf[..n]).await.is_ok(),
                Err(e) => {
                    tracing::error!(peer = peer.spec.number, "cannot encrypt a message: {e}");
                    false
                }
            };
            if !written {
                unsent = payload;
                break;
            }
            if payload.is_some() {
                peer.queued.fetch_sub(1, Ordering::Relaxed);
                peer.count(|s| s.frames_sent += 1);
            }
        }
        closed.abort();
        peer.connected.store(false, Ordering::Relaxed);
        tracing::debug!(
            peer = peer.spec.number,
            "committee channel down; reconnecting"
        );
    }
}

struct LinkError {
    /// The TCP connection worked but the Noise handshake did not (wrong key, stranger).
    handshake: bool,
    error: String,
}

async fn connect(
    peer: &Peer,
    secret: &[u8; 32],
) -> Result<(TcpStream, snow::TransportState), LinkError> {
    let tcp = |e: String| LinkError {
        handshake: false,
        error: e,
    };
    let hs = |e: String| LinkError {
        handshake: true,
        error: e,
    };
    let mut stream =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(&peer.spec.endpoint))
            .await
            .map_err(|_| tcp("connect timed out".into()))?
            .map_err(|e| tcp(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let handshake = async {
        let mut noise = snow::Builder::new(params())
            .local_private_key(secret)?
            .remote_public_key(&peer.spec.noise_public)?
            .prologue(PROLOGUE)?
            .build_initiator()?;
        let mut buf = vec![0u8; MAX_FRAME_BYTES];
        let n = noise.write_message(&[], &mut buf)?;
        write_frame(&mut stream, &buf[..n]).await.map_err(io)?;
        let reply = read_frame(&mut stream).await.map_err(io)?;
        noise.read_message(&reply, &mut buf)?;
        Ok::<_, TransportError>(noise.into_transport_mode()?)
    };
    let noise = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| hs("handshake timed out (wrong key, or not a Causeway member?)".into()))?
        .map_err(|e| hs(e.to_string()))?;
    Ok((stream, noise))
}

fn io(e: std::io::Error) -> TransportError {
    TransportError::Noise(format!("i/o during handshake: {e}"))
}

/// Accepts links from configured peers and delivers their messages.
pub async fn accept(
    listener: TcpListener,
    secret: Arc<[u8; 32]>,
    known: Arc<BTreeMap<[u8; 32], Arc<Peer>>>,
    inbound: mpsc::Sender<Inbound>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_INBOUND_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, addr)) = accepted else {
            tokio::time::sleep(MIN_BACKOFF).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%addr, "too many committee connections; refusing one");
            continue;
        };
        let (secret, known, inbound, shutdown) = (
            secret.clone(),
            known.clone(),
            inbound.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            serve(stream, addr, &secret, &known, inbound, shutdown).await;
            drop(slot);
        });
    }
}

async fn serve(
    mut stream: TcpStream,
    addr: std::net::SocketAddr,
    secret: &[u8; 32],
    known: &BTreeMap<[u8; 32], Arc<Peer>>,
    inbound: mpsc::Sender<Inbound>,
    mut shutdown: watch::Receiver<bool>,
) {
    let handshake = async {
        let mut noise = snow::Builder::new(params())
            .local_private_key(secret)?
            .prologue(PROLOGUE)?
            .build_responder()?;
        let mut buf = vec![0u8; MAX_FRAME_BYTES];
        let first = read_frame(&mut stream).await.map_err(io)?;
        noise.read_message(&first, &mut buf)?;
        let remote: [u8; 32] = noise
            .get_remote_static()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| TransportError::Noise("no static key in the handshake".into()))?;
        // Only a configured member may talk to us; decided before we answer.
        let peer = known
            .get(&remote)
            .cloned()
            .ok_or_else(|| TransportError::Noise("static key of no committee member".into()))?;
        let n = noise.write_message(&[], &mut buf)?;
        write_frame(&mut stream, &buf[..n]).await.map_err(io)?;
        Ok::<_, TransportError>((peer, noise.into_transport_mode()?))
    };
    let (peer, mut noise) = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            tracing::warn!(%addr, "refused a committee connection: {e}");
            return;
        }
        Err(_) => {
            tracing::warn!(%addr, "refused a committee connection: handshake timed out");
            return;
        }
    };
    let mut buf = vec![0u8; MAX_FRAME_BYTES];
    loop {
        let frame = tokio::select! {
            f = read_frame(&mut stream) => f,
            _ = shutdown.changed() => return,
        };
        let Ok(frame) = frame else { return };
        let n = match noise.read_message(&frame, &mut buf) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(
                    peer = peer.spec.number,
                    "dropping a committee link: undecryptable frame ({e})"
                );
                return;
            }
        };
        if n == 0 {
            continue; // keepalive
        }
        peer.count(|s| s.frames_received += 1);
        let message = Inbound {
            from: peer.spec.number,
            payload: buf[..n].to_vec(),
        };
        if inbound.send(message).await.is_err() {
            return;
        }
    }
}
