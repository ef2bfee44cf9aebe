//! The connections table: every live [`Conn`] by [`ConnId`], their
//! deadlines (connect timeout, keep-alive), and how many are past CONNECT.
//!
//! [`Connections`] decides when a connection's deadline has passed; what
//! to do about it (close it, DISCONNECT 0x8D, publish the will) is the
//! broker's (`timers`, `ending`).
//!
//! Two deadline heaps, checked lazily (activity only updates `last_seen`;
//! a popped entry that turns out stale is pushed back at its real time):
//!
//! - `connecting`: the CONNECT (or takeover) deadline of connections not
//!   yet past CONNACK, exact. Once a connection is past CONNACK (or gone)
//!   its entry is dropped from the top at once rather than left to wake
//!   the timer at its old instant: 19,000 clients connecting in a few
//!   seconds otherwise woke an idle broker for ten seconds afterwards.
//! - `alive`: keep-alive deadlines, served on a [`KEEP_ALIVE_GRID`] of one
//!   second from the broker's start: [`Connections::next_deadline`]
//!   rounds the earliest up to the grid, so a single tick handles every
//!   keep-alive deadline of that second. Each connection has its own
//!   deadline; without the grid N idle clients make the timer fire for
//!   each of them (about N / 90 s times a second at keep-alive 60). The
//!   server may close a connection at any time after one and a half
//!   keep-alive intervals ([MQTT-3.1.2-24]), so serving it up to a second
//!   later is allowed. An entry holds its deadline as whole milliseconds
//!   from the grid's start, rounded up (16 bytes an entry rather than 24
//!   with an `Instant`: one per idle connection).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use ahash::AHashMap;

use crate::conn::Conn;
use crate::ids::ConnId;

/// The granularity of keep-alive deadlines (see the module doc).
pub(crate) const KEEP_ALIVE_GRID: Duration = Duration::from_secs(1);

/// A deadline heap, earliest first; entries may be stale.
type Deadlines = BinaryHeap<Reverse<(Instant, ConnId)>>;

/// The keep-alive heap: deadlines in milliseconds from `epoch`, rounded
/// up, earliest first; entries may be stale.
type Alive = BinaryHeap<Reverse<(u64, ConnId)>>;

/// Every live connection.
#[derive(Debug)]
pub(crate) struct Connections {
    /// Boxed, as are the sessions: the maps grow in powers of two, and an
    /// entry held inline would cost its size in every empty slot too (about
    /// 1 KiB per idle client measured; boxed, a slot is 16 bytes).
    by_id: AHashMap<ConnId, Box<Conn>>,
    /// Connect (and takeover) deadlines before CONNACK (see the module doc).
    connecting: Deadlines,
    /// Keep-alive deadlines (see the module doc).
    alive: Alive,
    /// Where the keep-alive grid starts (the broker's start).
    epoch: Instant,
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
    /// No connections; the keep-alive grid starts at `epoch`.
    pub(crate) fn new(epoch: Instant) -> Connections {
        Connections {
            by_id: AHashMap::default(),
            connecting: Deadlines::new(),
            alive: Alive::new(),
            epoch,
            active: 0,
        }
    }

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

    /// Every live connection with its id, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&ConnId, &Conn)> {
        self.by_id.iter().map(|(id, c)| (id, &**c))
    }

    /// Every live connection, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Conn> {
        self.by_id.values().map(|c| &**c)
    }

    /// A connection was accepted; it must send CONNECT by `deadline`.
    pub(crate) fn open(&mut self, id: ConnId, conn: Conn, deadline: Instant) {
        self.by_id.insert(id, Box::new(conn));
        self.watch_connect(deadline, id);
    }

    /// Connection `id`, not yet past CONNACK, has a deadline at `at` (its
    /// connect timeout, or the end of a takeover's wait).
    pub(crate) fn watch_connect(&mut self, at: Instant, id: ConnId) {
        self.connecting.push(Reverse((at, id)));
    }

    /// Connection `id` is past CONNACK and its keep-alive deadline is at
    /// `at` (renewed by activity through `last_seen`).
    pub(crate) fn watch_keep_alive(&mut self, at: Instant, id: ConnId) {
        let ms = self.to_ms(at);
        self.alive.push(Reverse((ms, id)));
    }

    /// `at` in whole milliseconds from `epoch`, rounded up.
    fn to_ms(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch);
        since.as_secs() * 1000 + u64::from(since.subsec_nanos().div_ceil(1_000_000))
    }

    /// The instant `ms` milliseconds from `epoch`.
    fn instant_of_ms(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    /// A connection got past CONNECT; returns how many are.
    pub(crate) fn note_connected(&mut self) -> usize {
        self.active += 1;
        self.drop_settled();
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
        self.drop_settled();
        Some(conn)
    }

    /// Drops the earliest deadlines that can no longer fire: connect
    /// deadlines of connections past CONNACK or gone, keep-alive deadlines
    /// of connections gone. Only from the top of each heap (cheap; the
    /// rest go when they reach it), so a deadline left behind by a
    /// connection does not wake the timer.
    fn drop_settled(&mut self) {
        let by_id = &self.by_id;
        while let Some(&Reverse((_, id))) = self.connecting.peek() {
            if by_id
                .get(&id)
                .is_some_and(|c| c.state.connect_deadline().is_some())
            {
                break;
            }
            self.connecting.pop();
        }
        if self.connecting.is_empty() && self.connecting.capacity() > 64 {
            // A burst of connects is over: its 24 bytes per connection are
            // not kept for good (a heap never shrinks by itself).
            self.connecting = Deadlines::new();
        }
        while let Some(&Reverse((_, id))) = self.alive.peek() {
            if by_id.contains_key(&id) {
                break;
            }
            self.alive.pop();
        }
    }

    /// When the next deadline falls (it may turn out stale): the earliest
    /// connect deadline, or the earliest keep-alive deadline rounded up
    /// to [`KEEP_ALIVE_GRID`].
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let connect = self.connecting.peek().map(|Reverse((at, _))| *at);
        let alive = self
            .alive
            .peek()
            .map(|Reverse((ms, _))| self.on_grid(self.instant_of_ms(*ms)));
        connect.into_iter().chain(alive).min()
    }

    /// `at` rounded up to the keep-alive grid (whole seconds from `epoch`;
    /// asked after every input, so no 128-bit arithmetic).
    fn on_grid(&self, at: Instant) -> Instant {
        debug_assert_eq!(KEEP_ALIVE_GRID, Duration::from_secs(1));
        let since = at.saturating_duration_since(self.epoch);
        let secs = since.as_secs() + u64::from(since.subsec_nanos() > 0);
        self.epoch + Duration::from_secs(secs)
    }

    /// A connection whose connect timeout or keep-alive has passed at
    /// `now`; `None` when there is none.
    pub(crate) fn next_overdue(&mut self, now: Instant) -> Option<ConnId> {
        while let Some(&Reverse((at, id))) = self.connecting.peek() {
            if at > now {
                break;
            }
            self.connecting.pop();
            // Past CONNACK (its keep-alive is in `alive`) or gone.
            let Some(due) = self.by_id.get(&id).and_then(|c| c.state.connect_deadline()) else {
                continue;
            };
            if due > now {
                self.connecting.push(Reverse((due, id)));
                continue;
            }
            return Some(id);
        }
        while let Some(&Reverse((ms, id))) = self.alive.peek() {
            if self.instant_of_ms(ms) > now {
                break;
            }
            self.alive.pop();
            let Some(conn) = self.by_id.get(&id) else {
                continue;
            };
            // Not past CONNACK: a takeover's connection waiting again
            // (its deadline is in `connecting`).
            if conn.state.connect_deadline().is_some() {
                continue;
            }
            let Some(ka) = conn.keep_alive() else {
                continue;
            };
            let due = conn.last_seen + ka;
            if due > now {
                let ms = self.to_ms(due);
                self.alive.push(Reverse((ms, id)));
                continue;
            }
            return Some(id);
        }
        None
    }
}
