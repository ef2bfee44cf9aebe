//! The limits and policies the core enforces, set once at start-up.
//!
//! The shell builds [`Settings`] from its configuration file; the core never
//! reads files. Defaults match Mosquitto's where Mosquitto has one, except
//! where noted as safer.

use std::time::Duration;

/// Who may connect without a username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Anonymous {
    /// Anonymous clients only from loopback addresses (the default).
    #[default]
    Loopback,
    /// Anonymous clients from anywhere.
    Always,
    /// No anonymous clients.
    Never,
}

/// Everything the core needs to know about the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Who may connect without credentials.
    pub anonymous: Anonymous,
    /// Unacknowledged QoS 1/2 messages towards one client (Mosquitto: 20).
    pub max_inflight_messages: u16,
    /// Messages queued per session beyond the inflight window (Mosquitto: 1000).
    pub max_queued_messages: usize,
    /// Payload bytes queued per session; `usize::MAX` means no limit.
    pub max_queued_bytes: usize,
    /// Largest packet accepted (and announced to MQTT 5 clients).
    pub max_packet_size: u32,
    /// Longest keep-alive a client may ask for (65535 = no limit).
    pub max_keepalive: u16,
    /// Queue QoS 0 messages for offline persistent sessions (Mosquitto: false).
    pub queue_qos0_messages: bool,
    /// How often `$SYS/broker/...` is published; `None` disables it.
    pub sys_interval: Option<Duration>,
    /// Packets handed to the shell for one connection and not yet reported
    /// written; beyond this, messages wait in the session queue so a slow
    /// reader never holds anybody else up.
    pub max_unwritten_packets: usize,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    /// Topic aliases accepted from each MQTT 5 client.
    pub topic_alias_maximum: u16,
    /// Log each client's connection and disconnection (Mosquitto's `connection_messages`).
    pub connection_messages: bool,
    /// The version string published in `$SYS/broker/version`.
    pub version: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            anonymous: Anonymous::Loopback,
            max_inflight_messages: 20,
            max_queued_messages: 1000,
            max_queued_bytes: usize::MAX,
            max_packet_size: 1024 * 1024,
            max_keepalive: u16::MAX,
            queue_qos0_messages: false,
            sys_interval: Some(Duration::from_secs(10)),
            max_unwritten_packets: 1024,
            connect_timeout: Duration::from_secs(10),
            topic_alias_maximum: 64,
            connection_messages: true,
            version: concat!("hornet version ", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}
