//! An outgoing bridge across an outage of its remote (a real Mosquitto,
//! stopped and started again on the same port): QoS 1 messages published
//! locally while the remote is away, and acknowledged to their publisher
//! by Hornet, all reach the remote once it is back. The state
//! notification says `0` during the outage and `1` after.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/remote.rs"]
mod remote;

use std::collections::BTreeSet;

use common::{TestBroker, TIMEOUT};
use hornet_codec::Protocol;
use remote::{client, next_publish, publish_qos1, subscribe, wait_for, Remote};

const STATE: &str = "$SYS/broker/connection/hornet-b1/state";

#[test]
fn messages_published_during_an_outage_arrive_after_the_remote_returns() {
    let mut remote = Remote::start("");
    // A persistent subscriber: Mosquitto keeps its session across its
    // restart (SIGTERM saves it), so it gets what arrives while it is away.
    let mut far = client(remote.port, "far", Protocol::V3_1_1, false);
    subscribe(&mut far, &["edge/#", STATE]);
    let hornet = TestBroker::with_conf(&format!(
        "connection b1\naddress 127.0.0.1:{}\nremote_clientid hornet-b1\n\
         cleansession false\nrestart_timeout 1 1\ntopic sensors/# out 1 \"\" edge/\n",
        remote.port
    ));
    let mut near = client(hornet.port(), "near", Protocol::V3_1_1, true);
    subscribe(&mut near, &[STATE]);
    wait_for(&mut far, STATE, "1");
    wait_for(&mut near, STATE, "1");

    let mut near_pub = client(hornet.port(), "near-pub", Protocol::V3_1_1, true);
    for n in 1..=10u16 {
        publish_qos1(&mut near_pub, "sensors/t", &n.to_string(), n);
    }
    for n in 1..=10u16 {
        assert_eq!(
            &next_publish(&mut far).payload[..],
            n.to_string().as_bytes()
        );
    }

    remote.stop();
    drop(far);
    wait_for(&mut near, STATE, "0");
    // Acknowledged by Hornet while the remote is down: more than the
    // bridge's inflight window, so some wait in its local session queue.
    for n in 11..=40u16 {
        publish_qos1(&mut near_pub, "sensors/t", &n.to_string(), n);
    }
    remote.restart();
    wait_for(&mut near, STATE, "1");
    let mut far = client(remote.port, "far", Protocol::V3_1_1, false);
    let mut missing: BTreeSet<String> = (11..=40u16).map(|n| n.to_string()).collect();
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !missing.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "never arrived: {missing:?}"
        );
        let p = next_publish(&mut far);
        if p.topic == "edge/sensors/t" {
            missing.remove(std::str::from_utf8(&p.payload).unwrap());
        }
    }
    let [b] = &hornet.bridges()[..] else { panic!() };
    assert!(b.reconnects >= 1, "{b:?}");
    assert!(b.last_error.is_some(), "{b:?}");
}

/// `bridge_max_queued_messages` (Hornet only; Mosquitto has no per-bridge
/// limit): with the remote away, the bridge's outbox holds what is in
/// flight (`max_inflight_messages 2`) and 5 queued; the newest beyond that
/// are dropped (queue policy drop_newest), counted in the bridge's
/// `dropped`, and the ones kept arrive once the remote is back.
#[test]
fn a_bridges_own_outbox_limit_drops_the_newest_and_counts_them() {
    let mut remote = Remote::start("");
    let mut far = client(remote.port, "far", Protocol::V3_1_1, false);
    subscribe(&mut far, &["edge/#"]);
    drop(far);
    remote.stop();
    let hornet = TestBroker::with_conf(&format!(
        "max_inflight_messages 2\n\
         connection b1\naddress 127.0.0.1:{}\nremote_clientid hornet-b1\n\
         cleansession false\nrestart_timeout 1 1\nbridge_max_queued_messages 5\n\
         topic sensors/# out 1 \"\" edge/\n",
        remote.port
    ));
    let mut near = client(hornet.port(), "near", Protocol::V3_1_1, true);
    subscribe(&mut near, &[STATE]);
    wait_for(&mut near, STATE, "0");
    let mut near_pub = client(hornet.port(), "near-pub", Protocol::V3_1_1, true);
    for n in 1..=20u16 {
        publish_qos1(&mut near_pub, "sensors/t", &n.to_string(), n);
    }
    let [b] = &hornet.bridges()[..] else { panic!() };
    assert_eq!(
        b.dropped, 13,
        "20 published, 2 in flight + 5 queued kept: {b:?}"
    );

    remote.restart();
    let mut far = client(remote.port, "far", Protocol::V3_1_1, false);
    for n in 1..=7u16 {
        assert_eq!(
            &next_publish(&mut far).payload[..],
            n.to_string().as_bytes()
        );
    }
    // Nothing beyond the kept ones: the next message is a fresh one.
    wait_for(&mut near, STATE, "1");
    publish_qos1(&mut near_pub, "sensors/t", "after", 21);
    assert_eq!(&next_publish(&mut far).payload[..], b"after");
}
