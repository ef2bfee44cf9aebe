//! CONNECT password checks, run off the core's lock and off the async
//! workers.
//!
//! The core answers a CONNECT with a user name by emitting
//! `Action::CheckPassword` and parking the connection (see
//! `hornet_core`'s `auth` module). `Shared::with_core` hands each check to
//! this module's queue; [`run`] takes them one by one and runs each on
//! tokio's blocking pool with `spawn_blocking`, then reports the verdict
//! with `Broker::password_checked`.
//!
//! At most [`concurrent_checks`] run at once (half the CPUs, at least
//! one): a burst of logins with a 210,000-iteration PBKDF2 (about 100 ms
//! each) then never takes every core from the workers that serve the
//! connected clients; the logins wait in the queue instead, still bounded
//! by the connect timeout. A check whose connection is gone by its turn
//! is skipped, so dropped sockets cost no hashing.

use std::sync::Arc;
use std::time::Instant;

use hornet_core::{ConnId, PasswordCheck};
use tokio::sync::{mpsc, Semaphore};

use super::Shared;

/// The sending side: `Shared::with_core` pushes the checks the core asked for.
#[derive(Debug, Clone)]
pub(crate) struct Queue(mpsc::UnboundedSender<(ConnId, PasswordCheck)>);

impl Queue {
    /// Queues a check (never blocks; the core holds its lock).
    pub(crate) fn push(&self, conn: ConnId, check: PasswordCheck) {
        // Only fails when the server is shutting down.
        let _ = self.0.send((conn, check));
    }
}

/// The queue and its receiving end, for [`run`].
pub(crate) fn queue() -> (Queue, mpsc::UnboundedReceiver<(ConnId, PasswordCheck)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Queue(tx), rx)
}

/// Password checks that may run at once: half the CPUs, at least one.
pub(crate) fn concurrent_checks() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Runs the queued checks on the blocking pool and reports each verdict.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut checks: mpsc::UnboundedReceiver<(ConnId, PasswordCheck)>,
) {
    let permits = Arc::new(Semaphore::new(concurrent_checks()));
    while let Some((conn, check)) = checks.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        // Gone while queued (closed, timed out): nothing to check.
        if !shared.with_core(|core| core.awaits_password_check(conn)) {
            continue;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let ok = tokio::task::spawn_blocking(move || check.run())
                .await
                // A panicking check is a bug: refuse rather than admit.
                .unwrap_or(false);
            drop(permit);
            shared.with_core(|core| core.password_checked(Instant::now(), conn, ok));
        });
    }
}
