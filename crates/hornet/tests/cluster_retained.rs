//! Retained messages across a partition, as real processes: a one-member
//! etcd and two `hornet` nodes whose node links pass through a proxy of
//! the test (each node's `advertise` is its proxy), so the test cuts the
//! links between the two nodes — both ways, existing connections reset
//! and new ones refused — while both stay members (their etcd leases
//! live). During the cut one node deletes a retained topic and sets
//! another, the other node sets a topic too; after the heal, a real MQTT
//! client on each node must find the same retained set, the newest write
//! of each topic winning, the delete included (issue 18: last write wins,
//! deletes are tombstones). The delete is `mosquitto_pub -r -n`, and the
//! final check `mosquitto_sub --retained-only` as well as the repo's raw
//! client. Without `/usr/bin/etcd` the test prints why and passes, except
//! under CI.

#[path = "support/cluster_client.rs"]
mod cluster_client;
#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/process.rs"]
mod process;

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_client::{client, publish_qos1};
use codec_client::Raw;
use etcd::Etcd;
use hornet_codec::{Packet, QoS, ReasonCode, Subscribe};
use process::Proc;

/// A TCP proxy the test can cut: while cut it resets the connections it
/// carries and closes new ones at once.
struct Proxy {
    port: u16,
    open: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// Forwards a fresh loopback port to `target`.
    fn to(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (o, c) = (open.clone(), conns.clone());
        std::thread::spawn(move || {
            for inbound in listener.incoming() {
                let Ok(inbound) = inbound else { continue };
                if !o.load(Ordering::SeqCst) {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let mut list = c.lock().unwrap();
                list.push(inbound.try_clone().unwrap());
                list.push(outbound.try_clone().unwrap());
                pipe(inbound.try_clone().unwrap(), outbound.try_clone().unwrap());
                pipe(outbound, inbound);
            }
        });
        Proxy { port, open, conns }
    }

    /// Cuts: every carried connection is shut down, new ones are refused.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn heal(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` on a thread until either ends.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// One `hornet` node, its links reached through `proxy`.
struct Node {
    name: String,
    dir: tempfile::TempDir,
    port: u16,
    proxy: Proxy,
}

impl Node {
    fn new(name: &str, etcd: &str) -> Node {
        Node::with(name, etcd, false)
    }

    /// A node keeping its state on disk (`persistence`) or not.
    fn with(name: &str, etcd: &str, persistence: bool) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let (port, admin, link) = (
            common::free_port(),
            common::free_port(),
            common::free_port(),
        );
        let proxy = Proxy::to(link);
        std::fs::write(
            dir.path().join("hornet.toml"),
            format!(
                "persistence = {persistence}\n\
                 [[listener]]\nport = {port}\nbind_address = \"127.0.0.1\"\n\
                 [admin]\nport = {admin}\n\
                 [cluster]\nnode = \"{name}\"\netcd = [\"{etcd}\"]\n\
                 listen = \"127.0.0.1:{link}\"\nadvertise = \"127.0.0.1:{}\"\n\
                 lease_ttl = 4\n",
                proxy.port
            ),
        )
        .unwrap();
        Node {
            name: name.to_string(),
            dir,
            port,
            proxy,
        }
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("hornet.toml")
    }

    fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Starts the binary and waits until it joined and listens.
    fn start(&self) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
        cmd.arg("-c").arg(self.conf()).current_dir(self.dir.path());
        let mut proc = Proc::spawn(&self.name, &mut cmd, "cargo build -p hornet");
        proc.wait_line(Duration::from_secs(20), "the join", |l| {
            l.contains("Cluster: joined")
        });
        proc.wait_line(Duration::from_secs(20), "the listener", |l| {
            l.contains("Opening ")
        });
        proc
    }
}

/// The retained messages a new subscriber to `cfg/#` on `node` gets, as
/// sorted `topic=payload` strings.
fn retained_set(node: &Node, id: &str) -> Vec<String> {
    let mut c: Raw = client(node.addr(), id);
    // `$local/`: the reader makes no route on the other node, so a QoS 1
    // publish there during a cut is not held for this node (issue 18: a
    // PUBACK waits for the nodes the message was forwarded to).
    c.send(Subscribe::new(cluster_client::pid(1), "$local/cfg/#", QoS::AtMostOnce).into());
    let mut got = Vec::new();
    while let Ok(Some(p)) = c.recv_within(Duration::from_millis(400)) {
        if let Packet::Publish(p) = p {
            assert!(p.retain, "[MQTT-3.3.1-8] sent because retained");
            got.push(format!(
                "{}={}",
                p.topic,
                String::from_utf8_lossy(&p.payload)
            ));
        }
    }
    got.sort();
    got
}

/// Waits (`within`) until `node` serves exactly `want`.
fn await_set(node: &Node, want: &[&str], within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    let mut last;
    let mut i = 0;
    loop {
        i += 1;
        last = retained_set(node, &format!("reader-{i}"));
        if last == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {what}: serves {last:?}, not {want:?}",
            node.name
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sets (or, with an empty payload, deletes [MQTT-3.3.1-6]) the retained
/// message of `topic` on `c`, waiting for the PUBACK.
fn retain(c: &mut Raw, topic: &str, payload: &str, id: u16) {
    let mut p = hornet_codec::Publish::new(topic, payload.to_string());
    p.retain = true;
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(cluster_client::pid(id));
    c.send(p.into());
    loop {
        match c.recv() {
            Some(Packet::PubAck(a)) => {
                assert!(
                    matches!(
                        a.reason_code,
                        ReasonCode::Success | ReasonCode::NoMatchingSubscribers
                    ),
                    "{a:?}"
                );
                return;
            }
            Some(_) => {}
            None => panic!("closed before the PUBACK"),
        }
    }
}

/// The retained messages `mosquitto_sub` finds under `cfg/#` on `node`
/// (`--retained-only`, ending after 2 s), as sorted `topic=payload`.
fn mosquitto_retained(node: &Node) -> Vec<String> {
    let out = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &node.port.to_string()])
        .args([
            "-V",
            "mqttv5",
            "-t",
            "$local/cfg/#",
            "-v",
            "--retained-only",
            "-W",
            "2",
        ])
        .output()
        .expect("mosquitto_sub runs");
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(t, p)| format!("{t}={p}")))
        .collect();
    got.sort();
    got
}

/// Deletes the retained message of `topic` on `node` with `mosquitto_pub`
/// (`-r -n`: a retained PUBLISH with an empty payload [MQTT-3.3.1-6]).
fn mosquitto_delete(node: &Node, topic: &str) {
    let mut publisher = Proc::spawn(
        "mosquitto_pub",
        Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &node.port.to_string()])
            .args(["-V", "mqttv5", "-q", "1", "-t", topic, "-r", "-n"]),
        "mosquitto-clients",
    );
    publisher.expect_success(Duration::from_secs(10));
}

#[test]
fn after_a_cut_link_heals_both_nodes_serve_the_newest_retained_writes_deletes_included() {
    let Some(etcd) = Etcd::start(1) else { return };
    process::require("mosquitto_sub", "mosquitto-clients");
    let (n1, n2) = (Node::new("n1", etcd.url()), Node::new("n2", etcd.url()));
    let (mut p1, mut p2) = (n1.start(), n2.start());
    p1.wait_line(Duration::from_secs(15), "the link to n2", |l| {
        l.contains("link to n2 up")
    });
    p2.wait_line(Duration::from_secs(15), "the link to n1", |l| {
        l.contains("link to n1 up")
    });
    let (mut c1, mut c2) = (client(n1.addr(), "w1"), client(n2.addr(), "w2"));
    retain(&mut c1, "cfg/a", "old", 1);
    retain(&mut c1, "cfg/c", "old", 2);
    await_set(
        &n2,
        &["cfg/a=old", "cfg/c=old"],
        Duration::from_secs(10),
        "before the cut",
    );

    // The cut, both ways: each node's links to the other are reset.
    n1.proxy.cut();
    n2.proxy.cut();
    // On n1 a delete (by mosquitto_pub) and a set; on n2 a set of the
    // same topic, later.
    mosquitto_delete(&n1, "cfg/a");
    retain(&mut c2, "cfg/b", "from-n2", 4);
    retain(&mut c1, "cfg/c", "from-n1", 5);
    std::thread::sleep(Duration::from_millis(20)); // a later millisecond
    retain(&mut c2, "cfg/c", "from-n2-later", 6);
    // The cut holds: each side serves its own writes only.
    await_set(
        &n1,
        &["cfg/c=from-n1"],
        Duration::from_secs(5),
        "during the cut",
    );
    await_set(
        &n2,
        &["cfg/a=old", "cfg/b=from-n2", "cfg/c=from-n2-later"],
        Duration::from_secs(5),
        "during the cut",
    );
    assert_eq!(
        publish_qos1(&mut c1, "sync/none", "", 9),
        ReasonCode::NoMatchingSubscribers
    );

    // The heal: the links reconnect, each starting with its sender's set.
    n1.proxy.heal();
    n2.proxy.heal();
    let healed = Instant::now();
    let want = ["cfg/b=from-n2", "cfg/c=from-n2-later"];
    await_set(&n1, &want, Duration::from_secs(10), "after the heal");
    await_set(&n2, &want, Duration::from_secs(10), "after the heal");
    eprintln!(
        "retained sets converged {:?} after the heal",
        healed.elapsed()
    );
    // And they stay so (no later snapshot undoes the delete).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(retained_set(&n1, "final-1"), want);
    assert_eq!(retained_set(&n2, "final-2"), want);
    assert_eq!(mosquitto_retained(&n1), want, "mosquitto_sub on n1");
    assert_eq!(mosquitto_retained(&n2), want, "mosquitto_sub on n2");
    let lines = p1.lines_so_far().join("\n");
    assert!(
        lines.matches("link to n2 up").count() >= 2,
        "the link was cut and came back:\n{lines}"
    );
    drop(etcd);
}

/// A delete made during a cut survives its node's restart (the tombstone
/// is persisted with the retained set): after the heal the restarted node
/// does not take the old copy back from the other node, and its initial
/// set deletes it there — although the delete frame itself was lost with
/// the restart.
#[test]
fn a_delete_survives_its_nodes_restart_and_still_wins_after_the_heal() {
    let Some(etcd) = Etcd::start(1) else { return };
    let (n1, n2) = (
        Node::with("n1", etcd.url(), true),
        Node::new("n2", etcd.url()),
    );
    let (mut p1, mut p2) = (n1.start(), n2.start());
    p1.wait_line(Duration::from_secs(15), "the link to n2", |l| {
        l.contains("link to n2 up")
    });
    p2.wait_line(Duration::from_secs(15), "the link to n1", |l| {
        l.contains("link to n1 up")
    });
    let mut c1 = client(n1.addr(), "w1");
    retain(&mut c1, "cfg/a", "old", 1);
    retain(&mut c1, "cfg/keep", "v", 2);
    let both = ["cfg/a=old", "cfg/keep=v"];
    await_set(&n2, &both, Duration::from_secs(10), "before the cut");
    n1.proxy.cut();
    n2.proxy.cut();
    retain(&mut c1, "cfg/a", "", 3);
    drop(c1);
    // n1 stops (SIGTERM) and starts again from its store.
    let status = Command::new("kill")
        .args(["-TERM", &p1.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(p1.wait_exit(Duration::from_secs(15)).success());
    let mut p1 = n1.start();
    await_set(
        &n1,
        &["cfg/keep=v"],
        Duration::from_secs(5),
        "after the restart",
    );
    await_set(&n2, &both, Duration::from_secs(5), "during the cut");
    n1.proxy.heal();
    n2.proxy.heal();
    p1.wait_line(Duration::from_secs(15), "the link to n2", |l| {
        l.contains("link to n2 up")
    });
    await_set(
        &n2,
        &["cfg/keep=v"],
        Duration::from_secs(10),
        "after the heal",
    );
    await_set(
        &n1,
        &["cfg/keep=v"],
        Duration::from_secs(10),
        "after the heal",
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        mosquitto_retained(&n1),
        ["cfg/keep=v"],
        "mosquitto_sub on n1"
    );
    assert_eq!(
        mosquitto_retained(&n2),
        ["cfg/keep=v"],
        "mosquitto_sub on n2"
    );
    drop(etcd);
}
