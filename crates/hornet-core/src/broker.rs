//! The broker state machine: its tables, its inputs and its outputs.
//!
//! [`Broker`] is driven from outside. The shell calls one `handle`-style
//! method per event, passing the current time:
//!
//! - [`Broker::connection_opened`]: a socket was accepted;
//! - [`Broker::packet_received`]: a decoded packet arrived on it;
//! - [`Broker::decode_failed`]: the codec refused the peer's bytes;
//! - [`Broker::connection_closed`]: the socket ended (EOF or error);
//! - [`Broker::packets_written`]: packets handed out earlier reached the socket;
//! - [`Broker::tick`]: time passed (keep-alive, expiry, `$SYS`).
//!
//! After each call the shell drains [`Broker::poll_action`]: packets to send
//! on a connection and connections to close (after their pending output).
//! The broker never blocks, never reads a clock and never touches a socket,
//! so every MQTT rule is tested here without a network (see `tests/`).
//!
//! The work is split by concern across sibling modules, each an `impl
//! Broker` block: `connect` (CONNECT, takeover, session resume),
//! `violation` (peer errors, logged and answered in one place),
//! `publish` (inbound QoS flows, routing, delivery and the outbound window),
//! `subscribe`, `timers` (keep-alive, connect timeout, session expiry) and
//! `sys` (`$SYS/broker/...`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytestring::ByteString;
use hornet_codec::{DecodeError, LastWill, Packet, Property, Protocol, Publish};

use crate::lifecycle::ConnState;
use crate::logfmt;
use crate::retained::RetainedStore;
use crate::session::{Session, SessionKey, Subscription};
use crate::settings::Settings;
use crate::sys::{Stats, SysState};
use crate::trie::SubscriptionTree;
use crate::violation::PeerError;

/// A connection's identity, chosen by the shell and unique for the
/// broker's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

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

/// What the broker asks the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Encode `packet` in the connection's protocol version and write it.
    Send {
        /// The connection.
        conn: ConnId,
        /// The packet.
        packet: Packet,
    },
    /// Write what is pending on the connection, then close it. The broker
    /// has already forgotten the connection.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Run this CONNECT password check off the core's lock (it may take
    /// 100 ms) and report the verdict with [`Broker::password_checked`].
    CheckPassword {
        /// The connection whose CONNECT waits for the verdict.
        conn: ConnId,
        /// The check to run.
        check: crate::auth::PasswordCheck,
    },
    /// Write these records to the store, in order after every earlier
    /// `Persist`, and report [`Broker::durable`] (or
    /// [`Broker::persist_failed`]) with `seq` once they are on disk (or
    /// could not be written). Packets that promise what they hold wait in
    /// the core meanwhile (see `durable`).
    Persist {
        /// Sequence number: one more than the previous `Persist`'s.
        seq: u64,
        /// The records, in the order the core made the changes.
        records: Vec<crate::persist::StoreOp>,
    },
}

/// A session's queue as seen from outside (see [`Broker::queue_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueState {
    /// Messages waiting (behind the inflight window, or while offline).
    pub queued: usize,
    /// Messages dropped because the queue was full, over the session's life.
    pub dropped: u64,
    /// A drop episode is under way (it was logged; it ends when the queue
    /// is empty again).
    pub dropping: bool,
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

/// Pending actions plus the counters every send updates.
#[derive(Debug, Default)]
pub(crate) struct Out {
    /// Emitted since the last seal (see `durable`).
    pub(crate) actions: VecDeque<Action>,
    /// Sealed: for the shell, in order.
    pub(crate) ready: VecDeque<Action>,
    /// Packets waiting for their records to be durable.
    pub(crate) held: crate::durable::Held,
}

impl Out {
    /// Queues `packet` for `conn` and counts it.
    pub(crate) fn send(&mut self, id: ConnId, conn: &mut Conn, stats: &mut Stats, packet: Packet) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!("{}", logfmt::line("Sending", &packet, "to", &conn.name()));
        }
        conn.unwritten += 1;
        stats.messages_sent += 1;
        let mut packet = packet;
        if let Packet::Publish(publish) = &mut packet {
            stats.publish_sent += 1;
            stats.publish_sent_by_qos[publish.qos as usize] += 1;
            if conn.alias_max_out > 0 {
                crate::publish::alias_outbound(conn, publish);
            }
        }
        if let Packet::Publish(publish) = &packet {
            // The PUBLISH as it will be encoded for this client (after the
            // topic alias), the same measure as `wire_len` on receipt.
            let len = packet.encoded_len(conn.protocol).unwrap_or(0);
            stats.publish_bytes_sent_by_qos[publish.qos as usize] += len as u64;
        }
        self.actions.push_back(Action::Send { conn: id, packet });
    }

    pub(crate) fn close(&mut self, conn: ConnId) {
        self.actions.push_back(Action::Close { conn });
    }

    pub(crate) fn check_password(&mut self, conn: ConnId, check: crate::auth::PasswordCheck) {
        self.actions
            .push_back(Action::CheckPassword { conn, check });
    }
}

/// The broker: sessions, subscriptions, retained messages and connections.
#[derive(Debug)]
pub struct Broker {
    pub(crate) settings: Settings,
    /// Boxed, as are `sessions`: the maps grow in powers of two, and an
    /// entry held inline would cost its size in every empty slot too (about
    /// 1 KiB per idle client measured; boxed, a slot is 16 bytes).
    pub(crate) conns: AHashMap<ConnId, Box<Conn>>,
    pub(crate) sessions: AHashMap<SessionKey, Box<Session>>,
    pub(crate) by_client_id: AHashMap<ByteString, SessionKey>,
    pub(crate) next_session: SessionKey,
    pub(crate) next_assigned_id: u64,
    pub(crate) subs: SubscriptionTree<SessionKey, Subscription>,
    pub(crate) retained: RetainedStore<crate::publish::Retained>,
    /// Connection deadlines, checked lazily (entries may be stale).
    pub(crate) conn_timers: BinaryHeap<Reverse<(Instant, ConnId)>>,
    /// Session expiry deadlines, checked lazily.
    pub(crate) session_timers: BinaryHeap<Reverse<(Instant, SessionKey)>>,
    pub(crate) out: Out,
    /// Checks passwords and runs enhanced authentication (see `auth`).
    pub(crate) authenticator: Option<std::sync::Arc<dyn crate::auth::Authenticator>>,
    /// Recent connects by client id (see `limits`).
    pub(crate) flapping: crate::limits::Flapping,
    /// When `flapping` was last pruned.
    pub(crate) flapping_pruned: Instant,
    /// Decides topic access (see `authorize`).
    pub(crate) authorizer: Option<std::sync::Arc<dyn crate::authorize::Authorizer>>,
    pub(crate) stats: Stats,
    /// Causes of refusals and drops already explained by a hint (see `hints`).
    pub(crate) hints: crate::hints::Hints,
    pub(crate) sys: SysState,
    pub(crate) started: Instant,
    /// Connections past CONNECT.
    pub(crate) active_clients: usize,
    /// Scratch space for routing: one entry per matched session.
    pub(crate) route_targets: AHashMap<SessionKey, crate::publish::Target>,
    /// Scratch space for routing: the matched sessions in delivery order.
    pub(crate) route_list: Vec<(SessionKey, crate::publish::Target)>,
    /// The time the latest input carried (for paths without a `now` of
    /// their own, such as `packets_written`).
    pub(crate) now: Instant,
    /// Wills waiting for their Will Delay Interval, by session, with the
    /// instant they are due ([MQTT-3.1.3-9]).
    pub(crate) delayed_wills: AHashMap<SessionKey, (Instant, LastWill)>,
    /// Delayed will deadlines, checked lazily.
    pub(crate) will_timers: BinaryHeap<Reverse<(Instant, SessionKey)>>,
    /// Shared subscription groups (`$share/...`, `$queue/...`).
    pub(crate) shared: crate::shared::SharedSubscriptions,
    /// Scratch space for routing: the matched shared subscription groups.
    pub(crate) route_groups: Vec<crate::shared::GroupId>,
    /// Changes to durable state not yet drained (see `persist`).
    pub(crate) journal: crate::persist::Journal,
}

impl Broker {
    /// A broker with no clients, started at `now`.
    pub fn new(settings: Settings, now: Instant) -> Broker {
        let settings_shared = (
            settings.shared_strategy,
            settings.shared_group_strategies.clone(),
        );
        Broker {
            sys: SysState::new(now),
            settings,
            conns: AHashMap::new(),
            sessions: AHashMap::new(),
            by_client_id: AHashMap::new(),
            next_session: 1,
            next_assigned_id: 1,
            subs: SubscriptionTree::new(),
            retained: RetainedStore::new(),
            conn_timers: BinaryHeap::new(),
            session_timers: BinaryHeap::new(),
            out: Out::default(),
            authenticator: None,
            authorizer: None,
            flapping: Default::default(),
            flapping_pruned: now,
            stats: Stats::default(),
            hints: Default::default(),
            started: now,
            active_clients: 0,
            // Fixed seeds: the order sessions are served in is the same on
            // every run, so the core stays deterministic end to end.
            route_targets: AHashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4)),
            route_list: Vec::new(),
            now,
            delayed_wills: AHashMap::new(),
            will_timers: BinaryHeap::new(),
            shared: crate::shared::SharedSubscriptions::new(settings_shared.0, settings_shared.1),
            route_groups: Vec::new(),
            journal: Default::default(),
        }
    }

    /// The settings the broker runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The next action for the shell, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.out.ready.is_empty() {
            self.seal();
        }
        self.out.ready.pop_front()
    }

    /// Moves every pending action into `into` (cheaper than polling one by one).
    pub fn drain_actions(&mut self, into: &mut Vec<Action>) {
        self.seal();
        into.extend(self.out.ready.drain(..));
    }

    /// Connected clients.
    pub fn clients_connected(&self) -> usize {
        self.conns
            .values()
            .filter(|c| c.state.is_connected())
            .count()
    }

    /// Sessions, connected or not.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Subscriptions across all sessions.
    pub fn subscription_count(&self) -> usize {
        self.subs.len() + self.shared.len()
    }

    /// Retained messages.
    pub fn retained_count(&self) -> usize {
        self.retained.len()
    }

    /// The queue of `client_id`'s session: waiting messages, messages
    /// dropped over its life, and whether a drop episode is under way.
    pub fn queue_state(&self, client_id: &str) -> Option<QueueState> {
        let session = &self.sessions[self.by_client_id.get(client_id)?];
        Some(QueueState {
            queued: session.queue.len(),
            dropped: session.dropped,
            dropping: session.dropping.is_some(),
        })
    }

    /// Messages dropped for `client_id` because its queue was full.
    pub fn dropped_for(&self, client_id: &str) -> Option<u64> {
        let key = self.by_client_id.get(client_id)?;
        Some(self.sessions[key].dropped)
    }

    /// Counters since start.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// A socket was accepted. It must send CONNECT within the connect timeout.
    pub fn connection_opened(&mut self, now: Instant, id: ConnId, info: ConnInfo) {
        self.now = now;
        let deadline = now + self.settings.connect_timeout;
        self.conns.insert(
            id,
            Box::new(Conn {
                info,
                state: ConnState::new(deadline),
                client_id: ByteString::new(),
                connect_username: None,
                protocol: Protocol::V3_1_1,
                session: None,
                keep_alive: None,
                last_seen: now,
                will: None,
                will_recorded: false,
                unwritten: 0,
                receive_maximum: u16::MAX,
                max_packet_size: u32::MAX,
                aliases_in: None,
                problem_information: true,
                alias_max_out: 0,
                aliases_out: None,
                rate: None,
                username: None,
                opened_at: now,
            }),
        );
        self.conn_timers.push(Reverse((deadline, id)));
        self.stats.connections_total += 1;
    }

    /// A packet arrived on `id`; `wire_len` is its size on the wire.
    pub fn packet_received(&mut self, now: Instant, id: ConnId, packet: Packet, wire_len: usize) {
        self.now = now;
        self.stats.messages_received += 1;
        self.stats.bytes_received += wire_len as u64;
        if let Packet::Publish(publish) = &packet {
            self.stats.publish_received_by_qos[publish.qos as usize] += 1;
            self.stats.publish_bytes_received_by_qos[publish.qos as usize] += wire_len as u64;
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return; // already closed by the broker; late bytes are ignored
        };
        conn.last_seen = now;
        if let (true, Packet::Publish(_)) = (conn.state.is_connected(), &packet) {
            if conn.rate.is_some() && !self.note_publish_rate(now, id, wire_len) {
                return; // closed for its rate
            }
        }
        self.dispatch(now, id, packet);
    }

    /// Handles one packet of a live connection by its type and the
    /// connection's state (see `lifecycle`); a packet the state does not
    /// allow is a [`PeerError`].
    pub(crate) fn dispatch(&mut self, now: Instant, id: ConnId, packet: Packet) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let connected = conn.state.is_connected();
        if tracing::enabled!(tracing::Level::DEBUG) && connected {
            tracing::debug!(
                "{}",
                logfmt::line("Received", &packet, "from", &conn.name())
            );
        }
        let error = match (&mut conn.state, packet) {
            // [MQTT-3.1.2-30]: during the exchange only AUTH and DISCONNECT.
            (ConnState::Authenticating(_), Packet::Auth(auth)) => {
                return self.handle_auth(now, id, auth)
            }
            (ConnState::Authenticating(_), Packet::Disconnect(_)) => {
                tracing::info!(
                    "Client from {} disconnected during authentication.",
                    conn.info.peer
                );
                return self.end_connection(now, id, false);
            }
            (ConnState::Authenticating(_), other) => {
                PeerError::PacketDuringAuth(other.packet_type())
            }
            // The CONNECT waits for its password check: so does the rest.
            (ConnState::CheckingPassword(wait), packet) => {
                if wait.parked.len() < crate::auth::MAX_PARKED {
                    return wait.parked.push(packet);
                }
                PeerError::TooManyParked(crate::auth::MAX_PARKED)
            }
            (ConnState::AwaitingConnect { .. }, Packet::Connect(connect)) => {
                return self.handle_connect(now, id, *connect)
            }
            // The codec refuses this first; kept for callers without it.
            (ConnState::AwaitingConnect { .. }, other) => {
                PeerError::FirstNotConnect(other.packet_type())
            }
            (ConnState::Connected { .. }, packet) => match packet {
                Packet::Connect(_) => PeerError::SecondConnect,
                Packet::Publish(publish) => return self.handle_publish(now, id, publish),
                Packet::PubAck(ack) => return self.handle_puback(id, ack),
                Packet::PubRec(ack) => return self.handle_pubrec(id, ack),
                Packet::PubRel(ack) => return self.handle_pubrel(id, ack),
                Packet::PubComp(ack) => return self.handle_pubcomp(id, ack),
                Packet::Subscribe(sub) => return self.handle_subscribe(now, id, sub),
                Packet::Unsubscribe(unsub) => return self.handle_unsubscribe(id, unsub),
                Packet::PingReq => {
                    let conn = self.conns.get_mut(&id).expect("checked above");
                    return self.out.send(id, conn, &mut self.stats, Packet::PingResp);
                }
                Packet::Disconnect(disconnect) => {
                    return self.handle_disconnect(now, id, disconnect)
                }
                Packet::Auth(auth) => return self.handle_auth(now, id, auth),
                other => PeerError::ServerOnlyPacket(other.packet_type()),
            },
        };
        self.peer_error(now, id, error, None);
    }

    /// The codec refused the bytes of `id`. `protocol` is the version the
    /// decoder had learned, if any. Answered by [`Broker::peer_error`].
    pub fn decode_failed(
        &mut self,
        now: Instant,
        id: ConnId,
        error: &DecodeError,
        protocol: Option<Protocol>,
    ) {
        self.now = now;
        self.peer_error(now, id, PeerError::Decode(error.clone()), protocol);
    }

    /// The socket of `id` ended. Without a DISCONNECT first this is an
    /// abnormal close and the will is published ([MQTT-3.1.2-8]).
    pub fn connection_closed(&mut self, now: Instant, id: ConnId, cause: CloseCause) {
        self.now = now;
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        if conn.state.is_connected() {
            match &cause {
                CloseCause::PeerClosed => {
                    tracing::info!("Client {} closed its connection.", conn.name())
                }
                CloseCause::Io { message: e, .. } => {
                    tracing::info!(
                        "Socket error on client {}, disconnecting ({e}).",
                        conn.name()
                    )
                }
                CloseCause::Shutdown => {}
            }
        }
        self.end_connection(now, id, true);
        // The socket is gone already; the close action only releases it.
    }

    /// The shell wrote `packets` earlier-sent packets to `id`'s socket.
    pub fn packets_written(&mut self, id: ConnId, packets: usize, bytes: usize) {
        self.stats.bytes_sent += bytes as u64;
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let was_full = conn.unwritten >= self.settings.max_unwritten_packets;
        conn.unwritten = conn.unwritten.saturating_sub(packets);
        if was_full {
            if let Some(key) = conn.session {
                self.flush(key);
            }
        }
    }

    /// Forgets connection `id`: publishes its will when `abnormal`, detaches
    /// or ends its session, and asks the shell to close the socket.
    pub(crate) fn end_connection(&mut self, now: Instant, id: ConnId, abnormal: bool) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        self.out.close(id);
        if !conn.state.is_connected() {
            return;
        }
        self.active_clients -= 1;
        // However it ended, the crash-time will record is void: the will is
        // published, delayed (`WillSet`) or discarded below.
        if let (true, Some(key)) = (conn.will_recorded, conn.session) {
            self.persist_connected_will(key, None);
        }
        // Detach first: the will may match the client's own subscriptions,
        // and must then be queued for the session, not sent on a connection
        // that no longer exists.
        if let Some(key) = conn.session {
            self.detach_session(now, key, id);
        }
        if abnormal {
            // The rules may have changed since CONNECT (a reload).
            let mut conn = conn;
            let will = conn.will.take().map(|w| *w).filter(|will| {
                let verdict = self.authorize(
                    &conn.client_id,
                    conn.username.as_deref(),
                    &will.topic,
                    crate::authorize::Access::Write,
                );
                if let Err(why) = &verdict {
                    self.stats.acl_denied_publish += 1;
                    tracing::info!(
                        "Not publishing the will of {} to '{}': {why}.",
                        conn.name(),
                        will.topic
                    );
                    self.hints
                        .give(crate::hints::Hint::AclDenied, &self.settings);
                }
                verdict.is_ok()
            });
            if let Some(will) = will {
                // MQTT 5 §3.1.2.11.2 / [MQTT-3.1.3-9]: a Will Delay Interval
                // holds the will back while the session lives on; a
                // session that ended with the connection publishes it now.
                let delay = will.properties.will_delay_interval().unwrap_or(0);
                match conn.session {
                    Some(key) if delay > 0 && self.sessions.contains_key(&key) => {
                        let at = now + Duration::from_secs(u64::from(delay));
                        self.persist_will(key, delay, &will);
                        self.delayed_wills.insert(key, (at, will));
                        self.will_timers.push(Reverse((at, key)));
                    }
                    _ => self.publish_will(now, will),
                }
            }
        }
    }

    /// Publishes the delayed will of session `key`, if one is waiting.
    pub(crate) fn publish_delayed_will(&mut self, key: SessionKey) {
        if let Some((_, will)) = self.delayed_wills.remove(&key) {
            self.persist_will_cleared(key);
            self.publish_will(self.now, will);
        }
    }

    /// Publishes a will message as if its client had sent it.
    pub(crate) fn publish_will(&mut self, now: Instant, will: LastWill) {
        let mut publish = Publish::new(will.topic, will.payload);
        publish.qos = will.qos;
        publish.retain = will.retain;
        publish.properties = will.properties;
        publish
            .properties
            .retain(|p| !matches!(p, Property::WillDelayInterval(_)));
        self.accept_publish(now, publish, None);
    }

    /// The connection of session `key` ended: keep the session (persistent)
    /// or forget it (clean, or expiry 0).
    fn detach_session(&mut self, now: Instant, key: SessionKey, conn: ConnId) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        if session.conn != Some(conn) {
            return; // taken over: the session belongs to the new connection
        }
        session.conn = None;
        session.disconnected_at = Some(now);
        if session.expiry_interval == 0 {
            self.remove_session(key);
            return;
        }
        if !self.settings.queue_qos0_messages {
            session.discard_queued_qos0();
        }
        // Its record now says since when it is offline (wall clock), so a
        // restart counts the expiry from there.
        if session.persisted {
            self.journal.touch(key);
        }
        if session.expiry_interval != crate::session::NEVER_EXPIRES {
            let at = now + Duration::from_secs(u64::from(session.expiry_interval));
            self.session_timers.push(Reverse((at, key)));
        }
        self.hand_over_shared(key, false);
    }

    /// Deletes a session and its subscriptions.
    pub(crate) fn remove_session(&mut self, key: SessionKey) {
        self.hand_over_shared(key, true);
        let Some(session) = self.sessions.remove(&key) else {
            return;
        };
        if session.persisted {
            self.journal
                .push(crate::persist::StoreOp::SessionRemoved { session: key });
        }
        for filter in session.subscriptions.keys() {
            match crate::shared::split(filter) {
                Some(name) => {
                    self.shared.unsubscribe(&name, key);
                }
                None => {
                    self.subs.remove(filter, key);
                }
            }
        }
        if self.by_client_id.get(&session.client_id) == Some(&key) {
            self.by_client_id.remove(&session.client_id);
        }
        if session.dropped > 0 {
            tracing::info!(
                "Session of {} ended; {} messages had been dropped for it over its life.",
                session.client_id,
                session.dropped
            );
        }
        // The session ended before its will's delay: the will goes now.
        self.publish_delayed_will(key);
    }
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

#[cfg(all(test, target_pointer_width = "64"))]
mod size_tests {
    /// Every idle client holds one `Conn` and one `Session`: what makes
    /// them larger costs ~19 MB at 19,000 idle clients
    /// (docs/benchmarks.md, `conns`). Rarely used parts belong behind a
    /// `Box` or an `Option<Box<...>>`.
    #[test]
    fn conn_and_session_stay_small() {
        let conn = std::mem::size_of::<super::Conn>();
        let session = std::mem::size_of::<crate::session::Session>();
        eprintln!(
            "SIZES conn={conn} session={session} state={}",
            std::mem::size_of::<crate::lifecycle::ConnState>()
        );
        assert!(conn <= 336, "Conn is {conn} bytes");
        assert!(session <= 272, "Session is {session} bytes");
    }

    /// The shell's TCP task returns a `CloseCause` from its serving loop:
    /// no larger than the `String` it used to carry.
    #[test]
    fn close_cause_stays_small() {
        let cause = std::mem::size_of::<super::CloseCause>();
        assert!(cause <= 24, "CloseCause is {cause} bytes");
    }
}
