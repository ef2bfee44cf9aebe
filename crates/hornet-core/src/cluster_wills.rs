//! Cluster: wills whose Will Delay Interval runs ([MQTT-3.1.3-9]) survive
//! the death of their node (`docs/cluster.md`).
//!
//! ```text
//! node A: client c's connection ends abnormally, its will delayed d s
//!         (the session lives on) -> Action::Will { c, will, due_in: d }
//!         (d: the delay, or the session's expiry if sooner)
//! others: hold the copy, due at now + d (their own clock: only the time
//!         left crosses, never an instant)
//! node A: the delay ends (published there), c comes back (resumed, not
//!         sent), the session ends (published), or the session moves to
//!         the node c reconnected to (not sent) -> Will None: copies dropped
//! A dies: the election winner (`dead_node_wills`) publishes the wills due
//!         already at once and keeps the others (PendingWills) until due
//!         -> published then, as A would have, unless before that
//!         - etcd's watch says c was claimed again by A (A came back and c
//!           resumed its session there): not sent [MQTT-3.1.3-9]
//!         - c was claimed by another node (`orphan_sessions = "fresh"`: a
//!           new session, so the old one ended): published at once
//!         - A is alive again (restarted; its store has the will if it
//!           is durable, and A publishes it): dropped here
//! ```
//!
//! The losers of the election keep standby copies of the delayed wills
//! (not of the connected clients' wills, which the winner publishes at
//! once). The winner tells every node when it published one (`Will` with
//! no will and `due_in` zero); a standby copy goes then, or when its node
//! comes back or its client is claimed on it again. When a node dies,
//! every survivor holding standby copies runs the election for their dead
//! node again: the key of the first election was under the winner's lease,
//! so it is gone exactly when the winner died, and one of the survivors
//! wins the wills the winner had not published yet and publishes them when
//! due (at once if they are). A winner that dies between publishing a
//! will and its notice reaching the others has it published twice (at
//! least once). A winner whose own lease expired (paused, cut off) turns
//! its wills into standby copies (`cluster_lease_expired`): the others
//! elected again, and so does it once it has joined again.
//! The data is `pending_wills`'.

use std::time::{Duration, Instant};

use bytestring::ByteString;
use hornet_codec::{LastWill, Publish};

use crate::broker::Broker;
use crate::out::Action;
use crate::session::NEVER_EXPIRES;

impl Broker {
    /// This node's client `client_id` disconnected and its `will` waits
    /// `delay` seconds (its session `expiry` seconds): the other nodes
    /// hold it until then, so it is published if this node dies first.
    pub(crate) fn cluster_will_delayed(
        &mut self,
        client_id: &ByteString,
        will: &LastWill,
        delay: u32,
        expiry: u32,
    ) {
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        let secs = if expiry == NEVER_EXPIRES {
            delay
        } else {
            delay.min(expiry)
        };
        c.note_own_will(client_id, true);
        self.out.cluster(Action::Will {
            client_id: client_id.clone(),
            will: Some(Box::new(crate::ending::will_message(will.clone()))),
            due_in: Some(Duration::from_secs(u64::from(secs))),
        });
    }

    /// Dead `node`'s clients' `wills`, which this node won: those due are
    /// published now, the others when due.
    pub(crate) fn publish_orphaned_wills(
        &mut self,
        now: Instant,
        node: &str,
        wills: Vec<(ByteString, Publish, Option<Instant>)>,
    ) {
        let mut later = 0;
        for (client_id, will, due) in wills {
            match due {
                Some(at) if at > now => {
                    later += 1;
                    let c = self.cluster.as_deref_mut().expect("caller checked");
                    c.pending_wills
                        .hold(client_id, ByteString::from(node), at, will);
                }
                Some(_) => {
                    self.accept_publish(now, will, None);
                    self.inherited_will_published(client_id);
                }
                None => {
                    self.accept_publish(now, will, None);
                }
            }
        }
        if later > 0 {
            tracing::info!(
                "Cluster: {later} wills of dead node {node}'s clients wait for their Will Delay \
                 Interval here."
            );
        }
    }

    /// Dead `node`'s clients' delayed `wills`, which another survivor won:
    /// kept as standby copies (see the module doc); the connected
    /// clients' wills, which the winner publishes at once, are dropped.
    pub(crate) fn keep_standby_wills(
        &mut self,
        now: Instant,
        node: &str,
        wills: Vec<(ByteString, Publish, Option<Instant>)>,
    ) {
        let c = self.cluster.as_deref_mut().expect("caller checked");
        let mut kept = 0;
        for (client_id, will, due) in wills {
            if let Some(at) = due {
                c.pending_wills
                    .hold_standby(client_id, ByteString::from(node), at.max(now), will);
                kept += 1;
            }
        }
        if kept > 0 {
            tracing::info!(
                "Cluster: {kept} delayed wills of dead node {node}'s clients are kept here as \
                 standby copies, in case the node that publishes them dies too."
            );
        }
    }

    /// This node published a will of a dead node's client whose delay
    /// ran: the other nodes drop their standby copies.
    fn inherited_will_published(&mut self, client_id: ByteString) {
        self.out.cluster(Action::Will {
            client_id,
            will: None,
            due_in: Some(Duration::ZERO),
        });
    }

    /// The tick: publishes the dead nodes' clients' wills that are due.
    pub(crate) fn publish_due_cluster_wills(&mut self, now: Instant) {
        while let Some((client_id, will)) = self
            .cluster
            .as_deref_mut()
            .and_then(|c| c.pending_wills.next_due(now))
        {
            self.accept_publish(now, will, None);
            self.inherited_will_published(client_id);
        }
    }

    /// The dead nodes whose clients' delayed wills this node holds as
    /// standby copies: when a node dies, the shell runs their election
    /// again (the one that died may have been their winner) and reports a
    /// win with [`Broker::standby_wills_won`].
    pub fn cluster_standby_will_nodes(&self) -> Vec<String> {
        self.cluster.as_deref().map_or_else(Vec::new, |c| {
            c.pending_wills
                .standby_nodes()
                .iter()
                .map(|n| n.to_string())
                .collect()
        })
    }

    /// This node won dead `node`'s clients' wills in an election run again
    /// (their first winner died, or this node's own lease expired): the
    /// standby copies become this node's to publish, at once if due.
    /// Returns how many.
    pub fn standby_wills_won(&mut self, now: Instant, node: &str) -> usize {
        self.now = now;
        let Some(c) = self.cluster.as_deref_mut() else {
            return 0;
        };
        let wills = c.pending_wills.take_standby_of(node);
        let n = wills.len();
        if n > 0 {
            tracing::info!(
                "Cluster: this node won the election again for the {n} delayed wills of dead \
                 node {node}'s clients (the node that was to publish them is gone); it publishes \
                 them when due."
            );
            let wills = wills
                .into_iter()
                .map(|(client, will, due)| (client, will, Some(due)))
                .collect();
            self.publish_orphaned_wills(now, node, wills);
        }
        n
    }

    /// Another node published the delayed will of dead node's client
    /// `client_id`: the standby copy here goes.
    pub(crate) fn inherited_will_gone(&mut self, client_id: &str) {
        if let Some(c) = self.cluster.as_deref_mut() {
            c.pending_wills.take_standby(client_id);
        }
    }

    /// When the next dead node's client's will is due.
    pub(crate) fn cluster_wills_deadline(&self) -> Option<Instant> {
        self.cluster.as_deref()?.pending_wills.next_deadline()
    }

    /// etcd's watch: `node` claimed `client_id`. A will of that client
    /// waiting here for its delay is not sent if the client resumed its
    /// session on the node it came from [MQTT-3.1.3-9], and is published
    /// now if another node gave it a new session (the old one ended).
    pub(crate) fn cluster_will_claimed(&mut self, now: Instant, client_id: &str, node: &str) {
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        if let Some((_, from, will)) = c.pending_wills.take_standby(client_id) {
            // The node that publishes it sees the same claim: back on its
            // node, nobody sends it; claimed elsewhere, it is published at
            // once there, and this copy waits for that (or for an election
            // again, should that node be dead).
            if *from != *node {
                c.pending_wills
                    .hold_standby(ByteString::from(client_id), from, now, will);
            }
        }
        let Some((from, will)) = c.pending_wills.take(client_id) else {
            return;
        };
        if *from == *node {
            tracing::info!(
                "Cluster: client {client_id} is back on node {node}; its delayed will is not \
                 sent."
            );
        } else {
            tracing::info!(
                "Cluster: client {client_id} of dead node {from} has a new session on node \
                 {node}; its old session ended, so its delayed will is published now."
            );
            self.accept_publish(now, will, None);
            self.inherited_will_published(ByteString::from(client_id));
        }
    }

    /// `node` is alive again: the wills of its clients waiting here are
    /// its own again (restored from its store, if durable).
    pub(crate) fn cluster_wills_node_back(&mut self, node: &str) {
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        let dropped = c.pending_wills.drop_node(node);
        if dropped > 0 {
            tracing::info!(
                "Cluster: node {node} is back; the {dropped} delayed wills of its clients held \
                 here are its own again (dropped here)."
            );
        }
    }

    /// Delayed wills of dead nodes' clients this node will publish.
    pub fn cluster_pending_wills(&self) -> usize {
        self.cluster.as_deref().map_or(0, |c| c.pending_wills.len())
    }

    /// Standby copies of delayed wills of dead nodes' clients that another
    /// node publishes.
    pub fn cluster_standby_wills(&self) -> usize {
        self.cluster
            .as_deref()
            .map_or(0, |c| c.pending_wills.standby_len())
    }
}
