//! The fifteen MQTT control packets, one file each, and the [`Packet`] enum
//! that the decoder yields and the encoder takes.
//!
//! Every packet struct is version-neutral: it holds what MQTT 5 can say, and
//! the codec drops what an MQTT 3.x peer cannot be told (properties, most
//! reason codes) or maps it to the nearest 3.x code. Each file decodes a body
//! that the framing in [`crate::decoder`] has already cut out, checks every
//! rule of its section of the specs, and encodes back.

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod reason_tail;
mod suback;
mod subscribe;
#[cfg(test)]
pub(crate) mod testutil;
mod unsubscribe;

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

pub use ack::Ack;
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, LastWill};
pub use disconnect::Disconnect;
pub use publish::Publish;
pub use suback::{SubAck, UnsubAck};
pub use subscribe::{RetainHandling, Subscribe, SubscribeFilter, SubscriptionOptions};
pub use unsubscribe::Unsubscribe;

use crate::error::{DecodeError, EncodeError};
use crate::wire::Reader;
use crate::{varint, PacketId, Protocol};

/// The control packet type: the high nibble of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)] // the names are the spec's
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    /// The packet type of a fixed header's first byte, if it is not reserved.
    pub const fn from_header(byte: u8) -> Option<PacketType> {
        use PacketType::*;
        Some(match byte >> 4 {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The spec's upper-case name.
    pub const fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }

    /// [MQTT-2.2.2-1]/[MQTT-2.2.2-2]: the flags every packet but PUBLISH must
    /// carry. MQTT 3.1 clients also set DUP on resent PUBREL, SUBSCRIBE and
    /// UNSUBSCRIBE (3.1 §2.1 allowed it), so 3.1 accepts `1010` there too.
    fn flags_valid(self, flags: u8, protocol: Protocol) -> bool {
        match self {
            PacketType::Publish => true,
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => {
                flags == 0b0010 || (protocol == Protocol::V3_1 && flags == 0b1010)
            }
            _ => flags == 0,
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT (§3.1), boxed: it is large and rare.
    Connect(Box<Connect>),
    /// CONNACK (§3.2).
    ConnAck(ConnAck),
    /// PUBLISH (§3.3).
    Publish(Publish),
    /// PUBACK (§3.4).
    PubAck(Ack),
    /// PUBREC (§3.5).
    PubRec(Ack),
    /// PUBREL (§3.6).
    PubRel(Ack),
    /// PUBCOMP (§3.7).
    PubComp(Ack),
    /// SUBSCRIBE (§3.8).
    Subscribe(Subscribe),
    /// SUBACK (§3.9).
    SubAck(SubAck),
    /// UNSUBSCRIBE (§3.10).
    Unsubscribe(Unsubscribe),
    /// UNSUBACK (§3.11).
    UnsubAck(UnsubAck),
    /// PINGREQ (§3.12).
    PingReq,
    /// PINGRESP (§3.13).
    PingResp,
    /// DISCONNECT (§3.14).
    Disconnect(Disconnect),
    /// AUTH (MQTT 5.0 §3.15).
    Auth(Auth),
}

impl Packet {
    /// This packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// Decodes the body of one packet whose fixed header byte is `header`.
    ///
    /// `body` is the exact remaining-length slice. The framing layer
    /// ([`crate::Decoder`]) is the usual way in; this is the entry point for
    /// callers that frame packets themselves.
    pub fn decode_body(header: u8, body: Bytes, protocol: Protocol) -> Result<Packet, DecodeError> {
        let packet_type =
            PacketType::from_header(header).ok_or(DecodeError::ReservedPacketType(header >> 4))?;
        if packet_type == PacketType::Auth && !protocol.is_v5() {
            return Err(DecodeError::ReservedPacketType(15));
        }
        let flags = header & 0x0f;
        if !packet_type.flags_valid(flags, protocol) {
            return Err(DecodeError::InvalidFlags {
                packet: packet_type,
                flags,
            });
        }
        let mut r = Reader::new(body);
        let packet = match packet_type {
            PacketType::Connect => Packet::Connect(Box::new(Connect::decode(&mut r)?)),
            PacketType::ConnAck => Packet::ConnAck(ConnAck::decode(&mut r, protocol)?),
            PacketType::Publish => Packet::Publish(Publish::decode(flags, &mut r, protocol)?),
            PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp => {
                let ack = Ack::decode(packet_type, &mut r, protocol)?;
                match packet_type {
                    PacketType::PubAck => Packet::PubAck(ack),
                    PacketType::PubRec => Packet::PubRec(ack),
                    PacketType::PubRel => Packet::PubRel(ack),
                    _ => Packet::PubComp(ack),
                }
            }
            PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(&mut r, protocol)?),
            PacketType::SubAck => Packet::SubAck(SubAck::decode(&mut r, protocol)?),
            PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(&mut r, protocol)?),
            PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(&mut r, protocol)?),
            PacketType::PingReq => Packet::PingReq,
            PacketType::PingResp => Packet::PingResp,
            PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(&mut r, protocol)?),
            PacketType::Auth => Packet::Auth(Auth::decode(&mut r)?),
        };
        finish(&r, packet_type)?;
        Ok(packet)
    }

    /// Appends this packet, encoded for a peer speaking `protocol`, to `out`.
    ///
    /// A CONNECT is always encoded in its own [`Connect::protocol`]. What the
    /// older protocol cannot carry (properties, MQTT 5 reason codes in
    /// acknowledgements) is left out; CONNACK and SUBACK codes are mapped to
    /// their 3.x equivalents. Nothing is written if an error is returned.
    pub fn encode(&self, protocol: Protocol, out: &mut BytesMut) -> Result<(), EncodeError> {
        self.encode_up_to(protocol, out, usize::MAX).map(|_| ())
    }

    /// Like [`Packet::encode`], except that a PUBLISH whose payload is at
    /// least `min_payload` bytes is written without it and its payload is
    /// returned (another reference, no copy): the caller sends it right
    /// after what was written, as the packet's last bytes (a vectored
    /// write, so a large message is not copied into each subscriber's
    /// buffer). Nothing is written if an error is returned.
    pub fn encode_split(
        &self,
        protocol: Protocol,
        out: &mut BytesMut,
        min_payload: usize,
    ) -> Result<Option<Bytes>, EncodeError> {
        self.encode_up_to(protocol, out, min_payload)
    }

    /// [`Packet::encode`] and [`Packet::encode_split`]: the packet, but a
    /// PUBLISH payload of at least `min_payload` bytes, which is returned.
    #[inline]
    fn encode_up_to(
        &self,
        protocol: Protocol,
        out: &mut BytesMut,
        min_payload: usize,
    ) -> Result<Option<Bytes>, EncodeError> {
        let body_len = self.check(protocol)?;
        if body_len > varint::MAX as usize {
            return Err(EncodeError::PacketTooLarge(body_len));
        }
        let left_out = match self {
            Packet::Publish(p) if p.payload.len() >= min_payload => Some(p),
            _ => None,
        };
        let written = body_len - left_out.map_or(0, |p| p.payload.len());
        out.reserve(1 + varint::len(body_len as u32) + written);
        out.put_u8(((self.packet_type() as u8) << 4) | self.flags());
        varint::write(out, body_len as u32);
        let body_start = out.len();
        match left_out {
            Some(p) => p.encode_head(protocol, out),
            None => self.encode_body(protocol, out),
        }
        debug_assert_eq!(out.len() - body_start, written, "length of {self:?}");
        Ok(left_out.map(|p| p.payload.clone()))
    }

    /// Number of bytes [`Packet::encode`] writes for `protocol`.
    pub fn encoded_len(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        let body = self.check(protocol)?;
        if body > varint::MAX as usize {
            return Err(EncodeError::PacketTooLarge(body));
        }
        Ok(1 + varint::len(body as u32) + body)
    }

    fn flags(&self) -> u8 {
        match self {
            Packet::Publish(p) => p.flags(),
            Packet::PubRel(_) | Packet::Subscribe(_) | Packet::Unsubscribe(_) => 0b0010,
            _ => 0,
        }
    }

    /// Checks that the packet can be written and returns its body length.
    fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        Ok(match self {
            Packet::Connect(p) => p.check()?,
            Packet::ConnAck(p) => p.check(protocol)?,
            Packet::Publish(p) => p.check(protocol)?,
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.check(protocol)?
            }
            Packet::Subscribe(p) => p.check(protocol)?,
            Packet::SubAck(p) => p.check(protocol)?,
            Packet::Unsubscribe(p) => p.check(protocol)?,
            Packet::UnsubAck(p) => p.check(protocol)?,
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(p) => p.check(protocol)?,
            Packet::Auth(p) => {
                if !protocol.is_v5() {
                    return Err(EncodeError::NotInProtocol(PacketType::Auth));
                }
                p.check()?
            }
        })
    }

    fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        match self {
            Packet::Connect(p) => p.encode_body(out),
            Packet::ConnAck(p) => p.encode_body(protocol, out),
            Packet::Publish(p) => p.encode_body(protocol, out),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.encode_body(protocol, out)
            }
            Packet::Subscribe(p) => p.encode_body(protocol, out),
            Packet::SubAck(p) => p.encode_body(protocol, out),
            Packet::Unsubscribe(p) => p.encode_body(protocol, out),
            Packet::UnsubAck(p) => p.encode_body(protocol, out),
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(p) => p.encode_body(protocol, out),
            Packet::Auth(p) => p.encode_body(out),
        }
    }
}

/// Fails if the packet body has bytes left after its last field.
fn finish(r: &Reader, packet: PacketType) -> Result<(), DecodeError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::TrailingBytes {
            packet,
            extra: r.remaining(),
        })
    }
}

/// Reads a packet identifier that must not be 0 ([MQTT-2.2.1-3]).
fn packet_id(r: &mut Reader, packet: PacketType) -> Result<PacketId, DecodeError> {
    let raw = r.u16("the packet identifier")?;
    PacketId::new(raw).ok_or(DecodeError::ZeroPacketId(packet))
}

macro_rules! from_packet {
    ($($variant:ident($ty:ty)),*) => {$(
        impl From<$ty> for Packet {
            fn from(p: $ty) -> Packet { Packet::$variant(p) }
        }
    )*};
}
from_packet!(
    ConnAck(ConnAck),
    Publish(Publish),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    Disconnect(Disconnect),
    Auth(Auth)
);

impl From<Connect> for Packet {
    fn from(p: Connect) -> Packet {
        Packet::Connect(Box::new(p))
    }
}
