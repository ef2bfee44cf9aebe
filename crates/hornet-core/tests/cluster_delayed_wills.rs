//! Wills with a Will Delay Interval in a cluster, on the virtual clock
//! ([MQTT-3.1.3-9]): the other nodes hold a copy of a will whose delay
//! runs, the election winner publishes it when due if its node dies
//! first, and a client that came back (or whose session moved) is not
//! sent it (`crates/hornet/tests/cluster_sessions.rs` runs the same with
//! real processes and etcd).

mod support;

use std::time::Duration;

use hornet_codec::{Connect, LastWill, Property, Protocol, QoS};
use hornet_core::{Action, ClaimResult, ConnId};
use support::Harness;

fn node(name: &str, incarnation: u64) -> Harness {
    let mut h = Harness::new();
    h.broker.enable_cluster(name, incarnation);
    h
}

/// Membership says `from` is alive on `to`, and `to` gets its wills (the
/// start of a link).
fn link(from: &Harness, from_name: &str, to: &mut Harness) {
    let now = to.now;
    to.broker.node_alive(now, from_name);
    to.broker
        .node_wills(now, from_name, from.broker.cluster_wills(from.now));
    to.pump();
}

/// Carries `from`'s will announcements since `mark` to `to`, as the link
/// would.
fn relay_wills(from: &Harness, from_name: &str, mark: usize, to: &mut Harness) {
    let now = to.now;
    for action in from.since(mark) {
        if let Action::Will {
            client_id,
            will,
            due_in,
        } = action
        {
            to.broker
                .node_will(now, from_name, client_id, will.map(|w| *w), due_in);
        }
    }
    to.pump();
}

/// A persistent client (session expiry `expiry` s) with a will to
/// `wills/{id}` delayed `delay` s, connected on `h` (its claim won).
fn connect_with_delayed_will(h: &mut Harness, id: &str, delay: u32, expiry: u32) -> ConnId {
    let mut c = Connect::new(Protocol::V5, id);
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(expiry));
    let mut properties = hornet_codec::Properties::default();
    properties.push(Property::WillDelayInterval(delay));
    c.will = Some(LastWill {
        topic: format!("wills/{id}").into(),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties,
    });
    let conn = h.open_loopback();
    h.send(conn, c);
    let now = h.now;
    h.broker.claim_result(
        now,
        conn,
        ClaimResult::Won {
            revision: 5,
            from: None,
        },
    );
    h.pump();
    h.take(conn);
    conn
}

fn topics(h: &mut Harness, conn: ConnId) -> Vec<String> {
    let mut got: Vec<String> = h
        .receive(conn)
        .iter()
        .map(|p| p.topic.to_string())
        .collect();
    got.sort();
    got
}

/// [MQTT-3.1.3-9]: a will whose delay runs when its node dies is
/// published by the node that won the election when the delay ends (at
/// once if it ended already: here the session's expiry, sooner than the
/// delay), not at the death and not lost.
#[test]
fn a_delayed_will_of_a_dead_nodes_client_is_published_when_its_delay_ends() {
    let (mut n1, mut n2, mut n3) = (node("n1", 1), node("n2", 2), node("n3", 3));
    link(&n1, "n1", &mut n2);
    let s = n2.connect("s", Protocol::V5, true);
    n2.subscribe(s, "wills/#", QoS::AtLeastOnce);
    let mark = n1.mark();
    let late = connect_with_delayed_will(&mut n1, "late", 30, 3600);
    let short = connect_with_delayed_will(&mut n1, "short", 60, 3);
    n1.close(late);
    n1.close(short);
    relay_wills(&n1, "n1", mark, &mut n2);
    assert_eq!(n2.broker.cluster_nodes()[0].wills, 2, "both copies held");
    // A node linked later gets them in the link's initial set.
    link(&n1, "n1", &mut n3);
    assert_eq!(n3.broker.cluster_nodes()[0].wills, 2);

    n2.advance(Duration::from_secs(10));
    let now = n2.now;
    n2.broker.node_dead(now, "n1");
    assert_eq!(n2.broker.dead_node_wills(now, "n1", true), 2);
    n2.pump();
    // The session of `short` expired after 3 s: its will is due already.
    assert_eq!(topics(&mut n2, s), vec!["wills/short"]);
    assert_eq!(n2.broker.cluster_pending_wills(), 1);
    n2.advance(Duration::from_secs(19));
    assert!(topics(&mut n2, s).is_empty(), "not before its delay ends");
    n2.advance(Duration::from_secs(1));
    assert_eq!(topics(&mut n2, s), vec!["wills/late"]);
    assert_eq!(n2.broker.cluster_pending_wills(), 0);
    n2.advance(Duration::from_secs(60));
    assert!(topics(&mut n2, s).is_empty(), "once");
}

/// A dead node's client claimed again before its will is due: on its own
/// node (back, its session resumed) the will is not sent [MQTT-3.1.3-9];
/// on another node (a new session: the old one ended) it is published at
/// once. A node that comes back takes the rest back (from its store).
#[test]
fn a_claim_before_the_delay_ends_cancels_or_publishes_a_dead_nodes_delayed_will() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    link(&n1, "n1", &mut n2);
    let s = n2.connect("s", Protocol::V5, true);
    n2.subscribe(s, "wills/#", QoS::AtLeastOnce);
    let mark = n1.mark();
    for id in ["back", "fresh", "third"] {
        let c = connect_with_delayed_will(&mut n1, id, 30, 3600);
        n1.close(c);
    }
    relay_wills(&n1, "n1", mark, &mut n2);
    let now = n2.now;
    n2.broker.node_dead(now, "n1");
    assert_eq!(n2.broker.dead_node_wills(now, "n1", true), 3);
    n2.pump();
    assert!(topics(&mut n2, s).is_empty());

    n2.broker.client_claimed(now, "back", "n1", 20);
    n2.broker.client_claimed(now, "fresh", "n3", 21);
    n2.pump();
    assert_eq!(topics(&mut n2, s), vec!["wills/fresh"]);
    let now = n2.now;
    n2.broker.node_alive(now, "n1");
    assert_eq!(n2.broker.cluster_pending_wills(), 0);
    n2.advance(Duration::from_secs(60));
    assert!(
        topics(&mut n2, s).is_empty(),
        "back: not sent; third: n1's again"
    );
}

/// A session whose client reconnects on another node moves there; its
/// will, waiting for its delay on the old node, is not sent there
/// [MQTT-3.1.3-9], and the other nodes drop their copy.
#[test]
fn a_moving_session_cancels_its_delayed_will_on_every_node() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    link(&n1, "n1", &mut n2);
    let s1 = n1.connect("s1", Protocol::V5, true);
    n1.subscribe(s1, "wills/#", QoS::AtLeastOnce);
    let mark = n1.mark();
    let c = connect_with_delayed_will(&mut n1, "mover", 30, 3600);
    n1.close(c);
    relay_wills(&n1, "n1", mark, &mut n2);
    assert_eq!(n2.broker.cluster_nodes()[0].wills, 1);
    // The client reconnects on n2: n1 sees the claim and sends the session.
    let mark = n1.mark();
    let now = n1.now;
    n1.broker.client_claimed(now, "mover", "n2", 9);
    n1.pump();
    relay_wills(&n1, "n1", mark, &mut n2);
    assert_eq!(n2.broker.cluster_nodes()[0].wills, 0, "the copy dropped");
    n1.advance(Duration::from_secs(60));
    assert!(topics(&mut n1, s1).is_empty(), "not sent on the old node");
    let now = n2.now;
    n2.broker.node_dead(now, "n1");
    assert_eq!(n2.broker.dead_node_wills(now, "n1", true), 0);
}

/// Every survivor holds a dead node's clients' delayed wills, not only the
/// election winner: the losers keep standby copies. If the winner dies
/// too before a will is due, the election runs again among the nodes left
/// (the shell's etcd key of the first one went with the winner's lease)
/// and its winner publishes the will when due, once [MQTT-3.1.3-9]. A
/// will the winner published is announced, and the copies elsewhere go,
/// so a later death of the winner does not publish it again.
#[test]
fn a_dead_nodes_delayed_will_survives_the_death_of_the_node_that_was_to_publish_it() {
    let (mut n1, mut n2, mut n3) = (node("n1", 1), node("n2", 2), node("n3", 3));
    link(&n1, "n1", &mut n2);
    link(&n1, "n1", &mut n3);
    let s = n3.connect("s", Protocol::V5, true);
    n3.subscribe(s, "wills/#", QoS::AtLeastOnce);
    let mark = n1.mark();
    let lost = connect_with_delayed_will(&mut n1, "orphan", 20, 3600);
    let early = connect_with_delayed_will(&mut n1, "early", 5, 3600);
    n1.close(lost);
    n1.close(early);
    relay_wills(&n1, "n1", mark, &mut n2);
    relay_wills(&n1, "n1", mark, &mut n3);

    // n1 dies: n2 wins the election, n3 loses and keeps standby copies.
    for (h, won) in [(&mut n2, true), (&mut n3, false)] {
        let now = h.now;
        h.broker.node_dead(now, "n1");
        assert_eq!(h.broker.dead_node_wills(now, "n1", won), 2);
        h.pump();
    }
    assert_eq!(n2.broker.cluster_pending_wills(), 2);
    assert_eq!(n3.broker.cluster_pending_wills(), 0);
    assert_eq!(n3.broker.cluster_standby_wills(), 2);
    assert_eq!(n3.broker.cluster_standby_will_nodes(), ["n1"]);

    // n2 publishes "early" when due and says so: n3 drops its copy.
    let mark = n2.mark();
    n2.advance(Duration::from_secs(5));
    n3.advance(Duration::from_secs(5));
    relay_wills(&n2, "n2", mark, &mut n3);
    assert_eq!(n3.broker.cluster_standby_wills(), 1);
    assert!(topics(&mut n3, s).is_empty(), "n3 does not publish it");

    // n2 dies before "orphan" is due: n3 runs the election again and wins.
    n3.advance(Duration::from_secs(5));
    let now = n3.now;
    n3.broker.node_dead(now, "n2");
    assert_eq!(n3.broker.dead_node_wills(now, "n2", true), 0);
    assert_eq!(n3.broker.standby_wills_won(now, "n1"), 1);
    n3.pump();
    assert_eq!(n3.broker.cluster_pending_wills(), 1);
    n3.advance(Duration::from_secs(9));
    assert!(topics(&mut n3, s).is_empty(), "not before its delay ends");
    n3.advance(Duration::from_secs(1));
    assert_eq!(topics(&mut n3, s), vec!["wills/orphan"]);
    n3.advance(Duration::from_secs(60));
    assert!(topics(&mut n3, s).is_empty(), "once");
    assert_eq!(n3.broker.cluster_standby_wills(), 0);
}

/// A winner whose own lease expired (paused or cut off longer than
/// `lease_ttl`) lost its election keys with it: its wills become standby
/// copies, and it publishes them only if it wins their election again
/// (the others ran it when they counted it dead).
#[test]
fn a_winner_whose_lease_expired_keeps_its_dead_nodes_wills_only_as_standby() {
    let (mut n1, mut n2) = (node("n1", 1), node("n2", 2));
    link(&n1, "n1", &mut n2);
    let mark = n1.mark();
    let c = connect_with_delayed_will(&mut n1, "c", 10, 3600);
    n1.close(c);
    relay_wills(&n1, "n1", mark, &mut n2);
    let now = n2.now;
    n2.broker.node_dead(now, "n1");
    assert_eq!(n2.broker.dead_node_wills(now, "n1", true), 1);
    // n2's lease expires (the watchdog's cut-off first), it joins again.
    n2.broker.cluster_cut_off(now, true, false);
    n2.pump();
    n2.broker.cluster_lease_expired(now);
    n2.pump();
    assert_eq!(n2.broker.cluster_pending_wills(), 0);
    assert_eq!(n2.broker.cluster_standby_wills(), 1);
    // (Subscribed after: the lease's expiry closes the connections of
    // before it.)
    let s = n2.connect("s", Protocol::V5, true);
    n2.subscribe(s, "wills/#", QoS::AtLeastOnce);
    n2.advance(Duration::from_secs(30));
    assert!(
        topics(&mut n2, s).is_empty(),
        "another node won it meanwhile"
    );
    // It wins the election again: published at once (it is due).
    let now = n2.now;
    assert_eq!(n2.broker.standby_wills_won(now, "n1"), 1);
    n2.pump();
    assert_eq!(topics(&mut n2, s), vec!["wills/c"]);
}

/// A node paused (or cut off from etcd) past its whole lease TTL: on
/// resume its watchdog runs first and finds the lease gone. With another
/// node alive, that node counted this one dead and published the wills of
/// its clients, so the persistent sessions' connections close (0x9C)
/// without theirs: no will twice. With no live peer nobody published it,
/// and it goes out here ([MQTT-3.1.2-8]: the connection ended without a
/// DISCONNECT). Cut off short of the TTL the lease may still live: the
/// will goes out here too.
#[test]
fn a_lease_gone_before_the_watchdog_ran_closes_persistent_sessions_without_a_second_will() {
    for (peer_alive, lease_gone, published_here) in [
        (true, true, false),
        (false, true, true),
        (true, false, true),
    ] {
        let case = format!("peer alive {peer_alive}, lease gone {lease_gone}");
        let mut n1 = node("n1", 1);
        if peer_alive {
            let now = n1.now;
            n1.broker.node_alive(now, "n2");
        }
        let watcher = n1.connect("watcher", Protocol::V5, true);
        n1.subscribe(watcher, "wills/#", QoS::AtLeastOnce);
        let c = connect_with_delayed_will(&mut n1, "c", 0, 3600);
        let now = n1.now;
        n1.broker.cluster_cut_off(now, true, lease_gone);
        n1.pump();
        n1.expect_disconnect(c, hornet_codec::ReasonCode::UseAnotherServer);
        let expected: Vec<String> = if published_here {
            vec!["wills/c".into()]
        } else {
            Vec::new()
        };
        assert_eq!(topics(&mut n1, watcher), expected, "{case}");
        assert!(!n1.is_closed(watcher), "clean sessions are served: {case}");
    }
}
