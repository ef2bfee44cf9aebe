//! `/api/v1/broker`: version, uptime, listeners and the durable store's
//! figures; `/api/v1/broker/config`:
//! the effective configuration with secrets hidden; `/api/v1/broker/sys`:
//! the `$SYS/broker/...` figures under Mosquitto's names.

use std::time::Instant;

use axum::extract::State as AxumState;
use axum::Json;
use serde_json::{json, Value};

use super::State;
use crate::config::AllowAnonymous;

/// `GET /api/v1/broker`
pub(crate) async fn info(AxumState(state): AxumState<State>) -> Json<Value> {
    let (connected, sessions, subscriptions, retained, uptime) = state.shared.with_core(|core| {
        (
            core.clients_connected(),
            core.session_count(),
            core.subscription_count(),
            core.retained_count(),
            core.uptime(Instant::now()),
        )
    });
    let mut listeners: Vec<Value> = state
        .listeners
        .iter()
        .map(|l| {
            let l = l.stats();
            let mut row = json!({
                "kind": l.kind.name(),
                "address": l.addr.ip().to_string(),
                "port": l.addr.port(),
                "active": l.active,
                "accepted": l.accepted,
                "refused_max_connections": l.refused_max_connections,
                "refused_rate": l.refused_rate,
                "failed_handshakes": l.failed_handshakes,
            });
            if let Some(path) = l.path {
                row["path"] = json!(path);
            }
            if let Some(tls) = l.tls {
                row["tls"] = json!(tls);
            }
            row
        })
        .collect();
    let mut admin = json!({
        "kind": "admin",
        "address": state.admin_addr.ip().to_string(),
        "port": state.admin_addr.port(),
    });
    if state.security.tls {
        admin["tls"] = json!("HTTPS");
    }
    listeners.push(admin);
    Json(json!({
        "name": "hornet",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": uptime.as_secs(),
        "started_at": super::view::unix_seconds(state.started),
        "listeners": listeners,
        "clients_connected": connected,
        "sessions": sessions,
        "subscriptions": subscriptions,
        "retained_messages": retained,
        "connections_parked": state.shared.parker.parked(),
        "connections_unparked": state.shared.parker.unparked(),
        "store": state.shared.store_stats().map(|st| store(&st)),
    }))
}

/// The durable store's figures (`null` in `/api/v1/broker` when
/// persistence is off).
fn store(st: &hornet_store::StoreStats) -> Value {
    let h = &st.sync_latency;
    let per_fsync = if st.syncs == 0 {
        0.0
    } else {
        st.messages as f64 / st.syncs as f64
    };
    json!({
        "disk_bytes": st.log_bytes,
        "live_bytes": st.live_bytes,
        "messages_written": st.messages,
        "records_written": st.records,
        "bytes_written": st.bytes,
        "commits": st.commits,
        "fsyncs": st.syncs,
        "messages_per_fsync": per_fsync,
        "compactions": st.compactions,
        "failures": st.failures,
        "fsync_seconds": {
            "count": h.count(),
            "sum": h.total_nanos as f64 / 1e9,
            "buckets": h.cumulative().map(|(le, n)| json!({"le": le, "count": n})).collect::<Vec<_>>(),
        },
    })
}

/// `GET /api/v1/broker/config`
pub(crate) async fn config(AxumState(state): AxumState<State>) -> Json<Value> {
    let c = &state.config;
    let hidden = |s: &Option<String>| s.as_ref().map(|_| "(hidden)");
    Json(json!({
        "source": c.source.as_ref().map(|p| p.display().to_string()),
        "listeners": c.listeners.iter().map(|l| json!({
            "kind": l.kind.name(),
            "port": l.port,
            "bind_address": l.bind_address.map(|a| a.to_string()),
        })).collect::<Vec<_>>(),
        "allow_anonymous": match c.allow_anonymous {
            AllowAnonymous::Loopback => "loopback",
            AllowAnonymous::Always => "true",
            AllowAnonymous::Never => "false",
        },
        "password_file": c.password_file.as_ref().map(|p| p.display().to_string()),
        "sys_interval": c.sys_interval,
        "limits": {
            "max_connections": c.limits.max_connections,
            "max_inflight_messages": c.limits.max_inflight_messages,
            "max_queued_messages": c.limits.max_queued_messages,
            "max_queued_bytes": c.limits.max_queued_bytes,
            "max_packet_size": c.limits.max_packet_size,
            "max_keepalive": c.limits.max_keepalive,
            "queue_qos0_messages": c.limits.queue_qos0_messages,
        },
        "mqtt": {
            "receive_maximum": c.mqtt.receive_maximum,
            "max_session_expiry": c.mqtt.max_session_expiry,
            "max_qos": c.mqtt.max_qos,
            "retain_available": c.mqtt.retain_available,
            "retained_max_age": c.mqtt.retained_max_age,
            "wildcard_subscriptions": c.mqtt.wildcard_subscriptions,
            "subscription_identifiers": c.mqtt.subscription_identifiers,
            "topic_alias_maximum": c.mqtt.topic_alias_maximum,
            "response_information": c.mqtt.response_information,
            "server_reference": c.mqtt.server_reference,
            "server_moved": c.mqtt.server_moved,
            "shared_subscriptions": c.mqtt.shared_subscriptions,
        },
        "log": {
            "verbose": c.log.verbose,
            "connection_messages": c.log.connection_messages,
            "types": c.log.types,
        },
        "admin": {
            "enabled": c.admin.enabled,
            "bind": c.admin.bind.to_string(),
            "port": c.admin.port,
            "token": hidden(&c.admin.token),
            "users": c.admin.users,
            "read_token": hidden(&c.admin.read_token),
            "read_users": c.admin.read_users,
            "metrics_token": hidden(&c.admin.metrics_token),
            "hosts": c.admin.hosts,
            "allow_unauthenticated": c.admin.allow_unauthenticated,
            "https": c.admin.tls(),
        },
    }))
}

/// `GET /api/v1/broker/sys`: what `$SYS/broker/...` publishes, by topic suffix.
pub(crate) async fn sys(AxumState(state): AxumState<State>) -> Json<Value> {
    let (version, s, connected, total, subscriptions, retained, uptime) =
        state.shared.with_core(|core| {
            (
                core.settings().version.clone(),
                core.stats().clone(),
                core.clients_connected(),
                core.session_count(),
                core.subscription_count(),
                core.retained_count(),
                core.uptime(Instant::now()),
            )
        });
    let disconnected = total.saturating_sub(connected);
    let mut body = json!({
        "version": version,
        "uptime": format!("{} seconds", uptime.as_secs()),
        "clients/connected": connected,
        "clients/active": connected,
        "clients/disconnected": disconnected,
        "clients/inactive": disconnected,
        "clients/total": total,
        "clients/maximum": s.clients_maximum,
        "messages/received": s.messages_received,
        "messages/sent": s.messages_sent,
        "publish/messages/received": s.publish_received,
        "publish/messages/sent": s.publish_sent,
        "publish/messages/dropped": s.publish_dropped,
        "publish/bytes/received": s.publish_bytes_received_by_qos.iter().sum::<u64>(),
        "publish/bytes/sent": s.publish_bytes_sent_by_qos.iter().sum::<u64>(),
        "bytes/received": s.bytes_received,
        "bytes/sent": s.bytes_sent,
        "subscriptions/count": subscriptions,
        "retained messages/count": retained,
    });
    for l in state.listeners.iter().map(|l| l.stats().figures()) {
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
            body[format!("{at}/{name}")] = json!(value);
        }
    }
    Json(body)
}
