//! `/metrics`: Prometheus text exposition format 0.0.4, written by hand
//! from the core's counters ([`hornet_core::Stats`]) and gauges, and the
//! shell's per-listener connection counters
//! ([`crate::server::ListenerStats`], labelled `kind` and `port`).
//!
//! With persistence on, the store's families (`hornet_store_*`: size on
//! disk, live bytes, records and messages written, commits, fsyncs,
//! compactions, failures, and the `hornet_store_fsync_seconds` histogram
//! measured around each `fdatasync` in the store thread) come from
//! [`hornet_store::StoreStats`]; with persistence off they are absent.
//!
//! On a cluster node, the `hornet_cluster_*` families: nodes alive, and
//! per other node (label `node`) whether membership counts it alive,
//! whether this node's link to it is up, its routes, the wills of its
//! clients held here, and the messages
//! forwarded to it and received from it; absent on a single broker.

use std::fmt::Write;
use std::time::Instant;

use axum::extract::State as AxumState;
use axum::http::header;
use axum::response::IntoResponse;

use super::State;

/// The figures of one scrape, copied under the core lock.
struct Figures {
    stats: hornet_core::Stats,
    connected: usize,
    sessions: usize,
    subscriptions: usize,
    retained: usize,
    queued: (usize, usize, usize),
    inflight: usize,
    uptime: f64,
    listeners: Vec<crate::server::ListenerStats>,
    store: Option<hornet_store::StoreStats>,
    /// Failed admin authentications, and requests refused for too many.
    admin_auth: (u64, u64),
    /// The outgoing bridges.
    bridges: Vec<crate::bridge::BridgeSnapshot>,
    /// The cluster's figures, on a cluster node.
    cluster: Option<ClusterFigures>,
}

/// What `/metrics` says of the cluster.
struct ClusterFigures {
    nodes: Vec<hornet_core::NodeRow>,
    /// Nodes this node's outgoing link is up to.
    linked: Vec<String>,
    exported: usize,
    dropped: u64,
    /// Persistent sessions whose client id this node claimed in etcd.
    owned: usize,
    /// Cut off from the etcd quorum (see `docs/cluster.md`).
    cut_off: bool,
    /// Shared group deliveries dropped: no member left on arrival.
    shared_dropped: u64,
    /// Clients' acknowledgements waiting for other nodes now.
    acks_waiting: usize,
    /// Those given up at `ack_timeout`.
    acks_timed_out: u64,
}

/// `GET /metrics`
pub(crate) async fn metrics(AxumState(state): AxumState<State>) -> impl IntoResponse {
    let f = state.shared.with_core(|core| Figures {
        stats: core.stats().clone(),
        connected: core.clients_connected(),
        sessions: core.session_count(),
        subscriptions: core.subscription_count(),
        retained: core.retained_count(),
        queued: core.queued_totals(),
        inflight: core.inflight_total(),
        uptime: core.uptime(Instant::now()).as_secs_f64(),
        listeners: Vec::new(),
        store: None,
        admin_auth: (0, 0),
        bridges: Vec::new(),
        cluster: core.cluster_node().map(|_| ClusterFigures {
            nodes: core.cluster_nodes(),
            linked: Vec::new(),
            exported: core.cluster_exported(),
            dropped: 0,
            owned: core.cluster_owned_sessions(),
            cut_off: core.cluster_is_cut_off(),
            shared_dropped: core.cluster_shared_dropped(),
            acks_waiting: core.cluster_acks_waiting(),
            acks_timed_out: core.cluster_acks_timed_out(),
        }),
    });
    let throttle = &state.security.throttle;
    let f = Figures {
        listeners: state.listeners.iter().map(|l| l.stats()).collect(),
        store: state.shared.store_stats(),
        admin_auth: (throttle.failures(), throttle.throttled()),
        bridges: state.bridges.snapshots(),
        cluster: f.cluster.map(|c| match state.shared.cluster.get() {
            Some(links) => ClusterFigures {
                linked: links.connected(),
                dropped: links
                    .stats
                    .dropped
                    .load(std::sync::atomic::Ordering::Relaxed),
                ..c
            },
            None => c,
        }),
        ..f
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&f),
    )
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn one(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn qos_rows(values: &[u64; 3]) -> [(&'static str, u64); 3] {
    [("0", values[0]), ("1", values[1]), ("2", values[2])]
}

/// A counter family with one label.
fn labelled(out: &mut String, name: &str, help: &str, label: &str, rows: &[(&str, u64)]) {
    family(out, name, "counter", help);
    for (value, n) in rows {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

/// The per-listener families, labelled with the transport and port.
fn listeners(out: &mut String, listeners: &[crate::server::ListenerStats]) {
    type Pick = fn(&crate::server::ListenerStats) -> u64;
    let families: [(&str, &str, &str, Option<&str>, Pick); 5] = [
        (
            "hornet_listener_connections_active",
            "gauge",
            "Connections open now on the listener (including those in a handshake).",
            None,
            |l| l.active as u64,
        ),
        (
            "hornet_listener_connections_accepted_total",
            "counter",
            "Connections the listener accepted (past its limits).",
            None,
            |l| l.accepted,
        ),
        (
            "hornet_listener_connections_refused_total",
            "counter",
            "Connections the listener closed at once: reason max_connections (its own or the global limit) or rate (max_connection_rate).",
            Some("max_connections"),
            |l| l.refused_max_connections,
        ),
        (
            "hornet_listener_connections_refused_total",
            "counter",
            "",
            Some("rate"),
            |l| l.refused_rate,
        ),
        (
            "hornet_listener_handshake_failures_total",
            "counter",
            "TLS handshakes or WebSocket upgrades that failed on the listener.",
            None,
            |l| l.failed_handshakes,
        ),
    ];
    for (name, kind, help, reason, pick) in families {
        if !help.is_empty() {
            family(out, name, kind, help);
        }
        for l in listeners {
            let reason = reason.map_or(String::new(), |r| format!(",reason=\"{r}\""));
            let _ = writeln!(
                out,
                "{name}{{kind=\"{}\",port=\"{}\"{reason}}} {}",
                l.kind.name(),
                l.addr.port(),
                pick(l)
            );
        }
    }
}

/// The outgoing bridges' families, labelled with the bridge's name.
fn bridges(out: &mut String, bridges: &[crate::bridge::BridgeSnapshot]) {
    if bridges.is_empty() {
        return;
    }
    type Pick = fn(&crate::bridge::BridgeSnapshot) -> u64;
    let families: [(&str, &str, &str, Pick); 5] = [
        ("hornet_bridge_connected", "gauge", "1 while the bridge is connected to its remote.", |b| u64::from(b.connected)),
        ("hornet_bridge_messages_sent_total", "counter", "Messages the bridge sent to its remote (acknowledged for QoS 1 and 2).", |b| b.sent),
        ("hornet_bridge_messages_received_total", "counter", "Messages the bridge received from its remote and published locally.", |b| b.received),
        ("hornet_bridge_messages_dropped_total", "counter", "Messages the bridge dropped (no topic mapping, over the remote's limits, refused by it).", |b| b.dropped),
        ("hornet_bridge_reconnects_total", "counter", "Connections to the remote after the first.", |b| b.reconnects),
    ];
    for (name, kind, help, pick) in families {
        family(out, name, kind, help);
        for b in bridges {
            let _ = writeln!(out, "{name}{{bridge=\"{}\"}} {}", b.name, pick(b));
        }
    }
}

/// The cluster's families.
fn cluster(out: &mut String, c: &ClusterFigures) {
    let alive = c.nodes.iter().filter(|n| n.alive).count() + 1;
    one(
        out,
        "hornet_cluster_nodes_alive",
        "gauge",
        "Nodes of the cluster alive by membership (etcd), this one included.",
        alive,
    );
    one(
        out,
        "hornet_cluster_routes_exported",
        "gauge",
        "Topic filters this node announces to the other nodes.",
        c.exported,
    );
    one(
        out,
        "hornet_cluster_dropped_total",
        "counter",
        "Frames for another node dropped because its queue (100,000 frames) was full (forwarded messages, route and retained changes); each report is also logged.",
        c.dropped,
    );
    one(
        out,
        "hornet_cluster_sessions_owned",
        "gauge",
        "Persistent sessions whose client id this node claimed in etcd.",
        c.owned,
    );
    one(
        out,
        "hornet_cluster_cut_off",
        "gauge",
        "1 while this node is cut off from the etcd quorum (persistent sessions refused).",
        u8::from(c.cut_off),
    );
    one(
        out,
        "hornet_cluster_shared_dropped_total",
        "counter",
        "Messages another node sent here for a shared subscription group that had no member left here.",
        c.shared_dropped,
    );
    one(
        out,
        "hornet_cluster_acks_waiting",
        "gauge",
        "Clients' PUBACKs, PUBRECs and SUBACKs waiting for other nodes to apply what they answer.",
        c.acks_waiting,
    );
    one(
        out,
        "hornet_cluster_acks_timed_out_total",
        "counter",
        "Acknowledgements given up at ack_timeout (publishers closed, SUBACKs sent anyway).",
        c.acks_timed_out,
    );
    type Pick = fn(&hornet_core::NodeRow, &[String]) -> u64;
    let families: [(&str, &str, &str, Pick); 6] = [
        (
            "hornet_cluster_node_alive",
            "gauge",
            "1 while membership (etcd) counts the node alive.",
            |n, _| u64::from(n.alive),
        ),
        (
            "hornet_cluster_link_up",
            "gauge",
            "1 while this node's link to the node is up.",
            |n, l| u64::from(l.contains(&n.name)),
        ),
        (
            "hornet_cluster_node_routes",
            "gauge",
            "Topic filters the node announced.",
            |n, _| n.routes as u64,
        ),
        (
            "hornet_cluster_node_wills",
            "gauge",
            "Wills of the node's connected clients held here (a survivor publishes them if the node dies).",
            |n, _| n.wills as u64,
        ),
        (
            "hornet_cluster_forwarded_total",
            "counter",
            "Messages forwarded to the node.",
            |n, _| n.forwarded,
        ),
        (
            "hornet_cluster_received_total",
            "counter",
            "Messages received from the node.",
            |n, _| n.received,
        ),
    ];
    for (name, kind, help, pick) in families {
        family(out, name, kind, help);
        for n in &c.nodes {
            let _ = writeln!(out, "{name}{{node=\"{}\"}} {}", n.name, pick(n, &c.linked));
        }
    }
}

/// The durable store's families.
fn store(out: &mut String, st: &hornet_store::StoreStats) {
    let rows: [(&str, &str, &str, u64); 9] = [
        ("hornet_store_disk_bytes", "gauge", "Bytes the store's log files hold on disk now.", st.log_bytes),
        ("hornet_store_live_bytes", "gauge", "Estimated size of the live state (what a compaction would write): messages still owed, retained messages, sessions.", st.live_bytes),
        ("hornet_store_messages_written_total", "counter", "Message bodies written to the store (one per routed QoS 1/2 message owed to a persistent session).", st.messages),
        ("hornet_store_records_written_total", "counter", "Records written to the store.", st.records),
        ("hornet_store_bytes_written_total", "counter", "Bytes appended to the store's log (not counting compactions).", st.bytes),
        ("hornet_store_commits_total", "counter", "Batches written (group commits).", st.commits),
        ("hornet_store_fsyncs_total", "counter", "fdatasync calls that succeeded (commits and compactions).", st.syncs),
        ("hornet_store_compactions_total", "counter", "Compactions (live state rewritten as a snapshot, older segments deleted).", st.compactions),
        ("hornet_store_failures_total", "counter", "Store writes or syncs that failed (disk full, I/O error), including failed retries.", st.failures),
    ];
    for (name, kind, help, value) in rows {
        one(out, name, kind, help, value);
    }
    let per_fsync = if st.syncs == 0 {
        0.0
    } else {
        st.messages as f64 / st.syncs as f64
    };
    one(
        out,
        "hornet_store_messages_per_fsync",
        "gauge",
        "Messages written per fdatasync since start (how much group commit gathers).",
        format!("{per_fsync:.3}"),
    );
    let name = "hornet_store_fsync_seconds";
    family(
        out,
        name,
        "histogram",
        "Duration of each fdatasync of the store, measured in the store thread.",
    );
    let h = &st.sync_latency;
    for (bound, n) in h.cumulative() {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count());
    let _ = writeln!(out, "{name}_sum {:.9}", h.total_nanos as f64 / 1e9);
    let _ = writeln!(out, "{name}_count {}", h.count());
}

fn render(f: &Figures) -> String {
    let s = &f.stats;
    let mut out = String::with_capacity(4096);
    one(
        &mut out,
        "hornet_uptime_seconds",
        "gauge",
        "Seconds since the broker started.",
        format!("{:.3}", f.uptime),
    );
    one(
        &mut out,
        "hornet_clients_connected",
        "gauge",
        "Clients connected now.",
        f.connected,
    );
    one(
        &mut out,
        "hornet_clients_maximum",
        "gauge",
        "Most clients connected at once.",
        s.clients_maximum,
    );
    one(
        &mut out,
        "hornet_sessions",
        "gauge",
        "Sessions, connected or not.",
        f.sessions,
    );
    one(
        &mut out,
        "hornet_connections_total",
        "counter",
        "TCP connections accepted.",
        s.connections_total,
    );
    one(
        &mut out,
        "hornet_subscriptions",
        "gauge",
        "Subscriptions across all sessions.",
        f.subscriptions,
    );
    one(
        &mut out,
        "hornet_retained_messages",
        "gauge",
        "Retained messages stored.",
        f.retained,
    );
    one(
        &mut out,
        "hornet_queued_messages",
        "gauge",
        "Messages waiting in session queues.",
        f.queued.0,
    );
    one(
        &mut out,
        "hornet_queued_bytes",
        "gauge",
        "Payload bytes waiting in session queues.",
        f.queued.1,
    );
    one(
        &mut out,
        "hornet_queue_depth_max",
        "gauge",
        "Messages in the longest session queue.",
        f.queued.2,
    );
    one(
        &mut out,
        "hornet_inflight_messages",
        "gauge",
        "QoS 1/2 messages sent and not yet acknowledged.",
        f.inflight,
    );
    one(
        &mut out,
        "hornet_packets_received_total",
        "counter",
        "MQTT packets received, all types.",
        s.messages_received,
    );
    one(
        &mut out,
        "hornet_packets_sent_total",
        "counter",
        "MQTT packets sent, all types.",
        s.messages_sent,
    );
    family(
        &mut out,
        "hornet_messages_received_total",
        "counter",
        "PUBLISH packets received from clients, by QoS.",
    );
    for (qos, n) in s.publish_received_by_qos.iter().enumerate() {
        let _ = writeln!(out, "hornet_messages_received_total{{qos=\"{qos}\"}} {n}");
    }
    family(
        &mut out,
        "hornet_messages_sent_total",
        "counter",
        "PUBLISH packets sent to clients, by QoS.",
    );
    for (qos, n) in s.publish_sent_by_qos.iter().enumerate() {
        let _ = writeln!(out, "hornet_messages_sent_total{{qos=\"{qos}\"}} {n}");
    }
    one(
        &mut out,
        "hornet_bytes_received_total",
        "counter",
        "Bytes received from clients.",
        s.bytes_received,
    );
    one(
        &mut out,
        "hornet_bytes_sent_total",
        "counter",
        "Bytes written to client sockets.",
        s.bytes_sent,
    );
    family(&mut out, "hornet_messages_dropped_total", "counter", "Messages dropped: queue_full (a session's queue was full), other (over a client's Maximum Packet Size, or a shared subscription group with no member left).");
    let _ = writeln!(
        out,
        "hornet_messages_dropped_total{{reason=\"queue_full\"}} {}",
        s.dropped_queue_full
    );
    let _ = writeln!(
        out,
        "hornet_messages_dropped_total{{reason=\"other\"}} {}",
        s.publish_dropped.saturating_sub(s.dropped_queue_full)
    );
    one(
        &mut out,
        "hornet_auth_failures_total",
        "counter",
        "CONNECTs refused for bad credentials or as not authorized.",
        s.auth_failures,
    );
    labelled(
        &mut out,
        "hornet_publish_bytes_received_total",
        "PUBLISH bytes received from clients, by QoS: each packet's whole MQTT encoding as it arrived (not WebSocket or TLS framing).",
        "qos",
        &qos_rows(&s.publish_bytes_received_by_qos),
    );
    labelled(
        &mut out,
        "hornet_publish_bytes_sent_total",
        "PUBLISH bytes sent to clients, by QoS: each packet's MQTT encoding for its receiver (its protocol version and topic alias).",
        "qos",
        &qos_rows(&s.publish_bytes_sent_by_qos),
    );
    labelled(
        &mut out,
        "hornet_acl_denied_total",
        "Requests the ACL refused: publish (PUBLISH and wills), subscribe (filters), delivery (read check per message and session).",
        "action",
        &[
            ("publish", s.acl_denied_publish),
            ("subscribe", s.acl_denied_subscribe),
            ("delivery", s.acl_denied_delivery),
        ],
    );
    labelled(
        &mut out,
        "hornet_limit_refused_total",
        "Requests refused for a per-client limit: client_id (max_client_id_length), topic (max_topic_length, max_topic_levels), subscriptions (max_subscriptions_per_client), packet_size (max_packet_size).",
        "limit",
        &[
            ("client_id", s.limit_client_id),
            ("topic", s.limit_topic),
            ("subscriptions", s.limit_subscriptions),
            ("packet_size", s.packets_too_large),
        ],
    );
    one(
        &mut out,
        "hornet_rate_limited_total",
        "counter",
        "Episodes of a connection being throttled for its publish rate.",
        s.rate_limited,
    );
    one(
        &mut out,
        "hornet_rate_disconnects_total",
        "counter",
        "Connections closed for their publish rate.",
        s.rate_disconnects,
    );
    one(
        &mut out,
        "hornet_flapping_refused_total",
        "counter",
        "CONNECTs refused as flapping (too many connects of one client id in the window).",
        s.flapping_refused,
    );
    one(
        &mut out,
        "hornet_connect_timeouts_total",
        "counter",
        "Connections closed for sending no CONNECT in time.",
        s.connect_timeouts,
    );
    listeners(&mut out, &f.listeners);
    bridges(&mut out, &f.bridges);
    if let Some(st) = &f.store {
        store(&mut out, st);
    }
    if let Some(c) = &f.cluster {
        cluster(&mut out, c);
    }
    one(
        &mut out,
        "hornet_admin_published_total",
        "counter",
        "Messages published through the admin API.",
        s.admin_published,
    );
    one(
        &mut out,
        "hornet_admin_auth_failures_total",
        "counter",
        "Failed authentications at the admin API (wrong token, user or password).",
        f.admin_auth.0,
    );
    one(
        &mut out,
        "hornet_admin_auth_throttled_total",
        "counter",
        "Admin API requests answered 429 after too many failed authentications from their address.",
        f.admin_auth.1,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_help_and_type_and_samples_parse() {
        let f = Figures {
            stats: hornet_core::Stats {
                publish_dropped: 5,
                dropped_queue_full: 3,
                ..Default::default()
            },
            connected: 2,
            sessions: 3,
            subscriptions: 4,
            retained: 1,
            queued: (7, 70, 5),
            inflight: 1,
            uptime: 1.5,
            listeners: vec![crate::server::ListenerStats {
                addr: ([127, 0, 0, 1], 8083).into(),
                kind: crate::config::ListenerKind::Ws,
                path: Some("/mqtt".into()),
                tls: None,
                active: 1,
                accepted: 4,
                refused_max_connections: 2,
                refused_rate: 1,
                failed_handshakes: 3,
            }],
            store: Some(hornet_store::StoreStats {
                syncs: 4,
                messages: 10,
                log_bytes: 1234,
                sync_latency: {
                    let mut h = hornet_store::SyncLatency::default();
                    h.record(std::time::Duration::from_micros(300));
                    h.record(std::time::Duration::from_millis(3));
                    h
                },
                ..Default::default()
            }),
            admin_auth: (4, 1),
            bridges: vec![crate::bridge::BridgeSnapshot {
                name: "b1".into(),
                connected: true,
                address: "127.0.0.1:1883".into(),
                sent: 7,
                received: 3,
                dropped: 1,
                reconnects: 2,
                last_error: None,
            }],
            cluster: Some(ClusterFigures {
                nodes: vec![hornet_core::NodeRow {
                    name: "n2".into(),
                    alive: true,
                    routes: 3,
                    wills: 1,
                    forwarded: 9,
                    received: 8,
                }],
                linked: vec!["n2".into()],
                exported: 2,
                dropped: 1,
                owned: 5,
                cut_off: true,
                shared_dropped: 0,
                acks_waiting: 3,
                acks_timed_out: 2,
            }),
        };
        let text = render(&f);
        assert!(text.contains("hornet_admin_auth_failures_total 4\n"));
        assert!(text.contains("hornet_cluster_acks_waiting 3\n"));
        assert!(text.contains("hornet_cluster_acks_timed_out_total 2\n"));
        assert!(text.contains("hornet_bridge_connected{bridge=\"b1\"} 1\n"));
        assert!(text.contains("hornet_bridge_messages_sent_total{bridge=\"b1\"} 7\n"));
        assert!(text.contains("hornet_bridge_reconnects_total{bridge=\"b1\"} 2\n"));
        assert!(text.contains("hornet_admin_auth_throttled_total 1\n"));
        assert!(text.contains("hornet_messages_dropped_total{reason=\"queue_full\"} 3\n"));
        assert!(text.contains("hornet_messages_dropped_total{reason=\"other\"} 2\n"));
        assert!(text.contains("hornet_clients_connected 2\n"));
        assert!(text.contains("hornet_store_disk_bytes 1234\n"));
        assert!(text.contains("hornet_cluster_nodes_alive 2\n"));
        assert!(text.contains("hornet_cluster_link_up{node=\"n2\"} 1\n"));
        assert!(text.contains("hornet_cluster_forwarded_total{node=\"n2\"} 9\n"));
        assert!(text.contains("hornet_cluster_sessions_owned 5\n"));
        assert!(text.contains("hornet_cluster_cut_off 1\n"));
        assert!(text.contains("hornet_store_messages_per_fsync 2.500\n"));
        assert!(text.contains("hornet_store_fsync_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("hornet_store_fsync_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("hornet_store_fsync_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("hornet_store_fsync_seconds_count 2\n"));
        assert!(text
            .contains("hornet_listener_connections_accepted_total{kind=\"ws\",port=\"8083\"} 4\n"));
        assert!(text.contains(
            "hornet_listener_connections_refused_total{kind=\"ws\",port=\"8083\",reason=\"rate\"} 1\n"
        ));
        assert_eq!(
            text.matches("# TYPE hornet_listener_connections_refused_total ")
                .count(),
            1
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            let base = name.split('{').next().unwrap();
            // A histogram's samples are `<family>_bucket`, `_sum`, `_count`.
            let histogram = ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                base.strip_suffix(suffix)
                    .is_some_and(|f| text.contains(&format!("# TYPE {f} histogram")))
            });
            assert!(
                histogram || text.contains(&format!("# TYPE {base} ")),
                "{line}"
            );
            value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
        }
    }
}
