//! Idle plain TCP connections park (their task ends and their socket is
//! watched with the others', `server/park.rs`) and come back for
//! everything a connection does: messages at QoS 0, 1 and 2 to an idle
//! subscriber, a PINGREQ, a QoS 2 flow's last packet, a takeover, the
//! core's keep-alive close, and the server's shutdown, which closes them.
//! Each step first waits (bounded) until the connections it uses are
//! parked, so it runs against parked connections.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use codec_client::Raw;
use common::{TestBroker, TIMEOUT};
use hornet_codec::{Ack, Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};

/// Idle subscribers held at once.
const N: usize = 150;

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn qos_of(i: usize) -> QoS {
    [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][i % 3]
}

fn protocol_of(i: usize) -> Protocol {
    if i % 2 == 0 {
        Protocol::V5
    } else {
        Protocol::V3_1_1
    }
}

/// Connects `client_id` (keep-alive `keep_alive`) and expects a CONNACK.
fn connect(broker: &TestBroker, protocol: Protocol, client_id: &str, keep_alive: u16) -> Raw {
    let mut c = Connect::new(protocol, client_id);
    c.keep_alive = keep_alive;
    let mut raw = Raw::connect_to(broker.addr(), c);
    match raw.recv() {
        Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => raw,
        other => panic!("{client_id}: expected a successful CONNACK, got {other:?}"),
    }
}

/// Waits until at least `n` connections are parked.
fn wait_parked(broker: &TestBroker, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (parked, _) = broker.parked().expect("hornet");
        if parked >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{parked} connections parked after {TIMEOUT:?}, expected {n}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `N` subscribers to `park/0`, `park/1`, `park/2` at QoS 0, 1, 2 (5.0
/// and 3.1.1 alternating), all parked.
fn parked_subscribers(broker: &TestBroker) -> Vec<Raw> {
    let subs: Vec<Raw> = (0..N)
        .map(|i| {
            let mut raw = connect(broker, protocol_of(i), &format!("parked-{i}"), 60);
            let qos = qos_of(i);
            raw.send(Subscribe::new(pid(1), format!("park/{}", qos as u8), qos).into());
            match raw.recv() {
                Some(Packet::SubAck(_)) => raw,
                other => panic!("expected SUBACK, got {other:?}"),
            }
        })
        .collect();
    wait_parked(broker, N);
    subs
}

/// Publishes one message at QoS 2 to each of the three topics from a
/// client of its own (completing its flows), then disconnects it.
fn publish_round(broker: &TestBroker, round: u8) {
    let mut publisher = connect(broker, Protocol::V5, "parked-publisher", 60);
    for q in 0u8..3 {
        let mut p = Publish::new(format!("park/{q}"), Bytes::from(vec![round, q]));
        p.qos = QoS::ExactlyOnce;
        p.packet_id = Some(pid(u16::from(q) + 1));
        publisher.send(p.into());
        match publisher.recv() {
            Some(Packet::PubRec(a)) => publisher.send(Packet::PubRel(Ack::new(a.packet_id))),
            other => panic!("expected PUBREC, got {other:?}"),
        }
        assert!(matches!(publisher.recv(), Some(Packet::PubComp(_))));
    }
    publisher.send(Packet::Disconnect(hornet_codec::Disconnect::new(
        ReasonCode::Success,
    )));
}

/// Each subscriber's next message: at its subscription's QoS, the
/// round's payload; QoS 1 acknowledged, QoS 2 answered with PUBREC. The
/// QoS 2 ones' PUBREL is read and its PUBCOMP returned by the caller.
fn receive_round(subs: &mut [Raw], round: u8) -> Vec<(usize, PacketId)> {
    let mut pubrels = Vec::new();
    for (i, raw) in subs.iter_mut().enumerate() {
        let qos = qos_of(i);
        match raw.recv() {
            Some(Packet::Publish(p)) => {
                assert_eq!(p.qos, qos, "subscriber {i}");
                assert_eq!(&p.payload[..], &[round, qos as u8], "subscriber {i}");
                match qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => raw.send(Packet::PubAck(Ack::new(p.packet_id.unwrap()))),
                    QoS::ExactlyOnce => {
                        raw.send(Packet::PubRec(Ack::new(p.packet_id.unwrap())));
                        match raw.recv() {
                            Some(Packet::PubRel(a)) => pubrels.push((i, a.packet_id)),
                            other => panic!("subscriber {i}: expected PUBREL, got {other:?}"),
                        }
                    }
                }
            }
            other => panic!("subscriber {i}: expected round {round}'s PUBLISH, got {other:?}"),
        }
    }
    pubrels
}

#[test]
fn parked_subscribers_receive_qos_0_1_2_answer_pings_and_are_taken_over() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    let mut subs = parked_subscribers(&broker);
    let (_, unparked_before) = broker.parked().unwrap();

    // Messages to parked subscribers, at each QoS [MQTT-4.3.1-1]
    // [MQTT-4.3.2-1] [MQTT-4.3.3-1]; the QoS 2 flows end with a PUBCOMP
    // read from a parked connection.
    for round in 1..=2u8 {
        let pubrels = receive_round_after(&broker, &mut subs, round);
        wait_parked(&broker, N);
        for (i, id) in pubrels {
            subs[i].send(Packet::PubComp(Ack::new(id)));
        }
    }
    let (_, unparked) = broker.parked().unwrap();
    assert!(
        unparked >= unparked_before + N,
        "every subscriber was brought back ({unparked_before} → {unparked})"
    );

    // A PINGREQ to a parked connection is answered [MQTT-3.12.4-1].
    wait_parked(&broker, N);
    for raw in &mut subs {
        raw.send(Packet::PingReq);
    }
    for (i, raw) in subs.iter_mut().enumerate() {
        assert!(
            matches!(raw.recv(), Some(Packet::PingResp)),
            "subscriber {i}: PINGRESP"
        );
    }

    // Nothing is left over: no message, no retransmission.
    wait_parked(&broker, N);
    for (i, raw) in subs.iter_mut().enumerate().step_by(7) {
        assert_eq!(
            raw.recv_within(Duration::from_millis(20)),
            Err(()),
            "subscriber {i}: nothing more"
        );
    }

    // A takeover closes the parked connection it replaces
    // [MQTT-3.1.4-3]: 5.0 with DISCONNECT 0x8E first [MQTT-3.14.2-1].
    wait_parked(&broker, N);
    for (i, old) in subs.iter_mut().enumerate().take(4) {
        let mut new = connect(&broker, protocol_of(i), &format!("parked-{i}"), 60);
        match old.recv() {
            Some(Packet::Disconnect(d)) => {
                assert_eq!(protocol_of(i), Protocol::V5, "subscriber {i}");
                assert_eq!(d.reason_code, ReasonCode::SessionTakenOver);
                assert!(
                    old.recv().is_none(),
                    "subscriber {i}: closed after DISCONNECT"
                );
            }
            None => assert_eq!(protocol_of(i), Protocol::V3_1_1, "subscriber {i}"),
            other => panic!("subscriber {i}: expected the takeover's close, got {other:?}"),
        }
        new.send(Packet::PingReq);
        assert!(matches!(new.recv(), Some(Packet::PingResp)));
    }
}

/// Publishes round `round` once every subscriber is parked and receives it.
fn receive_round_after(broker: &TestBroker, subs: &mut [Raw], round: u8) -> Vec<(usize, PacketId)> {
    wait_parked(broker, N);
    publish_round(broker, round);
    receive_round(subs, round)
}

#[test]
fn the_core_closes_a_parked_connection_whose_keep_alive_expired() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::start();
    // [MQTT-3.1.2-22]: silent for one and a half times its keep-alive.
    // Keep-alive 3 (closed after 4.5 s): the connection parks before that
    // with the default delay (1 to 2 s idle) as well as with the 100 ms
    // that scripts/test.sh sets; keep-alive 1 closed it before it parked.
    let mut raw = connect(&broker, Protocol::V5, "parked-keepalive", 3);
    wait_parked(&broker, 1);
    let started = Instant::now();
    match raw.recv() {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, ReasonCode::KeepAliveTimeout);
            assert!(raw.recv().is_none(), "closed after DISCONNECT");
        }
        None => {}
        other => panic!("expected the keep-alive close, got {other:?}"),
    }
    assert!(started.elapsed() < TIMEOUT);
    assert_eq!(broker.parked().unwrap().0, 0, "no longer parked");
}

#[test]
fn stopping_the_server_closes_parked_connections() {
    if common::hornet_only() {
        return;
    }
    let mut broker = TestBroker::start();
    let mut clients: Vec<Raw> = (0..20)
        .map(|i| connect(&broker, protocol_of(i), &format!("parked-stop-{i}"), 60))
        .collect();
    wait_parked(&broker, clients.len());
    // The runtime (and any task still running) goes on: only the parked
    // sockets' owner stops.
    broker.stop_server();
    for (i, raw) in clients.iter_mut().enumerate() {
        assert!(raw.recv().is_none(), "client {i}: closed at shutdown");
    }
}
