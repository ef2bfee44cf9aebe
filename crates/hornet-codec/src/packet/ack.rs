//! PUBACK, PUBREC, PUBREL and PUBCOMP (§3.4 to §3.7): the four
//! acknowledgements of the QoS 1 and QoS 2 flows, which share one layout.

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{packet_id, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::reason::{ReasonCode, ReasonContext};
use crate::wire::Reader;
use crate::{PacketId, Protocol};

/// The body of a PUBACK, PUBREC, PUBREL or PUBCOMP.
///
/// MQTT 3.x carries only the packet identifier; the reason code and
/// properties are dropped when encoding for it and are `Success` and empty
/// when decoded from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The Packet Identifier being acknowledged.
    pub packet_id: PacketId,
    /// Reason code (MQTT 5 only).
    pub reason_code: ReasonCode,
    /// Properties (MQTT 5 only).
    pub properties: Properties,
}

impl Ack {
    /// A successful acknowledgement without properties.
    pub fn new(packet_id: PacketId) -> Self {
        Ack {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: Properties::new(),
        }
    }

    /// An acknowledgement with a reason code and no properties.
    pub fn with_reason(packet_id: PacketId, reason_code: ReasonCode) -> Self {
        Ack {
            packet_id,
            reason_code,
            properties: Properties::new(),
        }
    }

    pub(crate) fn decode(
        packet: PacketType,
        r: &mut Reader,
        protocol: Protocol,
    ) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r, packet)?;
        if !protocol.is_v5() || r.is_empty() {
            // MQTT 5 §3.4.2.1: no reason code means Success, no properties.
            return Ok(Ack::new(packet_id));
        }
        let (reasons, context) = match packet {
            PacketType::PubAck => (ReasonContext::PubAckOrPubRec, PropertyContext::PubAck),
            PacketType::PubRec => (ReasonContext::PubAckOrPubRec, PropertyContext::PubRec),
            PacketType::PubRel => (ReasonContext::PubRelOrPubComp, PropertyContext::PubRel),
            _ => (ReasonContext::PubRelOrPubComp, PropertyContext::PubComp),
        };
        let code = r.u8("the reason code")?;
        let reason_code = ReasonCode::from_u8(code)
            .filter(|c| c.allowed_in(reasons))
            .ok_or(DecodeError::InvalidReasonCode { packet, code })?;
        // §3.4.2.2: no property length means no properties.
        let properties = if r.is_empty() {
            Properties::new()
        } else {
            Properties::decode(r, context)?
        };
        Ok(Ack {
            packet_id,
            reason_code,
            properties,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if !protocol.is_v5() {
            return Ok(2);
        }
        self.properties.check()?;
        Ok(match (self.reason_code, self.properties.is_empty()) {
            (ReasonCode::Success, true) => 2,
            (_, true) => 3,
            (_, false) => 3 + self.properties.wire_len(),
        })
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        out.put_u16(self.packet_id.get());
        if !protocol.is_v5() {
            return;
        }
        match (self.reason_code, self.properties.is_empty()) {
            (ReasonCode::Success, true) => {}
            (reason, true) => out.put_u8(reason.as_u8()),
            (reason, false) => {
                out.put_u8(reason.as_u8());
                self.properties.encode(out);
            }
        }
    }
}
