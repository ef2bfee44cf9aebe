//! The broker core driven by arbitrary event sequences, checked against a
//! model of what a peer may observe.
//!
//! A small world (four connection slots, three client ids, three topics and
//! filters including `+`, `#` and `$SYS/x`) receives random events: opens,
//! CONNECTs of every version with random options, PUBLISH at every QoS with
//! reused packet ids and topic aliases, acknowledgements with random ids,
//! SUBSCRIBE / UNSUBSCRIBE, PINGREQ, DISCONNECT (0x04, expiry changes),
//! AUTH, packets only a server sends, decode failures, socket closes,
//! write reports and time passing. Every packet a client "sends" is first
//! encoded and decoded by a per-connection [`hornet_codec::Decoder`], as the
//! shell does, so the core only sees what a real peer can make it see (a
//! refused packet becomes `decode_failed`). A client packet addressed to a
//! slot without a live connection first connects a persistent client there,
//! so most events reach a session; closes, decode failures and write
//! reports go to the slot's connection even after its `Close` (the broker
//! must ignore them).
//!
//! After every event the actions are drained and checked:
//!
//! - no panic;
//! - nothing is sent to a connection after its `Close`, a connection is
//!   closed at most once, and only connections that were opened;
//! - the first packet on a connection is CONNACK, at most one CONNACK per
//!   connection, a refused CONNACK is followed by `Close`, and a CONNACK
//!   answering Clean Start never says "session present";
//! - every packet encodes in the connection's protocol and, for an MQTT 5
//!   client, fits its Maximum Packet Size ([MQTT-3.1.2-25]);
//! - QoS 0 PUBLISH has no packet id, QoS 1/2 has one, distinct from every
//!   other message outstanding on that connection ([MQTT-2.2.1-3]);
//! - outstanding QoS 1/2 messages (the client model releases them on PUBACK,
//!   PUBCOMP or a failed PUBREC) never exceed `max_inflight_messages` capped
//!   by the client's Receive Maximum ([MQTT-4.9.0-2]);
//! - `Broker::clients_connected` equals the connections with a successful
//!   CONNACK and no `Close`.
//!
//! `PROPTEST_CASES=5000 cargo test -p hornet-core --test event_sequences
//! --release` for a longer run. The broker, the clock and the wire are the
//! core tests' one harness (`tests/support/mod.rs`, which also checks that
//! nothing is sent after `Close` and that sent packets encode, decode back
//! and fit the client's Maximum Packet Size); this file adds the events and
//! the client model. Neither uses proptest outside `mod properties`, so the
//! fuzz target `fuzz/fuzz_targets/core_events.rs` includes this file (and
//! with it the harness) and drives the same world from raw bytes.

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hornet_codec::{
    Ack, Auth, ConnAck, Connect, DecodeError, Disconnect, LastWill, Packet, PacketId, PacketType,
    Property, Protocol, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscribeFilter, SubscriptionOptions, UnsubAck, Unsubscribe,
};
use hornet_core::{Action, CloseCause, ConnId, Settings};
use support::{Harness, Sent};

/// Connection slots: events address the slot's latest connection.
pub(crate) const SLOTS: usize = 4;
/// Client identifiers; the empty one asks the broker to assign one.
pub(crate) const CLIENT_IDS: [&str; 4] = ["a", "b", "c", ""];
/// Topic names; the empty one is only valid with a topic alias.
pub(crate) const TOPICS: [&str; 4] = ["a/b", "$SYS/x", "c", ""];
/// Topic filters; the shared one is refused by the broker.
pub(crate) const FILTERS: [&str; 4] = ["a/+", "#", "$SYS/x", "$share/g/c"];
/// Payload sizes.
pub(crate) const PAYLOADS: [usize; 3] = [0, 3, 60];
/// Maximum Packet Size values a client may announce.
pub(crate) const CLIENT_MAX_PACKET: [u32; 3] = [24, 48, 256];

/// The CONNECT a client sends.
#[derive(Debug, Clone)]
pub(crate) struct ConnectSpec {
    pub(crate) protocol: Protocol,
    pub(crate) client: u8,
    pub(crate) clean: bool,
    pub(crate) keep_alive: u16,
    /// Topic index, QoS, retain, payload index.
    pub(crate) will: Option<(u8, u8, bool, u8)>,
    pub(crate) session_expiry: Option<u32>,
    pub(crate) receive_maximum: Option<u16>,
    /// Index into [`CLIENT_MAX_PACKET`].
    pub(crate) max_packet: Option<u8>,
}

/// A PUBLISH a client sends.
#[derive(Debug, Clone)]
pub(crate) struct PublishSpec {
    pub(crate) topic: u8,
    pub(crate) qos: u8,
    pub(crate) retain: bool,
    pub(crate) dup: bool,
    pub(crate) packet_id: u16,
    pub(crate) alias: Option<u16>,
    pub(crate) payload: u8,
}

/// One input to the broker.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A socket is accepted into `slot` (from loopback unless `remote`).
    Open {
        slot: u8,
        remote: bool,
    },
    /// CONNECT on the slot's connection (opened first if it has none).
    Connect {
        slot: u8,
        connect: ConnectSpec,
    },
    Publish {
        slot: u8,
        publish: PublishSpec,
    },
    /// `kind` 0..4: PUBACK, PUBREC, PUBREL, PUBCOMP; `error` sets 0x80.
    Ack {
        slot: u8,
        kind: u8,
        packet_id: u16,
        error: bool,
    },
    Subscribe {
        slot: u8,
        filter: u8,
        qos: u8,
        no_local: bool,
        rap: bool,
        rh: u8,
        identifier: Option<u32>,
    },
    Unsubscribe {
        slot: u8,
        filter: u8,
    },
    PingReq {
        slot: u8,
    },
    /// `reason` 0: normal, 1: with will (0x04), 2: 0x80.
    Disconnect {
        slot: u8,
        reason: u8,
        expiry: Option<u32>,
    },
    Auth {
        slot: u8,
    },
    /// `kind` 0..4: CONNACK, SUBACK, UNSUBACK, PINGRESP from the client.
    ServerPacket {
        slot: u8,
        kind: u8,
    },
    /// The shell's decoder refused the bytes (see [`decode_error`]).
    DecodeFailed {
        slot: u8,
        error: u8,
    },
    /// The socket ended; `cause` 0..3.
    Closed {
        slot: u8,
        cause: u8,
    },
    /// The shell wrote up to `count` packets.
    Written {
        slot: u8,
        count: u8,
    },
    /// Time passes and the broker ticks.
    Tick {
        millis: u32,
    },
}

/// A handful of decode failures, of both phases.
pub(crate) fn decode_error(n: u8) -> DecodeError {
    match n % 8 {
        0 => DecodeError::ReservedPacketType(0),
        1 => DecodeError::InvalidFlags {
            packet: PacketType::Publish,
            flags: 0b0110,
        },
        2 => DecodeError::UnsupportedProtocolLevel(6),
        3 => DecodeError::InvalidProtocolName {
            name: "MQTX".into(),
            level: 4,
        },
        4 => DecodeError::Truncated("a topic name"),
        5 => DecodeError::PacketTooLarge {
            size: 1 << 20,
            max: 1024,
        },
        6 => DecodeError::TopicAliasZero,
        _ => DecodeError::FirstPacketNotConnect(PacketType::Publish),
    }
}

fn qos(n: u8) -> QoS {
    QoS::from_u8(n % 3).expect("0..3")
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n.max(1)).expect("nonzero")
}

/// Where an outbound QoS 1/2 message is, as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outstanding {
    /// QoS 1 PUBLISH received, PUBACK not sent.
    Qos1,
    /// QoS 2 PUBLISH received, PUBREC not sent.
    Qos2,
    /// PUBREL received, PUBCOMP not sent.
    Released,
}

/// What the test knows about one connection beyond what the harness
/// checks (the wire, Maximum Packet Size, nothing after `Close`).
#[derive(Debug)]
struct Model {
    /// Packets received from the broker.
    received: usize,
    /// CONNACKs received; `Some(true)` once one said Success.
    connack: Option<bool>,
    /// The CONNECT that was accepted asked for Clean Start.
    clean: bool,
    receive_maximum: u16,
    outstanding: BTreeMap<u16, Outstanding>,
    /// Packet ids this client sent PUBREC for without the model knowing
    /// the PUBLISH (it arrived on an earlier connection): the PUBREL that
    /// answers is mandatory ([MQTT-4.3.3-4]), not a new publication.
    answered_pubrec: BTreeSet<u16>,
    /// The last CONNECT the broker saw on this connection, for the checks
    /// on its CONNACK.
    pending_connect: Option<Connect>,
}

impl Model {
    fn new() -> Model {
        Model {
            received: 0,
            connack: None,
            clean: false,
            receive_maximum: u16::MAX,
            outstanding: BTreeMap::new(),
            answered_pubrec: BTreeSet::new(),
            pending_connect: None,
        }
    }
}

/// The harness (broker, virtual clock, the wire) and the model of every
/// connection.
pub(crate) struct World {
    h: Harness,
    slots: [Option<ConnId>; SLOTS],
    conns: BTreeMap<ConnId, Model>,
    /// The harness's actions up to here were checked against the model.
    seen: usize,
    step: usize,
}

impl World {
    pub(crate) fn new(settings: Settings) -> World {
        let mut h = Harness::with(settings);
        // As the shell runs it: a fan-out's plain QoS 0 copies as one action.
        h.broker.send_many(true);
        World {
            h,
            slots: [None; SLOTS],
            conns: BTreeMap::new(),
            seen: 0,
            step: 0,
        }
    }

    /// Runs `events`, checking every invariant after each.
    pub(crate) fn run(settings: Settings, events: &[Event]) {
        let mut world = World::new(settings);
        for event in events {
            world.apply(event);
            world.drain();
            world.check();
            world.step += 1;
        }
    }

    fn fail(&self, what: String) -> ! {
        panic!("invariant violated after event #{}: {what}", self.step)
    }

    fn open(&mut self, slot: usize, remote: bool) -> ConnId {
        let id = self.h.open(if remote {
            "192.0.2.7:40000"
        } else {
            "127.0.0.1:40000"
        });
        self.conns.insert(id, Model::new());
        self.slots[slot] = Some(id);
        id
    }

    fn conn(&self, slot: u8) -> Option<ConnId> {
        self.slots[usize::from(slot) % SLOTS]
    }

    /// Sends `packet` from the client of `slot` through the codec, as a
    /// peer's bytes would arrive: the broker sees the decoded packet, or
    /// `decode_failed` if the shell's decoder refuses it.
    fn client_sends(&mut self, slot: u8, packet: Packet) {
        self.ensure_connected(slot);
        // The client reacts to what it has received so far.
        self.drain();
        let Some(id) = self.conn(slot) else { return };
        let closed = self.h.is_closed(id);
        // The broker's answer is checked by the next drain, after the
        // model has noted the packet.
        if let Sent::Received(decoded) = self.h.try_send(id, packet) {
            if !closed {
                let model = self.conns.get_mut(&id).expect("slot's connection");
                note_client_packet(model, &decoded);
            }
        }
    }

    /// Gives `slot` a connected client if it has none (or only a closed
    /// connection), so that most events reach a live session: a persistent
    /// session whose protocol and client id depend on the slot.
    fn ensure_connected(&mut self, slot: u8) {
        if self.conn(slot).is_some_and(|id| !self.h.is_closed(id)) {
            return;
        }
        let protocol = [Protocol::V5, Protocol::V3_1_1, Protocol::V5, Protocol::V3_1]
            [usize::from(slot) % SLOTS];
        let connect = ConnectSpec {
            protocol,
            client: slot % 3,
            clean: false,
            keep_alive: 0,
            will: None,
            session_expiry: protocol.is_v5().then_some(60),
            receive_maximum: None,
            max_packet: None,
        };
        self.open(usize::from(slot) % SLOTS, false);
        self.client_sends(slot, build_connect(&connect).into());
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::Open { slot, remote } => {
                self.open(usize::from(*slot) % SLOTS, *remote);
            }
            Event::Connect { slot, connect } => {
                // A fresh connection unless the slot's is waiting for CONNECT.
                let open = match self.conn(*slot) {
                    Some(id) => self.h.is_closed(id) || self.conns[&id].connack.is_some(),
                    None => true,
                };
                if open {
                    self.open(usize::from(*slot) % SLOTS, false);
                }
                let packet = build_connect(connect);
                self.client_sends(*slot, packet.into());
            }
            Event::Publish { slot, publish } => {
                let p = build_publish(publish);
                self.client_sends(*slot, p.into());
            }
            Event::Ack {
                slot,
                kind,
                packet_id,
                error,
            } => {
                let mut ack = Ack::new(pid(*packet_id));
                if *error {
                    ack.reason_code = ReasonCode::UnspecifiedError;
                }
                let packet = match kind % 4 {
                    0 => Packet::PubAck(ack),
                    1 => Packet::PubRec(ack),
                    2 => {
                        if *error {
                            ack.reason_code = ReasonCode::PacketIdentifierNotFound;
                        }
                        Packet::PubRel(ack)
                    }
                    _ => {
                        if *error {
                            ack.reason_code = ReasonCode::PacketIdentifierNotFound;
                        }
                        Packet::PubComp(ack)
                    }
                };
                self.client_sends(*slot, packet);
            }
            Event::Subscribe {
                slot,
                filter,
                qos: q,
                no_local,
                rap,
                rh,
                identifier,
            } => {
                let options = SubscriptionOptions {
                    qos: qos(*q),
                    no_local: *no_local,
                    retain_as_published: *rap,
                    retain_handling: match rh % 3 {
                        0 => RetainHandling::OnSubscribe,
                        1 => RetainHandling::OnNewSubscribe,
                        _ => RetainHandling::Never,
                    },
                };
                let mut s = Subscribe::new(pid(7), FILTERS[usize::from(*filter) % 4], qos(*q));
                s.filters = vec![SubscribeFilter {
                    filter: FILTERS[usize::from(*filter) % 4].into(),
                    options,
                }];
                if let Some(i) = identifier {
                    s.properties.push(Property::SubscriptionIdentifier(*i));
                }
                self.client_sends(*slot, s.into());
            }
            Event::Unsubscribe { slot, filter } => {
                let u = Unsubscribe::new(pid(8), FILTERS[usize::from(*filter) % 4]);
                self.client_sends(*slot, u.into());
            }
            Event::PingReq { slot } => self.client_sends(*slot, Packet::PingReq),
            Event::Disconnect {
                slot,
                reason,
                expiry,
            } => {
                let mut d = Disconnect::new(match reason % 3 {
                    0 => ReasonCode::Success,
                    1 => ReasonCode::DisconnectWithWillMessage,
                    _ => ReasonCode::UnspecifiedError,
                });
                if let Some(e) = expiry {
                    d.properties.push(Property::SessionExpiryInterval(*e));
                }
                self.client_sends(*slot, d.into());
            }
            Event::Auth { slot } => {
                let mut a = Auth {
                    reason_code: ReasonCode::ContinueAuthentication,
                    properties: Default::default(),
                };
                a.properties
                    .push(Property::AuthenticationMethod("SCRAM-SHA-1".into()));
                self.client_sends(*slot, a.into());
            }
            Event::ServerPacket { slot, kind } => {
                let packet = match kind % 4 {
                    0 => ConnAck::new(ReasonCode::Success, false).into(),
                    1 => SubAck {
                        packet_id: pid(1),
                        properties: Default::default(),
                        reason_codes: vec![ReasonCode::GrantedQos1],
                    }
                    .into(),
                    2 => UnsubAck {
                        packet_id: pid(1),
                        properties: Default::default(),
                        reason_codes: vec![ReasonCode::Success],
                    }
                    .into(),
                    _ => Packet::PingResp,
                };
                self.client_sends(*slot, packet);
            }
            Event::DecodeFailed { slot, error } => {
                let Some(id) = self.conn(*slot) else { return };
                self.h.decode_failed(id, &decode_error(*error));
            }
            Event::Closed { slot, cause } => {
                let Some(id) = self.conn(*slot) else { return };
                let cause = match cause % 3 {
                    0 => CloseCause::PeerClosed,
                    1 => CloseCause::io(&std::io::ErrorKind::ConnectionReset.into()),
                    _ => CloseCause::Shutdown,
                };
                self.h.close_with(id, cause);
            }
            Event::Written { slot, count } => {
                let Some(id) = self.conn(*slot) else { return };
                self.h.written(id, usize::from(*count));
            }
            Event::Tick { millis } => {
                // Every deadline on the way, then the shell's ticker.
                self.h.advance(Duration::from_millis(u64::from(*millis)));
                self.h.tick();
            }
        }
    }

    /// Checks every action since the last drain against the model (the
    /// harness has already checked the wire, closes and nothing after them).
    fn drain(&mut self) {
        let actions = self.h.since(self.seen);
        self.seen = self.h.mark();
        for action in actions {
            match action {
                Action::Send { conn, packet } => self.on_send(conn, packet),
                Action::SendMany { conns, publish } => {
                    for conn in conns {
                        self.on_send(conn, Packet::Publish(publish.clone()));
                    }
                }
                Action::Close { .. } => {}
                Action::CheckPassword { conn, .. } => {
                    self.fail(format!("CheckPassword for {conn} without an authenticator"));
                }
                Action::DrainInput { conn } => {
                    self.fail(format!(
                        "DrainInput for {conn} without drain_before_takeover"
                    ));
                }
                Action::Persist { seq, .. } => {
                    self.fail(format!("Persist {seq} without persistence"));
                }
                Action::Forward { .. }
                | Action::Applied { .. }
                | Action::Routes { .. }
                | Action::Retain { .. }
                | Action::Will { .. }
                | Action::Takeover { .. }
                | Action::Resync { .. }
                | Action::Claim { .. }
                | Action::MoveSession { .. }
                | Action::Release { .. } => {
                    self.fail("a cluster action without a cluster".to_string());
                }
            }
        }
        // A refused CONNECT ends the connection.
        for (id, model) in &self.conns {
            if model.connack == Some(false) && !self.h.is_closed(*id) {
                self.fail(format!("{id} got a refusing CONNACK but no Close"));
            }
        }
    }

    fn on_send(&mut self, id: ConnId, packet: Packet) {
        let window = self.h.settings.max_inflight_messages;
        let Some(model) = self.conns.get_mut(&id) else {
            self.fail(format!("{packet:?} sent to {id}, which was never opened"));
        };
        let step = self.step;
        let fail = |what: String| -> ! {
            panic!("invariant violated after event #{step}: {what}");
        };
        model.received += 1;
        if model.received == 1 && !matches!(packet, Packet::ConnAck(_)) {
            fail(format!(
                "the first packet sent to {id} is {packet:?}, not CONNACK"
            ));
        }
        match &packet {
            Packet::ConnAck(ack) => {
                if model.connack.is_some() {
                    fail(format!("a second CONNACK to {id}: {ack:?}"));
                }
                let success = ack.reason_code == ReasonCode::Success;
                model.connack = Some(success);
                let connect = model.pending_connect.take();
                if success {
                    let Some(connect) = connect else {
                        fail(format!("CONNACK Success to {id} without a CONNECT"));
                    };
                    model.clean = connect.clean_start;
                    if connect.protocol.is_v5() {
                        model.receive_maximum =
                            connect.properties.receive_maximum().unwrap_or(u16::MAX);
                    }
                    if model.clean && ack.session_present {
                        fail(format!(
                            "CONNACK to {id} says session present after Clean Start [MQTT-3.2.2-2]"
                        ));
                    }
                } else if ack.session_present {
                    fail(format!(
                        "refusing CONNACK to {id} says session present [MQTT-3.2.2-6]"
                    ));
                }
            }
            Packet::Publish(p) => {
                match (p.qos, p.packet_id) {
                    (QoS::AtMostOnce, None) => {}
                    (QoS::AtMostOnce, Some(_)) => {
                        fail(format!("QoS 0 PUBLISH with a packet id to {id}: {p:?}"))
                    }
                    (_, None) => fail(format!(
                        "QoS {:?} PUBLISH without a packet id to {id}",
                        p.qos
                    )),
                    (q, Some(packet_id)) => {
                        let state = if q == QoS::AtLeastOnce {
                            Outstanding::Qos1
                        } else {
                            Outstanding::Qos2
                        };
                        if let Some(old) = model.outstanding.insert(packet_id.get(), state) {
                            fail(format!(
                                "PUBLISH to {id} reuses packet id {packet_id} of an outstanding {old:?} message [MQTT-2.2.1-3]"
                            ));
                        }
                    }
                }
                if p.topic.is_empty() {
                    fail(format!("PUBLISH with an empty topic to {id}: {p:?}"));
                }
            }
            Packet::PubRel(ack) if ack.reason_code == ReasonCode::Success => {
                // A PUBREL resent on resume is an outstanding message too.
                match model.outstanding.get(&ack.packet_id.get()) {
                    Some(Outstanding::Released) => {}
                    Some(other) => fail(format!(
                        "PUBREL {} to {id} for a message in state {other:?}",
                        ack.packet_id
                    )),
                    None if model.answered_pubrec.remove(&ack.packet_id.get()) => {}
                    None => {
                        model
                            .outstanding
                            .insert(ack.packet_id.get(), Outstanding::Released);
                    }
                }
            }
            _ => {}
        }
        let limit = usize::from(window.min(model.receive_maximum));
        // Checked when a packet adds an outstanding message.
        let adds = matches!(&packet, Packet::Publish(p) if p.qos != QoS::AtMostOnce)
            || matches!(packet, Packet::PubRel(_));
        if adds && model.outstanding.len() > limit {
            fail(format!(
                "{} QoS 1/2 messages outstanding on {id} ({:?}), over min(max_inflight {window}, Receive Maximum {}) [MQTT-4.9.0-2]",
                model.outstanding.len(),
                model.outstanding,
                model.receive_maximum
            ));
        }
    }

    /// Checks that hold between events.
    fn check(&mut self) {
        let connected = self
            .conns
            .iter()
            .filter(|(id, m)| m.connack == Some(true) && !self.h.is_closed(**id))
            .count();
        let broker = &self.h.broker;
        if broker.clients_connected() != connected {
            self.fail(format!(
                "clients_connected() is {}, the model counts {connected}",
                broker.clients_connected()
            ));
        }
        let _ = broker.next_deadline();
        let _ = (broker.session_count(), broker.subscription_count());
    }
}

/// Updates the client model for a packet the broker is about to receive.
fn note_client_packet(model: &mut Model, packet: &Packet) {
    if let Packet::Connect(c) = packet {
        if model.connack.is_none() {
            model.pending_connect = Some((**c).clone());
        }
        return;
    }
    // PUBACK, a failed PUBREC and PUBCOMP end an outbound message; a
    // successful PUBREC moves it on to PUBREL.
    let (ack, from, to) = match packet {
        Packet::PubAck(ack) => (ack, Outstanding::Qos1, None),
        Packet::PubRec(ack) if ack.reason_code.is_error() => (ack, Outstanding::Qos2, None),
        Packet::PubRec(ack) => (ack, Outstanding::Qos2, Some(Outstanding::Released)),
        Packet::PubComp(ack) => (ack, Outstanding::Released, None),
        _ => return,
    };
    let id = ack.packet_id.get();
    if matches!(packet, Packet::PubRec(a) if !a.reason_code.is_error())
        && !model.outstanding.contains_key(&id)
    {
        model.answered_pubrec.insert(id);
    }
    if model.outstanding.get(&id) == Some(&from) {
        match to {
            Some(state) => model.outstanding.insert(id, state),
            None => model.outstanding.remove(&id),
        };
    }
}

fn build_connect(spec: &ConnectSpec) -> Connect {
    let mut c = Connect::new(spec.protocol, CLIENT_IDS[usize::from(spec.client) % 4]);
    c.clean_start = spec.clean;
    c.keep_alive = spec.keep_alive;
    if let Some((topic, q, retain, payload)) = spec.will {
        let topic = match TOPICS[usize::from(topic) % 4] {
            "" => "w",
            t => t,
        };
        c.will = Some(LastWill {
            topic: topic.into(),
            payload: vec![b'w'; PAYLOADS[usize::from(payload) % 3]].into(),
            qos: qos(q),
            retain,
            properties: Default::default(),
        });
    }
    if let Some(e) = spec.session_expiry {
        c.properties.push(Property::SessionExpiryInterval(e));
    }
    if let Some(r) = spec.receive_maximum {
        c.properties.push(Property::ReceiveMaximum(r));
    }
    if let Some(m) = spec.max_packet {
        c.properties.push(Property::MaximumPacketSize(
            CLIENT_MAX_PACKET[usize::from(m) % 3],
        ));
    }
    c
}

fn build_publish(spec: &PublishSpec) -> Publish {
    let mut p = Publish::new(
        TOPICS[usize::from(spec.topic) % 4],
        vec![b'p'; PAYLOADS[usize::from(spec.payload) % 3]],
    );
    p.qos = qos(spec.qos);
    p.retain = spec.retain;
    p.dup = spec.dup;
    if p.qos != QoS::AtMostOnce {
        p.packet_id = Some(pid(spec.packet_id));
    }
    if let Some(a) = spec.alias {
        p.properties.push(Property::TopicAlias(a));
    }
    p
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn protocol() -> impl Strategy<Value = Protocol> {
        prop_oneof![
            Just(Protocol::V3_1),
            Just(Protocol::V3_1_1),
            Just(Protocol::V5)
        ]
    }

    fn settings() -> impl Strategy<Value = Settings> {
        (
            prop_oneof![1u16..=3, Just(20)],
            prop_oneof![0usize..=5, Just(1000)],
            prop_oneof![1usize..=5, Just(1024)],
            any::<bool>(),
            any::<bool>(),
            prop_oneof![Just(64u32), Just(1024 * 1024)],
            prop_oneof![7 => Just(u16::MAX), 1 => Just(2u16)],
            prop_oneof![Just(0u16), Just(2u16), Just(64u16)],
        )
            .prop_map(
                |(inflight, queued, unwritten, sys, qos0, max_packet, max_ka, aliases)| Settings {
                    max_inflight_messages: inflight,
                    max_queued_messages: queued,
                    max_unwritten_packets: unwritten,
                    sys_interval: sys.then_some(Duration::from_secs(1)),
                    queue_qos0_messages: qos0,
                    max_packet_size: max_packet,
                    max_keepalive: max_ka,
                    topic_alias_maximum: aliases,
                    connect_timeout: Duration::from_secs(5),
                    connection_messages: false,
                    ..Settings::default()
                },
            )
    }

    fn connect() -> impl Strategy<Value = ConnectSpec> {
        (
            protocol(),
            0u8..4,
            any::<bool>(),
            prop_oneof![2 => Just(0u16), 1 => 1u16..=3],
            proptest::option::weighted(0.3, (0u8..4, 0u8..3, any::<bool>(), 0u8..3)),
            proptest::option::of(prop_oneof![Just(0u32), Just(1), Just(10), Just(u32::MAX)]),
            proptest::option::of(1u16..=3),
            proptest::option::weighted(0.3, 0u8..3),
        )
            .prop_map(
                |(protocol, client, clean, keep_alive, will, session_expiry, rm, max_packet)| {
                    ConnectSpec {
                        protocol,
                        client,
                        clean,
                        keep_alive,
                        will,
                        session_expiry,
                        receive_maximum: rm,
                        max_packet,
                    }
                },
            )
    }

    fn publish() -> impl Strategy<Value = PublishSpec> {
        (
            prop_oneof![3 => Just(0u8), 1 => Just(1), 2 => Just(2), 1 => Just(3)],
            0u8..3,
            any::<bool>(),
            proptest::bool::weighted(0.05),
            1u16..=3,
            proptest::option::weighted(0.25, prop_oneof![1u16..=2, Just(0u16), Just(100u16)]),
            0u8..3,
        )
            .prop_map(
                |(topic, qos, retain, dup, packet_id, alias, payload)| PublishSpec {
                    topic,
                    qos,
                    retain,
                    dup,
                    packet_id,
                    alias,
                    payload,
                },
            )
    }

    fn event() -> impl Strategy<Value = Event> {
        let slot = 0u8..SLOTS as u8;
        prop_oneof![
            1 => (slot.clone(), proptest::bool::weighted(0.1))
                .prop_map(|(slot, remote)| Event::Open { slot, remote }),
            6 => (slot.clone(), connect()).prop_map(|(slot, connect)| Event::Connect { slot, connect }),
            12 => (slot.clone(), publish()).prop_map(|(slot, publish)| Event::Publish { slot, publish }),
            6 => (slot.clone(), 0u8..4, 1u16..=4, proptest::bool::weighted(0.2)).prop_map(
                |(slot, kind, packet_id, error)| Event::Ack { slot, kind, packet_id, error }
            ),
            6 => (
                slot.clone(),
                0u8..4,
                0u8..3,
                any::<bool>(),
                any::<bool>(),
                0u8..3,
                proptest::option::weighted(0.3, 1u32..=3),
            )
                .prop_map(|(slot, filter, qos, no_local, rap, rh, identifier)| Event::Subscribe {
                    slot,
                    filter,
                    qos,
                    no_local,
                    rap,
                    rh,
                    identifier,
                }),
            2 => (slot.clone(), 0u8..4).prop_map(|(slot, filter)| Event::Unsubscribe { slot, filter }),
            1 => slot.clone().prop_map(|slot| Event::PingReq { slot }),
            2 => (
                slot.clone(),
                0u8..3,
                proptest::option::of(prop_oneof![Just(0u32), Just(5), Just(u32::MAX)])
            )
                .prop_map(|(slot, reason, expiry)| Event::Disconnect { slot, reason, expiry }),
            1 => slot.clone().prop_map(|slot| Event::Auth { slot }),
            1 => (slot.clone(), 0u8..4).prop_map(|(slot, kind)| Event::ServerPacket { slot, kind }),
            1 => (slot.clone(), 0u8..8).prop_map(|(slot, error)| Event::DecodeFailed { slot, error }),
            1 => (slot.clone(), 0u8..3).prop_map(|(slot, cause)| Event::Closed { slot, cause }),
            5 => (slot, 0u8..6).prop_map(|(slot, count)| Event::Written { slot, count }),
            4 => prop_oneof![3 => 0u32..=1000, 1 => 0u32..=20_000].prop_map(|millis| Event::Tick { millis }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            // PROPTEST_CASES overrides the default for longer runs.
            cases: std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(1000),
            max_shrink_iters: 20_000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// No event sequence makes the broker panic or break an invariant.
        #[test]
        fn arbitrary_event_sequences_keep_the_invariants(
            settings in settings(),
            events in proptest::collection::vec(event(), 1..80),
        ) {
            World::run(settings, &events);
        }
    }
}

/// Sequences the properties found, replayed as named tests (shrunk by hand
/// from proptest's output).
#[cfg(test)]
mod found {
    use super::*;

    fn settings() -> Settings {
        Settings {
            sys_interval: None,
            connection_messages: false,
            ..Settings::default()
        }
    }

    /// A persistent MQTT 5 session for client "a" on slot 0.
    fn connect_a(receive_maximum: Option<u16>, max_packet: Option<u8>) -> Event {
        Event::Connect {
            slot: 0,
            connect: ConnectSpec {
                protocol: Protocol::V5,
                client: 0,
                clean: false,
                keep_alive: 0,
                will: None,
                session_expiry: Some(60),
                receive_maximum,
                max_packet,
            },
        }
    }

    fn subscribe_all(slot: u8) -> Event {
        Event::Subscribe {
            slot,
            filter: 1, // "#"
            qos: 1,
            no_local: false,
            rap: false,
            rh: 0,
            identifier: None,
        }
    }

    /// QoS 1 PUBLISH to "c" with packet id `packet_id` and a 3- or 60-byte payload.
    fn publish_c(slot: u8, packet_id: u16, large: bool) -> Event {
        Event::Publish {
            slot,
            publish: PublishSpec {
                topic: 2, // "c"
                qos: 1,
                retain: false,
                dup: false,
                packet_id,
                alias: None,
                payload: if large { 2 } else { 1 },
            },
        }
    }

    /// A DISCONNECT whose Reason String makes it larger than the client's
    /// Maximum Packet Size (24) is sent anyway ([MQTT-3.14.2-3] says leave
    /// the Reason String out; [MQTT-3.1.2-25]).
    #[test]
    fn disconnect_reason_string_fits_the_clients_maximum_packet_size() {
        World::run(
            settings(),
            &[connect_a(None, Some(0)), Event::Auth { slot: 0 }],
        );
    }

    /// On resume, unacknowledged messages are resent all at once, beyond a
    /// smaller Receive Maximum of the new connection ([MQTT-4.9.0-2]).
    #[test]
    fn resend_on_resume_respects_the_new_receive_maximum() {
        World::run(
            settings(),
            &[
                connect_a(None, None),
                subscribe_all(0),
                publish_c(0, 1, false),
                publish_c(0, 2, false),
                connect_a(Some(1), None),
            ],
        );
    }

    /// On resume, an unacknowledged message is resent even when it is
    /// larger than the new connection's Maximum Packet Size ([MQTT-3.1.2-25]).
    #[test]
    fn resend_on_resume_respects_the_new_maximum_packet_size() {
        World::run(
            settings(),
            &[
                connect_a(None, None),
                subscribe_all(0),
                publish_c(0, 1, true),
                connect_a(None, Some(0)),
            ],
        );
    }

    /// A message queued while the client was away is flushed on resume even
    /// when it is larger than the client's Maximum Packet Size
    /// ([MQTT-3.1.2-25]; `deliver` checks the size, `flush` does not).
    #[test]
    fn queued_messages_respect_the_maximum_packet_size() {
        World::run(
            settings(),
            &[
                connect_a(None, None),
                subscribe_all(0),
                Event::Disconnect {
                    slot: 0,
                    reason: 0,
                    expiry: None,
                },
                publish_c(1, 1, true),
                connect_a(None, Some(0)),
            ],
        );
    }
}
