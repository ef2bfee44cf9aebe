//! Bad input over raw sockets: hand-built bytes that break MQTT's rules
//! (first packet not CONNECT, unsupported protocol level or name, CONNECT
//! reserved flag, a second CONNECT, a malformed Remaining Length, invalid
//! UTF-8, PUBLISH QoS 3, SUBSCRIBE reserved flags, a zero-length client id
//! without a clean session).
//!
//! Each test asserts the exact bytes the broker sends before it closes the
//! connection (often none beyond the CONNACK), then that the broker still
//! serves a well-behaved client (connect, subscribe, publish, receive).
//! "Closed" means a read returns end-of-file or a reset within
//! [`common::TIMEOUT`]; nothing sleeps. The expected bytes are Mosquitto
//! 2.0's, which Hornet matches; each test names the normative statements it
//! checks.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use common::{TestBroker, TIMEOUT};

// ---- encoding -------------------------------------------------------------

/// MQTT 3.1.1 protocol level.
const V311: u8 = 4;
/// MQTT 5 protocol level.
const V5: u8 = 5;

fn remaining_length(mut len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return out;
        }
    }
}

fn packet(header: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![header];
    out.extend(remaining_length(body.len()));
    out.extend_from_slice(body);
    out
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut out = u16::try_from(s.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(s);
    out
}

/// CONNECT with protocol `name` and `level`, connect `flags`, keep-alive 60
/// and `client_id` (an empty property list for level 5).
fn connect_raw(name: &[u8], level: u8, flags: u8, client_id: &[u8]) -> Vec<u8> {
    let mut body = string(name);
    body.extend([level, flags, 0, 60]);
    if level == V5 {
        body.push(0);
    }
    body.extend(string(client_id));
    packet(0x10, &body)
}

/// A clean-session CONNECT for MQTT 3.1.1 (`V311`) or 5 (`V5`).
fn connect(level: u8, client_id: &str) -> Vec<u8> {
    connect_raw(b"MQTT", level, 0x02, client_id.as_bytes())
}

/// PUBLISH with fixed-header `flags`, raw `topic` bytes and `payload`
/// (packet id 1 when the QoS bits are not 0).
fn publish(level: u8, flags: u8, topic: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut body = string(topic);
    if flags & 0x06 != 0 {
        body.extend([0, 1]);
    }
    if level == V5 {
        body.push(0);
    }
    body.extend_from_slice(payload);
    packet(0x30 | flags, &body)
}

/// SUBSCRIBE (packet id 1) with fixed-header byte `header` (0x82 is valid)
/// for one raw `filter` at QoS 0.
fn subscribe(level: u8, header: u8, filter: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 1];
    if level == V5 {
        body.push(0);
    }
    body.extend(string(filter));
    body.push(0);
    packet(header, &body)
}

/// A client id unique in this run.
fn unique_id(role: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("bad{role}{}-{n}", std::process::id())
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---- a raw connection -----------------------------------------------------

struct Raw {
    stream: TcpStream,
    what: String,
}

impl Raw {
    fn open(broker: &TestBroker, what: &str) -> Raw {
        let stream = TcpStream::connect_timeout(&broker.addr(), TIMEOUT).expect("TCP connect");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            what: what.to_string(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: send {}: {e}", self.what, hex(bytes)));
    }

    /// Sends bytes the broker may refuse by closing; a failed write is
    /// the close arriving early and is checked by [`Raw::read_until_closed`].
    fn send_bad(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Reads exactly `n` bytes within [`TIMEOUT`].
    fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        let mut buf = vec![0; n];
        let mut got = 0;
        while got < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{}: timed out after {} of {n} bytes: {}",
                self.what,
                got,
                hex(&buf[..got])
            );
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buf[got..]) {
                Ok(0) => panic!(
                    "{}: closed after {got} of {n} bytes: {}",
                    self.what,
                    hex(&buf[..got])
                ),
                Ok(k) => got += k,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("{}: read error after {}: {e}", self.what, hex(&buf[..got])),
            }
        }
        buf
    }

    /// Reads one whole packet (fixed header included).
    fn read_packet(&mut self) -> Vec<u8> {
        let mut out = self.read_exact(1);
        let mut len = 0usize;
        for shift in [0, 7, 14, 21] {
            let b = self.read_exact(1)[0];
            out.push(b);
            len |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        out.extend(self.read_exact(len));
        out
    }

    /// Everything the broker sends until it closes the connection (EOF or
    /// reset); panics if it is still open after [`TIMEOUT`].
    fn read_until_closed(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{}: connection still open after {TIMEOUT:?}; received: {}",
                self.what,
                hex(&out)
            );
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => return out,
                Ok(k) => out.extend_from_slice(&buf[..k]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    ) =>
                {
                    return out
                }
                Err(e) => panic!("{}: read error after {}: {e}", self.what, hex(&out)),
            }
        }
    }

    /// Asserts the broker closes the connection after sending exactly
    /// `expected` (hex for the message).
    fn expect_closed_after(&mut self, expected: &[u8]) {
        let got = self.read_until_closed();
        assert_eq!(
            hex(&got),
            hex(expected),
            "{}: bytes before the close",
            self.what
        );
    }

    /// Reads the CONNACK of an accepted connection: `20 02 00 00` for 3.x;
    /// for 5, flags 0 and reason 0x00 (properties are the broker's own).
    fn expect_connack_accepted(&mut self, level: u8) {
        let p = self.read_packet();
        if level == V5 {
            assert!(
                p[0] == 0x20 && p.len() >= 5 && p[2] == 0 && p[3] == 0,
                "{}: expected CONNACK 0x00, got {}",
                self.what,
                hex(&p)
            );
        } else {
            assert_eq!(hex(&p), "20 02 00 00", "{}: CONNACK", self.what);
        }
    }

    /// Connects with `client_id` and reads the accepting CONNACK.
    fn connected(broker: &TestBroker, level: u8, what: &str) -> Raw {
        let mut raw = Raw::open(broker, what);
        raw.send(&connect(level, &unique_id("c")));
        raw.expect_connack_accepted(level);
        raw
    }
}

/// The broker still serves a well-behaved MQTT 3.1.1 client: CONNECT,
/// SUBSCRIBE, PUBLISH to itself and the same PUBLISH back.
fn assert_still_serves(broker: &TestBroker) {
    let id = unique_id("ok");
    let mut raw = Raw::open(broker, "a well-behaved client after the bad one");
    raw.send(&connect(V311, &id));
    raw.expect_connack_accepted(V311);
    let topic = format!("ok/{id}");
    raw.send(&subscribe(V311, 0x82, topic.as_bytes()));
    assert_eq!(hex(&raw.read_packet()), "90 03 00 01 00", "SUBACK");
    let message = publish(V311, 0, topic.as_bytes(), b"still serving");
    raw.send(&message);
    assert_eq!(hex(&raw.read_packet()), hex(&message), "PUBLISH back");
    raw.send(&[0xe0, 0x00]);
    raw.expect_closed_after(&[]);
}

/// CONNECT `bytes` as the first packet; the broker answers `expected` and
/// closes, then still serves others.
fn bad_connect(bytes: &[u8], expected: &[u8], what: &str) {
    let broker = TestBroker::start();
    let mut raw = Raw::open(&broker, what);
    raw.send_bad(bytes);
    raw.expect_closed_after(expected);
    assert_still_serves(&broker);
}

/// What the broker sends before it closes a connection over a bad packet.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// Nothing (MQTT 3.x has no way to say why).
    Silent,
    /// MQTT 5: one DISCONNECT with this reason code (properties, if any,
    /// only Reason String or User Property); Mosquitto sends it bare
    /// (`e0 01 <reason>`).
    Disconnect(u8),
    /// MQTT 5: nothing, or one DISCONNECT with this reason code. The spec
    /// lets the server choose ([MQTT-4.13.1-1] "MAY send a DISCONNECT");
    /// Mosquitto sends nothing here, Hornet the DISCONNECT (pinned by
    /// `hornet_v5_disconnect_says_why`).
    SilentOrDisconnect(u8),
}

/// One MQTT 5 DISCONNECT making up all of `bytes`: its reason code and
/// Reason String. Panics on anything else.
fn parse_v5_disconnect(bytes: &[u8], what: &str) -> (u8, Option<String>) {
    let fail = |why: &str| -> ! { panic!("{what}: {why}: {}", hex(bytes)) };
    if bytes.len() < 2 || bytes[0] != 0xe0 {
        fail("expected one DISCONNECT before the close");
    }
    let (len, mut i) = variable_int(bytes, 1).unwrap_or_else(|| fail("bad length"));
    if bytes.len() != i + len {
        fail("expected exactly one DISCONNECT before the close");
    }
    if len == 0 {
        return (0x00, None);
    }
    let reason = bytes[i];
    i += 1;
    if len == 1 {
        return (reason, None);
    }
    let (props_len, j) = variable_int(bytes, i).unwrap_or_else(|| fail("bad property length"));
    if j + props_len != bytes.len() {
        fail("property length does not match the packet");
    }
    let mut reason_string = None;
    let mut k = j;
    let str_at = |k: usize| -> (String, usize) {
        let n = usize::from(u16::from_be_bytes([bytes[k], bytes[k + 1]]));
        let text = std::str::from_utf8(&bytes[k + 2..k + 2 + n])
            .unwrap_or_else(|_| fail("property string is not UTF-8"));
        (text.to_string(), k + 2 + n)
    };
    while k < bytes.len() {
        match bytes[k] {
            0x1f => {
                let (text, next) = str_at(k + 1);
                reason_string = Some(text);
                k = next;
            }
            0x26 => {
                let (_, next) = str_at(k + 1);
                k = str_at(next).1;
            }
            other => fail(&format!(
                "unexpected DISCONNECT property {other:#04x} (only Reason String and User Property may be sent)"
            )),
        }
    }
    (reason, reason_string)
}

/// A Variable Byte Integer at `bytes[at..]`: its value and the index after it.
fn variable_int(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (n, i) in (at..at + 4).enumerate() {
        let b = *bytes.get(i)?;
        value |= usize::from(b & 0x7f) << (7 * n);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Checks `got` (the bytes before the close) against `answer`; returns the
/// DISCONNECT's Reason String if there was one.
fn check_answer(got: &[u8], answer: Answer, what: &str) -> Option<String> {
    match answer {
        Answer::Silent => {
            assert_eq!(hex(got), "", "{what}: bytes before the close");
            None
        }
        Answer::SilentOrDisconnect(_) if got.is_empty() => None,
        Answer::Disconnect(reason) | Answer::SilentOrDisconnect(reason) => {
            let (code, text) = parse_v5_disconnect(got, what);
            assert_eq!(
                code,
                reason,
                "{what}: DISCONNECT reason code (got {})",
                hex(got)
            );
            text
        }
    }
}

/// A connected client at `level` sends `bytes`; the broker answers as
/// `answer` says and closes, then still serves others. Returns the Reason
/// String of the DISCONNECT, if any.
fn bad_after_connect(level: u8, bytes: &[u8], answer: Answer, what: &str) -> Option<String> {
    let broker = TestBroker::start();
    let mut raw = Raw::connected(&broker, level, what);
    raw.send_bad(bytes);
    let got = raw.read_until_closed();
    let text = check_answer(&got, answer, what);
    assert_still_serves(&broker);
    text
}

/// MQTT 5 reason code 0x81 Malformed Packet.
const MALFORMED: u8 = 0x81;
/// MQTT 5 reason code 0x82 Protocol Error.
const PROTOCOL_ERROR: u8 = 0x82;

// ---- the tests -------------------------------------------------------------

/// A first packet other than CONNECT (PINGREQ, PUBLISH, SUBSCRIBE, a
/// server-only CONNACK, DISCONNECT) closes the connection with nothing
/// sent: [MQTT-3.1.0-1], [MQTT-4.8.0-1].
#[test]
fn first_packet_not_connect() {
    let broker = TestBroker::start();
    for (what, bytes) in [
        ("PINGREQ first", vec![0xc0, 0x00]),
        ("PUBLISH first", publish(V311, 0, b"a/b", b"x")),
        ("SUBSCRIBE first", subscribe(V311, 0x82, b"a/#")),
        ("CONNACK first", vec![0x20, 0x02, 0x00, 0x00]),
        ("DISCONNECT first", vec![0xe0, 0x00]),
    ] {
        let mut raw = Raw::open(&broker, what);
        raw.send_bad(&bytes);
        raw.expect_closed_after(&[]);
    }
    assert_still_serves(&broker);
}

/// An unsupported protocol level with the name "MQTT" (6, 3, 0) or the 3.1
/// name "MQIsdp" with level 4 gets CONNACK 0x01 "unacceptable protocol
/// version" in the 3.1.1 format (`20 02 00 01`) and the close:
/// [MQTT-3.1.2-2]; MQTT 5 [MQTT-3.1.2-2] allows this answer for a level the
/// server does not know.
#[test]
fn unsupported_protocol_level() {
    for (name, level) in [
        (&b"MQTT"[..], 6),
        (&b"MQTT"[..], 3),
        (&b"MQTT"[..], 0),
        (&b"MQIsdp"[..], 4),
    ] {
        let what = format!("{} level {level}", String::from_utf8_lossy(name));
        bad_connect(
            &connect_raw(name, level, 0x02, unique_id("lvl").as_bytes()),
            &[0x20, 0x02, 0x00, 0x01],
            &what,
        );
    }
}

/// A protocol name other than "MQTT" / "MQIsdp" closes the connection
/// without a CONNACK: [MQTT-3.1.2-1] (the server MAY disconnect).
#[test]
fn unknown_protocol_name() {
    bad_connect(
        &connect_raw(b"FOO", V311, 0x02, unique_id("name").as_bytes()),
        &[],
        "protocol name FOO",
    );
}

/// The CONNECT flags' reserved bit set closes the connection without a
/// CONNACK: [MQTT-3.1.2-3].
#[test]
fn connect_reserved_flag() {
    bad_connect(
        &connect_raw(b"MQTT", V311, 0x03, unique_id("rsv").as_bytes()),
        &[],
        "CONNECT reserved flag",
    );
}

/// A second CONNECT on an MQTT 3.1.1 connection closes it, nothing sent:
/// [MQTT-3.1.0-2].
#[test]
fn second_connect_v311() {
    let id = unique_id("2nd");
    bad_after_connect(
        V311,
        &connect(V311, &id),
        Answer::Silent,
        "second CONNECT (3.1.1)",
    );
}

/// A second CONNECT on an MQTT 5 connection is a Protocol Error and closes
/// it, at most after DISCONNECT 0x82 (Mosquitto sends none): MQTT 5
/// [MQTT-3.1.0-2], [MQTT-4.13.1-1].
#[test]
fn second_connect_v5() {
    let id = unique_id("2nd");
    bad_after_connect(
        V5,
        &connect(V5, &id),
        Answer::SilentOrDisconnect(PROTOCOL_ERROR),
        "second CONNECT (5)",
    );
}

/// A Remaining Length with five continuation bytes (more than the four
/// allowed) closes the connection: as the first packet, and after CONNECT
/// for 3.1.1 (nothing sent) and for 5 (at most after DISCONNECT 0x81;
/// Mosquitto sends none). MQTT 3.1.1 section 2.2.3 and [MQTT-4.8.0-1];
/// MQTT 5 section 1.5.5 and [MQTT-4.13.1-1].
#[test]
fn malformed_remaining_length() {
    let bad = [0x30, 0xff, 0xff, 0xff, 0xff, 0xff];
    bad_connect(
        &[0x10, 0xff, 0xff, 0xff, 0xff, 0xff],
        &[],
        "CONNECT with a 5-byte Remaining Length",
    );
    bad_after_connect(
        V311,
        &bad,
        Answer::Silent,
        "PUBLISH with a 5-byte Remaining Length (3.1.1)",
    );
    bad_after_connect(
        V5,
        &bad,
        Answer::SilentOrDisconnect(MALFORMED),
        "PUBLISH with a 5-byte Remaining Length (5)",
    );
}

/// Ill-formed UTF-8 in a topic name: a 0xFF byte, an overlong encoding of
/// U+0000, a UTF-16 surrogate, and U+0000 itself.
const BAD_UTF8: [(&str, &[u8]); 4] = [
    ("byte 0xFF", b"a/\xff"),
    ("overlong U+0000", b"a/\xc0\x80"),
    ("surrogate U+D800", b"a/\xed\xa0\x80"),
    ("U+0000", b"a/\x00"),
];

/// Invalid UTF-8 (or U+0000) in a PUBLISH topic on MQTT 3.1.1 closes the
/// connection, nothing sent: [MQTT-1.5.3-1], [MQTT-1.5.3-2].
#[test]
fn invalid_utf8_topic_v311() {
    for (what, topic) in BAD_UTF8 {
        bad_after_connect(
            V311,
            &publish(V311, 0, topic, b"x"),
            Answer::Silent,
            &format!("PUBLISH topic with {what} (3.1.1)"),
        );
    }
}

/// Invalid UTF-8 (or U+0000) in a PUBLISH topic on MQTT 5: DISCONNECT 0x81
/// Malformed Packet, then the close: MQTT 5 [MQTT-1.5.4-1],
/// [MQTT-1.5.4-2], [MQTT-4.13.1-1].
#[test]
fn invalid_utf8_topic_v5() {
    for (what, topic) in BAD_UTF8 {
        bad_after_connect(
            V5,
            &publish(V5, 0, topic, b"x"),
            Answer::Disconnect(MALFORMED),
            &format!("PUBLISH topic with {what} (5)"),
        );
    }
}

/// Invalid UTF-8 in a SUBSCRIBE topic filter: closed on 3.1.1
/// ([MQTT-1.5.3-1]); DISCONNECT 0x81 then closed on 5 (MQTT 5
/// [MQTT-1.5.4-1]).
#[test]
fn invalid_utf8_filter() {
    bad_after_connect(
        V311,
        &subscribe(V311, 0x82, b"a/\xff"),
        Answer::Silent,
        "SUBSCRIBE filter with byte 0xFF (3.1.1)",
    );
    bad_after_connect(
        V5,
        &subscribe(V5, 0x82, b"a/\xff"),
        Answer::Disconnect(MALFORMED),
        "SUBSCRIBE filter with byte 0xFF (5)",
    );
}

/// PUBLISH with both QoS bits set (QoS 3) closes the connection: nothing
/// sent on 3.1.1 ([MQTT-3.3.1-4]); DISCONNECT 0x81 first on 5 (MQTT 5
/// [MQTT-3.3.1-4]).
#[test]
fn publish_qos3() {
    bad_after_connect(
        V311,
        &publish(V311, 0x06, b"a/b", b"x"),
        Answer::Silent,
        "QoS 3 (3.1.1)",
    );
    bad_after_connect(
        V5,
        &publish(V5, 0x06, b"a/b", b"x"),
        Answer::Disconnect(MALFORMED),
        "QoS 3 (5)",
    );
}

/// SUBSCRIBE whose fixed-header flags are not 0b0010 (0x80, 0x83) closes
/// the connection: nothing sent on 3.1.1 ([MQTT-3.8.1-1], [MQTT-2.2.2-2]);
/// DISCONNECT 0x81 first on 5 (MQTT 5 [MQTT-3.8.1-1], section 2.1.3).
#[test]
fn subscribe_reserved_flags() {
    for header in [0x80, 0x83] {
        bad_after_connect(
            V311,
            &subscribe(V311, header, b"a/#"),
            Answer::Silent,
            &format!("SUBSCRIBE header {header:#04x} (3.1.1)"),
        );
        bad_after_connect(
            V5,
            &subscribe(V5, header, b"a/#"),
            Answer::Disconnect(MALFORMED),
            &format!("SUBSCRIBE header {header:#04x} (5)"),
        );
    }
}

/// Hornet only: on MQTT 5 every bad packet after CONNECT gets a DISCONNECT
/// with the reason code and a Reason String naming the broken rule before
/// the close, also where Mosquitto 2.0 just closes (second CONNECT, bad
/// Remaining Length). MQTT 5 [MQTT-4.13.1-1], [MQTT-3.14.2-1]; the Reason
/// String is allowed as the client did not set Request Problem Information
/// to 0 ([MQTT-3.1.2-29]).
#[test]
fn hornet_v5_disconnect_says_why() {
    if common::hornet_only() {
        return;
    }
    let cases: [(&str, Vec<u8>, u8); 5] = [
        (
            "second CONNECT",
            connect(V5, &unique_id("why")),
            PROTOCOL_ERROR,
        ),
        (
            "5-byte Remaining Length",
            vec![0x30, 0xff, 0xff, 0xff, 0xff, 0xff],
            MALFORMED,
        ),
        (
            "ill-formed UTF-8 topic",
            publish(V5, 0, b"a/\xff", b"x"),
            MALFORMED,
        ),
        ("QoS 3", publish(V5, 0x06, b"a/b", b"x"), MALFORMED),
        (
            "SUBSCRIBE flags 0b0000",
            subscribe(V5, 0x80, b"a/#"),
            MALFORMED,
        ),
    ];
    for (what, bytes, reason) in cases {
        let text = bad_after_connect(V5, &bytes, Answer::Disconnect(reason), what)
            .unwrap_or_else(|| panic!("{what}: DISCONNECT without a Reason String"));
        assert!(
            text.starts_with("[MQTT-"),
            "{what}: the Reason String should name the rule: {text:?}"
        );
    }
}

/// MQTT 3.1.1: a zero-length client id with clean session 0 gets CONNACK
/// 0x02 "identifier rejected" and the close: [MQTT-3.1.3-7],
/// [MQTT-3.1.3-8].
#[test]
fn empty_client_id_persistent_v311() {
    bad_connect(
        &connect_raw(b"MQTT", V311, 0x00, b""),
        &[0x20, 0x02, 0x00, 0x02],
        "empty client id, clean session 0 (3.1.1)",
    );
}

/// MQTT 3.1.1: a zero-length client id with clean session 1 is accepted
/// (the server assigns one): [MQTT-3.1.3-6].
#[test]
fn empty_client_id_clean_v311() {
    let broker = TestBroker::start();
    let mut raw = Raw::open(&broker, "empty client id, clean session 1 (3.1.1)");
    raw.send(&connect_raw(b"MQTT", V311, 0x02, b""));
    raw.expect_connack_accepted(V311);
    raw.send(&[0xe0, 0x00]);
    raw.expect_closed_after(&[]);
    assert_still_serves(&broker);
}

/// MQTT 3.1 requires a client id of 1 to 23 characters: an empty one gets
/// CONNACK 0x02 "identifier rejected" and the close (MQTT 3.1 section 3.1,
/// Client Identifier).
#[test]
fn empty_client_id_v31() {
    bad_connect(
        &connect_raw(b"MQIsdp", 3, 0x02, b""),
        &[0x20, 0x02, 0x00, 0x02],
        "empty client id (3.1)",
    );
}

/// MQTT 5: a zero-length client id, even with clean start 0, is accepted and
/// the CONNACK carries an Assigned Client Identifier (property 0x12): MQTT 5
/// [MQTT-3.1.3-6], [MQTT-3.1.3-7].
#[test]
fn empty_client_id_v5() {
    let broker = TestBroker::start();
    let mut raw = Raw::open(&broker, "empty client id, clean start 0 (5)");
    raw.send(&connect_raw(b"MQTT", V5, 0x00, b""));
    let p = raw.read_packet();
    assert!(
        p[0] == 0x20 && p[2] == 0 && p[3] == 0,
        "expected CONNACK 0x00, session present 0: {}",
        hex(&p)
    );
    let assigned = assigned_client_id(&p[4..])
        .unwrap_or_else(|| panic!("no Assigned Client Identifier in {}", hex(&p)));
    assert!(!assigned.is_empty(), "empty Assigned Client Identifier");
    raw.send(&[0xe0, 0x00]);
    raw.expect_closed_after(&[]);
    assert_still_serves(&broker);
}

/// The Assigned Client Identifier in CONNACK properties (length included).
fn assigned_client_id(props: &[u8]) -> Option<String> {
    let (mut len, mut i, mut shift) = (0usize, 0, 0);
    loop {
        let b = *props.get(i)?;
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let props = props.get(i..i + len)?;
    let mut i = 0;
    while i < props.len() {
        let id = props[i];
        i += 1;
        let size = match id {
            // Byte properties.
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2a => 1,
            // Two-byte integers.
            0x13 | 0x21 | 0x22 | 0x23 => 2,
            // Four-byte integers.
            0x02 | 0x11 | 0x18 | 0x27 => 4,
            // Strings and binary data.
            0x03 | 0x08 | 0x09 | 0x12 | 0x15 | 0x16 | 0x1a | 0x1c | 0x1f => {
                let n = usize::from(u16::from_be_bytes([props[i], props[i + 1]]));
                if id == 0x12 {
                    return Some(String::from_utf8_lossy(&props[i + 2..i + 2 + n]).into_owned());
                }
                2 + n
            }
            // User property: two strings.
            0x26 => {
                let k = usize::from(u16::from_be_bytes([props[i], props[i + 1]]));
                let j = i + 2 + k;
                let v = usize::from(u16::from_be_bytes([props[j], props[j + 1]]));
                2 + k + 2 + v
            }
            other => panic!("unexpected CONNACK property {other:#04x}"),
        };
        i += size;
    }
    None
}

/// A property that is not allowed in its packet (Session Expiry Interval
/// in PUBLISH) is a Malformed Packet, MQTT 5 §2.2.2.2 ("a Control Packet
/// which contains an Identifier which is not valid for its packet type"):
/// DISCONNECT 0x81, then the close.
#[test]
fn v5_property_not_allowed_is_malformed() {
    let bytes = [0x30, 12, 0, 3, b'a', b'/', b'b', 5, 0x11, 0, 0, 0, 10, b'x'];
    bad_after_connect(
        V5,
        &bytes,
        Answer::Disconnect(MALFORMED),
        "PUBLISH with Session Expiry Interval (5)",
    );
}
