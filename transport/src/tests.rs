//! specs/notary-transport.md, checked over real loopback sockets.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::*;

fn port() -> u16 {
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
                endpoint: format!("127.0.0.1:{}", port()),
            }
        })
        .collect()
}

fn config(all: &[Member], me: usize) -> TransportConfig {
    TransportConfig {
        me: me as u16 + 1,
        noise_secret: all[me].secret,
        listen: all[me].endpoint.clone(),
        peers: all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != me)
            .map(|(i, m)| PeerSpec {
                number: i as u16 + 1,
                noise_public: m.public,
                endpoint: m.endpoint.clone(),
            })
            .collect(),
    }
}

async fn recv(rx: &mut mpsc::Receiver<Inbound>) -> Inbound {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a message within 10 s")
        .expect("channel open")
}

// §1, §3: messages flow both ways with the sender authenticated, including to a member that
// starts late (queued until it is up).
#[tokio::test]
async fn members_exchange_messages_and_late_starters_get_queued_ones() {
    let all = members(3);
    let (t1, mut r1) = Transport::start(config(&all, 0)).await.unwrap();
    let (t2, mut r2) = Transport::start(config(&all, 1)).await.unwrap();
    t1.send(3, b"early".to_vec()).unwrap();
    t1.send(2, b"hello two".to_vec()).unwrap();
    let got = recv(&mut r2).await;
    assert_eq!((got.from, got.payload.as_slice()), (1, &b"hello two"[..]));
    t2.send(1, b"hello one".to_vec()).unwrap();
    let got = recv(&mut r1).await;
    assert_eq!((got.from, got.payload.as_slice()), (2, &b"hello one"[..]));
    let (_t3, mut r3) = Transport::start(config(&all, 2)).await.unwrap();
    let got = recv(&mut r3).await;
    assert_eq!((got.from, got.payload.as_slice()), (1, &b"early"[..]));
    assert!(t1.connected().contains(&3));
}

// §2: a stranger whose static key is in no committee entry is refused; nothing is delivered.
#[tokio::test]
async fn stranger_is_refused() {
    let mut all = members(2);
    let (_t1, mut r1) = Transport::start(config(&all, 0)).await.unwrap();
    // The stranger knows member 1's key but member 1 does not know the stranger's.
    let (stranger_secret, _) = generate_keypair();
    all[1].secret = stranger_secret;
    let (t2, _r2) = Transport::start(config(&all, 1)).await.unwrap();
    t2.send(1, b"let me in".to_vec()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(r1.try_recv().is_err());
    assert!(t2.connected().is_empty());
    assert!(t2.status()[0].handshake_failures > 0);
}

// §2: a dialer holding the wrong key for the responder never gets a link.
#[tokio::test]
async fn wrong_responder_key_never_connects() {
    let mut all = members(2);
    let (_t1, mut r1) = Transport::start(config(&all, 0)).await.unwrap();
    all[0].public = generate_keypair().1;
    let (t2, _r2) = Transport::start(config(&all, 1)).await.unwrap();
    t2.send(1, b"secret".to_vec()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(r1.try_recv().is_err());
    assert!(t2.connected().is_empty());
    assert_eq!(t2.status()[0].queued, 1);
}

// §4: size bounds: `send` refuses oversize payloads; a raw frame is bounded by its 2-byte
// length, and garbage from a socket only closes that socket.
#[tokio::test]
async fn oversize_and_garbage_are_refused_without_harm() {
    let all = members(2);
    let (t1, mut r1) = Transport::start(config(&all, 0)).await.unwrap();
    assert!(matches!(
        t1.send(2, vec![0; MAX_PAYLOAD_BYTES + 1]),
        Err(TransportError::TooLarge { .. })
    ));
    assert!(matches!(
        t1.send(9, vec![1]),
        Err(TransportError::UnknownPeer(9))
    ));
    let mut raw = tokio::net::TcpStream::connect(&all[0].endpoint)
        .await
        .unwrap();
    raw.write_all(&[0xff, 0xff]).await.unwrap();
    raw.write_all(&vec![0xab; 65_535]).await.unwrap();
    drop(raw);
    let (t2, _r2) = Transport::start(config(&all, 1)).await.unwrap();
    t2.send(1, vec![5; MAX_PAYLOAD_BYTES]).unwrap();
    let got = recv(&mut r1).await;
    assert_eq!(got.payload.len(), MAX_PAYLOAD_BYTES);
}

// §5: a member that stops and starts again on the same port gets messages again.
#[tokio::test]
async fn reconnects_after_a_peer_restarts() {
    let all = members(2);
    let (t1, _r1) = Transport::start(config(&all, 0)).await.unwrap();
    let (t2, mut r2) = Transport::start(config(&all, 1)).await.unwrap();
    t1.send(2, b"one".to_vec()).unwrap();
    assert_eq!(recv(&mut r2).await.payload, b"one");
    t2.shutdown();
    drop(t2);
    drop(r2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_t2, mut r2) = loop {
        match Transport::start(config(&all, 1)).await {
            Ok(t) => break t,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    t1.send(2, b"two".to_vec()).unwrap();
    let got = recv(&mut r2).await;
    assert_eq!(got.payload, b"two");
}

// §1: what crosses the wire is not the plaintext.
#[tokio::test]
async fn wire_bytes_are_not_plaintext() {
    let all = members(2);
    // A proxy in front of member 2 records what member 1 sends.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap().to_string();
    let target = all[1].endpoint.clone();
    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let recorded = seen.clone();
    tokio::spawn(async move {
        let (mut inbound, _) = proxy.accept().await.unwrap();
        let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
        let (mut ir, mut iw) = inbound.split();
        let (mut or, mut ow) = outbound.split();
        let up = async {
            let mut buf = [0u8; 4096];
            loop {
                let n = tokio::io::AsyncReadExt::read(&mut ir, &mut buf)
                    .await
                    .unwrap_or(0);
                if n == 0 {
                    break;
                }
                recorded.lock().unwrap().extend_from_slice(&buf[..n]);
                if ow.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        };
        let down = tokio::io::copy(&mut or, &mut iw);
        let _ = tokio::join!(up, down);
    });
    let mut c1 = config(&all, 0);
    c1.peers[0].endpoint = proxy_addr;
    let (t1, _r1) = Transport::start(c1).await.unwrap();
    let (_t2, mut r2) = Transport::start(config(&all, 1)).await.unwrap();
    let secret = b"the round-2 secret share".to_vec();
    t1.send(2, secret.clone()).unwrap();
    assert_eq!(recv(&mut r2).await.payload, secret);
    let wire = seen.lock().unwrap().clone();
    assert!(!wire.is_empty());
    assert!(!wire.windows(secret.len()).any(|w| w == secret.as_slice()));
}

#[test]
fn public_key_matches_snow_keypair() {
    let (secret, public) = generate_keypair();
    assert_ne!(public, [0u8; 32]);
    assert_eq!(public_from_secret(&secret).unwrap(), public);
}
