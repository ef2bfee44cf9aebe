//! The benchmark payload: who sent a message, its place in that sender's
//! sequence and when it was sent, padded to the configured size.
//!
//! Layout (big-endian): 4 bytes magic `HBv1`, 4 bytes publisher id, 8 bytes
//! sequence number (from 0, per publisher), 8 bytes send time in
//! nanoseconds since the run's shared start `Instant`, then zero padding.
//! All clients live in one process, so the subscriber can subtract the send
//! time from its own reading of the same clock.

use bytes::{BufMut, BytesMut};

/// Marks a payload as ours.
const MAGIC: &[u8; 4] = b"HBv1";
/// Bytes of header before the padding; payloads are at least this long.
pub(crate) const HEADER_LEN: usize = 24;
/// The smallest payload size the harness accepts (the spec'd minimum).
pub(crate) const MIN_PAYLOAD: usize = 64;

/// What a payload says about its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// Index of the publisher in its run.
    pub(crate) publisher: u32,
    /// Sequence number within that publisher, from 0.
    pub(crate) seq: u64,
    /// Send time, nanoseconds since the run's start.
    pub(crate) sent_ns: u64,
}

/// Appends a payload of `size` bytes (at least [`HEADER_LEN`]) to `out`.
pub(crate) fn write(out: &mut BytesMut, stamp: Stamp, size: usize) {
    out.put_slice(MAGIC);
    out.put_u32(stamp.publisher);
    out.put_u64(stamp.seq);
    out.put_u64(stamp.sent_ns);
    out.put_bytes(0, size.saturating_sub(HEADER_LEN));
}

/// Reads the stamp of a payload; `None` when it is not one of ours.
pub(crate) fn read(payload: &[u8]) -> Option<Stamp> {
    if payload.len() < HEADER_LEN || &payload[..4] != MAGIC {
        return None;
    }
    let u32_at =
        |i: usize| u32::from_be_bytes([payload[i], payload[i + 1], payload[i + 2], payload[i + 3]]);
    let u64_at = |i: usize| (u64::from(u32_at(i)) << 32) | u64::from(u32_at(i + 4));
    Some(Stamp {
        publisher: u32_at(4),
        seq: u64_at(8),
        sent_ns: u64_at(16),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_padding() {
        let stamp = Stamp {
            publisher: 77,
            seq: (1 << 40) + 5,
            sent_ns: 123_456_789_012,
        };
        for size in [MIN_PAYLOAD, 16 * 1024] {
            let mut out = BytesMut::new();
            write(&mut out, stamp, size);
            assert_eq!(out.len(), size);
            assert_eq!(read(&out), Some(stamp));
            assert!(out[HEADER_LEN..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn foreign_or_short_payloads_are_not_read() {
        assert_eq!(read(b"hello"), None);
        assert_eq!(read(&[0u8; 64]), None);
        let mut out = BytesMut::new();
        write(
            &mut out,
            Stamp {
                publisher: 1,
                seq: 2,
                sent_ns: 3,
            },
            64,
        );
        assert_eq!(read(&out[..HEADER_LEN - 1]), None);
    }
}
