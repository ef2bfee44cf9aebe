//! What must survive a crash, decided here and written elsewhere.
//!
//! The core stays free of I/O: when durability is on
//! ([`Broker::enable_persistence`]) it records a [`StoreOp`] for every
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
//! both ways, retained messages and delayed wills. QoS 0 messages and clean
//! sessions never produce an op.
//!
//! At startup the store replays its log into a [`Restored`] state, which
//! [`Broker::restore`] turns back into sessions, queues, inflight windows,
//! inbound QoS 2 ids, retained messages and delayed wills.
//!
//! Deadlines survive a restart: records carry wall-clock times (Unix
//! milliseconds: when a session went offline, when a message was received,
//! when a delayed will is due). The core has no clock: the shell tells it
//! which Unix time goes with which `Instant` ([`Broker::set_wall_clock`]),
//! and [`Broker::restore`] turns the times back into instants relative to
//! the restart, so time spent down counts: a session whose expiry passed
//! meanwhile is gone, an expired message is not delivered, and the Message
//! Expiry Interval sent is reduced by the time on disk ([MQTT-3.3.2-6]).
//! A time of 0 means unknown (a record from an earlier version, or no wall
//! clock given): that deadline counts from the restart.
//!
//! While the store cannot write (disk full, I/O error; the shell reports
//! [`Broker::persist_failed`]) new QoS 1/2 publishes are refused: MQTT 5
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
use crate::out::AckPolicy;
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

/// The shared subscription group a queued copy came through: after a
/// restart it still goes to another member if this session leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedGroup {
    /// The group name (`$queue` for `$queue/{filter}`).
    pub name: ByteString,
    /// The topic filter.
    pub filter: ByteString,
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
    },
    /// The retained message of a topic was cleared.
    RetainCleared(ByteString),
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

/// Everything the store recovered, for [`Broker::restore`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restored {
    /// The durable sessions.
    pub sessions: Vec<RestoredSession>,
    /// The retained messages, with when they were received (Unix
    /// milliseconds, 0: unknown).
    pub retained: Vec<(Publish, u64)>,
    /// Ids below this are taken (the next message id to use).
    pub next_message: MessageId,
}

/// The core's side of durability: the ops not yet drained.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    pub(crate) enabled: bool,
    /// Whether acknowledgements wait for their records.
    pub(crate) policy: AckPolicy,
    /// The store cannot write: QoS 1/2 publishes are refused.
    pub(crate) failed: bool,
    pub(crate) ops: Vec<StoreOp>,
    /// Sessions whose record (subscriptions, expiry) changed.
    dirty: Vec<SessionKey>,
    next_message: MessageId,
    /// While routing one message: the id its body was stored under.
    pub(crate) routing: Option<Option<MessageId>>,
    /// The wall clock: this `Instant` is these Unix milliseconds.
    wall: Option<(Instant, u64)>,
}

impl Journal {
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

impl Broker {
    /// Turns durability on: from now on, changes to durable state leave as
    /// [`Action::Persist`] records, and with [`AckPolicy::AfterDurable`]
    /// the packets that promise them wait for [`Broker::durable`].
    ///
    /// [`Action::Persist`]: crate::Action::Persist
    pub fn enable_persistence(&mut self, policy: AckPolicy) {
        self.journal.enabled = true;
        self.journal.policy = policy;
    }

    /// Tells the core that the `Instant` `now` is `unix_ms` milliseconds
    /// after the Unix epoch (the shell reads both clocks together; calling
    /// again, e.g. on every tick, follows adjustments of the wall clock).
    /// Records then carry wall-clock deadlines, and [`Broker::restore`]
    /// counts the time the broker was down. Call before `restore`.
    pub fn set_wall_clock(&mut self, now: Instant, unix_ms: u64) {
        self.journal.wall = Some((now, unix_ms));
    }

    /// Whether durability is on.
    pub fn persistence_enabled(&self) -> bool {
        self.journal.enabled
    }

    /// Whether the store was last reported failing
    /// ([`Broker::persist_failed`], until the next [`Broker::durable`]).
    pub fn store_failed(&self) -> bool {
        self.journal.failed
    }

    /// Moves the ops recorded since the last call into `into`, in order:
    /// session records first (a session exists before what it owns), then
    /// everything else as it happened.
    pub(crate) fn drain_store_ops(&mut self, into: &mut Vec<StoreOp>) {
        for key in std::mem::take(&mut self.journal.dirty) {
            let Some(session) = self.sessions.get_mut(&key) else {
                continue;
            };
            if !(self.journal.enabled && session.expiry_interval > 0) {
                continue;
            }
            session.persisted = true;
            let offline_since = match (session.conn, session.disconnected_at) {
                (None, Some(at)) => self.journal.unix_ms(at),
                _ => 0,
            };
            into.push(StoreOp::Session(record_of(key, session, offline_since)));
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

    /// Rebuilds the durable state the store recovered: sessions (offline),
    /// subscriptions, queues, inflight windows (resent with DUP on
    /// reconnect), inbound QoS 2 ids, retained messages and delayed wills.
    ///
    /// With a wall clock ([`Broker::set_wall_clock`]) the time the broker
    /// was down counts: sessions whose expiry passed are removed (their
    /// delayed wills published), messages whose Message Expiry Interval
    /// passed are dropped when their turn comes, the rest keep what
    /// remains of it, and delayed wills fall due when they were due.
    /// Deadlines without a recorded time count from `now`.
    pub fn restore(&mut self, now: Instant, restored: Restored) {
        self.now = now;
        let now_ms = self.journal.unix_ms(now);
        // How long ago `at_ms` was (zero when unknown or in the future).
        let ago = |at_ms: u64| {
            if at_ms == 0 || now_ms == 0 {
                Duration::ZERO
            } else {
                Duration::from_millis(now_ms.saturating_sub(at_ms))
            }
        };
        let back = |d: Duration| now.checked_sub(d).unwrap_or(now);
        self.journal.next_message = self.journal.next_message.max(restored.next_message);
        for (publish, received_ms) in restored.retained {
            let topic = publish.topic.clone();
            let age = ago(received_ms);
            if publish
                .properties
                .message_expiry_interval()
                .is_some_and(|secs| age >= Duration::from_secs(u64::from(secs)))
            {
                // Expired while the broker was down ([MQTT-3.3.2-5]).
                self.persist_retained(&topic, None);
                continue;
            }
            let retained = crate::retained::Retained {
                msg: publish,
                stored: back(age),
            };
            self.retained.insert(&topic, retained);
        }
        let mut expired = Vec::new();
        let mut crashed_wills = Vec::new();
        for rs in restored.sessions {
            let record = rs.record;
            let key = record.key;
            self.next_session = self.next_session.max(key + 1);
            let mut session =
                Session::new(record.client_id.clone(), record.protocol, record.expiry);
            session.persisted = true;
            let offline_for = ago(record.offline_since);
            session.disconnected_at = Some(back(offline_for));
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
            // A Message Expiry Interval's end, counted from receipt.
            let expires_at = |m: &RestoredMessage| {
                m.publish.properties.message_expiry_interval().map(|secs| {
                    let left =
                        Duration::from_secs(u64::from(secs)).saturating_sub(ago(m.received_ms));
                    now + left
                })
            };
            for (pid, outbound) in rs.inflight {
                let Some(id) = PacketId::new(pid) else {
                    continue;
                };
                let (state, expires, group) = match outbound {
                    RestoredOutbound::Publish(m) => {
                        let expires = expires_at(&m);
                        let group = m.group.as_ref().and_then(|g| self.shared.id_of(g));
                        let mut p = m.publish;
                        p.packet_id = Some(id);
                        let state = match p.qos {
                            QoS::AtLeastOnce => Outbound::Qos1(p),
                            _ => Outbound::Qos2Sent(p),
                        };
                        (state, expires, group)
                    }
                    RestoredOutbound::Released => (Outbound::Qos2Released, None, None),
                };
                session.track(id, state, expires);
                if let Some(g) = group {
                    session.shared_inflight.insert(pid, g);
                }
            }
            for m in rs.queue {
                let expires = expires_at(&m);
                let group = m.group.as_ref().and_then(|g| self.shared.id_of(g));
                session.queue.push_back(Queued {
                    mid: m.id,
                    msg: m.publish,
                    expires,
                    group,
                });
            }
            session.queued_bytes = session.queue.iter().map(|m| m.payload.len()).sum();
            session.incoming_qos2.extend(rs.incoming_qos2);
            if record.expiry != NEVER_EXPIRES {
                let left =
                    Duration::from_secs(u64::from(record.expiry)).saturating_sub(offline_for);
                if left.is_zero() {
                    expired.push((key, offline_for));
                }
                self.session_timers.push(Reverse((now + left, key)));
            }
            if let Some((delay, will, due_ms)) = rs.will {
                let left = if due_ms == 0 || now_ms == 0 {
                    Duration::from_secs(u64::from(delay))
                } else {
                    Duration::from_millis(due_ms.saturating_sub(now_ms))
                };
                let at = now + left;
                self.delayed_wills.insert(key, (at, will));
                self.will_timers.push(Reverse((at, key)));
            }
            if let Some(will) = rs.connected_will {
                crashed_wills.push((key, will));
            }
            self.by_client_id.insert(record.client_id, key);
            self.sessions.insert(key, Box::new(session));
        }
        // Clients connected when the broker died: the crash ended their
        // connections abnormally, so their wills go out ([MQTT-3.1.2-8]),
        // after their Will Delay Interval counted from the restart while
        // the session lives ([MQTT-3.1.3-9]). (Their topics passed the ACL
        // at CONNECT.)
        for (key, (delay, will)) in crashed_wills {
            self.persist_connected_will(key, None);
            let name = self
                .sessions
                .get(&key)
                .map_or_else(String::new, |s| s.client_id.to_string());
            tracing::info!(
                "Client {name} was connected when the broker stopped: publishing its will to \
                 '{}'{}.",
                will.topic,
                if delay > 0 {
                    format!(" after its Will Delay Interval ({delay} s)")
                } else {
                    String::new()
                }
            );
            if delay > 0 && expired.iter().all(|(k, _)| *k != key) {
                let at = now + Duration::from_secs(u64::from(delay));
                self.persist_will(key, delay, &will);
                self.delayed_wills.insert(key, (at, will));
                self.will_timers.push(Reverse((at, key)));
            } else {
                self.publish_will(now, will);
            }
        }
        // Gone before anyone can reconnect to them; their delayed wills
        // are published now (the session ended) and the store forgets them.
        for (key, offline_for) in expired {
            if let Some(s) = self.sessions.get(&key) {
                tracing::info!(
                    "Session of {} expired while the broker was down (offline for {} s, \
                     Session Expiry Interval {} s) and was removed.",
                    s.client_id,
                    offline_for.as_secs(),
                    s.expiry_interval
                );
            }
            self.remove_session(key);
        }
    }
}

/// The record of a session as it is now.
fn record_of(key: SessionKey, session: &Session, offline_since: u64) -> SessionRecord {
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
        offline_since,
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
            Some(p) => StoreOp::RetainSet {
                publish: p.clone(),
                received_ms: self.journal.unix_ms(self.now),
            },
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
        let due_ms = match self.journal.unix_ms(self.now) {
            0 => 0,
            ms => ms.saturating_add(u64::from(delay) * 1000),
        };
        self.journal.push(StoreOp::WillSet {
            session: key,
            delay,
            will,
            due_ms,
        });
    }

    /// Records the will of durable session `key`'s connection (`Some`) or
    /// that it no longer applies (`None`); returns whether it recorded.
    pub(crate) fn persist_connected_will(
        &mut self,
        key: SessionKey,
        will: Option<LastWill>,
    ) -> bool {
        if !self
            .sessions
            .get(&key)
            .is_some_and(|s| self.journal.keeps(s))
        {
            return false;
        }
        // Stored as a PUBLISH, which cannot carry a Will Delay Interval.
        let will = will.map(|mut will| {
            let delay = will.properties.will_delay_interval().unwrap_or(0);
            will.properties
                .retain(|p| !matches!(p, Property::WillDelayInterval(_)));
            (delay, will)
        });
        self.journal
            .push(StoreOp::ConnectedWill { session: key, will });
        true
    }

    /// Records that the delayed will of `key` was sent or cancelled.
    pub(crate) fn persist_will_cleared(&mut self, key: SessionKey) {
        if self.sessions.get(&key).map_or(true, |s| s.persisted) {
            self.journal.push(StoreOp::WillCleared { session: key });
        }
    }
}
