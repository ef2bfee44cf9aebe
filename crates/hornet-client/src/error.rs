//! The ways a remote can break the session, and the ways a message can be
//! refused before it is sent.

use hornet_codec::{PacketType, ReasonCode};

/// The remote did something the client cannot go on from: the shell logs
/// it, closes the connection and reconnects after its backoff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A packet only a client sends, or one out of place.
    #[error("unexpected {0} from the remote")]
    Unexpected(PacketType),
    /// A packet arrived before CONNACK.
    #[error("{0} before CONNACK")]
    BeforeConnAck(PacketType),
    /// The remote refused the connection.
    #[error("connection refused: {}", .0.name())]
    Refused(ReasonCode),
    /// The remote sent DISCONNECT.
    #[error("disconnected by the remote: {}", .0.name())]
    Disconnected(ReasonCode),
    /// No PINGRESP (or CONNACK) within the keep-alive.
    #[error("no answer from the remote within the keep-alive ({0} s)")]
    Timeout(u16),
    /// The remote sent a PUBLISH at a QoS above what we subscribed with
    /// or a QoS 1/2 PUBLISH without a packet id.
    #[error("[MQTT-3.3.1-4] PUBLISH with QoS {0} and no usable packet identifier")]
    BadPublish(u8),
    /// The remote used a Topic Alias we never allowed ([MQTT-3.3.2-9]).
    #[error("[MQTT-3.3.2-9] Topic Alias from the remote beyond the maximum it was allowed")]
    TopicAlias,
    /// The remote used a Topic Alias alone before setting it up
    /// ([MQTT-3.3.2-12]).
    #[error("[MQTT-3.3.2-12] unknown topic alias {0}")]
    UnknownTopicAlias(u16),
}

/// Why [`crate::Session::publish`] refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The packet would exceed the remote's Maximum Packet Size
    /// ([MQTT-3.1.2-24]).
    #[error("[MQTT-3.1.2-24] {size} bytes exceed the remote's Maximum Packet Size {max}")]
    TooLarge {
        /// The encoded size.
        size: usize,
        /// The remote's limit.
        max: u32,
    },
    /// The packet cannot be encoded (e.g. a bad property for the version).
    #[error("cannot encode: {0}")]
    Encode(String),
    /// Every packet identifier is in use.
    #[error("no free packet identifier")]
    NoPacketId,
    /// The identifier the caller chose is in use by another packet
    /// ([MQTT-2.2.1-4]); the caller tries again once it is free.
    #[error("[MQTT-2.2.1-4] packet identifier {0} is in use")]
    IdInUse(u16),
}
