//! The `conns` scenario: open K idle connections (bounded concurrency),
//! hold them while watching what the idle broker costs (CPU time, thread
//! wake-ups), measure the broker's memory per connection at the end of
//! the hold, check they are still alive (PINGREQ → PINGRESP), close them.

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::client::{self, Conn, Hello, Target};
use crate::procstat::{self, Proc};
use crate::report::{ConnsFigures, Report};
use crate::runner::base_report;
use crate::scenario::Params;

/// Time for the broker to settle before the idle window starts: longer
/// than Hornet's park delay (a connection without traffic for 1 to 2 s
/// gives up its task and socket registration), so the window measures an
/// idle broker rather than 19,000 connections being parked.
const SETTLE: Duration = Duration::from_secs(3);
/// Bound on one PINGREQ → PINGRESP.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the scenario and returns its judged report.
pub(crate) async fn run(target: &Target, p: &Params, broker: Option<u32>) -> Report {
    let mut report = base_report(p);
    let memory = || broker.and_then(|pid| procstat::memory(Proc::Pid(pid)));
    let cpu = || broker.and_then(|pid| procstat::cpu_seconds(Proc::Pid(pid)));
    let before = memory();
    let cpu_before = cpu();
    let tag = format!("hbc{}", std::process::id());
    let hellos = (0..p.connections)
        .map(|i| Hello {
            client_id: format!("{tag}-{i}"),
            keep_alive: p.keep_alive,
            receive_maximum: None,
            subscribe: None,
            buffer: 64,
            persistent: false,
        })
        .collect();
    let started = Instant::now();
    let results = client::open_many(target, hellos, p.concurrency).await;
    let connect_seconds = started.elapsed().as_secs_f64();
    let mut conns = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(c) => conns.push(c),
            Err(e) => {
                report.errors += 1;
                report.first_error.get_or_insert(format!("connecting: {e}"));
            }
        }
    }
    let cpu_after = cpu();
    tokio::time::sleep(SETTLE).await;
    let succeeded = conns.len();
    let switches = || broker.and_then(|pid| procstat::switches(Proc::Pid(pid)));
    let fine_cpu = || broker.and_then(|pid| procstat::thread_cpu_seconds(Proc::Pid(pid)));
    let (idle_from, idle_cpu0, idle_sw0) = (Instant::now(), fine_cpu(), switches());
    tokio::time::sleep(Duration::from_secs_f64(p.seconds)).await;
    let (idle_cpu1, idle_sw1) = (fine_cpu(), switches());
    let idle_seconds = idle_from.elapsed().as_secs_f64();
    // Memory is read at the end of the hold, when the connections have
    // been idle as long as a device's usually is: Hornet parks a
    // connection after 1 to 2 s without traffic (no task, no socket
    // registration), so a reading 1 s after the last CONNECT caught the
    // last connections still unparked.
    let after = memory();
    let (conns, alive) = ping_all(conns, p.concurrency).await;
    drop(conns);

    let delta = before
        .zip(after)
        .map(|(b, a)| a.rss_kib as f64 - b.rss_kib as f64);
    report.conns = Some(ConnsFigures {
        requested: p.connections,
        succeeded,
        connect_seconds,
        rss_before_kib: before.map(|m| m.rss_kib),
        rss_after_kib: after.map(|m| m.rss_kib),
        bytes_per_conn: delta
            .filter(|_| succeeded > 0)
            .map(|d| d * 1024.0 / succeeded as f64),
        broker_cpu_us_per_conn: cpu_before
            .zip(cpu_after)
            .filter(|_| succeeded > 0)
            .map(|(b, a)| (a - b) * 1e6 / succeeded as f64),
        alive_after_hold: alive,
        idle_seconds,
        idle_cpu_us_per_s: idle_cpu0
            .zip(idle_cpu1)
            .map(|(a, b)| (b - a) * 1e6 / idle_seconds.max(1e-9)),
        idle_wakeups_per_s: idle_sw0
            .zip(idle_sw1)
            .map(|(a, b)| b.voluntary.saturating_sub(a.voluntary) as f64 / idle_seconds.max(1e-9)),
        idle_preemptions_per_s: idle_sw0.zip(idle_sw1).map(|(a, b)| {
            b.nonvoluntary.saturating_sub(a.nonvoluntary) as f64 / idle_seconds.max(1e-9)
        }),
    });
    report.broker_rss_kib = after.map(|m| m.rss_kib);
    report.broker_hwm_kib = after.map(|m| m.hwm_kib);
    if alive < succeeded {
        report.errors += (succeeded - alive) as u64;
        report.first_error.get_or_insert(format!(
            "{} connections did not answer PINGREQ after the hold",
            succeeded - alive
        ));
    }
    report.judge();
    report
}

/// Sends PINGREQ on every connection and counts PINGRESPs, `concurrency`
/// at a time; returns the connections (to close together) and the count.
async fn ping_all(conns: Vec<Conn>, concurrency: usize) -> (Vec<Conn>, usize) {
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let semaphore = semaphore.clone();
            tokio::spawn(async move {
                let ok = match semaphore.acquire().await {
                    Ok(_permit) => tokio::time::timeout(PING_TIMEOUT, ping(&mut conn))
                        .await
                        .is_ok_and(|r| r),
                    Err(_) => false,
                };
                (conn, ok)
            })
        })
        .collect();
    let mut kept = Vec::with_capacity(tasks.len());
    let mut alive = 0;
    for task in tasks {
        if let Ok((conn, ok)) = task.await {
            kept.push(conn);
            alive += usize::from(ok);
        }
    }
    (kept, alive)
}

async fn ping(conn: &mut Conn) -> bool {
    if crate::transport::send(&mut conn.stream, &[0xC0, 0])
        .await
        .is_err()
    {
        return false;
    }
    loop {
        if conn.buf.len() >= 2 {
            return conn.buf[0] == 0xD0 && conn.buf[1] == 0;
        }
        match conn.stream.read_buf(&mut conn.buf).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}
