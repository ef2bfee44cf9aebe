//! Read-side flow control under floods (`backlog`), against a virtual
//! clock: a publisher whose messages take a subscriber's queue to
//! `backlog_pause_messages` is paused while that queue drains, for about
//! the time the subscriber needs to drain half of it; a subscriber that
//! writes nothing for `backlog_pause_stall` pauses nobody, and its queue
//! limits drop (counted) as without the rule; nothing is lost.

mod support;

#[path = "support/logs.rs"]
mod logs;

use std::time::Duration;

use hornet_codec::{Protocol, QoS};
use hornet_core::Settings;
use support::{publishes, Harness};

fn world(max_queued_messages: usize) -> Harness {
    Harness::with(Settings {
        sys_interval: None,
        max_unwritten_packets: 4,
        max_queued_messages,
        backlog_pause_messages: 5,
        backlog_pause_stall: Duration::from_millis(100),
        ..Settings::default()
    })
}

#[test]
fn a_draining_backlog_pauses_its_publisher_for_half_its_drain_time() {
    let mut w = world(1000);
    let sub = w.connect("sub", Protocol::V3_1_1, true);
    w.subscribe(sub, "q", QoS::AtMostOnce);
    let other = w.connect("other", Protocol::V3_1_1, true);
    w.subscribe(other, "elsewhere", QoS::AtMostOnce);
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    let calm = w.connect("calm", Protocol::V3_1_1, true);
    // CONNACK and SUBACK take half the budget of 4; 2 go out, 18 queue.
    for i in 0..20 {
        w.publish(publisher, "q", &i.to_string(), QoS::AtMostOnce, false);
    }
    assert_eq!(
        w.broker.read_pause(publisher, w.now),
        Some(Duration::from_millis(1)),
        "a queue just begun counts as drained until now, at an unknown rate: the shortest pause"
    );
    w.written(sub, 4);
    w.publish(publisher, "q", "20", QoS::AtMostOnce, false);
    assert_eq!(
        w.broker.read_pause(publisher, w.now),
        Some(Duration::from_millis(1)),
        "4 written, no time passed: the shortest pause"
    );
    w.advance(Duration::from_millis(10));
    w.written(sub, 4); // 8 packets in 10 ms: 800 a second
    w.publish(publisher, "q", "21", QoS::AtMostOnce, false);
    // 12 queued: 6 of them take 7.5 ms at 800/s.
    let pause = w.broker.read_pause(publisher, w.now).expect("paused");
    assert!(
        (pause.as_secs_f64() - 0.0075).abs() < 1e-6,
        "{pause:?} for half of 12 messages at 800/s"
    );
    // A publisher whose messages go elsewhere is read on.
    w.publish(calm, "elsewhere", "x", QoS::AtMostOnce, false);
    assert_eq!(w.broker.read_pause(calm, w.now), None);
    // The pause is asked after the publisher's own packets only.
    w.publish(publisher, "q", "22", QoS::AtMostOnce, false);
    assert_eq!(w.broker.read_pause(calm, w.now), None);
    // Nothing was dropped or reordered: everything arrives once written.
    let mut got = publishes(&w.take(sub));
    while w.written(sub, 4) > 0 {
        got.extend(publishes(&w.take(sub)));
    }
    let payloads: Vec<String> = got
        .iter()
        .map(|p| String::from_utf8(p.payload.to_vec()).unwrap())
        .collect();
    let expected: Vec<String> = (0..23).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
    assert_eq!(w.broker.stats().publish_dropped, 0);
    // Drained: the publisher is read on.
    w.publish(publisher, "q", "23", QoS::AtMostOnce, false);
    assert_eq!(w.broker.read_pause(publisher, w.now), None);
}

#[test]
fn a_stuck_subscriber_stops_pausing_after_the_stall_and_its_queue_limit_drops() {
    let mut w = world(30);
    let sub = w.connect("sub", Protocol::V3_1_1, true);
    w.subscribe(sub, "q", QoS::AtMostOnce);
    let publisher = w.connect("pub", Protocol::V3_1_1, true);
    for i in 0..20 {
        w.publish(publisher, "q", &i.to_string(), QoS::AtMostOnce, false);
    }
    w.written(sub, 4);
    w.publish(publisher, "q", "more", QoS::AtMostOnce, false);
    assert!(w.broker.read_pause(publisher, w.now).is_some());
    // The subscriber writes nothing more. A pause never outlasts what is
    // left of the stall bound.
    w.advance(Duration::from_millis(99));
    w.publish(publisher, "q", "more", QoS::AtMostOnce, false);
    assert_eq!(
        w.broker.read_pause(publisher, w.now),
        Some(Duration::from_millis(1))
    );
    w.advance(Duration::from_millis(1));
    let lines = logs::logged(|| {
        for _ in 0..40 {
            w.publish(publisher, "q", "more", QoS::AtMostOnce, false);
            assert_eq!(w.broker.read_pause(publisher, w.now), None, "stalled");
        }
    });
    let stalled: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("taken no message from its queue"))
        .collect();
    assert_eq!(stalled.len(), 1, "logged once per episode: {lines:?}");
    assert!(stalled[0].contains("Client sub"), "{}", stalled[0]);
    assert!(
        w.broker.stats().dropped_queue_full > 0,
        "max_queued_messages applies as without the rule"
    );
}

/// Large messages reach `backlog_pause_bytes` long before the message
/// count: with the message half off, a queue of 1,000 payload bytes
/// pauses the publisher feeding it, a queue under it does not, and with
/// both halves off nobody is paused.
#[test]
fn a_queue_of_backlog_pause_bytes_pauses_its_publisher_too() {
    for (bytes, pauses_at) in [(1000, Some(5)), (0, None)] {
        let mut w = Harness::with(Settings {
            sys_interval: None,
            max_unwritten_packets: 4,
            backlog_pause_messages: 0,
            backlog_pause_bytes: bytes,
            ..Settings::default()
        });
        let sub = w.connect("sub", Protocol::V3_1_1, true);
        w.subscribe(sub, "q", QoS::AtMostOnce);
        let publisher = w.connect("pub", Protocol::V3_1_1, true);
        // CONNACK and SUBACK take half the budget of 4; 2 go out, the
        // rest queue, 300 bytes each.
        let big = "x".repeat(300);
        let mut paused_at = None;
        for i in 0..8 {
            w.publish(publisher, "q", &big, QoS::AtMostOnce, false);
            if paused_at.is_none() && w.broker.read_pause(publisher, w.now).is_some() {
                paused_at = Some(i);
            }
        }
        // After message i, i - 1 are queued (2 went out): 900 bytes after
        // message 4, 1,200 after message 5.
        assert_eq!(paused_at, pauses_at, "backlog_pause_bytes {bytes}");
        while w.written(sub, 4) > 0 {
            w.take(sub);
        }
        assert_eq!(w.broker.stats().publish_dropped, 0);
    }
}
