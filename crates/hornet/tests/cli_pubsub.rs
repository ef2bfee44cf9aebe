//! `hornet pub` and `hornet sub`, the real binary, against Hornet and
//! against the Debian Mosquitto, each with a TCP, a TLS, a WebSocket and a
//! secure WebSocket listener; and mixed with `mosquitto_pub` /
//! `mosquitto_sub` both ways.
//!
//! Every scenario runs twice, `_hornet` and `_mosquitto`: the tools must
//! work with either broker. Subscribers run with `-d` and the test waits
//! for their `Subscribed (mid: ...)` line before publishing; every wait is
//! bounded by [`TIMEOUT`], no test sleeps. Clients are killed when their
//! test ends (`Proc`'s drop), which is also how the will test makes its
//! client vanish without DISCONNECT.

mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/transports.rs"]
mod transports;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use common::TIMEOUT;
use hornet::config::ListenerKind;
use process::Proc;
use transports::{listener, Pki};

const INSTALL: &str = "the Debian packages mosquitto and mosquitto-clients (see .ci/run)";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Hornet,
    Mosquitto,
}

/// A broker with four loopback listeners: tcp, tls, ws (path /mqtt), wss.
struct Broker {
    ports: [u16; 4],
    pki: Pki,
    _inner: Inner,
}

enum Inner {
    // Held for its Drop, which stops the broker.
    Hornet(#[allow(dead_code)] transports::Broker),
    Mosquitto(Child),
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Inner::Mosquitto(child) = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const TCP: usize = 0;
const TLS: usize = 1;
const WS: usize = 2;
const WSS: usize = 3;

/// Both brokers queue at most 1,000 messages per client by default and
/// drop the newest beyond (`max_queued_messages`), also for an online
/// client that reads slowly. The window test streams 10,000 QoS 1 messages
/// to a debug-build subscriber printing `-d` lines, which can fall that far
/// behind on a loaded machine; the test is about the clients, so the
/// brokers queue without limit.
const UNLIMITED_QUEUE: &str = "max_queued_messages 0\n";

impl Broker {
    /// Starts `kind`; `anonymous` false refuses clients without a password.
    fn start(kind: Kind, anonymous: bool) -> Broker {
        let pki = Pki::new();
        match kind {
            Kind::Hornet => {
                let listeners = vec![
                    listener(ListenerKind::Tcp, None),
                    listener(ListenerKind::Tls, Some(pki.tls())),
                    listener(ListenerKind::Ws, None),
                    listener(ListenerKind::Wss, Some(pki.tls())),
                ];
                let conf = format!("allow_anonymous {anonymous}\n{UNLIMITED_QUEUE}");
                let broker = transports::Broker::start(listeners, &conf);
                let ports = [0, 1, 2, 3].map(|i| broker.port(i));
                Broker {
                    ports,
                    pki,
                    _inner: Inner::Hornet(broker),
                }
            }
            Kind::Mosquitto => {
                process::require("mosquitto", INSTALL);
                // Mosquitto started as root drops to the `mosquitto` user,
                // which must be able to read the certificates.
                make_readable(pki.dir.path());
                let ports = [0; 4].map(|_| common::free_port());
                let (cert, key) = (pki.cert_file.display(), pki.key_file.display());
                let conf = format!(
                    "allow_anonymous {anonymous}\n{UNLIMITED_QUEUE}\
                     listener {} 127.0.0.1\n\
                     listener {} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n\
                     listener {} 127.0.0.1\nprotocol websockets\n\
                     listener {} 127.0.0.1\nprotocol websockets\ncertfile {cert}\nkeyfile {key}\n",
                    ports[0], ports[1], ports[2], ports[3]
                );
                let path = pki.dir.path().join("mosquitto.conf");
                std::fs::write(&path, conf).unwrap();
                make_readable(pki.dir.path());
                let child = Command::new("mosquitto")
                    .arg("-c")
                    .arg(&path)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("run mosquitto");
                for port in ports {
                    common::wait_for_port(([127, 0, 0, 1], port).into());
                }
                Broker {
                    ports,
                    pki,
                    _inner: Inner::Mosquitto(child),
                }
            }
        }
    }

    /// The `-h -p` (and TLS / WebSocket) options reaching listener `which`.
    fn target(&self, which: usize) -> Vec<String> {
        let port = self.ports[which];
        let ca = self.pki.ca_file.display().to_string();
        match which {
            TCP => vec![
                "-h".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ],
            TLS => vec![
                "-h".into(),
                "localhost".into(),
                "-p".into(),
                port.to_string(),
                "--cafile".into(),
                ca,
            ],
            WS => vec!["-L".into(), format!("ws://127.0.0.1:{port}/mqtt")],
            _ => vec![
                "-L".into(),
                format!("wss://localhost:{port}/mqtt"),
                "--cafile".into(),
                ca,
            ],
        }
    }
}

fn make_readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o644));
    }
}

/// A client id unique in this run, short enough for MQTT 3.1.
fn unique_id(role: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("hp{role}{}-{n}", std::process::id() % 100_000)
}

fn hornet_cmd(sub: &str, target: &[String], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
    cmd.arg(sub).args(target).args(args);
    cmd
}

/// `hornet sub -d` (or `mosquitto_sub -d`), returned once subscribed.
fn subscribe(tool: Kind, target: &[String], args: &[&str]) -> Proc {
    let mut cmd = match tool {
        Kind::Hornet => hornet_cmd("sub", target, args),
        Kind::Mosquitto => {
            process::require("mosquitto_sub", INSTALL);
            // mosquitto_sub does not flush its debug lines: line-buffer them.
            let mut cmd = Command::new("stdbuf");
            cmd.args(["-oL", "mosquitto_sub"]).args(target).args(args);
            cmd
        }
    };
    cmd.arg("-d");
    let mut sub = Proc::spawn(&format!("{tool:?} sub {args:?}"), &mut cmd, INSTALL);
    sub.wait_line(TIMEOUT, "SUBACK", |l| l.starts_with("Subscribed (mid:"));
    sub
}

/// Runs `hornet pub` (or `mosquitto_pub`) to the end; returns its exit
/// code and output (stdout then stderr). `stdin` is written to its input.
fn publish(tool: Kind, target: &[String], args: &[&str], stdin: &[u8]) -> (i32, String) {
    let mut cmd = match tool {
        Kind::Hornet => hornet_cmd("pub", target, args),
        Kind::Mosquitto => {
            process::require("mosquitto_pub", INSTALL);
            let mut cmd = Command::new("mosquitto_pub");
            cmd.args(target).args(args);
            cmd
        }
    };
    run(&mut cmd, stdin)
}

/// Runs `cmd` with `stdin`, bounded by [`TIMEOUT`]: (exit code, output).
fn run(cmd: &mut Command, stdin: &[u8]) -> (i32, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the client");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(TIMEOUT) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{cmd:?} did not finish within {TIMEOUT:?}");
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn publish_ok(tool: Kind, target: &[String], args: &[&str]) -> String {
    let (code, out) = publish(tool, target, args, b"");
    assert_eq!(code, 0, "publish {args:?} failed:\n{out}");
    out
}

/// Waits for the subscriber to exit 0 (after `-C`); its message lines.
fn messages(sub: &mut Proc) -> Vec<String> {
    sub.expect_success(TIMEOUT);
    sub.transcript
        .iter()
        .filter(|l| !l.starts_with("Client ") && !l.starts_with("Subscribed ") && !l.is_empty())
        .cloned()
        .collect()
}

fn received_publish(sub: &Proc) -> String {
    sub.transcript
        .iter()
        .find(|l| l.contains("received PUBLISH"))
        .cloned()
        .unwrap_or_else(|| panic!("no PUBLISH received; output:\n{}", sub.output()))
}

/// Every protocol version at every QoS, `hornet pub` to `hornet sub`: the
/// message arrives once, at the QoS asked for ([MQTT-3.8.4-6]: the lower of
/// the publish and the subscription QoS, here equal), and the publisher's
/// flow completes (PUBACK / PUBREC-PUBREL-PUBCOMP, [MQTT-4.3.2-1],
/// [MQTT-4.3.3-1]).
fn versions_and_qos(kind: Kind) {
    let broker = Broker::start(kind, true);
    let target = broker.target(TCP);
    for version in ["mqttv31", "mqttv311", "mqttv5"] {
        for qos in ["0", "1", "2"] {
            let topic = format!("vq/{version}/{qos}");
            let sid = unique_id("s");
            let mut sub = subscribe(
                Kind::Hornet,
                &target,
                &[
                    "-V", version, "-q", qos, "-t", &topic, "-C", "1", "-v", "-i", &sid,
                ],
            );
            let payload = format!("hello {version} q{qos}");
            let out = publish_ok(
                Kind::Hornet,
                &target,
                &["-V", version, "-q", qos, "-t", &topic, "-m", &payload, "-d"],
            );
            let acked = match qos {
                "0" => "sending DISCONNECT",
                "1" => "received PUBACK (Mid: 1, RC:0)",
                _ => "received PUBCOMP (Mid: 1, RC:0)",
            };
            assert!(out.contains(acked), "{version} q{qos}:\n{out}");
            assert_eq!(messages(&mut sub), [format!("{topic} {payload}")]);
            let line = received_publish(&sub);
            assert!(line.contains(&format!(", q{qos}, r0, ")), "{line}");
        }
    }
}

#[test]
fn versions_and_qos_hornet() {
    versions_and_qos(Kind::Hornet);
}

#[test]
fn versions_and_qos_mosquitto() {
    versions_and_qos(Kind::Mosquitto);
}

/// `mosquitto_sub` receives what `hornet pub` sends and `hornet sub` what
/// `mosquitto_pub` sends, over each protocol version at QoS 2.
fn interop(kind: Kind) {
    let broker = Broker::start(kind, true);
    let target = broker.target(TCP);
    for version in ["mqttv31", "mqttv311", "mqttv5"] {
        for (sub_tool, pub_tool) in [
            (Kind::Mosquitto, Kind::Hornet),
            (Kind::Hornet, Kind::Mosquitto),
        ] {
            let topic = format!("io/{version}/{sub_tool:?}");
            let sid = unique_id("s");
            let pid = unique_id("p");
            let mut sub = subscribe(
                sub_tool,
                &target,
                &[
                    "-V", version, "-q", "2", "-t", "io/#", "-C", "1", "-v", "-i", &sid,
                ],
            );
            publish_ok(
                pub_tool,
                &target,
                &[
                    "-V",
                    version,
                    "-q",
                    "2",
                    "-t",
                    &topic,
                    "-m",
                    "from the other tool",
                    "-i",
                    &pid,
                ],
            );
            assert_eq!(messages(&mut sub), [format!("{topic} from the other tool")]);
            assert!(received_publish(&sub).contains(", q2, r0, "));
        }
    }
}

#[test]
fn interop_hornet() {
    interop(Kind::Hornet);
}

#[test]
fn interop_mosquitto() {
    interop(Kind::Mosquitto);
}

/// Retained messages: a new subscriber gets the retained message with
/// RETAIN set ([MQTT-3.3.1-6]); `-R` skips it but prints live messages;
/// `-r -n` clears it ([MQTT-3.3.1-10]), so a later subscriber gets only the
/// sentinel.
fn retained(kind: Kind) {
    let broker = Broker::start(kind, true);
    let t = broker.target(TCP);
    publish_ok(
        Kind::Hornet,
        &t,
        &["-t", "ret/a", "-m", "kept", "-r", "-q", "1"],
    );
    let mut sub = subscribe(Kind::Hornet, &t, &["-t", "ret/#", "-C", "1", "-v"]);
    assert_eq!(messages(&mut sub), ["ret/a kept"]);
    assert!(
        received_publish(&sub).contains(", r1, "),
        "{}",
        sub.output()
    );

    // -R: the retained message arrives (the debug line shows it) but is
    // not printed, nor counted by -C.
    let mut sub = subscribe(Kind::Hornet, &t, &["-t", "ret/#", "-C", "1", "-v", "-R"]);
    publish_ok(Kind::Hornet, &t, &["-t", "ret/b", "-m", "live"]);
    assert_eq!(messages(&mut sub), ["ret/b live"]);

    publish_ok(Kind::Hornet, &t, &["-t", "ret/a", "-n", "-r"]);
    let mut sub = subscribe(Kind::Hornet, &t, &["-t", "ret/#", "-C", "1", "-v"]);
    publish_ok(Kind::Hornet, &t, &["-t", "ret/sentinel", "-m", "end"]);
    assert_eq!(messages(&mut sub), ["ret/sentinel end"]);
}

#[test]
fn retained_hornet() {
    retained(Kind::Hornet);
}

#[test]
fn retained_mosquitto() {
    retained(Kind::Mosquitto);
}

/// The will of a `hornet sub` that vanishes (killed, no DISCONNECT) is
/// published ([MQTT-3.1.2-8]) with its QoS and retain flag; one that ends
/// normally (-C reached, DISCONNECT) has its will discarded
/// ([MQTT-3.1.2-10]).
fn will(kind: Kind) {
    let broker = Broker::start(kind, true);
    let t = broker.target(TCP);
    let mut watcher = subscribe(
        Kind::Hornet,
        &t,
        &["-t", "will/#", "-C", "2", "-v", "-q", "1"],
    );
    // Ends with DISCONNECT after one message: its will must not appear.
    let mut polite = subscribe(
        Kind::Hornet,
        &t,
        &[
            "-t",
            "polite",
            "-C",
            "1",
            "--will-topic",
            "will/polite",
            "--will-payload",
            "wrong",
        ],
    );
    publish_ok(Kind::Hornet, &t, &["-t", "polite", "-m", "bye"]);
    polite.expect_success(TIMEOUT);
    let holder = subscribe(
        Kind::Hornet,
        &t,
        &[
            "-t",
            "nothing",
            "-V",
            "mqttv5",
            "--will-topic",
            "will/gone",
            "--will-payload",
            "it died",
            "--will-qos",
            "1",
        ],
    );
    drop(holder); // SIGKILL: the connection drops without DISCONNECT.
    watcher.wait_line(TIMEOUT, "the will", |l| l == "will/gone it died");
    publish_ok(Kind::Hornet, &t, &["-t", "will/sentinel", "-m", "end"]);
    assert_eq!(
        messages(&mut watcher),
        ["will/gone it died", "will/sentinel end"]
    );
}

#[test]
fn will_hornet() {
    will(Kind::Hornet);
}

#[test]
fn will_mosquitto() {
    will(Kind::Mosquitto);
}

/// Payload sources: `-l` sends one message per line (an empty line is an
/// empty message, the last line needs no newline), `-s` all of stdin as
/// one, `-f` a file byte for byte, `-n` an empty message, `--repeat`.
fn payload_sources(kind: Kind) {
    let broker = Broker::start(kind, true);
    let t = broker.target(TCP);
    let mut sub = subscribe(
        Kind::Hornet,
        &t,
        &["-t", "src/#", "-C", "9", "-v", "-q", "1"],
    );
    let (code, out) = publish(
        Kind::Hornet,
        &t,
        &["-t", "src/l", "-l", "-q", "1"],
        b"one\ntwo\n\nthree",
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = publish(Kind::Hornet, &t, &["-t", "src/s", "-s"], b"all\nof it");
    assert_eq!(code, 0, "{out}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.txt");
    std::fs::write(&file, "from a file").unwrap();
    publish_ok(
        Kind::Hornet,
        &t,
        &["-t", "src/f", "-f", file.to_str().unwrap()],
    );
    publish_ok(Kind::Hornet, &t, &["-t", "src/n", "-n"]);
    publish_ok(
        Kind::Hornet,
        &t,
        &[
            "-t",
            "src/r",
            "-m",
            "again",
            "--repeat",
            "2",
            "--repeat-delay",
            "0.01",
        ],
    );
    assert_eq!(
        messages(&mut sub),
        [
            "src/l one",
            "src/l two",
            "src/l (null)",
            "src/l three",
            "src/s all",
            "of it",
            "src/f from a file",
            "src/n (null)",
            "src/r again",
            "src/r again",
        ]
    );
}

#[test]
fn payload_sources_hornet() {
    payload_sources(Kind::Hornet);
}

#[test]
fn payload_sources_mosquitto() {
    payload_sources(Kind::Mosquitto);
}

/// `-F` output and MQTT 5 properties set with `-D`, forwarded by the broker
/// unchanged ([MQTT-3.3.2-17], [MQTT-3.3.2-20]); `-N` leaves out newlines.
fn format_and_properties(kind: Kind) {
    let broker = Broker::start(kind, true);
    let t = broker.target(TCP);
    let mut sub = subscribe(
        Kind::Hornet,
        &t,
        &[
            "-V",
            "mqttv5",
            "-t",
            "fmt/#",
            "-C",
            "1",
            "-q",
            "1",
            "-F",
            "%t|%p|%q|%r|%l|%x|%C|%P|%R|%D|%E|%F",
        ],
    );
    publish_ok(
        Kind::Hornet,
        &t,
        &[
            "-V",
            "mqttv5",
            "-t",
            "fmt/a",
            "-m",
            "hi",
            "-q",
            "1",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "publish",
            "response-topic",
            "reply/here",
            "-D",
            "publish",
            "correlation-data",
            "c1",
            "-D",
            "publish",
            "message-expiry-interval",
            "300",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
        ],
    );
    let lines = messages(&mut sub);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let fields: Vec<&str> = lines[0].split('|').collect();
    assert_eq!(
        &fields[..7],
        ["fmt/a", "hi", "1", "0", "2", "6869", "text/plain"]
    );
    assert_eq!(&fields[7..10], ["k:v", "reply/here", "c1"]);
    // The expiry counts down while the message waits [MQTT-3.3.2-6].
    let expiry: u32 = fields[10].parse().unwrap();
    assert!((295..=300).contains(&expiry), "{expiry}");
    assert_eq!(fields[11], "1");

    let mut sub = subscribe(Kind::Hornet, &t, &["-t", "fmt/#", "-C", "2", "-N", "-v"]);
    publish_ok(Kind::Hornet, &t, &["-t", "fmt/b", "-m", "x"]);
    publish_ok(Kind::Hornet, &t, &["-t", "fmt/c", "-m", "y"]);
    assert!(sub.wait_exit(TIMEOUT).success());
    // No newline after a message, so the next debug line follows it on
    // the same line, as with mosquitto_sub -N -d.
    let out = sub.output();
    assert!(out.contains("\nfmt/b xClient "), "{out}");
    assert!(out.contains("\nfmt/c yClient "), "{out}");

    let mut sub = subscribe(Kind::Hornet, &t, &["-t", "fmt/#", "-C", "1", "-F", "%j"]);
    publish_ok(Kind::Hornet, &t, &["-t", "fmt/j", "-m", "say \"hi\"", "-r"]);
    let lines = messages(&mut sub);
    let json: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(json["topic"], "fmt/j");
    assert_eq!(json["payload"], "say \"hi\"");
    assert_eq!(json["payloadlen"], 8);
}

#[test]
fn format_and_properties_hornet() {
    format_and_properties(Kind::Hornet);
}

#[test]
fn format_and_properties_mosquitto() {
    format_and_properties(Kind::Mosquitto);
}

/// Exit codes as mosquitto_pub/sub's: -W timeout 27 ("Timed out"), a
/// refused CONNECT its return code (3.x: 5 "not authorised") or reason
/// code (5.0: 135 "Not authorized") [MQTT-3.2.2-5], a refused TCP
/// connection 1, bad arguments 1, -C reached 0. The same commands with the
/// real tools give the same codes.
fn exit_codes(kind: Kind) {
    let open = Broker::start(kind, true);
    let t = open.target(TCP);
    for tool in [Kind::Hornet, Kind::Mosquitto] {
        let mut cmd = match tool {
            Kind::Hornet => hornet_cmd("sub", &t, &["-t", "quiet", "-W", "1"]),
            Kind::Mosquitto => {
                let mut c = Command::new("mosquitto_sub");
                c.args(&t).args(["-t", "quiet", "-W", "1"]);
                c
            }
        };
        let (code, out) = run(&mut cmd, b"");
        assert_eq!(code, 27, "{tool:?}: {out}");
        assert!(out.contains("Timed out"), "{out}");
    }

    let closed = Broker::start(kind, false);
    let t = closed.target(TCP);
    for tool in [Kind::Hornet, Kind::Mosquitto] {
        let (code, out) = publish(tool, &t, &["-t", "a", "-m", "x"], b"");
        assert_eq!(code, 5, "{tool:?}: {out}");
        assert!(
            out.contains("Connection error: Connection Refused: not authorised."),
            "{out}"
        );
        let (code, out) = publish(tool, &t, &["-t", "a", "-m", "x", "-V", "mqttv5"], b"");
        assert_eq!(code, 135, "{tool:?}: {out}");
        assert!(out.contains("Connection error: Not authorized"), "{out}");
    }
    let nobody = vec![
        "-h".to_string(),
        "127.0.0.1".into(),
        "-p".into(),
        common::free_port().to_string(),
    ];
    for tool in [Kind::Hornet, Kind::Mosquitto] {
        let (code, out) = publish(tool, &nobody, &["-t", "a", "-m", "x"], b"");
        assert_eq!(code, 1, "{tool:?}: {out}");
        assert!(out.contains("Error: Connection refused"), "{out}");
        let (code, out) = publish(tool, &nobody, &["-t", "a"], b"");
        assert_eq!(code, 1, "{tool:?}: {out}");
        assert!(
            out.contains("Error: Both topic and message must be supplied."),
            "{out}"
        );
        let (code, _) = publish(tool, &nobody, &["-t", "a", "-m", "x", "-q", "3"], b"");
        assert_eq!(code, 1, "{tool:?}");
    }
}

#[test]
fn exit_codes_hornet() {
    exit_codes(Kind::Hornet);
}

#[test]
fn exit_codes_mosquitto() {
    exit_codes(Kind::Mosquitto);
}

/// TLS (`--cafile`), WebSocket (`-L ws://`) and secure WebSocket
/// (`-L wss://`): pub and sub on each transport, in each MQTT version; a
/// subscriber on plain TCP sees them all. A server certificate from an
/// unknown CA is refused, exit 1.
fn transports(kind: Kind) {
    let broker = Broker::start(kind, true);
    for which in [TLS, WS, WSS] {
        let t = broker.target(which);
        for version in ["mqttv31", "mqttv311", "mqttv5"] {
            let topic = format!("tr/{which}/{version}");
            let mut sub = subscribe(
                Kind::Hornet,
                &t,
                &["-V", version, "-t", &topic, "-C", "1", "-v", "-q", "1"],
            );
            publish_ok(
                Kind::Hornet,
                &t,
                &["-V", version, "-t", &topic, "-m", "secret", "-q", "1"],
            );
            assert_eq!(
                messages(&mut sub),
                [format!("{topic} secret")],
                "listener {which}"
            );
        }
    }
    let other = Pki::new_named("Some Other CA");
    let mut t = broker.target(TLS);
    *t.last_mut().unwrap() = other.ca_file.display().to_string();
    let (code, out) = publish(Kind::Hornet, &t, &["-t", "a", "-m", "x"], b"");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("Unable to connect (A TLS error occurred.).\nTLS: "),
        "{out}"
    );
}

#[test]
fn transports_hornet() {
    transports(Kind::Hornet);
}

#[test]
fn transports_mosquitto() {
    transports(Kind::Mosquitto);
}

/// `hornet pub --help` and `hornet sub --help` list mosquitto's flags and
/// print no broker banner.
#[test]
fn help_lists_mosquittos_flags() {
    let (code, out) = run(
        Command::new(env!("CARGO_BIN_EXE_hornet")).args(["pub", "--help"]),
        b"",
    );
    assert_eq!(code, 0, "{out}");
    for flag in [
        "-h, --host",
        "-p, --port",
        "-t, --topic",
        "-m, --message",
        "-l, --stdin-line",
        "--will-topic",
        "-D, --property",
        "--cafile",
        "--repeat",
    ] {
        assert!(out.contains(flag), "{flag} missing:\n{out}");
    }
    assert!(!out.contains("hornet version"), "{out}");
    let (code, out) = run(
        Command::new(env!("CARGO_BIN_EXE_hornet")).args(["sub", "--help"]),
        b"",
    );
    assert_eq!(code, 0, "{out}");
    for flag in [
        "-C, --count",
        "-W, --timeout",
        "-R, --no-retained",
        "-F, --format",
        "-v, --verbose",
        "-N, --no-eol",
    ] {
        assert!(out.contains(flag), "{flag} missing:\n{out}");
    }
}

/// `--cert`/`--key`: a listener that requires client certificates
/// accepts `hornet pub` with one from its CA and refuses it without
/// (the handshake fails: exit 1). Hornet's listener; Mosquitto's
/// `require_certificate` behaves the same way.
#[test]
fn client_certificates() {
    let mut pki = Pki::new();
    let (cert, key) = pki.client("alice");
    let broker = transports::Broker::start(
        vec![listener(ListenerKind::Tls, Some(pki.tls_mutual()))],
        "allow_anonymous true\n",
    );
    let port = broker.port(0).to_string();
    let ca = pki.ca_file.display().to_string();
    let target: Vec<String> = ["-h", "localhost", "-p", &port, "--cafile", &ca]
        .map(String::from)
        .to_vec();
    let mut sub = subscribe(
        Kind::Hornet,
        &target,
        &[
            "-t",
            "mtls",
            "-C",
            "1",
            "-v",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    publish_ok(
        Kind::Hornet,
        &target,
        &[
            "-t",
            "mtls",
            "-m",
            "signed",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(messages(&mut sub), ["mtls signed"]);
    let (code, out) = publish(
        Kind::Hornet,
        &target,
        &["-t", "mtls", "-m", "anonymous"],
        b"",
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("Error: "), "{out}");
}

/// A `hornet` broker (the binary) on a port that outlives it, so a test
/// can kill it (SIGKILL) and start it again in the same place.
struct Restartable {
    dir: tempfile::TempDir,
    port: u16,
}

impl Restartable {
    fn new(persistence: bool) -> Restartable {
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        std::fs::write(
            dir.path().join("hornet.conf"),
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence {persistence}\n\
                 persistence_location {}\nadmin_enabled false\nsys_interval 0\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        Restartable { dir, port }
    }

    /// Starts the binary and waits for its listener.
    fn start(&self) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
        cmd.arg("-c")
            .arg(self.dir.path().join("hornet.conf"))
            .current_dir(self.dir.path());
        let mut proc = Proc::spawn("hornet", &mut cmd, "cargo build -p hornet");
        proc.wait_line(TIMEOUT, "the listener", |l| {
            l.contains("Opening MQTT listener")
        });
        proc
    }

    fn target(&self) -> Vec<String> {
        ["-h", "127.0.0.1", "-p", &self.port.to_string()]
            .map(String::from)
            .to_vec()
    }
}

fn count(proc: &Proc, pred: impl Fn(&str) -> bool) -> usize {
    proc.transcript.iter().filter(|l| pred(l)).count()
}

/// `hornet sub` survives a broker restart as `mosquitto_sub` does: it
/// reconnects (a second CONNECT, same client id) and, the broker having
/// lost the session (CONNACK session present 0 [MQTT-3.2.2-2]), subscribes
/// again; a message published after the restart is printed, `-C` counting
/// across both connections.
#[test]
fn sub_reconnects_after_broker_restart() {
    if common::hornet_only() {
        return;
    }
    let site = Restartable::new(false);
    let broker = site.start();
    let t = site.target();
    let mut sub = subscribe(
        Kind::Hornet,
        &t,
        &["-t", "rc/a", "-q", "1", "-v", "-C", "2", "-i", "rc-sub"],
    );
    publish_ok(Kind::Hornet, &t, &["-t", "rc/a", "-m", "before", "-q", "1"]);
    sub.wait_line(TIMEOUT, "the first message", |l| l == "rc/a before");
    drop(broker);
    let _broker = site.start();
    sub.wait_line(TIMEOUT, "the SUBACK after reconnecting", |l| {
        l.starts_with("Subscribed (mid: 2)")
    });
    publish_ok(Kind::Hornet, &t, &["-t", "rc/a", "-m", "after", "-q", "1"]);
    assert_eq!(messages(&mut sub), ["rc/a before", "rc/a after"]);
    assert_eq!(
        count(&sub, |l| l == "Client rc-sub sending CONNECT"),
        2,
        "{}",
        sub.output()
    );
}

/// With a persistent session (`-c`) on a broker that keeps it across the
/// restart, `hornet sub` reconnects to it (session present 1
/// [MQTT-3.2.2-3]) without subscribing again, and receives the QoS 1
/// message published while it was away [MQTT-3.1.2-5].
#[test]
fn sub_resumes_its_session_after_broker_restart() {
    if common::hornet_only() {
        return;
    }
    let site = Restartable::new(true);
    let broker = site.start();
    let t = site.target();
    let mut sub = subscribe(
        Kind::Hornet,
        &t,
        &[
            "-t",
            "rc/p",
            "-q",
            "1",
            "-v",
            "-C",
            "1",
            "-c",
            "-i",
            "rc-persist",
        ],
    );
    drop(broker);
    let _broker = site.start();
    publish_ok(Kind::Hornet, &t, &["-t", "rc/p", "-m", "kept", "-q", "1"]);
    assert_eq!(messages(&mut sub), ["rc/p kept"]);
    assert_eq!(
        count(&sub, |l| l.starts_with("Subscribed ")),
        1,
        "{}",
        sub.output()
    );
    assert_eq!(
        count(&sub, |l| l == "Client rc-persist sending CONNECT"),
        2,
        "{}",
        sub.output()
    );
}

/// `hornet pub -l` reading stdin survives a broker restart as
/// `mosquitto_pub -l` does: the line written after the restart is
/// published on the new connection, and the run ends normally (exit 0).
#[test]
fn pub_lines_reconnect_after_broker_restart() {
    if common::hornet_only() {
        return;
    }
    let site = Restartable::new(false);
    let broker = site.start();
    let t = site.target();
    let mut sub = subscribe(
        Kind::Hornet,
        &t,
        &["-t", "rc/l", "-q", "1", "-v", "-C", "2"],
    );
    let mut cmd = hornet_cmd(
        "pub",
        &t,
        &["-t", "rc/l", "-l", "-q", "1", "-d", "-i", "rc-pub"],
    );
    let (mut publisher, mut stdin) = Proc::spawn_piped("hornet pub -l", &mut cmd, INSTALL);
    stdin.write_all(b"one\n").unwrap();
    stdin.flush().unwrap();
    sub.wait_line(TIMEOUT, "the first line", |l| l == "rc/l one");
    drop(broker);
    let _broker = site.start();
    sub.wait_line(TIMEOUT, "the SUBACK after reconnecting", |l| {
        l.starts_with("Subscribed (mid: 2)")
    });
    stdin.write_all(b"two\n").unwrap();
    drop(stdin);
    publisher.expect_success(TIMEOUT);
    assert_eq!(messages(&mut sub), ["rc/l one", "rc/l two"]);
    assert_eq!(
        count(&publisher, |l| l == "Client rc-pub sending CONNECT"),
        2,
        "{}",
        publisher.output()
    );
}

/// `hornet pub -l -q 1` streams: up to `-M` messages in flight (default
/// 20, as mosquitto_pub), never more (counted from its `-d` lines), and
/// 10,000 lines arrive at `hornet sub -C 10000` once each, in order
/// [MQTT-4.6.0-2] [MQTT-4.6.0-6].
fn inflight_window(kind: Kind) {
    let broker = Broker::start(kind, true);
    let t = broker.target(TCP);
    for (max, n) in [(20, 10_000), (5, 1_000)] {
        let topic = format!("win/{max}");
        let lines: String = (1..=n).map(|i| format!("{i}\n")).collect();
        let n_arg = n.to_string();
        let mut sub = subscribe(Kind::Hornet, &t, &["-t", &topic, "-q", "1", "-C", &n_arg]);
        let m = max.to_string();
        let mut args = vec!["-t", topic.as_str(), "-l", "-q", "1", "-d"];
        if max != 20 {
            args.extend(["-M", m.as_str()]);
        }
        let (code, out) = publish(Kind::Hornet, &t, &args, lines.as_bytes());
        assert_eq!(code, 0, "{out}");
        let (mut inflight, mut most) = (0i32, 0i32);
        for line in out.lines() {
            if line.contains("sending PUBLISH") {
                inflight += 1;
                most = most.max(inflight);
            } else if line.contains("received PUBACK") {
                inflight -= 1;
            }
        }
        assert_eq!(inflight, 0, "every flow finished");
        assert!(most <= max, "{most} in flight with -M {max}");
        assert!(most > 1, "one message at a time");
        // 10,000 messages and their -d lines take a while on a loaded machine.
        sub.expect_success(TIMEOUT * 4);
        let got: Vec<&String> = sub
            .transcript
            .iter()
            .filter(|l| !l.starts_with("Client ") && !l.starts_with("Subscribed "))
            .collect();
        let want: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
        assert!(
            got.iter()
                .map(|s| s.as_str())
                .eq(want.iter().map(|s| s.as_str())),
            "{} messages of {n}, out of order or repeated",
            got.len()
        );
    }
}

#[test]
fn inflight_window_hornet() {
    inflight_window(Kind::Hornet);
}

#[test]
fn inflight_window_mosquitto() {
    inflight_window(Kind::Mosquitto);
}

/// A failed TLS handshake, in Mosquitto's words. Mosquitto's tools say
/// `Unable to connect (A TLS error occurred.).` (exit 1) when the handshake
/// fails inside their connect call and `Error: A TLS error occurred.`
/// (exit 8) when it fails in their network loop, which depends on timing;
/// Hornet's always say the former, then the reason.
fn tls_refused(tool: Kind, host: &str, code: i32, out: &str) {
    let connect = (
        code,
        out.contains("Unable to connect (A TLS error occurred.)."),
    );
    let in_loop = (code, out.contains("Error: A TLS error occurred."));
    let ok = match tool {
        Kind::Hornet => connect == (1, true) && out.contains("\nTLS: "),
        Kind::Mosquitto => connect == (1, true) || in_loop == (8, true),
    };
    assert!(ok, "{tool:?} {host}: exit {code}: {out}");
}

/// `--insecure` skips the host name check and nothing else: against a
/// server certificate from the trusted CA that names only
/// `other.example`, `hornet pub --cafile` and `hornet sub --cafile` are
/// refused with Mosquitto's words and exit code, and with `--insecure` both get through; the
/// real tools do the same against the same broker. A CA that did not
/// sign the certificate is refused even with `--insecure`.
#[test]
fn insecure_skips_only_the_name_check() {
    if common::hornet_only() {
        return;
    }
    let mut pki = Pki::new();
    let tls = pki.tls_named(&["other.example"]);
    let broker = transports::Broker::start(
        vec![listener(ListenerKind::Tls, Some(tls))],
        "allow_anonymous true\n",
    );
    let port = broker.port(0).to_string();
    let ca = pki.ca_file.display().to_string();
    for host in ["localhost", "127.0.0.1"] {
        let t: Vec<String> = ["-h", host, "-p", &port, "--cafile", &ca]
            .map(String::from)
            .to_vec();
        for tool in [Kind::Hornet, Kind::Mosquitto] {
            let (code, out) = publish(tool, &t, &["-t", "ins", "-m", "x"], b"");
            tls_refused(tool, host, code, &out);
            let mut cmd = match tool {
                Kind::Hornet => hornet_cmd("sub", &t, &["-t", "ins", "-W", "5"]),
                Kind::Mosquitto => {
                    let mut c = Command::new("mosquitto_sub");
                    c.args(&t).args(["-t", "ins", "-W", "5"]);
                    c
                }
            };
            let (code, out) = run(&mut cmd, b"");
            tls_refused(tool, host, code, &out);

            let mut sub = subscribe(Kind::Hornet, &t, &["-t", "ins", "-C", "1", "--insecure"]);
            publish_ok(tool, &t, &["-t", "ins", "-m", "through", "--insecure"]);
            assert_eq!(messages(&mut sub), ["through"], "{tool:?} {host}");
        }
    }
    // The chain is still checked: a CA that did not sign it is refused.
    let other = Pki::new_named("Some Other CA");
    let t: Vec<String> = [
        "-h",
        "localhost",
        "-p",
        &port,
        "--cafile",
        &other.ca_file.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let (code, out) = publish(
        Kind::Hornet,
        &t,
        &["-t", "ins", "-m", "x", "--insecure"],
        b"",
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("A TLS error occurred"), "{out}");
}

/// `--unix PATH` connects through a unix domain socket (Mosquitto 2.0
/// listens on one with `listener 0 PATH`; Hornet has no such listener),
/// and `-A` binds the outgoing socket: an address of this machine works,
/// one that is not gives mosquitto_pub's error and exit code.
#[test]
fn unix_socket_and_bind_address() {
    if common::hornet_only() {
        return;
    }
    process::require("mosquitto", INSTALL);
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("m.sock");
    let port = common::free_port();
    let conf = dir.path().join("m.conf");
    std::fs::write(
        &conf,
        format!(
            "allow_anonymous true\nlistener 0 {}\nlistener {port} 127.0.0.1\n",
            sock.display()
        ),
    )
    .unwrap();
    make_readable(dir.path());
    // Mosquitto started as root runs as `mosquitto`, which makes the socket.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let mut cmd = Command::new("mosquitto");
    cmd.arg("-c").arg(&conf);
    let _broker = Proc::spawn("mosquitto", &mut cmd, INSTALL);
    // Mosquitto binds its listeners in the order of the file, so once the
    // TCP port (the second) accepts, the socket (the first) does too.
    common::wait_for_port(([127, 0, 0, 1], port).into());
    let unix = vec!["--unix".to_string(), sock.display().to_string()];
    let mut sub = subscribe(Kind::Hornet, &unix, &["-t", "ux", "-C", "1", "-v"]);
    publish_ok(Kind::Hornet, &unix, &["-t", "ux", "-m", "local"]);
    assert_eq!(messages(&mut sub), ["ux local"]);

    let tcp = |from: &str| -> Vec<String> {
        ["-A", from, "-h", "127.0.0.1", "-p", &port.to_string()]
            .map(String::from)
            .to_vec()
    };
    publish_ok(
        Kind::Hornet,
        &tcp("127.0.0.1"),
        &["-t", "ux", "-m", "bound"],
    );
    for tool in [Kind::Hornet, Kind::Mosquitto] {
        let (code, out) = publish(tool, &tcp("192.0.2.1"), &["-t", "ux", "-m", "x"], b"");
        assert_eq!(code, 1, "{tool:?}: {out}");
        assert!(
            out.contains("Error: Cannot assign requested address"),
            "{tool:?}: {out}"
        );
    }
}
