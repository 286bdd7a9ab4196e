//! Frames on the wire: a 2-byte big-endian length, then one Noise message.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The Noise protocol of every channel.
pub const PATTERN: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
/// Binds both ends to this protocol's purpose and version.
pub const PROLOGUE: &[u8] = b"causeway-notary-v1";
/// Largest Noise message (the Noise specification's limit).
pub const MAX_FRAME_BYTES: usize = 65_535;
/// Largest payload one frame carries: the frame less the AEAD tag.
pub const MAX_PAYLOAD_BYTES: usize = MAX_FRAME_BYTES - 16;

pub fn params() -> snow::params::NoiseParams {
    // A constant pattern snow supports; parsing cannot fail.
    PATTERN.parse().expect("supported Noise pattern")
}

pub async fn write_frame<W: AsyncWriteExt + Unpin>(w: &mut W, frame: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(frame.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut buf = Vec::with_capacity(2 + frame.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(frame);
    w.write_all(&buf).await?;
    w.flush().await
}

/// Reads one frame; the length prefix bounds it to 65,535 bytes before anything is allocated.
pub async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).await?;
    let mut frame = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut frame).await?;
    Ok(frame)
}
