//! Topic rewrite rules (EMQX's `rewrite`) through the broker: PUBLISH
//! topics, SUBSCRIBE and UNSUBSCRIBE filters are rewritten before the
//! rest of the broker sees them.

mod support;

use hornet_codec::{Packet, QoS, ReasonCode, Unsubscribe};
use hornet_core::{RewriteAction, RewriteRule, Settings};
use support::{payloads, pid, Harness};

fn harness() -> Harness {
    Harness::with(Settings {
        sys_interval: None,
        rewrite: vec![
            RewriteRule {
                action: RewriteAction::All,
                source_topic: "x/#".into(),
                re: r"^x/y/(.+)$".into(),
                dest_topic: "z/y/$1".into(),
            },
            RewriteRule {
                action: RewriteAction::Subscribe,
                source_topic: "mine/#".into(),
                re: r"^mine/(.+)$".into(),
                dest_topic: "clients/%c/$1".into(),
            },
        ],
        ..Settings::default()
    })
}

#[test]
fn publish_and_subscribe_are_rewritten_alike() {
    let mut h = harness();
    let sub = h.connect_v5("sub", 0);
    // Subscribes to z/y/+ in fact.
    assert_eq!(
        h.subscribe(sub, "x/y/+", QoS::AtMostOnce),
        vec![ReasonCode::Success]
    );
    let rows = h.broker.admin_subscriptions();
    assert_eq!(rows[0].filter, "z/y/+");
    let p = h.connect_v5("pub", 0);
    h.publish(p, "x/y/1", "via x", QoS::AtMostOnce, false);
    h.publish(p, "z/y/2", "direct", QoS::AtMostOnce, false);
    let got = h.take(sub);
    assert_eq!(payloads(&got), ["via x", "direct"]);
    let Packet::Publish(first) = &got[0] else {
        panic!()
    };
    assert_eq!(first.topic, "z/y/1", "delivered under the rewritten topic");
    // UNSUBSCRIBE with the name the client used finds it.
    h.send(sub, Unsubscribe::new(pid(2), "x/y/+"));
    match h.take(sub).first() {
        Some(Packet::UnsubAck(a)) => assert_eq!(a.reason_codes, vec![ReasonCode::Success]),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.broker.subscription_count(), 0);
}

#[test]
fn a_subscribe_only_rule_with_the_client_id() {
    let mut h = harness();
    let sub = h.connect_v5("dev1", 0);
    h.subscribe(sub, "mine/inbox", QoS::AtMostOnce);
    assert_eq!(
        h.broker.admin_subscriptions()[0].filter,
        "clients/dev1/inbox"
    );
    let p = h.connect_v5("pub", 0);
    // Not rewritten for PUBLISH: `mine/inbox` reaches nobody.
    h.publish(p, "mine/inbox", "lost", QoS::AtMostOnce, false);
    h.publish(p, "clients/dev1/inbox", "hello", QoS::AtMostOnce, false);
    assert_eq!(payloads(&h.take(sub)), ["hello"]);
}
