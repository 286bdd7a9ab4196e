//! specs/notary-transport.md, checked over real loopback sockets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use causeway_transport::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Generous bound for anything that should happen within milliseconds on loopback.
const PATIENCE: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Member {
    secret: [u8; 32],
    public: [u8; 32],
    endpoint: String,
}

fn members(n: usize) -> Vec<Member> {
    (0..n)
        .map(|_| {
            let (secret, public) = generate_keypair();
            Member {
                secret,
                public,
                endpoint: format!("127.0.0.1:{}", free_port()),
            }
        })
        .collect()
}

/// Member `me` (0-based) of `all`, knowing every other one.
fn config(all: &[Member], me: usize) -> TransportConfig {
    TransportConfig {
        me: number(me),
        noise_secret: all[me].secret,
        listen: all[me].endpoint.clone(),
        peers: all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != me)
            .map(|(i, m)| PeerSpec {
                number: number(i),
                noise_public: m.public,
                endpoint: m.endpoint.clone(),
            })
            .collect(),
    }
}

fn number(index: usize) -> MemberNumber {
    MemberNumber::try_from(index + 1).expect("small committee")
}

async fn start(config: TransportConfig) -> (Transport, mpsc::Receiver<Inbound>) {
    Transport::start(config).await.expect("transport starts")
}

async fn recv(rx: &mut mpsc::Receiver<Inbound>) -> (MemberNumber, Vec<u8>) {
    let got = tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("a message in time")
        .expect("channel open");
    (got.from, got.payload)
}

async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn status_of(t: &Transport, peer: MemberNumber) -> PeerStatus {
    t.status()
        .into_iter()
        .find(|s| s.number == peer)
        .expect("configured peer")
}

// §2, §3: messages flow every way with the sender authenticated; a member that starts late
// gets, in order, what was queued for it while it was down.
#[tokio::test]
async fn members_exchange_messages_and_a_late_starter_gets_queued_ones_in_order() {
    let all = members(3);
    let (t1, mut r1) = start(config(&all, 0)).await;
    let (t2, mut r2) = start(config(&all, 1)).await;
    for i in 0..5u8 {
        t1.send(3, vec![b'e', i]).unwrap();
    }
    assert_eq!(status_of(&t1, 3).queued, 5);
    t1.send(2, b"hello two".to_vec()).unwrap();
    assert_eq!(recv(&mut r2).await, (1, b"hello two".to_vec()));
    t2.send(1, b"hello one".to_vec()).unwrap();
    assert_eq!(recv(&mut r1).await, (2, b"hello one".to_vec()));

    let (t3, mut r3) = start(config(&all, 2)).await;
    for i in 0..5u8 {
        assert_eq!(recv(&mut r3).await, (1, vec![b'e', i]));
    }
    t3.send(1, b"three to one".to_vec()).unwrap();
    t3.send(2, b"three to two".to_vec()).unwrap();
    assert_eq!(recv(&mut r1).await, (3, b"three to one".to_vec()));
    assert_eq!(recv(&mut r2).await, (3, b"three to two".to_vec()));

    eventually("member 1 has sent everything", || {
        let s = status_of(&t1, 3);
        s.queued == 0 && s.frames_sent == 5 && s.connected
    })
    .await;
    assert_eq!(status_of(&t3, 1).frames_received, 5);
    assert!(t1.connected().contains(&3));
}

/// Member 1, and a member 2 started from a committee that `misfit` altered: it dials member 1
/// but cannot be what member 1 expects.
async fn member_one_and_a_misfit(
    misfit: impl FnOnce(&mut [Member]),
) -> (Transport, mpsc::Receiver<Inbound>, Transport) {
    let mut all = members(2);
    let (t1, r1) = start(config(&all, 0)).await;
    misfit(&mut all);
    // Nothing can reach the misfit either, so its inbound stream is not needed.
    let (t2, _) = start(config(&all, 1)).await;
    (t1, r1, t2)
}

// §2: a stranger whose static key is in no committee entry is refused by the member it dials;
// nothing it sends is delivered.
#[tokio::test]
async fn a_stranger_is_refused() {
    // The stranger knows member 1's key and claims seat 2, but member 1 knows another key there.
    let (t1, mut r1, stranger) =
        member_one_and_a_misfit(|all| all[1].secret = generate_keypair().0).await;
    stranger.send(1, b"let me in".to_vec()).unwrap();
    eventually("member 1 refuses the stranger", || {
        t1.refused_connections() >= 1
    })
    .await;
    eventually("the stranger counts its failed handshake", || {
        status_of(&stranger, 1).handshake_failures >= 1
    })
    .await;
    assert!(r1.try_recv().is_err());
    assert!(stranger.connected().is_empty());
    assert_eq!(status_of(&stranger, 1).queued, 1);
    assert_eq!(status_of(&t1, 2).frames_received, 0);
}

// §2: a dialer holding the wrong key for the responder never gets a link, however often it
// retries.
#[tokio::test]
async fn a_dialer_with_a_wrong_responder_key_never_connects() {
    let (t1, mut r1, t2) =
        member_one_and_a_misfit(|all| all[0].public = generate_keypair().1).await;
    t2.send(1, b"secret".to_vec()).unwrap();
    eventually("the dialer fails and retries", || {
        status_of(&t2, 1).handshake_failures >= 2
    })
    .await;
    assert!(t1.refused_connections() >= 2);
    assert!(r1.try_recv().is_err());
    assert!(t2.connected().is_empty());
    let s = status_of(&t2, 1);
    assert_eq!((s.queued, s.frames_sent, s.reconnects), (1, 0, 0));
}

// §4: `send` refuses what cannot go: unknown members, oversize and empty payloads.
#[tokio::test]
async fn send_refuses_what_cannot_go() {
    let all = members(2);
    let (t1, _r1) = start(config(&all, 0)).await;
    let err = t1.send(2, vec![0; MAX_PAYLOAD_BYTES + 1]).unwrap_err();
    assert!(
        matches!(err, TransportError::TooLarge { peer: 2, size } if size == MAX_PAYLOAD_BYTES + 1)
    );
    assert!(err.to_string().contains("member 2"), "{err}");
    assert!(matches!(
        t1.send(9, vec![1]),
        Err(TransportError::UnknownPeer { peer: 9 })
    ));
    assert!(matches!(
        t1.send(2, Vec::new()),
        Err(TransportError::Empty { peer: 2 })
    ));
    assert_eq!(status_of(&t1, 2).queued, 0);
}

// §4: the per-peer queue is bounded; overflow is refused and counted.
#[tokio::test]
async fn a_full_queue_refuses_and_counts() {
    let all = members(2); // member 2 never starts
    let (t1, _r1) = start(config(&all, 0)).await;
    for _ in 0..MAX_QUEUED_PER_PEER {
        t1.send(2, vec![1]).unwrap();
    }
    assert!(matches!(
        t1.send(2, vec![1]),
        Err(TransportError::QueueFull { peer: 2, .. })
    ));
    let s = status_of(&t1, 2);
    assert_eq!((s.queued, s.dropped_queue_full), (MAX_QUEUED_PER_PEER, 1));
}

// §4: raw bytes at the largest length a frame can claim, or claiming more than arrives, only
// close that socket; the member keeps serving and a maximum-size payload still goes through.
#[tokio::test]
async fn garbage_frames_are_refused_without_harm() {
    let all = members(2);
    let (t1, mut r1) = start(config(&all, 0)).await;
    let mut full = TcpStream::connect(&all[0].endpoint).await.unwrap();
    full.write_all(&[0xff, 0xff]).await.unwrap();
    full.write_all(&vec![0xab; 65_535]).await.unwrap();
    let mut short = TcpStream::connect(&all[0].endpoint).await.unwrap();
    short.write_all(&[0xff, 0xff, 1, 2, 3]).await.unwrap();
    drop(short);
    // The member answers garbage by closing: the socket reads end-of-file, not a reply.
    let mut reply = Vec::new();
    let read = tokio::time::timeout(PATIENCE, full.read_to_end(&mut reply)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    eventually("both sockets refused", || t1.refused_connections() >= 2).await;

    let (t2, _r2) = start(config(&all, 1)).await;
    t2.send(1, vec![5; MAX_PAYLOAD_BYTES]).unwrap();
    let (from, payload) = recv(&mut r1).await;
    assert_eq!((from, payload.len()), (2, MAX_PAYLOAD_BYTES));
}

// §3: a daemon that does not read stalls its peers' links (backpressure) instead of
// buffering without bound, and loses nothing.
#[tokio::test]
async fn an_unread_inbound_stream_applies_backpressure_and_loses_nothing() {
    const BEYOND: u32 = 100;
    let total = u32::try_from(MAX_INBOUND_QUEUE).unwrap() + BEYOND;
    let all = members(2);
    let (t1, mut r1) = start(config(&all, 0)).await;
    let (t2, _r2) = start(config(&all, 1)).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for i in 0..total {
        while let Err(e) = t2.send(1, i.to_be_bytes().to_vec()) {
            assert!(matches!(e, TransportError::QueueFull { .. }), "{e}");
            assert!(
                tokio::time::Instant::now() < deadline,
                "queue never drained"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    eventually("member 1's inbound stream fills", || {
        status_of(&t1, 2).frames_received > MAX_INBOUND_QUEUE as u64
    })
    .await;
    // One message beyond the stream waits in the reading connection; the rest wait in TCP.
    assert_eq!(
        status_of(&t1, 2).frames_received,
        MAX_INBOUND_QUEUE as u64 + 1
    );
    for i in 0..total {
        assert_eq!(recv(&mut r1).await, (2, i.to_be_bytes().to_vec()));
    }
}

// §5: a member that stops and starts again on the same port gets messages again.
#[tokio::test]
async fn reconnects_after_a_peer_restarts() {
    let all = members(2);
    let (t1, _r1) = start(config(&all, 0)).await;
    let (t2, mut r2) = start(config(&all, 1)).await;
    t1.send(2, b"one".to_vec()).unwrap();
    assert_eq!(recv(&mut r2).await, (1, b"one".to_vec()));
    t2.shutdown();
    drop((t2, r2));
    eventually("member 1 notices member 2 left", || {
        !t1.connected().contains(&2)
    })
    .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let (_t2, mut r2) = loop {
        // The old listener closes asynchronously; the port frees within moments.
        match Transport::start(config(&all, 1)).await {
            Ok(t) => break t,
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    t1.send(2, b"two".to_vec()).unwrap();
    assert_eq!(recv(&mut r2).await, (1, b"two".to_vec()));
    assert!(status_of(&t1, 2).reconnects >= 1);
}

/// Forwards one connection to `target`, recording what the dialer sends.
async fn recording_proxy(target: String) -> (String, Arc<Mutex<Vec<u8>>>) {
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = proxy.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    tokio::spawn(async move {
        let (mut dialer, _) = proxy.accept().await.unwrap();
        let mut listener = TcpStream::connect(target).await.unwrap();
        let (mut dialer_read, mut dialer_write) = dialer.split();
        let (mut listener_read, mut listener_write) = listener.split();
        let upstream = async {
            let mut buf = [0u8; 4096];
            loop {
                let n = dialer_read.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                recorded.lock().unwrap().extend_from_slice(&buf[..n]);
                if listener_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        };
        let downstream = tokio::io::copy(&mut listener_read, &mut dialer_write);
        let _ = tokio::join!(upstream, downstream);
    });
    (address, seen)
}

// §1: what crosses the wire is not the plaintext. §3: keepalives flow on an idle link and
// are never delivered.
#[tokio::test]
async fn wire_bytes_are_not_plaintext_and_keepalives_are_not_delivered() {
    let all = members(2);
    let (proxy, seen) = recording_proxy(all[1].endpoint.clone()).await;
    let mut c1 = config(&all, 0);
    c1.peers[0].endpoint = proxy;
    let (t1, _r1) = start(c1).await;
    let (_t2, mut r2) = start(config(&all, 1)).await;
    let secret = b"the round-2 secret share".to_vec();
    t1.send(2, secret.clone()).unwrap();
    assert_eq!(recv(&mut r2).await, (1, secret.clone()));
    let after_message = seen.lock().unwrap().len();
    assert!(after_message > secret.len());

    eventually("a keepalive crosses the idle link", || {
        seen.lock().unwrap().len() > after_message
    })
    .await;
    let wire = seen.lock().unwrap().clone();
    assert!(!wire.windows(secret.len()).any(|w| w == secret.as_slice()));
    assert!(r2.try_recv().is_err(), "a keepalive was delivered");
    assert_eq!(status_of(&t1, 2).frames_sent, 1);
}

// §2: a configuration that would misattribute senders is refused before anything binds.
#[tokio::test]
async fn an_ambiguous_committee_is_refused_at_start() {
    let all = members(3);
    let mut c = config(&all, 0);
    c.peers[1].noise_public = c.peers[0].noise_public;
    let err = Transport::start(c).await.err().expect("refused");
    assert!(matches!(err, TransportError::SharedKey { .. }), "{err}");
}
