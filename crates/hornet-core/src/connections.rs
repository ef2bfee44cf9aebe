//! The connections table: every live [`Conn`] by [`ConnId`], their
//! deadlines (connect timeout, keep-alive), and how many are past CONNECT.
//!
//! [`Connections`] decides when a connection's deadline has passed; what
//! to do about it (close it, DISCONNECT 0x8D, publish the will) is the
//! broker's (`timers`, `ending`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use ahash::AHashMap;

use crate::conn::Conn;
use crate::ids::ConnId;

/// Every live connection.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    /// Boxed, as are the sessions: the maps grow in powers of two, and an
    /// entry held inline would cost its size in every empty slot too (about
    /// 1 KiB per idle client measured; boxed, a slot is 16 bytes).
    by_id: AHashMap<ConnId, Box<Conn>>,
    /// Connection deadlines, checked lazily (entries may be stale).
    timers: BinaryHeap<Reverse<(Instant, ConnId)>>,
    /// Connections past CONNECT.
    active: usize,
}

impl std::ops::Index<&ConnId> for Connections {
    type Output = Conn;

    #[inline]
    fn index(&self, id: &ConnId) -> &Conn {
        &self.by_id[id]
    }
}

impl Connections {
    /// Connection `id`.
    #[inline]
    pub(crate) fn get(&self, id: &ConnId) -> Option<&Conn> {
        self.by_id.get(id).map(|c| &**c)
    }

    /// Connection `id`, to change.
    #[inline]
    pub(crate) fn get_mut(&mut self, id: &ConnId) -> Option<&mut Conn> {
        self.by_id.get_mut(id).map(|c| &mut **c)
    }

    /// Whether connection `id` is live.
    pub(crate) fn contains_key(&self, id: &ConnId) -> bool {
        self.by_id.contains_key(id)
    }

    /// Every live connection, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Conn> {
        self.by_id.values().map(|c| &**c)
    }

    /// A connection was accepted; it must send CONNECT by `deadline`.
    pub(crate) fn open(&mut self, id: ConnId, conn: Conn, deadline: Instant) {
        self.by_id.insert(id, Box::new(conn));
        self.watch(deadline, id);
    }

    /// Connection `id` has a deadline at `at` (its keep-alive).
    pub(crate) fn watch(&mut self, at: Instant, id: ConnId) {
        self.timers.push(Reverse((at, id)));
    }

    /// A connection got past CONNECT; returns how many are.
    pub(crate) fn note_connected(&mut self) -> usize {
        self.active += 1;
        self.active
    }

    /// Connections past CONNECT.
    pub(crate) fn active(&self) -> usize {
        self.active
    }

    /// Forgets connection `id`; returns it.
    pub(crate) fn remove(&mut self, id: &ConnId) -> Option<Box<Conn>> {
        let conn = self.by_id.remove(id)?;
        if conn.state.is_connected() {
            self.active -= 1;
        }
        Some(conn)
    }

    /// When the next deadline falls (it may turn out stale).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// A connection whose connect timeout or keep-alive has passed at
    /// `now`; `None` when there is none.
    pub(crate) fn next_overdue(&mut self, now: Instant) -> Option<ConnId> {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(conn) = self.by_id.get(&id) else {
                continue;
            };
            let due = match conn.state.connect_deadline() {
                Some(deadline) => deadline,
                None => match conn.keep_alive {
                    Some(ka) => conn.last_seen + ka,
                    None => continue,
                },
            };
            if due > now {
                self.timers.push(Reverse((due, id)));
                continue;
            }
            return Some(id);
        }
        None
    }
}
