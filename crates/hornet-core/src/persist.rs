//! What must survive a crash, decided here and written elsewhere.
//!
//! The core stays free of I/O: when durability is on
//! ([`Broker::enable_persistence`](crate::Broker::enable_persistence)) it records a [`StoreOp`] for every
//! change to durable state; the records leave in the action stream as
//! [`Action::Persist`] for the shell to hand to the store
//! (`hornet-store`), and the core holds back the packets that promise them
//! until the shell reports them durable (`durable.rs`), so an
//! acknowledgement (PUBACK, PUBREC, PUBREL, SUBACK) never precedes its
//! record on disk.
//!
//! [`Action::Persist`]: crate::Action::Persist
//!
//! Only what matters is recorded: sessions that outlive their connection
//! (Session Expiry Interval > 0, or 3.x `clean session` 0), their
//! subscriptions, the QoS 1/2 messages owed to them (each message body
//! stored once, referenced by each session), their packet ids in flight
//! both ways, retained messages, delayed wills and messages held for
//! delayed publish (`$delayed/`, at any QoS). Other QoS 0 messages and
//! clean sessions never produce an op.
//!
//! At startup the store replays its log into a [`Restored`] state, which
//! [`Broker::restore`](crate::Broker::restore) turns back into sessions, queues, inflight windows,
//! inbound QoS 2 ids, retained messages and delayed wills.
//!
//! Deadlines survive a restart: records carry wall-clock times (Unix
//! milliseconds: when a session went offline, when a message was received,
//! when a delayed will is due). The core has no clock: the shell tells it
//! which Unix time goes with which `Instant` ([`Broker::set_wall_clock`](crate::Broker::set_wall_clock)),
//! and [`Broker::restore`](crate::Broker::restore) turns the times back into instants relative to
//! the restart, so time spent down counts: a session whose expiry passed
//! meanwhile is gone, an expired message is not delivered, and the Message
//! Expiry Interval sent is reduced by the time on disk ([MQTT-3.3.2-6]).
//! A time of 0 means unknown (a record from an earlier version, or no wall
//! clock given): that deadline counts from the restart.
//!
//! While the store cannot write (disk full, I/O error; the shell reports
//! [`Broker::persist_failed`](crate::Broker::persist_failed)) new QoS 1/2 publishes are refused: MQTT 5
//! clients get PUBACK/PUBREC 0x97 (Quota exceeded), 3.x clients are
//! disconnected without an acknowledgement.

use std::time::{Duration, Instant};

use bytestring::ByteString;
use hornet_codec::{
    LastWill, Packet, PacketId, Property, Protocol, Publish, QoS, SubscriptionOptions,
};

use crate::session::{Session, SessionKey};
pub use crate::shared::SharedGroup;
use crate::stamp::Stamp;

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
    /// The shared subscription group it came through, if any.
    pub group: Option<SharedGroup>,
}

impl Shape {
    /// The shape of `msg`.
    pub fn of(msg: &Publish) -> Shape {
        Shape {
            qos: msg.qos,
            retain: msg.retain,
            identifiers: msg.properties.subscription_identifiers().collect(),
            group: None,
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
    /// Made with EMQX's `$local/` prefix (`filter` is then the filter
    /// after it): in a cluster it stays on its node, also after a restart.
    /// False in a record written before the mark was kept, which restores
    /// as it did then (exported).
    pub local: bool,
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
    /// When its last connection ended, in Unix milliseconds; 0 while it is
    /// connected (a crash then ends it at the restart) or when unknown.
    pub offline_since: u64,
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
        /// When it was received, in Unix milliseconds (0: unknown), for
        /// its Message Expiry Interval.
        received_ms: u64,
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
    RetainSet {
        /// The message.
        publish: Publish,
        /// When it was received, in Unix milliseconds (0: unknown).
        received_ms: u64,
        /// Its place in the cluster's order of retained writes
        /// ([`Stamp::default`]: unknown, a record written before stamps;
        /// boxed to keep records small).
        stamp: Box<Stamp>,
    },
    /// The retained message of a topic was cleared (and its tombstone,
    /// if any, forgotten).
    RetainCleared(ByteString),
    /// The retained message of a topic was deleted in a cluster: cleared,
    /// and the delete's stamp kept as a tombstone (`tombstones`).
    RetainTombstone {
        /// The topic.
        topic: ByteString,
        /// The delete's stamp.
        stamp: Stamp,
    },
    /// A will waits for its Will Delay Interval (seconds) while `session` lives.
    WillSet {
        /// The session.
        session: u64,
        /// Seconds until it is due (from when it was set).
        delay: u32,
        /// The will.
        will: LastWill,
        /// When it is due, in Unix milliseconds (0: unknown; `delay`
        /// then counts from the restart).
        due_ms: u64,
    },
    /// The client of durable session `session` is connected with this will
    /// (`Some`), or no longer is (`None`): a will still recorded at a
    /// restart belonged to a connection the crash ended, and is published.
    ConnectedWill {
        /// The session.
        session: u64,
        /// The will of its connection, without its Will Delay Interval
        /// property, and that interval in seconds (0: none).
        will: Option<(u32, LastWill)>,
    },
    /// The delayed will of `session` was sent or cancelled.
    WillCleared {
        /// The session.
        session: u64,
    },
    /// A message published to `$delayed/{delay}/{topic}` is held until it
    /// is due (`publish` carries the final topic).
    DelayedSet {
        /// Its id (unique for the store's life).
        id: u64,
        /// The message.
        publish: Box<Publish>,
        /// The client that published it (empty: the broker).
        from: ByteString,
        /// Its delay in seconds, from when it was received.
        delay: u32,
        /// When it is due, in Unix milliseconds (0: unknown; `delay` then
        /// counts from the restart).
        due_ms: u64,
    },
    /// Delayed message `id` was published or cancelled.
    DelayedCleared {
        /// Its id.
        id: u64,
    },
}

/// A message held for delayed publish, as restored.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredDelayed {
    /// Its id.
    pub id: u64,
    /// The message, with its final topic.
    pub publish: Publish,
    /// The client that published it.
    pub from: ByteString,
    /// Its delay in seconds.
    pub delay: u32,
    /// When it is due, in Unix milliseconds (0: unknown).
    pub due_ms: u64,
}

/// A message owed to a session, as restored.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredMessage {
    /// Its id in the store.
    pub id: MessageId,
    /// The session's copy.
    pub publish: Publish,
    /// When it was received, in Unix milliseconds (0: unknown).
    pub received_ms: u64,
    /// The shared subscription group it came through, if any.
    pub group: Option<SharedGroup>,
}

/// An outbound message in flight, as restored.
#[derive(Debug, Clone, PartialEq)]
pub enum RestoredOutbound {
    /// QoS 1 or 2 PUBLISH sent (resent with DUP on reconnect).
    Publish(RestoredMessage),
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
    pub queue: Vec<RestoredMessage>,
    /// Inbound QoS 2 packet ids awaiting PUBREL.
    pub incoming_qos2: Vec<u16>,
    /// A delayed will: its delay in seconds, the will, and when it is due
    /// in Unix milliseconds (0: unknown, the delay counts from the restart).
    pub will: Option<(u32, LastWill, u64)>,
    /// The will of the connection the crash ended, if it had one, with its
    /// Will Delay Interval in seconds.
    pub connected_will: Option<(u32, LastWill)>,
}

/// Everything the store recovered, for [`Broker::restore`](crate::Broker::restore).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restored {
    /// The durable sessions.
    pub sessions: Vec<RestoredSession>,
    /// The retained messages, with when they were received (Unix
    /// milliseconds, 0: unknown) and their stamps.
    pub retained: Vec<(Publish, u64, Box<Stamp>)>,
    /// The tombstones of deleted retained topics (cluster), with the
    /// deletes' stamps.
    pub tombstones: Vec<(ByteString, Stamp)>,
    /// Ids below this are taken (the next message id to use).
    pub next_message: MessageId,
    /// Messages held for delayed publish.
    pub delayed: Vec<RestoredDelayed>,
}

/// When acknowledgements may leave, relative to their records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckPolicy {
    /// An acknowledgement leaves only once its records are durable
    /// ([`Broker::durable`](crate::Broker::durable)): a crash never loses an acknowledged message.
    #[default]
    AfterDurable,
    /// Acknowledgements leave at once; records are written in the
    /// background (`fsync interval` and `none`): a crash may lose the last
    /// moments.
    Immediate,
}

/// The core's side of durability: the ops not yet drained.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    enabled: bool,
    /// Whether acknowledgements wait for their records.
    policy: AckPolicy,
    /// The store cannot write: QoS 1/2 publishes are refused.
    failed: bool,
    ops: Vec<StoreOp>,
    /// Sessions whose record (subscriptions, expiry) changed.
    dirty: Vec<SessionKey>,
    next_message: MessageId,
    /// While routing one message: the id its body was stored under.
    routing: Option<Option<MessageId>>,
    /// The wall clock: this `Instant` is these Unix milliseconds.
    wall: Option<(Instant, u64)>,
}

impl Journal {
    /// Records from now on; acknowledgements wait for them as `policy`
    /// says.
    pub(crate) fn enable(&mut self, policy: AckPolicy) {
        self.enabled = true;
        self.policy = policy;
    }

    /// Whether durability is on.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether the store was last reported failing.
    #[inline]
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// The store failed (`true`) or writes again; returns whether that is
    /// news.
    pub(crate) fn set_failed(&mut self, failed: bool) -> bool {
        let news = self.failed != failed;
        self.failed = failed;
        news
    }

    /// Whether acknowledgements must wait for their records now.
    #[inline]
    pub(crate) fn holds_acks(&self) -> bool {
        self.policy == AckPolicy::AfterDurable && !self.failed
    }

    /// One message is being routed: its body is stored once, for every
    /// durable session it reaches, until [`Journal::end_routing`].
    #[inline]
    pub(crate) fn start_routing(&mut self) {
        self.routing = Some(None);
    }

    /// The message [`Journal::start_routing`] began is routed.
    #[inline]
    pub(crate) fn end_routing(&mut self) {
        self.routing = None;
    }

    /// Whether ops other than session records wait to be drained.
    pub(crate) fn has_ops(&self) -> bool {
        !self.ops.is_empty()
    }

    /// Moves the ops other than session records into `into`, in order.
    pub(crate) fn drain_ops(&mut self, into: &mut Vec<StoreOp>) {
        into.append(&mut self.ops);
    }

    /// `at` in Unix milliseconds (at least 1); 0 without a wall clock.
    pub(crate) fn unix_ms(&self, at: Instant) -> u64 {
        let Some((base, base_ms)) = self.wall else {
            return 0;
        };
        let ms = if at >= base {
            base_ms.saturating_add(millis(at - base))
        } else {
            base_ms.saturating_sub(millis(base - at))
        };
        ms.max(1)
    }

    /// Whether `session` is durable.
    pub(crate) fn keeps(&self, session: &Session) -> bool {
        self.enabled && session.expiry_interval > 0
    }

    /// The id under which a copy of `msg` is stored (the body is recorded
    /// once per routed message); 0 when it is not stored.
    pub(crate) fn store_message(
        &mut self,
        session: &Session,
        msg: &Publish,
        now: Instant,
    ) -> MessageId {
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
        let received_ms = self.unix_ms(now);
        self.ops.push(StoreOp::Message {
            id,
            publish,
            received_ms,
        });
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

    /// The sessions whose records must be written again, forgotten here.
    pub(crate) fn take_dirty(&mut self) -> Vec<SessionKey> {
        std::mem::take(&mut self.dirty)
    }

    /// The sessions whose records must be written again.
    pub(crate) fn dirty(&self) -> &[SessionKey] {
        &self.dirty
    }

    /// Follows the wall clock: the `Instant` `now` is `unix_ms`.
    pub(crate) fn set_wall_clock(&mut self, now: Instant, unix_ms: u64) {
        self.wall = Some((now, unix_ms));
    }

    /// Message ids below `next` are taken (a restored store's).
    pub(crate) fn restored_ids(&mut self, next: MessageId) {
        self.next_message = self.next_message.max(next);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The packet id of a PUBLISH about to be sent.
pub(crate) fn sent_id(packet: &Packet) -> Option<u16> {
    match packet {
        Packet::Publish(p) => p.packet_id.map(PacketId::get),
        _ => None,
    }
}

/// The record of a session as it is now.
pub(crate) fn record_of(
    key: SessionKey,
    session: &Session,
    offline_since: u64,
    local: &crate::local_marks::LocalMarks,
) -> SessionRecord {
    let mut subscriptions: Vec<SubscriptionRecord> = session
        .subscriptions
        .iter()
        .map(|(filter, sub)| SubscriptionRecord {
            filter: filter.clone(),
            options: sub.options,
            identifier: sub.identifier,
            local: local.is_local(key, filter),
        })
        .collect();
    subscriptions.sort_by(|a, b| a.filter.cmp(&b.filter));
    SessionRecord {
        key,
        client_id: session.client_id.clone(),
        protocol: session.protocol,
        expiry: session.expiry_interval,
        offline_since,
        subscriptions,
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
