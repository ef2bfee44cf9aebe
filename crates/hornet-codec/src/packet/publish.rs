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
        wire::put_field(out, self.topic.as_bytes());
        if let Some(id) = self.packet_id {
            out.put_u16(id.get());
        }
        if protocol.is_v5() {
            self.properties.encode(out);
        }
        out.put_slice(&self.payload);
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
