//! Auto-subscribe (EMQX's): templates subscribed for every client at
//! CONNECT, after CONNACK and without a SUBACK, with `%c` and `%u`; unsafe
//! values and missing user names skip a template.

mod support;

use hornet_codec::{Connect, Packet, Protocol, QoS, ReasonCode};
use hornet_core::{AutoSubscription, Settings};
use support::{payloads, Harness};

/// Every password is right: user names are authenticated ones.
#[derive(Debug)]
struct Anyone;

impl hornet_core::Authenticator for Anyone {
    fn check_password(&self, _: &str, _: &[u8]) -> bool {
        true
    }
    fn start(&self, _: &str) -> Option<Box<dyn hornet_core::AuthExchange>> {
        None
    }
}

fn harness() -> Harness {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        auto_subscribe: vec![
            AutoSubscription {
                topic: "devices/%c/cmd".into(),
                qos: QoS::AtLeastOnce,
            },
            AutoSubscription {
                topic: "users/${username}/#".into(),
                qos: QoS::AtMostOnce,
            },
        ],
        ..Settings::default()
    });
    h.broker.set_authenticator(Box::new(Anyone));
    h
}

fn filters(h: &Harness, client: &str) -> Vec<(String, QoS)> {
    let mut rows: Vec<(String, QoS)> = h
        .broker
        .admin_subscriptions()
        .into_iter()
        .filter(|r| r.client_id == client)
        .map(|r| (r.filter.to_string(), r.qos))
        .collect();
    rows.sort();
    rows
}

#[test]
fn every_client_is_subscribed_to_its_templates_at_connect() {
    let mut h = harness();
    let mut c = Connect::new(Protocol::V5, "d1");
    c.username = Some("ann".into());
    c.password = Some("secret".into());
    let (d1, ack) = h.connect_with(c);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    // No SUBACK: the client never sent SUBSCRIBE.
    assert!(h.take(d1).is_empty());
    assert_eq!(
        filters(&h, "d1"),
        [
            ("devices/d1/cmd".to_string(), QoS::AtLeastOnce),
            ("users/ann/#".to_string(), QoS::AtMostOnce)
        ]
    );
    let p = h.connect_v5("app", 0);
    h.publish(p, "devices/d1/cmd", "reboot", QoS::AtLeastOnce, false);
    h.publish(p, "users/ann/inbox", "hello", QoS::AtMostOnce, false);
    h.publish(p, "devices/d2/cmd", "not for d1", QoS::AtMostOnce, false);
    assert_eq!(payloads(&h.take(d1)), ["reboot", "hello"]);
}

#[test]
fn a_template_needing_a_user_name_or_with_an_unsafe_id_is_skipped() {
    let mut h = harness();
    h.connect_v5("anonymous-device", 0);
    assert_eq!(
        filters(&h, "anonymous-device"),
        [("devices/anonymous-device/cmd".to_string(), QoS::AtLeastOnce)]
    );
    // A client named `#` must not be subscribed to `devices/#/cmd`-like
    // widened filters (here: not a filter at all) nor anything else.
    h.connect_v5("#", 0);
    h.connect_v5("a+b", 0);
    assert!(filters(&h, "#").is_empty());
    assert!(filters(&h, "a+b").is_empty());
}

#[test]
fn retained_messages_follow_and_a_resumed_session_keeps_one_subscription() {
    let mut h = harness();
    let p = h.connect_v5("app", 0);
    h.publish(p, "devices/d7/cmd", "pending", QoS::AtLeastOnce, true);
    h.take(p);
    let d7 = h.connect("d7", Protocol::V3_1_1, false);
    let got = h.take(d7);
    assert!(
        matches!(&got[..], [Packet::Publish(m)] if m.retain && &m.payload[..] == b"pending"),
        "{got:?}"
    );
    h.close(d7);
    let d7 = h.connect("d7", Protocol::V3_1_1, false);
    h.take(d7);
    assert_eq!(filters(&h, "d7").len(), 1);
}
