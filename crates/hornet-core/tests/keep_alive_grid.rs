//! Keep-alive deadlines on a one-second grid: N idle clients, each with a
//! deadline of its own, wake the broker at most once a second (every
//! deadline of that second in one tick), not once per client, and a
//! client past CONNECT leaves no connect-timeout wake-up behind. Served
//! up to a second late, which [MQTT-3.1.2-24] allows: the server closes
//! the connection "if [it] does not receive a Control Packet from the
//! Client within one and a half times the Keep Alive time period", i.e.
//! at any time after that, never before. Driven on the virtual clock.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hornet_codec::{Connect, Packet, Protocol};
use hornet_core::{ConnId, Settings};
use support::*;

/// `$SYS` off, and flapping detection off: its pruning, once a
/// `flapping_window` while connects are recorded, is a wake-up of its own.
fn harness() -> Harness {
    Harness::with(Settings {
        sys_interval: None,
        flapping_max_connects: 0,
        ..Settings::default()
    })
}

/// Clients connected one after another, `gap` apart, each with keep-alive
/// `keep_alive` seconds; their connect instants.
fn connect_spread(
    w: &mut Harness,
    count: usize,
    gap: Duration,
    keep_alive: u16,
) -> Vec<(ConnId, Instant)> {
    (0..count)
        .map(|i| {
            w.advance(gap);
            let mut c = Connect::new(Protocol::V3_1_1, format!("dev-{i}"));
            c.keep_alive = keep_alive;
            let (id, _) = w.connect_with(c);
            (id, w.now)
        })
        .collect()
}

/// Ticks the broker at every deadline it reports up to `end`; the instants
/// it ticked at.
fn run_until(w: &mut Harness, end: Instant) -> Vec<Instant> {
    let mut ticks = Vec::new();
    while let Some(at) = w.broker.next_deadline() {
        if at > end {
            break;
        }
        w.now = w.now.max(at);
        w.tick();
        ticks.push(w.now);
    }
    w.now = end;
    ticks
}

#[test]
fn mqtt_3_1_2_24_spread_keep_alive_deadlines_wake_the_broker_at_most_once_a_second() {
    let mut w = harness();
    let start = w.now;
    // 1,000 clients over 7 s, keep-alive 60 s: deadlines 90 s after each.
    let clients = connect_spread(&mut w, 1_000, Duration::from_millis(7), 60);
    let last = clients.last().expect("clients").1;
    // Idle from here on. Their connect timeouts (10 s) are settled: the
    // first wake-up is the first keep-alive deadline, not before.
    let first = w.broker.next_deadline().expect("keep-alive deadlines");
    assert!(
        first >= clients[0].1 + Duration::from_secs(90),
        "an idle broker woke {:?} after the first connect, before any keep-alive deadline",
        first - start
    );
    let mut closed = BTreeSet::new();
    let mut ticks = 0;
    let end = last + Duration::from_secs(100);
    while let Some(at) = w.broker.next_deadline() {
        if at > end {
            break;
        }
        w.now = w.now.max(at);
        w.tick();
        ticks += 1;
        for &(id, connected) in &clients {
            if closed.contains(&id) || !w.is_closed(id) {
                continue;
            }
            closed.insert(id);
            let silent = w.now - connected;
            // [MQTT-3.1.2-24]: not before 1.5 x keep-alive, and at most
            // one grid step (1 s) after it.
            assert!(
                silent >= Duration::from_secs(90) && silent <= Duration::from_secs(91),
                "closed after {silent:?} of silence"
            );
        }
    }
    assert_eq!(closed.len(), clients.len(), "every silent client is closed");
    // The deadlines span 7 s: one tick per second they fall in (8 at
    // most), where one per client made 1,000.
    assert!(ticks <= 8, "{ticks} ticks for 1,000 deadlines over 7 s");
}

#[test]
fn clients_that_ping_are_kept_and_cost_at_most_a_tick_a_second() {
    let mut w = harness();
    let clients = connect_spread(&mut w, 200, Duration::from_millis(20), 10);
    // Each pings every 10 s for a minute (deadline 15 s after each ping):
    // their stale deadlines are served, on the grid, and none is closed.
    let mut ticks = Vec::new();
    for round in 1..=6u32 {
        for &(id, connected) in &clients {
            let due = connected + Duration::from_secs(10) * round;
            let until = due.max(w.now);
            ticks.extend(run_until(&mut w, until));
            w.send(id, Packet::PingReq);
            assert_eq!(w.take(id), vec![Packet::PingResp]);
        }
    }
    assert!(clients.iter().all(|&(id, _)| !w.is_closed(id)));
    let seconds: BTreeSet<_> = ticks
        .iter()
        .map(|t| (*t - clients[0].1).as_secs())
        .collect();
    assert_eq!(
        seconds.len(),
        ticks.len(),
        "at most one tick per second: {ticks:?}"
    );
}

#[test]
fn a_connection_that_never_sends_connect_still_times_out_on_time() {
    let mut w = harness();
    let _ = connect_spread(&mut w, 10, Duration::from_millis(100), 60);
    let silent = w.open_loopback();
    let opened = w.now;
    let timeout = w.settings.connect_timeout;
    run_until(&mut w, opened + timeout - Duration::from_millis(1));
    assert!(!w.is_closed(silent));
    run_until(&mut w, opened + timeout);
    assert!(
        w.is_closed(silent),
        "closed at its connect timeout, exactly"
    );
}
