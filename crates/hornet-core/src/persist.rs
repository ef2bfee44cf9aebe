//! What must survive a crash, decided here and written elsewhere.
//!
//! The core stays free of I/O: when durability is on
//! ([`Broker::enable_persistence`]) it records, beside its actions, a
//! [`StoreOp`] for every change to durable state, which the shell drains
//! after each input ([`Broker::drain_store_ops`]) and hands to the store
//! (`hornet-store`). The shell holds back the packets emitted by that same
//! input until the store has made the ops durable, so an acknowledgement
//! (PUBACK, PUBREC, PUBREL, SUBACK) never precedes its record on disk.
//!
//! Only what matters is recorded: sessions that outlive their connection
//! (Session Expiry Interval > 0, or 3.x `clean session` 0), their
//! subscriptions, the QoS 1/2 messages owed to them (each message body
//! stored once, referenced by each session), their packet ids in flight
//! both ways, retained messages and delayed wills. QoS 0 messages and clean
//! sessions never produce an op.
//!
//! At startup the store replays its log into a [`Restored`] state, which
//! [`Broker::restore`] turns back into sessions, queues, inflight windows,
//! inbound QoS 2 ids, retained messages and delayed wills.
//!
//! While the store cannot write (disk full, I/O error; the shell calls
//! [`Broker::set_store_failed`]) new QoS 1/2 publishes are refused: MQTT 5
//! clients get PUBACK/PUBREC 0x97 (Quota exceeded), 3.x clients are
//! disconnected without an acknowledgement.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use bytestring::ByteString;
use hornet_codec::{
    Ack, LastWill, Packet, PacketId, Property, Protocol, Publish, QoS, ReasonCode,
    SubscriptionOptions,
};

use crate::broker::{Broker, ConnId};
use crate::session::{Outbound, Queued, Session, SessionKey, Subscription, NEVER_EXPIRES};

/// A stored message's id: unique for the store's life.
pub type MessageId = u64;

/// How one session's copy of a stored message differs from the body:
/// its QoS, RETAIN flag and Subscription Identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// QoS of the copy.
    pub qos: QoS,
    /// RETAIN flag of the copy.
    pub retain: bool,
    /// Subscription Identifiers the copy carries.
    pub identifiers: Vec<u32>,
}

impl Shape {
    /// The shape of `msg`.
    pub fn of(msg: &Publish) -> Shape {
        Shape {
            qos: msg.qos,
            retain: msg.retain,
            identifiers: msg.properties.subscription_identifiers().collect(),
        }
    }

    /// The copy of `body` this shape describes.
    pub fn apply(&self, body: &Publish) -> Publish {
        let mut msg = body.clone();
        msg.qos = self.qos;
        msg.retain = self.retain;
        msg.dup = false;
        msg.packet_id = None;
        msg.properties
            .retain(|p| !matches!(p, Property::SubscriptionIdentifier(_)));
        for &i in &self.identifiers {
            msg.properties.push(Property::SubscriptionIdentifier(i));
        }
        msg
    }
}

/// One subscription of a durable session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// The topic filter (with its `$share/group/` prefix, if shared).
    pub filter: ByteString,
    /// The options granted.
    pub options: SubscriptionOptions,
    /// The MQTT 5 Subscription Identifier.
    pub identifier: Option<u32>,
}

/// A durable session's identity and subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session's key (stable for its life, never reused).
    pub key: u64,
    /// Client identifier.
    pub client_id: ByteString,
    /// Protocol version of its last connection.
    pub protocol: Protocol,
    /// Session Expiry Interval in seconds (`u32::MAX`: never).
    pub expiry: u32,
    /// Its subscriptions.
    pub subscriptions: Vec<SubscriptionRecord>,
}

/// One change to durable state, in the order the core made it.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreOp {
    /// A durable session was created or changed (subscriptions, expiry).
    Session(SessionRecord),
    /// A durable session ended: everything it owned goes.
    SessionRemoved {
        /// The session.
        session: u64,
    },
    /// A message body, stored once for every session it is owed to.
    Message {
        /// Its id.
        id: MessageId,
        /// The body.
        publish: Publish,
    },
    /// Message `message` is owed to `session` (appended to its queue).
    Queued {
        /// The session.
        session: u64,
        /// The message.
        message: MessageId,
        /// The session's copy.
        shape: Shape,
    },
    /// The oldest queued copy of `message` went out with `packet_id`.
    Sent {
        /// The session.
        session: u64,
        /// The message.
        message: MessageId,
        /// The packet id it carries.
        packet_id: u16,
    },
    /// QoS 2 outbound: PUBREC came, PUBREL sent; the body is no longer needed.
    Released {
        /// The session.
        session: u64,
        /// The packet id.
        packet_id: u16,
    },
    /// Outbound `packet_id` is finished (PUBACK, PUBCOMP, expired, handed over).
    Settled {
        /// The session.
        session: u64,
        /// The packet id.
        packet_id: u16,
    },
    /// The oldest queued copy of `message` left the queue undelivered
    /// (expired, too large, handed to another shared subscriber).
    Unqueued {
        /// The session.
        session: u64,
        /// The message.
        message: MessageId,
    },
    /// Inbound QoS 2 `packet_id` received (PUBREC sent), held until PUBREL.
    Qos2Received {
        /// The session.
        session: u64,
        /// The packet id.
        packet_id: u16,
    },
    /// Inbound QoS 2 `packet_id` released (PUBREL received).
    Qos2Done {
        /// The session.
        session: u64,
        /// The packet id.
        packet_id: u16,
    },
    /// A retained message was set (replacing any on its topic).
    RetainSet(Publish),
    /// The retained message of a topic was cleared.
    RetainCleared(ByteString),
    /// A will waits for its Will Delay Interval (seconds) while `session` lives.
    WillSet {
        /// The session.
        session: u64,
        /// Seconds until it is due.
        delay: u32,
        /// The will.
        will: LastWill,
    },
    /// The delayed will of `session` was sent or cancelled.
    WillCleared {
        /// The session.
        session: u64,
    },
}

/// An outbound message in flight, as restored.
#[derive(Debug, Clone, PartialEq)]
pub enum RestoredOutbound {
    /// QoS 1 or 2 PUBLISH sent (resent with DUP on reconnect).
    Publish(Publish),
    /// PUBREL sent, waiting for PUBCOMP.
    Released,
}

/// One durable session as the store recovered it.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredSession {
    /// Identity, expiry and subscriptions.
    pub record: SessionRecord,
    /// In flight towards the client, in send order, by packet id.
    pub inflight: Vec<(u16, RestoredOutbound)>,
    /// Waiting for the window or for the client, oldest first.
    pub queue: Vec<(MessageId, Publish)>,
    /// Inbound QoS 2 packet ids awaiting PUBREL.
    pub incoming_qos2: Vec<u16>,
    /// A delayed will: seconds left and the will.
    pub will: Option<(u32, LastWill)>,
}

/// Everything the store recovered, for [`Broker::restore`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restored {
    /// The durable sessions.
    pub sessions: Vec<RestoredSession>,
    /// The retained messages.
    pub retained: Vec<Publish>,
    /// Ids below this are taken (the next message id to use).
    pub next_message: MessageId,
}

/// The core's side of durability: the ops not yet drained.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    pub(crate) enabled: bool,
    /// The store cannot write: QoS 1/2 publishes are refused.
    pub(crate) failed: bool,
    pub(crate) ops: Vec<StoreOp>,
    /// Sessions whose record (subscriptions, expiry) changed.
    dirty: Vec<SessionKey>,
    next_message: MessageId,
    /// While routing one message: the id its body was stored under.
    pub(crate) routing: Option<Option<MessageId>>,
}

impl Journal {
    /// Whether `session` is durable.
    pub(crate) fn keeps(&self, session: &Session) -> bool {
        self.enabled && session.expiry_interval > 0
    }

    /// The id under which a copy of `msg` is stored (the body is recorded
    /// once per routed message); 0 when it is not stored.
    pub(crate) fn store_message(&mut self, session: &Session, msg: &Publish) -> MessageId {
        if !self.keeps(session) || msg.qos == QoS::AtMostOnce {
            return 0;
        }
        if let Some(Some(id)) = self.routing {
            return id;
        }
        self.next_message += 1;
        let id = self.next_message;
        let mut publish = msg.clone();
        publish.dup = false;
        publish.packet_id = None;
        self.ops.push(StoreOp::Message { id, publish });
        if let Some(current) = &mut self.routing {
            *current = Some(id);
        }
        id
    }

    pub(crate) fn push(&mut self, op: StoreOp) {
        if self.enabled {
            self.ops.push(op);
        }
    }

    /// The record of `key` must be written again.
    pub(crate) fn touch(&mut self, key: SessionKey) {
        if self.enabled && !self.dirty.contains(&key) {
            self.dirty.push(key);
        }
    }
}

/// The packet id of a PUBLISH about to be sent.
pub(crate) fn sent_id(packet: &Packet) -> Option<u16> {
    match packet {
        Packet::Publish(p) => p.packet_id.map(PacketId::get),
        _ => None,
    }
}

impl Broker {
    /// Turns durability on: from now on, changes to durable state are
    /// recorded for [`Broker::drain_store_ops`].
    pub fn enable_persistence(&mut self) {
        self.journal.enabled = true;
    }

    /// Whether durability is on.
    pub fn persistence_enabled(&self) -> bool {
        self.journal.enabled
    }

    /// The store failed to write (`true`) or wrote again (`false`). While it
    /// fails, new QoS 1/2 publishes are refused.
    pub fn set_store_failed(&mut self, failed: bool) {
        if self.journal.failed != failed {
            if failed {
                tracing::error!(
                    "The store cannot write (disk full or I/O error): QoS 1 and 2 publishes \
                     are refused until it can."
                );
            } else {
                tracing::warn!("The store writes again: QoS 1 and 2 publishes are accepted.");
            }
        }
        self.journal.failed = failed;
    }

    /// Whether the store was last reported failing.
    pub fn store_failed(&self) -> bool {
        self.journal.failed
    }

    /// Moves the ops recorded since the last call into `into`, in order:
    /// session records first (a session exists before what it owns), then
    /// everything else as it happened.
    pub fn drain_store_ops(&mut self, into: &mut Vec<StoreOp>) {
        for key in std::mem::take(&mut self.journal.dirty) {
            let Some(session) = self.sessions.get_mut(&key) else {
                continue;
            };
            if !(self.journal.enabled && session.expiry_interval > 0) {
                continue;
            }
            session.persisted = true;
            into.push(StoreOp::Session(record_of(key, session)));
        }
        into.append(&mut self.journal.ops);
    }

    /// Whether ops are waiting to be drained.
    pub fn has_store_ops(&self) -> bool {
        !self.journal.ops.is_empty()
            || self.journal.dirty.iter().any(|key| {
                self.sessions
                    .get(key)
                    .is_some_and(|s| self.journal.keeps(s))
            })
    }

    /// Refuses a QoS 1/2 PUBLISH because the store cannot write: 0x97 for
    /// MQTT 5, a closed connection without acknowledgement for 3.x.
    /// Returns false when the store is fine.
    pub(crate) fn refuse_unstorable(
        &mut self,
        now: Instant,
        id: ConnId,
        publish: &Publish,
    ) -> bool {
        if !self.journal.failed || publish.qos == QoS::AtMostOnce {
            return false;
        }
        let Some(conn) = self.conns.get(&id) else {
            return true;
        };
        // A resent QoS 2 PUBLISH whose id is already held needs no write:
        // it is acknowledged again as usual ([MQTT-4.3.3-10]).
        if let (QoS::ExactlyOnce, Some(pid), Some(key)) =
            (publish.qos, publish.packet_id, conn.session)
        {
            if self
                .sessions
                .get(&key)
                .is_some_and(|s| s.incoming_qos2.contains(&pid.get()))
            {
                return false;
            }
        }
        let name = conn.name();
        let v5 = conn.protocol.is_v5();
        tracing::warn!(
            "Refused QoS {} PUBLISH from {name} to '{}': the store cannot write (disk full or \
             I/O error){}.",
            publish.qos as u8,
            publish.topic,
            if v5 {
                "; answered 0x97 Quota exceeded"
            } else {
                "; closing the connection without acknowledgement"
            }
        );
        match (v5, publish.qos, publish.packet_id) {
            (true, QoS::AtLeastOnce, Some(pid)) => {
                let ack = Ack::with_reason(pid, ReasonCode::QuotaExceeded);
                self.send_explained(id, Packet::PubAck(ack), "the broker cannot store messages");
            }
            (true, QoS::ExactlyOnce, Some(pid)) => {
                let ack = Ack::with_reason(pid, ReasonCode::QuotaExceeded);
                self.send_explained(id, Packet::PubRec(ack), "the broker cannot store messages");
            }
            _ => self.end_connection(now, id, true),
        }
        true
    }

    /// Rebuilds the durable state the store recovered: sessions (offline,
    /// their expiry counted from `now`), subscriptions, queues, inflight
    /// windows (resent with DUP on reconnect), inbound QoS 2 ids, retained
    /// messages and delayed wills (due their remaining delay after `now`).
    pub fn restore(&mut self, now: Instant, restored: Restored) {
        self.journal.next_message = self.journal.next_message.max(restored.next_message);
        for publish in restored.retained {
            let topic = publish.topic.clone();
            let retained = crate::publish::Retained {
                msg: publish,
                stored: now,
            };
            self.retained.insert(&topic, retained);
        }
        for rs in restored.sessions {
            let record = rs.record;
            let key = record.key;
            self.next_session = self.next_session.max(key + 1);
            let mut session =
                Session::new(record.client_id.clone(), record.protocol, record.expiry);
            session.persisted = true;
            session.disconnected_at = Some(now);
            for sub in record.subscriptions {
                let subscription = Subscription {
                    options: sub.options,
                    identifier: sub.identifier,
                };
                match crate::shared::split(&sub.filter) {
                    Some(name) => {
                        self.shared.subscribe(&name, key, subscription);
                    }
                    None => {
                        self.subs.insert(&sub.filter, key, subscription);
                    }
                }
                session.subscriptions.insert(sub.filter, subscription);
            }
            for (pid, outbound) in rs.inflight {
                let Some(id) = PacketId::new(pid) else {
                    continue;
                };
                let state = match outbound {
                    RestoredOutbound::Publish(mut p) => {
                        p.packet_id = Some(id);
                        match p.qos {
                            QoS::AtLeastOnce => Outbound::Qos1(p),
                            _ => Outbound::Qos2Sent(p),
                        }
                    }
                    RestoredOutbound::Released => Outbound::Qos2Released,
                };
                session.track(id, state, None);
            }
            for (mid, msg) in rs.queue {
                let expires = msg
                    .properties
                    .message_expiry_interval()
                    .map(|secs| now + Duration::from_secs(u64::from(secs)));
                session.queue.push_back(Queued {
                    mid,
                    msg,
                    expires,
                    group: None,
                });
            }
            session.queued_bytes = session.queue.iter().map(|m| m.payload.len()).sum();
            session.incoming_qos2.extend(rs.incoming_qos2);
            if record.expiry != NEVER_EXPIRES {
                let at = now + Duration::from_secs(u64::from(record.expiry));
                self.session_timers.push(Reverse((at, key)));
            }
            if let Some((delay, will)) = rs.will {
                let at = now + Duration::from_secs(u64::from(delay));
                self.delayed_wills.insert(key, (at, will));
                self.will_timers.push(Reverse((at, key)));
            }
            self.by_client_id.insert(record.client_id, key);
            self.sessions.insert(key, Box::new(session));
        }
    }
}

/// The record of a session as it is now.
fn record_of(key: SessionKey, session: &Session) -> SessionRecord {
    let mut subscriptions: Vec<SubscriptionRecord> = session
        .subscriptions
        .iter()
        .map(|(filter, sub)| SubscriptionRecord {
            filter: filter.clone(),
            options: sub.options,
            identifier: sub.identifier,
        })
        .collect();
    subscriptions.sort_by(|a, b| a.filter.cmp(&b.filter));
    SessionRecord {
        key,
        client_id: session.client_id.clone(),
        protocol: session.protocol,
        expiry: session.expiry_interval,
        subscriptions,
    }
}

impl Broker {
    /// Records what `take_shared` took out of session `key`.
    pub(crate) fn settle_taken(&mut self, key: SessionKey, taken: &[(Option<u16>, u64)]) {
        if !self
            .sessions
            .get(&key)
            .is_some_and(|s| self.journal.keeps(s))
        {
            return;
        }
        for &(pid, mid) in taken {
            match pid {
                Some(packet_id) => self.journal.push(StoreOp::Settled {
                    session: key,
                    packet_id,
                }),
                None => self.journal.push(StoreOp::Unqueued {
                    session: key,
                    message: mid,
                }),
            }
        }
    }

    /// Records that outbound `packet_id` of session `key` is finished.
    pub(crate) fn persist_settled(&mut self, key: SessionKey, packet_id: u16) {
        if self
            .sessions
            .get(&key)
            .is_some_and(|s| self.journal.keeps(s))
        {
            self.journal.push(StoreOp::Settled {
                session: key,
                packet_id,
            });
        }
    }

    /// Records a retained message set (`Some`) or cleared on `topic`.
    /// `$SYS` topics are the broker's own and are not kept.
    pub(crate) fn persist_retained(&mut self, topic: &ByteString, msg: Option<&Publish>) {
        if !self.journal.enabled || topic.starts_with('$') {
            return;
        }
        self.journal.push(match msg {
            Some(p) => StoreOp::RetainSet(p.clone()),
            None => StoreOp::RetainCleared(topic.clone()),
        });
    }
}

impl Broker {
    /// Records inbound QoS 2 `packet_id` of the publishing session, held
    /// until PUBREL (so a resend after a crash is not routed again).
    pub(crate) fn persist_qos2_received(&mut self, key: Option<SessionKey>, packet_id: u16) {
        let Some(key) = key else { return };
        if self
            .sessions
            .get(&key)
            .is_some_and(|s| self.journal.keeps(s))
        {
            self.journal.push(StoreOp::Qos2Received {
                session: key,
                packet_id,
            });
        }
    }
}

pub(crate) fn queued_op(session: SessionKey, message: MessageId, shape: Shape) -> StoreOp {
    StoreOp::Queued {
        session,
        message,
        shape,
    }
}

pub(crate) fn sent_op(session: SessionKey, message: MessageId, packet_id: u16) -> StoreOp {
    StoreOp::Sent {
        session,
        message,
        packet_id,
    }
}

pub(crate) fn settled_op(session: SessionKey, packet_id: u16) -> StoreOp {
    StoreOp::Settled { session, packet_id }
}

impl Broker {
    /// Records a will held back `delay` seconds for durable session `key`.
    pub(crate) fn persist_will(&mut self, key: SessionKey, delay: u32, will: &LastWill) {
        if !self
            .sessions
            .get(&key)
            .is_some_and(|s| self.journal.keeps(s))
        {
            return;
        }
        let mut will = will.clone();
        will.properties
            .retain(|p| !matches!(p, Property::WillDelayInterval(_)));
        self.journal.push(StoreOp::WillSet {
            session: key,
            delay,
            will,
        });
    }

    /// Records that the delayed will of `key` was sent or cancelled.
    pub(crate) fn persist_will_cleared(&mut self, key: SessionKey) {
        if self.sessions.get(&key).map_or(true, |s| s.persisted) {
            self.journal.push(StoreOp::WillCleared { session: key });
        }
    }
}
