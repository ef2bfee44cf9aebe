//! Limits as users set them in mosquitto.conf, observed through real
//! sockets: `max_connections`, `max_inflight_messages`, `max_packet_size`,
//! and a slow subscriber that must not hold up a fast one.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{
    Ack, Connect, Packet, PacketId, Property, Protocol, Publish, QoS, ReasonCode, Subscribe,
};

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn connect(broker: &TestBroker, protocol: Protocol, id: &str) -> Raw {
    let mut c = Connect::new(protocol, id);
    c.keep_alive = 60;
    let mut raw = Raw::connect_to(broker.addr(), c);
    match raw.recv() {
        Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => raw,
        other => panic!("{id}: expected a successful CONNACK, got {other:?}"),
    }
}

fn subscribe(raw: &mut Raw, filter: &str, qos: QoS) {
    raw.send(Subscribe::new(pid(1), filter, qos).into());
    assert!(matches!(raw.recv(), Some(Packet::SubAck(_))));
}

fn publish(raw: &mut Raw, topic: &str, payload: &[u8], qos: QoS, id: u16) {
    let mut p = Publish::new(topic, payload.to_vec());
    p.qos = qos;
    if qos != QoS::AtMostOnce {
        p.packet_id = Some(pid(id));
    }
    raw.send(p.into());
}

#[test]
fn max_connections_refuses_the_connection_over_the_limit() {
    // Mosquitto 2.0.11 accepted the third connection in this setup.
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("max_connections 2");
    let _a = connect(&broker, Protocol::V3_1_1, "mc-a");
    let _b = connect(&broker, Protocol::V3_1_1, "mc-b");
    let mut c = Raw::connect_to(broker.addr(), Connect::new(Protocol::V3_1_1, "mc-c"));
    assert_eq!(
        c.recv(),
        None,
        "the third connection is closed without CONNACK"
    );
}

#[test]
fn max_inflight_messages_holds_further_qos1_messages_until_acknowledged() {
    // Flow control (MQTT 5 §4.9, [MQTT-3.3.4-9] for Receive Maximum; Mosquitto's
    // max_inflight_messages for every version): at most N unacknowledged PUBLISH.
    let broker = TestBroker::with_conf("max_inflight_messages 2");
    let mut sub = connect(&broker, Protocol::V3_1_1, "if-sub");
    subscribe(&mut sub, "if/t", QoS::AtLeastOnce);
    let mut publisher = connect(&broker, Protocol::V3_1_1, "if-pub");
    for i in 1..=4u16 {
        publish(&mut publisher, "if/t", &[i as u8], QoS::AtLeastOnce, i);
        assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));
    }
    let mut ids = Vec::new();
    for _ in 0..2 {
        match sub.recv() {
            Some(Packet::Publish(p)) => ids.push((p.payload[0], p.packet_id.unwrap())),
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
    assert_eq!(ids.iter().map(|(b, _)| *b).collect::<Vec<_>>(), vec![1, 2]);
    // All four were routed (the publisher has its PUBACKs), so a third
    // PUBLISH, had it been sent, would come before this PINGRESP.
    sub.send(Packet::PingReq);
    assert_eq!(
        sub.recv(),
        Some(Packet::PingResp),
        "nothing beyond the window"
    );
    sub.send(Packet::PubAck(Ack::new(ids[0].1)));
    match sub.recv() {
        Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], &[3]),
        other => panic!("expected message 3 after the PUBACK, got {other:?}"),
    }
}

#[test]
fn max_packet_size_refuses_larger_packets_with_0x95_for_mqtt5() {
    let broker = TestBroker::with_conf("max_packet_size 200");
    let mut v5 = Raw::connect_to(broker.addr(), Connect::new(Protocol::V5, "mps-5"));
    match v5.recv() {
        Some(Packet::ConnAck(a)) => {
            if !common::against_mosquitto() {
                assert_eq!(
                    a.properties.maximum_packet_size(),
                    Some(200),
                    "CONNACK announces it"
                );
            }
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
    publish(&mut v5, "mps/t", &[0u8; 300], QoS::AtMostOnce, 0);
    match v5.recv() {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::PacketTooLarge),
        None => assert!(
            common::against_mosquitto(),
            "Hornet says why before closing"
        ),
        other => panic!("expected DISCONNECT 0x95, got {other:?}"),
    }
    let mut v3 = connect(&broker, Protocol::V3_1_1, "mps-3");
    publish(&mut v3, "mps/t", &[0u8; 300], QoS::AtMostOnce, 0);
    assert_eq!(v3.recv(), None, "3.1.1: closed");
    // Others are still served.
    let mut ok = connect(&broker, Protocol::V3_1_1, "mps-ok");
    subscribe(&mut ok, "mps/ok", QoS::AtMostOnce);
    publish(&mut ok, "mps/ok", b"small", QoS::AtMostOnce, 0);
    assert!(matches!(ok.recv(), Some(Packet::Publish(p)) if &p.payload[..] == b"small"));
}

#[test]
fn messages_over_the_clients_maximum_packet_size_are_not_sent_to_it() {
    // [MQTT-3.1.2-25]
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let mut c = Connect::new(Protocol::V5, "small-client");
    c.properties.push(Property::MaximumPacketSize(64));
    let mut small = Raw::connect_to(broker.addr(), c);
    assert!(matches!(small.recv(), Some(Packet::ConnAck(_))));
    subscribe(&mut small, "mps/#", QoS::AtMostOnce);
    let mut publisher = connect(&broker, Protocol::V5, "mps-pub");
    publish(&mut publisher, "mps/big", &[7u8; 100], QoS::AtMostOnce, 0);
    publish(&mut publisher, "mps/small", b"fits", QoS::AtMostOnce, 0);
    match small.recv() {
        Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], b"fits"),
        other => panic!("expected only the small message, got {other:?}"),
    }
}

#[test]
fn a_subscriber_that_never_reads_does_not_hold_up_the_others() {
    // Bounded per-connection output: the stuck reader's messages wait in its
    // own session queue (and are dropped beyond max_queued_messages).
    let broker = TestBroker::with_conf("max_queued_messages 100");
    let mut stuck = connect(&broker, Protocol::V3_1_1, "stuck");
    subscribe(&mut stuck, "flood/#", QoS::AtMostOnce);
    let mut fast = connect(&broker, Protocol::V3_1_1, "fast");
    subscribe(&mut fast, "flood/#", QoS::AtMostOnce);
    let mut publisher = connect(&broker, Protocol::V3_1_1, "flooder");
    let payload = vec![0u8; 16 * 1024];
    let total = 2000u32; // 32 MiB: far more than the stuck socket's buffers
    let sender = std::thread::spawn(move || {
        for _ in 0..total {
            publish(&mut publisher, "flood/x", &payload, QoS::AtMostOnce, 0);
        }
        // PINGRESP comes after every PUBLISH before it was routed, so the
        // drop counters are final once it is here.
        publisher.send(Packet::PingReq);
        assert_eq!(publisher.recv(), Some(Packet::PingResp));
        publisher
    });
    // The fast subscriber gets every message, except what its own bounded
    // queue dropped when this test's reader fell behind (on a loaded
    // machine the reading thread can lag by more than its 1,124-message
    // allowance); the broker never waits for the stuck one.
    let dropped = |client: &str| {
        broker
            .inspect(|b| b.dropped_for(client))
            .flatten()
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + 3 * common::TIMEOUT;
    let mut got = 0u64;
    loop {
        if sender.is_finished() && got + dropped("fast") >= u64::from(total) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fast subscriber: {got} messages and {} dropped of {total}",
            dropped("fast")
        );
        match fast.recv_within(std::time::Duration::from_millis(200)) {
            Ok(Some(Packet::Publish(_))) => got += 1,
            Err(()) => {} // nothing for now: check whether all is in
            Ok(other) => panic!("fast subscriber: expected PUBLISH, got {other:?} after {got}"),
        }
    }
    let _publisher = sender.join().unwrap();
    assert_eq!(got + dropped("fast"), u64::from(total));
    if broker.inspect(|_| ()).is_some() {
        assert!(
            dropped("stuck") > 0,
            "the stuck client's excess was dropped, not buffered"
        );
    }
    drop(stuck);
}

#[test]
fn a_qos0_flood_to_a_stuck_subscriber_is_bounded_and_the_publisher_stays_connected() {
    // A subscriber that stops reading under a QoS 0 flood: what the broker
    // holds for it stays within max_queued_bytes plus the connection's
    // unwritten-packet budget (1,024 packets); the rest is dropped for it
    // alone, counted, and the publisher is neither refused nor
    // disconnected. Once the subscriber reads again it gets what was kept,
    // and the queue is empty (its memory given back, see
    // session::tests::a_drained_queue_gives_its_memory_back).
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("max_queued_messages 1000000\nmax_queued_bytes 1048576");
    let mut stuck = connect(&broker, Protocol::V3_1_1, "stuck");
    subscribe(&mut stuck, "flood/#", QoS::AtMostOnce);
    let mut publisher = connect(&broker, Protocol::V3_1_1, "flooder");
    let payload = vec![7u8; 16 * 1024];
    let total = 2000usize; // 32 MiB: far more than the bound and the socket buffers
    let mut peak_queued = 0usize;
    let mut peak_unwritten = 0usize;
    for i in 0..total {
        publish(&mut publisher, "flood/x", &payload, QoS::AtMostOnce, 0);
        if i % 100 == 99 {
            let detail = broker.inspect(|b| b.admin_client("stuck")).flatten();
            let detail = detail.expect("the stuck client is known");
            peak_queued = peak_queued.max(detail.queued_bytes);
            peak_unwritten = peak_unwritten.max(detail.unwritten_packets.unwrap_or(0));
        }
    }
    // The publisher is still served: PINGRESP after every PUBLISH before it.
    publisher.send(Packet::PingReq);
    assert_eq!(publisher.recv(), Some(Packet::PingResp));
    let detail = broker
        .inspect(|b| b.admin_client("stuck"))
        .flatten()
        .expect("the stuck client is known");
    peak_queued = peak_queued.max(detail.queued_bytes);
    assert!(
        peak_queued <= 1024 * 1024,
        "queued {peak_queued} bytes for the stuck client, over max_queued_bytes"
    );
    assert!(peak_unwritten <= 1024, "{peak_unwritten} unwritten packets");
    let dropped = broker
        .inspect(|b| b.dropped_for("stuck"))
        .flatten()
        .unwrap_or(0);
    assert!(dropped > 0, "the excess was dropped, not buffered");
    // Reading again: everything kept arrives, then nothing is left queued.
    let mut got = 0u64;
    while let Ok(Some(packet)) = stuck.recv_within(std::time::Duration::from_millis(500)) {
        assert!(matches!(packet, Packet::Publish(_)), "{packet:?}");
        got += 1;
    }
    assert_eq!(
        got + dropped,
        total as u64,
        "every message delivered or dropped"
    );
    let left = broker
        .inspect(|b| b.admin_client("stuck"))
        .flatten()
        .unwrap();
    assert_eq!((left.row.queued, left.queued_bytes), (0, 0));
    publisher.send(Packet::PingReq);
    assert_eq!(publisher.recv(), Some(Packet::PingResp));
}
