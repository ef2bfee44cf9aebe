//! Mosquitto's own command-line clients (`mosquitto_pub`, `mosquitto_sub`)
//! against the broker, over MQTT 3.1, 3.1.1 and 5.0: the README's
//! `mosquitto_sub -t 'a/#' -v` / `mosquitto_pub -t a/b -m hi` session,
//! retained messages (`-r`, cleared with `-r -n`) and QoS 1 and 2 (`-q`).
//!
//! The subscriber runs with `-d`, so the test waits for its
//! `Subscribed (mid: ...)` line (printed on SUBACK) before publishing, and
//! reads the QoS, retain flag and acknowledgements from its debug lines; no
//! test sleeps. Every client is killed when its test ends. Each test names
//! the normative statements it checks.
//!
//! Needs `mosquitto_pub` and `mosquitto_sub` (Debian package
//! `mosquitto-clients`; CI installs it in `.ci/run`): without them the tests
//! fail and say so.

mod common;
#[path = "support/process.rs"]
mod process;

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{TestBroker, TIMEOUT};
use process::Proc;

const INSTALL: &str = "the Debian package mosquitto-clients (`apt-get install mosquitto-clients`)";

/// A client id unique in this run, short enough for MQTT 3.1 (23 characters).
fn unique_id(role: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("mc{role}{}-{n}", std::process::id())
}

/// `mosquitto_sub -v -d -C count` on `filter`, returned once subscribed.
///
/// It runs under `stdbuf -oL`: `mosquitto_sub` flushes stdout after each
/// message but not after its debug lines, so without line buffering the
/// `Subscribed` line would sit in its buffer.
fn subscribe(broker: &TestBroker, version: &str, filter: &str, qos: u8, count: u32) -> Proc {
    process::require("mosquitto_sub", INSTALL);
    process::require("stdbuf", "coreutils");
    let id = unique_id("s");
    let mut cmd = Command::new("stdbuf");
    cmd.args(["-oL", "mosquitto_sub"])
        .args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args([
            "-i",
            &id,
            "-V",
            version,
            "-t",
            filter,
            "-q",
            &qos.to_string(),
        ])
        .args(["-C", &count.to_string(), "-v", "-d"]);
    let mut sub = Proc::spawn(&format!("mosquitto_sub {version}"), &mut cmd, INSTALL);
    let line = sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
    assert!(
        line.ends_with(&format!("): {qos}")),
        "granted QoS should be {qos} [MQTT-3.9.3-1]: {line}"
    );
    sub
}

/// Runs `mosquitto_pub -d` with `args` to completion; returns its output.
fn publish(broker: &TestBroker, version: &str, args: &[&str]) -> Vec<String> {
    process::require("mosquitto_pub", INSTALL);
    let id = unique_id("p");
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
        .args(["-i", &id, "-V", version, "-d"])
        .args(args);
    let mut publisher = Proc::spawn(&format!("mosquitto_pub {version}"), &mut cmd, INSTALL);
    publisher.expect_success(TIMEOUT);
    publisher.transcript.clone()
}

/// Waits for the subscriber to print its messages and exit (after `-C`);
/// returns the message lines (`topic payload`), debug lines left out.
fn messages(sub: &mut Proc) -> Vec<String> {
    sub.expect_success(TIMEOUT);
    sub.transcript
        .iter()
        .filter(|l| !l.starts_with("Client ") && !l.starts_with("Subscribed ") && !l.is_empty())
        .cloned()
        .collect()
}

/// The subscriber's debug line for the PUBLISH it received on `topic`.
fn received_publish<'a>(sub: &'a Proc, topic: &str) -> &'a str {
    let quoted = format!("'{topic}'");
    sub.transcript
        .iter()
        .find(|l| l.contains("received PUBLISH") && l.contains(&quoted))
        .unwrap_or_else(|| panic!("no PUBLISH on {topic}; output:\n{}", sub.output()))
}

fn contains(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

/// The README example: `mosquitto_sub -t 'a/#' -v` prints `a/b hi` for
/// `mosquitto_pub -t a/b -m hi`, delivered at QoS 0, retain 0:
/// [MQTT-3.3.1-9], [MQTT-3.8.4-6].
fn pub_sub(version: &str) {
    let broker = TestBroker::start();
    let mut sub = subscribe(&broker, version, "a/#", 0, 1);
    publish(&broker, version, &["-t", "a/b", "-m", "hi"]);
    assert_eq!(messages(&mut sub), ["a/b hi"], "{}", sub.output());
    let line = received_publish(&sub, "a/b");
    assert!(line.contains("(d0, q0, r0, "), "{line}");
}

/// `pub_sub` over MQTT 3.1: [MQTT-3.3.1-9], [MQTT-3.8.4-6].
#[test]
fn pub_sub_v31() {
    pub_sub("mqttv31");
}

/// `pub_sub` over MQTT 3.1.1: [MQTT-3.3.1-9], [MQTT-3.8.4-6].
#[test]
fn pub_sub_v311() {
    pub_sub("mqttv311");
}

/// `pub_sub` over MQTT 5: [MQTT-3.3.1-12], [MQTT-3.8.4-8].
#[test]
fn pub_sub_v5() {
    pub_sub("mqttv5");
}

/// `-r` stores a retained message (the second replaces the first), a new
/// subscriber receives it with retain 1, `-r -n` clears it and the next
/// subscriber gets only a later live message: [MQTT-3.3.1-5],
/// [MQTT-3.3.1-8], [MQTT-3.3.1-10], [MQTT-3.3.1-11].
fn retained(version: &str) {
    let broker = TestBroker::start();
    publish(
        &broker,
        version,
        &["-t", "a/r", "-m", "first", "-r", "-q", "1"],
    );
    publish(
        &broker,
        version,
        &["-t", "a/r", "-m", "kept", "-r", "-q", "1"],
    );

    let mut sub = subscribe(&broker, version, "a/#", 1, 1);
    assert_eq!(messages(&mut sub), ["a/r kept"], "{}", sub.output());
    let line = received_publish(&sub, "a/r");
    assert!(
        line.contains("(d0, q1, r1, "),
        "retain flag 1 on subscribe: {line}"
    );

    publish(&broker, version, &["-t", "a/r", "-n", "-r", "-q", "1"]);
    let mut sub = subscribe(&broker, version, "a/#", 1, 1);
    publish(
        &broker,
        version,
        &["-t", "a/after", "-m", "live", "-q", "1"],
    );
    assert_eq!(
        messages(&mut sub),
        ["a/after live"],
        "the retained message was not cleared: {}",
        sub.output()
    );
}

/// `retained` over MQTT 3.1: [MQTT-3.3.1-5], [MQTT-3.3.1-8],
/// [MQTT-3.3.1-10], [MQTT-3.3.1-11].
#[test]
fn retained_v31() {
    retained("mqttv31");
}

/// `retained` over MQTT 3.1.1: [MQTT-3.3.1-5], [MQTT-3.3.1-8],
/// [MQTT-3.3.1-10], [MQTT-3.3.1-11].
#[test]
fn retained_v311() {
    retained("mqttv311");
}

/// `retained` over MQTT 5: [MQTT-3.3.1-5], [MQTT-3.3.1-6], [MQTT-3.3.1-7],
/// [MQTT-3.3.1-9].
#[test]
fn retained_v5() {
    retained("mqttv5");
}

/// `-q 1` and `-q 2` to a QoS 2 subscriber: the publisher sees PUBACK, and
/// PUBREC / PUBCOMP; the subscriber gets each message once at the published
/// QoS and completes the QoS 2 flow (PUBREL from the broker):
/// [MQTT-4.3.2-1], [MQTT-4.3.3-1], [MQTT-4.3.3-2], [MQTT-3.8.4-6].
fn qos(version: &str) {
    let broker = TestBroker::start();
    let mut sub = subscribe(&broker, version, "a/#", 2, 2);
    let out = publish(&broker, version, &["-t", "a/q1", "-m", "one", "-q", "1"]);
    assert!(contains(&out, "received PUBACK"), "{out:#?}");
    let out = publish(&broker, version, &["-t", "a/q2", "-m", "two", "-q", "2"]);
    assert!(contains(&out, "received PUBREC"), "{out:#?}");
    assert!(contains(&out, "received PUBCOMP"), "{out:#?}");

    assert_eq!(
        messages(&mut sub),
        ["a/q1 one", "a/q2 two"],
        "{}",
        sub.output()
    );
    let line = received_publish(&sub, "a/q1");
    assert!(line.contains("(d0, q1, r0, "), "{line}");
    let line = received_publish(&sub, "a/q2");
    assert!(line.contains("(d0, q2, r0, "), "{line}");
    assert!(
        contains(&sub.transcript, "received PUBREL"),
        "{}",
        sub.output()
    );
}

/// `qos` over MQTT 3.1: [MQTT-4.3.2-1], [MQTT-4.3.3-1], [MQTT-4.3.3-2],
/// [MQTT-3.8.4-6].
#[test]
fn qos_v31() {
    qos("mqttv31");
}

/// `qos` over MQTT 3.1.1: [MQTT-4.3.2-1], [MQTT-4.3.3-1], [MQTT-4.3.3-2],
/// [MQTT-3.8.4-6].
#[test]
fn qos_v311() {
    qos("mqttv311");
}

/// `qos` over MQTT 5: [MQTT-4.3.2-1], [MQTT-4.3.3-1], [MQTT-4.3.3-2],
/// [MQTT-3.8.4-8].
#[test]
fn qos_v5() {
    qos("mqttv5");
}
