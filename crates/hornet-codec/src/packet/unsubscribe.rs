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
