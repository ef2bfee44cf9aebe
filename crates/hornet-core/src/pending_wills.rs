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
/// their delay ends, by client id and by due time.
#[derive(Debug, Default)]
pub(crate) struct PendingWills {
    by_client: AHashMap<ByteString, (Instant, ByteString, Publish)>,
    by_due: BTreeSet<(Instant, ByteString)>,
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

    /// Takes the earliest will due at `now`.
    pub(crate) fn next_due(&mut self, now: Instant) -> Option<Publish> {
        let (at, client_id) = self.by_due.first()?.clone();
        if at > now {
            return None;
        }
        self.take(&client_id).map(|(_, will)| will)
    }

    /// Drops the wills of `node`'s clients; how many.
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
        gone.len()
    }

    /// Wills held.
    pub(crate) fn len(&self) -> usize {
        self.by_client.len()
    }
}
