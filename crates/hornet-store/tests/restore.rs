//! The core and the store together, without sockets: a broker records its
//! durable changes, the store writes them, a second broker is restored
//! from what the store reads back, and clients reconnecting to it find
//! their sessions, subscriptions, queued and in-flight messages, inbound
//! QoS 2 ids, retained messages and delayed wills.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hornet_codec::{
    Ack, Connect, LastWill, Packet, PacketId, Property, Protocol, Publish, QoS, ReasonCode,
    Subscribe,
};
use hornet_core::{Action, Broker, ConnId, ConnInfo, Settings};
use hornet_store::{Store, StoreOptions};

struct World {
    broker: Broker,
    store: Store,
    now: Instant,
    next: u64,
    sent: Vec<(ConnId, Packet)>,
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

impl World {
    /// A broker restored from the store in `dir`.
    fn open(dir: &Path) -> World {
        let (store, recovery) = Store::open(dir, StoreOptions::default()).unwrap();
        let now = Instant::now();
        let settings = Settings {
            sys_interval: None,
            ..Settings::default()
        };
        let mut broker = Broker::new(settings, now);
        broker.enable_persistence();
        broker.restore(now, recovery.restored);
        World {
            broker,
            store,
            now,
            next: 1,
            sent: Vec::new(),
        }
    }

    /// Drains actions and commits the ops, as the shell does.
    fn pump(&mut self) {
        let mut ops = Vec::new();
        self.broker.drain_store_ops(&mut ops);
        self.store.append(ops);
        self.store.commit(true).unwrap();
        while let Some(a) = self.broker.poll_action() {
            if let Action::Send { conn, packet } = a {
                self.sent.push((conn, packet));
            }
        }
    }

    fn connect(&mut self, client: &str, protocol: Protocol, will: Option<LastWill>) -> ConnId {
        let id = ConnId(self.next);
        self.next += 1;
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        self.broker
            .connection_opened(self.now, id, ConnInfo::new(peer, 1883));
        let mut c = Connect::new(protocol, client);
        c.clean_start = false;
        c.will = will;
        if protocol == Protocol::V5 {
            c.properties.push(Property::SessionExpiryInterval(3600));
        }
        self.send(id, c);
        id
    }

    fn send(&mut self, id: ConnId, packet: impl Into<Packet>) {
        self.broker.packet_received(self.now, id, packet.into(), 0);
        self.pump();
    }

    fn drop_conn(&mut self, id: ConnId) {
        self.broker
            .connection_closed(self.now, id, hornet_core::CloseCause::PeerClosed);
        self.pump();
    }

    fn take(&mut self, id: ConnId) -> Vec<Packet> {
        let (mine, rest) = std::mem::take(&mut self.sent)
            .into_iter()
            .partition(|(c, _)| *c == id);
        self.sent = rest;
        mine.into_iter().map(|(_, p)| p).collect()
    }
}

fn publish(topic: &str, payload: &str, qos: QoS, id: u16) -> Publish {
    let mut p = Publish::new(topic, payload.to_string());
    p.qos = qos;
    p.packet_id = (qos != QoS::AtMostOnce).then(|| pid(id));
    p
}

#[test]
fn sessions_messages_retained_and_qos2_state_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let qos2;
    {
        let mut w = World::open(dir.path());
        // A QoS 2 subscriber that goes offline, and one that stays online
        // with a message in flight.
        let off = w.connect("offline", Protocol::V3_1_1, None);
        w.send(off, Subscribe::new(pid(1), "t/#", QoS::ExactlyOnce));
        w.drop_conn(off);
        let on = w.connect("online", Protocol::V5, None);
        w.send(on, Subscribe::new(pid(1), "t/#", QoS::ExactlyOnce));
        w.take(on);
        let publisher = w.connect("pub", Protocol::V3_1_1, None);
        w.send(publisher, publish("t/1", "one", QoS::AtLeastOnce, 1));
        w.send(publisher, publish("t/2", "two", QoS::ExactlyOnce, 2));
        let mut retained = publish("t/r", "kept", QoS::AtLeastOnce, 3);
        retained.retain = true;
        w.send(publisher, retained);
        // The publisher's QoS 2 id 2 awaits PUBREL; the online subscriber
        // got all three and answered only the QoS 2 one with PUBREC.
        let got = w.take(on);
        qos2 = got
            .iter()
            .find_map(|p| match p {
                Packet::Publish(p) if &p.payload[..] == b"two" => p.packet_id,
                _ => None,
            })
            .unwrap();
        w.send(on, Packet::PubRec(Ack::new(qos2)));
        // A will held back 60 s for a session that lives on.
        let mut will = LastWill {
            topic: "will/w".into(),
            payload: "gone".into(),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Default::default(),
        };
        will.properties.push(Property::WillDelayInterval(60));
        let w5 = w.connect("willed", Protocol::V5, Some(will));
        w.drop_conn(w5);
        // The broker "crashes" here: nothing is closed cleanly.
    }
    let mut w = World::open(dir.path());
    assert_eq!(w.broker.session_count(), 4, "offline, online, pub, willed");
    assert_eq!(w.broker.retained_count(), 1);

    // The offline subscriber finds its session and its three messages.
    let off = w.connect("offline", Protocol::V3_1_1, None);
    let got = w.take(off);
    assert!(matches!(&got[0], Packet::ConnAck(c) if c.session_present));
    let payloads: Vec<&[u8]> = got
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(&p.payload[..]),
            _ => None,
        })
        .collect();
    assert_eq!(payloads, [&b"one"[..], b"two", b"kept"]);

    // The online one: its QoS 1 and retained messages are resent with DUP
    // and the same packet ids, and the QoS 2 one continues with PUBREL
    // ([MQTT-4.4.0-1]).
    let on = w.connect("online", Protocol::V5, None);
    let got = w.take(on);
    let resent: Vec<&Packet> = got.iter().skip(1).collect();
    assert!(resent
        .iter()
        .any(|p| matches!(p, Packet::Publish(p) if p.dup && &p.payload[..] == b"one")));
    assert!(resent
        .iter()
        .any(|p| matches!(p, Packet::PubRel(a) if a.packet_id == qos2)));
    assert!(!resent
        .iter()
        .any(|p| matches!(p, Packet::Publish(p) if &p.payload[..] == b"two")));

    // The publisher resends its QoS 2 PUBLISH: acknowledged, not routed
    // again ([MQTT-4.3.3-10]).
    let publisher = w.connect("pub", Protocol::V3_1_1, None);
    w.take(publisher);
    let mut again = publish("t/2", "two", QoS::ExactlyOnce, 2);
    again.dup = true;
    w.send(publisher, again);
    assert!(matches!(&w.take(publisher)[..], [Packet::PubRec(a)] if a.packet_id == pid(2)));
    assert!(w.take(off).is_empty(), "routed only once");
    w.send(publisher, Packet::PubRel(Ack::new(pid(2))));
    assert!(matches!(&w.take(publisher)[..],
        [Packet::PubComp(a)] if a.reason_code == ReasonCode::Success));

    // The delayed will goes out 60 s after the restart.
    let watcher = w.connect("watcher", Protocol::V3_1_1, None);
    w.send(watcher, Subscribe::new(pid(1), "will/#", QoS::AtLeastOnce));
    w.take(watcher);
    w.now += Duration::from_secs(61);
    let now = w.now;
    w.broker.tick(now);
    w.pump();
    assert!(w
        .take(watcher)
        .iter()
        .any(|p| matches!(p, Packet::Publish(p) if &p.payload[..] == b"gone")));
}

#[test]
fn clean_sessions_and_qos0_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = World::open(dir.path());
    let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let id = ConnId(99);
    w.broker
        .connection_opened(w.now, id, ConnInfo::new(peer, 1883));
    w.broker
        .packet_received(w.now, id, Connect::new(Protocol::V3_1_1, "clean").into(), 0);
    w.broker.packet_received(
        w.now,
        id,
        Subscribe::new(pid(1), "a", QoS::ExactlyOnce).into(),
        0,
    );
    w.broker
        .packet_received(w.now, id, publish("a", "x", QoS::AtLeastOnce, 2).into(), 0);
    w.broker
        .packet_received(w.now, id, publish("a", "y", QoS::AtMostOnce, 0).into(), 0);
    assert!(!w.broker.has_store_ops(), "a clean session records nothing");
}
