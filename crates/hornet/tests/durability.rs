//! Durability through real sockets, in-process (Hornet only): a full disk
//! (simulated with the store's fault switch, since CI cannot fill a real
//! one) refuses new QoS 1/2 publishes with a clear answer, loses nothing
//! already acknowledged, and the broker recovers when space returns.
//! Restarts and SIGKILL are in `crash.rs`.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::time::{Duration, Instant};

use codec_client::Raw;
use hornet_codec::{
    Connect, Packet, PacketId, Property, Protocol, Publish, QoS, ReasonCode, Subscribe,
};

struct Hornet {
    runtime: tokio::runtime::Runtime,
    server: Option<hornet::server::Server>,
    _dir: tempfile::TempDir,
}

impl Hornet {
    fn start() -> Hornet {
        Self::with_conf("")
    }

    fn with_conf(extra: &str) -> Hornet {
        if std::env::var_os("HORNET_TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().unwrap();
        let conf = format!(
            "persistence true\npersistence_location {}\n{extra}",
            dir.path().join("data").display()
        );
        let mut config = hornet::config::parse_mosquitto(&conf, std::path::Path::new("t.conf"))
            .unwrap()
            .config;
        config.listeners = vec![hornet::config::Listener::tcp(
            0,
            Some([127, 0, 0, 1].into()),
        )];
        config.admin.enabled = false;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime
            .block_on(hornet::server::Server::start(&config))
            .unwrap();
        Hornet {
            runtime,
            server: Some(server),
            _dir: dir,
        }
    }

    fn server(&self) -> &hornet::server::Server {
        self.server.as_ref().unwrap()
    }

    fn connect(&self, protocol: Protocol, id: &str) -> Raw {
        let mut c = Connect::new(protocol, id);
        c.clean_start = false;
        if protocol == Protocol::V5 {
            c.properties.push(Property::SessionExpiryInterval(600));
        }
        let mut raw = Raw::connect_to(self.server().local_addrs()[0], c);
        assert!(matches!(raw.recv(), Some(Packet::ConnAck(_))));
        raw
    }
}

impl Drop for Hornet {
    fn drop(&mut self) {
        drop(self.server.take());
        let rt = std::mem::replace(
            &mut self.runtime,
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
        );
        rt.shutdown_background();
    }
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn qos1(n: u16) -> Packet {
    let mut p = Publish::new("d/t", format!("m{n}"));
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(pid(n));
    Packet::Publish(p)
}

/// [Issue 7] Disk full: the acknowledgement whose record could not be
/// written is withheld (connection closed, the client sends again); then
/// MQTT 5 publishers get PUBACK 0x97 Quota exceeded and 3.1.1 publishers
/// are disconnected without an acknowledgement; when space returns, QoS 1
/// publishes are accepted again and every acknowledged message is delivered.
#[test]
fn a_full_disk_refuses_qos1_publishes_and_the_broker_recovers() {
    if common::hornet_only() {
        return;
    }
    let hornet = Hornet::start();
    // A persistent subscriber, offline: every message must be stored for it.
    let mut sub = hornet.connect(Protocol::V5, "durable-sub");
    sub.send(Subscribe::new(pid(1), "d/#", QoS::AtLeastOnce).into());
    assert!(matches!(sub.recv(), Some(Packet::SubAck(_))));
    drop(sub);

    let mut publisher = hornet.connect(Protocol::V5, "pub5");
    publisher.send(qos1(1));
    assert!(
        matches!(publisher.recv(), Some(Packet::PubAck(a)) if a.reason_code == ReasonCode::Success)
    );

    let faults = hornet.server().store_faults().expect("persistence is on");
    faults.set_disk_full(true);
    // The write of message 2 fails: its PUBACK never goes out.
    publisher.send(qos1(2));
    match publisher.recv() {
        None => {}
        Some(other) => panic!("expected the connection closed without PUBACK, got {other:?}"),
    }
    // The broker now knows: MQTT 5 gets 0x97 at once.
    let mut publisher = hornet.connect(Protocol::V5, "pub5");
    publisher.send(qos1(3));
    match publisher.recv() {
        Some(Packet::PubAck(a)) => assert_eq!(a.reason_code, ReasonCode::QuotaExceeded),
        other => panic!("expected PUBACK 0x97, got {other:?}"),
    }
    // 3.1.1 has no negative acknowledgement: the connection is closed.
    let mut old = hornet.connect(Protocol::V3_1_1, "pub311");
    old.send(qos1(4));
    assert!(old.recv().is_none(), "3.1.1: closed without PUBACK");
    // QoS 0 still flows.
    let mut p0 = Publish::new("d/t", "q0");
    p0.qos = QoS::AtMostOnce;
    publisher.send(Packet::Publish(p0));

    // Space returns: within the retry period QoS 1 is accepted again.
    faults.set_disk_full(false);
    let deadline = Instant::now() + common::TIMEOUT;
    let mut n = 10;
    loop {
        publisher.send(qos1(n));
        match publisher.recv() {
            Some(Packet::PubAck(a)) if a.reason_code == ReasonCode::Success => break,
            Some(Packet::PubAck(a)) if a.reason_code == ReasonCode::QuotaExceeded => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(Instant::now() < deadline, "the store did not recover");
        n += 1;
        std::thread::sleep(Duration::from_millis(50));
    }

    // Everything acknowledged reaches the subscriber: m1 and m{n}.
    let mut sub = hornet.connect(Protocol::V5, "durable-sub");
    let mut got = Vec::new();
    while !got.contains(&format!("m{n}")) {
        match sub.recv() {
            Some(Packet::Publish(p)) => {
                got.push(String::from_utf8(p.payload.to_vec()).unwrap());
                if let Some(id) = p.packet_id {
                    sub.send(Packet::PubAck(hornet_codec::Ack::new(id)));
                }
            }
            Some(_) => {}
            None => panic!("subscriber closed; got {got:?}"),
        }
    }
    assert!(got.contains(&"m1".to_string()), "{got:?}");
    assert!(
        !got.contains(&"m3".to_string()),
        "refused messages are not delivered: {got:?}"
    );
    let stats = hornet.server().store_stats().unwrap();
    assert!(stats.syncs > 0, "{stats:?}");
}

/// Publishes QoS 1 messages to a durable offline subscriber until `n` are
/// acknowledged.
fn publish_acknowledged(hornet: &Hornet, n: u16) {
    let mut sub = hornet.connect(Protocol::V5, "durable-sub");
    sub.send(Subscribe::new(pid(1), "d/#", QoS::AtLeastOnce).into());
    assert!(matches!(sub.recv(), Some(Packet::SubAck(_))));
    drop(sub);
    let mut publisher = hornet.connect(Protocol::V5, "pub");
    for i in 1..=n {
        publisher.send(qos1(i));
        assert!(
            matches!(publisher.recv(), Some(Packet::PubAck(a)) if a.reason_code == ReasonCode::Success)
        );
    }
}

/// `fsync interval`: acknowledgements do not wait, and the store syncs
/// within the interval (bounded wait on the counter, not a guessed sleep).
#[test]
fn fsync_interval_syncs_within_the_interval() {
    if common::hornet_only() {
        return;
    }
    let hornet = Hornet::with_conf("fsync interval\nfsync_interval_ms 50\n");
    publish_acknowledged(&hornet, 20);
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        let stats = hornet.server().store_stats().unwrap();
        if stats.records > 0 && stats.syncs > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no sync: {stats:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `fsync none`: records are written, never synced.
#[test]
fn fsync_none_writes_without_syncing() {
    if common::hornet_only() {
        return;
    }
    let hornet = Hornet::with_conf("fsync none\n");
    publish_acknowledged(&hornet, 20);
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        let stats = hornet.server().store_stats().unwrap();
        assert_eq!(stats.syncs, 0, "{stats:?}");
        if stats.messages >= 20 {
            break;
        }
        assert!(Instant::now() < deadline, "not written: {stats:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// [Issue 7] Space is reclaimed end to end: 2,000 QoS 1 messages to a
/// persistent subscriber that acknowledges them leave nothing owed in the
/// store's live state (the store-level test in `hornet-store` does a
/// million, with compaction bounding the directory).
#[test]
fn delivered_messages_leave_nothing_owed_in_the_store() {
    if common::hornet_only() {
        return;
    }
    let hornet = Hornet::start();
    let mut sub = hornet.connect(Protocol::V5, "durable-sub");
    sub.send(Subscribe::new(pid(1), "d/#", QoS::AtLeastOnce).into());
    assert!(matches!(sub.recv(), Some(Packet::SubAck(_))));
    let mut publisher = hornet.connect(Protocol::V5, "pub");
    let total = 2_000u32;
    let mut received = 0u32;
    let mut acked = 0u32;
    let mut next = 1u32;
    // Publisher and subscriber in lock step, a window of 1 each way.
    while received < total {
        if next <= total && acked + 1 >= next {
            publisher.send(qos1((next % 60_000 + 1) as u16));
            next += 1;
        }
        if acked + 1 < next {
            match publisher.recv() {
                Some(Packet::PubAck(a)) => {
                    assert_eq!(a.reason_code, ReasonCode::Success);
                    acked += 1;
                }
                other => panic!("expected PUBACK, got {other:?}"),
            }
        }
        match sub.recv() {
            Some(Packet::Publish(p)) => {
                received += 1;
                sub.send(Packet::PubAck(hornet_codec::Ack::new(p.packet_id.unwrap())));
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
    // The last PUBACK from the subscriber reaches the store: nothing owed.
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        let stats = hornet.server().store_stats().unwrap();
        if stats.messages >= u64::from(total) && stats.live_bytes < 4 * 1024 {
            break;
        }
        assert!(Instant::now() < deadline, "still owed: {stats:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
