//! Cluster: what this node knows of the ownership of client ids with
//! persistent sessions, claimed through etcd (the rules are
//! `claiming`'s; see `docs/cluster.md`). Plain data: the revision each
//! session held here was claimed at, the claims under way and the highest
//! revision seen meanwhile for their client ids (a claim older than one
//! seen lost the race), whether this node is cut off from the etcd quorum,
//! and what to do with a session whose owner is dead.

use std::fmt;
use std::str::FromStr;

use ahash::AHashMap;
use bytestring::ByteString;
use hornet_codec::{Publish, SubscriptionOptions};

use crate::ids::ConnId;

/// What a node does with a CONNECT for a persistent session that etcd
/// says another node owns when that node is dead (`[cluster]
/// orphan_sessions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrphanSessions {
    /// CONNACK 0x88 Server unavailable (3.x: 0x03) until the owner comes
    /// back (or an operator deletes the etcd key): its session, queued
    /// messages included, is not silently replaced.
    #[default]
    Refuse,
    /// The client id is claimed here and the client gets a new session
    /// (Session Present 0); the dead node's session is abandoned.
    Fresh,
}

impl FromStr for OrphanSessions {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "refuse" => Ok(OrphanSessions::Refuse),
            "fresh" => Ok(OrphanSessions::Fresh),
            other => Err(format!(
                "unknown orphan_sessions {other:?}: expected \"refuse\" or \"fresh\""
            )),
        }
    }
}

impl fmt::Display for OrphanSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OrphanSessions::Refuse => "refuse",
            OrphanSessions::Fresh => "fresh",
        })
    }
}

/// A persistent session crossing from the node that held it to the node
/// that claimed its client id (`Action::MoveSession`, then
/// [`Broker::node_session`](crate::Broker::node_session)): fenced by the
/// claim's revision, which the receiver must be waiting for.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionMove {
    /// The client.
    pub client_id: ByteString,
    /// The revision of the claim that took it.
    pub revision: u64,
    /// Its Session Expiry Interval.
    pub expiry_interval: u32,
    /// Its subscriptions.
    pub subscriptions: Vec<MovedSubscription>,
    /// The messages it had not finished: unacknowledged ones first, in the
    /// order they were sent, then the queue.
    pub messages: Vec<Publish>,
    /// Inbound QoS 2 packet ids received and not yet released: a PUBREL
    /// for one on the new node is answered PUBCOMP 0x00, and a resent
    /// PUBLISH with one is acknowledged, not delivered again
    /// [MQTT-4.3.3-10] [MQTT-4.3.3-11].
    pub incoming_qos2: Vec<u16>,
}

/// One subscription of a [`SessionMove`].
#[derive(Debug, Clone, PartialEq)]
pub struct MovedSubscription {
    /// The filter as the session holds it (`$share/...`, `$exclusive/...`
    /// kept; a `$local/` subscription under its plain filter, see `local`).
    pub filter: ByteString,
    /// Its options.
    pub options: SubscriptionOptions,
    /// Its MQTT 5 Subscription Identifier.
    pub identifier: Option<u32>,
    /// Made with EMQX's `$local/`: it stays local on the new node too (no
    /// route exported to the other nodes).
    pub local: bool,
}

/// The answer to an [`Action::Claim`](crate::Action::Claim), for
/// [`Broker::claim_result`](crate::Broker::claim_result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimResult {
    /// The client id's key now names this node, written at `revision`
    /// (etcd's, which orders every claim of the cluster).
    Won {
        /// The revision of the write.
        revision: u64,
        /// The live node the key named before, whose session may follow
        /// over the link.
        from: Option<ByteString>,
    },
    /// The key names `node`, which membership says is dead; the key was
    /// last written at `revision` (a claim over it compares that).
    Orphaned {
        /// The owner.
        node: ByteString,
        /// The key's mod revision.
        revision: u64,
    },
    /// etcd did not answer (quorum lost, timeout) or the key kept changing.
    Unavailable,
}

/// Ownership bookkeeping of one cluster node (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct Claims {
    /// The policy for sessions of dead owners.
    pub(crate) orphans: OrphanSessions,
    /// No lease keep-alive succeeded for too long: this node cannot prove
    /// it owns anything.
    pub(crate) cut_off: bool,
    /// The client connections that were connected when this node was cut
    /// off: if its lease then expired, the other nodes published their
    /// wills (`Broker::cluster_lease_expired`). Empty while not cut off.
    pub(crate) connected_when_cut: Vec<ConnId>,
    /// The revision at which each persistent session held here was
    /// claimed, by client id.
    owned: AHashMap<ByteString, u64>,
    /// A connection whose claim won, until its CONNECT attaches: the
    /// client id and the revision.
    won: AHashMap<ConnId, (ByteString, u64)>,
    /// Claims under way per client id, and the highest revision seen for
    /// it meanwhile (this node's wins and other nodes' claims).
    pending: AHashMap<ByteString, (u32, u64)>,
    /// The client id each connection under way claims.
    claiming: AHashMap<ConnId, ByteString>,
    /// CONNECTs that won and wait for their session from the node that
    /// held it: the connection and the claim's revision, by client id.
    moving: AHashMap<ByteString, (ConnId, u64)>,
    /// Sessions that arrived while this node's claim of their client id
    /// was still waiting for etcd's answer (the old node's watch was
    /// faster), until that answer.
    early: AHashMap<ByteString, SessionMove>,
}

impl Claims {
    /// Connection `conn` claims `client_id` (once, however many rounds).
    pub(crate) fn start(&mut self, conn: ConnId, client_id: &ByteString) {
        if self.claiming.insert(conn, client_id.clone()).is_none() {
            self.pending.entry(client_id.clone()).or_default().0 += 1;
        }
    }

    /// `conn`'s claim is over (won, lost or refused): the client id it
    /// claimed.
    pub(crate) fn finish(&mut self, conn: ConnId) -> Option<ByteString> {
        let client_id = self.claiming.remove(&conn)?;
        if let Some(entry) = self.pending.get_mut(&client_id) {
            entry.0 -= 1;
            if entry.0 == 0 {
                self.pending.remove(&client_id);
                self.early.remove(&client_id);
            }
        }
        Some(client_id)
    }

    /// The client id connection `conn` claims.
    pub(crate) fn claimed_by(&self, conn: ConnId) -> Option<&ByteString> {
        self.claiming.get(&conn)
    }

    /// `revision` of `client_id` was written (here or elsewhere): claims
    /// under way with an older one lose.
    pub(crate) fn saw(&mut self, client_id: &str, revision: u64) {
        if let Some(entry) = self.pending.get_mut(client_id) {
            entry.1 = entry.1.max(revision);
        }
    }

    /// Whether a claim of `client_id` won at `revision` is already older
    /// than one seen (another node's, or another connection's here).
    pub(crate) fn superseded(&self, client_id: &str, revision: u64) -> bool {
        let seen = self.pending.get(client_id).map_or(0, |e| e.1);
        let held = self.owned.get(client_id).copied().unwrap_or(0);
        seen > revision || held > revision
    }

    /// Connection `conn` won `client_id` at `revision`; its CONNECT goes
    /// on.
    pub(crate) fn won(&mut self, conn: ConnId, client_id: &ByteString, revision: u64) {
        self.won.insert(conn, (client_id.clone(), revision));
    }

    /// The revision `conn` won, once: its session is now held here.
    pub(crate) fn attach(&mut self, conn: ConnId, client_id: &ByteString) -> Option<u64> {
        let (_, revision) = self.won.remove(&conn)?;
        self.owned.insert(client_id.clone(), revision);
        Some(revision)
    }

    /// Connections that won `client_id` at a revision older than
    /// `revision` and have not connected yet: they lost after all.
    pub(crate) fn overtaken(&mut self, client_id: &str, revision: u64) -> Vec<ConnId> {
        let lost: Vec<ConnId> = self
            .won
            .iter()
            .filter(|(_, (id, r))| **id == *client_id && *r < revision)
            .map(|(&c, _)| c)
            .collect();
        for c in &lost {
            self.won.remove(c);
            self.stop_waiting(*c);
        }
        lost
    }

    /// Keeps `moved`, which arrived before the answer to this node's claim
    /// of its client id.
    pub(crate) fn keep_early(&mut self, moved: SessionMove) {
        self.early.insert(moved.client_id.clone(), moved);
    }

    /// The session kept for `client_id`'s claim won at `revision`, once.
    pub(crate) fn take_early(&mut self, client_id: &str, revision: u64) -> Option<SessionMove> {
        match self.early.get(client_id) {
            Some(m) if m.revision == revision => self.early.remove(client_id),
            _ => None,
        }
    }

    /// `conn` won `client_id` at `revision` and waits for its session.
    pub(crate) fn await_move(&mut self, conn: ConnId, client_id: &ByteString, revision: u64) {
        self.moving.insert(client_id.clone(), (conn, revision));
    }

    /// The connection waiting for `client_id`'s session at `revision`,
    /// once.
    pub(crate) fn take_mover(&mut self, client_id: &str, revision: u64) -> Option<ConnId> {
        match self.moving.get(client_id) {
            Some(&(conn, r)) if r == revision => {
                self.moving.remove(client_id);
                Some(conn)
            }
            _ => None,
        }
    }

    /// `conn` stops waiting for a session (it came, or the wait is over):
    /// whether it was waiting.
    pub(crate) fn stop_waiting(&mut self, conn: ConnId) -> bool {
        let before = self.moving.len();
        self.moving.retain(|_, (c, _)| *c != conn);
        before != self.moving.len()
    }

    /// Whether `conn` waits for a session from another node.
    pub(crate) fn awaits_move(&self, conn: ConnId) -> bool {
        self.moving.values().any(|(c, _)| *c == conn)
    }

    /// A connection that won but never attached went away.
    pub(crate) fn forget_conn(&mut self, conn: ConnId) {
        self.won.remove(&conn);
        self.stop_waiting(conn);
    }

    /// The revision `client_id`'s session here was claimed at.
    pub(crate) fn owned(&self, client_id: &str) -> Option<u64> {
        self.owned.get(client_id).copied()
    }

    /// A session restored here is held under the claim at `revision`
    /// (read from etcd at start).
    pub(crate) fn hold(&mut self, client_id: &ByteString, revision: u64) {
        self.owned.insert(client_id.clone(), revision);
    }

    /// Whether a connection here claims `client_id` right now.
    pub(crate) fn is_claiming(&self, client_id: &str) -> bool {
        self.pending.contains_key(client_id) || self.won.values().any(|(id, _)| *id == *client_id)
    }

    /// `client_id`'s session left this node: the revision it held.
    pub(crate) fn release(&mut self, client_id: &str) -> Option<u64> {
        self.owned.remove(client_id)
    }

    /// Client ids of the sessions held here.
    pub(crate) fn owned_ids(&self) -> Vec<ByteString> {
        self.owned.keys().cloned().collect()
    }

    /// Sessions held here.
    pub(crate) fn owned_len(&self) -> usize {
        self.owned.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_win_is_superseded_by_a_newer_revision_seen_meanwhile() {
        let mut c = Claims::default();
        let id = ByteString::from("c");
        c.start(ConnId(1), &id);
        c.start(ConnId(1), &id);
        c.saw("c", 9);
        assert!(c.superseded("c", 7));
        assert!(!c.superseded("c", 10));
        assert_eq!(c.finish(ConnId(1)), Some(id.clone()));
        assert_eq!(c.finish(ConnId(1)), None);
        assert!(!c.superseded("c", 7), "nothing pending, nothing held");
        c.won(ConnId(1), &id, 12);
        assert_eq!(c.attach(ConnId(1), &id), Some(12));
        assert!(c.superseded("c", 11), "a session held at 12 beats 11");
        assert_eq!(c.release("c"), Some(12));
        assert_eq!(c.owned("c"), None);
    }

    #[test]
    fn the_policy_parses_and_shows_its_names() {
        assert_eq!("refuse".parse(), Ok(OrphanSessions::Refuse));
        assert_eq!("fresh".parse(), Ok(OrphanSessions::Fresh));
        assert!("maybe".parse::<OrphanSessions>().is_err());
        assert_eq!(OrphanSessions::Fresh.to_string(), "fresh");
    }
}
