//! Frames on the wire: a 2-byte big-endian length, then one Noise message.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The Noise protocol of every channel.
pub const PATTERN: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
/// Binds both ends to this protocol's purpose and version.
pub const PROLOGUE: &[u8] = b"causeway-notary-v1";
/// Largest Noise message (the Noise specification's limit), which the 2-byte length also caps.
pub const MAX_FRAME_BYTES: usize = u16::MAX as usize;
/// Bytes the AEAD tag adds to every transport message.
const TAG_BYTES: usize = 16;
/// Largest payload one frame carries: the frame less the AEAD tag.
pub const MAX_PAYLOAD_BYTES: usize = MAX_FRAME_BYTES - TAG_BYTES;

pub fn params() -> Result<snow::params::NoiseParams, snow::Error> {
    PATTERN.parse()
}

pub async fn write_frame<W: AsyncWriteExt + Unpin>(w: &mut W, frame: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(frame.len()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("a frame of {} bytes exceeds {MAX_FRAME_BYTES}", frame.len()),
        )
    })?;
    let mut buf = Vec::with_capacity(2 + frame.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(frame);
    w.write_all(&buf).await?;
    w.flush().await
}

/// Reads one frame; the 2-byte length bounds it to `MAX_FRAME_BYTES` before anything is
/// allocated.
pub async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).await?;
    let mut frame = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut frame).await?;
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    // specs/notary-transport.md §4: length prefix, big-endian.
    #[tokio::test]
    async fn frames_round_trip_with_a_big_endian_length() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"abc").await.unwrap();
        write_frame(&mut wire, b"").await.unwrap();
        assert_eq!(&wire[..5], &[0, 3, b'a', b'b', b'c']);
        let mut r = wire.as_slice();
        assert_eq!(read_frame(&mut r).await.unwrap(), b"abc");
        assert_eq!(read_frame(&mut r).await.unwrap(), b"");
        assert!(read_frame(&mut r).await.is_err());
    }

    #[tokio::test]
    async fn the_largest_frame_fits_and_one_more_byte_is_refused() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &vec![1; MAX_FRAME_BYTES])
            .await
            .unwrap();
        assert_eq!(&wire[..2], &[0xff, 0xff]);
        let err = write_frame(&mut Vec::new(), &vec![1; MAX_FRAME_BYTES + 1])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn a_frame_shorter_than_its_length_is_an_error() {
        let wire = [0xff, 0xff, 1, 2, 3];
        assert!(read_frame(&mut &wire[..]).await.is_err());
    }

    #[test]
    fn the_pattern_parses() {
        assert!(params().is_ok());
        assert_eq!(MAX_PAYLOAD_BYTES, 65_519);
    }
}
