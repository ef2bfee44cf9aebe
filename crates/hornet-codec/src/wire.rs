//! The data representations of MQTT §1.5: integers, UTF-8 encoded strings,
//! binary data and string pairs, read from a packet body and written to an
//! output buffer.
//!
//! [`Reader`] walks a frozen packet body. Strings and binary fields come out
//! as slices of that body ([`ByteString`], [`Bytes`]): decoding never copies a
//! payload or a topic.

use bytes::{Buf, BufMut, Bytes};
use bytestring::ByteString;

use crate::error::{DecodeError, EncodeError};
use crate::varint::{self, Varint};

/// A cursor over the body of one packet.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn need(&self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            Err(DecodeError::Truncated(what))
        } else {
            Ok(())
        }
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.need(1, what)?;
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.need(2, what)?;
        Ok(self.buf.get_u16())
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.need(4, what)?;
        Ok(self.buf.get_u32())
    }

    pub(crate) fn varint(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        match varint::read(&self.buf)? {
            Varint::Complete(value, len) => {
                self.buf.advance(len);
                Ok(value)
            }
            Varint::Incomplete => Err(DecodeError::Truncated(what)),
        }
    }

    /// The next `n` bytes, as a slice of the packet.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        self.need(n, what)?;
        Ok(self.buf.split_to(n))
    }

    /// All bytes left, as a slice of the packet.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Binary Data (§1.5.6): a two-byte length and that many bytes.
    pub(crate) fn binary(&mut self, what: &'static str) -> Result<Bytes, DecodeError> {
        let len = self.u16(what)?;
        self.take(usize::from(len), what)
    }

    /// UTF-8 Encoded String (§1.5.4), checked for ill-formed UTF-8 and U+0000.
    pub(crate) fn string(&mut self, what: &'static str) -> Result<ByteString, DecodeError> {
        let raw = self.binary(what)?;
        utf8(raw, what)
    }

    /// UTF-8 String Pair (MQTT 5.0 §1.5.7).
    pub(crate) fn string_pair(
        &mut self,
        what: &'static str,
    ) -> Result<(ByteString, ByteString), DecodeError> {
        Ok((self.string(what)?, self.string(what)?))
    }
}

/// Validates `raw` as an MQTT UTF-8 string without copying it.
///
/// [MQTT-1.5.4-1]: ill-formed UTF-8, including encoded surrogates U+D800 to
/// U+DFFF, is malformed. [MQTT-1.5.4-2]: U+0000 is malformed. Rust's UTF-8
/// validation already rejects surrogates and overlong forms; we only look
/// closer on failure, to name the rule that was broken.
pub(crate) fn utf8(raw: Bytes, what: &'static str) -> Result<ByteString, DecodeError> {
    // Cloning `Bytes` only bumps a reference count; it keeps the raw bytes
    // around to classify the error on the cold path.
    match ByteString::try_from(raw.clone()) {
        Ok(s) => {
            if memchr::memchr(0, s.as_bytes()).is_some() {
                Err(DecodeError::NullCharacter(what))
            } else {
                Ok(s)
            }
        }
        Err(_) => Err(classify_utf8_error(&raw, what)),
    }
}

/// Names a surrogate when the bytes hold one (`ED A0..BF xx`).
#[cold]
fn classify_utf8_error(raw: &[u8], what: &'static str) -> DecodeError {
    if raw
        .windows(2)
        .any(|w| w[0] == 0xED && (0xA0..=0xBF).contains(&w[1]))
    {
        DecodeError::Surrogate(what)
    } else {
        DecodeError::InvalidUtf8(what)
    }
}

/// Length of a string or binary field on the wire.
pub(crate) fn field_len(len: usize) -> usize {
    2 + len
}

/// Checks that a string or binary field fits its two-byte length.
pub(crate) fn check_field(len: usize, what: &'static str) -> Result<(), EncodeError> {
    if len > usize::from(u16::MAX) {
        Err(EncodeError::FieldTooLong(what))
    } else {
        Ok(())
    }
}

/// Writes a length-prefixed field; the length was checked by [`check_field`].
pub(crate) fn put_field(out: &mut impl BufMut, bytes: &[u8]) {
    out.put_u16(bytes.len() as u16);
    out.put_slice(bytes);
}
