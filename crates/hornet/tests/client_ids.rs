//! Mosquitto's client id keys through real clients: `clientid_prefixes`
//! (`mosquitto_pub` with and without the prefix, MQTT 3.1.1 and 5),
//! `allow_zero_length_clientid false` and `auto_id_prefix` (a CONNECT with
//! an empty client id over a socket), `maximum_qos`, Mosquitto's other
//! spelling of `max_qos`, `message_size_limit`, `max_inflight_messages` as
//! the Receive Maximum, and `upgrade_outgoing_qos`. Each test also runs against Mosquitto with
//! `HORNET_TEST_AGAINST=mosquitto` where the behaviour is Mosquitto's.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;

use std::process::Command;

use codec_client::Raw;
use common::{TestBroker, TIMEOUT};
use hornet_codec::{Connect, Packet, Protocol, ReasonCode};
use process::Proc;

const CLIENTS: &str = "the Debian package mosquitto-clients (`apt-get install mosquitto-clients`)";

/// `mosquitto_pub -i ID` once: its exit status and output.
fn publish(broker: &TestBroker, version: &str, id: &str) -> (Option<i32>, String) {
    process::require("mosquitto_pub", CLIENTS);
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-p", &broker.port().to_string(), "-V", version])
        .args(["-i", id, "-t", "ids/x", "-m", "hi"]);
    let mut p = Proc::spawn("mosquitto_pub", &mut cmd, CLIENTS);
    let status = p.wait_exit(TIMEOUT);
    (status.code(), p.output())
}

#[test]
fn clientid_prefixes_admits_only_ids_with_the_prefix() {
    let broker = TestBroker::with_conf("clientid_prefixes sensor-\nallow_anonymous true\n");
    for version in ["mqttv311", "mqttv5"] {
        let (code, out) = publish(&broker, version, "sensor-1");
        assert_eq!(code, Some(0), "{version}: {out}");
        let (code, out) = publish(&broker, version, "laptop-1");
        // Not authorised: 3.1.1 return code 5, MQTT 5 reason code 135.
        let expected = if version == "mqttv5" { 135 } else { 5 };
        assert_eq!(code, Some(expected), "{version}: {out}");
        assert!(
            out.to_lowercase().contains("not authori"),
            "{version}: {out}"
        );
    }
}

fn connack(broker: &TestBroker, protocol: Protocol, id: &str) -> hornet_codec::ConnAck {
    let mut c = Connect::new(protocol, id);
    c.clean_start = true;
    let mut raw = Raw::connect_to(broker.addr(), c);
    match raw.recv() {
        Some(Packet::ConnAck(a)) => a,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

#[test]
fn allow_zero_length_clientid_false_refuses_an_empty_id() {
    let broker = TestBroker::with_conf("allow_zero_length_clientid false\nallow_anonymous true\n");
    // As Mosquitto answers: 3.1.1 identifier rejected, MQTT 5 0x80.
    let a = connack(&broker, Protocol::V3_1_1, "");
    assert_eq!(a.reason_code, ReasonCode::ClientIdentifierNotValid);
    let a = connack(&broker, Protocol::V5, "");
    assert_eq!(a.reason_code, ReasonCode::UnspecifiedError);
    let a = connack(&broker, Protocol::V5, "named");
    assert_eq!(a.reason_code, ReasonCode::Success);
}

#[test]
fn auto_id_prefix_names_assigned_ids() {
    if common::hornet_only() {
        // Mosquitto appends a random UUID-like string; the prefix is the point.
        return;
    }
    let broker = TestBroker::with_conf("auto_id_prefix dev-\nallow_anonymous true\n");
    let a = connack(&broker, Protocol::V5, "");
    assert_eq!(a.reason_code, ReasonCode::Success);
    let assigned = a
        .properties
        .assigned_client_identifier()
        .expect("an Assigned Client Identifier");
    assert!(assigned.starts_with("dev-"), "{assigned}");
    // The default keeps Mosquitto's prefix.
    let broker = TestBroker::with_conf("allow_anonymous true\n");
    let a = connack(&broker, Protocol::V5, "");
    let assigned = a.properties.assigned_client_identifier().unwrap();
    assert!(assigned.starts_with("auto-"), "{assigned}");
}

#[test]
fn maximum_qos_is_max_qos() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf("maximum_qos 1\nallow_anonymous true\n");
    let a = connack(&broker, Protocol::V5, "q");
    assert_eq!(a.properties.maximum_qos(), Some(1));
}

/// `message_size_limit`: a PUBLISH over it is dropped (acknowledged with
/// 0x95 to MQTT 5, so `mosquitto_pub` does not resend it) while one at the
/// limit is delivered; a will over it refuses the CONNECT.
#[test]
fn message_size_limit_drops_larger_publishes_and_refuses_larger_wills() {
    let broker = TestBroker::with_conf("message_size_limit 10\nallow_anonymous true\n");
    let mut sub = Proc::spawn(
        "mosquitto_sub",
        Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-p",
            &broker.port().to_string(),
            "-t",
            "size/#",
            "-v",
            "-d",
        ]),
        CLIENTS,
    );
    sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
    for (topic, payload) in [("size/big", "01234567890"), ("size/fits", "0123456789")] {
        let mut p = Proc::spawn(
            "mosquitto_pub",
            Command::new("mosquitto_pub").args([
                "-p",
                &broker.port().to_string(),
                "-V",
                "mqttv5",
                "-q",
                "1",
                "-t",
                topic,
                "-m",
                payload,
            ]),
            CLIENTS,
        );
        p.expect_success(TIMEOUT);
    }
    // In order: the first to arrive is the one that fits.
    let line = sub.wait_line(TIMEOUT, "a message", |l| l.starts_with("size/"));
    assert_eq!(line, "size/fits 0123456789", "{}", sub.output());

    let mut c = Connect::new(Protocol::V5, "willing");
    c.will = Some(hornet_codec::LastWill {
        topic: "size/will".into(),
        payload: bytes::Bytes::from_static(b"01234567890"),
        qos: hornet_codec::QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    });
    let mut raw = Raw::connect_to(broker.addr(), c);
    match raw.recv() {
        Some(Packet::ConnAck(a)) => assert_eq!(a.reason_code, ReasonCode::PacketTooLarge),
        other => panic!("expected CONNACK 0x95, got {other:?}"),
    }
}

/// `max_inflight_messages` in mosquitto.conf is also the Receive Maximum
/// announced to MQTT 5 clients, as Mosquitto announces it.
#[test]
fn max_inflight_messages_is_announced_as_receive_maximum() {
    let broker = TestBroker::with_conf("max_inflight_messages 7\nallow_anonymous true\n");
    let a = connack(&broker, Protocol::V5, "inflight");
    assert_eq!(a.properties.receive_maximum(), Some(7));
}

/// `upgrade_outgoing_qos true`: a QoS 0 message goes out to a QoS 2
/// subscriber at QoS 2, live and retained, as Mosquitto sends it.
#[test]
fn upgrade_outgoing_qos_sends_at_the_subscription_qos() {
    let broker = TestBroker::with_conf("upgrade_outgoing_qos true\nallow_anonymous true\n");
    let port = broker.port().to_string();
    let mut retained = Proc::spawn(
        "mosquitto_pub -r",
        Command::new("mosquitto_pub").args(["-p", &port, "-t", "up/r", "-m", "kept", "-r"]),
        CLIENTS,
    );
    retained.expect_success(TIMEOUT);
    let mut sub = Proc::spawn(
        "mosquitto_sub -q 2",
        Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-p",
            &port,
            "-t",
            "up/#",
            "-q",
            "2",
            "-C",
            "2",
            "-v",
            "-d",
        ]),
        CLIENTS,
    );
    let line = sub.wait_line(TIMEOUT, "the retained message", |l| {
        l.contains("received PUBLISH") && l.contains("'up/r'")
    });
    assert!(line.contains("q2"), "{line}");
    Proc::spawn(
        "mosquitto_pub",
        Command::new("mosquitto_pub").args(["-p", &port, "-t", "up/live", "-m", "now"]),
        CLIENTS,
    )
    .expect_success(TIMEOUT);
    let line = sub.wait_line(TIMEOUT, "the live message", |l| {
        l.contains("received PUBLISH") && l.contains("'up/live'")
    });
    assert!(line.contains("q2"), "{line}");
    sub.expect_success(TIMEOUT);
}
