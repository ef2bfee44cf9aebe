//! `kill -9` cycles of both ends under load: numbered QoS 1 and QoS 2
//! messages are published to Hornet (each PUBACK / PUBCOMP recorded, the
//! publisher resending after a reconnect as [MQTT-4.4.0-1] says: PUBLISH
//! with DUP, or PUBREL once PUBRECed), bridged out to a real Mosquitto
//! (persistence on, its own store) with a persistent QoS 2 subscriber
//! there. Hornet is killed three times and the remote twice while the
//! messages flow. Every acknowledged QoS 1 message reaches the subscriber
//! at least once, and every QoS 2 message exactly once ([MQTT-4.3.3-*]:
//! the bridge resends a PUBREC'd message as PUBREL, never as a new
//! PUBLISH, even after a restart of Hornet).
//!
//! Mosquitto's own limit: its store is a snapshot written by autosave,
//! not a log, so a `kill -9` loses what it acknowledged since the last
//! save. The remote runs with `autosave_on_changes true` and
//! `autosave_interval 1` (a snapshot after every change), and is killed
//! only while the bridge is idle towards it (what the bridge sent is
//! across): killed in the middle of its own acknowledgement it may lose a
//! message by itself, whatever the bridge does. Its snapshot may still
//! predate the subscriber's last PUBCOMPs, and then it sends those
//! deliveries again after the restart, under the same packet id with DUP
//! set; the subscriber counts such a resend once (a second copy from the
//! bridge would be a new delivery: a new id, DUP clear). It may also have
//! forgotten a delivery awaiting the subscriber's PUBREC and reuse its id
//! for a new message (DUP clear), which the subscriber counts as new.
//! Hornet is killed at any moment of the flow.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/remote.rs"]
mod remote;
#[path = "support/site.rs"]
mod site;

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hornet_codec::{Ack, Connect, Decoder, Packet, PacketId, Protocol, Publish, QoS, Subscribe};
use remote::Remote;

/// Messages published in all.
const MESSAGES: usize = 240;
/// The whole test's bound.
const BOUND: Duration = Duration::from_secs(60);

/// A client that survives its broker's death: every error is an `Err`.
struct Peer {
    stream: TcpStream,
    decoder: Decoder,
    buf: BytesMut,
}

impl Peer {
    fn connect(port: u16, id: &str) -> std::io::Result<Peer> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        let mut peer = Peer {
            stream,
            decoder: Decoder::with_protocol(Protocol::V3_1_1),
            buf: BytesMut::new(),
        };
        let mut connect = Connect::new(Protocol::V3_1_1, id);
        connect.clean_start = false;
        peer.send(connect.into())?;
        match peer.recv(Duration::from_secs(5))? {
            Some(Packet::ConnAck(a)) if !a.reason_code.is_error() => Ok(peer),
            other => Err(std::io::Error::other(format!("CONNACK: {other:?}"))),
        }
    }

    fn send(&mut self, packet: Packet) -> std::io::Result<()> {
        let mut out = BytesMut::new();
        packet.encode(Protocol::V3_1_1, &mut out).unwrap();
        self.stream.write_all(&out)
    }

    /// The next packet within `wait` (`None`: none came); `Err` when the
    /// connection is gone.
    fn recv(&mut self, wait: Duration) -> std::io::Result<Option<Packet>> {
        let deadline = Instant::now() + wait;
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(p)) => return Ok(Some(p)),
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Connects, retrying while the broker restarts, within the test's bound.
fn reconnect(port: u16, id: &str, until: Instant) -> Peer {
    loop {
        match Peer::connect(port, id) {
            Ok(p) => return p,
            Err(e) => {
                assert!(Instant::now() < until, "{id} cannot reconnect: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn pid(n: usize) -> PacketId {
    PacketId::new((n % 60_000) as u16 + 1).unwrap()
}

fn qos_of(n: usize) -> QoS {
    if n % 2 == 0 {
        QoS::ExactlyOnce
    } else {
        QoS::AtLeastOnce
    }
}

/// Publishes message `n` until acknowledged (PUBACK, or PUBCOMP), through
/// any number of reconnections.
fn publish_acknowledged(publisher: &mut Peer, port: u16, n: usize, until: Instant) {
    let qos = qos_of(n);
    let mut p = Publish::new(format!("sensors/q{}", qos as u8), n.to_string());
    p.qos = qos;
    p.packet_id = Some(pid(n));
    let mut released = false;
    let mut first = true;
    loop {
        let packet = if released {
            Packet::PubRel(Ack::new(pid(n)))
        } else {
            let mut p = p.clone();
            p.dup = !first;
            p.into()
        };
        first = false;
        let mut result = publisher.send(packet).map(|()| None);
        while let Ok(None) = result {
            result = match publisher.recv(Duration::from_secs(5)) {
                Ok(Some(Packet::PubAck(a))) if a.packet_id == pid(n) => return,
                Ok(Some(Packet::PubComp(a))) if a.packet_id == pid(n) => return,
                Ok(Some(Packet::PubRec(a))) if a.packet_id == pid(n) => {
                    released = true;
                    publisher
                        .send(Packet::PubRel(Ack::new(pid(n))))
                        .map(|()| None)
                }
                Ok(Some(_)) => Ok(None),
                // No answer within 5 s from a live connection: send again.
                Ok(None) => Ok(Some(())),
                Err(e) => Err(e),
            };
        }
        if result.is_err() {
            *publisher = reconnect(port, "near-pub", until);
        }
        assert!(Instant::now() < until, "message {n} never acknowledged");
    }
}

/// What the subscriber on the remote has received: each (topic, payload)
/// and how often; QoS 2 handed on once per [MQTT-4.3.3-9] as a receiver
/// (its ids awaiting PUBREL are kept across its reconnections).
struct Received {
    counts: Mutex<HashMap<String, usize>>,
    connected: AtomicBool,
    /// Every QoS 2 PUBLISH as seen (id, DUP, message, counted), for the
    /// failure message.
    log: Mutex<Vec<String>>,
}

impl Default for Received {
    fn default() -> Self {
        Received {
            counts: Mutex::default(),
            connected: AtomicBool::new(false),
            log: Mutex::default(),
        }
    }
}

fn subscriber(port: u16, stop: Arc<AtomicBool>, got: Arc<Received>, until: Instant) {
    let mut awaiting_rel: HashSet<u16> = HashSet::new();
    // The last message delivered under each id.
    let mut delivered: HashMap<u16, String> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let mut far = reconnect(port, "far", until);
        if far
            .send(Subscribe::new(PacketId::new(1).unwrap(), "edge/#", QoS::ExactlyOnce).into())
            .is_err()
        {
            continue;
        }
        got.connected.store(true, Ordering::Relaxed);
        while !stop.load(Ordering::Relaxed) {
            let packet = match far.recv(Duration::from_millis(200)) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(_) => break,
            };
            let reply = match packet {
                Packet::Publish(p) => {
                    let id = p.packet_id;
                    let key = format!("{} {}", p.topic, std::str::from_utf8(&p.payload).unwrap());
                    let fresh = match (p.qos, id) {
                        (QoS::ExactlyOnce, Some(id)) => {
                            // [MQTT-4.3.3-9]: a DUP resend of an id
                            // awaiting PUBREL is the same message; so is
                            // Mosquitto's own resend of a delivery its
                            // snapshot had not seen completed (the same
                            // id and message, DUP). A second message from
                            // the bridge would be a new delivery (DUP
                            // clear), and so is a PUBLISH without DUP
                            // under an id Mosquitto's snapshot forgot was
                            // awaiting our PUBREL after a kill.
                            let again = p.dup
                                && (awaiting_rel.contains(&id.get())
                                    || delivered.get(&id.get()) == Some(&key));
                            delivered.insert(id.get(), key.clone());
                            awaiting_rel.insert(id.get());
                            !again
                        }
                        _ => true,
                    };
                    if p.qos == QoS::ExactlyOnce {
                        got.log.lock().unwrap().push(format!(
                            "id {:?} dup {} {key}: {}",
                            id.map(|i| i.get()),
                            p.dup,
                            if fresh { "counted" } else { "same as before" }
                        ));
                    }
                    if fresh {
                        *got.counts.lock().unwrap().entry(key).or_default() += 1;
                    }
                    match (p.qos, id) {
                        (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(Ack::new(id))),
                        (QoS::ExactlyOnce, Some(id)) => Some(Packet::PubRec(Ack::new(id))),
                        _ => None,
                    }
                }
                Packet::PubRel(a) => {
                    awaiting_rel.remove(&a.packet_id.get());
                    Some(Packet::PubComp(Ack::new(a.packet_id)))
                }
                _ => None,
            };
            if let Some(reply) = reply {
                if far.send(reply).is_err() {
                    break;
                }
            }
        }
    }
}

#[test]
fn acknowledged_messages_cross_kill_9_cycles_of_both_ends_exactly_once_for_qos2() {
    let until = Instant::now() + BOUND;
    let mut remote = Remote::start(
        "autosave_interval 1\nautosave_on_changes true\nmax_queued_messages 10000\n\
         max_inflight_messages 20",
    );
    let site = site::Site::new();
    std::fs::OpenOptions::new()
        .append(true)
        .open(site.conf())
        .unwrap()
        .write_all(
            format!(
                "connection b1\naddress 127.0.0.1:{}\nremote_clientid hornet-b1\n\
                 cleansession false\nrestart_timeout 1 1\ntopic sensors/# out 2 \"\" edge/\n",
                remote.port
            )
            .as_bytes(),
        )
        .unwrap();
    let mut hornet = site.start();
    // The bridge is up both ways (its local subscription made) once it
    // has published its state `1`.
    let mut near = reconnect(site.port, "near", until);
    near.send(
        Subscribe::new(
            PacketId::new(1).unwrap(),
            "$SYS/broker/connection/hornet-b1/state",
            QoS::AtLeastOnce,
        )
        .into(),
    )
    .unwrap();
    loop {
        assert!(Instant::now() < until, "the bridge never said it was up");
        if let Some(Packet::Publish(p)) = near.recv(Duration::from_millis(200)).unwrap() {
            if let Some(id) = p.packet_id {
                near.send(Packet::PubAck(Ack::new(id))).unwrap();
            }
            if &p.payload[..] == b"1" {
                break;
            }
        }
    }
    drop(near);

    let stop = Arc::new(AtomicBool::new(false));
    let got = Arc::new(Received::default());
    let sub = {
        let (stop, got, port) = (stop.clone(), got.clone(), remote.port);
        std::thread::spawn(move || subscriber(port, stop, got, until))
    };
    while !got.connected.load(Ordering::Relaxed) {
        assert!(Instant::now() < until, "the subscriber never connected");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Hornet is killed at any moment: from another thread, as the
    // publisher's count passes each mark.
    let port = site.port;
    let published = Arc::new(AtomicUsize::new(0));
    let killer = {
        let published = published.clone();
        std::thread::spawn(move || {
            for mark in [40, 120, 200] {
                while published.load(Ordering::Relaxed) < mark {
                    assert!(
                        Instant::now() < until,
                        "the publisher stalled before {mark}"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
                eprintln!("KILL hornet at {mark}");
                drop(hornet); // SIGKILL, mid-flow
                hornet = site.start();
            }
            (site, hornet)
        })
    };
    let mut publisher = reconnect(port, "near-pub", until);
    for n in 1..=MESSAGES {
        if n == 80 || n == 160 {
            // The remote is killed between two messages of the publisher,
            // once what the bridge took is across; the messages that
            // follow wait in Hornet's outbox.
            wait_for_all(&got, 1..n, until);
            eprintln!("KILL remote at {n}");
            remote.kill_and_restart();
        }
        publish_acknowledged(&mut publisher, port, n, until);
        published.store(n, Ordering::Relaxed);
    }
    let (_site, _hornet) = killer.join().expect("the killer thread");
    wait_for_all(&got, 1..MESSAGES + 1, until);
    // Anything sent twice would have come before a message published
    // after everything: the bridge sends in order on one connection.
    publish_acknowledged(&mut publisher, port, MESSAGES + 1, until);
    wait_for_all(&got, MESSAGES + 1..MESSAGES + 2, until);
    stop.store(true, Ordering::Relaxed);
    sub.join().expect("the subscriber thread");

    let counts = got.counts.lock().unwrap();
    let mut twice = Vec::new();
    for n in 1..=MESSAGES {
        let count = counts[&key(n)];
        if qos_of(n) == QoS::ExactlyOnce && count != 1 {
            twice.push((n, count));
        }
    }
    assert!(
        twice.is_empty(),
        "QoS 2 messages received more than once (message, times): {twice:?}"
    );
}

fn key(n: usize) -> String {
    format!("edge/sensors/q{} {n}", qos_of(n) as u8)
}

/// Waits until the subscriber has every message in `range`.
fn wait_for_all(got: &Received, range: std::ops::Range<usize>, until: Instant) {
    loop {
        let missing: Vec<usize> = {
            let counts = got.counts.lock().unwrap();
            range
                .clone()
                .filter(|n| !counts.contains_key(&key(*n)))
                .collect()
        };
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < until,
            "acknowledged by Hornet, never received on the remote: {missing:?}; \
             the subscriber's QoS 2 PUBLISHes:\n{}",
            got.log.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
