//! Slow password hashes must not stall other clients: 20 clients log in at
//! once as a user stored with a 210,000-iteration PBKDF2-SHA512 (`$7$`,
//! about 100 ms per check in a release build) while another client keeps
//! doing QoS 1 round trips through the broker; its latency stays low
//! because the checks run on the blocking pool, off the core's lock and
//! off the async workers (`server/password.rs`).
//!
//! Hornet only: Mosquitto checks passwords on its one event loop thread.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use codec_client::Raw;
use common::TestBroker;
use hornet_codec::{Connect, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, Subscribe};

const LOGINS: usize = 20;
const ITERATIONS: u32 = 210_000;
/// The bound on the other client's 99th percentile round trip.
const P99_BOUND: Duration = Duration::from_millis(50);

#[test]
fn twenty_slow_logins_do_not_stall_another_clients_round_trips() {
    if common::hornet_only() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwd");
    let line = hornet_auth::pbkdf2_line("slow", b"slow-pw", ITERATIONS).unwrap();
    std::fs::write(&path, format!("{line}\n")).unwrap();
    let broker = TestBroker::with_conf(&format!("password_file {}\n", path.display()));

    // The measuring client: anonymous (loopback), subscribed to its own topic.
    let mut probe = Raw::connect_to(broker.addr(), Connect::new(Protocol::V3_1_1, "probe"));
    probe.set_nodelay();
    assert!(
        matches!(probe.recv(), Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success)
    );
    probe.send(Subscribe::new(PacketId::new(1).unwrap(), "probe/echo", QoS::AtLeastOnce).into());
    assert!(matches!(probe.recv(), Some(Packet::SubAck(_))));
    let mut round_trip = |n: u16| -> Duration {
        let start = Instant::now();
        let mut p = Publish::new("probe/echo", Bytes::from_static(b"ping"));
        p.qos = QoS::AtLeastOnce;
        p.packet_id = PacketId::new(n);
        probe.send(p.into());
        let (mut acked, mut echoed) = (false, false);
        while !(acked && echoed) {
            match probe.recv() {
                Some(Packet::PubAck(_)) => acked = true,
                Some(Packet::Publish(p)) => {
                    echoed = true;
                    if let Some(id) = p.packet_id {
                        probe.send(Packet::PubAck(hornet_codec::Ack::new(id)));
                    }
                }
                other => panic!("probe: unexpected {other:?}"),
            }
        }
        start.elapsed()
    };
    let baseline: Vec<Duration> = (1..=20).map(&mut round_trip).collect();

    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let logins: Vec<_> = (0..LOGINS)
        .map(|i| {
            let addr = broker.addr();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut c = Connect::new(Protocol::V5, format!("slow-{i}"));
                c.username = Some("slow".into());
                c.password = Some(Bytes::from_static(b"slow-pw"));
                let mut raw = Raw::connect_to(addr, c);
                let answer = raw.recv();
                done.fetch_add(1, Ordering::SeqCst);
                match answer {
                    Some(Packet::ConnAck(a)) => a.reason_code,
                    other => panic!("slow-{i}: expected CONNACK, got {other:?}"),
                }
            })
        })
        .collect();

    let mut during = Vec::new();
    let mut n = 100u16;
    while done.load(Ordering::SeqCst) < LOGINS {
        assert!(
            started.elapsed() < common::TIMEOUT * 3,
            "logins did not finish"
        );
        during.push(round_trip(n));
        n = n.wrapping_add(1).max(100);
    }
    let login_time = started.elapsed();
    for login in logins {
        assert_eq!(login.join().unwrap(), ReasonCode::Success);
    }

    during.sort();
    let p99 = during[(during.len() * 99 / 100).min(during.len() - 1)];
    let max = *during.last().unwrap();
    eprintln!(
        "{LOGINS} logins with {ITERATIONS} PBKDF2 iterations took {login_time:?}; \
         {} round trips meanwhile: p99 {p99:?}, max {max:?}; baseline max {:?}",
        during.len(),
        baseline.iter().max().unwrap()
    );
    // The logins must really have overlapped the measurement.
    assert!(
        during.len() >= 10,
        "only {} round trips while the logins ran",
        during.len()
    );
    assert!(
        p99 < P99_BOUND,
        "p99 round trip {p99:?} during the logins (bound {P99_BOUND:?})"
    );
}
