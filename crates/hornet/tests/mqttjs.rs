//! MQTT.js (the npm package `mqtt` 5.x, from `tests/clients/package-lock.json`)
//! against the broker, over MQTT 3.1 (`protocolId: "MQIsdp"`), 3.1.1 and 5.0:
//! QoS 0/1/2 round trips, retained messages, wills (socket destroyed, clean
//! DISCONNECT, MQTT 5 reason 0x04), keep-alive expiry, persistent sessions
//! and session takeover.
//!
//! Each test runs one scenario of `tests/clients/mqttjs_scenarios.js`, which
//! checks itself and prints `OK <scenario>`; on failure the panic shows the
//! script's output. The script waits on events only (timers serve as
//! timeouts), and proves absence with a sentinel message. Each test names
//! the normative statements its scenario checks (the same scenarios as
//! `paho.rs`).
//!
//! Needs `node` and the npm package installed from the lockfile
//! (`npm ci --prefix crates/hornet/tests/clients`; CI does it in `.ci/run`):
//! without them the tests fail and say so.

mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/transports.rs"]
mod transports;

use std::process::Command;

use common::TestBroker;

const INSTALL: &str = "node 20+ and the npm package from the lockfile \
    (`npm ci --prefix crates/hornet/tests/clients --no-audit --no-fund`)";

/// Runs `scenario` of the MQTT.js script against a fresh broker over
/// `protocol` ("3.1", "3.1.1" or "5").
fn mqttjs(scenario: &str, protocol: &str) {
    let installed = process::clients_dir().join("node_modules/mqtt/package.json");
    assert!(
        installed.exists(),
        "{} is missing: install {INSTALL}",
        installed.display()
    );
    process::require("node", INSTALL);
    let broker = TestBroker::start();
    let mut cmd = Command::new("node");
    cmd.arg("mqttjs_scenarios.js")
        .args(["--port", &broker.port().to_string()])
        .args(["--scenario", scenario])
        .args(["--protocol", protocol])
        .args([
            "--keepalive-limit",
            &process::keepalive_limit_secs().to_string(),
        ]);
    process::run_scenario(
        &format!("mqttjs {scenario} MQTT {protocol}"),
        cmd,
        INSTALL,
        scenario,
    );
}

/// QoS 0, 1 and 2 round trips with exact binary payloads, each delivered
/// once at min(published, granted) QoS: [MQTT-3.8.4-6], [MQTT-3.3.1-9],
/// [MQTT-4.6.0-5], [MQTT-4.3.3-2].
#[test]
fn qos_v31() {
    mqttjs("qos", "3.1");
}

/// As [`qos_v31`] over MQTT 3.1.1: [MQTT-3.8.4-6], [MQTT-3.3.1-9],
/// [MQTT-4.6.0-5], [MQTT-4.3.3-2].
#[test]
fn qos_v311() {
    mqttjs("qos", "3.1.1");
}

/// As [`qos_v31`] over MQTT 5 (MQTT 5 sections 4.3 and 4.6).
#[test]
fn qos_v5() {
    mqttjs("qos", "5");
}

/// Retained message replaced, sent with retain 1 on subscribe, live copies
/// with retain 0, cleared by a zero-byte retained message: [MQTT-3.3.1-5],
/// [MQTT-3.3.1-8], [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11].
#[test]
fn retained_v31() {
    mqttjs("retained", "3.1");
}

/// As [`retained_v31`] over MQTT 3.1.1: [MQTT-3.3.1-5], [MQTT-3.3.1-8],
/// [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11].
#[test]
fn retained_v311() {
    mqttjs("retained", "3.1.1");
}

/// As [`retained_v31`] over MQTT 5: [MQTT-3.3.1-5], [MQTT-3.3.1-6],
/// [MQTT-3.3.1-7], [MQTT-3.3.1-9], [MQTT-3.3.1-12].
#[test]
fn retained_v5() {
    mqttjs("retained", "5");
}

/// The will is published when the socket dies without DISCONNECT and not
/// after a clean DISCONNECT: [MQTT-3.1.2-8], [MQTT-3.1.2-10],
/// [MQTT-3.14.4-3].
#[test]
fn will_v31() {
    mqttjs("will", "3.1");
}

/// As [`will_v31`] over MQTT 3.1.1: [MQTT-3.1.2-8], [MQTT-3.1.2-10],
/// [MQTT-3.14.4-3].
#[test]
fn will_v311() {
    mqttjs("will", "3.1.1");
}

/// As [`will_v31`] over MQTT 5, plus DISCONNECT with reason 0x04
/// (Disconnect with Will Message) publishing it: [MQTT-3.1.2-8],
/// [MQTT-3.1.2-10], [MQTT-3.14.4-3].
#[test]
fn will_v5() {
    mqttjs("will", "5");
}

/// A client silent past 1.5 x keep-alive (2 s) is disconnected and its will
/// published, not before one keep-alive period: [MQTT-3.1.2-24],
/// [MQTT-3.1.2-8].
#[test]
fn keepalive_v31() {
    mqttjs("keepalive", "3.1");
}

/// As [`keepalive_v31`] over MQTT 3.1.1: [MQTT-3.1.2-24], [MQTT-3.1.2-8].
#[test]
fn keepalive_v311() {
    mqttjs("keepalive", "3.1.1");
}

/// As [`keepalive_v31`] over MQTT 5: [MQTT-3.1.2-22], [MQTT-3.1.2-8].
#[test]
fn keepalive_v5() {
    mqttjs("keepalive", "5");
}

/// Persistent session (clean session 0): QoS 1 messages published while
/// offline are delivered on return, in order, once: [MQTT-3.1.2-4],
/// [MQTT-3.1.2-5] (MQTT 3.1 has no session present flag).
#[test]
fn session_v31() {
    mqttjs("session", "3.1");
}

/// As [`session_v31`] over MQTT 3.1.1, with session present 0 then 1:
/// [MQTT-3.1.2-4], [MQTT-3.1.2-5], [MQTT-3.2.2-1], [MQTT-3.2.2-2],
/// [MQTT-3.2.2-3].
#[test]
fn session_v311() {
    mqttjs("session", "3.1.1");
}

/// As [`session_v311`] over MQTT 5 with clean start 0 and Session Expiry
/// Interval 300: [MQTT-3.1.2-4], [MQTT-3.1.2-5], [MQTT-3.2.2-2],
/// [MQTT-3.2.2-3].
#[test]
fn session_v5() {
    mqttjs("session", "5");
}

/// A second connection with the same client id closes the first, and keeps
/// working: [MQTT-3.1.4-2].
#[test]
fn takeover_v31() {
    mqttjs("takeover", "3.1");
}

/// As [`takeover_v31`] over MQTT 3.1.1: [MQTT-3.1.4-2].
#[test]
fn takeover_v311() {
    mqttjs("takeover", "3.1.1");
}

/// As [`takeover_v31`] over MQTT 5 (the closing part of [MQTT-3.1.4-3]).
#[test]
fn takeover_v5() {
    mqttjs("takeover", "5");
}

/// MQTT 5 takeover: the first connection gets DISCONNECT with reason code
/// 0x8E Session taken over before the close ([MQTT-3.1.4-3],
/// [MQTT-3.14.2-1]). Hornet only: Mosquitto 2.0.11 just closes the socket.
#[test]
fn takeover_reason_v5() {
    if common::hornet_only() {
        return;
    }
    mqttjs("takeover_reason", "5");
}

/// Runs `scenario` over `ws://` or `wss://` (MQTT.js's browser transport,
/// here through Node's `ws`) against a broker with that listener
/// (Hornet-only).
fn mqttjs_ws(scenario: &str, protocol: &str, secure: bool) {
    if common::hornet_only() {
        return;
    }
    process::require("node", INSTALL);
    use hornet::config::ListenerKind;
    let pki = transports::Pki::new();
    let listener = if secure {
        transports::listener(ListenerKind::Wss, Some(pki.tls()))
    } else {
        transports::listener(ListenerKind::Ws, None)
    };
    let broker = transports::Broker::start(vec![listener], "");
    let mut cmd = Command::new("node");
    cmd.arg("mqttjs_scenarios.js")
        .args(["--port", &broker.port(0).to_string()])
        .args(["--scenario", scenario])
        .args(["--protocol", protocol])
        .args(["--transport", if secure { "wss" } else { "ws" }]);
    if secure {
        cmd.arg("--cafile").arg(&pki.ca_file);
    }
    process::run_scenario(
        &format!(
            "mqttjs {scenario} MQTT {protocol} over ws{}",
            if secure { "s" } else { "" }
        ),
        cmd,
        INSTALL,
        scenario,
    );
}

/// The QoS scenario over `ws://`: binary frames, subprotocol `mqtt`
/// ([MQTT-6.0.0-1] .. [MQTT-6.0.0-4]), [MQTT-3.8.4-6], [MQTT-4.3.3-2].
#[test]
fn qos_over_ws_v311() {
    mqttjs_ws("qos", "3.1.1", false);
}

/// Persistent sessions over `ws://` with MQTT 5.
#[test]
fn session_over_ws_v5() {
    mqttjs_ws("session", "5", false);
}

/// The QoS scenario over `wss://` (TLS with the test CA).
#[test]
fn qos_over_wss_v5() {
    mqttjs_ws("qos", "5", true);
}
