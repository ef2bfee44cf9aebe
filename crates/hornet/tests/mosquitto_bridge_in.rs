//! An edge Mosquitto bridged into Hornet, the most common bridge of all
//! (issue 22, item 2). Mosquitto's bridge connects with `try_private true`
//! by default: protocol level 0x84 (0x80 set on 4). Hornet accepts it as a
//! bridge: its subscriptions get No Local and Retain As Published, so what
//! it bridges in never comes back to it (no loop), and it may publish its
//! state notification under `$SYS/broker/connection/`.
//!
//! `HORNET_TEST_AGAINST=mosquitto` runs the same steps with Mosquitto as the
//! central broker, which checks the expectations.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;

use std::process::Command;
use std::time::{Duration, Instant};

use codec_client::Raw;
use common::{TestBroker, TIMEOUT};
use hornet_codec::{Connect, Packet, PacketId, Protocol, Publish, QoS, Subscribe};
use process::Proc;

const INSTALL: &str = "the Debian package mosquitto (see .ci/run)";

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// An edge Mosquitto on a free port, bridged to `central`.
fn edge(central: u16) -> (Proc, u16, tempfile::TempDir) {
    process::require("mosquitto", INSTALL);
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let conf = dir.path().join("edge.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\n\
             connection to-central\naddress 127.0.0.1:{central}\n\
             remote_clientid edge-bridge\ncleansession true\nrestart_timeout 1\n\
             topic out/# out 1\ntopic in/# in 1\ntopic both/# both 1\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new("mosquitto");
    cmd.arg("-c").arg(&conf);
    let proc = Proc::spawn("edge mosquitto", &mut cmd, INSTALL);
    common::wait_for_port(([127, 0, 0, 1], port).into());
    (proc, port, dir)
}

fn client(port: u16, id: &str) -> Raw {
    let mut c = Raw::connect_to(
        ([127, 0, 0, 1], port).into(),
        Connect::new(Protocol::V3_1_1, id),
    );
    assert!(
        matches!(c.recv(), Some(Packet::ConnAck(_))),
        "CONNACK of {id}"
    );
    c
}

fn subscribe(c: &mut Raw, filters: &[&str]) {
    for (i, f) in filters.iter().enumerate() {
        c.send(Subscribe::new(pid(i as u16 + 1), *f, QoS::AtMostOnce).into());
        assert!(matches!(c.recv(), Some(Packet::SubAck(_))), "SUBACK");
    }
}

fn publish(c: &mut Raw, topic: &str, payload: &str) {
    c.send(Publish::new(topic, payload.to_string()).into());
}

/// Publishes `topic` from `from` until `to` receives it (the bridge takes a
/// moment to connect and subscribe); bounded by [`TIMEOUT`].
fn until_bridged(from: &mut Raw, to: &mut Raw, topic: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        publish(from, topic, "ping");
        while let Ok(Some(p)) = to.recv_within(Duration::from_millis(200)) {
            if matches!(&p, Packet::Publish(m) if m.topic == topic) {
                return;
            }
        }
    }
    panic!("nothing bridged on {topic} within {TIMEOUT:?}");
}

/// Every PUBLISH `c` receives until one on `marker`; their topics.
fn topics_until(c: &mut Raw, marker: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match c.recv() {
            Some(Packet::Publish(p)) if p.topic == marker => return seen,
            Some(Packet::Publish(p)) => seen.push(p.topic.to_string()),
            Some(_) => {}
            None => panic!("closed before {marker}; saw {seen:?}"),
        }
    }
}

#[test]
fn an_edge_mosquitto_bridges_both_ways_without_echo() {
    let central = TestBroker::start();
    let (_edge, edge_port, _dir) = edge(central.port());

    let mut central_sub = client(central.port(), "central-sub");
    subscribe(
        &mut central_sub,
        &["out/#", "both/#", "$SYS/broker/connection/+/state"],
    );
    let mut central_pub = client(central.port(), "central-pub");
    let mut edge_sub = client(edge_port, "edge-sub");
    subscribe(&mut edge_sub, &["in/#", "both/#"]);
    let mut edge_pub = client(edge_port, "edge-pub");

    // out: edge → central; in: central → edge.
    until_bridged(&mut edge_pub, &mut central_sub, "out/ready");
    until_bridged(&mut central_pub, &mut edge_sub, "in/ready");

    // both, from the edge: central gets it once; the edge's own subscriber
    // gets it once, locally, and never again through the bridge. The
    // marker, published on central afterwards, travels the same way an
    // echo would, so it arrives after any echo.
    publish(&mut edge_pub, "both/once", "x");
    let seen = topics_until(&mut central_sub, "both/once");
    assert!(
        seen.iter().all(|t| !t.starts_with("both/")),
        "central saw {seen:?}"
    );
    publish(&mut central_pub, "in/marker", "m");
    let seen = topics_until(&mut edge_sub, "in/marker");
    let echoes = seen.iter().filter(|t| *t == "both/once").count();
    assert_eq!(echoes, 1, "the edge's subscriber saw {seen:?}");
}

#[test]
fn the_bridge_notification_reaches_central() {
    let central = TestBroker::start();
    let mut central_sub = client(central.port(), "notice-sub");
    subscribe(&mut central_sub, &["$SYS/broker/connection/+/state"]);
    let (_edge, _port, _dir) = edge(central.port());
    // Mosquitto's `notifications true` (its default): retained "1" on
    // $SYS/broker/connection/<remote_clientid>/state once connected.
    loop {
        match central_sub.recv() {
            Some(Packet::Publish(p)) => {
                assert_eq!(p.topic, "$SYS/broker/connection/edge-bridge/state");
                assert_eq!(&p.payload[..], b"1");
                break;
            }
            Some(_) => {}
            None => panic!("closed"),
        }
    }
}
