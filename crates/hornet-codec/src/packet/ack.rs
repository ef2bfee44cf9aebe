//! PUBACK, PUBREC, PUBREL and PUBCOMP (§3.4 to §3.7): the four
//! acknowledgements of the QoS 1 and QoS 2 flows, which share one layout.

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{packet_id, reason_tail, PacketType};
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
        if !protocol.is_v5() {
            return Ok(Ack::new(packet_id));
        }
        let (reasons, context) = match packet {
            PacketType::PubAck => (ReasonContext::PubAckOrPubRec, PropertyContext::PubAck),
            PacketType::PubRec => (ReasonContext::PubAckOrPubRec, PropertyContext::PubRec),
            PacketType::PubRel => (ReasonContext::PubRelOrPubComp, PropertyContext::PubRel),
            _ => (ReasonContext::PubRelOrPubComp, PropertyContext::PubComp),
        };
        let (reason_code, properties) = reason_tail::decode(r, packet, reasons, context)?;
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
        Ok(2 + reason_tail::check(self.reason_code, &self.properties)?)
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        out.put_u16(self.packet_id.get());
        if protocol.is_v5() {
            reason_tail::encode(self.reason_code, &self.properties, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::{decode_body, encode, pid, round_trip};
    use crate::packet::Packet;
    use crate::property::Property;

    const KINDS: [(u8, PacketType); 4] = [
        (0x40, PacketType::PubAck),
        (0x50, PacketType::PubRec),
        (0x62, PacketType::PubRel),
        (0x70, PacketType::PubComp),
    ];

    fn wrap(packet: PacketType, ack: Ack) -> Packet {
        match packet {
            PacketType::PubAck => Packet::PubAck(ack),
            PacketType::PubRec => Packet::PubRec(ack),
            PacketType::PubRel => Packet::PubRel(ack),
            _ => Packet::PubComp(ack),
        }
    }

    #[test]
    fn all_four_round_trip_in_every_version() {
        for (_, kind) in KINDS {
            for protocol in Protocol::ALL {
                round_trip(wrap(kind, Ack::new(pid(9))), protocol);
            }
            let mut ack = Ack::new(pid(9));
            ack.properties.push(Property::ReasonString("ok".into()));
            round_trip(wrap(kind, ack), Protocol::V5);
        }
        round_trip(
            Packet::PubAck(Ack::with_reason(pid(1), ReasonCode::NoMatchingSubscribers)),
            Protocol::V5,
        );
        round_trip(
            Packet::PubRel(Ack::with_reason(
                pid(1),
                ReasonCode::PacketIdentifierNotFound,
            )),
            Protocol::V5,
        );
    }

    /// §3.4.2.1: MQTT 5 senders may omit the reason code and property length.
    #[test]
    fn v5_short_forms() {
        for (first, kind) in KINDS {
            let packet = decode_body(Protocol::V5, first, &[0, 5]).unwrap();
            assert_eq!(packet, wrap(kind, Ack::new(pid(5))));
            let packet = decode_body(Protocol::V5, first, &[0, 5, 0x00]).unwrap();
            assert_eq!(packet, wrap(kind, Ack::new(pid(5))));
            // Success without properties: the encoder omits the tail.
            assert_eq!(encode(&wrap(kind, Ack::new(pid(5))), Protocol::V5).len(), 4);
        }
        // A reason code without a property length decodes...
        let short = decode_body(Protocol::V5, 0x40, &[0, 5, 0x97]).unwrap();
        let e = Ack::with_reason(pid(5), ReasonCode::QuotaExceeded);
        assert_eq!(short, Packet::PubAck(e.clone()));
        // ...but the encoder follows a reason code with a property length,
        // as Mosquitto does.
        assert_eq!(
            encode(&Packet::PubAck(e), Protocol::V5),
            [0x40, 4, 0, 5, 0x97, 0x00]
        );
    }

    #[test]
    fn reason_codes_outside_the_packets_list_are_malformed() {
        // 0x10 No matching subscribers is a PUBACK code, not a PUBREL one.
        let e = decode_body(Protocol::V5, 0x62, &[0, 1, 0x10]).unwrap_err();
        assert_eq!(
            e,
            DecodeError::InvalidReasonCode {
                packet: PacketType::PubRel,
                code: 0x10
            }
        );
        assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
        assert!(decode_body(Protocol::V5, 0x40, &[0, 1, 0x92]).is_err());
        assert!(decode_body(Protocol::V5, 0x40, &[0, 1, 0x03]).is_err());
    }

    /// MQTT 3.x acknowledgements are exactly two bytes long.
    #[test]
    fn v3_acks_have_no_room_for_more() {
        for (first, kind) in KINDS {
            let e = decode_body(Protocol::V3_1_1, first, &[0, 1, 0]).unwrap_err();
            assert_eq!(
                e,
                DecodeError::TrailingBytes {
                    packet: kind,
                    extra: 1
                }
            );
            assert_eq!(
                decode_body(Protocol::V3_1_1, first, &[0]).unwrap_err(),
                DecodeError::Truncated("the packet identifier")
            );
        }
    }

    /// [MQTT-2.2.1-3] packet identifier 0.
    #[test]
    fn mqtt_2_2_1_3_packet_id_zero() {
        for (first, kind) in KINDS {
            assert_eq!(
                decode_body(Protocol::V5, first, &[0, 0]).unwrap_err(),
                DecodeError::ZeroPacketId(kind)
            );
        }
    }

    /// [MQTT-3.6.1-1] PUBREL flags are 0010; [MQTT-2.2.2-2] the others 0000.
    #[test]
    fn mqtt_3_6_1_1_pubrel_flags() {
        let e = decode_body(Protocol::V3_1_1, 0x60, &[0, 1]).unwrap_err();
        assert_eq!(
            e,
            DecodeError::InvalidFlags {
                packet: PacketType::PubRel,
                flags: 0
            }
        );
        assert!(decode_body(Protocol::V3_1_1, 0x42, &[0, 1]).is_err());
        // MQTT 3.1 clients set DUP on a resent PUBREL; 3.1.1 forbids it.
        assert!(decode_body(Protocol::V3_1, 0x6A, &[0, 1]).is_ok());
        assert!(decode_body(Protocol::V3_1_1, 0x6A, &[0, 1]).is_err());
    }

    #[test]
    fn v3_drops_what_it_cannot_say() {
        let ack = Ack::with_reason(pid(3), ReasonCode::NotAuthorized);
        assert_eq!(
            encode(&Packet::PubAck(ack), Protocol::V3_1_1),
            [0x40, 2, 0, 3]
        );
    }
}
