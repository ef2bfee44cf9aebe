//! Scenarios and their parameters: who publishes what to whom.
//!
//! - `fanin`: P publishers on `bench/<i>` → 1 subscriber on `bench/#`.
//! - `fanout`: 1 publisher → S subscribers of `bench/fan`.
//! - `pairs`: N publisher/subscriber pairs on `bench/pair/<i>`.
//! - `conns`: K idle connections (keep-alive 60), no traffic.
//! - `latency`: like `fanin`, but the publishers pace a fixed total rate.
//! - `durable`: like `fanin`, to a persistent subscriber (clean session 0),
//!   for the broker's persistence settings (docs/durability.md).

use hornet_codec::{Protocol, QoS};
use serde::{Deserialize, Serialize};

use crate::publisher::Pace;
use crate::transport::Transport;

/// A scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scenario {
    /// Many publishers to one subscriber.
    Fanin,
    /// One publisher to many subscribers.
    Fanout,
    /// Publisher/subscriber pairs on distinct topics.
    Pairs,
    /// Idle connections.
    Conns,
    /// Fixed-rate latency.
    Latency,
    /// Fan-in to a persistent subscriber.
    Durable,
}

impl Scenario {
    /// The lowercase name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Fanin => "fanin",
            Scenario::Fanout => "fanout",
            Scenario::Pairs => "pairs",
            Scenario::Conns => "conns",
            Scenario::Latency => "latency",
            Scenario::Durable => "durable",
        }
    }
}

/// Everything one run needs to know, sizes already resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Params {
    /// Which scenario.
    pub(crate) scenario: Scenario,
    /// QoS of publications and subscriptions.
    pub(crate) qos: QoS,
    /// Payload bytes.
    pub(crate) payload: usize,
    /// MQTT version.
    pub(crate) protocol: Protocol,
    /// What carries MQTT.
    pub(crate) transport: Transport,
    /// Measurement window, s (for `conns`: how long to hold).
    pub(crate) seconds: f64,
    /// Warm-up before the window, s.
    pub(crate) warmup: f64,
    /// Publishers (fanin, latency), pairs (pairs), 1 (fanout).
    pub(crate) publishers: usize,
    /// Subscribers (fanout), 1 (fanin, latency), pairs (pairs).
    pub(crate) subscribers: usize,
    /// Connections (conns).
    pub(crate) connections: usize,
    /// Total rate, msgs/s (latency).
    pub(crate) rate: f64,
    /// QoS 1/2 window per publisher.
    pub(crate) window: usize,
    /// Most deliveries outstanding before flooding publishers pause; 0 =
    /// unbounded.
    pub(crate) max_ahead: u64,
    /// Connections opened at a time.
    pub(crate) concurrency: usize,
    /// How long in-flight messages may take to arrive after the publishers
    /// stopped, s.
    pub(crate) drain: f64,
    /// Device-like load: every publisher writes one message per syscall
    /// (false: batches of up to [`crate::publisher::BATCH`] per write).
    pub(crate) device: bool,
    /// Keep alive of the `conns` scenario's idle connections, seconds: the
    /// broker closes a connection silent for 1.5 times it, so it must
    /// cover the time to open them all plus the hold.
    pub(crate) keep_alive: u16,
}

/// Defaults of a scenario's sizes.
pub(crate) const DEFAULT_FANIN_PUBLISHERS: usize = 100;
/// Default fanout subscribers.
pub(crate) const DEFAULT_FANOUT_SUBSCRIBERS: usize = 1000;
/// Default pairs.
pub(crate) const DEFAULT_PAIRS: usize = 50;
/// Default idle connections.
pub(crate) const DEFAULT_CONNECTIONS: usize = 19_000;
/// Default latency publishers.
pub(crate) const DEFAULT_LATENCY_PUBLISHERS: usize = 10;
/// Outstanding bytes allowed in flight before flooding publishers pause.
const MAX_AHEAD_BYTES: u64 = 64 << 20;

/// Deliveries allowed outstanding: `messages`, but at most 64 MiB of
/// payload, and at least one window's worth.
pub(crate) fn max_ahead(messages: u64, payload: usize) -> u64 {
    if messages == 0 {
        return 0;
    }
    messages
        .min(MAX_AHEAD_BYTES / payload.max(1) as u64)
        .max(1024)
}

/// One publisher of a plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PubSpec {
    /// Topic.
    pub(crate) topic: String,
    /// Pace.
    pub(crate) pace: Pace,
}

/// One subscriber of a plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubSpec {
    /// Topic filter.
    pub(crate) filter: String,
    /// Publisher ids whose every message it must receive.
    pub(crate) expects: Vec<u32>,
}

/// The connections of a message scenario.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// Publishers, by id.
    pub(crate) publishers: Vec<PubSpec>,
    /// Subscribers.
    pub(crate) subscribers: Vec<SubSpec>,
    /// Deliveries per message.
    pub(crate) fan: u64,
}

/// Builds the plan of a message scenario (not `conns`).
pub(crate) fn plan(p: &Params) -> Plan {
    let all = |n: usize| (0..n as u32).collect::<Vec<_>>();
    match p.scenario {
        Scenario::Fanin | Scenario::Latency | Scenario::Conns | Scenario::Durable => {
            let n = p.publishers.max(1);
            let pace = if p.scenario == Scenario::Latency {
                Pace::Rate(p.rate / n as f64)
            } else {
                Pace::Flood
            };
            Plan {
                publishers: (0..n)
                    .map(|i| PubSpec {
                        topic: format!("bench/{i}"),
                        pace,
                    })
                    .collect(),
                subscribers: vec![SubSpec {
                    filter: "bench/#".to_string(),
                    expects: all(n),
                }],
                fan: 1,
            }
        }
        Scenario::Fanout => {
            let n = p.subscribers.max(1);
            Plan {
                publishers: vec![PubSpec {
                    topic: "bench/fan".to_string(),
                    pace: Pace::Flood,
                }],
                subscribers: (0..n)
                    .map(|_| SubSpec {
                        filter: "bench/fan".to_string(),
                        expects: vec![0],
                    })
                    .collect(),
                fan: n as u64,
            }
        }
        Scenario::Pairs => {
            let n = p.publishers.max(1);
            Plan {
                publishers: (0..n)
                    .map(|i| PubSpec {
                        topic: format!("bench/pair/{i}"),
                        pace: Pace::Flood,
                    })
                    .collect(),
                subscribers: (0..n)
                    .map(|i| SubSpec {
                        filter: format!("bench/pair/{i}"),
                        expects: vec![i as u32],
                    })
                    .collect(),
                fan: 1,
            }
        }
    }
}

/// "3.1.1" or "5".
pub(crate) fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::V3_1 => "3.1",
        Protocol::V3_1_1 => "3.1.1",
        Protocol::V5 => "5",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(scenario: Scenario) -> Params {
        Params {
            scenario,
            qos: QoS::AtLeastOnce,
            payload: 64,
            protocol: Protocol::V3_1_1,
            transport: Transport::Tcp,
            seconds: 1.0,
            warmup: 0.0,
            publishers: 4,
            subscribers: 3,
            connections: 0,
            rate: 1000.0,
            window: 64,
            max_ahead: 0,
            concurrency: 10,
            drain: 5.0,
            device: false,
            keep_alive: 60,
        }
    }

    #[test]
    fn fanin_routes_every_publisher_to_one_subscriber() {
        let plan = plan(&params(Scenario::Fanin));
        assert_eq!(plan.publishers.len(), 4);
        assert_eq!(plan.subscribers.len(), 1);
        assert_eq!(plan.subscribers[0].expects, vec![0, 1, 2, 3]);
        assert_eq!(plan.fan, 1);
    }

    #[test]
    fn fanout_and_pairs() {
        let fanout = plan(&params(Scenario::Fanout));
        assert_eq!(
            (
                fanout.publishers.len(),
                fanout.subscribers.len(),
                fanout.fan
            ),
            (1, 3, 3)
        );
        let pairs = plan(&params(Scenario::Pairs));
        assert_eq!(pairs.subscribers[2].expects, vec![2]);
        assert_eq!(pairs.subscribers[2].filter, pairs.publishers[2].topic);
    }

    #[test]
    fn latency_splits_the_rate() {
        let plan = plan(&params(Scenario::Latency));
        assert_eq!(plan.publishers[0].pace, Pace::Rate(250.0));
    }

    #[test]
    fn max_ahead_is_bounded_by_bytes() {
        assert_eq!(max_ahead(100_000, 64), 100_000);
        assert_eq!(max_ahead(100_000, 16 * 1024), 4096);
        assert_eq!(max_ahead(0, 64), 0);
    }
}
