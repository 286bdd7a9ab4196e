//! Big-endian, length-prefixed byte encoding shared by attestations and Merkle leaves.
//!
//! Every integer is fixed-width big-endian and every text field is `u16 length || UTF-8`,
//! so the same bytes are rebuilt on-chain with Solidity's `abi.encodePacked` (specs/notary.md §7.1).

use crate::attestation::AttestationError;

/// Longest text field accepted; core's longest identifier (`Address`) is 128 bytes.
pub const MAX_TEXT_FIELD_BYTES: usize = 256;

#[derive(Default)]
pub(crate) struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Writer {
            bytes: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn raw(&mut self, data: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(data);
        self
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.raw(&[v])
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.raw(&v.to_be_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.raw(&v.to_be_bytes())
    }

    pub(crate) fn u128(&mut self, v: u128) -> &mut Self {
        self.raw(&v.to_be_bytes())
    }

    /// Text as `u16 length || bytes`. Core identifiers are at most 128 bytes, so the
    /// length always fits; anything longer is refused rather than truncated.
    pub(crate) fn text(
        &mut self,
        field: &'static str,
        s: &str,
    ) -> Result<&mut Self, AttestationError> {
        if s.is_empty() || s.len() > MAX_TEXT_FIELD_BYTES {
            return Err(AttestationError::FieldLength {
                field,
                len: s.len(),
                max: MAX_TEXT_FIELD_BYTES,
            });
        }
        // Bounded by MAX_TEXT_FIELD_BYTES above, which is far below u16::MAX.
        let len = s.len() as u16;
        self.raw(&len.to_be_bytes());
        Ok(self.raw(s.as_bytes()))
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    pub(crate) fn take(
        &mut self,
        field: &'static str,
        n: usize,
    ) -> Result<&'a [u8], AttestationError> {
        let end = self
            .offset
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(AttestationError::Truncated {
                field,
                offset: self.offset,
            })?;
        let out = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], AttestationError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, AttestationError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, AttestationError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, AttestationError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn text(&mut self, field: &'static str) -> Result<&'a str, AttestationError> {
        let len = usize::from(u16::from_be_bytes(self.array(field)?));
        if len == 0 || len > MAX_TEXT_FIELD_BYTES {
            return Err(AttestationError::FieldLength {
                field,
                len,
                max: MAX_TEXT_FIELD_BYTES,
            });
        }
        let offset = self.offset;
        std::str::from_utf8(self.take(field, len)?).map_err(|_| AttestationError::Malformed {
            field,
            offset,
            reason: "text is not UTF-8".into(),
        })
    }

    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// Canonical encodings have exactly one byte form: trailing bytes are an error.
    pub(crate) fn finish(self) -> Result<(), AttestationError> {
        if self.offset == self.bytes.len() {
            Ok(())
        } else {
            Err(AttestationError::TrailingBytes {
                extra: self.bytes.len() - self.offset,
            })
        }
    }
}
