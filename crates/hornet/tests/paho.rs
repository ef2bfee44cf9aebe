//! Eclipse Paho (Python paho-mqtt 2.x) against the broker, over MQTT 3.1,
//! 3.1.1 and 5.0: QoS 0/1/2 round trips, retained messages, wills (socket
//! killed, clean DISCONNECT, MQTT 5 reason 0x04), keep-alive expiry,
//! persistent sessions and session takeover.
//!
//! Each test runs one scenario of `tests/clients/paho_scenarios.py`, which
//! checks itself and prints `OK <scenario>`; on failure the panic shows the
//! script's output. The script waits on events only (CONNACK, SUBACK,
//! messages, disconnects), each bounded, and proves absence with a sentinel
//! message. Each test names the normative statements its scenario checks.
//!
//! Needs `python3` with `paho-mqtt` 2.x (`python3 -m pip install paho-mqtt`;
//! CI installs it in `.ci/run`): without it the tests fail and say so.

mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/transports.rs"]
mod transports;

use std::process::Command;

use common::TestBroker;

/// Runs `scenario` of the Paho script against a fresh broker over `protocol`
/// ("3.1", "3.1.1" or "5").
fn paho(scenario: &str, protocol: &str) {
    paho_with(scenario, protocol, "");
}

/// [`paho`] against a broker with extra configuration lines.
fn paho_with(scenario: &str, protocol: &str, conf: &str) {
    process::require(
        "python3",
        "python3 and paho-mqtt 2.x (`python3 -m pip install paho-mqtt`)",
    );
    let broker = TestBroker::with_conf(conf);
    let mut cmd = Command::new("python3");
    cmd.arg("paho_scenarios.py")
        .args(["--port", &broker.port().to_string()])
        .args(["--scenario", scenario])
        .args(["--protocol", protocol])
        .args([
            "--keepalive-limit",
            &process::keepalive_limit_secs().to_string(),
        ]);
    process::run_scenario(
        &format!("paho {scenario} MQTT {protocol}"),
        cmd,
        "python3 and paho-mqtt 2.x (`python3 -m pip install paho-mqtt`)",
        scenario,
    );
}

/// QoS 0, 1 and 2 round trips with exact binary payloads, each delivered
/// once at min(published, granted) QoS: [MQTT-3.8.4-6], [MQTT-3.3.1-9],
/// [MQTT-4.6.0-5], [MQTT-4.3.3-2].
#[test]
fn qos_v31() {
    paho("qos", "3.1");
}

/// As [`qos_v31`] over MQTT 3.1.1: [MQTT-3.8.4-6], [MQTT-3.3.1-9],
/// [MQTT-4.6.0-5], [MQTT-4.3.3-2].
#[test]
fn qos_v311() {
    paho("qos", "3.1.1");
}

/// As [`qos_v31`] over MQTT 5 (MQTT 5 sections 4.3 and 4.6).
#[test]
fn qos_v5() {
    paho("qos", "5");
}

/// Retained message replaced, sent with retain 1 on subscribe, live copies
/// with retain 0, cleared by a zero-byte retained message: [MQTT-3.3.1-5],
/// [MQTT-3.3.1-8], [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11].
#[test]
fn retained_v31() {
    paho("retained", "3.1");
}

/// As [`retained_v31`] over MQTT 3.1.1: [MQTT-3.3.1-5], [MQTT-3.3.1-8],
/// [MQTT-3.3.1-9], [MQTT-3.3.1-10], [MQTT-3.3.1-11].
#[test]
fn retained_v311() {
    paho("retained", "3.1.1");
}

/// As [`retained_v31`] over MQTT 5: [MQTT-3.3.1-5], [MQTT-3.3.1-6],
/// [MQTT-3.3.1-7], [MQTT-3.3.1-9], [MQTT-3.3.1-12].
#[test]
fn retained_v5() {
    paho("retained", "5");
}

/// The will is published when the socket dies without DISCONNECT and not
/// after a clean DISCONNECT: [MQTT-3.1.2-8], [MQTT-3.1.2-10],
/// [MQTT-3.14.4-3].
#[test]
fn will_v31() {
    paho("will", "3.1");
}

/// As [`will_v31`] over MQTT 3.1.1: [MQTT-3.1.2-8], [MQTT-3.1.2-10],
/// [MQTT-3.14.4-3].
#[test]
fn will_v311() {
    paho("will", "3.1.1");
}

/// As [`will_v31`] over MQTT 5, plus DISCONNECT with reason 0x04
/// (Disconnect with Will Message) publishing it: [MQTT-3.1.2-8],
/// [MQTT-3.1.2-10], [MQTT-3.14.4-3].
#[test]
fn will_v5() {
    paho("will", "5");
}

/// A client silent past 1.5 x keep-alive (2 s) is disconnected and its will
/// published, not before one keep-alive period: [MQTT-3.1.2-24],
/// [MQTT-3.1.2-8].
#[test]
fn keepalive_v31() {
    paho("keepalive", "3.1");
}

/// As [`keepalive_v31`] over MQTT 3.1.1: [MQTT-3.1.2-24], [MQTT-3.1.2-8].
#[test]
fn keepalive_v311() {
    paho("keepalive", "3.1.1");
}

/// As [`keepalive_v31`] over MQTT 5: [MQTT-3.1.2-22], [MQTT-3.1.2-8].
#[test]
fn keepalive_v5() {
    paho("keepalive", "5");
}

/// Persistent session (clean session 0): QoS 1 messages published while
/// offline are delivered on return, in order, once: [MQTT-3.1.2-4],
/// [MQTT-3.1.2-5] (MQTT 3.1 has no session present flag).
#[test]
fn session_v31() {
    paho("session", "3.1");
}

/// As [`session_v31`] over MQTT 3.1.1, with session present 0 then 1:
/// [MQTT-3.1.2-4], [MQTT-3.1.2-5], [MQTT-3.2.2-1], [MQTT-3.2.2-2],
/// [MQTT-3.2.2-3].
#[test]
fn session_v311() {
    paho("session", "3.1.1");
}

/// As [`session_v311`] over MQTT 5 with clean start 0 and Session Expiry
/// Interval 300: [MQTT-3.1.2-4], [MQTT-3.1.2-5], [MQTT-3.2.2-2],
/// [MQTT-3.2.2-3].
#[test]
fn session_v5() {
    paho("session", "5");
}

/// A second connection with the same client id closes the first, and keeps
/// working: [MQTT-3.1.4-2].
#[test]
fn takeover_v31() {
    paho("takeover", "3.1");
}

/// As [`takeover_v31`] over MQTT 3.1.1: [MQTT-3.1.4-2].
#[test]
fn takeover_v311() {
    paho("takeover", "3.1.1");
}

/// As [`takeover_v31`] over MQTT 5 (the closing part of [MQTT-3.1.4-3]).
#[test]
fn takeover_v5() {
    paho("takeover", "5");
}

/// MQTT 5 takeover: the first connection gets DISCONNECT with reason code
/// 0x8E Session taken over before the close ([MQTT-3.1.4-3],
/// [MQTT-3.14.2-1]). Hornet only: Mosquitto 2.0.11 just closes the socket.
#[test]
fn takeover_reason_v5() {
    if common::hornet_only() {
        return;
    }
    paho("takeover_reason", "5");
}

/// Runs `scenario` over WebSocket (`transport="websockets"`), with TLS
/// when `secure`, against a broker with a ws or wss listener (Hornet-only).
fn paho_ws(scenario: &str, protocol: &str, secure: bool) {
    if common::hornet_only() {
        return;
    }
    use hornet::config::ListenerKind;
    let pki = transports::Pki::new();
    let listener = if secure {
        transports::listener(ListenerKind::Wss, Some(pki.tls()))
    } else {
        transports::listener(ListenerKind::Ws, None)
    };
    let broker = transports::Broker::start(vec![listener], "");
    let mut cmd = Command::new("python3");
    cmd.arg("paho_scenarios.py")
        .args(["--port", &broker.port(0).to_string()])
        .args(["--scenario", scenario])
        .args(["--protocol", protocol])
        .args(["--transport", "websockets"]);
    if secure {
        cmd.arg("--cafile").arg(&pki.ca_file);
    }
    process::run_scenario(
        &format!(
            "paho {scenario} MQTT {protocol} over ws{}",
            if secure { "s" } else { "" }
        ),
        cmd,
        "python3 and paho-mqtt 2.x (`python3 -m pip install paho-mqtt`)",
        scenario,
    );
}

/// The QoS scenario over `ws://` (MQTT 5 §6: binary frames, subprotocol
/// `mqtt`): [MQTT-6.0.0-1], [MQTT-6.0.0-2], [MQTT-3.8.4-6], [MQTT-4.3.3-2].
#[test]
fn qos_over_websockets_v311() {
    paho_ws("qos", "3.1.1", false);
}

/// As [`qos_over_websockets_v311`] with MQTT 5 and retained messages.
#[test]
fn retained_over_websockets_v5() {
    paho_ws("retained", "5", false);
}

/// The QoS scenario over `wss://` (TLS with the test CA).
#[test]
fn qos_over_secure_websockets_v5() {
    paho_ws("qos", "5", true);
}

/// Users and an ACL (see `acl.rs` for the full matrix): users alice, bob
/// and admin from a file written by `mosquitto_passwd`; a wrong password
/// is refused, a SUBSCRIBE outside the rules gets 0x87 (3.1.1: 0x80,
/// [MQTT-3.9.3-1]), a denied PUBLISH is not delivered. Hornet only
/// (Mosquitto 2.0 grants every SUBSCRIBE).
fn paho_acl(protocol: &str) {
    if common::hornet_only() {
        return;
    }
    process::require("mosquitto_passwd", "the Debian package mosquitto");
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    for (i, user) in ["alice", "bob", "admin"].iter().enumerate() {
        let mut cmd = Command::new("mosquitto_passwd");
        cmd.arg("-b");
        if i == 0 {
            cmd.arg("-c");
        }
        let status = cmd
            .arg(&passwd)
            .arg(user)
            .arg(format!("{user}-pw"))
            .status()
            .expect("run mosquitto_passwd");
        assert!(status.success());
    }
    let acl = dir.path().join("acl");
    std::fs::write(
        &acl,
        "user alice\ntopic readwrite alice/#\nuser bob\ntopic read bob/#\nuser admin\ntopic readwrite #\n",
    )
    .unwrap();
    let conf = format!(
        "password_file {}\nacl_file {}\n",
        passwd.display(),
        acl.display()
    );
    paho_with("acl", protocol, &conf);
}

#[test]
fn acl_v311() {
    paho_acl("3.1.1");
}

#[test]
fn acl_v5() {
    paho_acl("5");
}
