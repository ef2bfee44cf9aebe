//! Node-RED 5 (npm `node-red`, run by Node 22 from npm `node`, both from
//! `tests/nodered/package-lock.json`) sending and receiving through Hornet
//! over MQTT 3.1.1 and 5, across a broker restart (issue 22, item 1).
//!
//! The flow: one broker connection with a birth message on `rc/nr/birth`,
//! two `mqtt in` nodes on overlapping filters (`rc/nr/#`, `rc/nr/+`), each
//! wired to an `mqtt out` node republishing on its own topic
//! (`rc/out/hash`, `rc/out/plus`). Over MQTT 5 Node-RED gives each `mqtt
//! in` node its own Subscription Identifier and drops a message whose
//! identifier is not exactly its own: a broker that sends one copy with
//! both identifiers ([MQTT-3.3.4-4]) reaches neither node; one copy per
//! subscription ([MQTT-3.3.4-5]) reaches both.
//!
//! A watcher with a persistent session collects the republished messages,
//! so what Node-RED sends while the watcher reconnects after the restart
//! (its birth message, forwarded by both nodes) is queued for it.
//!
//! Needs the npm packages installed from the lockfile (`npm ci --prefix
//! crates/hornet/tests/nodered`; CI does it in `.ci/run`).

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/site.rs"]
mod site;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use codec_client::Raw;
use hornet_codec::{Ack, Connect, Packet, PacketId, Protocol, Publish, QoS, Subscribe};
use process::Proc;
use site::Site;

const INSTALL: &str = "the npm packages from the lockfile \
    (`npm ci --prefix crates/hornet/tests/nodered --no-audit --no-fund`)";

/// Node-RED starts in seconds, more in a loaded debug run.
const STARTUP: Duration = Duration::from_secs(90);

fn nodered_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nodered")
}

/// Node-RED with the flow above, connected to `port` over `version` (4 or 5).
fn nodered(port: u16, version: u8) -> (Proc, tempfile::TempDir) {
    let dir = nodered_dir();
    let red = dir.join("node_modules/node-red/red.js");
    let node = dir.join("node_modules/.bin/node");
    assert!(
        red.exists() && node.exists(),
        "{} is missing: install {INSTALL}",
        red.display()
    );
    let user = tempfile::tempdir().unwrap();
    let ui_port = common::free_port();
    std::fs::write(
        user.path().join("settings.js"),
        format!(
            "module.exports = {{\n  uiPort: {ui_port},\n  uiHost: '127.0.0.1',\n  \
             httpAdminRoot: false,\n  httpNodeRoot: false,\n  flowFile: 'flows.json',\n  \
             credentialSecret: false,\n  mqttReconnectTime: 500,\n  \
             logging: {{ console: {{ level: 'info' }} }},\n}};\n"
        ),
    )
    .unwrap();
    let flow = format!(
        r#"[
  {{"id":"t1","type":"tab","label":"hornet"}},
  {{"id":"b1","type":"mqtt-broker","name":"hornet","broker":"127.0.0.1","port":"{port}",
    "clientid":"nodered-{version}","autoConnect":true,"usetls":false,"protocolVersion":"{version}",
    "keepalive":"60","cleansession":true,"autoUnsubscribe":true,
    "birthTopic":"rc/nr/birth","birthQos":"1","birthRetain":"false","birthPayload":"online","birthMsg":{{}},
    "closeTopic":"","closePayload":"","closeMsg":{{}},"willTopic":"","willPayload":"","willMsg":{{}},
    "userProps":"","sessionExpiry":""}},
  {{"id":"in1","type":"mqtt in","z":"t1","name":"hash","topic":"rc/nr/#","qos":"1","datatype":"utf8",
    "broker":"b1","nl":false,"rap":false,"rh":0,"inputs":0,"x":100,"y":40,"wires":[["out1"]]}},
  {{"id":"in2","type":"mqtt in","z":"t1","name":"plus","topic":"rc/nr/+","qos":"1","datatype":"utf8",
    "broker":"b1","nl":false,"rap":false,"rh":0,"inputs":0,"x":100,"y":80,"wires":[["out2"]]}},
  {{"id":"out1","type":"mqtt out","z":"t1","name":"","topic":"rc/out/hash","qos":"1","retain":"false",
    "respTopic":"","contentType":"","userProps":"","correl":"","expiry":"","broker":"b1","x":300,"y":40,"wires":[]}},
  {{"id":"out2","type":"mqtt out","z":"t1","name":"","topic":"rc/out/plus","qos":"1","retain":"false",
    "respTopic":"","contentType":"","userProps":"","correl":"","expiry":"","broker":"b1","x":300,"y":80,"wires":[]}}
]"#
    );
    std::fs::write(user.path().join("flows.json"), flow).unwrap();
    let mut cmd = Command::new(node);
    cmd.arg(red)
        .arg("--userDir")
        .arg(user.path())
        .arg("--settings")
        .arg(user.path().join("settings.js"))
        .current_dir(user.path());
    let proc = Proc::spawn("node-red", &mut cmd, INSTALL);
    (proc, user)
}

/// The watcher: a persistent MQTT 3.1.1 session subscribed to `rc/out/#`
/// at QoS 1; `(re)connect` resumes it.
fn watcher(port: u16) -> Raw {
    let mut c = Connect::new(Protocol::V3_1_1, "nr-watcher");
    c.clean_start = false;
    let mut raw = Raw::connect_to(([127, 0, 0, 1], port).into(), c);
    assert!(matches!(raw.recv(), Some(Packet::ConnAck(_))));
    raw.send(Subscribe::new(PacketId::new(1).unwrap(), "rc/out/#", QoS::AtLeastOnce).into());
    raw
}

/// Collects what the watcher receives until every `(topic, payload)` of
/// `want` arrived (acknowledging QoS 1), within `timeout`.
fn expect(raw: &mut Raw, want: &[(&str, &str)], timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let done = |seen: &BTreeMap<(String, String), usize>| {
        want.iter()
            .all(|(t, p)| seen.contains_key(&(t.to_string(), p.to_string())))
    };
    while !done(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{what}: got only {seen:?}, want {want:?}");
        match raw.recv_within(left.min(Duration::from_secs(1))) {
            Ok(Some(Packet::Publish(p))) => {
                if let Some(id) = p.packet_id {
                    raw.send(Packet::PubAck(Ack::new(id)));
                }
                let payload = String::from_utf8_lossy(&p.payload).into_owned();
                *seen.entry((p.topic.to_string(), payload)).or_default() += 1;
            }
            Ok(Some(_)) | Err(()) => {}
            Ok(None) => panic!("{what}: the watcher's connection closed; got {seen:?}"),
        }
    }
}

fn publish(port: u16, topic: &str, payload: &str) {
    let mut raw = Raw::connect_to(
        ([127, 0, 0, 1], port).into(),
        Connect::new(Protocol::V3_1_1, ""),
    );
    assert!(matches!(raw.recv(), Some(Packet::ConnAck(_))));
    let mut p = Publish::new(topic, payload.to_string());
    p.qos = QoS::AtLeastOnce;
    p.packet_id = PacketId::new(1);
    raw.send(p.into());
    assert!(matches!(raw.recv(), Some(Packet::PubAck(_))), "PUBACK");
}

fn both(payload: &'static str) -> [(&'static str, &'static str); 2] {
    [("rc/out/hash", payload), ("rc/out/plus", payload)]
}

fn overlapping_flows_across_a_restart(version: u8) {
    let site = Site::new();
    let hornet = site.start();
    let mut watch = watcher(site.port);
    let (_red, _user) = nodered(site.port, version);

    // The birth message reaches both `mqtt in` nodes, each republishes it.
    expect(&mut watch, &both("online"), STARTUP, "the birth message");
    publish(site.port, "rc/nr/a", "hello-1");
    expect(&mut watch, &both("hello-1"), common::TIMEOUT, "a message");

    // Restart (SIGKILL: the sessions are on disk): Node-RED reconnects by
    // itself, publishes its birth again, and both nodes get it (the
    // watcher's session queued the copies).
    drop(hornet);
    drop(watch);
    let _hornet = site.start();
    let mut watch = watcher(site.port);
    expect(
        &mut watch,
        &both("online"),
        Duration::from_secs(30),
        "the birth message after the restart",
    );
    publish(site.port, "rc/nr/b", "hello-2");
    expect(
        &mut watch,
        &both("hello-2"),
        common::TIMEOUT,
        "a message after the restart",
    );
}

#[test]
fn nodered_mqtt_3_1_1_overlapping_subscriptions_across_a_restart() {
    overlapping_flows_across_a_restart(4);
}

#[test]
fn nodered_mqtt_5_overlapping_subscriptions_across_a_restart() {
    overlapping_flows_across_a_restart(5);
}
