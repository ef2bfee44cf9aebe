//! What the remote's CONNACK allows us (MQTT 5 §3.2.2.3); a 3.x remote
//! allows everything the protocol can say.

use hornet_codec::{ConnAck, Protocol, QoS};

/// The remote's limits from its CONNACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Receive Maximum: QoS 1/2 PUBLISHes unacknowledged at once
    /// ([MQTT-3.3.4-7]); 65,535 when absent.
    pub receive_maximum: u16,
    /// Maximum Packet Size ([MQTT-3.1.2-24]); `None`: the protocol's.
    pub maximum_packet_size: Option<u32>,
    /// Maximum QoS ([MQTT-3.2.2-11]): higher messages go out at this QoS.
    pub maximum_qos: QoS,
    /// Retain Available ([MQTT-3.2.2-14]): without it RETAIN is cleared.
    pub retain_available: bool,
    /// Topic Alias Maximum ([MQTT-3.2.2-17]): aliases we may use.
    pub topic_alias_maximum: u16,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            receive_maximum: u16::MAX,
            maximum_packet_size: None,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            topic_alias_maximum: 0,
        }
    }
}

impl ServerLimits {
    /// The limits a CONNACK announces.
    pub fn from_connack(connack: &ConnAck, protocol: Protocol) -> Self {
        if !protocol.is_v5() {
            return ServerLimits::default();
        }
        let p = &connack.properties;
        ServerLimits {
            receive_maximum: p.receive_maximum().filter(|&v| v > 0).unwrap_or(u16::MAX),
            maximum_packet_size: p.maximum_packet_size().filter(|&v| v > 0),
            maximum_qos: p
                .maximum_qos()
                .and_then(QoS::from_u8)
                .unwrap_or(QoS::ExactlyOnce),
            retain_available: p.retain_available() != Some(0),
            topic_alias_maximum: p.topic_alias_maximum().unwrap_or(0),
        }
    }
}
