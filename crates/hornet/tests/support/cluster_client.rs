//! MQTT 5 client helpers shared by the cluster tests (`cluster.rs`,
//! `cluster_partition.rs`): a clean-session client of one node, SUBSCRIBE,
//! QoS 1 PUBLISH with its PUBACK's reason code, and waiting until the
//! cluster has a route for a topic. All speak over
//! [`Raw`](crate::codec_client::Raw), so each read is bounded by
//! `common::TIMEOUT`.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hornet_codec::{Ack, Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};

use crate::codec_client::Raw;

/// Packet identifier `n` (which must not be 0).
pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// An MQTT 5 clean-session client of the node at `addr`, its CONNACK a
/// success.
pub fn client(addr: SocketAddr, id: &str) -> Raw {
    let mut c = Raw::connect_to(addr, Connect::new(Protocol::V5, id));
    match c.recv() {
        Some(Packet::ConnAck(a)) => assert_eq!(a.reason_code, ReasonCode::Success),
        other => panic!("no CONNACK: {other:?}"),
    }
    c
}

/// Subscribes `c` to `filter` at `qos` and asserts the SUBACK grants it.
/// Messages `c` receives before the SUBACK (on its earlier subscriptions)
/// are acknowledged and dropped.
pub fn subscribe(c: &mut Raw, filter: &str, qos: QoS) {
    c.send(Subscribe::new(pid(1), filter, qos).into());
    loop {
        match c.recv() {
            Some(Packet::SubAck(a)) => {
                assert!(!a.reason_codes[0].is_error(), "{a:?}");
                return;
            }
            Some(Packet::Publish(p)) => {
                if let Some(id) = p.packet_id {
                    c.send(Packet::PubAck(Ack::new(id)));
                }
            }
            Some(_) => {}
            None => panic!("closed before the SUBACK"),
        }
    }
}

/// Publishes at QoS 1 and returns the PUBACK's reason code (messages the
/// client receives meanwhile are dropped unacknowledged: only publishers
/// call this).
pub fn publish_qos1(c: &mut Raw, topic: &str, payload: &str, id: u16) -> ReasonCode {
    let mut p = Publish::new(topic, payload.to_string());
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(pid(id));
    c.send(p.into());
    loop {
        match c.recv() {
            Some(Packet::PubAck(a)) if a.packet_id == pid(id) => return a.reason_code,
            Some(_) => {}
            None => panic!("connection closed before the PUBACK"),
        }
    }
}

/// Publishes "probe" to `topic` at QoS 1, every 50 ms, until a node has
/// the route (PUBACK Success, not 0x10 No matching subscribers), and
/// fails unless that happens `within`. Probes use packet identifiers from
/// `first_id` up.
pub fn await_route(c: &mut Raw, topic: &str, within: Duration, first_id: u16) {
    let deadline = Instant::now() + within;
    let mut id = first_id;
    while publish_qos1(c, topic, "probe", id) != ReasonCode::Success {
        id += 1;
        assert!(
            Instant::now() < deadline,
            "no route for {topic} within {} s",
            within.as_secs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
