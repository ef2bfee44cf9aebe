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
//! The losers of the election drop their copies; if the winner dies
//! before a will is due, that will is lost (it lived on one survivor).
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
                _ => {
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

    /// The tick: publishes the dead nodes' clients' wills that are due.
    pub(crate) fn publish_due_cluster_wills(&mut self, now: Instant) {
        while let Some(will) = self
            .cluster
            .as_deref_mut()
            .and_then(|c| c.pending_wills.next_due(now))
        {
            self.accept_publish(now, will, None);
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
}
