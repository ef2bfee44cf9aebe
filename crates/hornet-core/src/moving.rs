//! Cluster: a persistent session moves to the node whose claim took its
//! client id (the claim itself is `claiming`'s; `docs/cluster.md`).
//!
//! ```text
//! node B: CONNECT (persistent) -> claim won over live node A (revision r)
//!         -> the CONNECT keeps waiting, at most MOVE_WAIT
//! node A: etcd watch: B claimed at r -> takeover (0x8E), then
//!         Action::MoveSession { node: B, session (subscriptions,
//!         unacknowledged then queued messages, expiry), revision r }
//!         and the session is removed here
//! node B: node_session(A, session) for exactly revision r -> the session
//!         is made here, the CONNECT goes on: Session Present 1, the
//!         messages delivered (unacknowledged ones again, with new packet
//!         ids: at least once)
//!         no session within MOVE_WAIT -> the CONNECT goes on with a new
//!         session (Session Present 0); a session arriving later is merged
//!         into it while it holds that claim (messages delivered,
//!         subscriptions it lacks added: nothing lost); one for another
//!         revision, or once that session ended, is dropped (logged)
//! ```
//!
//! Messages of shared subscriptions are not moved: the leaving session
//! hands them to another member of the group, as on one node. QoS 2
//! messages whose PUBREL was already sent are done for the subscriber and
//! not moved. The inbound QoS 2 packet ids awaiting PUBREL move with the
//! session (a PUBREL on the new node gets PUBCOMP 0x00, a resent PUBLISH is
//! not delivered twice), and so does the `$local/` mark of a subscription
//! (read from what this node exports: a `$local/` one is not exported),
//! so it stays local on the new node.

use std::time::{Duration, Instant};

use bytestring::ByteString;

use crate::broker::{Broker, ConnId};
use crate::claims::{MovedSubscription, SessionMove};
use crate::cluster::Cluster;
use crate::exclusive::{self, Indexed};
use crate::out::Action;
use crate::session::{Outbound, Session, SessionKey, Subscription, NEVER_EXPIRES};

/// How long a CONNECT that took a client id from another live node waits
/// for its session before it goes on with a new one.
pub(crate) const MOVE_WAIT: Duration = Duration::from_secs(2);

impl Broker {
    /// `conn` won `client_id` at `revision` from live `node`: it waits for
    /// the session (at most [`MOVE_WAIT`]).
    pub(crate) fn await_session(
        &mut self,
        now: Instant,
        conn: ConnId,
        client_id: &ByteString,
        revision: u64,
        node: &str,
    ) {
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        c.claims.await_move(conn, client_id, revision);
        tracing::debug!(
            "Cluster: client {client_id} claimed from node {node}; waiting for its session."
        );
        let state = &mut self.conns.get_mut(&conn).expect("caller checked").state;
        if let Some(deadline) = state.claim_wait_until(now + MOVE_WAIT) {
            self.conns.watch_connect(deadline, conn);
        }
    }

    /// The tick found `id` overdue: if it waited for a session that did
    /// not come, its CONNECT goes on with a new one (returns `true`).
    pub(crate) fn move_overdue(&mut self, now: Instant, id: ConnId) -> bool {
        let Some(c) = self.cluster.as_deref_mut() else {
            return false;
        };
        if !c.claims.awaits_move(id) {
            return false;
        }
        c.claims.stop_waiting(id);
        let client_id = self
            .conns
            .get(&id)
            .and_then(|x| x.state.claiming())
            .map(|r| r.admission.client_id.clone())
            .unwrap_or_default();
        tracing::warn!(
            "Cluster: the session of client {client_id} did not arrive from its previous node \
             within {} s; it starts a new session here.",
            MOVE_WAIT.as_secs()
        );
        self.resume_claimed(now, id);
        true
    }

    /// Sends session `key`, which `node`'s claim at `revision` took, to
    /// that node.
    pub(crate) fn send_session(&mut self, key: SessionKey, node: &str, revision: u64) {
        let Some(session) = self.sessions.get_mut(&key) else {
            return;
        };
        let exclusive = self.settings.exclusive_subscriptions;
        let cluster = self.cluster.as_deref();
        let subscriptions = session
            .subscriptions
            .iter()
            .map(|(f, s)| MovedSubscription {
                filter: f.clone(),
                options: s.options,
                identifier: s.identifier,
                local: crate::shared::split(f).is_none()
                    && !matches!(exclusive::indexed(exclusive, f), Indexed::Exclusive(_))
                    && Cluster::exportable(f)
                    && !cluster.is_some_and(|c| c.exports(f, key)),
            })
            .collect();
        let mut inflight: Vec<(u64, u16, &Outbound)> = session
            .inflight
            .iter()
            .map(|(&pid, (order, out))| (*order, pid, out))
            .collect();
        inflight.sort_by_key(|&(order, _, _)| order);
        let mut messages = Vec::new();
        for (_, pid, out) in inflight {
            if session.shared_inflight.contains_key(&pid) {
                continue; // handed to another member of its group
            }
            if let Outbound::Qos1(p) | Outbound::Qos2Sent(p) = out {
                messages.push(p.clone());
            }
        }
        for queued in &session.queue {
            if queued.group().is_none() {
                messages.push(queued.msg.clone());
            }
        }
        for m in &mut messages {
            m.packet_id = None;
            m.dup = false;
        }
        let mut incoming_qos2: Vec<u16> = session.incoming_qos2.iter().copied().collect();
        incoming_qos2.sort_unstable();
        let moved = SessionMove {
            client_id: session.client_id.clone(),
            revision,
            expiry_interval: session.expiry_interval,
            subscriptions,
            messages,
            incoming_qos2,
        };
        tracing::info!(
            "Cluster: session of {} sent to node {node} ({} subscriptions, {} messages, {} \
             QoS 2 packet ids awaiting PUBREL).",
            moved.client_id,
            moved.subscriptions.len(),
            moved.messages.len(),
            moved.incoming_qos2.len()
        );
        self.out.cluster(Action::MoveSession {
            node: ByteString::from(node),
            session: Box::new(moved),
        });
    }

    /// A session `node` sent: made here when a CONNECT waits for exactly
    /// that claim, then the CONNECT goes on (Session Present 1).
    pub fn node_session(&mut self, now: Instant, node: &str, moved: SessionMove) {
        self.now = now;
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        let Some(conn) = c.claims.take_mover(&moved.client_id, moved.revision) else {
            if c.claims.is_claiming(&moved.client_id) {
                // It overtook etcd's answer to this node's claim (the old
                // node saw the claim in its watch first): kept until the
                // answer says which revision this node's claim got.
                tracing::debug!(
                    "Cluster: session of {} from node {node} (claim {}) arrived before the \
                     claim's answer; kept for it.",
                    moved.client_id,
                    moved.revision
                );
                c.claims.keep_early(moved);
                return;
            }
            let here = c.claims.owned(&moved.client_id);
            if here.is_some_and(|r| r >= moved.revision) {
                if let Some(key) = self.sessions.key_of(&moved.client_id) {
                    self.merge_late_session(key, node, moved);
                    return;
                }
            }
            tracing::warn!(
                "Cluster: session of client {} from node {node} (claim {}) arrived when no \
                 CONNECT waits for it and no session here holds that claim (it ended, or \
                 another node claimed the client id since); dropped with its {} messages.",
                moved.client_id,
                moved.revision,
                moved.messages.len()
            );
            return;
        };
        self.make_moved_session(now, conn, node, moved);
    }

    /// Makes the session `node` sent for the CONNECT of `conn`, which
    /// waits for it, and lets the CONNECT go on (Session Present 1).
    pub(crate) fn make_moved_session(
        &mut self,
        now: Instant,
        conn: ConnId,
        node: &str,
        moved: SessionMove,
    ) {
        let Some(ready) = self.conns.get(&conn).and_then(|x| x.state.claiming()) else {
            return;
        };
        let (protocol, username) = (ready.admission.connect.protocol, ready.username.clone());
        if let Some(old) = self.sessions.key_of(&moved.client_id) {
            self.remove_session(old);
        }
        let expiry = moved.expiry_interval.min(self.settings.max_session_expiry);
        let mut session = Session::new(moved.client_id.clone(), protocol, expiry);
        session.username = username;
        session.disconnected_at = Some(now);
        let key = self.sessions.create(session);
        if expiry != NEVER_EXPIRES {
            self.sessions
                .expire_at(now + Duration::from_secs(u64::from(expiry)), key);
        }
        let (subs, msgs) = (moved.subscriptions.len(), moved.messages.len());
        for m in moved.subscriptions {
            let sub = Subscription {
                options: m.options,
                identifier: m.identifier,
            };
            self.add_moved_subscription(key, m.filter, sub, m.local);
        }
        for msg in moved.messages {
            self.deliver(key, msg);
        }
        self.journal.touch(key);
        // The exchanges the client started on the old node go on here: a
        // PUBREL gets PUBCOMP 0x00, a resent PUBLISH is not delivered
        // again [MQTT-4.3.3-10] [MQTT-4.3.3-11].
        let session = self.sessions.get_mut(&key).expect("just made");
        session
            .incoming_qos2
            .extend(moved.incoming_qos2.iter().copied());
        for pid in moved.incoming_qos2 {
            self.persist_qos2_received(Some(key), pid);
        }
        tracing::info!(
            "Cluster: session of {} arrived from node {node} ({subs} subscriptions, {msgs} \
             messages).",
            moved.client_id
        );
        self.resume_claimed(now, conn);
    }

    /// A session `node` sent for a claim whose CONNECT stopped waiting
    /// ([`MOVE_WAIT`]) and went on with a new session, `key`, which still
    /// holds that claim (or a newer one of this node): nothing of it is
    /// lost. Its messages are delivered to `key` (queued if its client is
    /// away), its subscriptions that `key` does not have are added (the
    /// client's own, made since, win), and its inbound QoS 2 ids awaiting
    /// PUBREL are kept. The client was told Session Present 0, so the
    /// messages come unannounced: at least once, never lost.
    fn merge_late_session(&mut self, key: SessionKey, node: &str, moved: SessionMove) {
        let mut added = 0;
        for m in moved.subscriptions {
            if self.sessions[&key].subscriptions.contains_key(&m.filter) {
                continue;
            }
            let sub = Subscription {
                options: m.options,
                identifier: m.identifier,
            };
            self.add_moved_subscription(key, m.filter, sub, m.local);
            added += 1;
        }
        let msgs = moved.messages.len();
        for msg in moved.messages {
            self.deliver(key, msg);
        }
        let session = self.sessions.get_mut(&key).expect("caller checked");
        session
            .incoming_qos2
            .extend(moved.incoming_qos2.iter().copied());
        for pid in moved.incoming_qos2 {
            self.persist_qos2_received(Some(key), pid);
        }
        self.journal.touch(key);
        tracing::warn!(
            "Cluster: session of client {} from node {node} (claim {}) arrived after the \
             CONNECT stopped waiting for it ({} s) and started a new session; merged into \
             that session: {added} subscriptions added, {msgs} messages delivered.",
            moved.client_id,
            moved.revision,
            MOVE_WAIT.as_secs()
        );
    }

    /// One subscription of a moved session, into the indexes (and the
    /// routes this node exports).
    fn add_moved_subscription(
        &mut self,
        key: SessionKey,
        filter: ByteString,
        sub: Subscription,
        local: bool,
    ) {
        let client_id = self.sessions[&key].client_id.clone();
        match (
            crate::shared::split(&filter),
            exclusive::indexed(self.settings.exclusive_subscriptions, &filter),
        ) {
            (Some(shared), _) => {
                self.shared.subscribe(&shared, key, sub);
            }
            (None, Indexed::Exclusive(plain)) => {
                if self.exclusive.claim(&plain, key, &client_id).is_err() {
                    tracing::warn!(
                        "Cluster: moved session of {client_id}: the exclusive subscription \
                         {filter} is held here by another client; not kept."
                    );
                    return;
                }
                self.subs.insert(&plain, key, sub);
                self.cluster_subscribed(&plain, key, true);
            }
            (None, _) => {
                self.subs.insert(&filter, key, sub);
                // A `$local/` subscription stays this node's own.
                self.cluster_subscribed(&filter, key, !local);
            }
        }
        let session = self.sessions.get_mut(&key).expect("just made");
        self.local_marks.mark(key, &filter, local);
        session.subscriptions.insert(filter, sub);
    }
}
