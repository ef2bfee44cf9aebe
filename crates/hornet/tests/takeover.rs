//! Session takeover under a race: many connections with one client id
//! arriving at once ([MQTT-3.1.4-3]). Exactly one survives, each of the
//! others was closed (MQTT 5: after DISCONNECT 0x8E), and the broker's
//! books agree.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::sync::{Arc, Barrier};

use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{Connect, Packet, Protocol, ReasonCode};

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
