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
        let Some(header) = peek_frame(buf, self.max_packet_size)? else {
            return Ok(None);
        };
        let protocol = match self.protocol {
            Some(protocol) => protocol,
            None => {
                let packet_type = PacketType::from_header(header.first_byte)
                    .ok_or(DecodeError::ReservedPacketType(header.first_byte >> 4))?;
                if packet_type != PacketType::Connect {
                    return Err(DecodeError::FirstPacketNotConnect(packet_type));
                }
                // Read as 3.1.1 until the CONNECT itself says otherwise; the
                // CONNECT body carries its own version.
                Protocol::V3_1_1
            }
        };
        let total = header.total_len();
        if buf.len() < total {
            buf.reserve(total - buf.len());
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
