//! Acknowledged = durable: the packets that wait for the disk wait here.
//!
//! The core records what must survive a crash as [`StoreOp`]s (see
//! `persist`). Whenever the shell takes the core's actions
//! ([`Broker::poll_action`](crate::Broker::poll_action), [`Broker::drain_actions`](crate::Broker::drain_actions)) the records made
//! since the last time leave first, as one [`Action::Persist`](crate::Action::Persist) with a
//! sequence number, in the same ordered stream as the packets. The shell
//! writes them (group commit) and reports back:
//!
//! - [`Broker::durable`](crate::Broker::durable)`(now, seq)`: every record up to `seq` is on disk;
//! - [`Broker::persist_failed`](crate::Broker::persist_failed)`(now, seq)`: the records up to `seq` that
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
//! included) is held behind it, so each connection keeps the core's order;
//! a packet that promises a later seal's records waits for that seal's
//! number, not only for the packet it follows.
//!
//! A failed write closes exactly the connections that held packets on it,
//! without those packets (the clients send again), publishes their wills,
//! and puts the core in the failing state: QoS 1/2 publishes are refused
//! (`persist::refuse_unstorable`) and nothing more is held (the other
//! answers go out, so clients keep working; the store keeps their records
//! in its live state and writes them with the snapshot that ends the
//! episode). The next [`Broker::durable`](crate::Broker::durable) ends the failing state.
//!
//! [`StoreOp`]: crate::persist::StoreOp

use std::time::Instant;

use crate::broker::Broker;

impl Broker {
    /// Moves what the last inputs emitted to the ready queue: their records
    /// first, as one [`Action::Persist`](crate::Action::Persist), then each
    /// packet, unless it must wait for those records or is behind one that
    /// does.
    pub(crate) fn seal(&mut self) {
        // Deferred work first: its actions and records belong to this seal.
        self.resume_ready_takeovers();
        let mut records = Vec::new();
        if self.journal.enabled() {
            self.drain_store_ops(&mut records);
        }
        self.out.seal(records, self.journal.holds_acks());
    }

    /// Every record up to `seq` ([`Action::Persist`](crate::Action::Persist))
    /// is on disk: the packets that waited for them leave, in order. Ends
    /// the failing state a [`Broker::persist_failed`] began.
    pub fn durable(&mut self, now: Instant, seq: u64) {
        self.now = now;
        self.seal();
        self.out.release(seq);
        if self.journal.set_failed(false) {
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
        if self.journal.set_failed(true) {
            tracing::error!(
                "The store cannot write (disk full or I/O error): QoS 1 and 2 publishes are \
                 refused until it can; acknowledgements that waited for it are withheld."
            );
        }
        let victims = self.out.fail(seq);
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

    /// The last sequence number handed out in an [`Action::Persist`](crate::Action::Persist), and
    /// the highest reported durable.
    pub fn persist_seqs(&self) -> (u64, u64) {
        self.out.seqs()
    }

    /// Connections with packets waiting for the disk.
    pub fn connections_waiting_for_disk(&self) -> usize {
        self.out.waiting_for_disk()
    }
}
