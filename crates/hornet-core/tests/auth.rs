//! Authentication in the core, with a scripted authenticator (no
//! cryptography) and a virtual clock: CONNECT passwords, the enhanced
//! authentication exchange before CONNACK, re-authentication, and the
//! connect timeout ending a stalled exchange.

mod support;

use std::time::Duration;

use bytes::Bytes;
use hornet_codec::{Auth, Connect, Packet, Properties, Property, Protocol, Publish, ReasonCode};
use hornet_core::{Action, AuthExchange, AuthStep, Authenticator, ConnId, Settings};
use support::{closes, sent, Harness};

/// Users `u` / `pw`. Method "TEST": the client sends "hello", the server
/// answers "challenge", the client "answer" (success as `u`) or anything
/// else (bad credentials); "stall" gets "challenge" forever.
#[derive(Debug)]
struct Scripted;

#[derive(Debug)]
struct Exchange;

impl Authenticator for Scripted {
    fn check_password(&self, username: &str, password: &[u8]) -> bool {
        username == "u" && password == b"pw"
    }

    fn start(&self, method: &str) -> Option<Box<dyn AuthExchange>> {
        (method == "TEST").then(|| Box::new(Exchange) as Box<dyn AuthExchange>)
    }
}

impl AuthExchange for Exchange {
    fn step(&mut self, data: &[u8]) -> AuthStep {
        match data {
            b"hello" | b"stall" => AuthStep::Continue(Bytes::from_static(b"challenge")),
            b"answer" => AuthStep::Success {
                user: "u".into(),
                data: Some(Bytes::from_static(b"welcome")),
            },
            b"garbage" => AuthStep::Refused("garbage".into()),
            _ => AuthStep::BadCredentials("wrong answer".into()),
        }
    }
}

/// A harness whose broker checks passwords and runs exchanges with [`Scripted`].
fn world() -> Harness {
    let mut w = Harness::new();
    w.broker.set_authenticator(Box::new(Scripted));
    w
}

fn auth(code: ReasonCode, method: &str, data: &'static [u8]) -> Auth {
    Auth {
        reason_code: code,
        properties: Properties::new()
            .with(Property::AuthenticationMethod(method.into()))
            .with(Property::AuthenticationData(Bytes::from_static(data))),
    }
}

fn enhanced(id: &str, data: &'static [u8]) -> Connect {
    let mut c = Connect::new(Protocol::V5, id);
    c.properties
        .push(Property::AuthenticationMethod("TEST".into()));
    c.properties
        .push(Property::AuthenticationData(Bytes::from_static(data)));
    c
}

fn auth_data(p: &Properties) -> &[u8] {
    p.authentication_data().map(|d| &d[..]).unwrap_or_default()
}

#[test]
fn a_wrong_password_is_0x86_and_a_right_one_connects() {
    let mut w = world();
    for protocol in [Protocol::V3_1_1, Protocol::V5] {
        let id = w.open("10.0.0.1:1000");
        let mut c = Connect::new(protocol, "x");
        c.username = Some("u".into());
        c.password = Some(Bytes::from_static(b"no"));
        let out = w.send_actions(id, c.clone());
        let [Packet::ConnAck(ack)] = sent(&out)[..] else {
            panic!("{out:?}")
        };
        assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword);
        assert!(closes(&out));

        // From the network, even with anonymous clients limited to loopback.
        let id = w.open("10.0.0.1:1001");
        c.password = Some(Bytes::from_static(b"pw"));
        let out = w.send_actions(id, c);
        let [Packet::ConnAck(ack)] = sent(&out)[..] else {
            panic!("{out:?}")
        };
        assert_eq!(ack.reason_code, ReasonCode::Success);
        // [MQTT-4.12.0-6]: no method in CONNECT, none in CONNACK.
        assert!(ack.properties.authentication_method().is_none());
    }
}

#[test]
fn without_a_user_name_the_anonymous_policy_still_applies() {
    let mut w = world();
    let id = w.open("10.0.0.1:1000");
    let out = w.send_actions(id, Connect::new(Protocol::V5, "anon"));
    let [Packet::ConnAck(ack)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(ack.reason_code, ReasonCode::NotAuthorized);
    let id = w.open("127.0.0.1:1000");
    let out = w.send_actions(id, Connect::new(Protocol::V5, "anon"));
    let [Packet::ConnAck(ack)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(ack.reason_code, ReasonCode::Success);
}

/// [MQTT-4.12.0-2], [MQTT-4.12.0-3], [MQTT-4.12.0-5]: AUTH 0x18 until the
/// exchange succeeds, then CONNACK with the method and the final data.
#[test]
fn mqtt_4_12_0_2_the_exchange_runs_before_connack() {
    let mut w = world();
    let id = w.open("10.0.0.1:1000");
    let out = w.send_actions(id, enhanced("e", b"hello"));
    let [Packet::Auth(a)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
    assert_eq!(auth_data(&a.properties), b"challenge");
    assert_eq!(w.broker.clients_connected(), 0);
    let out = w.send_actions(
        id,
        auth(ReasonCode::ContinueAuthentication, "TEST", b"answer"),
    );
    let [Packet::ConnAck(ack)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert_eq!(
        ack.properties.authentication_method().map(|m| &m[..]),
        Some("TEST")
    );
    assert_eq!(auth_data(&ack.properties), b"welcome");
    assert_eq!(w.broker.clients_connected(), 1);
}

/// [MQTT-4.12.0-4]: the server may reject at any point: CONNACK >= 0x80, close.
#[test]
fn mqtt_4_12_0_4_failures_refuse_the_connection() {
    let mut w = world();
    for (answer, code) in [
        (&b"wrong"[..], ReasonCode::BadUserNameOrPassword),
        (b"garbage", ReasonCode::NotAuthorized),
    ] {
        let id = w.open("10.0.0.1:1000");
        w.send(id, enhanced("e", b"hello"));
        let data = Bytes::copy_from_slice(answer);
        let mut a = auth(ReasonCode::ContinueAuthentication, "TEST", b"");
        a.properties = Properties::new()
            .with(Property::AuthenticationMethod("TEST".into()))
            .with(Property::AuthenticationData(data));
        let out = w.send_actions(id, a);
        let [Packet::ConnAck(ack)] = sent(&out)[..] else {
            panic!("{out:?}")
        };
        assert_eq!(ack.reason_code, code);
        assert!(closes(&out));
    }
}

/// [MQTT-3.1.2-30]: only AUTH or DISCONNECT before CONNACK.
#[test]
fn mqtt_3_1_2_30_other_packets_during_the_exchange_are_a_protocol_error() {
    let mut w = world();
    let id = w.open("10.0.0.1:1000");
    w.send(id, enhanced("e", b"hello"));
    let out = w.send_actions(id, Publish::new("t", Bytes::new()));
    let [Packet::ConnAck(ack)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(ack.reason_code, ReasonCode::ProtocolError);
    assert!(closes(&out));
}

/// The connect timeout also ends a client that stalls in the exchange.
#[test]
fn a_stalled_exchange_ends_at_the_connect_timeout() {
    let mut w = world();
    let id = w.open("10.0.0.1:1000");
    w.send(id, enhanced("e", b"stall"));
    let mark = w.mark();
    w.advance(Settings::default().connect_timeout - Duration::from_millis(1));
    assert!(!closes(&w.since(mark)));
    w.advance(Duration::from_millis(2));
    assert!(closes(&w.since(mark)));
}

/// [MQTT-4.12.1-1]: re-authentication after CONNACK ends with AUTH 0x00;
/// other packets keep flowing meanwhile.
#[test]
fn mqtt_4_12_1_1_re_authentication() {
    let mut w = world();
    let id = w.open("10.0.0.1:1000");
    w.send(id, enhanced("e", b"hello"));
    w.send(
        id,
        auth(ReasonCode::ContinueAuthentication, "TEST", b"answer"),
    );
    let out = w.send_actions(id, auth(ReasonCode::ReAuthenticate, "TEST", b"hello"));
    let [Packet::Auth(a)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
    let out = w.send_actions(id, Packet::PingReq);
    assert_eq!(sent(&out), vec![&Packet::PingResp]);
    let out = w.send_actions(
        id,
        auth(ReasonCode::ContinueAuthentication, "TEST", b"answer"),
    );
    let [Packet::Auth(a)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(a.reason_code, ReasonCode::Success);
    assert_eq!(auth_data(&a.properties), b"welcome");
    assert!(!closes(&out));
}

/// [MQTT-4.12.1-2]: a failed re-authentication is DISCONNECT 0x87 and close.
#[test]
fn mqtt_4_12_1_2_failed_re_authentication_disconnects() {
    let mut w = world();
    let id = w.open("10.0.0.1:1000");
    w.send(id, enhanced("e", b"hello"));
    w.send(
        id,
        auth(ReasonCode::ContinueAuthentication, "TEST", b"answer"),
    );
    w.send(id, auth(ReasonCode::ReAuthenticate, "TEST", b"hello"));
    let out = w.send_actions(
        id,
        auth(ReasonCode::ContinueAuthentication, "TEST", b"wrong"),
    );
    let [Packet::Disconnect(d)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(d.reason_code, ReasonCode::NotAuthorized);
    assert!(closes(&out));
    assert_eq!(w.broker.clients_connected(), 0);
}

/// [MQTT-4.12.0-5], [MQTT-4.12.1-1]: the same method throughout; Re-authenticate
/// only after CONNACK and not during an exchange.
#[test]
fn mqtt_4_12_1_1_auth_rules_after_connack() {
    let mut w = world();
    let id = w.open("10.0.0.1:1000");
    w.send(id, enhanced("e", b"hello"));
    w.send(
        id,
        auth(ReasonCode::ContinueAuthentication, "TEST", b"answer"),
    );
    // Continue without an exchange under way.
    let out = w.send_actions(
        id,
        auth(ReasonCode::ContinueAuthentication, "TEST", b"answer"),
    );
    let [Packet::Disconnect(d)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(d.reason_code, ReasonCode::ProtocolError);

    let id = w.open("10.0.0.1:1001");
    w.send(id, enhanced("f", b"hello"));
    w.send(
        id,
        auth(ReasonCode::ContinueAuthentication, "TEST", b"answer"),
    );
    let out = w.send_actions(id, auth(ReasonCode::ReAuthenticate, "OTHER", b"hello"));
    let [Packet::Disconnect(d)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(d.reason_code, ReasonCode::ProtocolError);
}

// ---- the password check runs outside the core ----

/// The checks the core asked the shell to run.
fn checks(actions: &[Action]) -> Vec<(ConnId, hornet_core::PasswordCheck)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::CheckPassword { conn, check } => Some((*conn, check.clone())),
            _ => None,
        })
        .collect()
}

fn with_password(protocol: Protocol, id: &str, password: &'static [u8]) -> Connect {
    let mut c = Connect::new(protocol, id);
    c.username = Some("u".into());
    c.password = Some(Bytes::from_static(password));
    c
}

/// A CONNECT with a password emits `CheckPassword` and nothing else: no
/// CONNACK until the shell reports the verdict. Packets the client
/// pipelines meanwhile are held and handled after the CONNACK, in order.
#[test]
fn a_password_check_parks_the_connect_and_the_packets_after_it() {
    let mut w = world();
    w.auto_check = false;
    let id = w.open("10.0.0.1:1000");
    let out = w.send_actions(id, with_password(Protocol::V5, "x", b"pw"));
    let asked = checks(&out);
    assert_eq!(asked.len(), 1, "{out:?}");
    assert!(sent(&out).is_empty(), "no CONNACK before the verdict");
    assert_eq!(asked[0].1.username(), "u");
    // The password never shows in a log or debug line.
    assert!(!format!("{:?}", asked[0].1).contains("pw\""));

    let sub = hornet_codec::Subscribe::new(
        hornet_codec::PacketId::new(1).unwrap(),
        "t",
        hornet_codec::QoS::AtMostOnce,
    );
    assert!(w.send_actions(id, sub).is_empty(), "held until CONNACK");
    assert!(w.send_actions(id, Packet::PingReq).is_empty());

    let ok = asked[0].1.run();
    assert!(ok);
    let mark = w.mark();
    w.password_checked(id, ok);
    let out = w.since(mark);
    let packets = sent(&out);
    assert!(
        matches!(packets[..], [Packet::ConnAck(ack), Packet::SubAck(_), Packet::PingResp] if ack.reason_code == ReasonCode::Success),
        "{packets:?}"
    );
    assert_eq!(w.broker.clients_connected(), 1);
}

/// A wrong password: the verdict refuses the parked CONNECT with 0x86
/// (3.1.1: 0x04) and the packets held behind it are never handled.
#[test]
fn a_failed_check_refuses_and_drops_the_held_packets() {
    let mut w = world();
    w.auto_check = false;
    let id = w.open("10.0.0.1:1000");
    let out = w.send_actions(id, with_password(Protocol::V3_1_1, "x", b"wrong"));
    let (conn, check) = checks(&out).pop().expect("a check");
    assert_eq!(conn, id);
    w.send(id, Publish::new("t", Bytes::from_static(b"m")));
    let mark = w.mark();
    w.password_checked(id, check.run());
    let out = w.since(mark);
    let [Packet::ConnAck(ack)] = sent(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword);
    assert!(closes(&out));
    assert_eq!(w.broker.stats().publish_received, 0);
}

/// A verdict for a connection that closed (or timed out) meanwhile is
/// ignored; the connect timeout still ends a check that never returns.
#[test]
fn late_verdicts_are_ignored_and_the_connect_timeout_still_runs() {
    let mut w = world();
    w.auto_check = false;
    let id = w.open("10.0.0.1:1000");
    w.send(id, with_password(Protocol::V5, "a", b"pw"));
    assert!(w.broker.awaits_password_check(id));
    w.close(id);
    assert!(!w.broker.awaits_password_check(id), "the shell skips it");
    let mark = w.mark();
    w.password_checked(id, true);
    assert!(sent(&w.since(mark)).is_empty());
    assert_eq!(w.broker.clients_connected(), 0);

    let id = w.open("10.0.0.1:1001");
    w.send(id, with_password(Protocol::V5, "b", b"pw"));
    let mark = w.mark();
    w.advance(Duration::from_secs(11));
    assert!(
        closes(&w.since(mark)),
        "connect timeout while the check ran"
    );
    let mark = w.mark();
    w.password_checked(id, true);
    assert!(sent(&w.since(mark)).is_empty());
    assert_eq!(w.broker.clients_connected(), 0);
}
