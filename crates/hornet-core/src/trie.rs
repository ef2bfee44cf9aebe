//! The subscription index: which session subscribed to which topic filter,
//! searchable by topic name without scanning every subscription.
//!
//! Owns [`SubscriptionTree`], a trie with one node per filter level (as in
//! FlashMQ's subscription store). A node has its literal children in a hash
//! map, a separate `+` child, the subscribers whose filter ends at the node
//! and the subscribers of `{node}/#`. Subscribers are hash maps keyed by
//! session, so subscribing and unsubscribing stay O(filter depth) even with
//! thousands of sessions on one filter. Matching a topic name walks only the
//! branches that can match: at each level the literal child and the `+`
//! child, collecting the `#` subscribers on the way.
//!
//! The [MQTT-4.7.2-1] rule (a filter whose first level is `+` or `#` does
//! not match a topic name starting with `$`) is enforced at the root: for a
//! `$` topic the root's `+` child and `#` subscribers are skipped.
//!
//! Filters are taken as already validated (`hornet_codec::topic`); a shared
//! subscription's `$share/{group}/` prefix is stripped by the caller. Every
//! walk is iterative, so a filter of 65,535 empty levels cannot overflow the
//! stack, not even when the tree is dropped.

use std::fmt;
use std::hash::Hash;
use std::str::Split;

use ahash::AHashMap;

/// One filter level.
struct Node<K, V> {
    /// Literal next levels.
    children: AHashMap<Box<str>, Node<K, V>>,
    /// The `+` next level.
    plus: Option<Box<Node<K, V>>>,
    /// Subscriptions whose filter ends at this node.
    exact: AHashMap<K, V>,
    /// Subscriptions to this node's filter followed by `/#` (`#` at the root).
    multi: AHashMap<K, V>,
}

impl<K, V> Default for Node<K, V> {
    fn default() -> Self {
        Node {
            children: AHashMap::new(),
            plus: None,
            exact: keyed(),
            multi: keyed(),
        }
    }
}

/// A map of subscribers by key, with fixed seeds: the keys are the
/// broker's own handles (nothing a client picks), and its iteration
/// order, which is the order routing serves them in, is then the same on
/// every run (the core stays deterministic end to end).
fn keyed<K, V>() -> AHashMap<K, V> {
    AHashMap::with_hasher(ahash::RandomState::with_seeds(5, 6, 7, 8))
}

impl<K, V> Node<K, V> {
    fn child(&self, level: &str) -> Option<&Node<K, V>> {
        if level == "+" {
            self.plus.as_deref()
        } else {
            self.children.get(level)
        }
    }

    fn child_mut(&mut self, level: &str) -> Option<&mut Node<K, V>> {
        if level == "+" {
            self.plus.as_deref_mut()
        } else {
            self.children.get_mut(level)
        }
    }

    fn child_or_insert(&mut self, level: &str) -> &mut Node<K, V> {
        if level == "+" {
            return self.plus.get_or_insert_with(Box::default);
        }
        // Look up before inserting: no key allocation on an existing path.
        if !self.children.contains_key(level) {
            self.children.insert(level.into(), Node::default());
        }
        self.children
            .get_mut(level)
            .expect("the child was inserted above")
    }

    fn remove_child(&mut self, level: &str) {
        if level == "+" {
            self.plus = None;
        } else {
            self.children.remove(level);
        }
    }

    fn child_count(&self) -> usize {
        self.children.len() + usize::from(self.plus.is_some())
    }

    /// No subscription here and at most `children` children.
    fn is_prunable(&self, children: usize) -> bool {
        self.exact.is_empty() && self.multi.is_empty() && self.child_count() == children
    }
}

impl<K, V> Drop for Node<K, V> {
    /// Drops the subtree without recursion (filters may be thousands of levels deep).
    fn drop(&mut self) {
        if self.child_count() == 0 {
            return;
        }
        let mut stack: Vec<Node<K, V>> = Vec::new();
        let detach = |node: &mut Node<K, V>, stack: &mut Vec<Node<K, V>>| {
            stack.extend(node.children.drain().map(|(_, child)| child));
            if let Some(plus) = node.plus.take() {
                stack.push(*plus);
            }
        };
        detach(self, &mut stack);
        while let Some(mut node) = stack.pop() {
            detach(&mut node, &mut stack);
            // `node` now has no children: dropping it does not recurse.
        }
    }
}

/// Splits a filter into the levels that lead to its node (`None`: the root)
/// and whether it ends in `#`.
fn split_filter(filter: &str) -> (Option<&str>, bool) {
    if filter == "#" {
        (None, true)
    } else if let Some(path) = filter.strip_suffix("/#") {
        (Some(path), true)
    } else {
        (Some(filter), false)
    }
}

/// The subscription index: for each topic filter, the sessions subscribed
/// to it with their subscription data.
///
/// `K` identifies a session (e.g. a `u64`), `V` is the subscription (its
/// options). A session has at most one subscription per filter.
///
/// ```
/// use hornet_core::trie::SubscriptionTree;
///
/// let mut subs = SubscriptionTree::new();
/// subs.insert("sport/tennis/+", 1u64, "qos1");
/// subs.insert("sport/#", 2u64, "qos0");
/// let mut seen = Vec::new();
/// subs.for_each_match("sport/tennis/player1", |key, value| seen.push((key, *value)));
/// seen.sort();
/// assert_eq!(seen, [(1, "qos1"), (2, "qos0")]);
/// ```
pub struct SubscriptionTree<K, V> {
    root: Node<K, V>,
    len: usize,
}

impl<K: Copy + Eq + Hash, V> Default for SubscriptionTree<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> fmt::Debug for SubscriptionTree<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionTree")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<K: Copy + Eq + Hash, V> SubscriptionTree<K, V> {
    /// An empty index.
    pub fn new() -> Self {
        SubscriptionTree {
            root: Node::default(),
            len: 0,
        }
    }

    /// The node of `path`'s levels, if it exists.
    fn find(&self, path: Option<&str>) -> Option<&Node<K, V>> {
        let mut node = &self.root;
        for level in path.into_iter().flat_map(|p| p.split('/')) {
            node = node.child(level)?;
        }
        Some(node)
    }

    /// Adds or replaces `key`'s subscription to `filter` (already
    /// validated); returns the previous value.
    pub fn insert(&mut self, filter: &str, key: K, value: V) -> Option<V> {
        let (path, multi) = split_filter(filter);
        let mut node = &mut self.root;
        for level in path.into_iter().flat_map(|p| p.split('/')) {
            node = node.child_or_insert(level);
        }
        let set = if multi {
            &mut node.multi
        } else {
            &mut node.exact
        };
        let previous = set.insert(key, value);
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// Removes `key`'s subscription to `filter`; prunes nodes left without
    /// subscriptions or children; returns the value.
    pub fn remove(&mut self, filter: &str, key: K) -> Option<V> {
        let (path, multi) = split_filter(filter);
        let mut node = &mut self.root;
        for level in path.into_iter().flat_map(|p| p.split('/')) {
            node = node.child_mut(level)?;
        }
        let set = if multi {
            &mut node.multi
        } else {
            &mut node.exact
        };
        let removed = set.remove(&key)?;
        self.len -= 1;
        if let Some(path) = path {
            if node.is_prunable(0) {
                self.prune(path);
            }
        }
        Some(removed)
    }

    /// Removes the chain of nodes at the end of `path` that hold nothing
    /// but the next node of the chain (the last one holds nothing at all).
    fn prune(&mut self, path: &str) {
        let depth = path.split('/').count();
        // The first level of the trailing chain of prunable nodes.
        let mut cut = None;
        let mut node = &self.root;
        for (i, level) in path.split('/').enumerate() {
            let Some(child) = node.child(level) else {
                return;
            };
            node = child;
            let last = i + 1 == depth;
            if node.is_prunable(usize::from(!last)) {
                cut.get_or_insert(i);
            } else {
                cut = None;
            }
        }
        let Some(cut) = cut else { return };
        let mut levels = path.split('/');
        let mut parent = &mut self.root;
        for level in levels.by_ref().take(cut) {
            let Some(child) = parent.child_mut(level) else {
                return;
            };
            parent = child;
        }
        if let Some(level) = levels.next() {
            parent.remove_child(level);
        }
    }

    /// The value of `key`'s subscription to exactly `filter`.
    pub fn get(&self, filter: &str, key: K) -> Option<&V> {
        let (path, multi) = split_filter(filter);
        let node = self.find(path)?;
        if multi {
            node.multi.get(&key)
        } else {
            node.exact.get(&key)
        }
    }

    /// Calls `visit(key, value)` once for every (filter, key) subscription
    /// whose filter matches the topic name `topic`.
    ///
    /// A key subscribed through several matching filters is visited once
    /// per filter; the caller dedupes. Filters starting with `+` or `#` do
    /// not match topic names starting with `$` ([MQTT-4.7.2-1]).
    pub fn for_each_match<'a>(&'a self, topic: &str, mut visit: impl FnMut(K, &'a V)) {
        self.for_each_matching_set(topic, |set| {
            for (key, value) in set {
                visit(*key, value);
            }
        });
    }

    /// As [`SubscriptionTree::for_each_match`], a set at a time: every
    /// non-empty set of subscriptions (by key) whose filter matches
    /// `topic`. A key is in each set at most once; it may be in several.
    pub fn for_each_matching_set<'a>(
        &'a self,
        topic: &str,
        mut visit: impl FnMut(&'a AHashMap<K, V>),
    ) {
        let mut visit_all = |set: &'a AHashMap<K, V>| {
            if !set.is_empty() {
                visit(set);
            }
        };
        // Branches still to walk: a node and the topic levels after it. Only
        // a level with both a literal and a `+` child pushes one.
        let mut pending: Vec<(&'a Node<K, V>, Split<'_, char>)> = Vec::new();
        // At the root, wildcards are off for a `$` topic ([MQTT-4.7.2-1]).
        let mut wildcards = !topic.starts_with('$');
        let mut current = Some((&self.root, topic.split('/')));
        while let Some((mut node, mut levels)) = current.take().or_else(|| pending.pop()) {
            loop {
                // `node` matches the levels consumed so far, so its `#`
                // subscribers match (`a/#` matches `a` too).
                if wildcards {
                    visit_all(&node.multi);
                }
                let Some(level) = levels.next() else {
                    visit_all(&node.exact);
                    break;
                };
                let literal = node.children.get(level);
                let plus = if wildcards {
                    node.plus.as_deref()
                } else {
                    None
                };
                wildcards = true;
                node = match (literal, plus) {
                    (Some(literal), Some(plus)) => {
                        pending.push((plus, levels.clone()));
                        literal
                    }
                    (Some(next), None) | (None, Some(next)) => next,
                    (None, None) => break,
                };
            }
            wildcards = true;
        }
    }

    /// Number of (filter, key) subscriptions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if there is no subscription.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(
        tree: &SubscriptionTree<u64, &'static str>,
        topic: &str,
    ) -> Vec<(u64, &'static str)> {
        let mut out = Vec::new();
        tree.for_each_match(topic, |k, v| out.push((k, *v)));
        out.sort();
        out
    }

    fn tree(filters: &[(&'static str, u64)]) -> SubscriptionTree<u64, &'static str> {
        let mut t = SubscriptionTree::new();
        for &(f, k) in filters {
            t.insert(f, k, f);
        }
        t
    }

    /// §4.7.1.2: `#` matches the parent level and any number of child levels.
    #[test]
    fn mqtt_4_7_1_2_multi_level_wildcard_matches_parent_and_children() {
        let t = tree(&[("sport/tennis/player1/#", 1)]);
        for topic in [
            "sport/tennis/player1",
            "sport/tennis/player1/ranking",
            "sport/tennis/player1/score/wimbledon",
        ] {
            assert_eq!(
                matched(&t, topic),
                [(1, "sport/tennis/player1/#")],
                "{topic}"
            );
        }
        assert!(matched(&t, "sport/tennis").is_empty());
        assert!(matched(&t, "sport/tennis/player2").is_empty());
        let t = tree(&[("sport/#", 1), ("#", 2)]);
        assert_eq!(matched(&t, "sport"), [(1, "sport/#"), (2, "#")]);
        assert_eq!(matched(&t, "a/b/c"), [(2, "#")]);
    }

    /// §4.7.1.3: `+` matches exactly one level, empty levels included.
    #[test]
    fn mqtt_4_7_1_3_single_level_wildcard_matches_one_level() {
        let t = tree(&[
            ("sport/tennis/+", 1),
            ("sport/+", 2),
            ("+/+", 3),
            ("/+", 4),
            ("+", 5),
        ]);
        assert_eq!(matched(&t, "sport/tennis/player1"), [(1, "sport/tennis/+")]);
        assert!(matched(&t, "sport/tennis/player1/ranking").is_empty());
        assert_eq!(matched(&t, "sport"), [(5, "+")]);
        assert_eq!(matched(&t, "sport/"), [(2, "sport/+"), (3, "+/+")]);
        assert_eq!(matched(&t, "/finance"), [(3, "+/+"), (4, "/+")]);
        assert_eq!(matched(&t, "a//b"), []);
        let t = tree(&[("a/+/b", 1), ("a//b", 2), ("a/+/+", 3)]);
        assert_eq!(
            matched(&t, "a//b"),
            [(1, "a/+/b"), (2, "a//b"), (3, "a/+/+")]
        );
    }

    /// [MQTT-4.7.2-1] filters starting with a wildcard do not match `$` topics.
    #[test]
    fn mqtt_4_7_2_1_leading_wildcards_skip_dollar_topics() {
        let t = tree(&[
            ("+", 1),
            ("#", 2),
            ("+/monitor/Clients", 3),
            ("+/#", 4),
            ("$SYS/#", 5),
            ("$SYS/monitor/+", 6),
            ("$SYS/+/Clients", 7),
        ]);
        assert_eq!(matched(&t, "$SYS"), [(5, "$SYS/#")]);
        assert!(matched(&t, "$x").is_empty());
        assert_eq!(matched(&t, "$SYS/broker/uptime"), [(5, "$SYS/#")]);
        assert_eq!(
            matched(&t, "$SYS/monitor/Clients"),
            [(5, "$SYS/#"), (6, "$SYS/monitor/+"), (7, "$SYS/+/Clients")]
        );
        // `$` elsewhere than the first character is an ordinary character.
        assert_eq!(matched(&t, "a$"), [(1, "+"), (2, "#"), (4, "+/#")]);
        assert_eq!(
            matched(&t, "x/monitor/Clients"),
            [(2, "#"), (3, "+/monitor/Clients"), (4, "+/#")]
        );
    }

    /// Several subscriptions of one key are each visited; exact filters only match equal names.
    #[test]
    fn every_matching_filter_is_visited() {
        let t = tree(&[("a/b", 1), ("a/+", 1), ("a/#", 1), ("a/b", 2), ("a/b/c", 3)]);
        assert_eq!(
            matched(&t, "a/b"),
            [(1, "a/#"), (1, "a/+"), (1, "a/b"), (2, "a/b")]
        );
        assert_eq!(matched(&t, "a/b/c"), [(1, "a/#"), (3, "a/b/c")]);
        assert_eq!(t.len(), 5);
    }

    /// A second SUBSCRIBE to the same filter replaces the subscription ([MQTT-3.8.4-3]).
    #[test]
    fn mqtt_3_8_4_3_insert_replaces() {
        let mut t = SubscriptionTree::new();
        assert_eq!(t.insert("a/+", 7u64, 0u8), None);
        assert_eq!(t.insert("a/+", 7, 2), Some(0));
        assert_eq!(t.len(), 1);
        assert_eq!(t.get("a/+", 7), Some(&2));
        assert_eq!(t.get("a/+", 8), None);
        assert_eq!(t.get("a/#", 7), None);
        assert_eq!(t.get("a", 7), None);
        let mut seen = Vec::new();
        t.for_each_match("a/x", |k, v| seen.push((k, *v)));
        assert_eq!(seen, [(7, 2)]);
    }

    #[test]
    fn remove_returns_the_value_and_leaves_others() {
        let mut t = tree(&[("a/#", 1), ("a", 1), ("a/#", 2), ("#", 3)]);
        assert_eq!(t.remove("a/#", 1), Some("a/#"));
        assert_eq!(t.remove("a/#", 1), None);
        assert_eq!(t.remove("b", 1), None);
        assert_eq!(t.remove("a/+", 1), None);
        assert_eq!(matched(&t, "a"), [(1, "a"), (2, "a/#"), (3, "#")]);
        assert_eq!(t.remove("#", 3), Some("#"));
        assert_eq!(t.remove("a", 1), Some("a"));
        assert_eq!(t.remove("a/#", 2), Some("a/#"));
        assert!(t.is_empty());
        assert_eq!(t.root.child_count(), 0);
    }

    /// Unsubscribing prunes: no memory is kept for filters nobody uses.
    #[test]
    fn remove_prunes_empty_nodes() {
        let mut t = SubscriptionTree::new();
        let filters: Vec<String> = (0..10_000)
            .map(|i| match i % 4 {
                0 => format!("a/{i}/b"),
                1 => format!("+/{i}/#"),
                2 => format!("{i}//+"),
                _ => format!("$SYS/{}/{i}", i % 7),
            })
            .collect();
        for (i, f) in filters.iter().enumerate() {
            assert_eq!(t.insert(f, i as u64, ()), None);
        }
        assert_eq!(t.len(), 10_000);
        for (i, f) in filters.iter().enumerate() {
            assert_eq!(t.remove(f, i as u64), Some(()), "{f}");
        }
        assert!(t.is_empty());
        assert_eq!(t.root.child_count(), 0);
    }

    /// Pruning keeps nodes that still hold subscriptions or other branches.
    #[test]
    fn prune_keeps_shared_prefixes() {
        let mut t = tree(&[("a/b/c/d", 1), ("a/b", 2), ("a/b/x", 3)]);
        t.remove("a/b/c/d", 1);
        assert!(t.find(Some("a/b/c")).is_none());
        assert!(t.find(Some("a/b/x")).is_some());
        t.remove("a/b/x", 3);
        assert!(t.find(Some("a/b/x")).is_none());
        assert_eq!(matched(&t, "a/b"), [(2, "a/b")]);
        t.remove("a/b", 2);
        assert_eq!(t.root.child_count(), 0);
    }

    /// Thousands of sessions on one filter: insert and remove stay cheap.
    #[test]
    fn many_subscribers_on_one_filter() {
        let mut t = SubscriptionTree::new();
        for k in 0..10_000u64 {
            t.insert("fan/out", k, k);
        }
        let mut count = 0;
        t.for_each_match("fan/out", |k, v| {
            assert_eq!(k, *v);
            count += 1;
        });
        assert_eq!(count, 10_000);
        for k in (0..10_000u64).rev() {
            assert_eq!(t.remove("fan/out", k), Some(k));
        }
        assert!(t.is_empty());
        assert_eq!(t.root.child_count(), 0);
    }

    /// A filter of 65,535 empty levels neither overflows the stack when
    /// matched, removed or dropped.
    #[test]
    fn deep_filters_do_not_recurse() {
        let deep = "/".repeat(65_534);
        let mut t = SubscriptionTree::new();
        t.insert(&deep, 1u64, ());
        t.insert(&format!("{deep}/#"), 2u64, ());
        t.insert(&format!("{deep}/+"), 3u64, ());
        let mut seen = Vec::new();
        t.for_each_match(&deep, |k, _| seen.push(k));
        seen.sort();
        assert_eq!(seen, [1, 2]);
        assert_eq!(t.remove(&deep, 1), Some(()));
        drop(t);
    }

    /// `$share/...` is an ordinary literal filter here.
    #[test]
    fn shared_prefix_is_literal() {
        let t = tree(&[("$share/g/a", 1)]);
        assert_eq!(matched(&t, "$share/g/a"), [(1, "$share/g/a")]);
        assert!(matched(&t, "a").is_empty());
    }
}
