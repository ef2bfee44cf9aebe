//! A rough publish/subscribe throughput probe for an MQTT broker.
//!
//! This is a first, quick comparison tool, not the benchmark harness: it
//! drives any MQTT 3.1.1 broker on `127.0.0.1` with a lean client built on
//! raw tokio `TcpStream`s and `hornet-codec` (no client library, so the
//! client is unlikely to be the bottleneck), then prints one JSON line.
//!
//! Scenario: `S` subscribers subscribe to `bench/#`; `P` publishers publish
//! as fast as they can to `bench/<i>`. At QoS 0 a publisher writes batches of
//! 64 pre-encoded PUBLISH packets per `write`; at QoS 1 it keeps a window of
//! 64 unacknowledged PUBLISH packets in flight, pipelined. Subscribers use the
//! same QoS, count every PUBLISH they receive and, at QoS 1, answer PUBACK.
//!
//! After `--warmup` seconds the counters and (with `--broker-pid`) the
//! broker's CPU time from `/proc/<pid>/stat` are sampled, again after
//! `--seconds` more, and the rates over that window are printed:
//!
//! ```text
//! {"published_per_s":..,"delivered_per_s":..,"cpu_us_per_msg":..,...}
//! ```
//!
//! `published_per_s` counts PUBLISH packets written (QoS 0) or acknowledged
//! by the broker (QoS 1); `delivered_per_s` counts PUBLISH packets received
//! by all subscribers together; `delivery_ratio` is delivered / (published ×
//! subscribers), below 1 when the broker drops (or is still queueing) QoS 0
//! messages. `cpu_us_per_msg` is broker CPU time per delivered message.
//! `client_cpu_pct` is this process's own CPU use: on a small machine the
//! client and broker share cores, so read the numbers with that in mind.
//!
//! ```text
//! cargo run --release -p hornet --example throughput -- \
//!     --port 1883 --publishers 10 --subscribers 1 --qos 0 --payload 64 \
//!     --seconds 5 --warmup 1 --broker-pid 1234
//! ```

use std::num::NonZeroU16;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hornet_codec::{peek_frame, Ack, Connect, Decoder, Packet, Protocol, Publish, QoS, Subscribe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const PROTOCOL: Protocol = Protocol::V3_1_1;
/// PUBLISH packets per write at QoS 0.
const BATCH: usize = 64;
/// Unacknowledged PUBLISH packets per publisher at QoS 1.
const WINDOW: usize = 64;
/// Keep alive asked for: long enough that no PINGREQ is needed during a run
/// (a keep alive of 0 is refused by Mosquitto's default `max_keepalive`).
const KEEP_ALIVE: u16 = 600;
/// Bound on connecting and on each handshake step.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const READ_BUF: usize = 256 * 1024;

struct Args {
    port: u16,
    publishers: usize,
    subscribers: usize,
    qos: QoS,
    payload: usize,
    seconds: f64,
    warmup: f64,
    broker_pid: Option<u32>,
}

const USAGE: &str = "usage: throughput --port N [--publishers P] [--subscribers S] [--qos 0|1] \
[--payload BYTES] [--seconds T] [--warmup W] [--broker-pid PID]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        publishers: 10,
        subscribers: 1,
        qos: QoS::AtMostOnce,
        payload: 64,
        seconds: 5.0,
        warmup: 1.0,
        broker_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = || format!("bad value {value:?} for {flag}\n{USAGE}");
        match flag.as_str() {
            "--port" => args.port = value.parse().map_err(|_| bad())?,
            "--publishers" => args.publishers = value.parse().map_err(|_| bad())?,
            "--subscribers" => args.subscribers = value.parse().map_err(|_| bad())?,
            "--qos" => {
                args.qos = match value.as_str() {
                    "0" => QoS::AtMostOnce,
                    "1" => QoS::AtLeastOnce,
                    _ => return Err(format!("--qos must be 0 or 1\n{USAGE}")),
                }
            }
            "--payload" => args.payload = value.parse().map_err(|_| bad())?,
            "--seconds" => args.seconds = value.parse().map_err(|_| bad())?,
            "--warmup" => args.warmup = value.parse().map_err(|_| bad())?,
            "--broker-pid" => args.broker_pid = Some(value.parse().map_err(|_| bad())?),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    if args.port == 0 {
        return Err(format!("--port is required\n{USAGE}"));
    }
    if args.publishers == 0 || args.seconds <= 0.0 || args.warmup < 0.0 {
        return Err(format!(
            "need --publishers >= 1, --seconds > 0, --warmup >= 0\n{USAGE}"
        ));
    }
    Ok(args)
}

/// Counters shared by all connections.
#[derive(Default)]
struct Stats {
    published: AtomicU64,
    delivered: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
}

impl Stats {
    fn error(&self, who: &str, what: impl std::fmt::Display) {
        if !self.stop.load(Ordering::Relaxed) {
            self.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("throughput: {who}: {what}");
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn packet_id(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

async fn send(stream: &mut TcpStream, packet: Packet) -> Result<(), BoxError> {
    let mut out = BytesMut::new();
    packet.encode(PROTOCOL, &mut out)?;
    stream.write_all(&out).await?;
    Ok(())
}

/// Reads until one whole packet is decoded, within [`HANDSHAKE_TIMEOUT`].
async fn receive(
    stream: &mut TcpStream,
    decoder: &mut Decoder,
    buf: &mut BytesMut,
) -> Result<Packet, BoxError> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            if let Some(packet) = decoder.decode(buf)? {
                return Ok(packet);
            }
            if stream.read_buf(buf).await? == 0 {
                return Err("connection closed by the broker".into());
            }
        }
    })
    .await
    .map_err(|_| "timed out waiting for the broker")?
}

/// Connects and completes CONNECT/CONNACK (and SUBSCRIBE/SUBACK when
/// `subscribe` is given). Returns the stream and any bytes read past the
/// handshake.
async fn connect(
    port: u16,
    client_id: String,
    subscribe: Option<QoS>,
) -> Result<(TcpStream, BytesMut), BoxError> {
    let mut stream =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(("127.0.0.1", port)))
            .await
            .map_err(|_| "timed out connecting")??;
    stream.set_nodelay(true)?;
    let mut connect = Connect::new(PROTOCOL, client_id);
    connect.keep_alive = KEEP_ALIVE;
    send(&mut stream, connect.into()).await?;
    let mut decoder = Decoder::with_protocol(PROTOCOL);
    let mut buf = BytesMut::with_capacity(READ_BUF);
    match receive(&mut stream, &mut decoder, &mut buf).await? {
        Packet::ConnAck(ack) if !ack.reason_code.is_error() => {}
        other => return Err(format!("expected a successful CONNACK, got {other:?}").into()),
    }
    if let Some(qos) = subscribe {
        send(
            &mut stream,
            Subscribe::new(packet_id(1), "bench/#", qos).into(),
        )
        .await?;
        match receive(&mut stream, &mut decoder, &mut buf).await? {
            Packet::SubAck(ack) if ack.reason_codes.iter().all(|c| !c.is_error()) => {}
            other => return Err(format!("expected a granting SUBACK, got {other:?}").into()),
        }
    }
    Ok((stream, buf))
}

/// Counts PUBLISH packets and answers PUBACK for QoS 1 ones. Works on raw
/// frames (no full decode): the packet identifier of a QoS 1 PUBLISH follows
/// its two-byte topic length and topic.
async fn subscriber(
    mut stream: TcpStream,
    mut buf: BytesMut,
    stats: Arc<Stats>,
) -> Result<(), BoxError> {
    let mut out = BytesMut::with_capacity(64 * 1024);
    loop {
        let mut count = 0u64;
        while let Some(header) = peek_frame(&buf, usize::MAX)? {
            let total = header.total_len();
            if buf.len() < total {
                buf.reserve(total - buf.len());
                break;
            }
            let frame = buf.split_to(total);
            if header.first_byte >> 4 == 3 {
                count += 1;
                if (header.first_byte >> 1) & 0x03 == 1 {
                    let body = &frame[header.header_len..];
                    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
                    let id = u16::from_be_bytes([body[2 + topic_len], body[3 + topic_len]]);
                    Packet::PubAck(Ack::new(packet_id(id))).encode(PROTOCOL, &mut out)?;
                }
            }
        }
        if count > 0 {
            stats.delivered.fetch_add(count, Ordering::Relaxed);
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(READ_BUF);
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err("connection closed by the broker".into());
        }
    }
}

/// QoS 0: writes the same pre-encoded batch of [`BATCH`] PUBLISH packets
/// over and over; TCP back-pressure is the only brake.
async fn publisher_qos0(
    mut stream: TcpStream,
    topic: String,
    payload: Bytes,
    stats: Arc<Stats>,
) -> Result<(), BoxError> {
    let mut batch = BytesMut::new();
    for _ in 0..BATCH {
        Packet::from(Publish::new(topic.clone(), payload.clone())).encode(PROTOCOL, &mut batch)?;
    }
    // Anything the broker sends (nothing is expected) is drained and dropped.
    let (mut rd, mut wr) = stream.split();
    let drain = async {
        let mut sink = vec![0u8; 4096];
        loop {
            if rd.read(&mut sink).await? == 0 {
                return Err::<(), BoxError>("connection closed by the broker".into());
            }
        }
    };
    let write = async {
        loop {
            wr.write_all(&batch).await?;
            stats.published.fetch_add(BATCH as u64, Ordering::Relaxed);
        }
    };
    tokio::select! {
        r = drain => r,
        r = write => r,
    }
}

/// QoS 1: keeps up to [`WINDOW`] PUBLISH packets unacknowledged; every
/// PUBACK frees a slot. Counts acknowledged messages as published.
async fn publisher_qos1(
    stream: TcpStream,
    buf: BytesMut,
    topic: String,
    payload: Bytes,
    stats: Arc<Stats>,
) -> Result<(), BoxError> {
    let (rd, wr) = stream.into_split();
    let window = Arc::new(Semaphore::new(WINDOW));
    let reader = puback_reader(rd, buf, window.clone(), stats.clone());
    let writer = qos1_writer(wr, topic, payload, window);
    tokio::select! {
        r = reader => r,
        r = writer => r,
    }
}

async fn qos1_writer(
    mut wr: OwnedWriteHalf,
    topic: String,
    payload: Bytes,
    window: Arc<Semaphore>,
) -> Result<(), BoxError> {
    let mut out = BytesMut::with_capacity(WINDOW * (payload.len() + topic.len() + 8));
    let mut next_id: u16 = 0;
    loop {
        // Wait for one free slot, then take every other free one too.
        window.acquire().await?.forget();
        let mut n = 1;
        while n < WINDOW {
            match window.try_acquire() {
                Ok(permit) => {
                    permit.forget();
                    n += 1;
                }
                Err(_) => break,
            }
        }
        for _ in 0..n {
            next_id = next_id.checked_add(1).unwrap_or(1);
            let mut publish = Publish::new(topic.clone(), payload.clone());
            publish.qos = QoS::AtLeastOnce;
            publish.packet_id = Some(packet_id(next_id));
            Packet::from(publish).encode(PROTOCOL, &mut out)?;
        }
        wr.write_all(&out).await?;
        out.clear();
    }
}

async fn puback_reader(
    mut rd: OwnedReadHalf,
    mut buf: BytesMut,
    window: Arc<Semaphore>,
    stats: Arc<Stats>,
) -> Result<(), BoxError> {
    loop {
        let mut acks = 0usize;
        while let Some(header) = peek_frame(&buf, usize::MAX)? {
            let total = header.total_len();
            if buf.len() < total {
                break;
            }
            let _ = buf.split_to(total);
            if header.first_byte >> 4 == 4 {
                acks += 1;
            }
        }
        if acks > 0 {
            stats.published.fetch_add(acks as u64, Ordering::Relaxed);
            window.add_permits(acks);
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(64 * 1024);
        }
        if rd.read_buf(&mut buf).await? == 0 {
            return Err("connection closed by the broker".into());
        }
    }
}

/// utime + stime of `pid`, in seconds.
fn process_cpu_seconds(pid: &str, ticks_per_s: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after
    // the last ')'. What follows starts at field 3, so fields 14 and 15 are
    // at indices 11 and 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / ticks_per_s)
}

/// Resident set size of `pid`, in MiB (`VmRSS` of `/proc/<pid>/status`).
fn process_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

struct Sample {
    at: Instant,
    published: u64,
    delivered: u64,
    broker_cpu: Option<f64>,
    client_cpu: Option<f64>,
}

fn sample(stats: &Stats, broker_pid: Option<u32>, ticks: f64) -> Sample {
    Sample {
        at: Instant::now(),
        published: stats.published.load(Ordering::Relaxed),
        delivered: stats.delivered.load(Ordering::Relaxed),
        broker_cpu: broker_pid.and_then(|pid| process_cpu_seconds(&pid.to_string(), ticks)),
        client_cpu: process_cpu_seconds("self", ticks),
    }
}

fn json_number(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "null".to_string(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let ticks = clock_ticks_per_second();
    let stats = Arc::new(Stats::default());
    let payload = Bytes::from(vec![b'x'; args.payload]);
    let tag = std::process::id();

    // Subscribers first, each with its SUBACK in hand, so that nothing
    // published is missed for want of a subscription.
    let mut subscribers = Vec::new();
    for i in 0..args.subscribers {
        match connect(args.port, format!("bench-sub-{tag}-{i}"), Some(args.qos)).await {
            Ok(conn) => subscribers.push(conn),
            Err(e) => {
                eprintln!("throughput: subscriber {i}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut publishers = Vec::new();
    for i in 0..args.publishers {
        match connect(args.port, format!("bench-pub-{tag}-{i}"), None).await {
            Ok(conn) => publishers.push(conn),
            Err(e) => {
                eprintln!("throughput: publisher {i}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }

    for (i, (stream, buf)) in subscribers.into_iter().enumerate() {
        let stats = stats.clone();
        tokio::spawn(async move {
            if let Err(e) = subscriber(stream, buf, stats.clone()).await {
                stats.error(&format!("subscriber {i}"), e);
            }
        });
    }
    for (i, (stream, buf)) in publishers.into_iter().enumerate() {
        let stats = stats.clone();
        let topic = format!("bench/{i}");
        let payload = payload.clone();
        let qos = args.qos;
        tokio::spawn(async move {
            let result = match qos {
                QoS::AtMostOnce => publisher_qos0(stream, topic, payload, stats.clone()).await,
                _ => publisher_qos1(stream, buf, topic, payload, stats.clone()).await,
            };
            if let Err(e) = result {
                stats.error(&format!("publisher {i}"), e);
            }
        });
    }

    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let start = sample(&stats, args.broker_pid, ticks);
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    let end = sample(&stats, args.broker_pid, ticks);
    stats.stop.store(true, Ordering::Relaxed);
    let broker_rss = args.broker_pid.and_then(process_rss_mib);

    let elapsed = end.at.duration_since(start.at).as_secs_f64();
    let published = (end.published - start.published) as f64;
    let delivered = (end.delivered - start.delivered) as f64;
    let broker_cpu = start.broker_cpu.zip(end.broker_cpu).map(|(a, b)| b - a);
    let client_cpu = start.client_cpu.zip(end.client_cpu).map(|(a, b)| b - a);
    let expected = published * args.subscribers as f64;
    let cpu_us_per_msg = broker_cpu
        .filter(|_| delivered > 0.0)
        .map(|c| c * 1e6 / delivered);
    println!(
        "{{\"published_per_s\":{},\"delivered_per_s\":{},\"cpu_us_per_msg\":{},\
\"delivery_ratio\":{},\"broker_cpu_pct\":{},\"client_cpu_pct\":{},\"broker_rss_mib\":{},\"errors\":{},\
\"publishers\":{},\"subscribers\":{},\"qos\":{},\"payload\":{},\"seconds\":{:.3}}}",
        json_number(Some(published / elapsed), 0),
        json_number(Some(delivered / elapsed), 0),
        json_number(cpu_us_per_msg, 3),
        json_number((expected > 0.0).then(|| delivered / expected), 4),
        json_number(broker_cpu.map(|c| c * 100.0 / elapsed), 1),
        json_number(client_cpu.map(|c| c * 100.0 / elapsed), 1),
        json_number(broker_rss, 1),
        stats.errors.load(Ordering::Relaxed),
        args.publishers,
        args.subscribers,
        args.qos as u8,
        args.payload,
        elapsed,
    );
    // Connections are still busy; leaving main drops the runtime and them.
    ExitCode::SUCCESS
}
