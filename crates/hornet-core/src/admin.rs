//! What the admin API asks of the core: snapshots of its tables and the
//! commands an operator may give.
//!
//! Snapshots ([`Broker::admin_clients`], [`Broker::admin_client`],
//! [`Broker::admin_subscriptions`], [`Broker::admin_topic_tree`],
//! [`Broker::admin_retained`]) copy out plain data, so the shell holds the
//! core's lock only while copying and sorts, pages, filters and serializes
//! outside it. Lists therefore come in no particular order, and ids are
//! `ByteString`s (a reference count, not a copy). Times are `Instant`s;
//! the shell turns them into ages.
//!
//! Commands ([`Broker::admin_kick`], [`Broker::admin_discard_session`],
//! [`Broker::admin_delete_retained`], [`Broker::admin_publish`]) are
//! events like any other: they take `now` and emit [`crate::Action`]s.
//! Every command logs a line naming the client or topic and the admin API
//! as its origin.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use hornet_codec::{Disconnect, Properties, Property, Protocol, Publish, QoS, ReasonCode};

use crate::broker::Broker;

/// One row of the client list: a session, connected or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    /// The client identifier.
    pub client_id: ByteString,
    /// Whether a connection is attached to the session.
    pub connected: bool,
    /// The CONNECT User Name of the live connection (none while offline).
    pub username: Option<ByteString>,
    /// The peer address of the live connection.
    pub peer: Option<SocketAddr>,
    /// The local port of the listener the connection came in on.
    pub listener_port: Option<u16>,
    /// The protocol version the session was created with.
    pub protocol: Protocol,
    /// Subscriptions of the session.
    pub subscriptions: usize,
    /// QoS 1/2 messages sent and not yet acknowledged.
    pub inflight: usize,
    /// Messages waiting in the session's queue.
    pub queued: usize,
    /// Messages dropped for this session because its queue was full.
    pub dropped: u64,
    /// When the live connection was accepted.
    pub connected_since: Option<Instant>,
    /// When the last connection ended (offline sessions).
    pub disconnected_since: Option<Instant>,
}

/// One subscription of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    /// The subscribing client.
    pub client_id: ByteString,
    /// The topic filter as subscribed (with `$share/NAME/` if shared).
    pub filter: ByteString,
    /// The QoS granted.
    pub qos: QoS,
    /// MQTT 5 No Local.
    pub no_local: bool,
    /// MQTT 5 Retain As Published.
    pub retain_as_published: bool,
    /// MQTT 5 Retain Handling (0, 1 or 2).
    pub retain_handling: u8,
    /// MQTT 5 Subscription Identifier.
    pub identifier: Option<u32>,
}

/// The will of a live connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WillInfo {
    /// Will topic.
    pub topic: String,
    /// Will QoS.
    pub qos: QoS,
    /// Will retain flag.
    pub retain: bool,
    /// Payload size in bytes.
    pub payload_bytes: usize,
    /// MQTT 5 Will Delay Interval, seconds.
    pub delay_interval: u32,
}

/// Everything the admin API shows about one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientDetail {
    /// The list row.
    pub row: ClientRow,
    /// The keep-alive the client asked for (or the server imposed), seconds.
    pub keep_alive: Option<u16>,
    /// Session Expiry Interval in seconds; `u32::MAX` means never.
    pub session_expiry_interval: u32,
    /// Payload bytes waiting in the queue.
    pub queued_bytes: usize,
    /// Inbound QoS 2 messages received and not yet released.
    pub inbound_qos2_pending: usize,
    /// The client's Receive Maximum (MQTT 5; 65535 otherwise).
    pub receive_maximum: Option<u16>,
    /// The client's Maximum Packet Size (MQTT 5; unlimited otherwise).
    pub max_packet_size: Option<u32>,
    /// Packets handed to the socket writer and not yet written.
    pub unwritten_packets: Option<usize>,
    /// The session's subscriptions, sorted by filter.
    pub subscriptions: Vec<SubscriptionRow>,
    /// The will of the live connection.
    pub will: Option<WillInfo>,
    /// What the session's queue does with an arriving message: this
    /// policy, unless a rule of `queue_policies` matches its topic.
    pub queue_policy: crate::QueuePolicy,
    /// The queue policies by topic filter, first match deciding.
    pub queue_policies: Vec<(String, crate::QueuePolicy)>,
}

/// A topic filter in the subscription index with how many sessions use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterCount {
    /// The topic filter (shared ones with their `$share/NAME/` prefix).
    pub filter: String,
    /// Sessions subscribed with it.
    pub subscribers: usize,
}

/// One retained message.
#[derive(Debug, Clone, PartialEq)]
pub struct RetainedRow {
    /// Its topic.
    pub topic: String,
    /// The QoS it was published with.
    pub qos: QoS,
    /// The payload.
    pub payload: Bytes,
    /// Its MQTT 5 properties.
    pub properties: Properties,
    /// When it was stored.
    pub stored: Instant,
}

/// Why an admin command was refused; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// No session with this client id.
    NoSuchClient(String),
    /// The client has a session but no connection.
    NotConnected(String),
    /// The topic or filter is not valid (the reason names the rule).
    InvalidTopic(String),
    /// The broker's settings forbid it (`max_qos`, `retain_available`).
    NotAllowed(String),
    /// A session with this client id exists already.
    SessionExists(String),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::NoSuchClient(id) => write!(f, "no client with id {id:?}"),
            AdminError::NotConnected(id) => write!(f, "client {id:?} is not connected"),
            AdminError::InvalidTopic(why) | AdminError::NotAllowed(why) => f.write_str(why),
            AdminError::SessionExists(id) => write!(f, "client {id:?} has a session already"),
        }
    }
}

impl std::error::Error for AdminError {}

/// What the admin API publishes.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminPublish {
    /// Topic name (no wildcards, not `$SYS/...`).
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
    /// QoS towards subscribers.
    pub qos: QoS,
    /// Whether the message is retained (an empty retained message deletes).
    pub retain: bool,
    /// MQTT 5 PUBLISH properties (user properties, content type, ...).
    pub properties: Properties,
}

impl Broker {
    fn client_row(&self, key: crate::session::SessionKey) -> Option<ClientRow> {
        let session = self.sessions.get(&key)?;
        let conn = session
            .conn
            .and_then(|id| self.conns.get(&id))
            .filter(|c| c.state.is_connected());
        Some(ClientRow {
            client_id: session.client_id.clone(),
            connected: conn.is_some(),
            username: conn.and_then(|c| c.connect_username().cloned()),
            peer: conn.map(|c| c.peer),
            listener_port: conn.map(|c| c.listener_port),
            protocol: session.protocol,
            subscriptions: session.subscriptions.len(),
            inflight: session.inflight.len(),
            queued: session.queue.len(),
            dropped: session.dropped,
            connected_since: conn.map(|c| c.opened_at),
            disconnected_since: if conn.is_some() {
                None
            } else {
                session.disconnected_at
            },
        })
    }

    /// Every session, connected or not, in no particular order.
    pub fn admin_clients(&self) -> Vec<ClientRow> {
        self.sessions
            .keys()
            .filter_map(|key| self.client_row(key))
            .collect()
    }

    /// One client's connection, session, subscriptions and will.
    pub fn admin_client(&self, client_id: &str) -> Option<ClientDetail> {
        let key = self.sessions.key_of(client_id)?;
        let row = self.client_row(key)?;
        let session = &self.sessions[&key];
        let conn = session
            .conn
            .and_then(|id| self.conns.get(&id))
            .filter(|c| c.state.is_connected());
        let v5 = session.protocol.is_v5();
        let mut subscriptions: Vec<SubscriptionRow> = subscription_rows(session).collect();
        subscriptions.sort_unstable_by(|a, b| a.filter.cmp(&b.filter));
        Some(ClientDetail {
            row,
            keep_alive: conn.map(|c| c.keep_alive_secs).filter(|&secs| secs > 0),
            session_expiry_interval: session.expiry_interval,
            queued_bytes: session.queued_bytes,
            inbound_qos2_pending: session.incoming_qos2.len(),
            receive_maximum: conn.filter(|_| v5).map(|c| c.receive_maximum),
            max_packet_size: conn
                .filter(|c| v5 && c.max_packet_size != u32::MAX)
                .map(|c| c.max_packet_size),
            unwritten_packets: conn.map(|c| c.unwritten),
            subscriptions,
            will: conn.and_then(|c| c.will.as_ref()).map(|w| WillInfo {
                topic: w.topic.to_string(),
                qos: w.qos,
                retain: w.retain,
                payload_bytes: w.payload.len(),
                delay_interval: w.properties.will_delay_interval().unwrap_or(0),
            }),
            queue_policy: self.settings.queue_policy,
            queue_policies: self.settings.queue_policies.clone(),
        })
    }

    /// Every subscription of every session, in no particular order.
    pub fn admin_subscriptions(&self) -> Vec<SubscriptionRow> {
        self.sessions.values().flat_map(subscription_rows).collect()
    }

    /// The subscription index: each filter in use and how many sessions
    /// subscribe with it, sorted by filter.
    pub fn admin_topic_tree(&self) -> Vec<FilterCount> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for session in self.sessions.values() {
            for filter in session.subscriptions.keys() {
                *counts.entry(filter).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|(filter, subscribers)| FilterCount {
                filter: filter.to_string(),
                subscribers,
            })
            .collect()
    }

    /// The retained messages whose topics match `filter`, in no particular order.
    /// The filter must be valid (see [`hornet_codec::topic::validate_filter`]).
    pub fn admin_retained(&self, filter: &str) -> Result<Vec<RetainedRow>, AdminError> {
        check_filter(filter)?;
        let mut rows = Vec::new();
        self.retained.for_each_match(filter, |topic, r| {
            rows.push(RetainedRow {
                topic: topic.to_string(),
                qos: r.qos,
                payload: r.payload.clone(),
                properties: r.properties.clone(),
                stored: r.stored,
            })
        });
        Ok(rows)
    }

    /// The retained message on exactly `topic`.
    pub fn admin_retained_one(&self, topic: &str) -> Option<RetainedRow> {
        self.retained.get(topic).map(|r| RetainedRow {
            topic: topic.to_string(),
            qos: r.qos,
            payload: r.payload.clone(),
            properties: r.properties.clone(),
            stored: r.stored,
        })
    }

    /// Disconnects `client_id`: MQTT 5 clients get DISCONNECT 0x98
    /// (Administrative action) first; the connection is closed and, since
    /// the client did not disconnect normally, its will is published
    /// ([MQTT-3.1.2-8]). The session lives on as its expiry says.
    pub fn admin_kick(&mut self, now: Instant, client_id: &str) -> Result<(), AdminError> {
        self.now = now;
        let key = self
            .sessions
            .key_of(client_id)
            .ok_or_else(|| AdminError::NoSuchClient(client_id.into()))?;
        let id = self.sessions[&key]
            .conn
            .filter(|id| self.conns.get(id).is_some_and(|c| c.state.is_connected()))
            .ok_or_else(|| AdminError::NotConnected(client_id.into()))?;
        let conn = self.conns.get_mut(&id).expect("checked above");
        tracing::info!("Client {client_id} disconnected by an administrator (admin API).");
        if conn.protocol.is_v5() {
            let mut disconnect = Disconnect::new(ReasonCode::AdministrativeAction);
            disconnect.properties.push(Property::ReasonString(
                "disconnected by an administrator".into(),
            ));
            let packet = crate::broker::fit_reason_string(disconnect.into(), conn);
            self.out.send(id, conn, &mut self.stats, packet);
        }
        self.end_connection(now, id, true);
        Ok(())
    }

    /// Disconnects every client that authenticated as `username` (the
    /// user was deleted or its password or roles changed at runtime), as
    /// [`Broker::admin_kick`] does; returns how many.
    pub fn admin_kick_user(&mut self, now: Instant, username: &str) -> usize {
        let client_ids: Vec<ByteString> = self
            .conns
            .values()
            .filter(|c| c.state.is_connected() && c.username.as_deref() == Some(username))
            .map(|c| c.client_id.clone())
            .collect();
        client_ids
            .iter()
            .filter(|id| self.admin_kick(now, id).is_ok())
            .count()
    }

    /// Ends `client_id`'s session: kicks its connection if it has one
    /// (as [`Broker::admin_kick`]), then forgets its subscriptions and
    /// queued messages.
    pub fn admin_discard_session(
        &mut self,
        now: Instant,
        client_id: &str,
    ) -> Result<(), AdminError> {
        self.now = now;
        let key = self
            .sessions
            .key_of(client_id)
            .ok_or_else(|| AdminError::NoSuchClient(client_id.into()))?;
        match self.admin_kick(now, client_id) {
            Ok(()) | Err(AdminError::NotConnected(_)) => {}
            Err(e) => return Err(e),
        }
        if self.sessions.contains_key(&key) {
            self.remove_session(key);
        }
        tracing::info!("Session of {client_id} discarded by an administrator (admin API).");
        Ok(())
    }

    /// Deletes every retained message whose topic matches `filter`;
    /// returns the topics deleted, sorted.
    pub fn admin_delete_retained(&mut self, filter: &str) -> Result<Vec<String>, AdminError> {
        check_filter(filter)?;
        let mut topics = Vec::new();
        self.retained
            .for_each_match(filter, |topic, _| topics.push(topic.to_string()));
        topics.sort_unstable();
        let now = self.now;
        for topic in &topics {
            // A delete like a client's: recorded, and told to the other
            // nodes of a cluster.
            self.retain_here(now, &ByteString::from(topic.as_str()), None, None);
        }
        if !topics.is_empty() {
            tracing::info!(
                "{} retained messages matching {filter:?} deleted by an administrator (admin API).",
                topics.len()
            );
        }
        Ok(topics)
    }

    /// Publishes a message as if a client had (with no client, so No Local
    /// applies to nobody). Returns whether any subscription matched.
    pub fn admin_publish(&mut self, now: Instant, msg: AdminPublish) -> Result<bool, AdminError> {
        self.now = now;
        hornet_codec::topic::validate_name(&msg.topic)
            .map_err(|e| AdminError::InvalidTopic(format!("topic {:?}: {e}", msg.topic)))?;
        if msg.topic.starts_with("$SYS/") || msg.topic == "$SYS" {
            return Err(AdminError::NotAllowed(
                "$SYS topics belong to the broker".into(),
            ));
        }
        if msg.qos as u8 > self.settings.max_qos {
            return Err(AdminError::NotAllowed(format!(
                "QoS {} is over the broker's max_qos {}",
                msg.qos as u8, self.settings.max_qos
            )));
        }
        if msg.retain && !self.settings.retain_available {
            return Err(AdminError::NotAllowed(
                "retained messages are not available (retain_available false)".into(),
            ));
        }
        let mut publish = Publish::new(msg.topic, msg.payload);
        publish.qos = msg.qos;
        publish.retain = msg.retain;
        publish.properties = msg.properties;
        self.stats.admin_published += 1;
        Ok(self.accept_publish(now, publish, None))
    }

    /// When the broker started.
    pub fn started_at(&self) -> Instant {
        self.sys.started()
    }

    /// How long the broker has run at `now`.
    pub fn uptime(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.sys.started())
    }

    /// Messages waiting in every session's queue, their payload bytes, and
    /// the longest queue.
    pub fn queued_totals(&self) -> (usize, usize, usize) {
        self.sessions.values().fold((0, 0, 0), |(n, b, m), s| {
            (n + s.queue.len(), b + s.queued_bytes, m.max(s.queue.len()))
        })
    }

    /// One session's messages waiting (queued and in flight) and the ones
    /// its queue limits dropped (a bridge's outbox, for its figures).
    pub fn session_backlog(&self, client_id: &str) -> Option<(usize, u64)> {
        let session = &self.sessions[&self.sessions.key_of(client_id)?];
        Some((
            session.queue.len() + session.inflight.len(),
            session.dropped,
        ))
    }

    /// QoS 1/2 messages in flight across every session.
    pub fn inflight_total(&self) -> usize {
        self.sessions.values().map(|s| s.inflight.len()).sum()
    }
}

fn subscription_rows(
    session: &crate::session::Session,
) -> impl Iterator<Item = SubscriptionRow> + '_ {
    session
        .subscriptions
        .iter()
        .map(move |(filter, sub)| SubscriptionRow {
            client_id: session.client_id.clone(),
            filter: filter.clone(),
            qos: sub.options.qos,
            no_local: sub.options.no_local,
            retain_as_published: sub.options.retain_as_published,
            retain_handling: sub.options.retain_handling as u8,
            identifier: sub.identifier,
        })
}

fn check_filter(filter: &str) -> Result<(), AdminError> {
    hornet_codec::topic::validate_filter(filter)
        .map_err(|e| AdminError::InvalidTopic(format!("topic filter {filter:?}: {e}")))?;
    if filter.starts_with("$share/") || filter.starts_with("$queue/") {
        return Err(AdminError::InvalidTopic(format!(
            "topic filter {filter:?}: retained messages are not matched by shared subscriptions"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use hornet_codec::{Connect, LastWill, Packet, PacketId, Subscribe};

    use super::*;
    use crate::{Action, ConnId, ConnInfo, Settings};

    struct World {
        broker: Broker,
        now: Instant,
        sent: Vec<(ConnId, Packet)>,
        closed: Vec<ConnId>,
    }

    impl World {
        fn new() -> World {
            let now = Instant::now();
            let settings = Settings {
                sys_interval: None,
                ..Settings::default()
            };
            World {
                broker: Broker::new(settings, now),
                now,
                sent: Vec::new(),
                closed: Vec::new(),
            }
        }

        fn pump(&mut self) {
            while let Some(action) = self.broker.poll_action() {
                match action {
                    Action::Send { conn, packet } => self.sent.push((conn, packet)),
                    Action::SendMany { .. } => unreachable!("send_many is off here"),
                    Action::Close { conn } => self.closed.push(conn),
                    Action::CheckPassword { .. } => unreachable!("no password_file here"),
                    Action::Persist { .. } => unreachable!("no persistence here"),
                    Action::DrainInput { .. } => unreachable!("takeovers do not wait here"),
                    Action::Forward { .. }
                    | Action::Applied { .. }
                    | Action::Routes { .. }
                    | Action::Retain { .. }
                    | Action::Will { .. }
                    | Action::Takeover { .. }
                    | Action::Resync { .. }
                    | Action::Claim { .. }
                    | Action::MoveSession { .. }
                    | Action::Release { .. } => unreachable!("no cluster here"),
                }
            }
        }

        fn connect(&mut self, n: u64, connect: Connect) -> ConnId {
            let id = ConnId(n);
            let peer: SocketAddr = format!("127.0.0.1:{}", 50000 + n).parse().unwrap();
            self.broker
                .connection_opened(self.now, id, ConnInfo::new(peer, 1883));
            self.broker
                .packet_received(self.now, id, Packet::Connect(Box::new(connect)), 20);
            self.pump();
            id
        }

        fn subscribe(&mut self, id: ConnId, filter: &str, qos: QoS) {
            let sub = Subscribe::new(PacketId::new(1).unwrap(), filter, qos);
            self.broker
                .packet_received(self.now, id, Packet::Subscribe(sub), 20);
            self.pump();
        }

        fn received_by(&self, id: ConnId) -> Vec<&Packet> {
            self.sent
                .iter()
                .filter(|(c, _)| *c == id)
                .map(|(_, p)| p)
                .collect()
        }
    }

    fn will(topic: &str) -> LastWill {
        LastWill {
            topic: topic.into(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::default(),
        }
    }

    fn v5(client_id: &str) -> Connect {
        Connect::new(Protocol::V5, client_id)
    }

    fn retain(world: &mut World, topic: &str) {
        world
            .broker
            .admin_publish(
                world.now,
                AdminPublish {
                    topic: topic.into(),
                    payload: Bytes::from_static(b"v"),
                    qos: QoS::AtMostOnce,
                    retain: true,
                    properties: Properties::default(),
                },
            )
            .unwrap();
    }

    #[test]
    fn clients_list_connected_and_offline_sessions() {
        let mut w = World::new();
        let mut alice = v5("alice");
        alice.username = Some("ann".into());
        let a = w.connect(1, alice);
        let mut bob = Connect::new(Protocol::V3_1_1, "bob");
        bob.clean_start = false;
        let b = w.connect(2, bob);
        w.subscribe(a, "a/#", QoS::AtLeastOnce);
        w.broker
            .connection_closed(w.now, b, crate::CloseCause::PeerClosed);
        w.pump();

        let mut rows = w.broker.admin_clients();
        rows.sort_unstable_by(|a, b| a.client_id.cmp(&b.client_id));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].client_id, "alice");
        assert!(rows[0].connected);
        assert_eq!(rows[0].username.as_deref(), Some("ann"));
        assert_eq!(rows[0].subscriptions, 1);
        assert_eq!(rows[0].protocol, Protocol::V5);
        assert_eq!(rows[1].client_id, "bob");
        assert!(!rows[1].connected, "persistent session kept offline");
        assert_eq!(rows[1].peer, None);
        assert!(rows[1].disconnected_since.is_some());
    }

    #[test]
    fn client_detail_has_subscriptions_keep_alive_and_will() {
        let mut w = World::new();
        let mut c = v5("c1");
        c.keep_alive = 30;
        c.will = Some(will("gone/c1"));
        let id = w.connect(1, c);
        w.subscribe(id, "x/+", QoS::ExactlyOnce);
        let d = w.broker.admin_client("c1").unwrap();
        assert_eq!(d.keep_alive, Some(30));
        assert_eq!(d.subscriptions.len(), 1);
        assert_eq!(d.subscriptions[0].filter, "x/+");
        assert_eq!(d.subscriptions[0].qos, QoS::ExactlyOnce);
        let will = d.will.unwrap();
        assert_eq!(will.topic, "gone/c1");
        assert_eq!(will.payload_bytes, 3);
        assert!(w.broker.admin_client("nobody").is_none());
    }

    #[test]
    fn kick_sends_mqtt5_disconnect_0x98_and_publishes_the_will() {
        let mut w = World::new();
        let watcher = w.connect(1, v5("watcher"));
        w.subscribe(watcher, "gone/#", QoS::AtMostOnce);
        let mut c = v5("victim");
        c.will = Some(will("gone/victim"));
        let victim = w.connect(2, c);
        w.sent.clear();

        w.broker.admin_kick(w.now, "victim").unwrap();
        w.pump();
        let to_victim = w.received_by(victim);
        assert!(
            matches!(to_victim.as_slice(), [Packet::Disconnect(d)] if d.reason_code == ReasonCode::AdministrativeAction),
            "{to_victim:?}"
        );
        assert!(w.closed.contains(&victim));
        // [MQTT-3.1.2-8]: not a normal DISCONNECT from the client, so the will goes out.
        assert!(
            w.received_by(watcher)
                .iter()
                .any(|p| matches!(p, Packet::Publish(p) if p.topic == "gone/victim")),
            "will published"
        );
        assert_eq!(
            w.broker.admin_kick(w.now, "victim"),
            Err(AdminError::NoSuchClient("victim".into())),
            "a clean v5 session (expiry 0) ends with its connection"
        );
        assert_eq!(
            w.broker.admin_kick(w.now, "ghost"),
            Err(AdminError::NoSuchClient("ghost".into()))
        );
    }

    #[test]
    fn kick_closes_a_3x_client_without_a_packet() {
        let mut w = World::new();
        let mut c = Connect::new(Protocol::V3_1_1, "old");
        c.clean_start = false;
        let id = w.connect(1, c);
        w.sent.clear();
        w.broker.admin_kick(w.now, "old").unwrap();
        w.pump();
        assert!(w.received_by(id).is_empty());
        assert!(w.closed.contains(&id));
        let row = &w.broker.admin_clients()[0];
        assert!(!row.connected, "the persistent session stays");
        assert_eq!(
            w.broker.admin_kick(w.now, "old"),
            Err(AdminError::NotConnected("old".into()))
        );
    }

    #[test]
    fn discard_session_forgets_subscriptions() {
        let mut w = World::new();
        let mut c = Connect::new(Protocol::V3_1_1, "p");
        c.clean_start = false;
        let id = w.connect(1, c);
        w.subscribe(id, "t", QoS::AtLeastOnce);
        assert_eq!(w.broker.admin_topic_tree().len(), 1);
        w.broker.admin_discard_session(w.now, "p").unwrap();
        w.pump();
        assert!(w.closed.contains(&id));
        assert!(w.broker.admin_clients().is_empty());
        assert!(w.broker.admin_topic_tree().is_empty());
        assert_eq!(w.broker.subscription_count(), 0);
    }

    #[test]
    fn topic_tree_counts_subscribers_per_filter() {
        let mut w = World::new();
        let a = w.connect(1, v5("a"));
        let b = w.connect(2, v5("b"));
        w.subscribe(a, "s/#", QoS::AtMostOnce);
        w.subscribe(b, "s/#", QoS::AtMostOnce);
        w.subscribe(b, "t", QoS::AtMostOnce);
        let tree = w.broker.admin_topic_tree();
        assert_eq!(
            tree,
            vec![
                FilterCount {
                    filter: "s/#".into(),
                    subscribers: 2
                },
                FilterCount {
                    filter: "t".into(),
                    subscribers: 1
                },
            ]
        );
        assert_eq!(w.broker.admin_subscriptions().len(), 3);
    }

    #[test]
    fn retained_list_read_and_delete_by_filter() {
        let mut w = World::new();
        for t in ["home/a", "home/b", "work/a"] {
            retain(&mut w, t);
        }
        let mut home: Vec<String> = w
            .broker
            .admin_retained("home/+")
            .unwrap()
            .into_iter()
            .map(|r| r.topic)
            .collect();
        home.sort_unstable();
        assert_eq!(home, ["home/a", "home/b"]);
        assert!(w.broker.admin_retained_one("work/a").is_some());
        assert!(w.broker.admin_retained_one("work").is_none());
        assert_eq!(
            w.broker.admin_delete_retained("home/#").unwrap(),
            ["home/a", "home/b"]
        );
        assert_eq!(w.broker.retained_count(), 1);
        assert!(matches!(
            w.broker.admin_retained("a/#/b"),
            Err(AdminError::InvalidTopic(_))
        ));
    }

    #[test]
    fn admin_publish_routes_and_checks_the_topic() {
        let mut w = World::new();
        let sub = w.connect(1, v5("sub"));
        w.subscribe(sub, "n/#", QoS::AtLeastOnce);
        w.sent.clear();
        let matched = w
            .broker
            .admin_publish(
                w.now,
                AdminPublish {
                    topic: "n/1".into(),
                    payload: Bytes::from_static(b"hi"),
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    properties: Properties::default(),
                },
            )
            .unwrap();
        w.pump();
        assert!(matched);
        assert!(w.received_by(sub).iter().any(
            |p| matches!(p, Packet::Publish(p) if p.payload == "hi" && p.qos == QoS::AtLeastOnce)
        ));
        let bad = |topic: &str| AdminPublish {
            topic: topic.into(),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::default(),
        };
        assert!(matches!(
            w.broker.admin_publish(w.now, bad("a/+")),
            Err(AdminError::InvalidTopic(_))
        ));
        assert!(matches!(
            w.broker.admin_publish(w.now, bad("$SYS/x")),
            Err(AdminError::NotAllowed(_))
        ));
    }
}
