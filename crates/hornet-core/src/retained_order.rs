//! Retained writes in one order across a cluster: last write wins.
//!
//! Every retained set or delete made on this node (a client's retained
//! PUBLISH, a will, the admin API) gets a [`Stamp`] from the node's
//! hybrid logical clock (`stamp`) and travels to every other node with it
//! ([`Action::Retain`]). A node applies a write it receives — as a delta
//! or in the set a link starts with ([`Broker::cluster_retained`]) — only
//! if its stamp is newer than what the node holds for that topic: the
//! message's stamp, or the tombstone a delete left (`tombstones`). So
//! every node ends with the same winner whatever order the writes arrive
//! in, and a copy older than a delete never fills the topic again while
//! the tombstone is kept.
//!
//! A retained message that expires (Message Expiry Interval,
//! `retained_max_age`) is removed on each node by its own clock and
//! leaves a tombstone with its own stamp, so another node's copy of the
//! same write does not come back. Stamps and tombstones are persisted
//! with the retained messages (`records`), so they survive a restart.

use std::time::{Duration, Instant};

use bytestring::ByteString;
use hornet_codec::Publish;

use crate::broker::Broker;
use crate::cluster::Cluster;
use crate::out::Action;
use crate::persist::StoreOp;
use crate::retained::{RetainSource, Retained};
use crate::stamp::Stamp;

/// One retained write, as a link's initial set carries it: a message
/// (`Some`) or a delete still remembered (a tombstone).
#[derive(Debug, Clone, PartialEq)]
pub struct RetainedWrite {
    /// The topic.
    pub topic: ByteString,
    /// The write's place in the order.
    pub stamp: Stamp,
    /// The message (its Message Expiry Interval what is left of it), or
    /// `None` for a delete.
    pub message: Option<Publish>,
}

impl Broker {
    /// Keeps tombstones for `ttl` and at most `max` of them (a cluster
    /// node; call before [`Broker::restore`]).
    pub fn set_retained_tombstones(&mut self, ttl: Duration, max: usize) {
        self.tombstones.ttl = ttl;
        self.tombstones.max = max.max(1);
    }

    /// Deletes remembered by this node (tombstones).
    pub fn retained_tombstones(&self) -> usize {
        self.tombstones.len()
    }

    /// The stamp of `topic`'s retained message, or of its delete while
    /// its tombstone is kept.
    pub fn retained_stamp(&self, topic: &str) -> Option<Stamp> {
        match self.retained.get(topic) {
            Some(r) => Some(r.stamp.clone()),
            None => self.tombstones.get(topic).cloned(),
        }
    }

    /// Sets (`Some`) or deletes the retained message of `topic` here, as
    /// the newest write: stamped, stored, recorded and told to the other
    /// nodes.
    pub(crate) fn retain_here(
        &mut self,
        now: Instant,
        topic: &ByteString,
        msg: Option<Publish>,
        source: Option<Box<RetainSource>>,
    ) {
        let stamp = self.hlc.next(self.journal.unix_ms(now));
        if self.cluster.is_some() && Cluster::forwardable(topic) {
            self.out.cluster(Action::Retain {
                topic: topic.clone(),
                message: msg.clone().map(Box::new),
                stamp: stamp.clone(),
            });
        }
        self.apply_retained(now, topic, msg, stamp, source);
    }

    /// `node` set (`Some`) or deleted (`None`) the retained message of
    /// `topic` with `stamp` (a delta, or a link's initial set): applied
    /// only if newer than what this node holds for the topic.
    pub fn node_retained(
        &mut self,
        now: Instant,
        node: &str,
        topic: ByteString,
        message: Option<Publish>,
        stamp: Stamp,
    ) {
        self.now = now;
        if self.cluster.is_none() || !Cluster::forwardable(&topic) {
            return;
        }
        self.hlc.observe(&stamp);
        if let Some(held) = self.retained_stamp(&topic) {
            if held >= stamp {
                tracing::debug!(
                    "Cluster: retained '{topic}' from {node} is not newer than what this node \
                     holds ({stamp:?} <= {held:?}); ignored."
                );
                return;
            }
        }
        tracing::debug!("Cluster: retained '{topic}' from {node} ({stamp:?}).");
        let message = message.map(|mut msg| {
            msg.detach();
            msg.dup = false;
            msg.packet_id = None;
            msg.retain = true;
            msg
        });
        self.apply_retained(now, &topic, message, stamp, None);
    }

    /// Every retained write a new link starts with: the messages but
    /// `$SYS` (with what is left of their Message Expiry Interval; expired
    /// ones left out) and the tombstones, at `now`.
    pub fn cluster_retained(&self, now: Instant) -> Vec<RetainedWrite> {
        let mut all = Vec::new();
        for (topic, r) in self.retained.iter() {
            if !Cluster::forwardable(topic) || r.aged(now, self.settings.retained_max_age) {
                continue;
            }
            let mut msg = r.msg.clone();
            if crate::publish::set_remaining_expiry(&mut msg, r.expires(), now) {
                all.push(RetainedWrite {
                    topic: msg.topic.clone(),
                    stamp: r.stamp.clone(),
                    message: Some(msg),
                });
            }
        }
        for (topic, stamp) in self.tombstones.iter() {
            all.push(RetainedWrite {
                topic: topic.clone(),
                stamp: stamp.clone(),
                message: None,
            });
        }
        all
    }

    /// The retained message of `topic` expired here: removed, leaving (in
    /// a cluster) a tombstone with its own stamp, so another node's copy
    /// of the same write does not fill the topic again. Not told to the
    /// other nodes: each expires its copy by its own clock.
    pub(crate) fn retained_expired(&mut self, now: Instant, topic: &ByteString) {
        if let Some(r) = self.retained.remove(topic) {
            self.apply_retained(now, topic, None, r.stamp, None);
        }
    }

    /// Forgets the tombstones older than their time to live.
    pub(crate) fn expire_tombstones(&mut self, now: Instant) {
        for topic in self.tombstones.expire(now) {
            self.persist_retained(&topic, None);
        }
    }

    /// Stores the write (already ordered) and records it.
    fn apply_retained(
        &mut self,
        now: Instant,
        topic: &ByteString,
        msg: Option<Publish>,
        stamp: Stamp,
        source: Option<Box<RetainSource>>,
    ) {
        match msg {
            Some(msg) => {
                self.tombstones.remove(topic);
                self.persist_retained(topic, Some((&msg, &stamp)));
                let retained = Retained {
                    msg,
                    stored: now,
                    source,
                    stamp,
                };
                self.retained.insert(topic, retained);
            }
            None => {
                self.retained.remove(topic);
                if self.cluster.is_none() || !Cluster::forwardable(topic) {
                    self.persist_retained(topic, None);
                    return;
                }
                self.persist_tombstone(topic, &stamp);
                for forgotten in self.tombstones.insert(topic.clone(), stamp, now) {
                    self.persist_retained(&forgotten, None);
                }
            }
        }
    }

    /// Records the tombstone of `topic`.
    fn persist_tombstone(&mut self, topic: &ByteString, stamp: &Stamp) {
        if self.journal.enabled() && !topic.starts_with('$') {
            self.journal.push(StoreOp::RetainTombstone {
                topic: topic.clone(),
                stamp: stamp.clone(),
            });
        }
    }
}
