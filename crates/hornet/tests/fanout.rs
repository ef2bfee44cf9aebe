//! A fan-out as the broker writes it: a publisher's burst to one topic
//! goes to each subscriber as runs of messages encoded once per protocol
//! version into one shared buffer (`server/encoded.rs`), which a TCP
//! writer with nothing else to send writes as it is, resuming where the
//! socket stopped taking it (`server/writer.rs`); a payload larger than a
//! chunk (64 KiB) to one subscriber is written from where it is, by a
//! vectored write. Whatever its protocol
//! version and however late it reads, every subscriber gets every message
//! whole, once and in the order it was published ([MQTT-4.6.0-6]: a topic
//! is an ordered topic by default).

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::sync::mpsc;
use std::thread;

use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};

/// Messages in the burst and bytes of each payload: megabytes for every
/// subscriber, far more than a socket takes before its reader reads, in
/// runs of about 20 messages (`encoded::RUN_BYTES`).
const MESSAGES: u32 = 3_000;
const PAYLOAD: usize = 700;

fn connect(broker: &TestBroker, protocol: Protocol, id: &str) -> Raw {
    let mut c = Connect::new(protocol, id);
    c.keep_alive = 60;
    let mut raw = Raw::connect_to(broker.addr(), c);
    match raw.recv() {
        Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => raw,
        other => panic!("{id}: expected a successful CONNACK, got {other:?}"),
    }
}

fn subscriber(broker: &TestBroker, protocol: Protocol, id: &str) -> Raw {
    let mut raw = connect(broker, protocol, id);
    raw.send(Subscribe::new(PacketId::new(1).unwrap(), "fo/t", QoS::AtMostOnce).into());
    assert!(
        matches!(raw.recv(), Some(Packet::SubAck(_))),
        "{id}: SUBACK"
    );
    raw
}

/// The payload of message `n`: its number, then bytes that depend on it.
fn payload(n: u32) -> Vec<u8> {
    let mut p = n.to_be_bytes().to_vec();
    p.extend((0..PAYLOAD - 4).map(|i| (n as usize + i) as u8));
    p
}

/// Reads the burst; panics at the first message missing, repeated, out of
/// order or changed.
fn read_all(mut raw: Raw, id: &str) {
    for n in 0..MESSAGES {
        match raw.recv() {
            Some(Packet::Publish(p)) => {
                assert_eq!(&p.topic[..], "fo/t", "{id}");
                assert!(
                    p.payload[..] == payload(n)[..],
                    "{id}: message {n} expected, in order and whole, got message {:?}",
                    &p.payload[..4]
                );
            }
            other => panic!("{id}: message {n} expected, got {other:?}"),
        }
    }
}

#[test]
fn mqtt_4_6_0_6_every_subscriber_of_a_burst_gets_every_message_in_order() {
    let broker = TestBroker::with_conf("max_queued_messages 100000");
    let mut readers = Vec::new();
    for (i, protocol) in [
        Protocol::V3_1,
        Protocol::V3_1_1,
        Protocol::V5,
        Protocol::V3_1_1,
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("fo-sub-{i}");
        let raw = subscriber(&broker, protocol, &id);
        readers.push(thread::spawn(move || read_all(raw, &id)));
    }
    // One more that reads nothing until the whole burst was sent: its
    // socket fills, so its writer stops mid-run and resumes later.
    let late = subscriber(&broker, Protocol::V3_1_1, "fo-late");
    let (sent, burst_sent) = mpsc::channel::<()>();
    let late = thread::spawn(move || {
        burst_sent.recv().expect("the publisher finishes");
        read_all(late, "fo-late");
    });
    let mut publisher = connect(&broker, Protocol::V3_1_1, "fo-pub");
    let burst: Vec<Packet> = (0..MESSAGES)
        .map(|n| Publish::new("fo/t", payload(n)).into())
        .collect();
    for part in burst.chunks(500) {
        publisher.send_all(part);
    }
    sent.send(()).unwrap();
    for reader in readers {
        reader
            .join()
            .expect("a subscriber got the burst as published");
    }
    late.join()
        .expect("the late subscriber got the burst as published");
}

/// Bytes of each message of the large fan-out: more than a loopback
/// socket takes while its reader does not read (its send and receive
/// buffers together), so a writer sending one such shared encoding must
/// stop partway and resume.
const LARGE: usize = 6 << 20;

/// A large message whose bytes depend on `n`.
fn large(n: u8) -> Vec<u8> {
    (0..LARGE).map(|i| (i % 251) as u8 ^ n).collect()
}

#[test]
fn a_shared_encoding_larger_than_the_socket_takes_reaches_a_late_subscriber_whole() {
    let broker = TestBroker::with_conf("max_packet_size 16777216");
    // Two subscribers make it a fan-out (one shared encoding); the late
    // one reads only once all three messages were published.
    let fast = subscriber(&broker, Protocol::V3_1_1, "fo-big-fast");
    let late = subscriber(&broker, Protocol::V3_1_1, "fo-big-late");
    let read_large = |mut raw: Raw, id: &'static str| {
        for n in 0..3u8 {
            match raw.recv() {
                Some(Packet::Publish(p)) => {
                    assert!(
                        p.payload[..] == large(n)[..],
                        "{id}: message {n} whole and in order"
                    );
                }
                other => panic!("{id}: message {n} expected, got {other:?}"),
            }
        }
    };
    let fast = thread::spawn(move || read_large(fast, "fo-big-fast"));
    let (sent, all_sent) = mpsc::channel::<()>();
    let late = thread::spawn(move || {
        all_sent.recv().expect("the publisher finishes");
        read_large(late, "fo-big-late");
    });
    let mut publisher = connect(&broker, Protocol::V3_1_1, "fo-big-pub");
    for n in 0..3u8 {
        publisher.send(Publish::new("fo/t", large(n)).into());
    }
    sent.send(()).unwrap();
    fast.join().expect("the fast subscriber got all three");
    late.join().expect("the late subscriber got all three");
}

/// The payload of message `n` of the mixed burst: sizes on both sides of
/// the writer's vectored threshold (64 KiB), bytes that depend on `n`.
fn mixed(n: u32) -> Vec<u8> {
    const SIZES: [usize; 7] = [10, 65_535, 65_536, 16 * 1024, 200_000, 300, 5_000];
    let len = SIZES[n as usize % SIZES.len()];
    let mut p = n.to_be_bytes().to_vec();
    p.extend((4..len).map(|i| (i as u32 ^ n) as u8));
    p
}

/// A subscriber of its own (no shared encoding): a large payload is
/// written from the publisher's buffer by a vectored write, between the
/// heads and small messages around it; a subscriber that reads late makes
/// those writes stop partway through a piece and resume. Every message
/// arrives whole and in order, in both protocol versions ([MQTT-4.6.0-6]).
#[test]
fn large_and_small_messages_to_a_late_subscriber_arrive_whole_and_in_order() {
    const COUNT: u32 = 140;
    let broker = TestBroker::with_conf("max_queued_messages 100000");
    for protocol in [Protocol::V3_1_1, Protocol::V5] {
        let id = format!("fo-mixed-{protocol:?}");
        let mut late = subscriber(&broker, protocol, &id);
        let mut publisher = connect(&broker, Protocol::V3_1_1, "fo-mixed-pub");
        let burst: Vec<Packet> = (0..COUNT)
            .map(|n| Publish::new("fo/t", mixed(n)).into())
            .collect();
        for part in burst.chunks(50) {
            publisher.send_all(part);
        }
        for n in 0..COUNT {
            match late.recv() {
                Some(Packet::Publish(p)) => assert!(
                    p.payload[..] == mixed(n)[..],
                    "{id}: message {n} expected whole and in order, got {} bytes starting {:?}",
                    p.payload.len(),
                    &p.payload[..4.min(p.payload.len())]
                ),
                other => panic!("{id}: message {n} expected, got {other:?}"),
            }
        }
    }
}
