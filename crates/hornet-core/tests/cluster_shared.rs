//! Shared subscriptions (`$share/{group}/{filter}`, `$queue/{filter}`)
//! across a cluster, on the virtual clock: two or three cores wired by a
//! test relay that plays the node links. Each message reaches one member
//! per group in the whole cluster (MQTT 5.0 §4.8.2: "each message is
//! delivered to only one of the sessions that share the subscription"),
//! members on every node get a share, and members that leave a node move
//! the deliveries elsewhere.

mod support;

use std::collections::HashMap;

use hornet_codec::{Protocol, QoS, ReasonCode};
use hornet_core::{Action, ConnId};
use support::{message, Harness};

/// A core that is node `name` of a cluster.
fn node(name: &str, incarnation: u64) -> Harness {
    let mut h = Harness::new();
    h.broker.enable_cluster(name, incarnation);
    h
}

/// The cluster actions in `h`'s log since `mark`.
fn cluster_actions(h: &Harness, mark: usize) -> Vec<Action> {
    h.since(mark)
        .into_iter()
        .filter(|a| matches!(a, Action::Forward { .. } | Action::Routes { .. }))
        .collect()
}

/// The link `from` → `to` as the shell opens it: alive, then the snapshot.
fn link(from: &Harness, from_name: &str, to: &mut Harness) {
    let now = to.now;
    to.broker.node_alive(now, from_name);
    let snapshot = from.broker.cluster_snapshot().expect("a cluster node");
    to.broker.node_routes(now, from_name, snapshot);
    to.pump();
}

/// Carries `from`'s route deltas and its forwards to `to_name` since
/// `mark` into `to`; returns the forwards carried.
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
            _ => {}
        }
    }
    to.pump();
    forwarded
}

/// Payloads each of `members` got, by member name.
fn shares(h: &mut Harness, members: &[(&str, ConnId)], got: &mut HashMap<String, Vec<String>>) {
    for (name, conn) in members {
        for p in h.receive(*conn) {
            got.entry(name.to_string())
                .or_default()
                .push(String::from_utf8_lossy(&p.payload).into_owned());
        }
    }
}

#[test]
fn each_message_reaches_one_member_per_group_in_the_whole_cluster() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    // Group g: one member on n1, two on n2. `$queue`: one member, on n2.
    let a = n1.connect("a", Protocol::V5, true);
    let b = n2.connect("b", Protocol::V5, true);
    let c = n2.connect("c", Protocol::V3_1_1, true);
    let q = n2.connect("q", Protocol::V5, true);
    n1.subscribe(a, "$share/g/jobs/#", QoS::AtLeastOnce);
    n2.subscribe(b, "$share/g/jobs/#", QoS::AtLeastOnce);
    n2.subscribe(c, "$share/g/jobs/+", QoS::AtLeastOnce);
    n2.subscribe(q, "$queue/jobs/#", QoS::AtLeastOnce);
    link(&n1, "n1", &mut n2);
    link(&n2, "n2", &mut n1);
    let p1 = n1.connect("p1", Protocol::V5, true);
    let p2 = n2.connect("p2", Protocol::V5, true);

    let mut got = HashMap::new();
    for i in 0..60 {
        // Publishers on both nodes, alternately.
        let (from, from_name, to, to_name, p) = if i % 2 == 0 {
            (&mut n1, "n1", &mut n2, "n2", p1)
        } else {
            (&mut n2, "n2", &mut n1, "n1", p2)
        };
        let mark = from.mark();
        let reason = from.publish_flow(p, message("jobs/x", &format!("m{i}"), QoS::AtLeastOnce));
        assert_eq!(reason, ReasonCode::Success);
        let forwards = relay(from, from_name, mark, to, to_name);
        assert!(forwards <= 1, "at most one forward per node and message");
        shares(&mut n1, &[("a", a)], &mut got);
        shares(&mut n2, &[("b", b), ("c", c), ("q", q)], &mut got);
    }
    // `$share/g/jobs/#` and `$share/g/jobs/+` are two groups (one filter
    // each) — a group is its name and its filter [MQTT-4.8.2]: `jobs/#`
    // has a and b, `jobs/+` has c only.
    let mut g_hash: Vec<String> = got["a"].iter().chain(&got["b"]).cloned().collect();
    g_hash.sort();
    let mut all: Vec<String> = (0..60).map(|i| format!("m{i}")).collect();
    all.sort();
    assert_eq!(g_hash, all, "every message once across a (n1) and b (n2)");
    assert_eq!(got["a"].len(), 30, "a member on each node: half each");
    assert_eq!(got["b"].len(), 30);
    let mut c_got = got["c"].clone();
    c_got.sort();
    assert_eq!(c_got, all, "the only member of jobs/+ gets every message");
    let mut q_got = got["q"].clone();
    q_got.sort();
    assert_eq!(q_got, all, "the only $queue member, on the other node");
}

#[test]
fn members_are_weighted_by_count_over_three_nodes() {
    let (mut n1, mut n2, mut n3) = (node("n1", 1), node("n2", 2), node("n3", 3));
    // None on the publishing node; one on n2, two on n3.
    let b = n2.connect("b", Protocol::V5, true);
    let c1 = n3.connect("c1", Protocol::V5, true);
    let c2 = n3.connect("c2", Protocol::V5, true);
    n2.subscribe(b, "$share/w/t", QoS::AtMostOnce);
    n3.subscribe(c1, "$share/w/t", QoS::AtMostOnce);
    n3.subscribe(c2, "$share/w/t", QoS::AtMostOnce);
    link(&n2, "n2", &mut n1);
    link(&n3, "n3", &mut n1);
    let p = n1.connect("p", Protocol::V5, true);
    let mut got = HashMap::new();
    for i in 0..30 {
        let mark = n1.mark();
        let reason = n1.publish_flow(p, message("t", &format!("m{i}"), QoS::AtLeastOnce));
        assert_eq!(
            reason,
            ReasonCode::Success,
            "members elsewhere count as a match"
        );
        let to2 = relay(&n1, "n1", mark, &mut n2, "n2");
        let to3 = relay(&n1, "n1", mark, &mut n3, "n3");
        assert_eq!(to2 + to3, 1, "one node serves the group");
        shares(&mut n2, &[("b", b)], &mut got);
        shares(&mut n3, &[("c1", c1), ("c2", c2)], &mut got);
    }
    assert_eq!(got["b"].len(), 10);
    assert_eq!(got["c1"].len() + got["c2"].len(), 20);
    assert!(!got["c1"].is_empty() && !got["c2"].is_empty());
}

#[test]
fn members_leaving_a_node_move_its_deliveries() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let a = n1.connect("a", Protocol::V5, true);
    let b = n2.connect("b", Protocol::V5, true);
    n1.subscribe(a, "$share/g/t", QoS::AtMostOnce);
    n2.subscribe(b, "$share/g/t", QoS::AtMostOnce);
    link(&n2, "n2", &mut n1);
    let p = n1.connect("p", Protocol::V5, true);
    let send = |n1: &mut Harness, n2: &mut Harness, i: usize| {
        let mark = n1.mark();
        n1.publish(p, "t", &format!("m{i}"), QoS::AtMostOnce, false);
        relay(n1, "n1", mark, n2, "n2")
    };
    let forwarded: usize = (0..4).map(|i| send(&mut n1, &mut n2, i)).sum();
    assert_eq!(forwarded, 2, "n2's member gets half");
    assert_eq!(n2.receive(b).len(), 2);
    assert_eq!(n1.receive(a).len(), 2);

    // b leaves (its clean session ends): n2 announces 0 members.
    let mark = n2.mark();
    n2.close(b);
    assert!(
        cluster_actions(&n2, mark).iter().any(|a| matches!(
            a,
            Action::Routes { update } if update.members == 0 && !update.added
        )),
        "the count's change is announced"
    );
    relay(&n2, "n2", mark, &mut n1, "n1");
    let forwarded: usize = (4..10).map(|i| send(&mut n1, &mut n2, i)).sum();
    assert_eq!(forwarded, 0, "no member left on n2: nothing goes there");
    assert_eq!(n1.receive(a).len(), 6, "a gets every message now");

    // a leaves too, and a member joins on n2: deliveries go there.
    n1.close(a);
    let mark = n2.mark();
    let b2 = n2.connect("b2", Protocol::V5, true);
    n2.subscribe(b2, "$share/g/t", QoS::AtMostOnce);
    relay(&n2, "n2", mark, &mut n1, "n1");
    let forwarded: usize = (10..13).map(|i| send(&mut n1, &mut n2, i)).sum();
    assert_eq!(forwarded, 3);
    assert_eq!(n2.receive(b2).len(), 3);
}

#[test]
fn a_group_that_lost_its_member_while_a_message_crossed_drops_it_counted() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let b = n2.connect("b", Protocol::V5, true);
    let plain = n2.connect("plain", Protocol::V5, true);
    n2.subscribe(b, "$share/g/t", QoS::AtMostOnce);
    n2.subscribe(plain, "t", QoS::AtMostOnce);
    link(&n2, "n2", &mut n1);
    let p = n1.connect("p", Protocol::V5, true);
    let mark = n1.mark();
    n1.publish(p, "t", "m", QoS::AtMostOnce, false);
    // One forward carries both: the plain route and the group's turn.
    let forwards: Vec<(bool, Vec<String>)> = cluster_actions(&n1, mark)
        .into_iter()
        .filter_map(|a| match a {
            Action::Forward { plain, groups, .. } => {
                Some((plain, groups.iter().map(|g| g.to_string()).collect()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(forwards, vec![(true, vec!["$share/g/t".to_string()])]);
    // b leaves before the message arrives.
    n2.close(b);
    relay(&n1, "n1", mark, &mut n2, "n2");
    assert_eq!(
        n2.receive(plain).len(),
        1,
        "the plain subscriber still gets it"
    );
    assert_eq!(n2.broker.cluster_shared_dropped(), 1);
}

#[test]
fn a_forwarded_message_does_not_reach_the_receivers_own_groups() {
    // n2 has a plain subscriber and a group member; n1 has the only other
    // member. A message forwarded for the plain route alone must not be
    // delivered to n2's group as well (that would be a second delivery).
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let a = n1.connect("a", Protocol::V5, true);
    let b = n2.connect("b", Protocol::V5, true);
    let plain = n2.connect("plain", Protocol::V5, true);
    n1.subscribe(a, "$share/g/t", QoS::AtMostOnce);
    n2.subscribe(b, "$share/g/t", QoS::AtMostOnce);
    n2.subscribe(plain, "t", QoS::AtMostOnce);
    link(&n2, "n2", &mut n1);
    let p = n1.connect("p", Protocol::V5, true);
    for i in 0..6 {
        let mark = n1.mark();
        n1.publish(p, "t", &format!("m{i}"), QoS::AtMostOnce, false);
        assert_eq!(relay(&n1, "n1", mark, &mut n2, "n2"), 1);
    }
    assert_eq!(n2.receive(plain).len(), 6);
    assert_eq!(
        n1.receive(a).len() + n2.receive(b).len(),
        6,
        "once per message"
    );
}

#[test]
fn a_leaving_members_unacknowledged_messages_go_to_a_member_on_another_node() {
    // MQTT 5.0 §4.8.2: if a member's session ends with messages it has not
    // acknowledged, the server SHOULD send them to another member; here
    // the only other member is on another node.
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    let a = n1.connect("a", Protocol::V5, true);
    let b = n2.connect("b", Protocol::V5, true);
    n1.subscribe(a, "$share/g/t", QoS::AtLeastOnce);
    n2.subscribe(b, "$share/g/t", QoS::AtLeastOnce);
    link(&n1, "n1", &mut n2);
    link(&n2, "n2", &mut n1);
    let p = n1.connect("p", Protocol::V5, true);
    for i in 0..4 {
        let mark = n1.mark();
        n1.publish_flow(p, message("t", &format!("m{i}"), QoS::AtLeastOnce));
        relay(&n1, "n1", mark, &mut n2, "n2");
    }
    // b got its half and acknowledges none of it.
    let unacked = support::publishes(&n2.take(b));
    assert_eq!(unacked.len(), 2);
    let mut got: Vec<String> = n1
        .receive(a)
        .iter()
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect();
    assert_eq!(got.len(), 2);
    let mark = n2.mark();
    n2.close(b);
    assert_eq!(
        relay(&n2, "n2", mark, &mut n1, "n1"),
        2,
        "b's unacknowledged messages cross to the other member's node"
    );
    got.extend(
        n1.receive(a)
            .iter()
            .map(|p| String::from_utf8_lossy(&p.payload).into_owned()),
    );
    got.sort();
    assert_eq!(got, vec!["m0", "m1", "m2", "m3"]);
}
