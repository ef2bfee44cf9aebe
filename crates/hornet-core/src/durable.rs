//! Acknowledged = durable: the packets that wait for the disk wait here.
//!
//! The core records what must survive a crash as [`StoreOp`]s (see
//! `persist`). Whenever the shell takes the core's actions
//! ([`Broker::poll_action`], [`Broker::drain_actions`]) the records made
//! since the last time leave first, as one [`Action::Persist`] with a
//! sequence number, in the same ordered stream as the packets. The shell
//! writes them (group commit) and reports back:
//!
//! - [`Broker::durable`]`(now, seq)`: every record up to `seq` is on disk;
//! - [`Broker::persist_failed`]`(now, seq)`: the records up to `seq` that
//!   were not yet reported durable could not be written.
//!
//! With [`AckPolicy::AfterDurable`] (`fsync` mode) the core itself holds,
//! per connection, each packet that promises what the records hold, until
//! their sequence number is durable:
//!
//! ```text
//!   input ──▶ core ──▶ Send/Close ─────────────────────────▶ shell writes
//!                 │                         ▲
//!                 ├─▶ Persist{seq} ─▶ store │ durable(seq): released in order
//!                 └─▶ held[conn] ───────────┘ persist_failed(seq): dropped,
//!                                              the connection closed
//! ```
//!
//! Held: every acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK,
//! UNSUBACK), CONNACK, DISCONNECT, and QoS 2 PUBLISH (its packet id must be
//! on disk, or a restart resends the message under a new id), when the
//! call that emitted it recorded something. QoS 0 and 1 PUBLISH packets to
//! subscribers are not held: a crash can only repeat a QoS 1 message, and
//! holding them would cost a subscriber's window one fsync per round trip.
//! Whatever follows a held packet on the same connection (a `Close`
//! included) is held behind it, so each connection keeps the core's order.
//!
//! A failed write closes exactly the connections that held packets on it,
//! without those packets (the clients send again), publishes their wills,
//! and puts the core in the failing state: QoS 1/2 publishes are refused
//! (`persist::refuse_unstorable`) and nothing more is held (the other
//! answers go out, so clients keep working; the store keeps their records
//! in its live state and writes them with the snapshot that ends the
//! episode). The next [`Broker::durable`] ends the failing state.
//!
//! [`StoreOp`]: crate::persist::StoreOp

use std::collections::VecDeque;
use std::time::Instant;

use ahash::AHashMap;
use hornet_codec::{Packet, QoS};

use crate::broker::{Action, Broker, ConnId};

/// When acknowledgements may leave, relative to their records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckPolicy {
    /// An acknowledgement leaves only once its records are durable
    /// ([`Broker::durable`]): a crash never loses an acknowledged message.
    #[default]
    AfterDurable,
    /// Acknowledgements leave at once; records are written in the
    /// background (`fsync interval` and `none`): a crash may lose the last
    /// moments.
    Immediate,
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
        Action::CheckPassword { .. } | Action::Persist { .. } => None,
    }
}

impl Broker {
    /// Moves what the last inputs emitted to the ready queue: their records
    /// first, as one [`Action::Persist`], then each packet, unless it must
    /// wait for those records or is behind one that does.
    pub(crate) fn seal(&mut self) {
        let mut records = Vec::new();
        if self.journal.enabled {
            self.drain_store_ops(&mut records);
        }
        let mut seq = 0;
        if !records.is_empty() {
            self.out.held.last_seq += 1;
            seq = self.out.held.last_seq;
            self.out.ready.push_back(Action::Persist { seq, records });
        }
        let gate =
            seq > 0 && self.journal.policy == AckPolicy::AfterDurable && !self.journal.failed;
        if !gate && self.out.held.by_conn.is_empty() {
            if self.out.ready.is_empty() {
                std::mem::swap(&mut self.out.ready, &mut self.out.actions);
            } else {
                self.out.ready.append(&mut self.out.actions);
            }
            return;
        }
        while let Some(action) = self.out.actions.pop_front() {
            let Some(conn) = conn_of(&action) else {
                self.out.ready.push_back(action);
                continue;
            };
            if let Some(behind) = self.out.held.behind(conn) {
                self.out.held.hold(conn, behind, action);
            } else if gate && matches!(&action, Action::Send { packet, .. } if must_wait(packet)) {
                self.out.held.hold(conn, seq, action);
            } else {
                self.out.ready.push_back(action);
            }
        }
    }

    /// Every record up to `seq` ([`Action::Persist`]) is on disk: the
    /// packets that waited for them leave, in order. Ends the failing state
    /// a [`Broker::persist_failed`] began.
    pub fn durable(&mut self, now: Instant, seq: u64) {
        self.now = now;
        self.seal();
        let held = &mut self.out.held;
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
                self.out.ready.push_back(action);
            }
            if queue.is_empty() {
                held.by_conn.remove(&conn);
            }
        }
        if self.journal.failed {
            self.journal.failed = false;
            tracing::warn!("The store writes again: QoS 1 and 2 publishes are accepted.");
        }
    }

    /// The records up to `seq` not yet reported durable could not be
    /// written (disk full, I/O error). The connections whose packets waited
    /// for them are closed without those packets (their clients send again;
    /// wills are published), and QoS 1/2 publishes are refused until the
    /// next [`Broker::durable`].
    pub fn persist_failed(&mut self, now: Instant, seq: u64) {
        self.now = now;
        self.seal();
        if !self.journal.failed {
            self.journal.failed = true;
            tracing::error!(
                "The store cannot write (disk full or I/O error): QoS 1 and 2 publishes are \
                 refused until it can; acknowledgements that waited for it are withheld."
            );
        }
        let mut victims = Vec::new();
        let held = &mut self.out.held;
        while let Some(&(s, conn)) = held.order.front() {
            if s > seq {
                break;
            }
            held.order.pop_front();
            if held.by_conn.remove(&conn).is_some() {
                victims.push(conn);
            }
        }
        for id in victims {
            let name = self
                .conns
                .get(&id)
                .map_or_else(|| id.to_string(), |c| c.name());
            tracing::warn!(
                "Closing the connection of {name}: the store could not write what its \
                 acknowledgements promise (they are withheld; the client will send again)."
            );
            if self.conns.contains_key(&id) {
                self.end_connection(now, id, true);
            } else {
                // The core had already let it go; its Close was held too.
                self.out.close(id);
            }
        }
    }

    /// The last sequence number handed out in an [`Action::Persist`], and
    /// the highest reported durable.
    pub fn persist_seqs(&self) -> (u64, u64) {
        (self.out.held.last_seq, self.out.held.durable)
    }

    /// Connections with packets waiting for the disk.
    pub fn connections_waiting_for_disk(&self) -> usize {
        self.out.held.connections()
    }
}
