//! Cluster: client ids of persistent sessions are owned through etcd,
//! fenced by etcd's revision (the data is `claims`'; `docs/cluster.md`).
//!
//! ```text
//! CONNECT, persistent (clean session 0 / clean start 0 / expiry > 0)
//!   -> Claiming (later packets parked), Action::Claim { conn, client_id }
//! shell: etcd transaction on /hornet/{cluster}/clients/{id}
//!   -> claim_result(Won { revision })      the CONNECT goes on (takeover,
//!                                          session, CONNACK); the other
//!                                          nodes see the write in their
//!                                          watch (client_claimed) and drop
//!                                          an older holder: 0x8E
//!      claim_result(Orphaned { node, .. }) the owner is dead:
//!                                          orphan_sessions = refuse: CONNACK
//!                                          0x88 (3.x 0x03); fresh: claim
//!                                          over it (Action::Claim { over })
//!      claim_result(Unavailable)           CONNACK 0x88 (3.x 0x03)
//! ```
//!
//! Every claim is a write of the key, so etcd's revision orders all of
//! them: the latest wins. A claim whose revision is older than one this
//! node has seen meanwhile for the same client id (another node's, in the
//! watch, or another connection's here) lost the race before its CONNACK:
//! it is answered as a takeover right after connecting would be (CONNACK
//! 0, then MQTT 5 DISCONNECT 0x8E, then close), so the client sees what
//! it would see had its CONNECT come first. A watch event takes over a
//! session held here only when its revision is newer than the one the
//! session was claimed at.
//!
//! Clean sessions are not claimed (no etcd on their path): they keep the
//! link announcement (`Action::Takeover`), ordered by the hybrid logical
//! clock instead of etcd's revision (`client_stamps`).
//!
//! Partitions: when the shell reports that no lease keep-alive succeeded
//! for `lease_ttl` minus a margin ([`Broker::cluster_cut_off`]), this node
//! cannot prove it owns anything: the connections of the sessions it
//! claimed are closed (MQTT 5: DISCONNECT 0x9C Use another server) and new
//! persistent CONNECTs are refused (0x88 / 0x03) until a keep-alive
//! succeeds again; clean sessions are served as before.

use std::time::Instant;

use bytestring::ByteString;
use hornet_codec::{ConnAck, Disconnect, ReasonCode};

use crate::broker::{Broker, ConnId};
use crate::claims::{ClaimResult, OrphanSessions};
use crate::lifecycle::Ready;
use crate::out::Action;
use crate::session::NEVER_EXPIRES;

impl Broker {
    /// What to do with persistent sessions whose owner is dead (default
    /// [`OrphanSessions::Refuse`]). Call after [`Broker::enable_cluster`].
    pub fn set_orphan_sessions(&mut self, policy: OrphanSessions) {
        if let Some(c) = self.cluster.as_deref_mut() {
            c.claims.orphans = policy;
        }
    }

    /// Whether this node is cut off from the etcd quorum (see the module
    /// doc).
    pub fn cluster_is_cut_off(&self) -> bool {
        self.cluster.as_deref().is_some_and(|c| c.claims.cut_off)
    }

    /// Persistent sessions this node claimed and holds.
    pub fn cluster_owned_sessions(&self) -> usize {
        self.cluster.as_deref().map_or(0, |c| c.claims.owned_len())
    }

    /// Whether `ready`'s CONNECT must claim its client id first: this is a
    /// cluster node and the session outlives the connection or resumes one.
    pub(crate) fn must_claim(&self, ready: &Ready) -> bool {
        if self.cluster.is_none() {
            return false;
        }
        let connect = &ready.admission.connect;
        let asked = if connect.protocol.is_v5() {
            connect.properties.session_expiry_interval().unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            NEVER_EXPIRES
        };
        !connect.clean_start || asked.min(self.settings.max_session_expiry) > 0
    }

    /// Parks `ready` on `id` and asks the shell to claim its client id; a
    /// node cut off from etcd refuses at once.
    pub(crate) fn start_claim(&mut self, now: Instant, id: ConnId, ready: Ready) {
        let client_id = ready.admission.client_id.clone();
        if self.cluster_is_cut_off() {
            tracing::warn!(
                "Client {client_id} refused: this node is cut off from the etcd quorum and \
                 cannot claim its persistent session (clean sessions are served)."
            );
            let text = "this node cannot reach the cluster's etcd quorum";
            return self.refuse(id, ReasonCode::ServerUnavailable, Some(text));
        }
        let conn = self.conns.get_mut(&id).expect("caller checked");
        conn.state.await_claim(ready);
        let deadline = conn.state.connect_deadline().expect("not connected");
        self.conns.watch_connect(deadline, id);
        let c = self.cluster.as_deref_mut().expect("must_claim checked");
        c.claims.start(id, &client_id);
        self.now = now;
        self.out.cluster(Action::Claim {
            conn: id,
            client_id,
            over: None,
        });
    }

    /// The shell's answer to [`Action::Claim`] for connection `conn`.
    pub fn claim_result(&mut self, now: Instant, conn: ConnId, result: ClaimResult) {
        self.now = now;
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        let waiting = self.conns.get(&conn).and_then(|x| x.state.claiming());
        let policy = c.claims.orphans;
        let cut_off = c.claims.cut_off;
        match result {
            ClaimResult::Won { revision, from } => {
                // Judged against what was seen while it ran, then over.
                let superseded = c
                    .claims
                    .claimed_by(conn)
                    .is_some_and(|id| c.claims.superseded(id, revision));
                // Its session may have overtaken this answer.
                let early = match c.claims.claimed_by(conn).cloned() {
                    Some(id) => c.claims.take_early(&id, revision),
                    None => None,
                };
                let Some(client_id) = c.claims.finish(conn) else {
                    return;
                };
                if waiting.is_none() {
                    // Gone while etcd answered: nobody holds the key's
                    // session here.
                    c.claims.saw(&client_id, revision);
                    return self.out.cluster(Action::Release {
                        client_id,
                        revision,
                    });
                }
                if cut_off {
                    tracing::warn!(
                        "Client {client_id} refused: this node was cut off from the etcd quorum \
                         while claiming it."
                    );
                    let text = "this node cannot reach the cluster's etcd quorum";
                    return self.refuse(conn, ReasonCode::ServerUnavailable, Some(text));
                }
                if superseded {
                    return self.lose_claim(conn, &client_id, revision);
                }
                c.claims.saw(&client_id, revision);
                c.claims.won(conn, &client_id, revision);
                tracing::debug!("Cluster: claimed client {client_id} at revision {revision}.");
                // Taken from another live node: its session follows over
                // the link (see `moving`).
                if let Some(node) = from.filter(|n| *n != *c.node) {
                    if let Some(moved) = early {
                        return self.make_moved_session(now, conn, &node, moved);
                    }
                    return self.await_session(now, conn, &client_id, revision, &node);
                }
                self.resume_claimed(now, conn);
            }
            ClaimResult::Orphaned { node, revision } => {
                if waiting.is_none() {
                    c.claims.finish(conn);
                    return;
                }
                let client_id = waiting.expect("checked").admission.client_id.clone();
                match policy {
                    OrphanSessions::Refuse => {
                        c.claims.finish(conn);
                        tracing::warn!(
                            "Client {client_id} refused: its persistent session is on node \
                             {node}, which is dead (orphan_sessions = \"refuse\": until {node} \
                             comes back, or its etcd key is deleted)."
                        );
                        let text = "the node holding this session is unavailable";
                        self.refuse(conn, ReasonCode::ServerUnavailable, Some(text));
                    }
                    OrphanSessions::Fresh => {
                        tracing::warn!(
                            "Client {client_id}: its persistent session is on node {node}, \
                             which is dead; claiming it here with a new session \
                             (orphan_sessions = \"fresh\")."
                        );
                        self.out.cluster(Action::Claim {
                            conn,
                            client_id,
                            over: Some(revision),
                        });
                    }
                }
            }
            ClaimResult::Unavailable => {
                let client_id = c.claims.finish(conn);
                if waiting.is_some() {
                    tracing::warn!(
                        "Client {} refused: etcd did not confirm its persistent session's \
                         ownership.",
                        client_id.unwrap_or_default()
                    );
                    let text = "the cluster's etcd did not answer";
                    self.refuse(conn, ReasonCode::ServerUnavailable, Some(text));
                }
            }
        }
    }

    /// The claim won: the CONNECT goes on as on one node (the takeover
    /// drain, takeover, session, CONNACK), then the packets parked behind
    /// it.
    pub(crate) fn resume_claimed(&mut self, now: Instant, id: ConnId) {
        if !self.conns.contains_key(&id) {
            return;
        }
        if self.cluster_is_cut_off() {
            // Cut off while it waited for a moved session.
            let text = "this node cannot reach the cluster's etcd quorum";
            return self.refuse(id, ReasonCode::ServerUnavailable, Some(text));
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let Some((ready, parked)) = conn.state.claim_done() else {
            return;
        };
        self.proceed_connect(now, id, ready);
        if !self.conns.get(&id).is_some_and(|c| c.state.is_connected()) {
            // Waiting for a takeover drain: the parked packets wait there.
            if let Some(conn) = self.conns.get_mut(&id) {
                conn.state.park_more(parked);
            }
            return;
        }
        for packet in parked {
            if !self.conns.contains_key(&id) {
                break;
            }
            self.dispatch(now, id, packet);
        }
    }

    /// `conn`'s claim of `client_id` at `revision` lost before its CONNACK
    /// (see the module doc): answered as an immediate takeover.
    fn lose_claim(&mut self, id: ConnId, client_id: &ByteString, revision: u64) {
        tracing::info!(
            "Client {client_id}: a later connection claimed it (etcd revision {revision} or \
             newer) before this one's CONNACK; closing this one as taken over."
        );
        let conn = self.conns.get_mut(&id).expect("caller checked");
        let connack = ConnAck::new(ReasonCode::Success, false);
        self.out.send(id, conn, &mut self.stats, connack.into());
        if conn.protocol.is_v5() {
            let packet = Disconnect::new(ReasonCode::SessionTakenOver).into();
            self.out.send(id, conn, &mut self.stats, packet);
        }
        self.conns.remove(&id);
        self.out.close(id);
    }

    /// The CONNECT that claimed for connection `id` attaches its session:
    /// whether it was claimed (then no link announcement is needed: the
    /// other nodes see the claim in etcd).
    pub(crate) fn attach_claim(&mut self, id: ConnId, client_id: &ByteString) -> bool {
        let Some(c) = self.cluster.as_deref_mut() else {
            return false;
        };
        c.claims.attach(id, client_id).is_some()
    }

    /// etcd's watch: `node` claimed `client_id` at `revision`. A session
    /// held here with an older claim (or none) goes: its connection is
    /// taken over (MQTT 5: DISCONNECT 0x8E, will published) and the
    /// session is dropped, since another node owns the client id now.
    pub fn client_claimed(&mut self, now: Instant, client_id: &str, node: &str, revision: u64) {
        self.now = now;
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        c.claims.saw(client_id, revision);
        let me = node == &*c.node;
        // A dead node's client's will waiting here for its delay.
        self.cluster_will_claimed(now, client_id, node);
        if me {
            return;
        }
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        // CONNECTs here that won an older claim but are not connected yet
        // (waiting for a takeover drain or a moved session) lost after all.
        for conn in c.claims.overtaken(client_id, revision) {
            if self
                .conns
                .get(&conn)
                .is_some_and(|x| !x.state.is_connected())
            {
                self.lose_claim(conn, &ByteString::from(client_id), revision);
            }
        }
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        if c.claims.owned(client_id).is_some_and(|r| r >= revision) {
            return;
        }
        let Some(key) = self.sessions.key_of(client_id) else {
            return;
        };
        c.claims.release(client_id);
        let client_id = ByteString::from(client_id);
        tracing::info!(
            "Cluster: node {node} claimed client {client_id} (revision {revision}); its \
             connection here ends and its session moves there."
        );
        self.take_over(now, &client_id);
        if self.sessions.get_mut(&key).is_some() {
            // Its client connected anew (on `node`): a will waiting for
            // its delay is not sent [MQTT-3.1.3-9].
            if self.delayed_wills.remove(&key).is_some() {
                self.persist_will_cleared(key);
                self.delayed_will_gone(key);
            }
            self.send_session(key, node, revision);
            self.remove_session(key);
        }
    }

    /// The shell read every client id key once at start, before it watches
    /// them: `(client id, node the key names, mod revision)`. The sessions
    /// restored from this node's store whose key names this node are held
    /// under that claim from now on (their end deletes the key, another
    /// node's newer claim takes them over, the cut-off closes them), as if
    /// claimed in this life; a key naming this node without a session here
    /// (it ended while the node was down) is released; a restored session
    /// whose key names another node (claimed there since, e.g. with
    /// `orphan_sessions = "fresh"`) is not this node's any more and is
    /// dropped. Returns how many sessions are held.
    pub fn cluster_claims_read(
        &mut self,
        now: Instant,
        keys: Vec<(ByteString, ByteString, u64)>,
    ) -> usize {
        self.now = now;
        let Some(c) = self.cluster.as_deref_mut() else {
            return 0;
        };
        let me = c.node.clone();
        let mut held = 0;
        let mut stale = Vec::new();
        for (client_id, node, revision) in keys {
            c.claims.saw(&client_id, revision);
            if c.claims.owned(&client_id).is_some() || c.claims.is_claiming(&client_id) {
                continue; // claimed in this life already, or being claimed
            }
            let session = self.sessions.key_of(&client_id);
            match (node == me, session) {
                (true, Some(_)) => {
                    c.claims.hold(&client_id, revision);
                    held += 1;
                }
                (true, None) => {
                    tracing::info!(
                        "Cluster: client {client_id}'s key names this node but its session is                          gone (it ended while the node was down); releasing the key."
                    );
                    self.out.cluster(Action::Release {
                        client_id,
                        revision,
                    });
                }
                // Only a restored (disconnected) one: a clean session
                // connected here meanwhile is not claimed and stays.
                (false, Some(key)) if self.sessions[&key].conn.is_none() => {
                    stale.push((client_id, node, key));
                }
                (false, _) => {}
            }
        }
        for (client_id, node, key) in stale {
            tracing::warn!(
                "Cluster: the session of {client_id} restored from the store is not this                  node's any more (its key names node {node}); dropped."
            );
            self.remove_session(key);
        }
        if held > 0 {
            tracing::info!(
                "Cluster: {held} persistent sessions restored from the store are held under                  their etcd claims."
            );
        }
        held
    }

    /// Session of `client_id` removed: its etcd key goes if this node's
    /// claim is still the last write.
    pub(crate) fn cluster_session_removed(&mut self, client_id: &ByteString) {
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        if let Some(revision) = c.claims.release(client_id) {
            self.out.cluster(Action::Release {
                client_id: client_id.clone(),
                revision,
            });
        }
    }

    /// The shell's lease watchdog: `cut` when no keep-alive succeeded for
    /// `lease_ttl` minus a margin (this node's lease may expire any
    /// moment), not `cut` once one succeeds again. Cut off, the
    /// connections of the persistent sessions this node claimed close
    /// (MQTT 5: DISCONNECT 0x9C Use another server) and new persistent
    /// CONNECTs are refused; clean sessions are served.
    ///
    /// `lease_gone`: no keep-alive succeeded for the whole `lease_ttl`
    /// (the node ran again after a pause past it, or was cut off that
    /// long before the watchdog ran), so etcd has dropped the lease,
    /// which counts from the last keep-alive it received, no later than
    /// the last success here. Every live node then counted this one dead
    /// and one of them published the wills of its clients: the
    /// persistent sessions' connections close **without** their wills,
    /// which must not go out a second time. Without another live node
    /// nobody published them, and they go out here.
    pub fn cluster_cut_off(&mut self, now: Instant, cut: bool, lease_gone: bool) {
        self.now = now;
        let connected = if cut && !self.cluster_is_cut_off() {
            self.connected_clients()
        } else {
            Vec::new()
        };
        let Some(c) = self.cluster.as_deref_mut() else {
            return;
        };
        if c.claims.cut_off == cut {
            return;
        }
        c.claims.cut_off = cut;
        if !cut {
            c.claims.connected_when_cut = Vec::new();
            tracing::warn!("Cluster: etcd answers again: persistent sessions are accepted again.");
            return;
        }
        c.claims.connected_when_cut = connected;
        let wills_published_elsewhere = lease_gone && !c.alive_peers().is_empty();
        let ids = c.claims.owned_ids();
        let mut closed = 0;
        for client_id in ids {
            let Some(key) = self.sessions.key_of(&client_id) else {
                continue;
            };
            let Some(id) = self.sessions[&key].conn else {
                continue;
            };
            if let Some(conn) = self.conns.get_mut(&id) {
                if conn.protocol.is_v5() {
                    let packet = Disconnect::new(ReasonCode::UseAnotherServer).into();
                    self.out.send(id, conn, &mut self.stats, packet);
                }
            }
            closed += 1;
            // Abnormal (its will goes out) unless another node published
            // it already.
            self.end_connection(now, id, !wills_published_elsewhere);
        }
        let wills = if wills_published_elsewhere {
            "; their lease expired meanwhile, so the other nodes published their wills and \
             they are not published again"
        } else {
            ""
        };
        tracing::error!(
            "Cluster: no etcd lease keep-alive succeeded for too long: this node cannot prove \
             it owns its persistent sessions before its lease may expire; {closed} such \
             connections closed{wills}, new persistent sessions refused (0x88) until etcd \
             answers; clean sessions are served."
        );
    }

    /// The shell found this node's lease expired (it joined again with a
    /// new one, which proves the old key is gone): every other node
    /// counted it dead, and one of them published the wills of the
    /// clients connected here then. Those connections close now (MQTT 5:
    /// DISCONNECT 0x9C Use another server) **without** their wills, which
    /// must not be published a second time; a client that connected
    /// since this node was cut off (its lease watchdog, which always
    /// comes first) stays. Without another live node nobody published
    /// them: nothing closes. Returns how many closed.
    pub fn cluster_lease_expired(&mut self, now: Instant) -> usize {
        self.now = now;
        let Some(c) = self.cluster.as_deref_mut() else {
            return 0;
        };
        // The election keys of the dead nodes' wills this node won were
        // under the expired lease: the others elected again.
        let demoted = c.pending_wills.demote_all();
        if demoted > 0 {
            tracing::warn!(
                "Cluster: {demoted} delayed wills of dead nodes' clients this node was to \
                 publish are standby copies now (its election keys went with its lease); it \
                 runs their election again once joined."
            );
        }
        if c.alive_peers().is_empty() {
            // No other node is there to have counted it dead and published
            // anything: its clients keep their connections and wills.
            c.claims.connected_when_cut = Vec::new();
            return 0;
        }
        let ids = if c.claims.cut_off {
            std::mem::take(&mut c.claims.connected_when_cut)
        } else {
            // Not cut off (the watchdog has not looked yet): everyone
            // connected now was connected before.
            self.connected_clients()
        };
        let mut closed = 0;
        for id in ids {
            let Some(conn) = self.conns.get_mut(&id) else {
                continue; // gone meanwhile (the cut-off closed it, or it left)
            };
            if !conn.state.is_connected() {
                continue;
            }
            if conn.protocol.is_v5() {
                let packet = Disconnect::new(ReasonCode::UseAnotherServer).into();
                self.out.send(id, conn, &mut self.stats, packet);
            }
            closed += 1;
            // Not abnormal: its will was published elsewhere.
            self.end_connection(now, id, false);
        }
        tracing::error!(
            "Cluster: this node's etcd lease expired while it did not run or could not reach \
             etcd: the other nodes counted it dead and published the wills of its clients; \
             {closed} connections from before then closed (DISCONNECT 0x9C), their wills not \
             published again."
        );
        closed
    }

    /// The client connections that completed their CONNECT.
    fn connected_clients(&self) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, conn)| conn.state.is_connected())
            .map(|(&id, _)| id)
            .collect()
    }
}
