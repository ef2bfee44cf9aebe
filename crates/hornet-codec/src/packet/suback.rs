//! SUBACK (§3.9) and UNSUBACK (§3.11): one reason code per filter.

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{packet_id, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::reason::{ReasonCode, ReasonContext};
use crate::wire::Reader;
use crate::{PacketId, Protocol};

/// A SUBACK packet.
///
/// For MQTT 3.x each code is written as the granted QoS or 0x80 Failure
/// ([`ReasonCode::to_v3_suback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet Identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// SUBACK properties (MQTT 5 only).
    pub properties: Properties,
    /// One code per filter of the SUBSCRIBE, in order ([MQTT-3.9.3-1]).
    pub reason_codes: Vec<ReasonCode>,
}

/// An UNSUBACK packet. MQTT 3.x UNSUBACK has no reason codes; they are
/// dropped when encoding for it and empty when decoded from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet Identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// UNSUBACK properties (MQTT 5 only).
    pub properties: Properties,
    /// One code per filter (MQTT 5 only).
    pub reason_codes: Vec<ReasonCode>,
}

fn decode_codes(
    r: &mut Reader,
    packet: PacketType,
    map: impl Fn(u8) -> Option<ReasonCode>,
) -> Result<Vec<ReasonCode>, DecodeError> {
    let mut codes = Vec::with_capacity(r.remaining());
    while !r.is_empty() {
        let code = r.u8("a reason code")?;
        codes.push(map(code).ok_or(DecodeError::InvalidReasonCode { packet, code })?);
    }
    if codes.is_empty() {
        return Err(DecodeError::EmptyAck(packet));
    }
    Ok(codes)
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r, PacketType::SubAck)?;
        let (properties, reason_codes) = if protocol.is_v5() {
            let props = Properties::decode(r, PropertyContext::SubAck)?;
            let codes = decode_codes(r, PacketType::SubAck, |c| {
                ReasonCode::from_u8(c).filter(|c| c.allowed_in(ReasonContext::SubAck))
            })?;
            (props, codes)
        } else {
            (
                Properties::new(),
                decode_codes(r, PacketType::SubAck, ReasonCode::from_v3_suback)?,
            )
        };
        Ok(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Empty(PacketType::SubAck));
        }
        let mut len = 2 + self.reason_codes.len();
        if protocol.is_v5() {
            self.properties.check()?;
            len += self.properties.wire_len();
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        out.put_u16(self.packet_id.get());
        if protocol.is_v5() {
            self.properties.encode(out);
            for code in &self.reason_codes {
                out.put_u8(code.as_u8());
            }
        } else {
            for code in &self.reason_codes {
                out.put_u8(code.to_v3_suback());
            }
        }
    }
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r, PacketType::UnsubAck)?;
        if !protocol.is_v5() {
            return Ok(UnsubAck {
                packet_id,
                properties: Properties::new(),
                reason_codes: Vec::new(),
            });
        }
        let properties = Properties::decode(r, PropertyContext::UnsubAck)?;
        let reason_codes = decode_codes(r, PacketType::UnsubAck, |c| {
            ReasonCode::from_u8(c).filter(|c| c.allowed_in(ReasonContext::UnsubAck))
        })?;
        Ok(UnsubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if !protocol.is_v5() {
            return Ok(2);
        }
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Empty(PacketType::UnsubAck));
        }
        self.properties.check()?;
        Ok(2 + self.properties.wire_len() + self.reason_codes.len())
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        out.put_u16(self.packet_id.get());
        if protocol.is_v5() {
            self.properties.encode(out);
            for code in &self.reason_codes {
                out.put_u8(code.as_u8());
            }
        }
    }
}
