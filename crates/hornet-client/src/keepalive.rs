//! Keep-alive on the caller's clock: a PINGREQ after `keep_alive` of
//! silence on our side ([MQTT-3.1.2-23]), and a timeout when the remote
//! answers neither CONNECT nor PINGREQ within another `keep_alive`.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct KeepAlive {
    interval: Duration,
    /// How long an answer may take when keep-alive is off.
    fallback: Duration,
    last_sent: Option<Instant>,
    waiting_since: Option<Instant>,
}

impl KeepAlive {
    pub(crate) fn new(keep_alive: u16, fallback: Duration) -> Self {
        KeepAlive {
            interval: Duration::from_secs(u64::from(keep_alive)),
            fallback,
            last_sent: None,
            waiting_since: None,
        }
    }

    /// The remote's Server Keep Alive replaces ours ([MQTT-3.2.2-21]).
    pub(crate) fn set_interval(&mut self, keep_alive: u16) {
        self.interval = Duration::from_secs(u64::from(keep_alive));
    }

    /// CONNECT sent at `now`: the CONNACK is awaited.
    pub(crate) fn connecting(&mut self, now: Instant) {
        self.last_sent = Some(now);
        self.waiting_since = Some(now);
    }

    /// A packet from the remote arrived: it is alive.
    pub(crate) fn answered(&mut self) {
        self.waiting_since = None;
    }

    pub(crate) fn sent(&mut self, now: Instant) {
        self.last_sent = Some(now);
    }

    fn answer_timeout(&self) -> Duration {
        if self.interval.is_zero() {
            self.fallback
        } else {
            self.interval
        }
    }

    /// When something must happen: a timeout or a PINGREQ.
    pub(crate) fn deadline(&self, connected: bool) -> Option<Instant> {
        if let Some(since) = self.waiting_since {
            return Some(since + self.answer_timeout());
        }
        if !connected || self.interval.is_zero() {
            return None;
        }
        self.last_sent.map(|t| t + self.interval)
    }

    /// What is due at `now`.
    pub(crate) fn due(&self, now: Instant, connected: bool) -> Due {
        if let Some(since) = self.waiting_since {
            return if now >= since + self.answer_timeout() {
                Due::Timeout
            } else {
                Due::Nothing
            };
        }
        match self.deadline(connected) {
            Some(at) if now >= at => Due::Ping,
            _ => Due::Nothing,
        }
    }

    pub(crate) fn ping_sent(&mut self, now: Instant) {
        self.last_sent = Some(now);
        self.waiting_since = Some(now);
    }

    pub(crate) fn interval_secs(&self) -> u16 {
        self.interval.as_secs().min(u64::from(u16::MAX)) as u16
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Due {
    Nothing,
    Ping,
    Timeout,
}
