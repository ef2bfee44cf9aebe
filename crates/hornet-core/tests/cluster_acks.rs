//! Acknowledgements that wait for other nodes (issue 18), on the virtual
//! clock: a publisher's PUBACK / PUBREC follows the acceptance of every
//! node its message was forwarded to, a node counted dead releases it, a
//! node that never answers closes the publisher without it, the order per
//! publisher holds, and 0x10 still means nobody anywhere. The receiving
//! side acknowledges after its store commit. (`tests/cluster.rs` wires the
//! nodes; the shell's part is `crates/hornet/tests/cluster_acks.rs`.)

mod support;

use std::time::Duration;

use hornet_codec::{Packet, Protocol, Publish, QoS, ReasonCode};
use hornet_core::{AckPolicy, Action};
use support::{message, pid, Harness};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A core that is node `name`, with acknowledgements waiting for the
/// other nodes.
fn node(h: Harness, name: &str, incarnation: u64) -> Harness {
    let mut h = h;
    h.broker.enable_cluster(name, incarnation);
    h.broker.enable_cluster_acks(TIMEOUT);
    h
}

/// `to` learns `from`'s routes, as a link's start does.
fn link(from: &Harness, from_name: &str, to: &mut Harness) {
    let now = to.now;
    to.broker.node_alive(now, from_name);
    let snapshot = from.broker.cluster_snapshot().expect("a cluster node");
    to.broker.node_routes(now, from_name, snapshot);
    to.pump();
}

/// The forwards in `h`'s log since `mark`: (node, message, token).
fn forwards(h: &Harness, mark: usize) -> Vec<(String, Publish, u64)> {
    h.since(mark)
        .into_iter()
        .filter_map(|a| match a {
            Action::Forward {
                node, publish, ack, ..
            } => Some((node.to_string(), *publish, ack)),
            _ => None,
        })
        .collect()
}

/// The acknowledgements (PUBACK, PUBREC) `conn` got: (packet id, reason).
fn acks(h: &mut Harness, conn: hornet_core::ConnId) -> Vec<(u16, ReasonCode)> {
    h.take(conn)
        .iter()
        .filter_map(|p| match p {
            Packet::PubAck(a) | Packet::PubRec(a) => Some((a.packet_id.get(), a.reason_code)),
            _ => None,
        })
        .collect()
}

fn publish(topic: &str, payload: &str, qos: QoS, id: u16) -> Publish {
    let mut p = message(topic, payload, qos);
    p.packet_id = (qos != QoS::AtMostOnce).then(|| pid(id));
    p
}

/// n1 has a subscriber to `t/#`; n2 (acks on) knows it, with a publisher,
/// and a subscriber of its own to `here/#`.
fn two_nodes() -> (Harness, Harness, hornet_core::ConnId, hornet_core::ConnId) {
    let mut n1 = node(Harness::new(), "n1", 1);
    let mut n2 = node(Harness::new(), "n2", 2);
    let s = n1.connect("s", Protocol::V5, true);
    n1.subscribe(s, "t/#", QoS::AtLeastOnce);
    let local = n2.connect("local", Protocol::V5, true);
    n2.subscribe(local, "here/#", QoS::AtLeastOnce);
    link(&n1, "n1", &mut n2);
    let p = n2.connect("p", Protocol::V5, true);
    (n1, n2, s, p)
}

#[test]
fn a_forwarded_qos1_or_qos2_publish_is_acknowledged_once_the_other_node_applied_it() {
    let (mut n1, mut n2, s, p) = two_nodes();
    for (qos, id) in [(QoS::AtLeastOnce, 1), (QoS::ExactlyOnce, 2)] {
        let mark = n2.mark();
        n2.send(p, publish("t/a", "m", qos, id));
        let sent = forwards(&n2, mark);
        assert_eq!(sent.len(), 1, "{sent:?}");
        let (to, msg, token) = sent.into_iter().next().expect("one");
        assert_eq!(to, "n1");
        assert_ne!(token, 0, "a QoS {qos:?} forward carries a token");
        assert!(acks(&mut n2, p).is_empty(), "held until n1 applies it");
        // n1 applies it (its subscriber gets it), and says so.
        n1.broker.node_publish(n1.now, "n2", msg);
        n1.pump();
        assert_eq!(n1.receive(s).len(), 1);
        n2.broker.node_acked(n2.now, "n1", &[token]);
        n2.pump();
        assert_eq!(acks(&mut n2, p), vec![(id, ReasonCode::Success)]);
    }
}

#[test]
fn qos0_and_messages_for_this_node_only_are_not_held() {
    let (_n1, mut n2, _s, p) = two_nodes();
    let mark = n2.mark();
    n2.send(p, publish("t/a", "zero", QoS::AtMostOnce, 0));
    assert_eq!(forwards(&n2, mark)[0].2, 0, "QoS 0 waits for nobody");
    n2.send(p, publish("here/a", "local", QoS::AtLeastOnce, 3));
    assert_eq!(acks(&mut n2, p), vec![(3, ReasonCode::Success)]);
    // 0x10 only when no node anywhere matches, and at once.
    n2.send(p, publish("nobody", "x", QoS::AtLeastOnce, 4));
    assert_eq!(
        acks(&mut n2, p),
        vec![(4, ReasonCode::NoMatchingSubscribers)]
    );
    assert_eq!(n2.broker.cluster_acks_waiting(), 0);
}

#[test]
fn acknowledgements_keep_the_publishers_order_mqtt_4_6_0_2() {
    let (_n1, mut n2, _s, p) = two_nodes();
    let mark = n2.mark();
    n2.send(p, publish("t/1", "a", QoS::AtLeastOnce, 1));
    n2.send(p, publish("here/2", "b", QoS::AtLeastOnce, 2));
    n2.send(p, publish("t/3", "c", QoS::AtLeastOnce, 3));
    let tokens: Vec<u64> = forwards(&n2, mark).iter().map(|f| f.2).collect();
    assert_eq!(tokens.len(), 2);
    // The local one's PUBACK waits behind the first.
    assert!(acks(&mut n2, p).is_empty());
    n2.broker.node_acked(n2.now, "n1", &[tokens[1]]);
    n2.pump();
    assert!(acks(&mut n2, p).is_empty(), "3 waits behind 1");
    n2.broker.node_acked(n2.now, "n1", &[tokens[0]]);
    n2.pump();
    let got: Vec<u16> = acks(&mut n2, p).iter().map(|a| a.0).collect();
    assert_eq!(got, vec![1, 2, 3]);
    // The messages crossed in the publisher's order too.
    let order: Vec<String> = forwards(&n2, mark)
        .iter()
        .map(|f| String::from_utf8_lossy(&f.1.payload).into_owned())
        .collect();
    assert_eq!(order, vec!["a", "c"]);
}

#[test]
fn a_message_forwarded_to_two_nodes_waits_for_both() {
    let (n1, mut n2, _s, p) = two_nodes();
    let mut n3 = node(Harness::new(), "n3", 3);
    let s3 = n3.connect("s3", Protocol::V5, true);
    n3.subscribe(s3, "t/+", QoS::AtMostOnce);
    link(&n3, "n3", &mut n2);
    drop(n1);
    let mark = n2.mark();
    n2.send(p, publish("t/a", "m", QoS::AtLeastOnce, 1));
    let sent = forwards(&n2, mark);
    assert_eq!(sent.len(), 2);
    let token = |name: &str| sent.iter().find(|f| f.0 == name).expect("forwarded").2;
    n2.broker.node_acked(n2.now, "n3", &[token("n3")]);
    n2.pump();
    assert!(acks(&mut n2, p).is_empty(), "n1 has not applied it");
    // A report from the wrong node, or of another token, releases nothing.
    n2.broker.node_acked(n2.now, "n3", &[token("n1")]);
    n2.pump();
    assert!(acks(&mut n2, p).is_empty());
    n2.broker.node_acked(n2.now, "n1", &[token("n1")]);
    n2.pump();
    assert_eq!(acks(&mut n2, p), vec![(1, ReasonCode::Success)]);
}

#[test]
fn a_node_counted_dead_releases_what_waited_for_it_and_its_routes_go() {
    let (_n1, mut n2, _s, p) = two_nodes();
    n2.send(p, publish("t/a", "m", QoS::AtLeastOnce, 1));
    assert!(acks(&mut n2, p).is_empty());
    // Its lease expired: its routes are purged, so the cluster no longer
    // routes there and nothing waits for it.
    n2.broker.node_dead(n2.now, "n1");
    n2.pump();
    assert_eq!(acks(&mut n2, p), vec![(1, ReasonCode::Success)]);
    n2.send(p, publish("t/a", "m", QoS::AtLeastOnce, 2));
    assert_eq!(
        acks(&mut n2, p),
        vec![(2, ReasonCode::NoMatchingSubscribers)]
    );
}

#[test]
fn a_node_that_never_applies_it_closes_the_publisher_without_its_puback() {
    let (_n1, mut n2, _s, p) = two_nodes();
    n2.send(p, publish("t/a", "m", QoS::AtLeastOnce, 1));
    n2.advance(TIMEOUT - Duration::from_millis(1));
    assert!(acks(&mut n2, p).is_empty());
    assert!(!n2.is_closed(p));
    n2.advance(Duration::from_millis(1));
    let got = n2.take(p);
    assert!(
        !got.iter().any(|x| matches!(x, Packet::PubAck(_))),
        "never a PUBACK no node confirmed: {got:?}"
    );
    assert!(
        matches!(got.last(), Some(Packet::Disconnect(d)) if d.reason_code == ReasonCode::ServerBusy),
        "{got:?}"
    );
    assert!(n2.is_closed(p));
    assert_eq!(n2.broker.cluster_acks_waiting(), 0);
    assert_eq!(n2.broker.cluster_acks_timed_out(), 1);
}

#[test]
fn the_receiving_node_acknowledges_after_its_store_commit() {
    // A persistent session, offline: the message is queued on disk. (Made
    // before the node joins: a persistent CONNECT on a cluster node waits
    // for its etcd claim, `cluster_claims.rs`.)
    let mut h = Harness::persistent(AckPolicy::AfterDurable);
    let s = h.connect_v5("s", 3600);
    h.subscribe(s, "t/#", QoS::AtLeastOnce);
    h.close(s);
    h.settle();
    let mut n1 = node(h, "n1", 1);
    n1.auto_durable = false;
    let mark = n1.mark();
    n1.broker
        .node_publish(n1.now, "n2", publish("t/a", "m", QoS::AtLeastOnce, 1));
    n1.broker.node_frames_applied(n1.now, "n2", 77, 5);
    n1.pump();
    let applied = |h: &Harness, mark| {
        h.since(mark)
            .into_iter()
            .filter_map(|a| match a {
                Action::Applied { node, stream, upto } => Some((node.to_string(), stream, upto)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(applied(&n1, mark).is_empty(), "waits for the disk");
    n1.settle();
    assert_eq!(applied(&n1, mark), vec![("n2".to_string(), 77, 5)]);
    // A frame that recorded nothing is acknowledged at once.
    let mark = n1.mark();
    n1.broker
        .node_publish(n1.now, "n2", publish("other", "m", QoS::AtLeastOnce, 1));
    n1.broker.node_frames_applied(n1.now, "n2", 77, 6);
    n1.pump();
    assert_eq!(applied(&n1, mark), vec![("n2".to_string(), 77, 6)]);
    assert_eq!(n1.broker.queue_state("s").map(|q| q.queued), Some(1));
}

/// The SUBACKs `conn` got: packet ids.
fn subacks(h: &mut Harness, conn: hornet_core::ConnId) -> Vec<u16> {
    h.take(conn)
        .iter()
        .filter_map(|p| match p {
            Packet::SubAck(a) => Some(a.packet_id.get()),
            _ => None,
        })
        .collect()
}

/// The route updates in `h`'s log since `mark`.
fn route_tokens(h: &Harness, mark: usize) -> Vec<u64> {
    h.since(mark)
        .into_iter()
        .filter_map(|a| match a {
            Action::Routes { update } => Some(update.ack_token()),
            _ => None,
        })
        .collect()
}

/// Issue 18: "once a client has its SUBACK, a message published afterwards
/// on any live node reaches it".
#[test]
fn a_suback_for_a_new_route_waits_until_every_live_node_applied_it() {
    let mut n1 = node(Harness::new(), "n1", 1);
    n1.broker.node_alive(n1.now, "n2");
    n1.broker.node_alive(n1.now, "n3");
    let s = n1.connect("s", Protocol::V5, true);
    let mark = n1.mark();
    n1.send(
        s,
        hornet_codec::Subscribe::new(pid(7), "t/#", QoS::AtLeastOnce),
    );
    let tokens = route_tokens(&n1, mark);
    assert_eq!(tokens.len(), 1);
    assert!(
        subacks(&mut n1, s).is_empty(),
        "n2 and n3 have not applied the route"
    );
    n1.broker.node_acked(n1.now, "n2", &tokens);
    n1.pump();
    assert!(subacks(&mut n1, s).is_empty(), "n3 has not");
    n1.broker.node_acked(n1.now, "n3", &tokens);
    n1.pump();
    assert_eq!(subacks(&mut n1, s), vec![7]);
    // A filter this node exports already, and `$local/`: no new route, at once.
    n1.send(
        s,
        hornet_codec::Subscribe::new(pid(8), "t/#", QoS::AtMostOnce),
    );
    n1.send(
        s,
        hornet_codec::Subscribe::new(pid(9), "$local/x", QoS::AtMostOnce),
    );
    assert_eq!(subacks(&mut n1, s), vec![8, 9]);
}

#[test]
fn a_suback_is_released_by_a_dead_node_and_sent_anyway_at_the_timeout() {
    let mut n1 = node(Harness::new(), "n1", 1);
    n1.broker.node_alive(n1.now, "n2");
    n1.broker.node_alive(n1.now, "n3");
    let s = n1.connect("s", Protocol::V5, true);
    n1.send(
        s,
        hornet_codec::Subscribe::new(pid(1), "a", QoS::AtLeastOnce),
    );
    n1.broker.node_dead(n1.now, "n2");
    n1.pump();
    assert!(
        subacks(&mut n1, s).is_empty(),
        "n3 is alive and has not applied it"
    );
    n1.broker.node_dead(n1.now, "n3");
    n1.pump();
    assert_eq!(subacks(&mut n1, s), vec![1]);
    // No node alive: nothing to wait for.
    n1.send(
        s,
        hornet_codec::Subscribe::new(pid(2), "b", QoS::AtLeastOnce),
    );
    assert_eq!(subacks(&mut n1, s), vec![2]);
    // A live node that never applies it: the SUBACK leaves at the timeout
    // and the client stays connected.
    n1.broker.node_alive(n1.now, "n2");
    n1.send(
        s,
        hornet_codec::Subscribe::new(pid(3), "c", QoS::AtLeastOnce),
    );
    n1.advance(TIMEOUT - Duration::from_millis(1));
    assert!(subacks(&mut n1, s).is_empty());
    n1.advance(Duration::from_millis(1));
    assert_eq!(subacks(&mut n1, s), vec![3]);
    assert!(!n1.is_closed(s));
}
