//! The store writer: group commit on a thread of its own, and the gate
//! that holds acknowledgements back until their records are on disk.
//!
//! Every call into the core that recorded durable changes (see
//! `hornet_core::persist`) hands its ops to this thread with a commit
//! sequence number, taken in core order under the core lock
//! ([`super::Shared::with_core`]). The packets that call emitted are queued
//! in the recipients' outboxes behind a gate carrying that number, and
//! their writers send nothing from the gate on until the number is durable
//! (`Outbox` keeps FIFO order, so a packet behind a gated one waits too).
//!
//! The thread takes every batch waiting, appends them, and makes them
//! durable with one `fdatasync`: many connections share one sync, so the
//! more load, the more messages per sync. Then it publishes the highest
//! durable number and wakes the writers that wait on it.
//!
//! Modes (`fsync` in the configuration): `fsync` gates as above;
//! `interval` does not gate and syncs at most every `fsync_interval_ms`;
//! `none` does not gate and never syncs.
//!
//! A failed write (disk full, I/O error) marks the batch's numbers failed:
//! the connections waiting on them are closed without their
//! acknowledgements (the client sends again), the core is told to refuse
//! new QoS 1/2 publishes, and the thread retries (the store writes a full
//! snapshot) every second until it succeeds. Meanwhile nothing is gated:
//! publishes are refused anyway, and the other answers (CONNACK, SUBACK,
//! PUBREL) go out so clients can keep working; their records are kept in
//! the store's live state and written by the snapshot that ends the
//! episode.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hornet_codec::{Packet, QoS};
use hornet_core::persist::StoreOp;
use hornet_store::{Store, StoreFaults, StoreStats};

use super::lock;
use super::outbox::Outbox;
use crate::config::FsyncMode;

/// Whether `packet`, emitted by a call that recorded durable changes,
/// must wait for them to be on disk.
///
/// Every acknowledgement does: PUBACK/PUBREC (the message is stored),
/// PUBCOMP (the inbound QoS 2 id is released: sent early, a crash would
/// keep the id and swallow the client's next message with it), PUBREL
/// (sent early, a crash would resend the PUBLISH to a client that already
/// released it: a second delivery), SUBACK/UNSUBACK, CONNACK. So do QoS 2
/// PUBLISH packets (their packet id must be durable, or a restart would
/// resend the message under a new id: a second delivery). QoS 0 and 1
/// PUBLISH packets to subscribers do not wait: a crash can only make a
/// QoS 1 message arrive again, which QoS 1 allows; and without this a
/// subscriber's inflight window would cost one fsync per round trip. A
/// packet queued behind a waiting one still waits (per-connection order).
pub(crate) fn must_wait(packet: &Packet) -> bool {
    !matches!(packet, Packet::Publish(p) if p.qos != QoS::ExactlyOnce)
}

/// Commit sequence numbers and who waits for them.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    /// Every number up to this one is resolved (durable or failed).
    resolved: AtomicU64,
    /// Ranges of numbers whose write failed.
    failed: Mutex<Vec<(u64, u64)>>,
    /// The last write failed: nothing is gated until one succeeds (the
    /// core refuses QoS 1/2 publishes meanwhile; `with_core` tells it, so
    /// the store thread never waits for the core lock, whose holder may be
    /// waiting for the store thread).
    failing: AtomicBool,
    /// Outboxes holding packets behind a gate, with its number, in
    /// number order.
    waiting: Mutex<VecDeque<(u64, Arc<Outbox>)>>,
}

impl Gate {
    /// The highest resolved number.
    pub(crate) fn resolved(&self) -> u64 {
        self.resolved.load(Ordering::SeqCst)
    }

    /// Whether the last write failed.
    pub(crate) fn failing(&self) -> bool {
        self.failing.load(Ordering::SeqCst)
    }

    /// Whether number `seq` (resolved) failed to be written.
    pub(crate) fn failed(&self, seq: u64) -> bool {
        lock(&self.failed)
            .iter()
            .any(|&(a, b)| (a..=b).contains(&seq))
    }

    /// `outbox` holds packets behind number `seq`: wake it when `seq` is
    /// resolved. Called before the packets are pushed (see
    /// `Outbox::push_gated`), so a resolution cannot slip in between.
    pub(crate) fn wait(&self, outbox: &Arc<Outbox>, seq: u64) {
        let mut waiting = lock(&self.waiting);
        let known = waiting
            .back()
            .is_some_and(|(s, o)| *s == seq && Arc::ptr_eq(o, outbox));
        if !known {
            waiting.push_back((seq, outbox.clone()));
        }
    }

    fn resolve(&self, upto: u64, failed_from: Option<u64>) {
        if let Some(from) = failed_from {
            let mut failed = lock(&self.failed);
            // Consecutive failures make one range: the list stays short
            // through a long episode.
            match failed.last_mut() {
                Some(last) if last.1 + 1 >= from => last.1 = upto,
                _ => failed.push((from, upto)),
            }
        }
        self.resolved.store(upto, Ordering::SeqCst);
        let mut ready = Vec::new();
        {
            let mut waiting = lock(&self.waiting);
            while waiting.front().is_some_and(|(s, _)| *s <= upto) {
                ready.push(waiting.pop_front().expect("front").1);
            }
        }
        for outbox in ready {
            outbox.wake();
        }
    }
}

/// The shell's handle on the store thread.
pub(crate) struct Durability {
    tx: Mutex<SyncSender<(u64, Vec<StoreOp>)>>,
    /// The last number handed out (under the core lock).
    next: AtomicU64,
    pub(crate) gate: Arc<Gate>,
    gating: bool,
    pub(crate) faults: StoreFaults,
    pub(crate) stats: Arc<Mutex<StoreStats>>,
}

impl Durability {
    /// Hands `ops` to the store thread; returns the number the packets of
    /// the same call must wait for, or 0 when they need not wait. Called
    /// with the core lock held, so numbers follow core order.
    pub(crate) fn submit(&self, ops: Vec<StoreOp>) -> u64 {
        // Decided before the batch is handed over: the store thread may
        // fail it (and set `failing`) before `send` returns, and then the
        // packets must still wait, to be withheld.
        let gated = self.gating && !self.gate.failing.load(Ordering::SeqCst);
        let seq = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        if lock(&self.tx).send((seq, ops)).is_err() {
            tracing::error!("The store thread is gone; records are not written.");
            return 0;
        }
        if gated {
            seq
        } else {
            0
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
    // Bounded: a store that cannot keep up slows the core down (its
    // callers wait to hand over ops) instead of buffering without limit.
    let (tx, rx) = sync_channel(BACKLOG);
    let gate = Arc::new(Gate::default());
    let faults = store.faults();
    let stats = Arc::new(Mutex::new(store.stats()));
    let writer = Writer {
        store,
        mode,
        interval,
        rx,
        gate: gate.clone(),
        stats: stats.clone(),
    };
    std::thread::Builder::new()
        .name("hornet-store".into())
        .spawn(move || writer.run())
        .expect("spawn the store thread");
    Durability {
        tx: Mutex::new(tx),
        next: AtomicU64::new(0),
        gate,
        gating: mode == FsyncMode::Fsync,
        faults,
        stats,
    }
}

struct Writer {
    store: Store,
    mode: FsyncMode,
    interval: Duration,
    rx: Receiver<(u64, Vec<StoreOp>)>,
    gate: Arc<Gate>,
    stats: Arc<Mutex<StoreStats>>,
}

impl Writer {
    fn run(mut self) {
        let mut last_sync = Instant::now();
        let mut unsynced = false;
        let mut failing = false;
        let mut last_attempt = Instant::now();
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
            let mut range: Option<(u64, u64)> = None;
            let mut take = |(seq, ops): (u64, Vec<StoreOp>), store: &mut Store| {
                store.append(ops);
                range = Some(range.map_or((seq, seq), |(a, _)| (a, seq)));
            };
            if let Some(batch) = first {
                take(batch, &mut self.store);
                while let Ok(batch) = self.rx.try_recv() {
                    take(batch, &mut self.store);
                }
            }
            let mut synced = self.mode == FsyncMode::Fsync;
            let due = last_sync.elapsed() >= self.interval;
            // While failing, the store is retried (a full snapshot) once a
            // second, not for every batch; meanwhile batches only join the
            // live state, and their acknowledgements are withheld.
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
                if self.mode == FsyncMode::Interval && (unsynced || range.is_some()) && due {
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
                    } else if range.is_some() {
                        unsynced = true;
                    }
                    if let Some((_, upto)) = range {
                        self.gate.resolve(upto, None);
                    }
                    if failing {
                        failing = false;
                        self.gate.failing.store(false, Ordering::SeqCst);
                        tracing::warn!("The store in {} writes again.", self.store.dir().display());
                    }
                }
                Err(e) => {
                    self.gate.failing.store(true, Ordering::SeqCst);
                    if let Some((from, upto)) = range {
                        self.gate.resolve(upto, Some(from));
                    }
                    if !failing {
                        failing = true;
                        tracing::error!(
                            "Writing the store in {} failed: {e}. Acknowledgements that \
                             waited for it are withheld (their connections are closed, \
                             the clients send again); retrying every second.",
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
