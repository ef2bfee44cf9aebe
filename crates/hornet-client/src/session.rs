//! [`Session`]: the client's state machine. The caller owns the socket and
//! the clock: it calls [`Session::connect`] when a connection is up,
//! [`Session::handle`] for each packet read, [`Session::tick`] at
//! [`Session::next_deadline`], [`Session::connection_lost`] when the
//! connection ends, and after each call writes what
//! [`Session::poll_transmit`] yields and acts on [`Session::poll_event`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use hornet_codec::{
    Ack, ByteString, ConnAck, Connect, Disconnect, Packet, PacketId, Properties, Property,
    Protocol, Publish, QoS, ReasonCode, SubAck, Subscribe, SubscribeFilter, UnsubAck, Unsubscribe,
};

use crate::error::{ClientError, PublishError};
use crate::ids::PacketIds;
use crate::inflight::{Entry, Inflight, Stage};
use crate::keepalive::{Due, KeepAlive};
use crate::limits::ServerLimits;
use crate::options::Options;

/// The connection's state, as the session sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No connection.
    Disconnected,
    /// CONNECT sent, CONNACK awaited.
    Connecting,
    /// CONNACK received with success.
    Connected,
}

/// What the caller is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK with success.
    Connected {
        /// The remote kept our session.
        session_present: bool,
    },
    /// A message from the remote (a QoS 2 one exactly once).
    Message(Publish),
    /// An outgoing QoS 1/2 message is done: PUBACK, PUBCOMP, an error
    /// reason in PUBACK/PUBREC, or sent at QoS 0 after a downgrade.
    Delivered {
        /// Its identifier (now free).
        packet_id: PacketId,
        /// The remote's reason code.
        reason: ReasonCode,
    },
    /// With `manual_qos2`: the remote PUBRECed outgoing QoS 2 message
    /// `packet_id`; its PUBREL goes once the caller has recorded that and
    /// calls [`Session::release`].
    Received {
        /// Its identifier.
        packet_id: PacketId,
    },
    /// With `manual_qos2`: the remote sent PUBREL for incoming QoS 2
    /// message `packet_id` (also for one this session does not know, after
    /// a restart of the caller); PUBCOMP goes when the caller calls
    /// [`Session::complete`].
    Release {
        /// Its identifier.
        packet_id: PacketId,
    },
    /// An outgoing message was dropped without being sent.
    Dropped {
        /// Its identifier, if it had one.
        packet_id: Option<PacketId>,
        /// Why.
        error: PublishError,
    },
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
}

/// The client session.
#[derive(Debug)]
pub struct Session {
    options: Options,
    state: State,
    limits: ServerLimits,
    ids: PacketIds,
    inflight: Inflight,
    qos0: VecDeque<Publish>,
    /// Incoming QoS 2 ids awaiting PUBREL, and whether the caller has
    /// acknowledged the message (always, without `manual_ack`).
    incoming_qos2: HashMap<u16, bool>,
    /// With `qos2_on_release`: incoming QoS 2 messages held until PUBREL.
    held: HashMap<u16, Publish>,
    /// Topic aliases the remote set up for us, and how many our CONNECT
    /// allowed (MQTT 5 Topic Alias Maximum).
    incoming_aliases: HashMap<u16, ByteString>,
    incoming_alias_max: u16,
    /// Incoming QoS 1/2 messages of this connection waiting for the
    /// caller's acknowledgement (`manual_ack`).
    unacked: HashSet<u16>,
    aliases: HashMap<ByteString, u16>,
    keep_alive: KeepAlive,
    transmit: VecDeque<Packet>,
    events: VecDeque<Event>,
}

impl Session {
    /// A session with no connection yet.
    pub fn new(options: Options) -> Self {
        let keep_alive = KeepAlive::new(options.keep_alive, options.connack_timeout);
        Session {
            options,
            state: State::Disconnected,
            limits: ServerLimits::default(),
            ids: PacketIds::default(),
            inflight: Inflight::default(),
            qos0: VecDeque::new(),
            incoming_qos2: HashMap::new(),
            held: HashMap::new(),
            incoming_aliases: HashMap::new(),
            incoming_alias_max: 0,
            unacked: HashSet::new(),
            aliases: HashMap::new(),
            keep_alive,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The remote's limits from the last CONNACK.
    pub fn limits(&self) -> ServerLimits {
        self.limits
    }

    /// The protocol version.
    pub fn protocol(&self) -> Protocol {
        self.options.protocol
    }

    /// Sets our own bound on QoS 1/2 messages in flight (at least 1).
    pub fn set_max_inflight(&mut self, max: u16) {
        self.options.max_inflight = max.max(1);
        self.flush();
    }

    /// How many QoS 1/2 messages may be in the remote's window at once:
    /// its Receive Maximum and our own bound ([MQTT-3.3.4-7]).
    pub fn window(&self) -> usize {
        usize::from(
            self.limits
                .receive_maximum
                .min(self.options.max_inflight.max(1)),
        )
    }

    /// Takes the next packet identifier and frees it at once: for clients
    /// that number QoS 0 messages too, as libmosquitto does (its `mid`).
    pub fn skip_id(&mut self) -> Option<PacketId> {
        let id = self.ids.allocate()?;
        self.ids.release(id);
        Some(id)
    }

    /// Outgoing QoS 1/2 messages not yet completed (sent or waiting).
    pub fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// Of those, how many are in the remote's window on this connection.
    pub fn in_window(&self) -> usize {
        self.inflight.in_window()
    }

    /// QoS 0 messages waiting for a connection.
    pub fn queued_qos0(&self) -> usize {
        self.qos0.len()
    }

    /// The outgoing QoS 1/2 messages with their identifier and stage, in
    /// publication order (what a durable outbox records).
    pub fn outgoing(&self) -> impl Iterator<Item = (PacketId, Stage, &Publish)> {
        self.inflight.iter().map(|e| (e.id, e.stage, &e.publish))
    }

    /// A connection is up: CONNECT goes out. Whatever was queued for the
    /// previous connection is forgotten; inflight messages wait for the
    /// CONNACK to be resent.
    pub fn connect(&mut self, now: Instant) {
        let connect = self.options.connect_packet();
        self.connect_with(now, connect);
    }

    /// As [`Session::connect`], with a CONNECT the caller made (every
    /// field and property its own): the options take its protocol,
    /// client id, clean start and keep-alive, and incoming topic aliases
    /// are accepted up to its Topic Alias Maximum.
    pub fn connect_with(&mut self, now: Instant, connect: Connect) {
        self.options.protocol = connect.protocol;
        self.options.client_id = connect.client_id.clone();
        self.options.clean_start = connect.clean_start;
        self.options.keep_alive = connect.keep_alive;
        self.incoming_alias_max = if connect.protocol.is_v5() {
            connect.properties.topic_alias_maximum().unwrap_or(0)
        } else {
            0
        };
        self.transmit.clear();
        self.inflight.unsend_all();
        self.aliases.clear();
        self.state = State::Connecting;
        self.incoming_aliases.clear();
        self.keep_alive = KeepAlive::new(self.options.keep_alive, self.options.connack_timeout);
        self.keep_alive.connecting(now);
        self.transmit.push_back(Packet::Connect(Box::new(connect)));
    }

    /// The connection ended (by either side). Unsent packets are dropped;
    /// the session (inflight messages, QoS 2 ids) stays for the next.
    pub fn connection_lost(&mut self) {
        self.state = State::Disconnected;
        // The remote resends what it has no acknowledgement for.
        self.unacked.clear();
        self.transmit.clear();
        self.inflight.unsend_all();
        self.aliases.clear();
    }

    /// The next packet to write, taken at `now` (what the keep-alive
    /// counts from).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Packet> {
        let packet = self.transmit.pop_front()?;
        self.keep_alive.sent(now);
        Some(packet)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::tick`] must be called next.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Disconnected => None,
            State::Connecting => self.keep_alive.deadline(false),
            State::Connected => self.keep_alive.deadline(true),
        }
    }

    /// Time passes: a PINGREQ, or an error when the remote has not answered
    /// CONNECT or PINGREQ within the keep-alive (the caller closes).
    pub fn tick(&mut self, now: Instant) -> Result<(), ClientError> {
        if self.state == State::Disconnected {
            return Ok(());
        }
        match self.keep_alive.due(now, self.state == State::Connected) {
            Due::Nothing => Ok(()),
            Due::Ping => {
                self.keep_alive.ping_sent(now);
                self.transmit.push_back(Packet::PingReq);
                Ok(())
            }
            Due::Timeout => {
                let secs = self.keep_alive.interval_secs();
                self.connection_lost();
                Err(ClientError::Timeout(secs))
            }
        }
    }

    /// Queues a message for the remote. QoS 1/2 get their packet
    /// identifier now (returned); they go out as the remote's window
    /// allows, in order. QoS 0 goes out at once when connected, or at the
    /// next connection.
    pub fn publish(&mut self, mut publish: Publish) -> Result<Option<PacketId>, PublishError> {
        publish.dup = false;
        publish.packet_id = None;
        if self.state == State::Connected && self.options.server_limits {
            self.fit(&publish)?;
        }
        if publish.qos == QoS::AtMostOnce {
            self.qos0.push_back(publish);
            self.flush();
            return Ok(None);
        }
        let id = self.ids.allocate().ok_or(PublishError::NoPacketId)?;
        publish.packet_id = Some(id);
        self.inflight.push(Entry {
            id,
            stage: Stage::first(publish.qos),
            publish,
            sent: false,
            ever_sent: false,
            released: false,
        });
        self.flush();
        Ok(Some(id))
    }

    /// Queues a QoS 1/2 message under the identifier the caller chose (a
    /// bridge reuses its local broker's, which that broker keeps in its
    /// store, so a restart resends the same message under the same id);
    /// `dup`: it may have been sent before (a resend carries DUP).
    pub fn publish_as(
        &mut self,
        mut publish: Publish,
        id: PacketId,
        dup: bool,
    ) -> Result<(), PublishError> {
        if publish.qos == QoS::AtMostOnce {
            return self.publish(publish).map(drop);
        }
        if self.ids.in_use(id) {
            return Err(PublishError::IdInUse(id.get()));
        }
        publish.dup = false;
        publish.packet_id = Some(id);
        if self.state == State::Connected {
            self.fit(&publish)?;
        }
        self.ids.reserve(id);
        self.inflight.push(Entry {
            id,
            stage: Stage::first(publish.qos),
            publish,
            sent: false,
            ever_sent: dup,
            released: false,
        });
        self.flush();
        Ok(())
    }

    /// Whether identifier `id` is in use (by a message or a SUBSCRIBE /
    /// UNSUBSCRIBE waiting for its answer).
    pub fn id_in_use(&self, id: PacketId) -> bool {
        self.ids.in_use(id)
    }

    /// Whether outgoing message `id` is held (not yet completed).
    pub fn holds(&self, id: PacketId) -> bool {
        self.inflight.iter().any(|e| e.id == id)
    }

    /// With `manual_qos2`: the PUBREL of outgoing QoS 2 message `id` may
    /// go. For an identifier this session does not hold (the caller's
    /// record of an earlier life says it was PUBRECed) the PUBREL is
    /// resent as for a restored message ([MQTT-4.4.0-1]); the remote
    /// answers PUBCOMP and [`Event::Delivered`] follows.
    pub fn release(&mut self, id: PacketId) -> Result<(), PublishError> {
        match self.inflight.get_mut(id) {
            Some(entry) => {
                let was_held = entry.held();
                entry.stage = Stage::AwaitingPubComp;
                entry.released = true;
                if was_held && entry.sent && self.state == State::Connected {
                    self.transmit.push_back(Packet::PubRel(Ack::new(id)));
                }
            }
            None if self.ids.in_use(id) => return Err(PublishError::IdInUse(id.get())),
            None => {
                let mut publish = Publish::new("", "");
                publish.qos = QoS::ExactlyOnce;
                self.restore(id, Stage::AwaitingPubComp, publish);
            }
        }
        self.flush();
        Ok(())
    }

    /// With `manual_qos2`: the caller has recorded the end of incoming
    /// QoS 2 message `id` ([`Event::Release`]): PUBCOMP goes when
    /// connected (otherwise the remote sends PUBREL again at the next
    /// connection, and the caller answers it again).
    pub fn complete_incoming(&mut self, id: PacketId) {
        self.incoming_qos2.remove(&id.get());
        if self.state == State::Connected {
            self.transmit.push_back(Packet::PubComp(Ack::new(id)));
        }
    }

    /// Restores an outgoing message of an earlier life (a durable outbox)
    /// with its identifier and stage; it is resent with DUP (or its PUBREL)
    /// at the next CONNACK.
    pub fn restore(&mut self, id: PacketId, stage: Stage, mut publish: Publish) {
        publish.packet_id = Some(id);
        self.ids.reserve(id);
        self.inflight.push(Entry {
            id,
            stage,
            publish,
            sent: false,
            ever_sent: true,
            released: true,
        });
    }

    /// SUBSCRIBE (when connected): returns its identifier.
    pub fn subscribe(&mut self, filters: Vec<SubscribeFilter>) -> Result<PacketId, PublishError> {
        self.subscribe_with(filters, Properties::new())
    }

    /// SUBSCRIBE with MQTT 5 properties (when connected).
    pub fn subscribe_with(
        &mut self,
        filters: Vec<SubscribeFilter>,
        properties: Properties,
    ) -> Result<PacketId, PublishError> {
        let packet_id = self.ids.allocate().ok_or(PublishError::NoPacketId)?;
        self.transmit.push_back(Packet::Subscribe(Subscribe {
            packet_id,
            properties,
            filters,
        }));
        Ok(packet_id)
    }

    /// UNSUBSCRIBE (when connected): returns its identifier.
    pub fn unsubscribe(&mut self, filters: Vec<ByteString>) -> Result<PacketId, PublishError> {
        self.unsubscribe_with(filters, Properties::new())
    }

    /// UNSUBSCRIBE with MQTT 5 properties (when connected).
    pub fn unsubscribe_with(
        &mut self,
        filters: Vec<ByteString>,
        properties: Properties,
    ) -> Result<PacketId, PublishError> {
        let packet_id = self.ids.allocate().ok_or(PublishError::NoPacketId)?;
        self.transmit.push_back(Packet::Unsubscribe(Unsubscribe {
            packet_id,
            properties,
            filters,
        }));
        Ok(packet_id)
    }

    /// With `manual_ack`: the caller has an incoming message (`qos` as it
    /// arrived): PUBACK or PUBREC goes out if the message came on this
    /// connection; otherwise the remote resends it and, for QoS 2, gets
    /// its PUBREC then.
    pub fn acknowledge(&mut self, packet_id: PacketId, qos: QoS) {
        if qos == QoS::ExactlyOnce {
            match self.incoming_qos2.get_mut(&packet_id.get()) {
                Some(acked) => *acked = true,
                None => return,
            }
        }
        if !self.unacked.remove(&packet_id.get()) || self.state != State::Connected {
            return;
        }
        self.transmit.push_back(match qos {
            QoS::ExactlyOnce => Packet::PubRec(Ack::new(packet_id)),
            _ => Packet::PubAck(Ack::new(packet_id)),
        });
    }

    /// A DISCONNECT to send before closing.
    pub fn disconnect(&mut self) {
        self.disconnect_with(Disconnect::new(ReasonCode::Success));
    }

    /// This DISCONNECT (its reason and properties) to send before closing.
    pub fn disconnect_with(&mut self, disconnect: Disconnect) {
        if self.state != State::Disconnected {
            self.transmit.push_back(Packet::Disconnect(disconnect));
        }
    }

    /// One packet from the remote.
    pub fn handle(&mut self, packet: Packet) -> Result<(), ClientError> {
        let result = match self.state {
            State::Disconnected => Err(ClientError::Unexpected(packet.packet_type())),
            State::Connecting => match packet {
                Packet::ConnAck(connack) => self.connack(connack),
                Packet::Disconnect(d) => Err(ClientError::Disconnected(d.reason_code)),
                other => Err(ClientError::BeforeConnAck(other.packet_type())),
            },
            State::Connected => {
                // Any packet proves the remote alive.
                self.keep_alive.answered();
                self.connected_packet(packet)
            }
        };
        if result.is_err() {
            self.connection_lost();
        }
        result
    }

    fn connack(&mut self, connack: ConnAck) -> Result<(), ClientError> {
        if connack.reason_code.is_error() {
            return Err(ClientError::Refused(connack.reason_code));
        }
        let protocol = self.options.protocol;
        self.limits = ServerLimits::from_connack(&connack, protocol);
        if let Some(keep_alive) = connack.properties.server_keep_alive() {
            self.keep_alive.set_interval(keep_alive);
        }
        self.keep_alive.answered();
        self.state = State::Connected;
        let present = connack.session_present;
        if !present {
            // A new session on the remote: it has no QoS 2 state of ours.
            // Messages past PUBREC were received there; their PUBREL has
            // nothing left to release ([MQTT-4.3.3]); the rest go again.
            self.incoming_qos2.clear();
            self.held.clear();
            for gone in self
                .inflight
                .drain_where(|e| e.stage == Stage::AwaitingPubComp)
            {
                self.ids.release(gone.id);
                self.events.push_back(Event::Delivered {
                    packet_id: gone.id,
                    reason: ReasonCode::PacketIdentifierNotFound,
                });
            }
        }
        self.events.push_back(Event::Connected {
            session_present: present,
        });
        self.flush();
        Ok(())
    }

    fn connected_packet(&mut self, packet: Packet) -> Result<(), ClientError> {
        match packet {
            Packet::Publish(publish) => self.incoming(publish)?,
            Packet::PubAck(ack) => {
                if self
                    .inflight
                    .get_mut(ack.packet_id)
                    .is_some_and(|e| e.stage == Stage::AwaitingPubAck)
                {
                    self.complete(ack.packet_id, ack.reason_code);
                }
            }
            Packet::PubRec(ack) => self.pubrec(ack),
            Packet::PubComp(ack) => {
                if self
                    .inflight
                    .get_mut(ack.packet_id)
                    .is_some_and(|e| e.stage == Stage::AwaitingPubComp)
                {
                    self.complete(ack.packet_id, ack.reason_code);
                }
            }
            Packet::PubRel(ack) if self.options.manual_qos2 => {
                self.events.push_back(Event::Release {
                    packet_id: ack.packet_id,
                });
            }
            Packet::PubRel(ack) => {
                let found = self.incoming_qos2.remove(&ack.packet_id.get()).is_some();
                if let Some(message) = self.held.remove(&ack.packet_id.get()) {
                    self.events.push_back(Event::Message(message));
                }
                let reason = if found {
                    ReasonCode::Success
                } else {
                    ReasonCode::PacketIdentifierNotFound
                };
                self.transmit
                    .push_back(Packet::PubComp(Ack::with_reason(ack.packet_id, reason)));
            }
            Packet::SubAck(suback) => {
                self.ids.release(suback.packet_id);
                self.events.push_back(Event::SubAck(suback));
            }
            Packet::UnsubAck(unsuback) => {
                self.ids.release(unsuback.packet_id);
                self.events.push_back(Event::UnsubAck(unsuback));
            }
            Packet::PingResp => self.keep_alive.answered(),
            Packet::Disconnect(d) => return Err(ClientError::Disconnected(d.reason_code)),
            other => return Err(ClientError::Unexpected(other.packet_type())),
        }
        Ok(())
    }

    fn incoming(&mut self, mut publish: Publish) -> Result<(), ClientError> {
        self.resolve_alias(&mut publish)?;
        match publish.qos {
            QoS::AtMostOnce => self.events.push_back(Event::Message(publish)),
            QoS::AtLeastOnce => {
                let id = publish.packet_id.ok_or(ClientError::BadPublish(1))?;
                self.events.push_back(Event::Message(publish));
                if self.options.manual_ack {
                    self.unacked.insert(id.get());
                } else {
                    self.transmit.push_back(Packet::PubAck(Ack::new(id)));
                }
            }
            QoS::ExactlyOnce => {
                let id = publish.packet_id.ok_or(ClientError::BadPublish(2))?;
                // [MQTT-4.3.3-9]: a PUBLISH with an id awaiting PUBREL is
                // the same message again: acknowledged, not handed on.
                match self.incoming_qos2.get(&id.get()) {
                    None => {
                        let acked = !self.options.manual_ack;
                        self.incoming_qos2.insert(id.get(), acked);
                        if self.options.qos2_on_release {
                            self.held.insert(id.get(), publish);
                        } else {
                            self.events.push_back(Event::Message(publish));
                        }
                        if acked {
                            self.transmit.push_back(Packet::PubRec(Ack::new(id)));
                        } else {
                            self.unacked.insert(id.get());
                        }
                    }
                    Some(true) => self.transmit.push_back(Packet::PubRec(Ack::new(id))),
                    // Handed on, not yet acknowledged by the caller: its
                    // acknowledgement sends the PUBREC.
                    Some(false) => {
                        self.unacked.insert(id.get());
                    }
                }
            }
        }
        Ok(())
    }

    /// [MQTT-3.3.2-12]: a Topic Alias within what our CONNECT allowed
    /// names a topic (set with one, used alone later); any other is an
    /// error ([MQTT-3.3.2-9]).
    fn resolve_alias(&mut self, publish: &mut Publish) -> Result<(), ClientError> {
        let Some(alias) = publish.properties.topic_alias() else {
            return Ok(());
        };
        if alias == 0 || alias > self.incoming_alias_max {
            return Err(ClientError::TopicAlias);
        }
        if publish.topic.is_empty() {
            publish.topic = self
                .incoming_aliases
                .get(&alias)
                .cloned()
                .ok_or(ClientError::UnknownTopicAlias(alias))?;
        } else {
            self.incoming_aliases.insert(alias, publish.topic.clone());
        }
        Ok(())
    }

    fn pubrec(&mut self, ack: Ack) {
        let Some(entry) = self.inflight.get_mut(ack.packet_id) else {
            // [MQTT-4.3.3]: answer an unknown PUBREC so the remote can
            // finish; MQTT 5 says why.
            self.transmit.push_back(Packet::PubRel(Ack::with_reason(
                ack.packet_id,
                ReasonCode::PacketIdentifierNotFound,
            )));
            return;
        };
        match entry.stage {
            Stage::AwaitingPubRec if ack.reason_code.is_error() => {
                self.complete(ack.packet_id, ack.reason_code);
            }
            Stage::AwaitingPubRec if self.options.manual_qos2 => {
                // The PUBREL waits for the caller's record of this PUBREC.
                entry.stage = Stage::AwaitingPubComp;
                self.events.push_back(Event::Received {
                    packet_id: ack.packet_id,
                });
            }
            Stage::AwaitingPubComp if !entry.released => {}
            Stage::AwaitingPubRec | Stage::AwaitingPubComp => {
                // [MQTT-4.3.3-4]: PUBREL, and never the PUBLISH again.
                entry.stage = Stage::AwaitingPubComp;
                entry.released = true;
                self.transmit
                    .push_back(Packet::PubRel(Ack::new(ack.packet_id)));
            }
            Stage::AwaitingPubAck => {}
        }
    }

    fn complete(&mut self, id: PacketId, reason: ReasonCode) {
        self.inflight.remove(id);
        self.ids.release(id);
        self.events.push_back(Event::Delivered {
            packet_id: id,
            reason,
        });
        self.flush();
    }

    /// Sends what the window allows, oldest first: resends (DUP or PUBREL)
    /// before new messages; then QoS 0.
    fn flush(&mut self) {
        if self.state != State::Connected {
            return;
        }
        while self.inflight.in_window() < self.window() {
            let Some(index) = self.inflight.first_unsent() else {
                break;
            };
            let limits = self.limits;
            let entry = self.inflight.at_mut(index);
            if entry.stage == Stage::AwaitingPubComp {
                entry.sent = true;
                let id = entry.id;
                self.transmit.push_back(Packet::PubRel(Ack::new(id)));
                continue;
            }
            // [MQTT-3.2.2-11]: never above the remote's Maximum QoS.
            if self.options.server_limits && entry.publish.qos > limits.maximum_qos {
                entry.publish.qos = limits.maximum_qos;
                entry.stage = Stage::first(limits.maximum_qos);
            }
            let mut publish = entry.publish.clone();
            publish.dup = entry.ever_sent;
            if publish.qos == QoS::AtMostOnce {
                let gone = self.inflight.remove_at(index);
                self.ids.release(gone.id);
                publish.packet_id = None;
                publish.dup = false;
                if self.send_publish(publish, Some(gone.id)) {
                    self.events.push_back(Event::Delivered {
                        packet_id: gone.id,
                        reason: ReasonCode::Success,
                    });
                }
                continue;
            }
            let id = entry.id;
            if self.send_publish(publish, Some(id)) {
                let entry = self.inflight.get_mut(id).expect("entry just sent");
                entry.sent = true;
                entry.ever_sent = true;
            } else {
                self.inflight.remove(id);
                self.ids.release(id);
            }
        }
        while let Some(publish) = self.qos0.pop_front() {
            self.send_publish(publish, None);
        }
    }

    /// Applies the remote's limits and aliases to one PUBLISH and queues
    /// it; false (and a Dropped event) when it cannot go.
    fn send_publish(&mut self, mut publish: Publish, id: Option<PacketId>) -> bool {
        // [MQTT-3.2.2-14]: no RETAIN when the remote has none.
        if !self.limits.retain_available && self.options.server_limits {
            publish.retain = false;
        }
        let fits = if self.options.server_limits {
            self.fit(&publish)
        } else {
            Ok(())
        };
        if let Err(error) = fits {
            self.events.push_back(Event::Dropped {
                packet_id: id,
                error,
            });
            return false;
        }
        self.alias(&mut publish);
        self.transmit.push_back(Packet::Publish(publish));
        true
    }

    /// [MQTT-3.3.2-8]..: a topic used before on this connection goes as
    /// its alias alone, while the remote allows aliases.
    fn alias(&mut self, publish: &mut Publish) {
        let max = self.limits.topic_alias_maximum;
        if max == 0 || !self.options.protocol.is_v5() || !self.options.topic_aliases {
            return;
        }
        if let Some(&alias) = self.aliases.get(&publish.topic) {
            publish.properties.push(Property::TopicAlias(alias));
            publish.topic = ByteString::new();
        } else if self.aliases.len() < usize::from(max) {
            let alias = self.aliases.len() as u16 + 1;
            self.aliases.insert(publish.topic.clone(), alias);
            publish.properties.push(Property::TopicAlias(alias));
        }
    }

    /// The remote's Maximum Packet Size ([MQTT-3.1.2-24]).
    fn fit(&self, publish: &Publish) -> Result<(), PublishError> {
        let Some(max) = self.limits.maximum_packet_size else {
            return Ok(());
        };
        let mut probe = publish.clone();
        if probe.qos != QoS::AtMostOnce && probe.packet_id.is_none() {
            probe.packet_id = PacketId::new(1);
        }
        let size = Packet::Publish(probe)
            .encoded_len(self.options.protocol)
            .map_err(|e| PublishError::Encode(e.to_string()))?;
        if size > max as usize {
            return Err(PublishError::TooLarge { size, max });
        }
        Ok(())
    }
}
