//! Cluster: the data of delayed wills across nodes (the rules are
//! `cluster_wills`'): a will as it crosses to the other nodes
//! ([`NodeWill`]), and the wills of dead nodes' clients this node won and
//! publishes when due ([`PendingWills`]).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytestring::ByteString;
use hornet_codec::Publish;

/// One will a node holds for its client, as it crosses to the others
/// (`Broker::cluster_wills`, `Broker::node_wills`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeWill {
    /// The client.
    pub client_id: ByteString,
    /// The will as a PUBLISH.
    pub will: Publish,
    /// `None`: the client is connected (the will goes when its node dies);
    /// else the time left before it is due (its Will Delay Interval runs).
    pub due_in: Option<Duration>,
}

/// Wills of dead nodes' clients that this node won and publishes when
/// their delay ends, by client id and by due time; and the standby copies
/// of those another survivor won, kept until it says it published them (or
/// the node comes back, or the client is claimed again), so that the
/// winner of a new election publishes them if that survivor dies too.
#[derive(Debug, Default)]
pub(crate) struct PendingWills {
    by_client: AHashMap<ByteString, (Instant, ByteString, Publish)>,
    by_due: BTreeSet<(Instant, ByteString)>,
    /// Standby copies: client id -> (due, its dead node, the will).
    standby: AHashMap<ByteString, (Instant, ByteString, Publish)>,
}

impl PendingWills {
    /// Holds `will` of dead `node`'s client `client_id` until `due`.
    pub(crate) fn hold(
        &mut self,
        client_id: ByteString,
        node: ByteString,
        due: Instant,
        will: Publish,
    ) {
        self.take(&client_id);
        self.by_due.insert((due, client_id.clone()));
        self.by_client.insert(client_id, (due, node, will));
    }

    /// Takes `client_id`'s will out: its node and the will.
    pub(crate) fn take(&mut self, client_id: &str) -> Option<(ByteString, Publish)> {
        let (due, node, will) = self.by_client.remove(client_id)?;
        self.by_due.remove(&(due, ByteString::from(client_id)));
        Some((node, will))
    }

    /// The earliest due time.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.by_due.first().map(|(at, _)| *at)
    }

    /// Takes the earliest will due at `now`, with its client id.
    pub(crate) fn next_due(&mut self, now: Instant) -> Option<(ByteString, Publish)> {
        let (at, client_id) = self.by_due.first()?.clone();
        if at > now {
            return None;
        }
        self.take(&client_id).map(|(_, will)| (client_id, will))
    }

    /// Drops the wills of `node`'s clients, standby copies included; how
    /// many.
    pub(crate) fn drop_node(&mut self, node: &str) -> usize {
        let gone: Vec<ByteString> = self
            .by_client
            .iter()
            .filter(|(_, (_, n, _))| *n == *node)
            .map(|(c, _)| c.clone())
            .collect();
        for c in &gone {
            self.take(c);
        }
        let before = self.standby.len();
        self.standby.retain(|_, (_, n, _)| *n != *node);
        gone.len() + before - self.standby.len()
    }

    /// Keeps a standby copy of `will` of dead `node`'s client `client_id`,
    /// due at `due`, which another survivor publishes.
    pub(crate) fn hold_standby(
        &mut self,
        client_id: ByteString,
        node: ByteString,
        due: Instant,
        will: Publish,
    ) {
        self.standby.insert(client_id, (due, node, will));
    }

    /// Takes `client_id`'s standby copy out: when it was due, its node
    /// and the will.
    pub(crate) fn take_standby(
        &mut self,
        client_id: &str,
    ) -> Option<(Instant, ByteString, Publish)> {
        self.standby.remove(client_id)
    }

    /// Takes out the standby copies of dead `node`'s clients' wills (this
    /// node won them now): client id, will, due.
    pub(crate) fn take_standby_of(&mut self, node: &str) -> Vec<(ByteString, Publish, Instant)> {
        let ids: Vec<ByteString> = self
            .standby
            .iter()
            .filter(|(_, (_, n, _))| *n == *node)
            .map(|(c, _)| c.clone())
            .collect();
        ids.into_iter()
            .filter_map(|c| {
                let (due, _, will) = self.standby.remove(&c)?;
                Some((c, will, due))
            })
            .collect()
    }

    /// Every will this node was to publish becomes a standby copy (its
    /// election keys went with its expired lease: the others elected
    /// again). How many.
    pub(crate) fn demote_all(&mut self) -> usize {
        let ids: Vec<ByteString> = self.by_client.keys().cloned().collect();
        for c in &ids {
            if let Some((due, node, will)) = self.by_client.remove(c) {
                self.by_due.remove(&(due, c.clone()));
                self.standby.insert(c.clone(), (due, node, will));
            }
        }
        ids.len()
    }

    /// The dead nodes whose clients' wills this node holds as standby
    /// copies, each once.
    pub(crate) fn standby_nodes(&self) -> Vec<ByteString> {
        let mut nodes: Vec<ByteString> = self.standby.values().map(|(_, n, _)| n.clone()).collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// Standby copies held.
    pub(crate) fn standby_len(&self) -> usize {
        self.standby.len()
    }

    /// Wills held.
    pub(crate) fn len(&self) -> usize {
        self.by_client.len()
    }
}
