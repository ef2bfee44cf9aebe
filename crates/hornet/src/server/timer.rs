//! The one timer: armed at the core's next deadline, never on a period.
//!
//! The core says when it next needs time to pass (`Broker::next_deadline`:
//! a CONNECT or keep-alive deadline, a session expiry, a delayed will, the
//! next `$SYS` publication). After every call into the core,
//! [`super::Shared::with_core`] hands that instant to [`Timer::rearm`],
//! which wakes the timer task only when the deadline moved earlier. The
//! task sleeps until the deadline, then ticks the core (handing it the
//! listeners' counters, the store's figures and the wall clock first).
//! An idle broker with nothing pending therefore never wakes up: no
//! sessions to expire, no keep-alive to check, `sys_interval 0`.
//!
//! Deadlines are rounded up to a [`GRID`] of 250 ms: each connection has a
//! keep-alive deadline of its own, and 19,000 idle clients would otherwise
//! wake the broker about 200 times a second (one tick each); on the grid
//! one tick serves every deadline that fell in its slot, so at most four
//! a second, and none at all while nothing is pending. (The core itself
//! now reports keep-alive deadlines on a one-second grid that starts at
//! the same instant, `hornet_core`'s `connections`, so those cost at most
//! one tick a second; the grid here still coalesces the other deadlines.) A deadline is
//! therefore served up to 250 ms late, well inside what keep-alive
//! ([MQTT-3.1.2-24]: one and a half intervals) and the other deadlines
//! allow.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;

use super::{listener, store, Shared};

/// No deadline armed.
const NONE: u64 = u64::MAX;

/// The granularity of the timer, in nanoseconds (see the module doc).
const GRID: u64 = 250_000_000;

/// The deadline the timer task sleeps until, as nanoseconds after `base`.
#[derive(Debug)]
pub(crate) struct Timer {
    base: Instant,
    armed: AtomicU64,
    wake: Notify,
}

impl Timer {
    pub(crate) fn new(base: Instant) -> Timer {
        Timer {
            base,
            armed: AtomicU64::new(NONE),
            wake: Notify::new(),
        }
    }

    /// The core's next deadline is `next`: wake the task if it sleeps
    /// until later (or not at all). One atomic operation when nothing
    /// changes.
    pub(crate) fn rearm(&self, next: Option<Instant>) {
        let Some(next) = next else {
            return;
        };
        let at = u64::try_from(next.saturating_duration_since(self.base).as_nanos())
            .unwrap_or(NONE - GRID)
            .min(NONE - GRID)
            .div_ceil(GRID)
            * GRID;
        if self.armed.fetch_min(at, Ordering::AcqRel) > at {
            self.wake.notify_one();
        }
    }

    fn instant(&self, at: u64) -> Instant {
        self.base + std::time::Duration::from_nanos(at)
    }
}

/// Sleeps until the armed deadline and ticks the core, forever.
pub(crate) async fn run(shared: Arc<Shared>, listeners: Vec<Arc<listener::ListenerState>>) {
    let timer = &shared.timer;
    // The core's deadlines before any input (a restored session's expiry).
    let first = shared.with_core(|core| core.next_deadline());
    timer.rearm(first);
    loop {
        let at = timer.armed.load(Ordering::Acquire);
        if at == NONE {
            timer.wake.notified().await;
            continue;
        }
        let sleep = tokio::time::sleep_until(timer.instant(at).into());
        tokio::select! {
            () = sleep => {}
            // An earlier deadline was armed: sleep until that one instead.
            () = timer.wake.notified() => continue,
        }
        // Disarm before ticking: `with_core` arms the next deadline the
        // tick leaves (or an input's, if one comes first).
        timer.armed.store(NONE, Ordering::Release);
        tick(&shared, &listeners);
    }
}

/// Hands the core the listeners' counters and the store's figures (for
/// `$SYS/broker/listeners/...` and `$SYS/broker/store/...`) and the wall
/// clock, then lets its time pass.
fn tick(shared: &Shared, listeners: &[Arc<listener::ListenerState>]) {
    let figures: Vec<hornet_core::ListenerFigures> =
        listeners.iter().map(|l| l.stats().figures()).collect();
    let store = shared.store_stats().map(|s| store::figures(&s));
    let (now, unix_ms) = super::wall_clock();
    shared.with_core_on_time(|core| {
        core.set_listener_figures(&figures);
        if let Some(store) = store {
            core.set_store_figures(store);
        }
        // Follows adjustments of the wall clock (NTP) for the deadlines
        // the store records and the stamps of retained writes (cluster).
        core.set_wall_clock(now, unix_ms);
        core.tick(now)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Deadlines land on the 250 ms grid, and only an earlier one re-arms.
    #[test]
    fn deadlines_are_rounded_up_to_the_grid_and_only_move_earlier() {
        let base = Instant::now();
        let timer = Timer::new(base);
        timer.rearm(None);
        assert_eq!(timer.armed.load(Ordering::Acquire), NONE);
        timer.rearm(Some(base + Duration::from_millis(1_010)));
        assert_eq!(timer.armed.load(Ordering::Acquire), 1_250_000_000);
        // Later deadlines, and ones in the same slot, change nothing.
        timer.rearm(Some(base + Duration::from_secs(90)));
        timer.rearm(Some(base + Duration::from_millis(1_200)));
        assert_eq!(timer.armed.load(Ordering::Acquire), 1_250_000_000);
        timer.rearm(Some(base + Duration::from_millis(400)));
        assert_eq!(timer.armed.load(Ordering::Acquire), 500_000_000);
        // A deadline already past arms the earliest slot.
        timer.rearm(Some(base));
        assert_eq!(timer.armed.load(Ordering::Acquire), 0);
    }
}
