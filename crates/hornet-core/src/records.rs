//! Persistence as the broker's rules: turning persistence on, the
//! records each change to durable state makes (through `persist`'s `Journal`),
//! snapshots, the wall clock, and [`Broker::restore`], which turns a
//! [`Restored`] state back into sessions, queues, inflight windows, inbound
//! QoS 2 ids, retained messages and delayed wills. What a record holds
//! and why is `persist`'s; when packets may leave is `durable`'s.

use std::time::{Duration, Instant};

use bytestring::ByteString;
use hornet_codec::{Ack, LastWill, Packet, PacketId, Property, Publish, QoS, ReasonCode};

use crate::broker::{Broker, ConnId};
use crate::persist::AckPolicy;
use crate::persist::{record_of, Restored, RestoredMessage, RestoredOutbound, StoreOp};
use crate::session::{Outbound, Queued, Session, SessionKey, Subscription, NEVER_EXPIRES};

impl Broker {
    /// Turns durability on: from now on, changes to durable state leave as
    /// [`Action::Persist`] records, and with [`AckPolicy::AfterDurable`]
    /// the packets that promise them wait for [`Broker::durable`].
    ///
    /// [`Action::Persist`]: crate::Action::Persist
    pub fn enable_persistence(&mut self, policy: AckPolicy) {
        self.journal.enable(policy);
    }

    /// Tells the core that the `Instant` `now` is `unix_ms` milliseconds
    /// after the Unix epoch (the shell reads both clocks together; calling
    /// again, e.g. on every tick, follows adjustments of the wall clock).
    /// Records then carry wall-clock deadlines, and [`Broker::restore`]
    /// counts the time the broker was down. Call before `restore`.
    pub fn set_wall_clock(&mut self, now: Instant, unix_ms: u64) {
        self.journal.set_wall_clock(now, unix_ms);
    }

    /// Whether durability is on.
    pub fn persistence_enabled(&self) -> bool {
        self.journal.enabled()
    }

    /// Whether the store was last reported failing
    /// ([`Broker::persist_failed`], until the next [`Broker::durable`]).
    pub fn store_failed(&self) -> bool {
        self.journal.failed()
    }

    /// Moves the ops recorded since the last call into `into`, in order:
    /// session records first (a session exists before what it owns), then
    /// everything else as it happened.
    pub(crate) fn drain_store_ops(&mut self, into: &mut Vec<StoreOp>) {
        for key in self.journal.take_dirty() {
            let Some(session) = self.sessions.get_mut(&key) else {
                continue;
            };
            if !(self.journal.enabled() && session.expiry_interval > 0) {
                continue;
            }
            session.persisted = true;
            let offline_since = match (session.conn, session.disconnected_at) {
                (None, Some(at)) => self.journal.unix_ms(at),
                _ => 0,
            };
            into.push(StoreOp::Session(record_of(
                key,
                session,
                offline_since,
                &self.local_marks,
            )));
        }
        self.journal.drain_ops(into);
    }

    /// Whether ops are waiting to be drained.
    pub fn has_store_ops(&self) -> bool {
        self.journal.has_ops()
            || self.journal.dirty().iter().any(|key| {
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
        if !self.journal.failed() || publish.qos == QoS::AtMostOnce {
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
    /// reconnect), inbound QoS 2 ids, retained messages, delayed wills and
    /// messages held for delayed publish.
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
        self.journal.restored_ids(restored.next_message);
        self.restore_delayed(now, restored.delayed);
        for (publish, received_ms, stamp) in restored.retained {
            let mut stamp = *stamp;
            let topic = publish.topic.clone();
            if stamp == crate::stamp::Stamp::default() {
                // Written before stamps: ordered by when it was received.
                stamp.ms = received_ms;
            }
            self.hlc.observe(&stamp);
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
                source: None,
                stamp,
            };
            self.retained.insert(&topic, retained);
        }
        for (topic, stamp) in restored.tombstones {
            self.hlc.observe(&stamp);
            // A tombstone's age counts from its delete.
            let age = ago(stamp.ms);
            if age >= self.tombstones.ttl {
                self.persist_retained(&topic, None);
                continue;
            }
            for forgotten in self.tombstones.insert(topic, stamp, back(age)) {
                self.persist_retained(&forgotten, None);
            }
        }
        let mut expired = Vec::new();
        let mut crashed_wills = Vec::new();
        for rs in restored.sessions {
            let record = rs.record;
            let key = record.key;
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
                    None => match crate::exclusive::indexed(
                        self.settings.exclusive_subscriptions,
                        &sub.filter,
                    ) {
                        crate::exclusive::Indexed::Exclusive(plain) => {
                            // Two sessions naming one filter (subscribed
                            // while exclusivity was off): the first keeps
                            // the claim, the other receives as a plain
                            // subscription.
                            let _ = self.exclusive.claim(&plain, key, &record.client_id);
                            self.subs.insert(&plain, key, subscription);
                        }
                        _ => {
                            self.subs.insert(&sub.filter, key, subscription);
                        }
                    },
                }
                // A `$local/` one stays local when the cluster starts
                // (`enable_cluster` does not export it).
                self.local_marks.mark(key, &sub.filter, sub.local);
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
                session
                    .queue
                    .push_back(Queued::new(m.id, m.publish, expires, group));
            }
            session.queued_bytes = session.queue.iter().map(|m| m.payload.len()).sum();
            session.incoming_qos2.extend(rs.incoming_qos2);
            if record.expiry != NEVER_EXPIRES {
                let left =
                    Duration::from_secs(u64::from(record.expiry)).saturating_sub(offline_for);
                if left.is_zero() {
                    expired.push((key, offline_for));
                }
                self.sessions.expire_at(now + left, key);
            }
            if let Some((delay, will, due_ms)) = rs.will {
                let left = if due_ms == 0 || now_ms == 0 {
                    Duration::from_secs(u64::from(delay))
                } else {
                    Duration::from_millis(due_ms.saturating_sub(now_ms))
                };
                let at = now + left;
                self.delayed_wills.hold(key, at, will);
            }
            if let Some(will) = rs.connected_will {
                crashed_wills.push((key, will));
            }
            self.sessions.restore(key, session);
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
                self.delayed_wills.hold(key, at, will);
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

    /// Records a retained message set (`Some`, with its stamp) or
    /// cleared on `topic` (its tombstone, if any, forgotten too). `$SYS`
    /// topics are the broker's own and are not kept.
    pub(crate) fn persist_retained(
        &mut self,
        topic: &ByteString,
        msg: Option<(&Publish, &crate::stamp::Stamp)>,
    ) {
        if !self.journal.enabled() || topic.starts_with('$') {
            return;
        }
        self.journal.push(match msg {
            Some((p, stamp)) => StoreOp::RetainSet {
                publish: p.clone(),
                received_ms: self.journal.unix_ms(self.now),
                stamp: Box::new(stamp.clone()),
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
