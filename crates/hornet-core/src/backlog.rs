//! Read-side flow control under floods: a publisher whose messages push a
//! subscriber's queue to `backlog_pause_messages` or beyond, or to
//! `backlog_pause_bytes` of payload, is not read for a moment, so the
//! flood waits in the kernel's socket buffers rather than as queued
//! messages in the broker (what Mosquitto gets by being slower than its
//! clients).
//!
//! Only while the subscriber's backlog is draining: messages must have
//! left its queue (written packets made room, or acknowledgements opened
//! its inflight window) within `backlog_pause_stall`; a queue that has
//! just begun counts as drained then (until then the subscriber took
//! everything, and its writer reports in batches). A stuck
//! subscriber stops pausing anybody once that much time has passed without
//! a write (logged once per episode), and from then on its queue limits
//! (`max_queued_messages`, `max_queued_bytes`, counted drops) apply as
//! without this rule. A pause is sized to let the subscriber drain half its
//! backlog at the rate it has drained so far (at least 1 ms, at most the
//! stall bound), so the subscriber never runs dry while its publishers
//! wait, and the shell asks again after every read (`Broker::read_pause`).
//! Nothing is dropped or reordered by a pause; QoS 1 and 2 flows are
//! only delayed.
//!
//! Deterministic like the rest of the core: time comes with the events
//! (`packet_received`'s `now`, the broker's latest for `packets_written`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::ids::ConnId;
use crate::session::SessionKey;

/// When a queue is long enough to pause its publishers: this many
/// messages, or this many payload bytes (0: that half is off).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Threshold {
    pub(crate) messages: usize,
    pub(crate) bytes: usize,
}

impl Threshold {
    fn off(self) -> bool {
        self.messages == 0 && self.bytes == 0
    }

    fn reached(self, len: usize, bytes: usize) -> bool {
        (self.messages > 0 && len >= self.messages) || (self.bytes > 0 && bytes >= self.bytes)
    }
}

/// The shortest pause worth a timer.
const MIN_PAUSE: Duration = Duration::from_millis(1);

/// What the backlog rule remembers between events.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    /// The connection whose packets are being handled.
    feeding: Option<ConnId>,
    /// The last session whose queue reached the threshold while `feeding`'s
    /// packets were handled, with that connection.
    pressed: Option<(ConnId, SessionKey)>,
    /// Subscriber connections with a queue, and how they drain it.
    draining: HashMap<ConnId, Drain>,
}

/// How one subscriber connection has drained its backlog.
#[derive(Debug)]
struct Drain {
    /// When its queue was first seen non-empty after a write.
    since: Instant,
    /// Its latest write report.
    last: Instant,
    /// Messages that left the queue since `since`.
    written: u64,
    /// Whether the stall was already logged for this episode.
    stall_logged: bool,
}

impl Drain {
    /// A backlog first seen at `now`, nothing written from it yet.
    fn new(now: Instant) -> Drain {
        Drain {
            since: now,
            last: now,
            written: 0,
            stall_logged: false,
        }
    }
}

impl Backlog {
    /// Packets of `id` are about to be handled.
    pub(crate) fn feeding(&mut self, id: ConnId) {
        self.feeding = Some(id);
    }

    /// Session `key` (online on `sub`, if at all) holds `len` messages
    /// (`bytes` of payload) in its queue after a message was queued for it
    /// at `now`. A queue that
    /// has just begun counts as drained up to now: the subscriber took
    /// everything until then, so a stuck one pauses its publishers for at
    /// most the stall bound from here.
    pub(crate) fn queued(
        &mut self,
        key: SessionKey,
        sub: Option<ConnId>,
        (len, bytes): (usize, usize),
        threshold: Threshold,
        now: Instant,
    ) {
        if threshold.off() {
            return;
        }
        if let (1, Some(sub)) = (len, sub) {
            self.draining.insert(sub, Drain::new(now));
        }
        if threshold.reached(len, bytes) {
            if let Some(id) = self.feeding {
                self.pressed = Some((id, key));
            }
        }
    }

    /// Connection `id`'s queue went from `before` to `after` messages at
    /// `now` (written packets made room, or acknowledgements opened the
    /// window): it is draining.
    pub(crate) fn drained(&mut self, id: ConnId, before: usize, after: usize, now: Instant) {
        if after == 0 {
            self.draining.remove(&id);
            return;
        }
        let drain = self.draining.entry(id).or_insert_with(|| Drain::new(now));
        drain.last = now;
        drain.written += before.saturating_sub(after) as u64;
        drain.stall_logged = false;
    }

    /// How long to stop reading `id`, whose messages were just handled:
    /// `Some` when they took a session's queue to `threshold` or beyond
    /// and that session's connection drained within `stall`. `queue`
    /// looks the session up: its connection, queue length, queued payload
    /// bytes and client id.
    pub(crate) fn pause<'a>(
        &mut self,
        id: ConnId,
        now: Instant,
        threshold: Threshold,
        stall: Duration,
        queue: impl FnOnce(SessionKey) -> Option<(ConnId, usize, usize, &'a str)>,
    ) -> Option<Duration> {
        self.feeding = None;
        let (from, key) = self.pressed.take()?;
        if from != id || threshold.off() {
            return None;
        }
        let (sub, len, bytes, client_id) = queue(key)?;
        if !threshold.reached(len, bytes) {
            return None;
        }
        let drain = self.draining.get_mut(&sub)?;
        let idle = now.saturating_duration_since(drain.last);
        if idle >= stall {
            if !drain.stall_logged {
                drain.stall_logged = true;
                tracing::info!(
                    "Client {} has taken no message from its queue for {} ms ({} queued, \
                     {} bytes): its publishers are read on (backlog_pause_stall_ms).",
                    client_id,
                    idle.as_millis(),
                    len,
                    bytes
                );
            }
            return None;
        }
        let elapsed = now.saturating_duration_since(drain.since).as_secs_f64();
        let pause = if drain.written == 0 || elapsed <= 0.0 {
            MIN_PAUSE
        } else {
            let per_sec = drain.written as f64 / elapsed;
            Duration::from_secs_f64((len as f64 / 2.0) / per_sec)
        };
        Some(pause.clamp(MIN_PAUSE, (stall - idle).max(MIN_PAUSE)))
    }

    /// Connection `id` is gone.
    pub(crate) fn forget(&mut self, id: ConnId) {
        self.draining.remove(&id);
        if self.feeding == Some(id) {
            self.feeding = None;
        }
    }
}
