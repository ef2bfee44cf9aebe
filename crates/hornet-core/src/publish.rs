//! PUBLISH in both directions: the inbound QoS flows, retained messages,
//! routing through the subscription index, and delivery into each
//! session's inflight window or queue.
//!
//! Inbound: QoS 1 is answered with PUBACK after routing; QoS 2 is routed
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
//! session queue, whose limits drop the newest message, count it, and log
//! once per episode.

use std::time::Instant;

use bytestring::ByteString;
use hornet_codec::{Ack, Packet, PacketId, Property, Publish, QoS, ReasonCode};

use crate::broker::{Broker, ConnId};
use crate::session::{Outbound, SessionKey};

/// How one routed message reaches one session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    qos: QoS,
    retain_as_published: bool,
    identifiers: Vec<u32>,
}

impl Broker {
    pub(crate) fn handle_publish(&mut self, now: Instant, id: ConnId, mut publish: Publish) {
        let conn = self.conns.get_mut(&id).expect("caller checked");
        self.stats.publish_received += 1;

        // [MQTT-3.3.4-6]: Subscription Identifiers are the server's to send.
        if publish
            .properties
            .subscription_identifiers()
            .next()
            .is_some()
        {
            let rule = "[MQTT-3.3.4-6] a PUBLISH from a client carries a Subscription Identifier";
            return self.protocol_violation(now, id, ReasonCode::ProtocolError, rule);
        }

        // Topic aliases (MQTT 5, §3.3.2.3.4).
        if let Some(alias) = publish.properties.topic_alias() {
            if alias == 0 || alias > self.settings.topic_alias_maximum {
                let rule = format!(
                    "[MQTT-3.3.2-9] Topic Alias {alias} is over the Topic Alias Maximum {}",
                    self.settings.topic_alias_maximum
                );
                return self.protocol_violation(now, id, ReasonCode::TopicAliasInvalid, &rule);
            }
            if publish.topic.is_empty() {
                match conn.aliases_in.get(&alias) {
                    Some(topic) => publish.topic = topic.clone(),
                    None => {
                        let rule = format!("Topic Alias {alias} was never set on this connection");
                        return self.protocol_violation(now, id, ReasonCode::ProtocolError, &rule);
                    }
                }
            } else {
                conn.aliases_in.insert(alias, publish.topic.clone());
            }
            publish
                .properties
                .retain(|p| !matches!(p, Property::TopicAlias(_)));
        }

        let session_key = conn.session;
        let packet_id = publish.packet_id;
        let denied = publish.topic.starts_with("$SYS");
        if denied {
            tracing::info!(
                "Denied PUBLISH from {} to '{}': clients may not publish to $SYS topics.",
                conn.name(),
                publish.topic
            );
        }
        // MQTT 5 acks say 0x10 when nobody was subscribed, as Mosquitto
        // does; 3.x acks carry no reason code.
        let v5 = self.conns[&id].protocol.is_v5();
        let outcome = |matched: bool| match (v5, denied, matched) {
            (false, _, _) | (true, false, true) => ReasonCode::Success,
            (true, true, _) => ReasonCode::NotAuthorized,
            (true, false, false) => ReasonCode::NoMatchingSubscribers,
        };
        match (publish.qos, packet_id) {
            (QoS::AtMostOnce, _) | (_, None) => {
                if !denied {
                    self.accept_publish(now, publish, session_key);
                }
            }
            (QoS::AtLeastOnce, Some(pid)) => {
                let matched = !denied && self.accept_publish(now, publish, session_key);
                let reason = outcome(matched);
                self.send_to(id, Packet::PubAck(Ack::with_reason(pid, reason)));
            }
            (QoS::ExactlyOnce, Some(pid)) => {
                let first = match session_key.and_then(|k| self.sessions.get_mut(&k)) {
                    Some(session) => !denied && session.incoming_qos2.insert(pid.get()),
                    None => !denied,
                };
                // A resent QoS 2 PUBLISH is acknowledged again, not routed again.
                let matched = if first {
                    self.accept_publish(now, publish, session_key)
                } else {
                    !denied
                };
                let reason = outcome(matched);
                self.send_to(id, Packet::PubRec(Ack::with_reason(pid, reason)));
            }
        }
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
        mut publish: Publish,
        origin: Option<SessionKey>,
    ) -> bool {
        publish.dup = false;
        publish.packet_id = None;
        if publish.retain {
            if publish.payload.is_empty() {
                // [MQTT-3.3.1-6]/[MQTT-3.3.1-10]: an empty retained message deletes.
                self.retained.remove(&publish.topic);
            } else {
                self.retained
                    .insert(&publish.topic.clone(), publish.clone());
            }
        }
        self.route(now, &publish, origin)
    }

    /// Delivers `publish` to every session with a matching subscription;
    /// returns whether there was one.
    fn route(&mut self, _now: Instant, publish: &Publish, origin: Option<SessionKey>) -> bool {
        let targets = &mut self.route_targets;
        targets.clear();
        self.subs.for_each_match(&publish.topic, |key, sub| {
            if sub.options.no_local && Some(key) == origin {
                return; // [MQTT-3.8.3-3] No Local
            }
            let t = targets.entry(key).or_default();
            t.qos = t.qos.max(sub.options.qos);
            t.retain_as_published |= sub.options.retain_as_published;
            if let Some(i) = sub.identifier {
                t.identifiers.push(i);
            }
        });
        if self.route_targets.is_empty() {
            return false;
        }
        // Reuse one vector across publishes: routing allocates nothing of
        // its own once warm.
        let mut targets = std::mem::take(&mut self.route_list);
        targets.extend(self.route_targets.drain());
        for (key, target) in targets.drain(..) {
            let mut msg = publish.clone();
            msg.qos = msg.qos.min(target.qos);
            // [MQTT-3.3.1-9]/[MQTT-3.3.1-12]: live messages go out with RETAIN 0
            // unless the subscription asked for Retain As Published.
            msg.retain = msg.retain && target.retain_as_published;
            for i in target.identifiers {
                msg.properties.push(Property::SubscriptionIdentifier(i));
            }
            self.deliver(key, msg);
        }
        self.route_list = targets;
        true
    }

    /// Hands one message to session `key`: sent now, queued, or dropped.
    pub(crate) fn deliver(&mut self, key: SessionKey, msg: Publish) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let Some(conn_id) = session.conn else {
            if msg.qos == QoS::AtMostOnce && !self.settings.queue_qos0_messages {
                return; // Mosquitto's default: QoS 0 is not kept for offline clients
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
        let packet = start_outbound(session, msg);
        self.out.send(conn_id, conn, &mut self.stats, packet);
    }

    fn enqueue(&mut self, key: SessionKey, msg: Publish) {
        let max_messages = self.settings.max_queued_messages;
        let max_bytes = self.settings.max_queued_bytes;
        let session = self.sessions.get_mut(&key).expect("caller checked");
        if session.enqueue(msg, max_messages, max_bytes) {
            return;
        }
        self.stats.publish_dropped += 1;
        if session.dropping.is_none() {
            session.dropping = Some(session.dropped - 1);
            tracing::warn!(
                "Outgoing messages are being dropped for client {}: its queue is full \
                 ({} messages, {} bytes; max_queued_messages {}, max_queued_bytes {}). \
                 The newest messages are dropped until it catches up.",
                session.client_id,
                session.queue.len(),
                session.queued_bytes,
                max_messages,
                if max_bytes == usize::MAX {
                    "unlimited".to_string()
                } else {
                    max_bytes.to_string()
                },
            );
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
                        continue;
                    }
                    let mut p = p.clone();
                    p.dup = true;
                    p.packet_id = Some(pid);
                    Packet::Publish(p)
                }
                Some((_, Outbound::Qos2Released)) => Packet::PubRel(Ack::new(pid)),
                None => continue,
            };
            self.out.send(conn_id, conn, &mut self.stats, packet);
        }
        while let Some(front) = session.queue.front() {
            if conn.unwritten >= budget
                || !session.pending_resend.is_empty()
                || (front.qos != QoS::AtMostOnce && session.inflight.len() >= window)
            {
                break;
            }
            let msg = session.dequeue().expect("front exists");
            if too_large(&msg, conn.protocol, conn.max_packet_size) {
                self.stats.publish_dropped += 1;
                continue;
            }
            let packet = start_outbound(session, msg);
            self.out.send(conn_id, conn, &mut self.stats, packet);
        }
        if let Some(since) = session.dropping {
            // The episode ends when the backlog is gone, so a client that
            // stays overloaded costs two log lines, not two per minute.
            if session.queue.is_empty() {
                tracing::warn!(
                    "Client {} is catching up: {} messages were dropped for it while its queue was full.",
                    session.client_id,
                    session.dropped - since
                );
                session.dropping = None;
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
        if let Some((_, Outbound::Qos1(_))) = session.inflight.get(&ack.packet_id.get()) {
            session.inflight.remove(&ack.packet_id.get());
            self.flush(key);
        }
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
                    self.flush(key);
                    return;
                }
                *state = Outbound::Qos2Released;
                self.send_to(id, Packet::PubRel(Ack::new(pid)));
            }
            Some((_, Outbound::Qos2Released)) => self.send_to(id, Packet::PubRel(Ack::new(pid))),
            _ => {
                let reason = ReasonCode::PacketIdentifierNotFound;
                self.send_to(id, Packet::PubRel(Ack::with_reason(pid, reason)));
            }
        }
    }

    pub(crate) fn handle_pubrel(&mut self, id: ConnId, ack: Ack) {
        let Some(key) = self.conns[&id].session else {
            return;
        };
        let session = self.sessions.get_mut(&key).expect("attached");
        let reason = if session.incoming_qos2.remove(&ack.packet_id.get()) {
            ReasonCode::Success
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        self.send_to(id, Packet::PubComp(Ack::with_reason(ack.packet_id, reason)));
    }

    pub(crate) fn handle_pubcomp(&mut self, id: ConnId, ack: Ack) {
        let Some(key) = self.conns[&id].session else {
            return;
        };
        let session = self.sessions.get_mut(&key).expect("attached");
        // Answered before it was resent: it is no longer waiting to go out.
        session.settle_resend(ack.packet_id.get());
        if let Some((_, Outbound::Qos2Released)) = session.inflight.get(&ack.packet_id.get()) {
            session.inflight.remove(&ack.packet_id.get());
            self.flush(key);
        }
    }

    /// Sends retained message `msg` to one subscription (on subscribe).
    pub(crate) fn deliver_retained(
        &mut self,
        key: SessionKey,
        mut msg: Publish,
        qos: QoS,
        identifier: Option<u32>,
    ) {
        msg.qos = msg.qos.min(qos);
        msg.retain = true; // [MQTT-3.3.1-8]
        if let Some(i) = identifier {
            msg.properties.push(Property::SubscriptionIdentifier(i));
        }
        self.deliver(key, msg);
    }
}

/// Assigns a packet id (QoS > 0), records the message as inflight and
/// returns the PUBLISH to send.
fn start_outbound(session: &mut crate::session::Session, mut msg: Publish) -> Packet {
    match msg.qos {
        QoS::AtMostOnce => {}
        QoS::AtLeastOnce => {
            let pid = session.allocate_packet_id();
            msg.packet_id = Some(pid);
            session.track(pid, Outbound::Qos1(msg.clone()));
        }
        QoS::ExactlyOnce => {
            let pid = session.allocate_packet_id();
            msg.packet_id = Some(pid);
            session.track(pid, Outbound::Qos2Sent(msg.clone()));
        }
    }
    Packet::Publish(msg)
}

/// Whether `msg` encoded for `protocol` exceeds `max` bytes.
fn too_large(msg: &Publish, protocol: hornet_codec::Protocol, max: u32) -> bool {
    if max == u32::MAX {
        return false;
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
