//! The `converge` entry of the `cluster` command: how long after its
//! SUBACK a new subscription on node 1 receives what is published on
//! node 2. Each round subscribes one subscriber connection on node 1 to a
//! topic no one used before; from the moment the SUBACK is read, a
//! publisher connection on node 2 publishes to that topic at QoS 0 every
//! millisecond until the first message arrives; the time from SUBACK to
//! that arrival is the round's sample (resolution about 1 ms); then the
//! subscriber unsubscribes. The single node's figure is the same loop with
//! both connections on one broker: the floor of the measurement.

use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hornet_codec::{Decoder, Packet, Protocol, Publish, QoS, Subscribe, Unsubscribe};
use tokio::io::AsyncReadExt;

use crate::client::{self, Conn, Hello, Target};
use crate::cluster::Ctx;
use crate::cluster_fanin::target;
use crate::cluster_nodes::Node;
use crate::cluster_table::{quantile, Row};
use crate::transport;

/// The publisher's interval between two publishes of one round.
const INTERVAL: Duration = Duration::from_millis(1);
/// The bound on one round.
const ROUND_TIMEOUT: Duration = Duration::from_secs(10);

fn hello(id: String) -> Hello {
    Hello {
        client_id: id,
        keep_alive: 600,
        receive_maximum: None,
        subscribe: None,
        buffer: 4096,
        persistent: false,
    }
}

async fn send(conn: &mut Conn, packet: Packet) -> Result<(), String> {
    let mut out = BytesMut::new();
    packet
        .encode(Protocol::V3_1_1, &mut out)
        .map_err(|e| e.to_string())?;
    transport::send(&mut conn.stream, &out)
        .await
        .map_err(|e| format!("writing: {e}"))
}

/// Reads until a packet `wanted` accepts, or `until`; false on the bound.
async fn wait_for(
    conn: &mut Conn,
    decoder: &mut Decoder,
    until: Instant,
    wanted: impl Fn(&Packet) -> bool,
) -> Result<bool, String> {
    loop {
        while let Some(p) = decoder.decode(&mut conn.buf).map_err(|e| e.to_string())? {
            if wanted(&p) {
                return Ok(true);
            }
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        match tokio::time::timeout(left, conn.stream.read_buf(&mut conn.buf)).await {
            Err(_) => return Ok(false),
            Ok(Ok(0)) => return Err("the broker closed the connection".into()),
            Ok(Err(e)) => return Err(format!("reading: {e}")),
            Ok(Ok(_)) => {}
        }
    }
}

/// The rounds between a subscriber at `sub` and a publisher at `publ`;
/// the samples in ms.
async fn rounds(sub: &Target, publ: &Target, n: usize, tag: &str) -> Result<Vec<f64>, String> {
    let mut s = client::open(sub, &hello(format!("{tag}-sub"))).await?;
    let mut p = client::open(publ, &hello(format!("{tag}-pub"))).await?;
    let mut sd = Decoder::with_protocol(Protocol::V3_1_1);
    let payload = Bytes::from_static(b"converge");
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let topic = format!("converge/{tag}/{i}");
        let id = NonZeroU16::new((i % 60_000 + 1) as u16).unwrap_or(NonZeroU16::MIN);
        send(
            &mut s,
            Subscribe::new(id, topic.as_str(), QoS::AtMostOnce).into(),
        )
        .await?;
        let acked = wait_for(
            &mut s,
            &mut sd,
            Instant::now() + ROUND_TIMEOUT,
            |p| matches!(p, Packet::SubAck(a) if a.packet_id == id),
        )
        .await?;
        if !acked {
            return Err(format!("round {i}: no SUBACK within {ROUND_TIMEOUT:?}"));
        }
        let t0 = Instant::now();
        loop {
            send(
                &mut p,
                Packet::Publish(Publish::new(topic.as_str(), payload.clone())),
            )
            .await?;
            let got = wait_for(
                &mut s,
                &mut sd,
                Instant::now() + INTERVAL,
                |p| matches!(p, Packet::Publish(m) if *m.topic == *topic),
            )
            .await?;
            if got {
                break;
            }
            if t0.elapsed() > ROUND_TIMEOUT {
                return Err(format!(
                    "round {i}: nothing published on the other node arrived within {ROUND_TIMEOUT:?} of the SUBACK"
                ));
            }
        }
        samples.push(t0.elapsed().as_secs_f64() * 1e3);
        send(&mut s, Unsubscribe::new(id, topic.as_str()).into()).await?;
    }
    Ok(samples)
}

/// Runs the entry; returns its rows.
pub(crate) async fn run(ctx: &mut Ctx, failures: &mut Vec<String>) -> Vec<Row> {
    let n = ctx.rounds;
    let single = async {
        let mut node = Node::start(&ctx.hornet, &ctx.work, "converge-single", None).await?;
        let t = target(node.port, Protocol::V3_1_1);
        let r = rounds(&t, &t, n, "single").await;
        node.process.stop();
        r
    }
    .await;
    let cluster = async {
        let [n1, n2] = ctx.cluster::<2>("converge-cluster").await?;
        let (t1, t2) = (
            target(n1.port, Protocol::V3_1_1),
            target(n2.port, Protocol::V3_1_1),
        );
        rounds(&t1, &t2, n, "cluster").await
    }
    .await;
    let mut take = |r: Result<Vec<f64>, String>, what: &str| match r {
        Ok(v) => {
            eprintln!(
                "  converge {what}: {} rounds, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                v.len(),
                quantile(&v, 0.5).unwrap_or(f64::NAN),
                quantile(&v, 0.99).unwrap_or(f64::NAN),
                quantile(&v, 1.0).unwrap_or(f64::NAN)
            );
            v
        }
        Err(e) => {
            eprintln!("  converge {what}: {e}");
            failures.push(format!("converge {what}: {e}"));
            Vec::new()
        }
    };
    let (s, c) = (take(single, "single"), take(cluster, "cluster"));
    let row = |q: f64, name: &str| {
        Row::paired(
            "converge",
            &format!("SUBACK on n1 → first delivery of a publish on n2, {name} ms ({n} rounds)"),
            &[(quantile(&s, q), quantile(&c, q))],
            None,
        )
    };
    vec![row(0.5, "p50"), row(0.99, "p99")]
}
