//! The store writer: group commit on a thread of its own, reporting back
//! to the core what is durable.
//!
//! The core emits its records as `Action::Persist { seq, records }` and
//! holds the packets that promise them (see `hornet_core`'s `durable`
//! module); [`super::Shared::with_core`] hands each batch to this thread in
//! the core's order. The thread takes every batch waiting, appends them,
//! and makes them durable with one `fdatasync`: many connections share one
//! sync, so the more load, the more messages per sync. Then it reports the
//! highest durable number ([`Outcome::Durable`]); the next caller of the
//! core, or the durability task when the broker is otherwise quiet, tells
//! the core (`Broker::durable`), which releases the held packets.
//!
//! Modes (`fsync` in the configuration): `fsync` syncs every batch and the
//! core holds acknowledgements ([`AckPolicy::AfterDurable`]); `interval`
//! syncs at most every `fsync_interval_ms` and `none` never does, and in
//! both the core holds nothing ([`AckPolicy::Immediate`]).
//!
//! A failed write (disk full, I/O error) is reported as
//! [`Outcome::Failed`]; the core decides what follows (it closes the
//! connections that waited, refuses QoS 1/2 publishes). The thread retries
//! (the store writes a full snapshot) every second until it succeeds, and
//! then reports the numbers it has as durable, which ends the episode.
//! The thread never takes a lock the core's holder may wait on: it only
//! queues outcomes and wakes a task.
//!
//! [`AckPolicy::AfterDurable`]: hornet_core::AckPolicy::AfterDurable
//! [`AckPolicy::Immediate`]: hornet_core::AckPolicy::Immediate

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hornet_core::persist::StoreOp;
use hornet_core::Broker;
use hornet_store::{Store, StoreFaults, StoreStats};
use tokio::sync::Notify;

use super::lock;
use crate::config::FsyncMode;

/// What the store thread tells the core, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every record up to this number is written (and synced, in `fsync`
    /// mode).
    Durable(u64),
    /// The records up to this number not reported durable could not be
    /// written.
    Failed(u64),
}

/// Outcomes on their way from the store thread to the core.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    queue: Mutex<VecDeque<Outcome>>,
    /// Something is queued: read without the lock by every core caller.
    pending: AtomicBool,
    /// Wakes the durability task (see [`run_reports`]).
    wake: Notify,
}

impl Reports {
    fn push(&self, outcome: Outcome) {
        lock(&self.queue).push_back(outcome);
        self.pending.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether outcomes wait to be applied (cheap: an atomic load).
    pub(crate) fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Tells the core every queued outcome, in order.
    pub(crate) fn apply(&self, core: &mut Broker, now: Instant) {
        let outcomes = {
            let mut queue = lock(&self.queue);
            self.pending.store(false, Ordering::Release);
            std::mem::take(&mut *queue)
        };
        for outcome in outcomes {
            match outcome {
                Outcome::Durable(seq) => core.durable(now, seq),
                Outcome::Failed(seq) => core.persist_failed(now, seq),
            }
        }
    }
}

/// Applies the store's outcomes when no other caller of the core did
/// first (an idle broker: nobody else takes the core lock).
pub(crate) async fn run_reports(shared: Arc<super::Shared>) {
    let Some(durability) = shared.durability.get() else {
        return;
    };
    let reports = durability.reports.clone();
    loop {
        reports.wake.notified().await;
        if reports.pending() {
            // `with_core` applies them first thing.
            shared.with_core(|_| ());
        }
    }
}

/// The shell's handle on the store thread.
pub(crate) struct Durability {
    tx: SyncSender<(u64, Vec<StoreOp>)>,
    pub(crate) reports: Arc<Reports>,
    pub(crate) faults: StoreFaults,
    pub(crate) stats: Arc<Mutex<StoreStats>>,
}

impl Durability {
    /// Hands the records of `Action::Persist { seq, .. }` to the store
    /// thread. Called in the core's order (under the outbox lock, taken
    /// before the core lock is released).
    pub(crate) fn submit(&self, seq: u64, ops: Vec<StoreOp>) {
        if self.tx.send((seq, ops)).is_err() {
            tracing::error!("The store thread is gone; records are not written.");
            self.reports.push(Outcome::Failed(seq));
        }
    }
}

/// The figures the core publishes under `$SYS/broker/store/...`.
pub(crate) fn figures(s: &StoreStats) -> hornet_core::StoreFigures {
    hornet_core::StoreFigures {
        disk_bytes: s.log_bytes,
        live_bytes: s.live_bytes,
        messages: s.messages,
        records: s.records,
        commits: s.commits,
        fsyncs: s.syncs,
        compactions: s.compactions,
        failures: s.failures,
        fsync_micros: s.sync_latency.total_nanos / 1000,
    }
}

/// Batches waiting for the store thread before callers wait.
const BACKLOG: usize = 256;

/// Starts the store thread for `store`.
pub(crate) fn start(store: Store, mode: FsyncMode, interval: Duration) -> Durability {
    // Bounded: a store that cannot keep up slows the core's callers down
    // (they wait to hand over records) instead of buffering without limit.
    let (tx, rx) = sync_channel(BACKLOG);
    let reports = Arc::new(Reports::default());
    let faults = store.faults();
    let stats = Arc::new(Mutex::new(store.stats()));
    let writer = Writer {
        store,
        mode,
        interval,
        rx,
        reports: reports.clone(),
        stats: stats.clone(),
    };
    std::thread::Builder::new()
        .name("hornet-store".into())
        .spawn(move || writer.run())
        .expect("spawn the store thread");
    Durability {
        tx,
        reports,
        faults,
        stats,
    }
}

struct Writer {
    store: Store,
    mode: FsyncMode,
    interval: Duration,
    rx: Receiver<(u64, Vec<StoreOp>)>,
    reports: Arc<Reports>,
    stats: Arc<Mutex<StoreStats>>,
}

impl Writer {
    fn run(mut self) {
        let mut last_sync = Instant::now();
        let mut unsynced = false;
        let mut failing = false;
        let mut last_attempt = Instant::now();
        // The highest number taken from the channel.
        let mut taken = 0;
        loop {
            let wait = if failing {
                Some(Duration::from_secs(1))
            } else if self.mode == FsyncMode::Interval && unsynced {
                Some(self.interval.saturating_sub(last_sync.elapsed()))
            } else {
                None
            };
            let first = match wait {
                None => match self.rx.recv() {
                    Ok(batch) => Some(batch),
                    Err(_) => return,
                },
                Some(t) => match self.rx.recv_timeout(t) {
                    Ok(batch) => Some(batch),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                },
            };
            let mut new = false;
            if let Some((seq, ops)) = first {
                self.store.append(ops);
                (taken, new) = (seq, true);
                while let Ok((seq, ops)) = self.rx.try_recv() {
                    self.store.append(ops);
                    taken = seq;
                }
            }
            let mut synced = self.mode == FsyncMode::Fsync;
            let due = last_sync.elapsed() >= self.interval;
            // While failing, the store is retried (a full snapshot) once a
            // second, not for every batch; meanwhile batches only join the
            // live state, and the core withholds what waited for them.
            let retry = !failing || last_attempt.elapsed() >= Duration::from_secs(1);
            if retry {
                last_attempt = Instant::now();
            }
            let result = if !retry {
                Err(std::io::Error::other(
                    "the store is failing; retried every second",
                ))
            } else {
                self.store.commit(synced)
            }
            .and_then(|()| {
                if self.mode == FsyncMode::Interval && (unsynced || new) && due {
                    self.store.sync()?;
                    synced = true;
                }
                Ok(())
            });
            match result {
                Ok(()) => {
                    if synced {
                        last_sync = Instant::now();
                        unsynced = false;
                    } else if new {
                        unsynced = true;
                    }
                    if new || failing {
                        self.reports.push(Outcome::Durable(taken));
                    }
                    if failing {
                        failing = false;
                        tracing::warn!("The store in {} writes again.", self.store.dir().display());
                    }
                }
                Err(e) => {
                    if new {
                        self.reports.push(Outcome::Failed(taken));
                    }
                    if !failing {
                        failing = true;
                        tracing::error!(
                            "Writing the store in {} failed: {e}. Retrying every second.",
                            self.store.dir().display()
                        );
                    }
                }
            }
            *lock(&self.stats) = self.store.stats();
        }
    }
}

/// What `Store::open` reported, as log lines.
pub(crate) fn log_recovery(dir: &std::path::Path, recovery: &hornet_store::Recovery) {
    for cut in &recovery.cuts {
        tracing::warn!("Store recovery: {cut}.");
    }
    let (sessions, owed, retained) = recovery.counts;
    tracing::info!(
        "Store in {}: recovered {sessions} sessions, {owed} messages owed to them and \
         {retained} retained messages from {} records in {} segments; {} bytes of torn or \
         corrupt tail dropped.",
        dir.display(),
        recovery.records,
        recovery.segments,
        recovery.bytes_dropped
    );
}
