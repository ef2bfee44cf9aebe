//! `log_dest topic`: the lines on their way to `$SYS/broker/log/<level>`.
//!
//! The layer hands each line to a bounded queue without waiting
//! ([`TopicFeed::push`]): a full queue drops the line and counts it, so
//! the log never waits for the broker (whose lock the logging thread may
//! hold already). A task of the server ([`crate::server::Server::publish_log`])
//! drains the queue into the core. Lines logged while that task publishes
//! (on its thread, inside [`publishing`]) stay out of the queue, so a
//! published line can never cause another one: no recursion, no feedback.
//!
//! As in Mosquitto, debug lines are not published; errors go to `E`,
//! warnings to `W`, Hornet's information lines (connections,
//! disconnections, refusals: Mosquitto's notices) to `N`, and, when
//! `log_type` shows them, subscriptions to `M/subscribe` and
//! unsubscriptions to `M/unsubscribe`.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::mpsc::{channel, error::TrySendError, Receiver, Sender};

use super::layer::Kind;
use tracing::Level;

/// Lines waiting to be published before new ones are dropped.
pub const TOPIC_QUEUE_LINES: usize = 1024;

/// One line for `$SYS/broker/log/{level}`, its payload ready (with the
/// time stamp when `log_timestamp` is on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicLine {
    /// Mosquitto's level: `E`, `W`, `N`, `M/subscribe` or `M/unsubscribe`.
    pub level: &'static str,
    /// The payload.
    pub payload: String,
}

thread_local! {
    static PUBLISHING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread's log lines kept out of the topic queue
/// (the publishing task's calls into the core).
pub fn publishing<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            PUBLISHING.with(|p| p.set(self.0));
        }
    }
    let _reset = Reset(PUBLISHING.with(|p| p.replace(true)));
    f()
}

/// The topic letter of a level; `None` for lines that are not published.
pub fn level_letter(level: &Level) -> Option<&'static str> {
    match *level {
        Level::ERROR => Some("E"),
        Level::WARN => Some("W"),
        Level::INFO => Some("N"),
        _ => None,
    }
}

/// The queue between the logging layer and the publishing task.
#[derive(Debug)]
pub struct TopicFeed {
    tx: Sender<TopicLine>,
    rx: Mutex<Option<Receiver<TopicLine>>>,
    dropped: AtomicU64,
}

impl TopicFeed {
    /// A queue of `capacity` lines.
    pub fn new(capacity: usize) -> TopicFeed {
        let (tx, rx) = channel(capacity.max(1));
        TopicFeed {
            tx,
            rx: Mutex::new(Some(rx)),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues `line` unless this thread is publishing; never waits (a
    /// full queue drops it and counts it).
    pub fn push(&self, line: TopicLine) {
        if PUBLISHING.with(Cell::get) {
            return;
        }
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Closed(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The receiving end, once (for the publishing task).
    pub fn take_receiver(&self) -> Option<Receiver<TopicLine>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Lines dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The layer's side: which lines go to the feed, and their payload.
pub(crate) struct TopicDest {
    pub(crate) feed: Arc<TopicFeed>,
    timestamp: bool,
    format: Option<String>,
}

impl TopicDest {
    pub(crate) fn new(feed: Arc<TopicFeed>, timestamp: bool, format: Option<String>) -> Self {
        TopicDest {
            feed,
            timestamp,
            format,
        }
    }

    /// Queues a line of `kind` and `level` logged `at`, if it is published.
    pub(crate) fn offer(&self, kind: Kind, level: &Level, at: SystemTime, text: &str) {
        let level = match kind {
            Kind::Subscribe => "M/subscribe",
            Kind::Unsubscribe => "M/unsubscribe",
            Kind::Plain => match level_letter(level) {
                Some(letter) => letter,
                None => return,
            },
        };
        if PUBLISHING.with(Cell::get) {
            return;
        }
        let mut payload = String::with_capacity(text.len() + 14);
        if self.timestamp {
            super::writer::stamp(&mut payload, at, self.format.as_deref());
            payload.push_str(": ");
        }
        payload.push_str(text);
        self.feed.push(TopicLine { level, payload });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> TopicLine {
        TopicLine {
            level: "N",
            payload: format!("line {n}"),
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let feed = TopicFeed::new(2);
        for n in 0..5 {
            feed.push(line(n));
        }
        assert_eq!(feed.dropped(), 3);
        let mut rx = feed.take_receiver().unwrap();
        assert_eq!(rx.try_recv().unwrap(), line(0));
        assert_eq!(rx.try_recv().unwrap(), line(1));
        assert!(rx.try_recv().is_err());
        assert!(feed.take_receiver().is_none());
    }

    #[test]
    fn lines_logged_while_publishing_stay_out() {
        let feed = TopicFeed::new(4);
        publishing(|| feed.push(line(0)));
        feed.push(line(1));
        let mut rx = feed.take_receiver().unwrap();
        assert_eq!(rx.try_recv().unwrap(), line(1));
        assert!(rx.try_recv().is_err());
        assert_eq!(feed.dropped(), 0, "kept out is not dropped");
    }

    #[test]
    fn levels_as_mosquitto_publishes_them() {
        assert_eq!(level_letter(&Level::ERROR), Some("E"));
        assert_eq!(level_letter(&Level::WARN), Some("W"));
        assert_eq!(level_letter(&Level::INFO), Some("N"));
        assert_eq!(level_letter(&Level::DEBUG), None);
    }
}
