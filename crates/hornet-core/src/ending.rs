//! How connections and sessions end, as the broker's rules: a connection
//! is forgotten (its will published, delayed or discarded, its session
//! detached), a session is removed (its subscriptions leave the index and
//! the shared groups, its exclusive claims end, its record the store), and the messages a leaving
//! member of a shared group had not acknowledged go to another member.

use std::time::{Duration, Instant};

use hornet_codec::{LastWill, Property, Publish};

use crate::broker::{Broker, ConnId};
use crate::session::SessionKey;

impl Broker {
    /// Forgets connection `id`: publishes its will when `abnormal`, detaches
    /// or ends its session, and asks the shell to close the socket.
    pub(crate) fn end_connection(&mut self, now: Instant, id: ConnId, abnormal: bool) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        self.out.close(id);
        self.backlog.forget(id);
        self.takeover_target_ended(id);
        if !conn.state.is_connected() {
            if let Some(c) = self.cluster.as_deref_mut() {
                c.claims.forget_conn(id);
            }
            return;
        }
        self.limits
            .note_ended(now, &conn.client_id, conn.opened_at, &self.settings);
        // Cluster: the will is handled here from now on (published,
        // delayed or discarded); the other nodes drop their copy.
        if let Some(c) = self.cluster.as_deref_mut() {
            c.client_stamps.ended(&conn.client_id, id);
            self.cluster_will_gone(&conn.client_id);
        }
        // However it ended, the crash-time will record is void: the will is
        // published, delayed (`WillSet`) or discarded below.
        if let (true, Some(key)) = (conn.will_recorded, conn.session) {
            self.persist_connected_will(key, None);
        }
        // Detach first: the will may match the client's own subscriptions,
        // and must then be queued for the session, not sent on a connection
        // that no longer exists.
        if let Some(key) = conn.session {
            self.detach_session(now, key, id);
        }
        if abnormal {
            // The rules may have changed since CONNECT (a reload).
            let mut conn = conn;
            let will = conn.will.take().map(|w| *w).filter(|will| {
                let verdict = self.authorize(
                    &conn.client_id,
                    conn.username.as_deref(),
                    &will.topic,
                    crate::authorize::Access::Write,
                );
                if let Err(why) = &verdict {
                    self.stats.acl_denied_publish += 1;
                    tracing::info!(
                        "Not publishing the will of {} to '{}': {why}.",
                        conn.name(),
                        will.topic
                    );
                    self.hints
                        .give(crate::hints::Hint::AclDenied, &self.settings);
                }
                verdict.is_ok()
            });
            if let Some(will) = will {
                // MQTT 5 §3.1.2.11.2 / [MQTT-3.1.3-9]: a Will Delay Interval
                // holds the will back while the session lives on; a
                // session that ended with the connection publishes it now.
                let delay = will.properties.will_delay_interval().unwrap_or(0);
                match conn.session {
                    Some(key) if delay > 0 && self.sessions.contains_key(&key) => {
                        let at = now + Duration::from_secs(u64::from(delay));
                        self.persist_will(key, delay, &will);
                        if self.cluster.is_some() {
                            // The others hold it until due, in case this
                            // node dies first (`cluster_wills`).
                            let expiry = self.sessions[&key].expiry_interval;
                            self.cluster_will_delayed(&conn.client_id, &will, delay, expiry);
                        }
                        self.delayed_wills.hold(key, at, will);
                    }
                    _ => self.publish_will(now, will),
                }
            }
        }
    }

    /// Publishes the delayed will of session `key`, if one is waiting.
    pub(crate) fn publish_delayed_will(&mut self, key: SessionKey) {
        if let Some((_, will)) = self.delayed_wills.remove(&key) {
            self.persist_will_cleared(key);
            self.delayed_will_gone(key);
            self.publish_will(self.now, will);
        }
    }

    /// Cluster: session `key`'s delayed will was published or cancelled
    /// here; the other nodes drop their copy.
    pub(crate) fn delayed_will_gone(&mut self, key: SessionKey) {
        if self.cluster.is_none() {
            return;
        }
        if let Some(client_id) = self.sessions.get(&key).map(|s| s.client_id.clone()) {
            self.cluster_will_gone(&client_id);
        }
    }

    /// Publishes a will message as if its client had sent it.
    pub(crate) fn publish_will(&mut self, now: Instant, will: LastWill) {
        self.accept_publish(now, will_message(will), None);
    }

    /// The connection of session `key` ended: keep the session (persistent)
    /// or forget it (clean, or expiry 0).
    fn detach_session(&mut self, now: Instant, key: SessionKey, conn: ConnId) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        if session.conn != Some(conn) {
            return; // taken over: the session belongs to the new connection
        }
        session.conn = None;
        session.disconnected_at = Some(now);
        if session.expiry_interval == 0 {
            self.remove_session(key);
            return;
        }
        if !self.settings.queue_qos0_messages {
            session.discard_queued_qos0();
        }
        // Its record now says since when it is offline (wall clock), so a
        // restart counts the expiry from there.
        if session.persisted {
            self.journal.touch(key);
        }
        if session.expiry_interval != crate::session::NEVER_EXPIRES {
            let at = now + Duration::from_secs(u64::from(session.expiry_interval));
            self.sessions.expire_at(at, key);
        }
        self.hand_over_shared(key, false);
    }

    /// Deletes a session and its subscriptions.
    pub(crate) fn remove_session(&mut self, key: SessionKey) {
        self.hand_over_shared(key, true);
        let Some(session) = self.sessions.remove(&key) else {
            return;
        };
        self.local_marks.forget(key);
        if self.cluster.is_some() {
            self.cluster_session_removed(&session.client_id);
            // Its delayed will, published below, is no copy's any more.
            self.cluster_will_gone(&session.client_id);
        }
        if session.persisted {
            self.journal
                .push(crate::persist::StoreOp::SessionRemoved { session: key });
        }
        for filter in session.subscriptions.keys() {
            match crate::shared::split(filter) {
                Some(name) => {
                    if self.shared.unsubscribe(&name, key) {
                        self.cluster_unsubscribed(filter, key);
                    }
                }
                None => {
                    match crate::exclusive::indexed(self.settings.exclusive_subscriptions, filter) {
                        crate::exclusive::Indexed::Exclusive(plain) => {
                            self.subs.remove(&plain, key);
                            self.exclusive.release(&plain, key);
                            // Exported as its plain filter (SUBSCRIBE),
                            // withdrawn with it.
                            self.cluster_unsubscribed(&plain, key);
                        }
                        _ => {
                            self.subs.remove(filter, key);
                            self.cluster_unsubscribed(filter, key);
                        }
                    }
                }
            }
        }
        if session.dropped > 0 {
            tracing::info!(
                "Session of {} ended; {} messages had been dropped for it over its life.",
                session.client_id,
                session.dropped
            );
        }
        // The session ended before its will's delay: the will goes now.
        self.publish_delayed_will(key);
    }

    /// Session `key` has left: its connection ended (`session_ended`
    /// false) or the session itself did. The messages it got through a
    /// shared subscription and has not acknowledged go to another member
    /// of their group (MQTT 5.0 §4.8.2 says SHOULD when the session ends;
    /// Hornet also does it when the connection ends, if another member is
    /// online, rather than hold them for a client that may never return).
    /// A message nobody else can take stays (or, when the session ended,
    /// is dropped and counted).
    pub(crate) fn hand_over_shared(&mut self, key: SessionKey, session_ended: bool) {
        let Some(session) = self.sessions.get(&key) else {
            return;
        };
        let client_id = session.client_id.clone();
        for group in session.shared_groups_pending() {
            let sessions = &self.sessions;
            let online = |k: SessionKey| sessions.get(&k).is_some_and(|s| s.conn.is_some());
            // Cluster: members of the group on other nodes count too.
            let elsewhere = self.cluster_group_elsewhere(group);
            if !session_ended
                && !self.shared.has_online_member(group, key, online)
                && elsewhere.is_none()
            {
                continue;
            }
            let mut settled = Vec::new();
            let messages = self
                .sessions
                .get_mut(&key)
                .expect("checked above")
                .take_shared(group, &mut settled);
            self.settle_taken(key, &settled);
            let (mut moved, mut lost) = (0usize, 0usize);
            for mut msg in messages {
                let sessions = &self.sessions;
                let online = |k: SessionKey| sessions.get(&k).is_some_and(|s| s.conn.is_some());
                let Some((to, sub)) = self.shared.pick(group, &msg.topic, "", Some(key), online)
                else {
                    match &elsewhere {
                        Some(name) if self.cluster_hand_over(name, &msg) => moved += 1,
                        _ => lost += 1,
                    }
                    continue;
                };
                msg.packet_id = None;
                msg.dup = false;
                msg.qos = msg.qos.min(sub.options.qos);
                msg.properties
                    .retain(|p| !matches!(p, Property::SubscriptionIdentifier(_)));
                if let Some(i) = sub.identifier {
                    msg.properties.push(Property::SubscriptionIdentifier(i));
                }
                self.deliver_in(to, msg, Some(group));
                moved += 1;
            }
            if lost > 0 {
                self.stats.publish_dropped += lost as u64;
            }
            tracing::info!(
                "Client {client_id} left {} with {} unacknowledged messages: {moved} handed to \
                 other members{}.",
                self.shared.describe(group),
                moved + lost,
                if lost > 0 {
                    format!(", {lost} dropped (no other member)")
                } else {
                    String::new()
                }
            );
        }
    }
}

/// The PUBLISH a will becomes (a PUBLISH carries no Will Delay Interval).
pub(crate) fn will_message(will: LastWill) -> Publish {
    let mut publish = Publish::new(will.topic, will.payload);
    publish.qos = will.qos;
    publish.retain = will.retain;
    publish.properties = will.properties;
    publish
        .properties
        .retain(|p| !matches!(p, Property::WillDelayInterval(_)));
    publish
}
