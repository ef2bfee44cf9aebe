//! The `bridge-q1` entry of `compare`: QoS 1 messages bridged out by the
//! broker under test (Hornet, or Mosquitto with the same `connection`
//! block) to a Mosquitto sink with a subscriber on it.
//!
//! Figures: bridged msgs/s (what reaches the sink's subscriber in the
//! measurement window, one publisher keeping 64 QoS 1 messages in flight
//! and at most 10,000 ahead of the subscriber),
//! the broker under test's CPU-µs per bridged message, and the outbox drain
//! rate: the sink is stopped (SIGTERM: it keeps its persistent subscriber),
//! messages are published and acknowledged meanwhile, the sink is started
//! again on its port, and the rate is the messages over the time between
//! the first and the last of them at the subscriber.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hornet_codec::{Ack, Decoder, Packet, PacketId, Protocol, Publish, QoS};
use tokio::io::AsyncReadExt;

use crate::broker::{self, Kind, Ports};
use crate::client::{self, Hello, Target};
use crate::procstat::{self, Proc};
use crate::report::Report;
use crate::scenario::Params;
use crate::transport::{self, Carrier, Transport};

/// QoS 1 messages the publisher keeps in flight.
const WINDOW: u16 = 64;
/// The bound on each wait (bridge up, everything across, drain).
const WAIT: Duration = Duration::from_secs(60);
/// Messages the flooding publisher may be ahead of the sink's subscriber:
/// the broker under test acknowledges at once and the bridge sends at its
/// own pace, so an unpaced flood measures how fast the outbox fills (and,
/// past its limit, drops), not the bridge.
const MAX_AHEAD: u64 = 10_000;
/// The topic the bridge carries.
const TOPIC: &str = "bench/m";

/// The bridge lines of the broker under test (the same for both).
fn bridge_lines(sink_port: u16) -> Vec<String> {
    vec![
        "connection bench".into(),
        format!("address 127.0.0.1:{sink_port}"),
        "cleansession false".into(),
        "restart_timeout 1".into(),
        "notifications false".into(),
        "topic bench/# out 1".into(),
    ]
}

/// The Mosquitto the bridge sends to, restartable on its port.
struct Sink {
    binary: PathBuf,
    conf: PathBuf,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Sink {
    fn new(binary: &Path, work: &Path, tag: &str) -> Result<Sink, String> {
        let port = Ports::free()?.aux;
        let dir = work.join(format!("{tag}-sink"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let conf = dir.join("sink.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nmax_queued_messages 1000000\n\
                 max_inflight_messages 1000\nconnection_messages false\n",
                dir.display()
            ),
        )
        .map_err(|e| format!("writing {}: {e}", conf.display()))?;
        Ok(Sink {
            binary: binary.to_path_buf(),
            conf,
            log: dir.join("sink.log"),
            port,
            child: None,
        })
    }

    async fn start(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting the sink {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err("the sink Mosquitto never accepted".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// SIGTERM (Mosquitto saves its sessions) and wait.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the sink's subscriber has seen.
#[derive(Default)]
struct Arrivals {
    total: AtomicU64,
    /// Since the last reset: count, first and last arrival.
    epoch: Mutex<(u64, Option<Instant>, Option<Instant>)>,
}

impl Arrivals {
    fn arrived(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        let now = Instant::now();
        let mut e = self.epoch.lock().unwrap_or_else(|p| p.into_inner());
        e.0 += n;
        e.1.get_or_insert(now);
        e.2 = Some(now);
    }

    fn reset(&self) {
        *self.epoch.lock().unwrap_or_else(|p| p.into_inner()) = (0, None, None);
    }

    fn epoch(&self) -> (u64, Option<Instant>, Option<Instant>) {
        *self.epoch.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn target(port: u16) -> Target {
    Target {
        host: "127.0.0.1".into(),
        port,
        protocol: Protocol::V3_1_1,
        carrier: Carrier::new(Transport::Tcp, None).expect("plain TCP needs no TLS"),
    }
}

/// A persistent QoS 1 subscriber on the sink, reconnecting while the sink
/// is away, until `stop`.
async fn subscriber(port: u16, arrivals: Arc<Arrivals>, stop: Arc<AtomicBool>) {
    let hello = Hello {
        client_id: "bench-sink-sub".into(),
        keep_alive: 60,
        receive_maximum: None,
        subscribe: Some(("bench/#".into(), QoS::AtLeastOnce)),
        buffer: 64 * 1024,
        persistent: true,
    };
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut conn) = client::open(&target(port), &hello).await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let mut decoder = Decoder::with_protocol(Protocol::V3_1_1);
        let mut acks = BytesMut::new();
        'read: while !stop.load(Ordering::Relaxed) {
            let mut n = 0;
            loop {
                match decoder.decode(&mut conn.buf) {
                    Ok(Some(Packet::Publish(p))) => {
                        n += 1;
                        if let Some(id) = p.packet_id {
                            let _ =
                                Packet::PubAck(Ack::new(id)).encode(Protocol::V3_1_1, &mut acks);
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'read,
                }
            }
            if n > 0 {
                arrivals.arrived(n);
            }
            if !acks.is_empty() {
                if transport::send(&mut conn.stream, &acks).await.is_err() {
                    break;
                }
                acks.clear();
            }
            match tokio::time::timeout(
                Duration::from_millis(100),
                conn.stream.read_buf(&mut conn.buf),
            )
            .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                _ => {}
            }
        }
    }
}

/// Publishes QoS 1 messages to `port`, `WINDOW` in flight, until `count`
/// are acknowledged (or, without one, until `stop`); returns how many.
/// With `paced`, never more than [`MAX_AHEAD`] ahead of those arrivals.
async fn publisher(
    port: u16,
    count: Option<u64>,
    stop: Arc<AtomicBool>,
    paced: Option<Arc<Arrivals>>,
) -> Result<u64, String> {
    let hello = Hello {
        client_id: format!("bench-pub-{}", count.unwrap_or(0)),
        keep_alive: 60,
        receive_maximum: None,
        subscribe: None,
        buffer: 64 * 1024,
        persistent: false,
    };
    let mut conn = client::open(&target(port), &hello).await?;
    let mut decoder = Decoder::with_protocol(Protocol::V3_1_1);
    let payload = Bytes::from(vec![b'x'; 64]);
    let (mut sent, mut acked, mut next_id) = (0u64, 0u64, 0u16);
    let mut out = BytesMut::new();
    let base = paced
        .as_ref()
        .map_or(0, |a| a.total.load(Ordering::Relaxed));
    let ahead_ok = |sent: u64| {
        paced.as_ref().map_or(true, |a| {
            sent < a.total.load(Ordering::Relaxed) - base + MAX_AHEAD
        })
    };
    loop {
        let more = |sent: u64| count.map_or(true, |c| sent < c) && !stop.load(Ordering::Relaxed);
        while sent - acked < u64::from(WINDOW) && more(sent) && ahead_ok(sent) {
            next_id = next_id % 60_000 + 1;
            let mut p = Publish::new(TOPIC, payload.clone());
            p.qos = QoS::AtLeastOnce;
            p.packet_id = PacketId::new(next_id);
            Packet::Publish(p)
                .encode(Protocol::V3_1_1, &mut out)
                .map_err(|e| e.to_string())?;
            sent += 1;
        }
        if !out.is_empty() {
            transport::send(&mut conn.stream, &out)
                .await
                .map_err(|e| format!("publishing: {e}"))?;
            out.clear();
        }
        if acked == sent && !more(sent) {
            return Ok(acked);
        }
        if acked == sent {
            // Held back by the pace: wait for the sink to catch up.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        match tokio::time::timeout(WAIT, conn.stream.read_buf(&mut conn.buf)).await {
            Ok(Ok(0)) => return Err("the broker closed the publisher".into()),
            Ok(Err(e)) => return Err(format!("publisher read: {e}")),
            Err(_) => return Err("no PUBACK within 60 s".into()),
            Ok(Ok(_)) => {}
        }
        while let Some(p) = decoder.decode(&mut conn.buf).map_err(|e| e.to_string())? {
            if matches!(p, Packet::PubAck(_)) {
                acked += 1;
            }
        }
    }
}

/// Waits until `done` or [`WAIT`] passed.
async fn until(what: &str, done: impl Fn() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + WAIT;
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("{what} within {WAIT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Runs the entry against broker `kind` (`binary`), with the Mosquitto at
/// `sink` as the remote.
pub(crate) async fn run(
    kind: Kind,
    binary: &Path,
    sink: Option<&Path>,
    work: &Path,
    tag: &str,
    params: &Params,
) -> Report {
    let mut report = crate::runner::base_report(params);
    report.scenario = "bridge".into();
    let result = match sink {
        Some(sink) => measure(kind, binary, sink, work, tag, params, &mut report).await,
        None => Err("the sink needs mosquitto (install it, or pass --mosquitto PATH)".into()),
    };
    if let Err(e) = result {
        report.errors = 1;
        report.first_error = Some(e);
    }
    report.judge();
    report
}

async fn measure(
    kind: Kind,
    binary: &Path,
    sink_binary: &Path,
    work: &Path,
    tag: &str,
    params: &Params,
    report: &mut Report,
) -> Result<(), String> {
    let mut sink = Sink::new(sink_binary, work, tag)?;
    sink.start().await?;
    let arrivals = Arc::new(Arrivals::default());
    let stop = Arc::new(AtomicBool::new(false));
    let sub = tokio::spawn(subscriber(sink.port, arrivals.clone(), stop.clone()));
    let lines = bridge_lines(sink.port);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut under =
        broker::start(kind, binary, work, tag, &lines, None, Transport::Tcp, false).await?;
    let port = under.ports.tcp;
    let result = async {
        // The bridge is up once a message crosses.
        let no_stop = Arc::new(AtomicBool::new(false));
        publisher(port, Some(1), no_stop.clone(), None).await?;
        until("no message crossed the bridge", || {
            arrivals.total.load(Ordering::Relaxed) >= 1
        })
        .await?;

        // Throughput: one publisher flooding, the window measured.
        let flood_stop = Arc::new(AtomicBool::new(false));
        let flood_started = Instant::now();
        let flood = tokio::spawn(publisher(
            port,
            None,
            flood_stop.clone(),
            Some(arrivals.clone()),
        ));
        tokio::time::sleep(Duration::from_secs_f64(params.warmup)).await;
        let (t0, n0) = (Instant::now(), arrivals.total.load(Ordering::Relaxed));
        let cpu0 = procstat::cpu_seconds(Proc::Pid(under.pid));
        tokio::time::sleep(Duration::from_secs_f64(params.seconds)).await;
        let (t1, n1) = (Instant::now(), arrivals.total.load(Ordering::Relaxed));
        let cpu1 = procstat::cpu_seconds(Proc::Pid(under.pid));
        flood_stop.store(true, Ordering::Relaxed);
        let flooded = flood.await.map_err(|e| e.to_string())??;
        report.published_per_s = flooded as f64 / flood_started.elapsed().as_secs_f64();
        let bridged = n1 - n0;
        let window = (t1 - t0).as_secs_f64();
        report.window_s = window;
        report.delivered_per_s = bridged as f64 / window;
        if let (Some(a), Some(b), true) = (cpu0, cpu1, bridged > 0) {
            report.broker_cpu_us_per_msg = Some((b - a) * 1e6 / bridged as f64);
        }
        // Everything acknowledged crosses before the outage.
        let expected = 1 + flooded;
        until("the flood never fully crossed", || {
            arrivals.total.load(Ordering::Relaxed) >= expected
        })
        .await?;

        // The outbox: the sink away, messages acknowledged meanwhile, then
        // drained when it is back.
        let backlog: u64 = if params.seconds < 2.0 { 2_000 } else { 50_000 };
        sink.stop();
        arrivals.reset();
        publisher(port, Some(backlog), no_stop, None).await?;
        sink.start().await?;
        until("the outbox never drained", || arrivals.epoch().0 >= backlog).await?;
        let (n, first, last) = arrivals.epoch();
        if let (Some(first), Some(last)) = (first, last) {
            let span = (last - first).as_secs_f64().max(1e-6);
            report.bridge_drain_per_s = Some((n - 1) as f64 / span);
        }
        report.sent = expected + backlog;
        report.received = arrivals.total.load(Ordering::Relaxed);
        report.expected = report.sent;
        report.lost = report.expected.saturating_sub(report.received);
        Ok::<(), String>(())
    }
    .await;
    stop.store(true, Ordering::Relaxed);
    let _ = sub.await;
    if !under.alive() {
        return Err(format!("{} exited during the run", kind.name()));
    }
    under.stop();
    result
}
