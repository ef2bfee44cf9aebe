//! Access control through real sockets: an `acl_file` in Mosquitto's
//! syntax with users (from a password file written by the real
//! `mosquitto_passwd`), anonymous rules, `deny`, and `pattern` rules with
//! `%c` and `%u`, driven by MQTT 3.1.1 and 5.0 clients:
//!
//! - SUBSCRIBE: a denied filter gets 0x80 (3.1.1) / 0x87 (5.0) in SUBACK,
//!   the others in the same packet are granted (Hornet only: Mosquitto 2.0
//!   grants every filter and filters at delivery);
//! - PUBLISH: a denied message is dropped; QoS 1 is still acknowledged,
//!   with 0x87 for MQTT 5 (as Mosquitto);
//! - delivery: a message the subscriber may not read is not delivered even
//!   when its filter matched (`deny` inside a granted `#`).
//!
//! Every "not delivered" is observed by sending an allowed sentinel after
//! it and checking that the sentinel is the next message; nothing sleeps.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{
    Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe, SubscribeFilter,
    SubscriptionOptions,
};

const ACL: &str = "\
# anonymous clients
topic read public/#
topic write public/anon

user alice
topic readwrite alice/#
topic read sensors/+/temp
topic deny alice/secret

user bob
topic write sensors/bob/temp
topic read public/#

user admin
topic readwrite #

pattern readwrite devices/%c/#
pattern read users/%u/inbox
";

/// Password file (alice, bob, admin; password = name + "-pw") and ACL
/// file in a temporary directory.
struct Files {
    _dir: tempfile::TempDir,
    passwd: PathBuf,
    acl: PathBuf,
}

impl Files {
    fn new(acl: &str) -> Files {
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
        let path = dir.path().join("acl");
        std::fs::write(&path, acl).unwrap();
        Files {
            _dir: dir,
            passwd,
            acl: path,
        }
    }

    fn conf(&self) -> String {
        format!(
            "password_file {}\nacl_file {}\n",
            self.passwd.display(),
            self.acl.display()
        )
    }
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// Connects `client_id` as `user` (None: anonymous) and expects success.
fn login(broker: &TestBroker, protocol: Protocol, client_id: &str, user: Option<&str>) -> Raw {
    let mut c = Connect::new(protocol, client_id);
    c.keep_alive = 60;
    if let Some(user) = user {
        c.username = Some(user.into());
        c.password = Some(Bytes::from(format!("{user}-pw")));
    }
    let mut raw = Raw::connect_to(broker.addr(), c);
    match raw.recv() {
        Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => raw,
        other => panic!("{client_id}: expected a successful CONNACK, got {other:?}"),
    }
}

/// Subscribes to `filters` at QoS 1 and returns the SUBACK codes.
fn subscribe(raw: &mut Raw, filters: &[&str]) -> Vec<ReasonCode> {
    let mut sub = Subscribe::new(pid(1), filters[0], QoS::AtLeastOnce);
    sub.filters = filters
        .iter()
        .map(|f| SubscribeFilter {
            filter: (*f).into(),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                ..Default::default()
            },
        })
        .collect();
    raw.send(sub.into());
    match raw.recv() {
        Some(Packet::SubAck(ack)) => ack.reason_codes,
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

/// Publishes at QoS 1 and returns the PUBACK reason code.
fn publish(raw: &mut Raw, topic: &str, payload: &str, id: u16) -> ReasonCode {
    let mut p = Publish::new(topic, Bytes::from(payload.to_string()));
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(pid(id));
    raw.send(p.into());
    match raw.recv() {
        Some(Packet::PubAck(ack)) => ack.reason_code,
        other => panic!("expected PUBACK for '{topic}', got {other:?}"),
    }
}

/// The next message `raw` receives (acknowledged): topic and payload.
fn next_message(raw: &mut Raw) -> (String, String) {
    match raw.recv() {
        Some(Packet::Publish(p)) => {
            if let Some(id) = p.packet_id {
                raw.send(Packet::PubAck(hornet_codec::Ack::new(id)));
            }
            (
                p.topic.to_string(),
                String::from_utf8_lossy(&p.payload).into_owned(),
            )
        }
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// What a denied SUBSCRIBE filter reads as: 0x87 (5.0), 0x80 (3.1.1).
fn denied_sub(protocol: Protocol) -> ReasonCode {
    if protocol.is_v5() {
        ReasonCode::NotAuthorized
    } else {
        ReasonCode::UnspecifiedError
    }
}

/// What a denied QoS 1 PUBLISH's PUBACK reads as: 0x87 (5.0); 3.1.1
/// PUBACK has no code (success on the wire).
fn denied_pub(protocol: Protocol) -> ReasonCode {
    if protocol.is_v5() {
        ReasonCode::NotAuthorized
    } else {
        ReasonCode::Success
    }
}

/// SUBSCRIBE per filter, for users, patterns (%c, %u) and anonymous
/// clients, in both protocol versions ([MQTT-3.9.3-1]: one code per filter,
/// in order; 0x80 / 0x87 for the refused ones).
#[test]
fn subscribe_matrix_per_filter_for_users_patterns_and_anonymous() {
    if common::hornet_only() {
        return;
    }
    let files = Files::new(ACL);
    let broker = TestBroker::with_conf(&files.conf());
    for protocol in [Protocol::V3_1_1, Protocol::V5] {
        let no = denied_sub(protocol);
        let ok = ReasonCode::GrantedQos1;
        let mut alice = login(&broker, protocol, "alice-dev", Some("alice"));
        assert_eq!(
            subscribe(
                &mut alice,
                &[
                    "alice/#",                 // user rule
                    "sensors/+/temp",          // read rule with +
                    "sensors/#",               // wider than the rule
                    "public/#",                // anonymous rule: not alice's
                    "devices/alice-dev/#",     // pattern %c
                    "devices/other/#",         // another client's
                    "users/alice/inbox",       // pattern %u
                    "users/bob/inbox",         // another user's
                    "alice/secret",            // covered by deny
                    "$share/g/sensors/+/temp"  // shared: the inner filter counts
                ]
            ),
            vec![ok, ok, no, no, ok, no, ok, no, no, ok],
            "{protocol:?}"
        );
        let mut anon = login(&broker, protocol, "anon-1", None);
        assert_eq!(
            subscribe(&mut anon, &["public/#", "alice/#", "devices/anon-1/x", "#"]),
            vec![ok, no, ok, no],
            "{protocol:?}"
        );
        let mut bob = login(&broker, protocol, "bob-dev", Some("bob"));
        assert_eq!(
            subscribe(&mut bob, &["sensors/bob/temp", "public/news"]),
            vec![no, ok],
            "{protocol:?}: bob may write sensors/bob/temp, not read it"
        );
    }
}

/// PUBLISH and delivery: allowed messages arrive, denied ones are dropped
/// (QoS 1 PUBACK 0x87 for MQTT 5), and the read check at delivery keeps
/// `deny` topics from a subscriber whose wider filter matched.
#[test]
fn publish_and_delivery_matrix() {
    let files = Files::new(ACL);
    let broker = TestBroker::with_conf(&files.conf());
    for protocol in [Protocol::V3_1_1, Protocol::V5] {
        let mut alice = login(&broker, protocol, "alice-dev", Some("alice"));
        // Filters granted by every broker (Mosquitto grants all).
        subscribe(
            &mut alice,
            &["alice/#", "sensors/+/temp", "devices/alice-dev/#"],
        );
        let mut bob = login(&broker, protocol, "bob-dev", Some("bob"));
        let mut admin = login(&broker, protocol, "admin-1", Some("admin"));
        let mut anon = login(&broker, protocol, "anon-1", None);

        // Allowed: bob's write rule, a pattern, admin's #.
        assert_eq!(
            publish(&mut bob, "sensors/bob/temp", "21.5", 1),
            ReasonCode::Success
        );
        assert_eq!(
            next_message(&mut alice),
            ("sensors/bob/temp".into(), "21.5".into())
        );
        assert_eq!(
            publish(&mut bob, "devices/bob-dev/state", "up", 2),
            ReasonCode::NoMatchingSubscribers.min_for(protocol)
        );

        // Denied writes: acknowledged, not delivered.
        let denied = denied_pub(protocol);
        assert_eq!(publish(&mut bob, "alice/inbox", "from bob", 3), denied);
        assert_eq!(
            publish(&mut bob, "devices/alice-dev/cmd", "reboot", 4),
            denied
        );
        assert_eq!(publish(&mut anon, "alice/x", "anon", 5), denied);
        assert_eq!(publish(&mut alice, "alice/secret", "own deny", 6), denied);
        // Deny wins over admin? No: admin has no deny; alice's read deny
        // keeps the message from her although alice/# matched.
        assert_eq!(
            publish(&mut admin, "alice/secret", "classified", 7),
            ReasonCode::Success
        );
        // Sentinel: the next message alice gets is this one.
        assert_eq!(
            publish(&mut admin, "alice/ok", "sentinel", 8),
            ReasonCode::Success
        );
        assert_eq!(
            next_message(&mut alice),
            ("alice/ok".into(), "sentinel".into())
        );

        // Anonymous write rule.
        assert_eq!(
            publish(&mut anon, "public/anon", "hi", 9),
            ReasonCode::NoMatchingSubscribers.min_for(protocol)
        );
        // Patterns %c: admin writes to alice's device topic, alice reads it.
        assert_eq!(
            publish(&mut admin, "devices/alice-dev/cmd", "go", 10),
            ReasonCode::Success
        );
        assert_eq!(
            next_message(&mut alice),
            ("devices/alice-dev/cmd".into(), "go".into())
        );
        for raw in [&mut alice, &mut bob, &mut admin, &mut anon] {
            raw.send(Packet::Disconnect(hornet_codec::Disconnect::new(
                ReasonCode::Success,
            )));
        }
    }
}

/// A will the client may not publish refuses the CONNECT: 0x87 (5.0) /
/// 0x05 (3.1.1). Hornet only: Mosquitto 2.0.11 accepts the CONNECT and
/// drops the will when it would be published; Hornet says so up front.
#[test]
fn a_will_on_a_denied_topic_refuses_the_connect() {
    if common::hornet_only() {
        return;
    }
    let files = Files::new(ACL);
    let broker = TestBroker::with_conf(&files.conf());
    for protocol in [Protocol::V3_1_1, Protocol::V5] {
        let mut c = Connect::new(protocol, "bob-will");
        c.username = Some("bob".into());
        c.password = Some(Bytes::from_static(b"bob-pw"));
        c.will = Some(will("alice/will"));
        let mut raw = Raw::connect_to(broker.addr(), c);
        match raw.recv() {
            Some(Packet::ConnAck(a)) => assert_eq!(a.reason_code, ReasonCode::NotAuthorized),
            other => panic!("expected CONNACK 0x87, got {other:?}"),
        }
        let mut c = Connect::new(protocol, "bob-will");
        c.username = Some("bob".into());
        c.password = Some(Bytes::from_static(b"bob-pw"));
        c.will = Some(will("sensors/bob/temp"));
        let mut raw = Raw::connect_to(broker.addr(), c);
        assert!(
            matches!(raw.recv(), Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success)
        );
    }
}

/// The same rules with the real Mosquitto command-line clients: alice
/// subscribes with `mosquitto_sub -u -P`, admin and bob publish with
/// `mosquitto_pub`; bob's denied message never arrives.
#[test]
fn mosquitto_clients_with_users_and_rules() {
    process::require("mosquitto_sub", "the Debian package mosquitto-clients");
    let files = Files::new(ACL);
    let broker = TestBroker::with_conf(&files.conf());
    let port = broker.port().to_string();
    // Under `stdbuf -oL`: mosquitto_sub's debug lines are otherwise
    // buffered until it exits.
    let mut sub = process::Proc::spawn(
        "mosquitto_sub",
        Command::new("stdbuf").args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-u",
            "alice",
            "-P",
            "alice-pw",
            "-i",
            "alice-sub",
            "-t",
            "alice/#",
            "-v",
            "-C",
            "1",
            "-d",
        ]),
        "the Debian package mosquitto-clients",
    );
    sub.wait_line(common::TIMEOUT, "SUBACK", |l| {
        l.starts_with("Subscribed (mid:")
    });
    let run_pub = |user: &str, topic: &str, message: &str| {
        let status = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-u",
                user,
                "-P",
                &format!("{user}-pw"),
                "-q",
                "1",
                "-t",
                topic,
                "-m",
                message,
            ])
            .status()
            .expect("run mosquitto_pub");
        assert!(status.success(), "mosquitto_pub as {user} to {topic}");
    };
    run_pub("bob", "alice/x", "denied");
    run_pub("admin", "alice/x", "allowed");
    sub.wait_line(common::TIMEOUT, "the allowed message", |l| {
        l == "alice/x allowed"
    });
    assert!(
        !sub.transcript.iter().any(|l| l.contains("denied")),
        "{:?}",
        sub.transcript
    );
}

fn will(topic: &str) -> hornet_codec::LastWill {
    hornet_codec::LastWill {
        topic: topic.into(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    }
}

/// `ReasonCode::Success` for 3.1.1 (its PUBACK carries no code), the code
/// itself for MQTT 5.
trait ForProtocol {
    fn min_for(self, protocol: Protocol) -> ReasonCode;
}

impl ForProtocol for ReasonCode {
    fn min_for(self, protocol: Protocol) -> ReasonCode {
        if protocol.is_v5() {
            self
        } else {
            ReasonCode::Success
        }
    }
}
