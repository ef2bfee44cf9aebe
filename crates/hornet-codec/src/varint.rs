//! Variable Byte Integers (MQTT 3.1.1 §2.2.3, MQTT 5.0 §1.5.5).
//!
//! Owns the one integer encoding MQTT uses for the remaining length and for
//! some property values: seven bits per byte, least significant group first,
//! the high bit saying "more follows", at most four bytes.

use bytes::BufMut;

use crate::error::DecodeError;

/// The largest value a Variable Byte Integer can hold (268,435,455).
pub const MAX: u32 = 268_435_455;

/// Outcome of reading a Variable Byte Integer from the front of a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Varint {
    /// The value and how many bytes it took.
    Complete(u32, usize),
    /// The slice ends before the integer does.
    Incomplete,
}

/// Reads a Variable Byte Integer from the start of `bytes`.
///
/// Refuses a fifth byte ([MQTT-1.5.5-1] caps the encoding at four) and a
/// non-minimal encoding such as `0x80 0x00` (the spec requires "the minimum
/// number of bytes necessary").
pub(crate) fn read(bytes: &[u8]) -> Result<Varint, DecodeError> {
    let mut value: u32 = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if i == 4 {
            return Err(DecodeError::VarintTooLong);
        }
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A last byte of zero after at least one continuation byte means
            // the same value fits in fewer bytes.
            if i > 0 && byte == 0 {
                return Err(DecodeError::VarintNotMinimal);
            }
            return Ok(Varint::Complete(value, i + 1));
        }
    }
    if bytes.len() >= 4 {
        return Err(DecodeError::VarintTooLong);
    }
    Ok(Varint::Incomplete)
}

/// Number of bytes `value` takes as a Variable Byte Integer.
pub(crate) const fn len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Appends `value` as a Variable Byte Integer. `value` must not exceed [`MAX`];
/// callers check that before they start writing a packet.
pub(crate) fn write(out: &mut impl BufMut, mut value: u32) {
    debug_assert!(value <= MAX);
    loop {
        let mut byte = (value & 0x7f) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, value);
        out
    }

    /// The boundary values of the table in MQTT 5.0 §1.5.5.
    #[test]
    fn spec_table_boundaries_round_trip() {
        let table: [(u32, &[u8]); 8] = [
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
        ];
        for (value, bytes) in table {
            assert_eq!(encode(value), bytes, "encoding {value}");
            assert_eq!(len(value), bytes.len());
            assert_eq!(read(bytes), Ok(Varint::Complete(value, bytes.len())));
        }
    }

    /// [MQTT-1.5.5-1] at most four bytes: a fifth continuation is malformed.
    #[test]
    fn mqtt_1_5_5_1_five_bytes_are_malformed() {
        assert_eq!(
            read(&[0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(DecodeError::VarintTooLong)
        );
        assert_eq!(
            read(&[0x80, 0x80, 0x80, 0x80]),
            Err(DecodeError::VarintTooLong)
        );
    }

    /// [MQTT-1.5.5-1] the minimum number of bytes must be used.
    #[test]
    fn mqtt_1_5_5_1_non_minimal_encoding_is_malformed() {
        assert_eq!(read(&[0x80, 0x00]), Err(DecodeError::VarintNotMinimal));
        assert_eq!(
            read(&[0xff, 0x80, 0x00]),
            Err(DecodeError::VarintNotMinimal)
        );
    }

    #[test]
    fn partial_integer_asks_for_more() {
        assert_eq!(read(&[]), Ok(Varint::Incomplete));
        assert_eq!(read(&[0x80]), Ok(Varint::Incomplete));
        assert_eq!(read(&[0x80, 0x80, 0x80]), Ok(Varint::Incomplete));
    }
}
