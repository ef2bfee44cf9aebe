//! Time-driven work: the CONNECT deadline, keep-alive (1.5 times the
//! interval, [MQTT-3.1.2-24]), session expiry, delayed wills
//! ([MQTT-3.1.3-9]), delayed publish (`$delayed/`) and the `$SYS`
//! cadence.
//!
//! Deadlines sit in binary heaps and are checked lazily: activity only
//! updates `last_seen`, and a popped deadline that turns out to be stale is
//! pushed back at its real time. A tick therefore costs the number of
//! deadlines that passed, not the number of connections. Keep-alive
//! deadlines are served on a one-second grid, all those of one second in
//! one tick, and a connection past CONNECT leaves no connect-timeout
//! wake-up behind (`connections`): an idle broker wakes at most once a
//! second while keep-alive deadlines fall, and not at all between them.

use std::time::Instant;

use hornet_codec::{Disconnect, Publish, ReasonCode};

use crate::broker::Broker;

impl Broker {
    /// Time passed: enforce deadlines and publish `$SYS` when due.
    pub fn tick(&mut self, now: Instant) {
        self.now = now;
        while let Some(id) = self.conns.next_overdue(now) {
            if self.is_taking_over(id) {
                // The shell did not answer in time: take over anyway.
                self.resume_takeover(now, id);
                continue;
            }
            if self.move_overdue(now, id) {
                continue;
            }
            let conn = self.conns.get(&id).expect("overdue connections are live");
            match conn.state.connect_deadline() {
                Some(_) => {
                    self.stats.connect_timeouts += 1;
                    tracing::info!(
                        "Connection from {} on port {} sent no CONNECT within {:?}; closing it.",
                        conn.peer,
                        conn.listener_port,
                        self.settings.connect_timeout
                    );
                    self.hints
                        .give(crate::hints::Hint::ConnectTimeout, &self.settings);
                    self.conns.remove(&id);
                    self.out.close(id);
                }
                None => {
                    tracing::info!(
                        "Client {} has exceeded timeout, disconnecting.",
                        conn.name()
                    );
                    if conn.protocol.is_v5() {
                        let conn = self.conns.get_mut(&id).expect("exists");
                        let packet = Disconnect::new(ReasonCode::KeepAliveTimeout).into();
                        self.out.send(id, conn, &mut self.stats, packet);
                    }
                    self.end_connection(now, id, true);
                }
            }
        }
        while let Some(key) = self.sessions.next_expired(now) {
            self.remove_session(key);
        }
        while let Some(key) = self.delayed_wills.next_due(now) {
            self.publish_delayed_will(key);
        }
        self.publish_due_delayed(now);
        self.publish_due_cluster_wills(now);
        self.expire_tombstones(now);
        self.acks_tick(now);
        self.limits.tick(now, self.settings.flapping_window);
        let figures = crate::sys::Figures {
            connected: self.conns.active(),
            sessions: self.sessions.len(),
            subscriptions: self.subscription_count(),
            retained: self.retained.len(),
        };
        if self.cluster.is_some() {
            let values = self.cluster_sys_values();
            self.sys.set_cluster_values(values);
        }
        for (suffix, value) in self.sys.tick(now, &self.settings, &self.stats, figures) {
            let mut publish = Publish::new(format!("$SYS/broker/{suffix}"), value);
            publish.retain = true;
            self.accept_publish(now, publish, None);
        }
    }

    /// When the broker next needs a [`Broker::tick`]: the earliest pending
    /// deadline, or `None` when nothing is pending (an idle broker without
    /// `$SYS` needs no tick at all). The shell arms one timer at this
    /// instant and asks again after every input; a deadline may turn out
    /// stale (keep-alive renewed since), and the tick then re-arms it.
    pub fn next_deadline(&self) -> Option<Instant> {
        let conn = self.conns.next_deadline();
        let session = self.sessions.next_expiry();
        let will = self.delayed_wills.next_deadline();
        let sys = self.sys.next_due(&self.settings);
        let flapping = self.limits.next_due(self.settings.flapping_window);
        let delayed = self.delayed.next_deadline();
        let cluster_will = self.cluster_wills_deadline();
        let tombstone = self.tombstones.next_deadline();
        let acks = self.acks_deadline();
        [
            conn,
            session,
            will,
            sys,
            flapping,
            delayed,
            cluster_will,
            tombstone,
            acks,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
