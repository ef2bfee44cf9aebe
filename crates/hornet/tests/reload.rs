//! SIGHUP reloads `password_file` and `acl_file` in the running `hornet`
//! binary: a connected client keeps its connection and session while the
//! new rules apply to its next SUBSCRIBE, PUBLISH and delivery; a user
//! added to the password file can log in; a broken file keeps the old one
//! and the log names file and line. Also checks the log lines of denials
//! and of a wrong password (client, user, address; never the password).
//!
//! Hornet only (it runs the `hornet` binary). Waits are on log lines and
//! packets, each bounded; nothing sleeps.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use codec_client::Raw;
use common::TIMEOUT;
use hornet_codec::{Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};
use process::Proc;

fn passwd(file: &Path, user: &str, create: bool) {
    let mut cmd = Command::new("mosquitto_passwd");
    cmd.arg("-b");
    if create {
        cmd.arg("-c");
    }
    let status = cmd
        .arg(file)
        .arg(user)
        .arg(format!("{user}-pw"))
        .status()
        .expect("run mosquitto_passwd (Debian package mosquitto)");
    assert!(status.success());
}

fn login(port: u16, client_id: &str, user: &str, password: &str) -> (Raw, ReasonCode) {
    let mut c = Connect::new(Protocol::V5, client_id);
    c.keep_alive = 60;
    c.username = Some(user.into());
    c.password = Some(Bytes::copy_from_slice(password.as_bytes()));
    let mut raw = Raw::connect_to(([127, 0, 0, 1], port).into(), c);
    match raw.recv() {
        Some(Packet::ConnAck(a)) => (raw, a.reason_code),
        other => panic!("{client_id}: expected CONNACK, got {other:?}"),
    }
}

fn subscribe(raw: &mut Raw, filter: &str, id: u16) -> ReasonCode {
    raw.send(Subscribe::new(PacketId::new(id).unwrap(), filter, QoS::AtLeastOnce).into());
    match raw.recv() {
        Some(Packet::SubAck(a)) => a.reason_codes[0],
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

fn publish(raw: &mut Raw, topic: &str, id: u16) -> ReasonCode {
    let mut p = Publish::new(topic, Bytes::from_static(b"m"));
    p.qos = QoS::AtLeastOnce;
    p.packet_id = PacketId::new(id);
    raw.send(p.into());
    loop {
        match raw.recv() {
            Some(Packet::PubAck(a)) => return a.reason_code,
            // Our own message coming back through our subscription.
            Some(Packet::Publish(_)) => continue,
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
}

fn hup(hornet: &Proc) {
    let status = Command::new("kill")
        .args(["-HUP", &hornet.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[test]
fn sighup_reloads_users_and_rules_for_connected_clients() {
    if common::hornet_only() {
        return;
    }
    process::require("mosquitto_passwd", "the Debian package mosquitto");
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("passwd");
    let acl = dir.path().join("acl");
    let conf = dir.path().join("mosquitto.conf");
    passwd(&users, "alice", true);
    std::fs::write(&acl, "user alice\ntopic readwrite a/#\n").unwrap();
    let port = common::free_port();
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {}\n",
            users.display(),
            acl.display()
        ),
    )
    .unwrap();
    let mut hornet = Proc::spawn(
        "hornet",
        Command::new(env!("CARGO_BIN_EXE_hornet"))
            .arg("-c")
            .arg(&conf),
        "(built by cargo)",
    );
    hornet.wait_line(TIMEOUT, "the listener", |l| {
        l.contains("Opening MQTT listener")
    });

    // A wrong password is logged with client, user and address, never the password.
    let (_, code) = login(port, "intruder", "alice", "guess-123");
    assert_eq!(code, ReasonCode::BadUserNameOrPassword);
    let line = hornet.wait_line(TIMEOUT, "the refusal", |l| l.contains("intruder"));
    assert!(
        line.contains("user 'alice'") && line.contains("127.0.0.1") && !line.contains("guess-123"),
        "{line}"
    );

    let (mut alice, code) = login(port, "alice-1", "alice", "alice-pw");
    assert_eq!(code, ReasonCode::Success);
    assert_eq!(subscribe(&mut alice, "a/#", 1), ReasonCode::GrantedQos1);
    assert_eq!(subscribe(&mut alice, "b/#", 2), ReasonCode::NotAuthorized);
    // The denial's log line names client, user, topic and rule.
    let line = hornet.wait_line(TIMEOUT, "the denial", |l| l.contains("Denied SUBSCRIBE"));
    assert!(
        line.contains("alice-1") && line.contains("user 'alice'") && line.contains("'b/#'"),
        "{line}"
    );
    assert_eq!(publish(&mut alice, "b/x", 3), ReasonCode::NotAuthorized);
    let (_, code) = login(port, "bob-1", "bob", "bob-pw");
    assert_eq!(
        code,
        ReasonCode::BadUserNameOrPassword,
        "bob does not exist yet"
    );

    // New rules and a new user, then SIGHUP.
    std::fs::write(
        &acl,
        "user alice\ntopic readwrite b/#\ntopic deny a/secret\n\nuser bob\ntopic write a/#\n",
    )
    .unwrap();
    passwd(&users, "bob", false);
    hup(&hornet);
    hornet.wait_line(TIMEOUT, "the ACL reload", |l| {
        l.contains("Reloaded acl_file")
    });

    // Same connection, new rules on the next operation.
    assert_eq!(subscribe(&mut alice, "b/#", 4), ReasonCode::GrantedQos1);
    let (mut bob, code) = login(port, "bob-1", "bob", "bob-pw");
    assert_eq!(code, ReasonCode::Success, "bob was added by the reload");
    // alice's old subscription a/# no longer has read access: bob's
    // message is not delivered; her own b/x (the sentinel) is next.
    assert_eq!(publish(&mut bob, "a/x", 1), ReasonCode::Success);
    assert_eq!(publish(&mut alice, "b/x", 5), ReasonCode::Success);
    // publish() skipped our own message while waiting for the PUBACK, or
    // it is next: either way nothing on a/x may come.
    alice.send(Packet::PingReq);
    loop {
        match alice.recv() {
            Some(Packet::Publish(p)) => {
                assert_eq!(
                    &*p.topic, "b/x",
                    "a/x must not be delivered after the reload"
                );
                if let Some(id) = p.packet_id {
                    alice.send(Packet::PubAck(hornet_codec::Ack::new(id)));
                }
            }
            Some(Packet::PingResp) => break,
            other => panic!("unexpected {other:?}"),
        }
    }

    // A broken file: the old rules stay, the log names file and line.
    std::fs::write(&acl, "user alice\ntopic readwrite b/#\ntopic sometimes c\n").unwrap();
    hup(&hornet);
    let line = hornet.wait_line(TIMEOUT, "the reload error", |l| {
        l.contains("keeping the previous acl_file")
    });
    assert!(line.contains(&format!("{}:3:", acl.display())), "{line}");
    assert_eq!(subscribe(&mut alice, "b/#", 6), ReasonCode::GrantedQos1);
    assert_eq!(
        publish(&mut bob, "a/y", 2),
        ReasonCode::Success,
        "bob's rules too"
    );

    // Flapping with the defaults (20 connects a minute): the 21st connect
    // of one id is refused, and the log explains the usual cause.
    let mut twins = Vec::new();
    for _ in 0..20 {
        let (raw, code) = login(port, "twin", "alice", "alice-pw");
        assert_eq!(code, ReasonCode::Success);
        twins.push(raw);
    }
    let (_, code) = login(port, "twin", "alice", "alice-pw");
    assert_eq!(code, ReasonCode::ConnectionRateExceeded);
    let line = hornet.wait_line(TIMEOUT, "the flapping explanation", |l| {
        l.contains("Client twin") && l.contains("flapping_max_connects")
    });
    assert!(
        line.contains("two devices configured with the same client id"),
        "{line}"
    );
}
