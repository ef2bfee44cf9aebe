//! The outgoing QoS 1/2 messages that hold a packet identifier, in the
//! order they were published: sent or waiting for room in the window.

use hornet_codec::{PacketId, Publish, QoS};

/// Where an outgoing QoS 1/2 message is in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// QoS 1, sent or to send; waiting for PUBACK.
    AwaitingPubAck,
    /// QoS 2, sent or to send; waiting for PUBREC.
    AwaitingPubRec,
    /// QoS 2, PUBREC received; PUBREL sent or to send, waiting for PUBCOMP.
    AwaitingPubComp,
}

impl Stage {
    /// The first stage of a message at `qos` (1 or 2).
    pub(crate) fn first(qos: QoS) -> Stage {
        if qos == QoS::ExactlyOnce {
            Stage::AwaitingPubRec
        } else {
            Stage::AwaitingPubAck
        }
    }
}

/// One outgoing message with its identifier.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: PacketId,
    pub(crate) stage: Stage,
    /// The message (its `packet_id` set to `id`).
    pub(crate) publish: Publish,
    /// Sent on the current connection (counts against the window).
    pub(crate) sent: bool,
    /// Sent on some connection before (a resend carries DUP).
    pub(crate) ever_sent: bool,
    /// QoS 2 past PUBREC: its PUBREL may go (at once, or after the
    /// caller's `release` with `manual_qos2`).
    pub(crate) released: bool,
}

impl Entry {
    /// Past PUBREC, waiting for the caller's `release`: nothing to send.
    pub(crate) fn held(&self) -> bool {
        self.stage == Stage::AwaitingPubComp && !self.released
    }
}

/// Outgoing messages in publication order.
#[derive(Debug, Default)]
pub(crate) struct Inflight {
    entries: Vec<Entry>,
}

impl Inflight {
    pub(crate) fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// How many are sent on this connection and unacknowledged: what the
    /// remote's Receive Maximum bounds.
    pub(crate) fn in_window(&self) -> usize {
        self.entries.iter().filter(|e| e.sent).count()
    }

    pub(crate) fn get_mut(&mut self, id: PacketId) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.id == id)
    }

    pub(crate) fn remove(&mut self, id: PacketId) -> Option<Entry> {
        let at = self.entries.iter().position(|e| e.id == id)?;
        Some(self.entries.remove(at))
    }

    /// A new connection: nothing is in the remote's window any more.
    pub(crate) fn unsend_all(&mut self) {
        for e in &mut self.entries {
            e.sent = false;
        }
    }

    /// The index of the first entry not sent on this connection (and not
    /// held for the caller's `release`).
    pub(crate) fn first_unsent(&self) -> Option<usize> {
        self.entries.iter().position(|e| !e.sent && !e.held())
    }

    pub(crate) fn at_mut(&mut self, index: usize) -> &mut Entry {
        &mut self.entries[index]
    }

    pub(crate) fn remove_at(&mut self, index: usize) -> Entry {
        self.entries.remove(index)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Drops every entry (the remote lost the session for ones that were
    /// past PUBREC): returns them.
    pub(crate) fn drain_where(&mut self, mut pred: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            if pred(&self.entries[i]) {
                out.push(self.entries.remove(i));
            } else {
                i += 1;
            }
        }
        out
    }
}
