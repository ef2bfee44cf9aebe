//! Retained messages across a cluster on the virtual clock: every write
//! carries a stamp (hybrid logical clock), a node applies a write only if
//! it is newer than what it holds (last write wins), and deletes are kept
//! as tombstones so an older copy never fills a deleted topic again — on
//! deltas and on a link's initial set alike. Two or three cores are wired
//! by a test relay that plays the shell's links, and links are "cut"
//! simply by not relaying (`crates/hornet/tests/cluster_retained.rs` runs
//! the real processes).

mod support;

use std::time::Duration;

use hornet_codec::{Packet, Property, Protocol, QoS};
use hornet_core::persist::{Restored, StoreOp};
use hornet_core::{AckPolicy, Action, Stamp};
use support::{payloads, Harness};

/// The Unix time every node's wall clock shows when it is made.
const T0_MS: u64 = 1_800_000_000_000;

/// A core that is node `name` of a cluster, its wall clock `skew_ms`
/// ahead of (or behind) `T0_MS`.
fn node_skewed(name: &str, skew_ms: i64) -> Harness {
    let mut h = Harness::new();
    h.broker
        .set_wall_clock(h.now, T0_MS.saturating_add_signed(skew_ms));
    h.broker.enable_cluster(name, 1);
    h
}

fn node(name: &str) -> Harness {
    node_skewed(name, 0)
}

/// Carries `from`'s retained writes since `mark` to `to`, as a link does.
fn relay(from: &Harness, from_name: &str, mark: usize, to: &mut Harness) {
    let now = to.now;
    for action in from.since(mark) {
        if let Action::Retain {
            topic,
            message,
            stamp,
        } = action
        {
            to.broker
                .node_retained(now, from_name, topic, message.map(|m| *m), stamp);
        }
    }
    to.pump();
}

/// Opens a link `from` → `to`: `from`'s whole retained set and tombstones.
fn link(from: &Harness, from_name: &str, to: &mut Harness) {
    let now = to.now;
    for w in from.broker.cluster_retained(now) {
        to.broker
            .node_retained(now, from_name, w.topic, w.message, w.stamp);
    }
    to.pump();
}

/// What a new subscriber to `filter` on `h` gets, sorted.
fn served(h: &mut Harness, filter: &str) -> Vec<String> {
    let s = h.connect("reader", Protocol::V5, true);
    h.subscribe(s, filter, QoS::AtMostOnce);
    let got: Vec<Packet> = h.take(s);
    h.close(s);
    let mut p = payloads(&got);
    p.sort();
    p
}

fn advance_all(nodes: &mut [&mut Harness], by: Duration) {
    for h in nodes {
        h.advance(by);
    }
}

/// Two nodes set one topic while their link is cut; whichever order the
/// writes then cross in, both serve the later write.
#[test]
fn concurrent_sets_on_two_nodes_converge_to_the_same_winner_on_both() {
    for n2_first in [false, true] {
        let (mut n1, mut n2) = (node("n1"), node("n2"));
        let (a, b) = (
            n1.connect("a", Protocol::V5, true),
            n2.connect("b", Protocol::V5, true),
        );
        let (m1, m2) = (n1.mark(), n2.mark());
        n1.publish(a, "config/x", "from-n1", QoS::AtMostOnce, true);
        advance_all(&mut [&mut n1, &mut n2], Duration::from_millis(3));
        n2.publish(b, "config/x", "from-n2", QoS::AtMostOnce, true);
        if n2_first {
            relay(&n2, "n2", m2, &mut n1);
            relay(&n1, "n1", m1, &mut n2);
        } else {
            relay(&n1, "n1", m1, &mut n2);
            relay(&n2, "n2", m2, &mut n1);
        }
        assert_eq!(
            served(&mut n1, "config/#"),
            ["from-n2"],
            "n2_first {n2_first}"
        );
        assert_eq!(
            served(&mut n2, "config/#"),
            ["from-n2"],
            "n2_first {n2_first}"
        );
        assert_eq!(
            n1.broker.retained_stamp("config/x"),
            n2.broker.retained_stamp("config/x")
        );
    }
}

/// Two writes in the same millisecond: the node name breaks the tie, the
/// same way on both nodes.
#[test]
fn a_tie_in_time_is_broken_by_the_node_name_on_both_nodes() {
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    let (a, b) = (
        n1.connect("a", Protocol::V5, true),
        n2.connect("b", Protocol::V5, true),
    );
    let (m1, m2) = (n1.mark(), n2.mark());
    n2.publish(b, "t", "n2", QoS::AtMostOnce, true);
    n1.publish(a, "t", "n1", QoS::AtMostOnce, true);
    relay(&n1, "n1", m1, &mut n2);
    relay(&n2, "n2", m2, &mut n1);
    assert_eq!(served(&mut n1, "t"), ["n2"]);
    assert_eq!(served(&mut n2, "t"), ["n2"]);
}

/// [MQTT-3.3.1-6] An empty retained PUBLISH deletes: a delete on n1 made
/// after a set on n2 wins on both nodes, even when the set arrives at n1
/// after the delete (and n1 never held the message).
#[test]
fn a_delete_on_one_node_beats_an_older_set_arriving_later() {
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    let (a, b) = (
        n1.connect("a", Protocol::V5, true),
        n2.connect("b", Protocol::V5, true),
    );
    let (m1, m2) = (n1.mark(), n2.mark());
    n2.publish(b, "lamp/state", "on", QoS::AtMostOnce, true);
    advance_all(&mut [&mut n1, &mut n2], Duration::from_millis(10));
    n1.publish(a, "lamp/state", "", QoS::AtMostOnce, true);
    assert_eq!(n1.broker.retained_tombstones(), 1);
    // The older set reaches n1 after its delete: refused.
    relay(&n2, "n2", m2, &mut n1);
    assert!(served(&mut n1, "lamp/#").is_empty());
    // The delete reaches n2: applied.
    relay(&n1, "n1", m1, &mut n2);
    assert!(served(&mut n2, "lamp/#").is_empty());
    assert_eq!(n2.broker.retained_tombstones(), 1);
}

/// A topic deleted on n1 while its link to n2 was cut: when the links
/// come back, n2's initial set (with the old copy) does not fill it again
/// on n1, and n1's initial set (with the tombstone) deletes it on n2. A
/// topic set on n2 during the cut reaches n1.
#[test]
fn a_snapshot_with_an_older_copy_does_not_resurrect_a_deleted_topic() {
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    let (a, b) = (
        n1.connect("a", Protocol::V5, true),
        n2.connect("b", Protocol::V5, true),
    );
    let m1 = n1.mark();
    n1.publish(a, "config/old", "v1", QoS::AtMostOnce, true);
    relay(&n1, "n1", m1, &mut n2);
    assert_eq!(served(&mut n2, "config/#"), ["v1"]);
    // The cut: nothing crosses.
    advance_all(&mut [&mut n1, &mut n2], Duration::from_secs(5));
    n1.publish(a, "config/old", "", QoS::AtMostOnce, true);
    n2.publish(b, "config/new", "v2", QoS::AtMostOnce, true);
    // The heal: each link starts with its sender's set.
    link(&n2, "n2", &mut n1);
    link(&n1, "n1", &mut n2);
    assert_eq!(served(&mut n1, "config/#"), ["v2"]);
    assert_eq!(served(&mut n2, "config/#"), ["v2"]);
    // And a second round of snapshots changes nothing.
    link(&n2, "n2", &mut n1);
    link(&n1, "n1", &mut n2);
    assert_eq!(served(&mut n1, "config/#"), ["v2"]);
    assert_eq!(served(&mut n2, "config/#"), ["v2"]);
}

/// A node whose wall clock is behind still orders its write after one it
/// has seen (the clock is hybrid): n2, 10 s behind, overwrites n1's
/// message after receiving it, and its write wins on both nodes.
#[test]
fn a_write_after_seeing_another_wins_even_with_a_slow_wall_clock() {
    let (mut n1, mut n2) = (node("n1"), node_skewed("n2", -10_000));
    let (a, b) = (
        n1.connect("a", Protocol::V5, true),
        n2.connect("b", Protocol::V5, true),
    );
    let m1 = n1.mark();
    n1.publish(a, "t", "first", QoS::AtMostOnce, true);
    relay(&n1, "n1", m1, &mut n2);
    let m2 = n2.mark();
    n2.publish(b, "t", "second", QoS::AtMostOnce, true);
    relay(&n2, "n2", m2, &mut n1);
    assert_eq!(served(&mut n1, "t"), ["second"]);
    assert_eq!(served(&mut n2, "t"), ["second"]);
}

/// Tombstones are forgotten after their time to live (here 60 s): then,
/// and only then, an older copy can fill the topic again.
#[test]
fn tombstones_expire_after_their_time_to_live() {
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    n1.broker
        .set_retained_tombstones(Duration::from_secs(60), 1_000);
    let (a, b) = (
        n1.connect("a", Protocol::V5, true),
        n2.connect("b", Protocol::V5, true),
    );
    n2.publish(b, "t", "stale", QoS::AtMostOnce, true);
    advance_all(&mut [&mut n1, &mut n2], Duration::from_millis(1));
    n1.publish(a, "t", "", QoS::AtMostOnce, true);
    n1.advance(Duration::from_secs(59));
    assert_eq!(n1.broker.retained_tombstones(), 1);
    link(&n2, "n2", &mut n1);
    assert!(served(&mut n1, "t").is_empty(), "kept: the delete wins");
    n1.advance(Duration::from_secs(1));
    assert_eq!(n1.broker.retained_tombstones(), 0, "forgotten at 60 s");
    link(&n2, "n2", &mut n1);
    assert_eq!(served(&mut n1, "t"), ["stale"], "nothing left to refuse it");
}

/// At most `max` tombstones are kept, the oldest forgotten first.
#[test]
fn tombstones_are_bounded_in_number() {
    let mut n1 = node("n1");
    n1.broker
        .set_retained_tombstones(Duration::from_secs(3600), 10);
    let a = n1.connect("a", Protocol::V5, true);
    for i in 0..25 {
        n1.publish(a, &format!("t/{i}"), "", QoS::AtMostOnce, true);
    }
    assert_eq!(n1.broker.retained_tombstones(), 10);
    assert!(n1.broker.retained_stamp("t/24").is_some());
    assert!(n1.broker.retained_stamp("t/14").is_none());
}

/// [MQTT-3.3.2-5] A retained message whose Message Expiry Interval passed
/// is removed on each node by its own clock, leaving a tombstone with the
/// write's own stamp: another node's copy of that write (stored there
/// later, so not yet expired) does not come back through a link's
/// initial set. A link's initial set carries what is left of the interval.
#[test]
fn an_expired_retained_message_is_not_brought_back_by_another_nodes_copy() {
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    let a = n1.connect("a", Protocol::V5, true);
    let m1 = n1.mark();
    let mut p = support::message("weather/now", "sunny", QoS::AtMostOnce);
    p.retain = true;
    p.properties.push(Property::MessageExpiryInterval(10));
    n1.send(a, p);
    // n2 gets it 3 s later (a slow link): it expires there at 13 s.
    advance_all(&mut [&mut n1, &mut n2], Duration::from_secs(3));
    relay(&n1, "n1", m1, &mut n2);
    advance_all(&mut [&mut n1, &mut n2], Duration::from_secs(8));
    assert!(served(&mut n1, "weather/#").is_empty(), "expired on n1");
    let initial = n2.broker.cluster_retained(n2.now);
    let expiry: Vec<_> = initial
        .iter()
        .filter_map(|w| w.message.as_ref()?.properties.message_expiry_interval())
        .collect();
    assert_eq!(expiry, [2], "what is left of it on n2");
    link(&n2, "n2", &mut n1);
    assert!(served(&mut n1, "weather/#").is_empty(), "not back");
}

/// Stamps and tombstones are recorded (`RetainSet` with the stamp,
/// `RetainTombstone`) and come back from the store: after a restart a
/// node still refuses a copy older than a delete it made before.
#[test]
fn stamps_and_tombstones_survive_a_restart() {
    let mut n1 = Harness::persistent(AckPolicy::Immediate);
    n1.broker.set_wall_clock(n1.now, T0_MS);
    n1.broker.enable_cluster("n1", 1);
    let a = n1.connect("a", Protocol::V5, true);
    n1.publish(a, "kept", "v", QoS::AtMostOnce, true);
    n1.publish(a, "gone", "x", QoS::AtMostOnce, true);
    n1.publish(a, "gone", "", QoS::AtMostOnce, true);
    let mut restored = Restored::default();
    for op in n1.take_records() {
        match op {
            StoreOp::RetainSet {
                publish,
                received_ms,
                stamp,
            } => restored.retained.push((publish, received_ms, stamp)),
            StoreOp::RetainTombstone { topic, stamp } => {
                restored.retained.retain(|(p, _, _)| p.topic != topic);
                restored.tombstones.push((topic, stamp));
            }
            _ => {}
        }
    }
    assert_eq!((restored.retained.len(), restored.tombstones.len()), (1, 1));
    let (kept, gone) = (
        n1.broker.retained_stamp("kept").expect("kept"),
        n1.broker.retained_stamp("gone").expect("a tombstone"),
    );

    let mut again = Harness::persistent(AckPolicy::Immediate);
    again.broker.set_wall_clock(again.now, T0_MS + 1_000);
    again.broker.restore(again.now, restored);
    again.broker.enable_cluster("n1", 2);
    assert_eq!(again.broker.retained_stamp("kept"), Some(kept));
    assert_eq!(again.broker.retained_stamp("gone"), Some(gone.clone()));
    // A copy of "gone" older than the delete, from a node cut off then.
    let older = Stamp {
        ms: gone.ms - 1,
        counter: 0,
        node: "n2".into(),
    };
    let msg = support::message("gone", "stale", QoS::AtMostOnce);
    again
        .broker
        .node_retained(again.now, "n2", "gone".into(), Some(msg), older);
    assert!(served(&mut again, "gone").is_empty());
    // A write made after the restart is newer than anything before it.
    let b = again.connect("b", Protocol::V5, true);
    again.publish(b, "gone", "new", QoS::AtMostOnce, true);
    assert!(again.broker.retained_stamp("gone").unwrap() > gone);
}

/// A record written before stamps restores with its receive time as the
/// stamp's time, so any later write wins over it.
#[test]
fn a_retained_message_from_an_old_store_is_ordered_by_its_receive_time() {
    let mut h = Harness::persistent(AckPolicy::Immediate);
    h.broker.set_wall_clock(h.now, T0_MS);
    let mut restored = Restored::default();
    let mut p = support::message("old", "v", QoS::AtMostOnce);
    p.retain = true;
    restored
        .retained
        .push((p, T0_MS - 5_000, Box::new(Stamp::default())));
    h.broker.restore(h.now, restored);
    h.broker.enable_cluster("n1", 1);
    let stamp = h.broker.retained_stamp("old").expect("restored");
    assert_eq!(
        (stamp.ms, stamp.counter, &*stamp.node),
        (T0_MS - 5_000, 0, "")
    );
    let newer = Stamp {
        ms: T0_MS - 4_000,
        counter: 0,
        node: "n2".into(),
    };
    let msg = support::message("old", "newer", QoS::AtMostOnce);
    h.broker
        .node_retained(h.now, "n2", "old".into(), Some(msg), newer);
    assert_eq!(served(&mut h, "old"), ["newer"]);
}
