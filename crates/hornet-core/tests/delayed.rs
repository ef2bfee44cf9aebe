//! Delayed publish (`$delayed/{seconds}/{topic}`, EMQX's) on the virtual
//! clock: held, then published to the topic when due (the broker's
//! `next_deadline` wakes the shell for it); refused when malformed, too
//! long or over the count; recorded for the store and restored with the
//! time spent down counted; listed and cancelled through the admin calls.

mod support;

use std::time::Duration;

use hornet_codec::{Protocol, Publish, QoS, ReasonCode};
use hornet_core::persist::{Restored, RestoredDelayed, StoreOp};
use hornet_core::{AckPolicy, Broker, Settings};
use support::{message, payloads, pid, publishes, Harness};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn a_delayed_message_is_published_to_its_topic_when_due_and_not_before() {
    let mut h = Harness::new();
    let sub = h.connect_v5("sub", 0);
    h.subscribe(sub, "alarm/#", QoS::AtLeastOnce);
    let publisher = h.connect_v5("pub", 0);
    let before = h.now;
    let mut p = message("$delayed/30/alarm/wake", "ring", QoS::AtLeastOnce);
    p.packet_id = Some(pid(7));
    // Acknowledged at once, as any PUBLISH.
    assert_eq!(h.publish_flow(publisher, p), ReasonCode::Success);
    assert!(h.broker.next_deadline() <= Some(before + secs(30)));
    // The harness ticks only at the deadlines the broker reports: the
    // delivery at 30 s shows `next_deadline` included it.
    h.advance(secs(29));
    assert!(h.take(sub).is_empty(), "not before its time");
    h.advance(secs(1));
    let got = publishes(&h.take(sub));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].topic, "alarm/wake");
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    assert_eq!(got[0].payload.as_ref(), b"ring");
    assert!(h.broker.admin_delayed().is_empty(), "nothing left held");
}

#[test]
fn messages_come_due_in_their_own_order_and_retain_is_kept() {
    let mut h = Harness::new();
    let sub = h.connect_v5("sub", 0);
    h.subscribe(sub, "t/#", QoS::AtMostOnce);
    let publisher = h.connect_v5("pub", 0);
    h.publish(
        publisher,
        "$delayed/20/t/late",
        "late",
        QoS::AtMostOnce,
        false,
    );
    h.publish(
        publisher,
        "$delayed/10/t/soon",
        "soon",
        QoS::AtMostOnce,
        true,
    );
    h.publish(publisher, "$delayed/0/t/now", "now", QoS::AtMostOnce, false);
    assert_eq!(payloads(&h.take(sub)), vec!["now"], "0 s: at once");
    h.advance(secs(10));
    assert_eq!(payloads(&h.take(sub)), vec!["soon"]);
    h.advance(secs(10));
    assert_eq!(payloads(&h.take(sub)), vec!["late"]);
    // Published with RETAIN: a later subscriber gets it.
    let late = h.connect_v5("late", 0);
    h.subscribe(late, "t/soon", QoS::AtMostOnce);
    assert_eq!(payloads(&h.take(late)), vec!["soon"]);
}

#[test]
fn bad_delays_are_refused_with_reason_codes() {
    let mut h = Harness::with(Settings {
        sys_interval: None,
        max_delayed_interval: 60,
        max_delayed_messages: 1,
        ..Settings::default()
    });
    let c = h.connect_v5("c", 0);
    let flow = |h: &mut Harness, topic: &str| {
        let mut p = message(topic, "x", QoS::AtLeastOnce);
        p.packet_id = Some(pid(1));
        h.publish_flow(c, p)
    };
    assert_eq!(
        flow(&mut h, "$delayed/soon/t"),
        ReasonCode::TopicNameInvalid
    );
    assert_eq!(flow(&mut h, "$delayed/5"), ReasonCode::TopicNameInvalid);
    assert_eq!(
        flow(&mut h, "$delayed/61/t"),
        ReasonCode::ImplementationSpecificError
    );
    // Held: nobody can tell yet whether it will match.
    assert_eq!(flow(&mut h, "$delayed/60/t"), ReasonCode::Success);
    assert_eq!(flow(&mut h, "$delayed/5/t"), ReasonCode::QuotaExceeded);
    // The $SYS rule applies to the final topic.
    assert_eq!(flow(&mut h, "$delayed/0/$SYS/x"), ReasonCode::NotAuthorized);
    assert_eq!(h.broker.admin_delayed().len(), 1);
}

#[test]
fn mqtt3_refusals_are_dropped_and_switched_off_the_prefix_is_a_topic() {
    let mut h = Harness::new();
    let c = h.connect("c", Protocol::V3_1_1, true);
    h.publish(c, "$delayed/x/t", "x", QoS::AtMostOnce, false);
    assert!(h.broker.admin_delayed().is_empty());
    assert!(!h.is_closed(c));

    let mut h = Harness::with(Settings {
        sys_interval: None,
        delayed_publish: false,
        ..Settings::default()
    });
    let sub = h.connect_v5("sub", 0);
    h.subscribe(sub, "$delayed/#", QoS::AtMostOnce);
    let c = h.connect_v5("c", 0);
    h.publish(c, "$delayed/5/t", "plain", QoS::AtMostOnce, false);
    assert_eq!(payloads(&h.take(sub)), vec!["plain"]);
    assert!(h.broker.admin_delayed().is_empty());
}

#[test]
fn the_admin_lists_and_cancels_held_messages() {
    let mut h = Harness::new();
    let sub = h.connect_v5("sub", 0);
    h.subscribe(sub, "t", QoS::AtMostOnce);
    let c = h.connect_v5("pub", 0);
    h.publish(c, "$delayed/10/t", "one", QoS::AtMostOnce, false);
    h.publish(c, "$delayed/20/t", "two", QoS::AtMostOnce, false);
    let rows = h.broker.admin_delayed();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].topic, "t");
    assert_eq!(rows[0].from, "pub");
    assert_eq!(rows[0].due, h.now + secs(10));
    assert!(h.broker.admin_cancel_delayed(rows[0].id));
    assert!(!h.broker.admin_cancel_delayed(rows[0].id), "once");
    h.advance(secs(20));
    assert_eq!(payloads(&h.take(sub)), vec!["two"]);
}

#[test]
fn a_held_message_is_recorded_and_its_publication_or_cancellation_too() {
    let mut h = Harness::persistent(AckPolicy::AfterDurable);
    let c = h.connect_v5("pub", 0);
    h.take_records();
    h.publish(c, "$delayed/10/t", "one", QoS::AtMostOnce, false);
    h.publish(c, "$delayed/20/t", "two", QoS::AtMostOnce, false);
    let ops = h.take_records();
    let ids: Vec<u64> = ops
        .iter()
        .filter_map(|op| match op {
            StoreOp::DelayedSet {
                id,
                publish,
                from,
                delay,
                ..
            } => {
                assert_eq!(publish.topic, "t");
                assert_eq!(from, "pub");
                assert!(*delay == 10 || *delay == 20);
                Some(*id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ops:?}");
    assert!(h.broker.admin_cancel_delayed(ids[1]));
    h.advance(secs(10));
    let cleared: Vec<u64> = h
        .take_records()
        .iter()
        .filter_map(|op| match op {
            StoreOp::DelayedCleared { id } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(cleared, vec![ids[1], ids[0]]);
}

#[test]
fn restored_messages_fall_due_when_they_were_due_counting_the_time_down() {
    let now = std::time::Instant::now();
    let mut broker = Broker::new(
        Settings {
            sys_interval: None,
            ..Settings::default()
        },
        now,
    );
    broker.enable_persistence(AckPolicy::AfterDurable);
    let now_ms = 1_700_000_000_000;
    broker.set_wall_clock(now, now_ms);
    let held = |id, topic: &str, due_ms| RestoredDelayed {
        id,
        publish: Publish::new(topic.to_string(), "x"),
        from: "gone".into(),
        delay: 3600,
        due_ms,
    };
    broker.restore(
        now,
        Restored {
            delayed: vec![
                // Due while the broker was down: at once.
                held(4, "overdue", now_ms - 5_000),
                held(9, "later", now_ms + 7_000),
                // No wall clock then: the delay counts from the restart.
                held(2, "unknown", 0),
            ],
            ..Restored::default()
        },
    );
    assert_eq!(broker.next_deadline(), Some(now));
    let ids: Vec<u64> = broker.admin_delayed().iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![2, 4, 9]);
    let dues: Vec<_> = broker.admin_delayed().iter().map(|r| r.due).collect();
    assert_eq!(dues, vec![now + secs(3600), now, now + secs(7)]);
    broker.tick(now);
    assert_eq!(broker.admin_delayed().len(), 2, "the overdue one went out");
    // New ids follow the restored ones.
    let mut h = Harness::new();
    h.broker = broker;
    let c = h.connect_v5("c", 0);
    h.publish(c, "$delayed/1/t", "x", QoS::AtMostOnce, false);
    let ids: Vec<u64> = h.broker.admin_delayed().iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![2, 9, 10]);
}
