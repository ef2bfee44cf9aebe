//! The `fanin-q0` / `fanin-q1` entries of the `cluster` command: P
//! publishers on node 2, the subscriber on node 1 (every message crosses
//! the node link once), against the same load on a single node, measured
//! one right after the other in each repetition (which goes first
//! alternates). Figures: delivered msgs/s, and broker CPU-µs per delivered
//! message of both nodes together against the single node's.

use hornet_codec::{Protocol, QoS};

use crate::client::Target;
use crate::cluster::Ctx;
use crate::cluster_nodes::{node_metric, Node};
use crate::cluster_table::{Goal, Row};
use crate::report::Report;
use crate::runner::{self, Placement};
use crate::scenario::{self, Params, Scenario};
use crate::transport::{Carrier, Transport};

/// The parameters of one fan-in run.
pub(crate) fn params(ctx: &Ctx, qos: QoS) -> Params {
    Params {
        scenario: Scenario::Fanin,
        qos,
        payload: 64,
        protocol: Protocol::V3_1_1,
        transport: Transport::Tcp,
        seconds: ctx.seconds,
        warmup: ctx.warmup,
        publishers: ctx.publishers,
        subscribers: 1,
        connections: 0,
        rate: 0.0,
        window: 64,
        max_ahead: scenario::max_ahead(100_000, 64),
        concurrency: 200,
        drain: 5.0,
        device: false,
        keep_alive: 60,
    }
}

/// A plain TCP target on a loopback port.
pub(crate) fn target(port: u16, protocol: Protocol) -> Target {
    Target {
        host: "127.0.0.1".into(),
        port,
        protocol,
        carrier: Carrier::new(Transport::Tcp, None).expect("plain TCP needs no TLS"),
    }
}

/// One run on a single node.
async fn single(ctx: &Ctx, p: &Params, tag: &str) -> Result<Report, String> {
    let mut node = Node::start(&ctx.hornet, &ctx.work, tag, None).await?;
    let t = target(node.port, p.protocol);
    let at = Placement {
        subscribers: &t,
        publishers: &t,
        brokers: &[node.process.pid],
    };
    let report = runner::run_placed(&at, p, async { Ok(()) }).await;
    if !node.process.alive() {
        return Err(format!("{tag} exited during the run"));
    }
    node.process.stop();
    Ok(report)
}

/// One run with the subscriber on node 1 and the publishers on node 2.
async fn across(ctx: &mut Ctx, p: &Params, tag: &str) -> Result<Report, String> {
    let [n1, n2] = ctx.cluster::<2>(tag).await?;
    let (t1, t2) = (target(n1.port, p.protocol), target(n2.port, p.protocol));
    let at = Placement {
        subscribers: &t1,
        publishers: &t2,
        brokers: &[n1.process.pid, n2.process.pid],
    };
    // The publishers start once node 2 has node 1's route for the
    // subscriber's filter: nothing published is lost to convergence.
    let report = runner::run_placed(&at, p, n2.wait_routes("n1", 1)).await;
    link_counts(&n1, &n2).await;
    for (mut n, name) in [(n1, "n1"), (n2, "n2")] {
        if !n.process.alive() {
            return Err(format!("{tag} {name} exited during the run"));
        }
        n.process.stop();
    }
    Ok(report)
}

/// Prints what crossed the link n2 → n1, from both nodes' `/metrics`: a
/// message lost in the cluster shows here as forwarded but not received,
/// or as dropped on n2.
async fn link_counts(n1: &Node, n2: &Node) {
    let (Ok(m1), Ok(m2)) = (n1.metrics().await, n2.metrics().await) else {
        return;
    };
    let dropped = m2
        .lines()
        .find_map(|l| l.strip_prefix("hornet_cluster_dropped_total "))
        .unwrap_or("?");
    eprintln!(
        "  link n2 → n1: n2 forwarded {:?}, n1 received {:?}, n2 dropped {dropped}",
        node_metric(&m2, "hornet_cluster_forwarded_total", "n1"),
        node_metric(&m1, "hornet_cluster_received_total", "n2"),
    );
}

fn checked(r: Result<Report, String>, what: &str, failures: &mut Vec<String>) -> Option<Report> {
    match r {
        Ok(r) => {
            eprintln!("  {what}: {}", r.human());
            if r.failed {
                failures.push(format!("{what}: {}", r.failures.join("; ")));
            }
            Some(r)
        }
        Err(e) => {
            eprintln!("  {what}: {e}");
            failures.push(format!("{what}: {e}"));
            None
        }
    }
}

/// Runs the entry for `qos`; returns its rows.
pub(crate) async fn run(ctx: &mut Ctx, qos: QoS, failures: &mut Vec<String>) -> Vec<Row> {
    let id = format!("fanin-q{}", qos as u8);
    let p = params(ctx, qos);
    let mut pairs = Vec::new();
    for rep in 1..=ctx.reps {
        let (s, c) = if rep % 2 == 1 {
            let s = single(ctx, &p, &format!("{id}-single-r{rep}")).await;
            let c = across(ctx, &p, &format!("{id}-cluster-r{rep}")).await;
            (s, c)
        } else {
            let c = across(ctx, &p, &format!("{id}-cluster-r{rep}")).await;
            let s = single(ctx, &p, &format!("{id}-single-r{rep}")).await;
            (s, c)
        };
        let s = checked(s, &format!("r{rep} {id} single"), failures);
        let c = checked(c, &format!("r{rep} {id} cluster"), failures);
        pairs.push((s, c));
    }
    let pick = |f: fn(&Report) -> Option<f64>| -> Vec<(Option<f64>, Option<f64>)> {
        pairs
            .iter()
            .map(|(s, c)| (s.as_ref().and_then(f), c.as_ref().and_then(f)))
            .collect()
    };
    let n = p.publishers;
    vec![
        Row::paired(
            &id,
            &format!("{n}→1 QoS {}: delivered msgs/s", qos as u8),
            &pick(|r| Some(r.delivered_per_s)),
            Some(Goal::AtLeast(0.5)),
        ),
        Row::paired(
            &id,
            &format!(
                "{n}→1 QoS {}: broker CPU-µs per delivered msg (cluster: both nodes)",
                qos as u8
            ),
            &pick(|r| r.broker_cpu_us_per_msg),
            Some(Goal::AtMost(2.0)),
        ),
    ]
}
