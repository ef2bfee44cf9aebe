//! TLS-PSK listeners (`psk_hint`, `psk_file`, `use_identity_as_username`)
//! through the real binary, with `mosquitto_pub --psk --psk-identity` and
//! `mosquitto_sub` as the seeds' readers test them: the right key gets
//! through (TLS 1.3 and 1.2), the identity is the user name the ACL sees,
//! a wrong key or an unknown identity is refused. Needs mosquitto-clients.

mod common;
#[path = "support/process.rs"]
mod process;

use std::process::Command;

use common::{free_port, TIMEOUT};
use process::Proc;

const CLIENTS: &str = "the Debian package mosquitto-clients (`apt-get install mosquitto-clients`)";
const KEY: &str = "deadbeef0123456789abcdef";

fn psk_args(port: &str, identity: &str, key: &str, tls_version: &str) -> Vec<String> {
    [
        "-h",
        "127.0.0.1",
        "-p",
        port,
        "--psk",
        key,
        "--psk-identity",
        identity,
        "--tls-version",
        tls_version,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn mosquitto_clients_connect_with_a_pre_shared_key() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("psk"), format!("# devices\nsensor-1:{KEY}\n")).unwrap();
    // The identity is the user name: the ACL lets sensor-1 use its topics only.
    std::fs::write(
        d.join("acl"),
        "user sensor-1\ntopic readwrite psk/sensor-1/#\n",
    )
    .unwrap();
    let port = free_port();
    std::fs::write(
        d.join("mosquitto.conf"),
        format!(
            "psk_file psk\nacl_file acl\nlistener {port} 127.0.0.1\npsk_hint hornet\n\
             use_identity_as_username true\npersistence false\nadmin_enabled false\n"
        ),
    )
    .unwrap();
    let mut broker = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(d)
            .args(["-c", "mosquitto.conf"]),
        "cargo build",
    );
    broker.wait_line(TIMEOUT, "the listener", |l| {
        l.contains("Opening MQTT listener") && l.contains("TLS-PSK")
    });
    let port = port.to_string();
    for tls_version in ["tlsv1.3", "tlsv1.2"] {
        let topic = format!("psk/sensor-1/{tls_version}");
        let mut sub = Proc::spawn(
            "mosquitto_sub --psk",
            Command::new("stdbuf")
                .args(["-oL", "mosquitto_sub"])
                .args(psk_args(&port, "sensor-1", KEY, tls_version))
                .args(["-i", "s1", "-t", &topic, "-C", "1", "-v", "-d"]),
            CLIENTS,
        );
        sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
        Proc::spawn(
            "mosquitto_pub --psk",
            Command::new("mosquitto_pub")
                .args(psk_args(&port, "sensor-1", KEY, tls_version))
                .args(["-i", "p1", "-t", &topic, "-m", "21.5"]),
            CLIENTS,
        )
        .expect_success(TIMEOUT);
        sub.wait_line(TIMEOUT, "the message", |l| l == format!("{topic} 21.5"));
        sub.expect_success(TIMEOUT);
    }
    for (identity, key) in [("sensor-1", "00112233"), ("sensor-9", KEY)] {
        let mut p = Proc::spawn(
            "mosquitto_pub --psk (refused)",
            Command::new("mosquitto_pub")
                .args(psk_args(&port, identity, key, "tlsv1.2"))
                .args(["-i", "p2", "-t", "psk/sensor-1/x", "-m", "no"]),
            CLIENTS,
        );
        let status = p.wait_exit(TIMEOUT);
        assert!(!status.success(), "{identity}: {}", p.output());
    }
    broker.wait_line(TIMEOUT, "the refusal in the log", |l| {
        l.contains("TLS-PSK handshake failed")
    });
}

/// The same listener in hornet.toml: `kind = "tls"` with `psk_hint` and
/// `psk_file` instead of certificates; `mosquitto_pub --psk` gets through,
/// a wrong key does not.
#[test]
fn hornet_toml_declares_a_psk_listener() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("psk"), format!("sensor-2:{KEY}\n")).unwrap();
    let port = free_port();
    std::fs::write(
        d.join("hornet.toml"),
        format!(
            "allow_anonymous = true\npersistence = false\n\n[[listener]]\nport = {port}\n\
             bind_address = \"127.0.0.1\"\nkind = \"tls\"\npsk_hint = \"hornet\"\n\
             psk_file = \"psk\"\nuse_identity_as_username = true\n\n[admin]\nenabled = false\n"
        ),
    )
    .unwrap();
    let mut broker = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .current_dir(d)
            .args(["-c", "hornet.toml"]),
        "cargo build",
    );
    broker.wait_line(TIMEOUT, "the listener", |l| {
        l.contains("Opening MQTT listener") && l.contains("TLS-PSK")
    });
    let port = port.to_string();
    let mut sub = Proc::spawn(
        "mosquitto_sub --psk",
        Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub"])
            .args(psk_args(&port, "sensor-2", KEY, "tlsv1.2"))
            .args(["-i", "s2", "-t", "t", "-C", "1", "-v", "-d"]),
        CLIENTS,
    );
    sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
    Proc::spawn(
        "mosquitto_pub --psk",
        Command::new("mosquitto_pub")
            .args(psk_args(&port, "sensor-2", KEY, "tlsv1.2"))
            .args(["-i", "p2", "-t", "t", "-m", "toml"]),
        CLIENTS,
    )
    .expect_success(TIMEOUT);
    sub.wait_line(TIMEOUT, "the message", |l| l == "t toml");
    sub.expect_success(TIMEOUT);
    let mut wrong = Proc::spawn(
        "mosquitto_pub --psk (wrong key)",
        Command::new("mosquitto_pub")
            .args(psk_args(&port, "sensor-2", "00112233", "tlsv1.2"))
            .args(["-i", "p3", "-t", "t", "-m", "no"]),
        CLIENTS,
    );
    assert!(!wrong.wait_exit(TIMEOUT).success(), "{}", wrong.output());
}
