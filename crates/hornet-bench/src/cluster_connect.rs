//! The `connect` entry of the `cluster` command: N CONNECTs of persistent
//! sessions (MQTT 3.1.1, clean session 0, each a client id never used
//! before), C in progress at a time, against node 1 of a two-node cluster
//! (each waits for its etcd transaction, the claim of its client id,
//! before its CONNACK) and against a single node; the connections are held
//! until all are open. Figures: CONNECTs per second (N over the time from
//! the first connect to the last CONNACK) and p50/p99 of one connection's
//! TCP connect → CONNACK.

use std::sync::Arc;
use std::time::Instant;

use hornet_codec::Protocol;
use tokio::sync::Semaphore;

use crate::client::{self, Hello, Target};
use crate::cluster::Ctx;
use crate::cluster_fanin::target;
use crate::cluster_nodes::Node;
use crate::cluster_table::{quantile, Row};

/// The figures of one run.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    per_s: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

async fn connects(t: &Target, n: usize, concurrency: usize, tag: &str) -> Result<Figures, String> {
    let semaphore = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (t, semaphore) = (t.clone(), semaphore.clone());
            let hello = Hello {
                client_id: format!("{tag}-{i}"),
                keep_alive: 600,
                receive_maximum: None,
                subscribe: None,
                buffer: 64,
                persistent: true,
            };
            tokio::spawn(async move {
                let _permit = semaphore.acquire().await.map_err(|e| e.to_string())?;
                let t0 = Instant::now();
                let conn = client::open(&t, &hello).await?;
                Ok::<_, String>((conn, t0.elapsed().as_secs_f64() * 1e3))
            })
        })
        .collect();
    let mut held = Vec::with_capacity(n);
    let mut times = Vec::with_capacity(n);
    let mut first_error = None;
    for task in tasks {
        match task.await.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok((conn, ms)) => {
                held.push(conn);
                times.push(ms);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    drop(held);
    if let Some(e) = first_error {
        return Err(format!(
            "{} of {n} CONNECTs failed, the first: {e}",
            n - times.len()
        ));
    }
    Ok(Figures {
        per_s: n as f64 / wall.max(1e-9),
        p50_ms: quantile(&times, 0.5),
        p99_ms: quantile(&times, 0.99),
    })
}

async fn single(ctx: &Ctx, tag: &str) -> Result<Figures, String> {
    let mut node = Node::start(&ctx.hornet, &ctx.work, tag, None).await?;
    let t = target(node.port, Protocol::V3_1_1);
    let r = connects(&t, ctx.connects, ctx.connect_concurrency, tag).await;
    node.process.stop();
    r
}

async fn cluster(ctx: &mut Ctx, tag: &str) -> Result<Figures, String> {
    let [n1, _n2] = ctx.cluster::<2>(tag).await?;
    let t = target(n1.port, Protocol::V3_1_1);
    connects(&t, ctx.connects, ctx.connect_concurrency, tag).await
}

/// Runs the entry; returns its rows.
pub(crate) async fn run(ctx: &mut Ctx, failures: &mut Vec<String>) -> Vec<Row> {
    let mut pairs = Vec::new();
    for rep in 1..=ctx.reps {
        let (s_tag, c_tag) = (
            format!("connect-single-r{rep}"),
            format!("connect-cluster-r{rep}"),
        );
        let (s, c) = if rep % 2 == 1 {
            let s = single(ctx, &s_tag).await;
            (s, cluster(ctx, &c_tag).await)
        } else {
            let c = cluster(ctx, &c_tag).await;
            (single(ctx, &s_tag).await, c)
        };
        let mut take = |r: Result<Figures, String>, what: &str| match r {
            Ok(f) => {
                eprintln!(
                    "  r{rep} connect {what}: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
                    f.per_s,
                    f.p50_ms.unwrap_or(f64::NAN),
                    f.p99_ms.unwrap_or(f64::NAN)
                );
                Some(f)
            }
            Err(e) => {
                eprintln!("  r{rep} connect {what}: {e}");
                failures.push(format!("r{rep} connect {what}: {e}"));
                None
            }
        };
        pairs.push((take(s, "single"), take(c, "cluster")));
    }
    let pick = |f: fn(&Figures) -> Option<f64>| -> Vec<(Option<f64>, Option<f64>)> {
        pairs
            .iter()
            .map(|(s, c)| (s.as_ref().and_then(f), c.as_ref().and_then(f)))
            .collect()
    };
    let (n, c) = (ctx.connects, ctx.connect_concurrency);
    let what = format!("{n} persistent CONNECTs, {c} at a time");
    vec![
        Row::paired(
            "connect",
            &format!("{what}: CONNECTs/s"),
            &pick(|f| Some(f.per_s)),
            None,
        ),
        Row::paired(
            "connect",
            &format!("{what}: CONNACK p50 ms"),
            &pick(|f| f.p50_ms),
            None,
        ),
        Row::paired(
            "connect",
            &format!("{what}: CONNACK p99 ms"),
            &pick(|f| f.p99_ms),
            None,
        ),
    ]
}
