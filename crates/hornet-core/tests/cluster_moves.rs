//! What moves with a persistent session from the node that held it to the
//! node that claimed its client id, on the virtual clock: the inbound QoS 2
//! packet ids awaiting PUBREL and the `$local/` mark of subscriptions
//! (`crates/hornet/tests/cluster_sessions.rs` runs the same with real
//! processes, etcd and clients).

mod support;

use hornet_codec::{Ack, Connect, Packet, Property, Protocol, QoS, ReasonCode};
use hornet_core::{Action, ClaimResult, ConnId, SessionMove};
use support::{message, pid, Harness};

fn node(name: &str) -> Harness {
    let mut h = Harness::new();
    h.broker.enable_cluster(name, 1);
    h
}

/// A CONNECT for a persistent MQTT 5 session (expiry 3600) on a new
/// connection; nothing answered yet.
fn persistent(h: &mut Harness, client_id: &str) -> ConnId {
    let mut c = Connect::new(Protocol::V5, client_id);
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(3600));
    let id = h.open_loopback();
    h.send(id, c);
    id
}

/// `conn`'s claim won at `revision`, taken from `from` if given.
fn won(h: &mut Harness, conn: ConnId, revision: u64, from: Option<&str>) {
    let now = h.now;
    h.broker.claim_result(
        now,
        conn,
        ClaimResult::Won {
            revision,
            from: from.map(Into::into),
        },
    );
    h.pump();
}

/// The session `h` sent since `mark` (exactly one).
fn moved(h: &Harness, mark: usize) -> SessionMove {
    let mut sent: Vec<SessionMove> = h
        .since(mark)
        .into_iter()
        .filter_map(|a| match a {
            Action::MoveSession { session, .. } => Some(*session),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "one session sent");
    sent.remove(0)
}

/// The filters `h` announced (added) since `mark`.
fn announced(h: &Harness, mark: usize) -> Vec<String> {
    h.since(mark)
        .into_iter()
        .filter_map(|a| match a {
            Action::Routes { update } if update.added => Some(update.filter.to_string()),
            _ => None,
        })
        .collect()
}

/// Moves `dev`'s session from `n1` (revision 5) to a CONNECT on `n2`
/// (revision 9); returns the new connection, its CONNACK read, and what
/// crossed.
fn move_dev(n1: &mut Harness, n2: &mut Harness) -> (ConnId, SessionMove) {
    let again = persistent(n2, "dev");
    won(n2, again, 9, Some("n1"));
    assert!(n2.take(again).is_empty(), "no CONNACK before the session");
    let mark = n1.mark();
    let now = n1.now;
    n1.broker.client_claimed(now, "dev", "n2", 9);
    n1.pump();
    let session = moved(n1, mark);
    let now = n2.now;
    n2.broker.node_session(now, "n1", session.clone());
    n2.pump();
    let mut got = n2.take(again);
    let Some(Packet::ConnAck(ack)) = got.first().cloned() else {
        panic!("no CONNACK: {got:?}")
    };
    assert!(ack.session_present, "the session came along");
    got.remove(0);
    n2.put_back(again, got);
    (again, session)
}

/// [MQTT-4.3.3-10] [MQTT-4.3.3-11]: a client that sent a QoS 2 PUBLISH on
/// one node, got PUBREC and lost its connection before PUBREL finishes
/// the exchange on the node it reconnects to: its PUBREL is answered
/// PUBCOMP 0x00 (not 0x92 Packet Identifier not found), and its resent
/// PUBLISH is acknowledged without being delivered a second time.
#[test]
fn inbound_qos2_packet_ids_awaiting_pubrel_move_with_the_session() {
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    let watcher1 = n1.connect("w1", Protocol::V5, true);
    n1.subscribe(watcher1, "q2/#", QoS::ExactlyOnce);
    let watcher2 = n2.connect("w2", Protocol::V5, true);
    n2.subscribe(watcher2, "q2/#", QoS::ExactlyOnce);
    let c = persistent(&mut n1, "dev");
    won(&mut n1, c, 5, None);
    n1.take(c);
    let mut p = message("q2/a", "once", QoS::ExactlyOnce);
    p.packet_id = Some(pid(7));
    n1.send(c, p.clone());
    let got = n1.take(c);
    assert!(
        matches!(&got[..], [Packet::PubRec(a)] if a.packet_id == pid(7) && !a.reason_code.is_error()),
        "{got:?}"
    );
    assert_eq!(n1.receive(watcher1).len(), 1, "delivered on PUBLISH");
    n1.close(c); // gone before its PUBREL

    let (again, session) = move_dev(&mut n1, &mut n2);
    assert_eq!(session.incoming_qos2, vec![7]);

    // The client did not see the PUBREC: it resends with DUP.
    p.dup = true;
    n2.send(again, p);
    let got = n2.take(again);
    assert!(
        matches!(&got[..], [Packet::PubRec(a)] if a.packet_id == pid(7) && !a.reason_code.is_error()),
        "{got:?}"
    );
    assert!(n2.receive(watcher2).is_empty(), "not delivered twice");
    n2.send(again, Packet::PubRel(Ack::new(pid(7))));
    let got = n2.take(again);
    assert!(
        matches!(&got[..], [Packet::PubComp(a)] if a.packet_id == pid(7) && a.reason_code == ReasonCode::Success),
        "{got:?}"
    );
    // An id that was never received is still not found.
    n2.send(again, Packet::PubRel(Ack::new(pid(8))));
    let got = n2.take(again);
    assert!(
        matches!(&got[..], [Packet::PubComp(a)] if a.reason_code == ReasonCode::PacketIdentifierNotFound),
        "{got:?}"
    );
    assert!(n1.receive(watcher1).is_empty());
}

/// A subscription made with `$local/` creates no route on the other nodes
/// on the node it moves to either; the others are exported there.
#[test]
fn a_moved_local_subscription_stays_local_on_the_new_node() {
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    let c = persistent(&mut n1, "dev");
    won(&mut n1, c, 5, None);
    n1.take(c);
    let mark = n1.mark();
    n1.subscribe(c, "$local/here/#", QoS::AtLeastOnce);
    n1.subscribe(c, "there/#", QoS::AtLeastOnce);
    assert_eq!(announced(&n1, mark), vec!["there/#"]);
    n1.close(c);

    let mark = n2.mark();
    let (again, session) = move_dev(&mut n1, &mut n2);
    let mut marks: Vec<(String, bool)> = session
        .subscriptions
        .iter()
        .map(|s| (s.filter.to_string(), s.local))
        .collect();
    marks.sort();
    assert_eq!(
        marks,
        vec![("here/#".to_string(), true), ("there/#".to_string(), false)]
    );
    assert_eq!(announced(&n2, mark), vec!["there/#"], "here/# not exported");
    // Still a subscription on its new node.
    let p = n2.connect("pub", Protocol::V5, true);
    n2.publish(p, "here/1", "local", QoS::AtLeastOnce, false);
    let got = n2.receive(again);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"local");
}

/// The old node sees the claim in etcd's watch and sends the session; it
/// may reach the new node before etcd's answer to that node's own claim
/// does. It is kept for that answer: Session Present 1, its messages
/// delivered (a race seen with real processes on a loaded machine).
#[test]
fn a_session_that_overtakes_the_claims_answer_is_kept_for_it() {
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    let c = persistent(&mut n1, "dev");
    won(&mut n1, c, 5, None);
    n1.take(c);
    n1.subscribe(c, "t/#", QoS::AtLeastOnce);
    n1.close(c);
    let p = n1.connect("pub", Protocol::V5, true);
    n1.publish(p, "t/1", "queued", QoS::AtLeastOnce, false);

    let again = persistent(&mut n2, "dev");
    let mark = n1.mark();
    let now = n1.now;
    n1.broker.client_claimed(now, "dev", "n2", 9);
    n1.pump();
    let session = moved(&n1, mark);
    // Another claim's session is not kept for this one.
    let mut other = session.clone();
    other.revision = 8;
    let now = n2.now;
    n2.broker.node_session(now, "n1", other);
    n2.broker.node_session(now, "n1", session);
    n2.pump();
    assert!(n2.take(again).is_empty(), "no CONNACK before the answer");
    won(&mut n2, again, 9, Some("n1"));
    let mut got = n2.take(again);
    let Some(Packet::ConnAck(ack)) = got.first().cloned() else {
        panic!("no CONNACK: {got:?}")
    };
    assert!(ack.session_present);
    got.remove(0);
    n2.put_back(again, got);
    let got = n2.receive(again);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"queued");
}

/// The filters `h` withdrew since `mark`.
fn withdrawn(h: &Harness, mark: usize) -> Vec<String> {
    h.since(mark)
        .into_iter()
        .filter_map(|a| match a {
            Action::Routes { update } if !update.added => Some(update.filter.to_string()),
            _ => None,
        })
        .collect()
}

/// An `$exclusive/` subscription is routed as its plain filter: it is
/// exported on the node a session moves to, and withdrawn when the
/// session ends there (no orphaned route on the other nodes).
#[test]
fn an_exclusive_subscription_is_routed_on_the_new_node_and_withdrawn_with_its_session() {
    let (mut n1, mut n2) = (node("n1"), node("n2"));
    let c = persistent(&mut n1, "dev");
    won(&mut n1, c, 5, None);
    n1.take(c);
    let mark = n1.mark();
    n1.subscribe(c, "$exclusive/ex/#", QoS::AtLeastOnce);
    assert_eq!(announced(&n1, mark), vec!["ex/#"]);
    n1.close(c);
    let mark1 = n1.mark();
    let mark2 = n2.mark();
    let (again, _) = move_dev(&mut n1, &mut n2);
    assert_eq!(withdrawn(&n1, mark1), vec!["ex/#"], "gone from n1");
    assert_eq!(announced(&n2, mark2), vec!["ex/#"], "routed from n2");
    // The session ends on n2 (Session Expiry 0 at DISCONNECT): withdrawn.
    let mark = n2.mark();
    let mut d = hornet_codec::Disconnect::new(ReasonCode::Success);
    d.properties.push(Property::SessionExpiryInterval(0));
    n2.send(again, d);
    assert_eq!(withdrawn(&n2, mark), vec!["ex/#"]);
}
