//! A subscriber that acknowledges a delivery with a packet of the wrong
//! kind for its packet id's state is closed (issue 22, item 3): PUBCOMP or
//! PUBREC for a QoS 1 PUBLISH, PUBACK for a QoS 2 PUBLISH, PUBACK for a
//! PUBREL. 3.1.1 [MQTT-4.8.0-1]: the connection is closed; MQTT 5
//! [MQTT-4.13.1-1]: Hornet sends DISCONNECT 0x82 first. Mosquitto 2.0.11
//! closes too for the QoS 1 cases (`HORNET_TEST_AGAINST=mosquitto` runs
//! those); it keeps a client that answers a QoS 2 PUBLISH with PUBACK.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{Ack, Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};

fn client(broker: &TestBroker, protocol: Protocol, id: &str) -> Raw {
    let mut raw = Raw::connect_to(broker.addr(), Connect::new(protocol, id));
    assert!(matches!(raw.recv(), Some(Packet::ConnAck(_))), "CONNACK");
    raw
}

/// Delivers one message at `qos` to a fresh subscriber and returns it with
/// the delivery's packet id (after PUBREC → PUBREL when `released`).
fn delivered(
    broker: &TestBroker,
    protocol: Protocol,
    qos: QoS,
    released: bool,
    n: u32,
) -> (Raw, PacketId) {
    let topic = format!("wrong-acks/{n}/{}", protocol.level());
    let mut sub = client(
        broker,
        protocol,
        &format!("wa-sub-{n}-{}", protocol.level()),
    );
    sub.send(Subscribe::new(PacketId::new(1).unwrap(), topic.as_str(), qos).into());
    assert!(matches!(sub.recv(), Some(Packet::SubAck(_))), "SUBACK");
    let mut publisher = client(
        broker,
        protocol,
        &format!("wa-pub-{n}-{}", protocol.level()),
    );
    let mut p = Publish::new(topic.as_str(), "x");
    p.qos = qos;
    p.packet_id = PacketId::new(1);
    publisher.send(p.into());
    let id = loop {
        match sub.recv() {
            Some(Packet::Publish(p)) => break p.packet_id.expect("QoS 1 or 2"),
            Some(_) => {}
            None => panic!("closed before the delivery"),
        }
    };
    if released {
        sub.send(Packet::PubRec(Ack::new(id)));
        assert!(matches!(sub.recv(), Some(Packet::PubRel(_))), "PUBREL");
    }
    (sub, id)
}

/// QoS delivered, PUBREC sent first, the wrong answer, what it is.
type Case = (QoS, bool, fn(PacketId) -> Packet, &'static str);

#[test]
fn wrong_acknowledgements_close_the_connection() {
    let broker = TestBroker::start();
    let cases: [Case; 4] = [
        (
            QoS::AtLeastOnce,
            false,
            |id| Packet::PubComp(Ack::new(id)),
            "PUBCOMP for QoS 1",
        ),
        (
            QoS::AtLeastOnce,
            false,
            |id| Packet::PubRec(Ack::new(id)),
            "PUBREC for QoS 1",
        ),
        (
            QoS::ExactlyOnce,
            false,
            |id| Packet::PubAck(Ack::new(id)),
            "PUBACK for QoS 2",
        ),
        (
            QoS::ExactlyOnce,
            true,
            |id| Packet::PubAck(Ack::new(id)),
            "PUBACK for PUBREL",
        ),
    ];
    let mut n = 0;
    for protocol in [Protocol::V3_1_1, Protocol::V5] {
        for (qos, released, answer, what) in cases {
            if common::against_mosquitto() && qos == QoS::ExactlyOnce {
                continue;
            }
            n += 1;
            let (mut sub, id) = delivered(&broker, protocol, qos, released, n);
            sub.send(answer(id));
            let mut last = None;
            while let Some(p) = sub.recv() {
                last = Some(p);
            }
            if protocol.is_v5() && !common::against_mosquitto() {
                assert!(
                    matches!(&last, Some(Packet::Disconnect(d)) if d.reason_code == ReasonCode::ProtocolError),
                    "{what} (5): {last:?}"
                );
            }
        }
    }
}
