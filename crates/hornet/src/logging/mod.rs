//! The broker's log, as Mosquitto writes it: `log_dest` (standard output,
//! standard error, files, syslog; repeatable), `log_type` levels,
//! `log_timestamp` / `log_timestamp_format` and `log_facility`.
//!
//! [`init`] installs a `tracing` subscriber whose layer (`layer.rs`) keeps
//! the lines `log_type` asks for, cuts long ones, and hands each to a
//! bounded queue; one writer thread (`writer.rs`) drains it into every
//! destination. Logging never blocks the broker: when the queue is full
//! (a destination that does not take its lines, e.g. a standard error
//! nobody reads) a line is dropped and counted, and the writer says how
//! many were lost once it catches up. [`Logging::reopen`] reopens the
//! files (SIGHUP, for logrotate); [`Logging::flush`] waits, boundedly, for
//! what is queued (the last lines at exit). With `log_dest topic`, the
//! layer also offers each line to a second bounded queue (`topic.rs`)
//! that the server publishes on `$SYS/broker/log/<level>`
//! ([`Logging::topic_feed`]).

mod layer;
mod topic;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Log;

pub use topic::{level_letter, publishing, TopicFeed, TopicLine, TOPIC_QUEUE_LINES};
pub use writer::{Line, SYSLOG_SOCKET_ENV};

/// Lines waiting for the writer thread before new ones are dropped.
pub const QUEUE_LINES: usize = 4096;

/// The longest log line written, in bytes; the rest of a longer one (a
/// long topic, a payload) is cut and the cut counted on the line.
pub const MAX_LINE_BYTES: usize = 2048;

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A `log_dest file` could not be opened for appending.
    #[error("cannot open the log file {path}: {source}")]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the log writer: {0}")]
    Thread(std::io::Error),
    /// Another subscriber is installed already.
    #[error("logging is set up already")]
    Installed,
}

/// The running log: reopen files, wait for queued lines, count drops.
#[derive(Clone)]
pub struct Logging {
    queue: Arc<writer::Queue>,
    topic: Option<Arc<TopicFeed>>,
}

impl Logging {
    /// Reopens every `log_dest file` (after logrotate moved it away).
    pub fn reopen(&self) {
        self.queue.request_reopen();
    }

    /// Waits until every line queued so far is written, at most `limit`;
    /// true if it was.
    pub fn flush(&self, limit: Duration) -> bool {
        self.queue.flush(limit)
    }

    /// Lines dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }

    /// The lines for `$SYS/broker/log/...`, with `log_dest topic`.
    pub fn topic_feed(&self) -> Option<Arc<TopicFeed>> {
        self.topic.clone()
    }
}

/// Installs the broker's logging for `log`; `verbose` (`-v`, `log_type
/// debug`) lets packet-level lines through. `HORNET_LOG` (an
/// `EnvFilter` directive) overrides the levels, as before.
pub fn init(log: &Log, verbose: bool) -> Result<Logging, LogError> {
    let options = writer::Options::from_log(log);
    let topic = options.topic.then(|| {
        topic::TopicDest::new(
            Arc::new(TopicFeed::new(TOPIC_QUEUE_LINES)),
            options.timestamp,
            options.format.clone(),
        )
    });
    let feed = topic.as_ref().map(|t| t.feed.clone());
    let queue = writer::start(options)?;
    let default = if verbose { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HORNET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::registry()
        .with(filter)
        .with(layer::MosquittoLayer::new(
            layer::Types::from_log(&log.types, verbose),
            queue.clone(),
            topic,
        ))
        .try_init()
        .map_err(|_| LogError::Installed)?;
    Ok(Logging { queue, topic: feed })
}
