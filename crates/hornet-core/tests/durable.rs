//! Acknowledged = durable, proved on the virtual clock: the core holds
//! every packet that promises a record until the shell reports the record
//! on disk (`Broker::durable`), and a failed write closes exactly the
//! connections that waited for it (`Broker::persist_failed`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hornet_codec::{
    Ack, Connect, Packet, PacketId, Property, Protocol, Publish, QoS, ReasonCode, Subscribe,
};
use hornet_core::{AckPolicy, Action, Broker, CloseCause, ConnId, ConnInfo, Settings};

/// A broker with persistence on, a virtual clock, and every action it
/// emitted in order (records acknowledged only when a test says so).
struct World {
    broker: Broker,
    now: Instant,
    next: u64,
    /// Every action, in the order the shell would have seen it.
    log: Vec<Action>,
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

impl World {
    fn new(policy: AckPolicy) -> World {
        let now = Instant::now();
        let settings = Settings {
            sys_interval: None,
            ..Settings::default()
        };
        let mut broker = Broker::new(settings, now);
        broker.enable_persistence(policy);
        World {
            broker,
            now,
            next: 1,
            log: Vec::new(),
        }
    }

    /// Takes the actions the core has ready; returns them.
    fn pump(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.broker.drain_actions(&mut out);
        self.log.extend(out.iter().cloned());
        out
    }

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

    /// Connects `client` with MQTT 5; `expiry` > 0 makes the session
    /// durable. Reports every record durable so the CONNACK leaves.
    fn connect(&mut self, client: &str, expiry: u32) -> ConnId {
        let id = ConnId(self.next);
        self.next += 1;
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        self.broker
            .connection_opened(self.now, id, ConnInfo::new(peer, 1883));
        let mut c = Connect::new(Protocol::V5, client);
        c.clean_start = expiry == 0;
        if expiry > 0 {
            c.properties.push(Property::SessionExpiryInterval(expiry));
        }
        self.broker.packet_received(self.now, id, c.into(), 0);
        self.settle();
        id
    }

    /// Reports every record emitted so far durable.
    fn settle(&mut self) {
        self.pump();
        let (last, durable) = self.broker.persist_seqs();
        if last > durable {
            self.broker.durable(self.now, last);
            self.pump();
        }
    }

    fn send(&mut self, id: ConnId, packet: impl Into<Packet>) -> Vec<Action> {
        self.broker.packet_received(self.now, id, packet.into(), 0);
        self.pump()
    }
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
    let seqs = World::seqs(actions);
    assert_eq!(seqs.len(), 1, "one Persist expected in {actions:?}");
    seqs[0]
}

/// A durable subscriber on `t` at QoS 1, so that QoS 1 messages to `t`
/// are stored.
fn durable_subscriber(w: &mut World) -> ConnId {
    let s = w.connect("sub", 600);
    w.send(s, Subscribe::new(pid(1), "t", QoS::AtLeastOnce));
    w.settle();
    s
}

/// [MQTT-4.3.2-2]/[MQTT-4.3.3-9]: the receiver "MUST respond with a
/// PUBACK/PUBREC" once it has taken ownership; Hornet's promise is that it
/// never sends one before the message is on disk. The subscriber's own
/// QoS 1 copy is not held (a crash can only repeat it).
#[test]
fn puback_leaves_only_once_its_record_is_durable() {
    let mut w = World::new(AckPolicy::AfterDurable);
    let s = durable_subscriber(&mut w);
    let p = w.connect("pub", 0);
    let out = w.send(p, publish("t", QoS::AtLeastOnce, 7));
    let seq = one_seq(&out);
    assert!(sent_to(&out, p).is_empty(), "PUBACK before durable: {out:?}");
    assert!(
        matches!(sent_to(&out, s)[..], [Packet::Publish(_)]),
        "the subscriber's QoS 1 copy goes out at once: {out:?}"
    );
    assert_eq!(w.broker.connections_waiting_for_disk(), 1);

    // An earlier number does not release it.
    w.broker.durable(w.now, seq - 1);
    assert!(sent_to(&w.pump(), p).is_empty());

    w.broker.durable(w.now, seq);
    let out = w.pump();
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
    let mut w = World::new(AckPolicy::AfterDurable);
    let p = w.connect("pub", 0);
    let out = w.send(p, publish("nobody/listens", QoS::AtLeastOnce, 1));
    assert!(World::seqs(&out).is_empty(), "{out:?}");
    assert!(matches!(sent_to(&out, p)[..], [Packet::PubAck(_)]));
}

/// QoS 2 inbound: PUBREC waits for the packet id's record (a crash would
/// otherwise forget it and deliver a resent PUBLISH twice), PUBCOMP waits
/// for the release's record ([MQTT-4.3.3-10]: the id is freed only then).
#[test]
fn qos2_pubrec_and_pubcomp_wait_for_their_records() {
    let mut w = World::new(AckPolicy::AfterDurable);
    let p = w.connect("pub2", 600);
    let out = w.send(p, publish("x", QoS::ExactlyOnce, 9));
    let seq = one_seq(&out);
    assert!(sent_to(&out, p).is_empty(), "PUBREC before durable: {out:?}");
    w.broker.durable(w.now, seq);
    assert!(matches!(sent_to(&w.pump(), p)[..], [Packet::PubRec(_)]));

    let out = w.send(p, Packet::PubRel(Ack::new(pid(9))));
    let seq = one_seq(&out);
    assert!(sent_to(&out, p).is_empty(), "PUBCOMP before durable: {out:?}");
    w.broker.durable(w.now, seq);
    assert!(matches!(sent_to(&w.pump(), p)[..], [Packet::PubComp(_)]));
}

/// A durable session resumed: CONNACK with Session Present leaves only
/// once the session's record is durable ([MQTT-3.2.2-2] promises the
/// session exists).
#[test]
fn connack_with_session_present_waits_for_the_session_record() {
    let mut w = World::new(AckPolicy::AfterDurable);
    let s = durable_subscriber(&mut w);
    w.broker
        .connection_closed(w.now, s, CloseCause::PeerClosed);
    w.settle();
    let id = ConnId(100);
    w.broker
        .connection_opened(w.now, id, ConnInfo::new("127.0.0.1:2".parse().unwrap(), 1883));
    let mut c = Connect::new(Protocol::V5, "sub");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(600));
    let out = w.send(id, c);
    let seq = one_seq(&out);
    assert!(sent_to(&out, id).is_empty(), "CONNACK before durable: {out:?}");
    w.broker.durable(w.now, seq);
    let out = w.pump();
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
    let mut w = World::new(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let p = w.connect("pub", 0);
    w.send(p, Subscribe::new(pid(2), "echo", QoS::AtMostOnce));
    w.settle();
    let out = w.send(p, publish("t", QoS::AtLeastOnce, 3));
    let seq = one_seq(&out);
    // QoS 0, nothing recorded, but behind the held PUBACK.
    let out = w.send(p, publish("echo", QoS::AtMostOnce, 0));
    assert!(World::seqs(&out).is_empty());
    assert!(sent_to(&out, p).is_empty(), "jumped the queue: {out:?}");
    w.broker.durable(w.now, seq);
    let out = w.pump();
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
    let mut w = World::new(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let p1 = w.connect("p1", 0);
    let p2 = w.connect("p2", 0);
    let bystander = w.connect("bystander", 0);
    let seq1 = one_seq(&w.send(p1, publish("t", QoS::AtLeastOnce, 1)));
    let seq2 = one_seq(&w.send(p2, publish("t", QoS::AtLeastOnce, 2)));
    assert!(seq2 > seq1);

    w.broker.persist_failed(w.now, seq1);
    let out = w.pump();
    assert!(closes(&out, p1), "p1 waited on {seq1}: {out:?}");
    assert!(sent_to(&out, p1).is_empty(), "its PUBACK is withheld");
    assert!(!closes(&out, p2) && !closes(&out, bystander), "{out:?}");
    assert!(w.broker.store_failed());

    // Refused while failing.
    let out = w.send(bystander, publish("t", QoS::AtLeastOnce, 3));
    assert!(
        matches!(sent_to(&out, bystander)[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::QuotaExceeded),
        "{out:?}"
    );

    // A later success releases what waited on it and ends the episode.
    w.broker.durable(w.now, seq2);
    let out = w.pump();
    assert!(matches!(sent_to(&out, p2)[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::Success));
    assert!(!w.broker.store_failed());
    let out = w.send(bystander, publish("t", QoS::AtLeastOnce, 4));
    let seq = one_seq(&out);
    w.broker.durable(w.now, seq);
    assert!(matches!(sent_to(&w.pump(), bystander)[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::Success));
}

/// Takeover while the old connection's PUBACK waits: the old connection
/// gets its PUBACK, then DISCONNECT 0x8E, then its close, in that order
/// ([MQTT-3.1.4-3]); the new one's CONNACK waits for its own record.
#[test]
fn takeover_while_an_acknowledgement_waits() {
    let mut w = World::new(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let old = w.connect("dev", 600);
    let seq1 = one_seq(&w.send(old, publish("t", QoS::AtLeastOnce, 5)));
    let new = ConnId(200);
    w.broker
        .connection_opened(w.now, new, ConnInfo::new("127.0.0.1:3".parse().unwrap(), 1883));
    let mut c = Connect::new(Protocol::V5, "dev");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(600));
    let out = w.send(new, c);
    assert!(sent_to(&out, old).is_empty() && !closes(&out, old), "{out:?}");
    let seq2 = one_seq(&out);
    assert!(sent_to(&out, new).is_empty(), "CONNACK before durable: {out:?}");

    w.broker.durable(w.now, seq1);
    let out = w.pump();
    let old_kinds: Vec<String> = out
        .iter()
        .filter_map(|a| match a {
            Action::Send { conn, packet } if *conn == old => Some(match packet {
                Packet::Disconnect(d) => format!("DISCONNECT {:?}", d.reason_code),
                Packet::PubAck(_) => "PUBACK".into(),
                other => format!("{other:?}"),
            }),
            Action::Close { conn } if *conn == old => Some("close".into()),
            _ => None,
        })
        .collect();
    assert_eq!(
        old_kinds,
        ["PUBACK", "DISCONNECT SessionTakenOver", "close"]
    );
    assert!(sent_to(&out, new).is_empty(), "the new CONNACK waits for {seq2}");
    w.broker.durable(w.now, seq2);
    assert!(matches!(sent_to(&w.pump(), new)[..], [Packet::ConnAck(c)] if c.session_present));
}

/// A session expires while its connection's last PUBACK still waits: the
/// expiry is recorded after it, and the held packets and close still leave
/// in order once durable; nothing is sent after the close.
#[test]
fn session_expiry_while_a_record_is_pending() {
    let mut w = World::new(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let p = w.connect("short", 1);
    let seq = one_seq(&w.send(p, publish("t", QoS::AtLeastOnce, 6)));
    w.broker
        .connection_closed(w.now, p, CloseCause::PeerClosed);
    let out = w.pump();
    assert!(!closes(&out, p), "the close waits behind the PUBACK: {out:?}");
    w.now += Duration::from_secs(2);
    w.broker.tick(w.now);
    let out = w.pump();
    let removed = out.iter().any(|a| {
        matches!(a, Action::Persist { records, .. }
            if records.iter().any(|r| matches!(r, hornet_core::persist::StoreOp::SessionRemoved { .. })))
    });
    assert!(removed, "the expiry is recorded: {out:?}");
    w.broker.durable(w.now, seq);
    let out = w.pump();
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
    let mut w = World::new(AckPolicy::Immediate);
    let _s = durable_subscriber(&mut w);
    let p = w.connect("pub", 0);
    let out = w.send(p, publish("t", QoS::AtLeastOnce, 7));
    assert_eq!(World::seqs(&out).len(), 1);
    assert!(matches!(sent_to(&out, p)[..], [Packet::PubAck(_)]));
}

/// Sequence numbers are consecutive from 1 and every record leaves in a
/// `Persist` before any packet released by its `durable`.
#[test]
fn sequence_numbers_are_consecutive() {
    let mut w = World::new(AckPolicy::AfterDurable);
    let _s = durable_subscriber(&mut w);
    let p = w.connect("pub", 0);
    for i in 1..=5 {
        w.send(p, publish("t", QoS::AtLeastOnce, i));
    }
    let seqs = World::seqs(&w.log);
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected);
    assert_eq!(w.broker.persist_seqs().0, *seqs.last().unwrap());
}
