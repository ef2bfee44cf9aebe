//! The session on a virtual clock: every packet it sends is encoded and
//! decoded back as the remote would read it.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use hornet_codec::{
    Ack, ConnAck, Decoder, Packet, PacketId, Property, Protocol, Publish, QoS, ReasonCode,
};

use crate::{ClientError, Event, Options, PublishError, Session, Stage, State};

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

struct Rig {
    session: Session,
    now: Instant,
}

impl Rig {
    fn new(protocol: Protocol) -> Rig {
        let mut options = Options::new(protocol, "bridge");
        options.clean_start = false;
        Rig {
            session: Session::new(options),
            now: Instant::now(),
        }
    }

    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
    }

    /// Everything the session sends, through the codec as the remote
    /// reads it.
    fn sent(&mut self) -> Vec<Packet> {
        let protocol = self.session.protocol();
        let mut wire = BytesMut::new();
        let mut count = 0;
        while let Some(p) = self.session.poll_transmit(self.now) {
            p.encode(protocol, &mut wire).unwrap();
            count += 1;
        }
        let mut decoder = Decoder::with_protocol(protocol);
        let mut out = Vec::new();
        while let Some(p) = decoder.decode(&mut wire).unwrap() {
            out.push(p);
        }
        assert_eq!(out.len(), count);
        out
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    fn connect_with(&mut self, connack: ConnAck) {
        self.session.connect(self.now);
        let sent = self.sent();
        assert!(matches!(sent[..], [Packet::Connect(_)]), "{sent:?}");
        self.session.handle(Packet::ConnAck(connack)).unwrap();
    }

    fn connect(&mut self, session_present: bool) {
        self.connect_with(ConnAck::new(ReasonCode::Success, session_present));
    }

    fn recv(&mut self, packet: Packet) -> Result<(), ClientError> {
        self.session.handle(packet)
    }

    fn publish(&mut self, topic: &str, qos: QoS) -> Option<PacketId> {
        let mut p = Publish::new(topic.to_string(), "x");
        p.qos = qos;
        self.session.publish(p).unwrap()
    }
}

fn connack_with(props: Vec<Property>) -> ConnAck {
    let mut c = ConnAck::new(ReasonCode::Success, false);
    for p in props {
        c.properties.push(p);
    }
    c
}

fn publishes(packets: &[Packet]) -> Vec<(Option<u16>, bool, QoS)> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some((p.packet_id.map(|i| i.get()), p.dup, p.qos)),
            _ => None,
        })
        .collect()
}

#[test]
fn packet_ids_skip_zero_and_ids_in_use() {
    let mut ids = crate::ids::PacketIds::default();
    let first = ids.allocate().unwrap();
    assert_eq!(first.get(), 1);
    for _ in 2..=u16::MAX {
        ids.allocate().unwrap();
    }
    assert!(ids.allocate().is_none(), "all 65535 in use");
    ids.release(id(7));
    assert_eq!(ids.allocate().unwrap().get(), 7, "[MQTT-2.2.1-3] never 0");
}

#[test]
fn connect_carries_options_and_bridge_bit() {
    let mut options = Options::new(Protocol::V3_1_1, "b1");
    options.bridge = true;
    options.clean_start = false;
    options.keep_alive = 30;
    let mut session = Session::new(options);
    session.connect(Instant::now());
    let mut wire = BytesMut::new();
    session
        .poll_transmit(Instant::now())
        .unwrap()
        .encode(Protocol::V3_1_1, &mut wire)
        .unwrap();
    assert_eq!(wire[8], 0x84, "protocol level 4 with the bridge bit");
    let Some(Packet::Connect(c)) = Decoder::new().decode(&mut wire).unwrap() else {
        panic!()
    };
    assert!(c.bridge && !c.clean_start && c.keep_alive == 30);
}

#[test]
fn qos1_publish_and_puback() {
    let mut rig = Rig::new(Protocol::V5);
    rig.connect(false);
    assert!(matches!(
        rig.events()[..],
        [Event::Connected {
            session_present: false
        }]
    ));
    assert_eq!(rig.publish("a", QoS::AtLeastOnce), Some(id(1)));
    assert_eq!(
        publishes(&rig.sent()),
        vec![(Some(1), false, QoS::AtLeastOnce)]
    );
    rig.recv(Packet::PubAck(Ack::new(id(1)))).unwrap();
    assert_eq!(
        rig.events(),
        vec![Event::Delivered {
            packet_id: id(1),
            reason: ReasonCode::Success
        }]
    );
    assert_eq!(rig.session.inflight_len(), 0);
}

#[test]
fn publishes_while_disconnected_wait_for_the_connection() {
    let mut rig = Rig::new(Protocol::V3_1_1);
    rig.publish("a", QoS::AtLeastOnce);
    rig.publish("b", QoS::AtMostOnce);
    assert!(rig.sent().is_empty());
    rig.connect(false);
    assert_eq!(
        publishes(&rig.sent()),
        vec![
            (Some(1), false, QoS::AtLeastOnce),
            (None, false, QoS::AtMostOnce)
        ]
    );
}

#[test]
fn mqtt_3_3_4_7_receive_maximum_bounds_the_window() {
    let mut rig = Rig::new(Protocol::V5);
    rig.connect_with(connack_with(vec![Property::ReceiveMaximum(2)]));
    for _ in 0..5 {
        rig.publish("t", QoS::AtLeastOnce);
    }
    assert_eq!(publishes(&rig.sent()).len(), 2);
    rig.recv(Packet::PubAck(Ack::new(id(1)))).unwrap();
    assert_eq!(
        publishes(&rig.sent()),
        vec![(Some(3), false, QoS::AtLeastOnce)]
    );
    // QoS 2 counts until PUBCOMP.
    rig.recv(Packet::PubAck(Ack::new(id(2)))).unwrap();
    rig.recv(Packet::PubAck(Ack::new(id(3)))).unwrap();
    assert_eq!(publishes(&rig.sent()).len(), 2);
    assert_eq!(rig.session.in_window(), 2);
}

#[test]
fn own_max_inflight_bounds_the_window_too() {
    let mut options = Options::new(Protocol::V3_1_1, "b");
    options.max_inflight = 1;
    let mut rig = Rig {
        session: Session::new(options),
        now: Instant::now(),
    };
    rig.connect(false);
    rig.publish("t", QoS::AtLeastOnce);
    rig.publish("t", QoS::AtLeastOnce);
    assert_eq!(publishes(&rig.sent()).len(), 1);
}

#[test]
fn mqtt_4_4_0_1_resend_with_dup_after_reconnect() {
    let mut rig = Rig::new(Protocol::V3_1_1);
    rig.connect(false);
    rig.publish("a", QoS::AtLeastOnce);
    rig.publish("b", QoS::ExactlyOnce);
    assert_eq!(publishes(&rig.sent()).len(), 2);
    rig.session.connection_lost();
    assert_eq!(rig.session.state(), State::Disconnected);
    rig.advance(5);
    rig.connect(true);
    assert_eq!(
        publishes(&rig.sent()),
        vec![
            (Some(1), true, QoS::AtLeastOnce),
            (Some(2), true, QoS::ExactlyOnce)
        ]
    );
}

#[test]
fn qos2_pubrel_is_resent_after_reconnect_not_the_publish() {
    let mut rig = Rig::new(Protocol::V5);
    rig.connect(false);
    rig.publish("a", QoS::ExactlyOnce);
    rig.sent();
    rig.recv(Packet::PubRec(Ack::new(id(1)))).unwrap();
    assert!(matches!(rig.sent()[..], [Packet::PubRel(ref a)] if a.packet_id == id(1)));
    rig.session.connection_lost();
    rig.connect(true);
    let sent = rig.sent();
    assert!(
        matches!(sent[..], [Packet::PubRel(ref a)] if a.packet_id == id(1)),
        "[MQTT-4.3.3-4] PUBREL again, never the PUBLISH: {sent:?}"
    );
    assert_eq!(
        rig.session.outgoing().next().unwrap().1,
        Stage::AwaitingPubComp
    );
    rig.recv(Packet::PubComp(Ack::new(id(1)))).unwrap();
    assert!(rig.events().contains(&Event::Delivered {
        packet_id: id(1),
        reason: ReasonCode::Success
    }));
    assert_eq!(rig.session.inflight_len(), 0);
}

#[test]
fn a_duplicate_pubrec_gets_pubrel_again() {
    let mut rig = Rig::new(Protocol::V3_1_1);
    rig.connect(false);
    rig.publish("a", QoS::ExactlyOnce);
    rig.sent();
    rig.recv(Packet::PubRec(Ack::new(id(1)))).unwrap();
    rig.recv(Packet::PubRec(Ack::new(id(1)))).unwrap();
    assert_eq!(rig.sent().len(), 2);
    assert_eq!(rig.session.inflight_len(), 1);
}

#[test]
fn a_lost_remote_session_ends_qos2_past_pubrec_and_resends_the_rest_fresh() {
    let mut rig = Rig::new(Protocol::V5);
    rig.connect(false);
    rig.publish("a", QoS::ExactlyOnce);
    rig.publish("b", QoS::AtLeastOnce);
    rig.sent();
    rig.recv(Packet::PubRec(Ack::new(id(1)))).unwrap();
    rig.sent();
    rig.session.connection_lost();
    rig.events();
    rig.connect(false);
    assert_eq!(
        rig.events()[0],
        Event::Delivered {
            packet_id: id(1),
            reason: ReasonCode::PacketIdentifierNotFound
        }
    );
    assert_eq!(
        publishes(&rig.sent()),
        vec![(Some(2), true, QoS::AtLeastOnce)]
    );
}

#[test]
fn a_smaller_receive_maximum_after_reconnect_limits_the_resend() {
    let mut rig = Rig::new(Protocol::V5);
    rig.connect(false);
    for _ in 0..3 {
        rig.publish("t", QoS::AtLeastOnce);
    }
    assert_eq!(rig.sent().len(), 3);
    rig.session.connection_lost();
    let mut connack = connack_with(vec![Property::ReceiveMaximum(1)]);
    connack.session_present = true;
    rig.connect_with(connack);
    assert_eq!(
        publishes(&rig.sent()),
        vec![(Some(1), true, QoS::AtLeastOnce)]
    );
    rig.recv(Packet::PubAck(Ack::new(id(1)))).unwrap();
    assert_eq!(
        publishes(&rig.sent()),
        vec![(Some(2), true, QoS::AtLeastOnce)]
    );
}

#[test]
fn keep_alive_pings_on_the_virtual_clock_and_times_out() {
    let mut rig = Rig::new(Protocol::V3_1_1);
    let start = rig.now;
    rig.connect(false);
    assert_eq!(
        rig.session.next_deadline(),
        Some(start + Duration::from_secs(60))
    );
    rig.advance(59);
    rig.session.tick(rig.now).unwrap();
    assert!(rig.sent().is_empty());
    rig.advance(1);
    rig.session.tick(rig.now).unwrap();
    assert!(
        matches!(rig.sent()[..], [Packet::PingReq]),
        "[MQTT-3.1.2-23]"
    );
    rig.advance(3);
    rig.recv(Packet::PingResp).unwrap();
    assert_eq!(
        rig.session.next_deadline(),
        Some(start + Duration::from_secs(120))
    );
    // A publish at 100 s moves the next ping.
    rig.now = start + Duration::from_secs(100);
    rig.publish("t", QoS::AtMostOnce);
    rig.sent();
    assert_eq!(
        rig.session.next_deadline(),
        Some(start + Duration::from_secs(160))
    );
    rig.now = start + Duration::from_secs(160);
    rig.session.tick(rig.now).unwrap();
    assert!(matches!(rig.sent()[..], [Packet::PingReq]));
    rig.advance(60);
    assert_eq!(rig.session.tick(rig.now), Err(ClientError::Timeout(60)));
    assert_eq!(rig.session.state(), State::Disconnected);
    assert_eq!(rig.session.next_deadline(), None);
}

#[test]
fn server_keep_alive_replaces_ours() {
    let mut rig = Rig::new(Protocol::V5);
    let start = rig.now;
    rig.connect_with(connack_with(vec![Property::ServerKeepAlive(10)]));
    assert_eq!(
        rig.session.next_deadline(),
        Some(start + Duration::from_secs(10))
    );
}

#[test]
fn no_connack_within_the_keep_alive_is_a_timeout() {
    let mut rig = Rig::new(Protocol::V3_1_1);
    rig.session.connect(rig.now);
    rig.sent();
    rig.advance(60);
    assert_eq!(rig.session.tick(rig.now), Err(ClientError::Timeout(60)));
}

#[test]
fn mqtt_3_2_2_11_maximum_qos_downgrades() {
    let mut rig = Rig::new(Protocol::V5);
    rig.connect_with(connack_with(vec![Property::MaximumQos(0)]));
    rig.events();
    rig.publish("t", QoS::AtLeastOnce);
    assert_eq!(publishes(&rig.sent()), vec![(None, false, QoS::AtMostOnce)]);
    assert_eq!(
        rig.events(),
        vec![Event::Delivered {
            packet_id: id(1),
            reason: ReasonCode::Success
        }]
    );
    let mut rig = Rig::new(Protocol::V5);
    rig.connect_with(connack_with(vec![Property::MaximumQos(1)]));
    rig.publish("t", QoS::ExactlyOnce);
    assert_eq!(
        publishes(&rig.sent()),
        vec![(Some(1), false, QoS::AtLeastOnce)]
    );
    rig.recv(Packet::PubAck(Ack::new(id(1)))).unwrap();
    assert_eq!(rig.session.inflight_len(), 0);
}

#[test]
fn mqtt_3_2_2_14_no_retain_when_unavailable() {
    let mut rig = Rig::new(Protocol::V5);
    rig.connect_with(connack_with(vec![Property::RetainAvailable(0)]));
    let mut p = Publish::new("t", "x");
    p.retain = true;
    rig.session.publish(p).unwrap();
    let sent = rig.sent();
    assert!(matches!(sent[..], [Packet::Publish(ref p)] if !p.retain));
}

#[test]
fn mqtt_3_1_2_24_maximum_packet_size_refuses_or_drops() {
    let mut rig = Rig::new(Protocol::V5);
    rig.publish("queued/before/the/connack", QoS::AtLeastOnce);
    rig.connect_with(connack_with(vec![Property::MaximumPacketSize(20)]));
    assert!(rig.sent().is_empty());
    assert!(rig.events().iter().any(|e| matches!(
        e,
        Event::Dropped { packet_id: Some(p), error: PublishError::TooLarge { max: 20, .. } } if *p == id(1)
    )));
    assert_eq!(rig.session.inflight_len(), 0);
    let mut big = Publish::new("t", vec![0u8; 64]);
    big.qos = QoS::AtLeastOnce;
    assert!(matches!(
        rig.session.publish(big),
        Err(PublishError::TooLarge { max: 20, .. })
    ));
    rig.publish("t", QoS::AtLeastOnce);
    assert_eq!(publishes(&rig.sent()).len(), 1);
}

#[test]
fn topic_aliases_within_the_remotes_maximum() {
    let mut rig = Rig::new(Protocol::V5);
    rig.connect_with(connack_with(vec![Property::TopicAliasMaximum(1)]));
    for topic in ["a/b", "a/b", "c"] {
        rig.publish(topic, QoS::AtMostOnce);
    }
    let sent: Vec<(String, Option<u16>)> = rig
        .sent()
        .into_iter()
        .map(|p| match p {
            Packet::Publish(p) => (p.topic.to_string(), p.properties.topic_alias()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        sent,
        vec![
            ("a/b".into(), Some(1)),
            ("".into(), Some(1)),
            ("c".into(), None)
        ]
    );
    // A new connection starts without aliases ([MQTT-3.3.2-10]).
    rig.session.connection_lost();
    rig.connect_with(connack_with(vec![Property::TopicAliasMaximum(1)]));
    rig.publish("a/b", QoS::AtMostOnce);
    assert!(matches!(rig.sent()[..], [Packet::Publish(ref p)] if p.topic == "a/b"));
}

#[test]
fn incoming_qos1_and_qos2_exactly_once() {
    let mut rig = Rig::new(Protocol::V3_1_1);
    rig.connect(false);
    rig.events();
    let mut p = Publish::new("in", "1");
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(id(3));
    rig.recv(Packet::Publish(p)).unwrap();
    assert!(matches!(rig.sent()[..], [Packet::PubAck(ref a)] if a.packet_id == id(3)));
    let mut q = Publish::new("in", "2");
    q.qos = QoS::ExactlyOnce;
    q.packet_id = Some(id(7));
    rig.recv(Packet::Publish(q.clone())).unwrap();
    q.dup = true;
    rig.recv(Packet::Publish(q)).unwrap();
    let sent = rig.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent
        .iter()
        .all(|p| matches!(p, Packet::PubRec(a) if a.packet_id == id(7))));
    assert_eq!(
        rig.events().len(),
        2,
        "the QoS 1 and the QoS 2 message once [MQTT-4.3.3-9]"
    );
    rig.recv(Packet::PubRel(Ack::new(id(7)))).unwrap();
    assert!(
        matches!(rig.sent()[..], [Packet::PubComp(ref a)] if a.reason_code == ReasonCode::Success)
    );
}

#[test]
fn remote_misbehaviour_is_an_error_and_ends_the_connection() {
    let mut rig = Rig::new(Protocol::V5);
    rig.session.connect(rig.now);
    rig.sent();
    assert_eq!(
        rig.recv(Packet::PingResp),
        Err(ClientError::BeforeConnAck(
            hornet_codec::PacketType::PingResp
        ))
    );
    rig.session.connect(rig.now);
    assert_eq!(
        rig.recv(Packet::ConnAck(ConnAck::new(
            ReasonCode::NotAuthorized,
            false
        ))),
        Err(ClientError::Refused(ReasonCode::NotAuthorized))
    );
    assert_eq!(rig.session.state(), State::Disconnected);
    rig.connect(false);
    assert_eq!(
        rig.recv(Packet::PingReq),
        Err(ClientError::Unexpected(hornet_codec::PacketType::PingReq))
    );
    rig.connect(false);
    let mut p = Publish::new("t", "x");
    p.properties.push(Property::TopicAlias(1));
    assert_eq!(rig.recv(Packet::Publish(p)), Err(ClientError::TopicAlias));
    rig.connect(false);
    let mut p = Publish::new("t", "x");
    p.qos = QoS::AtLeastOnce;
    assert_eq!(
        rig.recv(Packet::Publish(p)),
        Err(ClientError::BadPublish(1))
    );
}

#[test]
fn restored_messages_resend_with_their_ids_and_stage() {
    let mut rig = Rig::new(Protocol::V3_1_1);
    let mut p = Publish::new("t", "x");
    p.qos = QoS::ExactlyOnce;
    rig.session
        .restore(id(40), Stage::AwaitingPubRec, p.clone());
    rig.session.restore(id(41), Stage::AwaitingPubComp, p);
    assert_eq!(rig.publish("t", QoS::AtLeastOnce), Some(id(1)));
    rig.connect(true);
    let sent = rig.sent();
    assert_eq!(publishes(&sent)[0], (Some(40), true, QoS::ExactlyOnce));
    assert!(matches!(sent[1], Packet::PubRel(ref a) if a.packet_id == id(41)));
    assert_eq!(publishes(&sent)[1], (Some(1), false, QoS::AtLeastOnce));
}

#[test]
fn manual_ack_waits_for_the_caller() {
    let mut options = Options::new(Protocol::V3_1_1, "bridge");
    options.manual_ack = true;
    options.clean_start = false;
    let mut rig = Rig {
        session: Session::new(options),
        now: Instant::now(),
    };
    rig.connect(true);
    rig.events();
    let mut one = Publish::new("in", "1");
    one.qos = QoS::AtLeastOnce;
    one.packet_id = Some(id(3));
    rig.recv(Packet::Publish(one)).unwrap();
    let mut two = Publish::new("in", "2");
    two.qos = QoS::ExactlyOnce;
    two.packet_id = Some(id(4));
    rig.recv(Packet::Publish(two.clone())).unwrap();
    assert_eq!(rig.events().len(), 2);
    assert!(
        rig.sent().is_empty(),
        "nothing acknowledged before the caller"
    );
    rig.session.acknowledge(id(3), QoS::AtLeastOnce);
    assert!(matches!(rig.sent()[..], [Packet::PubAck(ref a)] if a.packet_id == id(3)));
    // The connection drops before the caller has the QoS 2 message: the
    // remote resends it; it is not handed on again, and the caller's
    // acknowledgement sends the PUBREC on the new connection.
    rig.session.connection_lost();
    rig.connect(true);
    rig.events();
    two.dup = true;
    rig.recv(Packet::Publish(two.clone())).unwrap();
    assert!(rig.events().is_empty(), "[MQTT-4.3.3-9] once");
    assert!(rig.sent().is_empty());
    rig.session.acknowledge(id(4), QoS::ExactlyOnce);
    assert!(matches!(rig.sent()[..], [Packet::PubRec(ref a)] if a.packet_id == id(4)));
    // Once acknowledged, a resend gets its PUBREC at once.
    rig.recv(Packet::Publish(two)).unwrap();
    assert!(matches!(rig.sent()[..], [Packet::PubRec(_)]));
    rig.recv(Packet::PubRel(Ack::new(id(4)))).unwrap();
    assert!(
        matches!(rig.sent()[..], [Packet::PubComp(ref a)] if a.reason_code == ReasonCode::Success)
    );
    // An acknowledgement of a message of a lost connection sends nothing.
    let mut three = Publish::new("in", "3");
    three.qos = QoS::AtLeastOnce;
    three.packet_id = Some(id(5));
    rig.recv(Packet::Publish(three)).unwrap();
    rig.session.connection_lost();
    rig.session.acknowledge(id(5), QoS::AtLeastOnce);
    rig.connect(true);
    assert!(rig.sent().is_empty());
}

fn manual_qos2_rig() -> Rig {
    let mut options = Options::new(Protocol::V3_1_1, "bridge");
    options.manual_ack = true;
    options.manual_qos2 = true;
    options.clean_start = false;
    Rig {
        session: Session::new(options),
        now: Instant::now(),
    }
}

#[test]
fn manual_qos2_pubrel_waits_for_the_callers_record() {
    let mut rig = manual_qos2_rig();
    rig.connect(true);
    rig.events();
    let mut p = Publish::new("out", "1");
    p.qos = QoS::ExactlyOnce;
    // The caller's identifier (its store's), and a busy one refused.
    rig.session.publish_as(p.clone(), id(7), false).unwrap();
    assert_eq!(
        rig.session.publish_as(p.clone(), id(7), true),
        Err(PublishError::IdInUse(7))
    );
    assert_eq!(
        publishes(&rig.sent()),
        vec![(Some(7), false, QoS::ExactlyOnce)]
    );
    rig.recv(Packet::PubRec(Ack::new(id(7)))).unwrap();
    assert_eq!(rig.events(), vec![Event::Received { packet_id: id(7) }]);
    assert!(
        rig.sent().is_empty(),
        "no PUBREL before the caller's record"
    );
    // A reconnect meanwhile resends nothing for it: neither the PUBLISH
    // (the remote has it) nor the PUBREL (not recorded yet).
    rig.session.connection_lost();
    rig.connect(true);
    rig.events();
    assert!(rig.sent().is_empty());
    rig.session.release(id(7)).unwrap();
    assert!(matches!(rig.sent()[..], [Packet::PubRel(ref a)] if a.packet_id == id(7)));
    rig.recv(Packet::PubComp(Ack::new(id(7)))).unwrap();
    assert_eq!(
        rig.events(),
        vec![Event::Delivered {
            packet_id: id(7),
            reason: ReasonCode::Success
        }]
    );
    assert!(!rig.session.holds(id(7)));
}

#[test]
fn manual_qos2_release_of_an_unknown_id_resends_its_pubrel() {
    // [MQTT-4.4.0-1]: after a restart of the caller, its record says
    // message 9 was PUBRECed: the PUBREL is sent again, never the PUBLISH.
    let mut rig = manual_qos2_rig();
    rig.session.release(id(9)).unwrap();
    rig.connect(true);
    assert!(matches!(rig.sent()[..], [Packet::PubRel(ref a)] if a.packet_id == id(9)));
    rig.recv(Packet::PubComp(Ack::new(id(9)))).unwrap();
    assert!(rig.events().contains(&Event::Delivered {
        packet_id: id(9),
        reason: ReasonCode::Success
    }));
}

#[test]
fn manual_qos2_pubcomp_waits_for_the_caller() {
    let mut rig = manual_qos2_rig();
    rig.connect(true);
    rig.events();
    let mut p = Publish::new("in", "1");
    p.qos = QoS::ExactlyOnce;
    p.packet_id = Some(id(4));
    rig.recv(Packet::Publish(p)).unwrap();
    rig.events();
    rig.session.acknowledge(id(4), QoS::ExactlyOnce);
    assert!(matches!(rig.sent()[..], [Packet::PubRec(_)]));
    rig.recv(Packet::PubRel(Ack::new(id(4)))).unwrap();
    assert_eq!(rig.events(), vec![Event::Release { packet_id: id(4) }]);
    assert!(
        rig.sent().is_empty(),
        "no PUBCOMP before the caller's record"
    );
    rig.session.complete_incoming(id(4));
    assert!(matches!(rig.sent()[..], [Packet::PubComp(ref a)] if a.packet_id == id(4)));
    // A PUBREL this session never saw (the caller restarted) is handed on
    // too: the caller's store knows whether it was released.
    rig.recv(Packet::PubRel(Ack::new(id(5)))).unwrap();
    assert_eq!(rig.events(), vec![Event::Release { packet_id: id(5) }]);
}
