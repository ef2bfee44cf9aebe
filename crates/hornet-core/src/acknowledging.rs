//! The rules of acknowledgements that wait for other nodes (issue 18; the
//! data is `cluster_acks`, the held packets `gated`; see `docs/cluster.md`).
//!
//! On when the shell asks ([`Broker::enable_cluster_acks`]):
//!
//! - A QoS 1/2 PUBLISH that this node forwards to other nodes gets its
//!   PUBACK / PUBREC only once every one of those nodes has applied it:
//!   the receiving node acknowledges a frame ([`Action::Applied`]) after
//!   feeding it to its core and, when acknowledgements wait for the disk
//!   there, after what it recorded (a message queued for a persistent
//!   session) is durable, the point a local publish is acknowledged at.
//!   The sender's shell turns those into [`Broker::node_acked`].
//! - A node counted dead (its lease expired; its routes are purged) is no
//!   longer waited for: the acknowledgement leaves, since the message went
//!   to every node that the cluster still routes to.
//! - A node that stays alive but does not acknowledge within the timeout
//!   (a link cut or stalled longer than that): the publisher's connection
//!   is closed without the acknowledgement (MQTT 5: DISCONNECT 0x89 Server
//!   busy), never a PUBACK for a message no node confirmed. The message
//!   stays queued for that node (delivered if its link comes back) and the
//!   client sends it again when it reconnects: at least once, never lost
//!   silently, but possibly twice.
//! - QoS 0, messages that match no other node, and the local path are
//!   untouched; acknowledgements keep their order per connection (`gated`).
//! - A SUBSCRIBE whose filter is announced to the other nodes (a new route)
//!   gets its SUBACK once every live node has applied the route delta, so a
//!   message published on any live node after the SUBACK finds the route.
//!   At the timeout the SUBACK leaves anyway (logged): a subscription that
//!   routes a moment later is better than none.

use std::time::{Duration, Instant};

use hornet_codec::{Disconnect, ReasonCode};

use crate::broker::Broker;
use crate::cluster_acks::{AckGates, Gate, GateKind};
use crate::conn::ConnId;
use crate::out::Action;

impl Broker {
    /// Makes clients' acknowledgements wait for the other nodes (see the
    /// module doc), each at most `timeout`. Only for a cluster node whose
    /// shell reports [`Broker::node_acked`] and carries
    /// [`Action::Applied`].
    pub fn enable_cluster_acks(&mut self, timeout: Duration) {
        if let Some(c) = self.cluster.as_deref_mut() {
            c.acks = Some(AckGates::new(timeout));
        }
    }

    /// Every frame `node` sent on its stream `stream` up to `upto` was
    /// applied here: `node` is told ([`Action::Applied`]) once what those
    /// frames recorded is durable.
    pub fn node_frames_applied(&mut self, now: Instant, node: &str, stream: u64, upto: u64) {
        self.now = now;
        if self.cluster.is_some() {
            self.out.cluster(Action::Applied {
                node: node.into(),
                stream,
                upto,
            });
        }
    }

    /// `node` applied the forwarded messages (and route deltas) of
    /// `tokens` (each an [`Action::Forward`]'s `ack`): the
    /// acknowledgements that waited for nothing else leave.
    pub fn node_acked(&mut self, now: Instant, node: &str, tokens: &[u64]) {
        self.now = now;
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        let Some(peer) = c.peer_index(node) else {
            return;
        };
        let Some(acks) = c.acks.as_mut() else {
            return;
        };
        let done = acks.acked(peer, tokens);
        tracing::debug!(
            "Cluster: node {node} applied {} frames an acknowledgement may wait for; {} \
             acknowledgements released.",
            tokens.len(),
            done.len()
        );
        for gate in done {
            self.out.ungate_ack(gate.conn, gate.packet_id, true);
        }
    }

    /// Opens a gate for `conn`'s acknowledgement `packet_id` over what the
    /// message (or route) just handed out; emitted next, it waits.
    pub(crate) fn gate_ack(&mut self, now: Instant, conn: ConnId, packet_id: u16, kind: GateKind) {
        let Some(acks) = self.cluster.as_deref_mut().and_then(|c| c.acks.as_mut()) else {
            return;
        };
        if acks.open(now, conn, packet_id, kind) {
            tracing::debug!(
                "Cluster: the acknowledgement of m{packet_id} on connection {} waits for other \
                 nodes.",
                conn.0
            );
            self.out.gate_ack(conn, packet_id);
        }
    }

    /// Forgets what was handed out while routing a message no client
    /// acknowledgement waits for.
    pub(crate) fn ungated(&mut self) {
        if let Some(acks) = self.cluster.as_deref_mut().and_then(|c| c.acks.as_mut()) {
            acks.discard();
        }
    }

    /// Peer `peer` (`node`) was counted dead: nothing waits for it.
    pub(crate) fn acks_node_dead(&mut self, peer: u32, node: &str) {
        let Some(acks) = self.cluster.as_deref_mut().and_then(|c| c.acks.as_mut()) else {
            return;
        };
        let done = acks.peer_dead(peer);
        if !done.is_empty() {
            tracing::info!(
                "Cluster: {} acknowledgements that waited for node {node} sent: it is dead and \
                 its routes are purged.",
                done.len()
            );
        }
        for gate in done {
            self.out.ungate_ack(gate.conn, gate.packet_id, true);
        }
    }

    /// Gives up the gates whose deadline passed (see the module doc).
    pub(crate) fn acks_tick(&mut self, now: Instant) {
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        let Some(acks) = c.acks.as_mut() else {
            return;
        };
        let timeout = acks.timeout;
        let late = acks.overdue(now);
        let late: Vec<(Gate, String)> = late
            .into_iter()
            .map(|gate| {
                let nodes: Vec<&str> = gate.peers().map(|p| c.peer_name(p)).collect();
                let nodes = nodes.join(", ");
                (gate, nodes)
            })
            .collect();
        for (gate, nodes) in late {
            let name = self
                .conns
                .get(&gate.conn)
                .map_or_else(|| format!("connection {}", gate.conn.0), |x| x.name());
            match gate.kind {
                GateKind::Subscribe => {
                    tracing::warn!(
                        "Cluster: SUBACK to {name} (m{}) sent without node(s) {nodes} having \
                         applied its route within {timeout:?}; messages published there may \
                         miss it until they do.",
                        gate.packet_id
                    );
                    self.out.ungate_ack(gate.conn, gate.packet_id, true);
                }
                GateKind::Publish => {
                    tracing::warn!(
                        "Cluster: node(s) {nodes} did not acknowledge message m{} of {name} \
                         within {timeout:?}; closing the connection without its \
                         acknowledgement (the client sends it again; it stays queued for \
                         those nodes).",
                        gate.packet_id
                    );
                    self.out.ungate_ack(gate.conn, gate.packet_id, false);
                    if let Some(conn) = self.conns.get_mut(&gate.conn) {
                        if conn.protocol.is_v5() {
                            let packet = Disconnect::new(ReasonCode::ServerBusy).into();
                            self.out.send(gate.conn, conn, &mut self.stats, packet);
                        }
                        self.end_connection(now, gate.conn, true);
                    }
                }
            }
        }
    }

    /// When [`Broker::acks_tick`] next has work.
    pub(crate) fn acks_deadline(&self) -> Option<Instant> {
        self.cluster.as_deref()?.acks.as_ref()?.next_deadline()
    }

    /// Acknowledgements waiting for other nodes now (`$SYS`, admin).
    pub fn cluster_acks_waiting(&self) -> usize {
        self.cluster
            .as_deref()
            .and_then(|c| c.acks.as_ref())
            .map_or(0, AckGates::open_len)
    }

    /// Acknowledgements given up at `ack_timeout` (publishers closed,
    /// SUBACKs sent without every node), over the process's life.
    pub fn cluster_acks_timed_out(&self) -> u64 {
        self.cluster
            .as_deref()
            .and_then(|c| c.acks.as_ref())
            .map_or(0, |a| a.timed_out)
    }
}
