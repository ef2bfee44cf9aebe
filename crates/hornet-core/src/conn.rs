//! A live connection as the core sees it: [`ConnId`], what the shell
//! knows of it ([`ConnInfo`]), why it ended ([`CloseCause`]), and [`Conn`],
//! the per-connection state (its place in the lifecycle, the negotiated
//! limits, topic aliases in both directions, rate buckets) with the rules
//! that touch only that state: outbound topic aliases and fitting a
//! Reason String into the client's Maximum Packet Size.
//!
//! The connections table and the MQTT rules that need a connection and a
//! session together live in the broker (`broker`, `connect`, `publish`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytestring::ByteString;
use hornet_codec::{LastWill, Packet, Property, Protocol, Publish};

pub(crate) use crate::ids::ConnId;
use crate::ids::SessionKey;
use crate::lifecycle::ConnState;

/// What the shell knows about a connection when it is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The peer's address.
    pub peer: SocketAddr,
    /// The local port of the listener that accepted it.
    pub listener_port: u16,
    /// The user name a verified TLS client certificate gives this
    /// connection (Mosquitto's `use_identity_as_username` /
    /// `use_subject_as_username`). When set it replaces the CONNECT user
    /// name, and the client counts as authenticated: its password is not
    /// checked, as in Mosquitto.
    pub cert_username: Option<String>,
    /// The anonymous policy of the listener that accepted the connection,
    /// when it has its own; `None` follows [`Settings::anonymous`].
    ///
    /// [`Settings::anonymous`]: crate::Settings::anonymous
    pub anonymous: Option<crate::settings::Anonymous>,
    /// Whether the listener takes the user name from the client
    /// certificate, so a connection without one is refused at CONNECT
    /// (see `identity.rs`).
    pub identity_required: bool,
    /// The listener's `mount_point`: the topic prefix its clients live
    /// under without seeing it (see `mount_point.rs`).
    pub mount_point: Option<std::sync::Arc<str>>,
}

impl ConnInfo {
    /// A connection from `peer` on `listener_port`, with no certificate
    /// identity and the broker-wide anonymous policy.
    pub fn new(peer: SocketAddr, listener_port: u16) -> ConnInfo {
        ConnInfo {
            peer,
            listener_port,
            cert_username: None,
            anonymous: None,
            identity_required: false,
            mount_point: None,
        }
    }
}

/// Why a socket ended, as the shell saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseCause {
    /// The peer closed the connection (EOF).
    PeerClosed,
    /// A socket error (a reset, a broken pipe, a TLS or WebSocket error).
    Io {
        /// What kind of error.
        kind: std::io::ErrorKind,
        /// The error in words, for the log.
        message: Box<str>,
    },
    /// The shell is shutting down.
    Shutdown,
}

impl CloseCause {
    /// The cause for a socket that failed with `error`.
    pub fn io(error: &std::io::Error) -> CloseCause {
        CloseCause::Io {
            kind: error.kind(),
            message: error.to_string().into(),
        }
    }
}

/// One live connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) info: ConnInfo,
    /// Where the connection is in its life (see `lifecycle`): awaiting
    /// CONNECT, checking its password, authenticating, connected.
    pub(crate) state: ConnState,
    /// The client id for log lines (empty before CONNECT).
    pub(crate) client_id: ByteString,
    /// The authenticated user (`None` for anonymous clients, and for user
    /// names nobody checked because there is no password_file).
    pub(crate) username: Option<ByteString>,
    pub(crate) protocol: Protocol,
    pub(crate) session: Option<SessionKey>,
    /// Keep-alive as enforced: 1.5 times the interval ([MQTT-3.1.2-24]).
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) last_seen: Instant,
    /// Boxed, like the other rarely used parts below: an idle connection
    /// without them pays 8 bytes each.
    pub(crate) will: Option<Box<LastWill>>,
    /// Its will is recorded in the store (`StoreOp::ConnectedWill`), to be
    /// published after a crash; cleared when the connection ends.
    pub(crate) will_recorded: bool,
    /// Packets handed to the shell and not yet reported written.
    pub(crate) unwritten: usize,
    /// The client's Receive Maximum (MQTT 5), else 65535.
    pub(crate) receive_maximum: u16,
    /// The client's Maximum Packet Size (MQTT 5), else unlimited.
    pub(crate) max_packet_size: u32,
    /// Inbound topic aliases (MQTT 5).
    /// Allocated on first use, like the outbound ones: most clients use
    /// none, and an empty map is 32 bytes in every `Conn`.
    pub(crate) aliases_in: Option<Box<crate::session::IdMap<ByteString>>>,
    /// The client asked for Reason Strings and User Properties on errors.
    pub(crate) problem_information: bool,
    /// A Mosquitto bridge (protocol level with 0x80, `try_private`): its
    /// subscriptions get No Local and Retain As Published, so what it
    /// bridges in is never echoed back to it.
    pub(crate) bridge: bool,
    /// The client's Topic Alias Maximum (MQTT 5): aliases Hornet may use
    /// towards it; 0 = none.
    pub(crate) alias_max_out: u16,
    /// Outbound topic aliases assigned on this connection, first come first
    /// served up to `alias_max_out`.
    pub(crate) aliases_out: Option<Box<AHashMap<ByteString, u16>>>,
    /// Publish rate buckets, when a rate is configured.
    pub(crate) rate: Option<Box<crate::limits::RateState>>,
    /// The CONNECT User Name as the client sent it, if any (shown by the
    /// admin API; the ACL uses `username`, the authenticated one).
    pub(crate) connect_username: Option<ByteString>,
    /// When the socket was accepted (for the admin API).
    pub(crate) opened_at: Instant,
}

impl Conn {
    /// The client id, or the peer address before CONNECT, for log lines.
    pub(crate) fn name(&self) -> String {
        if self.client_id.is_empty() {
            format!("<unknown> ({})", self.info.peer)
        } else {
            self.client_id.to_string()
        }
    }
}

/// Outbound topic aliases (MQTT 5 §3.3.2.3.4), applied to every PUBLISH as
/// it is handed to the shell: the first time a topic goes to the
/// connection it gets the next free alias (first come, first served, up to
/// the client's Topic Alias Maximum, [MQTT-3.3.2-8]) and goes out with
/// topic and alias; after that with an empty topic and the alias. Topics
/// beyond the maximum always go out in full. A packet that would no
/// longer fit the client's Maximum Packet Size goes out without an alias.
pub(crate) fn alias_outbound(conn: &mut Conn, publish: &mut Publish) {
    // Allocated on first use: most connections never get an alias.
    let aliases = conn.aliases_out.get_or_insert_with(Default::default);
    let (alias, known) = match aliases.get(&publish.topic) {
        Some(&alias) => (alias, true),
        None if aliases.len() < usize::from(conn.alias_max_out) => {
            (aliases.len() as u16 + 1, false)
        }
        None => return,
    };
    let mut aliased = publish.clone();
    if known {
        aliased.topic = ByteString::new();
    }
    aliased.properties.push(Property::TopicAlias(alias));
    if conn.max_packet_size != u32::MAX {
        let fits = Packet::Publish(aliased.clone())
            .encoded_len(conn.protocol)
            .is_ok_and(|n| n <= conn.max_packet_size as usize);
        if !fits {
            return;
        }
    }
    if !known {
        conn.aliases_out
            .get_or_insert_with(Default::default)
            .insert(publish.topic.clone(), alias);
    }
    *publish = aliased;
}

/// Drops the Reason String (and User Properties) of a DISCONNECT or
/// CONNACK that would not fit the client's Maximum Packet Size
/// ([MQTT-3.1.2-25], [MQTT-3.14.2-3]): the reason code alone still says why.
pub(crate) fn fit_reason_string(mut packet: Packet, conn: &Conn) -> Packet {
    let fits = |p: &Packet| {
        p.encoded_len(conn.protocol)
            .is_ok_and(|n| n <= conn.max_packet_size as usize)
    };
    if !fits(&packet) {
        match &mut packet {
            Packet::Disconnect(d) => d.properties = Default::default(),
            Packet::ConnAck(c) => c
                .properties
                .retain(|p| !matches!(p, Property::ReasonString(_) | Property::UserProperty(..))),
            _ => {}
        }
    }
    packet
}
