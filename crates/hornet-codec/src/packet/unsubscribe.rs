//! UNSUBSCRIBE (MQTT 3.1.1 §3.10, MQTT 5.0 §3.10).

use bytes::{BufMut, BytesMut};
use bytestring::ByteString;

use crate::error::{DecodeError, EncodeError};
use crate::packet::{packet_id, PacketType};
use crate::property::{Properties, PropertyContext};
use crate::topic;
use crate::wire::{self, Reader};
use crate::{PacketId, Protocol};

/// An UNSUBSCRIBE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet Identifier.
    pub packet_id: PacketId,
    /// UNSUBSCRIBE properties (MQTT 5 only: User Property).
    pub properties: Properties,
    /// The filters to remove, at least one ([MQTT-3.10.3-2]).
    pub filters: Vec<ByteString>,
}

impl Unsubscribe {
    /// An UNSUBSCRIBE of one filter.
    pub fn new(packet_id: PacketId, filter: impl Into<ByteString>) -> Self {
        Unsubscribe {
            packet_id,
            properties: Properties::new(),
            filters: vec![filter.into()],
        }
    }

    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Self, DecodeError> {
        let packet_id = packet_id(r, PacketType::Unsubscribe)?;
        let properties = if protocol.is_v5() {
            Properties::decode(r, PropertyContext::Unsubscribe)?
        } else {
            Properties::new()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string("a topic filter")?;
            topic::validate_filter(&filter).map_err(DecodeError::InvalidTopicFilter)?;
            filters.push(filter);
        }
        if filters.is_empty() {
            return Err(DecodeError::EmptyUnsubscribe);
        }
        Ok(Unsubscribe {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::Empty(PacketType::Unsubscribe));
        }
        let mut len = 2;
        if protocol.is_v5() {
            self.properties.check()?;
            len += self.properties.wire_len();
        }
        for f in &self.filters {
            wire::check_field(f.len(), "topic filter")?;
            len += wire::field_len(f.len());
        }
        Ok(len)
    }

    pub(crate) fn encode_body(&self, protocol: Protocol, out: &mut BytesMut) {
        out.put_u16(self.packet_id.get());
        if protocol.is_v5() {
            self.properties.encode(out);
        }
        for f in &self.filters {
            wire::put_field(out, f.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::{decode_body, field, pid, round_trip};
    use crate::property::Property;
    use crate::ReasonCode;

    #[test]
    fn unsubscribe_round_trips_in_every_version() {
        for protocol in Protocol::ALL {
            let mut u = Unsubscribe::new(pid(4), "a/#");
            u.filters.push("$share/g/b".into());
            round_trip(u.into(), protocol);
        }
        let mut u = Unsubscribe::new(pid(4), "a");
        u.properties
            .push(Property::UserProperty("k".into(), "v".into()));
        round_trip(u.into(), Protocol::V5);
    }

    /// [MQTT-3.10.3-2] at least one filter.
    #[test]
    fn mqtt_3_10_3_2_empty_unsubscribe() {
        let e = decode_body(Protocol::V3_1_1, 0xA2, &[0, 1]).unwrap_err();
        assert_eq!(e, DecodeError::EmptyUnsubscribe);
        assert_eq!(e.reason_code(), ReasonCode::ProtocolError);
    }

    /// [MQTT-3.10.1-1] UNSUBSCRIBE fixed header flags are 0010.
    #[test]
    fn mqtt_3_10_1_1_flags() {
        let mut body = vec![0, 1];
        body.extend(field(b"a"));
        assert!(matches!(
            decode_body(Protocol::V3_1_1, 0xA0, &body).unwrap_err(),
            DecodeError::InvalidFlags {
                packet: PacketType::Unsubscribe,
                ..
            }
        ));
    }

    #[test]
    fn filters_are_validated() {
        let mut body = vec![0, 1];
        body.extend(field(b"a/#/b"));
        assert!(matches!(
            decode_body(Protocol::V3_1_1, 0xA2, &body).unwrap_err(),
            DecodeError::InvalidTopicFilter(_)
        ));
    }

    /// Table 2-4: UNSUBSCRIBE carries only User Property.
    #[test]
    fn only_user_properties_are_allowed() {
        let mut u = Unsubscribe::new(pid(1), "a");
        u.properties.push(Property::SubscriptionIdentifier(1));
        let bytes = crate::packet::testutil::encode(&u.into(), Protocol::V5);
        assert!(matches!(
            crate::packet::testutil::decode(Protocol::V5, &bytes).unwrap_err(),
            DecodeError::PropertyNotAllowed { .. }
        ));
    }
}
