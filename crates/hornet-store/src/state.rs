//! The live durable state: what the log's records add up to.
//!
//! One [`State::apply`] serves both recovery (replaying the log) and the
//! running store (kept current as ops are appended), so the two can never
//! disagree. It is what a compaction writes out as a snapshot
//! ([`State::snapshot_ops`]) and what the broker is rebuilt from
//! ([`State::restored`]). Messages held for delayed publish are kept by
//! id until published or cancelled. Message bodies are counted by reference: a body
//! no session needs any more is forgotten, which is how delivered and
//! expired messages stop taking space.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use bytestring::ByteString;
use hornet_codec::{LastWill, Publish};
use hornet_core::persist::{
    MessageId, Restored, RestoredDelayed, RestoredMessage, RestoredOutbound, RestoredSession,
    SessionRecord, Shape, StoreOp,
};
use hornet_core::Stamp;

#[derive(Debug)]
struct Message {
    publish: Publish,
    /// When it was received (Unix ms, 0: unknown).
    received_ms: u64,
    refs: u32,
}

/// A copy owed to a session.
#[derive(Debug, Clone)]
struct Copy {
    message: MessageId,
    shape: Shape,
    /// It holds a reference on its message body.
    counted: bool,
}

#[derive(Debug, Clone)]
struct InFlight {
    copy: Copy,
    packet_id: u16,
    released: bool,
}

#[derive(Debug)]
struct Session {
    record: SessionRecord,
    /// Sent, by send order.
    inflight: BTreeMap<u64, InFlight>,
    by_packet_id: HashMap<u16, u64>,
    next_seq: u64,
    queue: VecDeque<Copy>,
    incoming_qos2: BTreeSet<u16>,
    will: Option<(u32, LastWill, u64)>,
    /// The will of the connection open now (published after a crash).
    connected_will: Option<(u32, LastWill)>,
}

/// What a store holds, in memory.
#[derive(Debug, Default)]
pub(crate) struct State {
    messages: HashMap<MessageId, Message>,
    sessions: BTreeMap<u64, Session>,
    retained: BTreeMap<ByteString, (Publish, u64, Box<Stamp>)>,
    /// Deletes of retained topics a cluster node remembers, by topic.
    tombstones: BTreeMap<ByteString, Stamp>,
    next_message: MessageId,
    /// Messages held for delayed publish, by id.
    delayed: BTreeMap<u64, RestoredDelayed>,
    /// Payload and topic bytes of the live message bodies and retained
    /// messages (an estimate of a snapshot's size).
    live_bytes: u64,
}

fn size(p: &Publish) -> u64 {
    (p.payload.len() + p.topic.len() + 32) as u64
}

impl State {
    /// Applies one op. Ops about sessions the state does not hold (a
    /// session that was never durable, or already removed) are ignored.
    pub(crate) fn apply(&mut self, op: StoreOp) {
        match op {
            StoreOp::Session(record) => match self.sessions.get_mut(&record.key) {
                Some(s) => s.record = record,
                None => {
                    self.sessions.insert(
                        record.key,
                        Session {
                            record,
                            inflight: BTreeMap::new(),
                            by_packet_id: HashMap::new(),
                            next_seq: 0,
                            queue: VecDeque::new(),
                            incoming_qos2: BTreeSet::new(),
                            will: None,
                            connected_will: None,
                        },
                    );
                }
            },
            StoreOp::SessionRemoved { session } => {
                if let Some(s) = self.sessions.remove(&session) {
                    let copies: Vec<Copy> = s
                        .queue
                        .into_iter()
                        .chain(s.inflight.into_values().map(|f| f.copy))
                        .collect();
                    for c in copies {
                        self.release(&c);
                    }
                }
            }
            StoreOp::Message {
                id,
                publish,
                received_ms,
            } => {
                self.next_message = self.next_message.max(id);
                self.live_bytes += size(&publish);
                self.messages.insert(
                    id,
                    Message {
                        publish,
                        received_ms,
                        refs: 0,
                    },
                );
            }
            StoreOp::Queued {
                session,
                message,
                shape,
            } => {
                let Some(s) = self.sessions.get_mut(&session) else {
                    return;
                };
                let counted = match self.messages.get_mut(&message) {
                    Some(m) => {
                        m.refs += 1;
                        true
                    }
                    None => false,
                };
                s.queue.push_back(Copy {
                    message,
                    shape,
                    counted,
                });
            }
            StoreOp::Sent {
                session,
                message,
                packet_id,
            } => {
                let Some(s) = self.sessions.get_mut(&session) else {
                    return;
                };
                let Some(at) = s.queue.iter().position(|c| c.message == message) else {
                    return;
                };
                let copy = s.queue.remove(at).expect("found");
                s.next_seq += 1;
                let seq = s.next_seq;
                if let Some(old) = s.by_packet_id.insert(packet_id, seq) {
                    // The id was reused: the old exchange is over.
                    if let Some(f) = s.inflight.remove(&old) {
                        self.release(&f.copy);
                    }
                }
                let s = self.sessions.get_mut(&session).expect("checked");
                s.inflight.insert(
                    seq,
                    InFlight {
                        copy,
                        packet_id,
                        released: false,
                    },
                );
            }
            StoreOp::Released { session, packet_id } => {
                let Some(s) = self.sessions.get_mut(&session) else {
                    return;
                };
                let Some(f) = s
                    .by_packet_id
                    .get(&packet_id)
                    .and_then(|seq| s.inflight.get_mut(seq))
                else {
                    return;
                };
                f.released = true;
                let copy = f.copy.clone();
                f.copy.counted = false;
                self.release(&copy);
            }
            StoreOp::Settled { session, packet_id } => {
                let Some(s) = self.sessions.get_mut(&session) else {
                    return;
                };
                let Some(seq) = s.by_packet_id.remove(&packet_id) else {
                    return;
                };
                if let Some(f) = s.inflight.remove(&seq) {
                    self.release(&f.copy);
                }
            }
            StoreOp::Unqueued { session, message } => {
                let Some(s) = self.sessions.get_mut(&session) else {
                    return;
                };
                if let Some(at) = s.queue.iter().position(|c| c.message == message) {
                    let copy = s.queue.remove(at).expect("found");
                    self.release(&copy);
                }
            }
            StoreOp::Qos2Received { session, packet_id } => {
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.incoming_qos2.insert(packet_id);
                }
            }
            StoreOp::Qos2Done { session, packet_id } => {
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.incoming_qos2.remove(&packet_id);
                }
            }
            StoreOp::RetainSet {
                publish,
                received_ms,
                stamp,
            } => {
                self.live_bytes += size(&publish);
                self.tombstones.remove(&publish.topic);
                if let Some((old, _, _)) = self
                    .retained
                    .insert(publish.topic.clone(), (publish, received_ms, stamp))
                {
                    self.live_bytes -= size(&old);
                }
            }
            StoreOp::RetainCleared(topic) => {
                self.tombstones.remove(&topic);
                if let Some((old, _, _)) = self.retained.remove(&topic) {
                    self.live_bytes -= size(&old);
                }
            }
            StoreOp::RetainTombstone { topic, stamp } => {
                if let Some((old, _, _)) = self.retained.remove(&topic) {
                    self.live_bytes -= size(&old);
                }
                self.tombstones.insert(topic, stamp);
            }
            StoreOp::WillSet {
                session,
                delay,
                will,
                due_ms,
            } => {
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.will = Some((delay, will, due_ms));
                }
            }
            StoreOp::ConnectedWill { session, will } => {
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.connected_will = will;
                }
            }
            StoreOp::WillCleared { session } => {
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.will = None;
                }
            }
            StoreOp::DelayedSet {
                id,
                publish,
                from,
                delay,
                due_ms,
            } => {
                self.live_bytes += size(&publish);
                let held = RestoredDelayed {
                    id,
                    publish: *publish,
                    from,
                    delay,
                    due_ms,
                };
                if let Some(old) = self.delayed.insert(id, held) {
                    self.live_bytes -= size(&old.publish);
                }
            }
            StoreOp::DelayedCleared { id } => {
                if let Some(old) = self.delayed.remove(&id) {
                    self.live_bytes -= size(&old.publish);
                }
            }
        }
    }

    /// Drops a copy's reference on its body; the last one frees it.
    fn release(&mut self, copy: &Copy) {
        if !copy.counted {
            return;
        }
        if let Some(m) = self.messages.get_mut(&copy.message) {
            m.refs -= 1;
            if m.refs == 0 {
                let m = self.messages.remove(&copy.message).expect("present");
                self.live_bytes -= size(&m.publish);
            }
        }
    }

    /// Forgets bodies no session refers to (stored, then dropped before
    /// any session took them, e.g. because its queue was full).
    pub(crate) fn sweep(&mut self) {
        let dead: Vec<MessageId> = self
            .messages
            .iter()
            .filter(|(_, m)| m.refs == 0)
            .map(|(id, _)| *id)
            .collect();
        for id in dead {
            let m = self.messages.remove(&id).expect("present");
            self.live_bytes -= size(&m.publish);
        }
    }

    /// An estimate of the bytes a snapshot would take.
    pub(crate) fn live_bytes(&self) -> u64 {
        self.live_bytes + 64 * self.sessions.len() as u64
    }

    /// Counts: sessions, messages owed (queued + in flight), retained.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        let owed = self
            .sessions
            .values()
            .map(|s| s.queue.len() + s.inflight.len())
            .sum();
        (self.sessions.len(), owed, self.retained.len())
    }

    /// The ops that rebuild this state from nothing, in an order `apply`
    /// accepts (bodies before the copies that refer to them).
    pub(crate) fn snapshot_ops(&self, mut emit: impl FnMut(StoreOp)) {
        let mut ids: Vec<&MessageId> = self
            .messages
            .iter()
            .filter(|(_, m)| m.refs > 0)
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        // Keeps the id counter past every id ever used, even if the newest
        // body is gone.
        if !self.messages.contains_key(&self.next_message) && self.next_message > 0 {
            emit(StoreOp::Message {
                id: self.next_message,
                publish: Publish::new("$hornet/next-id", ""),
                received_ms: 0,
            });
        }
        for id in ids {
            let m = &self.messages[id];
            emit(StoreOp::Message {
                id: *id,
                publish: m.publish.clone(),
                received_ms: m.received_ms,
            });
        }
        for (key, s) in &self.sessions {
            let key = *key;
            emit(StoreOp::Session(s.record.clone()));
            for f in s.inflight.values() {
                emit(StoreOp::Queued {
                    session: key,
                    message: if f.released { 0 } else { f.copy.message },
                    shape: f.copy.shape.clone(),
                });
                emit(StoreOp::Sent {
                    session: key,
                    message: if f.released { 0 } else { f.copy.message },
                    packet_id: f.packet_id,
                });
                if f.released {
                    emit(StoreOp::Released {
                        session: key,
                        packet_id: f.packet_id,
                    });
                }
            }
            for c in &s.queue {
                emit(StoreOp::Queued {
                    session: key,
                    message: c.message,
                    shape: c.shape.clone(),
                });
            }
            for &packet_id in &s.incoming_qos2 {
                emit(StoreOp::Qos2Received {
                    session: key,
                    packet_id,
                });
            }
            if let Some((delay, will, due_ms)) = &s.will {
                emit(StoreOp::WillSet {
                    session: key,
                    delay: *delay,
                    will: will.clone(),
                    due_ms: *due_ms,
                });
            }
            if let Some(will) = &s.connected_will {
                emit(StoreOp::ConnectedWill {
                    session: key,
                    will: Some(will.clone()),
                });
            }
        }
        for (p, received_ms, stamp) in self.retained.values() {
            emit(StoreOp::RetainSet {
                publish: p.clone(),
                received_ms: *received_ms,
                stamp: stamp.clone(),
            });
        }
        for (topic, stamp) in &self.tombstones {
            emit(StoreOp::RetainTombstone {
                topic: topic.clone(),
                stamp: stamp.clone(),
            });
        }
        for d in self.delayed.values() {
            emit(StoreOp::DelayedSet {
                id: d.id,
                publish: Box::new(d.publish.clone()),
                from: d.from.clone(),
                delay: d.delay,
                due_ms: d.due_ms,
            });
        }
    }

    /// The state in the form the broker restores from.
    pub(crate) fn restored(&self) -> Restored {
        let body = |c: &Copy| {
            self.messages.get(&c.message).map(|m| RestoredMessage {
                id: c.message,
                publish: c.shape.apply(&m.publish),
                received_ms: m.received_ms,
                group: c.shape.group.clone(),
            })
        };
        let sessions = self
            .sessions
            .values()
            .map(|s| RestoredSession {
                record: s.record.clone(),
                inflight: s
                    .inflight
                    .values()
                    .filter_map(|f| {
                        let state = if f.released {
                            RestoredOutbound::Released
                        } else {
                            RestoredOutbound::Publish(body(&f.copy)?)
                        };
                        Some((f.packet_id, state))
                    })
                    .collect(),
                queue: s.queue.iter().filter_map(body).collect(),
                incoming_qos2: s.incoming_qos2.iter().copied().collect(),
                will: s.will.clone(),
                connected_will: s.connected_will.clone(),
            })
            .collect();
        Restored {
            sessions,
            retained: self.retained.values().cloned().collect(),
            tombstones: self
                .tombstones
                .iter()
                .map(|(topic, stamp)| (topic.clone(), stamp.clone()))
                .collect(),
            next_message: self.next_message + 1,
            delayed: self.delayed.values().cloned().collect(),
        }
    }
}
