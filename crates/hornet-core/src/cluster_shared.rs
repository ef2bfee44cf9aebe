//! Shared subscription groups across the cluster: how many members each
//! other node has in each group (announced in the route stream under the
//! group's name, `$share/{group}/{filter}` or `$queue/{filter}`, with a
//! member count), an index of those groups' filters, and the choice of
//! where a message for a group goes: a weighted round robin over this
//! node's members and every other node's, so each member in the cluster
//! gets about an equal share and a node with no member left gets nothing.
//! Plain data; the rules that use it are `clustering`'s.

use ahash::AHashMap;
use bytestring::ByteString;

use crate::trie::SubscriptionTree;

/// Where one message for a group goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Choice {
    /// To a member on this node.
    Local,
    /// To the node of this peer index, which picks one of its members.
    Peer(u32),
}

/// One group as the other nodes announced it.
#[derive(Debug)]
struct RemoteGroup {
    filter: ByteString,
    /// Members per peer index (no zero counts), in peer order.
    counts: Vec<(u32, u32)>,
    /// The round robin's position.
    next: u64,
}

/// The other nodes' shared subscription groups (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct SharedRoutes {
    /// Groups by their cluster-wide name.
    groups: AHashMap<ByteString, u32>,
    by_id: AHashMap<u32, (ByteString, RemoteGroup)>,
    index: SubscriptionTree<u32, ()>,
    next_id: u32,
    /// This node's member count per group name, as last announced.
    exported: AHashMap<ByteString, u32>,
    /// Messages forwarded here for a group with no member left here.
    pub(crate) dropped: u64,
}

/// The cluster-wide name of group `group` with `filter`: the string a
/// client subscribes with (`$queue/{filter}` for the `$queue` group).
pub(crate) fn group_name(group: &str, filter: &str) -> ByteString {
    if group == crate::shared::QUEUE_GROUP {
        ByteString::from(format!("$queue/{filter}"))
    } else {
        ByteString::from(format!("$share/{group}/{filter}"))
    }
}

impl SharedRoutes {
    /// This node now has `members` in group `name`; whether that changed
    /// what was announced.
    pub(crate) fn set_local(&mut self, name: &ByteString, members: u32) -> bool {
        let old = if members == 0 {
            self.exported.remove(name).unwrap_or(0)
        } else {
            self.exported.insert(name.clone(), members).unwrap_or(0)
        };
        old != members
    }

    /// Every group this node has members in, with their count, sorted.
    pub(crate) fn local(&self) -> Vec<(ByteString, u32)> {
        let mut all: Vec<(ByteString, u32)> =
            self.exported.iter().map(|(n, c)| (n.clone(), *c)).collect();
        all.sort();
        all
    }

    /// Groups this node has members in.
    pub(crate) fn local_len(&self) -> usize {
        self.exported.len()
    }

    /// Peer `peer` has `members` in group `name` (with `filter`); 0 removes.
    pub(crate) fn set(&mut self, peer: u32, name: &ByteString, filter: &str, members: u32) {
        let id = match self.groups.get(name) {
            Some(&id) => id,
            None if members == 0 => return,
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.groups.insert(name.clone(), id);
                self.index.insert(filter, id, ());
                let group = RemoteGroup {
                    filter: ByteString::from(filter),
                    counts: Vec::new(),
                    next: 0,
                };
                self.by_id.insert(id, (name.clone(), group));
                id
            }
        };
        let (_, group) = self.by_id.get_mut(&id).expect("indexed");
        match group.counts.binary_search_by_key(&peer, |&(p, _)| p) {
            Ok(i) if members == 0 => {
                group.counts.remove(i);
            }
            Ok(i) => group.counts[i].1 = members,
            Err(_) if members == 0 => {}
            Err(i) => group.counts.insert(i, (peer, members)),
        }
        if group.counts.is_empty() {
            let filter = group.filter.clone();
            self.by_id.remove(&id);
            self.groups.remove(name);
            self.index.remove(&filter, id);
        }
    }

    /// Whether another node has members in group `name`.
    pub(crate) fn has_members(&self, name: &str) -> bool {
        self.groups.contains_key(name)
    }

    /// Every group peer `peer` announced, with its count.
    pub(crate) fn of_peer(&self, peer: u32) -> Vec<(ByteString, u32)> {
        self.by_id
            .values()
            .filter_map(|(name, g)| {
                let i = g.counts.binary_search_by_key(&peer, |&(p, _)| p).ok()?;
                Some((name.clone(), g.counts[i].1))
            })
            .collect()
    }

    /// Forgets every group membership of peer `peer`; returns how many.
    pub(crate) fn purge(&mut self, peer: u32) -> usize {
        let mine = self.of_peer(peer);
        for (name, _) in &mine {
            let filter = self.by_id[&self.groups[name]].1.filter.clone();
            self.set(peer, name, &filter, 0);
        }
        mine.len()
    }

    /// The names of the other nodes' groups whose filter matches `topic`.
    pub(crate) fn matching(&self, topic: &str, out: &mut Vec<ByteString>) {
        if self.index.is_empty() {
            return;
        }
        self.index.for_each_match(topic, |id, _| {
            out.push(self.by_id[&id].0.clone());
        });
    }

    /// Where the next message for group `name` goes, this node having
    /// `local` members in it: a weighted round robin over this node's
    /// members and the other nodes' (`None`: nobody anywhere).
    pub(crate) fn choose(&mut self, name: &str, local: u32) -> Option<Choice> {
        let Some((_, group)) = self.groups.get(name).and_then(|id| self.by_id.get_mut(id)) else {
            return (local > 0).then_some(Choice::Local);
        };
        let remote: u64 = group.counts.iter().map(|&(_, c)| u64::from(c)).sum();
        let total = u64::from(local) + remote;
        if total == 0 {
            return None;
        }
        let mut slot = group.next % total;
        group.next = group.next.wrapping_add(1);
        if slot < u64::from(local) {
            return Some(Choice::Local);
        }
        slot -= u64::from(local);
        for &(peer, count) in &group.counts {
            if slot < u64::from(count) {
                return Some(Choice::Peer(peer));
            }
            slot -= u64::from(count);
        }
        unreachable!("the slot is below the total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_round_robin_is_weighted_by_member_counts() {
        let mut s = SharedRoutes::default();
        let name = group_name("g", "t/#");
        assert_eq!(&*name, "$share/g/t/#");
        s.set(0, &name, "t/#", 2);
        s.set(1, &name, "t/#", 1);
        let mut seen = AHashMap::new();
        for _ in 0..40 {
            *seen.entry(s.choose(&name, 1)).or_insert(0) += 1;
        }
        assert_eq!(seen[&Some(Choice::Local)], 10);
        assert_eq!(seen[&Some(Choice::Peer(0))], 20);
        assert_eq!(seen[&Some(Choice::Peer(1))], 10);
        let mut names = Vec::new();
        s.matching("t/1", &mut names);
        assert_eq!(names, vec![name.clone()]);
        assert_eq!(s.purge(0), 1);
        s.set(1, &name, "t/#", 0);
        assert_eq!(s.choose(&name, 0), None, "nobody left anywhere");
        assert_eq!(s.choose(&name, 3), Some(Choice::Local));
        names.clear();
        s.matching("t/1", &mut names);
        assert!(
            names.is_empty(),
            "the group is forgotten with its last member"
        );
        assert_eq!(&*group_name("$queue", "q"), "$queue/q");
    }

    #[test]
    fn local_counts_are_announced_on_change_only() {
        let mut s = SharedRoutes::default();
        let name = group_name("g", "a");
        assert!(s.set_local(&name, 1));
        assert!(!s.set_local(&name, 1));
        assert!(s.set_local(&name, 2));
        assert_eq!(s.local(), vec![(name.clone(), 2)]);
        assert!(s.set_local(&name, 0));
        assert!(!s.set_local(&name, 0));
        assert_eq!(s.local_len(), 0);
    }
}
