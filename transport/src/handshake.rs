//! The Noise IK handshake, both roles, over any byte stream.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::frame::{params, read_frame, write_frame, MAX_FRAME_BYTES, PROLOGUE};

/// Connecting and the handshake each get this long.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("connection failed during the handshake: {0}")]
    Io(#[from] std::io::Error),
    #[error("Noise handshake failed (wrong key, or not a Causeway member?): {0}")]
    Noise(#[from] snow::Error),
    #[error("the handshake took longer than {HANDSHAKE_TIMEOUT:?} (wrong key, or not a Causeway member?)")]
    TimedOut,
    #[error("the dialer's static key belongs to no committee member")]
    Stranger,
}

/// The dialer's side: proves this member's key and checks the peer holds `remote_public`'s
/// secret (else the reply does not decrypt).
pub async fn initiate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &[u8; 32],
    remote_public: &[u8; 32],
) -> Result<snow::TransportState, HandshakeError> {
    bounded(async {
        let mut noise = snow::Builder::new(params()?)
            .local_private_key(secret)?
            .remote_public_key(remote_public)?
            .prologue(PROLOGUE)?
            .build_initiator()?;
        let mut buf = vec![0u8; MAX_FRAME_BYTES];
        let n = noise.write_message(&[], &mut buf)?;
        write_frame(stream, &buf[..n]).await?;
        let reply = read_frame(stream).await?;
        noise.read_message(&reply, &mut buf)?;
        Ok(noise.into_transport_mode()?)
    })
    .await
}

/// The listener's side: learns the dialer's static key from its first message and answers
/// only if `member_of` knows it; what `member_of` returned names the sender from then on.
pub async fn respond<S, M>(
    stream: &mut S,
    secret: &[u8; 32],
    member_of: impl Fn(&[u8]) -> Option<M>,
) -> Result<(M, snow::TransportState), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    bounded(async {
        let mut noise = snow::Builder::new(params()?)
            .local_private_key(secret)?
            .prologue(PROLOGUE)?
            .build_responder()?;
        let mut buf = vec![0u8; MAX_FRAME_BYTES];
        let first = read_frame(stream).await?;
        noise.read_message(&first, &mut buf)?;
        // Decided before answering, so a stranger learns nothing from us.
        let member = noise
            .get_remote_static()
            .and_then(&member_of)
            .ok_or(HandshakeError::Stranger)?;
        let n = noise.write_message(&[], &mut buf)?;
        write_frame(stream, &buf[..n]).await?;
        Ok((member, noise.into_transport_mode()?))
    })
    .await
}

async fn bounded<T>(
    handshake: impl std::future::Future<Output = Result<T, HandshakeError>>,
) -> Result<T, HandshakeError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .unwrap_or(Err(HandshakeError::TimedOut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate_keypair;

    struct Pair {
        secret: [u8; 32],
        public: [u8; 32],
    }

    fn pair() -> Pair {
        let (secret, public) = generate_keypair();
        Pair { secret, public }
    }

    /// Runs both roles over an in-memory pipe; the responder knows `known` as member 7.
    async fn handshake(
        dialer: &Pair,
        listener: &Pair,
        dialer_thinks_listener_is: [u8; 32],
        known: [u8; 32],
    ) -> (
        Result<snow::TransportState, HandshakeError>,
        Result<(u16, snow::TransportState), HandshakeError>,
    ) {
        let (mut a, mut b) = tokio::io::duplex(MAX_FRAME_BYTES);
        let init = async {
            let r = initiate(&mut a, &dialer.secret, &dialer_thinks_listener_is).await;
            drop(a); // as a real dialer closes a failed socket
            r
        };
        let resp = async {
            let r = respond(&mut b, &listener.secret, |k| (k == known).then_some(7u16)).await;
            drop(b);
            r
        };
        tokio::join!(init, resp)
    }

    // specs/notary-transport.md §2: the responder names the dialer by its static key, and
    // the session keys agree.
    #[tokio::test]
    async fn members_agree_and_the_responder_names_the_dialer() {
        let (d, l) = (pair(), pair());
        let (init, resp) = handshake(&d, &l, l.public, d.public).await;
        let mut init = init.unwrap();
        let (member, mut resp) = resp.unwrap();
        assert_eq!(member, 7);
        let mut sealed = vec![0u8; 64];
        let n = init.write_message(b"share", &mut sealed).unwrap();
        let mut opened = vec![0u8; 64];
        let m = resp.read_message(&sealed[..n], &mut opened).unwrap();
        assert_eq!(&opened[..m], b"share");
    }

    // specs/notary-transport.md §2: an unknown static key gets no answer.
    #[tokio::test]
    async fn a_stranger_is_refused_by_the_responder() {
        let (stranger, l, member) = (pair(), pair(), pair());
        let (init, resp) = handshake(&stranger, &l, l.public, member.public).await;
        assert!(matches!(resp, Err(HandshakeError::Stranger)));
        assert!(init.is_err());
    }

    // specs/notary-transport.md §2: a dialer with the wrong key for the responder gets nowhere.
    #[tokio::test]
    async fn a_wrong_responder_key_fails_both_sides() {
        let (d, l) = (pair(), pair());
        let (init, resp) = handshake(&d, &l, pair().public, d.public).await;
        assert!(matches!(resp, Err(HandshakeError::Noise(_))));
        assert!(init.is_err());
    }
}
