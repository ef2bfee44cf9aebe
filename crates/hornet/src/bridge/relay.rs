//! The QoS 1/2 flows carried between the bridge's two sessions, with one
//! packet identifier per message on both sides, so that the remote side's
//! state lives in Hornet's store with the local side's.
//!
//! Out (local → remote): a message the local broker sends the bridge
//! under local packet id `n` goes to the remote under the same id `n`.
//! The local broker records `n` in its store before it sends a QoS 2
//! PUBLISH (the core holds it until durable), so after a restart of
//! Hornet it resends the same message under the same id and the remote
//! gets a DUP PUBLISH it recognises ([MQTT-4.3.3-9]). The remote's PUBREC
//! is passed on as the local PUBREC; the local broker records the QoS 2
//! message as released and only then sends its PUBREL (held until
//! durable), which the bridge passes on to the remote: a PUBREL never
//! leaves before "PUBRECed" is on disk, and after a restart the local
//! broker resends PUBREL, never the PUBLISH ([MQTT-4.4.0-1]). The remote's
//! PUBCOMP becomes the local PUBCOMP.
//!
//! In (remote → local): a message the remote sends under id `r` is
//! published locally under id `r`. The local broker records `r` as an
//! incoming QoS 2 id before its PUBREC (which the bridge passes on), and
//! the remote's PUBREL goes on to the local broker, whose PUBCOMP the
//! bridge passes back. After a restart a DUP PUBLISH `r` from the remote
//! is recognised by the local broker's restored QoS 2 ids and not routed
//! again.
//!
//! The cost: nothing beyond the local session's own records, written by
//! the store's group commit with everything else (no file, no sync of the
//! bridge's own). The remote-side session's own packets (SUBSCRIBE,
//! UNSUBSCRIBE, the notification) take ids from the same space: a local
//! message whose id is busy with one of them waits (in order) until the
//! remote answers it.

use std::collections::{HashMap, HashSet, VecDeque};

use hornet_client::{PublishError, Session};
use hornet_codec::{PacketId, Publish, QoS, ReasonCode};

use super::local::Local;
use super::stats::BridgeStatus;

/// Where an outgoing local message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// QoS 1, with the remote.
    Qos1,
    /// QoS 2, with the remote, no PUBREC yet.
    Qos2,
    /// The remote PUBRECed; the local PUBREC went, its PUBREL is awaited.
    Received,
    /// The PUBREL went to the remote; its PUBCOMP is awaited.
    Releasing,
    /// Done on the remote side (or never sent: dropped); the local PUBREL
    /// is answered with PUBCOMP at once.
    Done,
}

/// What waits for an identifier the remote session uses.
#[derive(Debug)]
enum Deferred {
    Publish(Publish),
    Release(PacketId),
}

/// The bridge's QoS bookkeeping between the two sessions.
#[derive(Debug, Default)]
pub(crate) struct Relay {
    pending: HashMap<u16, Phase>,
    deferred: VecDeque<Deferred>,
    /// Incoming QoS 2 ids whose PUBREL went to the local broker.
    releasing: HashSet<u16>,
}

impl Relay {
    /// Local messages waiting here for a packet id the remote session
    /// still uses (not yet in the session's inflight window).
    pub(crate) fn deferred_publishes(&self) -> usize {
        self.deferred
            .iter()
            .filter(|d| matches!(d, Deferred::Publish(_)))
            .count()
    }

    /// A local message for the remote, its topic mapped, its packet id
    /// and DUP flag as the local broker sent it.
    pub(crate) fn forward(
        &mut self,
        session: &mut Session,
        local: &Local,
        status: &BridgeStatus,
        p: Publish,
    ) {
        let Some(id) = p.packet_id.filter(|_| p.qos != QoS::AtMostOnce) else {
            match session.publish(p) {
                Ok(_) => BridgeStatus::count(&status.sent),
                Err(e) => {
                    tracing::warn!("Bridge {}: dropping a message: {e}", status.name);
                    BridgeStatus::count(&status.dropped);
                }
            }
            return;
        };
        match self.pending.get(&id.get()) {
            // A resend of a message the remote session holds.
            Some(Phase::Qos1 | Phase::Qos2) => return,
            // A resend of one the local broker was told of already: tell
            // it again (its acknowledgement may have been lost).
            Some(Phase::Received | Phase::Releasing | Phase::Done) => {
                local.acknowledge(id, QoS::ExactlyOnce);
                return;
            }
            None => {}
        }
        if self.deferred.is_empty() {
            self.publish(session, local, status, p);
        } else {
            self.deferred.push_back(Deferred::Publish(p));
        }
    }

    fn publish(&mut self, session: &mut Session, local: &Local, status: &BridgeStatus, p: Publish) {
        let (id, qos, dup) = (p.packet_id.expect("checked"), p.qos, p.dup);
        let topic = p.topic.clone();
        match session.publish_as(p.clone(), id, dup) {
            Ok(()) => {
                let phase = if qos == QoS::ExactlyOnce {
                    Phase::Qos2
                } else {
                    Phase::Qos1
                };
                self.pending.insert(id.get(), phase);
            }
            Err(PublishError::IdInUse(_)) => self.deferred.push_back(Deferred::Publish(p)),
            Err(e) => {
                tracing::warn!(
                    "Bridge {}: dropping a message on '{topic}': {e}",
                    status.name
                );
                BridgeStatus::count(&status.dropped);
                self.settle(local, id, qos);
            }
        }
    }

    /// A local message that will not reach the remote (dropped, or no
    /// mapping): acknowledged locally so it is not resent forever.
    pub(crate) fn settle(&mut self, local: &Local, id: PacketId, qos: QoS) {
        if qos == QoS::ExactlyOnce {
            self.pending.insert(id.get(), Phase::Done);
        }
        local.acknowledge(id, qos);
    }

    /// The local broker's PUBREL for outgoing message `id`: it has
    /// recorded the PUBREC (or an earlier life did).
    pub(crate) fn local_pubrel(&mut self, session: &mut Session, local: &Local, id: PacketId) {
        match self.pending.get(&id.get()) {
            Some(Phase::Done) => {
                self.pending.remove(&id.get());
                local.complete(id);
            }
            Some(Phase::Releasing) => {}
            _ if !self.deferred.is_empty() => self.deferred.push_back(Deferred::Release(id)),
            _ => self.release(session, id),
        }
    }

    fn release(&mut self, session: &mut Session, id: PacketId) {
        match session.release(id) {
            Ok(()) => {
                self.pending.insert(id.get(), Phase::Releasing);
            }
            Err(_) => self.deferred.push_back(Deferred::Release(id)),
        }
    }

    /// The remote PUBRECed outgoing QoS 2 message `id`.
    pub(crate) fn received(&mut self, local: &Local, id: PacketId) {
        if let Some(phase) = self.pending.get_mut(&id.get()) {
            *phase = Phase::Received;
            local.acknowledge(id, QoS::ExactlyOnce);
        }
    }

    /// The remote session is done with outgoing message `id` (PUBACK,
    /// PUBCOMP, a refusal, or a drop when `reason` is `None`).
    pub(crate) fn delivered(
        &mut self,
        local: &Local,
        status: &BridgeStatus,
        id: PacketId,
        reason: Option<ReasonCode>,
    ) {
        let Some(phase) = self.pending.get(&id.get()).copied() else {
            return;
        };
        let failed = match reason {
            None => true,
            Some(r) => r.is_error() && matches!(phase, Phase::Qos1 | Phase::Qos2),
        };
        if failed {
            if let Some(r) = reason {
                tracing::warn!(
                    "Bridge {}: the remote refused a message: {}",
                    status.name,
                    r.name()
                );
            }
            BridgeStatus::count(&status.dropped);
        } else if phase != Phase::Done {
            BridgeStatus::count(&status.sent);
        }
        match phase {
            Phase::Qos1 => {
                self.pending.remove(&id.get());
                local.acknowledge(id, QoS::AtLeastOnce);
            }
            // Refused at PUBREC or sent at a lower QoS.
            Phase::Qos2 => self.settle(local, id, QoS::ExactlyOnce),
            // The remote lost its session past PUBREC: it had the message.
            Phase::Received => {
                self.pending.insert(id.get(), Phase::Done);
            }
            Phase::Releasing => {
                self.pending.remove(&id.get());
                local.complete(id);
            }
            // An id of the remote session's own (a notification).
            Phase::Done => {}
        }
    }

    /// The remote's PUBREL of incoming QoS 2 message `id`: on to the local
    /// broker, whose PUBCOMP ends it on both sides.
    pub(crate) fn remote_pubrel(&mut self, local: &Local, id: PacketId) {
        self.releasing.insert(id.get());
        local.pubrel(id);
    }

    /// The local broker's PUBCOMP for `id`.
    pub(crate) fn local_pubcomp(&mut self, session: &mut Session, id: PacketId) {
        if self.releasing.remove(&id.get()) {
            session.complete_incoming(id);
        }
    }

    /// A new local connection: the PUBRELs it may not have seen go again.
    pub(crate) fn local_up(&self, local: &Local) {
        for &id in &self.releasing {
            if let Some(id) = PacketId::new(id) {
                local.pubrel(id);
            }
        }
    }

    /// Tries what waited for a busy identifier, in order.
    pub(crate) fn retry(&mut self, session: &mut Session, local: &Local, status: &BridgeStatus) {
        while let Some(next) = self.deferred.pop_front() {
            let before = self.deferred.len();
            match next {
                Deferred::Publish(p) => self.publish(session, local, status, p),
                Deferred::Release(id) => self.release(session, id),
            }
            if self.deferred.len() > before {
                // Still busy: it went to the back; put it first again.
                let again = self.deferred.pop_back().expect("just pushed");
                self.deferred.push_front(again);
                return;
            }
        }
    }
}
