//! The hot path on the wire, by hand: PUBLISH frames written straight into
//! the output buffer (a fresh stamp per message, no `Publish` value, no
//! payload allocation), received PUBLISH frames read in place, and the four
//! two-byte acknowledgements. The handshake (CONNECT, SUBSCRIBE and their
//! answers) goes through `hornet-codec`; the tests check these frames
//! against its decoder.

use bytes::{BufMut, BytesMut};
use hornet_codec::QoS;

use crate::payload::{self, Stamp};

/// MQTT packet types the hot path sees, by the high nibble of byte 1.
pub(crate) mod kind {
    /// PUBLISH.
    pub(crate) const PUBLISH: u8 = 3;
    /// PUBACK.
    pub(crate) const PUBACK: u8 = 4;
    /// PUBREC.
    pub(crate) const PUBREC: u8 = 5;
    /// PUBREL.
    pub(crate) const PUBREL: u8 = 6;
    /// PUBCOMP.
    pub(crate) const PUBCOMP: u8 = 7;
}

/// Appends one PUBLISH with a stamped payload of `size` bytes.
pub(crate) fn put_publish(
    out: &mut BytesMut,
    v5: bool,
    topic: &str,
    qos: QoS,
    packet_id: u16,
    stamp: Stamp,
    size: usize,
) {
    let size = size.max(payload::HEADER_LEN);
    let id_len = if qos == QoS::AtMostOnce { 0 } else { 2 };
    let remaining = 2 + topic.len() + id_len + usize::from(v5) + size;
    out.reserve(5 + remaining);
    out.put_u8(0x30 | ((qos as u8) << 1));
    put_varint(out, remaining);
    out.put_u16(topic.len() as u16);
    out.put_slice(topic.as_bytes());
    if id_len > 0 {
        out.put_u16(packet_id);
    }
    if v5 {
        out.put_u8(0); // no properties
    }
    payload::write(out, stamp, size);
}

/// Appends a two-byte acknowledgement (`kind::PUBACK` … `kind::PUBCOMP`).
/// MQTT 5 allows leaving out the reason code when it is Success.
pub(crate) fn put_ack(out: &mut BytesMut, packet_type: u8, packet_id: u16) {
    let flags = if packet_type == kind::PUBREL { 0x02 } else { 0 };
    out.put_u8((packet_type << 4) | flags);
    out.put_u8(2);
    out.put_u16(packet_id);
}

fn put_varint(out: &mut BytesMut, mut n: usize) {
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if n == 0 {
            return;
        }
    }
}

/// A received PUBLISH, read in place.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InPublish<'a> {
    /// QoS 0, 1 or 2.
    pub(crate) qos: u8,
    /// The DUP flag.
    pub(crate) dup: bool,
    /// Packet identifier (0 at QoS 0).
    pub(crate) packet_id: u16,
    /// The application message.
    pub(crate) payload: &'a [u8],
}

/// Reads a PUBLISH from its first byte and body (what follows the fixed
/// header); `None` when the body is malformed.
pub(crate) fn parse_publish(first_byte: u8, body: &[u8], v5: bool) -> Option<InPublish<'_>> {
    let qos = (first_byte >> 1) & 0x03;
    let dup = first_byte & 0x08 != 0;
    let topic_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let mut at = 2 + topic_len;
    let mut packet_id = 0;
    if qos > 0 {
        packet_id = u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]);
        at += 2;
    }
    if v5 {
        let (props_len, used) = read_varint(body.get(at..)?)?;
        at += used + props_len;
    }
    Some(InPublish {
        qos,
        dup,
        packet_id,
        payload: body.get(at..)?,
    })
}

/// The packet identifier of a two-byte-or-longer acknowledgement body.
pub(crate) fn ack_packet_id(body: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*body.first()?, *body.get(1)?]))
}

fn read_varint(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, &b) in bytes.iter().take(4).enumerate() {
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_codec::{peek_frame, Decoder, Packet, Properties, Property, Protocol, Publish};

    const STAMP: Stamp = Stamp {
        publisher: 9,
        seq: 41,
        sent_ns: 1_000_000,
    };

    #[test]
    fn publish_frames_decode_with_the_codec() {
        for protocol in [Protocol::V3_1_1, Protocol::V5] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                for size in [64, 200, 16 * 1024] {
                    let mut out = BytesMut::new();
                    put_publish(&mut out, protocol.is_v5(), "bench/7", qos, 513, STAMP, size);
                    let mut decoder = Decoder::with_protocol(protocol);
                    let Some(Packet::Publish(p)) = decoder.decode(&mut out).unwrap() else {
                        panic!("not a PUBLISH")
                    };
                    assert!(out.is_empty());
                    assert_eq!(
                        (p.topic.as_ref(), p.qos, p.payload.len()),
                        ("bench/7", qos, size)
                    );
                    assert_eq!(
                        p.packet_id.map(|id| id.get()),
                        (qos != QoS::AtMostOnce).then_some(513)
                    );
                    assert_eq!(payload::read(&p.payload), Some(STAMP));
                }
            }
        }
    }

    #[test]
    fn codec_publish_frames_parse_in_place() {
        for protocol in [Protocol::V3_1_1, Protocol::V5] {
            let mut payload = BytesMut::new();
            payload::write(&mut payload, STAMP, 64);
            let mut publish = Publish::new("a/b", payload.freeze());
            publish.qos = QoS::ExactlyOnce;
            publish.dup = true;
            publish.packet_id = std::num::NonZeroU16::new(77);
            if protocol.is_v5() {
                publish.properties = Properties::new().with(Property::MessageExpiryInterval(5));
            }
            let mut out = BytesMut::new();
            Packet::from(publish).encode(protocol, &mut out).unwrap();
            let header = peek_frame(&out, usize::MAX).unwrap().unwrap();
            let p = parse_publish(
                header.first_byte,
                &out[header.header_len..],
                protocol.is_v5(),
            )
            .unwrap();
            assert_eq!((p.qos, p.dup, p.packet_id), (2, true, 77));
            assert_eq!(payload::read(p.payload), Some(STAMP));
        }
    }

    #[test]
    fn acks_decode_with_the_codec() {
        for protocol in [Protocol::V3_1_1, Protocol::V5] {
            let mut out = BytesMut::new();
            for t in [kind::PUBACK, kind::PUBREC, kind::PUBREL, kind::PUBCOMP] {
                put_ack(&mut out, t, 300);
            }
            let mut decoder = Decoder::with_protocol(protocol);
            let mut seen = Vec::new();
            while let Some(packet) = decoder.decode(&mut out).unwrap() {
                seen.push(packet.packet_type() as u8);
            }
            assert_eq!(seen, vec![4, 5, 6, 7]);
        }
    }

    #[test]
    fn truncated_publish_is_refused() {
        assert_eq!(parse_publish(0x32, &[0, 3, b'a'], false), None);
        assert_eq!(ack_packet_id(&[1]), None);
    }
}
