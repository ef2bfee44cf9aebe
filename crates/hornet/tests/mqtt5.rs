//! MQTT 5 features over real sockets: will delay, message expiry, Receive
//! Maximum, response and problem information, the session expiry ceiling,
//! the configurable CONNACK properties, server redirection, outbound topic
//! aliases and payload format checks.
//!
//! A real MQTT 5 client (rumqttc's v5 API) shows that clients understand
//! what Hornet sends; the codec client (`support/codec_client.rs`) pins
//! what rumqttc cannot express or hides (a client over its Receive
//! Maximum, an empty topic on the wire, the Reason String of an ack).
//!
//! Time-based tests never sleep: the broker's own clock is read through a
//! *will clock*, a client with a Will Delay Interval whose socket is
//! dropped; its will arriving proves that much time passed on the broker.
//! Tests that need a Hornet-only key say so (`common::hornet_only()`).

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
mod support;

use std::time::Duration;

use bytes::Bytes;
use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{
    Connect, Disconnect, LastWill, Packet, PacketId, Property, Protocol, Publish, QoS as Q,
    ReasonCode,
};
use rumqttc::v5::mqttbytes::v5::{
    ConnectProperties, Filter, LastWillProperties, PubAckReason, PublishProperties,
    SubscribeProperties, SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Event, Incoming};
use support::v5::{options, Client};

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// An MQTT 5 CONNECT for the codec client.
fn connect5(id: &str) -> Connect {
    Connect::new(Protocol::V5, id)
}

/// The next packet the codec client gets, which must be there.
fn next(raw: &mut Raw) -> Packet {
    raw.recv().expect("a packet before EOF")
}

/// Starts a *will clock*: a client whose will on `topic` is delayed by
/// `secs` seconds, with its socket dropped at once. The will arriving at a
/// subscriber of `topic` proves `secs` seconds passed on the broker.
fn start_will_clock(broker: &TestBroker, topic: &str, secs: u32) {
    let mut c = connect5(&format!("clock-{topic}"));
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(600));
    let mut will = LastWill {
        topic: topic.into(),
        payload: Bytes::from_static(b"tick"),
        qos: Q::AtMostOnce,
        retain: false,
        properties: Default::default(),
    };
    will.properties.push(Property::WillDelayInterval(secs));
    c.will = Some(will);
    let mut raw = Raw::connect_to(broker.addr(), c);
    assert!(matches!(next(&mut raw), Packet::ConnAck(_)));
    drop(raw); // no DISCONNECT: the will is due
}

/// A rumqttc MQTT 5 client with a delayed will on `topic`.
fn with_delayed_will(
    broker: &TestBroker,
    id: &str,
    topic: &str,
    delay: u32,
) -> rumqttc::v5::MqttOptions {
    let mut opts = options(broker, id);
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(600));
    let properties = LastWillProperties {
        delay_interval: Some(delay),
        payload_format_indicator: None,
        message_expiry_interval: None,
        content_type: None,
        response_topic: None,
        correlation_data: None,
        user_properties: Vec::new(),
    };
    opts.set_last_will(rumqttc::v5::mqttbytes::v5::LastWill::new(
        topic,
        id.to_string(),
        QoS::AtMostOnce,
        false,
        Some(properties),
    ));
    opts
}

fn payload_of(p: &rumqttc::v5::mqttbytes::v5::Publish) -> String {
    String::from_utf8_lossy(&p.payload).into_owned()
}

// ---- Will Delay Interval ----

/// [MQTT-3.1.3-9]: a client back on its session before the Will Delay
/// Interval passed has no will sent; one that stays away has it sent after
/// the delay (MQTT 5 §3.1.2.5).
#[tokio::test]
async fn mqtt_3_1_3_9_will_not_sent_when_client_reconnects_in_time() {
    let broker = TestBroker::start();
    let (mut watcher, _) = Client::connect(&broker, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtMostOnce).await;

    let (back, _) = Client::connect_with(with_delayed_will(&broker, "back", "wills/back", 2)).await;
    let (away, _) = Client::connect_with(with_delayed_will(&broker, "away", "wills/away", 2)).await;
    drop(back); // socket closed without DISCONNECT
    drop(away);
    // "back" returns at once, well within its 2 s.
    let (back, connack) =
        Client::connect_with(with_delayed_will(&broker, "back", "wills/back", 2)).await;
    assert!(connack.session_present);
    // "away"'s will is due no earlier than "back"'s would have been.
    let first = watcher.recv_publish().await;
    assert_eq!(payload_of(&first), "away", "only the absent client's will");
    back.disconnect().await;
}

// ---- Message Expiry Interval ----

/// [MQTT-3.3.2-5]: a queued message whose interval passed is not delivered;
/// [MQTT-3.3.2-6]: the interval forwarded is lowered by the time it waited.
#[tokio::test]
async fn mqtt_3_3_2_5_expired_queued_message_is_dropped_and_3_3_2_6_interval_is_lowered() {
    let broker = TestBroker::start();
    let mut opts = options(&broker, "sub");
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(600));
    let (mut sub, _) = Client::connect_with(opts.clone()).await;
    sub.subscribe("exp/#", QoS::AtLeastOnce).await;
    sub.subscribe("clock", QoS::AtMostOnce).await;
    sub.disconnect().await;

    let (mut publisher, _) = Client::connect(&broker, "pub").await;
    let expiring = |secs| PublishProperties {
        message_expiry_interval: Some(secs),
        ..Default::default()
    };
    publisher
        .publish_with_properties("exp/a", QoS::AtLeastOnce, false, b"short", expiring(1))
        .await;
    publisher
        .publish_with_properties("exp/b", QoS::AtLeastOnce, false, b"long", expiring(100))
        .await;

    // Two seconds on the broker's clock: watched by a will.
    let (mut clock, _) = Client::connect(&broker, "clock-watch").await;
    clock.subscribe("clock", QoS::AtMostOnce).await;
    start_will_clock(&broker, "clock", 2);
    clock.recv_publish().await;

    let (mut sub, _) = Client::connect_with(opts).await;
    let got = sub.recv_publish().await;
    assert_eq!(
        payload_of(&got),
        "long",
        "the expired message is not delivered"
    );
    let left = got.properties.and_then(|p| p.message_expiry_interval);
    assert!(
        matches!(left, Some(n) if n <= 98),
        "[MQTT-3.3.2-6] lowered by the 2 s it waited: {left:?}"
    );
    publisher
        .publish("exp/end", QoS::AtLeastOnce, false, b"end")
        .await;
    assert!(sub.publishes_until(b"end").await.is_empty());
}

/// [MQTT-3.3.2-5] for retained messages: once expired, a retained message
/// is not sent to new subscribers.
#[tokio::test]
async fn mqtt_3_3_2_5_expired_retained_message_is_not_sent() {
    let broker = TestBroker::start();
    let (mut publisher, _) = Client::connect(&broker, "pub").await;
    let props = PublishProperties {
        message_expiry_interval: Some(1),
        ..Default::default()
    };
    publisher
        .publish_with_properties("ret/brief", QoS::AtLeastOnce, true, b"brief", props)
        .await;
    publisher
        .publish("ret/kept", QoS::AtLeastOnce, true, b"kept")
        .await;
    let (mut clock, _) = Client::connect(&broker, "clock-watch").await;
    clock.subscribe("clock", QoS::AtMostOnce).await;
    start_will_clock(&broker, "clock", 2);
    clock.recv_publish().await;

    let (mut sub, _) = Client::connect(&broker, "sub").await;
    sub.subscribe("ret/#", QoS::AtLeastOnce).await;
    publisher
        .publish("ret/end", QoS::AtLeastOnce, false, b"end")
        .await;
    let got: Vec<String> = sub
        .publishes_until(b"end")
        .await
        .iter()
        .map(payload_of)
        .collect();
    assert_eq!(got, ["kept"]);
}

/// `retained_max_age` (Hornet only): retained messages older than it are
/// dropped, whatever the client's version.
#[tokio::test]
async fn retained_max_age_drops_old_retained_messages() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("retained_max_age 1");
    let (mut publisher, _) = Client::connect(&broker, "pub").await;
    publisher
        .publish("ret/old", QoS::AtLeastOnce, true, b"old")
        .await;
    let (mut clock, _) = Client::connect(&broker, "clock-watch").await;
    clock.subscribe("clock", QoS::AtMostOnce).await;
    start_will_clock(&broker, "clock", 2);
    clock.recv_publish().await;
    publisher
        .publish("ret/new", QoS::AtLeastOnce, true, b"new")
        .await;

    let (mut sub, _) = Client::connect(&broker, "sub").await;
    sub.subscribe("ret/#", QoS::AtLeastOnce).await;
    publisher
        .publish("ret/end", QoS::AtLeastOnce, false, b"end")
        .await;
    let got: Vec<String> = sub
        .publishes_until(b"end")
        .await
        .iter()
        .map(payload_of)
        .collect();
    assert_eq!(got, ["new"]);
}

// ---- Receive Maximum ----

/// MQTT 5 §3.3.4: Receive Maximum is announced, and a client with more
/// QoS 2 PUBLISH awaiting PUBREL than that gets DISCONNECT 0x93.
#[test]
fn mqtt_3_3_4_receive_maximum_exceeded_is_disconnect_0x93() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("receive_maximum 2");
    let mut raw = Raw::connect_to(broker.addr(), connect5("greedy"));
    let Packet::ConnAck(ack) = next(&mut raw) else {
        panic!("no CONNACK")
    };
    assert_eq!(ack.properties.receive_maximum(), Some(2));
    for n in 1..=3 {
        let mut p = Publish::new("t", "x");
        p.qos = Q::ExactlyOnce;
        p.packet_id = Some(pid(n));
        raw.send(p.into());
    }
    assert!(matches!(next(&mut raw), Packet::PubRec(_)));
    assert!(matches!(next(&mut raw), Packet::PubRec(_)));
    let Packet::Disconnect(d) = next(&mut raw) else {
        panic!("no DISCONNECT")
    };
    assert_eq!(d.reason_code, ReasonCode::ReceiveMaximumExceeded);
    assert!(raw.recv().is_none(), "closed");
}

// ---- Response Information, Problem Information ----

/// Response Information only for a client that asks, when configured
/// (MQTT 5 §3.1.2.11.6, §3.2.2.3.15).
#[tokio::test]
async fn mqtt_3_1_2_11_6_response_information_only_when_requested() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("response_information replies/");
    let mut opts = options(&broker, "asker");
    let mut props = ConnectProperties::new();
    props.request_response_info = Some(1);
    opts.set_connect_properties(props);
    let (_asker, connack) = Client::connect_with(opts).await;
    let info = connack.properties.and_then(|p| p.response_information);
    assert_eq!(info.as_deref(), Some("replies/asker"));
    let (_quiet, connack) = Client::connect(&broker, "quiet").await;
    assert_eq!(
        connack.properties.and_then(|p| p.response_information),
        None
    );
}

/// [MQTT-3.1.2-29]: with Request Problem Information 0 an ack carries no
/// Reason String; by default it explains itself.
#[test]
fn mqtt_3_1_2_29_no_reason_string_when_problem_information_is_0() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let ack_for = |request: Option<u8>| {
        let mut c = connect5("p");
        if let Some(v) = request {
            c.properties.push(Property::RequestProblemInformation(v));
        }
        let mut raw = Raw::connect_to(broker.addr(), c);
        assert!(matches!(next(&mut raw), Packet::ConnAck(_)));
        let mut p = Publish::new("$SYS/x", "no");
        p.qos = Q::AtLeastOnce;
        p.packet_id = Some(pid(1));
        raw.send(p.into());
        let Packet::PubAck(ack) = next(&mut raw) else {
            panic!("no PUBACK")
        };
        assert_eq!(ack.reason_code, ReasonCode::NotAuthorized);
        ack.properties.reason_string().map(|s| s.to_string())
    };
    assert!(ack_for(None).is_some(), "explained by default");
    assert_eq!(ack_for(Some(0)), None);
}

// ---- Session expiry ----

/// `max_session_expiry` lowers the client's Session Expiry Interval and
/// CONNACK says which one the broker uses (MQTT 5 §3.2.2.3.2).
#[tokio::test]
async fn max_session_expiry_is_sent_in_connack_when_lowered() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("max_session_expiry 60");
    let mut opts = options(&broker, "long");
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(u32::MAX));
    let (_c, connack) = Client::connect_with(opts).await;
    let used = connack.properties.and_then(|p| p.session_expiry_interval);
    assert_eq!(used, Some(60));
}

/// [MQTT-3.14.2-2]: a DISCONNECT setting a Session Expiry Interval when
/// CONNECT had 0 is a Protocol Error.
#[test]
fn mqtt_3_14_2_2_session_expiry_from_0_on_disconnect_is_a_protocol_error() {
    let broker = TestBroker::start();
    let mut raw = Raw::connect_to(broker.addr(), connect5("c"));
    assert!(matches!(next(&mut raw), Packet::ConnAck(_)));
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties.push(Property::SessionExpiryInterval(60));
    raw.send(d.into());
    let Packet::Disconnect(answer) = next(&mut raw) else {
        panic!("no DISCONNECT")
    };
    assert_eq!(answer.reason_code, ReasonCode::ProtocolError);
}

// ---- CONNACK properties ----

/// What CONNACK announces follows the configuration, and the broker holds
/// clients to it: Maximum QoS ([MQTT-3.2.2-9], [MQTT-3.2.2-11]), Retain
/// Available ([MQTT-3.2.2-14]), Wildcard and Subscription Identifier
/// availability (SUBACK 0xA2 / 0xA1), Server Keep Alive ([MQTT-3.2.2-21]).
#[tokio::test]
async fn connack_properties_follow_the_configuration_and_are_enforced() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf(
        "max_qos 1\nretain_available false\nwildcard_subscriptions false\n\
         subscription_identifiers false\nmax_keepalive 20\nreceive_maximum 50",
    );
    let mut opts = options(&broker, "c");
    opts.set_keep_alive(Duration::from_secs(60));
    let (mut c, connack) = Client::connect_with(opts).await;
    let p = connack.properties.expect("CONNACK properties");
    assert_eq!(p.max_qos, Some(1));
    assert_eq!(p.retain_available, Some(0));
    assert_eq!(p.wildcard_subscription_available, Some(0));
    assert_eq!(p.subscription_identifiers_available, Some(0));
    assert_eq!(p.server_keep_alive, Some(20));
    assert_eq!(p.receive_max, Some(50));

    assert_eq!(
        c.subscribe("a/+", QoS::AtMostOnce).await,
        SubscribeReasonCode::WildcardSubscriptionsNotSupported
    );
    let with_id = SubscribeProperties {
        id: Some(3),
        user_properties: Vec::new(),
    };
    assert_eq!(
        c.subscribe_many(vec![Filter::new("a", QoS::AtMostOnce)], Some(with_id))
            .await,
        [SubscribeReasonCode::SubscriptionIdNotSupported]
    );
    assert_eq!(
        c.subscribe("a/b", QoS::ExactlyOnce).await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce),
        "granted at most the Maximum QoS"
    );

    for (publish, reason) in [
        (
            {
                let mut p = Publish::new("t", "x");
                p.qos = Q::ExactlyOnce;
                p.packet_id = Some(pid(1));
                p
            },
            ReasonCode::QosNotSupported,
        ),
        (
            {
                let mut p = Publish::new("t", "x");
                p.retain = true;
                p
            },
            ReasonCode::RetainNotSupported,
        ),
    ] {
        let mut raw = Raw::connect_to(broker.addr(), connect5("raw"));
        assert!(matches!(next(&mut raw), Packet::ConnAck(_)));
        raw.send(publish.into());
        let Packet::Disconnect(d) = next(&mut raw) else {
            panic!("no DISCONNECT")
        };
        assert_eq!(d.reason_code, reason);
    }
}

/// MQTT 5 §3.2.2.3.7: an empty client id is answered with the Assigned
/// Client Identifier.
#[tokio::test]
async fn mqtt_3_2_2_3_7_assigned_client_identifier_for_an_empty_client_id() {
    let broker = TestBroker::start();
    let (_c, connack) = Client::connect_with(options(&broker, "")).await;
    let assigned = connack
        .properties
        .and_then(|p| p.assigned_client_identifier);
    assert!(assigned.is_some_and(|id| !id.is_empty()));
}

// ---- Server redirection ----

/// MQTT 5 §4.11 as a maintenance switch: `server_reference` refuses every
/// CONNECT with 0x9C (0x9D with `server_moved`) and the Server Reference;
/// MQTT 3.1.1 clients get 0x03 Server unavailable.
#[test]
fn server_reference_redirects_every_client() {
    if common::hornet_only() {
        return;
    }
    for (conf, code) in [
        ("server_reference backup:1883", ReasonCode::UseAnotherServer),
        (
            "server_reference new:1883\nserver_moved true",
            ReasonCode::ServerMoved,
        ),
    ] {
        let broker = TestBroker::with_conf(conf);
        let mut raw = Raw::connect_to(broker.addr(), connect5("c"));
        let Packet::ConnAck(ack) = next(&mut raw) else {
            panic!("no CONNACK")
        };
        assert_eq!(ack.reason_code, code);
        let reference = conf.split_whitespace().nth(1).unwrap();
        assert_eq!(
            ack.properties.server_reference().map(|s| &s[..]),
            Some(reference)
        );
        assert!(raw.recv().is_none(), "closed");

        let mut v3 = Raw::connect_to(broker.addr(), Connect::new(Protocol::V3_1_1, "old"));
        let Packet::ConnAck(ack) = next(&mut v3) else {
            panic!("no CONNACK")
        };
        assert_eq!(ack.reason_code, ReasonCode::ServerUnavailable, "0x03");
    }
}

// ---- Outbound topic aliases ----

/// MQTT 5 §3.3.2.3.4: to a client with a Topic Alias Maximum, Hornet sends
/// a topic once with an alias and then the alias with an empty topic, never
/// an alias above the maximum ([MQTT-3.3.2-8]).
#[test]
fn mqtt_3_3_2_8_outbound_topic_aliases_on_the_wire() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let mut c = connect5("sub");
    c.properties.push(Property::TopicAliasMaximum(1));
    let mut sub = Raw::connect_to(broker.addr(), c);
    assert!(matches!(next(&mut sub), Packet::ConnAck(_)));
    sub.send(hornet_codec::Subscribe::new(pid(1), "al/#", Q::AtMostOnce).into());
    assert!(matches!(next(&mut sub), Packet::SubAck(_)));
    let mut publisher = Raw::connect_to(broker.addr(), connect5("pub"));
    assert!(matches!(next(&mut publisher), Packet::ConnAck(_)));
    for topic in ["al/one", "al/two", "al/one"] {
        publisher.send(Publish::new(topic, topic).into());
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        let Packet::Publish(p) = next(&mut sub) else {
            panic!("not a PUBLISH")
        };
        got.push((p.topic.to_string(), p.properties.topic_alias()));
    }
    assert_eq!(
        got,
        [
            ("al/one".to_string(), Some(1)),
            ("al/two".to_string(), None),
            (String::new(), Some(1)),
        ]
    );
}

/// A real client takes the aliases Hornet sends: rumqttc (which reports
/// the PUBLISH as received, empty topic and all) keeps the connection and
/// gets every message, the topic once and then the alias.
#[tokio::test]
async fn outbound_topic_aliases_are_accepted_by_rumqttc() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let mut opts = options(&broker, "sub");
    opts.set_topic_alias_max(Some(5));
    let (mut sub, _) = Client::connect_with(opts).await;
    sub.subscribe("al/#", QoS::AtLeastOnce).await;
    let (mut publisher, _) = Client::connect(&broker, "pub").await;
    for n in 0..3 {
        publisher
            .publish(
                "al/topic",
                QoS::AtLeastOnce,
                false,
                format!("{n}").as_bytes(),
            )
            .await;
    }
    for n in 0..3 {
        let p = sub.recv_publish().await;
        let alias = p.properties.as_ref().and_then(|p| p.topic_alias);
        let topic: &[u8] = if n == 0 { b"al/topic" } else { b"" };
        assert_eq!(
            (&p.topic[..], alias, payload_of(&p)),
            (topic, Some(1), n.to_string())
        );
    }
}

// ---- Payload Format Indicator ----

/// MQTT 5 §3.3.2.3.2: Hornet checks a payload said to be UTF-8 and refuses
/// one that is not with 0x99 (Hornet's choice of the MAY).
#[tokio::test]
async fn payload_format_invalid_is_refused_with_0x99() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let (mut c, _) = Client::connect(&broker, "c").await;
    let props = PublishProperties {
        payload_format_indicator: Some(1),
        ..Default::default()
    };
    c.client
        .publish_with_properties("t", QoS::AtLeastOnce, false, vec![0xff, 0xfe], props)
        .await
        .unwrap();
    let reason = c
        .until("PUBACK", |e| match e {
            Event::Incoming(Incoming::PubAck(ack)) => Some(ack.reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, PubAckReason::PayloadFormatInvalid);
}

/// [MQTT-3.1.2-24]: a client whose Maximum Packet Size is 2 bytes cannot
/// be sent any CONNACK: the connection is closed without one, as Mosquitto
/// does (issue 22, item 4).
#[test]
fn a_maximum_packet_size_too_small_for_the_connack_closes_without_one() {
    let broker = TestBroker::start();
    let mut c = hornet_codec::Connect::new(hornet_codec::Protocol::V5, "two-bytes");
    c.properties
        .push(hornet_codec::Property::MaximumPacketSize(2));
    let mut raw = Raw::connect_to(broker.addr(), c);
    assert_eq!(raw.recv(), None, "closed, nothing sent");
}
