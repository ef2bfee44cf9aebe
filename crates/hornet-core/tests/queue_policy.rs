//! Offline queue policies: `latest` keeps one message per topic,
//! `drop_oldest` makes room by dropping the oldest, `drop_newest` (the
//! default) drops the arriving one; chosen per topic by the first matching
//! rule; the store forgets what the queue no longer holds.

mod support;

use hornet_codec::{Protocol, QoS};
use hornet_core::persist::StoreOp;
use hornet_core::{AckPolicy, QueuePolicy, Settings};
use support::{payloads, Harness};

fn with(policy: QueuePolicy, rules: &[(&str, QueuePolicy)], max: usize) -> Harness {
    Harness::with(Settings {
        sys_interval: None,
        max_queued_messages: max,
        queue_policy: policy,
        queue_policies: rules.iter().map(|(f, p)| (f.to_string(), *p)).collect(),
        ..Settings::default()
    })
}

/// An offline persistent subscriber to `#`; returns a publisher.
fn offline_subscriber(h: &mut Harness) -> hornet_core::ConnId {
    let sub = h.connect("sub", Protocol::V3_1_1, false);
    h.subscribe(sub, "#", QoS::AtLeastOnce);
    h.close(sub);
    h.connect("pub", Protocol::V3_1_1, true)
}

fn publish_all(h: &mut Harness, publisher: hornet_core::ConnId, msgs: &[(&str, &str)]) {
    for (topic, payload) in msgs {
        h.publish(publisher, topic, payload, QoS::AtLeastOnce, false);
    }
}

fn reconnect_and_receive(h: &mut Harness) -> Vec<String> {
    let sub = h.connect("sub", Protocol::V3_1_1, false);
    let got = h.receive(sub);
    got.iter()
        .map(|p| format!("{}={}", p.topic, String::from_utf8_lossy(&p.payload)))
        .collect()
}

#[test]
fn latest_gives_a_returning_client_the_current_value_of_each_topic() {
    let mut h = with(QueuePolicy::Latest, &[], 1000);
    let p = offline_subscriber(&mut h);
    publish_all(
        &mut h,
        p,
        &[
            ("temp", "20"),
            ("humidity", "40"),
            ("temp", "21"),
            ("temp", "22"),
        ],
    );
    assert_eq!(h.broker.queue_state("sub").unwrap().queued, 2);
    assert_eq!(h.broker.queue_state("sub").unwrap().dropped, 0);
    assert_eq!(h.broker.stats().queue_replaced, 2);
    assert_eq!(reconnect_and_receive(&mut h), ["humidity=40", "temp=22"]);
}

#[test]
fn drop_oldest_keeps_the_newest_messages_when_full() {
    let mut h = with(QueuePolicy::DropOldest, &[], 2);
    let p = offline_subscriber(&mut h);
    publish_all(&mut h, p, &[("t", "1"), ("t", "2"), ("t", "3"), ("t", "4")]);
    assert_eq!(h.broker.queue_state("sub").unwrap().dropped, 2);
    assert_eq!(reconnect_and_receive(&mut h), ["t=3", "t=4"]);
}

#[test]
fn drop_newest_is_the_default_and_keeps_the_oldest() {
    let mut h = with(QueuePolicy::default(), &[], 2);
    let p = offline_subscriber(&mut h);
    publish_all(&mut h, p, &[("t", "1"), ("t", "2"), ("t", "3")]);
    assert_eq!(h.broker.queue_state("sub").unwrap().dropped, 1);
    assert_eq!(reconnect_and_receive(&mut h), ["t=1", "t=2"]);
}

#[test]
fn the_first_rule_matching_the_topic_decides() {
    let mut h = with(
        QueuePolicy::DropNewest,
        &[
            ("devices/+/state", QueuePolicy::Latest),
            ("devices/#", QueuePolicy::DropNewest),
        ],
        1000,
    );
    let p = offline_subscriber(&mut h);
    publish_all(
        &mut h,
        p,
        &[
            ("devices/1/state", "off"),
            ("devices/1/log", "a"),
            ("devices/1/state", "on"),
            ("devices/1/log", "b"),
        ],
    );
    assert_eq!(
        reconnect_and_receive(&mut h),
        ["devices/1/log=a", "devices/1/state=on", "devices/1/log=b"]
    );
}

#[test]
fn a_message_the_queue_no_longer_holds_leaves_the_store() {
    let mut h = Harness::persistent(AckPolicy::AfterDurable);
    h.broker = hornet_core::Broker::new(
        Settings {
            sys_interval: None,
            queue_policy: QueuePolicy::Latest,
            ..Settings::default()
        },
        h.now,
    );
    h.broker.enable_persistence(AckPolicy::AfterDurable);
    let sub = h.connect_v5("sub", 600);
    h.subscribe(sub, "t", QoS::AtLeastOnce);
    h.close(sub);
    let p = h.connect_v5("pub", 0);
    h.take_records();
    h.publish(p, "t", "old", QoS::AtLeastOnce, false);
    h.publish(p, "t", "new", QoS::AtLeastOnce, false);
    let ops = h.take_records();
    let first = ops
        .iter()
        .find_map(|op| match op {
            StoreOp::Queued { message, .. } => Some(*message),
            _ => None,
        })
        .expect("queued");
    assert!(
        ops.iter()
            .any(|op| matches!(op, StoreOp::Unqueued { message, .. } if *message == first)),
        "{ops:?}"
    );
    let sub = h.connect_v5("sub", 600);
    assert_eq!(payloads(&h.take(sub)), ["new"]);
}

#[test]
fn a_session_with_limits_of_its_own_drops_by_them_and_others_by_the_brokers() {
    // A bridge's outbox (`bridge_max_queued_messages 2`): its local session
    // keeps two, an ordinary client the broker's five.
    let mut limits = std::collections::BTreeMap::new();
    limits.insert(
        "bridge-local".to_string(),
        hornet_core::QueueLimits {
            max_messages: Some(2),
            max_bytes: None,
            owner: "bridge b1".into(),
        },
    );
    let mut h = Harness::with(Settings {
        sys_interval: None,
        max_queued_messages: 5,
        queue_limits: limits,
        ..Settings::default()
    });
    for id in ["bridge-local", "other"] {
        let c = h.connect(id, Protocol::V3_1_1, false);
        h.subscribe(c, "#", QoS::AtLeastOnce);
        h.close(c);
    }
    let p = h.connect("pub", Protocol::V3_1_1, true);
    for n in 0..8 {
        h.publish(p, "t", &n.to_string(), QoS::AtLeastOnce, false);
    }
    let bridge = h.broker.queue_state("bridge-local").unwrap();
    assert_eq!((bridge.queued, bridge.dropped), (2, 6));
    assert_eq!(h.broker.session_backlog("bridge-local"), Some((2, 6)));
    let other = h.broker.queue_state("other").unwrap();
    assert_eq!((other.queued, other.dropped), (5, 3));
}
