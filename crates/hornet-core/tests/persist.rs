//! What the core records for the store (`hornet_core::persist`): only
//! durable state, each message body once, in the order things happened.

mod support;

use hornet_codec::{Ack, Connect, Packet, Protocol, Publish, QoS, Subscribe};
use hornet_core::persist::StoreOp;
use hornet_core::{AckPolicy, ConnId};
use support::{pid, Harness};

/// A broker with durability on; every record is reported durable at once.
struct World {
    h: Harness,
}

impl World {
    fn new() -> World {
        World {
            h: Harness::persistent(AckPolicy::AfterDurable),
        }
    }

    /// Connects `client` with MQTT 5; `durable`: a session that outlives
    /// the connection.
    fn connect(&mut self, client: &str, durable: bool) -> ConnId {
        self.h.connect_v5(client, if durable { 600 } else { 0 })
    }

    fn send(&mut self, id: ConnId, packet: impl Into<Packet>) {
        self.h.send(id, packet);
    }

    fn ops(&mut self) -> Vec<StoreOp> {
        self.h.take_records()
    }
}

fn publish(topic: &str, qos: QoS, id: u16) -> Publish {
    let mut p = Publish::new(topic, "payload");
    p.qos = qos;
    p.packet_id = (qos != QoS::AtMostOnce).then(|| pid(id));
    p
}

fn kinds(ops: &[StoreOp]) -> Vec<&'static str> {
    ops.iter()
        .map(|op| match op {
            StoreOp::Session(_) => "Session",
            StoreOp::SessionRemoved { .. } => "SessionRemoved",
            StoreOp::Message { .. } => "Message",
            StoreOp::Queued { .. } => "Queued",
            StoreOp::Sent { .. } => "Sent",
            StoreOp::Released { .. } => "Released",
            StoreOp::Settled { .. } => "Settled",
            StoreOp::Unqueued { .. } => "Unqueued",
            StoreOp::Qos2Received { .. } => "Qos2Received",
            StoreOp::Qos2Done { .. } => "Qos2Done",
            StoreOp::RetainSet { .. } => "RetainSet",
            StoreOp::RetainCleared(_) => "RetainCleared",
            StoreOp::RetainTombstone { .. } => "RetainTombstone",
            StoreOp::WillSet { .. } => "WillSet",
            StoreOp::WillCleared { .. } => "WillCleared",
            StoreOp::ConnectedWill { .. } => "ConnectedWill",
            StoreOp::DelayedSet { .. } => "DelayedSet",
            StoreOp::DelayedCleared { .. } => "DelayedCleared",
        })
        .collect()
}

#[test]
fn a_message_for_two_durable_sessions_is_stored_once_and_referenced_twice() {
    let mut w = World::new();
    let a = w.connect("a", true);
    w.send(a, Subscribe::new(pid(1), "t", QoS::AtLeastOnce));
    let b = w.connect("b", true);
    w.send(b, Subscribe::new(pid(1), "t", QoS::ExactlyOnce));
    let clean = w.connect("clean", false);
    w.send(clean, Subscribe::new(pid(1), "t", QoS::ExactlyOnce));
    // Each input's records leave on their own (CONNECT, then SUBSCRIBE).
    let clients: Vec<String> = w
        .ops()
        .iter()
        .map(|op| match op {
            StoreOp::Session(r) => r.client_id.to_string(),
            other => panic!("only session records expected, got {other:?}"),
        })
        .collect();
    assert_eq!(
        clients,
        ["a", "a", "b", "b"],
        "clean sessions are not recorded"
    );

    let publisher = w.connect("pub", false);
    w.ops();
    w.send(publisher, publish("t", QoS::ExactlyOnce, 7));
    let ops = w.ops();
    let k = kinds(&ops);
    assert_eq!(k.iter().filter(|k| **k == "Message").count(), 1, "{k:?}");
    assert_eq!(k.iter().filter(|k| **k == "Queued").count(), 2, "{k:?}");
    assert_eq!(k.iter().filter(|k| **k == "Sent").count(), 2, "{k:?}");
    assert!(
        !k.contains(&"Qos2Received"),
        "the publisher's session is clean"
    );
    // Each session's copy has its own QoS.
    let qos: Vec<QoS> = ops
        .iter()
        .filter_map(|op| match op {
            StoreOp::Queued { shape, .. } => Some(shape.qos),
            _ => None,
        })
        .collect();
    assert!(qos.contains(&QoS::AtLeastOnce) && qos.contains(&QoS::ExactlyOnce));
}

#[test]
fn acknowledgements_settle_and_qos2_ids_are_recorded_both_ways() {
    let mut w = World::new();
    let sub = w.connect("sub", true);
    w.send(sub, Subscribe::new(pid(1), "t", QoS::ExactlyOnce));
    let publisher = w.connect("pub", true);
    w.ops();
    // [MQTT-4.3.3-10]: the inbound id is held until PUBREL, durably.
    w.send(publisher, publish("t", QoS::ExactlyOnce, 9));
    let k = kinds(&w.ops());
    assert_eq!(k, ["Qos2Received", "Message", "Queued", "Sent"]);
    w.send(publisher, Packet::PubRel(Ack::new(pid(9))));
    assert_eq!(kinds(&w.ops()), ["Qos2Done"]);
    // Outbound: PUBREC from the subscriber releases, PUBCOMP settles.
    w.send(sub, Packet::PubRec(Ack::new(pid(1))));
    assert_eq!(kinds(&w.ops()), ["Released"]);
    w.send(sub, Packet::PubComp(Ack::new(pid(1))));
    assert_eq!(kinds(&w.ops()), ["Settled"]);
}

#[test]
fn qos0_records_nothing_and_an_offline_session_only_queues() {
    let mut w = World::new();
    let sub = w.connect("sub", true);
    w.send(sub, Subscribe::new(pid(1), "t", QoS::AtLeastOnce));
    w.h.close(sub);
    let publisher = w.connect("pub", false);
    w.ops();
    w.send(publisher, publish("t", QoS::AtMostOnce, 0));
    assert!(w.ops().is_empty(), "QoS 0 is never stored");
    w.send(publisher, publish("t", QoS::AtLeastOnce, 1));
    assert_eq!(kinds(&w.ops()), ["Message", "Queued"]);
    // Retained messages are stored whatever their QoS; `$SYS` ones never.
    let mut r = publish("r", QoS::AtMostOnce, 0);
    r.retain = true;
    w.send(publisher, r);
    assert_eq!(kinds(&w.ops()), ["RetainSet"]);
}

#[test]
fn ending_a_durable_session_removes_it_from_the_store() {
    let mut w = World::new();
    let sub = w.connect("sub", true);
    w.ops();
    // Clean start discards the old session ([MQTT-3.1.2-4]).
    w.h.close(sub);
    // Going offline rewrites the record (since when it is offline).
    assert_eq!(kinds(&w.ops()), ["Session"]);
    let again = w.h.open_loopback();
    let mut c = Connect::new(Protocol::V5, "sub");
    c.clean_start = true;
    w.send(again, c);
    assert_eq!(kinds(&w.ops()), ["SessionRemoved"]);
}
