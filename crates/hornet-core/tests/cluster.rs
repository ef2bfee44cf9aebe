//! The cluster's rules on the virtual clock: two (or three) cores wired
//! together by a test relay that plays the shell's node links (each
//! cluster action of one core becomes the matching input of another), so
//! routes, forwarding, `$local/`, retained sync, resync and node death are
//! proved without a socket or etcd (`crates/hornet/tests/cluster.rs` runs
//! the real processes).

mod support;

use std::time::Duration;

use hornet_codec::{Packet, Protocol, QoS, ReasonCode};
use hornet_core::{Action, RouteUpdate};
use support::{message, payloads, Harness};

/// A core that is node `name` of a cluster, its wall clock at the same
/// Unix time as every other node's when made.
fn node(name: &str, incarnation: u64) -> Harness {
    let mut h = Harness::new();
    h.broker.set_wall_clock(h.now, 1_800_000_000_000);
    h.broker.enable_cluster(name, incarnation);
    h
}

/// The cluster actions in `h`'s log since `mark`.
fn cluster_actions(h: &Harness, mark: usize) -> Vec<Action> {
    h.since(mark)
        .into_iter()
        .filter(|a| {
            matches!(
                a,
                Action::Forward { .. }
                    | Action::Routes { .. }
                    | Action::Retain { .. }
                    | Action::Will { .. }
                    | Action::Takeover { .. }
                    | Action::Resync { .. }
            )
        })
        .collect()
}

/// Opens the link `from` → `to` as the shell does: membership says `from`
/// is alive, then its route snapshot and its retained set (each write
/// applied only if newer than what `to` holds).
fn link(from: &Harness, from_name: &str, to: &mut Harness) {
    let now = to.now;
    to.broker.node_alive(now, from_name);
    let snapshot = from.broker.cluster_snapshot().expect("a cluster node");
    to.broker.node_routes(now, from_name, snapshot);
    to.broker
        .node_wills(now, from_name, from.broker.cluster_wills(from.now));
    for write in from.broker.cluster_retained(now) {
        to.broker
            .node_retained(now, from_name, write.topic, write.message, write.stamp);
    }
    to.pump();
}

/// Carries `from`'s cluster actions since `mark` to `to` (named
/// `to_name`), as the link would; returns how many messages it forwarded
/// to `to`.
fn relay(from: &Harness, from_name: &str, mark: usize, to: &mut Harness, to_name: &str) -> usize {
    let now = to.now;
    let mut forwarded = 0;
    for action in cluster_actions(from, mark) {
        match action {
            Action::Routes { update } => to.broker.node_route_update(now, from_name, update),
            Action::Forward {
                node,
                publish,
                plain,
                groups,
                ..
            } if node == to_name => {
                forwarded += 1;
                to.broker
                    .node_publish_to(now, from_name, *publish, plain, groups);
            }
            Action::Retain {
                topic,
                message,
                stamp,
            } => to
                .broker
                .node_retained(now, from_name, topic, message.map(|m| *m), stamp),
            Action::Will {
                client_id,
                will,
                due_in,
            } => to
                .broker
                .node_will(now, from_name, client_id, will.map(|w| *w), due_in),
            Action::Takeover { client_id, stamp } => to
                .broker
                .node_client_connected(now, from_name, client_id, stamp),
            _ => {}
        }
    }
    to.pump();
    forwarded
}

#[test]
fn a_filter_is_announced_once_however_many_sessions_hold_it() {
    let mut h = node("n1", 1);
    let a = h.connect("a", Protocol::V5, true);
    let b = h.connect("b", Protocol::V5, true);
    let mark = h.mark();
    h.subscribe(a, "t/+", QoS::AtLeastOnce);
    h.subscribe(b, "t/+", QoS::AtMostOnce);
    let routes = cluster_actions(&h, mark);
    assert!(
        matches!(
            &routes[..],
            [Action::Routes {
                update: RouteUpdate {
                    added: true,
                    seq: 1,
                    ..
                }
            }]
        ),
        "{routes:?}"
    );
    let mark = h.mark();
    h.close(a);
    assert!(cluster_actions(&h, mark).is_empty(), "b still holds it");
    h.close(b);
    let routes = cluster_actions(&h, mark);
    assert!(
        matches!(
            &routes[..],
            [Action::Routes {
                update: RouteUpdate {
                    added: false,
                    seq: 2,
                    ..
                }
            }]
        ),
        "the last holder's session ended: withdrawn {routes:?}"
    );
}

#[test]
fn local_and_sys_subscriptions_stay_on_their_node() {
    let mut h = node("n1", 1);
    let a = h.connect("a", Protocol::V5, true);
    let mark = h.mark();
    h.subscribe(a, "$local/t/1", QoS::AtMostOnce);
    h.subscribe(a, "$SYS/#", QoS::AtMostOnce);
    assert!(cluster_actions(&h, mark).is_empty());
    assert_eq!(h.broker.cluster_exported(), 0);
    // An exported subscription that is replaced by a `$local/` one is
    // withdrawn.
    h.subscribe(a, "t/3", QoS::AtMostOnce);
    let mark = h.mark();
    h.subscribe(a, "$local/t/3", QoS::AtMostOnce);
    let routes = cluster_actions(&h, mark);
    assert!(
        matches!(
            &routes[..],
            [Action::Routes {
                update: RouteUpdate { added: false, .. }
            }]
        ),
        "{routes:?}"
    );
}

#[test]
fn a_publish_crosses_once_per_node_with_a_match_and_is_delivered_there() {
    let (mut n1, mut n2, mut n3) = (node("n1", 1), node("n2", 2), node("n3", 3));
    // Two subscribers on n1 with overlapping filters; nobody on n3.
    let s1 = n1.connect("s1", Protocol::V5, true);
    let s2 = n1.connect("s2", Protocol::V3_1_1, true);
    n1.subscribe(s1, "sensors/#", QoS::AtLeastOnce);
    n1.subscribe(s1, "sensors/+/temp", QoS::AtLeastOnce);
    n1.subscribe(s2, "sensors/hall/temp", QoS::AtMostOnce);
    link(&n1, "n1", &mut n2);
    link(&n3, "n3", &mut n2);

    let publisher = n2.connect("p", Protocol::V5, true);
    let mark = n2.mark();
    let reason = n2.publish_flow(
        publisher,
        message("sensors/hall/temp", "21", QoS::AtLeastOnce),
    );
    // Only a node matched: the publisher is told Success, not 0x10.
    assert_eq!(reason, ReasonCode::Success);
    let forwards: Vec<_> = cluster_actions(&n2, mark)
        .into_iter()
        .filter_map(|a| match a {
            Action::Forward { node, publish, .. } => Some((node.to_string(), publish.qos)),
            _ => None,
        })
        .collect();
    assert_eq!(forwards, vec![("n1".to_string(), QoS::AtLeastOnce)]);

    let n1_mark = n1.mark();
    assert_eq!(relay(&n2, "n2", mark, &mut n1, "n1"), 1);
    let got1 = n1.receive(s1);
    assert_eq!(got1.len(), 1, "one copy per session [MQTT-3.3.4-2]");
    assert_eq!(got1[0].qos, QoS::AtLeastOnce);
    assert_eq!(n1.receive(s2).len(), 1);
    // Delivered on n1, never forwarded again.
    assert!(cluster_actions(&n1, n1_mark)
        .iter()
        .all(|a| !matches!(a, Action::Forward { .. })));
    assert_eq!(relay(&n2, "n2", mark, &mut n3, "n3"), 0);
    let row = n1.broker.cluster_nodes();
    assert_eq!((row[0].name.as_str(), row[0].received), ("n2", 1));
}

#[test]
fn nobody_anywhere_is_still_no_matching_subscribers() {
    let (n1, mut n2) = (node("n1", 1), node("n2", 2));
    link(&n1, "n1", &mut n2);
    let p = n2.connect("p", Protocol::V5, true);
    let reason = n2.publish_flow(p, message("a", "x", QoS::AtLeastOnce));
    assert_eq!(reason, ReasonCode::NoMatchingSubscribers);
}

#[test]
fn route_deltas_reach_the_other_node_and_local_filters_do_not() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    link(&n1, "n1", &mut n2);
    let s = n1.connect("s", Protocol::V5, true);
    let mark = n1.mark();
    n1.subscribe(s, "live/#", QoS::AtMostOnce);
    n1.subscribe(s, "$local/here/#", QoS::AtMostOnce);
    relay(&n1, "n1", mark, &mut n2, "n2");
    assert_eq!(n2.broker.cluster_nodes()[0].routes, 1);

    let p = n2.connect("p", Protocol::V5, true);
    let mark = n2.mark();
    n2.publish(p, "live/1", "a", QoS::AtMostOnce, false);
    n2.publish(p, "here/1", "b", QoS::AtMostOnce, false);
    assert_eq!(relay(&n2, "n2", mark, &mut n1, "n1"), 1);
    assert_eq!(payloads(&n1.take(s)), vec!["a"]);

    // Unsubscribed: withdrawn on n2 too.
    let mark = n1.mark();
    n1.send(s, hornet_codec::Unsubscribe::new(support::pid(9), "live/#"));
    relay(&n1, "n1", mark, &mut n2, "n2");
    assert_eq!(n2.broker.cluster_nodes()[0].routes, 0);
}

#[test]
fn a_gap_or_a_new_incarnation_asks_for_a_snapshot() {
    let (n1, mut n2) = (node("n1", 5), node("n2", 2));
    link(&n1, "n1", &mut n2);
    let mark = n2.mark();
    let now = n2.now;
    let skipped = RouteUpdate {
        incarnation: 5,
        seq: 2,
        filter: "x".into(),
        added: true,
        members: 0,
    };
    n2.broker.node_route_update(now, "n1", skipped);
    n2.pump();
    let actions = cluster_actions(&n2, mark);
    assert!(
        matches!(&actions[..], [Action::Resync { node }] if node == "n1"),
        "{actions:?}"
    );
    assert_eq!(n2.broker.cluster_nodes()[0].routes, 0, "not applied");
}

#[test]
fn retained_sets_and_deletes_travel_and_a_joining_node_gets_the_set() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let p = n1.connect("p", Protocol::V5, true);
    n1.publish(p, "config/a", "1", QoS::AtMostOnce, true);
    // n2 joins later: the link's initial set fills it.
    link(&n1, "n1", &mut n2);
    assert_eq!(n2.broker.retained_count(), 1);

    let mark = n1.mark();
    n1.publish(p, "config/b", "2", QoS::AtMostOnce, true);
    n1.publish(p, "config/a", "", QoS::AtMostOnce, true);
    relay(&n1, "n1", mark, &mut n2, "n2");
    let s = n2.connect("s", Protocol::V5, true);
    n2.subscribe(s, "config/#", QoS::AtMostOnce);
    let got: Vec<Packet> = n2.take(s);
    assert_eq!(
        payloads(&got),
        vec!["2"],
        "a/ deleted, b/ set [MQTT-3.3.1-6]"
    );

    // A link's initial set does not overwrite a newer write (last write
    // wins; `cluster_retained.rs` has the rest of the rules).
    let mut n3 = node("n3", 3);
    let q = n3.connect("q", Protocol::V5, true);
    n3.advance(std::time::Duration::from_millis(5));
    n3.publish(q, "config/b", "mine", QoS::AtMostOnce, true);
    link(&n1, "n1", &mut n3);
    let s3 = n3.connect("s3", Protocol::V5, true);
    n3.subscribe(s3, "config/b", QoS::AtMostOnce);
    assert_eq!(payloads(&n3.take(s3)), vec!["mine"]);
}

#[test]
fn sys_topics_never_cross() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let s = n1.connect("s", Protocol::V5, true);
    n1.subscribe(s, "#", QoS::AtMostOnce);
    link(&n1, "n1", &mut n2);
    let a = n2.connect("a", Protocol::V5, true);
    let mark = n2.mark();
    n2.broker.node_retained(
        n2.now,
        "n1",
        "$SYS/broker/x".into(),
        None,
        Default::default(),
    );
    n2.publish(a, "$SYS/broker/x", "no", QoS::AtMostOnce, true);
    assert!(cluster_actions(&n2, mark).is_empty());
}

#[test]
fn a_dead_node_loses_its_routes_and_gets_nothing_more() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let s = n1.connect("s", Protocol::V5, true);
    n1.subscribe(s, "a", QoS::AtMostOnce);
    link(&n1, "n1", &mut n2);
    let p = n2.connect("p", Protocol::V5, true);
    let now = n2.now;
    n2.broker.node_dead(now, "n1");
    let mark = n2.mark();
    n2.publish(p, "a", "x", QoS::AtMostOnce, false);
    assert!(cluster_actions(&n2, mark).is_empty());
    let row = &n2.broker.cluster_nodes()[0];
    assert!(!row.alive);
    assert_eq!(row.routes, 0);
}

#[test]
fn cluster_state_is_published_under_sys() {
    let mut h = Harness::with(hornet_core::Settings::default());
    h.broker.enable_cluster("n1", 1);
    let now = h.now;
    h.broker.node_alive(now, "n2");
    let s = h.connect("s", Protocol::V5, true);
    h.subscribe(s, "$SYS/broker/cluster/#", QoS::AtMostOnce);
    h.advance(std::time::Duration::from_secs(11));
    let got = h.take(s);
    let topics: Vec<String> = got
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(format!(
                "{}={}",
                p.topic,
                String::from_utf8_lossy(&p.payload)
            )),
            _ => None,
        })
        .collect();
    for want in [
        "$SYS/broker/cluster/node=n1",
        "$SYS/broker/cluster/nodes/alive=2",
        "$SYS/broker/cluster/nodes/n2/state=alive",
    ] {
        assert!(topics.iter().any(|t| t == want), "{want} in {topics:?}");
    }
}

/// Connects `client_id` (MQTT 5) with a will to `topic`.
fn connect_with_will(h: &mut Harness, client_id: &str, topic: &str) -> hornet_core::ConnId {
    let mut connect = hornet_codec::Connect::new(Protocol::V5, client_id);
    connect.will = Some(hornet_codec::LastWill {
        topic: topic.into(),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    h.connect_with(connect).0
}

#[test]
fn the_wills_of_a_dead_nodes_clients_are_published_by_the_election_winner_only() {
    let (mut n1, mut n2, mut n3) = (node("n1", 1), node("n2", 2), node("n3", 3));
    link(&n1, "n1", &mut n2); // before the clients: their wills arrive as deltas
    let mark = n1.mark();
    connect_with_will(&mut n1, "early", "wills/early");
    let late = connect_with_will(&mut n1, "late", "wills/late");
    link(&n1, "n1", &mut n3); // after them: in the link's initial set
    assert_eq!(n3.broker.cluster_nodes()[0].wills, 2);
    // [MQTT-3.1.2-10]: a normal DISCONNECT discards the will.
    n1.send(late, hornet_codec::Disconnect::new(ReasonCode::Success));
    connect_with_will(&mut n1, "late2", "wills/late2");
    relay(&n1, "n1", mark, &mut n2, "n2");
    relay(&n1, "n1", mark, &mut n3, "n3");
    assert_eq!(n2.broker.cluster_nodes()[0].wills, 2);
    assert_eq!(n3.broker.cluster_nodes()[0].wills, 2);

    let s2 = n2.connect("s2", Protocol::V5, true);
    n2.subscribe(s2, "wills/#", QoS::AtLeastOnce);
    let s3 = n3.connect("s3", Protocol::V5, true);
    n3.subscribe(s3, "wills/#", QoS::AtLeastOnce);
    let (now2, now3) = (n2.now, n3.now);
    n2.broker.node_dead(now2, "n1");
    n3.broker.node_dead(now3, "n1");
    // n2 won the election: it publishes; n3 lost: it drops its copies.
    assert_eq!(n2.broker.dead_node_wills(now2, "n1", true), 2);
    n2.pump();
    assert_eq!(n3.broker.dead_node_wills(now3, "n1", false), 2);
    n3.pump();
    let mut got: Vec<String> = n2.receive(s2).iter().map(|p| p.topic.to_string()).collect();
    got.sort();
    assert_eq!(got, vec!["wills/early", "wills/late2"]);
    assert!(n3.receive(s3).is_empty());
    // Once: a second report publishes nothing.
    assert_eq!(n2.broker.dead_node_wills(now2, "n1", true), 0);
}

#[test]
fn a_will_published_on_its_own_node_is_dropped_on_the_others() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    link(&n1, "n1", &mut n2);
    let s = n2.connect("s", Protocol::V5, true);
    n2.subscribe(s, "wills/#", QoS::AtLeastOnce);
    let mark = n1.mark();
    let d = connect_with_will(&mut n1, "d", "wills/d");
    // An abnormal end publishes it on n1 itself ([MQTT-3.1.2-8]).
    n1.close(d);
    relay(&n1, "n1", mark, &mut n2, "n2");
    assert_eq!(n2.broker.cluster_nodes()[0].wills, 0);
    let now = n2.now;
    n2.broker.node_dead(now, "n1");
    assert_eq!(n2.broker.dead_node_wills(now, "n1", true), 0);
    n2.pump();
    assert!(n2.receive(s).is_empty());
}

#[test]
fn a_connect_on_another_node_takes_the_client_over() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let old = n1.connect("dup", Protocol::V5, true);
    let other = n1.connect("other", Protocol::V3_1_1, true);
    let mark = n2.mark();
    n2.connect("dup", Protocol::V5, true);
    relay(&n2, "n2", mark, &mut n1, "n1");
    // [MQTT-3.1.4-3]: the existing connection is closed, MQTT 5 with
    // DISCONNECT 0x8E Session taken over.
    n1.expect_disconnect(old, ReasonCode::SessionTakenOver);
    assert!(!n1.is_closed(other));
    // The announcement crosses once, and a node without the client id
    // does nothing.
    let announced = cluster_actions(&n2, mark)
        .iter()
        .filter(|a| matches!(a, Action::Takeover { client_id, .. } if client_id == "dup"))
        .count();
    assert_eq!(announced, 1);
    let mut n3 = node("n3", 3);
    relay(&n2, "n2", mark, &mut n3, "n3");
    assert_eq!(n3.broker.clients_connected(), 0);
}

/// The stamp `h` announced for `client_id` since `mark`.
fn announced_stamp(h: &Harness, mark: usize, client_id: &str) -> hornet_core::Stamp {
    cluster_actions(h, mark)
        .into_iter()
        .find_map(|a| match a {
            Action::Takeover {
                client_id: c,
                stamp,
            } if c == client_id => Some(stamp),
            _ => None,
        })
        .expect("a Takeover announcement")
}

/// Issue 18: "concurrent CONNECTs with one id on two nodes leave exactly
/// one winner". Two clean CONNECTs with one client id, one on each node,
/// announcements crossing (each node hears of the other's CONNECT after
/// its own): the newer CONNECT by the cluster's clock wins on both nodes,
/// the other gets DISCONNECT 0x8E [MQTT-3.1.4-3]; whichever node's clock
/// is ahead, and with equal clocks (the node name breaks the tie).
#[test]
fn concurrent_connects_on_two_nodes_leave_exactly_one_winner() {
    for n2_ahead_ms in [-7i64, 0, 7] {
        let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
        let ahead = Duration::from_millis(n2_ahead_ms.unsigned_abs());
        if n2_ahead_ms > 0 {
            n2.advance(ahead);
        } else {
            n1.advance(ahead);
        }
        let (m1, m2) = (n1.mark(), n2.mark());
        let c1 = n1.connect("dup", Protocol::V5, true);
        let c2 = n2.connect("dup", Protocol::V5, true);
        let (s1, s2) = (
            announced_stamp(&n1, m1, "dup"),
            announced_stamp(&n2, m2, "dup"),
        );
        assert_ne!(s1, s2);
        // Both announcements are in flight; each arrives after the
        // receiving node's own CONNECT.
        relay(&n1, "n1", m1, &mut n2, "n2");
        relay(&n2, "n2", m2, &mut n1, "n1");
        let (mut winner, mut loser, won, lost) = if s2 > s1 {
            (n2, n1, c2, c1)
        } else {
            (n1, n2, c1, c2)
        };
        loser.expect_disconnect(lost, ReasonCode::SessionTakenOver);
        assert!(!winner.is_closed(won), "skew {n2_ahead_ms} ms: both lost");
        assert!(winner.take(won).is_empty());
        assert_eq!(winner.broker.clients_connected(), 1);
        assert_eq!(loser.broker.clients_connected(), 0);
        assert_eq!(
            (n2_ahead_ms >= 0),
            s2 > s1,
            "the later clock (n2 on a tie) makes the newer stamp"
        );
    }
}

/// A client that moves from n1 to n2 faster than one link hop: n1's
/// announcement of its old connection reaches n2 after the new CONNECT
/// there (and again, as a link reset resends it). The connection on n2
/// stays; the one on n1 is taken over with DISCONNECT 0x8E
/// [MQTT-3.1.4-3].
#[test]
fn a_late_announcement_of_an_older_connection_takes_nothing_over() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let m1 = n1.mark();
    let old = n1.connect("mover", Protocol::V5, true);
    n1.advance(Duration::from_millis(3));
    n2.advance(Duration::from_millis(3));
    let m2 = n2.mark();
    let new = n2.connect("mover", Protocol::V5, true);
    relay(&n2, "n2", m2, &mut n1, "n1");
    n1.expect_disconnect(old, ReasonCode::SessionTakenOver);
    relay(&n1, "n1", m1, &mut n2, "n2"); // late
    relay(&n1, "n1", m1, &mut n2, "n2"); // resent after a link reset
    assert!(!n2.is_closed(new));
    assert!(n2.take(new).is_empty());
    assert_eq!(n2.broker.clients_connected(), 1);
}

/// The cluster's clock, not the wall clock, orders CONNECTs: a node whose
/// wall clock is 5 s behind, having heard of a connection on another
/// node, stamps its own later CONNECT newer, so the client's move to it
/// wins on both nodes, even when the old announcement comes again.
#[test]
fn a_connect_after_hearing_of_another_wins_whatever_the_wall_clocks() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let now = n1.now;
    n1.broker.set_wall_clock(now, 1_800_000_000_000 - 5_000);
    let m2 = n2.mark();
    let old = n2.connect("mover", Protocol::V5, true);
    relay(&n2, "n2", m2, &mut n1, "n1");
    n1.advance(Duration::from_millis(1));
    let m1 = n1.mark();
    let new = n1.connect("mover", Protocol::V5, true);
    assert!(announced_stamp(&n1, m1, "mover") > announced_stamp(&n2, m2, "mover"));
    relay(&n1, "n1", m1, &mut n2, "n2");
    n2.expect_disconnect(old, ReasonCode::SessionTakenOver);
    relay(&n2, "n2", m2, &mut n1, "n1"); // resent after a link reset
    assert!(!n1.is_closed(new));
    assert_eq!(n1.broker.clients_connected(), 1);
}

#[test]
fn assigned_client_ids_are_unique_across_nodes() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let assigned = |h: &mut Harness| {
        let (_, ack) = h.connect_with(hornet_codec::Connect::new(Protocol::V5, ""));
        ack.properties
            .iter()
            .find_map(|p| match p {
                hornet_codec::Property::AssignedClientIdentifier(id) => Some(id.to_string()),
                _ => None,
            })
            .expect("[MQTT-3.2.2-16] an assigned id")
    };
    let (a, b) = (assigned(&mut n1), assigned(&mut n2));
    assert_ne!(a, b);
    assert!(
        a.starts_with("auto-n1-") && b.starts_with("auto-n2-"),
        "{a} {b}"
    );
}

/// Subscriptions a node holds when it joins (restored from its store
/// after a restart) are announced by the filter the other nodes route
/// by: an `$exclusive/` one by its filter without the prefix, as when it
/// is made on a node already in the cluster.
#[test]
fn subscriptions_held_before_joining_are_announced_by_their_filter() {
    let mut h = Harness::with(hornet_core::Settings::default());
    let c = h.connect("holder", Protocol::V5, false);
    h.subscribe(c, "$exclusive/x/y", QoS::AtLeastOnce);
    h.subscribe(c, "p/q", QoS::AtMostOnce);
    h.broker.enable_cluster("n1", 1);
    let mut filters: Vec<String> = h
        .broker
        .cluster_snapshot()
        .expect("clustered")
        .filters
        .iter()
        .map(|f| f.to_string())
        .collect();
    filters.sort();
    assert_eq!(filters, ["p/q", "x/y"]);
}

/// A `$local/` subscription of a persistent session stays local after a
/// restart: its store record keeps the mark, so the restored session does
/// not announce it when the node joins again (it was exported before the
/// mark was stored). Its messages still reach it on its own node.
#[test]
fn a_restored_local_subscription_stays_local() {
    use hornet_core::persist::{Restored, RestoredSession, StoreOp};
    // (Subscribed before the node joins: a persistent CONNECT in a
    // cluster waits for etcd, which this test does not play. The mark is
    // kept on a single broker too.)
    let mut n1 = Harness::persistent(hornet_core::AckPolicy::Immediate);
    let c = n1.connect("holder", Protocol::V5, false);
    n1.subscribe(c, "$local/here/#", QoS::AtLeastOnce);
    n1.subscribe(c, "there/#", QoS::AtLeastOnce);
    let mut restored = Restored::default();
    for op in n1.take_records() {
        if let StoreOp::Session(record) = op {
            restored.sessions.retain(|s| s.record.key != record.key);
            restored.sessions.push(RestoredSession {
                record,
                inflight: Vec::new(),
                queue: Vec::new(),
                incoming_qos2: Vec::new(),
                will: None,
                connected_will: None,
            });
        }
    }
    let subs = &restored.sessions[0].record.subscriptions;
    let marks: Vec<(&str, bool)> = subs.iter().map(|s| (&*s.filter, s.local)).collect();
    assert_eq!(marks, [("here/#", true), ("there/#", false)]);

    let mut again = Harness::persistent(hornet_core::AckPolicy::Immediate);
    again.broker.restore(again.now, restored);
    let back = again.connect("holder", Protocol::V5, false);
    again.broker.enable_cluster("n1", 2);
    let filters: Vec<String> = again
        .broker
        .cluster_snapshot()
        .expect("clustered")
        .filters
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(filters, ["there/#"]);
    // Still a subscription here, and still marked local when the session
    // is stored again.
    let p = again.connect("p", Protocol::V5, true);
    again.publish(p, "here/x", "local", QoS::AtMostOnce, false);
    assert_eq!(payloads(&again.take(back)), ["local"]);
    let stored: Vec<Vec<(String, bool)>> = again
        .take_records()
        .into_iter()
        .filter_map(|op| match op {
            StoreOp::Session(r) if r.client_id == "holder" => Some(
                r.subscriptions
                    .iter()
                    .map(|s| (s.filter.to_string(), s.local))
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    let expected = vec![("here/#".to_string(), true), ("there/#".to_string(), false)];
    assert_eq!(stored.last(), Some(&expected), "{stored:?}");
}
