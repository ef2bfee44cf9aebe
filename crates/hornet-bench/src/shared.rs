//! What every task of one run shares: the start instant all timestamps are
//! measured from, the counters sampled for the measurement window, the stop
//! flag of the publishers and the first error seen.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Shared state of one run.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The instant payload timestamps count from.
    pub(crate) start: Instant,
    /// PUBLISH packets written by publishers.
    pub(crate) published: AtomicU64,
    /// QoS 1/2 PUBLISH packets whose flow the broker completed.
    pub(crate) acked: AtomicU64,
    /// PUBLISH packets received by all subscribers together.
    pub(crate) delivered: AtomicU64,
    /// Set when publishers must stop sending (they then drain their acks).
    pub(crate) stop: AtomicBool,
    /// Set during the measurement window: subscribers record latency.
    pub(crate) measuring: AtomicBool,
    /// Deliveries each message makes (subscribers per topic).
    pub(crate) fan: u64,
    /// Flooding publishers pause while more deliveries than this are
    /// outstanding (published × fan − delivered); 0 = never.
    pub(crate) max_ahead: u64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    /// Fresh state; timestamps count from now.
    pub(crate) fn new(fan: u64, max_ahead: u64) -> Self {
        Shared {
            start: Instant::now(),
            published: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            measuring: AtomicBool::new(false),
            fan,
            max_ahead,
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
        }
    }

    /// Nanoseconds since [`Shared::start`].
    pub(crate) fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// True when a flooding publisher should hold back.
    pub(crate) fn too_far_ahead(&self) -> bool {
        if self.max_ahead == 0 {
            return false;
        }
        let expected = self
            .published
            .load(Ordering::Relaxed)
            .saturating_mul(self.fan);
        expected.saturating_sub(self.delivered.load(Ordering::Relaxed)) > self.max_ahead
    }

    /// Counts an error and keeps the first message.
    pub(crate) fn error(&self, who: &str, what: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(format!("{who}: {what}"));
        }
    }

    /// How many errors, and the first.
    pub(crate) fn errors(&self) -> (u64, Option<String>) {
        let first = self
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (self.errors.load(Ordering::Relaxed), first)
    }
}
