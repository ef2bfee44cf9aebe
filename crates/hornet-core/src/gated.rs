//! Packets that wait for other nodes, per connection: the last stage of
//! `out`'s queue, after the disk's (`durable`).
//!
//! An acknowledgement that waits for a gate (`cluster_acks`: a PUBACK or
//! PUBREC of a forwarded message, a SUBACK of a new route) is registered
//! by its connection and packet id before it is emitted. When it reaches
//! this stage with its gate still shut, it is held, and so is everything
//! after it on its connection, so each connection keeps the core's order
//! (acknowledgements in the order of the packets they answer,
//! [MQTT-4.6.0-2]). When the gate opens, the held packets leave up to the
//! next acknowledgement still waiting. A close of the connection does not
//! wait: it drops the acknowledgements still waiting (never sent, so never
//! claimed; the client sends those packets again) and lets the rest go.
//!
//! Generic over what it holds (`out`'s actions), which `out` classifies.

use std::collections::VecDeque;

use ahash::{AHashMap, AHashSet};

use crate::conn::ConnId;

/// See the module doc.
#[derive(Debug)]
pub(crate) struct Gated<A> {
    /// Acknowledgements (connection, packet id) whose gate is shut.
    shut: AHashSet<(ConnId, u16)>,
    /// Held items by connection, in order; the packet id of each one that
    /// is a waiting acknowledgement itself.
    held: AHashMap<ConnId, VecDeque<(Option<u16>, A)>>,
}

impl<A> Default for Gated<A> {
    fn default() -> Self {
        Gated {
            shut: AHashSet::default(),
            held: AHashMap::default(),
        }
    }
}

impl<A> Gated<A> {
    /// Whether nothing waits (the seal's fast path).
    #[inline]
    pub(crate) fn idle(&self) -> bool {
        self.shut.is_empty() && self.held.is_empty()
    }

    /// `conn`'s acknowledgement `packet_id` waits for its gate.
    pub(crate) fn shut(&mut self, conn: ConnId, packet_id: u16) {
        self.shut.insert((conn, packet_id));
    }

    /// Whether `conn` has items held.
    pub(crate) fn holds(&self, conn: ConnId) -> bool {
        self.held.contains_key(&conn)
    }

    /// `item` for `conn` (`ack`: its packet id, when it is a kind of
    /// acknowledgement a gate can hold): given back when it may go now,
    /// held otherwise.
    pub(crate) fn admit(&mut self, conn: ConnId, ack: Option<u16>, item: A) -> Option<A> {
        let waits = ack.filter(|id| self.shut.contains(&(conn, *id)));
        match (self.held.get_mut(&conn), waits) {
            (Some(queue), w) => queue.push_back((w, item)),
            (None, Some(w)) => {
                let mut queue = VecDeque::new();
                queue.push_back((Some(w), item));
                self.held.insert(conn, queue);
            }
            (None, None) => return Some(item),
        }
        None
    }

    /// `conn` is being closed: the items held that are not waiting
    /// acknowledgements, in order (those are dropped).
    pub(crate) fn close(&mut self, conn: ConnId) -> Vec<A> {
        self.shut.retain(|s| s.0 != conn);
        let Some(queue) = self.held.remove(&conn) else {
            return Vec::new();
        };
        let dropped = queue.iter().filter(|h| h.0.is_some()).count();
        if dropped > 0 {
            tracing::debug!(
                "Closing connection {}: {dropped} acknowledgements that waited for other nodes \
                 are not sent.",
                conn.0
            );
        }
        queue
            .into_iter()
            .filter(|h| h.0.is_none())
            .map(|h| h.1)
            .collect()
    }

    /// The gate of `conn`'s acknowledgement `packet_id` opened: what it
    /// held back, up to the next one still shut, in order.
    pub(crate) fn open(&mut self, conn: ConnId, packet_id: u16) -> Vec<A> {
        self.shut.remove(&(conn, packet_id));
        let mut out = Vec::new();
        let Some(queue) = self.held.get_mut(&conn) else {
            return out;
        };
        // (Twice, for a QoS 2 PUBLISH sent again before its PUBREC.)
        for h in queue.iter_mut().filter(|h| h.0 == Some(packet_id)) {
            h.0 = None;
        }
        while queue.front().is_some_and(|h| h.0.is_none()) {
            out.push(queue.pop_front().expect("front").1);
        }
        if queue.is_empty() {
            self.held.remove(&conn);
        }
        out
    }

    /// `conn`'s acknowledgement `packet_id` is given up (the connection is
    /// being closed): as [`Gated::open`], without it.
    pub(crate) fn drop_ack(&mut self, conn: ConnId, packet_id: u16) -> Vec<A> {
        if let Some(queue) = self.held.get_mut(&conn) {
            queue.retain(|h| h.0 != Some(packet_id));
        }
        self.open(conn, packet_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items are (connection, packet id) here.
    fn admit(g: &mut Gated<(u64, u16)>, ready: &mut Vec<(u64, u16)>, conn: u64, id: u16) {
        ready.extend(g.admit(ConnId(conn), Some(id), (conn, id)));
    }

    #[test]
    fn held_acknowledgements_leave_in_order_when_their_gates_open() {
        let mut g = Gated::default();
        let mut ready = Vec::new();
        g.shut(ConnId(1), 1);
        g.shut(ConnId(1), 3);
        for id in 1..=4 {
            admit(&mut g, &mut ready, 1, id);
        }
        admit(&mut g, &mut ready, 2, 9);
        assert_eq!(ready, vec![(2, 9)], "other connections do not wait");
        ready.extend(g.open(ConnId(1), 3));
        assert_eq!(ready, vec![(2, 9)], "3 waits behind 1");
        ready.extend(g.open(ConnId(1), 1));
        assert_eq!(ready, vec![(2, 9), (1, 1), (1, 2), (1, 3), (1, 4)]);
        assert!(g.idle());
    }

    #[test]
    fn a_close_drops_the_waiting_acknowledgements_only() {
        let mut g = Gated::default();
        let mut ready = Vec::new();
        g.shut(ConnId(1), 1);
        admit(&mut g, &mut ready, 1, 1);
        admit(&mut g, &mut ready, 1, 2);
        assert!(ready.is_empty());
        assert_eq!(g.close(ConnId(1)), vec![(1, 2)]);
        assert!(g.idle());
    }
}
