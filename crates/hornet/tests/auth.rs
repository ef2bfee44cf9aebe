//! Authentication through a real socket: CONNECT user names and passwords
//! checked against a `password_file` written by the real `mosquitto_passwd`
//! (rumqttc, `mosquitto_pub` and Hornet's codec client), SCRAM-SHA-256
//! enhanced authentication (MQTT 5 §4.12) and re-authentication
//! (§4.12.1) with Hornet's codec client, and the binary refusing a bad
//! password file.
//!
//! The plain password tests run against Mosquitto too
//! (`HORNET_TEST_AGAINST=mosquitto`); the SCRAM tests pin Hornet's built-in
//! method (Mosquitto has none) and say so. Every wait is bounded by
//! `common::TIMEOUT`; nothing sleeps.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use codec_client::Raw;
use common::{hornet_only, TestBroker, TIMEOUT};
use hornet_auth::scram::{random_nonce, ScramClient};
use hornet_codec::{
    Auth, ConnAck, Connect, Packet, PacketId, Properties, Property, Protocol, Publish, QoS,
    ReasonCode, Subscribe, SubscribeFilter, SubscriptionOptions,
};
use process::Proc;

const MOSQUITTO: &str = "the Debian packages mosquitto and mosquitto-clients";
const METHOD: &str = "SCRAM-SHA-256";

/// A password file in a temporary directory: `alice` ($7$, Mosquitto 2.x)
/// and `bob` ($6$, Mosquitto 1.x) made by `mosquitto_passwd`, and, with
/// `scram`, `carol` with Hornet's SCRAM-SHA-256 line.
struct Users {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Users {
    fn new(scram: bool) -> Users {
        process::require("mosquitto_passwd", MOSQUITTO);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        let passwd = |args: &[&str]| {
            let status = Command::new("mosquitto_passwd")
                .args(args)
                .status()
                .expect("run mosquitto_passwd");
            assert!(status.success(), "mosquitto_passwd {args:?}");
        };
        let file = path.to_str().unwrap();
        passwd(&["-b", "-c", file, "alice", "alice-pw"]);
        passwd(&["-H", "sha512", "-b", file, "bob", "bob-pw"]);
        if scram {
            let line = hornet_auth::scram_line("carol", b"carol-pw", 4096).unwrap();
            let mut text = std::fs::read_to_string(&path).unwrap();
            text.push_str(&line);
            text.push('\n');
            std::fs::write(&path, text).unwrap();
        }
        Users { _dir: dir, path }
    }

    fn broker(&self) -> TestBroker {
        TestBroker::with_conf(&format!("password_file {}\n", self.path.display()))
    }
}

fn connect_v5(client_id: &str) -> Connect {
    Connect::new(Protocol::V5, client_id)
}

fn with_password(mut connect: Connect, user: &str, password: &str) -> Connect {
    connect.username = Some(user.into());
    connect.password = Some(Bytes::copy_from_slice(password.as_bytes()));
    connect
}

fn connack(raw: &mut Raw) -> ConnAck {
    match raw.recv() {
        Some(Packet::ConnAck(ack)) => ack,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

fn auth(reason_code: ReasonCode, method: &str, data: Option<&[u8]>) -> Packet {
    let mut properties = Properties::new();
    properties.push(Property::AuthenticationMethod(method.into()));
    if let Some(data) = data {
        properties.push(Property::AuthenticationData(Bytes::copy_from_slice(data)));
    }
    Packet::Auth(Auth {
        reason_code,
        properties,
    })
}

/// The next AUTH from the broker: its reason code and Authentication Data,
/// after checking it repeats the method ([MQTT-4.12.0-5]).
fn recv_auth(raw: &mut Raw) -> (ReasonCode, Bytes) {
    match raw.recv() {
        Some(Packet::Auth(a)) => {
            assert_eq!(
                a.properties.authentication_method().map(|m| &m[..]),
                Some(METHOD)
            );
            (
                a.reason_code,
                a.properties
                    .authentication_data()
                    .cloned()
                    .unwrap_or_default(),
            )
        }
        other => panic!("expected AUTH, got {other:?}"),
    }
}

/// A CONNECT starting SCRAM-SHA-256 for `user`, and the client's state.
fn scram_connect(client_id: &str, user: &str, password: &str) -> (Connect, ScramClient) {
    let client = ScramClient::new(user, password.as_bytes(), &random_nonce().unwrap());
    let mut connect = connect_v5(client_id);
    connect
        .properties
        .push(Property::AuthenticationMethod(METHOD.into()));
    connect
        .properties
        .push(Property::AuthenticationData(Bytes::from(
            client.client_first().into_bytes(),
        )));
    (connect, client)
}

/// Connects `user` with SCRAM-SHA-256 and returns the client and CONNACK.
fn scram_login(broker: &TestBroker, client_id: &str, user: &str, password: &str) -> (Raw, ConnAck) {
    let (connect, mut scram) = scram_connect(client_id, user, password);
    let mut raw = Raw::connect_to(broker.addr(), connect);
    // [MQTT-4.12.0-2]: the server asks for more with AUTH 0x18.
    let (code, server_first) = recv_auth(&mut raw);
    assert_eq!(code, ReasonCode::ContinueAuthentication);
    let client_final = scram.client_final(&server_first).unwrap();
    // [MQTT-4.12.0-3]: the client answers with AUTH 0x18.
    raw.send(auth(
        ReasonCode::ContinueAuthentication,
        METHOD,
        Some(client_final.as_bytes()),
    ));
    let ack = connack(&mut raw);
    if ack.reason_code == ReasonCode::Success {
        let data = ack.properties.authentication_data().expect("server-final");
        scram.verify_server_final(data).unwrap();
    }
    (raw, ack)
}

/// What a wrong password gets. Hornet answers 0x86 Bad User Name or
/// Password (3.x: 0x04), the code the spec names for it; Mosquitto 2
/// answers 0x87 Not authorized (3.x: 0x05) for every refusal.
fn wrong_password_code() -> ReasonCode {
    if common::against_mosquitto() {
        ReasonCode::NotAuthorized
    } else {
        ReasonCode::BadUserNameOrPassword
    }
}

fn eof(raw: &mut Raw) {
    assert_eq!(raw.recv(), None, "expected the broker to close");
}

// ---- plain passwords (CONNECT User Name and Password) ----

/// Passwords hashed by Mosquitto 2.x (`$7$`) and 1.x (`$6$`) are checked;
/// a wrong password or an unknown user is refused with 3.1.1 return code
/// 0x04 (bad user name or password; Mosquitto: 0x05, see
/// [`wrong_password_code`]).
#[tokio::test]
async fn mosquitto_passwd_files_check_rumqttc_v4_passwords() {
    use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet};
    let users = Users::new(false);
    let broker = users.broker();
    for (user, password, accepted) in [
        ("alice", "alice-pw", true),
        ("bob", "bob-pw", true),
        ("alice", "bob-pw", false),
        ("mallory", "alice-pw", false),
    ] {
        let mut options = MqttOptions::new(format!("v4-{user}"), "127.0.0.1", broker.port());
        options.set_credentials(user, password);
        let (_client, mut eventloop) = AsyncClient::new(options, 10);
        let event = tokio::time::timeout(TIMEOUT, eventloop.poll())
            .await
            .expect("an answer in time");
        match (event, accepted) {
            (Ok(Event::Incoming(Packet::ConnAck(ack))), true) => {
                assert_eq!(ack.code, ConnectReturnCode::Success, "{user}")
            }
            (Err(ConnectionError::ConnectionRefused(code)), false) => {
                let expected = match wrong_password_code() {
                    ReasonCode::NotAuthorized => ConnectReturnCode::NotAuthorized,
                    _ => ConnectReturnCode::BadUserNamePassword,
                };
                assert_eq!(code, expected, "{user}");
            }
            (other, _) => panic!("{user}/{password}: unexpected {other:?}"),
        }
    }
}

/// MQTT 5: a wrong password is CONNACK 0x86 Bad User Name or Password
/// (Mosquitto: 0x87),
/// then the connection is closed ([MQTT-3.2.2-7]: an error CONNACK is followed by a close).
#[test]
fn mqtt5_wrong_password_is_connack_0x86() {
    let users = Users::new(false);
    let broker = users.broker();
    let mut raw = Raw::connect_to(
        broker.addr(),
        with_password(connect_v5("v5-wrong"), "alice", "nope"),
    );
    assert_eq!(connack(&mut raw).reason_code, wrong_password_code());
    eof(&mut raw);
    let mut raw = Raw::connect_to(
        broker.addr(),
        with_password(connect_v5("v5-right"), "alice", "alice-pw"),
    );
    assert_eq!(connack(&mut raw).reason_code, ReasonCode::Success);
}

/// A client without a user name is still governed by `allow_anonymous`
/// (loopback by default in Hornet), password file or not.
#[test]
fn clients_without_a_user_name_follow_allow_anonymous() {
    let users = Users::new(false);
    let broker = users.broker();
    let mut raw = Raw::connect_to(broker.addr(), connect_v5("anon"));
    assert_eq!(connack(&mut raw).reason_code, ReasonCode::Success);
}

/// `mosquitto_pub -u -P` against a `mosquitto_passwd` file: the right
/// password publishes, a wrong one is refused.
#[test]
fn mosquitto_pub_with_user_and_password() {
    process::require("mosquitto_pub", MOSQUITTO);
    let users = Users::new(false);
    let broker = users.broker();
    let publish = |password: &str| {
        let mut cmd = Command::new("mosquitto_pub");
        cmd.args(["-h", "127.0.0.1", "-p", &broker.port().to_string()])
            .args(["-u", "alice", "-P", password, "-t", "auth/test", "-m", "hi"]);
        let mut proc = Proc::spawn("mosquitto_pub", &mut cmd, MOSQUITTO);
        let status = proc.wait_exit(TIMEOUT);
        (status, proc.output())
    };
    let (status, output) = publish("alice-pw");
    assert!(status.success(), "{output}");
    let (status, output) = publish("wrong");
    assert!(!status.success(), "{output}");
    let expected = match wrong_password_code() {
        ReasonCode::NotAuthorized => "not authorised",
        _ => "bad user name or password",
    };
    assert!(output.to_lowercase().contains(expected), "{output}");
}

// ---- SCRAM-SHA-256 (enhanced authentication) ----

/// CONNECT (SCRAM-SHA-256, client-first) → AUTH 0x18 (server-first) →
/// AUTH 0x18 (client-final) → CONNACK 0x00 with the method
/// ([MQTT-4.12.0-5]) and server-final, which proves the server knew the
/// credentials. The session then works.
#[test]
fn mqtt_4_12_0_2_scram_sha_256_exchange_before_connack() {
    if hornet_only() {
        return;
    }
    let users = Users::new(true);
    let broker = users.broker();
    let (mut raw, ack) = scram_login(&broker, "scram-ok", "carol", "carol-pw");
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert_eq!(
        ack.properties.authentication_method().map(|m| &m[..]),
        Some(METHOD)
    );
    raw.send(Packet::PingReq);
    assert_eq!(raw.recv(), Some(Packet::PingResp));
}

/// A wrong SCRAM password: CONNACK 0x86 and close ([MQTT-4.12.0-4]).
#[test]
fn mqtt_4_12_0_4_scram_with_a_wrong_password_is_refused() {
    if hornet_only() {
        return;
    }
    let users = Users::new(true);
    let broker = users.broker();
    let (mut raw, ack) = scram_login(&broker, "scram-bad", "carol", "wrong");
    assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword);
    eof(&mut raw);
    // Unknown users and users with a mosquitto_passwd hash (no SCRAM keys)
    // go through the same exchange and fail the same way.
    for user in ["nobody", "alice"] {
        let (mut raw, ack) = scram_login(&broker, "scram-x", user, "alice-pw");
        assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword, "{user}");
        eof(&mut raw);
    }
}

/// [MQTT-4.12.0-1]: an unsupported Authentication Method is refused with
/// CONNACK 0x8C Bad authentication method and the connection closed.
#[test]
fn mqtt_4_12_0_1_an_unknown_method_is_refused_with_0x8c() {
    if hornet_only() {
        return;
    }
    let users = Users::new(true);
    let broker = users.broker();
    let mut connect = connect_v5("scram-1");
    connect
        .properties
        .push(Property::AuthenticationMethod("SCRAM-SHA-1".into()));
    let mut raw = Raw::connect_to(broker.addr(), connect);
    assert_eq!(
        connack(&mut raw).reason_code,
        ReasonCode::BadAuthenticationMethod
    );
    eof(&mut raw);
}

/// [MQTT-4.12.0-5]: AUTH must carry CONNECT's method; another one is a
/// protocol error (CONNACK 0x82, close).
#[test]
fn mqtt_4_12_0_5_auth_with_another_method_is_a_protocol_error() {
    if hornet_only() {
        return;
    }
    let users = Users::new(true);
    let broker = users.broker();
    let (connect, _) = scram_connect("scram-m", "carol", "carol-pw");
    let mut raw = Raw::connect_to(broker.addr(), connect);
    assert_eq!(recv_auth(&mut raw).0, ReasonCode::ContinueAuthentication);
    raw.send(auth(
        ReasonCode::ContinueAuthentication,
        "PLAIN",
        Some(b"x"),
    ));
    assert_eq!(connack(&mut raw).reason_code, ReasonCode::ProtocolError);
    eof(&mut raw);
}

/// [MQTT-3.1.2-30]: until CONNACK a client using enhanced authentication
/// sends only AUTH or DISCONNECT; a PUBLISH is a protocol error.
#[test]
fn mqtt_3_1_2_30_only_auth_or_disconnect_before_connack() {
    if hornet_only() {
        return;
    }
    let users = Users::new(true);
    let broker = users.broker();
    let (connect, _) = scram_connect("scram-p", "carol", "carol-pw");
    let mut raw = Raw::connect_to(broker.addr(), connect);
    assert_eq!(recv_auth(&mut raw).0, ReasonCode::ContinueAuthentication);
    raw.send(Publish::new("early", Bytes::from_static(b"x")).into());
    assert_eq!(connack(&mut raw).reason_code, ReasonCode::ProtocolError);
    eof(&mut raw);
}

/// [MQTT-4.12.0-7]: a client that did not give an Authentication Method in
/// CONNECT must not send AUTH: DISCONNECT 0x82.
#[test]
fn mqtt_4_12_0_7_auth_without_a_method_in_connect_is_a_protocol_error() {
    if hornet_only() {
        return;
    }
    let users = Users::new(true);
    let broker = users.broker();
    let mut raw = Raw::connect_to(
        broker.addr(),
        with_password(connect_v5("plain-auth"), "carol", "carol-pw"),
    );
    assert_eq!(connack(&mut raw).reason_code, ReasonCode::Success);
    raw.send(auth(
        ReasonCode::ReAuthenticate,
        METHOD,
        Some(b"n,,n=carol,r=abc"),
    ));
    match raw.recv() {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    eof(&mut raw);
}

/// [MQTT-4.12.1-1]: after CONNACK the client re-authenticates with AUTH
/// 0x19 and the same method; the exchange runs again and ends with AUTH
/// 0x00 Success. Messages keep flowing during it, under the previous
/// authentication.
#[test]
fn mqtt_4_12_1_1_re_authentication_with_scram() {
    if hornet_only() {
        return;
    }
    let users = Users::new(true);
    let broker = users.broker();
    let (mut raw, ack) = scram_login(&broker, "scram-re", "carol", "carol-pw");
    assert_eq!(ack.reason_code, ReasonCode::Success);
    raw.send(
        Subscribe {
            packet_id: PacketId::new(1).unwrap(),
            filters: vec![SubscribeFilter {
                filter: "re/auth".into(),
                options: SubscriptionOptions::qos(QoS::AtLeastOnce),
            }],
            properties: Properties::new(),
        }
        .into(),
    );
    assert!(matches!(raw.recv(), Some(Packet::SubAck(_))));

    let mut scram = ScramClient::new("carol", b"carol-pw", &random_nonce().unwrap());
    raw.send(auth(
        ReasonCode::ReAuthenticate,
        METHOD,
        Some(scram.client_first().as_bytes()),
    ));
    let (code, server_first) = recv_auth(&mut raw);
    assert_eq!(code, ReasonCode::ContinueAuthentication);

    // In the middle of the exchange, a QoS 1 round trip still works.
    let mut publish = Publish::new("re/auth", Bytes::from_static(b"during"));
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = PacketId::new(2);
    raw.send(publish.into());
    let (mut acked, mut delivered) = (false, false);
    while !(acked && delivered) {
        match raw.recv() {
            Some(Packet::PubAck(a)) if a.packet_id == PacketId::new(2).unwrap() => acked = true,
            Some(Packet::Publish(p)) => {
                assert_eq!(&p.payload[..], b"during");
                if let Some(id) = p.packet_id {
                    raw.send(Packet::PubAck(hornet_codec::Ack::new(id)));
                }
                delivered = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    let client_final = scram.client_final(&server_first).unwrap();
    raw.send(auth(
        ReasonCode::ContinueAuthentication,
        METHOD,
        Some(client_final.as_bytes()),
    ));
    let (code, server_final) = recv_auth(&mut raw);
    assert_eq!(code, ReasonCode::Success);
    scram.verify_server_final(&server_final).unwrap();
    raw.send(Packet::PingReq);
    assert_eq!(raw.recv(), Some(Packet::PingResp));
}

/// [MQTT-4.12.1-2]: a failed re-authentication ends with DISCONNECT
/// 0x87 Not authorized (DISCONNECT has no 0x86) and the connection is closed.
#[test]
fn mqtt_4_12_1_2_failed_re_authentication_disconnects() {
    if hornet_only() {
        return;
    }
    let users = Users::new(true);
    let broker = users.broker();
    let (mut raw, ack) = scram_login(&broker, "scram-refail", "carol", "carol-pw");
    assert_eq!(ack.reason_code, ReasonCode::Success);
    let mut scram = ScramClient::new("carol", b"not-it", &random_nonce().unwrap());
    raw.send(auth(
        ReasonCode::ReAuthenticate,
        METHOD,
        Some(scram.client_first().as_bytes()),
    ));
    let (_, server_first) = recv_auth(&mut raw);
    let client_final = scram.client_final(&server_first).unwrap();
    raw.send(auth(
        ReasonCode::ContinueAuthentication,
        METHOD,
        Some(client_final.as_bytes()),
    ));
    match raw.recv() {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, ReasonCode::NotAuthorized)
        }
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    eof(&mut raw);
}

// ---- the binary ----

/// A malformed password file stops `hornet` with exit code 3 and names
/// file, line and reason; nothing is served.
#[test]
fn a_malformed_password_file_stops_the_binary_with_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    std::fs::write(&passwd, "# users\nalice:plaintext\n").unwrap();
    let conf = dir.path().join("hornet.conf");
    std::fs::write(
        &conf,
        format!("listener 1 127.0.0.1\npassword_file {}\n", passwd.display()),
    )
    .unwrap();
    let status = run_binary(&conf, &passwd);
    assert_eq!(status.0, Some(3), "{}", status.1);
    let expected = format!(
        "{}:2: user 'alice': the password is not hashed",
        passwd.display()
    );
    assert!(status.1.contains(&expected), "{}", status.1);
}

fn run_binary(conf: &Path, _passwd: &Path) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
    cmd.arg("-c").arg(conf);
    let mut proc = Proc::spawn("hornet", &mut cmd, "cargo build -p hornet");
    let status = proc.wait_exit(Duration::from_secs(10).min(TIMEOUT));
    (status.code(), proc.output())
}
