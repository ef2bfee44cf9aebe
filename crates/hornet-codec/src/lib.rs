//! # hornet-codec
//!
//! The MQTT 3.1, 3.1.1 and 5.0 packet codec of the Hornet broker.
//!
//! This crate owns bytes-to-packets and packets-to-bytes, and every rule of
//! the specs that can be checked on one packet alone. It does no I/O, spawns
//! nothing and reads no clock: bytes come in through [`Decoder::decode`]
//! from a `BytesMut` the caller filled, packets go out through
//! [`Packet::encode`] into a `BytesMut` the caller drains. Rules that need
//! the session (topic alias resolution, packet identifier reuse, a second
//! CONNECT) belong to `hornet-core`.
//!
//! Decoding is zero-copy: topics, strings, binary fields and payloads are
//! slices of the received frame. Every decode error names the normative
//! statement it enforces and maps to the reason code the server answers
//! with ([`DecodeError::reason_code`]).
//!
//! ```
//! use bytes::BytesMut;
//! use hornet_codec::{Connect, Decoder, Packet, Protocol, Publish};
//!
//! let mut wire = BytesMut::new();
//! Packet::from(Connect::new(Protocol::V5, "sensor-1")).encode(Protocol::V5, &mut wire).unwrap();
//! Packet::from(Publish::new("home/temp", "21.5")).encode(Protocol::V5, &mut wire).unwrap();
//!
//! let mut decoder = Decoder::new(); // server side: CONNECT first
//! let Some(Packet::Connect(connect)) = decoder.decode(&mut wire).unwrap() else { panic!() };
//! assert_eq!(connect.client_id, "sensor-1");
//! assert_eq!(decoder.protocol(), Some(Protocol::V5));
//! let Some(Packet::Publish(publish)) = decoder.decode(&mut wire).unwrap() else { panic!() };
//! assert_eq!(&publish.payload[..], b"21.5");
//! assert!(wire.is_empty());
//! ```

#![forbid(unsafe_code)]

mod decoder;
mod error;
pub mod fuzzing;
mod packet;
mod property;
mod reason;
pub mod topic;
mod varint;
mod wire;

use std::num::NonZeroU16;

pub use bytes;
pub use bytestring::ByteString;
pub use decoder::{peek_frame, Decoder, FrameHeader, MAX_PACKET_SIZE};
pub use error::{DecodeError, EncodeError};
pub use packet::{
    Ack, Auth, ConnAck, Connect, Disconnect, LastWill, Packet, PacketType, Publish, RetainHandling,
    SubAck, Subscribe, SubscribeFilter, SubscriptionOptions, UnsubAck, Unsubscribe,
};
pub use property::{Properties, Property, PropertyContext, PropertyId, PropertyType};
pub use reason::{ReasonCode, ReasonContext};
pub use topic::TopicError;
pub use varint::MAX as MAX_VARINT;

/// A Packet Identifier: never 0 ([MQTT-2.2.1-3]).
pub type PacketId = NonZeroU16;

/// The protocol version of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// MQTT 3.1: protocol name `MQIsdp`, level 3.
    V3_1,
    /// MQTT 3.1.1: protocol name `MQTT`, level 4.
    V3_1_1,
    /// MQTT 5.0: protocol name `MQTT`, level 5.
    V5,
}

impl Protocol {
    /// Every supported version.
    pub const ALL: [Protocol; 3] = [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5];

    /// The protocol level byte of CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            Protocol::V3_1 => 3,
            Protocol::V3_1_1 => 4,
            Protocol::V5 => 5,
        }
    }

    /// The protocol name of CONNECT.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::V3_1 => "MQIsdp",
            _ => "MQTT",
        }
    }

    /// True for MQTT 5.0.
    pub const fn is_v5(self) -> bool {
        matches!(self, Protocol::V5)
    }
}

/// Quality of Service level (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum QoS {
    /// QoS 0: at most once.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once.
    AtLeastOnce = 1,
    /// QoS 2: exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS with this value; `None` for 3 and above.
    pub const fn from_u8(value: u8) -> Option<QoS> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}
