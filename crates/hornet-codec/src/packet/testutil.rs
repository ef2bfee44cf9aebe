//! Helpers shared by the packet tests: frame raw bodies, decode, encode.

use bytes::{Bytes, BytesMut};

use crate::error::DecodeError;
use crate::packet::Packet;
use crate::{varint, Decoder, PacketId, Protocol};

/// A whole frame: `first_byte`, the remaining length, then `body`.
pub(crate) fn frame(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first_byte];
    varint::write(&mut out, body.len() as u32);
    out.extend_from_slice(body);
    out
}

/// Decodes exactly one packet from `bytes` for `protocol`.
pub(crate) fn decode(protocol: Protocol, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let packet = Decoder::with_protocol(protocol)
        .decode(&mut buf)?
        .expect("test input holds a whole packet");
    assert!(buf.is_empty(), "test input holds exactly one packet");
    Ok(packet)
}

/// Decodes `body` framed under `first_byte`.
pub(crate) fn decode_body(
    protocol: Protocol,
    first_byte: u8,
    body: &[u8],
) -> Result<Packet, DecodeError> {
    decode(protocol, &frame(first_byte, body))
}

/// Encodes `packet` for `protocol`.
pub(crate) fn encode(packet: &Packet, protocol: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    packet.encode(protocol, &mut out).expect("encodes");
    out.to_vec()
}

/// Encodes then decodes, asserting the packet comes back unchanged.
pub(crate) fn round_trip(packet: Packet, protocol: Protocol) {
    let bytes = encode(&packet, protocol);
    assert_eq!(decode(protocol, &bytes), Ok(packet));
}

/// A length-prefixed field.
pub(crate) fn field(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// Shorthand for a static `Bytes`.
pub(crate) fn b(bytes: &'static [u8]) -> Bytes {
    Bytes::from_static(bytes)
}

/// A packet identifier from a non-zero literal.
pub(crate) fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("non-zero")
}
