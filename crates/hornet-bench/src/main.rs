//! `hornet-bench`: the benchmark harness of Hornet. `run` drives one
//! scenario against a running broker with a lean client of its own (raw
//! tokio sockets and `hornet-codec`, over TCP, TLS, WebSocket or both); `compare` starts Hornet,
//! Mosquitto, rumqttd and RMQTT in turn on equal configurations, runs the
//! suite against each and prints the medians side by side with Hornet's
//! ratio to the best peer. See `docs/benchmarks.md`.

mod bridge;
mod broker;
mod charts;
mod cli;
mod client;
mod cluster;
mod cluster_connect;
mod cluster_conns;
mod cluster_converge;
mod cluster_fanin;
mod cluster_nodes;
mod cluster_table;
mod compare;
mod conns;
mod docs;
mod limits;
mod payload;
mod peers;
mod pki;
mod procstat;
mod publisher;
mod report;
mod runner;
mod scenario;
mod shared;
mod single;
mod stats;
mod subscriber;
mod suite;
mod tracker;
mod transport;
mod wire;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let Err(e) = limits::raise_nofile() {
        eprintln!("hornet-bench: {e}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hornet-bench: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        cli::Command::Run(args) => runtime.block_on(single::main(args)),
        cli::Command::Compare(args) => runtime.block_on(compare::main(args)),
        cli::Command::Cluster(args) => runtime.block_on(cluster::main(args)),
    }
}
