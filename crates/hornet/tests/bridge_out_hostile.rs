//! A remote that misbehaves (refuses, closes at once, sends a packet over
//! `bridge_max_packet_size`) costs the bridge a log line and a wait of
//! `restart_timeout` each time, never a crash or a hot loop; the broker
//! serves its clients all along. And the log lines are Mosquitto's
//! (`Connecting bridge b1 (127.0.0.1:PORT)`), checked on the binary.

#[path = "support/codec_client.rs"]
mod codec_client;
mod common;
#[path = "support/process.rs"]
mod process;
#[path = "support/remote.rs"]
mod remote;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{TestBroker, TIMEOUT};
use hornet_codec::{ConnAck, Packet, Protocol, Publish, ReasonCode};

#[derive(Clone, Copy)]
enum Hostile {
    Refuses,
    Closes,
    Oversize,
}

/// A fake remote on a free port; counts the connections it accepts.
fn fake_remote(mode: Hostile) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            seen.fetch_add(1, Ordering::SeqCst);
            if matches!(mode, Hostile::Closes) {
                continue; // dropped: closed at once
            }
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf); // the CONNECT
            let mut out = BytesMut::new();
            let code = match mode {
                Hostile::Refuses => ReasonCode::NotAuthorized,
                _ => ReasonCode::Success,
            };
            Packet::ConnAck(ConnAck::new(code, false))
                .encode(Protocol::V3_1_1, &mut out)
                .unwrap();
            if matches!(mode, Hostile::Oversize) {
                Packet::Publish(Publish::new("big", vec![b'x'; 4000]))
                    .encode(Protocol::V3_1_1, &mut out)
                    .unwrap();
            }
            let _ = s.write_all(&out);
            // Keep it open a moment, as a slow hostile peer would.
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    (port, count)
}

fn hostile(mode: Hostile, expect: &[&str]) {
    let (port, count) = fake_remote(mode);
    let hornet = TestBroker::with_conf(&format!(
        "connection b1\naddress 127.0.0.1:{port}\nrestart_timeout 1\n\
         bridge_max_packet_size 1000\ntopic a/# both 1\n"
    ));
    let started = Instant::now();
    // Wait for the second attempt, then measure over a few seconds.
    while count.load(Ordering::SeqCst) < 2 {
        assert!(started.elapsed() < TIMEOUT, "the bridge did not retry");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = count.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(3500));
    let attempts = count.load(Ordering::SeqCst) - before;
    assert!(
        (2..=5).contains(&attempts),
        "{attempts} attempts in 3.5 s with restart_timeout 1"
    );
    let [b] = &hornet.bridges()[..] else { panic!() };
    let error = b.last_error.clone().unwrap_or_default();
    assert!(expect.iter().any(|e| error.contains(e)), "{b:?}");
    assert!(!b.connected);
    // The broker serves its clients all along.
    let _c = remote::client(hornet.port(), "still-here", Protocol::V5, true);
}

#[test]
fn a_refusing_remote_is_retried_after_restart_timeout() {
    hostile(Hostile::Refuses, &["connection refused: Not authorized"]);
}

#[test]
fn a_remote_that_closes_at_once_is_retried_after_restart_timeout() {
    // A peer that closes with the CONNECT unread sends a reset (Linux),
    // unless the close is seen first: either is the remote closing.
    hostile(
        Hostile::Closes,
        &[
            "the remote closed the connection",
            "Connection reset by peer",
        ],
    );
}

#[test]
fn a_packet_over_bridge_max_packet_size_ends_the_connection() {
    hostile(Hostile::Oversize, &["the remote sent a bad packet"]);
}

#[test]
fn log_lines_as_mosquitto_writes_them() {
    let (port, _count) = fake_remote(Hostile::Closes);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("hornet.conf");
    let listen = common::free_port();
    std::fs::write(
        &conf,
        format!(
            "listener {listen} 127.0.0.1\nconnection b1\naddress 127.0.0.1:{port}\n\
             restart_timeout 1\ntopic a/# out\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hornet"));
    cmd.arg("-c").arg(&conf);
    let mut proc = process::Proc::spawn("hornet", &mut cmd, "cargo build -p hornet");
    let connecting = format!("Connecting bridge b1 (127.0.0.1:{port})");
    proc.wait_line(TIMEOUT, &connecting, |l| l.contains(&connecting));
    proc.wait_line(TIMEOUT, "the retry line", |l| {
        l.contains("Bridge b1 (127.0.0.1:") && l.contains("reconnecting in 1 s")
    });
}
