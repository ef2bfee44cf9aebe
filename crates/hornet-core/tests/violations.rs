//! Every [`PeerError`] driven through the broker: a client breaks the
//! rule, and the test checks what it is answered (DISCONNECT with the
//! reason code and the rule as Reason String for MQTT 5, a silent close
//! for 3.x, CONNACK before CONNACK was sent), that the connection is
//! closed, and the log line, word for word.
//!
//! The small harness here predates the shared one in `tests/support/`
//! (not yet moved to it); the log capture is shared (`support/logs.rs`).

#[path = "support/logs.rs"]
mod logs;
use logs::logged;
use std::collections::HashMap;
use std::net::SocketAddr;

use std::time::Instant;

use bytes::Bytes;
use hornet_codec::{
    Auth, ConnAck, Connect, DecodeError, Disconnect, LastWill, Packet, PacketId, Properties,
    Property, Protocol, Publish, QoS, ReasonCode, Subscribe,
};
use hornet_core::{
    Action, AuthExchange, AuthStep, Authenticator, Broker, CloseCause, ConnId, ConnInfo, PeerError,
    RateAction, Settings,
};

const PEER: &str = "127.0.0.1:50000";

/// Passwords: `u` / `pw`. Method "TEST": every step asks for more, except
/// "answer", which authenticates `u`.
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
            b"answer" => AuthStep::Success {
                user: "u".into(),
                data: None,
            },
            _ => AuthStep::Continue(Bytes::from_static(b"challenge")),
        }
    }
}

/// A broker on a virtual clock, and the log lines of each call.
struct World {
    broker: Broker,
    now: Instant,
    next: u64,
    /// Packets sent to connections other than the one a call was about.
    others: HashMap<ConnId, Vec<Packet>>,
}

/// What one input made the broker do to one connection.
#[derive(Debug)]
struct Answer {
    packets: Vec<Packet>,
    closed: bool,
    log: Vec<String>,
}

impl Answer {
    /// The one DISCONNECT sent before the close: reason code and Reason String.
    fn disconnect(&self) -> (ReasonCode, Option<String>) {
        assert!(self.closed, "not closed: {self:?}");
        match &self.packets[..] {
            [Packet::Disconnect(d)] => (
                d.reason_code,
                d.properties.reason_string().map(|s| s.to_string()),
            ),
            other => panic!("expected one DISCONNECT, got {other:?}"),
        }
    }

    /// The one CONNACK sent before the close: reason code and Reason String.
    fn connack(&self) -> (ReasonCode, Option<String>) {
        assert!(self.closed, "not closed: {self:?}");
        match &self.packets[..] {
            [Packet::ConnAck(c)] => (
                c.reason_code,
                c.properties.reason_string().map(|s| s.to_string()),
            ),
            other => panic!("expected one CONNACK, got {other:?}"),
        }
    }

    /// Closed without a packet.
    fn silent(&self) -> bool {
        self.closed && self.packets.is_empty()
    }

    /// The warning or info line containing `part` (panics without one).
    fn line(&self, part: &str) -> &str {
        self.log
            .iter()
            .find(|l| l.contains(part))
            .unwrap_or_else(|| panic!("no log line with {part:?} in {:#?}", self.log))
    }
}

impl World {
    fn with(settings: Settings) -> World {
        let now = Instant::now();
        let mut broker = Broker::new(
            Settings {
                sys_interval: None,
                ..settings
            },
            now,
        );
        broker.set_authenticator(Box::new(Scripted));
        World {
            broker,
            now,
            next: 1,
            others: HashMap::new(),
        }
    }

    fn new() -> World {
        World::with(Settings::default())
    }

    fn open(&mut self) -> ConnId {
        let id = ConnId(self.next);
        self.next += 1;
        let peer: SocketAddr = PEER.parse().unwrap();
        self.broker
            .connection_opened(self.now, id, ConnInfo::new(peer, 1883));
        id
    }

    /// Runs `input` on the broker with a log subscriber and collects what
    /// it did to `id`.
    fn run(&mut self, id: ConnId, input: impl FnOnce(&mut Broker, Instant)) -> Answer {
        let (now, broker) = (self.now, &mut self.broker);
        let log = logged(|| input(broker, now));
        let mut actions = Vec::new();
        self.broker.drain_actions(&mut actions);
        let mut answer = Answer {
            packets: Vec::new(),
            closed: false,
            log,
        };
        for action in actions {
            match action {
                Action::Send { conn, packet } if conn == id => {
                    assert!(!answer.closed, "{packet:?} sent after the close");
                    answer.packets.push(packet);
                }
                Action::Send { conn, packet } => self.others.entry(conn).or_default().push(packet),
                Action::Close { conn } if conn == id => answer.closed = true,
                _ => {}
            }
        }
        answer
    }

    fn send(&mut self, id: ConnId, packet: impl Into<Packet>) -> Answer {
        let packet = packet.into();
        self.run(id, |b, now| b.packet_received(now, id, packet, 10))
    }

    /// A connected client with `connect` (CONNACK 0x00 checked).
    fn connect_with(&mut self, connect: Connect) -> ConnId {
        let id = self.open();
        let answer = self.send(id, connect);
        assert!(
            matches!(&answer.packets[..], [Packet::ConnAck(c)] if c.reason_code == ReasonCode::Success),
            "{answer:?}"
        );
        id
    }

    fn connect(&mut self, protocol: Protocol) -> ConnId {
        self.connect_with(Connect::new(protocol, "c"))
    }
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn publish(topic: &str, qos: QoS, id: u16) -> Publish {
    let mut p = Publish::new(topic, "x");
    p.qos = qos;
    if qos != QoS::AtMostOnce {
        p.packet_id = Some(pid(id));
    }
    p
}

fn auth(code: ReasonCode, method: &str, data: &'static [u8]) -> Auth {
    Auth {
        reason_code: code,
        properties: Properties::new()
            .with(Property::AuthenticationMethod(method.into()))
            .with(Property::AuthenticationData(Bytes::from_static(data))),
    }
}

/// A CONNECT that starts the "TEST" exchange with `data`.
fn enhanced(data: &'static [u8]) -> Connect {
    let mut c = Connect::new(Protocol::V5, "c");
    c.properties
        .push(Property::AuthenticationMethod("TEST".into()));
    c.properties
        .push(Property::AuthenticationData(Bytes::from_static(data)));
    c
}

/// Checks a violation by a connected MQTT 5 client: DISCONNECT with the
/// error's code and message, the warning, and the text of both.
fn assert_disconnected(answer: &Answer, error: &PeerError, text: &str) {
    assert_eq!(error.to_string(), text);
    assert_eq!(
        answer.disconnect(),
        (error.reason_code(), Some(text.to_string()))
    );
    answer.line(&format!(
        "WARN Client c broke a protocol rule: {text}; disconnecting ({}).",
        error.reason_code()
    ));
}

#[test]
fn mqtt_3_1_0_2_a_second_connect_disconnects_5_and_closes_3() {
    let mut w = World::new();
    let id = w.connect(Protocol::V5);
    let answer = w.send(id, Connect::new(Protocol::V5, "c"));
    assert_disconnected(
        &answer,
        &PeerError::SecondConnect,
        "[MQTT-3.1.0-2] a second CONNECT on one connection",
    );
    assert_eq!(answer.disconnect().0, ReasonCode::ProtocolError);

    let id = w.connect(Protocol::V3_1_1);
    let answer = w.send(id, Connect::new(Protocol::V3_1_1, "c"));
    assert!(answer.silent(), "3.1.1 cannot be told: {answer:?}");
    answer.line(
        "Client c broke a protocol rule: [MQTT-3.1.0-2] a second CONNECT on one connection; \
         disconnecting (0x82 Protocol Error).",
    );
    // The connection is forgotten: later input is ignored.
    let after = w.send(id, Packet::PingReq);
    assert!(after.packets.is_empty() && !after.closed);
}

#[test]
fn mqtt_3_1_0_1_a_first_packet_other_than_connect_closes_silently() {
    let mut w = World::new();
    let id = w.open();
    let answer = w.send(id, Packet::PingReq);
    assert!(answer.silent(), "{answer:?}");
    answer.line(&format!(
        "Client <unknown> ({PEER}) broke a protocol rule: [MQTT-3.1.0-1] the first packet must \
         be CONNECT, got PINGREQ; disconnecting (0x82 Protocol Error)."
    ));
}

#[test]
fn a_server_only_packet_is_a_protocol_error() {
    let mut w = World::new();
    let id = w.connect(Protocol::V5);
    let answer = w.send(id, ConnAck::new(ReasonCode::Success, false));
    assert_disconnected(
        &answer,
        &PeerError::ServerOnlyPacket(hornet_codec::PacketType::ConnAck),
        "CONNACK is sent by servers, not clients",
    );
}

#[test]
fn mqtt_3_1_2_30_a_packet_during_the_exchange_gets_connack_0x82() {
    let mut w = World::new();
    let id = w.open();
    let started = w.send(id, enhanced(b"hello"));
    assert!(
        matches!(&started.packets[..], [Packet::Auth(_)]),
        "{started:?}"
    );
    let answer = w.send(id, Subscribe::new(pid(1), "t", QoS::AtMostOnce));
    let text = "[MQTT-3.1.2-30] SUBSCRIBE before CONNACK during enhanced authentication";
    assert_eq!(
        answer.connack(),
        (ReasonCode::ProtocolError, Some(text.to_string()))
    );
    answer.line(&format!(
        "WARN Client from {PEER} broke a protocol rule: {text}; closing."
    ));
}

#[test]
fn auth_rules_before_connack_get_connack_0x82() {
    let cases = [
        (
            auth(ReasonCode::ContinueAuthentication, "OTHER", b"x"),
            "[MQTT-4.12.0-5] AUTH with another Authentication Method than CONNECT's",
        ),
        (
            auth(ReasonCode::ReAuthenticate, "TEST", b"x"),
            "[MQTT-4.12.1-1] Re-authenticate only after CONNACK, and not during an exchange",
        ),
        (
            auth(ReasonCode::Success, "TEST", b"x"),
            "[MQTT-3.15.2-1] a client sends AUTH with 0x18 or 0x19 only",
        ),
    ];
    for (packet, text) in cases {
        let mut w = World::new();
        let id = w.open();
        w.send(id, enhanced(b"hello"));
        let answer = w.send(id, packet);
        assert_eq!(
            answer.connack(),
            (ReasonCode::ProtocolError, Some(text.to_string())),
            "{text}"
        );
        answer.line(&format!(
            "WARN Client from {PEER} broke a protocol rule during authentication: {text}; closing."
        ));
    }
}

#[test]
fn auth_rules_after_connack_disconnect() {
    // No method in CONNECT: no AUTH at all.
    let mut w = World::new();
    let id = w.connect(Protocol::V5);
    let answer = w.send(id, auth(ReasonCode::ReAuthenticate, "TEST", b"x"));
    assert_disconnected(
        &answer,
        &PeerError::AuthWithoutMethod,
        "[MQTT-4.12.0-7] AUTH without an Authentication Method in CONNECT",
    );

    // Authenticated with "TEST": Continue with no exchange, and a reason
    // code a client may not send.
    let cases = [
        (
            auth(ReasonCode::ContinueAuthentication, "TEST", b"x"),
            PeerError::ContinueWithoutExchange,
            "[MQTT-4.12.0-3] AUTH Continue authentication without an exchange under way",
        ),
        (
            auth(ReasonCode::Success, "TEST", b"x"),
            PeerError::AuthReasonCode(ReasonCode::Success),
            "[MQTT-3.15.2-1] a client sends AUTH with 0x18 or 0x19 only",
        ),
    ];
    for (packet, error, text) in cases {
        let mut w = World::new();
        let id = w.connect_with(enhanced(b"answer"));
        let answer = w.send(id, packet);
        assert_disconnected(&answer, &error, text);
    }
}

#[test]
fn an_exchange_that_succeeds_at_once_completes_the_connect() {
    // The first step may succeed on the CONNECT's data alone: CONNACK 0x00
    // with the method follows at once, and AUTH is accepted after it.
    let mut w = World::new();
    let id = w.open();
    let answer = w.send(id, enhanced(b"answer"));
    let [Packet::ConnAck(connack)] = &answer.packets[..] else {
        panic!("{answer:?}");
    };
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_eq!(
        connack
            .properties
            .authentication_method()
            .map(|m| m.to_string()),
        Some("TEST".to_string())
    );
    answer.line(&format!(
        "Client c from {PEER} authenticated as 'u' with TEST."
    ));
    let reauth = w.send(id, auth(ReasonCode::ReAuthenticate, "TEST", b"answer"));
    assert!(
        matches!(&reauth.packets[..], [Packet::Auth(a)] if a.reason_code == ReasonCode::Success),
        "{reauth:?}"
    );
}

#[test]
fn mqtt_3_14_2_2_raising_the_expiry_from_0_on_disconnect() {
    let mut w = World::new();
    let id = w.connect(Protocol::V5);
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties.push(Property::SessionExpiryInterval(60));
    let answer = w.send(id, d);
    assert_disconnected(
        &answer,
        &PeerError::ExpiryRaisedFromZero,
        "[MQTT-3.14.2-2] Session Expiry Interval changed from 0 on DISCONNECT",
    );
}

#[test]
fn mqtt_3_3_4_6_a_subscription_identifier_in_publish() {
    let mut w = World::new();
    let id = w.connect(Protocol::V5);
    let mut p = publish("t", QoS::AtMostOnce, 0);
    p.properties.push(Property::SubscriptionIdentifier(1));
    let answer = w.send(id, p);
    assert_disconnected(
        &answer,
        &PeerError::SubscriptionIdentifierInPublish,
        "[MQTT-3.3.4-6] a PUBLISH from a client carries a Subscription Identifier",
    );
}

#[test]
fn mqtt_3_2_2_11_and_3_2_2_14_what_connack_announced() {
    let mut w = World::with(Settings {
        max_qos: 1,
        retain_available: false,
        ..Settings::default()
    });
    let id = w.connect(Protocol::V5);
    let answer = w.send(id, publish("t", QoS::ExactlyOnce, 1));
    assert_disconnected(
        &answer,
        &PeerError::QosOverMaximum { qos: 2, max: 1 },
        "[MQTT-3.2.2-11] PUBLISH at QoS 2 is over the Maximum QoS 1",
    );
    assert_eq!(answer.disconnect().0, ReasonCode::QosNotSupported);

    let id = w.connect(Protocol::V5);
    let mut p = publish("t", QoS::AtMostOnce, 0);
    p.retain = true;
    let answer = w.send(id, p);
    assert_disconnected(
        &answer,
        &PeerError::RetainUnavailable,
        "[MQTT-3.2.2-14] a retained PUBLISH, but Retain Available is 0",
    );
    assert_eq!(answer.disconnect().0, ReasonCode::RetainNotSupported);
}

#[test]
fn mqtt_3_3_2_9_topic_alias_errors() {
    let mut w = World::with(Settings {
        topic_alias_maximum: 2,
        ..Settings::default()
    });
    let id = w.connect(Protocol::V5);
    let mut p = publish("t", QoS::AtMostOnce, 0);
    p.properties.push(Property::TopicAlias(3));
    let answer = w.send(id, p);
    assert_disconnected(
        &answer,
        &PeerError::TopicAliasOverMaximum { alias: 3, max: 2 },
        "[MQTT-3.3.2-9] Topic Alias 3 is over the Topic Alias Maximum 2",
    );
    assert_eq!(answer.disconnect().0, ReasonCode::TopicAliasInvalid);

    // An alias set on one connection means nothing on the next.
    let id = w.connect(Protocol::V5);
    let mut p = publish("t", QoS::AtMostOnce, 0);
    p.properties.push(Property::TopicAlias(1));
    assert!(w.send(id, p).packets.is_empty(), "alias 1 set");
    let id = w.connect(Protocol::V5);
    let mut p = publish("", QoS::AtMostOnce, 0);
    p.properties.push(Property::TopicAlias(1));
    let answer = w.send(id, p);
    assert_disconnected(
        &answer,
        &PeerError::TopicAliasUnknown(1),
        "Topic Alias 1 was never set on this connection",
    );
}

#[test]
fn a_topic_over_the_limits_closes_3_and_is_acked_0x90_to_5() {
    let mut w = World::with(Settings {
        max_topic_levels: 2,
        ..Settings::default()
    });
    let id = w.connect(Protocol::V3_1_1);
    let answer = w.send(id, publish("a/b/c", QoS::AtLeastOnce, 1));
    assert!(answer.silent(), "{answer:?}");
    answer.line(
        "Client c broke a protocol rule: PUBLISH to a topic starting 'a/b/c': it has 3 levels, \
         over max_topic_levels 2; disconnecting (0x90 Topic Name invalid).",
    );

    let id = w.connect(Protocol::V5);
    let answer = w.send(id, publish("a/b/c", QoS::AtLeastOnce, 1));
    assert!(!answer.closed, "MQTT 5 is told in its ack: {answer:?}");
    assert!(
        matches!(&answer.packets[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::TopicNameInvalid),
        "{answer:?}"
    );
}

#[test]
fn one_qos_2_publish_over_receive_maximum_is_0x93() {
    let mut w = World::with(Settings {
        receive_maximum: 1,
        ..Settings::default()
    });
    let id = w.connect(Protocol::V5);
    let first = w.send(id, publish("t", QoS::ExactlyOnce, 1));
    assert!(
        matches!(&first.packets[..], [Packet::PubRec(_)]),
        "{first:?}"
    );
    // The same id again is a resend, not one more.
    let again = w.send(id, publish("t", QoS::ExactlyOnce, 1));
    assert!(!again.closed, "{again:?}");
    let answer = w.send(id, publish("t", QoS::ExactlyOnce, 2));
    assert_disconnected(
        &answer,
        &PeerError::ReceiveMaximumExceeded(1),
        "more than Receive Maximum 1 QoS 2 PUBLISH packets awaiting PUBREL",
    );
    assert_eq!(answer.disconnect().0, ReasonCode::ReceiveMaximumExceeded);
}

#[test]
fn mqtt_3_8_3_4_no_local_on_a_shared_subscription() {
    let mut w = World::new();
    let id = w.connect(Protocol::V5);
    let mut s = Subscribe::new(pid(1), "$share/g/t", QoS::AtMostOnce);
    s.filters[0].options.no_local = true;
    let answer = w.send(id, s);
    assert_disconnected(
        &answer,
        &PeerError::NoLocalOnSharedSubscription("$share/g/t".into()),
        "[MQTT-3.8.3-4] No Local set on the shared subscription '$share/g/t'",
    );
}

#[test]
fn publishing_over_the_rate_with_action_disconnect_is_0x96() {
    let mut w = World::with(Settings {
        max_publish_rate: 1,
        publish_rate_action: RateAction::Disconnect,
        ..Settings::default()
    });
    let id = w.connect(Protocol::V5);
    let mut answer = w.send(id, publish("t", QoS::AtMostOnce, 0));
    for _ in 0..10 {
        if answer.closed {
            break;
        }
        answer = w.send(id, publish("t", QoS::AtMostOnce, 0));
    }
    let text =
        "publishes faster than max_publish_rate 1 messages/s (publish_rate_action disconnect)";
    assert_eq!(
        answer.disconnect(),
        (ReasonCode::MessageRateTooHigh, Some(text.to_string()))
    );
    answer.line(&format!("WARN Client c {text}; disconnecting (0x96)."));
    assert_eq!(w.broker.stats().rate_disconnects, 1);
}

#[test]
fn too_many_packets_behind_a_password_check_close_silently() {
    let mut w = World::new();
    let id = w.open();
    let mut c = Connect::new(Protocol::V5, "c");
    c.username = Some("u".into());
    c.password = Some(Bytes::from_static(b"pw"));
    let parked = w.send(id, c);
    assert!(parked.packets.is_empty() && !parked.closed);
    assert!(w.broker.awaits_password_check(id));
    for _ in 0..1000 {
        let answer = w.send(id, Packet::PingReq);
        assert!(answer.packets.is_empty() && !answer.closed);
    }
    let answer = w.send(id, Packet::PingReq);
    assert!(answer.silent(), "{answer:?}");
    answer.line(&format!(
        "WARN Client from {PEER} sent more than 1000 packets before CONNACK while its password \
         was being checked; closing."
    ));
    // The verdict finds nobody to complete.
    let late = w.run(id, |b, now| b.password_checked(now, id, true));
    assert!(late.packets.is_empty() && !late.closed, "{late:?}");
}

#[test]
fn decode_errors_go_through_the_same_answer() {
    // Connected, MQTT 5: DISCONNECT with the codec's code and statement.
    let mut w = World::new();
    let id = w.connect(Protocol::V5);
    let error = DecodeError::EmptySubscribe;
    let answer = w.run(id, |b, now| {
        b.decode_failed(now, id, &error, Some(Protocol::V5))
    });
    assert_disconnected(
        &answer,
        &PeerError::Decode(error.clone()),
        &error.to_string(),
    );

    // Before CONNECT: CONNACK for MQTT 5, nothing for 3.1.1, and the
    // "Bad CONNECT" line either way.
    for (protocol, connack) in [(Protocol::V5, true), (Protocol::V3_1_1, false)] {
        let id = w.open();
        let error = DecodeError::PasswordWithoutUsername;
        let answer = w.run(id, |b, now| {
            b.decode_failed(now, id, &error, Some(protocol))
        });
        if connack {
            assert_eq!(answer.connack(), (ReasonCode::ProtocolError, None));
        } else {
            assert!(answer.silent(), "{answer:?}");
        }
        answer.line(&format!(
            "INFO Bad CONNECT from {PEER} on port 1883: {error}; closing the connection."
        ));
    }
}

#[test]
fn a_violation_publishes_the_will() {
    // [MQTT-3.1.2-8]: closed for a broken rule is an abnormal end.
    let mut w = World::new();
    let watcher = w.connect_with(Connect::new(Protocol::V5, "watcher"));
    let subscribed = w.send(watcher, Subscribe::new(pid(1), "will", QoS::AtMostOnce));
    assert!(matches!(&subscribed.packets[..], [Packet::SubAck(_)]));
    let mut c = Connect::new(Protocol::V5, "c");
    c.will = Some(LastWill {
        topic: "will".into(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Properties::new(),
    });
    let id = w.connect_with(c);
    assert!(w.others.remove(&watcher).is_none(), "no will yet");
    let answer = w.send(id, Connect::new(Protocol::V5, "c"));
    assert_eq!(answer.disconnect().0, ReasonCode::ProtocolError);
    let got = w.others.remove(&watcher).unwrap_or_default();
    assert!(
        matches!(&got[..], [Packet::Publish(p)] if p.topic == "will" && &p.payload[..] == b"gone"),
        "{got:?}"
    );
    assert_eq!(w.broker.clients_connected(), 1, "only the watcher is left");
}

#[test]
fn a_socket_error_is_logged_with_its_words() {
    let mut w = World::new();
    let id = w.connect(Protocol::V3_1_1);
    let error = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
    let cause = CloseCause::io(&error);
    assert!(matches!(
        &cause,
        CloseCause::Io { kind: std::io::ErrorKind::ConnectionReset, message } if &**message == "reset by peer"
    ));
    let answer = w.run(id, |b, now| b.connection_closed(now, id, cause));
    assert!(answer.silent());
    answer.line("INFO Socket error on client c, disconnecting (reset by peer).");
}
