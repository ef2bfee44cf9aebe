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
//! [`Broker`] is the coordinator: it owns the parts of the core, each of
//! which keeps its own state behind a narrow interface and imports no
//! broker (`connections`, `sessions`, `route` for the subscription index,
//! `retained`, `shared`, `wills`, `limits`, `sys`, `persist`'s `Journal`,
//! `out`), and sequences the MQTT rules across them. The rules are `impl
//! Broker` blocks in sibling modules, one concern each: `connect`
//! (CONNECT, takeover, session resume), `authenticate` (password verdicts,
//! enhanced authentication), `publish` (inbound QoS flows, routing,
//! delivery and the outbound window), `subscribe`, `ending` (the end of
//! connections and sessions: wills, detach, removal, shared hand-over),
//! `timers` (deadlines and `$SYS`), `records` (persistence records,
//! snapshot, restore), `durable` (output held for the disk) and `admin`.
//! This file holds the inputs, the dispatch of a packet by the
//! connection's state, the publish rate verdict, the ACL question and the
//! answer to a [`PeerError`].

use std::time::{Duration, Instant};

use hornet_codec::{ConnAck, DecodeError, Disconnect, Packet, Property, Protocol, ReasonCode};

pub(crate) use crate::conn::fit_reason_string;
use crate::conn::{CloseCause, ConnInfo};
pub(crate) use crate::conn::{Conn, ConnId};
use crate::connections::Connections;
use crate::lifecycle::ConnState;
use crate::logfmt;
use crate::out::{Action, Out};
use crate::retained::RetainedStore;
use crate::route::Subscriptions;
use crate::sessions::Sessions;
use crate::settings::{RateAction, Settings};
use crate::sys::{ListenerFigures, Stats, StoreFigures, Sys};
use crate::violation::PeerError;
use crate::wills::DelayedWills;

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

/// The broker: the parts of the core (connections, sessions, the
/// subscription index, retained messages, shared groups, wills, limits,
/// `$SYS`, the journal and the output) and the rules that join them.
#[derive(Debug)]
pub struct Broker {
    pub(crate) settings: Settings,
    /// Live connections, their deadlines and count (see `connections`).
    pub(crate) conns: Connections,
    /// Plain subscriptions by filter, and routing's scratch (see `route`).
    pub(crate) subs: Subscriptions,
    pub(crate) retained: RetainedStore<crate::retained::Retained>,
    /// Stamps retained writes (see `stamp`, `retained_order`).
    pub(crate) hlc: crate::stamp::Hlc,
    /// Deletes of retained topics remembered in a cluster (see `tombstones`).
    pub(crate) tombstones: crate::tombstones::Tombstones,
    /// Sessions by key and by client id, and their expiry (see `sessions`).
    pub(crate) sessions: Sessions,
    pub(crate) out: Out,
    /// Checks passwords and runs enhanced authentication (see `auth`).
    pub(crate) authenticator: Option<std::sync::Arc<dyn crate::auth::Authenticator>>,
    /// Recent connects by client id (see `limits`).
    pub(crate) limits: crate::limits::Limits,
    /// Decides topic access (see `authorize`).
    pub(crate) authorizer: Option<std::sync::Arc<dyn crate::authorize::Authorizer>>,
    pub(crate) stats: Stats,
    /// Causes of refusals and drops already explained by a hint (see `hints`).
    pub(crate) hints: crate::hints::Hints,
    /// `$SYS`: what was published, the start, the shell's figures.
    pub(crate) sys: Sys,
    /// The time the latest input carried (for paths without a `now` of
    /// their own, such as `packets_written`).
    pub(crate) now: Instant,
    /// Wills waiting for their Will Delay Interval (see `wills`).
    pub(crate) delayed_wills: DelayedWills,
    /// Shared subscription groups (`$share/...`, `$queue/...`).
    pub(crate) shared: crate::shared::SharedSubscriptions,
    /// Claims on exclusive subscriptions (`$exclusive/...`).
    pub(crate) exclusive: crate::exclusive::Exclusive,
    /// Which subscriptions are `$local/` (see `local_marks`).
    pub(crate) local_marks: crate::local_marks::LocalMarks,
    /// Messages held for delayed publish (`$delayed/...`).
    pub(crate) delayed: crate::delayed::Delayed,
    /// The queue policy of a message by its topic.
    pub(crate) queue_policies: crate::queue_policy::QueuePolicies,
    /// Topic rewrite rules, compiled.
    pub(crate) rewrite: crate::rewrite::Rewriter,
    /// Changes to durable state not yet drained (see `persist`).
    pub(crate) journal: crate::persist::Journal,
    /// CONNECTs waiting for the connection they take over (see `takeover`).
    pub(crate) takeovers: crate::takeovers::Takeovers,
    /// The cluster this node is part of, if any (see `cluster`).
    pub(crate) cluster: Option<Box<crate::cluster::Cluster>>,
    /// Emit a fan-out's plain QoS 0 copies as one `Action::SendMany`
    /// (see [`Broker::send_many`]).
    pub(crate) send_many: bool,
    /// Read-side flow control under floods (see `backlog`).
    pub(crate) backlog: crate::backlog::Backlog,
}

impl Broker {
    /// A broker with no clients, started at `now`.
    pub fn new(settings: Settings, now: Instant) -> Broker {
        let settings_shared = (
            settings.shared_strategy,
            settings.shared_group_strategies.clone(),
            settings.queue_policy,
            settings.queue_policies.clone(),
            settings.rewrite.clone(),
        );
        Broker {
            sys: Sys::new(now),
            settings,
            conns: Connections::new(now),
            subs: Subscriptions::new(),
            retained: RetainedStore::new(),
            hlc: Default::default(),
            tombstones: Default::default(),
            sessions: Sessions::default(),
            out: Out::default(),
            authenticator: None,
            authorizer: None,
            limits: crate::limits::Limits::new(now),
            stats: Stats::default(),
            hints: Default::default(),
            now,
            delayed_wills: DelayedWills::default(),
            shared: crate::shared::SharedSubscriptions::new(settings_shared.0, settings_shared.1),
            journal: Default::default(),
            takeovers: Default::default(),
            exclusive: Default::default(),
            local_marks: Default::default(),
            delayed: Default::default(),
            queue_policies: crate::queue_policy::QueuePolicies::new(
                settings_shared.2,
                &settings_shared.3,
            ),
            rewrite: crate::rewrite::Rewriter::new(&settings_shared.4),
            cluster: None,
            send_many: false,
            backlog: Default::default(),
        }
    }

    /// Emits the copies of a QoS 0 message that go out the same to
    /// several connections (no properties, no per-connection shape) as one
    /// [`Action::SendMany`](crate::Action::SendMany) instead of one
    /// `Send` each: the message is shaped once, and the shell encodes it
    /// once per protocol version for all of them. Off by default; what
    /// each connection receives, and in which order, is the same either
    /// way.
    pub fn send_many(&mut self, on: bool) {
        self.send_many = on;
    }

    /// The settings the broker runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The next action for the shell, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.out.nothing_ready() {
            self.seal();
        }
        self.out.pop_ready()
    }

    /// Moves every pending action into `into` (cheaper than polling one by one).
    pub fn drain_actions(&mut self, into: &mut Vec<Action>) {
        self.seal();
        self.out.drain_ready(into);
    }

    /// Connected clients (past CONNACK). A count the table keeps, not a
    /// walk: the dashboard and `/metrics` ask for it every few seconds,
    /// and walking 19,000 parked connections cost about 100 ms of CPU
    /// each time (a cache miss per connection).
    pub fn clients_connected(&self) -> usize {
        self.conns.active()
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
        let session = &self.sessions[&self.sessions.key_of(client_id)?];
        Some(QueueState {
            queued: session.queue.len(),
            dropped: session.dropped,
            dropping: session.drop_episode().is_some(),
        })
    }

    /// Messages dropped for `client_id` because its queue was full.
    pub fn dropped_for(&self, client_id: &str) -> Option<u64> {
        let key = self.sessions.key_of(client_id)?;
        Some(self.sessions[&key].dropped)
    }

    /// Counters since start.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Lets the core check topic access with `authorizer` (an ACL). May be
    /// called again at any time (a reload): the new rules apply to every
    /// client's next PUBLISH, SUBSCRIBE and delivery.
    pub fn set_authorizer(&mut self, authorizer: Box<dyn crate::authorize::Authorizer>) {
        self.authorizer = Some(std::sync::Arc::from(authorizer));
    }

    /// Removes the authorizer: every client may use every topic again
    /// (except `$SYS` for publishing).
    pub fn clear_authorizer(&mut self) {
        self.authorizer = None;
    }

    /// Whether an authorizer is configured.
    pub fn has_authorizer(&self) -> bool {
        self.authorizer.is_some()
    }

    /// Asks the authorizer; `Ok` without one.
    pub(crate) fn authorize(
        &self,
        client_id: &str,
        username: Option<&str>,
        topic: &str,
        access: crate::authorize::Access,
    ) -> Result<(), crate::authorize::Denied> {
        match &self.authorizer {
            None => Ok(()),
            Some(a) => a.authorize(
                crate::authorize::Principal {
                    client_id,
                    username,
                },
                topic,
                access,
            ),
        }
    }

    /// Hands in the listeners' connection counters (the shell calls this on
    /// its tick); the next `$SYS` publication carries them under
    /// `$SYS/broker/listeners/<kind>/<port>/...`.
    pub fn set_listener_figures(&mut self, figures: &[ListenerFigures]) {
        self.sys.set_listener_figures(figures);
    }

    /// Hands in the durable store's figures (the shell calls this on its
    /// tick when persistence is on); the next `$SYS` publication carries
    /// them under `$SYS/broker/store/...`.
    pub fn set_store_figures(&mut self, figures: StoreFigures) {
        self.sys.set_store_figures(figures);
    }

    /// The store figures last handed in.
    pub fn store_figures(&self) -> Option<StoreFigures> {
        self.sys.store_figures()
    }

    /// The listener counters last handed in.
    pub fn listener_figures(&self) -> &[ListenerFigures] {
        self.sys.listener_figures()
    }

    /// A socket was accepted. It must send CONNECT within the connect timeout.
    pub fn connection_opened(&mut self, now: Instant, id: ConnId, info: ConnInfo) {
        self.now = now;
        let deadline = now + self.settings.connect_timeout;
        let conn = Conn::new(info, ConnState::new(deadline), now);
        self.conns.open(id, conn, deadline);
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
        self.backlog.feeding(id);
        if let (true, Packet::Publish(_)) = (conn.state.is_connected(), &packet) {
            if conn.has_rate() && !self.note_publish_rate(now, id, wire_len) {
                return; // closed for its rate
            }
        }
        self.dispatch(now, id, packet);
    }

    /// Counts a PUBLISH of `wire_len` bytes against `id`'s rates. Returns
    /// false when the connection was closed for it.
    fn note_publish_rate(&mut self, now: Instant, id: ConnId, wire_len: usize) -> bool {
        let Some(conn) = self.conns.get_mut(&id) else {
            return false;
        };
        let Some(rate) = conn.rate_mut() else {
            return true;
        };
        let Some(over) = rate.take(now, wire_len) else {
            return true;
        };
        match self.settings.publish_rate_action {
            RateAction::Throttle => {
                if rate.begin_episode(now) {
                    self.stats.rate_limited += 1;
                    tracing::warn!(
                        "Client {} publishes faster than {}: reading from it is paused \
                         until it is back under the rate (publish_rate_action throttle).",
                        conn.name(),
                        over.describe(&self.settings)
                    );
                    self.hints
                        .give(crate::hints::Hint::PublishRate, &self.settings);
                }
                true
            }
            RateAction::Disconnect => {
                let error = PeerError::PublishRate(over.describe(&self.settings));
                self.peer_error(now, id, error, None);
                false
            }
        }
    }

    /// How long the shell should stop reading `id`'s socket (`None`: read
    /// on): the client is over a publish rate (ends the episode, for the
    /// log, once it is back under its rates), or what it just sent went to
    /// a subscriber with a draining backlog (see `backlog`). Asked after
    /// every batch of packets fed.
    pub fn read_pause(&mut self, id: ConnId, now: Instant) -> Option<Duration> {
        let sessions = &self.sessions;
        let backlog = self.backlog.pause(
            id,
            now,
            self.settings.backlog_threshold(),
            self.settings.backlog_pause_stall,
            |key| {
                let s = sessions.get(&key)?;
                Some((s.conn?, s.queue.len(), s.queued_bytes, &*s.client_id))
            },
        );
        let rate = self
            .conns
            .get_mut(&id)
            .and_then(|c| c.rate_mut())
            .and_then(|r| r.pause(now));
        backlog.max(rate)
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
                    conn.peer
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
            // The CONNECT waits to take over an older connection (or for
            // the cluster's claim of its client id): so does the rest.
            (ConnState::TakingOver(wait) | ConnState::Claiming(wait), packet) => {
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

    /// Logs `error`, broken by the client on `id`, and answers it as the
    /// module doc says; the connection is closed and forgotten. `protocol`
    /// is the version the decoder had learned, for a CONNECT it refused.
    pub(crate) fn peer_error(
        &mut self,
        now: Instant,
        id: ConnId,
        error: PeerError,
        protocol: Option<Protocol>,
    ) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let reason = error.reason_code();
        let too_large = matches!(error, PeerError::Decode(DecodeError::PacketTooLarge { .. }));
        if too_large {
            self.stats.packets_too_large += 1;
        }
        let connected = conn.state.is_connected();
        if let (false, PeerError::Decode(e)) = (connected, &error) {
            tracing::info!(
                "Bad CONNECT from {} on port {}: {e}; closing the connection.",
                conn.peer,
                conn.listener_port
            );
            if too_large {
                self.hints
                    .give(crate::hints::Hint::PacketTooLarge, &self.settings);
            }
            let answer = match e {
                // [MQTT-3.1.2-2]: CONNACK 0x01 (3.x) / 0x84 (5.0), then close.
                DecodeError::UnsupportedProtocolLevel(_) => {
                    Some(ReasonCode::UnsupportedProtocolVersion)
                }
                // [MQTT-3.1.2-1]: not MQTT at all; close without a word.
                DecodeError::InvalidProtocolName { .. } => None,
                _ if protocol == Some(Protocol::V5) => Some(reason),
                _ => None,
            };
            if let Some(code) = answer {
                if let Some(p) = protocol {
                    conn.protocol = p;
                }
                let connack = ConnAck::new(code, false);
                self.out.send(id, conn, &mut self.stats, connack.into());
            }
            self.conns.remove(&id);
            self.out.close(id);
            return;
        }
        if let ConnState::Authenticating(_) = conn.state {
            // Before CONNACK: the exchange ends with CONNACK and the rule.
            let peer = conn.peer;
            if error.is_auth_rule() {
                tracing::warn!(
                    "Client from {peer} broke a protocol rule during authentication: {error}; closing."
                );
            } else {
                tracing::warn!("Client from {peer} broke a protocol rule: {error}; closing.");
            }
            return self.refuse(id, reason, Some(&error.to_string()));
        }
        match &error {
            PeerError::TooManyParked(_) => {
                tracing::warn!("Client from {} {error}; closing.", conn.peer)
            }
            PeerError::PublishRate(_) => {
                self.stats.rate_disconnects += 1;
                tracing::warn!("Client {} {error}; disconnecting (0x96).", conn.name());
                self.hints
                    .give(crate::hints::Hint::PublishRate, &self.settings);
            }
            _ => tracing::warn!(
                "Client {} broke a protocol rule: {error}; disconnecting ({reason}).",
                conn.name()
            ),
        }
        if conn.protocol.is_v5() && connected {
            let mut disconnect = Disconnect::new(reason);
            disconnect
                .properties
                .push(Property::ReasonString(error.to_string().into()));
            let packet = crate::broker::fit_reason_string(disconnect.into(), conn);
            self.out.send(id, conn, &mut self.stats, packet);
        }
        self.end_connection(now, id, true);
        if too_large {
            self.hints
                .give(crate::hints::Hint::PacketTooLarge, &self.settings);
        }
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
        // 312 and 272 until the rarely used parts of `Conn` went into one
        // box (`ConnExtra`) and a session's inflight map and subscriptions
        // became `Rare`: 224-byte allocations rather than 320 and 288.
        assert!(conn <= 216, "Conn is {conn} bytes");
        assert!(session <= 216, "Session is {session} bytes");
    }

    /// The shell's TCP task returns a `CloseCause` from its serving loop:
    /// no larger than the `String` it used to carry.
    #[test]
    fn close_cause_stays_small() {
        let cause = std::mem::size_of::<super::CloseCause>();
        assert!(cause <= 24, "CloseCause is {cause} bytes");
    }
}
