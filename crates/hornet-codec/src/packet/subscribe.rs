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
