//! Failed authentications per address: after [`LIMIT`] failures within
//! [`WINDOW`] an address is answered 429 (with `Retry-After`) without
//! checking what it sends, until its window ends, so a password cannot be
//! guessed at HTTP speed. Both figures are counted for `/metrics`
//! (`hornet_admin_auth_failures_total`, `hornet_admin_auth_throttled_total`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may have within [`WINDOW`].
pub(crate) const LIMIT: u32 = 10;
/// How long failures are remembered.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; older windows are pruned beyond this.
const MAX_ADDRESSES: usize = 10_000;

/// Failures by address, and the counters.
#[derive(Default)]
pub(crate) struct Throttle {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    failures: AtomicU64,
    throttled: AtomicU64,
}

impl Throttle {
    /// `Some(seconds to wait)` when `addr` has used up its failures.
    pub(crate) fn blocked(&self, addr: IpAddr, now: Instant) -> Option<u64> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let &(start, count) = windows.get(&addr)?;
        let end = start + WINDOW;
        if count >= LIMIT && now < end {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            Some((end - now).as_secs().max(1))
        } else {
            None
        }
    }

    /// Records a failed authentication from `addr`.
    pub(crate) fn failed(&self, addr: IpAddr, now: Instant) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_ADDRESSES {
            windows.retain(|_, (start, _)| now < *start + WINDOW);
        }
        let entry = windows.entry(addr).or_insert((now, 0));
        if now >= entry.0 + WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    /// Failed authentications so far.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Requests answered 429 so far.
    pub(crate) fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_the_limit_until_its_window_ends() {
        let t = Throttle::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let now = Instant::now();
        for _ in 0..LIMIT - 1 {
            t.failed(a, now);
        }
        assert_eq!(t.blocked(a, now), None);
        t.failed(a, now);
        assert_eq!(t.blocked(a, now), Some(WINDOW.as_secs()));
        assert_eq!(t.blocked(b, now), None, "per address");
        assert_eq!(t.blocked(a, now + WINDOW), None, "the window ends");
        t.failed(a, now + WINDOW);
        assert_eq!(t.blocked(a, now + WINDOW), None, "a new window");
        assert_eq!((t.failures(), t.throttled()), (LIMIT as u64 + 1, 1));
    }
}
