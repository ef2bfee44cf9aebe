//! Client-id ownership and persistent sessions in a Hornet cluster, as
//! real processes: etcd from the Debian `etcd-server` (one member, or
//! three for the quorum test; data on /dev/shm, ephemeral ports, short
//! heartbeat and election, killed on drop), `hornet` binaries with
//! `[cluster]` tables, and the repo's raw MQTT client at the edges.
//!
//! What is proved: concurrent CONNECTs with one client id on two nodes
//! leave exactly one connected client, on the node etcd names; a
//! persistent session whose node is dead is refused with 0x88 / 0x03
//! (`orphan_sessions = "refuse"`) until that node returns; a node cut off
//! from the etcd quorum closes its persistent sessions before its lease
//! could expire, refuses new ones and serves clean ones, and takes
//! persistent sessions again after the heal; a session moving to another
//! node takes its inbound QoS 2 ids and `$local/` marks along, and one
//! arriving after the 2 s wait is merged into the new session with its
//! messages; a session restored after a restart deletes its key when it
//! ends and keeps its `$local/` subscriptions local; a paused node closes
//! its clean sessions on resume without publishing their wills twice; a
//! delayed will waiting on a killed node is published by the survivor when
//! due, also when the survivor that was to publish it dies too.
//!
//! Without `/usr/bin/etcd` the tests print why and pass, except under CI
//! (`CI` set), where they fail: CI installs `etcd-server` (scripts/test.sh).

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/process.rs"]
mod process;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use codec_client::Raw;
use etcd::Etcd;
use hornet_codec::{Connect, Packet, PacketId, Property, Protocol, QoS, ReasonCode, Subscribe};
use process::Proc;

/// One `hornet` node: its configuration and port.
struct Node {
    name: String,
    dir: tempfile::TempDir,
    port: u16,
}

impl Node {
    /// A node of the etcd at `etcd`, with `cluster_extra` lines in its
    /// `[cluster]` table.
    fn new(name: &str, etcd: &[String], lease_ttl: u64, cluster_extra: &str) -> Node {
        Node::with_store(name, etcd, lease_ttl, cluster_extra, false)
    }

    /// The same, keeping its sessions in a store in its directory when
    /// `persistence` (so a restart restores them).
    fn with_store(
        name: &str,
        etcd: &[String],
        lease_ttl: u64,
        cluster_extra: &str,
        persistence: bool,
    ) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let (port, link) = (common::free_port(), common::free_port());
        let endpoints: Vec<String> = etcd.iter().map(|u| format!("\"{u}\"")).collect();
        std::fs::write(
            dir.path().join("hornet.toml"),
            format!(
                "persistence = {persistence}\n\
                 [[listener]]\nport = {port}\nbind_address = \"127.0.0.1\"\n\
                 [cluster]\nnode = \"{name}\"\netcd = [{}]\n\
                 listen = \"127.0.0.1:{link}\"\nlease_ttl = {lease_ttl}\n{cluster_extra}\n",
                endpoints.join(", ")
            ),
        )
        .unwrap();
        Node {
            name: name.to_string(),
            dir,
            port,
        }
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("hornet.toml")
    }

    fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Starts the binary and waits until it joined and listens.
    fn start(&self) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
        cmd.arg("-c").arg(self.conf()).current_dir(self.dir.path());
        let mut proc = Proc::spawn(&self.name, &mut cmd, "cargo build -p hornet");
        proc.wait_line(Duration::from_secs(30), "the join", |l| {
            l.contains("Cluster: joined")
        });
        proc.wait_line(Duration::from_secs(30), "the listener", |l| {
            l.contains("Opening ")
        });
        proc
    }
}

/// A CONNECT for a persistent session: MQTT 5 with a Session Expiry
/// Interval of 300 s, or 3.1.1 with clean session 0.
fn persistent(protocol: Protocol, id: &str) -> Connect {
    let mut c = Connect::new(protocol, id);
    c.clean_start = false;
    if protocol.is_v5() {
        c.properties.push(Property::SessionExpiryInterval(300));
    }
    c
}

/// How long a CONNECT may wait for its CONNACK on a cluster node: the
/// claim's etcd transaction (at most 3 s, then 0x88), a session moving
/// from another node (at most 2 s, then a new session), and slack for a
/// machine loaded by parallel builds. The node itself closes a connection
/// without CONNACK after `connect_timeout` (10 s), so a CONNACK later than
/// this bound is a bug, not load.
const CONNACK_WAIT: Duration = Duration::from_secs(3 + 2 + 10);

/// Connects and returns the client with its CONNACK.
fn connack(node: &Node, c: Connect) -> (Raw, hornet_codec::ConnAck) {
    let mut raw = Raw::connect_to(node.addr(), c);
    match raw.recv_within(CONNACK_WAIT) {
        Ok(Some(Packet::ConnAck(a))) => (raw, a),
        Err(()) => panic!("no CONNACK from {} within {CONNACK_WAIT:?}", node.name),
        other => panic!("no CONNACK from {}: {other:?}", node.name),
    }
}

/// Connects and returns the client with its CONNACK reason code.
fn connect(node: &Node, c: Connect) -> (Raw, ReasonCode) {
    let (raw, ack) = connack(node, c);
    (raw, ack.reason_code)
}

/// Whether `c` is still connected: a PINGREQ is answered.
fn alive(c: &mut Raw) -> bool {
    c.send(Packet::PingReq);
    loop {
        match c.recv_within(Duration::from_secs(5)) {
            Ok(Some(Packet::PingResp)) => return true,
            Ok(Some(_)) => {}
            Ok(None) => return false,
            Err(()) => panic!("neither PINGRESP nor a close within 5 s"),
        }
    }
}

/// Waits up to `wait` for `c` to be closed; returns the DISCONNECT
/// reason it got first, if any, or `None` if it stayed connected.
fn closed_within(c: &mut Raw, wait: Duration) -> Option<Option<ReasonCode>> {
    let deadline = Instant::now() + wait;
    let mut reason = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match c.recv_within(left) {
            Ok(Some(Packet::Disconnect(d))) => reason = Some(d.reason_code),
            Ok(Some(_)) => {}
            Ok(None) => return Some(reason),
            Err(()) => return None,
        }
    }
}

/// The topics `c` receives until its connection closes, and the reason
/// of the DISCONNECT before that; panics if it is still open after `wait`.
fn topics_until_closed(c: &mut Raw, wait: Duration) -> (Vec<String>, Option<ReasonCode>) {
    let deadline = Instant::now() + wait;
    let (mut topics, mut reason) = (Vec::new(), None);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "still open after {wait:?}: {topics:?}");
        match c.recv_within(left) {
            Ok(Some(Packet::Publish(p))) => topics.push(p.topic.to_string()),
            Ok(Some(Packet::Disconnect(d))) => reason = Some(d.reason_code),
            Ok(Some(_)) => {}
            Ok(None) => return (topics, reason),
            Err(()) => panic!("still open after {wait:?}: {topics:?}"),
        }
    }
}

/// A client `id` on `node` subscribed to `wills/#` at `qos` (its SUBACK
/// read).
fn wills_watcher(node: &Node, id: &str, qos: QoS) -> Raw {
    let (mut watcher, _) = connect(node, Connect::new(Protocol::V5, id));
    watcher.send(Subscribe::new(PacketId::new(1).unwrap(), "wills/#", qos).into());
    assert!(matches!(watcher.recv(), Some(Packet::SubAck(_))));
    watcher
}

/// A QoS 1 will saying "gone" on `topic`.
fn will_gone(
    topic: impl Into<String>,
    properties: hornet_codec::Properties,
) -> hornet_codec::LastWill {
    hornet_codec::LastWill {
        topic: topic.into().into(),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties,
    }
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`) to process `pid`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn concurrent_connects_with_one_client_id_on_two_nodes_leave_one_winner() {
    let Some(etcd) = Etcd::start(1) else { return };
    let n1 = Node::new("n1", &etcd.urls, 4, "");
    let n2 = Node::new("n2", &etcd.urls, 4, "");
    let (_p1, _p2) = (n1.start(), n2.start());
    let nodes = Arc::new([n1, n2]);
    for round in 0..12 {
        let id = format!("race-{round}");
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (nodes, barrier, id) = (nodes.clone(), barrier.clone(), id.clone());
                // Odd rounds: an MQTT 3.1.1 client on n2.
                let protocol = if round % 2 == 1 && i == 1 {
                    Protocol::V3_1_1
                } else {
                    Protocol::V5
                };
                std::thread::spawn(move || {
                    barrier.wait();
                    (protocol, connect(&nodes[i], persistent(protocol, &id)))
                })
            })
            .collect();
        let joined: Vec<(Protocol, (Raw, ReasonCode))> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        let protocols: Vec<Protocol> = joined.iter().map(|(p, _)| *p).collect();
        let mut clients: Vec<(Raw, ReasonCode)> = joined.into_iter().map(|(_, c)| c).collect();
        for (_, code) in &clients {
            assert_eq!(*code, ReasonCode::Success, "{id}: CONNACK");
        }
        // The loser is closed, MQTT 5 with DISCONNECT 0x8E Session taken
        // over first [MQTT-3.1.4-3]; the winner stays.
        let deadline = Instant::now() + Duration::from_secs(10);
        let loser = 'found: loop {
            for (i, (c, _)) in clients.iter_mut().enumerate() {
                if let Some(reason) = closed_within(c, Duration::from_millis(100)) {
                    // MQTT 3.1.1 has no DISCONNECT from the server: closed.
                    let expected = protocols[i].is_v5().then_some(ReasonCode::SessionTakenOver);
                    assert_eq!(reason, expected, "{id}");
                    break 'found i;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{id}: both clients still connected after 10 s"
            );
        };
        let winner = 1 - loser;
        assert!(
            alive(&mut clients[winner].0),
            "{id}: the winner on {} was closed too",
            nodes[winner].name
        );
        // Still alive a moment later: no stale takeover arrives after.
        assert!(closed_within(&mut clients[winner].0, Duration::from_millis(500)).is_none());
        let owner = etcd.get(&format!("/hornet/hornet/clients/{id}"));
        assert!(
            owner.starts_with(&format!("{} ", nodes[winner].name)),
            "{id}: etcd names {owner:?}, the connected client is on {}",
            nodes[winner].name
        );
    }
}

#[test]
fn a_dead_nodes_persistent_session_is_refused_until_it_returns() {
    let Some(etcd) = Etcd::start(1) else { return };
    let n1 = Node::new("n1", &etcd.urls, 4, "");
    let n2 = Node::new("n2", &etcd.urls, 4, "orphan_sessions = \"refuse\"");
    let p1 = n1.start();
    let mut p2 = n2.start();
    let (c, code) = connect(&n1, persistent(Protocol::V3_1_1, "orphan"));
    assert_eq!(code, ReasonCode::Success);
    assert!(etcd.get("/hornet/hornet/clients/orphan").starts_with("n1 "));
    drop(c);
    drop(p1); // SIGKILL
    p2.wait_line(Duration::from_secs(15), "n1 declared dead", |l| {
        l.contains("node n1 is dead")
    });
    // 3.1.1: return code 0x03 Server unavailable; MQTT 5: 0x88.
    let (_, code) = connect(&n2, persistent(Protocol::V3_1_1, "orphan"));
    assert_eq!(code, ReasonCode::ServerUnavailable);
    let (_, code) = connect(&n2, persistent(Protocol::V5, "orphan"));
    assert_eq!(code, ReasonCode::ServerUnavailable);
    p2.wait_line(Duration::from_secs(5), "the refusal logged", |l| {
        l.contains("Client orphan refused") && l.contains("on node n1, which is dead")
    });
    // A clean session with that id is served.
    let (mut clean, code) = connect(&n2, Connect::new(Protocol::V5, "orphan"));
    assert_eq!(code, ReasonCode::Success);
    assert!(alive(&mut clean));
    drop(clean);
    // n1 comes back (without its session: it ran without persistence):
    // the key's owner is alive, so a CONNECT on n2 takes the client id
    // over (n2 waits for a session n1 no longer has, then starts anew).
    let _p1 = n1.start();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (mut c, code) = connect(&n2, persistent(Protocol::V5, "orphan"));
        if code == ReasonCode::Success {
            assert!(alive(&mut c));
            break;
        }
        assert_eq!(code, ReasonCode::ServerUnavailable);
        assert!(
            Instant::now() < deadline,
            "still refused 15 s after n1 came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(etcd.get("/hornet/hornet/clients/orphan").starts_with("n2 "));
}

#[test]
fn etcd_quorum_lost_closes_persistent_sessions_refuses_new_ones_and_serves_clean_ones() {
    let Some(etcd) = Etcd::start(3) else { return };
    let lease_ttl = 4;
    let n1 = Node::new("n1", &etcd.urls, lease_ttl, "");
    let mut p1 = n1.start();
    let (mut kept, code) = connect(&n1, persistent(Protocol::V5, "kept"));
    assert_eq!(code, ReasonCode::Success);
    let (mut kept3, code) = connect(&n1, persistent(Protocol::V3_1_1, "kept3"));
    assert_eq!(code, ReasonCode::Success);
    let (mut clean, code) = connect(&n1, Connect::new(Protocol::V5, "clean"));
    assert_eq!(code, ReasonCode::Success);

    // Two of three members stop: no quorum.
    let stopped: Vec<u32> = etcd.members[1..].iter().map(|m| m.pid()).collect();
    let cut_at = Instant::now();
    for &pid in &stopped {
        signal(pid, "STOP");
    }
    // The node closes its persistent sessions before its lease could
    // expire: within lease_ttl of the last keep-alive, so within
    // lease_ttl of the cut. MQTT 5: DISCONNECT 0x9C Use another server.
    let limit = Duration::from_secs(lease_ttl);
    let reason = closed_within(&mut kept, limit + Duration::from_secs(1))
        .expect("the persistent MQTT 5 session is closed");
    assert!(
        cut_at.elapsed() < limit,
        "closed after {:?}, not within lease_ttl",
        cut_at.elapsed()
    );
    assert_eq!(reason, Some(ReasonCode::UseAnotherServer));
    assert!(closed_within(&mut kept3, Duration::from_secs(2)).is_some());
    p1.wait_line(Duration::from_secs(5), "the cut logged", |l| {
        l.contains("cut off from the etcd quorum")
    });
    // New persistent sessions are refused; clean ones work, with local
    // routing.
    let (_, code) = connect(&n1, persistent(Protocol::V5, "new"));
    assert_eq!(code, ReasonCode::ServerUnavailable);
    let (_, code) = connect(&n1, persistent(Protocol::V3_1_1, "new3"));
    assert_eq!(code, ReasonCode::ServerUnavailable);
    assert!(alive(&mut clean), "a clean session is kept");
    let (mut sub, code) = connect(&n1, Connect::new(Protocol::V5, "clean-sub"));
    assert_eq!(code, ReasonCode::Success);
    sub.send(Subscribe::new(PacketId::new(1).unwrap(), "local/#", QoS::AtMostOnce).into());
    assert!(matches!(sub.recv(), Some(Packet::SubAck(_))));
    clean.send(hornet_codec::Publish::new("local/x", "during the cut").into());
    match sub.recv() {
        Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], b"during the cut"),
        other => panic!("no local delivery while cut off: {other:?}"),
    }

    // The heal: persistent sessions are served again.
    for &pid in &stopped {
        signal(pid, "CONT");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (mut c, code) = connect(&n1, persistent(Protocol::V5, "kept"));
        if code == ReasonCode::Success {
            assert!(alive(&mut c));
            break;
        }
        assert_eq!(code, ReasonCode::ServerUnavailable);
        assert!(
            Instant::now() < deadline,
            "persistent sessions still refused 30 s after the heal"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(etcd.get("/hornet/hornet/clients/kept").starts_with("n1 "));
}

#[test]
fn a_paused_node_closes_its_persistent_sessions_when_it_resumes() {
    let Some(etcd) = Etcd::start(1) else { return };
    let n1 = Node::new("n1", &etcd.urls, 4, "");
    let n2 = Node::new("n2", &etcd.urls, 4, "");
    let mut p1 = n1.start();
    let mut p2 = n2.start();
    let mut watcher = wills_watcher(&n2, "watcher", QoS::AtLeastOnce);
    let mut with_will = persistent(Protocol::V5, "paused");
    with_will.will = Some(will_gone("wills/paused", Default::default()));
    let (mut kept, code) = connect(&n1, with_will);
    assert_eq!(code, ReasonCode::Success);
    // A watcher on n1 itself would get a will n1 published on resume.
    let mut local = wills_watcher(&n1, "local-watcher", QoS::AtMostOnce);
    // A marker after the client's will on the n1 -> n2 link: n2 holds it.
    let (mut publisher, _) = connect(&n1, Connect::new(Protocol::V5, "publisher"));
    until_routed(&mut publisher, "wills/marker", "before");
    assert_eq!(next_message(&mut watcher).0, "wills/marker");
    assert_eq!(next_message(&mut local).0, "wills/marker");

    signal(p1.pid(), "STOP");
    p2.wait_line(Duration::from_secs(15), "n1 declared dead", |l| {
        l.contains("node n1 is dead")
    });
    // n2 published the will of n1's client [MQTT-3.1.2-8] ...
    assert_eq!(
        next_message(&mut watcher),
        ("wills/paused".into(), "gone".into())
    );
    // ... and meanwhile its session is refused on n2 (its owner is dead)...
    let (_, code) = connect(&n2, persistent(Protocol::V5, "paused"));
    assert_eq!(code, ReasonCode::ServerUnavailable);
    // ... and on resuming n1 stops serving it before anything else: its
    // lease was gone, it cannot prove it owns the session.
    signal(p1.pid(), "CONT");
    let reason = closed_within(&mut kept, Duration::from_secs(5))
        .expect("the paused node's persistent session is closed on resume");
    assert_eq!(reason, Some(ReasonCode::UseAnotherServer));
    let line = p1.wait_line(Duration::from_secs(5), "the cut-off logged", |l| {
        l.contains("such connections closed")
    });
    assert!(line.contains("not published again"), "{line}");
    // It finds its lease expired and joins again (closing the clean
    // "publisher" of before, also without a will).
    p1.wait_line(Duration::from_secs(10), "the rejoin logged", |l| {
        l.contains("connections from before then closed")
    });
    // The local watcher, connected before the pause, is closed by the
    // rejoin too; until then it got no will from n1.
    let (topics, reason) = topics_until_closed(&mut local, Duration::from_secs(10));
    assert_eq!(reason, Some(ReasonCode::UseAnotherServer));
    assert!(topics.is_empty(), "n1 published the will again: {topics:?}");
    // No second will: the next message the watcher gets is a marker
    // published on n1 after its rejoin.
    let (mut again, _) = connect(&n1, Connect::new(Protocol::V5, "publisher2"));
    until_routed(&mut again, "wills/marker", "after");
    assert_eq!(
        next_message(&mut watcher),
        ("wills/marker".into(), "after".into())
    );
}

#[test]
fn a_persistent_session_moves_with_its_queued_messages_to_the_node_its_client_connects_to() {
    let Some(etcd) = Etcd::start(1) else { return };
    let n1 = Node::new("n1", &etcd.urls, 4, "");
    let n2 = Node::new("n2", &etcd.urls, 4, "");
    let (_p1, mut p2) = (n1.start(), n2.start());
    let (mut c, code) = connect(&n1, persistent(Protocol::V5, "mover"));
    assert_eq!(code, ReasonCode::Success);
    c.send(Subscribe::new(PacketId::new(1).unwrap(), "moving/#", QoS::AtLeastOnce).into());
    assert!(matches!(c.recv(), Some(Packet::SubAck(_))));
    c.send(Packet::Disconnect(hornet_codec::Disconnect::new(
        ReasonCode::Success,
    )));
    assert!(closed_within(&mut c, Duration::from_secs(5)).is_some());
    // Three messages wait in its session on n1.
    let (mut publisher, _) = connect(&n1, Connect::new(Protocol::V5, "publisher"));
    for (i, text) in ["m1", "m2", "m3"].iter().enumerate() {
        let mut p = hornet_codec::Publish::new("moving/x", text.to_string());
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(PacketId::new(i as u16 + 1).unwrap());
        publisher.send(p.into());
        assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));
    }
    // It connects to n2: the session follows (Session Present 1
    // [MQTT-3.2.2-2]) with the queued messages, in order.
    // The CONNACK waits for the claim and the session: bounded by
    // CONNACK_WAIT, not the raw client's 10 s read bound (a loaded machine
    // once took longer than that here).
    let (mut moved, ack) = connack(&n2, persistent(Protocol::V5, "mover"));
    assert!(ack.session_present, "the session moved with the client");
    assert_eq!(ack.reason_code, ReasonCode::Success);
    let mut got = Vec::new();
    while got.len() < 3 {
        match moved.recv_within(Duration::from_secs(5)) {
            Ok(Some(Packet::Publish(p))) => {
                if let Some(id) = p.packet_id {
                    moved.send(Packet::PubAck(hornet_codec::Ack::new(id)));
                }
                got.push(String::from_utf8_lossy(&p.payload).into_owned());
            }
            Ok(Some(_)) => {}
            other => panic!("the queued messages did not follow: {got:?} then {other:?}"),
        }
    }
    assert_eq!(got, ["m1", "m2", "m3"]);
    p2.wait_line(Duration::from_secs(5), "the arrival logged", |l| {
        l.contains("session of mover arrived from node n1")
    });
    assert!(etcd.get("/hornet/hornet/clients/mover").starts_with("n2 "));
}

#[test]
fn orphan_sessions_fresh_gives_a_dead_nodes_client_a_new_session() {
    let Some(etcd) = Etcd::start(1) else { return };
    let n1 = Node::new("n1", &etcd.urls, 4, "");
    let n2 = Node::new("n2", &etcd.urls, 4, "orphan_sessions = \"fresh\"");
    let p1 = n1.start();
    let mut p2 = n2.start();
    let (c, code) = connect(&n1, persistent(Protocol::V5, "orphan"));
    assert_eq!(code, ReasonCode::Success);
    drop(c);
    drop(p1); // SIGKILL
    p2.wait_line(Duration::from_secs(15), "n1 declared dead", |l| {
        l.contains("node n1 is dead")
    });
    let mut raw = Raw::connect_to(n2.addr(), persistent(Protocol::V5, "orphan"));
    match raw.recv() {
        Some(Packet::ConnAck(a)) => {
            assert_eq!(a.reason_code, ReasonCode::Success);
            assert!(!a.session_present, "a new session [MQTT-3.2.2-2]");
        }
        other => panic!("no CONNACK: {other:?}"),
    }
    p2.wait_line(Duration::from_secs(5), "the replacement logged", |l| {
        l.contains("Client orphan: its persistent session is on node n1, which is dead")
    });
    assert!(etcd.get("/hornet/hornet/clients/orphan").starts_with("n2 "));
}

/// A QoS 1/2 PUBLISH from `c` with packet id `id`; returns the reason code
/// of its PUBACK or PUBREC.
fn publish_acked(c: &mut Raw, topic: &str, payload: &str, qos: QoS, id: u16) -> ReasonCode {
    let mut p = hornet_codec::Publish::new(topic, payload.to_string());
    p.qos = qos;
    p.packet_id = Some(PacketId::new(id).unwrap());
    c.send(p.into());
    loop {
        match c.recv() {
            Some(Packet::PubAck(a)) | Some(Packet::PubRec(a)) => {
                assert_eq!(a.packet_id.get(), id);
                return a.reason_code;
            }
            Some(_) => {}
            None => panic!("closed instead of acknowledging {topic}"),
        }
    }
}

/// The next PUBLISH `c` gets (acknowledged), as (topic, payload).
fn next_message(c: &mut Raw) -> (String, String) {
    loop {
        match c.recv() {
            Some(Packet::Publish(p)) => {
                match (p.qos, p.packet_id) {
                    (QoS::AtLeastOnce, Some(id)) => {
                        c.send(Packet::PubAck(hornet_codec::Ack::new(id)))
                    }
                    (QoS::ExactlyOnce, Some(id)) => {
                        c.send(Packet::PubRec(hornet_codec::Ack::new(id)))
                    }
                    _ => {}
                }
                return (
                    p.topic.to_string(),
                    String::from_utf8_lossy(&p.payload).into_owned(),
                );
            }
            Some(Packet::PubRel(r)) => c.send(Packet::PubComp(hornet_codec::Ack::new(r.packet_id))),
            Some(_) => {}
            None => panic!("closed while waiting for a message"),
        }
    }
}

/// Publishes `topic` at QoS 1 from `c` (MQTT 5) until the PUBACK says a
/// subscriber matched (not 0x10): the route from the other node arrived.
fn until_routed(c: &mut Raw, topic: &str, payload: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut id = 1000;
    loop {
        id += 1;
        match publish_acked(c, topic, payload, QoS::AtLeastOnce, id) {
            ReasonCode::Success => return,
            ReasonCode::NoMatchingSubscribers => {}
            other => panic!("PUBACK {other:?} for {topic}"),
        }
        assert!(Instant::now() < deadline, "{topic}: no route within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [MQTT-4.3.3-10] [MQTT-4.3.3-11]: a client whose QoS 2 PUBLISH got its
/// PUBREC on n1 and whose connection broke before its PUBREL reconnects to
/// n2: its session moves with the packet id awaiting PUBREL, so the
/// resent PUBLISH is acknowledged without a second delivery and its PUBREL
/// gets PUBCOMP 0x00, not 0x92. And its `$local/` subscription stays
/// local on n2: no route for it reaches n1 (a publish there is answered
/// 0x10 No matching subscribers), while its plain one is routed.
#[test]
fn a_moved_session_keeps_its_qos2_exchanges_and_its_local_subscriptions() {
    let Some(etcd) = Etcd::start(1) else { return };
    let n1 = Node::new("n1", &etcd.urls, 4, "");
    let n2 = Node::new("n2", &etcd.urls, 4, "");
    let (_p1, mut p2) = (n1.start(), n2.start());
    let (mut watcher, _) = connect(&n1, Connect::new(Protocol::V5, "watcher"));
    watcher.send(Subscribe::new(PacketId::new(1).unwrap(), "q2/#", QoS::ExactlyOnce).into());
    assert!(matches!(watcher.recv(), Some(Packet::SubAck(_))));

    let (mut c, code) = connect(&n1, persistent(Protocol::V5, "dev"));
    assert_eq!(code, ReasonCode::Success);
    for (i, filter) in ["$local/here/#", "there/#"].iter().enumerate() {
        c.send(
            Subscribe::new(
                PacketId::new(i as u16 + 1).unwrap(),
                *filter,
                QoS::AtLeastOnce,
            )
            .into(),
        );
        assert!(matches!(c.recv(), Some(Packet::SubAck(_))));
    }
    assert_eq!(
        publish_acked(&mut c, "q2/a", "exactly once", QoS::ExactlyOnce, 7),
        ReasonCode::Success
    );
    assert_eq!(next_message(&mut watcher).1, "exactly once");
    drop(c); // before its PUBREL

    let (mut c, ack) = connack(&n2, persistent(Protocol::V5, "dev"));
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(ack.session_present);
    p2.wait_line(Duration::from_secs(5), "the arrival logged", |l| {
        l.contains("session of dev arrived from node n1")
    });
    // The client never saw the PUBREC: it sends the PUBLISH again (DUP).
    let mut again = hornet_codec::Publish::new("q2/a", "exactly once");
    again.qos = QoS::ExactlyOnce;
    again.dup = true;
    again.packet_id = Some(PacketId::new(7).unwrap());
    c.send(again.into());
    match c.recv() {
        Some(Packet::PubRec(a)) => {
            assert_eq!((a.packet_id.get(), a.reason_code), (7, ReasonCode::Success))
        }
        other => panic!("no PUBREC: {other:?}"),
    }
    c.send(Packet::PubRel(hornet_codec::Ack::new(
        PacketId::new(7).unwrap(),
    )));
    match c.recv() {
        Some(Packet::PubComp(a)) => assert_eq!(
            (a.packet_id.get(), a.reason_code),
            (7, ReasonCode::Success),
            "PUBCOMP 0x00, not 0x92 Packet Identifier not found"
        ),
        other => panic!("no PUBCOMP: {other:?}"),
    }
    // Not delivered a second time: the watcher's next message, sent
    // after on the same link, is the marker.
    until_routed(&mut c, "q2/end", "marker");
    assert_eq!(
        next_message(&mut watcher),
        ("q2/end".into(), "marker".into())
    );

    // The plain subscription is routed to n2, the `$local/` one is not.
    let (mut publisher, _) = connect(&n1, Connect::new(Protocol::V5, "publisher"));
    until_routed(&mut publisher, "there/1", "routed");
    assert_eq!(
        publish_acked(&mut publisher, "here/1", "local", QoS::AtLeastOnce, 1),
        ReasonCode::NoMatchingSubscribers,
        "the $local/ subscription was exported from n2"
    );
    // It is still a subscription on n2.
    let (mut local_pub, _) = connect(&n2, Connect::new(Protocol::V5, "local-pub"));
    assert_eq!(
        publish_acked(&mut local_pub, "here/2", "on n2", QoS::AtLeastOnce, 1),
        ReasonCode::Success
    );
    loop {
        let (topic, payload) = next_message(&mut c);
        if topic == "here/2" {
            assert_eq!(payload, "on n2");
            break;
        }
        assert!(topic.starts_with("there/") || topic == "q2/end", "{topic}");
    }
}

/// A session restored from a node's store after a restart is held under
/// the etcd claim that names the node: when it ends (here: its client
/// connects with Clean Start), its key is deleted, as for a session
/// claimed in this life.
#[test]
fn a_session_restored_after_a_restart_deletes_its_etcd_key_when_it_ends() {
    let Some(etcd) = Etcd::start(1) else { return };
    let n1 = Node::with_store("n1", &etcd.urls, 4, "", true);
    let mut p1 = n1.start();
    let (mut c, code) = connect(&n1, persistent(Protocol::V5, "stored"));
    assert_eq!(code, ReasonCode::Success);
    c.send(Subscribe::new(PacketId::new(1).unwrap(), "s/#", QoS::AtLeastOnce).into());
    assert!(matches!(c.recv(), Some(Packet::SubAck(_))));
    c.send(Packet::Disconnect(hornet_codec::Disconnect::new(
        ReasonCode::Success,
    )));
    assert!(closed_within(&mut c, Duration::from_secs(5)).is_some());
    let key = "/hornet/hornet/clients/stored";
    assert!(etcd.get(key).starts_with("n1 "));
    signal(p1.pid(), "TERM");
    p1.wait_exit(Duration::from_secs(15));

    let mut p1 = n1.start();
    // The read may be logged before the listener's line, which `start`
    // waits for (and so has read already).
    let read = |l: &str| l.contains("client id claims from etcd; 1 name sessions restored here");
    if !p1.lines_so_far().iter().any(|l| read(l)) {
        p1.wait_line(Duration::from_secs(10), "the claims read", read);
    }
    // Clean Start ends the restored session ([MQTT-3.1.2-4]): its key goes.
    let (mut clean, ack) = connack(&n1, Connect::new(Protocol::V5, "stored"));
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(!ack.session_present);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !etcd.get(key).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the ended session's key still names {:?}",
            etcd.get(key)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(alive(&mut clean));
}

/// [MQTT-3.1.3-9]: a client disconnected with a will delayed 12 s when its
/// node is killed: the surviving node publishes the will when its delay
/// ends (not at the death, and not never); a client that reconnected on
/// the survivor before its node died is not sent its will.
#[test]
fn a_delayed_will_waiting_on_a_killed_node_is_published_by_a_survivor_when_due() {
    let Some(etcd) = Etcd::start(1) else { return };
    let n1 = Node::new("n1", &etcd.urls, 3, "");
    let n2 = Node::new("n2", &etcd.urls, 3, "");
    let (mut p1, mut p2) = (n1.start(), n2.start());
    let mut watcher = wills_watcher(&n2, "watcher", QoS::AtLeastOnce);
    let with_will = |id: &str| {
        let mut c = persistent(Protocol::V5, id);
        let mut properties = hornet_codec::Properties::default();
        properties.push(Property::WillDelayInterval(12));
        c.will = Some(will_gone(format!("wills/{id}"), properties));
        c
    };
    let (late, code) = connect(&n1, with_will("late"));
    assert_eq!(code, ReasonCode::Success);
    let (back, code) = connect(&n1, with_will("back"));
    assert_eq!(code, ReasonCode::Success);
    drop(late);
    drop(back);
    // Both closes seen by n1 (in either order): their wills are delayed.
    let mut closed = [false, false];
    while closed != [true, true] {
        let line = p1.wait_line(Duration::from_secs(5), "the closes", |l| {
            l.contains("closed its connection")
        });
        for (i, id) in ["late", "back"].iter().enumerate() {
            closed[i] |= line.contains(&format!("Client {id} closed its connection"));
        }
    }
    let dropped_at = Instant::now();
    // `back` returns, on n2: its session (and the end of its will) moves.
    let (_back, ack) = connack(&n2, with_will("back"));
    assert!(ack.session_present);
    // A marker after both on the n1 -> n2 link: n2 holds late's will.
    let (mut publisher, _) = connect(&n1, Connect::new(Protocol::V5, "publisher"));
    until_routed(&mut publisher, "wills/marker", "marker");
    assert_eq!(next_message(&mut watcher).0, "wills/marker");

    drop(p1); // SIGKILL
    p2.wait_line(Duration::from_secs(15), "n1 declared dead", |l| {
        l.contains("node n1 is dead")
    });
    let dead_after = dropped_at.elapsed();
    // Its delay ends 12 s after the disconnect; the death was seen sooner
    // (lease_ttl 3 s after the kill).
    let mut got = None;
    while got.is_none() {
        match watcher.recv_within(Duration::from_secs(20)) {
            Ok(Some(Packet::Publish(p))) => {
                if let Some(id) = p.packet_id {
                    watcher.send(Packet::PubAck(hornet_codec::Ack::new(id)));
                }
                got = Some(p.topic.to_string());
            }
            Ok(Some(_)) => {}
            other => panic!("no will within 20 s of n1's death: {other:?}"),
        }
    }
    let after = dropped_at.elapsed();
    assert_eq!(
        got.as_deref(),
        Some("wills/late"),
        "back's will is not sent: it came back"
    );
    assert!(
        after >= Duration::from_millis(11_500),
        "published {after:?} after the disconnect (n1 seen dead after {dead_after:?}), \
         before its 12 s delay"
    );
    p2.wait_line(Duration::from_secs(1), "the wait logged", |l| {
        l.contains("wait for their Will Delay Interval here")
    });
    // Nothing else follows (a marker published on n2 comes next).
    let (mut local, _) = connect(&n2, Connect::new(Protocol::V5, "local"));
    assert_eq!(
        publish_acked(&mut local, "wills/end", "end", QoS::AtLeastOnce, 1),
        ReasonCode::Success
    );
    assert_eq!(next_message(&mut watcher).0, "wills/end");
}

/// A `$local/` subscription of a persistent session stays local after
/// its node restarts from its store: the store keeps the mark, so the
/// restarted node's route snapshot has its plain subscription but not the
/// `$local/` one (a publish on the other node is answered 0x10 No
/// matching subscribers), and it is still a subscription on its node.
#[test]
fn a_restored_local_subscription_stays_local_after_a_restart() {
    let Some(etcd) = Etcd::start(1) else { return };
    let n1 = Node::with_store("n1", &etcd.urls, 4, "", true);
    let n2 = Node::new("n2", &etcd.urls, 4, "");
    let (mut p1, _p2) = (n1.start(), n2.start());
    let (mut c, code) = connect(&n1, persistent(Protocol::V5, "homebody"));
    assert_eq!(code, ReasonCode::Success);
    for (i, filter) in ["$local/here/#", "there/#"].iter().enumerate() {
        let id = PacketId::new(i as u16 + 1).unwrap();
        c.send(Subscribe::new(id, *filter, QoS::AtLeastOnce).into());
        assert!(matches!(c.recv(), Some(Packet::SubAck(_))));
    }
    c.send(Packet::Disconnect(hornet_codec::Disconnect::new(
        ReasonCode::Success,
    )));
    assert!(closed_within(&mut c, Duration::from_secs(5)).is_some());
    signal(p1.pid(), "TERM");
    p1.wait_exit(Duration::from_secs(15));
    let _p1 = n1.start();

    // The restarted node's snapshot reached n2 (its plain filter routes)...
    let (mut publisher, _) = connect(&n2, Connect::new(Protocol::V5, "publisher"));
    until_routed(&mut publisher, "there/1", "routed");
    // ... without the `$local/` one.
    assert_eq!(
        publish_acked(&mut publisher, "here/1", "local", QoS::AtLeastOnce, 1),
        ReasonCode::NoMatchingSubscribers,
        "the restored $local/ subscription was exported"
    );
    // On n1 it is still the session's subscription.
    let (mut back, ack) = connack(&n1, persistent(Protocol::V5, "homebody"));
    assert!(ack.session_present);
    let (mut local, _) = connect(&n1, Connect::new(Protocol::V5, "local-pub"));
    assert_eq!(
        publish_acked(&mut local, "here/2", "on n1", QoS::AtLeastOnce, 1),
        ReasonCode::Success
    );
    loop {
        let (topic, payload) = next_message(&mut back);
        if topic == "here/2" {
            assert_eq!(payload, "on n1");
            break;
        }
        assert_eq!(topic, "there/1", "only the routed test message before");
    }
}

/// A session that arrives after its CONNECT stopped waiting for it (the
/// old node was stopped longer than the 2 s wait, but not long enough to
/// lose its lease) is merged into the new session on arrival: the
/// messages queued for it on the old node reach the client, which was
/// told Session Present 0, instead of being dropped.
#[test]
fn a_session_arriving_after_the_wait_brings_its_queued_messages_to_the_new_session() {
    let Some(etcd) = Etcd::start(1) else { return };
    // lease_ttl 10: a 3 s stop neither cuts n1 off nor makes it dead.
    let n1 = Node::new("n1", &etcd.urls, 10, "");
    let n2 = Node::new("n2", &etcd.urls, 10, "");
    let (p1, mut p2) = (n1.start(), n2.start());
    let (mut c, code) = connect(&n1, persistent(Protocol::V5, "slowmover"));
    assert_eq!(code, ReasonCode::Success);
    c.send(Subscribe::new(PacketId::new(1).unwrap(), "slow/#", QoS::AtLeastOnce).into());
    assert!(matches!(c.recv(), Some(Packet::SubAck(_))));
    c.send(Packet::Disconnect(hornet_codec::Disconnect::new(
        ReasonCode::Success,
    )));
    assert!(closed_within(&mut c, Duration::from_secs(5)).is_some());
    let (mut publisher, _) = connect(&n1, Connect::new(Protocol::V5, "publisher"));
    for (i, text) in ["m1", "m2"].iter().enumerate() {
        let code = publish_acked(
            &mut publisher,
            "slow/x",
            text,
            QoS::AtLeastOnce,
            i as u16 + 1,
        );
        assert_eq!(code, ReasonCode::Success);
    }
    // n1 stops: the claim on n2 wins (n1 is alive for etcd), its session
    // does not come within 2 s.
    signal(p1.pid(), "STOP");
    let (mut moved, ack) = connack(&n2, persistent(Protocol::V5, "slowmover"));
    signal(p1.pid(), "CONT");
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(!ack.session_present, "the session did not come in time");
    let mut got = Vec::new();
    while got.len() < 2 {
        match moved.recv_within(Duration::from_secs(10)) {
            Ok(Some(Packet::Publish(p))) => {
                if let Some(id) = p.packet_id {
                    moved.send(Packet::PubAck(hornet_codec::Ack::new(id)));
                }
                got.push(String::from_utf8_lossy(&p.payload).into_owned());
            }
            Ok(Some(_)) => {}
            other => panic!("the late session's messages were lost: {got:?} then {other:?}"),
        }
    }
    assert_eq!(got, ["m1", "m2"]);
    let line = p2.wait_line(Duration::from_secs(5), "the merge logged", |l| {
        l.contains("session of client slowmover from node n1")
    });
    assert!(line.contains("merged into that session"), "{line}");
    assert!(etcd
        .get("/hornet/hornet/clients/slowmover")
        .starts_with("n2 "));
}

/// A node stopped longer than `lease_ttl` is counted dead and a survivor
/// publishes its connected clients' wills. When it resumes and finds its
/// lease expired it closes its clean-session connections of that time too
/// (MQTT 5: DISCONNECT 0x9C), so no client stays connected after its will
/// was published, and it does not publish those wills a second time.
#[test]
fn a_paused_node_closes_its_clean_sessions_when_it_resumes_and_publishes_no_will_twice() {
    let Some(etcd) = Etcd::start(1) else { return };
    let n1 = Node::new("n1", &etcd.urls, 4, "");
    let n2 = Node::new("n2", &etcd.urls, 4, "");
    let (mut p1, mut p2) = (n1.start(), n2.start());
    let mut watcher = wills_watcher(&n2, "watcher", QoS::AtLeastOnce);
    let mut with_will = Connect::new(Protocol::V5, "cleanly");
    with_will.will = Some(will_gone("wills/cleanly", Default::default()));
    let (mut client, code) = connect(&n1, with_will);
    assert_eq!(code, ReasonCode::Success);
    // A marker after the client's will on the n1 -> n2 link: n2 holds it.
    let (mut publisher, _) = connect(&n1, Connect::new(Protocol::V5, "publisher"));
    until_routed(&mut publisher, "wills/marker", "before");
    assert_eq!(next_message(&mut watcher).0, "wills/marker");

    signal(p1.pid(), "STOP");
    p2.wait_line(Duration::from_secs(15), "n1 declared dead", |l| {
        l.contains("node n1 is dead")
    });
    assert_eq!(
        next_message(&mut watcher),
        ("wills/cleanly".into(), "gone".into())
    );
    signal(p1.pid(), "CONT");
    let reason = closed_within(&mut client, Duration::from_secs(10))
        .expect("the paused node's clean-session client is closed on resume");
    assert_eq!(reason, Some(ReasonCode::UseAnotherServer));
    let line = p1.wait_line(Duration::from_secs(5), "the closes logged", |l| {
        l.contains("connections from before then closed")
    });
    assert!(line.contains("their wills not published again"), "{line}");
    // No second will: the next message the watcher gets is a marker
    // published on n1 after its rejoin.
    let (mut again, _) = connect(&n1, Connect::new(Protocol::V5, "publisher2"));
    until_routed(&mut again, "wills/marker", "after");
    assert_eq!(
        next_message(&mut watcher),
        ("wills/marker".into(), "after".into())
    );
}

/// [MQTT-3.1.3-9]: a client's will delayed 15 s waits on its node n1,
/// which is killed; one survivor wins the election for n1's wills, the
/// other keeps a standby copy. The winner is killed too before the will
/// is due: the last node runs the election again (the first one's key
/// went with the winner's lease) and publishes the will when due, once.
#[test]
fn a_delayed_will_survives_the_death_of_the_survivor_that_was_to_publish_it() {
    let Some(etcd) = Etcd::start(1) else { return };
    let nodes: Vec<Node> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| Node::new(n, &etcd.urls, 3, ""))
        .collect();
    let mut procs: Vec<Option<Proc>> = nodes.iter().map(|n| Some(n.start())).collect();
    // A watcher on each survivor (one of them dies with its node).
    let mut watchers: Vec<Raw> = nodes[1..]
        .iter()
        .map(|n| wills_watcher(n, &format!("w-{}", n.name), QoS::AtLeastOnce))
        .collect();
    let mut c = persistent(Protocol::V5, "lingering");
    let mut properties = hornet_codec::Properties::default();
    properties.push(Property::WillDelayInterval(15));
    c.will = Some(will_gone("wills/lingering", properties));
    let (client, code) = connect(&nodes[0], c);
    assert_eq!(code, ReasonCode::Success);
    drop(client);
    let p1 = procs[0].as_mut().unwrap();
    p1.wait_line(Duration::from_secs(5), "the close", |l| {
        l.contains("Client lingering closed its connection")
    });
    let dropped_at = Instant::now();
    // Markers after the will on both links: n2 and n3 hold its copy.
    let (mut publisher, _) = connect(&nodes[0], Connect::new(Protocol::V5, "publisher"));
    until_routed(&mut publisher, "wills/marker", "marker");
    for w in &mut watchers {
        assert_eq!(next_message(w).0, "wills/marker");
    }

    // SIGKILL n1. Which survivor won: the other logs its standby copy.
    procs[0] = None;
    let mut winner = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while winner.is_none() {
        assert!(Instant::now() < deadline, "no survivor kept a standby copy");
        for (i, p) in procs.iter_mut().enumerate().skip(1) {
            let p = p.as_mut().unwrap();
            if p.lines_so_far()
                .iter()
                .any(|l| l.contains("kept here as standby copies"))
            {
                winner = Some(3 - i); // the other survivor
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let winner = winner.unwrap();
    let last = 3 - winner;
    procs[winner] = None; // SIGKILL the winner before the will is due
    assert!(
        dropped_at.elapsed() < Duration::from_secs(14),
        "the winner died only {:?} after the disconnect",
        dropped_at.elapsed()
    );
    let watcher = &mut watchers[last - 1];
    // Due 15 s after the disconnect: longer than the raw client's 10 s
    // read bound from here.
    let will = loop {
        match watcher.recv_within(Duration::from_secs(20)) {
            Ok(Some(Packet::Publish(p))) => {
                if let Some(id) = p.packet_id {
                    watcher.send(Packet::PubAck(hornet_codec::Ack::new(id)));
                }
                break p;
            }
            Ok(Some(_)) => {}
            other => {
                let lines = procs[last].as_mut().unwrap().lines_so_far().join("\n");
                panic!("no will within 20 s: {other:?}; the last node printed:\n{lines}")
            }
        }
    };
    assert_eq!(
        (&*will.topic, &will.payload[..]),
        ("wills/lingering", &b"gone"[..])
    );
    let after = dropped_at.elapsed();
    assert!(
        after >= Duration::from_millis(14_500),
        "published {after:?} after the disconnect, before its 15 s delay"
    );
    let survivor = procs[last].as_mut().unwrap();
    assert!(
        survivor
            .lines_so_far()
            .iter()
            .any(|l| l.contains("won the election again for the 1 delayed wills of dead node n1")),
        "the re-election is logged"
    );
    // Once: a marker published on the survivor comes next.
    let (mut local, _) = connect(&nodes[last], Connect::new(Protocol::V5, "local"));
    assert_eq!(
        publish_acked(&mut local, "wills/end", "end", QoS::AtLeastOnce, 1),
        ReasonCode::Success
    );
    assert_eq!(next_message(watcher).0, "wills/end");
}

/// Runs `scenario` of a client's script (in `tests/clients/`) against two
/// nodes: `--port` is n1, `--port2` n2.
fn client_script_across_nodes(program: &str, script: &str, protocol: &str, install: &str) {
    let Some(etcd) = Etcd::start(1) else { return };
    process::require(program, install);
    let n1 = Node::new("n1", &etcd.urls, 4, "");
    let n2 = Node::new("n2", &etcd.urls, 4, "");
    let (_p1, _p2) = (n1.start(), n2.start());
    let mut cmd = Command::new(program);
    cmd.arg(script)
        .args(["--port", &n1.port.to_string()])
        .args(["--port2", &n2.port.to_string()])
        .args(["--scenario", "cluster"])
        .args(["--protocol", protocol]);
    process::run_scenario(
        &format!("{program} {script} cluster MQTT {protocol}"),
        cmd,
        install,
        "cluster",
    );
}

const PAHO: &str = "python3 and paho-mqtt 2.x (`python3 -m pip install paho-mqtt`)";
const MQTTJS: &str = "node 20+ and the npm package from the lockfile \
    (`npm ci --prefix crates/hornet/tests/clients --no-audit --no-fund`)";

/// Eclipse Paho (Python) against two nodes: QoS 0/1/2 from n2 to a
/// subscriber on n1 [MQTT-4.6.0-5], [MQTT-4.3.3-2], a persistent session
/// moving from n1 to n2 with its queued messages [MQTT-3.1.2-4],
/// [MQTT-3.2.2-2], a client id taken over across nodes [MQTT-3.1.4-3].
#[test]
fn paho_across_nodes_v311() {
    client_script_across_nodes("python3", "paho_scenarios.py", "3.1.1", PAHO);
}

/// As [`paho_across_nodes_v311`] over MQTT 5 (the takeover with
/// DISCONNECT 0x8E).
#[test]
fn paho_across_nodes_v5() {
    client_script_across_nodes("python3", "paho_scenarios.py", "5", PAHO);
}

/// MQTT.js against two nodes: the same scenario as Paho's.
#[test]
fn mqttjs_across_nodes_v311() {
    client_script_across_nodes("node", "mqttjs_scenarios.js", "3.1.1", MQTTJS);
}

/// MQTT.js over MQTT 5 against two nodes.
#[test]
fn mqttjs_across_nodes_v5() {
    client_script_across_nodes("node", "mqttjs_scenarios.js", "5", MQTTJS);
}
