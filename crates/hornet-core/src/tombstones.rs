//! Tombstones: the deletes of retained messages a cluster node remembers.
//!
//! A deleted (or expired) retained topic keeps the [`Stamp`] of its
//! delete for a while, so a copy of the old message arriving later (a
//! link's initial set after a partition heals, a delta delayed in a
//! queue) is older than the delete and is not applied: the delete is not
//! undone. A tombstone is forgotten after `ttl` (from when this node
//! learnt it; default 24 h) or when more than `max` are held (the oldest
//! first); a copy older than a forgotten delete could fill the topic
//! again.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytestring::ByteString;

use crate::stamp::Stamp;

/// How long a tombstone is kept by default (24 h).
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(24 * 3600);

/// How many tombstones are kept at most by default.
pub const TOMBSTONES_MAX: usize = 100_000;

/// The tombstones by topic, with the order they are forgotten in.
#[derive(Debug)]
pub(crate) struct Tombstones {
    by_topic: AHashMap<ByteString, (Stamp, Instant)>,
    /// Oldest first; an entry whose topic has a newer tombstone (or none)
    /// is stale and skipped.
    order: VecDeque<(Instant, ByteString, Stamp)>,
    pub(crate) ttl: Duration,
    pub(crate) max: usize,
}

impl Default for Tombstones {
    fn default() -> Self {
        Tombstones {
            by_topic: AHashMap::new(),
            order: VecDeque::new(),
            ttl: TOMBSTONE_TTL,
            max: TOMBSTONES_MAX,
        }
    }
}

impl Tombstones {
    /// The delete of `topic`, if remembered.
    pub(crate) fn get(&self, topic: &str) -> Option<&Stamp> {
        self.by_topic.get(topic).map(|(stamp, _)| stamp)
    }

    /// Remembers that `topic` was deleted with `stamp`, learnt at `at`.
    /// Returns the topics forgotten to stay within `max`.
    pub(crate) fn insert(
        &mut self,
        topic: ByteString,
        stamp: Stamp,
        at: Instant,
    ) -> Vec<ByteString> {
        self.order.push_back((at, topic.clone(), stamp.clone()));
        self.by_topic.insert(topic, (stamp, at));
        let mut forgotten = Vec::new();
        while self.by_topic.len() > self.max {
            match self.pop_oldest() {
                Some(topic) => forgotten.push(topic),
                None => break,
            }
        }
        self.compact();
        forgotten
    }

    /// `topic` holds a message again: its tombstone goes.
    pub(crate) fn remove(&mut self, topic: &str) -> bool {
        let removed = self.by_topic.remove(topic).is_some();
        self.compact();
        removed
    }

    /// Forgets the tombstones older than `ttl` at `now`; returns their topics.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<ByteString> {
        let mut forgotten = Vec::new();
        while let Some((at, _, _)) = self.order.front() {
            if *at + self.ttl > now {
                break;
            }
            let Some((at, topic, stamp)) = self.order.pop_front() else {
                break;
            };
            if self.is_live(&topic, &stamp, at) {
                self.by_topic.remove(&topic);
                forgotten.push(topic);
            }
        }
        forgotten
    }

    /// When [`Tombstones::expire`] next has something to do (perhaps
    /// nothing, for an entry made stale since).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.order.front().map(|(at, _, _)| *at + self.ttl)
    }

    /// Whether the entry (`topic`, `stamp`, `at`) of `order` is the
    /// topic's tombstone.
    fn is_live(&self, topic: &str, stamp: &Stamp, at: Instant) -> bool {
        self.by_topic
            .get(topic)
            .is_some_and(|(s, a)| s == stamp && *a == at)
    }

    /// Removes the oldest entry of `order`; returns its topic if it was
    /// the live tombstone of that topic.
    fn pop_oldest(&mut self) -> Option<ByteString> {
        while let Some((at, topic, stamp)) = self.order.pop_front() {
            if self.is_live(&topic, &stamp, at) {
                self.by_topic.remove(&topic);
                return Some(topic);
            }
        }
        None
    }

    /// Drops stale entries of `order` once they outnumber the live ones,
    /// so it stays within twice the tombstones held.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.by_topic.len() + 16 {
            let by_topic = &self.by_topic;
            self.order.retain(|(at, topic, stamp)| {
                by_topic
                    .get(topic)
                    .is_some_and(|(s, a)| s == stamp && a == at)
            });
        }
    }

    /// Every tombstone, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&ByteString, &Stamp)> {
        self.by_topic
            .iter()
            .map(|(topic, (stamp, _))| (topic, stamp))
    }

    /// Number held.
    pub(crate) fn len(&self) -> usize {
        self.by_topic.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(ms: u64) -> Stamp {
        Stamp {
            ms,
            counter: 0,
            node: "n".into(),
        }
    }

    #[test]
    fn tombstones_are_forgotten_after_their_ttl() {
        let t0 = Instant::now();
        let mut t = Tombstones {
            ttl: Duration::from_secs(10),
            ..Tombstones::default()
        };
        t.insert("a".into(), stamp(1), t0);
        t.insert("b".into(), stamp(2), t0 + Duration::from_secs(5));
        assert!(t.expire(t0 + Duration::from_secs(9)).is_empty());
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(t.expire(t0 + Duration::from_secs(10)), ["a"]);
        assert_eq!(t.get("b"), Some(&stamp(2)));
        assert_eq!(t.expire(t0 + Duration::from_secs(15)), ["b"]);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn a_renewed_tombstone_counts_from_its_renewal() {
        let t0 = Instant::now();
        let mut t = Tombstones {
            ttl: Duration::from_secs(10),
            ..Tombstones::default()
        };
        t.insert("a".into(), stamp(1), t0);
        t.insert("a".into(), stamp(2), t0 + Duration::from_secs(8));
        assert!(t.expire(t0 + Duration::from_secs(12)).is_empty());
        assert_eq!(t.get("a"), Some(&stamp(2)));
        assert!(t.remove("a"));
        assert!(t.expire(t0 + Duration::from_secs(60)).is_empty());
    }

    #[test]
    fn at_most_max_are_kept_oldest_forgotten_first() {
        let t0 = Instant::now();
        let mut t = Tombstones {
            max: 100,
            ..Tombstones::default()
        };
        let mut forgotten = Vec::new();
        for i in 0..1_000u64 {
            forgotten.extend(t.insert(format!("t/{i}").into(), stamp(i), t0));
        }
        assert_eq!(t.len(), 100);
        assert_eq!(forgotten.len(), 900);
        assert_eq!(forgotten[0], "t/0");
        assert!(t.get("t/999").is_some() && t.get("t/899").is_none());
        assert!(t.order.len() <= 2 * t.len() + 16);
    }
}
