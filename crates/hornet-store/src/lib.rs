//! # hornet-store
//!
//! Hornet's durable store: an append-only log of the records the broker
//! core emits ([`hornet_core::persist::StoreOp`]) in a data directory,
//! with a CRC32C per record, group commit and compaction.
//!
//! - [`Store::open`] reads the log back (cutting off a torn or corrupt
//!   tail, see `log.rs`) and returns the state to restore the broker from.
//! - [`Store::append`] adds records to the pending batch; [`Store::commit`]
//!   writes the batch with one `write` and, when asked, one `fdatasync`:
//!   that is group commit, its caller gathers the ops of many connections
//!   into one batch.
//! - After a commit the store compacts when the log has grown well past the
//!   live state: the live state is written as a snapshot segment (a `.tmp`
//!   file, synced, renamed) and the older segments are deleted. Delivered
//!   and expired messages are therefore not kept.
//! - After a failed write (disk full, I/O error) nothing more is appended
//!   to the damaged segment: every later commit first tries to write a
//!   full snapshot, and the store is healthy again once one succeeds.
//!
//! No threads, no async, no clock (except timing each `fdatasync` for the
//! latency histogram, [`SyncLatency`]): the shell runs it on a thread of
//! its own.
//!
//! Module map: `record` (the bytes of one record), `log` (segments,
//! framing, recovery scan), `state` (what the records add up to).

#![forbid(unsafe_code)]

mod log;
mod record;
mod state;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use hornet_core::persist::{Restored, StoreOp};

use record::Record;
use state::State;

/// Tuning of a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Compact when the log holds more than this many bytes and more than
    /// twice the live state.
    pub compact_min_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            compact_min_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What [`Store::open`] found.
#[derive(Debug)]
pub struct Recovery {
    /// The state to restore the broker from.
    pub restored: Restored,
    /// Segments read.
    pub segments: usize,
    /// Records replayed.
    pub records: u64,
    /// Bytes cut off (torn or corrupt tails, and segments after them).
    pub bytes_dropped: u64,
    /// One line per cut, saying where and why.
    pub cuts: Vec<String>,
    /// Durable sessions, messages owed to them, retained messages.
    pub counts: (usize, usize, usize),
}

/// Counters of a store since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Commits that wrote something.
    pub commits: u64,
    /// `fdatasync` calls.
    pub syncs: u64,
    /// Records written.
    pub records: u64,
    /// Message bodies appended (one per routed QoS 1/2 message that some
    /// durable session is owed).
    pub messages: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Compactions done.
    pub compactions: u64,
    /// Bytes the log holds now.
    pub log_bytes: u64,
    /// An estimate of the live state's size (what a snapshot would take):
    /// message bodies still owed, retained messages, sessions.
    pub live_bytes: u64,
    /// Writes or syncs that failed (disk full, I/O error), including the
    /// failed retries of a failing store.
    pub failures: u64,
    /// How long the `fdatasync` calls took.
    pub sync_latency: SyncLatency,
}

/// Upper bounds (seconds) of the [`SyncLatency`] buckets; a last bucket
/// holds everything slower.
pub const SYNC_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A histogram of `fdatasync` durations in fixed buckets ([`SYNC_BUCKETS`]),
/// measured by the store around each sync (on the thread that runs it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncLatency {
    /// Syncs per bucket (not cumulative): `counts[i]` took at most
    /// `SYNC_BUCKETS[i]` and more than the bucket before; the last entry
    /// counts those over the last bound.
    pub counts: [u64; SYNC_BUCKETS.len() + 1],
    /// Total time spent in syncs, in nanoseconds.
    pub total_nanos: u64,
}

impl SyncLatency {
    /// Counts one sync that took `took`.
    pub fn record(&mut self, took: std::time::Duration) {
        let secs = took.as_secs_f64();
        let i = SYNC_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(SYNC_BUCKETS.len());
        self.counts[i] += 1;
        self.total_nanos = self
            .total_nanos
            .saturating_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Syncs counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Cumulative counts per bound, as a Prometheus histogram has them
    /// (`le` = bound), without the `+Inf` bucket (that is [`Self::count`]).
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        SYNC_BUCKETS
            .iter()
            .zip(self.counts)
            .scan(0u64, |acc, (&bound, n)| {
                *acc += n;
                Some((bound, *acc))
            })
    }
}

/// A test switch that makes writes fail as on a full disk (half the batch
/// is written, then `ENOSPC`), for testing the refusal and recovery paths.
#[derive(Debug, Clone, Default)]
pub struct StoreFaults(Arc<AtomicBool>);

impl StoreFaults {
    /// Makes every write fail (`true`) or work again (`false`).
    pub fn set_disk_full(&self, full: bool) {
        self.0.store(full, Ordering::SeqCst);
    }

    fn disk_full(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The store: one data directory, one writer.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    /// `LOCK`, held (flock) while the store is open: two brokers on one
    /// directory would corrupt it.
    _lock: File,
    options: StoreOptions,
    /// The segment appended to, and its number.
    file: File,
    segment: u64,
    /// Bytes in every segment.
    log_bytes: u64,
    state: State,
    /// Frames waiting for the next commit.
    pending: BytesMut,
    pending_records: u64,
    scratch: BytesMut,
    /// A write failed: the next commit writes a snapshot first.
    broken: bool,
    faults: StoreFaults,
    stats: StoreStats,
    /// Shared copy of `stats.syncs`, readable from other threads.
    sync_counter: Arc<AtomicU64>,
}

impl Store {
    /// Opens (creating if needed) the store in `dir` and reads it back.
    pub fn open(dir: &Path, options: StoreOptions) -> io::Result<(Store, Recovery)> {
        fs::create_dir_all(dir)?;
        let lock = lock_dir(dir)?;
        let segments = log::list_segments(dir)?;
        // The newest whole snapshot makes everything before it obsolete.
        let mut start = 0;
        for (i, (_, path)) in segments.iter().enumerate().rev() {
            let scan = log::scan(path)?;
            if matches!(
                scan.records.first(),
                Some(Record::Header { snapshot: true })
            ) {
                start = i;
                break;
            }
        }
        for (_, path) in &segments[..start] {
            fs::remove_file(path)?;
        }
        let segments = &segments[start..];
        let mut state = State::default();
        let (mut records, mut bytes_dropped, mut log_bytes) = (0u64, 0u64, 0u64);
        let mut cuts = Vec::new();
        let mut last = None;
        let mut cut = false;
        for (n, path) in segments {
            if cut {
                let len = fs::metadata(path)?.len();
                bytes_dropped += len;
                cuts.push(format!(
                    "{}: {len} bytes dropped, it follows a damaged segment",
                    path.display()
                ));
                fs::remove_file(path)?;
                continue;
            }
            let scan = log::scan(path)?;
            for r in scan.records {
                if let Record::Op(op) = r {
                    state.apply(op);
                    records += 1;
                }
            }
            if scan.dropped > 0 {
                cut = true;
                bytes_dropped += scan.dropped;
                cuts.push(format!(
                    "{}: {} bytes dropped after byte {} ({})",
                    path.display(),
                    scan.dropped,
                    scan.good_len,
                    scan.reason.as_deref().unwrap_or("damaged")
                ));
                let f = fs::OpenOptions::new().write(true).open(path)?;
                f.set_len(scan.good_len)?;
                f.sync_all()?;
            }
            log_bytes += scan.good_len;
            last = Some((*n, path.clone(), scan.good_len));
        }
        state.sweep();
        let (segment, file) = match last {
            Some((n, path, len)) if len > 0 => (n, log::open_append(&path)?.0),
            Some((n, path, _)) => (n, new_segment(dir, &path, false)?),
            None => {
                let path = log::segment_path(dir, 1);
                (1, new_segment(dir, &path, false)?)
            }
        };
        let restored = state.restored();
        let counts = state.counts();
        let store = Store {
            dir: dir.to_path_buf(),
            _lock: lock,
            options,
            file,
            segment,
            log_bytes: log_bytes.max(fs::metadata(log::segment_path(dir, segment))?.len()),
            state,
            pending: BytesMut::new(),
            pending_records: 0,
            scratch: BytesMut::new(),
            broken: false,
            faults: StoreFaults::default(),
            stats: StoreStats::default(),
            sync_counter: Arc::new(AtomicU64::new(0)),
        };
        let recovery = Recovery {
            restored,
            segments: segments.len(),
            records,
            bytes_dropped,
            cuts,
            counts,
        };
        Ok((store, recovery))
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The switch that simulates a full disk.
    pub fn faults(&self) -> StoreFaults {
        self.faults.clone()
    }

    /// Counters since open.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            log_bytes: self.log_bytes,
            live_bytes: self.state.live_bytes(),
            ..self.stats
        }
    }

    /// A counter of `fdatasync` calls other threads can read.
    pub fn sync_counter(&self) -> Arc<AtomicU64> {
        self.sync_counter.clone()
    }

    /// Durable sessions, messages owed to them, retained messages, now.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.state.counts()
    }

    /// Adds `ops` to the batch of the next commit (and to the live state).
    pub fn append(&mut self, ops: impl IntoIterator<Item = StoreOp>) {
        for op in ops {
            if matches!(op, StoreOp::Message { .. }) {
                self.stats.messages += 1;
            }
            if self.broken {
                // The next successful commit writes a snapshot of the
                // live state: framing this op would be wasted memory.
                self.state.apply(op);
                continue;
            }
            self.scratch.clear();
            record::encode_op(&op, &mut self.scratch);
            log::frame(&self.scratch, &mut self.pending);
            self.pending_records += 1;
            self.state.apply(op);
        }
    }

    /// Whether a batch is waiting.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether the last write failed (the store is trying to recover).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Writes the pending batch with one write and, if `sync`, makes it
    /// durable with one `fdatasync`. Then compacts if the log has grown
    /// well past the live state. On error the batch stays in the live
    /// state, and a later commit writes it as part of a snapshot.
    pub fn commit(&mut self, sync: bool) -> io::Result<()> {
        if self.broken {
            self.pending.clear();
            self.pending_records = 0;
            if let Err(e) = self.compact() {
                self.stats.failures += 1;
                return Err(e);
            }
            self.broken = false;
            return Ok(());
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.write_pending(sync);
        if let Err(e) = result {
            self.stats.failures += 1;
            self.broken = true;
            self.pending.clear();
            self.pending_records = 0;
            return Err(e);
        }
        if self.log_bytes > self.options.compact_min_bytes
            && self.log_bytes > 2 * self.state.live_bytes()
        {
            if let Err(e) = self.compact() {
                // The log is intact; compaction is tried again later.
                tracing::warn!("Compacting the store failed: {e}");
            }
        }
        Ok(())
    }

    fn write_pending(&mut self, sync: bool) -> io::Result<()> {
        if self.faults.disk_full() {
            // A torn write, as a full disk leaves it.
            let half = self.pending.len() / 2;
            let _ = self.file.write_all(&self.pending[..half]);
            self.log_bytes += half as u64;
            return Err(io::Error::from_raw_os_error(28));
        }
        self.file.write_all(&self.pending)?;
        self.log_bytes += self.pending.len() as u64;
        self.stats.bytes += self.pending.len() as u64;
        self.stats.records += self.pending_records;
        self.stats.commits += 1;
        self.pending.clear();
        self.pending_records = 0;
        if sync {
            self.sync_data()?;
        }
        Ok(())
    }

    /// `fdatasync` of the current segment (for the `interval` mode, whose
    /// commits do not sync).
    pub fn sync(&mut self) -> io::Result<()> {
        let synced = self.sync_data();
        if synced.is_err() {
            self.stats.failures += 1;
        }
        synced
    }

    /// `fdatasync`, timed into the latency histogram.
    fn sync_data(&mut self) -> io::Result<()> {
        let started = std::time::Instant::now();
        let synced = self.file.sync_data();
        self.stats.sync_latency.record(started.elapsed());
        synced?;
        self.stats.syncs += 1;
        self.sync_counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Writes the live state as a new snapshot segment and deletes the
    /// older ones.
    pub fn compact(&mut self) -> io::Result<()> {
        if self.faults.disk_full() {
            return Err(io::Error::from_raw_os_error(28));
        }
        self.state.sweep();
        let next = self.segment + 1;
        let path = log::segment_path(&self.dir, next);
        let tmp = path.with_extension("log.tmp");
        let mut out = BytesMut::new();
        let mut scratch = BytesMut::new();
        record::encode_header(true, &mut scratch);
        log::frame(&scratch, &mut out);
        let mut file = File::create(&tmp)?;
        let mut failed = None;
        self.state.snapshot_ops(|op| {
            scratch.clear();
            record::encode_op(&op, &mut scratch);
            log::frame(&scratch, &mut out);
            if out.len() >= 1 << 20 && failed.is_none() {
                if let Err(e) = file.write_all(&out) {
                    failed = Some(e);
                }
                out.clear();
            }
        });
        if let Some(e) = failed {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let written = file
            .write_all(&out)
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&tmp, &path))
            .and_then(|()| log::sync_dir(&self.dir));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        for (n, old) in log::list_segments(&self.dir)? {
            if n < next {
                fs::remove_file(old)?;
            }
        }
        log::sync_dir(&self.dir)?;
        let (file, len) = log::open_append(&path)?;
        self.file = file;
        self.segment = next;
        self.log_bytes = len;
        self.stats.compactions += 1;
        self.stats.syncs += 1;
        self.sync_counter.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            "Store compacted: {} bytes of live state in {}.",
            len,
            path.display()
        );
        Ok(())
    }
}

/// Takes the directory's lock, or says who holds it.
fn lock_dir(dir: &Path) -> io::Result<File> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(dir.join("LOCK"))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "{} is in use by another Hornet (its LOCK file is held); \
                 two brokers must not share a data directory",
                dir.display()
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Creates segment `path` with its header, durably.
fn new_segment(dir: &Path, path: &Path, snapshot: bool) -> io::Result<File> {
    let mut payload = BytesMut::new();
    record::encode_header(snapshot, &mut payload);
    let mut framed = BytesMut::new();
    log::frame(&payload, &mut framed);
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    file.write_all(&framed)?;
    file.sync_all()?;
    log::sync_dir(dir)?;
    drop(file);
    Ok(log::open_append(path)?.0)
}

#[cfg(test)]
mod tests;
