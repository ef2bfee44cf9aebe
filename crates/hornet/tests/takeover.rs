//! Session takeover under a race: many connections with one client id
//! arriving at once ([MQTT-3.1.4-3]). Exactly one survives, each of the
//! others was closed (MQTT 5: after DISCONNECT 0x8E), and the broker's
//! books agree. And a client that sends DISCONNECT and reconnects at once
//! never has its will published ([MQTT-3.1.2-10]), however the two
//! sockets are scheduled.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::sync::{Arc, Barrier};

use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{
    Connect, Disconnect, LastWill, Packet, Protocol, Publish, QoS, ReasonCode, Subscribe,
};

#[test]
fn simultaneous_connects_with_one_client_id_leave_exactly_one_connection() {
    let broker = TestBroker::start();
    let addr = broker.addr();
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let protocol = if i % 2 == 0 {
                    Protocol::V5
                } else {
                    Protocol::V3_1_1
                };
                let mut c = Connect::new(protocol, "racer");
                c.clean_start = false;
                barrier.wait();
                let mut raw = Raw::connect_to(addr, c);
                match raw.recv() {
                    Some(Packet::ConnAck(a)) => assert_eq!(a.reason_code, ReasonCode::Success),
                    other => panic!("racer {i}: expected CONNACK, got {other:?}"),
                }
                raw
            })
        })
        .collect();
    let mut clients: Vec<Raw> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    // Every client pings; the one still connected gets PINGRESP, every other
    // one reads (perhaps a DISCONNECT 0x8E, then) EOF.
    let mut alive = 0;
    for raw in &mut clients {
        raw.send(Packet::PingReq);
        loop {
            match raw.recv() {
                Some(Packet::PingResp) => {
                    alive += 1;
                    break;
                }
                Some(Packet::Disconnect(d)) => {
                    assert_eq!(d.reason_code, ReasonCode::SessionTakenOver)
                }
                None => break,
                Some(other) => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(alive, 1, "exactly one connection keeps the session");
    if let Some((connected, sessions)) =
        broker.inspect(|b| (b.clients_connected(), b.session_count()))
    {
        assert_eq!((connected, sessions), (1, 1));
    }
}

/// One reconnecting client: `cycles` times, DISCONNECT on the old socket
/// and, without waiting, CONNECT with the same id on a new one.
fn reconnect_cycles(addr: std::net::SocketAddr, i: usize, cycles: usize, protocol: Protocol) {
    let connect = || {
        let mut c = Connect::new(protocol, format!("cycler-{i}"));
        c.clean_start = false;
        c.will = Some(LastWill {
            topic: format!("race/will/{i}").into(),
            payload: "will".into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Default::default(),
        });
        c
    };
    let mut old = Raw::connect_to(addr, connect());
    assert!(matches!(old.recv(), Some(Packet::ConnAck(_))));
    for cycle in 0..cycles {
        old.send(Disconnect::new(ReasonCode::Success).into());
        let mut new = Raw::connect_to(addr, connect());
        match new.recv() {
            Some(Packet::ConnAck(a)) => assert_eq!(a.reason_code, ReasonCode::Success),
            other => panic!("cycler {i}, cycle {cycle}: expected CONNACK, got {other:?}"),
        }
        // The old connection ended on its DISCONNECT: EOF, never 0x8E.
        match old.recv() {
            None => {}
            other => panic!("cycler {i}, cycle {cycle}: the old connection got {other:?}"),
        }
        old = new;
    }
    old.send(Disconnect::new(ReasonCode::Success).into());
    assert!(old.recv().is_none());
}

#[test]
fn a_disconnect_just_before_a_reconnect_never_publishes_the_will() {
    // [MQTT-3.1.2-10]: the DISCONNECT deletes the will, even when the
    // reconnect's CONNECT is read first (the old socket drained then).
    // Flapping protection off: reconnecting fast is the point here.
    let broker = TestBroker::with_conf("flapping_max_connects 0\n");
    let addr = broker.addr();
    let mut watcher = Raw::connect_to(addr, Connect::new(Protocol::V5, "will-watcher"));
    assert!(matches!(watcher.recv(), Some(Packet::ConnAck(_))));
    watcher.send(
        Subscribe::new(
            hornet_codec::PacketId::new(1).unwrap(),
            "race/will/#",
            QoS::AtMostOnce,
        )
        .into(),
    );
    assert!(matches!(watcher.recv(), Some(Packet::SubAck(_))));
    // Enough clients at once that both worker threads are busy, so the
    // new socket is often read before the old one.
    let (clients, cycles) = (16, 25);
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let protocol = if i % 2 == 0 {
                Protocol::V5
            } else {
                Protocol::V3_1_1
            };
            std::thread::spawn(move || reconnect_cycles(addr, i, cycles, protocol))
        })
        .collect();
    for t in threads {
        t.join().expect("a cycler failed");
    }
    // A marker after every cycle: anything before it is a will.
    watcher.send(Publish::new("race/will/end", "end").into());
    let mut wills = Vec::new();
    loop {
        match watcher.recv() {
            Some(Packet::Publish(p)) if &*p.topic == "race/will/end" => break,
            Some(Packet::Publish(p)) => wills.push(p.topic.to_string()),
            other => panic!("watcher: unexpected {other:?}"),
        }
    }
    assert!(
        wills.is_empty(),
        "{} wills published for clients that sent DISCONNECT: {wills:?}",
        wills.len()
    );
}

#[test]
fn a_retained_publish_just_before_a_takeover_is_kept() {
    // Issue 22, item 5: what a connection sent before it was taken over
    // is processed first ([MQTT-3.1.4-3] closes it only after): the
    // retained message published just before is stored, every time.
    let broker = TestBroker::with_conf("flapping_max_connects 0\n");
    let addr = broker.addr();
    let (clients, tries) = (8, 10);
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            std::thread::spawn(move || {
                let connect = || {
                    let mut c = Connect::new(Protocol::V3_1_1, format!("retainer-{i}"));
                    c.clean_start = false;
                    c
                };
                let mut old = Raw::connect_to(addr, connect());
                assert!(matches!(old.recv(), Some(Packet::ConnAck(_))));
                for t in 0..tries {
                    let mut p = Publish::new(format!("race/retained/{i}/{t}"), "kept");
                    p.retain = true;
                    old.send(p.into());
                    let mut new = Raw::connect_to(addr, connect());
                    match new.recv() {
                        Some(Packet::ConnAck(a)) => assert_eq!(a.reason_code, ReasonCode::Success),
                        other => panic!("retainer {i}, try {t}: expected CONNACK, got {other:?}"),
                    }
                    assert!(old.recv().is_none(), "the old connection is closed");
                    old = new;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a retainer failed");
    }
    let mut watcher = Raw::connect_to(addr, Connect::new(Protocol::V5, "retained-watcher"));
    assert!(matches!(watcher.recv(), Some(Packet::ConnAck(_))));
    watcher.send(
        Subscribe::new(
            hornet_codec::PacketId::new(1).unwrap(),
            "race/retained/#",
            QoS::AtMostOnce,
        )
        .into(),
    );
    assert!(matches!(watcher.recv(), Some(Packet::SubAck(_))));
    // The retained messages follow that SUBACK, before the next one.
    watcher.send(
        Subscribe::new(
            hornet_codec::PacketId::new(2).unwrap(),
            "race/none",
            QoS::AtMostOnce,
        )
        .into(),
    );
    let mut kept = 0;
    loop {
        match watcher.recv() {
            Some(Packet::Publish(p)) if p.retain => kept += 1,
            Some(Packet::SubAck(_)) => break,
            other => panic!("watcher: unexpected {other:?}"),
        }
    }
    assert_eq!(
        kept,
        clients * tries,
        "retained messages lost to a takeover"
    );
}
