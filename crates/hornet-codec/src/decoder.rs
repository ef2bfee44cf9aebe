//! Framing: cutting packets out of a byte stream.
//!
//! [`Decoder`] owns the incremental part of decoding. It reads the fixed
//! header as soon as its bytes are there ([`peek_frame`]), refuses a packet
//! that would exceed the maximum packet size before its body is buffered,
//! waits for the rest of the frame, then hands the body, as a zero-copy
//! `Bytes` slice, to [`Packet::decode_body`]. A partial frame is not an
//! error: `decode` returns `Ok(None)` and the caller reads more bytes.

use bytes::BytesMut;

use crate::error::DecodeError;
use crate::packet::{Packet, PacketType};
use crate::varint::{self, Varint};
use crate::Protocol;

/// The default maximum packet size: the largest packet MQTT can express
/// (a 268,435,455-byte body plus a 5-byte fixed header).
pub const MAX_PACKET_SIZE: usize = varint::MAX as usize + 5;

/// The most a partial frame makes the decoder reserve at once: a peer that
/// announces a large packet gets buffer space as its bytes arrive, not
/// before.
const RESERVE_CAP: usize = 64 * 1024;

/// The fixed header of a frame (§2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The first byte: packet type and flags.
    pub first_byte: u8,
    /// Length of the fixed header (2 to 5 bytes).
    pub header_len: usize,
    /// The Remaining Length: bytes after the fixed header.
    pub remaining_len: usize,
}

impl FrameHeader {
    /// Size of the whole packet.
    pub fn total_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// Reads the fixed header at the start of `buf`, if it is all there, and
/// checks the total size against `max_packet_size` before any of the body
/// has to be buffered.
pub fn peek_frame(buf: &[u8], max_packet_size: usize) -> Result<Option<FrameHeader>, DecodeError> {
    let Some(&first_byte) = buf.first() else {
        return Ok(None);
    };
    if first_byte >> 4 == 0 {
        return Err(DecodeError::ReservedPacketType(0));
    }
    match varint::read(&buf[1..])? {
        Varint::Incomplete => Ok(None),
        Varint::Complete(remaining, len) => {
            let header = FrameHeader {
                first_byte,
                header_len: 1 + len,
                remaining_len: remaining as usize,
            };
            if header.total_len() > max_packet_size {
                return Err(DecodeError::PacketTooLarge {
                    size: header.total_len(),
                    max: max_packet_size,
                });
            }
            Ok(Some(header))
        }
    }
}

/// Decodes packets from a stream, one connection's worth of state.
///
/// A server-side decoder starts without a protocol: the first packet must be
/// CONNECT ([MQTT-3.1.0-1]), and its protocol level fixes how every later
/// packet is read. A client-side decoder is built with the protocol it asked for.
#[derive(Debug, Clone)]
pub struct Decoder {
    protocol: Option<Protocol>,
    max_packet_size: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder for the server side: expects CONNECT first, no size limit
    /// beyond MQTT's own.
    pub fn new() -> Self {
        Decoder {
            protocol: None,
            max_packet_size: MAX_PACKET_SIZE,
        }
    }

    /// A decoder for a stream already known to speak `protocol`.
    pub fn with_protocol(protocol: Protocol) -> Self {
        Decoder {
            protocol: Some(protocol),
            max_packet_size: MAX_PACKET_SIZE,
        }
    }

    /// Sets the largest packet accepted, fixed header included.
    pub fn set_max_packet_size(&mut self, max: usize) {
        self.max_packet_size = max;
    }

    /// The largest packet accepted.
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// The protocol of the stream, once known.
    pub fn protocol(&self) -> Option<Protocol> {
        self.protocol
    }

    /// Sets the protocol explicitly (a client, after sending its CONNECT).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = Some(protocol);
    }

    /// Takes the next whole packet off the front of `buf`.
    ///
    /// `Ok(None)` means `buf` holds only part of a packet (nothing is
    /// consumed; room for the rest is reserved). After an error the stream
    /// cannot be resynchronised: close the connection with
    /// [`DecodeError::reason_code`].
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let protocol = match (self.protocol, buf.first()) {
            (Some(protocol), _) => protocol,
            (None, None) => return Ok(None),
            (None, Some(&first_byte)) => {
                // Judged on the first byte, before the rest of the frame arrives.
                let packet_type = PacketType::from_header(first_byte)
                    .ok_or(DecodeError::ReservedPacketType(first_byte >> 4))?;
                if packet_type != PacketType::Connect {
                    return Err(DecodeError::FirstPacketNotConnect(packet_type));
                }
                // The CONNECT body carries its own version; the one given
                // here is not used to read it.
                Protocol::V3_1_1
            }
        };
        let Some(header) = peek_frame(buf, self.max_packet_size)? else {
            return Ok(None);
        };
        let total = header.total_len();
        if buf.len() < total {
            // Room for the rest, but never more than RESERVE_CAP on the word
            // of a peer's length field alone.
            buf.reserve((total - buf.len()).min(RESERVE_CAP));
            return Ok(None);
        }
        let mut frame = buf.split_to(total).freeze();
        let body = frame.split_off(header.header_len);
        let packet = Packet::decode_body(header.first_byte, body, protocol)?;
        if self.protocol.is_none() {
            if let Packet::Connect(connect) = &packet {
                self.protocol = Some(connect.protocol);
            }
        }
        Ok(Some(packet))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::{encode, frame};
    use crate::{Connect, Publish, ReasonCode};

    fn conversation(protocol: Protocol) -> (Vec<Packet>, Vec<u8>) {
        let packets = vec![
            Packet::from(Connect::new(protocol, "c")),
            Packet::from(Publish::new("a/b", vec![1u8; 300])),
            Packet::PingReq,
            Packet::from(Publish::new("a/c", "")),
        ];
        let bytes = packets.iter().flat_map(|p| encode(p, protocol)).collect();
        (packets, bytes)
    }

    /// A partial frame asks for more bytes and consumes nothing.
    #[test]
    fn byte_by_byte_feeding_yields_the_same_packets() {
        for protocol in Protocol::ALL {
            let (packets, bytes) = conversation(protocol);
            let mut decoder = Decoder::new();
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            for &byte in &bytes {
                buf.extend_from_slice(&[byte]);
                let before = buf.len();
                match decoder.decode(&mut buf).unwrap() {
                    Some(packet) => out.push(packet),
                    None => assert_eq!(buf.len(), before, "nothing consumed on a partial frame"),
                }
            }
            assert_eq!(out, packets);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn empty_buffer_is_not_an_error() {
        assert_eq!(Decoder::new().decode(&mut BytesMut::new()), Ok(None));
    }

    /// [MQTT-3.1.0-1] the first packet must be CONNECT.
    #[test]
    fn mqtt_3_1_0_1_first_packet_must_be_connect() {
        let mut buf = BytesMut::from(&[0xC0u8, 0][..]);
        let e = Decoder::new().decode(&mut buf).unwrap_err();
        assert_eq!(e, DecodeError::FirstPacketNotConnect(PacketType::PingReq));
        assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
        // Refused from the first byte, before the rest arrives.
        let mut buf = BytesMut::from(&[0x30u8, 0x80][..]);
        assert!(matches!(
            Decoder::new().decode(&mut buf),
            Err(DecodeError::FirstPacketNotConnect(_))
        ));
    }

    /// The maximum packet size is enforced from the fixed header alone.
    #[test]
    fn oversized_packet_is_refused_before_its_body_arrives() {
        let mut decoder = Decoder::with_protocol(Protocol::V3_1_1);
        decoder.set_max_packet_size(1024);
        // PUBLISH announcing a remaining length of 1,000,000: only the header is here.
        let mut buf = BytesMut::from(&[0x30u8, 0xC0, 0x84, 0x3D][..]);
        let e = decoder.decode(&mut buf).unwrap_err();
        assert_eq!(
            e,
            DecodeError::PacketTooLarge {
                size: 1_000_004,
                max: 1024
            }
        );
        assert_eq!(e.reason_code(), ReasonCode::PacketTooLarge);
        // Exactly at the limit is fine.
        let at_limit = frame(0x30, &[&[0u8, 1, b'a'][..], &[0u8; 1018]].concat());
        assert_eq!(at_limit.len(), 1024);
        assert!(decoder
            .decode(&mut BytesMut::from(&at_limit[..]))
            .unwrap()
            .is_some());
    }

    /// A peer announcing a huge packet does not get a huge buffer up front.
    #[test]
    fn announced_length_does_not_allocate_the_whole_packet() {
        let mut decoder = Decoder::with_protocol(Protocol::V3_1_1);
        let mut buf = BytesMut::from(&[0x30u8, 0xFF, 0xFF, 0xFF, 0x7F][..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert!(
            buf.capacity() <= RESERVE_CAP + 64,
            "capacity {}",
            buf.capacity()
        );
    }

    /// §2.2.3: the remaining length has at most four bytes.
    #[test]
    fn remaining_length_over_four_bytes_is_malformed() {
        let mut buf = BytesMut::from(&[0x30u8, 0xFF, 0xFF, 0xFF, 0xFF, 0x01][..]);
        let e = Decoder::with_protocol(Protocol::V5)
            .decode(&mut buf)
            .unwrap_err();
        assert_eq!(e, DecodeError::VarintTooLong);
        assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
    }

    /// [MQTT-2.2.2-2] packet type 0 is reserved.
    #[test]
    fn reserved_packet_type_zero() {
        let mut buf = BytesMut::from(&[0x00u8, 0][..]);
        assert_eq!(
            Decoder::with_protocol(Protocol::V5).decode(&mut buf),
            Err(DecodeError::ReservedPacketType(0))
        );
    }

    /// [MQTT-2.2.2-2] PINGREQ and PINGRESP have flags 0000 and no body.
    #[test]
    fn ping_packets_are_exactly_two_bytes() {
        for protocol in Protocol::ALL {
            let mut d = Decoder::with_protocol(protocol);
            assert_eq!(
                d.decode(&mut BytesMut::from(&[0xC0u8, 0][..])),
                Ok(Some(Packet::PingReq))
            );
            assert_eq!(
                d.decode(&mut BytesMut::from(&[0xD0u8, 0][..])),
                Ok(Some(Packet::PingResp))
            );
            assert!(matches!(
                d.decode(&mut BytesMut::from(&[0xC1u8, 0][..])),
                Err(DecodeError::InvalidFlags { .. })
            ));
            assert!(matches!(
                d.decode(&mut BytesMut::from(&[0xC0u8, 1, 0][..])),
                Err(DecodeError::TrailingBytes {
                    packet: PacketType::PingReq,
                    extra: 1
                })
            ));
            assert_eq!(encode(&Packet::PingReq, protocol), [0xC0, 0]);
            assert_eq!(encode(&Packet::PingResp, protocol), [0xD0, 0]);
        }
    }

    /// A second CONNECT does not change the decoder's protocol; refusing it
    /// ([MQTT-3.1.0-2]) is the session's job.
    #[test]
    fn a_second_connect_keeps_the_first_protocol() {
        let mut buf = BytesMut::new();
        buf.extend(encode(
            &Connect::new(Protocol::V5, "a").into(),
            Protocol::V5,
        ));
        buf.extend(encode(
            &Connect::new(Protocol::V3_1_1, "a").into(),
            Protocol::V3_1_1,
        ));
        let mut d = Decoder::new();
        d.decode(&mut buf).unwrap();
        assert!(matches!(d.decode(&mut buf), Ok(Some(Packet::Connect(_)))));
        assert_eq!(d.protocol(), Some(Protocol::V5));
    }
}
