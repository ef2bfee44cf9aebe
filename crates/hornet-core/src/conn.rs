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
///
/// An idle connection's whole footprint in the core is this struct, its
/// session and their map slots, so what most connections never use is
/// boxed ([`ConnExtra`], the will, topic aliases, rate buckets: 8 bytes
/// each while absent) and the rest kept small; a unit test pins the size
/// (docs/benchmarks.md, "Memory per idle connection").
#[derive(Debug)]
pub(crate) struct Conn {
    /// The peer's address.
    pub(crate) peer: SocketAddr,
    /// Where the connection is in its life (see `lifecycle`): awaiting
    /// CONNECT, checking its password, authenticating, connected.
    pub(crate) state: ConnState,
    /// The client id for log lines (empty before CONNECT).
    pub(crate) client_id: ByteString,
    /// The authenticated user (`None` for anonymous clients, and for user
    /// names nobody checked because there is no password_file).
    pub(crate) username: Option<ByteString>,
    pub(crate) session: Option<SessionKey>,
    pub(crate) last_seen: Instant,
    /// When the socket was accepted (for the admin API, and the connect's
    /// instant for flapping detection, see `limits`).
    pub(crate) opened_at: Instant,
    /// Packets handed to the shell and not yet reported written.
    pub(crate) unwritten: usize,
    /// Boxed, like the other rarely used parts below: an idle connection
    /// without them pays 8 bytes each.
    pub(crate) will: Option<Box<LastWill>>,
    /// Inbound topic aliases (MQTT 5).
    /// Allocated on first use, like the outbound ones: most clients use
    /// none, and an empty map is 32 bytes in every `Conn`.
    pub(crate) aliases_in: Option<Box<crate::session::IdMap<ByteString>>>,
    /// Outbound topic aliases assigned on this connection, first come first
    /// served up to `alias_max_out`.
    pub(crate) aliases_out: Option<Box<AHashMap<ByteString, u16>>>,
    /// What few connections have (see [`ConnExtra`]).
    extra: Option<Box<ConnExtra>>,
    /// The client's Maximum Packet Size (MQTT 5), else unlimited.
    pub(crate) max_packet_size: u32,
    /// The local port of the listener that accepted it.
    pub(crate) listener_port: u16,
    /// The keep-alive interval in seconds the client got (0: none); see
    /// [`Conn::keep_alive`].
    pub(crate) keep_alive_secs: u16,
    /// The client's Receive Maximum (MQTT 5), else 65535.
    pub(crate) receive_maximum: u16,
    /// The client's Topic Alias Maximum (MQTT 5): aliases Hornet may use
    /// towards it; 0 = none.
    pub(crate) alias_max_out: u16,
    pub(crate) protocol: Protocol,
    /// Its will is recorded in the store (`StoreOp::ConnectedWill`), to be
    /// published after a crash; cleared when the connection ends.
    pub(crate) will_recorded: bool,
    /// The client asked for Reason Strings and User Properties on errors.
    pub(crate) problem_information: bool,
    /// A Mosquitto bridge (protocol level with 0x80, `try_private`): its
    /// subscriptions get No Local and Retain As Published, so what it
    /// bridges in is never echoed back to it.
    pub(crate) bridge: bool,
}

/// The parts of a [`Conn`] that only some listeners or clients give it,
/// in one box that a plain connection does not have.
#[derive(Debug, Default)]
struct ConnExtra {
    /// See [`ConnInfo::cert_username`].
    cert_username: Option<String>,
    /// See [`ConnInfo::anonymous`].
    anonymous: Option<crate::settings::Anonymous>,
    /// See [`ConnInfo::identity_required`].
    identity_required: bool,
    /// See [`ConnInfo::mount_point`].
    mount_point: Option<std::sync::Arc<str>>,
    /// The CONNECT User Name as the client sent it, if any (shown by the
    /// admin API; the ACL uses `username`, the authenticated one).
    connect_username: Option<ByteString>,
    /// Publish rate buckets, when a rate is configured.
    rate: Option<crate::limits::RateState>,
}

impl Conn {
    /// A connection accepted at `now` as `info` says, awaiting its CONNECT
    /// in `state`.
    pub(crate) fn new(info: ConnInfo, state: ConnState, now: Instant) -> Conn {
        let ConnInfo {
            peer,
            listener_port,
            cert_username,
            anonymous,
            identity_required,
            mount_point,
        } = info;
        let plain = cert_username.is_none()
            && anonymous.is_none()
            && !identity_required
            && mount_point.is_none();
        Conn {
            peer,
            state,
            client_id: ByteString::new(),
            username: None,
            session: None,
            last_seen: now,
            opened_at: now,
            unwritten: 0,
            will: None,
            aliases_in: None,
            aliases_out: None,
            extra: (!plain).then(|| {
                Box::new(ConnExtra {
                    cert_username,
                    anonymous,
                    identity_required,
                    mount_point,
                    connect_username: None,
                    rate: None,
                })
            }),
            max_packet_size: u32::MAX,
            listener_port,
            keep_alive_secs: 0,
            receive_maximum: u16::MAX,
            alias_max_out: 0,
            protocol: Protocol::V3_1_1,
            will_recorded: false,
            problem_information: true,
            bridge: false,
        }
    }

    /// The client id, or the peer address before CONNECT, for log lines.
    pub(crate) fn name(&self) -> String {
        if self.client_id.is_empty() {
            format!("<unknown> ({})", self.peer)
        } else {
            self.client_id.to_string()
        }
    }

    /// Keep-alive as enforced: 1.5 times the interval ([MQTT-3.1.2-24]).
    pub(crate) fn keep_alive(&self) -> Option<Duration> {
        (self.keep_alive_secs > 0)
            .then(|| Duration::from_millis(u64::from(self.keep_alive_secs) * 1500))
    }

    /// The user name a verified TLS client certificate gives this
    /// connection (see [`ConnInfo::cert_username`]).
    pub(crate) fn cert_username(&self) -> Option<&String> {
        self.extra.as_ref()?.cert_username.as_ref()
    }

    /// The listener's anonymous policy, when it has its own.
    pub(crate) fn anonymous(&self) -> Option<crate::settings::Anonymous> {
        self.extra.as_ref()?.anonymous
    }

    /// Whether the listener takes the user name from the client
    /// certificate (see [`ConnInfo::identity_required`]).
    pub(crate) fn identity_required(&self) -> bool {
        self.extra.as_ref().is_some_and(|e| e.identity_required)
    }

    /// The listener's `mount_point` (see `mount_point.rs`).
    pub(crate) fn mount_point(&self) -> Option<&std::sync::Arc<str>> {
        self.extra.as_ref()?.mount_point.as_ref()
    }

    /// The CONNECT User Name as the client sent it, if any.
    pub(crate) fn connect_username(&self) -> Option<&ByteString> {
        self.extra.as_ref()?.connect_username.as_ref()
    }

    /// Records the CONNECT User Name (for the admin API).
    pub(crate) fn set_connect_username(&mut self, name: Option<ByteString>) {
        if name.is_some() || self.extra.is_some() {
            self.extra_mut().connect_username = name;
        }
    }

    /// The publish rate buckets, when a rate is configured.
    pub(crate) fn rate_mut(&mut self) -> Option<&mut crate::limits::RateState> {
        self.extra.as_mut()?.rate.as_mut()
    }

    /// Whether a publish rate applies to this connection.
    pub(crate) fn has_rate(&self) -> bool {
        self.extra.as_ref().is_some_and(|e| e.rate.is_some())
    }

    /// Sets the publish rate buckets (`None`: no rate configured).
    pub(crate) fn set_rate(&mut self, rate: Option<crate::limits::RateState>) {
        if rate.is_some() || self.extra.is_some() {
            self.extra_mut().rate = rate;
        }
    }

    /// The extra parts, allocated on first use.
    fn extra_mut(&mut self) -> &mut ConnExtra {
        self.extra.get_or_insert_with(Default::default)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_connection_boxes_nothing() {
        // Its size is pinned with the session's (`broker::size_tests`).
        let plain = Conn::new(
            ConnInfo::new(([127, 0, 0, 1], 1883).into(), 1883),
            ConnState::new(Instant::now()),
            Instant::now(),
        );
        assert!(plain.extra.is_none(), "a plain listener's connection");
        assert_eq!(plain.keep_alive(), None);
    }

    #[test]
    fn the_rare_parts_read_back_as_given() {
        let info = ConnInfo {
            cert_username: Some("alice".into()),
            mount_point: Some("site/".into()),
            ..ConnInfo::new(([127, 0, 0, 1], 1883).into(), 8883)
        };
        let mut conn = Conn::new(info, ConnState::new(Instant::now()), Instant::now());
        assert_eq!(conn.cert_username().map(String::as_str), Some("alice"));
        assert_eq!(conn.mount_point().map(|m| &**m), Some("site/"));
        assert_eq!(conn.listener_port, 8883);
        assert!(!conn.identity_required());
        conn.set_connect_username(Some("bob".into()));
        assert_eq!(conn.connect_username().map(|u| &**u), Some("bob"));
        conn.keep_alive_secs = 60;
        // [MQTT-3.1.2-24]: one and a half times the interval.
        assert_eq!(conn.keep_alive(), Some(Duration::from_secs(90)));
        let mut plain = Conn::new(
            ConnInfo::new(([127, 0, 0, 1], 1883).into(), 1883),
            ConnState::new(Instant::now()),
            Instant::now(),
        );
        plain.set_connect_username(None);
        assert!(plain.extra.is_none(), "no user name: still nothing boxed");
        plain.set_connect_username(Some("carol".into()));
        assert_eq!(plain.connect_username().map(|u| &**u), Some("carol"));
    }
}
