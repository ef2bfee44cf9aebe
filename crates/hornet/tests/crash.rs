//! The crash test (issue 7): the `hornet` binary is killed with SIGKILL at
//! random moments, at least 20 times, and restarted on the same data
//! directory, while publishers send numbered QoS 1 and QoS 2 messages and
//! persistent subscribers (one always connected, one that comes and goes,
//! one offline until the end) receive them.
//!
//! Checked at the end:
//! - every QoS 1 message the broker acknowledged (PUBACK) reached every
//!   persistent subscriber at least once ([MQTT-4.3.2]);
//! - every QoS 2 message acknowledged (PUBREC) reached each QoS 2
//!   subscriber exactly once ([MQTT-4.3.3]), and no message at all arrived
//!   twice at QoS 2;
//! - the retained topic holds its last acknowledged value;
//! - sessions and subscriptions are intact: every reconnect of a
//!   subscriber finds its session (Session Present 1, [MQTT-3.2.2-2]) and
//!   messages keep arriving without a new SUBSCRIBE;
//! - every fifth restart follows a torn write (garbage appended to the
//!   log, as a power cut leaves a half-written batch): the broker says how
//!   much it cut off, and the checks above still hold.
//!
//! The clients are small state machines over `hornet-codec` and blocking
//! sockets (read timeouts of 50 ms so they notice stop flags), because the
//! test must control exactly what is resent after a crash. The seed is
//! printed; `HORNET_CRASH_SEED=n` replays a run.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hornet_codec::{
    Ack, Connect, Decoder, Disconnect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode,
    Subscribe,
};

const KILLS: usize = 20;

/// A tiny deterministic generator (xorshift64*), seeded and printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// The broker process; killed with SIGKILL when dropped.
struct Broker {
    child: Child,
    _log: Receiver<String>,
    /// Its log up to the listener line (recovery is reported before it).
    startup: Vec<String>,
}

impl Broker {
    fn start(conf: &Path) -> Broker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hornet"))
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the hornet binary");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("HORNET_CRASH_LOG").is_some()
                    || line.contains("Store")
                    || line.contains("ERROR")
                    || line.contains("panic")
                {
                    eprintln!("[hornet] {line}");
                }
                if tx.send(line).is_err() {
                    // The test stopped listening; keep draining.
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut startup = Vec::new();
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("hornet starts and opens its listener within 20 s");
            let done = line.contains("Opening MQTT listener");
            startup.push(line);
            if done {
                break;
            }
        }
        Broker {
            child,
            _log: rx,
            startup,
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection that may die at any moment (the broker is killed).
struct Conn {
    stream: TcpStream,
    decoder: Decoder,
    buf: BytesMut,
}

enum Recv {
    Packet(Packet),
    Idle,
    Dead,
}

impl Conn {
    /// Connects and waits for CONNACK; `None` while the broker is down.
    fn open(addr: SocketAddr, client_id: &str) -> Option<(Conn, bool)> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .ok()?;
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream,
            decoder: Decoder::with_protocol(Protocol::V3_1_1),
            buf: BytesMut::new(),
        };
        let mut connect = Connect::new(Protocol::V3_1_1, client_id);
        connect.clean_start = false;
        connect.keep_alive = 0;
        if !conn.send(connect.into()) {
            return None;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match conn.recv() {
                Recv::Packet(Packet::ConnAck(ack)) => {
                    assert!(!ack.reason_code.is_error(), "{client_id}: refused {ack:?}");
                    return Some((conn, ack.session_present));
                }
                Recv::Packet(other) => panic!("{client_id}: {other:?} before CONNACK"),
                Recv::Idle => {}
                Recv::Dead => return None,
            }
        }
        None
    }

    fn send(&mut self, packet: Packet) -> bool {
        let mut out = BytesMut::new();
        packet.encode(Protocol::V3_1_1, &mut out).expect("encode");
        self.stream.write_all(&out).is_ok()
    }

    fn recv(&mut self) -> Recv {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(p)) => return Recv::Packet(p),
                Ok(None) => {}
                Err(e) => panic!("the broker sent bytes that do not decode: {e}"),
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Recv::Dead,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Recv::Idle
                }
                Err(_) => return Recv::Dead,
            }
        }
    }
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("nonzero")
}

/// What a publisher had acknowledged.
#[derive(Default)]
struct Acked {
    /// Highest number acknowledged (messages are sent one at a time, in order).
    last: u64,
    /// Every number acknowledged.
    numbers: Vec<u64>,
}

/// Publishes `topic` messages 1, 2, 3, ... at `qos`, one at a time, until
/// `stop`; resends the unacknowledged one after each reconnect (DUP, same
/// packet id), as [MQTT-4.4.0-1] asks.
fn publisher(
    addr: SocketAddr,
    client_id: String,
    topic: String,
    qos: QoS,
    retain: bool,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acked>>,
) {
    let mut n: u64 = 1;
    let mut packet_id: u16 = 1;
    // QoS 2: PUBREC received for the current message, PUBREL to (re)send.
    let mut released = false;
    // Message `n` has not been sent yet: stopping now leaves nothing open.
    let mut fresh = true;
    'connection: loop {
        let Some((mut conn, _)) = Conn::open(addr, &client_id) else {
            if stop.load(Ordering::SeqCst) && fresh && !released {
                return;
            }
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let mut resend = true;
        loop {
            if stop.load(Ordering::SeqCst) && fresh && !released {
                let _ = conn.send(Packet::Disconnect(Disconnect::new(ReasonCode::Success)));
                return;
            }
            if resend {
                fresh = false;
                resend = false;
                let ok = if released {
                    conn.send(Packet::PubRel(Ack::new(pid(packet_id))))
                } else {
                    let mut p = Publish::new(topic.clone(), format!("{n}"));
                    p.qos = qos;
                    p.retain = retain;
                    p.packet_id = Some(pid(packet_id));
                    conn.send(Packet::Publish(p))
                };
                if !ok {
                    continue 'connection;
                }
            }
            match conn.recv() {
                Recv::Dead => continue 'connection,
                Recv::Idle => {}
                Recv::Packet(Packet::PubAck(a)) if a.packet_id.get() == packet_id => {
                    assert_eq!(qos, QoS::AtLeastOnce);
                    let mut ac = acked.lock().unwrap();
                    ac.last = n;
                    ac.numbers.push(n);
                    drop(ac);
                    n += 1;
                    fresh = true;
                    packet_id = packet_id % 1000 + 1;
                    resend = true;
                }
                Recv::Packet(Packet::PubRec(a)) if a.packet_id.get() == packet_id => {
                    assert_eq!(qos, QoS::ExactlyOnce);
                    if !released {
                        let mut ac = acked.lock().unwrap();
                        ac.last = n;
                        ac.numbers.push(n);
                        released = true;
                    }
                    resend = true; // PUBREL
                }
                Recv::Packet(Packet::PubComp(a)) if a.packet_id.get() == packet_id => {
                    released = false;
                    n += 1;
                    fresh = true;
                    packet_id = packet_id % 1000 + 1;
                    resend = true;
                }
                Recv::Packet(other) => panic!("{client_id}: unexpected {other:?}"),
            }
        }
    }
}

/// What a subscriber received: (topic, number) → times.
type Received = Arc<Mutex<HashMap<(String, u64), u32>>>;

/// A persistent subscriber of `crash/#` at `qos`. It subscribes once, on
/// its first connection; every later connection must find the session.
/// While `online` is false it stays disconnected (its session queues).
#[allow(clippy::too_many_arguments)]
fn subscriber(
    addr: SocketAddr,
    client_id: String,
    qos: QoS,
    online: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    received: Received,
    sessions_lost: Arc<Mutex<Vec<String>>>,
) {
    let mut subscribed = false;
    // Inbound QoS 2 ids delivered and not yet released (kept across
    // connections, as the client's half of the session).
    let mut held: HashSet<u16> = HashSet::new();
    'connection: loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if !online.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(10));
            continue;
        }
        let Some((mut conn, present)) = Conn::open(addr, &client_id) else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        if subscribed && !present {
            sessions_lost
                .lock()
                .unwrap()
                .push(format!("{client_id}: CONNACK without Session Present"));
        }
        if !subscribed {
            let sub = Subscribe::new(pid(1), "crash/#", qos);
            if !conn.send(sub.into()) {
                continue;
            }
        }
        loop {
            if stop.load(Ordering::SeqCst) || !online.load(Ordering::SeqCst) {
                let _ = conn.send(Packet::Disconnect(Disconnect::new(ReasonCode::Success)));
                continue 'connection;
            }
            let packet = match conn.recv() {
                Recv::Dead => continue 'connection,
                Recv::Idle => continue,
                Recv::Packet(p) => p,
            };
            match packet {
                Packet::SubAck(_) => subscribed = true,
                Packet::Publish(p) => {
                    let number: u64 = std::str::from_utf8(&p.payload).unwrap().parse().unwrap();
                    let key = (p.topic.to_string(), number);
                    let deliver = match (p.qos, p.packet_id) {
                        (QoS::ExactlyOnce, Some(id)) => held.insert(id.get()),
                        _ => true,
                    };
                    if deliver {
                        *received.lock().unwrap().entry(key).or_default() += 1;
                    }
                    let ack = match (p.qos, p.packet_id) {
                        (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(Ack::new(id))),
                        (QoS::ExactlyOnce, Some(id)) => Some(Packet::PubRec(Ack::new(id))),
                        _ => None,
                    };
                    if let Some(ack) = ack {
                        if !conn.send(ack) {
                            continue 'connection;
                        }
                    }
                }
                Packet::PubRel(a) => {
                    held.remove(&a.packet_id.get());
                    if !conn.send(Packet::PubComp(Ack::new(a.packet_id))) {
                        continue 'connection;
                    }
                }
                other => panic!("{client_id}: unexpected {other:?}"),
            }
        }
    }
}

struct Pub {
    topic: String,
    qos: QoS,
    acked: Arc<Mutex<Acked>>,
}

struct Sub {
    name: String,
    qos: QoS,
    online: Arc<AtomicBool>,
    received: Received,
}

#[test]
fn acknowledged_messages_survive_20_sigkills_with_qos_and_retained_guarantees() {
    if common::hornet_only() {
        return;
    }
    let seed = std::env::var("HORNET_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed: {seed} (HORNET_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let conf = dir.path().join("hornet.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
             persistence_location {}\nmax_queued_messages 0\nsys_interval 0\n{}",
            dir.path().join("data").display(),
            if std::env::var_os("HORNET_CRASH_LOG").is_some() {
                "log_type all\n"
            } else {
                ""
            }
        ),
    )
    .unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    let stop_pub = Arc::new(AtomicBool::new(false));
    let stop_sub = Arc::new(AtomicBool::new(false));
    let sessions_lost = Arc::new(Mutex::new(Vec::new()));
    let mut broker = Some(Broker::start(&conf));

    let pubs: Vec<Pub> = [
        ("crash/q1/a", QoS::AtLeastOnce),
        ("crash/q1/b", QoS::AtLeastOnce),
        ("crash/q2/a", QoS::ExactlyOnce),
        ("crash/q2/b", QoS::ExactlyOnce),
        ("crash/retained", QoS::AtLeastOnce),
    ]
    .into_iter()
    .map(|(topic, qos)| Pub {
        topic: topic.to_string(),
        qos,
        acked: Arc::default(),
    })
    .collect();
    let subs: Vec<Sub> = [
        ("sub-online-q2", QoS::ExactlyOnce, true),
        ("sub-online-q1", QoS::AtLeastOnce, true),
        ("sub-toggling-q2", QoS::ExactlyOnce, true),
        ("sub-offline-q2", QoS::ExactlyOnce, true),
    ]
    .into_iter()
    .map(|(name, qos, online)| Sub {
        name: name.to_string(),
        qos,
        online: Arc::new(AtomicBool::new(online)),
        received: Arc::default(),
    })
    .collect();

    // Subscribers first, so every message has its persistent subscribers.
    let mut threads = Vec::new();
    for s in &subs {
        let (name, qos, online, received) =
            (s.name.clone(), s.qos, s.online.clone(), s.received.clone());
        let (stop, lost) = (stop_sub.clone(), sessions_lost.clone());
        threads.push(thread::spawn(move || {
            subscriber(addr, name, qos, online, stop, received, lost)
        }));
    }
    // Every subscription is in place (and durable) before publishing starts:
    // each subscriber has received nothing yet, so wait for the SUBACKs by
    // asking a fresh client for nothing: the first message published below
    // must reach all of them, which the final check proves.
    wait_until("subscribers subscribed", Duration::from_secs(10), || {
        let probe = Publish {
            qos: QoS::AtLeastOnce,
            packet_id: Some(pid(1)),
            ..Publish::new("crash/probe", "0")
        };
        let Some((mut c, _)) = Conn::open(addr, "probe") else {
            return false;
        };
        c.send(Packet::Publish(probe));
        loop {
            match c.recv() {
                Recv::Packet(Packet::PubAck(_)) => break,
                Recv::Dead => return false,
                _ => {}
            }
        }
        c.send(Packet::Disconnect(Disconnect::new(ReasonCode::Success)));
        subs.iter().all(|s| {
            s.received
                .lock()
                .unwrap()
                .contains_key(&("crash/probe".to_string(), 0))
        })
    });
    subs[3].online.store(false, Ordering::SeqCst);

    for (i, p) in pubs.iter().enumerate() {
        let (topic, qos, acked, stop) = (p.topic.clone(), p.qos, p.acked.clone(), stop_pub.clone());
        let retain = topic == "crash/retained";
        threads.push(thread::spawn(move || {
            publisher(addr, format!("pub-{i}"), topic, qos, retain, stop, acked)
        }));
    }

    let started = Instant::now();
    for kill in 0..KILLS {
        thread::sleep(Duration::from_millis(rng.between(50, 400)));
        broker.take().expect("running").kill();
        // The toggling subscriber changes state while the broker is down.
        subs[2].online.store(kill % 2 == 1, Ordering::SeqCst);
        // Every fifth time, a power cut's torn write: garbage after the
        // last record (an unacknowledged batch the disk half wrote). It
        // must be cut off, and said so, without touching what was synced.
        let torn = kill % 5 == 4;
        if torn {
            tear_the_log(&dir.path().join("data"), &mut rng);
        }
        let started = Broker::start(&conf);
        if torn {
            let said = started
                .startup
                .iter()
                .any(|l| l.contains("Store recovery") && l.contains("bytes dropped"));
            assert!(
                said,
                "no recovery line after a torn write:\n{:#?}",
                started.startup
            );
        }
        broker = Some(started);
    }
    eprintln!("{KILLS} kills in {:?}", started.elapsed());

    // Let the publishers finish their last message, then bring every
    // subscriber online and wait until each has everything acknowledged.
    stop_pub.store(true, Ordering::SeqCst);
    for s in &subs {
        s.online.store(true, Ordering::SeqCst);
    }
    let pub_threads: Vec<_> = threads.drain(subs.len()..).collect();
    for t in pub_threads {
        t.join().expect("publisher");
    }
    let owed = |s: &Sub| -> Vec<(String, u64)> {
        let got = s.received.lock().unwrap();
        pubs.iter()
            .flat_map(|p| {
                let acked = p.acked.lock().unwrap().numbers.clone();
                acked
                    .into_iter()
                    .map(|n| (p.topic.clone(), n))
                    .filter(|k| !got.contains_key(k))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while subs.iter().any(|s| !owed(s).is_empty()) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    let mut failures = Vec::new();
    let mut totals = BTreeMap::new();
    for p in &pubs {
        let acked = p.acked.lock().unwrap();
        totals.insert(p.topic.clone(), acked.numbers.len());
        for s in &subs {
            let got = s.received.lock().unwrap();
            for &n in &acked.numbers {
                let times = got.get(&(p.topic.clone(), n)).copied().unwrap_or(0);
                if times == 0 {
                    failures.push(format!(
                        "{}: acknowledged {} #{n} never arrived",
                        s.name, p.topic
                    ));
                }
                // [MQTT-4.3.3]: QoS 2 all the way, exactly once.
                if times > 1 && p.qos == QoS::ExactlyOnce && s.qos == QoS::ExactlyOnce {
                    failures.push(format!(
                        "{}: QoS 2 {} #{n} arrived {times} times",
                        s.name, p.topic
                    ));
                }
            }
            if p.qos == QoS::ExactlyOnce && s.qos == QoS::ExactlyOnce {
                for ((topic, n), times) in got.iter() {
                    if topic == &p.topic && *times > 1 {
                        failures.push(format!(
                            "{}: QoS 2 {topic} #{n} arrived {times} times",
                            s.name
                        ));
                    }
                }
            }
        }
    }
    failures.extend(sessions_lost.lock().unwrap().iter().cloned());
    stop_sub.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("subscriber");
    }

    // The retained topic holds the last acknowledged value, after one more
    // crash for good measure.
    broker.take().expect("running").kill();
    let _broker = Broker::start(&conf);
    let last = pubs[4].acked.lock().unwrap().last;
    let (mut c, _) = Conn::open(addr, "retained-check").expect("connect");
    c.send(Subscribe::new(pid(1), "crash/retained", QoS::AtLeastOnce).into());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut retained = None;
    while retained.is_none() && Instant::now() < deadline {
        match c.recv() {
            Recv::Packet(Packet::Publish(p)) => {
                assert!(
                    p.retain,
                    "a retained message arrives with RETAIN 1 [MQTT-3.3.1-8]"
                );
                retained = Some(String::from_utf8(p.payload.to_vec()).unwrap());
            }
            Recv::Dead => panic!("the broker closed the check connection"),
            _ => {}
        }
    }
    if retained != Some(last.to_string()) {
        failures.push(format!(
            "retained crash/retained holds {retained:?}, last acknowledged was {last}"
        ));
    }
    eprintln!("acknowledged per topic: {totals:?}");
    assert!(
        totals.values().all(|&n| n > 0),
        "every publisher got messages through: {totals:?}"
    );
    assert!(failures.is_empty(), "seed {seed}:\n{}", failures.join("\n"));
}

/// Appends a torn frame to the newest segment: a length, a checksum that
/// cannot match, and fewer bytes than the length says.
fn tear_the_log(data: &Path, rng: &mut Rng) {
    let newest = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max()
        .expect("a segment");
    let mut garbage = vec![200u8, 0, 0, 0];
    garbage.extend((0..4 + rng.between(0, 60)).map(|_| rng.next() as u8));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap();
    f.write_all(&garbage).unwrap();
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}
