//! The order of retained writes and of clean-session CONNECTs across a
//! cluster: a hybrid logical clock.
//!
//! Every retained set or delete carries a [`Stamp`]: the wall clock in
//! Unix milliseconds, a counter, and the name of the node that made it.
//! Stamps compare field by field in that order, so every node that holds
//! two writes of one topic picks the same winner: the later stamp (last
//! write wins), the node name breaking a tie. A clean-session CONNECT's
//! announcement carries one too (`client_stamps`): of two connections
//! with one client id on two nodes, the later stamp stays. One clock per
//! node makes both, so all its stamps are ordered.
//!
//! [`Hlc`] makes a node's stamps: never behind its wall clock, never
//! behind a stamp it has received, and always ahead of the last one it
//! made (the counter moves when the wall clock does not). So a write made
//! after seeing another node's write wins over it even if this node's
//! wall clock is behind.

use bytestring::ByteString;

/// When and where a retained message was set or deleted, or a
/// clean-session client connected.
///
/// ```
/// use hornet_core::Stamp;
///
/// let a = Stamp { ms: 1_000, counter: 0, node: "n2".into() };
/// let b = Stamp { ms: 1_000, counter: 1, node: "n1".into() };
/// let c = Stamp { ms: 1_000, counter: 1, node: "n2".into() };
/// assert!(a < b && b < c);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Stamp {
    /// Wall clock, Unix milliseconds (0: unknown).
    pub ms: u64,
    /// Orders writes within one millisecond.
    pub counter: u32,
    /// The node that made it (empty: a single broker, or a message
    /// restored from a store written before stamps).
    pub node: ByteString,
}

/// A node's hybrid logical clock.
#[derive(Debug, Default)]
pub(crate) struct Hlc {
    ms: u64,
    counter: u32,
    node: ByteString,
}

impl Hlc {
    /// Stamps from now on name `node`.
    pub(crate) fn set_node(&mut self, node: &str) {
        self.node = ByteString::from(node);
    }

    /// A stamp newer than every one made or seen so far, at `wall_ms`.
    pub(crate) fn next(&mut self, wall_ms: u64) -> Stamp {
        if wall_ms > self.ms {
            self.ms = wall_ms;
            self.counter = 0;
        } else if self.counter == u32::MAX {
            self.ms += 1;
            self.counter = 0;
        } else {
            self.counter += 1;
        }
        Stamp {
            ms: self.ms,
            counter: self.counter,
            node: self.node.clone(),
        }
    }

    /// `stamp` was received: the next stamp made here is newer.
    pub(crate) fn observe(&mut self, stamp: &Stamp) {
        if (stamp.ms, stamp.counter) > (self.ms, self.counter) {
            self.ms = stamp.ms;
            self.counter = stamp.counter;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_move_forward_with_or_without_the_wall_clock() {
        let mut h = Hlc::default();
        h.set_node("n1");
        let a = h.next(100);
        let b = h.next(100);
        let c = h.next(90); // the wall clock stepped back
        let d = h.next(200);
        assert!(a < b && b < c && c < d, "{a:?} {b:?} {c:?} {d:?}");
        assert_eq!((d.ms, d.counter), (200, 0));
    }

    #[test]
    fn a_received_stamp_is_overtaken_by_the_next_one_made_here() {
        let mut h = Hlc::default();
        h.set_node("a");
        let remote = Stamp {
            ms: 5_000,
            counter: 7,
            node: "z".into(),
        };
        h.observe(&remote);
        let next = h.next(1_000);
        assert!(next > remote, "{next:?}");
        assert_eq!((next.ms, next.counter), (5_000, 8));
    }

    #[test]
    fn the_counter_never_wraps() {
        let mut h = Hlc::default();
        h.observe(&Stamp {
            ms: 10,
            counter: u32::MAX,
            node: ByteString::new(),
        });
        let s = h.next(0);
        assert_eq!((s.ms, s.counter), (11, 0));
    }
}
