//! The cluster's MQTT rules, as inputs and actions (the shell only moves
//! bytes between nodes and reports membership; see `docs/cluster.md`).
//!
//! - Routes: a plain subscription that is not `$local/` exports its
//!   filter; the first holder of a filter emits [`Action::Routes`]
//!   (added), the last one to leave emits it withdrawn. Another node's
//!   routes arrive as a snapshot ([`Broker::node_routes`], first on every
//!   link) and then as deltas ([`Broker::node_route_update`]) checked
//!   against its incarnation and sequence number; a gap asks for a new
//!   snapshot ([`Action::Resync`]).
//! - Forwarding: a message accepted here (from a client, a will, the
//!   admin API) is routed to local subscribers, then sent once to each
//!   other node with a matching filter ([`Action::Forward`]), however many
//!   of its subscribers match. A message from another node
//!   ([`Broker::node_publish`]) reaches local subscribers only, never
//!   forwarded again (no loops). `$SYS` never crosses.
//! - Shared subscriptions: each node announces, per group, how many
//!   members it has (a route update at every change of the count). The
//!   node that accepts a message makes each matching group's one delivery:
//!   a weighted round robin over its own members and the other nodes'
//!   (`cluster_shared`) picks here (a member, by the group's strategy) or
//!   a node, which gets the message marked with the group
//!   ([`Broker::node_publish_to`]) and delivers it to one of its members;
//!   no other node delivers it to that group. A marked group with no
//!   member left on arrival is dropped, counted and logged.
//! - Retained messages: every set and delete accepted here is told to every
//!   node with its stamp; a node applies what it is told only if newer
//!   than what it holds (last write wins, deletes kept as tombstones), and
//!   a new link starts with the sender's whole set and tombstones: see
//!   `retained_order`.
//! - Membership: a node is dead exactly when membership says so
//!   ([`Broker::node_dead`]: its etcd lease expired); its routes are purged
//!   then, not when a link drops.
//! - Client ids: a clean-session client that connects here is announced
//!   with a stamp of the node's hybrid logical clock
//!   ([`Action::Takeover`]); a node where the same client id is connected
//!   closes that connection with DISCONNECT 0x8E
//!   ([`Broker::node_client_connected`]), as one node does, unless its
//!   own connection's stamp is newer (`client_stamps`): the newest CONNECT
//!   wins on every node, so two CONNECTs at once on two nodes leave
//!   exactly one winner. Persistent sessions are claimed through etcd
//!   instead (`claiming`, `moving`).
//! - Wills: every node holds the wills of the other nodes' connected
//!   clients ([`Action::Will`] when a client with a will connects, and
//!   when its connection ends and the will is handled on its node). When a
//!   node dies its clients' wills wait until the shell reports the etcd
//!   election for them ([`Broker::dead_node_wills`]): the one survivor
//!   that won publishes them, as if each client had sent it.

use std::time::Instant;

use bytestring::ByteString;
use hornet_codec::Publish;

use crate::broker::Broker;
use crate::cluster::{Applied, Cluster, NodeRow, RouteSnapshot, RouteUpdate};
use crate::cluster_shared::{group_name, Choice};
use crate::exclusive::{self, Indexed};
use crate::ids::SessionKey;
use crate::out::Action;
use crate::pending_wills::NodeWill;
use crate::stamp::Stamp;

impl Broker {
    /// Makes this broker node `node` of a cluster, in `incarnation` (a
    /// number new at every start: the etcd lease id). Subscriptions
    /// restored before count as exported, except `$local/` ones.
    pub fn enable_cluster(&mut self, node: &str, incarnation: u64) {
        let mut cluster = Cluster::new(node, incarnation);
        let mut groups = Vec::new();
        for key in self.sessions.keys().collect::<Vec<_>>() {
            let session = &self.sessions[&key];
            for filter in session.subscriptions.keys() {
                if self.local_marks.is_local(key, filter) {
                    continue; // `$local/`: this node's own
                }
                match crate::shared::split(filter) {
                    // An exclusive subscription is kept under the name the
                    // client used; the other nodes route by its filter.
                    None => match exclusive::indexed(self.settings.exclusive_subscriptions, filter)
                    {
                        Indexed::Plain(f) | Indexed::Exclusive(f) => {
                            cluster.export(&f, key);
                        }
                        Indexed::Invalid => {}
                    },
                    Some(name) => groups.push(name),
                }
            }
        }
        for name in groups {
            let members = self.shared.members(&name);
            cluster.export_shared(&group_name(&name.group, &name.filter), members);
        }
        self.cluster = Some(Box::new(cluster));
        self.hlc.set_node(node);
        // Client ids the broker assigns are unique across the cluster (a
        // connection announced with another node's id would be taken over).
        self.settings.auto_id_prefix = format!("{}{node}-", self.settings.auto_id_prefix);
    }

    /// This node's name, when it is part of a cluster.
    pub fn cluster_node(&self) -> Option<&str> {
        self.cluster.as_deref().map(|c| &*c.node)
    }

    /// Every filter this node exports, for the start of a new link.
    pub fn cluster_snapshot(&self) -> Option<RouteSnapshot> {
        Some(self.cluster.as_deref()?.snapshot())
    }

    /// What this node knows of the others, by name.
    pub fn cluster_nodes(&self) -> Vec<NodeRow> {
        self.cluster.as_deref().map_or_else(Vec::new, Cluster::rows)
    }

    /// Filters this node announces to the others.
    pub fn cluster_exported(&self) -> usize {
        self.cluster.as_deref().map_or(0, Cluster::exported_len)
    }

    /// Messages forwarded here for a shared subscription group that had
    /// no member left here (dropped; see [`Broker::node_publish_to`]).
    pub fn cluster_shared_dropped(&self) -> u64 {
        self.cluster.as_deref().map_or(0, |c| c.shared.dropped)
    }

    /// Membership: `node` joined (its key appeared).
    pub fn node_alive(&mut self, now: Instant, node: &str) {
        self.now = now;
        if let Some(c) = self.cluster.as_deref_mut() {
            c.node_alive(node);
            tracing::info!("Cluster: node {node} is alive.");
            self.cluster_wills_node_back(node);
        }
    }

    /// Membership: `node` is dead (its lease expired): its routes go.
    pub fn node_dead(&mut self, now: Instant, node: &str) {
        self.now = now;
        if let Some(c) = self.cluster.as_deref_mut() {
            let purged = c.node_dead(node);
            tracing::warn!(
                "Cluster: node {node} is dead (its lease expired); {purged} routes to it purged."
            );
            if let Some(peer) = c.peer_index(node) {
                self.acks_node_dead(peer, node);
            }
        }
    }

    /// `node`'s whole set of exported filters (the start of its link).
    pub fn node_routes(&mut self, now: Instant, node: &str, snapshot: RouteSnapshot) {
        self.now = now;
        if let Some(c) = self.cluster.as_deref_mut() {
            tracing::debug!(
                "Cluster: {} routes from {node} (incarnation {}, at {}).",
                snapshot.filters.len(),
                snapshot.incarnation,
                snapshot.seq
            );
            c.apply_snapshot(node, snapshot);
        }
    }

    /// One change of `node`'s exported filters.
    pub fn node_route_update(&mut self, now: Instant, node: &str, update: RouteUpdate) {
        self.now = now;
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        if c.apply_update(node, &update) == Applied::NeedSnapshot {
            tracing::warn!(
                "Cluster: route update {} (incarnation {}) from {node} is out of order; \
                 asking for a snapshot.",
                update.seq,
                update.incarnation
            );
            self.out.cluster(Action::Resync {
                node: ByteString::from(node),
            });
        }
    }

    /// A message `node` forwarded: delivered to this node's plain
    /// subscribers only (no shared group: see [`Broker::node_publish_to`]).
    /// Returns whether one matched.
    pub fn node_publish(&mut self, now: Instant, node: &str, publish: Publish) -> bool {
        self.node_publish_to(now, node, publish, true, Vec::new())
    }

    /// A message `node` forwarded: delivered to this node's plain
    /// subscribers if `plain`, and to one member here of each shared
    /// subscription group of `groups` (by name), whose one delivery the
    /// sending node gave this node. A group with no member here any more
    /// is not served (counted in `$SYS/broker/cluster/shared/dropped` and
    /// logged). Returns whether a subscriber got it.
    pub fn node_publish_to(
        &mut self,
        now: Instant,
        node: &str,
        mut publish: Publish,
        plain: bool,
        groups: Vec<ByteString>,
    ) -> bool {
        self.now = now;
        let Some(c) = self.cluster.as_deref_mut() else {
            return false;
        };
        c.received_from(node);
        publish.dup = false;
        publish.packet_id = None;
        let mut ids = Vec::with_capacity(groups.len());
        for name in &groups {
            let id = crate::shared::split(name).and_then(|n| {
                self.shared.id_of(&crate::shared::SharedGroup {
                    name: n.group,
                    filter: n.filter,
                })
            });
            match id {
                Some(id) => ids.push(id),
                None => {
                    c.shared.dropped += 1;
                    tracing::warn!(
                        "Cluster: node {node} sent '{}' for shared group {name}, which has no \
                         member here any more; dropped (its member left while the message \
                         crossed).",
                        publish.topic
                    );
                }
            }
        }
        self.route_to(&publish, None, plain, Some(ids))
    }

    /// Session `key` subscribed to `filter` (`exported`: not `$local/`),
    /// or joined the shared subscription group `filter`.
    pub(crate) fn cluster_subscribed(&mut self, filter: &str, key: SessionKey, exported: bool) {
        if self.cluster_shared_changed(filter) {
            return;
        }
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        let update = if exported {
            c.export(filter, key)
        } else {
            // A `$local/` subscription replacing an exported one.
            c.unexport(filter, key)
        };
        if let Some(update) = update {
            self.announce(update);
        }
    }

    /// Session `key` no longer subscribes to the plain `filter`, or left
    /// the shared subscription group `filter`.
    pub(crate) fn cluster_unsubscribed(&mut self, filter: &str, key: SessionKey) {
        if self.cluster_shared_changed(filter) {
            return;
        }
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        if let Some(update) = c.unexport(filter, key) {
            self.announce(update);
        }
    }

    /// Tells the other nodes `update`; a SUBACK emitted next waits for
    /// every live node to apply it (`acknowledging`).
    fn announce(&mut self, update: RouteUpdate) {
        if let Some(c) = self.cluster.as_deref_mut() {
            let alive = c.alive_peers();
            if let Some(acks) = c.acks.as_mut() {
                for peer in alive {
                    acks.also(peer, update.ack_token());
                }
            }
        }
        self.out.cluster(Action::Routes { update });
    }

    /// When `filter` names a shared subscription group: announces this
    /// node's member count in it if it changed, and returns true.
    fn cluster_shared_changed(&mut self, filter: &str) -> bool {
        let Some(name) = crate::shared::split(&ByteString::from(filter)) else {
            return false;
        };
        let members = self.shared.members(&name);
        if let Some(c) = self.cluster.as_deref_mut() {
            let full = group_name(&name.group, &name.filter);
            if let Some(update) = c.export_shared(&full, members) {
                self.announce(update);
            }
        }
        true
    }

    /// The cluster-wide name of shared group `group` when another node
    /// has members in it.
    pub(crate) fn cluster_group_elsewhere(
        &self,
        group: crate::shared::GroupId,
    ) -> Option<ByteString> {
        let c = self.cluster.as_deref()?;
        let g = self.shared.name_of(group)?;
        let name = group_name(&g.name, &g.filter);
        c.shared.has_members(&name).then_some(name)
    }

    /// Hands `msg`, which a leaving member of shared group `name` had not
    /// acknowledged, to another node with members of the group (its turn
    /// by member count); whether one took it.
    pub(crate) fn cluster_hand_over(&mut self, name: &ByteString, msg: &Publish) -> bool {
        let Some(c) = self.cluster.as_deref_mut() else {
            return false;
        };
        let Some(Choice::Peer(peer)) = c.shared.choose(name, 0) else {
            return false;
        };
        let mut msg = msg.clone();
        msg.packet_id = None;
        msg.dup = false;
        msg.properties
            .retain(|p| !matches!(p, hornet_codec::Property::SubscriptionIdentifier(_)));
        let node = c.forwarded_to(peer);
        self.out.cluster(Action::Forward {
            node,
            publish: Box::new(msg),
            plain: false,
            groups: vec![name.clone()],
            ack: 0,
        });
        true
    }

    /// Routes a message accepted on this cluster node: to the local
    /// plain subscribers, once to each other node with a matching filter,
    /// and each matching shared group's one delivery here or on the node
    /// whose turn it is. Returns whether anybody anywhere matched.
    pub(crate) fn route_clustered(
        &mut self,
        now: Instant,
        publish: &Publish,
        origin: Option<SessionKey>,
    ) -> bool {
        let Some(c) = self.cluster.as_deref_mut() else {
            return self.route(now, publish, origin);
        };
        // Tokens for the forwards a client's acknowledgement waits for.
        let acked = publish.qos != hornet_codec::QoS::AtMostOnce && c.acks.is_some();
        if let Some(acks) = c.acks.as_mut() {
            acks.discard();
        }
        let token = |c: &mut Cluster, peer: u32| match c.acks.as_mut() {
            Some(acks) if acked => acks.token(peer),
            _ => 0,
        };
        if !Cluster::forwardable(&publish.topic) {
            return self.route(now, publish, origin);
        }
        // Shared groups: served here, or by the node whose turn it is.
        let mut here = Vec::new();
        let mut there: Vec<(u32, ByteString)> = Vec::new();
        let mut remote = Vec::new();
        c.shared.matching(&publish.topic, &mut remote);
        if self.shared.len() > 0 {
            let mut local = self.shared.matching_groups(&publish.topic);
            for &id in &local {
                let Some(group) = self.shared.name_of(id) else {
                    continue;
                };
                let name = group_name(&group.name, &group.filter);
                remote.retain(|n| *n != name);
                match c.shared.choose(&name, self.shared.members_of(id)) {
                    Some(Choice::Peer(peer)) => there.push((peer, name)),
                    _ => here.push(id),
                }
            }
            // Handed back empty: the next match appends to it.
            local.clear();
            self.shared.recycle(local);
        }
        for name in remote {
            if let Some(Choice::Peer(peer)) = c.shared.choose(&name, 0) {
                there.push((peer, name));
            }
        }
        let nodes = c.nodes_for(&publish.topic);
        let mut matched = !nodes.is_empty() || !there.is_empty();
        if there.is_empty() {
            for &peer in &nodes {
                let node = c.forwarded_to(peer);
                let ack = token(c, peer);
                self.out.cluster(Action::Forward {
                    node,
                    publish: Box::new(publish.clone()),
                    plain: true,
                    groups: Vec::new(),
                    ack,
                });
            }
        } else {
            let mut peers: Vec<u32> = nodes
                .iter()
                .copied()
                .chain(there.iter().map(|t| t.0))
                .collect();
            peers.sort_unstable();
            peers.dedup();
            for peer in peers {
                let groups = there
                    .iter()
                    .filter(|t| t.0 == peer)
                    .map(|t| t.1.clone())
                    .collect();
                let plain = nodes.binary_search(&peer).is_ok();
                let node = c.forwarded_to(peer);
                let ack = token(c, peer);
                self.out.cluster(Action::Forward {
                    node,
                    publish: Box::new(publish.clone()),
                    plain,
                    groups,
                    ack,
                });
            }
        }
        c.recycle(nodes);
        matched |= self.route_to(publish, origin, true, Some(here));
        matched
    }

    /// The wills of this node's connected clients, and of its
    /// disconnected ones whose Will Delay Interval runs (with the time
    /// left at `now`), for the start of a new link.
    pub fn cluster_wills(&self, now: Instant) -> Vec<NodeWill> {
        let mut all: Vec<NodeWill> = self
            .conns
            .values()
            .filter(|c| c.state.is_connected())
            .filter_map(|c| {
                let will = c.will.as_deref()?.clone();
                Some(NodeWill {
                    client_id: c.client_id.clone(),
                    will: crate::ending::will_message(will),
                    due_in: None,
                })
            })
            .collect();
        for (key, due, will) in self.delayed_wills.iter() {
            let Some(session) = self.sessions.get(&key) else {
                continue;
            };
            let expiry = session.disconnected_at.and_then(|at| {
                let secs = session.expiry_interval;
                (secs != crate::session::NEVER_EXPIRES)
                    .then(|| at + std::time::Duration::from_secs(u64::from(secs)))
            });
            let due = expiry.map_or(due, |e| e.min(due));
            all.push(NodeWill {
                client_id: session.client_id.clone(),
                will: crate::ending::will_message(will.clone()),
                due_in: Some(due.saturating_duration_since(now)),
            });
        }
        all
    }

    /// `node`'s client `client_id` has `will` (`None`: not any more):
    /// connected (`due_in` `None`), or disconnected with its Will Delay
    /// Interval running, due after `due_in`. No will with a `due_in`:
    /// `node` published the delayed will of dead node's client
    /// `client_id`, which it had won (standby copies here go).
    pub fn node_will(
        &mut self,
        now: Instant,
        node: &str,
        client_id: ByteString,
        will: Option<Publish>,
        due_in: Option<std::time::Duration>,
    ) {
        self.now = now;
        if will.is_none() && due_in.is_some() {
            // Not its client's will: `node` published a dead node's
            // client's delayed will it had won (`cluster_wills`).
            self.inherited_will_gone(&client_id);
            return;
        }
        if let Some(c) = self.cluster.as_deref_mut() {
            let will = will.map(|mut w| {
                w.detach();
                w
            });
            c.set_will(node, client_id, will, due_in.map(|d| now + d));
        }
    }

    /// Every will `node` holds for its clients (the start of its link).
    pub fn node_wills(&mut self, now: Instant, node: &str, all: Vec<NodeWill>) {
        self.now = now;
        if let Some(c) = self.cluster.as_deref_mut() {
            c.set_wills(
                node,
                all.into_iter().map(|mut w| {
                    w.will.detach();
                    (w.client_id, (w.will, w.due_in.map(|d| now + d)))
                }),
            );
        }
    }

    /// Dead `node`'s clients' wills: published here when this node won the
    /// election for them (`publish`), dropped otherwise. Returns how many.
    pub fn dead_node_wills(&mut self, now: Instant, node: &str, publish: bool) -> usize {
        self.now = now;
        let Some(c) = self.cluster.as_deref_mut() else {
            return 0;
        };
        let wills = c.take_orphaned_wills(node);
        let n = wills.len();
        if publish && n > 0 {
            tracing::info!("Cluster: publishing the wills of {n} clients of dead node {node}.");
            self.publish_orphaned_wills(now, node, wills);
        } else if n > 0 {
            self.keep_standby_wills(now, node, wills);
        }
        n
    }

    /// This node's client `client_id` connected (with `will`) on
    /// connection `id`: the others take over a connection with its id
    /// unless theirs is newer (the announcement carries a stamp, kept
    /// here until the connection ends: `client_stamps`), and hold the
    /// will. (`announce`: false for a client id claimed in etcd, see
    /// `claiming`.)
    pub(crate) fn cluster_connected(
        &mut self,
        now: Instant,
        id: crate::ids::ConnId,
        client_id: ByteString,
        will: Option<hornet_codec::LastWill>,
        announce: bool,
    ) {
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        if announce {
            let stamp = self.hlc.next(self.journal.unix_ms(now));
            c.client_stamps.set(client_id.clone(), id, stamp.clone());
            self.out.cluster(Action::Takeover {
                client_id: client_id.clone(),
                stamp,
            });
        }
        if let Some(will) = will {
            c.note_own_will(&client_id, true);
            self.out.cluster(Action::Will {
                client_id,
                will: Some(Box::new(crate::ending::will_message(will))),
                due_in: None,
            });
        }
    }

    /// Client `client_id` connected on `node` at `stamp`: a connection
    /// with that id here is taken over (DISCONNECT 0x8E for MQTT 5, then
    /// closed; its will published, as on one node) unless it is newer
    /// (its own announcement's stamp is later: the newest CONNECT wins on
    /// every node, however the announcements cross). A connection here
    /// without a stamp (a claimed persistent session, or one from before
    /// the cluster) is always taken over. Its session, if persistent,
    /// stays here.
    pub fn node_client_connected(
        &mut self,
        now: Instant,
        node: &str,
        client_id: ByteString,
        stamp: Stamp,
    ) {
        self.now = now;
        let Some(c) = self.cluster.as_deref() else {
            return;
        };
        self.hlc.observe(&stamp);
        let connected = self
            .sessions
            .key_of(&client_id)
            .is_some_and(|k| self.sessions[&k].conn.is_some());
        if !connected {
            return;
        }
        if let Some(own) = c.client_stamps.get(&client_id) {
            if *own > stamp {
                tracing::info!(
                    "Cluster: client {client_id} connected on node {node} ({stamp:?}), before \
                     its connection here ({own:?}); the one here stays."
                );
                return;
            }
        }
        tracing::info!(
            "Cluster: client {client_id} connected on node {node}; taking it over here."
        );
        self.take_over(now, &client_id);
    }

    /// This node's client `client_id`'s connection ended: if the others
    /// hold its will, they drop it.
    pub(crate) fn cluster_will_gone(&mut self, client_id: &ByteString) {
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        if c.note_own_will(client_id, false) {
            self.out.cluster(Action::Will {
                client_id: client_id.clone(),
                will: None,
                due_in: None,
            });
        }
    }

    /// `$SYS/broker/cluster/...` suffixes and values (none when off).
    pub(crate) fn cluster_sys_values(&self) -> Vec<(String, String)> {
        self.cluster
            .as_deref()
            .map_or_else(Vec::new, Cluster::sys_values)
    }
}
