//! PUBLISH in both directions: the inbound QoS flows, retained messages,
//! routing through the subscription index, and delivery into each
//! session's inflight window or queue.
//!
//! Inbound: topic rewrite rules apply first (`rewrite`), then EMQX's
//! `$delayed/` prefix (`delayed_publish`). QoS 1 is answered with PUBACK
//! after routing; QoS 2 is routed
//! once on the first PUBLISH and its packet id held until PUBREL, so a
//! resent PUBLISH is acknowledged again but not delivered again
//! ([MQTT-4.3.3-10]).
//!
//! Routing: each matching subscription is visited once, and a session
//! matched through several overlapping filters gets the message once, at
//! the highest granted QoS ([MQTT-3.3.5-1]), carrying every matching
//! Subscription Identifier (MQTT 5, §3.3.4: Hornet's choice of the two the
//! spec allows).
//!
//! Outbound: a message goes out at once when the session's window
//! (`max_inflight_messages`, capped by the client's Receive Maximum) and
//! the connection's unwritten-packet budget allow; otherwise it waits in the
//! session queue, whose limits drop a message (the newest, or for the
//! `drop_oldest` and `latest` queue policies the oldest; `latest` also
//! replaces a queued message on the same topic), count it, and log once
//! per episode.
//!
//! MQTT 5 extras: a message's Message Expiry Interval is turned into an
//! instant when it reaches a session (or, for retained messages, when it
//! was stored); an expired copy is never sent, and the interval sent is
//! what is left ([MQTT-3.3.2-5], [MQTT-3.3.2-6]). Outbound topic aliases
//! are applied per connection as each PUBLISH is handed out (`alias_outbound`).

use std::time::{Duration, Instant};

use bytestring::ByteString;
use hornet_codec::{Ack, Packet, PacketId, PacketType, Property, Publish, QoS, ReasonCode};

use crate::authorize::Access;
use crate::broker::{Broker, ConnId};
use crate::cluster_acks::GateKind;
use crate::persist::{queued_op, sent_op, settled_op, StoreOp};
use crate::retained::Retained;
use crate::route::Target;
use crate::session::{Outbound, Queued, SessionKey};
use crate::shared::GroupId;
use crate::violation::PeerError;

impl Broker {
    /// A PUBLISH from a connected client. The connection is looked up
    /// once; rules it breaks are answered by [`Broker::peer_error`].
    pub(crate) fn handle_publish(&mut self, now: Instant, id: ConnId, mut publish: Publish) {
        self.stats.publish_received += 1;
        let conn = self.conns.get_mut(&id).expect("caller checked");
        if let Err(error) = check_publish(&self.settings, conn, &mut publish) {
            return self.peer_error(now, id, error, None);
        }
        // Topic rewrite rules (none: one comparison).
        if !self.rewrite.is_empty() {
            let rewritten = self.rewrite.rewrite(
                crate::rewrite::Rewriting::Publish,
                &publish.topic,
                &conn.client_id,
                conn.username.as_deref(),
            );
            if let Some(topic) = rewritten {
                publish.topic = topic.into();
            }
        }

        // Topic limits (max_topic_length, max_topic_levels): MQTT 5 gets
        // 0x90 Topic Name invalid in its ack (QoS 0: dropped); 3.x cannot
        // be told, so it is disconnected rather than silently dropped.
        if let Some(over) = crate::limits::topic_over_limits(&self.settings, &publish.topic) {
            self.stats.limit_topic += 1;
            self.hints
                .give(crate::hints::Hint::TopicLimits, &self.settings);
            let topic: String = publish.topic.chars().take(64).collect();
            if !conn.protocol.is_v5() {
                let error = PeerError::TopicOverLimits { topic, over };
                return self.peer_error(now, id, error, None);
            }
            tracing::info!(
                "Refused PUBLISH from {} to a topic starting '{topic}': {over}.",
                conn.name()
            );
            let reason = ReasonCode::TopicNameInvalid;
            let ack = match (publish.qos, publish.packet_id) {
                (QoS::AtLeastOnce, Some(pid)) => Packet::PubAck(Ack::with_reason(pid, reason)),
                (QoS::ExactlyOnce, Some(pid)) => Packet::PubRec(Ack::with_reason(pid, reason)),
                _ => return,
            };
            return self.send_explained(id, ack, "topic over the broker's limits");
        }
        // EMQX's delayed publish: `$delayed/SECONDS/TOPIC` becomes TOPIC,
        // held SECONDS (one comparison for every other topic).
        let mut delay = None;
        if publish.topic.starts_with('$') {
            match crate::delayed_publish::delay_of(&self.settings, self.delayed.len(), &mut publish)
            {
                Ok(d) => delay = d,
                Err((reason, text)) => return self.refuse_delayed(id, &publish, reason, &text),
            }
        }
        let session_key = conn.session;
        let packet_id = publish.packet_id;
        if let Some(mount) = conn.mount_point() {
            publish.topic = crate::mount_point::mount_name(mount, &publish.topic);
        }
        // A bridge announces its state under `$SYS/broker/connection/`
        // (Mosquitto's `notifications`); nothing else of `$SYS` is a
        // client's to write.
        let mut denied = publish.topic.starts_with("$SYS")
            && !(conn.bridge && publish.topic.starts_with("$SYS/broker/connection/"));
        if denied {
            tracing::info!(
                "Denied PUBLISH from {} to '{}': clients may not publish to $SYS topics.",
                conn.name(),
                publish.topic
            );
        } else if let Err(why) = match &self.authorizer {
            None => Ok(()),
            Some(a) => a.authorize(
                crate::authorize::Principal {
                    client_id: &conn.client_id,
                    username: conn.username.as_deref(),
                },
                &publish.topic,
                Access::Write,
            ),
        } {
            // Dropped; QoS 1/2 are still acknowledged (0x87 for MQTT 5),
            // as Mosquitto does, so the client does not resend forever.
            denied = true;
            self.stats.acl_denied_publish += 1;
            tracing::info!(
                "Denied PUBLISH from {} ({}) to '{}': {why}.",
                conn.name(),
                crate::authorize::user_label(conn.username.as_deref()),
                publish.topic
            );
            self.hints
                .give(crate::hints::Hint::AclDenied, &self.settings);
        }
        // MQTT 5 acks say 0x10 when nobody was subscribed, as Mosquitto
        // does; 3.x acks carry no reason code.
        let v5 = conn.protocol.is_v5();
        // MQTT 5 §3.3.2.3.2: a receiver MAY check a payload said to be
        // UTF-8; Hornet does, and refuses it with 0x99 (QoS 0: dropped).
        if v5
            && publish.properties.payload_format_indicator() == Some(1)
            && std::str::from_utf8(&publish.payload).is_err()
        {
            let text = "the payload is not UTF-8 but its Payload Format Indicator says so";
            tracing::info!(
                "Refused PUBLISH from {} to '{}': {text}.",
                conn.name(),
                publish.topic
            );
            let reason = ReasonCode::PayloadFormatInvalid;
            let ack = match (publish.qos, packet_id) {
                (QoS::AtLeastOnce, Some(pid)) => Packet::PubAck(Ack::with_reason(pid, reason)),
                (QoS::ExactlyOnce, Some(pid)) => Packet::PubRec(Ack::with_reason(pid, reason)),
                _ => return,
            };
            return self.send_explained(id, ack, text);
        }
        // Receive Maximum (MQTT 5 §3.3.4): QoS 2 PUBLISH awaiting PUBREL
        // count (QoS 1 is acknowledged at once); one over is 0x93.
        if let (true, QoS::ExactlyOnce, Some(pid), Some(session)) = (
            v5,
            publish.qos,
            packet_id,
            session_key.and_then(|k| self.sessions.get(&k)),
        ) {
            let held = &session.incoming_qos2;
            let max = self.settings.receive_maximum;
            if !held.contains(&pid.get()) && held.len() >= usize::from(max) {
                let error = PeerError::ReceiveMaximumExceeded(max);
                return self.peer_error(now, id, error, None);
            }
        }
        if !denied && self.refuse_unstorable(now, id, &publish) {
            return;
        }
        if self.drop_oversize_publish(id, &publish) {
            return;
        }
        let outcome = |matched: bool| match (v5, denied, matched) {
            (false, _, _) | (true, false, true) => ReasonCode::Success,
            (true, true, _) => ReasonCode::NotAuthorized,
            (true, false, false) => ReasonCode::NoMatchingSubscribers,
        };
        let source = if publish.retain && !denied {
            self.retain_source(id)
        } else {
            None
        };
        match (publish.qos, packet_id) {
            (QoS::AtMostOnce, _) | (_, None) => {
                if !denied {
                    self.accept_or_hold(now, publish, session_key, delay, source);
                }
            }
            (QoS::AtLeastOnce, Some(pid)) => {
                self.ungated();
                let matched =
                    !denied && self.accept_or_hold(now, publish, session_key, delay, source);
                // Cluster: waits for the nodes it went to (`acknowledging`).
                self.gate_ack(now, id, pid.get(), GateKind::Publish);
                let reason = outcome(matched);
                self.send_explained(id, Packet::PubAck(Ack::with_reason(pid, reason)), "");
            }
            (QoS::ExactlyOnce, Some(pid)) => {
                let first = match session_key.and_then(|k| self.sessions.get_mut(&k)) {
                    Some(session) => !denied && session.incoming_qos2.insert(pid.get()),
                    None => !denied,
                };
                if first {
                    self.persist_qos2_received(session_key, pid.get());
                }
                // A resent QoS 2 PUBLISH is acknowledged again, not routed again.
                self.ungated();
                let matched = if first {
                    self.accept_or_hold(now, publish, session_key, delay, source)
                } else {
                    !denied
                };
                self.gate_ack(now, id, pid.get(), GateKind::Publish);
                let reason = outcome(matched);
                self.send_explained(id, Packet::PubRec(Ack::with_reason(pid, reason)), "");
            }
        }
    }

    /// Sends an acknowledgement on `id` with `text` as its Reason String
    /// (or, for `""`, the standard explanation of its reason code, if it
    /// is an error) when the client did not turn problem information off
    /// ([MQTT-3.1.2-29]) and it fits its Maximum Packet Size
    /// ([MQTT-3.1.2-25]).
    pub(crate) fn send_explained(&mut self, id: ConnId, mut packet: Packet, text: &str) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let props = match &mut packet {
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                let text = match text {
                    "" => explanation(a.reason_code),
                    t => Some(t),
                };
                text.filter(|_| conn.protocol.is_v5() && conn.problem_information)
                    .map(|t| (&mut a.properties, t))
            }
            Packet::SubAck(a) if conn.protocol.is_v5() && conn.problem_information => {
                (!text.is_empty()).then_some((&mut a.properties, text))
            }
            Packet::UnsubAck(a) if conn.protocol.is_v5() && conn.problem_information => {
                (!text.is_empty()).then_some((&mut a.properties, text))
            }
            _ => None,
        };
        if let Some((props, text)) = props {
            props.push(Property::ReasonString(text.into()));
            let fits = packet
                .encoded_len(conn.protocol)
                .is_ok_and(|n| n <= conn.max_packet_size as usize);
            if !fits {
                match &mut packet {
                    Packet::PubAck(a)
                    | Packet::PubRec(a)
                    | Packet::PubRel(a)
                    | Packet::PubComp(a) => a.properties = Default::default(),
                    Packet::SubAck(a) => a.properties = Default::default(),
                    Packet::UnsubAck(a) => a.properties = Default::default(),
                    _ => {}
                }
            }
        }
        self.out.send(id, conn, &mut self.stats, packet);
    }

    /// Sends `packet` on `id` if the connection is still live.
    pub(crate) fn send_to(&mut self, id: ConnId, packet: Packet) {
        if let Some(conn) = self.conns.get_mut(&id) {
            self.out.send(id, conn, &mut self.stats, packet);
        }
    }

    /// Applies the retain flag and routes `publish` to every subscriber.
    /// `origin` is the publishing session, for No Local. Returns whether
    /// any subscription matched.
    pub(crate) fn accept_publish(
        &mut self,
        now: Instant,
        publish: Publish,
        origin: Option<SessionKey>,
    ) -> bool {
        self.accept_publish_from(now, publish, origin, None)
    }

    /// As [`Broker::accept_publish`], a retained message remembering its
    /// `source` (`check_retain_source`).
    pub(crate) fn accept_publish_from(
        &mut self,
        now: Instant,
        mut publish: Publish,
        origin: Option<SessionKey>,
        source: Option<Box<crate::retained::RetainSource>>,
    ) -> bool {
        publish.dup = false;
        publish.packet_id = None;
        if publish.retain {
            // [MQTT-3.3.1-6]/[MQTT-3.3.1-10]: an empty retained message deletes.
            let msg = (!publish.payload.is_empty()).then(|| {
                let mut msg = publish.clone();
                // Kept until replaced: its own bytes, not a slice pinning
                // the publisher's read buffer.
                msg.detach();
                msg
            });
            let topic = publish.topic.clone();
            self.retain_here(now, &topic, msg, source);
        }
        // Cluster: once to each other node with a matching filter, and
        // each shared group's one delivery wherever its turn falls.
        if self.cluster.is_some() {
            return self.route_clustered(now, &publish, origin);
        }
        self.route(now, &publish, origin)
    }

    /// Delivers `publish` to every session with a matching subscription;
    /// returns whether there was one.
    pub(crate) fn route(
        &mut self,
        _now: Instant,
        publish: &Publish,
        origin: Option<SessionKey>,
    ) -> bool {
        self.route_to(publish, origin, true, None)
    }

    /// [`Broker::route`] to the plain subscribers if `plain`, and to one
    /// member of each shared group of `groups` (every matching group when
    /// `None`).
    pub(crate) fn route_to(
        &mut self,
        publish: &Publish,
        origin: Option<SessionKey>,
        plain: bool,
        groups: Option<Vec<GroupId>>,
    ) -> bool {
        let mut matched = false;
        // One stored body for every durable session this message reaches.
        self.journal.start_routing();
        if plain {
            let copies = self.settings.subscription_identifier_copies;
            let mut targets = self.subs.route(&publish.topic, origin, copies);
            matched = !targets.is_empty();
            // A fan-out's plain QoS 0 copies as one action (see `send_plain`).
            let batch = self.send_many
                && targets.len() > 1
                && publish.properties.is_empty()
                && self.authorizer.is_none()
                && !tracing::enabled!(tracing::Level::DEBUG);
            let mut many = Vec::new();
            let mut lens = [None; 3];
            for (key, target) in targets.drain(..) {
                let qos = self.outgoing_qos(publish.qos, target.qos());
                if batch
                    && qos == QoS::AtMostOnce
                    && target.is_plain(publish)
                    && self.send_plain(key, &mut many, publish, &mut lens)
                {
                    continue;
                }
                // Whatever goes another way goes after the copies before it.
                if !many.is_empty() {
                    self.out
                        .send_many(std::mem::take(&mut many), plain_copy(publish));
                }
                self.deliver(key, target.shape(publish, qos));
            }
            if !many.is_empty() {
                self.out.send_many(many, plain_copy(publish));
            }
            self.subs.recycle(targets);
        }
        match groups {
            None if self.shared.len() > 0 => {
                let groups = self.shared.matching_groups(&publish.topic);
                matched |= self.route_shared(publish, origin, groups);
            }
            // (Nothing to hand back: the scratch list stays warm.)
            None => {}
            Some(groups) if groups.is_empty() => {}
            Some(groups) => matched |= self.route_shared(publish, origin, groups),
        }
        self.journal.end_routing();
        matched
    }

    /// Takes session `key`'s plain QoS 0 copy (`Target::is_plain`) into
    /// `many` when it would go straight out as is: the client online with
    /// nothing queued before it and room in its unwritten budget, and
    /// nothing about the connection that changes the packet (Maximum
    /// Packet Size, outbound topic aliases, a mount point). The copy is
    /// counted as [`Broker::deliver`] would count it. False: deliver it
    /// the usual way. (Without a session there is nothing to do, as in
    /// `deliver_in`.)
    fn send_plain(
        &mut self,
        key: SessionKey,
        many: &mut Vec<ConnId>,
        publish: &Publish,
        lens: &mut [Option<usize>; 3],
    ) -> bool {
        let Some(session) = self.sessions.get(&key) else {
            return true;
        };
        let Some(conn_id) = session.conn else {
            return false;
        };
        if !session.queue.is_empty() || !session.pending_resend.is_empty() {
            return false;
        }
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            return false;
        };
        if conn.unwritten >= self.settings.max_unwritten_packets
            || conn.max_packet_size != u32::MAX
            || conn.alias_max_out > 0
            || conn.mount_point().is_some()
        {
            return false;
        }
        crate::out::Out::count_copy(conn, &mut self.stats, publish, lens);
        many.push(conn_id);
        true
    }

    /// Delivers `publish` to one member of each shared subscription group
    /// of `groups`; returns whether there was one.
    fn route_shared(
        &mut self,
        publish: &Publish,
        origin: Option<SessionKey>,
        mut groups: Vec<GroupId>,
    ) -> bool {
        let matched = !groups.is_empty();
        let publisher = origin
            .and_then(|k| self.sessions.get(&k))
            .map_or_else(ByteString::new, |s| s.client_id.clone());
        for id in groups.drain(..) {
            let sessions = &self.sessions;
            let online = |k: SessionKey| sessions.get(&k).is_some_and(|s| s.conn.is_some());
            let Some((key, sub)) = self
                .shared
                .pick(id, &publish.topic, &publisher, None, online)
            else {
                continue;
            };
            let target = Target::of(&sub);
            let qos = self.outgoing_qos(publish.qos, target.qos());
            self.deliver_in(key, target.shape(publish, qos), Some(id));
        }
        self.shared.recycle(groups);
        matched
    }

    /// Hands one message to session `key`: sent now, queued, or dropped.
    /// Its Message Expiry Interval, if any, counts from now.
    pub(crate) fn deliver(&mut self, key: SessionKey, msg: Publish) {
        self.deliver_in(key, msg, None);
    }

    /// [`Broker::deliver`] for a message that came through shared
    /// subscription `group`, if any.
    pub(crate) fn deliver_in(&mut self, key: SessionKey, msg: Publish, group: Option<GroupId>) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        // The ACL's read check, per message and session, so a rule changed
        // by a reload applies to existing subscriptions.
        if let Some(authorizer) = &self.authorizer {
            let who = crate::authorize::Principal {
                client_id: &session.client_id,
                username: session.username.as_deref(),
            };
            if let Err(why) = authorizer.authorize(who, &msg.topic, Access::Read) {
                self.stats.acl_denied_delivery += 1;
                tracing::debug!(
                    "Not delivering '{}' to {} ({}): {why}.",
                    msg.topic,
                    session.client_id,
                    crate::authorize::user_label(session.username.as_deref()),
                );
                self.hints
                    .give(crate::hints::Hint::AclDenied, &self.settings);
                return;
            }
        }
        let expires = msg
            .properties
            .message_expiry_interval()
            .map(|secs| self.now + Duration::from_secs(u64::from(secs)));
        let mid = self.journal.store_message(session, &msg, self.now);
        let msg = Queued::new(mid, msg, expires, group);
        let Some(conn_id) = session.conn else {
            if msg.qos == QoS::AtMostOnce && !self.settings.queue_qos0_messages {
                // Mosquitto's default: QoS 0 is not kept for offline clients.
                if self.hints.first(crate::hints::Hint::Qos0NotQueued) {
                    tracing::info!(
                        "A QoS 0 message on '{}' was not kept for {}, which is offline.",
                        msg.topic,
                        session.client_id
                    );
                    tracing::info!(
                        "hint: {}",
                        crate::hints::Hint::Qos0NotQueued.text(&self.settings)
                    );
                }
                return;
            }
            self.enqueue(key, msg);
            return;
        };
        let conn = self
            .conns
            .get_mut(&conn_id)
            .expect("session's connection is live");
        if too_large(&msg, conn.protocol, conn.max_packet_size) {
            // [MQTT-3.1.2-25]: never send more than the client's Maximum Packet Size.
            self.stats.publish_dropped += 1;
            tracing::debug!(
                "Dropped a message on '{}' for {}: over its Maximum Packet Size.",
                msg.topic,
                conn.name()
            );
            self.hints
                .give(crate::hints::Hint::OverClientMaximum, &self.settings);
            return;
        }
        let window = usize::from(
            self.settings
                .max_inflight_messages
                .min(conn.receive_maximum),
        );
        let has_room = session.queue.is_empty()
            && session.pending_resend.is_empty()
            && conn.unwritten < self.settings.max_unwritten_packets
            && (msg.qos == QoS::AtMostOnce || session.inflight.len() < window);
        if !has_room {
            self.enqueue(key, msg);
            return;
        }
        if mid != 0 {
            let mut shape = crate::persist::Shape::of(&msg);
            shape.group = msg.group().and_then(|g| self.shared.name_of(g));
            self.journal.push(queued_op(key, mid, shape));
        }
        let (expires, group) = (msg.expires(), msg.group());
        let packet = start_outbound_at(session, msg.msg, expires, group, self.now);
        if let (true, Some(packet_id)) = (mid != 0, crate::persist::sent_id(&packet)) {
            self.journal.push(sent_op(key, mid, packet_id));
        }
        self.out.send(conn_id, conn, &mut self.stats, packet);
    }

    fn enqueue(&mut self, key: SessionKey, msg: Queued) {
        let session = self.sessions.get_mut(&key).expect("caller checked");
        let (max_messages, max_bytes, owner) = self.settings.queue_limits_of(&session.client_id);
        let stored = (msg.mid() != 0).then(|| {
            let mut shape = crate::persist::Shape::of(&msg);
            shape.group = msg.group().and_then(|g| self.shared.name_of(g));
            (msg.mid(), shape)
        });
        let policy = self.queue_policies.for_topic(&msg.topic);
        let dropped_before = session.dropped;
        let mut removed = Vec::new();
        let kept = session.enqueue_with(msg, max_messages, max_bytes, policy, &mut removed);
        self.backlog.queued(
            key,
            session.conn,
            (session.queue.len(), session.queued_bytes),
            self.settings.backlog_threshold(),
            self.now,
        );
        // Taken out of the queue for the arriving message: replaced by a
        // newer one on the same topic (`latest`) or dropped to make room.
        let evicted = if kept {
            (session.dropped - dropped_before) as usize
        } else {
            0
        };
        // The arriving copy is recorded before the removed ones leave: a
        // removed copy of the same stored message (overlapping
        // subscriptions) must not free the body the new copy needs, and
        // the store's `Unqueued` takes the oldest copy, the removed one.
        if let (true, Some((mid, shape))) = (kept, stored) {
            self.journal.push(queued_op(key, mid, shape));
        }
        if !removed.is_empty() {
            let keeps = self.journal.keeps(session);
            for old in &removed {
                if keeps && old.mid() != 0 {
                    self.journal.push(StoreOp::Unqueued {
                        session: key,
                        message: old.mid(),
                    });
                }
            }
            self.stats.queue_replaced += (removed.len() - evicted) as u64;
        }
        if kept && evicted == 0 {
            return;
        }
        let lost = if kept { evicted } else { 1 };
        self.stats.publish_dropped += lost as u64;
        self.stats.dropped_queue_full += lost as u64;
        if session.drop_episode().is_none() {
            session.set_drop_episode(Some(session.dropped - lost as u64));
            let limit = |n: usize| {
                if n == usize::MAX {
                    "unlimited".to_string()
                } else {
                    n.to_string()
                }
            };
            let whose = match owner {
                Some(owner) => format!("the limits of {owner}: "),
                None => String::new(),
            };
            tracing::warn!(
                "Outgoing messages are being dropped for client {}: its queue is full \
                 ({} messages, {} bytes; {whose}max_queued_messages {}, max_queued_bytes {}). \
                 The {} messages are dropped until it catches up (queue policy {policy}).",
                session.client_id,
                session.queue.len(),
                session.queued_bytes,
                limit(max_messages),
                limit(max_bytes),
                if kept { "oldest" } else { "newest" },
            );
            self.hints
                .give(crate::hints::Hint::QueueFull, &self.settings);
        }
    }

    /// Moves messages out while the window and the connection allow:
    /// first inflight messages waiting to be resent after a reconnect, then
    /// the queue. A message over the client's Maximum Packet Size is
    /// dropped as if delivered ([MQTT-3.1.2-25]).
    pub(crate) fn flush(&mut self, key: SessionKey) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let Some(conn_id) = session.conn else { return };
        let conn = self
            .conns
            .get_mut(&conn_id)
            .expect("session's connection is live");
        let window = usize::from(
            self.settings
                .max_inflight_messages
                .min(conn.receive_maximum),
        );
        let budget = self.settings.max_unwritten_packets;
        while let Some(&id) = session.pending_resend.front() {
            let sent = session.inflight.len() - session.pending_resend.len();
            if conn.unwritten >= budget || sent >= window {
                break;
            }
            session.pending_resend.pop_front();
            let pid = PacketId::new(id).expect("packet ids are nonzero");
            let packet = match session.inflight.get(&id) {
                Some((_, Outbound::Qos1(p) | Outbound::Qos2Sent(p))) => {
                    if too_large(p, conn.protocol, conn.max_packet_size) {
                        session.inflight.remove(&id);
                        self.stats.publish_dropped += 1;
                        if self.journal.keeps(session) {
                            self.journal.push(settled_op(key, id));
                        }
                        continue;
                    }
                    let mut p = p.clone();
                    let expires = session.inflight_expiry.get(&id).copied();
                    if !set_remaining_expiry(&mut p, expires, self.now) {
                        // [MQTT-3.3.2-5]: expired while waiting to be resent.
                        session.inflight.remove(&id);
                        session.inflight_expiry.remove(&id);
                        if self.journal.keeps(session) {
                            self.journal.push(settled_op(key, id));
                        }
                        tracing::debug!(
                            "Message on '{}' for {} expired before it could be resent.",
                            p.topic,
                            conn.name()
                        );
                        self.hints
                            .give(crate::hints::Hint::MessageExpired, &self.settings);
                        continue;
                    }
                    p.dup = true;
                    p.packet_id = Some(pid);
                    Packet::Publish(p)
                }
                Some((_, Outbound::Qos2Released)) => Packet::PubRel(Ack::new(pid)),
                None => continue,
            };
            self.out.send(conn_id, conn, &mut self.stats, packet);
        }
        let queued_before = session.queue.len();
        while let Some(front) = session.queue.front() {
            if conn.unwritten >= budget
                || !session.pending_resend.is_empty()
                || (front.qos != QoS::AtMostOnce && session.inflight.len() >= window)
            {
                break;
            }
            let msg = session.dequeue().expect("front exists");
            let unqueued = StoreOp::Unqueued {
                session: key,
                message: msg.mid(),
            };
            if too_large(&msg, conn.protocol, conn.max_packet_size) {
                self.stats.publish_dropped += 1;
                if msg.mid() != 0 {
                    self.journal.push(unqueued);
                }
                continue;
            }
            if msg.expires().is_some_and(|at| at <= self.now) {
                if msg.mid() != 0 {
                    self.journal.push(unqueued);
                }
                // [MQTT-3.3.2-5]: expired in the queue; not delivered.
                tracing::debug!(
                    "Message on '{}' for {} expired in its queue.",
                    msg.topic,
                    conn.name()
                );
                self.hints
                    .give(crate::hints::Hint::MessageExpired, &self.settings);
                continue;
            }
            let (mid, expires, group) = (msg.mid(), msg.expires(), msg.group());
            let packet = start_outbound_at(session, msg.msg, expires, group, self.now);
            if let (true, Some(packet_id)) = (mid != 0, crate::persist::sent_id(&packet)) {
                self.journal.push(sent_op(key, mid, packet_id));
            }
            self.out.send(conn_id, conn, &mut self.stats, packet);
        }
        if queued_before != session.queue.len() {
            self.backlog
                .drained(conn_id, queued_before, session.queue.len(), self.now);
        }
        if let Some(since) = session.drop_episode() {
            // The episode ends when the backlog is gone, so a client that
            // stays overloaded costs two log lines, not two per minute.
            if session.queue.is_empty() {
                tracing::warn!(
                    "Client {} is catching up: {} messages were dropped for it while its queue was full.",
                    session.client_id,
                    session.dropped - since
                );
                session.set_drop_episode(None);
            }
        }
    }

    pub(crate) fn handle_puback(&mut self, id: ConnId, ack: Ack) {
        let Some(key) = self.conns[&id].session else {
            return;
        };
        let session = self.sessions.get_mut(&key).expect("attached");
        // Answered before it was resent: it is no longer waiting to go out.
        session.settle_resend(ack.packet_id.get());
        match session.inflight.get(&ack.packet_id.get()) {
            Some((_, Outbound::Qos1(_))) => {
                session.inflight.remove(&ack.packet_id.get());
                session.inflight_expiry.remove(&ack.packet_id.get());
                self.persist_settled(key, ack.packet_id.get());
                self.flush(key);
            }
            Some((_, Outbound::Qos2Sent(_))) => {
                self.wrong_ack(id, PacketType::PubAck, ack, PacketType::PubRec)
            }
            Some((_, Outbound::Qos2Released)) => {
                self.wrong_ack(id, PacketType::PubAck, ack, PacketType::PubComp)
            }
            // Not in flight (answered twice, or after a reconnect): ignored.
            None => {}
        }
    }

    /// Closes `id` for acknowledging packet id `ack` with `got` while its
    /// flow awaits `expected` ([`PeerError::WrongAcknowledgement`]).
    fn wrong_ack(&mut self, id: ConnId, got: PacketType, ack: Ack, expected: PacketType) {
        let error = PeerError::WrongAcknowledgement {
            got,
            packet_id: ack.packet_id.get(),
            expected,
        };
        self.peer_error(self.now, id, error, None);
    }

    pub(crate) fn handle_pubrec(&mut self, id: ConnId, ack: Ack) {
        let Some(key) = self.conns[&id].session else {
            return;
        };
        let session = self.sessions.get_mut(&key).expect("attached");
        // Answered before it was resent: it is no longer waiting to go out.
        session.settle_resend(ack.packet_id.get());
        let pid = ack.packet_id;
        match session.inflight.get_mut(&pid.get()) {
            Some((_, state @ Outbound::Qos2Sent(_))) => {
                if ack.reason_code.is_error() {
                    // MQTT 5: a failed PUBREC ends the exchange ([MQTT-4.3.3-4] note).
                    session.inflight.remove(&pid.get());
                    self.persist_settled(key, pid.get());
                    self.flush(key);
                    return;
                }
                *state = Outbound::Qos2Released;
                if self.journal.keeps(session) {
                    self.journal.push(StoreOp::Released {
                        session: key,
                        packet_id: pid.get(),
                    });
                }
                self.send_to(id, Packet::PubRel(Ack::new(pid)));
            }
            Some((_, Outbound::Qos2Released)) => self.send_to(id, Packet::PubRel(Ack::new(pid))),
            Some((_, Outbound::Qos1(_))) => {
                self.wrong_ack(id, PacketType::PubRec, ack, PacketType::PubAck)
            }
            None => {
                let reason = ReasonCode::PacketIdentifierNotFound;
                self.send_explained(id, Packet::PubRel(Ack::with_reason(pid, reason)), "");
            }
        }
    }

    pub(crate) fn handle_pubrel(&mut self, id: ConnId, ack: Ack) {
        let Some(key) = self.conns[&id].session else {
            return;
        };
        let session = self.sessions.get_mut(&key).expect("attached");
        let reason = if session.incoming_qos2.remove(&ack.packet_id.get()) {
            if self.journal.keeps(session) {
                self.journal.push(StoreOp::Qos2Done {
                    session: key,
                    packet_id: ack.packet_id.get(),
                });
            }
            ReasonCode::Success
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        let packet = Packet::PubComp(Ack::with_reason(ack.packet_id, reason));
        self.send_explained(id, packet, "");
    }

    pub(crate) fn handle_pubcomp(&mut self, id: ConnId, ack: Ack) {
        let Some(key) = self.conns[&id].session else {
            return;
        };
        let session = self.sessions.get_mut(&key).expect("attached");
        // Answered before it was resent: it is no longer waiting to go out.
        session.settle_resend(ack.packet_id.get());
        match session.inflight.get(&ack.packet_id.get()) {
            Some((_, Outbound::Qos2Released)) => {
                session.inflight.remove(&ack.packet_id.get());
                session.inflight_expiry.remove(&ack.packet_id.get());
                self.persist_settled(key, ack.packet_id.get());
                self.flush(key);
            }
            Some((_, Outbound::Qos1(_))) => {
                self.wrong_ack(id, PacketType::PubComp, ack, PacketType::PubAck)
            }
            Some((_, Outbound::Qos2Sent(_))) => {
                self.wrong_ack(id, PacketType::PubComp, ack, PacketType::PubRec)
            }
            None => {}
        }
    }

    /// Sends retained message `msg` to one subscription (on subscribe).
    /// An expired one (its Message Expiry Interval or `retained_max_age`
    /// passed) is removed from the store instead ([MQTT-3.3.2-5]).
    pub(crate) fn deliver_retained(
        &mut self,
        key: SessionKey,
        retained: Retained,
        qos: QoS,
        identifier: Option<u32>,
    ) {
        let expires = retained.expires();
        let aged = retained.aged(self.now, self.settings.retained_max_age);
        let mut msg = retained.msg;
        if aged || !set_remaining_expiry(&mut msg, expires, self.now) {
            tracing::debug!("Retained message on '{}' expired; removed.", msg.topic);
            self.retained_expired(self.now, &msg.topic);
            return;
        }
        msg.qos = self.outgoing_qos(msg.qos, qos);
        msg.retain = true; // [MQTT-3.3.1-8]
        if let Some(i) = identifier {
            msg.properties.push(Property::SubscriptionIdentifier(i));
        }
        self.deliver(key, msg);
    }
}

/// The rules of an inbound PUBLISH that need the connection and what
/// CONNACK announced: no Subscription Identifier, Maximum QoS, Retain
/// Available, and topic aliases (MQTT 5 §3.3.2.3.4), which it resolves
/// (an empty topic from its alias; the alias property removed).
fn check_publish(
    settings: &crate::Settings,
    conn: &mut crate::broker::Conn,
    publish: &mut Publish,
) -> Result<(), PeerError> {
    // [MQTT-3.3.4-6]: Subscription Identifiers are the server's to send.
    if publish
        .properties
        .subscription_identifiers()
        .next()
        .is_some()
    {
        return Err(PeerError::SubscriptionIdentifierInPublish);
    }
    // What CONNACK announced: Maximum QoS and Retain Available
    // ([MQTT-3.2.2-11], [MQTT-3.2.2-14]); Mosquitto closes 3.x clients too.
    if publish.qos as u8 > settings.max_qos {
        return Err(PeerError::QosOverMaximum {
            qos: publish.qos as u8,
            max: settings.max_qos,
        });
    }
    if publish.retain && !settings.retain_available {
        return Err(PeerError::RetainUnavailable);
    }
    let Some(alias) = publish.properties.topic_alias() else {
        return Ok(());
    };
    let max = settings.topic_alias_maximum;
    if alias == 0 || alias > max {
        return Err(PeerError::TopicAliasOverMaximum { alias, max });
    }
    if publish.topic.is_empty() {
        match conn.aliases_in.as_ref().and_then(|m| m.get(&alias)) {
            Some(topic) => publish.topic = topic.clone(),
            None => return Err(PeerError::TopicAliasUnknown(alias)),
        }
    } else {
        conn.aliases_in
            .get_or_insert_with(Default::default)
            .insert(alias, publish.topic.clone());
    }
    publish
        .properties
        .retain(|p| !matches!(p, Property::TopicAlias(_)));
    Ok(())
}

/// Assigns a packet id (QoS > 0), records the message as inflight (with
/// the instant it expires, for a resend) and returns the PUBLISH to send,
/// its Message Expiry Interval lowered by the time it waited
/// ([MQTT-3.3.2-6]). The caller has checked it has not expired.
fn start_outbound_at(
    session: &mut crate::session::Session,
    mut msg: Publish,
    expires: Option<Instant>,
    group: Option<GroupId>,
    now: Instant,
) -> Packet {
    set_remaining_expiry(&mut msg, expires, now);
    match msg.qos {
        QoS::AtMostOnce => {}
        QoS::AtLeastOnce => {
            let pid = session.allocate_packet_id();
            msg.packet_id = Some(pid);
            session.track(pid, Outbound::Qos1(msg.clone()), expires);
        }
        QoS::ExactlyOnce => {
            let pid = session.allocate_packet_id();
            msg.packet_id = Some(pid);
            session.track(pid, Outbound::Qos2Sent(msg.clone()), expires);
        }
    }
    if let Some(pid) = msg.packet_id {
        match group {
            Some(g) => session.shared_inflight.insert(pid.get(), g),
            None => session.shared_inflight.remove(&pid.get()),
        };
    }
    Packet::Publish(msg)
}

/// The copy of `publish` every plain QoS 0 subscriber gets (as
/// `Target::shape` makes it for a plain target).
fn plain_copy(publish: &Publish) -> Publish {
    let mut msg = publish.clone();
    msg.qos = QoS::AtMostOnce;
    msg.retain = false;
    msg
}

/// The Reason String Hornet puts on an acknowledgement with `code`, if any.
fn explanation(code: ReasonCode) -> Option<&'static str> {
    match code {
        ReasonCode::NotAuthorized => Some("clients may not publish to $SYS topics"),
        ReasonCode::PacketIdentifierNotFound => {
            Some("no message with this packet identifier is waiting")
        }
        _ => None,
    }
}

/// Sets the Message Expiry Interval of `msg` to what is left of it at `now`
/// (whole seconds, rounded up, so a message still alive never says 0)
/// ([MQTT-3.3.2-6]). Returns false when it has expired ([MQTT-3.3.2-5]).
pub(crate) fn set_remaining_expiry(
    msg: &mut Publish,
    expires: Option<Instant>,
    now: Instant,
) -> bool {
    let Some(at) = expires else {
        return true;
    };
    if at <= now {
        return false;
    }
    let left = at - now;
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    let secs = u32::try_from(secs).unwrap_or(u32::MAX);
    if msg.properties.message_expiry_interval() != Some(secs) {
        msg.properties
            .retain(|p| !matches!(p, Property::MessageExpiryInterval(_)));
        msg.properties.push(Property::MessageExpiryInterval(secs));
    }
    true
}

/// Whether `msg` encoded for `protocol` exceeds `max` bytes.
fn too_large(msg: &Publish, protocol: hornet_codec::Protocol, max: u32) -> bool {
    if max == u32::MAX {
        return false;
    }
    // Without properties, by arithmetic: no copy of the message per
    // delivery (a fan-out asks this for every subscriber).
    if let Some(len) = crate::out::publish_len(msg, protocol, msg.qos != QoS::AtMostOnce) {
        return len > max as usize;
    }
    let mut probe = msg.clone();
    if probe.qos != QoS::AtMostOnce {
        probe.packet_id = hornet_codec::PacketId::new(1);
    }
    Packet::Publish(probe)
        .encoded_len(protocol)
        .map_or(true, |n| n > max as usize)
}

/// Topic names as stored keys.
#[allow(dead_code)]
pub(crate) type Topic = ByteString;
