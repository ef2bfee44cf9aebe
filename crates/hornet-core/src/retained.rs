//! The retained messages: at most one per topic name, searchable by topic
//! filter.
//!
//! Owns [`RetainedStore`], a trie with one node per topic level. A node
//! holds its children by level and, if a message is retained on the topic
//! name that ends there, that full name with the message. Searching with a
//! filter walks only what the filter can match: a literal level follows
//! one child, `+` every child of its level, `#` the whole subtree below.
//! At the root a leading `+` or `#` skips the `$` topics ([MQTT-4.7.2-1]).
//!
//! `Retained` is what the broker keeps per topic: the message and when
//! it was stored, with the two rules that end it (its Message Expiry
//! Interval and `retained_max_age`).
//!
//! Deleting a retained message (a retained PUBLISH with an empty payload,
//! [MQTT-3.3.1-6]) prunes the nodes it leaves empty. Every walk is
//! iterative, so deep topic names cannot overflow the stack.

use std::fmt;
use std::str::Split;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use hornet_codec::Publish;

use crate::stamp::Stamp;

/// One topic level.
struct Node<M> {
    children: AHashMap<Box<str>, Node<M>>,
    /// The message retained on the topic name ending here, with that name.
    message: Option<(Box<str>, M)>,
}

impl<M> Default for Node<M> {
    fn default() -> Self {
        Node {
            children: AHashMap::new(),
            message: None,
        }
    }
}

impl<M> Node<M> {
    /// No message here and exactly `children` children.
    fn is_prunable(&self, children: usize) -> bool {
        self.message.is_none() && self.children.len() == children
    }

    fn visit<'a>(&'a self, visit: &mut impl FnMut(&'a str, &'a M)) {
        if let Some((name, message)) = &self.message {
            visit(name, message);
        }
    }
}

impl<M> Drop for Node<M> {
    /// Drops the subtree without recursion.
    fn drop(&mut self) {
        if self.children.is_empty() {
            return;
        }
        let mut stack: Vec<Node<M>> = self.children.drain().map(|(_, child)| child).collect();
        while let Some(mut node) = stack.pop() {
            stack.extend(node.children.drain().map(|(_, child)| child));
        }
    }
}

/// The retained messages by topic name.
///
/// ```
/// use hornet_core::retained::RetainedStore;
///
/// let mut retained = RetainedStore::new();
/// retained.insert("sensors/kitchen/temp", 21);
/// retained.insert("sensors/hall/temp", 19);
/// retained.insert("$SYS/broker/uptime", 5);
/// let mut seen = Vec::new();
/// retained.for_each_match("+/+/temp", |name, value| seen.push((name.to_owned(), *value)));
/// seen.sort();
/// assert_eq!(seen, [("sensors/hall/temp".to_owned(), 19), ("sensors/kitchen/temp".to_owned(), 21)]);
/// ```
pub struct RetainedStore<M> {
    root: Node<M>,
    len: usize,
}

impl<M> Default for RetainedStore<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> fmt::Debug for RetainedStore<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetainedStore")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<M> RetainedStore<M> {
    /// An empty store.
    pub fn new() -> Self {
        RetainedStore {
            root: Node::default(),
            len: 0,
        }
    }

    /// Stores `msg` as the retained message of the topic name `topic`,
    /// returning the one it replaces.
    pub fn insert(&mut self, topic: &str, msg: M) -> Option<M> {
        let mut node = &mut self.root;
        for level in topic.split('/') {
            // Look up before inserting: no key allocation on an existing path.
            if !node.children.contains_key(level) {
                node.children.insert(level.into(), Node::default());
            }
            node = node
                .children
                .get_mut(level)
                .expect("the child was inserted above");
        }
        match &mut node.message {
            Some((_, old)) => Some(std::mem::replace(old, msg)),
            empty => {
                *empty = Some((topic.into(), msg));
                self.len += 1;
                None
            }
        }
    }

    /// Deletes the retained message of `topic` ([MQTT-3.3.1-6]: a retained
    /// PUBLISH with an empty payload), pruning nodes left empty.
    pub fn remove(&mut self, topic: &str) -> Option<M> {
        let mut node = &mut self.root;
        for level in topic.split('/') {
            node = node.children.get_mut(level)?;
        }
        let (_, message) = node.message.take()?;
        self.len -= 1;
        if node.is_prunable(0) {
            self.prune(topic);
        }
        Some(message)
    }

    /// Removes the chain of nodes at the end of `topic` that hold nothing
    /// but the next node of the chain (the last one holds nothing at all).
    fn prune(&mut self, topic: &str) {
        let depth = topic.split('/').count();
        let mut cut = None;
        let mut node = &self.root;
        for (i, level) in topic.split('/').enumerate() {
            let Some(child) = node.children.get(level) else {
                return;
            };
            node = child;
            if node.is_prunable(usize::from(i + 1 != depth)) {
                cut.get_or_insert(i);
            } else {
                cut = None;
            }
        }
        let Some(cut) = cut else { return };
        let mut levels = topic.split('/');
        let mut parent = &mut self.root;
        for level in levels.by_ref().take(cut) {
            let Some(child) = parent.children.get_mut(level) else {
                return;
            };
            parent = child;
        }
        if let Some(level) = levels.next() {
            parent.children.remove(level);
        }
    }

    /// The retained message of `topic`.
    pub fn get(&self, topic: &str) -> Option<&M> {
        let mut node = &self.root;
        for level in topic.split('/') {
            node = node.children.get(level)?;
        }
        node.message.as_ref().map(|(_, message)| message)
    }

    /// Calls `visit(topic_name, msg)` for every retained message whose
    /// topic name matches the (valid) `filter`, in no particular order.
    ///
    /// A filter starting with `+` or `#` does not match topic names
    /// starting with `$` ([MQTT-4.7.2-1]).
    pub fn for_each_match<'a>(&'a self, filter: &str, mut visit: impl FnMut(&'a str, &'a M)) {
        // Filter branches still to walk: a node and the filter levels after it.
        let mut pending: Vec<(&'a Node<M>, Split<'_, char>)> = Vec::new();
        // Subtrees below a `#`, all of whose messages match.
        let mut subtrees: Vec<&'a Node<M>> = Vec::new();
        let mut current = Some((&self.root, filter.split('/')));
        let mut at_root = true;
        while let Some((mut node, mut levels)) = current.take().or_else(|| pending.pop()) {
            loop {
                let Some(level) = levels.next() else {
                    node.visit(&mut visit);
                    break;
                };
                // [MQTT-4.7.2-1]: a leading wildcard skips `$` topics.
                let skip_dollar = std::mem::replace(&mut at_root, false);
                let children = node
                    .children
                    .iter()
                    .filter(move |(name, _)| !(skip_dollar && name.starts_with('$')))
                    .map(|(_, child)| child);
                match level {
                    "#" => {
                        // `a/#` matches `a` too.
                        node.visit(&mut visit);
                        subtrees.extend(children);
                        while let Some(sub) = subtrees.pop() {
                            sub.visit(&mut visit);
                            subtrees.extend(sub.children.values());
                        }
                        break;
                    }
                    "+" => {
                        pending.extend(children.map(|child| (child, levels.clone())));
                        break;
                    }
                    literal => match node.children.get(literal) {
                        Some(child) => node = child,
                        None => break,
                    },
                }
            }
        }
    }

    /// Number of retained messages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no message is retained.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every retained message with its topic name, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &M)> {
        let mut stack = vec![&self.root];
        std::iter::from_fn(move || {
            while let Some(node) = stack.pop() {
                stack.extend(node.children.values());
                if let Some((name, message)) = &node.message {
                    return Some((&**name, message));
                }
            }
            None
        })
    }
}

/// A retained message with the instant it was stored, for its Message
/// Expiry Interval and `retained_max_age`. Reads as the message.
#[derive(Debug, Clone)]
pub(crate) struct Retained {
    pub(crate) msg: Publish,
    pub(crate) stored: Instant,
    /// Who published it, for `check_retain_source` (`retain_source.rs`).
    pub(crate) source: Option<Box<RetainSource>>,
    /// Its place in the order of retained writes (`retained_order`).
    pub(crate) stamp: Stamp,
}

/// Who published a retained message (`check_retain_source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RetainSource {
    pub(crate) client_id: Box<str>,
    pub(crate) username: Option<Box<str>>,
}

impl std::ops::Deref for Retained {
    type Target = Publish;

    fn deref(&self) -> &Publish {
        &self.msg
    }
}

impl Retained {
    /// When its Message Expiry Interval ends, counted from when it was
    /// stored ([MQTT-3.3.2-5]).
    pub(crate) fn expires(&self) -> Option<Instant> {
        self.msg
            .properties
            .message_expiry_interval()
            .map(|secs| self.stored + Duration::from_secs(u64::from(secs)))
    }

    /// Whether it is older than `max_age` (`retained_max_age`) at `now`.
    pub(crate) fn aged(&self, now: Instant, max_age: Option<Duration>) -> bool {
        max_age.is_some_and(|max| self.stored + max <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(topics: &[&'static str]) -> RetainedStore<&'static str> {
        let mut s = RetainedStore::new();
        for &t in topics {
            assert_eq!(s.insert(t, t), None);
        }
        s
    }

    fn matched(s: &RetainedStore<&'static str>, filter: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        s.for_each_match(filter, |name, msg| {
            assert_eq!(name, *msg);
            out.push(*msg);
        });
        out.sort();
        out
    }

    const TOPICS: &[&str] = &[
        "sport",
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport/tennis/player1/score/wimbledon",
        "sport/tennis/player2",
        "/finance",
        "a//b",
        "$SYS/broker/uptime",
        "$SYS/monitor/Clients",
        "$SYS",
    ];

    /// §4.7.1.2: `#` matches the parent level and every level below.
    #[test]
    fn mqtt_4_7_1_2_multi_level_wildcard() {
        let s = store(TOPICS);
        assert_eq!(
            matched(&s, "sport/tennis/player1/#"),
            [
                "sport/tennis/player1",
                "sport/tennis/player1/ranking",
                "sport/tennis/player1/score/wimbledon"
            ]
        );
        assert_eq!(matched(&s, "sport/#").len(), 5);
        assert_eq!(matched(&s, "/#"), ["/finance"]);
        assert_eq!(matched(&s, "a/#"), ["a//b"]);
    }

    /// §4.7.1.3: `+` matches exactly one level, empty ones included.
    #[test]
    fn mqtt_4_7_1_3_single_level_wildcard() {
        let s = store(TOPICS);
        assert_eq!(
            matched(&s, "sport/tennis/+"),
            ["sport/tennis/player1", "sport/tennis/player2"]
        );
        assert!(matched(&s, "sport/+").is_empty());
        assert_eq!(matched(&s, "+"), ["sport"]);
        assert_eq!(matched(&s, "+/+"), ["/finance"]);
        assert_eq!(matched(&s, "/+"), ["/finance"]);
        assert_eq!(matched(&s, "a/+/b"), ["a//b"]);
        assert_eq!(
            matched(&s, "+/+/+"),
            ["a//b", "sport/tennis/player1", "sport/tennis/player2"]
        );
    }

    /// [MQTT-4.7.2-1] a leading wildcard does not match `$` topics; `$SYS/#` does.
    #[test]
    fn mqtt_4_7_2_1_dollar_topics() {
        let s = store(TOPICS);
        let all = matched(&s, "#");
        assert_eq!(all.len(), 7);
        assert!(all.iter().all(|t| !t.starts_with('$')));
        assert!(!matched(&s, "+").contains(&"$SYS"));
        assert!(matched(&s, "+/monitor/Clients").is_empty());
        assert_eq!(
            matched(&s, "$SYS/#"),
            ["$SYS", "$SYS/broker/uptime", "$SYS/monitor/Clients"]
        );
        assert_eq!(matched(&s, "$SYS/broker/uptime"), ["$SYS/broker/uptime"]);
        assert_eq!(matched(&s, "$SYS/+/Clients"), ["$SYS/monitor/Clients"]);
    }

    #[test]
    fn literal_filters_match_equal_names_only() {
        let s = store(TOPICS);
        assert_eq!(
            matched(&s, "sport/tennis/player1"),
            ["sport/tennis/player1"]
        );
        assert!(matched(&s, "sport/tennis").is_empty());
        assert!(matched(&s, "nothing/here").is_empty());
        assert_eq!(s.get("sport/tennis/player2"), Some(&"sport/tennis/player2"));
        assert_eq!(s.get("sport/tennis"), None);
    }

    /// A new retained message on a topic replaces the old one ([MQTT-3.3.1-5]).
    #[test]
    fn mqtt_3_3_1_5_insert_replaces() {
        let mut s = RetainedStore::new();
        assert_eq!(s.insert("a/b", 1), None);
        assert_eq!(s.insert("a/b", 2), Some(1));
        assert_eq!(s.len(), 1);
        assert_eq!(s.get("a/b"), Some(&2));
        let all: Vec<_> = s.iter().collect();
        assert_eq!(all, [("a/b", &2)]);
    }

    /// [MQTT-3.3.1-6] an empty retained payload deletes; nodes are pruned.
    #[test]
    fn mqtt_3_3_1_6_remove_prunes() {
        let mut s = RetainedStore::new();
        let topics: Vec<String> = (0..10_000)
            .map(|i| match i % 3 {
                0 => format!("a/{i}/b"),
                1 => format!("/{i}//"),
                _ => format!("$SYS/{}/{i}", i % 7),
            })
            .collect();
        for (i, t) in topics.iter().enumerate() {
            assert_eq!(s.insert(t, i), None);
        }
        assert_eq!(s.len(), 10_000);
        assert_eq!(s.iter().count(), 10_000);
        for (i, t) in topics.iter().enumerate() {
            assert_eq!(s.remove(t), Some(i));
            assert_eq!(s.remove(t), None);
        }
        assert!(s.is_empty());
        assert!(s.root.children.is_empty());
    }

    #[test]
    fn remove_keeps_other_messages() {
        let mut s = store(TOPICS);
        assert_eq!(
            s.remove("sport/tennis/player1"),
            Some("sport/tennis/player1")
        );
        assert_eq!(s.remove("sport/tennis/player1"), None);
        assert_eq!(s.remove("sport/tennis"), None);
        assert_eq!(s.remove("nope"), None);
        assert_eq!(
            matched(&s, "sport/tennis/player1/#"),
            [
                "sport/tennis/player1/ranking",
                "sport/tennis/player1/score/wimbledon"
            ]
        );
        assert_eq!(
            s.remove("sport/tennis/player1/score/wimbledon"),
            Some("sport/tennis/player1/score/wimbledon")
        );
        assert!(
            s.root.children["sport"].children["tennis"].children["player1"]
                .children
                .get("score")
                .is_none()
        );
        assert_eq!(s.len(), TOPICS.len() - 2);
        let mut all: Vec<_> = s.iter().map(|(name, _)| name).collect();
        all.sort();
        let mut expected: Vec<_> = TOPICS
            .iter()
            .copied()
            .filter(|t| {
                *t != "sport/tennis/player1" && *t != "sport/tennis/player1/score/wimbledon"
            })
            .collect();
        expected.sort();
        assert_eq!(all, expected);
    }

    /// Deep topic names do not overflow the stack.
    #[test]
    fn deep_topics_do_not_recurse() {
        let deep = "/".repeat(65_534);
        let mut s = RetainedStore::new();
        s.insert(&deep, ());
        assert_eq!(s.iter().count(), 1);
        let mut n = 0;
        s.for_each_match("#", |_, _| n += 1);
        s.for_each_match(&format!("{deep}/#"), |_, _| n += 1);
        assert_eq!(n, 2);
        drop(s);
    }
}
