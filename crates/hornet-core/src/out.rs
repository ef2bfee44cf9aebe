//! The core's output: [`Action`]s for the shell and [`Out`], where every
//! input method puts them. `Out` holds them in three stages: emitted by the
//! current input, sealed for the shell, and held for the disk ([`Held`]:
//! packets that promise what records hold wait until those records are
//! durable, see `durable` for the rules and [`AckPolicy`] for the choice).

use std::collections::VecDeque;

use ahash::AHashMap;
use hornet_codec::{Packet, Publish, QoS};

use crate::conn::{Conn, ConnId};
use crate::logfmt;
use crate::sys::Stats;

/// What the broker asks the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Encode `packet` in the connection's protocol version and write it.
    Send {
        /// The connection.
        conn: ConnId,
        /// The packet.
        packet: Packet,
    },
    /// Encode `publish` (a QoS 0 PUBLISH whose bytes are the same for
    /// every one of them) once per protocol version and write it to each
    /// of `conns`, on each after what it was sent before. Emitted only by
    /// a broker told [`Broker::send_many`](crate::Broker::send_many) (the
    /// shell's fan-out: one action and one copy of the message for all
    /// its subscribers, not one per subscriber); otherwise every copy is a
    /// [`Action::Send`].
    SendMany {
        /// The connections, each once.
        conns: Vec<ConnId>,
        /// The message as every one of them gets it.
        publish: hornet_codec::Publish,
    },
    /// Write what is pending on the connection, then close it. The broker
    /// has already forgotten the connection.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Run this CONNECT password check off the core's lock (it may take
    /// 100 ms) and report the verdict with [`Broker::password_checked`](crate::Broker::password_checked).
    CheckPassword {
        /// The connection whose CONNECT waits for the verdict.
        conn: ConnId,
        /// The check to run.
        check: crate::auth::PasswordCheck,
    },
    /// Read what connection `conn` has already received and feed it
    /// (its socket's pending bytes, without waiting for more), then report
    /// [`Broker::input_drained`](crate::Broker::input_drained). A CONNECT
    /// taking it over waits for that (see `takeover`); only asked of a
    /// shell that enabled it with
    /// [`Broker::drain_before_takeover`](crate::Broker::drain_before_takeover).
    DrainInput {
        /// The connection.
        conn: ConnId,
    },
    /// Write these records to the store, in order after every earlier
    /// `Persist`, and report [`Broker::durable`](crate::Broker::durable) (or
    /// [`Broker::persist_failed`](crate::Broker::persist_failed)) with `seq` once they are on disk (or
    /// could not be written). Packets that promise what they hold wait in
    /// the core meanwhile (see `durable`).
    Persist {
        /// Sequence number: one more than the previous `Persist`'s.
        seq: u64,
        /// The records, in the order the core made the changes.
        records: Vec<crate::persist::StoreOp>,
    },
    /// Cluster: send `publish` to node `node` once (it matched a filter
    /// that node announced, or the node serves a shared group for it); the
    /// node delivers it to its own subscribers and never forwards it
    /// further.
    Forward {
        /// The node's name.
        node: bytestring::ByteString,
        /// The message as accepted here (no packet id).
        publish: Box<hornet_codec::Publish>,
        /// Whether the node delivers it to its plain subscribers (it
        /// announced a matching filter).
        plain: bool,
        /// Shared subscription groups (by name, `$share/{group}/{filter}`
        /// or `$queue/{filter}`) whose one delivery of this message that
        /// node makes, to one of its members; no other node delivers it to
        /// those groups.
        groups: Vec<bytestring::ByteString>,
        /// A token (never 0) when a client's acknowledgement waits for
        /// that node to apply it: report it with
        /// [`Broker::node_acked`](crate::Broker::node_acked) once the node
        /// says so; 0 when nothing waits.
        ack: u64,
    },
    /// Cluster: tell every other node that this node's exported filters
    /// changed (after the snapshot each link starts with).
    Routes {
        /// The change.
        update: crate::cluster::RouteUpdate,
    },
    /// Cluster: tell every other node that the retained message of `topic`
    /// was set (`Some`) or deleted (`None`).
    Retain {
        /// The topic.
        topic: bytestring::ByteString,
        /// The message, or `None` for a delete.
        message: Option<Box<hornet_codec::Publish>>,
        /// The write's place in the cluster's order (last write wins).
        stamp: crate::stamp::Stamp,
    },
    /// Cluster: tell every other node the will of this node's connected
    /// client `client_id` (as the PUBLISH it would become), or that it has
    /// none any more (`None`: the connection ended and its will was
    /// handled here). A survivor publishes it if this node dies. No will
    /// with a `due_in` (zero) says instead that this node published the
    /// delayed will of a dead node's client, which it had won: the others
    /// drop their standby copies (`cluster_wills`).
    Will {
        /// The client.
        client_id: bytestring::ByteString,
        /// The will as a PUBLISH, or `None`.
        will: Option<Box<hornet_codec::Publish>>,
        /// `None` while the client is connected; else its connection
        /// ended and the will is due after this (its Will Delay Interval
        /// runs: see `cluster_wills`).
        due_in: Option<std::time::Duration>,
    },
    /// Cluster: tell every other node that client `client_id` connected
    /// here; a node where that client id is connected takes it over
    /// (DISCONNECT 0x8E), as one node does ([MQTT-3.1.4-3]), unless its
    /// own connection is newer by `stamp`.
    Takeover {
        /// The client.
        client_id: bytestring::ByteString,
        /// When the connection was made (the node's hybrid logical
        /// clock): the newest CONNECT wins on every node.
        stamp: crate::Stamp,
    },
    /// Cluster: tell node `node` that every frame of its stream up to
    /// `upto` is applied here (and, when acknowledgements wait for the
    /// disk, that what they recorded is durable): the link's `Ack`.
    /// Emitted for [`Broker::node_frames_applied`](crate::Broker::node_frames_applied),
    /// in order.
    Applied {
        /// The node's name.
        node: bytestring::ByteString,
        /// Its stream (the shell's number, passed through).
        stream: u64,
        /// The last frame applied.
        upto: u64,
    },
    /// Cluster: the route stream from `node` has a gap or a stale
    /// incarnation; end the link it arrives on so that the node connects
    /// again and starts with a snapshot.
    Resync {
        /// The node's name.
        node: bytestring::ByteString,
    },
    /// Cluster: claim client id `client_id` for this node in etcd before
    /// connection `conn`'s CONNECT (a persistent session) goes on, and
    /// report [`Broker::claim_result`](crate::Broker::claim_result). With
    /// `over`, only if the key is still at that mod revision (a dead
    /// owner's session given up, `orphan_sessions = "fresh"`).
    Claim {
        /// The connection whose CONNECT waits.
        conn: ConnId,
        /// The client id.
        client_id: bytestring::ByteString,
        /// The mod revision the key must still have.
        over: Option<u64>,
    },
    /// Cluster: send persistent session `session`, which another node's
    /// claim took from this one, to that node `node` (it delivers what it
    /// holds if it waits for exactly that claim).
    MoveSession {
        /// The node that claimed it.
        node: bytestring::ByteString,
        /// The session.
        session: Box<crate::claims::SessionMove>,
    },
    /// Cluster: the persistent session of `client_id` claimed at
    /// `revision` ended here; delete its etcd key if it is still at that
    /// revision.
    Release {
        /// The client id.
        client_id: bytestring::ByteString,
        /// The revision it was claimed at.
        revision: u64,
    },
}

/// Pending actions plus the counters every send updates.
#[derive(Debug, Default)]
pub(crate) struct Out {
    /// Emitted since the last seal (see `durable`).
    actions: VecDeque<Action>,
    /// Sealed: for the shell, in order.
    ready: VecDeque<Action>,
    /// Packets waiting for their records to be durable.
    held: Held,
    /// Packets waiting for other nodes (`gated`), after the disk.
    gated: crate::gated::Gated<Action>,
}

impl Out {
    /// Queues `packet` for `conn` and counts it.
    pub(crate) fn send(&mut self, id: ConnId, conn: &mut Conn, stats: &mut Stats, packet: Packet) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!("{}", logfmt::line("Sending", &packet, "to", &conn.name()));
        }
        let mut packet = packet;
        if let (Packet::Publish(publish), Some(mount)) = (&mut packet, conn.mount_point()) {
            match crate::mount_point::unmount(mount, &publish.topic) {
                Some(topic) => publish.topic = topic,
                None => {
                    tracing::debug!(
                        "Not sending '{}' to {}: outside its listener's mount_point.",
                        publish.topic,
                        conn.name()
                    );
                    return;
                }
            }
        }
        conn.unwritten += 1;
        stats.messages_sent += 1;
        if let Packet::Publish(publish) = &mut packet {
            stats.publish_sent += 1;
            stats.publish_sent_by_qos[publish.qos as usize] += 1;
            if conn.alias_max_out > 0 {
                crate::conn::alias_outbound(conn, publish);
            }
        }
        if let Packet::Publish(publish) = &packet {
            // The PUBLISH as it will be encoded for this client (after the
            // topic alias), the same measure as `wire_len` on receipt.
            let len = publish_len(publish, conn.protocol, publish.packet_id.is_some())
                .unwrap_or_else(|| packet.encoded_len(conn.protocol).unwrap_or(0));
            stats.publish_bytes_sent_by_qos[publish.qos as usize] += len as u64;
        }
        self.actions.push_back(Action::Send { conn: id, packet });
    }

    /// Counts a copy of the QoS 0 `publish` (no properties, no packet id)
    /// for `conn` as [`Out::send`] counts a packet: it goes out in the
    /// [`Action::SendMany`] that [`Out::send_many`] makes. `lens` keeps its
    /// encoded length per protocol version across the copies of one message.
    pub(crate) fn count_copy(
        conn: &mut Conn,
        stats: &mut Stats,
        publish: &Publish,
        lens: &mut [Option<usize>; 3],
    ) {
        conn.unwritten += 1;
        stats.messages_sent += 1;
        stats.publish_sent += 1;
        stats.publish_sent_by_qos[QoS::AtMostOnce as usize] += 1;
        let protocol = conn.protocol;
        let len = *lens[protocol as usize].get_or_insert_with(|| {
            publish_len(publish, protocol, false).unwrap_or_else(|| {
                Packet::Publish(publish.clone())
                    .encoded_len(protocol)
                    .unwrap_or(0)
            })
        });
        stats.publish_bytes_sent_by_qos[QoS::AtMostOnce as usize] += len as u64;
    }

    /// Queues `publish` for every one of `conns`, each counted already
    /// ([`Out::count_copy`]): one [`Action::SendMany`], or a `Send` for one.
    pub(crate) fn send_many(&mut self, mut conns: Vec<ConnId>, publish: Publish) {
        match conns.len() {
            0 => {}
            1 => self.actions.push_back(Action::Send {
                conn: conns.pop().expect("one"),
                packet: Packet::Publish(publish),
            }),
            _ => self.actions.push_back(Action::SendMany { conns, publish }),
        }
    }

    pub(crate) fn close(&mut self, conn: ConnId) {
        self.actions.push_back(Action::Close { conn });
    }

    pub(crate) fn drain_input(&mut self, conn: ConnId) {
        self.actions.push_back(Action::DrainInput { conn });
    }

    /// Queues a cluster action (it keeps no connection's order).
    pub(crate) fn cluster(&mut self, action: Action) {
        debug_assert!(conn_of(&action).is_none());
        self.actions.push_back(action);
    }

    pub(crate) fn check_password(&mut self, conn: ConnId, check: crate::auth::PasswordCheck) {
        self.actions
            .push_back(Action::CheckPassword { conn, check });
    }

    /// Moves what the last inputs emitted to the ready queue: `records`
    /// first, as one [`Action::Persist`], then each packet, unless it must
    /// wait for those records (when `hold`: acknowledgements wait for the
    /// disk) or is behind one that does.
    pub(crate) fn seal(&mut self, records: Vec<crate::persist::StoreOp>, hold: bool) {
        let mut seq = 0;
        if !records.is_empty() {
            self.held.last_seq += 1;
            seq = self.held.last_seq;
            self.ready.push_back(Action::Persist { seq, records });
        }
        let gate = seq > 0 && hold;
        if !gate
            && self.held.by_conn.is_empty()
            && self.held.applied.is_empty()
            && self.gated.idle()
        {
            if self.ready.is_empty() {
                std::mem::swap(&mut self.ready, &mut self.actions);
            } else {
                self.ready.append(&mut self.actions);
            }
            return;
        }
        while let Some(action) = self.actions.pop_front() {
            // Copies for connections with held packets wait behind them,
            // one `Send` each; the others go together.
            // (Tested by reference first: moving every action through a
            // match would copy each once more.)
            if matches!(action, Action::SendMany { .. }) {
                let Action::SendMany { conns, publish } = action else {
                    unreachable!("matched above");
                };
                let mut rest = Vec::with_capacity(conns.len());
                for conn in conns {
                    match self.held.behind(conn) {
                        Some(behind) => {
                            let packet = Packet::Publish(publish.clone());
                            self.held.hold(conn, behind, Action::Send { conn, packet });
                        }
                        None => rest.push(conn),
                    }
                }
                if !rest.is_empty() {
                    let many = Action::SendMany {
                        conns: rest,
                        publish,
                    };
                    self.admit(many);
                }
                continue;
            }
            if matches!(action, Action::Applied { .. }) {
                // A node's acknowledgement promises what its frames
                // recorded, as a client's does.
                match (gate, self.held.applied.back()) {
                    (true, _) => self.held.applied.push_back((seq, action)),
                    (false, Some(&(behind, _))) => self.held.applied.push_back((behind, action)),
                    (false, None) => self.ready.push_back(action),
                }
                continue;
            }
            let Some(conn) = conn_of(&action) else {
                self.admit(action);
                continue;
            };
            // A packet that promises this seal's records waits for them,
            // even behind an earlier held one (which may be released
            // first); any other waits only behind what is held.
            let waits = gate && matches!(&action, Action::Send { packet, .. } if must_wait(packet));
            match (self.held.behind(conn), waits) {
                (_, true) => self.held.hold(conn, seq, action),
                (Some(behind), false) => self.held.hold(conn, behind, action),
                (None, false) => self.admit(action),
            }
        }
    }

    /// Moves `action` on to the ready queue, unless it waits for other
    /// nodes (`gated`).
    fn admit(&mut self, action: Action) {
        admit(&mut self.gated, &mut self.ready, action);
    }

    /// `conn`'s acknowledgement `packet_id` (about to be emitted) waits for
    /// other nodes (see `gated`).
    pub(crate) fn gate_ack(&mut self, conn: ConnId, packet_id: u16) {
        self.gated.shut(conn, packet_id);
    }

    /// The other nodes applied what `conn`'s acknowledgement `packet_id`
    /// waited for (`send`), or it is given up (`!send`): what it held back
    /// leaves.
    pub(crate) fn ungate_ack(&mut self, conn: ConnId, packet_id: u16, send: bool) {
        let go = if send {
            self.gated.open(conn, packet_id)
        } else {
            self.gated.drop_ack(conn, packet_id)
        };
        self.ready.extend(go);
    }

    /// Every record up to `seq` is on disk: the packets that waited for
    /// them move to the ready queue, in order.
    pub(crate) fn release(&mut self, seq: u64) {
        let held = &mut self.held;
        held.durable = held.durable.max(seq);
        while let Some(&(s, conn)) = held.order.front() {
            if s > seq {
                break;
            }
            held.order.pop_front();
            let Some(queue) = held.by_conn.get_mut(&conn) else {
                continue;
            };
            while queue.front().is_some_and(|&(s, _)| s <= seq) {
                let (_, action) = queue.pop_front().expect("front");
                admit(&mut self.gated, &mut self.ready, action);
            }
            if queue.is_empty() {
                held.by_conn.remove(&conn);
            }
        }
        while held.applied.front().is_some_and(|&(s, _)| s <= seq) {
            let (_, action) = held.applied.pop_front().expect("front");
            self.ready.push_back(action);
        }
    }

    /// The records up to `seq` could not be written: drops the packets that
    /// waited for them and returns their connections, to be closed.
    pub(crate) fn fail(&mut self, seq: u64) -> Vec<ConnId> {
        let mut victims = Vec::new();
        let held = &mut self.held;
        while let Some(&(s, conn)) = held.order.front() {
            if s > seq {
                break;
            }
            held.order.pop_front();
            if held.by_conn.remove(&conn).is_some() {
                victims.push(conn);
            }
        }
        victims
    }

    /// The last sequence number handed out in an [`Action::Persist`], and
    /// the highest reported durable.
    pub(crate) fn seqs(&self) -> (u64, u64) {
        (self.held.last_seq, self.held.durable)
    }

    /// Connections with packets waiting for the disk.
    pub(crate) fn waiting_for_disk(&self) -> usize {
        self.held.connections()
    }

    /// The next sealed action for the shell.
    #[inline]
    pub(crate) fn pop_ready(&mut self) -> Option<Action> {
        self.ready.pop_front()
    }

    /// Whether no sealed action waits.
    #[inline]
    pub(crate) fn nothing_ready(&self) -> bool {
        self.ready.is_empty()
    }

    /// Moves every sealed action into `into`.
    #[inline]
    pub(crate) fn drain_ready(&mut self, into: &mut Vec<Action>) {
        if into.is_empty() {
            // Swap buffers rather than move each action (10% of a
            // fan-out's instructions): the caller's empty vector becomes
            // the ready queue, and the queue's buffer, as a vector, the
            // caller's (both conversions keep the allocation).
            let spare = VecDeque::from(std::mem::take(into));
            *into = Vec::from(std::mem::replace(&mut self.ready, spare));
            return;
        }
        into.extend(self.ready.drain(..));
    }
}

/// Moves `action` on to `ready`, unless `gated` holds it.
fn admit(gated: &mut crate::gated::Gated<Action>, ready: &mut VecDeque<Action>, action: Action) {
    if gated.idle() {
        ready.push_back(action);
        return;
    }
    match action {
        Action::SendMany { conns, publish } => {
            let mut rest = Vec::with_capacity(conns.len());
            for conn in conns {
                if gated.holds(conn) {
                    let packet = Packet::Publish(publish.clone());
                    let send = Action::Send { conn, packet };
                    ready.extend(gated.admit(conn, None, send));
                } else {
                    rest.push(conn);
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
            ready.extend(gated.close(conn));
            ready.push_back(Action::Close { conn });
        }
        Action::Send { conn, packet } => {
            let ack = match &packet {
                Packet::PubAck(a) | Packet::PubRec(a) => Some(a.packet_id.get()),
                Packet::SubAck(a) => Some(a.packet_id.get()),
                _ => None,
            };
            let send = Action::Send { conn, packet };
            ready.extend(gated.admit(conn, ack, send));
        }
        other => ready.push_back(other),
    }
}

/// The encoded length of a PUBLISH without properties, by arithmetic,
/// with a packet id when `with_id` (`Packet::encoded_len` checks the
/// whole packet again: 4% of a fan-out's instructions, once per copy);
/// `None` for one with properties or one too large to encode.
pub(crate) fn publish_len(
    publish: &hornet_codec::Publish,
    protocol: hornet_codec::Protocol,
    with_id: bool,
) -> Option<usize> {
    if !publish.properties.is_empty() || publish.topic.len() > usize::from(u16::MAX) {
        return None;
    }
    let body = 2
        + publish.topic.len()
        + publish.payload.len()
        + if with_id { 2 } else { 0 }
        + usize::from(protocol.is_v5());
    let header = match body {
        0..=127 => 2,
        128..=16_383 => 3,
        16_384..=2_097_151 => 4,
        2_097_152..=268_435_455 => 5,
        _ => return None,
    };
    Some(header + body)
}

/// Packets held for the disk, per connection, and the sequence numbers.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// The last sequence number handed out.
    last_seq: u64,
    /// The highest sequence number reported durable.
    durable: u64,
    /// Held actions by connection, in emission order, with the sequence
    /// number each waits for (non-decreasing within a queue).
    by_conn: AHashMap<ConnId, VecDeque<(u64, Action)>>,
    /// When each connection's queue may move, in sequence order: one entry
    /// per (sequence number, connection) that first held something.
    order: VecDeque<(u64, ConnId)>,
    /// [`Action::Applied`] waiting for the sequence number of what its
    /// frames recorded (or behind one that does), in order.
    applied: VecDeque<(u64, Action)>,
}

impl Held {
    fn hold(&mut self, conn: ConnId, seq: u64, action: Action) {
        let queue = self.by_conn.entry(conn).or_default();
        if queue.back().map_or(true, |&(s, _)| s < seq) {
            self.order.push_back((seq, conn));
        }
        queue.push_back((seq, action));
    }

    /// The sequence number the last held action of `conn` waits for.
    fn behind(&self, conn: ConnId) -> Option<u64> {
        self.by_conn.get(&conn)?.back().map(|&(s, _)| s)
    }

    /// Connections holding packets (for tests and the admin view).
    pub(crate) fn connections(&self) -> usize {
        self.by_conn.len()
    }
}

/// Whether `packet`, emitted by a call that recorded something, promises
/// what the records hold (see the module doc).
fn must_wait(packet: &Packet) -> bool {
    !matches!(packet, Packet::Publish(p) if p.qos != QoS::ExactlyOnce)
}

/// The connection an action is for, if it is one that keeps a
/// connection's order.
fn conn_of(action: &Action) -> Option<ConnId> {
    match action {
        Action::Send { conn, .. } | Action::Close { conn } => Some(*conn),
        // Not one connection: `seal` splits it by connection itself.
        Action::SendMany { .. }
        | Action::CheckPassword { .. }
        | Action::DrainInput { .. }
        | Action::Persist { .. }
        | Action::Forward { .. }
        | Action::Applied { .. }
        | Action::Routes { .. }
        | Action::Retain { .. }
        | Action::Will { .. }
        | Action::Takeover { .. }
        | Action::Resync { .. }
        | Action::Claim { .. }
        | Action::MoveSession { .. }
        | Action::Release { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    /// Every action and every record is moved several times on its way
    /// out; past 128 bytes the compiler moves them with a `memcpy` call.
    /// Growing `Action` to 136 bytes and `StoreOp` to 152 (an unboxed
    /// `Publish` in a new variant) cost 7% more instructions per QoS 1
    /// message (callgrind, durable-q1): large payloads go in a `Box`.
    #[test]
    fn actions_and_records_stay_small_enough_to_move_inline() {
        assert!(std::mem::size_of::<super::Action>() <= 128);
        assert!(std::mem::size_of::<crate::persist::StoreOp>() <= 128);
    }

    use hornet_codec::{Packet, PacketId, Protocol, Publish, QoS};

    /// The arithmetic length is the encoder's, across the varint steps.
    #[test]
    fn publish_len_is_the_encoded_length() {
        let sizes = [
            0, 1, 100, 121, 122, 200, 16_000, 16_378, 16_379, 70_000, 2_097_200,
        ];
        for size in sizes {
            for protocol in Protocol::ALL {
                for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
                    let mut p = Publish::new("a/b", vec![7u8; size]);
                    p.qos = qos;
                    p.packet_id = (qos != QoS::AtMostOnce).then(|| PacketId::new(9).unwrap());
                    let expected = Packet::Publish(p.clone()).encoded_len(protocol).unwrap();
                    let got = super::publish_len(&p, protocol, p.packet_id.is_some());
                    assert_eq!(got, Some(expected), "{size} {protocol:?}");
                }
            }
        }
    }
}
