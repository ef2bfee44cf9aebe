//! PUBLISH (MQTT 3.1.1 §3.3, MQTT 5.0 §3.3): an application message.
//!
//! The hot packet. Decoding slices the topic and payload out of the frame
//! without copying; encoding writes the payload with one `put_slice`.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::{DecodeError, EncodeError};
use crate::packet::{packet_id, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::topic;
use crate::wire::{self, Reader};
use crate::{PacketId, Protocol, QoS};

/// A PUBLISH packet.
#[derive(Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this may be a re-delivery.
    pub dup: bool,
    /// QoS level.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// Topic Name; empty only in MQTT 5 when a Topic Alias stands for it.
    pub topic: ByteString,
    /// Packet Identifier: present exactly when QoS > 0.
    pub packet_id: Option<PacketId>,
    /// PUBLISH properties (MQTT 5 only).
    pub properties: Properties,
    /// Application payload.
    pub payload: Bytes,
}

impl Publish {
    /// Copies the topic, payload and property values into allocations of
    /// their own. A decoded PUBLISH shares its frame's read buffer (zero
    /// copy); one kept for long (a retained message) would otherwise keep
    /// that whole buffer alive.
    pub fn detach(&mut self) {
        self.topic = crate::property::own_str(&self.topic);
        self.payload = Bytes::copy_from_slice(&self.payload);
        self.properties.detach();
    }

    /// A QoS 0, non-retained PUBLISH without properties.
    pub fn new(topic: impl Into<ByteString>, payload: impl Into<Bytes>) -> Self {
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            packet_id: None,
            properties: Properties::new(),
            payload: payload.into(),
        }
    }

    pub(crate) fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }

    pub(crate) fn decode(
        flags: u8,
        r: &mut Reader,
        protocol: Protocol,
    ) -> Result<Self, DecodeError> {
        let dup = flags & 0x08 != 0;
        let retain = flags & 0x01 != 0;
        let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(DecodeError::InvalidQos)?;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQos0);
        }
        let topic = r.string("the topic name")?;
        let packet_id = if qos == QoS::AtMostOnce {
            None
        } else {
            Some(packet_id(r, PacketType::Publish)?)
        };
        let properties = if protocol.is_v5() {
            Properties::decode(r, PropertyContext::Publish)?
        } else {
            Properties::new()
        };
        if topic.is_empty() && protocol.is_v5() {
            // §3.3.2.3.4: an empty topic name stands for the topic of an alias.
            if properties.topic_alias().is_none() {
                return Err(DecodeError::EmptyTopicWithoutAlias);
            }
        } else {
            topic::validate_name(&topic).map_err(DecodeError::InvalidTopicName)?;
        }
        let payload = r.rest();
        Ok(Publish {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            properties,
            payload,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if (self.qos == QoS::AtMostOnce) != self.packet_id.is_none() {
            return Err(EncodeError::PacketIdMismatch);
        }
        wire::check_field(self.topic.len(), "topic name")?;
        let mut len = wire::field_len(self.topic.len()) + self.payload.len();
        if self.packet_id.is_some() {
            len += 2;
        }
        if protocol.is_v5() {
            self.properties.check()?;
            len += self.properties.wire_len();
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        self.encode_head(protocol, out);
        out.put_slice(&self.payload);
    }

    /// The body up to the payload: topic, packet identifier, properties.
    pub(crate) fn encode_head(&self, protocol: Protocol, out: &mut BytesMut) {
        wire::put_field(out, self.topic.as_bytes());
        if let Some(id) = self.packet_id {
            out.put_u16(id.get());
        }
        if protocol.is_v5() {
            self.properties.encode(out);
        }
    }
}

/// Shows everything but the payload, which may be private or huge: only its
/// length is printed.
impl fmt::Debug for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("dup", &self.dup)
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("topic", &self.topic)
            .field("packet_id", &self.packet_id)
            .field("properties", &self.properties)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::{b, decode, decode_body, encode, field, pid, round_trip};
    use crate::packet::Packet;
    use crate::property::Property;
    use crate::{DecodeError, ReasonCode};

    #[test]
    fn every_qos_round_trips_in_every_version() {
        for protocol in Protocol::ALL {
            for (qos, id) in [
                (QoS::AtMostOnce, None),
                (QoS::AtLeastOnce, Some(pid(1))),
                (QoS::ExactlyOnce, Some(pid(65535))),
            ] {
                let mut p = Publish::new("a/b", b(b"hello"));
                p.qos = qos;
                p.packet_id = id;
                p.retain = true;
                p.dup = qos != QoS::AtMostOnce;
                if protocol.is_v5() {
                    p.properties = Properties::new()
                        .with(Property::MessageExpiryInterval(30))
                        .with(Property::UserProperty("a".into(), "1".into()))
                        .with(Property::SubscriptionIdentifier(4))
                        .with(Property::SubscriptionIdentifier(5));
                }
                round_trip(p.into(), protocol);
            }
        }
    }

    #[test]
    fn the_wire_layout_is_the_specs() {
        let mut p = Publish::new("a/b", b(b"hi"));
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(pid(10));
        assert_eq!(
            encode(&p.clone().into(), Protocol::V3_1_1),
            b"\x32\x09\x00\x03a/b\x00\x0ahi"
        );
        assert_eq!(
            encode(&p.into(), Protocol::V5),
            b"\x32\x0a\x00\x03a/b\x00\x0a\x00hi"
        );
    }

    /// [MQTT-3.3.1-4] QoS bits 11 are malformed.
    #[test]
    fn mqtt_3_3_1_4_qos_3_is_malformed() {
        let e = decode_body(Protocol::V3_1_1, 0x36, &[0, 1, b'a', 0, 1]).unwrap_err();
        assert_eq!(e, DecodeError::InvalidQos);
        assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
    }

    /// [MQTT-3.3.1-2] DUP must be 0 for QoS 0.
    #[test]
    fn mqtt_3_3_1_2_dup_on_qos_0() {
        assert_eq!(
            decode_body(Protocol::V3_1_1, 0x38, &[0, 1, b'a']).unwrap_err(),
            DecodeError::DupWithQos0
        );
    }

    /// [MQTT-3.3.2-2] wildcards in a topic name; [MQTT-4.7.3-1] empty topic.
    #[test]
    fn mqtt_3_3_2_2_topic_name_rules() {
        for topic in [&b"a/+"[..], b"#", b"a/#"] {
            let e = decode_body(Protocol::V3_1_1, 0x30, &field(topic)).unwrap_err();
            assert!(matches!(
                e,
                DecodeError::InvalidTopicName(crate::TopicError::WildcardInName)
            ));
            assert_eq!(e.reason_code(), ReasonCode::TopicNameInvalid);
        }
        let e = decode_body(Protocol::V3_1_1, 0x30, &field(b"")).unwrap_err();
        assert_eq!(e, DecodeError::InvalidTopicName(crate::TopicError::Empty));
    }

    /// §3.3.2.3.4: MQTT 5 allows an empty topic name only with a Topic Alias.
    #[test]
    fn empty_topic_with_and_without_alias_in_v5() {
        let e = decode_body(Protocol::V5, 0x30, &[0, 0, 0]).unwrap_err();
        assert_eq!(e, DecodeError::EmptyTopicWithoutAlias);
        assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
        let mut p = Publish::new("", b(b"x"));
        p.properties.push(Property::TopicAlias(7));
        round_trip(p.into(), Protocol::V5);
    }

    /// [MQTT-2.2.1-3] QoS > 0 needs a non-zero packet identifier.
    #[test]
    fn mqtt_2_2_1_3_packet_id_zero() {
        let mut body = field(b"a");
        body.extend_from_slice(&[0, 0]);
        let e = decode_body(Protocol::V3_1_1, 0x32, &body).unwrap_err();
        assert_eq!(e, DecodeError::ZeroPacketId(crate::PacketType::Publish));
        assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
    }

    #[test]
    fn payload_may_be_empty_and_may_hold_any_bytes() {
        round_trip(Publish::new("t", b(b"")).into(), Protocol::V3_1_1);
        round_trip(
            Publish::new("t", b(b"\x00\xff\xfe")).into(),
            Protocol::V3_1_1,
        );
    }

    /// The payload is a slice of the received frame, never a copy.
    #[test]
    fn decoding_does_not_copy_the_payload() {
        let bytes = encode(&Publish::new("t", vec![7u8; 4096]).into(), Protocol::V3_1_1);
        let mut buf = bytes::BytesMut::from(&bytes[..]);
        let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        let Some(Packet::Publish(p)) = crate::Decoder::with_protocol(Protocol::V3_1_1)
            .decode(&mut buf)
            .unwrap()
        else {
            panic!("not a publish")
        };
        assert!(range.contains(&(p.payload.as_ptr() as usize)));
        assert!(range.contains(&(p.topic.as_bytes().as_ptr() as usize)));
    }

    #[test]
    fn debug_output_hides_the_payload() {
        let p = Publish::new("t", b(b"secret-token"));
        let shown = format!("{p:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("<12 bytes>"), "{shown}");
    }

    #[test]
    fn packet_id_must_match_qos_when_encoding() {
        let mut p = Publish::new("t", b(b""));
        p.qos = QoS::AtLeastOnce;
        let mut out = bytes::BytesMut::new();
        assert_eq!(
            Packet::from(p).encode(Protocol::V3_1_1, &mut out),
            Err(crate::EncodeError::PacketIdMismatch)
        );
    }

    /// Properties are not written for MQTT 3.x peers.
    #[test]
    fn properties_are_dropped_for_v3() {
        let mut p = Publish::new("t", b(b"x"));
        p.properties
            .push(Property::ContentType("text/plain".into()));
        let bytes = encode(&p.into(), Protocol::V3_1_1);
        assert_eq!(
            decode(Protocol::V3_1_1, &bytes),
            Ok(Publish::new("t", b(b"x")).into())
        );
    }
}
