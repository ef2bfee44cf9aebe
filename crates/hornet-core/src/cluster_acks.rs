//! Acknowledgements that wait for other nodes (issue 18): the gates, and
//! the tokens they wait for. Plain data; the rules are `acknowledging`'s.
//!
//! A QoS 1/2 message that this node forwards gets, per node it goes to, a
//! token (one counter for the whole node, carried by
//! [`Action::Forward`](crate::Action::Forward)); a route delta that a
//! SUBSCRIBE adds gets one token, waited for from every live node. The
//! client's PUBACK / PUBREC / SUBACK waits behind a [`Gate`] until every
//! node it waits for has reported its token applied
//! ([`Broker::node_acked`](crate::Broker::node_acked)), or has been counted
//! dead, or the gate's deadline passed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ahash::AHashMap;

use crate::conn::ConnId;

/// What a gate holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GateKind {
    /// The PUBACK (QoS 1) or PUBREC (QoS 2) of a forwarded message.
    Publish,
    /// The SUBACK of a SUBSCRIBE that added a route.
    Subscribe,
}

/// One acknowledgement waiting for other nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gate {
    /// The client's connection.
    pub(crate) conn: ConnId,
    /// The packet id of the acknowledgement.
    pub(crate) packet_id: u16,
    /// What it holds back.
    pub(crate) kind: GateKind,
    /// The (peer, token) pairs not reported yet.
    waits: Waits,
}

impl Gate {
    /// The peers it still waits for.
    pub(crate) fn peers(&self) -> impl Iterator<Item = u32> + '_ {
        self.waits.as_slice().iter().map(|w| w.0)
    }
}

/// The (peer, token) pairs of a gate: one inline (a message forwarded to
/// one other node, the common case, allocates nothing: one allocation per
/// acknowledged message was measurable), more in a vector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Waits {
    One((u32, u64)),
    Many(Vec<(u32, u64)>),
}

impl Waits {
    fn as_slice(&self) -> &[(u32, u64)] {
        match self {
            Waits::One(w) => std::slice::from_ref(w),
            Waits::Many(v) => v,
        }
    }

    /// Removes `w` (which it holds); whether nothing is left.
    fn remove(&mut self, w: (u32, u64)) -> bool {
        match self {
            Waits::One(one) => *one == w,
            Waits::Many(v) => {
                v.retain(|x| *x != w);
                v.is_empty()
            }
        }
    }
}

/// Every gate and token (see the module doc).
#[derive(Debug)]
pub(crate) struct AckGates {
    /// How long a gate waits at most.
    pub(crate) timeout: Duration,
    next_token: u64,
    next_gate: u64,
    /// Tokens handed out while routing the current input's message (or
    /// announcing its route), for the gate it opens.
    current: Vec<(u32, u64)>,
    /// (peer, token) → gate.
    waiting: AHashMap<(u32, u64), u64>,
    gates: AHashMap<u64, Gate>,
    /// Gates by deadline (one timeout for all, so in order).
    deadlines: VecDeque<(Instant, u64)>,
    /// Gates released because a node they waited for was counted dead.
    pub(crate) released_dead: u64,
    /// Gates whose deadline passed.
    pub(crate) timed_out: u64,
}

impl AckGates {
    /// No gate yet; each waits at most `timeout`.
    pub(crate) fn new(timeout: Duration) -> AckGates {
        AckGates {
            timeout,
            next_token: 0,
            next_gate: 0,
            current: Vec::new(),
            waiting: AHashMap::default(),
            gates: AHashMap::default(),
            deadlines: VecDeque::new(),
            released_dead: 0,
            timed_out: 0,
        }
    }

    /// A new token, for one frame to `peer`, waited for by the next gate.
    pub(crate) fn token(&mut self, peer: u32) -> u64 {
        self.next_token += 1;
        self.current.push((peer, self.next_token));
        self.next_token
    }

    /// `token` (a route delta's: it goes to every node, with one token),
    /// waited for from `peer` by the next gate.
    pub(crate) fn also(&mut self, peer: u32, token: u64) {
        self.current.push((peer, token));
    }

    /// Forgets the tokens handed out since the last gate (nothing waits for
    /// them: a will, a message from the admin API).
    pub(crate) fn discard(&mut self) {
        self.current.clear();
    }

    /// Opens a gate for `conn`'s acknowledgement `packet_id` over the
    /// tokens handed out since the last one; false when there were none.
    pub(crate) fn open(
        &mut self,
        now: Instant,
        conn: ConnId,
        packet_id: u16,
        kind: GateKind,
    ) -> bool {
        if self.current.is_empty() {
            return false;
        }
        self.next_gate += 1;
        let id = self.next_gate;
        for &w in &self.current {
            self.waiting.insert(w, id);
        }
        // `current` keeps its room for the next message.
        let waits = match self.current[..] {
            [one] => Waits::One(one),
            _ => Waits::Many(self.current.clone()),
        };
        self.current.clear();
        self.gates.insert(
            id,
            Gate {
                conn,
                packet_id,
                kind,
                waits,
            },
        );
        self.deadlines.push_back((now + self.timeout, id));
        true
    }

    /// `peer` applied the frames of `tokens`: the gates that waited for
    /// nothing else, in the order they were opened.
    pub(crate) fn acked(&mut self, peer: u32, tokens: &[u64]) -> Vec<Gate> {
        let mut done = Vec::new();
        for &t in tokens {
            let Some(id) = self.waiting.remove(&(peer, t)) else {
                continue;
            };
            let gate = self.gates.get_mut(&id).expect("a waiting token's gate");
            if gate.waits.remove((peer, t)) {
                done.push((id, self.gates.remove(&id).expect("present")));
            }
        }
        done.sort_by_key(|d| d.0);
        done.into_iter().map(|d| d.1).collect()
    }

    /// `peer` was counted dead: the gates that waited for nothing else.
    pub(crate) fn peer_dead(&mut self, peer: u32) -> Vec<Gate> {
        let mut tokens: Vec<u64> = self
            .waiting
            .keys()
            .filter(|(p, _)| *p == peer)
            .map(|(_, t)| *t)
            .collect();
        tokens.sort_unstable();
        let done = self.acked(peer, &tokens);
        self.released_dead += done.len() as u64;
        done
    }

    /// The gates whose deadline passed (removed, with what they still
    /// waited for).
    pub(crate) fn overdue(&mut self, now: Instant) -> Vec<Gate> {
        let mut late = Vec::new();
        while let Some(&(at, id)) = self.deadlines.front() {
            if at > now {
                break;
            }
            self.deadlines.pop_front();
            if let Some(gate) = self.gates.remove(&id) {
                for w in gate.waits.as_slice() {
                    self.waiting.remove(w);
                }
                self.timed_out += 1;
                late.push(gate);
            }
        }
        late
    }

    /// When [`AckGates::overdue`] next has work (possibly a gate released
    /// since: then it has none).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|d| d.0)
    }

    /// Gates open now.
    pub(crate) fn open_len(&self) -> usize {
        self.gates.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_opens_when_every_token_is_reported_or_its_node_dies() {
        let t0 = Instant::now();
        let mut g = AckGates::new(Duration::from_secs(5));
        assert!(
            !g.open(t0, ConnId(1), 1, GateKind::Publish),
            "nothing forwarded"
        );
        let a = g.token(0);
        let b = g.token(1);
        assert!(g.open(t0, ConnId(1), 2, GateKind::Publish));
        let c = g.token(0);
        assert!(g.open(t0, ConnId(1), 3, GateKind::Publish));
        assert!(g.acked(0, &[a, c]).iter().map(|x| x.packet_id).eq([3]));
        assert!(g.acked(0, &[a]).is_empty(), "reported twice");
        let done = g.peer_dead(1);
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].packet_id, g.released_dead), (2, 1));
        assert!(g.acked(1, &[b]).is_empty());
        assert_eq!(g.open_len(), 0);
    }

    #[test]
    fn a_gate_past_its_deadline_is_given_up_once() {
        let t0 = Instant::now();
        let mut g = AckGates::new(Duration::from_secs(5));
        let a = g.token(0);
        g.open(t0, ConnId(1), 1, GateKind::Publish);
        assert!(g.overdue(t0 + Duration::from_secs(4)).is_empty());
        assert_eq!(g.overdue(t0 + Duration::from_secs(5)).len(), 1);
        assert!(g.acked(0, &[a]).is_empty(), "a late report opens nothing");
        assert_eq!((g.timed_out, g.open_len()), (1, 0));
        assert!(g.overdue(t0 + Duration::from_secs(9)).is_empty());
    }
}
