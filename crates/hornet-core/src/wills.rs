//! Wills waiting for their Will Delay Interval ([MQTT-3.1.3-9]), by
//! session, with the instant each is due.
//!
//! [`DelayedWills`] says which will is due; publishing it (and recording
//! that it is gone) is the broker's (`ending`, `timers`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use ahash::AHashMap;
use hornet_codec::LastWill;

use crate::ids::SessionKey;

/// The delayed wills, by session.
#[derive(Debug, Default)]
pub(crate) struct DelayedWills {
    by_session: AHashMap<SessionKey, (Instant, LastWill)>,
    /// Deadlines, checked lazily (entries may be stale).
    timers: BinaryHeap<Reverse<(Instant, SessionKey)>>,
}

impl DelayedWills {
    /// Holds `will` of session `key` until `at` (replacing one held).
    pub(crate) fn hold(&mut self, key: SessionKey, at: Instant, will: LastWill) {
        self.by_session.insert(key, (at, will));
        self.timers.push(Reverse((at, key)));
    }

    /// Takes the will of session `key` out, with when it was due.
    pub(crate) fn remove(&mut self, key: &SessionKey) -> Option<(Instant, LastWill)> {
        self.by_session.remove(key)
    }

    /// Every will waiting: its session, when it is due, the will.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (SessionKey, Instant, &LastWill)> {
        self.by_session
            .iter()
            .map(|(key, (at, will))| (*key, *at, will))
    }

    /// When the next deadline falls (it may turn out stale).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// A session whose will is due at `now` (still held: the broker takes
    /// it with [`DelayedWills::remove`]); `None` when there is none.
    pub(crate) fn next_due(&mut self, now: Instant) -> Option<SessionKey> {
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            // Stale unless the will waiting for this session is due at `at`
            // (it may have been cancelled by a reconnect, or replaced).
            if self.by_session.get(&key).is_some_and(|(due, _)| *due == at) {
                return Some(key);
            }
        }
        None
    }
}
