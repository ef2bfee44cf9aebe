//! The MQTT 5 features of the core driven without sockets: will delay,
//! message expiry, Receive Maximum, response and problem information,
//! session expiry ceiling, the configurable CONNACK properties, server
//! redirection and outbound topic aliases. Each test names the statement
//! or section it checks; time is a virtual clock.

mod support;

use std::time::Duration;

use hornet_codec::{
    Ack, Connect, Disconnect, LastWill, Packet, Property, Protocol, Publish, QoS, ReasonCode,
    Subscribe,
};
use hornet_core::{ConnId, Settings};
use support::{disconnect_reason, message, payloads, pid, publishes, reason_string, Harness};

fn settings() -> Settings {
    Settings {
        sys_interval: None,
        ..Settings::default()
    }
}

fn expiring(topic: &str, payload: &str, qos: QoS, secs: u32) -> Publish {
    let mut p = message(topic, payload, qos);
    p.properties.push(Property::MessageExpiryInterval(secs));
    p
}

/// A CONNECT of `client_id` with a will on `will` delayed by `delay` seconds
/// and a Session Expiry Interval of `expiry`.
fn with_delayed_will(client_id: &str, delay: u32, expiry: u32) -> Connect {
    let mut c = Connect::new(Protocol::V5, client_id);
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(expiry));
    let mut will = LastWill {
        topic: "will".into(),
        payload: "gone".into(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    };
    will.properties.push(Property::WillDelayInterval(delay));
    c.will = Some(will);
    c
}

// ---- Will Delay Interval (3.1.2.5, 3.1.3.2.2) ----

#[test]
fn mqtt_3_1_3_9_will_not_sent_when_client_reconnects_in_time() {
    let mut w = Harness::new();
    let watcher = w.connect_v5("watcher", 0);
    w.subscribe(watcher, "will", QoS::AtMostOnce);
    let (dev, _) = w.connect_with(with_delayed_will("dev", 10, 3600));
    w.close(dev);
    w.advance(Duration::from_secs(5));
    assert!(w.take(watcher).is_empty(), "held back by the delay");
    // Back before the delay passed, to the same session (clean start 0).
    let (_dev, ack) = w.connect_with(with_delayed_will("dev", 10, 3600));
    assert!(ack.session_present);
    w.advance(Duration::from_secs(60));
    assert!(
        w.take(watcher).is_empty(),
        "[MQTT-3.1.3-9] the will is not sent"
    );
}

#[test]
fn mqtt_3_1_2_5_delayed_will_is_published_after_the_delay() {
    let mut w = Harness::new();
    let watcher = w.connect_v5("watcher", 0);
    w.subscribe(watcher, "will", QoS::AtMostOnce);
    let (dev, _) = w.connect_with(with_delayed_will("dev", 10, 3600));
    w.close(dev);
    assert_eq!(
        w.broker.next_deadline(),
        Some(w.now + Duration::from_secs(10)),
        "the shell is told when to tick"
    );
    w.advance(Duration::from_secs(9));
    assert!(w.take(watcher).is_empty());
    w.advance(Duration::from_secs(1));
    assert_eq!(payloads(&w.take(watcher)), ["gone"]);
}

#[test]
fn mqtt_3_1_2_5_delayed_will_is_published_when_the_session_ends_first() {
    let mut w = Harness::new();
    let watcher = w.connect_v5("watcher", 0);
    w.subscribe(watcher, "will", QoS::AtMostOnce);
    // Session Expiry 2 s, Will Delay 10 s: the session ends first.
    let (dev, _) = w.connect_with(with_delayed_will("dev", 10, 2));
    w.close(dev);
    w.advance(Duration::from_secs(2));
    assert_eq!(payloads(&w.take(watcher)), ["gone"]);
    w.advance(Duration::from_secs(20));
    assert!(w.take(watcher).is_empty(), "published once");
}

#[test]
fn mqtt_3_1_2_5_delayed_will_of_a_session_ending_with_its_connection_is_published_at_once() {
    let mut w = Harness::new();
    let watcher = w.connect_v5("watcher", 0);
    w.subscribe(watcher, "will", QoS::AtMostOnce);
    let (dev, _) = w.connect_with(with_delayed_will("dev", 10, 0));
    w.close(dev);
    assert_eq!(payloads(&w.take(watcher)), ["gone"]);
}

#[test]
fn mqtt_3_1_2_5_reconnecting_with_clean_start_ends_the_session_and_publishes_the_will() {
    let mut w = Harness::new();
    let watcher = w.connect_v5("watcher", 0);
    w.subscribe(watcher, "will", QoS::AtMostOnce);
    let (dev, _) = w.connect_with(with_delayed_will("dev", 10, 3600));
    w.close(dev);
    assert!(w.take(watcher).is_empty());
    let mut c = Connect::new(Protocol::V5, "dev");
    c.clean_start = true;
    let (_, ack) = w.connect_with(c);
    assert!(!ack.session_present);
    assert_eq!(payloads(&w.take(watcher)), ["gone"]);
}

#[test]
fn mqtt_3_1_4_3_takeover_with_a_delayed_will_resumed_in_time_sends_no_will() {
    let mut w = Harness::new();
    let watcher = w.connect_v5("watcher", 0);
    w.subscribe(watcher, "will", QoS::AtMostOnce);
    let (old, _) = w.connect_with(with_delayed_will("dev", 10, 3600));
    let (_new, ack) = w.connect_with(with_delayed_will("dev", 10, 3600));
    assert!(ack.session_present);
    assert_eq!(
        disconnect_reason(&w.take(old)),
        Some(ReasonCode::SessionTakenOver)
    );
    w.advance(Duration::from_secs(30));
    assert!(w.take(watcher).is_empty());
}

// ---- Message Expiry Interval (3.3.2.3.3) ----

#[test]
fn mqtt_3_3_2_5_expired_message_is_not_delivered_from_the_offline_queue() {
    let mut w = Harness::new();
    let sub = w.connect_v5("sub", 3600);
    w.subscribe(sub, "t", QoS::AtLeastOnce);
    w.close(sub);
    let publisher = w.connect_v5("pub", 0);
    w.send(publisher, expiring("t", "short", QoS::AtLeastOnce, 2));
    w.send(publisher, expiring("t", "long", QoS::AtLeastOnce, 60));
    w.send(publisher, message("t", "forever", QoS::AtLeastOnce));
    w.advance(Duration::from_secs(3));
    let sub = w.connect_v5("sub", 3600);
    assert_eq!(payloads(&w.take(sub)), ["long", "forever"]);
}

#[test]
fn mqtt_3_3_2_6_forwarded_expiry_is_decreased_by_the_time_held() {
    let mut w = Harness::new();
    let sub = w.connect_v5("sub", 3600);
    w.subscribe(sub, "t", QoS::AtLeastOnce);
    // Live: held for no time, forwarded unchanged.
    let publisher = w.connect_v5("pub", 0);
    w.send(publisher, expiring("t", "live", QoS::AtLeastOnce, 60));
    let live = publishes(&w.take(sub));
    assert_eq!(live[0].properties.message_expiry_interval(), Some(60));
    w.close(sub);
    w.send(publisher, expiring("t", "held", QoS::AtLeastOnce, 60));
    w.advance(Duration::from_secs(20));
    let sub = w.connect_v5("sub", 3600);
    let got = publishes(&w.take(sub));
    // The live one is resent (unacknowledged) and the held one sent.
    let interval = |payload: &str| {
        got.iter()
            .find(|p| &p.payload[..] == payload.as_bytes())
            .and_then(|p| p.properties.message_expiry_interval())
    };
    assert_eq!(interval("held"), Some(40), "[MQTT-3.3.2-6]");
    assert_eq!(interval("live"), Some(40), "resent with what is left");
}

#[test]
fn mqtt_3_3_2_5_expired_inflight_message_is_not_resent() {
    let mut w = Harness::new();
    let sub = w.connect_v5("sub", 3600);
    w.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = w.connect_v5("pub", 0);
    w.send(publisher, expiring("t", "brief", QoS::AtLeastOnce, 5));
    w.send(publisher, message("t", "kept", QoS::AtLeastOnce));
    assert_eq!(payloads(&w.take(sub)), ["brief", "kept"]);
    w.close(sub);
    w.advance(Duration::from_secs(6));
    let sub = w.connect_v5("sub", 3600);
    let resent = publishes(&w.take(sub));
    assert_eq!(resent.len(), 1, "{resent:?}");
    assert_eq!(
        (&resent[0].payload[..], resent[0].dup),
        (&b"kept"[..], true)
    );
}

#[test]
fn mqtt_3_3_2_5_expired_retained_message_is_not_sent_and_is_removed() {
    let mut w = Harness::new();
    let publisher = w.connect_v5("pub", 0);
    let mut p = expiring("r/a", "brief", QoS::AtMostOnce, 5);
    p.retain = true;
    w.send(publisher, p);
    let mut p = expiring("r/b", "lasting", QoS::AtMostOnce, 100);
    p.retain = true;
    w.send(publisher, p);
    assert_eq!(w.broker.retained_count(), 2);
    w.advance(Duration::from_secs(10));
    let sub = w.connect_v5("sub", 0);
    w.subscribe(sub, "r/#", QoS::AtMostOnce);
    let got = publishes(&w.take(sub));
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"lasting");
    assert_eq!(got[0].properties.message_expiry_interval(), Some(90));
    assert_eq!(w.broker.retained_count(), 1, "the expired one was removed");
}

#[test]
fn retained_max_age_drops_old_retained_messages_for_every_version() {
    let mut w = Harness::with(Settings {
        retained_max_age: Some(Duration::from_secs(60)),
        ..settings()
    });
    let publisher = w.connect_v5("pub", 0);
    let mut old = message("r/old", "old", QoS::AtMostOnce);
    old.retain = true;
    w.send(publisher, old);
    w.advance(Duration::from_secs(50));
    let mut new = message("r/new", "new", QoS::AtMostOnce);
    new.retain = true;
    w.send(publisher, new);
    w.advance(Duration::from_secs(20));
    let mut c = Connect::new(Protocol::V3_1_1, "v3");
    c.clean_start = true;
    let (sub, _) = w.connect_with(c);
    w.subscribe(sub, "r/#", QoS::AtMostOnce);
    assert_eq!(payloads(&w.take(sub)), ["new"]);
    assert_eq!(w.broker.retained_count(), 1);
}

// ---- Receive Maximum (3.3.4) ----

#[test]
fn mqtt_3_3_4_receive_maximum_is_announced_and_exceeding_it_is_disconnect_0x93() {
    let mut w = Harness::with(Settings {
        receive_maximum: 2,
        ..settings()
    });
    let (publisher, ack) = w.connect_with(Connect::new(Protocol::V5, "pub"));
    assert_eq!(ack.properties.receive_maximum(), Some(2));
    for n in 1..=2 {
        let mut p = message("t", "x", QoS::ExactlyOnce);
        p.packet_id = Some(pid(n));
        w.send(publisher, p);
    }
    // A resend of one awaiting PUBREL is not a new one.
    let mut again = message("t", "x", QoS::ExactlyOnce);
    again.packet_id = Some(pid(2));
    again.dup = true;
    w.send(publisher, again);
    assert!(!w.is_closed(publisher));
    // Released: room for one more.
    w.send(publisher, Packet::PubRel(Ack::new(pid(1))));
    let mut p = message("t", "x", QoS::ExactlyOnce);
    p.packet_id = Some(pid(3));
    w.send(publisher, p);
    assert!(!w.is_closed(publisher));
    w.take(publisher);
    let mut p = message("t", "x", QoS::ExactlyOnce);
    p.packet_id = Some(pid(4));
    w.send(publisher, p);
    w.expect_disconnect(publisher, ReasonCode::ReceiveMaximumExceeded);
}

#[test]
fn receive_maximum_is_not_announced_by_default() {
    let mut w = Harness::new();
    let (_, ack) = w.connect_with(Connect::new(Protocol::V5, "c"));
    assert_eq!(ack.properties.receive_maximum(), None, "absent = 65535");
}

// ---- Response Information, Problem Information (3.1.2.11.6-7) ----

#[test]
fn mqtt_3_1_2_28_response_information_only_when_asked_and_configured() {
    let mut w = Harness::with(Settings {
        response_information: Some("responses/".into()),
        ..settings()
    });
    let mut c = Connect::new(Protocol::V5, "asker");
    c.properties.push(Property::RequestResponseInformation(1));
    let (_, ack) = w.connect_with(c);
    assert_eq!(
        ack.properties.response_information().map(|s| &s[..]),
        Some("responses/asker")
    );
    let (_, ack) = w.connect_with(Connect::new(Protocol::V5, "quiet"));
    assert_eq!(ack.properties.response_information(), None);
    let mut c = Connect::new(Protocol::V5, "zero");
    c.properties.push(Property::RequestResponseInformation(0));
    let (_, ack) = w.connect_with(c);
    assert_eq!(ack.properties.response_information(), None);

    // Not configured: none, even when asked.
    let mut w = Harness::new();
    let mut c = Connect::new(Protocol::V5, "asker");
    c.properties.push(Property::RequestResponseInformation(1));
    let (_, ack) = w.connect_with(c);
    assert_eq!(ack.properties.response_information(), None);
}

#[test]
fn mqtt_3_1_2_29_no_reason_string_on_acks_when_problem_information_is_0() {
    let mut w = Harness::new();
    let publisher = w.connect_v5("pub", 0);
    w.send(publisher, message("$SYS/x", "no", QoS::AtLeastOnce));
    let Packet::PubAck(ack) = &w.take(publisher)[0] else {
        panic!()
    };
    assert_eq!(ack.reason_code, ReasonCode::NotAuthorized);
    assert!(
        reason_string(&ack.properties).is_some(),
        "explained by default"
    );

    let mut c = Connect::new(Protocol::V5, "terse");
    c.properties.push(Property::RequestProblemInformation(0));
    let (terse, _) = w.connect_with(c);
    w.send(terse, message("$SYS/x", "no", QoS::AtLeastOnce));
    let Packet::PubAck(ack) = &w.take(terse)[0] else {
        panic!()
    };
    assert_eq!(ack.reason_code, ReasonCode::NotAuthorized);
    assert!(ack.properties.is_empty(), "[MQTT-3.1.2-29]: {ack:?}");
    w.send(terse, Packet::PubRel(Ack::new(pid(9))));
    let Packet::PubComp(comp) = &w.take(terse)[0] else {
        panic!()
    };
    assert_eq!(comp.reason_code, ReasonCode::PacketIdentifierNotFound);
    assert!(comp.properties.is_empty());
}

// ---- Session Expiry (3.1.2.11.2, 3.14.2.2.2) ----

#[test]
fn max_session_expiry_lowers_the_interval_and_connack_says_so() {
    let mut w = Harness::with(Settings {
        max_session_expiry: 60,
        ..settings()
    });
    let mut c = Connect::new(Protocol::V5, "long");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(u32::MAX));
    let (long, ack) = w.connect_with(c);
    assert_eq!(ack.properties.session_expiry_interval(), Some(60));
    let mut c = Connect::new(Protocol::V5, "short");
    c.properties.push(Property::SessionExpiryInterval(30));
    let (_, ack) = w.connect_with(c);
    assert_eq!(
        ack.properties.session_expiry_interval(),
        None,
        "not lowered"
    );
    w.close(long);
    w.advance(Duration::from_secs(59));
    assert!(w.broker.queue_state("long").is_some());
    w.advance(Duration::from_secs(1));
    assert!(w.broker.queue_state("long").is_none(), "expired after 60 s");
}

#[test]
fn max_session_expiry_ends_mqtt_3_persistent_sessions() {
    // Mosquitto's persistent_client_expiration.
    let mut w = Harness::with(Settings {
        max_session_expiry: 3600,
        ..settings()
    });
    let mut c = Connect::new(Protocol::V3_1_1, "v3");
    c.clean_start = false;
    let (v3, _) = w.connect_with(c);
    w.close(v3);
    w.advance(Duration::from_secs(3599));
    assert!(w.broker.queue_state("v3").is_some());
    w.advance(Duration::from_secs(1));
    assert!(w.broker.queue_state("v3").is_none());
}

#[test]
fn mqtt_3_14_2_2_disconnect_changing_expiry_from_0_is_a_protocol_error() {
    let mut w = Harness::new();
    let c = w.connect_v5("c", 0);
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties.push(Property::SessionExpiryInterval(60));
    w.send(c, d);
    w.expect_disconnect(c, ReasonCode::ProtocolError);
    assert!(w.broker.queue_state("c").is_none());
}

#[test]
fn mqtt_3_14_2_2_disconnect_may_change_a_nonzero_expiry() {
    let mut w = Harness::new();
    let c = w.connect_v5("c", 3600);
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties.push(Property::SessionExpiryInterval(5));
    w.send(c, d);
    assert!(disconnect_reason(&w.take(c)).is_none());
    w.advance(Duration::from_secs(5));
    assert!(
        w.broker.queue_state("c").is_none(),
        "expired after the new 5 s"
    );
}

// ---- CONNACK properties (3.2.2.3) ----

#[test]
fn mqtt_3_2_2_21_server_keep_alive_when_max_keepalive_lowers_it() {
    let mut w = Harness::with(Settings {
        max_keepalive: 30,
        ..settings()
    });
    let (_, ack) = w.connect_with(Connect::new(Protocol::V5, "c"));
    assert_eq!(ack.properties.server_keep_alive(), Some(30));
    let mut c = Connect::new(Protocol::V5, "d");
    c.keep_alive = 10;
    let (_, ack) = w.connect_with(c);
    assert_eq!(ack.properties.server_keep_alive(), None);
}

#[test]
fn mqtt_3_2_2_16_assigned_client_identifier_for_an_empty_client_id() {
    let mut w = Harness::new();
    let (_, ack) = w.connect_with(Connect::new(Protocol::V5, ""));
    assert!(ack.properties.assigned_client_identifier().is_some());
    let (_, ack) = w.connect_with(Connect::new(Protocol::V5, "named"));
    assert!(ack.properties.assigned_client_identifier().is_none());
}

#[test]
fn mqtt_3_2_2_11_maximum_qos_is_announced_granted_and_enforced() {
    let mut w = Harness::with(Settings {
        max_qos: 1,
        ..settings()
    });
    let (c, ack) = w.connect_with(Connect::new(Protocol::V5, "c"));
    assert_eq!(ack.properties.maximum_qos(), Some(1));
    assert_eq!(
        w.subscribe(c, "t", QoS::ExactlyOnce),
        [ReasonCode::GrantedQos1]
    );
    w.send(c, message("t", "one", QoS::AtLeastOnce));
    assert_eq!(payloads(&w.take(c)), ["one"]);
    w.send(c, message("t", "two", QoS::ExactlyOnce));
    w.expect_disconnect(c, ReasonCode::QosNotSupported);
}

#[test]
fn mqtt_3_2_2_12_a_will_over_the_maximum_qos_is_refused_with_0x9b() {
    let mut w = Harness::with(Settings {
        max_qos: 0,
        ..settings()
    });
    let mut c = with_delayed_will("c", 0, 0);
    c.will.as_mut().unwrap().qos = QoS::AtLeastOnce;
    let (_, ack) = w.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::QosNotSupported);
}

#[test]
fn mqtt_3_2_2_14_retain_not_available_refuses_retained_publish_and_wills() {
    let mut w = Harness::with(Settings {
        retain_available: false,
        ..settings()
    });
    let (c, ack) = w.connect_with(Connect::new(Protocol::V5, "c"));
    assert_eq!(ack.properties.retain_available(), Some(0));
    let mut p = message("t", "keep", QoS::AtMostOnce);
    p.retain = true;
    w.send(c, p);
    assert_eq!(
        disconnect_reason(&w.take(c)),
        Some(ReasonCode::RetainNotSupported)
    );
    assert_eq!(w.broker.retained_count(), 0);
    // [MQTT-3.2.2-13]: a retained will is refused at CONNECT.
    let mut c = with_delayed_will("w", 0, 0);
    c.will.as_mut().unwrap().retain = true;
    let (_, ack) = w.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::RetainNotSupported);
}

#[test]
fn wildcard_subscriptions_off_is_announced_and_refused_with_0xa2() {
    let mut w = Harness::with(Settings {
        wildcard_subscriptions: false,
        ..settings()
    });
    let (c, ack) = w.connect_with(Connect::new(Protocol::V5, "c"));
    assert_eq!(ack.properties.wildcard_subscription_available(), Some(0));
    assert_eq!(
        w.subscribe(c, "a/+", QoS::AtMostOnce),
        [ReasonCode::WildcardSubscriptionsNotSupported]
    );
    assert_eq!(
        w.subscribe(c, "a/#", QoS::AtMostOnce),
        [ReasonCode::WildcardSubscriptionsNotSupported]
    );
    assert_eq!(
        w.subscribe(c, "a/b", QoS::AtMostOnce),
        [ReasonCode::Success]
    );
}

#[test]
fn subscription_identifiers_off_is_announced_and_refused_with_0xa1() {
    let mut w = Harness::with(Settings {
        subscription_identifiers: false,
        ..settings()
    });
    let (c, ack) = w.connect_with(Connect::new(Protocol::V5, "c"));
    assert_eq!(ack.properties.subscription_identifier_available(), Some(0));
    let mut s = Subscribe::new(pid(1), "a", QoS::AtMostOnce);
    s.properties.push(Property::SubscriptionIdentifier(7));
    w.send(c, s);
    let Packet::SubAck(ack) = &w.take(c)[0] else {
        panic!()
    };
    assert_eq!(
        ack.reason_codes,
        [ReasonCode::SubscriptionIdentifiersNotSupported]
    );
    assert!(reason_string(&ack.properties).is_some(), "explained");
    assert_eq!(w.subscribe(c, "a", QoS::AtMostOnce), [ReasonCode::Success]);
}

#[test]
fn connack_announces_nothing_unusual_by_default() {
    let mut w = Harness::new();
    let (_, ack) = w.connect_with(Connect::new(Protocol::V5, "c"));
    let p = &ack.properties;
    assert_eq!(p.maximum_qos(), None);
    assert_eq!(p.retain_available(), None);
    assert_eq!(p.wildcard_subscription_available(), None);
    assert_eq!(p.subscription_identifier_available(), None);
    assert_eq!(p.session_expiry_interval(), None);
}

// ---- Server redirection (4.11) ----

#[test]
fn server_reference_sends_mqtt5_clients_to_another_server_with_0x9c() {
    let mut w = Harness::with(Settings {
        server_reference: Some("other.example:1883".into()),
        ..settings()
    });
    let (c, ack) = w.connect_with(Connect::new(Protocol::V5, "c"));
    assert_eq!(ack.reason_code, ReasonCode::UseAnotherServer);
    assert_eq!(
        ack.properties.server_reference().map(|s| &s[..]),
        Some("other.example:1883")
    );
    assert!(w.is_closed(c));
    assert_eq!(w.broker.clients_connected(), 0);
}

#[test]
fn server_moved_answers_0x9d_and_mqtt_3_clients_get_server_unavailable() {
    let mut w = Harness::with(Settings {
        server_reference: Some("new.example".into()),
        server_moved: true,
        ..settings()
    });
    let (_, ack) = w.connect_with(Connect::new(Protocol::V5, "c"));
    assert_eq!(ack.reason_code, ReasonCode::ServerMoved);
    assert_eq!(
        ack.properties.server_reference().map(|s| &s[..]),
        Some("new.example")
    );
    let (v3, ack) = w.connect_with(Connect::new(Protocol::V3_1_1, "v3"));
    assert_eq!(
        ack.reason_code,
        ReasonCode::ServerUnavailable,
        "0x03 on the wire"
    );
    assert!(w.is_closed(v3));
}

// ---- Outbound topic aliases (3.3.2.3.4) ----

fn alias_client(w: &mut Harness, id: &str, max: u16, expiry: u32) -> ConnId {
    let mut c = Connect::new(Protocol::V5, id);
    c.clean_start = expiry == 0;
    c.properties.push(Property::TopicAliasMaximum(max));
    if expiry > 0 {
        c.properties.push(Property::SessionExpiryInterval(expiry));
    }
    w.connect_with(c).0
}

#[test]
fn mqtt_3_3_2_8_outbound_topic_aliases_first_come_never_above_the_clients_maximum() {
    let mut w = Harness::new();
    let sub = alias_client(&mut w, "sub", 2, 0);
    w.subscribe(sub, "#", QoS::AtMostOnce);
    let publisher = w.connect_v5("pub", 0);
    for topic in ["a/1", "a/2", "a/3", "a/1", "a/2", "a/3"] {
        w.send(publisher, message(topic, topic, QoS::AtMostOnce));
    }
    let got: Vec<(String, Option<u16>, String)> = publishes(&w.take(sub))
        .iter()
        .map(|p| {
            (
                p.topic.to_string(),
                p.properties.topic_alias(),
                String::from_utf8_lossy(&p.payload).into_owned(),
            )
        })
        .collect();
    let expect = |t: &str, a: Option<u16>, p: &str| (t.to_string(), a, p.to_string());
    assert_eq!(
        got,
        [
            expect("a/1", Some(1), "a/1"),
            expect("a/2", Some(2), "a/2"),
            expect("a/3", None, "a/3"),
            expect("", Some(1), "a/1"),
            expect("", Some(2), "a/2"),
            expect("a/3", None, "a/3"),
        ]
    );
}

#[test]
fn outbound_topic_aliases_are_per_connection_and_absent_without_a_maximum() {
    let mut w = Harness::new();
    let sub = alias_client(&mut w, "sub", 5, 3600);
    w.subscribe(sub, "t", QoS::AtLeastOnce);
    let plain = w.connect_v5("plain", 0);
    w.subscribe(plain, "t", QoS::AtMostOnce);
    let publisher = w.connect_v5("pub", 0);
    w.send(publisher, message("t", "1", QoS::AtLeastOnce));
    let first = publishes(&w.take(sub));
    assert_eq!(
        (&first[0].topic[..], first[0].properties.topic_alias()),
        ("t", Some(1))
    );
    let plain_got = publishes(&w.take(plain));
    assert_eq!(
        plain_got[0].properties.topic_alias(),
        None,
        "no maximum, no alias"
    );
    // A new connection starts without aliases: the resend carries the topic.
    w.close(sub);
    let sub = alias_client(&mut w, "sub", 5, 3600);
    let resent = publishes(&w.take(sub));
    assert_eq!(
        (
            &resent[0].topic[..],
            resent[0].properties.topic_alias(),
            resent[0].dup
        ),
        ("t", Some(1), true)
    );
}

#[test]
fn outbound_topic_alias_is_skipped_when_it_would_exceed_the_maximum_packet_size() {
    let mut w = Harness::new();
    let mut c = Connect::new(Protocol::V5, "sub");
    c.properties.push(Property::TopicAliasMaximum(5));
    // PUBLISH "t" + 5-byte payload, QoS 0, MQTT 5: 2 + 1 + 2 + 1 + 1 + 5 =
    // 11 bytes, 14 with a Topic Alias; the default CONNACK is 13 bytes.
    c.properties.push(Property::MaximumPacketSize(13));
    let (sub, _) = w.connect_with(c);
    w.subscribe(sub, "t", QoS::AtMostOnce);
    let publisher = w.connect_v5("pub", 0);
    w.send(publisher, message("t", "12345", QoS::AtMostOnce));
    let got = publishes(&w.take(sub));
    assert_eq!(got.len(), 1, "delivered");
    assert_eq!(
        got[0].properties.topic_alias(),
        None,
        "the alias would not fit"
    );
}

// ---- Payload Format Indicator (3.3.2.3.2) ----

#[test]
fn payload_format_invalid_is_0x99_and_not_delivered() {
    let mut w = Harness::new();
    let sub = w.connect_v5("sub", 0);
    w.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = w.connect_v5("pub", 0);
    let mut bad = Publish::new("t", vec![0xff, 0xfe]);
    bad.qos = QoS::AtLeastOnce;
    bad.packet_id = Some(pid(5));
    bad.properties.push(Property::PayloadFormatIndicator(1));
    assert_eq!(
        w.publish_flow(publisher, bad),
        ReasonCode::PayloadFormatInvalid
    );
    let mut good = message("t", "fine", QoS::AtLeastOnce);
    good.properties.push(Property::PayloadFormatIndicator(1));
    w.send(publisher, good);
    assert_eq!(payloads(&w.take(sub)), ["fine"]);
}

/// [MQTT-3.1.2-24]: "The Server MUST NOT send packets exceeding Maximum
/// Packet Size to the Client", the CONNACK included: a client that asks
/// for 2 bytes is closed without one (as Mosquitto does), and its session
/// does not outlive it.
#[test]
fn mqtt_3_1_2_24_a_connack_over_the_maximum_packet_size_is_not_sent() {
    let mut w = Harness::new();
    let mut c = Connect::new(Protocol::V5, "tiny");
    c.properties.push(Property::MaximumPacketSize(2));
    let id = w.open_loopback();
    w.send(id, c);
    assert!(w.take(id).is_empty(), "nothing fits in 2 bytes");
    assert!(w.is_closed(id));
    assert_eq!(w.broker.session_count(), 0);
    // The default CONNACK (Topic Alias Maximum, Maximum Packet Size) is
    // 13 bytes: 12 is refused the same way, 13 gets it.
    let mut c = Connect::new(Protocol::V5, "twelve");
    c.properties.push(Property::MaximumPacketSize(12));
    let id = w.open_loopback();
    w.send(id, c);
    assert!(w.take(id).is_empty() && w.is_closed(id));
    let mut c = Connect::new(Protocol::V5, "thirteen");
    c.properties.push(Property::MaximumPacketSize(13));
    let (_, ack) = w.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::Success);
}
