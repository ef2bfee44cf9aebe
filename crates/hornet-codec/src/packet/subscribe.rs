//! SUBSCRIBE (MQTT 3.1.1 §3.8, MQTT 5.0 §3.8): topic filters with their
//! subscription options.

use bytes::{BufMut, BytesMut};
use bytestring::ByteString;

use crate::error::{DecodeError, EncodeError};
use crate::packet::{packet_id, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::topic;
use crate::wire::{self, Reader};
use crate::{PacketId, Protocol, QoS};

/// A SUBSCRIBE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet Identifier.
    pub packet_id: PacketId,
    /// SUBSCRIBE properties (MQTT 5 only): Subscription Identifier, User Property.
    pub properties: Properties,
    /// The filters, at least one ([MQTT-3.8.3-3]).
    pub filters: Vec<SubscribeFilter>,
}

/// One topic filter of a SUBSCRIBE and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeFilter {
    /// The topic filter (possibly `$share/{group}/{filter}`).
    pub filter: ByteString,
    /// The subscription options.
    pub options: SubscriptionOptions,
}

/// Subscription Options (MQTT 5.0 §3.8.3.1); 3.x has only the QoS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the subscriber accepts.
    pub qos: QoS,
    /// No Local: do not send the subscriber its own messages.
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag when forwarding.
    pub retain_as_published: bool,
    /// When to send retained messages on subscribe.
    pub retain_handling: RetainHandling,
}

/// Retain Handling (MQTT 5.0 §3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    OnSubscribe = 0,
    /// 1: send them only if the subscription did not exist.
    OnNewSubscribe = 1,
    /// 2: do not send them.
    Never = 2,
}

impl SubscriptionOptions {
    /// Options with the given QoS and MQTT 5 defaults for the rest.
    pub fn qos(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            ..Default::default()
        }
    }

    fn decode(byte: u8, protocol: Protocol) -> Result<Self, DecodeError> {
        let reserved = if protocol.is_v5() { 0xC0 } else { 0xFC };
        if byte & reserved != 0 {
            // [MQTT-3.8.3-5] (5.0), [MQTT-3-8.3-4] (3.1.1).
            return Err(DecodeError::SubscriptionOptionsReserved(byte));
        }
        let qos = QoS::from_u8(byte & 0x03).ok_or(DecodeError::InvalidSubscriptionQos)?;
        let retain_handling = match (byte >> 4) & 0x03 {
            0 => RetainHandling::OnSubscribe,
            1 => RetainHandling::OnNewSubscribe,
            2 => RetainHandling::Never,
            _ => return Err(DecodeError::InvalidRetainHandling),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: byte & 0x04 != 0,
            retain_as_published: byte & 0x08 != 0,
            retain_handling,
        })
    }

    fn encode(self, protocol: Protocol) -> u8 {
        let mut byte = self.qos as u8;
        if protocol.is_v5() {
            byte |= u8::from(self.no_local) << 2;
            byte |= u8::from(self.retain_as_published) << 3;
            byte |= (self.retain_handling as u8) << 4;
        }
        byte
    }
}

impl Subscribe {
    /// A SUBSCRIBE of one filter at `qos`.
    pub fn new(packet_id: PacketId, filter: impl Into<ByteString>, qos: QoS) -> Self {
        Subscribe {
            packet_id,
            properties: Properties::new(),
            filters: vec![SubscribeFilter {
                filter: filter.into(),
                options: SubscriptionOptions::qos(qos),
            }],
        }
    }

    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r, PacketType::Subscribe)?;
        let properties = if protocol.is_v5() {
            Properties::decode(r, PropertyContext::Subscribe)?
        } else {
            Properties::new()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string("a topic filter")?;
            let options = SubscriptionOptions::decode(r.u8("the subscription options")?, protocol)?;
            topic::validate_filter(&filter).map_err(DecodeError::InvalidTopicFilter)?;
            if options.no_local && filter.starts_with(topic::SHARE_PREFIX) {
                return Err(DecodeError::NoLocalOnSharedSubscription);
            }
            filters.push(SubscribeFilter { filter, options });
        }
        if filters.is_empty() {
            return Err(DecodeError::EmptySubscribe);
        }
        Ok(Subscribe {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::Empty(PacketType::Subscribe));
        }
        let mut len = 2;
        if protocol.is_v5() {
            self.properties.check()?;
            len += self.properties.wire_len();
        }
        for f in &self.filters {
            wire::check_field(f.filter.len(), "topic filter")?;
            len += wire::field_len(f.filter.len()) + 1;
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        out.put_u16(self.packet_id.get());
        if protocol.is_v5() {
            self.properties.encode(out);
        }
        for f in &self.filters {
            wire::put_field(out, f.filter.as_bytes());
            out.put_u8(f.options.encode(protocol));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::{decode_body, field, pid, round_trip};
    use crate::packet::Packet;
    use crate::property::Property;
    use crate::{ReasonCode, TopicError};

    fn body(filters: &[(&[u8], u8)], v5: bool) -> Vec<u8> {
        let mut out = vec![0, 1];
        if v5 {
            out.push(0);
        }
        for (f, o) in filters {
            out.extend(field(f));
            out.push(*o);
        }
        out
    }

    #[test]
    fn subscribe_round_trips_in_every_version() {
        for protocol in Protocol::ALL {
            let mut s = Subscribe::new(pid(1), "a/+/c", QoS::ExactlyOnce);
            s.filters.push(SubscribeFilter {
                filter: "#".into(),
                options: SubscriptionOptions::qos(QoS::AtMostOnce),
            });
            s.filters.push(SubscribeFilter {
                filter: "$share/g/x/#".into(),
                options: SubscriptionOptions::qos(QoS::AtLeastOnce),
            });
            round_trip(s.into(), protocol);
        }
        let mut s = Subscribe::new(pid(2), "a", QoS::AtLeastOnce);
        s.properties.push(Property::SubscriptionIdentifier(77));
        s.filters[0].options = SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::Never,
        };
        round_trip(s.into(), Protocol::V5);
    }

    /// [MQTT-3.8.1-1] SUBSCRIBE fixed header flags are 0010.
    #[test]
    fn mqtt_3_8_1_1_flags() {
        let e = decode_body(Protocol::V3_1_1, 0x80, &body(&[(b"a", 0)], false)).unwrap_err();
        assert_eq!(
            e,
            DecodeError::InvalidFlags {
                packet: PacketType::Subscribe,
                flags: 0
            }
        );
        assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
    }

    /// [MQTT-3.8.3-3] at least one filter.
    #[test]
    fn mqtt_3_8_3_3_empty_subscribe() {
        for (protocol, v5) in [(Protocol::V3_1_1, false), (Protocol::V5, true)] {
            let e = decode_body(protocol, 0x82, &body(&[], v5)).unwrap_err();
            assert_eq!(e, DecodeError::EmptySubscribe);
            assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
        }
    }

    /// [MQTT-4.7.1-2], [MQTT-4.7.1-3]: malformed filters are refused.
    #[test]
    fn mqtt_4_7_1_2_and_3_malformed_filters() {
        for (filter, why) in [
            (&b"a/#/b"[..], TopicError::MultiLevelWildcard),
            (b"a+", TopicError::SingleLevelWildcard),
            (b"", TopicError::Empty),
            (b"$share/g", TopicError::SharedFilterMissing),
        ] {
            let e = decode_body(Protocol::V3_1_1, 0x82, &body(&[(filter, 0)], false)).unwrap_err();
            assert_eq!(e, DecodeError::InvalidTopicFilter(why));
            assert_eq!(e.reason_code(), ReasonCode::TopicFilterInvalid);
        }
    }

    /// [MQTT-3-8.3-4] (3.1.1): upper six bits reserved, QoS 3 malformed.
    #[test]
    fn mqtt_3_8_3_4_v3_options_byte() {
        let e = decode_body(Protocol::V3_1_1, 0x82, &body(&[(b"a", 0x04)], false)).unwrap_err();
        assert_eq!(e, DecodeError::SubscriptionOptionsReserved(0x04));
        let e = decode_body(Protocol::V3_1_1, 0x82, &body(&[(b"a", 0x03)], false)).unwrap_err();
        assert_eq!(e, DecodeError::InvalidSubscriptionQos);
        assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
    }

    /// [MQTT-3.8.3-5] (5.0): bits 6 and 7 reserved; retain handling 3 is a protocol error.
    #[test]
    fn mqtt_3_8_3_5_v5_options_byte() {
        let e = decode_body(Protocol::V5, 0x82, &body(&[(b"a", 0x40)], true)).unwrap_err();
        assert_eq!(e, DecodeError::SubscriptionOptionsReserved(0x40));
        assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
        let e = decode_body(Protocol::V5, 0x82, &body(&[(b"a", 0x30)], true)).unwrap_err();
        assert_eq!(e, DecodeError::InvalidRetainHandling);
        assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
        let Packet::Subscribe(s) =
            decode_body(Protocol::V5, 0x82, &body(&[(b"a", 0x2E)], true)).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            s.filters[0].options,
            SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::Never
            }
        );
    }

    /// [MQTT-3.8.3-4] (5.0): No Local on a shared subscription.
    #[test]
    fn mqtt_3_8_3_4_no_local_on_shared_subscription() {
        let e = decode_body(Protocol::V5, 0x82, &body(&[(b"$share/g/a", 0x04)], true)).unwrap_err();
        assert_eq!(e, DecodeError::NoLocalOnSharedSubscription);
        assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
    }

    /// [MQTT-2.2.1-3] packet identifier 0.
    #[test]
    fn mqtt_2_2_1_3_packet_id_zero() {
        let mut b = body(&[(b"a", 0)], false);
        b[1] = 0;
        assert_eq!(
            decode_body(Protocol::V3_1_1, 0x82, &b).unwrap_err(),
            DecodeError::ZeroPacketId(PacketType::Subscribe)
        );
    }

    #[test]
    fn a_filter_without_its_options_byte_is_truncated() {
        let mut b = body(&[(b"a", 0)], false);
        b.pop();
        assert_eq!(
            decode_body(Protocol::V3_1_1, 0x82, &b).unwrap_err(),
            DecodeError::Truncated("the subscription options")
        );
    }
}
