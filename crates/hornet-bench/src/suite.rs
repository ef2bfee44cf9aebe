//! The `compare` suite: which runs make up a comparison, at full size or
//! in `--smoke` size, and which figures each contributes to the table.

use hornet_codec::{Protocol, QoS};

use crate::report::Report;
use crate::scenario::{self, Params, Scenario};
use crate::stats::Better;
use crate::transport::Transport;

/// Latency rates the step search tries, msgs/s (capped by `--max-rate`).
pub(crate) const LATENCY_RATES: &[f64] = &[
    10_000.0, 25_000.0, 50_000.0, 100_000.0, 200_000.0, 400_000.0,
];
/// Latency rates shown as their own rows.
pub(crate) const LATENCY_ROWS: &[f64] = &[10_000.0, 25_000.0, 50_000.0];
/// Smoke latency rates.
const SMOKE_RATES: &[f64] = &[1_000.0, 5_000.0];
/// Payload of the `bigmsg` entries: 1 MB, under Hornet's default
/// `max_packet_size` of 1 MiB with the headers.
pub(crate) const BIG_PAYLOAD: usize = 1_000_000;
/// Messages per second of the `bigmsg` entries (20 MB/s).
const BIG_RATE: f64 = 20.0;
/// Publishers of the device-like fan-in entries.
pub(crate) const DEVICE_PUBLISHERS: usize = 10;
/// Subscribers of the device-like fan-out entry.
pub(crate) const DEVICE_FANOUT: usize = 100;
/// Total rate of the paced device-like entry, msgs/s.
pub(crate) const DEVICE_RATE: f64 = 100_000.0;

/// What kind of entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// A message scenario run once per broker and repetition.
    Throughput,
    /// The idle connections scenario.
    Conns,
    /// A latency step search over these rates (stops at saturation).
    Latency(Vec<f64>),
    /// One run at the fixed rate of its parameters: latency and cost.
    FixedRate,
    /// QoS 1 bridged out to a Mosquitto sink (`bridge.rs`).
    Bridge,
}

/// One entry of the suite.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// Short id (`--scenarios` selects by it).
    pub(crate) id: &'static str,
    /// Human description.
    pub(crate) label: String,
    /// Parameters of its runs.
    pub(crate) params: Params,
    /// What kind.
    pub(crate) kind: Kind,
    /// Configuration lines added for this entry (both brokers). `{data}`
    /// stands for a fresh data directory of the run.
    pub(crate) extra_settings: &'static [&'static str],
    /// Configuration lines for Hornet only (keys Mosquitto would refuse).
    pub(crate) hornet_settings: &'static [&'static str],
}

/// Sizes of a suite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SuiteSize {
    /// Measurement window, s.
    pub(crate) seconds: f64,
    /// Warm-up, s.
    pub(crate) warmup: f64,
    /// Smoke sizes.
    pub(crate) smoke: bool,
    /// Highest latency rate.
    pub(crate) max_rate: f64,
    /// How long the `idle` entry watches an idle broker, s.
    pub(crate) idle_seconds: f64,
}

/// The suite, in run order.
pub(crate) fn suite(size: SuiteSize) -> Vec<Entry> {
    let smoke = size.smoke;
    let base = Params {
        scenario: Scenario::Fanin,
        qos: QoS::AtMostOnce,
        payload: 64,
        protocol: Protocol::V3_1_1,
        seconds: size.seconds,
        warmup: size.warmup,
        publishers: if smoke {
            10
        } else {
            scenario::DEFAULT_FANIN_PUBLISHERS
        },
        subscribers: 1,
        connections: 0,
        rate: 0.0,
        window: 64,
        max_ahead: scenario::max_ahead(100_000, 64),
        concurrency: 200,
        drain: 5.0,
        device: false,
        keep_alive: 60,
        transport: Transport::Tcp,
    };
    let pairs = if smoke { 10 } else { scenario::DEFAULT_PAIRS };
    let fanout = if smoke {
        50
    } else {
        scenario::DEFAULT_FANOUT_SUBSCRIBERS
    };
    let throughput = |id, label: String, params: Params| Entry {
        id,
        label,
        params,
        kind: Kind::Throughput,
        extra_settings: &[],
        hornet_settings: &[],
    };
    let fanin = |qos: QoS, payload: usize, protocol: Protocol| Params {
        qos,
        payload,
        protocol,
        max_ahead: scenario::max_ahead(100_000, payload),
        ..base.clone()
    };
    let pairs_params = |qos| Params {
        scenario: Scenario::Pairs,
        qos,
        publishers: pairs,
        subscribers: pairs,
        ..base.clone()
    };
    let p = base.publishers;
    let durable_params = Params {
        scenario: Scenario::Durable,
        ..fanin(QoS::AtLeastOnce, 64, Protocol::V3_1_1)
    };
    let durable = |id, label: String, hornet: &'static [&'static str], on: bool| Entry {
        id,
        label,
        params: durable_params.clone(),
        kind: Kind::Throughput,
        extra_settings: if on {
            &["persistence true", "persistence_location {data}"]
        } else {
            &[]
        },
        hornet_settings: hornet,
    };
    let over = |transport: Transport, params: Params| Params {
        transport,
        ..params
    };
    let big = |transport: Transport| Params {
        scenario: Scenario::Latency,
        payload: BIG_PAYLOAD,
        publishers: 1,
        rate: if smoke { 5.0 } else { BIG_RATE },
        max_ahead: scenario::max_ahead(100_000, BIG_PAYLOAD),
        transport,
        ..base.clone()
    };
    let bigmsg = |id, transport: Transport| Entry {
        id,
        label: format!(
            "1 MB messages 1→1 QoS 0 at {}/s over {}",
            big(transport).rate,
            transport.name()
        ),
        params: big(transport),
        kind: Kind::FixedRate,
        extra_settings: &["set_tcp_nodelay true"],
        hornet_settings: &[],
    };
    // Over WebSocket and TLS 5,000 connections (TLS ones are not parked).
    let conns = |id, transport: Transport| {
        let n = match (smoke, transport) {
            (true, _) => 200,
            (false, Transport::Tcp) => scenario::DEFAULT_CONNECTIONS,
            (false, _) => 5_000,
        };
        Entry {
            id,
            label: if transport == Transport::Tcp {
                format!("{n} idle connections")
            } else {
                format!("{n} idle connections over {}", transport.name())
            },
            params: Params {
                scenario: Scenario::Conns,
                connections: n,
                seconds: if smoke { 0.5 } else { 3.0 },
                transport,
                ..base.clone()
            },
            kind: Kind::Conns,
            extra_settings: &[],
            hornet_settings: &[],
        }
    };
    // In smoke size half a second measured: CI runs every entry.
    let device = |params: Params| Params {
        device: true,
        seconds: if smoke {
            params.seconds.min(0.5)
        } else {
            params.seconds
        },
        ..params
    };
    let fanin_dev = |qos: QoS| Params {
        publishers: DEVICE_PUBLISHERS,
        ..fanin(qos, 64, Protocol::V3_1_1)
    };
    let dev_rate = if smoke { 5_000.0 } else { DEVICE_RATE };
    let dev_fanout = if smoke { 20 } else { DEVICE_FANOUT };
    let rates: Vec<f64> = if smoke {
        SMOKE_RATES.to_vec()
    } else {
        LATENCY_RATES
            .iter()
            .copied()
            .filter(|&r| r <= size.max_rate)
            .collect()
    };
    vec![
        throughput(
            "fanin-q0",
            format!("fanin {p}→1 QoS 0 64 B"),
            fanin(QoS::AtMostOnce, 64, Protocol::V3_1_1),
        ),
        throughput(
            "fanin-q1",
            format!("fanin {p}→1 QoS 1 64 B"),
            fanin(QoS::AtLeastOnce, 64, Protocol::V3_1_1),
        ),
        throughput(
            "fanin-q2",
            format!("fanin {p}→1 QoS 2 64 B"),
            fanin(QoS::ExactlyOnce, 64, Protocol::V3_1_1),
        ),
        throughput(
            "fanin-q0-16k",
            format!("fanin {p}→1 QoS 0 16 KiB"),
            fanin(QoS::AtMostOnce, 16 * 1024, Protocol::V3_1_1),
        ),
        throughput(
            "pairs-q0",
            format!("pairs {pairs} QoS 0 64 B"),
            pairs_params(QoS::AtMostOnce),
        ),
        throughput(
            "pairs-q1",
            format!("pairs {pairs} QoS 1 64 B"),
            pairs_params(QoS::AtLeastOnce),
        ),
        throughput(
            "fanout-q0",
            format!("fanout 1→{fanout} QoS 0 64 B"),
            Params {
                scenario: Scenario::Fanout,
                publishers: 1,
                subscribers: fanout,
                ..base.clone()
            },
        ),
        throughput(
            "fanin-q1-v5",
            format!("fanin {p}→1 QoS 1 64 B MQTT 5"),
            fanin(QoS::AtLeastOnce, 64, Protocol::V5),
        ),
        conns("conns", Transport::Tcp),
        Entry {
            id: "latency",
            label: format!(
                "latency {}→1 QoS 0 64 B, fixed rates",
                scenario::DEFAULT_LATENCY_PUBLISHERS
            ),
            params: Params {
                scenario: Scenario::Latency,
                publishers: scenario::DEFAULT_LATENCY_PUBLISHERS,
                ..base.clone()
            },
            kind: Kind::Latency(rates.clone()),
            // Latency is what TCP_NODELAY is for: Hornet always sets it,
            // Mosquitto only when told.
            extra_settings: &["set_tcp_nodelay true"],
            hornet_settings: &[],
        },
        // Durability (docs/durability.md): QoS 1 fan-in to a persistent
        // subscriber with persistence on (Hornet: fsync before every
        // PUBACK, by group commit; Mosquitto: `persistence true`, which
        // snapshots memory every 30 minutes and never syncs per message),
        // then Hornet without fsync and with persistence off.
        durable(
            "durable-q1",
            format!("durable fanin {p}→1 QoS 1 64 B, persistence true (Hornet fsync)"),
            &["fsync fsync"],
            true,
        ),
        durable(
            "durable-q1-nosync",
            format!("durable fanin {p}→1 QoS 1 64 B, persistence true (Hornet fsync none)"),
            &["fsync none"],
            true,
        ),
        durable(
            "durable-q1-off",
            format!("durable fanin {p}→1 QoS 1 64 B, persistence false"),
            &[],
            false,
        ),
        // WebSocket and TLS (docs/benchmarks.md#websocket-and-tls): the
        // same scenarios as above over another transport (the ratio to the
        // tcp entry is what the transport costs), and 1 MB messages, where
        // Mosquitto's WebSocket path is slow.
        throughput(
            "fanin-q0-ws",
            format!("fanin {p}→1 QoS 0 64 B over ws"),
            over(Transport::Ws, fanin(QoS::AtMostOnce, 64, Protocol::V3_1_1)),
        ),
        throughput(
            "fanin-q0-tls",
            format!("fanin {p}→1 QoS 0 64 B over tls"),
            over(Transport::Tls, fanin(QoS::AtMostOnce, 64, Protocol::V3_1_1)),
        ),
        throughput(
            "pairs-q1-ws",
            format!("pairs {pairs} QoS 1 64 B over ws"),
            over(Transport::Ws, pairs_params(QoS::AtLeastOnce)),
        ),
        throughput(
            "pairs-q1-tls",
            format!("pairs {pairs} QoS 1 64 B over tls"),
            over(Transport::Tls, pairs_params(QoS::AtLeastOnce)),
        ),
        throughput(
            "pairs-q1-wss",
            format!("pairs {pairs} QoS 1 64 B over wss"),
            over(Transport::Wss, pairs_params(QoS::AtLeastOnce)),
        ),
        conns("conns-ws", Transport::Ws),
        conns("conns-tls", Transport::Tls),
        conns("conns-wss", Transport::Wss),
        Entry {
            id: "latency-ws",
            label: format!(
                "latency {}→1 QoS 0 64 B over ws, fixed rates",
                scenario::DEFAULT_LATENCY_PUBLISHERS
            ),
            params: Params {
                scenario: Scenario::Latency,
                publishers: scenario::DEFAULT_LATENCY_PUBLISHERS,
                transport: Transport::Ws,
                ..base.clone()
            },
            kind: Kind::Latency(rates),
            extra_settings: &["set_tcp_nodelay true"],
            hornet_settings: &[],
        },
        bigmsg("bigmsg", Transport::Tcp),
        bigmsg("bigmsg-ws", Transport::Ws),
        // Load as devices send it: every publisher writes one message per
        // syscall (the entries above batch up to 64 per write at QoS 0),
        // saturated and at a paced total rate.
        throughput(
            "dev-fanin-q0",
            format!("device-like fanin {DEVICE_PUBLISHERS}→1 QoS 0 64 B, saturated"),
            device(fanin_dev(QoS::AtMostOnce)),
        ),
        throughput(
            "dev-fanin-q1",
            format!("device-like fanin {DEVICE_PUBLISHERS}→1 QoS 1 64 B, saturated"),
            device(fanin_dev(QoS::AtLeastOnce)),
        ),
        Entry {
            id: "dev-fanin-q0-paced",
            label: format!(
                "device-like fanin {DEVICE_PUBLISHERS}→1 QoS 0 64 B paced at {}/s",
                crate::stats::fmt_value(Some(dev_rate))
            ),
            params: device(Params {
                scenario: Scenario::Latency,
                rate: dev_rate,
                ..fanin_dev(QoS::AtMostOnce)
            }),
            kind: Kind::FixedRate,
            extra_settings: &["set_tcp_nodelay true"],
            hornet_settings: &[],
        },
        throughput(
            "dev-fanout-q0",
            format!("device-like fanout 1→{dev_fanout} QoS 0 64 B, saturated"),
            device(Params {
                scenario: Scenario::Fanout,
                publishers: 1,
                subscribers: dev_fanout,
                ..base.clone()
            }),
        ),
        // What an idle broker costs: the `conns` scenario held long, with
        // `sys_interval 0` (no $SYS timer) from the shared settings.
        Entry {
            id: "idle",
            label: format!(
                "idle broker, {} connections held {} s",
                if smoke {
                    200
                } else {
                    scenario::DEFAULT_CONNECTIONS
                },
                size.idle_seconds
            ),
            params: Params {
                scenario: Scenario::Conns,
                connections: if smoke {
                    200
                } else {
                    scenario::DEFAULT_CONNECTIONS
                },
                seconds: size.idle_seconds,
                ..base.clone()
            },
            kind: Kind::Conns,
            extra_settings: &[],
            hornet_settings: &[],
        },
        // Bridges (docs/bridges.md): QoS 1 bridged out to a Mosquitto sink
        // by the same `connection` block in Hornet and in Mosquitto, and
        // the outbox drained after an outage of the sink.
        Entry {
            id: "bridge-q1",
            label: "bridge out QoS 1 64 B to a Mosquitto sink, 1 publisher".into(),
            params: Params {
                publishers: 1,
                ..fanin(QoS::AtLeastOnce, 64, Protocol::V3_1_1)
            },
            kind: Kind::Bridge,
            extra_settings: &[],
            hornet_settings: &[],
        },
    ]
}

/// One figure of an entry, taken from a run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figure {
    /// Name in the table.
    pub(crate) name: String,
    /// Which way is better.
    pub(crate) better: Better,
}

/// The figures of an entry and how to read each from a repetition's runs
/// (one run, or the steps of a latency search).
pub(crate) fn figures(entry: &Entry) -> Vec<Figure> {
    let f = |name: &str, better| Figure {
        name: name.to_string(),
        better,
    };
    match &entry.kind {
        Kind::Throughput => vec![
            f("delivered msgs/s", Better::Higher),
            f("broker CPU-µs/msg", Better::Lower),
            f("broker peak RSS MiB", Better::Lower),
        ],
        Kind::Conns => vec![
            f("connections held", Better::Higher),
            f("broker bytes/conn", Better::Lower),
            f("broker CPU-µs/conn", Better::Lower),
            f("idle broker CPU-µs/s", Better::Lower),
            f("idle broker wake-ups/s", Better::Lower),
        ],
        Kind::Latency(rates) => {
            let mut v: Vec<Figure> = LATENCY_ROWS
                .iter()
                .filter(|r| rates.contains(r))
                .chain(
                    rates
                        .iter()
                        .filter(|_| rates.iter().all(|r| !LATENCY_ROWS.contains(r)))
                        .take(2),
                )
                .map(|r| {
                    f(
                        &format!("p99 µs @ {}/s", crate::stats::fmt_value(Some(*r))),
                        Better::Lower,
                    )
                })
                .collect();
            v.push(f("best rate p99≤50ms msgs/s", Better::Higher));
            v
        }
        Kind::Bridge => vec![
            f("bridged msgs/s", Better::Higher),
            f("broker CPU-µs/bridged msg", Better::Lower),
            f("outbox drain msgs/s", Better::Higher),
        ],
        Kind::FixedRate => vec![
            f("delivered msgs/s", Better::Higher),
            f("lost msgs (QoS 0)", Better::Lower),
            f("latency p50 µs", Better::Lower),
            f("latency p99 µs", Better::Lower),
            f("broker CPU-µs/msg", Better::Lower),
        ],
    }
}

/// The value of `figure` in one repetition (`runs`: the run, or the latency
/// steps in rate order). `None` when it was not measured.
pub(crate) fn value(figure: &Figure, runs: &[Report]) -> Option<f64> {
    let run = runs.first()?;
    match figure.name.as_str() {
        "delivered msgs/s" | "bridged msgs/s" => Some(run.delivered_per_s),
        "broker CPU-µs/bridged msg" => run.broker_cpu_us_per_msg,
        "outbox drain msgs/s" => run.bridge_drain_per_s,
        "broker CPU-µs/msg" => run.broker_cpu_us_per_msg,
        "broker peak RSS MiB" => run.broker_hwm_kib.map(|k| k as f64 / 1024.0),
        "lost msgs (QoS 0)" => Some(run.lost as f64),
        "latency p50 µs" => run.latency_us.map(|l| l.p50 as f64),
        "latency p99 µs" => run.latency_us.map(|l| l.p99 as f64),
        "connections held" => run.conns.as_ref().map(|c| c.alive_after_hold as f64),
        "broker bytes/conn" => run.conns.as_ref().and_then(|c| c.bytes_per_conn),
        "broker CPU-µs/conn" => run.conns.as_ref().and_then(|c| c.broker_cpu_us_per_conn),
        "idle broker CPU-µs/s" => run.conns.as_ref().and_then(|c| c.idle_cpu_us_per_s),
        "idle broker wake-ups/s" => run.conns.as_ref().and_then(|c| c.idle_wakeups_per_s),
        "best rate p99≤50ms msgs/s" => {
            // The highest step before the first saturated (or failed) one;
            // 0 when the first step already saturated.
            let ok = runs
                .iter()
                .take_while(|r| !crate::single::saturated(r) && !r.failed);
            Some(ok.filter_map(|r| r.target_rate).fold(0.0, f64::max))
        }
        name => {
            let rate = runs.iter().find(|r| {
                r.target_rate.is_some_and(|t| {
                    name == format!("p99 µs @ {}/s", crate::stats::fmt_value(Some(t)))
                })
            })?;
            rate.latency_us.map(|l| l.p99 as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(smoke: bool) -> SuiteSize {
        SuiteSize {
            seconds: 1.0,
            warmup: 0.5,
            smoke,
            max_rate: 50_000.0,
            idle_seconds: 7.0,
        }
    }

    #[test]
    fn the_suite_has_every_asked_for_entry() {
        let ids: Vec<_> = suite(size(false)).iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            [
                "fanin-q0",
                "fanin-q1",
                "fanin-q2",
                "fanin-q0-16k",
                "pairs-q0",
                "pairs-q1",
                "fanout-q0",
                "fanin-q1-v5",
                "conns",
                "latency",
                "durable-q1",
                "durable-q1-nosync",
                "durable-q1-off",
                "fanin-q0-ws",
                "fanin-q0-tls",
                "pairs-q1-ws",
                "pairs-q1-tls",
                "pairs-q1-wss",
                "conns-ws",
                "conns-tls",
                "conns-wss",
                "latency-ws",
                "bigmsg",
                "bigmsg-ws",
                "dev-fanin-q0",
                "dev-fanin-q1",
                "dev-fanin-q0-paced",
                "dev-fanout-q0",
                "idle",
                "bridge-q1"
            ]
        );
        let durable = &suite(size(false))[10];
        assert_eq!(durable.params.scenario, Scenario::Durable);
        assert!(durable.extra_settings.contains(&"persistence true"));
        assert_eq!(durable.hornet_settings, &["fsync fsync"]);
        let full = suite(size(false));
        assert_eq!(full[6].params.subscribers, 1000);
        assert_eq!(full[8].params.connections, 19_000);
        assert_eq!(
            full[9].kind,
            Kind::Latency(vec![10_000.0, 25_000.0, 50_000.0])
        );
        let smoke = suite(size(true));
        assert_eq!(
            (smoke[6].params.subscribers, smoke[8].params.connections),
            (50, 200)
        );
    }

    #[test]
    fn transport_entries_differ_from_their_tcp_twin_only_in_transport() {
        let full = suite(size(false));
        let by_id = |id: &str| full.iter().find(|e| e.id == id).unwrap().clone();
        for (twin, id, transport) in [
            ("fanin-q0", "fanin-q0-ws", Transport::Ws),
            ("fanin-q0", "fanin-q0-tls", Transport::Tls),
            ("pairs-q1", "pairs-q1-ws", Transport::Ws),
            ("pairs-q1", "pairs-q1-tls", Transport::Tls),
            ("pairs-q1", "pairs-q1-wss", Transport::Wss),
            ("latency", "latency-ws", Transport::Ws),
            ("bigmsg", "bigmsg-ws", Transport::Ws),
        ] {
            let (a, b) = (by_id(twin), by_id(id));
            assert_eq!(b.params.transport, transport, "{id}");
            assert_eq!(
                Params {
                    transport: Transport::Tcp,
                    ..b.params.clone()
                },
                a.params,
                "{id}"
            );
            assert_eq!((&a.kind, a.extra_settings), (&b.kind, b.extra_settings));
        }
        for (id, transport) in [
            ("conns-ws", Transport::Ws),
            ("conns-tls", Transport::Tls),
            ("conns-wss", Transport::Wss),
        ] {
            let e = by_id(id);
            assert_eq!(
                (e.params.transport, e.params.connections, &e.kind),
                (transport, 5_000, &Kind::Conns),
                "{id}"
            );
        }
        let big = by_id("bigmsg-ws");
        assert_eq!(
            (big.params.payload, big.params.publishers, big.params.rate),
            (BIG_PAYLOAD, 1, 20.0)
        );
        let figs = figures(&big);
        let run = Report {
            delivered_per_s: 20.0,
            latency_us: Some(crate::report::Latency {
                p50: 7_000,
                p99: 9_000,
                ..Default::default()
            }),
            broker_cpu_us_per_msg: Some(800.0),
            lost: 3,
            ..Report::default()
        };
        let values: Vec<_> = figs
            .iter()
            .map(|f| value(f, std::slice::from_ref(&run)))
            .collect();
        assert_eq!(
            values,
            [
                Some(20.0),
                Some(3.0),
                Some(7_000.0),
                Some(9_000.0),
                Some(800.0)
            ]
        );
    }

    #[test]
    fn latency_figures_read_the_steps() {
        let entry = &suite(size(false))[9];
        let figs = figures(entry);
        assert_eq!(figs.len(), 4);
        let step = |rate: f64, p99: u64| Report {
            target_rate: Some(rate),
            published_per_s: rate,
            latency_us: Some(crate::report::Latency {
                p99,
                ..Default::default()
            }),
            ..Report::default()
        };
        let runs = vec![step(10_000.0, 900), step(25_000.0, 60_000)];
        assert_eq!(value(&figs[0], &runs), Some(900.0));
        assert_eq!(value(&figs[1], &runs), Some(60_000.0));
        assert_eq!(value(&figs[2], &runs), None);
        assert_eq!(value(&figs[3], &runs), Some(10_000.0));
        let none_saturated = vec![step(10_000.0, 900), step(25_000.0, 900)];
        assert_eq!(value(&figs[3], &none_saturated), Some(25_000.0));
        let first_saturated = vec![step(10_000.0, 90_000)];
        assert_eq!(value(&figs[3], &first_saturated), Some(0.0));
    }

    #[test]
    fn device_entries_write_one_message_per_syscall() {
        let full = suite(size(false));
        let by_id = |id: &str| full.iter().find(|e| e.id == id).unwrap().clone();
        for e in &full {
            assert_eq!(e.params.device, e.id.starts_with("dev-"), "{}", e.id);
        }
        let (q0, q1) = (by_id("dev-fanin-q0"), by_id("dev-fanin-q1"));
        assert_eq!(
            (q0.params.publishers, q0.params.qos, q1.params.qos),
            (10, QoS::AtMostOnce, QoS::AtLeastOnce)
        );
        // The batched twin differs only in publishers and write size.
        assert_eq!(
            Params {
                device: false,
                publishers: 100,
                ..q0.params.clone()
            },
            by_id("fanin-q0").params
        );
        let paced = by_id("dev-fanin-q0-paced");
        assert_eq!(
            (paced.params.scenario, paced.params.rate, &paced.kind),
            (Scenario::Latency, 100_000.0, &Kind::FixedRate)
        );
        let fanout = by_id("dev-fanout-q0");
        assert_eq!(
            (fanout.params.publishers, fanout.params.subscribers),
            (1, 100)
        );
        let idle = by_id("idle");
        assert_eq!(
            (idle.params.connections, idle.params.seconds, &idle.kind),
            (19_000, 7.0, &Kind::Conns)
        );
        let figs: Vec<_> = figures(&idle).into_iter().map(|f| f.name).collect();
        assert!(figs.contains(&"idle broker wake-ups/s".to_string()));
        let run = Report {
            conns: Some(crate::report::ConnsFigures {
                idle_cpu_us_per_s: Some(12.0),
                idle_wakeups_per_s: Some(0.5),
                ..Default::default()
            }),
            ..Report::default()
        };
        let value_of = |name: &str| {
            let f = figures(&idle).into_iter().find(|f| f.name == name).unwrap();
            value(&f, std::slice::from_ref(&run))
        };
        assert_eq!(value_of("idle broker CPU-µs/s"), Some(12.0));
        assert_eq!(value_of("idle broker wake-ups/s"), Some(0.5));
        let smoke = suite(size(true));
        let paced = smoke.iter().find(|e| e.id == "dev-fanin-q0-paced").unwrap();
        assert_eq!(paced.params.rate, 5_000.0);
    }

    #[test]
    fn smoke_latency_rows_use_the_smoke_rates() {
        let entry = &suite(size(true))[9];
        let names: Vec<_> = figures(entry).into_iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "p99 µs @ 1,000/s",
                "p99 µs @ 5,000/s",
                "best rate p99≤50ms msgs/s"
            ]
        );
    }
}
