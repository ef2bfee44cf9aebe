//! Read-side flow control under QoS 0 floods, through real sockets
//! (`backlog_pause_messages`, `backlog_pause_bytes`,
//! `backlog_pause_stall_ms`): a subscriber that
//! reads slower than its publisher floods it keeps a bounded queue in the
//! broker, the flood waiting in the publisher's socket instead, and gets
//! every message in order; a subscriber that stops reading holds nobody
//! up for longer than the stall bound, and its queue limit drops (counted)
//! as without the rule.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::time::{Duration, Instant};

use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};

fn connect(broker: &TestBroker, id: &str) -> Raw {
    let mut c = Connect::new(Protocol::V3_1_1, id);
    c.keep_alive = 60;
    let mut raw = Raw::connect_to(broker.addr(), c);
    match raw.recv() {
        Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => raw,
        other => panic!("{id}: expected a successful CONNACK, got {other:?}"),
    }
}

fn subscribe(raw: &mut Raw, filter: &str) {
    let id = PacketId::new(1).unwrap();
    raw.send(Subscribe::new(id, filter, QoS::AtMostOnce).into());
    assert!(matches!(raw.recv(), Some(Packet::SubAck(_))));
}

/// Sends `total` QoS 0 messages of `size` bytes, numbered, 64 per write,
/// then a PINGREQ, and waits for its PINGRESP (every message before it
/// has been routed).
fn flood(mut publisher: Raw, total: u32, size: usize) -> std::thread::JoinHandle<Raw> {
    std::thread::spawn(move || {
        let mut burst = Vec::with_capacity(64);
        for i in 0..total {
            let mut payload = vec![0u8; size];
            payload[..4].copy_from_slice(&i.to_be_bytes());
            burst.push(Publish::new("flood/x", payload).into());
            if burst.len() == 64 || i + 1 == total {
                publisher.send_all(&burst);
                burst.clear();
            }
        }
        publisher.send(Packet::PingReq);
        assert_eq!(publisher.recv(), Some(Packet::PingResp));
        publisher
    })
}

/// Reads `total` messages of `size` bytes on `sub`, slower than a flood
/// but always draining (a 1 ms sleep every `every` messages), asserting
/// each arrives once, whole and in order.
fn drain_slowly(mut sub: Raw, total: u32, size: usize, every: u32) -> std::thread::JoinHandle<Raw> {
    std::thread::spawn(move || {
        let mut next = 0u32;
        let deadline = Instant::now() + 6 * common::TIMEOUT;
        while next < total {
            assert!(Instant::now() < deadline, "got {next} of {total}");
            match sub.recv_within(Duration::from_millis(500)) {
                Ok(Some(Packet::Publish(p))) => {
                    let n = u32::from_be_bytes(p.payload[..4].try_into().unwrap());
                    assert_eq!(n, next, "in order, none lost");
                    assert_eq!(p.payload.len(), size);
                    next += 1;
                    if next % every == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Err(()) => {}
                Ok(other) => panic!("expected PUBLISH, got {other:?} after {next}"),
            }
        }
        sub
    })
}

fn queued(broker: &TestBroker, client: &str) -> usize {
    broker
        .inspect(|b| b.admin_client(client))
        .flatten()
        .map_or(0, |d| d.row.queued)
}

#[test]
fn a_draining_subscriber_keeps_a_bounded_queue_and_gets_every_message_in_order() {
    if common::hornet_only() {
        return;
    }
    // 20 MB of messages: far more than the subscriber's socket buffers.
    let (total, size, threshold) = (20_000u32, 1024usize, 1_000usize);
    let broker = TestBroker::with_conf(&format!(
        "max_queued_messages 1000000\nbacklog_pause_messages {threshold}"
    ));
    let mut sub = connect(&broker, "slow");
    subscribe(&mut sub, "flood/#");
    let reader = drain_slowly(sub, total, size, 100);
    let sender = flood(connect(&broker, "flooder"), total, size);
    let mut peak = 0;
    while !sender.is_finished() {
        peak = peak.max(queued(&broker, "slow"));
        std::thread::sleep(Duration::from_millis(2));
    }
    sender.join().unwrap();
    let _sub = reader.join().unwrap();
    // One read of the publisher's socket (64 KiB at most: 64 messages)
    // may land on top of the threshold before the pause.
    assert!(
        peak <= threshold + 200,
        "{peak} messages queued for the slow subscriber, threshold {threshold}"
    );
    assert_eq!(
        broker.inspect(|b| b.dropped_for("slow")).flatten(),
        Some(0),
        "nothing dropped"
    );
}

/// Large messages: `backlog_pause_bytes` bounds the queue in payload
/// bytes (the message half off), and the slow subscriber still gets every
/// message in order.
#[test]
fn a_draining_subscriber_of_large_messages_keeps_its_queue_under_the_byte_threshold() {
    if common::hornet_only() {
        return;
    }
    // 48 MB of 16 KiB messages, a threshold of 64 of them.
    let (total, size, threshold) = (3_000u32, 16 * 1024usize, 1usize << 20);
    let broker = TestBroker::with_conf(&format!(
        "max_queued_messages 1000000\nbacklog_pause_messages 0\nbacklog_pause_bytes {threshold}"
    ));
    let mut sub = connect(&broker, "slow-big");
    subscribe(&mut sub, "flood/#");
    let reader = drain_slowly(sub, total, size, 20);
    let sender = flood(connect(&broker, "flooder-big"), total, size);
    let mut peak = 0;
    while !sender.is_finished() {
        let bytes = broker
            .inspect(|b| b.admin_client("slow-big"))
            .flatten()
            .map_or(0, |d| d.queued_bytes);
        peak = peak.max(bytes);
        std::thread::sleep(Duration::from_millis(2));
    }
    sender.join().unwrap();
    let _sub = reader.join().unwrap();
    // One read of the publisher's socket may land on top of the threshold
    // before the pause (a few messages).
    assert!(
        peak <= threshold + 16 * size,
        "{peak} bytes queued for the slow subscriber, threshold {threshold}"
    );
    assert!(peak > 0, "the subscriber was slower than the flood");
    assert_eq!(
        broker.inspect(|b| b.dropped_for("slow-big")).flatten(),
        Some(0),
        "nothing dropped"
    );
}

#[test]
fn a_stuck_subscriber_pauses_nobody_beyond_the_stall_and_its_queue_limit_drops() {
    if common::hornet_only() {
        return;
    }
    let broker = TestBroker::with_conf(
        "max_queued_messages 2000\nbacklog_pause_messages 50\nbacklog_pause_stall_ms 100",
    );
    let mut stuck = connect(&broker, "stuck");
    subscribe(&mut stuck, "flood/#");
    let mut fast = connect(&broker, "fast");
    subscribe(&mut fast, "flood/#");
    let (total, size) = (5_000u32, 16 * 1024); // 80 MB
    let sender = flood(connect(&broker, "flooder"), total, size);
    let dropped = |client: &str| {
        broker
            .inspect(|b| b.dropped_for(client))
            .flatten()
            .unwrap_or(0)
    };
    let deadline = Instant::now() + 3 * common::TIMEOUT;
    let mut got = 0u64;
    while !(sender.is_finished() && got + dropped("fast") >= u64::from(total)) {
        assert!(
            Instant::now() < deadline,
            "fast subscriber: {got} messages and {} dropped of {total}",
            dropped("fast")
        );
        match fast.recv_within(Duration::from_millis(200)) {
            Ok(Some(Packet::Publish(_))) => got += 1,
            Err(()) => {}
            Ok(other) => panic!("fast subscriber: expected PUBLISH, got {other:?} after {got}"),
        }
    }
    sender.join().unwrap();
    assert_eq!(got + dropped("fast"), u64::from(total));
    assert!(
        dropped("stuck") > 0,
        "the stuck client's excess was dropped (max_queued_messages), not held"
    );
    drop(stuck);
}
