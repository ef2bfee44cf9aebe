//! The options a command-line client (`hornet pub` / `hornet sub`) runs
//! the session with, on the virtual clock: its own CONNECT, QoS 2 handed
//! on at PUBREL, the remote's topic aliases, messages sent as given,
//! libmosquitto's message ids, and any packet answering a PINGREQ.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use hornet_codec::{
    Ack, ConnAck, Connect, Decoder, Disconnect, Packet, PacketId, Properties, Property, Protocol,
    Publish, QoS, ReasonCode, SubscribeFilter, SubscriptionOptions,
};

use crate::{ClientError, Event, Options, Session, State};

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// A session as the CLI makes it, connected with `connect` and `connack`.
fn cli(connect: Connect, connack: ConnAck, now: Instant) -> Session {
    let mut options = Options::new(connect.protocol, "");
    options.qos2_on_release = true;
    options.server_limits = false;
    options.topic_aliases = false;
    options.connack_timeout = Duration::from_secs(60);
    let mut session = Session::new(options);
    session.connect_with(now, connect);
    assert!(matches!(sent(&mut session, now)[..], [Packet::Connect(_)]));
    session.handle(Packet::ConnAck(connack)).unwrap();
    assert!(matches!(
        session.poll_event(),
        Some(Event::Connected { .. })
    ));
    session
}

fn sent(session: &mut Session, now: Instant) -> Vec<Packet> {
    let protocol = session.protocol();
    let mut wire = BytesMut::new();
    while let Some(p) = session.poll_transmit(now) {
        p.encode(protocol, &mut wire).unwrap();
    }
    let mut decoder = Decoder::with_protocol(protocol);
    std::iter::from_fn(|| decoder.decode(&mut wire).unwrap()).collect()
}

fn messages(session: &mut Session) -> Vec<Publish> {
    std::iter::from_fn(|| session.poll_event())
        .filter_map(|e| match e {
            Event::Message(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn ok() -> ConnAck {
    ConnAck::new(ReasonCode::Success, false)
}

#[test]
fn connect_with_sends_the_callers_connect_as_is() {
    let now = Instant::now();
    let mut connect = Connect::new(Protocol::V5, "mine");
    connect.keep_alive = 7;
    connect.clean_start = false;
    connect
        .properties
        .push(Property::UserProperty("k".into(), "v".into()));
    let mut session = Session::new(Options::new(Protocol::V3_1_1, "other"));
    session.connect_with(now, connect.clone());
    assert_eq!(
        sent(&mut session, now),
        vec![Packet::Connect(Box::new(connect))]
    );
    assert_eq!(session.protocol(), Protocol::V5);
    assert_eq!(&*session.options().client_id, "mine");
    assert_eq!(session.next_deadline(), Some(now + Duration::from_secs(7)));
}

#[test]
fn qos2_on_release_hands_the_message_on_at_pubrel_once() {
    let now = Instant::now();
    let mut s = cli(Connect::new(Protocol::V3_1_1, "c"), ok(), now);
    let mut p = Publish::new("q2", "once");
    p.qos = QoS::ExactlyOnce;
    p.packet_id = Some(id(9));
    s.handle(Packet::Publish(p.clone())).unwrap();
    assert_eq!(sent(&mut s, now), vec![Packet::PubRec(Ack::new(id(9)))]);
    assert!(messages(&mut s).is_empty(), "held until PUBREL");
    // [MQTT-4.3.3-9]: the same id again before PUBREL is the same message.
    p.dup = true;
    s.handle(Packet::Publish(p)).unwrap();
    assert_eq!(sent(&mut s, now), vec![Packet::PubRec(Ack::new(id(9)))]);
    s.handle(Packet::PubRel(Ack::new(id(9)))).unwrap();
    assert_eq!(sent(&mut s, now), vec![Packet::PubComp(Ack::new(id(9)))]);
    let got = messages(&mut s);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"once");
    // A PUBREL again (after a lost PUBCOMP) hands on nothing.
    s.handle(Packet::PubRel(Ack::new(id(9)))).unwrap();
    assert!(messages(&mut s).is_empty());
}

#[test]
fn held_qos2_messages_are_forgotten_when_the_remote_lost_the_session() {
    let now = Instant::now();
    let connect = Connect::new(Protocol::V3_1_1, "c");
    let mut s = cli(connect.clone(), ok(), now);
    let mut p = Publish::new("q2", "x");
    p.qos = QoS::ExactlyOnce;
    p.packet_id = Some(id(3));
    s.handle(Packet::Publish(p)).unwrap();
    s.connection_lost();
    s.connect_with(now, connect);
    sent(&mut s, now);
    s.handle(Packet::ConnAck(ok())).unwrap();
    s.handle(Packet::PubRel(Ack::new(id(3)))).unwrap();
    assert!(messages(&mut s).is_empty());
}

#[test]
fn mqtt_3_3_2_12_incoming_topic_aliases_within_our_maximum() {
    let now = Instant::now();
    let mut connect = Connect::new(Protocol::V5, "c");
    connect.properties.push(Property::TopicAliasMaximum(2));
    let mut s = cli(connect, ok(), now);
    let mut set = Publish::new("a/b", "1");
    set.properties.push(Property::TopicAlias(2));
    s.handle(Packet::Publish(set)).unwrap();
    let mut used = Publish::new("", "2");
    used.properties.push(Property::TopicAlias(2));
    s.handle(Packet::Publish(used)).unwrap();
    let topics: Vec<String> = messages(&mut s)
        .iter()
        .map(|p| p.topic.to_string())
        .collect();
    assert_eq!(topics, ["a/b", "a/b"]);
    let mut unknown = Publish::new("", "3");
    unknown.properties.push(Property::TopicAlias(1));
    assert_eq!(
        s.handle(Packet::Publish(unknown)),
        Err(ClientError::UnknownTopicAlias(1))
    );
    assert_eq!(s.state(), State::Disconnected);
}

#[test]
fn mqtt_3_3_2_9_an_alias_beyond_our_maximum_is_an_error() {
    let now = Instant::now();
    let mut connect = Connect::new(Protocol::V5, "c");
    connect.properties.push(Property::TopicAliasMaximum(2));
    let mut s = cli(connect, ok(), now);
    let mut p = Publish::new("a", "x");
    p.properties.push(Property::TopicAlias(3));
    assert_eq!(s.handle(Packet::Publish(p)), Err(ClientError::TopicAlias));
}

#[test]
fn without_server_limits_messages_go_as_given() {
    let now = Instant::now();
    let mut connack = ok();
    for p in [
        Property::MaximumQos(1),
        Property::RetainAvailable(0),
        Property::MaximumPacketSize(20),
        Property::TopicAliasMaximum(5),
    ] {
        connack.properties.push(p);
    }
    let mut s = cli(Connect::new(Protocol::V5, "c"), connack, now);
    let mut p = Publish::new("a/long/topic/name", "a payload longer than twenty bytes");
    p.qos = QoS::ExactlyOnce;
    p.retain = true;
    s.publish(p).unwrap();
    match &sent(&mut s, now)[..] {
        [Packet::Publish(out)] => {
            assert_eq!(out.qos, QoS::ExactlyOnce);
            assert!(out.retain);
            assert_eq!(&*out.topic, "a/long/topic/name");
            assert_eq!(out.properties.topic_alias(), None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn skip_id_numbers_qos0_messages_like_libmosquitto() {
    let now = Instant::now();
    let mut s = cli(Connect::new(Protocol::V3_1_1, "c"), ok(), now);
    assert_eq!(s.skip_id(), Some(id(1)));
    let mut p = Publish::new("a", "x");
    p.qos = QoS::AtLeastOnce;
    assert_eq!(s.publish(p).unwrap(), Some(id(2)));
    assert_eq!(s.skip_id(), Some(id(3)));
    assert_eq!(s.inflight_len(), 1);
}

#[test]
fn subscribe_unsubscribe_and_disconnect_carry_the_callers_properties() {
    let now = Instant::now();
    let mut s = cli(Connect::new(Protocol::V5, "c"), ok(), now);
    let mut props = Properties::new();
    props.push(Property::UserProperty("k".into(), "v".into()));
    let filters = vec![SubscribeFilter {
        filter: "a/#".into(),
        options: SubscriptionOptions::qos(QoS::AtLeastOnce),
    }];
    let sub = s.subscribe_with(filters, props.clone()).unwrap();
    let unsub = s
        .unsubscribe_with(vec!["a/#".into()], props.clone())
        .unwrap();
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties = props.clone();
    s.disconnect_with(d.clone());
    match &sent(&mut s, now)[..] {
        [Packet::Subscribe(a), Packet::Unsubscribe(b), Packet::Disconnect(c)] => {
            assert_eq!((a.packet_id, b.packet_id), (sub, unsub));
            assert_eq!(a.properties, props);
            assert_eq!(b.properties, props);
            assert_eq!(c, &d);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn any_packet_from_the_remote_answers_a_pingreq() {
    let start = Instant::now();
    let mut connect = Connect::new(Protocol::V3_1_1, "c");
    connect.keep_alive = 10;
    let mut s = cli(connect, ok(), start);
    let ping_at = start + Duration::from_secs(10);
    s.tick(ping_at).unwrap();
    assert_eq!(sent(&mut s, ping_at), vec![Packet::PingReq]);
    s.handle(Packet::Publish(Publish::new("a", "alive")))
        .unwrap();
    // No timeout at 20 s: the next PINGREQ instead.
    let later = start + Duration::from_secs(20);
    s.tick(later).unwrap();
    assert_eq!(sent(&mut s, later), vec![Packet::PingReq]);
}

#[test]
fn connack_timeout_without_keep_alive_is_the_options() {
    let start = Instant::now();
    let mut options = Options::new(Protocol::V3_1_1, "c");
    options.keep_alive = 0;
    options.connack_timeout = Duration::from_secs(60);
    let mut s = Session::new(options);
    s.connect(start);
    sent(&mut s, start);
    assert_eq!(s.next_deadline(), Some(start + Duration::from_secs(60)));
    s.tick(start + Duration::from_secs(59)).unwrap();
    assert_eq!(
        s.tick(start + Duration::from_secs(60)),
        Err(ClientError::Timeout(0))
    );
}
