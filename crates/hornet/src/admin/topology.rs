//! `GET /api/v1/bridges` and `GET /api/v1/cluster`: the outgoing bridges
//! (state, remote address, counts, last error) and, on a cluster node, the
//! nodes (alive by membership, link up, routes, wills, counts), with this
//! node's owned sessions, cut-off state and dropped shared deliveries. The same
//! figures as `/metrics`, as JSON for the dashboard and scripts.

use axum::extract::State as AxumState;
use axum::Json;
use serde::Serialize;

use super::State;

/// One outgoing bridge.
#[derive(Debug, Serialize)]
pub(crate) struct BridgeView {
    name: String,
    connected: bool,
    address: String,
    sent: u64,
    received: u64,
    dropped: u64,
    reconnects: u64,
    last_error: Option<String>,
}

/// `GET /api/v1/bridges`, in configuration order.
pub(crate) async fn bridges(AxumState(state): AxumState<State>) -> Json<Vec<BridgeView>> {
    Json(
        state
            .bridges
            .snapshots()
            .into_iter()
            .map(|s| BridgeView {
                name: s.name,
                connected: s.connected,
                address: s.address,
                sent: s.sent,
                received: s.received,
                dropped: s.dropped,
                reconnects: s.reconnects,
                last_error: s.last_error,
            })
            .collect(),
    )
}

/// One other node, as this node sees it.
#[derive(Debug, Serialize)]
pub(crate) struct NodeView {
    name: String,
    alive: bool,
    link_up: bool,
    routes: usize,
    wills: usize,
    forwarded: u64,
    received: u64,
}

/// The cluster as this node sees it.
#[derive(Debug, Serialize)]
pub(crate) struct ClusterView {
    /// Whether this broker is a cluster node at all.
    enabled: bool,
    /// This node's name.
    node: Option<String>,
    /// Filters this node announces to the others.
    routes_exported: usize,
    /// Frames for other nodes dropped because a queue was full.
    dropped: u64,
    /// Persistent sessions whose client id this node claimed in etcd.
    sessions_owned: usize,
    /// Cut off from the etcd quorum (see `docs/cluster.md`).
    cut_off: bool,
    /// Shared group deliveries dropped: no member left on arrival.
    shared_dropped: u64,
    /// The other nodes, by name.
    nodes: Vec<NodeView>,
}

/// `GET /api/v1/cluster`
pub(crate) async fn cluster(AxumState(state): AxumState<State>) -> Json<ClusterView> {
    let (node, rows, exported, owned, cut_off, shared_dropped) = state.shared.with_core(|core| {
        (
            core.cluster_node().map(str::to_string),
            core.cluster_nodes(),
            core.cluster_exported(),
            core.cluster_owned_sessions(),
            core.cluster_is_cut_off(),
            core.cluster_shared_dropped(),
        )
    });
    let links = state.shared.cluster.get();
    let up = links.map(|l| l.connected()).unwrap_or_default();
    let dropped = links.map_or(0, |l| {
        l.stats.dropped.load(std::sync::atomic::Ordering::Relaxed)
    });
    let mut nodes: Vec<NodeView> = rows
        .into_iter()
        .map(|n| NodeView {
            link_up: up.contains(&n.name),
            name: n.name,
            alive: n.alive,
            routes: n.routes,
            wills: n.wills,
            forwarded: n.forwarded,
            received: n.received,
        })
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Json(ClusterView {
        enabled: node.is_some(),
        node,
        routes_exported: exported,
        dropped,
        sessions_owned: owned,
        cut_off,
        shared_dropped,
        nodes,
    })
}
