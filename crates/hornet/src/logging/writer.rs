//! The writer thread and its bounded queue: [`Queue::push`] never waits
//! (a full queue drops the line and counts it); the thread writes each
//! batch to every destination with its time stamp, reopens files when
//! asked, and reports drops in a line of their own once it catches up.
//! Syslog lines go as RFC 3164 datagrams to `/dev/log` (or the socket
//! named by `HORNET_SYSLOG_SOCKET`), without blocking.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::Level;

use super::LogError;
use crate::config::{Log, LogDest};

/// The environment variable naming another syslog socket than `/dev/log`.
pub const SYSLOG_SOCKET_ENV: &str = "HORNET_SYSLOG_SOCKET";

/// One log line before its time stamp.
#[derive(Debug, Clone)]
pub struct Line {
    /// Its level (`log_type`).
    pub level: Level,
    /// When it was logged.
    pub at: SystemTime,
    /// The text, one line, already cut.
    pub text: String,
}

enum Item {
    Line(Line),
    /// Look at the reopen flag.
    Wake,
}

/// What the writer does with each line.
pub(crate) struct Options {
    dests: Vec<LogDest>,
    /// Whether `topic` is among them (after `none`).
    pub(crate) topic: bool,
    pub(crate) timestamp: bool,
    pub(crate) format: Option<String>,
    facility: Option<u8>,
}

impl Options {
    /// From `[log]` / the `log_*` keys: `none` drops the destinations
    /// before it (as Mosquitto reads it); none at all means standard error.
    pub(crate) fn from_log(log: &Log) -> Options {
        let mut dests: Vec<LogDest> = Vec::new();
        let mut said_none = false;
        for d in &log.dests {
            match d {
                LogDest::None => {
                    dests.clear();
                    said_none = true;
                }
                d if !dests.contains(d) => dests.push(d.clone()),
                _ => {}
            }
        }
        if dests.is_empty() && !said_none {
            dests.push(LogDest::Stderr);
        }
        Options {
            topic: dests.contains(&LogDest::Topic),
            dests,
            timestamp: log.timestamp,
            format: log.timestamp_format.clone(),
            facility: log.facility,
        }
    }
}

/// The queue between the broker's threads and the writer.
pub(crate) struct Queue {
    tx: SyncSender<Item>,
    dropped: AtomicU64,
    queued: AtomicU64,
    written: Mutex<u64>,
    progress: Condvar,
    reopen: AtomicBool,
}

impl Queue {
    /// Queues `line`, or drops and counts it when the queue is full.
    pub(crate) fn push(&self, line: Line) {
        match self.tx.try_send(Item::Line(line)) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::AcqRel);
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn request_reopen(&self) {
        self.reopen.store(true, Ordering::Release);
        let _ = self.tx.try_send(Item::Wake);
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every line queued before the call is written, or `limit`.
    pub(crate) fn flush(&self, limit: Duration) -> bool {
        let target = self.queued.load(Ordering::Acquire);
        let deadline = Instant::now() + limit;
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        while *written < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            written = self
                .progress
                .wait_timeout(written, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// Opens the files and starts the writer thread.
pub(crate) fn start(options: Options) -> Result<Arc<Queue>, LogError> {
    let (tx, rx) = sync_channel(super::QUEUE_LINES);
    let queue = Arc::new(Queue {
        tx,
        dropped: AtomicU64::new(0),
        queued: AtomicU64::new(0),
        written: Mutex::new(0),
        progress: Condvar::new(),
        reopen: AtomicBool::new(false),
    });
    let mut sinks = Vec::new();
    for dest in &options.dests {
        sinks.push(match dest {
            LogDest::Stdout => Sink::Stdout,
            LogDest::Stderr => Sink::Stderr,
            LogDest::File(path) => Sink::File {
                file: open(path).map_err(|source| LogError::File {
                    path: path.clone(),
                    source,
                })?,
                path: path.clone(),
            },
            LogDest::Syslog => Sink::Syslog(Syslog::new(options.facility)),
            // Published by the server (`topic.rs`), not written here.
            LogDest::Topic | LogDest::None => continue,
        });
    }
    let writer = Writer {
        sinks,
        timestamp: options.timestamp,
        format: options.format,
        reported: 0,
    };
    let q = queue.clone();
    std::thread::Builder::new()
        .name("hornet-log".into())
        .spawn(move || writer.run(rx, &q))
        .map_err(LogError::Thread)?;
    Ok(queue)
}

fn open(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

enum Sink {
    Stdout,
    Stderr,
    File { path: PathBuf, file: File },
    Syslog(Syslog),
}

struct Writer {
    sinks: Vec<Sink>,
    timestamp: bool,
    format: Option<String>,
    reported: u64,
}

impl Writer {
    fn run(mut self, rx: Receiver<Item>, queue: &Queue) {
        let mut batch: Vec<Line> = Vec::new();
        while let Ok(item) = rx.recv() {
            let mut items = vec![item];
            while items.len() < 256 {
                match rx.try_recv() {
                    Ok(item) => items.push(item),
                    Err(_) => break,
                }
            }
            batch.clear();
            batch.extend(items.into_iter().filter_map(|i| match i {
                Item::Line(l) => Some(l),
                Item::Wake => None,
            }));
            if queue.reopen.swap(false, Ordering::AcqRel) {
                self.reopen();
            }
            let count = batch.len() as u64;
            let dropped = queue.dropped();
            if dropped > self.reported {
                batch.push(Line {
                    level: Level::WARN,
                    at: SystemTime::now(),
                    text: format!(
                        "{} log lines were dropped: a log destination did not keep up.",
                        dropped - self.reported
                    ),
                });
                self.reported = dropped;
            }
            self.write(&batch);
            let mut written = queue.written.lock().unwrap_or_else(|e| e.into_inner());
            *written += count;
            queue.progress.notify_all();
        }
    }

    fn reopen(&mut self) {
        for sink in &mut self.sinks {
            if let Sink::File { path, file } = sink {
                // A file that cannot be opened again keeps the old handle.
                if let Ok(new) = open(path) {
                    *file = new;
                }
            }
        }
    }

    fn write(&mut self, batch: &[Line]) {
        let mut text = String::new();
        for line in batch {
            if self.timestamp {
                stamp(&mut text, line.at, self.format.as_deref());
                text.push_str(": ");
            }
            text.push_str(&line.text);
            text.push('\n');
        }
        for sink in &mut self.sinks {
            // A destination that fails loses the batch; there is nowhere
            // to say so but the other destinations.
            let _ = match sink {
                Sink::Stdout => {
                    let mut out = io::stdout().lock();
                    out.write_all(text.as_bytes()).and_then(|()| out.flush())
                }
                Sink::Stderr => io::stderr().lock().write_all(text.as_bytes()),
                Sink::File { file, .. } => file.write_all(text.as_bytes()),
                Sink::Syslog(s) => {
                    for line in batch {
                        s.send(line);
                    }
                    Ok(())
                }
            };
        }
    }
}

/// Writes the time stamp of `at`: Mosquitto's Unix seconds, or `format`'s
/// `strftime` codes (in UTC).
pub(crate) fn stamp(out: &mut String, at: SystemTime, format: Option<&str>) {
    match format {
        None => {
            let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let _ = write!(out, "{secs}");
        }
        Some(format) => out.push_str(&crate::cli::format::strftime_text(format, at)),
    }
}

/// RFC 3164 datagrams to the local syslog socket.
struct Syslog {
    socket: Option<UnixDatagram>,
    path: PathBuf,
    facility: u8,
    pid: u32,
}

impl Syslog {
    fn new(facility: Option<u8>) -> Syslog {
        let socket = UnixDatagram::unbound().ok();
        if let Some(s) = &socket {
            // A syslog daemon that does not keep up costs lines, not waits.
            let _ = s.set_nonblocking(true);
        }
        Syslog {
            socket,
            path: std::env::var_os(SYSLOG_SOCKET_ENV)
                .map_or_else(|| PathBuf::from("/dev/log"), PathBuf::from),
            // LOG_LOCAL0..7 are 16..23; LOG_DAEMON is 3.
            facility: facility.map_or(3, |n| 16 + n),
            pid: std::process::id(),
        }
    }

    fn send(&self, line: &Line) {
        let severity = match line.level {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        };
        let message = format!(
            "<{}>hornet[{}]: {}",
            u32::from(self.facility) * 8 + severity,
            self.pid,
            line.text
        );
        if let Some(s) = &self.socket {
            let _ = s.send_to(message.as_bytes(), &self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(dests: &[&str]) -> Vec<LogDest> {
        let log = Log {
            dests: dests.iter().map(|d| LogDest::parse(d).unwrap()).collect(),
            ..Log::default()
        };
        Options::from_log(&log).dests
    }

    #[test]
    fn destinations_as_mosquitto_reads_them() {
        assert_eq!(log_with(&[]), vec![LogDest::Stderr]);
        assert_eq!(log_with(&["stdout", "stdout"]), vec![LogDest::Stdout]);
        assert_eq!(log_with(&["stdout", "none"]), vec![]);
        assert_eq!(log_with(&["none", "syslog"]), vec![LogDest::Syslog]);
    }

    #[test]
    fn time_stamps() {
        let mut s = String::new();
        stamp(
            &mut s,
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            None,
        );
        assert_eq!(s, "1700000000");
        s.clear();
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        stamp(&mut s, at, Some("%Y-%m-%dT%H:%M:%S %%"));
        assert_eq!(s, "2023-11-14T22:13:20 %");
    }
}
