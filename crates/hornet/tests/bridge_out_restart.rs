//! The outbox across a `kill -9` of Hornet: QoS 1 messages Hornet
//! acknowledged while the remote was away are in the bridge's persistent
//! local session, in the store; after Hornet is killed and started again
//! and the remote returns, every one of them reaches the remote.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/remote.rs"]
mod remote;
#[path = "support/site.rs"]
mod site;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Instant;

use common::TIMEOUT;
use hornet_codec::Protocol;
use remote::{client, next_publish, publish_qos1, subscribe, wait_for, Remote};

const STATE: &str = "$SYS/broker/connection/hornet-b1/state";

#[test]
fn acknowledged_messages_survive_a_kill_of_hornet_while_the_remote_is_away() {
    let mut remote = Remote::start("");
    // A persistent subscriber on the remote, then the remote goes away.
    let far = client(remote.port, "far", Protocol::V3_1_1, false);
    let mut far = far;
    subscribe(&mut far, &["edge/#"]);
    drop(far);
    remote.stop();

    let site = site::Site::new();
    std::fs::OpenOptions::new()
        .append(true)
        .open(site.conf())
        .unwrap()
        .write_all(
            format!(
                "connection b1\naddress 127.0.0.1:{}\nremote_clientid hornet-b1\n\
                 cleansession false\nrestart_timeout 1 1\ntopic sensors/# out 1 \"\" edge/\n",
                remote.port
            )
            .as_bytes(),
        )
        .unwrap();
    let hornet = site.start();
    let mut near = client(site.port, "near", Protocol::V3_1_1, true);
    subscribe(&mut near, &[STATE]);
    // The bridge's local side is up (its subscription is in place) once
    // it has published its state.
    wait_for(&mut near, STATE, "0");
    let mut near_pub = client(site.port, "near-pub", Protocol::V3_1_1, true);
    for n in 1..=30u16 {
        publish_qos1(&mut near_pub, "sensors/t", &n.to_string(), n);
    }
    drop(hornet); // SIGKILL
    drop((near, near_pub));

    let _hornet = site.start();
    remote.restart();
    let mut far = client(remote.port, "far", Protocol::V3_1_1, false);
    let mut missing: BTreeSet<String> = (1..=30u16).map(|n| n.to_string()).collect();
    let deadline = Instant::now() + TIMEOUT;
    while !missing.is_empty() {
        assert!(Instant::now() < deadline, "never arrived: {missing:?}");
        let p = next_publish(&mut far);
        assert_eq!(p.topic, "edge/sensors/t");
        missing.remove(std::str::from_utf8(&p.payload).unwrap());
    }
}
