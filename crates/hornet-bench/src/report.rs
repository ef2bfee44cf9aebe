//! The outcome of one run: the figures, the verdict (a QoS 1/2 loss or an
//! unflagged duplicate is a failure) and its two renderings, a human line
//! and a JSON object.

use serde::{Deserialize, Serialize};

/// Latency distribution over the measurement window, in µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Latency {
    /// Median.
    pub(crate) p50: u64,
    /// 99th percentile.
    pub(crate) p99: u64,
    /// 99.9th percentile.
    pub(crate) p999: u64,
    /// Largest.
    pub(crate) max: u64,
    /// Samples.
    pub(crate) count: u64,
}

/// Figures of the `conns` scenario.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConnsFigures {
    /// Connections asked for.
    pub(crate) requested: usize,
    /// Connections that got their CONNACK.
    pub(crate) succeeded: usize,
    /// Seconds from the first connect to the last CONNACK.
    pub(crate) connect_seconds: f64,
    /// Broker VmRSS before opening any, KiB.
    pub(crate) rss_before_kib: Option<u64>,
    /// Broker VmRSS with all open, after a short settle, KiB.
    pub(crate) rss_after_kib: Option<u64>,
    /// (after − before) / succeeded.
    pub(crate) bytes_per_conn: Option<f64>,
    /// Broker CPU time per connection opened, µs.
    pub(crate) broker_cpu_us_per_conn: Option<f64>,
    /// Connections that still answered PINGREQ after the hold.
    pub(crate) alive_after_hold: usize,
    /// Seconds the idle broker was watched (the hold, after the settle).
    #[serde(default)]
    pub(crate) idle_seconds: f64,
    /// Broker CPU time per second while idle, µs.
    #[serde(default)]
    pub(crate) idle_cpu_us_per_s: Option<f64>,
    /// Broker thread wake-ups (voluntary context switches) per second
    /// while idle.
    #[serde(default)]
    pub(crate) idle_wakeups_per_s: Option<f64>,
    /// Broker preemptions (involuntary context switches) per second while
    /// idle.
    #[serde(default)]
    pub(crate) idle_preemptions_per_s: Option<f64>,
}

/// One run's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Scenario name.
    pub(crate) scenario: String,
    /// QoS of every message.
    pub(crate) qos: u8,
    /// "3.1.1" or "5".
    pub(crate) protocol: String,
    /// What carried MQTT: tcp, tls, ws or wss.
    #[serde(default)]
    pub(crate) transport: crate::transport::Transport,
    /// Payload bytes.
    pub(crate) payload: usize,
    /// Publisher connections.
    pub(crate) publishers: usize,
    /// Subscriber connections.
    pub(crate) subscribers: usize,
    /// Target total rate (latency scenario), msgs/s.
    pub(crate) target_rate: Option<f64>,
    /// Length of the measurement window, s.
    pub(crate) window_s: f64,
    /// PUBLISH packets written per second in the window.
    pub(crate) published_per_s: f64,
    /// PUBLISH packets received by all subscribers per second in the window.
    pub(crate) delivered_per_s: f64,
    /// End-to-end latency in the window.
    pub(crate) latency_us: Option<Latency>,
    /// Messages sent over the whole run.
    pub(crate) sent: u64,
    /// Deliveries expected (sent × subscribers of each message).
    pub(crate) expected: u64,
    /// Distinct deliveries received.
    pub(crate) received: u64,
    /// expected − received after the drain.
    pub(crate) lost: u64,
    /// Repeated deliveries without the DUP flag.
    pub(crate) duplicates: u64,
    /// Repeated deliveries with the DUP flag.
    pub(crate) dup_flagged: u64,
    /// Deliveries that came after a later one of the same publisher.
    pub(crate) out_of_order: u64,
    /// Broker CPU time per delivered message, µs.
    pub(crate) broker_cpu_us_per_msg: Option<f64>,
    /// Broker CPU time / wall time in the window.
    pub(crate) broker_cores: Option<f64>,
    /// Broker VmRSS at the end of the window, KiB.
    pub(crate) broker_rss_kib: Option<u64>,
    /// Broker VmHWM at the end of the window, KiB.
    pub(crate) broker_hwm_kib: Option<u64>,
    /// This process's CPU use in the window, % of one core.
    pub(crate) client_cpu_pct: Option<f64>,
    /// `conns` figures.
    pub(crate) conns: Option<ConnsFigures>,
    /// `bridge-q1`: the outbox drained after an outage, msgs/s.
    #[serde(default)]
    pub(crate) bridge_drain_per_s: Option<f64>,
    /// Client-side errors (connections failing, timeouts).
    pub(crate) errors: u64,
    /// The first of them.
    pub(crate) first_error: Option<String>,
    /// Whether the run failed, and why.
    pub(crate) failed: bool,
    /// Reasons for failure.
    pub(crate) failures: Vec<String>,
}

impl Report {
    /// Applies the verdict: at QoS 1/2 a loss or an unflagged duplicate
    /// (at QoS 2 any duplicate) fails the run, and so does a client error.
    pub(crate) fn judge(&mut self) {
        let mut failures = Vec::new();
        if self.qos > 0 && self.lost > 0 {
            failures.push(format!("{} messages lost at QoS {}", self.lost, self.qos));
        }
        if self.qos > 0 && self.duplicates > 0 {
            failures.push(format!(
                "{} duplicates without DUP at QoS {}",
                self.duplicates, self.qos
            ));
        }
        if self.qos == 2 && self.dup_flagged > 0 {
            failures.push(format!("{} duplicates at QoS 2", self.dup_flagged));
        }
        if self.errors > 0 {
            let first = self.first_error.as_deref().unwrap_or("?");
            failures.push(format!("{} client errors (first: {first})", self.errors));
        }
        if let Some(c) = &self.conns {
            if c.succeeded < c.requested {
                failures.push(format!(
                    "{} of {} connections failed",
                    c.requested - c.succeeded,
                    c.requested
                ));
            }
        }
        self.failed = !failures.is_empty();
        self.failures = failures;
    }

    /// One human-readable line.
    pub(crate) fn human(&self) -> String {
        let verdict = if self.failed {
            format!("FAILED ({})", self.failures.join("; "))
        } else {
            "ok".to_string()
        };
        let opt = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
        if let Some(c) = &self.conns {
            return format!(
                "{}: {}/{} connected in {:.2} s, {} B/conn, broker {} CPU-µs/conn; idle {:.1} s: {} CPU-µs/s, {} wake-ups/s; {} alive after hold; {verdict}",
                self.scenario,
                c.succeeded,
                c.requested,
                c.connect_seconds,
                opt(c.bytes_per_conn, 0),
                opt(c.broker_cpu_us_per_conn, 1),
                c.idle_seconds,
                opt(c.idle_cpu_us_per_s, 0),
                opt(c.idle_wakeups_per_s, 1),
                c.alive_after_hold,
            );
        }
        let lat = self.latency_us.map_or("-".to_string(), |l| {
            format!(
                "p50 {} p99 {} p99.9 {} max {} µs",
                l.p50, l.p99, l.p999, l.max
            )
        });
        format!(
            "{} qos{} {} B mqtt{} over {}: published {:.0}/s delivered {:.0}/s, latency {lat}, lost {} dup {} (+{} DUP) ooo {}, \
broker {} CPU-µs/msg {} cores, client CPU {}%; {verdict}",
            self.scenario,
            self.qos,
            self.payload,
            self.protocol,
            self.transport.name(),
            self.published_per_s,
            self.delivered_per_s,
            self.lost,
            self.duplicates,
            self.dup_flagged,
            self.out_of_order,
            opt(self.broker_cpu_us_per_msg, 2),
            opt(self.broker_cores, 2),
            opt(self.client_cpu_pct, 0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos0_loss_is_reported_not_failed() {
        let mut r = Report {
            qos: 0,
            lost: 10,
            ..Report::default()
        };
        r.judge();
        assert!(!r.failed);
        assert!(r.human().contains("lost 10"));
    }

    #[test]
    fn qos1_loss_and_unflagged_duplicates_fail() {
        let mut r = Report {
            qos: 1,
            lost: 1,
            dup_flagged: 4,
            ..Report::default()
        };
        r.judge();
        assert!(r.failed);
        assert_eq!(r.failures.len(), 1);
        let mut r = Report {
            qos: 1,
            duplicates: 1,
            ..Report::default()
        };
        r.judge();
        assert!(r.failed && r.human().contains("FAILED"));
        let mut r = Report {
            qos: 2,
            dup_flagged: 1,
            ..Report::default()
        };
        r.judge();
        assert!(r.failed);
    }

    #[test]
    fn missing_connections_fail() {
        let mut r = Report {
            conns: Some(ConnsFigures {
                requested: 10,
                succeeded: 9,
                ..ConnsFigures::default()
            }),
            ..Report::default()
        };
        r.judge();
        assert!(r.failed);
    }
}
