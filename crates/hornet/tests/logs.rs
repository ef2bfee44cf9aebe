//! The `hornet` binary as users run it: the startup banner and the
//! Mosquitto-style log lines the seeds' users read, checked on the real
//! process's stderr while real sockets drive it; and the loopback-only
//! anonymous default seen from a non-loopback address.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use codec_client::Raw;
use common::{free_port, TIMEOUT};
use hornet_codec::{Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};

/// The broker process and its stderr, line by line.
struct Hornet {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    port: u16,
    /// Its working directory: the default data directory `./data` lands here.
    _data: tempfile::TempDir,
}

impl Hornet {
    /// Starts the binary on a free port. The port was free when chosen but
    /// another test may take it before the broker binds; the banner line
    /// (logged after the bind) proves it is ours, and a failed bind retries.
    fn start(args: &[&str]) -> Hornet {
        for _ in 0..5 {
            let port = free_port();
            let data = tempfile::tempdir().expect("a working directory");
            let mut child = Command::new(env!("CARGO_BIN_EXE_hornet"))
                .current_dir(data.path())
                .args(["-p", &port.to_string()])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run the hornet binary");
            let stderr = child.stderr.take().unwrap();
            let (tx, lines) = channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let mut hornet = Hornet {
                child,
                lines,
                seen: Vec::new(),
                port,
                _data: data,
            };
            if hornet.listening() {
                return hornet;
            }
        }
        panic!("hornet could not listen on a free port in 5 attempts");
    }

    /// Reads the log until the listener banner (true) or a failed bind or
    /// exit (false), within the timeout.
    fn listening(&mut self) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains("Opening MQTT listener");
                    let failed = line.contains("cannot listen");
                    self.seen.push(line);
                    if done || failed {
                        return done;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// Waits (bounded) for a log line containing every one of `parts`.
    fn expect(&mut self, parts: &[&str]) -> String {
        if let Some(line) = self
            .seen
            .iter()
            .find(|l| parts.iter().all(|p| l.contains(p)))
        {
            return line.clone();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if parts.iter().all(|p| line.contains(p)) {
                        return line;
                    }
                }
                Err(_) => panic!("no log line with {parts:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }
}

impl Hornet {
    /// How many lines read so far contain `part`.
    fn count(&self, part: &str) -> usize {
        self.seen.iter().filter(|l| l.contains(part)).count()
    }
}

impl Drop for Hornet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect_packet(protocol: Protocol, id: &str, keep_alive: u16) -> Connect {
    let mut c = Connect::new(protocol, id);
    c.keep_alive = keep_alive;
    c
}

#[test]
fn banner_and_connection_lines_read_like_mosquitto() {
    let mut hornet = Hornet::start(&["-v"]);
    hornet.expect(&[
        "Opening MQTT listener on all interfaces, IPv4 and IPv6",
        "loopback only",
    ]);
    hornet.expect(&["Persistence: data directory ./data (fsync fsync)"]);
    let addr: SocketAddr = ([127, 0, 0, 1], hornet.port).into();

    let mut c = connect_packet(Protocol::V3_1_1, "sensor-1", 60);
    c.username = Some("alice".into());
    let mut sensor = Raw::connect_to(addr, c);
    assert!(
        matches!(sensor.recv(), Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success)
    );
    hornet.expect(&[
        "New connection from 127.0.0.1:",
        &format!("on port {}.", hornet.port),
    ]);
    hornet.expect(&[
        "New client connected from 127.0.0.1:",
        "as sensor-1 (p2, c1, k60, u'alice').",
    ]);

    let mut p = Publish::new("home/temp", "21.50");
    p.qos = QoS::AtLeastOnce;
    p.packet_id = PacketId::new(12);
    sensor.send(p.into());
    assert!(matches!(sensor.recv(), Some(Packet::PubAck(_))));
    hornet
        .expect(&["Received PUBLISH from sensor-1 (d0, q1, r0, m12, 'home/temp', ... (5 bytes))"]);
    hornet.expect(&["Sending PUBACK to sensor-1 (m12, rc0)"]);

    // [MQTT-3.1.4-3] takeover, in Mosquitto's words.
    let mut again = Raw::connect_to(addr, connect_packet(Protocol::V3_1_1, "sensor-1", 60));
    assert!(matches!(again.recv(), Some(Packet::ConnAck(_))));
    hornet.expect(&["Client sensor-1 already connected, closing old connection."]);
    assert_eq!(sensor.recv(), None, "the old connection is closed");

    again.send(Packet::Disconnect(hornet_codec::Disconnect::new(
        ReasonCode::Success,
    )));
    hornet.expect(&["Client sensor-1 disconnected."]);
}

#[test]
fn keep_alive_timeout_is_logged_by_client_id() {
    // [MQTT-3.1.2-24]: 1.5 x 1 s without a packet.
    let mut hornet = Hornet::start(&[]);
    let addr: SocketAddr = ([127, 0, 0, 1], hornet.port).into();
    let mut sleepy = Raw::connect_to(addr, connect_packet(Protocol::V5, "sleepy", 1));
    assert!(matches!(sleepy.recv(), Some(Packet::ConnAck(_))));
    let started = Instant::now();
    // MQTT 5: DISCONNECT 0x8D Keep Alive timeout, then EOF.
    assert!(
        matches!(sleepy.recv(), Some(Packet::Disconnect(d)) if d.reason_code == ReasonCode::KeepAliveTimeout)
    );
    assert_eq!(sleepy.recv(), None);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1400),
        "closed too early: {waited:?}"
    );
    hornet.expect(&["Client sleepy has exceeded timeout, disconnecting."]);
}

/// A local address other than loopback, if the machine has one.
fn non_loopback_ip() -> Option<IpAddr> {
    // No packet is sent: connecting a UDP socket only picks a route.
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("10.255.255.255:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn anonymous_clients_from_the_network_are_refused_with_an_explanation() {
    let Some(ip) = non_loopback_ip() else {
        panic!(
            "this test needs a non-loopback IPv4 address on the machine (any network interface)"
        );
    };
    let mut hornet = Hornet::start(&[]);
    let addr = SocketAddr::new(ip, hornet.port);
    for (protocol, code) in [
        (Protocol::V3_1_1, ReasonCode::NotAuthorized),
        (Protocol::V5, ReasonCode::NotAuthorized),
    ] {
        let mut phone = Raw::connect_to(addr, connect_packet(protocol, "phone", 60));
        match phone.recv() {
            // 3.1.1 reads 0x05 on the wire, decoded back to Not authorized.
            Some(Packet::ConnAck(a)) => assert_eq!(a.reason_code, code),
            other => panic!("expected CONNACK not authorized, got {other:?}"),
        }
        assert_eq!(phone.recv(), None, "closed after the refusal");
    }
    let line = hornet.expect(&["Client phone from", &ip.to_string(), "refused"]);
    assert!(
        line.contains("allow_anonymous"),
        "the log names the fix: {line}"
    );
    // Loopback still works.
    let mut local = Raw::connect_to(
        ([127, 0, 0, 1], hornet.port).into(),
        connect_packet(Protocol::V5, "local", 60),
    );
    assert!(
        matches!(local.recv(), Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success)
    );
}

#[test]
fn a_bad_config_exits_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.conf");
    std::fs::write(
        &path,
        "# comment\nlistener 1883\nmax_queued_messages lots\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hornet"))
        .arg("-c")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3", path.display())), "{err}");
    assert!(err.contains("max_queued_messages"), "{err}");
}

#[test]
fn a_mosquitto_conf_is_read_and_unsupported_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mosquitto.conf");
    std::fs::write(
        &path,
        "# from a blog post\nlistener 1883\nallow_anonymous true\nautosave_interval 1800\nmax_queued_messages 10\n",
    )
    .unwrap();
    let mut hornet = Hornet::start(&["-c", path.to_str().unwrap()]);
    hornet.expect(&["mosquitto.conf:4", "autosave_interval"]);
    hornet.expect(&["Opening MQTT listener", "anonymous clients from anywhere"]);
    // The default listener serves IPv6 too.
    let v6: SocketAddr = (std::net::Ipv6Addr::LOCALHOST, hornet.port).into();
    if std::net::TcpStream::connect(v6).is_ok() {
        let mut client = Raw::connect_to(v6, connect_packet(Protocol::V5, "v6-client", 60));
        assert!(
            matches!(client.recv(), Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success)
        );
        hornet.expect(&[
            "New client connected from [::1]:",
            "as v6-client (p5, c1, k60).",
        ]);
    } else {
        eprintln!("no IPv6 loopback on this machine; the IPv6 half of this test did not run");
    }
}

/// A mosquitto.conf in a fresh directory (kept alive by the returned guard).
fn conf(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mosquitto.conf");
    std::fs::write(&path, text).unwrap();
    (dir, path.to_str().unwrap().to_string())
}

#[test]
fn the_first_refusal_of_a_cause_names_its_setting_once() {
    if common::hornet_only() {
        return;
    }
    let (_dir, path) = conf("max_client_id_length 8\n");
    let mut hornet = Hornet::start(&["-c", &path]);
    // The banner lists the effective limits, those set in the file first.
    hornet.expect(&["Limits set in the config: max_client_id_length 8."]);
    hornet.expect(&["Limits at their defaults:", "max_queued_messages 1000"]);
    let addr: SocketAddr = ([127, 0, 0, 1], hornet.port).into();
    // [MQTT-3.1.3-5] lets a server refuse a client id; CONNACK 0x85.
    for id in ["much-too-long-1", "much-too-long-2"] {
        let mut c = Raw::connect_to(addr, connect_packet(Protocol::V5, id, 60));
        match c.recv() {
            Some(Packet::ConnAck(a)) => {
                assert_eq!(a.reason_code, ReasonCode::ClientIdentifierNotValid)
            }
            other => panic!("expected CONNACK 0x85, got {other:?}"),
        }
        hornet.expect(&["refused: its client id is 15 bytes long, over max_client_id_length 8"]);
    }
    // A sentinel: everything logged for the refusals comes before it.
    let mut ok = Raw::connect_to(addr, connect_packet(Protocol::V5, "short", 60));
    assert!(matches!(ok.recv(), Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success));
    hornet.expect(&["New client connected from", "as short ("]);
    let hint = hornet.expect(&["hint: max_client_id_length (currently 8)"]);
    assert!(
        hint.contains("`max_client_id_length 4096` in mosquitto.conf")
            && hint.contains("docs/configuration.md#"),
        "the hint says how to change it: {hint}"
    );
    assert_eq!(
        hornet.count("refused: its client id"),
        2,
        "{:?}",
        hornet.seen
    );
    assert_eq!(hornet.count("hint: "), 1, "{:?}", hornet.seen);
}

#[test]
fn the_first_dropped_message_names_max_queued_messages_once() {
    if common::hornet_only() {
        return;
    }
    let (_dir, path) = conf("max_queued_messages 2\n");
    let mut hornet = Hornet::start(&["-c", &path]);
    let addr: SocketAddr = ([127, 0, 0, 1], hornet.port).into();
    // Two persistent sessions subscribed at QoS 1, then offline.
    for id in ["offline-1", "offline-2"] {
        let mut c = connect_packet(Protocol::V3_1_1, id, 60);
        c.clean_start = false;
        let mut sub = Raw::connect_to(addr, c);
        assert!(matches!(sub.recv(), Some(Packet::ConnAck(_))));
        let pid = PacketId::new(1).unwrap();
        sub.send(Subscribe::new(pid, "drops/#", QoS::AtLeastOnce).into());
        assert!(matches!(sub.recv(), Some(Packet::SubAck(_))));
        sub.send(Packet::Disconnect(hornet_codec::Disconnect::new(
            ReasonCode::Success,
        )));
        hornet.expect(&[&format!("Client {id} disconnected.")]);
    }
    let mut publisher = Raw::connect_to(addr, connect_packet(Protocol::V3_1_1, "pub", 60));
    assert!(matches!(publisher.recv(), Some(Packet::ConnAck(_))));
    for n in 1..=3u16 {
        let mut p = Publish::new("drops/x", format!("m{n}"));
        p.qos = QoS::AtLeastOnce;
        p.packet_id = PacketId::new(n);
        publisher.send(p.into());
        assert!(matches!(publisher.recv(), Some(Packet::PubAck(_))));
    }
    // The third message overflows both queues: each drop is logged, the
    // hint comes once.
    for id in ["offline-1", "offline-2"] {
        hornet.expect(&["Outgoing messages are being dropped for client", id]);
    }
    let mut sentinel = Raw::connect_to(addr, connect_packet(Protocol::V3_1_1, "sentinel", 60));
    assert!(matches!(sentinel.recv(), Some(Packet::ConnAck(_))));
    hornet.expect(&["New client connected from", "as sentinel ("]);
    let hint = hornet.expect(&["hint: max_queued_messages (currently 2)"]);
    assert!(
        hint.contains("`max_queued_messages 10000` in mosquitto.conf"),
        "{hint}"
    );
    assert_eq!(hornet.count("hint: "), 1, "{:?}", hornet.seen);
}

#[test]
fn max_connections_refusals_name_the_setting_once() {
    if common::hornet_only() {
        return;
    }
    let (_dir, path) = conf("max_connections 1\n");
    let mut hornet = Hornet::start(&["-c", &path]);
    let addr: SocketAddr = ([127, 0, 0, 1], hornet.port).into();
    let mut first = Raw::connect_to(addr, connect_packet(Protocol::V3_1_1, "first", 60));
    assert!(matches!(first.recv(), Some(Packet::ConnAck(_))));
    for _ in 0..2 {
        // Closed at once, before any CONNACK.
        let mut over = Raw::connect_to(addr, connect_packet(Protocol::V3_1_1, "over", 60));
        assert_eq!(over.recv(), None, "refused by max_connections");
    }
    let hint = hornet.expect(&["hint: max_connections (currently 1)"]);
    assert!(
        hint.contains("`max_connections 100000` before any `listener` line in mosquitto.conf"),
        "{hint}"
    );
    // The sentinel: the first client leaves after both refusals were logged.
    first.send(Packet::Disconnect(hornet_codec::Disconnect::new(
        ReasonCode::Success,
    )));
    hornet.expect(&["Client first disconnected."]);
    assert_eq!(
        hornet.count("denied: max_connections (1) reached"),
        2,
        "{:?}",
        hornet.seen
    );
    assert_eq!(hornet.count("hint: "), 1, "{:?}", hornet.seen);
}
