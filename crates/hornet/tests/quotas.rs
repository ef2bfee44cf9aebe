//! Per-client limits through real sockets, one test per limit: the CONNECT
//! timeout, `max_client_id_length`, `max_topic_length` and
//! `max_topic_levels`, `max_subscriptions_per_client`, the publish rates
//! (throttle and disconnect), flapping detection, and the counters each
//! one bumps (the `$SYS/broker/limits/...` values). `max_packet_size`,
//! `max_inflight_messages` and the queue limits are in `limits.rs`.
//!
//! Hornet only: these keys are Hornet's (Mosquitto refuses them).

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use codec_client::Raw;
use common::{TestBroker, TIMEOUT};
use hornet_codec::{
    Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe, SubscribeFilter,
    SubscriptionOptions,
};

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn connack(broker: &TestBroker, protocol: Protocol, id: &str) -> (Raw, ReasonCode) {
    let mut c = Connect::new(protocol, id);
    c.keep_alive = 60;
    let mut raw = Raw::connect_to(broker.addr(), c);
    match raw.recv() {
        Some(Packet::ConnAck(a)) => (raw, a.reason_code),
        other => panic!("{id}: expected CONNACK, got {other:?}"),
    }
}

fn connect(broker: &TestBroker, protocol: Protocol, id: &str) -> Raw {
    let (raw, code) = connack(broker, protocol, id);
    assert_eq!(code, ReasonCode::Success, "{id}");
    raw
}

fn subscribe(raw: &mut Raw, filters: &[&str]) -> Vec<ReasonCode> {
    let mut sub = Subscribe::new(pid(1), filters[0], QoS::AtLeastOnce);
    sub.filters = filters
        .iter()
        .map(|f| SubscribeFilter {
            filter: (*f).into(),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                ..Default::default()
            },
        })
        .collect();
    raw.send(sub.into());
    match raw.recv() {
        Some(Packet::SubAck(a)) => a.reason_codes,
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

fn publish(raw: &mut Raw, topic: &str, payload: Vec<u8>, qos: QoS, id: u16) {
    let mut p = Publish::new(topic, Bytes::from(payload));
    p.qos = qos;
    if qos != QoS::AtMostOnce {
        p.packet_id = Some(pid(id));
    }
    raw.send(p.into());
}

fn stats(broker: &TestBroker) -> hornet_core::Stats {
    broker.inspect(|b| b.stats().clone()).expect("hornet")
}

/// A socket that never sends CONNECT is closed after `connect_timeout`.
#[test]
fn connect_timeout_closes_a_silent_socket() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("connect_timeout 1");
    let start = Instant::now();
    let mut silent = TcpStream::connect(broker.addr()).unwrap();
    silent.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = [0u8; 16];
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a word");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(stats(&broker).connect_timeouts, 1);
}

/// A client id over `max_client_id_length`: CONNACK 0x85 Client
/// Identifier not valid (3.1.1: 0x02 Identifier rejected, [MQTT-3.2.2-4]).
#[test]
fn max_client_id_length_refuses_longer_ids() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("max_client_id_length 8");
    for protocol in [Protocol::V5, Protocol::V3_1_1] {
        let (mut raw, code) = connack(&broker, protocol, "123456789");
        assert_eq!(code, ReasonCode::ClientIdentifierNotValid, "{protocol:?}");
        assert_eq!(raw.recv(), None, "closed after the refusal");
        connect(&broker, protocol, "12345678");
    }
    assert_eq!(stats(&broker).limit_client_id, 2);
}

/// Topics over `max_topic_length` / `max_topic_levels`: MQTT 5 PUBACK
/// 0x90 Topic Name invalid and SUBACK 0x8F Topic Filter invalid; MQTT
/// 3.1.1 SUBACK 0x80, and a PUBLISH closes the connection (3.1.1 has no
/// way to say why, and dropping it silently would lose data unseen).
#[test]
fn max_topic_length_and_levels() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("max_topic_levels 3\nmax_topic_length 20");
    let mut v5 = connect(&broker, Protocol::V5, "topics-5");
    assert_eq!(
        subscribe(
            &mut v5,
            &["a/b/c", "a/b/c/d", "a/+/+/#", "x23456789012345678901"]
        ),
        vec![
            ReasonCode::GrantedQos1,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::TopicFilterInvalid
        ]
    );
    publish(&mut v5, "a/b/c/d", b"x".to_vec(), QoS::AtLeastOnce, 1);
    assert!(
        matches!(v5.recv(), Some(Packet::PubAck(a)) if a.reason_code == ReasonCode::TopicNameInvalid)
    );
    publish(
        &mut v5,
        "x23456789012345678901",
        b"x".to_vec(),
        QoS::ExactlyOnce,
        2,
    );
    assert!(
        matches!(v5.recv(), Some(Packet::PubRec(a)) if a.reason_code == ReasonCode::TopicNameInvalid)
    );
    // Within the limits: delivered to the subscription above.
    publish(&mut v5, "a/b/c", b"ok".to_vec(), QoS::AtLeastOnce, 3);
    let mut got = (false, false);
    while got != (true, true) {
        match v5.recv() {
            Some(Packet::PubAck(a)) => {
                assert_eq!(a.reason_code, ReasonCode::Success);
                got.0 = true;
            }
            Some(Packet::Publish(p)) => {
                assert_eq!(&p.payload[..], b"ok");
                got.1 = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut v3 = connect(&broker, Protocol::V3_1_1, "topics-3");
    assert_eq!(
        subscribe(&mut v3, &["a/b/c/d"]),
        vec![ReasonCode::UnspecifiedError]
    );
    publish(&mut v3, "a/b/c/d", b"x".to_vec(), QoS::AtLeastOnce, 1);
    assert_eq!(v3.recv(), None, "3.1.1: closed");
    assert_eq!(stats(&broker).limit_topic, 7);
}

/// `max_subscriptions_per_client`: the filter over the quota gets SUBACK
/// 0x97 Quota exceeded (3.1.1: 0x80); replacing an existing subscription
/// does not count as a new one.
#[test]
fn max_subscriptions_per_client() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("max_subscriptions_per_client 2");
    let granted = ReasonCode::GrantedQos1;
    let mut v5 = connect(&broker, Protocol::V5, "subs-5");
    assert_eq!(
        subscribe(&mut v5, &["a", "b", "c"]),
        vec![granted, granted, ReasonCode::QuotaExceeded]
    );
    assert_eq!(subscribe(&mut v5, &["a"]), vec![granted], "a replacement");
    let mut v3 = connect(&broker, Protocol::V3_1_1, "subs-3");
    assert_eq!(
        subscribe(&mut v3, &["a", "b", "c"]),
        vec![granted, granted, ReasonCode::UnspecifiedError]
    );
    assert_eq!(stats(&broker).limit_subscriptions, 2);
}

/// `max_publish_rate` with the default action: the broker stops reading a
/// publisher that is too fast (backpressure); nothing is lost, it just
/// takes as long as the rate says. (What one read already holds is
/// handled at once, so the messages are 1 KiB: a read is a few of them.)
#[test]
fn max_publish_rate_throttles_without_losing_messages() {
    if common::hornet_only() {
        return;
    }
    const RATE: u32 = 200;
    const COUNT: usize = 500;
    let broker = TestBroker::with_conf(&format!("max_publish_rate {RATE}"));
    let mut sub = connect(&broker, Protocol::V3_1_1, "rate-sub");
    subscribe(&mut sub, &["rate/t"]);
    let mut publisher = connect(&broker, Protocol::V3_1_1, "rate-pub");
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        for i in 0..COUNT {
            let mut payload = vec![0u8; 1024];
            payload[..4].copy_from_slice(&(i as u32).to_be_bytes());
            publish(&mut publisher, "rate/t", payload, QoS::AtMostOnce, 0);
        }
        publisher
    });
    for i in 0..COUNT {
        match sub.recv() {
            Some(Packet::Publish(p)) => {
                assert_eq!(
                    &p.payload[..4],
                    (i as u32).to_be_bytes(),
                    "in order, none lost"
                )
            }
            other => panic!("message {i}: expected PUBLISH, got {other:?}"),
        }
    }
    let took = start.elapsed();
    let _publisher = writer.join().unwrap();
    // One second of burst, then RATE per second.
    let expected = Duration::from_secs_f64((COUNT as f64 - f64::from(RATE)) / f64::from(RATE));
    assert!(
        took >= expected.mul_f64(0.8),
        "{COUNT} messages at {RATE}/s took only {took:?}"
    );
    assert!(stats(&broker).rate_limited >= 1);
}

/// `publish_rate_action disconnect`: over `max_publish_rate` or
/// `max_publish_bytes_rate`, an MQTT 5 client gets DISCONNECT 0x96
/// Message rate too high; a 3.1.1 client is closed.
#[test]
fn publish_rates_with_disconnect() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf(
        "max_publish_rate 10\nmax_publish_bytes_rate 4000\npublish_rate_action disconnect",
    );
    let mut v5 = connect(&broker, Protocol::V5, "fast-5");
    for _ in 0..20 {
        publish(&mut v5, "fast/t", b"x".to_vec(), QoS::AtMostOnce, 0);
    }
    match v5.recv() {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::MessageRateTooHigh),
        other => panic!("expected DISCONNECT 0x96, got {other:?}"),
    }
    assert_eq!(v5.recv(), None);
    // Bytes: one 5000-byte message is over 4000 bytes/s.
    let mut big = connect(&broker, Protocol::V5, "big-5");
    publish(&mut big, "fast/t", vec![0; 5000], QoS::AtMostOnce, 0);
    assert!(
        matches!(big.recv(), Some(Packet::Disconnect(d)) if d.reason_code == ReasonCode::MessageRateTooHigh)
    );
    let mut v3 = connect(&broker, Protocol::V3_1_1, "fast-3");
    for _ in 0..20 {
        publish(&mut v3, "fast/t", b"x".to_vec(), QoS::AtMostOnce, 0);
    }
    assert_eq!(v3.recv(), None, "3.1.1: closed");
    assert_eq!(stats(&broker).rate_disconnects, 3);
}

/// Flapping: a client id accepted more than `flapping_max_connects` times
/// within `flapping_window` is refused for `flapping_ban`: CONNACK 0x9F
/// Connection rate exceeded (3.1.1: 0x03 Server unavailable). Other ids
/// are not affected.
#[test]
fn flapping_client_ids_are_refused_for_a_while() {
    if common::hornet_only() {
        return;
    }
    let broker =
        TestBroker::with_conf("flapping_max_connects 3\nflapping_window 60\nflapping_ban 60");
    for (protocol, id, refused) in [
        (Protocol::V5, "flappy-5", ReasonCode::ConnectionRateExceeded),
        (Protocol::V3_1_1, "flappy-3", ReasonCode::ServerUnavailable),
    ] {
        // Two devices sharing one id: each connect takes the other over.
        let _first = connect(&broker, protocol, id);
        let _second = connect(&broker, protocol, id);
        let _third = connect(&broker, protocol, id);
        let (mut fourth, code) = connack(&broker, protocol, id);
        assert_eq!(code, refused, "{protocol:?}");
        assert_eq!(fourth.recv(), None);
        let (_, code) = connack(&broker, protocol, id);
        assert_eq!(code, refused, "still banned");
    }
    connect(&broker, Protocol::V5, "steady");
    assert_eq!(stats(&broker).flapping_refused, 4);
}

/// The counters are published under `$SYS/broker/limits/...` (retained,
/// when they change).
#[test]
fn limit_counters_are_published_in_sys() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("max_client_id_length 4\nsys_interval 1");
    let (_, code) = connack(&broker, Protocol::V5, "too-long");
    assert_eq!(code, ReasonCode::ClientIdentifierNotValid);
    let mut watcher = connect(&broker, Protocol::V5, "sys");
    subscribe(&mut watcher, &["$SYS/broker/limits/client_id"]);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(
            Instant::now() < deadline,
            "no $SYS/broker/limits/client_id = 1"
        );
        match watcher.recv() {
            Some(Packet::Publish(p)) => {
                if let Some(id) = p.packet_id {
                    watcher.send(Packet::PubAck(hornet_codec::Ack::new(id)));
                }
                if &p.payload[..] == b"1" {
                    break;
                }
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
}

/// The default `max_topic_levels` is Mosquitto 2.0's built-in limit: a
/// filter of 200 `/` (201 levels) is accepted, as Mosquitto accepts it;
/// one more level is refused (Hornet: SUBACK 0x8F; Mosquitto closes the
/// connection).
#[test]
fn the_default_topic_level_limit_is_mosquittos() {
    let broker = TestBroker::start();
    let mut v5 = connect(&broker, Protocol::V5, "levels-5");
    let at_limit = "/".repeat(200);
    assert_eq!(
        subscribe(&mut v5, &[at_limit.as_str()]),
        vec![ReasonCode::GrantedQos1]
    );
    if common::against_mosquitto() {
        return;
    }
    let over = "/".repeat(201);
    assert_eq!(
        subscribe(&mut v5, &[over.as_str()]),
        vec![ReasonCode::TopicFilterInvalid]
    );
}
