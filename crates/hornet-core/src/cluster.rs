//! What this node knows of the cluster: the filters it exports to the
//! other nodes, the routes every other node announced (a trie of filter →
//! node), the route stream's bookkeeping per node (incarnation and
//! sequence number, so a lost or stale delta is detected and a snapshot
//! asked for), and which nodes membership says are alive. Plain data behind
//! `pub(crate)` methods; the rules that use it are `clustering`'s.
//!
//! A plain subscription is exported unless made with EMQX's `$local/`
//! prefix. A filter is announced once when its first exporting session
//! subscribes and withdrawn when its last one leaves, so the stream carries
//! filters, never sessions. A shared subscription group is announced under
//! its name (`$share/{group}/{filter}`, `$queue/{filter}`) with this node's
//! member count, again at every change of the count (`cluster_shared`).

use std::time::Instant;

use ahash::{AHashMap, AHashSet};
use bytestring::ByteString;
use hornet_codec::Publish;

use crate::cluster_shared::SharedRoutes;
use crate::ids::SessionKey;
use crate::trie::SubscriptionTree;

/// One change to a node's exported filters, in its stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteUpdate {
    /// The announcing node's incarnation (a new one after every start).
    pub incarnation: u64,
    /// One more than the previous update's (or the snapshot's).
    pub seq: u64,
    /// The filter.
    pub filter: ByteString,
    /// Added (true) or withdrawn (false).
    pub added: bool,
    /// For a shared subscription group's name (`$share/{group}/{filter}`,
    /// `$queue/{filter}`): the node's members in it now (0 when
    /// withdrawn). Ignored for a plain filter.
    pub members: u32,
}

impl RouteUpdate {
    /// The token a node's report of having applied this update carries
    /// ([`crate::Broker::node_acked`]; a SUBACK may wait for it): the
    /// sequence number with the top bit set, apart from messages' tokens.
    pub fn ack_token(&self) -> u64 {
        self.seq | 1 << 63
    }
}

/// A node's whole set of exported filters, sent first on every link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteSnapshot {
    /// The announcing node's incarnation.
    pub incarnation: u64,
    /// The sequence number of the last update the snapshot includes.
    pub seq: u64,
    /// Every exported filter.
    pub filters: Vec<ByteString>,
    /// Every shared subscription group the node has members in, by name,
    /// with their count.
    pub shared: Vec<(ByteString, u32)>,
}

/// What the core knows of one other node (see [`crate::Broker::cluster_nodes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// The node's name.
    pub name: String,
    /// Membership says it is alive (its key is in etcd).
    pub alive: bool,
    /// Filters it announced.
    pub routes: usize,
    /// Wills of its clients that this node holds (connected clients', and
    /// disconnected ones' whose Will Delay Interval runs).
    pub wills: usize,
    /// Messages forwarded to it.
    pub forwarded: u64,
    /// Messages received from it.
    pub received: u64,
}

/// Another node's routes and stream position.
#[derive(Debug, Default)]
struct Peer {
    name: ByteString,
    alive: bool,
    /// `None` until its first snapshot: deltas before it are refused.
    incarnation: Option<u64>,
    seq: u64,
    filters: AHashSet<ByteString>,
    forwarded: u64,
    received: u64,
    /// The wills of its clients, by client id: of connected clients
    /// (`None`), or waiting for their delay until the instant given.
    wills: AHashMap<ByteString, (Publish, Option<Instant>)>,
}

/// Whether an update applied, or the stream needs a new snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Applied in order.
    Yes,
    /// A gap, a different incarnation or no snapshot yet.
    NeedSnapshot,
}

/// The cluster state of one node (see the module doc).
#[derive(Debug)]
pub(crate) struct Cluster {
    /// This node's name.
    pub(crate) node: ByteString,
    incarnation: u64,
    seq: u64,
    /// Exported filters and the sessions that hold them.
    exported: AHashMap<ByteString, AHashSet<SessionKey>>,
    /// Every other node's filters, by peer index.
    remote: SubscriptionTree<u32, ()>,
    peers: Vec<Peer>,
    by_name: AHashMap<ByteString, u32>,
    /// Scratch: the peers a topic matched (once each).
    matched: Vec<u32>,
    /// Client ids of this node whose will the other nodes were told.
    announced_wills: AHashSet<ByteString>,
    /// Wills of dead nodes' clients, until the election says whether this
    /// node publishes them.
    orphaned_wills: AHashMap<ByteString, Vec<(ByteString, Publish, Option<Instant>)>>,
    /// Wills of dead nodes' clients this node won and publishes when their
    /// delay ends (`cluster_wills`).
    pub(crate) pending_wills: crate::pending_wills::PendingWills,
    /// Ownership of persistent sessions' client ids (see `claiming`).
    pub(crate) claims: crate::claims::Claims,
    /// The stamps of this node's announced clean-session connections,
    /// which decide takeovers between nodes (`client_stamps`).
    pub(crate) client_stamps: crate::client_stamps::ClientStamps,
    /// Shared subscription groups: this node's counts, the others'.
    pub(crate) shared: SharedRoutes,
    /// Clients' acknowledgements waiting for other nodes, when on
    /// (`acknowledging`).
    pub(crate) acks: Option<crate::cluster_acks::AckGates>,
}

impl Cluster {
    /// This node, named `node`, in its `incarnation`, knowing nobody yet.
    pub(crate) fn new(node: &str, incarnation: u64) -> Cluster {
        Cluster {
            node: ByteString::from(node),
            incarnation,
            seq: 0,
            exported: AHashMap::default(),
            remote: SubscriptionTree::new(),
            peers: Vec::new(),
            by_name: AHashMap::default(),
            matched: Vec::new(),
            announced_wills: AHashSet::default(),
            orphaned_wills: AHashMap::default(),
            pending_wills: Default::default(),
            claims: crate::claims::Claims::default(),
            client_stamps: Default::default(),
            shared: SharedRoutes::default(),
            acks: None,
        }
    }

    /// The index of `node`, if it was ever heard of.
    pub(crate) fn peer_index(&self, node: &str) -> Option<u32> {
        self.by_name.get(node).copied()
    }

    /// Peer `i`'s name.
    pub(crate) fn peer_name(&self, i: u32) -> &str {
        &self.peers[i as usize].name
    }

    /// The indexes of the nodes membership says are alive.
    pub(crate) fn alive_peers(&self) -> Vec<u32> {
        (0..self.peers.len() as u32)
            .filter(|&i| self.peers[i as usize].alive)
            .collect()
    }

    /// Whether `filter` is announced to other nodes at all.
    pub(crate) fn exportable(filter: &str) -> bool {
        !filter.starts_with("$SYS")
    }

    /// Whether a message on `topic` may leave this node.
    pub(crate) fn forwardable(topic: &str) -> bool {
        !topic.starts_with("$SYS")
    }

    /// Session `key` holds an exported subscription to `filter`; the
    /// update to announce when it is the filter's first.
    pub(crate) fn export(&mut self, filter: &str, key: SessionKey) -> Option<RouteUpdate> {
        if !Cluster::exportable(filter) {
            return None;
        }
        let holders = self.exported.entry(ByteString::from(filter)).or_default();
        let first = holders.is_empty();
        holders.insert(key);
        first.then(|| self.update(filter, true))
    }

    /// Whether session `key`'s subscription to `filter` is exported (not
    /// `$local/`).
    pub(crate) fn exports(&self, filter: &str, key: SessionKey) -> bool {
        self.exported
            .get(filter)
            .is_some_and(|holders| holders.contains(&key))
    }

    /// Session `key` no longer holds an exported subscription to `filter`;
    /// the update to announce when it was the filter's last.
    pub(crate) fn unexport(&mut self, filter: &str, key: SessionKey) -> Option<RouteUpdate> {
        let holders = self.exported.get_mut(filter)?;
        if !holders.remove(&key) || !holders.is_empty() {
            return None;
        }
        self.exported.remove(filter);
        Some(self.update(filter, false))
    }

    fn update(&mut self, filter: &str, added: bool) -> RouteUpdate {
        self.seq += 1;
        RouteUpdate {
            incarnation: self.incarnation,
            seq: self.seq,
            filter: ByteString::from(filter),
            added,
            members: 0,
        }
    }

    /// This node has `members` in the shared subscription group `name`;
    /// the update to announce when the count changed.
    pub(crate) fn export_shared(&mut self, name: &ByteString, members: u32) -> Option<RouteUpdate> {
        if !Cluster::exportable(crate::shared::split(name)?.filter.as_ref()) {
            return None;
        }
        if !self.shared.set_local(name, members) {
            return None;
        }
        let mut update = self.update(name, members > 0);
        update.members = members;
        Some(update)
    }

    /// Every exported filter, for a new link.
    pub(crate) fn snapshot(&self) -> RouteSnapshot {
        let mut filters: Vec<ByteString> = self.exported.keys().cloned().collect();
        filters.sort();
        RouteSnapshot {
            incarnation: self.incarnation,
            seq: self.seq,
            filters,
            shared: self.shared.local(),
        }
    }

    /// The index of `node`, made on first sight.
    fn peer(&mut self, node: &str) -> u32 {
        if let Some(&i) = self.by_name.get(node) {
            return i;
        }
        let i = self.peers.len() as u32;
        self.peers.push(Peer {
            name: ByteString::from(node),
            ..Peer::default()
        });
        self.by_name.insert(ByteString::from(node), i);
        i
    }

    /// Membership: `node` is alive.
    pub(crate) fn node_alive(&mut self, node: &str) {
        let i = self.peer(node);
        self.peers[i as usize].alive = true;
    }

    /// Membership: `node` is dead (its lease expired). Its routes are
    /// purged (returns how many); its clients' wills wait for
    /// [`Cluster::take_orphaned_wills`].
    pub(crate) fn node_dead(&mut self, node: &str) -> usize {
        let Some(&i) = self.by_name.get(node) else {
            return 0;
        };
        let peer = &mut self.peers[i as usize];
        peer.alive = false;
        peer.incarnation = None;
        peer.seq = 0;
        let wills: Vec<_> = peer
            .wills
            .drain()
            .map(|(c, (w, due))| (c, w, due))
            .collect();
        if !wills.is_empty() {
            self.orphaned_wills
                .entry(peer.name.clone())
                .or_default()
                .extend(wills);
        }
        let filters = std::mem::take(&mut peer.filters);
        for f in &filters {
            self.remote.remove(f, i);
        }
        filters.len() + self.shared.purge(i)
    }

    /// `node`'s full set of filters replaces what was known of it.
    pub(crate) fn apply_snapshot(&mut self, node: &str, snapshot: RouteSnapshot) {
        let i = self.peer(node);
        let peer = &mut self.peers[i as usize];
        let new: AHashSet<ByteString> = snapshot.filters.into_iter().collect();
        for gone in peer.filters.difference(&new) {
            self.remote.remove(gone, i);
        }
        for added in new.difference(&peer.filters) {
            self.remote.insert(added, i, ());
        }
        peer.filters = new;
        peer.incarnation = Some(snapshot.incarnation);
        peer.seq = snapshot.seq;
        self.shared.purge(i);
        for (name, members) in &snapshot.shared {
            if let Some(split) = crate::shared::split(name) {
                self.shared.set(i, name, &split.filter, *members);
            }
        }
    }

    /// One delta from `node`: applied when it is the next of the stream
    /// the last snapshot started; one the snapshot already included (sent
    /// while the link was being attached) is ignored; otherwise nothing
    /// changes and a new snapshot is needed.
    pub(crate) fn apply_update(&mut self, node: &str, update: &RouteUpdate) -> Applied {
        let i = self.peer(node);
        let peer = &mut self.peers[i as usize];
        if peer.incarnation == Some(update.incarnation) && update.seq <= peer.seq {
            return Applied::Yes;
        }
        if peer.incarnation != Some(update.incarnation) || update.seq != peer.seq + 1 {
            return Applied::NeedSnapshot;
        }
        peer.seq = update.seq;
        if let Some(split) = crate::shared::split(&update.filter) {
            let members = if update.added { update.members } else { 0 };
            self.shared.set(i, &update.filter, &split.filter, members);
            return Applied::Yes;
        }
        if update.added {
            if peer.filters.insert(update.filter.clone()) {
                self.remote.insert(&update.filter, i, ());
            }
        } else if peer.filters.remove(&update.filter) {
            self.remote.remove(&update.filter, i);
        }
        Applied::Yes
    }

    /// The nodes with a filter matching `topic`, once each, in index order.
    /// Hand the list back with [`Cluster::recycle`].
    pub(crate) fn nodes_for(&mut self, topic: &str) -> Vec<u32> {
        let mut list = std::mem::take(&mut self.matched);
        list.clear();
        if self.remote.is_empty() {
            return list;
        }
        self.remote.for_each_match(topic, |i, _| list.push(i));
        list.sort_unstable();
        list.dedup();
        list
    }

    /// Takes back the list [`Cluster::nodes_for`] gave out.
    pub(crate) fn recycle(&mut self, list: Vec<u32>) {
        self.matched = list;
    }

    /// Peer `i`'s name, counting a forwarded message.
    pub(crate) fn forwarded_to(&mut self, i: u32) -> ByteString {
        let peer = &mut self.peers[i as usize];
        peer.forwarded += 1;
        peer.name.clone()
    }

    /// `node`'s client `client_id` has `will` (or none any more), due at
    /// `due` if its delay runs.
    pub(crate) fn set_will(
        &mut self,
        node: &str,
        client_id: ByteString,
        will: Option<Publish>,
        due: Option<Instant>,
    ) {
        let i = self.peer(node);
        let wills = &mut self.peers[i as usize].wills;
        match will {
            Some(w) => {
                wills.insert(client_id, (w, due));
            }
            None => {
                wills.remove(&client_id);
            }
        }
    }

    /// Every will `node` announced, replaced by `all` (a new link).
    pub(crate) fn set_wills(
        &mut self,
        node: &str,
        all: impl Iterator<Item = (ByteString, (Publish, Option<Instant>))>,
    ) {
        let i = self.peer(node);
        self.peers[i as usize].wills = all.collect();
    }

    /// The wills of dead `node`'s clients, once: client id, will, and when
    /// it is due if its delay runs.
    pub(crate) fn take_orphaned_wills(
        &mut self,
        node: &str,
    ) -> Vec<(ByteString, Publish, Option<Instant>)> {
        self.orphaned_wills.remove(node).unwrap_or_default()
    }

    /// This node told the others `client_id`'s will (`true`) or that it
    /// is gone; returns whether a "gone" must be told (it was announced).
    pub(crate) fn note_own_will(&mut self, client_id: &ByteString, announced: bool) -> bool {
        if announced {
            self.announced_wills.insert(client_id.clone());
            true
        } else {
            self.announced_wills.remove(client_id)
        }
    }

    /// Counts a message received from `node`.
    pub(crate) fn received_from(&mut self, node: &str) {
        let i = self.peer(node);
        self.peers[i as usize].received += 1;
    }

    /// Every other node this one has heard of, by name.
    pub(crate) fn rows(&self) -> Vec<NodeRow> {
        let mut rows: Vec<NodeRow> = self
            .peers
            .iter()
            .map(|p| NodeRow {
                name: p.name.to_string(),
                alive: p.alive,
                routes: p.filters.len(),
                wills: p.wills.len(),
                forwarded: p.forwarded,
                received: p.received,
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        rows
    }

    /// Filters this node exports.
    pub(crate) fn exported_len(&self) -> usize {
        self.exported.len()
    }

    /// `$SYS/broker/cluster/...` suffixes and values.
    pub(crate) fn sys_values(&self) -> Vec<(String, String)> {
        let rows = self.rows();
        let alive = rows.iter().filter(|r| r.alive).count() + 1;
        let mut values = vec![
            ("cluster/node".to_string(), self.node.to_string()),
            ("cluster/nodes/alive".to_string(), alive.to_string()),
            (
                "cluster/routes/exported".to_string(),
                self.exported.len().to_string(),
            ),
            (
                "cluster/sessions/owned".to_string(),
                self.claims.owned_len().to_string(),
            ),
            (
                "cluster/cut_off".to_string(),
                u8::from(self.claims.cut_off).to_string(),
            ),
            (
                "cluster/shared/exported".to_string(),
                self.shared.local_len().to_string(),
            ),
            (
                "cluster/shared/dropped".to_string(),
                self.shared.dropped.to_string(),
            ),
        ];
        if let Some(acks) = &self.acks {
            values.push((
                "cluster/acks/waiting".to_string(),
                acks.open_len().to_string(),
            ));
            values.push((
                "cluster/acks/timed_out".to_string(),
                acks.timed_out.to_string(),
            ));
        }
        for r in rows {
            let at = format!("cluster/nodes/{}", r.name);
            let state = if r.alive { "alive" } else { "dead" };
            values.push((format!("{at}/state"), state.to_string()));
            values.push((format!("{at}/routes"), r.routes.to_string()));
            values.push((format!("{at}/wills"), r.wills.to_string()));
            values.push((format!("{at}/forwarded"), r.forwarded.to_string()));
            values.push((format!("{at}/received"), r.received.to_string()));
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_announced_once_and_withdrawn_with_its_last_holder() {
        let mut c = Cluster::new("n1", 7);
        let first = c.export("a/+", 1).expect("first holder announces");
        assert_eq!((first.incarnation, first.seq, first.added), (7, 1, true));
        assert!(c.export("a/+", 2).is_none());
        assert!(c.unexport("a/+", 1).is_none());
        let last = c.unexport("a/+", 2).expect("last holder withdraws");
        assert_eq!((last.seq, last.added), (2, false));
        assert!(c.unexport("a/+", 2).is_none());
        assert!(c.export("$SYS/#", 3).is_none(), "$SYS stays on its node");
    }

    #[test]
    fn deltas_apply_in_order_after_a_snapshot_only() {
        let mut c = Cluster::new("n1", 1);
        let update = |seq, filter: &str, added| RouteUpdate {
            incarnation: 9,
            seq,
            filter: filter.into(),
            added,
            members: 0,
        };
        assert_eq!(
            c.apply_update("n2", &update(1, "x", true)),
            Applied::NeedSnapshot
        );
        c.apply_snapshot(
            "n2",
            RouteSnapshot {
                incarnation: 9,
                seq: 4,
                filters: vec!["a/#".into()],
                ..RouteSnapshot::default()
            },
        );
        assert_eq!(
            c.apply_update("n2", &update(6, "b", true)),
            Applied::NeedSnapshot
        );
        assert_eq!(c.apply_update("n2", &update(5, "b", true)), Applied::Yes);
        // Included in the snapshot already: ignored, no resync.
        assert_eq!(c.apply_update("n2", &update(3, "z", true)), Applied::Yes);
        assert_eq!(c.rows()[0].routes, 2);
        let nodes = c.nodes_for("b");
        assert_eq!(nodes, vec![0]);
        c.recycle(nodes);
        assert_eq!(c.apply_update("n2", &update(6, "b", false)), Applied::Yes);
        let nodes = c.nodes_for("b");
        assert!(nodes.is_empty());
        c.recycle(nodes);
        let stale = RouteUpdate {
            incarnation: 8,
            ..update(7, "c", true)
        };
        assert_eq!(c.apply_update("n2", &stale), Applied::NeedSnapshot);
    }

    #[test]
    fn a_dead_node_loses_every_route() {
        let mut c = Cluster::new("n1", 1);
        c.node_alive("n2");
        c.apply_snapshot(
            "n2",
            RouteSnapshot {
                incarnation: 3,
                seq: 2,
                filters: vec!["a/#".into(), "a/b".into()],
                ..RouteSnapshot::default()
            },
        );
        let nodes = c.nodes_for("a/b");
        assert_eq!(nodes, vec![0], "one node, once, however many filters match");
        c.recycle(nodes);
        assert_eq!(c.node_dead("n2"), 2);
        let nodes = c.nodes_for("a/b");
        assert!(nodes.is_empty());
        c.recycle(nodes);
        assert!(!c.rows()[0].alive);
    }
}
