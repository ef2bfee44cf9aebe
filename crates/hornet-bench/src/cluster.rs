//! `hornet-bench cluster`: Hornet nodes clustered with etcd (one member,
//! data on tmpfs) measured against a single Hornet node with the same
//! configuration, in the same run, on this machine (issue 18's
//! "Performance"). Entries: `fanin-q0`, `fanin-q1` (`cluster_fanin.rs`),
//! `converge` (`cluster_converge.rs`), `connect` (`cluster_connect.rs`),
//! `conns` (`cluster_conns.rs`). Prints a Markdown table of ratios
//! (`cluster_table.rs`) and writes the rows as JSON. Fails when a run
//! fails (a lost QoS 1 message, a node exiting, an error), not when a
//! goal is missed: the table says that.

use std::path::PathBuf;
use std::process::ExitCode;

use hornet_codec::QoS;
use serde::Serialize;

use crate::cli::ClusterArgs;
use crate::cluster_nodes::{Etcd, Membership, Node};
use crate::cluster_table::{self, Row};
use crate::{cluster_connect, cluster_conns, cluster_converge, cluster_fanin};

/// Every entry, in run order.
pub(crate) const ENTRIES: &[&str] = &["fanin-q0", "fanin-q1", "converge", "connect", "conns"];

/// What the entries share: binaries, sizes, the etcd, a run counter.
pub(crate) struct Ctx {
    /// The Hornet binary.
    pub(crate) hornet: PathBuf,
    /// Configurations and logs.
    pub(crate) work: PathBuf,
    /// The etcd every cluster uses (each under a cluster name of its own).
    pub(crate) etcd: Etcd,
    /// Repetitions.
    pub(crate) reps: usize,
    /// Fan-in window and warm-up, s.
    pub(crate) seconds: f64,
    /// Fan-in warm-up, s.
    pub(crate) warmup: f64,
    /// Fan-in publishers.
    pub(crate) publishers: usize,
    /// Convergence rounds.
    pub(crate) rounds: usize,
    /// Persistent CONNECTs per run.
    pub(crate) connects: usize,
    /// CONNECTs in progress at a time.
    pub(crate) connect_concurrency: usize,
    /// Idle connections per node.
    pub(crate) connections: usize,
    /// Idle watch, s.
    pub(crate) idle_seconds: f64,
    clusters: usize,
}

impl Ctx {
    /// Starts `N` nodes `n1`..`nN` of a fresh cluster (its own name, so no
    /// key of an earlier run is in its way) and waits until every node's
    /// links to the others are up.
    pub(crate) async fn cluster<const N: usize>(&mut self, tag: &str) -> Result<[Node; N], String> {
        self.clusters += 1;
        let cluster = format!("bench{}-{}", std::process::id(), self.clusters);
        let mut nodes = Vec::with_capacity(N);
        for i in 1..=N {
            let member = Membership {
                cluster: cluster.clone(),
                node: format!("n{i}"),
                etcd: self.etcd.url.clone(),
            };
            let node_tag = format!("{tag}-n{i}");
            nodes.push(Node::start(&self.hornet, &self.work, &node_tag, Some(&member)).await?);
        }
        let names: Vec<String> = (1..=N).map(|i| format!("n{i}")).collect();
        for (i, node) in nodes.iter().enumerate() {
            let others: Vec<&str> = names
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, n)| n.as_str())
                .collect();
            node.wait_links(&others).await?;
        }
        nodes.try_into().map_err(|_| "node count".to_string())
    }
}

#[derive(Serialize)]
struct Output<'a> {
    command: String,
    rows: &'a [Row],
    failures: &'a [String],
}

/// The `cluster` subcommand.
pub(crate) async fn main(args: ClusterArgs) -> ExitCode {
    match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hornet-bench cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: ClusterArgs) -> Result<ExitCode, String> {
    let entries: Vec<String> = if args.entries.is_empty() {
        ENTRIES.iter().map(|e| e.to_string()).collect()
    } else {
        args.entries.clone()
    };
    if let Some(bad) = entries.iter().find(|e| !ENTRIES.contains(&e.as_str())) {
        return Err(format!(
            "no entry {bad:?}; the entries are {}",
            ENTRIES.join(", ")
        ));
    }
    let hornet = crate::compare::find_hornet_at(args.hornet.as_deref())?;
    if !args.etcd.is_file() {
        return Err(format!(
            "no etcd at {} (apt-get install etcd-server, or pass --etcd PATH)",
            args.etcd.display()
        ));
    }
    let work = args.work_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("hornet-bench-cluster-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let etcd = Etcd::start(&args.etcd, &work).await?;
    let smoke = args.smoke;
    let mut ctx = Ctx {
        hornet,
        work: work.clone(),
        etcd,
        reps: if smoke { 1 } else { args.reps.max(1) },
        seconds: args.seconds.unwrap_or(if smoke { 1.0 } else { 5.0 }),
        warmup: if smoke { 0.5 } else { 1.0 },
        publishers: args.publishers.unwrap_or(if smoke { 10 } else { 100 }),
        rounds: args.rounds.unwrap_or(if smoke { 20 } else { 300 }),
        connects: args.connects.unwrap_or(if smoke { 100 } else { 2000 }),
        connect_concurrency: args.connect_concurrency.max(1),
        connections: args.connections.unwrap_or(if smoke { 200 } else { 19_000 }),
        idle_seconds: args.idle_seconds.unwrap_or(if smoke { 1.0 } else { 10.0 }),
        clusters: 0,
    };
    eprintln!(
        "hornet-bench cluster: {} against etcd {}; work dir {}",
        ctx.hornet.display(),
        ctx.etcd.url,
        work.display()
    );
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for entry in &entries {
        eprintln!("hornet-bench cluster: {entry}");
        let got = match entry.as_str() {
            "fanin-q0" => cluster_fanin::run(&mut ctx, QoS::AtMostOnce, &mut failures).await,
            "fanin-q1" => cluster_fanin::run(&mut ctx, QoS::AtLeastOnce, &mut failures).await,
            "converge" => cluster_converge::run(&mut ctx, &mut failures).await,
            "connect" => cluster_connect::run(&mut ctx, &mut failures).await,
            _ => cluster_conns::run(&mut ctx, &mut failures).await,
        };
        rows.extend(got);
    }
    println!("{}", cluster_table::render(&rows));
    for f in &failures {
        println!("- FAILED: {f}");
    }
    let output = Output {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        rows: &rows,
        failures: &failures,
    };
    if let Some(dir) = args.json_out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&output).map_err(|e| e.to_string())?;
    std::fs::write(&args.json_out, text)
        .map_err(|e| format!("writing {}: {e}", args.json_out.display()))?;
    eprintln!("hornet-bench cluster: rows in {}", args.json_out.display());
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
