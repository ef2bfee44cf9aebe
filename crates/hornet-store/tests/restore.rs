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
use hornet_core::{AckPolicy, Action, Broker, ConnId, ConnInfo, Settings};
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
    /// A broker restored from the store in `dir` (without a wall clock:
    /// deadlines count from the restart).
    fn open(dir: &Path) -> World {
        Self::open_at(dir, None)
    }

    /// A broker restored from the store in `dir` whose wall clock reads
    /// `unix_ms` now (a virtual clock: the monotonic one starts afresh, as
    /// after a restart).
    fn open_at(dir: &Path, unix_ms: Option<u64>) -> World {
        let (store, recovery) = Store::open(dir, StoreOptions::default()).unwrap();
        let now = Instant::now();
        let settings = Settings {
            sys_interval: None,
            ..Settings::default()
        };
        let mut broker = Broker::new(settings, now);
        broker.enable_persistence(AckPolicy::AfterDurable);
        if let Some(ms) = unix_ms {
            broker.set_wall_clock(now, ms);
        }
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
        while let Some(a) = self.broker.poll_action() {
            match a {
                Action::Send { conn, packet } => self.sent.push((conn, packet)),
                Action::Persist { seq, records } => {
                    self.store.append(records);
                    self.store.commit(true).unwrap();
                    self.broker.durable(self.now, seq);
                }
                _ => {}
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

    fn connect_v5(&mut self, client: &str, expiry: u32, will: Option<LastWill>) -> ConnId {
        let id = ConnId(self.next);
        self.next += 1;
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        self.broker
            .connection_opened(self.now, id, ConnInfo::new(peer, 1883));
        let mut c = Connect::new(Protocol::V5, client);
        c.clean_start = false;
        c.will = will;
        c.properties.push(Property::SessionExpiryInterval(expiry));
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

    /// [`World::take`], acknowledging the QoS 1 messages.
    fn take_acked(&mut self, id: ConnId) -> Vec<Packet> {
        let got = self.take(id);
        for p in &got {
            if let Packet::Publish(Publish {
                packet_id: Some(pid),
                ..
            }) = p
            {
                self.send(id, Packet::PubAck(Ack::new(*pid)));
            }
        }
        got
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

/// Wall clock of the first run in the deadline test (Unix ms).
const T0: u64 = 1_800_000_000_000;

fn expiring(topic: &str, payload: &str, secs: Option<u32>, id: u16) -> Publish {
    let mut p = publish(topic, payload, QoS::AtLeastOnce, id);
    if let Some(secs) = secs {
        p.properties.push(Property::MessageExpiryInterval(secs));
    }
    p
}

/// [Issue 7 follow-up] Deadlines survive a restart: the broker is down
/// for 100 s (virtual wall clock). A session whose 60 s expiry passed
/// meanwhile is gone; a queued message whose 30 s Message Expiry Interval
/// passed is not delivered, and one with 600 s arrives with what is left
/// of it, about 500 s ([MQTT-3.3.2-5], [MQTT-3.3.2-6]); a retained message
/// whose expiry passed is gone; a will delayed 120 s goes out 20 s after
/// the restart, not 120 s.
#[test]
fn deadlines_count_the_time_the_broker_was_down() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut w = World::open_at(dir.path(), Some(T0));
        let short = w.connect_v5("short", 60, None);
        w.drop_conn(short);
        let long = w.connect_v5("long", 3600, None);
        w.send(long, Subscribe::new(pid(1), "m/#", QoS::AtLeastOnce));
        w.drop_conn(long);
        let publisher = w.connect("pub", Protocol::V5, None);
        w.send(publisher, expiring("m/a", "brief", Some(30), 1));
        w.send(publisher, expiring("m/b", "lasting", Some(600), 2));
        w.send(publisher, expiring("m/c", "forever", None, 3));
        let mut r = expiring("r/x", "stale", Some(30), 4);
        r.retain = true;
        w.send(publisher, r);
        let mut will = LastWill {
            topic: "will/w".into(),
            payload: "gone".into(),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Default::default(),
        };
        will.properties.push(Property::WillDelayInterval(120));
        let willed = w.connect_v5("willed", 3600, Some(will));
        w.drop_conn(willed);
        // Crash; back 100 s later.
    }
    let mut w = World::open_at(dir.path(), Some(T0 + 100_000));
    assert_eq!(
        w.broker.session_count(),
        3,
        "long, pub, willed: short expired"
    );
    assert_eq!(w.broker.retained_count(), 0, "r/x expired while down");

    let short = w.connect_v5("short", 60, None);
    assert!(
        matches!(&w.take(short)[0], Packet::ConnAck(c) if !c.session_present),
        "the expired session is not found again"
    );

    let long = w.connect_v5("long", 3600, None);
    let got = w.take(long);
    assert!(matches!(&got[0], Packet::ConnAck(c) if c.session_present));
    let delivered: Vec<(String, Option<u32>)> = got
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some((
                String::from_utf8_lossy(&p.payload).into_owned(),
                p.properties.message_expiry_interval(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert_eq!(delivered[0].0, "lasting");
    let left = delivered[0].1.unwrap();
    assert!(
        (499..=500).contains(&left),
        "600 s less 100 s on disk: {left}"
    );
    assert_eq!(delivered[1], ("forever".to_string(), None));

    let watcher = w.connect("watcher", Protocol::V3_1_1, None);
    w.send(watcher, Subscribe::new(pid(1), "will/#", QoS::AtLeastOnce));
    w.send(watcher, Subscribe::new(pid(2), "r/#", QoS::AtLeastOnce));
    assert!(!w
        .take(watcher)
        .iter()
        .any(|p| matches!(p, Packet::Publish(_))));
    w.now += Duration::from_secs(19);
    let now = w.now;
    w.broker.tick(now);
    w.pump();
    assert!(
        w.take(watcher).is_empty(),
        "the will is due 20 s after the restart"
    );
    w.now += Duration::from_secs(2);
    let now = w.now;
    w.broker.tick(now);
    w.pump();
    assert!(w
        .take(watcher)
        .iter()
        .any(|p| matches!(p, Packet::Publish(p) if &p.payload[..] == b"gone")));
}

fn will(payload: &str, delay: Option<u32>) -> LastWill {
    let mut will = LastWill {
        topic: "will/w".into(),
        payload: payload.to_string().into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    };
    if let Some(d) = delay {
        will.properties.push(Property::WillDelayInterval(d));
    }
    will
}

fn will_payloads(packets: &[Packet]) -> Vec<String> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(String::from_utf8_lossy(&p.payload).into_owned()),
            _ => None,
        })
        .collect()
}

/// [Issue 7 follow-up] Clients of persistent sessions connected with a
/// will when the broker crashed: after the restart their wills are
/// published, as for any abnormal end of the connection ([MQTT-3.1.2-8]),
/// a delayed one after its Will Delay Interval ([MQTT-3.1.3-9]). A will
/// discarded by a normal DISCONNECT is not ([MQTT-3.1.2-10]), and a clean
/// session's will is not recorded at all.
#[test]
fn wills_of_clients_connected_at_the_crash_are_published_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut w = World::open(dir.path());
        let watcher = w.connect("watcher", Protocol::V3_1_1, None);
        w.send(watcher, Subscribe::new(pid(1), "will/#", QoS::AtLeastOnce));
        w.drop_conn(watcher);
        w.connect("crasher", Protocol::V5, Some(will("crasher", None)));
        w.connect("slow", Protocol::V5, Some(will("slow", Some(30))));
        let polite = w.connect("polite", Protocol::V5, Some(will("polite", None)));
        w.send(polite, hornet_codec::Disconnect::new(ReasonCode::Success));
        // A clean session (3.1.1, clean session 1): nothing is stored.
        let id = ConnId(w.next);
        w.next += 1;
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        w.broker
            .connection_opened(w.now, id, ConnInfo::new(peer, 1883));
        let mut c = Connect::new(Protocol::V3_1_1, "clean");
        c.will = Some(will("clean", None));
        w.send(id, c);
        // Crash: crasher, slow and clean are connected.
    }
    let mut w = World::open(dir.path());
    let watcher = w.connect("watcher", Protocol::V3_1_1, None);
    assert_eq!(will_payloads(&w.take_acked(watcher)), ["crasher"]);
    w.now += Duration::from_secs(29);
    let now = w.now;
    w.broker.tick(now);
    w.pump();
    assert!(w.take(watcher).is_empty(), "slow's will waits 30 s");
    w.now += Duration::from_secs(2);
    let now = w.now;
    w.broker.tick(now);
    w.pump();
    assert_eq!(will_payloads(&w.take_acked(watcher)), ["slow"]);
    // Restarted again: nothing is published twice.
    drop(w);
    let mut w = World::open(dir.path());
    let watcher = w.connect("watcher", Protocol::V3_1_1, None);
    assert!(will_payloads(&w.take(watcher)).is_empty());
}
