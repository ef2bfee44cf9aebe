//! `$SYS/broker/...`: the broker's counters, published retained every
//! `sys_interval` under Mosquitto's topic names, so dashboards and blog
//! recipes written for Mosquitto (`mosquitto_sub -t '$SYS/#' -v`) work.
//!
//! Values are published only when they changed since the last interval
//! (uptime always changes). The listeners' connection counters
//! (`$SYS/broker/listeners/<kind>/<port>/...`) are counted by the shell,
//! which owns the sockets, and handed in with
//! [`Broker::set_listener_figures`](crate::Broker::set_listener_figures) on its tick; the core only publishes
//! them. Load figures are Mosquitto's: exponentially
//! decaying per-minute rates over 1, 5 and 15 minutes.

use std::time::{Duration, Instant};

use crate::settings::Settings;

/// Counters since the broker started.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Packets received, all types.
    pub messages_received: u64,
    /// Packets sent, all types.
    pub messages_sent: u64,
    /// PUBLISH packets received.
    pub publish_received: u64,
    /// PUBLISH packets sent.
    pub publish_sent: u64,
    /// Messages dropped (queue full, over a client's maximum packet size).
    pub publish_dropped: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Bytes written to sockets.
    pub bytes_sent: u64,
    /// Connections accepted.
    pub connections_total: u64,
    /// Most clients connected at once.
    pub clients_maximum: u64,
    /// PUBLISH packets (and wills) the ACL refused.
    pub acl_denied_publish: u64,
    /// SUBSCRIBE filters the ACL refused.
    pub acl_denied_subscribe: u64,
    /// Deliveries the ACL's read check refused (per message and session).
    pub acl_denied_delivery: u64,
    /// CONNECTs refused for a wrong user name or password.
    pub auth_failures: u64,
    /// CONNECTs refused for a client id over `max_client_id_length`.
    pub limit_client_id: u64,
    /// PUBLISH topics and SUBSCRIBE filters refused for `max_topic_length`
    /// or `max_topic_levels`.
    pub limit_topic: u64,
    /// SUBSCRIBE filters refused for `max_subscriptions_per_client`.
    pub limit_subscriptions: u64,
    /// Queued messages replaced by a newer one on the same topic (queue
    /// policy `latest`).
    pub queue_replaced: u64,
    /// Episodes of a connection being throttled for its publish rate.
    pub rate_limited: u64,
    /// Connections closed for their publish rate.
    pub rate_disconnects: u64,
    /// CONNECTs refused as flapping.
    pub flapping_refused: u64,
    /// Connections closed for sending no CONNECT in time.
    pub connect_timeouts: u64,
    /// Packets refused for `max_packet_size`.
    pub packets_too_large: u64,
    /// PUBLISH packets received, by QoS (0, 1, 2).
    pub publish_received_by_qos: [u64; 3],
    /// PUBLISH packets sent, by QoS (0, 1, 2).
    pub publish_sent_by_qos: [u64; 3],
    /// Bytes of the PUBLISH packets received, by QoS: each packet's whole
    /// MQTT encoding as it arrived (fixed header, topic, properties,
    /// payload; not the WebSocket or TLS framing around it).
    pub publish_bytes_received_by_qos: [u64; 3],
    /// Bytes of the PUBLISH packets sent, by QoS: each packet's MQTT
    /// encoding for its receiver (with that client's protocol version and
    /// topic alias), the same measure as on receipt.
    pub publish_bytes_sent_by_qos: [u64; 3],
    /// Of `publish_dropped`: messages dropped because a session's queue was
    /// full (the rest were over a client's Maximum Packet Size or lost a
    /// shared subscription group with no member left).
    pub dropped_queue_full: u64,
    /// Messages published through the admin API.
    pub admin_published: u64,
}

impl Stats {
    pub(crate) fn note_connected(&mut self, connected: usize) {
        self.clients_maximum = self.clients_maximum.max(connected as u64);
    }
}

/// One listener's connection counters, as the shell counts them (the core
/// has no sockets); see [`Broker::set_listener_figures`](crate::Broker::set_listener_figures).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListenerFigures {
    /// The transport: `tcp`, `tls`, `ws` or `wss`.
    pub kind: String,
    /// The port it listens on.
    pub port: u16,
    /// Connections open now.
    pub active: u64,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections closed at once for `max_connections`.
    pub refused_max_connections: u64,
    /// Connections closed at once for `max_connection_rate`.
    pub refused_rate: u64,
    /// TLS handshakes or WebSocket upgrades that failed.
    pub failed_handshakes: u64,
}

/// The durable store's figures, as the shell's store thread counts them
/// (the core does no I/O); see [`Broker::set_store_figures`](crate::Broker::set_store_figures).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoreFigures {
    /// Bytes the store's log files hold on disk.
    pub disk_bytes: u64,
    /// An estimate of the live state (what a snapshot would take).
    pub live_bytes: u64,
    /// Message bodies written since start.
    pub messages: u64,
    /// Records written since start.
    pub records: u64,
    /// Commits (batches written) since start.
    pub commits: u64,
    /// `fdatasync` calls since start.
    pub fsyncs: u64,
    /// Compactions since start.
    pub compactions: u64,
    /// Writes or syncs that failed since start.
    pub failures: u64,
    /// Total time spent in `fdatasync`, in microseconds.
    pub fsync_micros: u64,
}

const LOADS: [(&str, f64); 3] = [("1min", 1.0), ("5min", 5.0), ("15min", 15.0)];
const LOAD_SERIES: [&str; 7] = [
    "messages/received",
    "messages/sent",
    "publish/received",
    "publish/sent",
    "bytes/received",
    "bytes/sent",
    "connections",
];

/// What `$SYS` remembers between publications, and the figures the shell
/// hands in.
#[derive(Debug)]
pub(crate) struct Sys {
    /// When the broker started (uptime).
    started: Instant,
    last: Option<Instant>,
    last_counts: [u64; 7],
    loads: [[f64; 3]; 7],
    published: ahash::AHashMap<String, String>,
    /// The shell's latest listener counters.
    listeners: Vec<ListenerFigures>,
    /// The shell's latest store figures (`None`: persistence is off).
    store: Option<StoreFigures>,
    /// The cluster's values (empty off a cluster).
    cluster: Vec<(String, String)>,
}

/// What `$SYS` reports that other parts of the broker own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figures {
    /// Connections past CONNECT.
    pub(crate) connected: usize,
    /// Sessions, connected or not.
    pub(crate) sessions: usize,
    /// Subscriptions across all sessions.
    pub(crate) subscriptions: usize,
    /// Retained messages.
    pub(crate) retained: usize,
}

impl Sys {
    /// Nothing published yet; the broker started at `now`.
    pub(crate) fn new(now: Instant) -> Self {
        Sys {
            started: now,
            last: None,
            last_counts: [0; 7],
            loads: [[0.0; 3]; 7],
            published: Default::default(),
            listeners: Vec::new(),
            store: None,
            cluster: Vec::new(),
        }
    }

    /// When the broker started.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// When `$SYS` is next due; the start when it was never published.
    pub(crate) fn next_due(&self, settings: &Settings) -> Option<Instant> {
        let interval = settings.sys_interval?;
        Some(self.last.map_or(self.started, |l| l + interval))
    }

    /// Keeps the listeners' counters (`$SYS/broker/listeners/...`).
    pub(crate) fn set_listener_figures(&mut self, figures: &[ListenerFigures]) {
        if self.listeners != figures {
            self.listeners = figures.to_vec();
        }
    }

    /// Keeps the cluster's values (`$SYS/broker/cluster/...`).
    pub(crate) fn set_cluster_values(&mut self, values: Vec<(String, String)>) {
        self.cluster = values;
    }

    /// Keeps the store's figures (`$SYS/broker/store/...`).
    pub(crate) fn set_store_figures(&mut self, figures: StoreFigures) {
        self.store = Some(figures);
    }

    /// The store figures last handed in.
    pub(crate) fn store_figures(&self) -> Option<StoreFigures> {
        self.store
    }

    /// The listener counters last handed in.
    pub(crate) fn listener_figures(&self) -> &[ListenerFigures] {
        &self.listeners
    }

    /// At `now`, if a publication is due: the `$SYS/broker/...` suffixes
    /// and values that changed since the last one (remembered as
    /// published).
    pub(crate) fn tick(
        &mut self,
        now: Instant,
        settings: &Settings,
        s: &Stats,
        figures: Figures,
    ) -> Vec<(String, String)> {
        let Some(interval) = settings.sys_interval else {
            return Vec::new();
        };
        if let Some(last) = self.last {
            if now < last + interval {
                return Vec::new();
            }
        }
        let elapsed = self.last.map(|l| now.duration_since(l));
        self.last = Some(now);
        let mut values = self.values(now, elapsed, settings, s, figures);
        values.retain(|(suffix, value)| {
            if self.published.get(suffix) == Some(value) {
                return false;
            }
            self.published.insert(suffix.clone(), value.clone());
            true
        });
        values
    }

    /// Every value, with the loads brought up to `now`.
    fn values(
        &mut self,
        now: Instant,
        elapsed: Option<Duration>,
        settings: &Settings,
        s: &Stats,
        figures: Figures,
    ) -> Vec<(String, String)> {
        let connected = figures.connected as u64;
        let total = figures.sessions as u64;
        let counts = [
            s.messages_received,
            s.messages_sent,
            s.publish_received,
            s.publish_sent,
            s.bytes_received,
            s.bytes_sent,
            s.connections_total,
        ];
        if let Some(elapsed) = elapsed.filter(|e| !e.is_zero()) {
            let secs = elapsed.as_secs_f64();
            for (i, count) in counts.iter().enumerate() {
                let per_minute = (count - self.last_counts[i]) as f64 * 60.0 / secs;
                for (j, (_, minutes)) in LOADS.iter().enumerate() {
                    let k = (-secs / (60.0 * minutes)).exp();
                    self.loads[i][j] = k * self.loads[i][j] + (1.0 - k) * per_minute;
                }
            }
        }
        self.last_counts = counts;

        let mut values: Vec<(String, String)> = vec![
            ("version".into(), settings.version.clone()),
            (
                "uptime".into(),
                format!("{} seconds", now.duration_since(self.started).as_secs()),
            ),
            ("clients/connected".into(), connected.to_string()),
            ("clients/active".into(), connected.to_string()),
            (
                "clients/disconnected".into(),
                total.saturating_sub(connected).to_string(),
            ),
            (
                "clients/inactive".into(),
                total.saturating_sub(connected).to_string(),
            ),
            ("clients/total".into(), total.to_string()),
            ("clients/maximum".into(), s.clients_maximum.to_string()),
            ("messages/received".into(), s.messages_received.to_string()),
            ("messages/sent".into(), s.messages_sent.to_string()),
            (
                "publish/messages/received".into(),
                s.publish_received.to_string(),
            ),
            ("publish/messages/sent".into(), s.publish_sent.to_string()),
            (
                "publish/messages/dropped".into(),
                s.publish_dropped.to_string(),
            ),
            (
                "acl/denied/publish".into(),
                s.acl_denied_publish.to_string(),
            ),
            (
                "acl/denied/subscribe".into(),
                s.acl_denied_subscribe.to_string(),
            ),
            (
                "acl/denied/delivery".into(),
                s.acl_denied_delivery.to_string(),
            ),
            ("auth/failures".into(), s.auth_failures.to_string()),
            ("limits/client_id".into(), s.limit_client_id.to_string()),
            ("limits/topic".into(), s.limit_topic.to_string()),
            (
                "limits/subscriptions".into(),
                s.limit_subscriptions.to_string(),
            ),
            ("limits/rate/throttled".into(), s.rate_limited.to_string()),
            (
                "limits/rate/disconnected".into(),
                s.rate_disconnects.to_string(),
            ),
            ("limits/flapping".into(), s.flapping_refused.to_string()),
            (
                "limits/connect_timeout".into(),
                s.connect_timeouts.to_string(),
            ),
            (
                "limits/packet_too_large".into(),
                s.packets_too_large.to_string(),
            ),
            (
                "publish/bytes/received".into(),
                s.publish_bytes_received_by_qos
                    .iter()
                    .sum::<u64>()
                    .to_string(),
            ),
            (
                "publish/bytes/sent".into(),
                s.publish_bytes_sent_by_qos.iter().sum::<u64>().to_string(),
            ),
            ("bytes/received".into(), s.bytes_received.to_string()),
            ("bytes/sent".into(), s.bytes_sent.to_string()),
            (
                "subscriptions/count".into(),
                figures.subscriptions.to_string(),
            ),
            (
                "retained messages/count".into(),
                figures.retained.to_string(),
            ),
        ];
        for l in &self.listeners {
            let at = format!("listeners/{}/{}", l.kind, l.port);
            for (name, value) in [
                ("connections/active", l.active),
                ("connections/accepted", l.accepted),
                (
                    "connections/refused/max_connections",
                    l.refused_max_connections,
                ),
                ("connections/refused/rate", l.refused_rate),
                ("handshakes/failed", l.failed_handshakes),
            ] {
                values.push((format!("{at}/{name}"), value.to_string()));
            }
        }
        if let Some(st) = self.store {
            values.extend(store_values(&st));
        }
        values.extend(self.cluster.iter().cloned());
        for (i, series) in LOAD_SERIES.iter().enumerate() {
            for (j, (name, _)) in LOADS.iter().enumerate() {
                values.push((
                    format!("load/{series}/{name}"),
                    format!("{:.2}", self.loads[i][j]),
                ));
            }
        }
        values
    }
}

/// The `$SYS/broker/store/...` suffixes and values of `st`.
pub(crate) fn store_values(st: &StoreFigures) -> Vec<(String, String)> {
    let per_fsync = if st.fsyncs == 0 {
        0.0
    } else {
        st.messages as f64 / st.fsyncs as f64
    };
    let avg_ms = if st.fsyncs == 0 {
        0.0
    } else {
        st.fsync_micros as f64 / 1000.0 / st.fsyncs as f64
    };
    [
        ("store/bytes", st.disk_bytes.to_string()),
        ("store/live_bytes", st.live_bytes.to_string()),
        ("store/messages/written", st.messages.to_string()),
        ("store/records/written", st.records.to_string()),
        ("store/commits", st.commits.to_string()),
        ("store/fsyncs", st.fsyncs.to_string()),
        ("store/messages_per_fsync", format!("{per_fsync:.1}")),
        ("store/fsync/average_ms", format!("{avg_ms:.3}")),
        ("store/compactions", st.compactions.to_string()),
        ("store/failures", st.failures.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
