//! Shared subscriptions: `$share/{group}/{filter}` (MQTT 5.0 §4.8.2, for
//! every protocol version) and EMQX's `$queue/{filter}` (the group named
//! `$queue`).
//!
//! Owns [`SharedSubscriptions`]: the groups, their members, and an index of
//! the groups' filters. Each message matching a group's filter goes to one
//! member, chosen by the group's [`SharedStrategy`]. Members that are
//! connected are preferred: a member that is offline with a persistent
//! session receives a message only when no member of its group is online
//! (it then waits in that member's queue).
//!
//! Choices are deterministic: the random strategy draws from a fixed-seed
//! generator and the hash strategies use FNV-1a, so the core's output is a
//! function of its input, as everywhere else.

use std::fmt;
use std::str::FromStr;

use ahash::AHashMap;
use bytestring::ByteString;
use hornet_codec::topic;

use crate::session::{SessionKey, Subscription};
use crate::trie::SubscriptionTree;

/// How a shared subscription group picks the member that gets a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SharedStrategy {
    /// Each member in turn (the default).
    #[default]
    RoundRobin,
    /// A member drawn at random.
    Random,
    /// The same member while it stays connected; then another, which sticks.
    Sticky,
    /// The member chosen by a hash of the publisher's client id: one
    /// publisher's messages all reach the same member, in order.
    HashClientId,
    /// The member chosen by a hash of the topic: one topic's messages all
    /// reach the same member, in order.
    HashTopic,
}

impl SharedStrategy {
    /// The names accepted in configuration files.
    pub const NAMES: &'static str = "round_robin, random, sticky, hash_clientid, hash_topic";
}

impl FromStr for SharedStrategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "round_robin" => SharedStrategy::RoundRobin,
            "random" => SharedStrategy::Random,
            "sticky" => SharedStrategy::Sticky,
            "hash_clientid" | "hash_client_id" => SharedStrategy::HashClientId,
            "hash_topic" => SharedStrategy::HashTopic,
            other => {
                return Err(format!(
                    "unknown shared subscription strategy '{other}' (expected one of {})",
                    Self::NAMES
                ))
            }
        })
    }
}

impl fmt::Display for SharedStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SharedStrategy::RoundRobin => "round_robin",
            SharedStrategy::Random => "random",
            SharedStrategy::Sticky => "sticky",
            SharedStrategy::HashClientId => "hash_clientid",
            SharedStrategy::HashTopic => "hash_topic",
        })
    }
}

/// The group name `$queue/{filter}` subscribes to.
pub(crate) const QUEUE_GROUP: &str = "$queue";

/// The shared subscription group a queued copy came through: after a
/// restart it still goes to another member if this session leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedGroup {
    /// The group name (`$queue` for `$queue/{filter}`).
    pub name: ByteString,
    /// The topic filter.
    pub filter: ByteString,
}

/// A shared subscription filter as a client wrote it, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedName {
    pub(crate) group: ByteString,
    pub(crate) filter: ByteString,
}

/// Splits `$share/{group}/{filter}` or `$queue/{filter}`; `None` for a
/// plain filter. The codec has already checked the syntax.
pub(crate) fn split(filter: &ByteString) -> Option<SharedName> {
    if let Ok(Some(shared)) = topic::parse_shared(filter) {
        return Some(SharedName {
            group: filter.slice_ref(shared.group),
            filter: filter.slice_ref(shared.filter),
        });
    }
    let rest = filter.strip_prefix("$queue/")?;
    if topic::validate_filter(rest).is_err() {
        return None;
    }
    Some(SharedName {
        group: ByteString::from_static(QUEUE_GROUP),
        filter: filter.slice_ref(rest),
    })
}

pub(crate) use crate::ids::GroupId;

#[derive(Debug)]
struct Member {
    key: SessionKey,
    sub: Subscription,
}

#[derive(Debug)]
struct Group {
    name: ByteString,
    filter: ByteString,
    strategy: SharedStrategy,
    /// In the order they joined.
    members: Vec<Member>,
    /// Round robin: the position to try first next time.
    next: usize,
    /// Sticky: the member that got the last message.
    sticky: Option<SessionKey>,
}

/// Every shared subscription group and its members.
#[derive(Debug)]
pub(crate) struct SharedSubscriptions {
    index: SubscriptionTree<GroupId, ()>,
    groups: AHashMap<GroupId, Group>,
    by_name: AHashMap<(ByteString, ByteString), GroupId>,
    next_id: GroupId,
    default_strategy: SharedStrategy,
    strategies: Vec<(String, SharedStrategy)>,
    /// xorshift64 state for [`SharedStrategy::Random`].
    rng: u64,
    /// Member subscriptions across all groups.
    len: usize,
    /// Scratch space for routing: the matched groups.
    matched: Vec<GroupId>,
}

impl SharedSubscriptions {
    /// No groups; groups use `default_strategy` unless `strategies` names them.
    pub(crate) fn new(
        default_strategy: SharedStrategy,
        strategies: Vec<(String, SharedStrategy)>,
    ) -> Self {
        SharedSubscriptions {
            index: SubscriptionTree::new(),
            groups: AHashMap::new(),
            by_name: AHashMap::new(),
            next_id: 1,
            default_strategy,
            strategies,
            rng: 0x9E37_79B9_7F4A_7C15,
            len: 0,
            matched: Vec::new(),
        }
    }

    /// Member subscriptions across all groups.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds (or replaces) `key`'s membership of the group; returns whether
    /// it was a member already.
    pub(crate) fn subscribe(
        &mut self,
        name: &SharedName,
        key: SessionKey,
        sub: Subscription,
    ) -> bool {
        // Own copies: slices would pin the SUBSCRIBE's read buffer.
        let name = &SharedName {
            group: ByteString::from(&*name.group),
            filter: ByteString::from(&*name.filter),
        };
        let id = match self.by_name.get(&(name.group.clone(), name.filter.clone())) {
            Some(&id) => id,
            None => {
                let id = self.next_id;
                self.next_id += 1;
                let strategy = self
                    .strategies
                    .iter()
                    .find(|(g, _)| *g == *name.group)
                    .map_or(self.default_strategy, |(_, s)| *s);
                self.groups.insert(
                    id,
                    Group {
                        name: name.group.clone(),
                        filter: name.filter.clone(),
                        strategy,
                        members: Vec::new(),
                        next: 0,
                        sticky: None,
                    },
                );
                self.by_name
                    .insert((name.group.clone(), name.filter.clone()), id);
                self.index.insert(&name.filter, id, ());
                id
            }
        };
        let group = self.groups.get_mut(&id).expect("indexed");
        match group.members.iter_mut().find(|m| m.key == key) {
            Some(m) => {
                m.sub = sub;
                true
            }
            None => {
                group.members.push(Member { key, sub });
                self.len += 1;
                false
            }
        }
    }

    /// Removes `key` from the group; returns whether it was a member. An
    /// empty group is forgotten.
    pub(crate) fn unsubscribe(&mut self, name: &SharedName, key: SessionKey) -> bool {
        let group_key = (name.group.clone(), name.filter.clone());
        let Some(&id) = self.by_name.get(&group_key) else {
            return false;
        };
        let group = self.groups.get_mut(&id).expect("indexed");
        let Some(pos) = group.members.iter().position(|m| m.key == key) else {
            return false;
        };
        group.members.remove(pos);
        self.len -= 1;
        if group.next > pos {
            group.next -= 1;
        }
        if group.sticky == Some(key) {
            group.sticky = None;
        }
        if group.members.is_empty() {
            self.groups.remove(&id);
            self.by_name.remove(&group_key);
            self.index.remove(&name.filter, id);
        }
        true
    }

    /// The groups whose filters match `topic`. Hand the list back with
    /// [`SharedSubscriptions::recycle`]: routing then allocates nothing of
    /// its own once warm.
    #[inline]
    pub(crate) fn matching_groups(&mut self, topic: &str) -> Vec<GroupId> {
        let mut groups = std::mem::take(&mut self.matched);
        self.index.for_each_match(topic, |id, _| groups.push(id));
        groups
    }

    /// Takes back the (drained) list [`SharedSubscriptions::matching_groups`]
    /// gave out.
    #[inline]
    pub(crate) fn recycle(&mut self, groups: Vec<GroupId>) {
        self.matched = groups;
    }

    /// How many members the group `name` has.
    pub(crate) fn members(&self, name: &SharedName) -> u32 {
        self.by_name
            .get(&(name.group.clone(), name.filter.clone()))
            .map_or(0, |&id| self.members_of(id))
    }

    /// How many members group `id` has.
    pub(crate) fn members_of(&self, id: GroupId) -> u32 {
        self.groups.get(&id).map_or(0, |g| g.members.len() as u32)
    }

    /// Whether group `id` has a connected member other than `exclude`.
    pub(crate) fn has_online_member(
        &self,
        id: GroupId,
        exclude: SessionKey,
        online: impl Fn(SessionKey) -> bool,
    ) -> bool {
        self.groups
            .get(&id)
            .is_some_and(|g| g.members.iter().any(|m| m.key != exclude && online(m.key)))
    }

    /// The name and filter of group `id` (for the store).
    pub(crate) fn name_of(&self, id: GroupId) -> Option<SharedGroup> {
        self.groups.get(&id).map(|g| SharedGroup {
            name: g.name.clone(),
            filter: g.filter.clone(),
        })
    }

    /// The group named `group` with `filter`, if it has members.
    pub(crate) fn id_of(&self, group: &SharedGroup) -> Option<GroupId> {
        self.by_name
            .get(&(group.name.clone(), group.filter.clone()))
            .copied()
    }

    /// The group `$share/{name}/{filter}` of `id`, for log lines.
    pub(crate) fn describe(&self, id: GroupId) -> String {
        match self.groups.get(&id) {
            Some(g) => format!("$share/{}/{}", g.name, g.filter),
            None => format!("<group {id}>"),
        }
    }

    /// Chooses the member of group `id` that gets a message on `topic`
    /// from `publisher` (a client id; empty for wills and the broker).
    /// Connected members (per `online`) are preferred; `exclude` is never
    /// chosen (the member a message is taken back from).
    pub(crate) fn pick(
        &mut self,
        id: GroupId,
        topic: &str,
        publisher: &str,
        exclude: Option<SessionKey>,
        online: impl Fn(SessionKey) -> bool,
    ) -> Option<(SessionKey, Subscription)> {
        let group = self.groups.get_mut(&id)?;
        let allowed = |m: &Member| Some(m.key) != exclude;
        let any_online = group.members.iter().any(|m| allowed(m) && online(m.key));
        let eligible = |m: &Member| allowed(m) && (!any_online || online(m.key));
        let count = group.members.iter().filter(|m| eligible(m)).count();
        if count == 0 {
            return None;
        }
        let nth_eligible = |group: &Group, n: usize| {
            group
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| eligible(m))
                .nth(n)
                .map(|(i, _)| i)
                .expect("n < count")
        };
        let index = match group.strategy {
            SharedStrategy::RoundRobin => round_robin(group, &eligible),
            SharedStrategy::Random => {
                let n = (xorshift(&mut self.rng) % count as u64) as usize;
                nth_eligible(group, n)
            }
            SharedStrategy::Sticky => {
                let current = group
                    .sticky
                    .and_then(|k| group.members.iter().position(|m| m.key == k))
                    .filter(|&i| eligible(&group.members[i]));
                match current {
                    Some(i) => i,
                    None => round_robin(group, &eligible),
                }
            }
            SharedStrategy::HashClientId => {
                nth_eligible(group, (fnv1a(publisher) % count as u64) as usize)
            }
            SharedStrategy::HashTopic => {
                nth_eligible(group, (fnv1a(topic) % count as u64) as usize)
            }
        };
        let member = &group.members[index];
        group.sticky = Some(member.key);
        Some((member.key, member.sub))
    }
}

/// The first eligible member from the group's round-robin position on.
fn round_robin(group: &mut Group, eligible: &impl Fn(&Member) -> bool) -> usize {
    let n = group.members.len();
    let start = group.next % n;
    let index = (0..n)
        .map(|i| (start + i) % n)
        .find(|&i| eligible(&group.members[i]))
        .expect("the caller counted an eligible member");
    group.next = index + 1;
    index
}

fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// FNV-1a: stable across runs and platforms (unlike the std hasher).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hornet_codec::SubscriptionOptions;

    fn sub() -> Subscription {
        Subscription {
            options: SubscriptionOptions::default(),
            identifier: None,
        }
    }

    fn name(s: &str) -> SharedName {
        split(&ByteString::from(s.to_string())).expect("shared")
    }

    fn matching(shared: &SharedSubscriptions, topic: &str) -> Vec<GroupId> {
        let mut ids = Vec::new();
        shared.index.for_each_match(topic, |id, _| ids.push(id));
        ids
    }

    #[test]
    fn split_reads_share_and_queue_prefixes() {
        let n = name("$share/g1/a/+");
        assert_eq!((&*n.group, &*n.filter), ("g1", "a/+"));
        let q = name("$queue/a/b");
        assert_eq!((&*q.group, &*q.filter), ("$queue", "a/b"));
        assert_eq!(split(&ByteString::from_static("a/b")), None);
        assert_eq!(split(&ByteString::from_static("$queue/")), None);
    }

    #[test]
    fn round_robin_takes_turns_and_skips_offline_members() {
        let mut s = SharedSubscriptions::new(SharedStrategy::RoundRobin, Vec::new());
        for key in 1..=3 {
            s.subscribe(&name("$share/g/t"), key, sub());
        }
        let id = matching(&s, "t")[0];
        let picks: Vec<_> = (0..6)
            .map(|_| s.pick(id, "t", "p", None, |_| true).unwrap().0)
            .collect();
        assert_eq!(picks, [1, 2, 3, 1, 2, 3]);
        // Member 2 goes offline: the others share its turns.
        let picks: Vec<_> = (0..4)
            .map(|_| s.pick(id, "t", "p", None, |k| k != 2).unwrap().0)
            .collect();
        assert_eq!(picks, [1, 3, 1, 3]);
        // Nobody online: offline (persistent) members still take turns.
        assert!(s.pick(id, "t", "p", None, |_| false).is_some());
        // The member a message is taken back from is never chosen, even
        // when it is the only one online.
        for _ in 0..3 {
            assert_ne!(s.pick(id, "t", "p", Some(1), |k| k == 1).unwrap().0, 1);
        }
    }

    #[test]
    fn hash_strategies_are_stable_per_publisher_and_topic() {
        let groups = vec![
            ("byclient".to_string(), SharedStrategy::HashClientId),
            ("bytopic".to_string(), SharedStrategy::HashTopic),
        ];
        let mut s = SharedSubscriptions::new(SharedStrategy::RoundRobin, groups);
        for key in 1..=4 {
            s.subscribe(&name("$share/byclient/#"), key, sub());
            s.subscribe(&name("$share/bytopic/#"), key, sub());
        }
        let ids = matching(&s, "x");
        for id in ids {
            let first = s.pick(id, "x", "pub-1", None, |_| true).unwrap().0;
            for _ in 0..5 {
                assert_eq!(s.pick(id, "x", "pub-1", None, |_| true).unwrap().0, first);
            }
        }
    }

    #[test]
    fn sticky_stays_until_the_member_leaves() {
        let mut s = SharedSubscriptions::new(SharedStrategy::Sticky, Vec::new());
        for key in 1..=3 {
            s.subscribe(&name("$queue/t"), key, sub());
        }
        let id = matching(&s, "t")[0];
        let first = s.pick(id, "t", "", None, |_| true).unwrap().0;
        assert_eq!(s.pick(id, "t", "", None, |_| true).unwrap().0, first);
        let next = s.pick(id, "t", "", None, |k| k != first).unwrap().0;
        assert_ne!(next, first);
        assert_eq!(s.pick(id, "t", "", None, |_| true).unwrap().0, next);
    }

    #[test]
    fn random_reaches_every_member_and_empty_groups_vanish() {
        let mut s = SharedSubscriptions::new(SharedStrategy::Random, Vec::new());
        for key in 1..=3 {
            s.subscribe(&name("$share/g/t"), key, sub());
        }
        let id = matching(&s, "t")[0];
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..100 {
            seen.insert(s.pick(id, "t", "", None, |_| true).unwrap().0);
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(s.len(), 3);
        for key in 1..=3 {
            assert!(s.unsubscribe(&name("$share/g/t"), key));
        }
        assert!(!s.unsubscribe(&name("$share/g/t"), 1));
        assert!(matching(&s, "t").is_empty());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn strategy_names_round_trip() {
        for s in [
            SharedStrategy::RoundRobin,
            SharedStrategy::Random,
            SharedStrategy::Sticky,
            SharedStrategy::HashClientId,
            SharedStrategy::HashTopic,
        ] {
            assert_eq!(s.to_string().parse::<SharedStrategy>(), Ok(s));
        }
        assert!("fastest".parse::<SharedStrategy>().is_err());
    }
}
