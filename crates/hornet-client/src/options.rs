//! What the client asks for in CONNECT, and its own limits.

use std::time::Duration;

use bytes::Bytes;
use hornet_codec::{ByteString, Connect, LastWill, Properties, Property, Protocol};

/// The client's configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// Protocol version.
    pub protocol: Protocol,
    /// Client identifier.
    pub client_id: ByteString,
    /// Clean Session (3.x) / Clean Start (5).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 turns PINGREQ off.
    pub keep_alive: u16,
    /// User name.
    pub username: Option<ByteString>,
    /// Password.
    pub password: Option<Bytes>,
    /// Will message (a bridge's notification `0`).
    pub will: Option<LastWill>,
    /// Set the 0x80 bit on the protocol level (Mosquitto's `try_private`):
    /// a broker that knows it treats us as a bridge and does not echo.
    pub bridge: bool,
    /// MQTT 5 Session Expiry Interval sent in CONNECT (0: none).
    pub session_expiry: u32,
    /// Our own bound on QoS 1/2 messages in flight, below the remote's
    /// Receive Maximum (at least 1).
    pub max_inflight: u16,
    /// The largest packet we accept, announced to an MQTT 5 remote
    /// (`None`: no limit announced).
    pub max_packet_size: Option<u32>,
    /// Incoming QoS 1/2 messages are acknowledged (PUBACK / PUBREC) only
    /// when the caller says it has them ([`crate::Session::acknowledge`]),
    /// e.g. once a bridge's local broker has stored them.
    pub manual_ack: bool,
    /// Incoming QoS 2 messages are handed on when the remote's PUBREL
    /// arrives, as libmosquitto does, rather than on the PUBLISH (either
    /// way exactly once).
    pub qos2_on_release: bool,
    /// Apply the remote's Maximum QoS, Retain Available and Maximum
    /// Packet Size to outgoing messages (downgrade, clear RETAIN, drop).
    /// Off, messages go as given and the remote judges them (what
    /// `mosquitto_pub` does).
    pub server_limits: bool,
    /// Use topic aliases for outgoing messages when the remote allows
    /// them.
    pub topic_aliases: bool,
    /// How long a CONNACK may take when keep-alive is off.
    pub connack_timeout: Duration,
    /// The caller keeps the QoS 2 state durable (a bridge, in its local
    /// broker's store): an outgoing message's PUBREL waits for
    /// [`crate::Session::release`] after [`crate::Event::Received`], and an
    /// incoming message's PUBCOMP waits for [`crate::Session::complete_incoming`]
    /// after [`crate::Event::Release`], so no packet leaves that promises
    /// a state the caller has not recorded.
    pub manual_qos2: bool,
}

impl Options {
    /// Clean start, keep alive 60, inflight 20, no credentials; the
    /// remote's limits applied, topic aliases used; CONNACK awaited 30 s
    /// when keep-alive is off.
    pub fn new(protocol: Protocol, client_id: impl Into<ByteString>) -> Self {
        Options {
            protocol,
            client_id: client_id.into(),
            clean_start: true,
            keep_alive: 60,
            username: None,
            password: None,
            will: None,
            bridge: false,
            session_expiry: 0,
            max_inflight: 20,
            max_packet_size: None,
            manual_ack: false,
            qos2_on_release: false,
            server_limits: true,
            topic_aliases: true,
            connack_timeout: Duration::from_secs(30),
            manual_qos2: false,
        }
    }

    /// The CONNECT these options make.
    pub fn connect_packet(&self) -> Connect {
        let mut connect = Connect::new(self.protocol, self.client_id.clone());
        connect.clean_start = self.clean_start;
        connect.keep_alive = self.keep_alive;
        connect.username = self.username.clone();
        connect.password = self.password.clone();
        connect.will = self.will.clone();
        connect.bridge = self.bridge;
        if self.protocol.is_v5() {
            let mut props = Properties::new();
            if self.session_expiry > 0 {
                props.push(Property::SessionExpiryInterval(self.session_expiry));
            }
            if let Some(max) = self.max_packet_size {
                props.push(Property::MaximumPacketSize(max));
            }
            connect.properties = props;
        }
        connect
    }
}
