//! The command line: `run` (one scenario against a running broker) and
//! `compare` (Hornet and Mosquitto side by side).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use hornet_codec::{Protocol, QoS};

use crate::scenario::{self, Params, Scenario};
use crate::transport::Transport;

/// Benchmark harness for MQTT brokers: Hornet vs Mosquitto.
#[derive(Debug, Parser)]
#[command(name = "hornet-bench", version)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run one scenario against a running broker.
    Run(RunArgs),
    /// Start Hornet and Mosquitto in turn and run the suite against each.
    Compare(CompareArgs),
    /// Hornet nodes clustered with etcd against a single node (issue 18).
    Cluster(ClusterArgs),
}

/// `hornet-bench cluster`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClusterArgs {
    /// The Hornet binary (default: `hornet` next to this executable).
    #[arg(long)]
    pub(crate) hornet: Option<PathBuf>,
    /// The etcd server binary (Debian `etcd-server`).
    #[arg(long, default_value = "/usr/bin/etcd")]
    pub(crate) etcd: PathBuf,
    /// Entries to run (comma-separated): fanin-q0, fanin-q1, converge,
    /// connect, conns; default all.
    #[arg(long, value_delimiter = ',')]
    pub(crate) entries: Vec<String>,
    /// Repetitions of the fan-in and connect entries; single node and
    /// cluster alternate which goes first.
    #[arg(long, default_value_t = 3)]
    pub(crate) reps: usize,
    /// Quick check for CI: small sizes, one repetition, about 25 s.
    #[arg(long)]
    pub(crate) smoke: bool,
    /// Fan-in measurement window, seconds (default 5, smoke 1).
    #[arg(long)]
    pub(crate) seconds: Option<f64>,
    /// Fan-in publishers (default 100, smoke 10).
    #[arg(long)]
    pub(crate) publishers: Option<usize>,
    /// Route convergence rounds (default 300, smoke 20).
    #[arg(long)]
    pub(crate) rounds: Option<usize>,
    /// Persistent-session CONNECTs per run (default 2000, smoke 100).
    #[arg(long)]
    pub(crate) connects: Option<usize>,
    /// CONNECTs in progress at a time.
    #[arg(long, default_value_t = 10)]
    pub(crate) connect_concurrency: usize,
    /// Idle connections per node of the three (default 19000, smoke 200).
    #[arg(long)]
    pub(crate) connections: Option<usize>,
    /// Seconds the idle connections are watched once all are held
    /// (default 10, smoke 1).
    #[arg(long)]
    pub(crate) idle_seconds: Option<f64>,
    /// Where to write the rows as JSON.
    #[arg(long, default_value = "target/bench/cluster.json")]
    pub(crate) json_out: PathBuf,
    /// Where configurations and logs go (default: a fresh directory in
    /// the system temp dir).
    #[arg(long)]
    pub(crate) work_dir: Option<PathBuf>,
}

/// Scenario sizes and timings, shared by `run` and `compare`.
#[derive(Debug, Clone, Args)]
pub(crate) struct Sizes {
    /// Publishers (fanin: 100, latency: 10).
    #[arg(long)]
    pub(crate) publishers: Option<usize>,
    /// Subscribers (fanout: 1000).
    #[arg(long)]
    pub(crate) subscribers: Option<usize>,
    /// Publisher/subscriber pairs (pairs: 50).
    #[arg(long)]
    pub(crate) pairs: Option<usize>,
    /// Idle connections (conns: 19000).
    #[arg(long)]
    pub(crate) connections: Option<usize>,
    /// Unacknowledged QoS 1/2 messages per publisher.
    #[arg(long, default_value_t = 64)]
    pub(crate) window: usize,
    /// Deliveries outstanding before flooding publishers pause (also capped
    /// at 64 MiB of payload); 0 = never pause.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) max_ahead: u64,
    /// Connection handshakes in progress at a time.
    #[arg(long, default_value_t = 200)]
    pub(crate) concurrency: usize,
    /// Seconds in-flight messages may take to arrive after the publishers
    /// stopped, before what is missing counts as lost.
    #[arg(long, default_value_t = 5.0)]
    pub(crate) drain: f64,
    /// Keep alive of the idle connections of `conns`, seconds (the broker
    /// closes one silent for 1.5 times it: cover the connecting and the
    /// hold).
    #[arg(long, default_value_t = 60)]
    pub(crate) keep_alive: u16,
}

/// `hornet-bench run`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// Broker host.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// Broker port.
    #[arg(long, default_value_t = 1883)]
    pub(crate) port: u16,
    /// Scenario.
    #[arg(long, value_enum, default_value = "fanin")]
    pub(crate) scenario: Scenario,
    /// QoS 0, 1 or 2.
    #[arg(long, default_value = "0", value_parser = parse_qos)]
    pub(crate) qos: QoS,
    /// Payload size in bytes (at least 64).
    #[arg(long, default_value_t = 64, value_parser = parse_payload)]
    pub(crate) payload: usize,
    /// MQTT version: 3.1.1 or 5.
    #[arg(long, default_value = "3.1.1", value_parser = parse_protocol)]
    pub(crate) protocol: Protocol,
    /// What carries MQTT: tcp, tls, ws or wss (WebSocket at path /mqtt).
    #[arg(long, value_enum, default_value = "tcp")]
    pub(crate) transport: Transport,
    /// CA certificate (PEM) the broker's certificate is checked against,
    /// for --transport tls|wss.
    #[arg(long)]
    pub(crate) cafile: Option<PathBuf>,
    /// Measurement window in seconds (conns: how long to hold).
    #[arg(long, default_value_t = 5.0)]
    pub(crate) seconds: f64,
    /// Warm-up before the window, seconds.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) warmup: f64,
    /// Broker pid, for its CPU time and memory from /proc.
    #[arg(long)]
    pub(crate) broker_pid: Option<u32>,
    /// Total publish rate for `latency`, msgs/s.
    #[arg(long, default_value_t = 10_000.0)]
    pub(crate) rate: f64,
    /// For `latency`: step through these rates (comma-separated) and report
    /// the first whose p99 exceeds 50 ms.
    #[arg(long, value_delimiter = ',')]
    pub(crate) rates: Vec<f64>,
    /// Print one JSON object instead of the human line.
    #[arg(long)]
    pub(crate) json: bool,
    /// Load as devices send it: every publisher writes one message per
    /// syscall (default: up to 64 per write at QoS 0).
    #[arg(long)]
    pub(crate) device: bool,
    /// Scenario sizes.
    #[command(flatten)]
    pub(crate) sizes: Sizes,
}

/// Which brokers `compare` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Only {
    /// Hornet.
    Hornet,
    /// Mosquitto.
    Mosquitto,
    /// rumqttd.
    Rumqttd,
    /// RMQTT.
    Rmqtt,
}

impl Only {
    /// The broker.
    pub(crate) fn kind(self) -> crate::broker::Kind {
        use crate::broker::Kind;
        match self {
            Only::Hornet => Kind::Hornet,
            Only::Mosquitto => Kind::Mosquitto,
            Only::Rumqttd => Kind::Rumqttd,
            Only::Rmqtt => Kind::Rmqtt,
        }
    }
}

/// `hornet-bench compare`.
#[derive(Debug, Clone, Args)]
pub(crate) struct CompareArgs {
    /// The Hornet binary (default: `hornet` next to this executable).
    #[arg(long)]
    pub(crate) hornet: Option<PathBuf>,
    /// The Mosquitto binary (default: /usr/sbin/mosquitto, else on PATH).
    #[arg(long)]
    pub(crate) mosquitto: Option<PathBuf>,
    /// Repetitions; the broker that goes first alternates.
    #[arg(long, default_value_t = 3)]
    pub(crate) reps: usize,
    /// Suite entries to run (comma-separated ids, see the table), default all.
    #[arg(long, value_delimiter = ',')]
    pub(crate) scenarios: Vec<String>,
    /// Measurement window per run, seconds.
    #[arg(long)]
    pub(crate) seconds: Option<f64>,
    /// Warm-up per run, seconds.
    #[arg(long)]
    pub(crate) warmup: Option<f64>,
    /// Quick check: every entry once, about 1 s each, small sizes; peers
    /// run only if already built.
    #[arg(long)]
    pub(crate) smoke: bool,
    /// Run these brokers only (comma-separated), default all four.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub(crate) only: Vec<Only>,
    /// Where the peers (rumqttd, RMQTT) are installed with `cargo install
    /// --root` (default: `target/peers` beside this executable's
    /// directory).
    #[arg(long)]
    pub(crate) peers_dir: Option<PathBuf>,
    /// Never build a missing peer; skip it.
    #[arg(long)]
    pub(crate) no_build_peers: bool,
    /// How long the `idle` entry watches the idle broker, seconds
    /// (default 60, smoke 0.5).
    #[arg(long)]
    pub(crate) idle_seconds: Option<f64>,
    /// Highest rate the latency step search tries, msgs/s.
    #[arg(long, default_value_t = 400_000.0)]
    pub(crate) max_rate: f64,
    /// Where to write every run and the medians as JSON.
    #[arg(long, default_value = "target/bench/results.json")]
    pub(crate) json_out: PathBuf,
    /// Regenerate the results section of this Markdown file (between
    /// `<!-- bench:begin -->` and `<!-- bench:end -->`) and its charts in
    /// `bench/` beside it.
    #[arg(long)]
    pub(crate) docs: Option<PathBuf>,
    /// Where broker configs and logs go (default: a fresh directory in the
    /// system temp dir).
    #[arg(long)]
    pub(crate) work_dir: Option<PathBuf>,
}

fn parse_qos(s: &str) -> Result<QoS, String> {
    s.parse::<u8>()
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| "QoS must be 0, 1 or 2".to_string())
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    match s {
        "3.1.1" | "4" | "311" => Ok(Protocol::V3_1_1),
        "5" | "5.0" => Ok(Protocol::V5),
        _ => Err("protocol must be 3.1.1 or 5".to_string()),
    }
}

fn parse_payload(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if n < crate::payload::MIN_PAYLOAD {
        return Err(format!(
            "payload must be at least {} bytes",
            crate::payload::MIN_PAYLOAD
        ));
    }
    Ok(n)
}

impl RunArgs {
    /// The run's parameters with the scenario's default sizes filled in.
    pub(crate) fn params(&self) -> Params {
        let s = &self.sizes;
        let (publishers, subscribers) = match self.scenario {
            Scenario::Fanin | Scenario::Conns | Scenario::Durable => (
                s.publishers.unwrap_or(scenario::DEFAULT_FANIN_PUBLISHERS),
                1,
            ),
            Scenario::Latency => (
                s.publishers.unwrap_or(scenario::DEFAULT_LATENCY_PUBLISHERS),
                1,
            ),
            Scenario::Fanout => (
                1,
                s.subscribers
                    .unwrap_or(scenario::DEFAULT_FANOUT_SUBSCRIBERS),
            ),
            Scenario::Pairs => {
                let n = s.pairs.unwrap_or(scenario::DEFAULT_PAIRS);
                (n, n)
            }
        };
        Params {
            scenario: self.scenario,
            qos: self.qos,
            payload: self.payload,
            protocol: self.protocol,
            transport: self.transport,
            seconds: self.seconds,
            warmup: self.warmup,
            publishers,
            subscribers,
            connections: s.connections.unwrap_or(scenario::DEFAULT_CONNECTIONS),
            rate: self.rate,
            window: s.window.max(1),
            max_ahead: scenario::max_ahead(s.max_ahead, self.payload),
            concurrency: s.concurrency.max(1),
            drain: s.drain.max(0.0),
            device: self.device,
            keep_alive: s.keep_alive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_per_scenario() {
        let cli = Cli::parse_from([
            "hornet-bench",
            "run",
            "--scenario",
            "fanout",
            "--qos",
            "2",
            "--protocol",
            "5",
        ]);
        let Command::Run(args) = cli.command else {
            panic!()
        };
        let p = args.params();
        assert_eq!(
            (p.publishers, p.subscribers, p.qos, p.protocol),
            (1, 1000, QoS::ExactlyOnce, Protocol::V5)
        );
        let cli = Cli::parse_from(["hornet-bench", "run", "--scenario", "pairs", "--pairs", "7"]);
        let Command::Run(args) = cli.command else {
            panic!()
        };
        assert_eq!(
            (args.params().publishers, args.params().subscribers),
            (7, 7)
        );
        assert_eq!(args.params().keep_alive, 60);
        let cli = Cli::parse_from([
            "hornet-bench",
            "run",
            "--scenario",
            "conns",
            "--keep-alive",
            "600",
        ]);
        let Command::Run(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.params().keep_alive, 600);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Cli::try_parse_from(["hornet-bench", "run", "--payload", "10"]).is_err());
        assert!(Cli::try_parse_from(["hornet-bench", "run", "--qos", "3"]).is_err());
        assert!(Cli::try_parse_from(["hornet-bench", "run", "--protocol", "3.1"]).is_err());
        assert!(Cli::try_parse_from(["hornet-bench", "run", "--rates", "1000,5000"]).is_ok());
    }
}
