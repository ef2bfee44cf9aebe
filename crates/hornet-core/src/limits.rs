//! Per-client limits and quotas that are not part of a packet's own rules:
//! client id length, topic length and levels, subscriptions per client,
//! publish rates (token buckets) and flapping detection.
//!
//! Each limit has a default in [`Settings`](crate::Settings), a log line
//! naming the client and the setting when it bites (once per episode for
//! the rate limits), and a counter in [`Stats`](crate::Stats) published
//! under `$SYS/broker/limits/...`.
//!
//! Publish rates are decided here with the clock the shell passes in. Each
//! connection has a bucket per configured rate holding up to one second of
//! its rate; every PUBLISH takes one message and its wire size. A bucket
//! below zero means the client is over the rate: with
//! [`RateAction::Throttle`](crate::RateAction::Throttle) the shell asks [`Broker::read_pause`](crate::Broker::read_pause) after
//! each batch and stops reading the socket that long (TCP backpressure
//! slows the client down; nothing it sent is lost), with
//! [`RateAction::Disconnect`](crate::RateAction::Disconnect) the core sends DISCONNECT 0x96 Message rate
//! too high (MQTT 5) and closes.
//!
//! Flapping: accepted CONNECTs are counted per client id over
//! `flapping_window`; one more than `flapping_max_connects` bans the id
//! for `flapping_ban` (CONNACK 0x9F Connection rate exceeded, 3.x 0x03
//! Server unavailable). Only authenticated CONNECTs count, so nobody can
//! get another client's id banned without its credentials.
//!
//! A connect is recorded when its connection ends, not when it arrives
//! (with the instant its socket was accepted, `Conn::opened_at`): a
//! CONNECT counts the recorded connects of its client id in the window,
//! the live connection it takes over (if that one is in the window), and
//! itself. A client id seen once holds no record, so 19,000 devices that
//! each connect once hold none (a record was about 200 bytes per
//! connection for its first window, docs/benchmarks.md); the ban comes
//! at the same connect as when every connect was recorded on arrival.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytestring::ByteString;

use crate::hints::Hints;
use crate::settings::Settings;
use crate::sys::Stats;

/// A token bucket: `rate` tokens per second, holding at most one second's.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Bucket {
        Bucket {
            rate,
            tokens: rate,
            at: now,
        }
    }

    /// Refills to `now`, takes `cost`, and says how long until the bucket
    /// is back at zero (`None`: it is not in debt).
    fn take(&mut self, cost: f64, now: Instant) -> Option<Duration> {
        self.refill(now);
        self.tokens -= cost;
        self.debt()
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.at = now;
    }

    fn debt(&self) -> Option<Duration> {
        (self.tokens < 0.0).then(|| Duration::from_secs_f64(-self.tokens / self.rate))
    }
}

/// A connection's publish rate state.
#[derive(Debug, Clone, Default)]
pub(crate) struct RateState {
    messages: Option<Bucket>,
    bytes: Option<Bucket>,
    /// Over the rate since this instant (the episode was logged).
    over_since: Option<Instant>,
}

/// One client id's recent connects, for flapping detection.
#[derive(Debug, Default)]
struct FlapEntry {
    connects: VecDeque<Instant>,
    banned_until: Option<Instant>,
}

/// Flapping detection (see the module doc): recent connects by client id,
/// and when they were last pruned.
#[derive(Debug)]
pub(crate) struct Limits {
    flapping: AHashMap<ByteString, FlapEntry>,
    /// When `flapping` was last pruned.
    pruned: Instant,
}

impl Limits {
    /// No records, as of `now`.
    pub(crate) fn new(now: Instant) -> Limits {
        Limits {
            flapping: AHashMap::new(),
            pruned: now,
        }
    }

    /// Counts an accepted CONNECT of `client_id`, whose live connection
    /// (the one this CONNECT takes over, if any) was accepted at `live`;
    /// `Err` with a log line when the id is flapping (see the module
    /// doc).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn note_connect(
        &mut self,
        now: Instant,
        client_id: &ByteString,
        live: Option<Instant>,
        peer: std::net::SocketAddr,
        settings: &Settings,
        stats: &mut Stats,
        hints: &mut Hints,
    ) -> Result<(), ()> {
        let max = settings.flapping_max_connects;
        if max == 0 {
            return Ok(());
        }
        let window = settings.flapping_window;
        let ban = settings.flapping_ban;
        let live = usize::from(live.is_some_and(|t| t + window > now));
        let recorded = match self.flapping.get_mut(&**client_id) {
            Some(entry) => {
                if let Some(until) = entry.banned_until {
                    if now < until {
                        stats.flapping_refused += 1;
                        tracing::info!(
                            "Client {client_id} from {peer} refused: the client id is banned for \
                             flapping for another {}s (flapping_ban).",
                            until.saturating_duration_since(now).as_secs()
                        );
                        hints.give(crate::hints::Hint::Flapping, settings);
                        return Err(());
                    }
                    entry.banned_until = None;
                    entry.connects.clear();
                }
                entry.connects.retain(|&t| t + window > now);
                entry.connects.len()
            }
            None => 0,
        };
        if (recorded + live + 1) as u64 <= u64::from(max) {
            return Ok(());
        }
        let entry = self.flapping.entry(client_id.clone()).or_default();
        entry.banned_until = Some(now + ban);
        entry.connects.clear();
        stats.flapping_refused += 1;
        tracing::warn!(
            "Client {client_id} from {peer} refused: it connected more than {max} times in \
             {}s (flapping_max_connects, flapping_window), so the client id is refused for {}s \
             (flapping_ban). The usual cause is two devices configured with the same client \
             id: each connect takes over the other's session and kicks it off, and both \
             reconnect forever. Give every device its own client id.",
            window.as_secs(),
            ban.as_secs()
        );
        hints.give(crate::hints::Hint::Flapping, settings);
        Err(())
    }

    /// A connection of `client_id` accepted at `accepted` (and past its
    /// CONNECT) ended: its connect counts against the next ones while it is
    /// in the window (see the module doc).
    pub(crate) fn note_ended(
        &mut self,
        now: Instant,
        client_id: &ByteString,
        accepted: Instant,
        settings: &Settings,
    ) {
        let window = settings.flapping_window;
        if settings.flapping_max_connects == 0 || client_id.is_empty() || accepted + window <= now {
            return;
        }
        let entry = self.flapping.entry(client_id.clone()).or_default();
        if entry.banned_until.is_some_and(|until| now < until) {
            // Admitted before the ban: the ban's count already had it.
            return;
        }
        entry.connects.push_back(accepted);
    }

    /// Forgets flapping records that can no longer matter, once per
    /// `window`.
    pub(crate) fn tick(&mut self, now: Instant, window: Duration) {
        if now < self.pruned + window {
            return;
        }
        self.pruned = now;
        self.flapping.retain(|_, e| {
            e.banned_until.is_some_and(|u| u > now) || e.connects.iter().any(|&t| t + window > now)
        });
        // A map never shrinks by itself: after a burst of reconnects its
        // table would stay at the burst's size for good.
        if self.flapping.capacity() > 64 && self.flapping.len() < self.flapping.capacity() / 4 {
            self.flapping.shrink_to_fit();
        }
    }

    /// When [`Limits::tick`] next has work, if ever.
    pub(crate) fn next_due(&self, window: Duration) -> Option<Instant> {
        (!self.flapping.is_empty()).then(|| self.pruned + window)
    }
}

/// A PUBLISH that took a connection over its rates (see
/// [`RateState::take`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OverRate {
    messages: bool,
    bytes: bool,
}

impl OverRate {
    /// Which rates, in the words of the settings.
    pub(crate) fn describe(self, s: &Settings) -> String {
        match (self.messages, self.bytes) {
            (true, false) => format!("max_publish_rate {} messages/s", s.max_publish_rate),
            (false, true) => format!(
                "max_publish_bytes_rate {} bytes/s",
                s.max_publish_bytes_rate
            ),
            _ => format!(
                "max_publish_rate {} messages/s and max_publish_bytes_rate {} bytes/s",
                s.max_publish_rate, s.max_publish_bytes_rate
            ),
        }
    }
}

impl RateState {
    /// A rate state for a new connection, if any rate is configured.
    pub(crate) fn new(s: &Settings, now: Instant) -> Option<RateState> {
        if s.max_publish_rate == 0 && s.max_publish_bytes_rate == 0 {
            return None;
        }
        Some(RateState {
            messages: (s.max_publish_rate > 0)
                .then(|| Bucket::new(f64::from(s.max_publish_rate), now)),
            bytes: (s.max_publish_bytes_rate > 0)
                .then(|| Bucket::new(s.max_publish_bytes_rate as f64, now)),
            over_since: None,
        })
    }

    /// Counts a PUBLISH of `wire_len` bytes; `Some` when it is over a rate.
    pub(crate) fn take(&mut self, now: Instant, wire_len: usize) -> Option<OverRate> {
        let over_messages = self.messages.as_mut().and_then(|b| b.take(1.0, now));
        let over_bytes = self
            .bytes
            .as_mut()
            .and_then(|b| b.take(wire_len as f64, now));
        if over_messages.is_none() && over_bytes.is_none() {
            return None;
        }
        Some(OverRate {
            messages: over_messages.is_some(),
            bytes: over_bytes.is_some(),
        })
    }

    /// Starts an over-the-rate episode at `now`; false when one is under
    /// way already (it was logged).
    pub(crate) fn begin_episode(&mut self, now: Instant) -> bool {
        if self.over_since.is_some() {
            return false;
        }
        self.over_since = Some(now);
        true
    }

    /// How long to stop reading (`None`: read on); ends the episode once
    /// the client is back under its rates.
    pub(crate) fn pause(&mut self, now: Instant) -> Option<Duration> {
        self.over_since?;
        let mut pause = None;
        for bucket in [self.messages.as_mut(), self.bytes.as_mut()]
            .into_iter()
            .flatten()
        {
            bucket.refill(now);
            pause = pause.max(bucket.debt());
        }
        if pause.is_none() {
            self.over_since = None;
        }
        pause
    }
}

/// Why `topic` breaks `max_topic_length` or `max_topic_levels`, if it does.
pub(crate) fn topic_over_limits(s: &Settings, topic: &str) -> Option<String> {
    if topic.len() > s.max_topic_length {
        return Some(format!(
            "it is {} bytes long, over max_topic_length {}",
            topic.len(),
            s.max_topic_length
        ));
    }
    // A topic of n bytes has at most n + 1 levels: most never need counting.
    if topic.len() >= s.max_topic_levels {
        let levels = topic.bytes().filter(|&b| b == b'/').count() + 1;
        if levels > s.max_topic_levels {
            return Some(format!(
                "it has {levels} levels, over max_topic_levels {}",
                s.max_topic_levels
            ));
        }
    }
    None
}
