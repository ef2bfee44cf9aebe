//! Acknowledged = durable, proved on the virtual clock: the core holds
//! every packet that promises a record until the shell reports the record
//! on disk (`Broker::durable`), and a failed write closes exactly the
//! connections that waited for it (`Broker::persist_failed`).

mod support;

use std::time::Duration;

use hornet_codec::{Ack, Connect, Packet, Property, Protocol, Publish, QoS, ReasonCode, Subscribe};
use hornet_core::{AckPolicy, Action, CloseCause, ConnId};
use support::{pid, Harness};

/// The sequence numbers of the records emitted in `actions`.
fn seqs(actions: &[Action]) -> Vec<u64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Persist { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect()
}

/// A harness whose records wait for the test's `durable` once set up.
fn world(policy: AckPolicy) -> Harness {
    Harness::persistent(policy)
}

/// Connects `client` (MQTT 5; `expiry` > 0: a durable session), its
/// records reported durable so the CONNACK leaves; later records wait.
fn connect(h: &mut Harness, client: &str, expiry: u32) -> ConnId {
    h.auto_durable = true;
    let id = h.connect_v5(client, expiry);
    h.settle();
    h.auto_durable = false;
    id
}

/// The actions that everything since `mark` caused, after `durable(seq)`.
fn durable(h: &mut Harness, seq: u64) -> Vec<Action> {
    let mark = h.mark();
    h.broker.durable(h.now, seq);
    h.pump();
    h.since(mark)
}

fn publish(topic: &str, qos: QoS, id: u16) -> Publish {
    let mut p = Publish::new(topic, "payload");
    p.qos = qos;
    p.packet_id = (qos != QoS::AtMostOnce).then(|| pid(id));
    p
}

/// The packets `actions` send to `conn`.
fn sent_to(actions: &[Action], conn: ConnId) -> Vec<&Packet> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { conn: c, packet } if *c == conn => Some(packet),
            _ => None,
        })
        .collect()
}

fn closes(actions: &[Action], conn: ConnId) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Close { conn: c } if *c == conn))
}

/// The one sequence number `actions` carry records under.
fn one_seq(actions: &[Action]) -> u64 {
    let seqs = seqs(actions);
    assert_eq!(seqs.len(), 1, "one Persist expected in {actions:?}");
    seqs[0]
}

/// A durable subscriber on `t` at QoS 1, so that QoS 1 messages to `t`
/// are stored.
fn durable_subscriber(h: &mut Harness) -> ConnId {
    let s = connect(h, "sub", 600);
    h.send(s, Subscribe::new(pid(1), "t", QoS::AtLeastOnce));
    h.settle();
    h.take(s);
    s
}

/// [MQTT-4.3.2-2]/[MQTT-4.3.3-9]: the receiver "MUST respond with a
/// PUBACK/PUBREC" once it has taken ownership; Hornet's promise is that it
/// never sends one before the message is on disk. The subscriber's own
/// QoS 1 copy is not held (a crash can only repeat it).
#[test]
fn puback_leaves_only_once_its_record_is_durable() {
    let mut w = world(AckPolicy::AfterDurable);
    let s = durable_subscriber(&mut w);
    let p = connect(&mut w, "pub", 0);
    let out = w.send_actions(p, publish("t", QoS::AtLeastOnce, 7));
    let seq = one_seq(&out);
    assert!(
        sent_to(&out, p).is_empty(),
        "PUBACK before durable: {out:?}"
    );
    assert!(
        matches!(sent_to(&out, s)[..], [Packet::Publish(_)]),
        "the subscriber's QoS 1 copy goes out at once: {out:?}"
    );
    assert_eq!(w.broker.connections_waiting_for_disk(), 1);

    // An earlier number does not release it.
    let out = durable(&mut w, seq - 1);
    assert!(sent_to(&out, p).is_empty());

    let out = durable(&mut w, seq);
    assert!(
        matches!(sent_to(&out, p)[..], [Packet::PubAck(a)] if a.packet_id == pid(7)),
        "{out:?}"
    );
    assert_eq!(w.broker.connections_waiting_for_disk(), 0);
}

/// A message nobody stores (QoS 0, or no durable subscriber) records
/// nothing, and its acknowledgement is not held.
#[test]
fn nothing_recorded_nothing_held() {
    let mut w = world(AckPolicy::AfterDurable);
    let p = connect(&mut w, "pub", 0);
    let out = w.send_actions(p, publish("nobody/listens", QoS::AtLeastOnce, 1));
    assert!(seqs(&out).is_empty(), "{out:?}");
    assert!(matches!(sent_to(&out, p)[..], [Packet::PubAck(_)]));
}

/// QoS 2 inbound: PUBREC waits for the packet id's record (a crash would
/// otherwise forget it and deliver a resent PUBLISH twice), PUBCOMP waits
/// for the release's record ([MQTT-4.3.3-10]: the id is freed only then).
#[test]
fn qos2_pubrec_and_pubcomp_wait_for_their_records() {
    let mut w = world(AckPolicy::AfterDurable);
    let p = connect(&mut w, "pub2", 600);
    let out = w.send_actions(p, publish("x", QoS::ExactlyOnce, 9));
    let seq = one_seq(&out);
    assert!(
        sent_to(&out, p).is_empty(),
        "PUBREC before durable: {out:?}"
    );
    let out = durable(&mut w, seq);
    assert!(matches!(sent_to(&out, p)[..], [Packet::PubRec(_)]));

    let out = w.send_actions(p, Packet::PubRel(Ack::new(pid(9))));
    let seq = one_seq(&out);
    assert!(
        sent_to(&out, p).is_empty(),
        "PUBCOMP before durable: {out:?}"
    );
    let out = durable(&mut w, seq);
    assert!(matches!(sent_to(&out, p)[..], [Packet::PubComp(_)]));
}

/// A durable session resumed: CONNACK with Session Present leaves only
/// once the session's record is durable ([MQTT-3.2.2-2] promises the
/// session exists).
#[test]
fn connack_with_session_present_waits_for_the_session_record() {
    let mut w = world(AckPolicy::AfterDurable);
    let s = durable_subscriber(&mut w);
    w.close_with(s, CloseCause::PeerClosed);
    w.settle();
    let id = w.open_loopback();
    let mut c = Connect::new(Protocol::V5, "sub");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(600));
    let out = w.send_actions(id, c);
    let seq = one_seq(&out);
    assert!(
        sent_to(&out, id).is_empty(),
        "CONNACK before durable: {out:?}"
    );
    let out = durable(&mut w, seq);
    assert!(
        matches!(sent_to(&out, id)[..], [Packet::ConnAck(c)] if c.session_present),
        "{out:?}"
    );
}

/// A connection keeps the core's order: what follows a held packet on the
/// same connection waits behind it, even from inputs that recorded
/// nothing.
#[test]
fn packets_behind_a_held_one_wait_in_order() {
    let mut w = world(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let p = connect(&mut w, "pub", 0);
    w.send_actions(p, Subscribe::new(pid(2), "echo", QoS::AtMostOnce));
    w.settle();
    let out = w.send_actions(p, publish("t", QoS::AtLeastOnce, 3));
    let seq = one_seq(&out);
    // QoS 0, nothing recorded, but behind the held PUBACK.
    let out = w.send_actions(p, publish("echo", QoS::AtMostOnce, 0));
    assert!(seqs(&out).is_empty());
    assert!(sent_to(&out, p).is_empty(), "jumped the queue: {out:?}");
    let out = durable(&mut w, seq);
    let kinds: Vec<&str> = sent_to(&out, p)
        .iter()
        .map(|p| match p {
            Packet::PubAck(_) => "PUBACK",
            Packet::Publish(_) => "PUBLISH",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["PUBACK", "PUBLISH"]);
}

/// A failed write closes exactly the connections whose packets waited for
/// it, without those packets; later numbers still wait; QoS 1/2 publishes
/// are refused (MQTT 5: 0x97) until a write succeeds.
#[test]
fn a_failed_write_closes_exactly_the_connections_that_waited_for_it() {
    let mut w = world(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let p1 = connect(&mut w, "p1", 0);
    let p2 = connect(&mut w, "p2", 0);
    let bystander = connect(&mut w, "bystander", 0);
    let seq1 = one_seq(&w.send_actions(p1, publish("t", QoS::AtLeastOnce, 1)));
    let seq2 = one_seq(&w.send_actions(p2, publish("t", QoS::AtLeastOnce, 2)));
    assert!(seq2 > seq1);

    let mark = w.mark();
    w.broker.persist_failed(w.now, seq1);
    w.pump();
    let out = w.since(mark);
    assert!(closes(&out, p1), "p1 waited on {seq1}: {out:?}");
    assert!(sent_to(&out, p1).is_empty(), "its PUBACK is withheld");
    assert!(!closes(&out, p2) && !closes(&out, bystander), "{out:?}");
    assert!(w.broker.store_failed());

    // Refused while failing.
    let out = w.send_actions(bystander, publish("t", QoS::AtLeastOnce, 3));
    assert!(
        matches!(sent_to(&out, bystander)[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::QuotaExceeded),
        "{out:?}"
    );

    // A later success releases what waited on it and ends the episode.
    let out = durable(&mut w, seq2);
    assert!(
        matches!(sent_to(&out, p2)[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::Success)
    );
    assert!(!w.broker.store_failed());
    let out = w.send_actions(bystander, publish("t", QoS::AtLeastOnce, 4));
    let seq = one_seq(&out);
    let out = durable(&mut w, seq);
    assert!(
        matches!(sent_to(&out, bystander)[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::Success)
    );
}

/// Takeover while the old connection's PUBACK waits: the old connection
/// gets its PUBACK, then DISCONNECT 0x8E, then its close, in that order
/// ([MQTT-3.1.4-3]); the new one's CONNACK waits for its own record.
#[test]
fn takeover_while_an_acknowledgement_waits() {
    let mut w = world(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let old = connect(&mut w, "dev", 600);
    let seq1 = one_seq(&w.send_actions(old, publish("t", QoS::AtLeastOnce, 5)));
    let new = w.open_loopback();
    let mut c = Connect::new(Protocol::V5, "dev");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(600));
    let out = w.send_actions(new, c);
    assert!(
        sent_to(&out, old).is_empty() && !closes(&out, old),
        "{out:?}"
    );
    let seq2 = one_seq(&out);
    assert!(
        sent_to(&out, new).is_empty(),
        "CONNACK before durable: {out:?}"
    );

    let kinds = |out: &[Action]| -> Vec<String> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send { conn, packet } if *conn == old => Some(match packet {
                    Packet::Disconnect(d) => format!("DISCONNECT {:?}", d.reason_code),
                    Packet::PubAck(_) => "PUBACK".into(),
                    other => format!("{other:?}"),
                }),
                Action::Close { conn } if *conn == old => Some("close".into()),
                _ => None,
            })
            .collect()
    };
    let out = durable(&mut w, seq1);
    assert_eq!(kinds(&out), ["PUBACK"]);
    assert!(
        sent_to(&out, new).is_empty(),
        "the new CONNACK waits for {seq2}"
    );
    // The takeover's own records: the old connection's DISCONNECT and
    // close, and the new CONNACK, leave with them.
    let out = durable(&mut w, seq2);
    assert_eq!(kinds(&out), ["DISCONNECT SessionTakenOver", "close"]);
    assert!(matches!(sent_to(&out, new)[..], [Packet::ConnAck(c)] if c.session_present));
}

#[test]
fn session_expiry_while_a_record_is_pending() {
    let mut w = world(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let p = connect(&mut w, "short", 1);
    let seq = one_seq(&w.send_actions(p, publish("t", QoS::AtLeastOnce, 6)));
    let mark = w.mark();
    w.close_with(p, CloseCause::PeerClosed);
    let out = w.since(mark);
    assert!(
        !closes(&out, p),
        "the close waits behind the PUBACK: {out:?}"
    );
    let mark = w.mark();
    w.advance(Duration::from_secs(2));
    let out = w.since(mark);
    let removed = out.iter().any(|a| {
        matches!(a, Action::Persist { records, .. }
            if records.iter().any(|r| matches!(r, hornet_core::persist::StoreOp::SessionRemoved { .. })))
    });
    assert!(removed, "the expiry is recorded: {out:?}");
    let out = durable(&mut w, seq);
    let order: Vec<&str> = out
        .iter()
        .filter_map(|a| match a {
            Action::Send { conn, .. } if *conn == p => Some("send"),
            Action::Close { conn } if *conn == p => Some("close"),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["send", "close"]);
}

/// With `fsync interval` / `none` the records still leave, but nothing is
/// held.
#[test]
fn immediate_policy_holds_nothing() {
    let mut w = world(AckPolicy::Immediate);
    let _s = durable_subscriber(&mut w);
    let p = connect(&mut w, "pub", 0);
    let out = w.send_actions(p, publish("t", QoS::AtLeastOnce, 7));
    assert_eq!(seqs(&out).len(), 1);
    assert!(matches!(sent_to(&out, p)[..], [Packet::PubAck(_)]));
}

/// Sequence numbers are consecutive from 1 and every record leaves in a
/// `Persist` before any packet released by its `durable`.
#[test]
fn sequence_numbers_are_consecutive() {
    let mut w = world(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let p = connect(&mut w, "pub", 0);
    for i in 1..=5 {
        w.send_actions(p, publish("t", QoS::AtLeastOnce, i));
    }
    let seqs = seqs(&w.since(0));
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected);
    assert_eq!(w.broker.persist_seqs().0, *seqs.last().unwrap());
}

/// A packet that promises a later seal's records waits for that seal even
/// when it queues behind an earlier held packet: `durable` of the earlier
/// number releases only the earlier packet. (Held at the earlier number, a
/// second PUBACK, PUBREL or QoS 2 PUBLISH left before its own record was
/// on disk: the crash test saw QoS 2 messages delivered twice and
/// acknowledged ones lost.)
#[test]
fn a_packet_behind_a_held_one_still_waits_for_its_own_records() {
    let mut w = world(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let p = connect(&mut w, "pub", 0);
    let seq1 = one_seq(&w.send_actions(p, publish("t", QoS::AtLeastOnce, 1)));
    let seq2 = one_seq(&w.send_actions(p, publish("t", QoS::AtLeastOnce, 2)));
    assert!(seq2 > seq1);
    let out = durable(&mut w, seq1);
    assert!(
        matches!(sent_to(&out, p)[..], [Packet::PubAck(a)] if a.packet_id == pid(1)),
        "only the first PUBACK: {out:?}"
    );
    let out = durable(&mut w, seq2);
    assert!(
        matches!(sent_to(&out, p)[..], [Packet::PubAck(a)] if a.packet_id == pid(2)),
        "{out:?}"
    );
}
