//! Packets that wait for other nodes, per connection: the last stage of
//! [`Out`](crate::out), after the disk's (`durable`).
//!
//! An acknowledgement that waits for a gate (`cluster_acks`: a PUBACK or
//! PUBREC of a forwarded message, a SUBACK of a new route) is registered
//! by its connection and packet id before it is emitted. When it reaches
//! this stage with its gate still shut, it is held, and so is everything
//! after it on its connection, so each connection keeps the core's order
//! (acknowledgements in the order of the packets they answer,
//! [MQTT-4.6.0-2]). When the gate opens, the held packets leave up to the
//! next acknowledgement still waiting. A `Close` of the connection does not
//! wait: it drops the acknowledgements still waiting (never sent, so never
//! claimed; the client sends those packets again) and lets the rest go.

use std::collections::VecDeque;

use ahash::{AHashMap, AHashSet};
use hornet_codec::Packet;

use crate::conn::ConnId;
use crate::out::Action;

/// See the module doc.
#[derive(Debug, Default)]
pub(crate) struct Gated {
    /// Acknowledgements (connection, packet id) whose gate is shut.
    shut: AHashSet<(ConnId, u16)>,
    /// Held actions by connection, in order; the packet id of each one that
    /// is a waiting acknowledgement itself.
    held: AHashMap<ConnId, VecDeque<(Option<u16>, Action)>>,
}

/// The packet id of a gated kind of acknowledgement.
fn gated_id(packet: &Packet) -> Option<u16> {
    match packet {
        Packet::PubAck(a) | Packet::PubRec(a) => Some(a.packet_id.get()),
        Packet::SubAck(a) => Some(a.packet_id.get()),
        _ => None,
    }
}

impl Gated {
    /// Whether nothing waits (the seal's fast path).
    #[inline]
    pub(crate) fn idle(&self) -> bool {
        self.shut.is_empty() && self.held.is_empty()
    }

    /// `conn`'s acknowledgement `packet_id` waits for its gate.
    pub(crate) fn shut(&mut self, conn: ConnId, packet_id: u16) {
        self.shut.insert((conn, packet_id));
    }

    /// Moves `action` on to `ready`, or holds it.
    pub(crate) fn admit(&mut self, action: Action, ready: &mut VecDeque<Action>) {
        match action {
            Action::SendMany { conns, publish } => {
                let mut rest = Vec::with_capacity(conns.len());
                for conn in conns {
                    match self.held.get_mut(&conn) {
                        Some(queue) => {
                            let packet = Packet::Publish(publish.clone());
                            queue.push_back((None, Action::Send { conn, packet }));
                        }
                        None => rest.push(conn),
                    }
                }
                if !rest.is_empty() {
                    ready.push_back(Action::SendMany {
                        conns: rest,
                        publish,
                    });
                }
            }
            Action::Close { conn } => {
                if let Some(queue) = self.held.remove(&conn) {
                    let dropped = queue.iter().filter(|h| h.0.is_some()).count();
                    tracing::debug!(
                        "Closing connection {}: {dropped} acknowledgements that waited for \
                         other nodes are not sent.",
                        conn.0
                    );
                    ready.extend(queue.into_iter().filter(|h| h.0.is_none()).map(|h| h.1));
                }
                self.shut.retain(|s| s.0 != conn);
                ready.push_back(Action::Close { conn });
            }
            Action::Send { conn, packet } => {
                let waits = gated_id(&packet).filter(|id| self.shut.contains(&(conn, *id)));
                match (self.held.get_mut(&conn), waits) {
                    (Some(queue), w) => queue.push_back((w, Action::Send { conn, packet })),
                    (None, Some(w)) => {
                        let mut queue = VecDeque::new();
                        queue.push_back((Some(w), Action::Send { conn, packet }));
                        self.held.insert(conn, queue);
                    }
                    (None, None) => ready.push_back(Action::Send { conn, packet }),
                }
            }
            other => ready.push_back(other),
        }
    }

    /// The gate of `conn`'s acknowledgement `packet_id` opened: what it
    /// held back moves to `ready`, up to the next one still shut.
    pub(crate) fn open(&mut self, conn: ConnId, packet_id: u16, ready: &mut VecDeque<Action>) {
        self.shut.remove(&(conn, packet_id));
        let Some(queue) = self.held.get_mut(&conn) else {
            return;
        };
        // (Twice, for a QoS 2 PUBLISH sent again before its PUBREC.)
        for h in queue.iter_mut().filter(|h| h.0 == Some(packet_id)) {
            h.0 = None;
        }
        while queue.front().is_some_and(|h| h.0.is_none()) {
            ready.push_back(queue.pop_front().expect("front").1);
        }
        if queue.is_empty() {
            self.held.remove(&conn);
        }
    }

    /// `conn`'s acknowledgement `packet_id` is given up: its gate opens
    /// without it (the connection is being closed).
    pub(crate) fn drop_ack(&mut self, conn: ConnId, packet_id: u16, ready: &mut VecDeque<Action>) {
        if let Some(queue) = self.held.get_mut(&conn) {
            queue.retain(|h| h.0 != Some(packet_id));
        }
        self.open(conn, packet_id, ready);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_codec::{Ack, PacketId};

    fn puback(conn: u64, id: u16) -> Action {
        Action::Send {
            conn: ConnId(conn),
            packet: Packet::PubAck(Ack::new(PacketId::new(id).unwrap())),
        }
    }

    fn ids(ready: &VecDeque<Action>) -> Vec<u16> {
        ready
            .iter()
            .filter_map(|a| match a {
                Action::Send { packet, .. } => gated_id(packet),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn held_acknowledgements_leave_in_order_when_their_gates_open() {
        let mut g = Gated::default();
        let mut ready = VecDeque::new();
        g.shut(ConnId(1), 1);
        g.shut(ConnId(1), 3);
        for id in 1..=4 {
            g.admit(puback(1, id), &mut ready);
        }
        g.admit(puback(2, 9), &mut ready);
        assert_eq!(ids(&ready), vec![9], "other connections do not wait");
        g.open(ConnId(1), 3, &mut ready);
        assert_eq!(ids(&ready), vec![9], "3 waits behind 1");
        g.open(ConnId(1), 1, &mut ready);
        assert_eq!(ids(&ready), vec![9, 1, 2, 3, 4]);
        assert!(g.idle());
    }

    #[test]
    fn a_close_drops_the_waiting_acknowledgements_only() {
        let mut g = Gated::default();
        let mut ready = VecDeque::new();
        g.shut(ConnId(1), 1);
        g.admit(puback(1, 1), &mut ready);
        g.admit(puback(1, 2), &mut ready);
        g.admit(Action::Close { conn: ConnId(1) }, &mut ready);
        assert_eq!(ids(&ready), vec![2]);
        assert!(matches!(ready.back(), Some(Action::Close { .. })));
        assert!(g.idle());
    }
}
