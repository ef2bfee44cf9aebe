//! Delayed publish (EMQX's `$delayed/{seconds}/{topic}`): messages held
//! until they are due, then published to their topic.
//!
//! [`parse`] reads the prefix; [`Delayed`] holds the messages by id, in
//! due order, for the timer ([`Delayed::next_deadline`], [`Delayed::next_due`])
//! and the admin API ([`Delayed::iter`], [`Delayed::cancel`]). What the
//! broker does with them (the refusals, the records that make them survive
//! a restart, publishing them when due) is `publish.rs`, `timers.rs` and
//! `records.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use bytestring::ByteString;
use hornet_codec::{topic, Publish};

/// The prefix of a delayed publish's topic.
pub(crate) const PREFIX: &str = "$delayed/";

/// Why a `$delayed/` topic cannot be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadDelay {
    /// No number of seconds, or not one.
    NotSeconds,
    /// No valid topic after the seconds.
    NoTopic,
}

impl BadDelay {
    /// What the log and the Reason String say.
    pub(crate) fn text(self) -> &'static str {
        match self {
            BadDelay::NotSeconds => {
                "a $delayed/ topic needs a number of seconds: $delayed/SECONDS/TOPIC"
            }
            BadDelay::NoTopic => {
                "a $delayed/ topic needs a topic after its seconds: $delayed/SECONDS/TOPIC"
            }
        }
    }
}

/// Reads `$delayed/{seconds}/{topic}`: `None` for a topic without the
/// prefix, else the seconds and the topic (a slice of `name`).
pub(crate) fn parse(name: &str) -> Option<Result<(u64, &str), BadDelay>> {
    let rest = name.strip_prefix(PREFIX)?;
    let Some((secs, target)) = rest.split_once('/') else {
        return Some(Err(BadDelay::NotSeconds));
    };
    if secs.is_empty() || secs.len() > 10 || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Err(BadDelay::NotSeconds));
    }
    let secs: u64 = secs.parse().expect("at most ten digits");
    if target.is_empty() || topic::validate_name(target).is_err() {
        return Some(Err(BadDelay::NoTopic));
    }
    Some(Ok((secs, target)))
}

/// One held message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Held {
    /// The message, with its final topic and its own bytes.
    pub(crate) publish: Publish,
    /// When it is published.
    pub(crate) due: Instant,
    /// The client that published it (for No Local when it goes out, and
    /// for the admin API); empty for the broker's own.
    pub(crate) from: ByteString,
}

/// The held messages, by id and by due time.
#[derive(Debug, Default)]
pub(crate) struct Delayed {
    by_id: BTreeMap<u64, Held>,
    by_due: BTreeSet<(Instant, u64)>,
    /// The last id given (ids are never reused, also across restarts).
    last_id: u64,
}

impl Delayed {
    /// Holds `held`; returns its id.
    pub(crate) fn hold(&mut self, held: Held) -> u64 {
        self.last_id += 1;
        let id = self.last_id;
        self.insert(id, held);
        id
    }

    /// Holds `held` under `id` (a restored message); later ids follow it.
    pub(crate) fn insert(&mut self, id: u64, held: Held) {
        self.last_id = self.last_id.max(id);
        self.by_due.insert((held.due, id));
        if let Some(old) = self.by_id.insert(id, held) {
            self.by_due.remove(&(old.due, id));
        }
    }

    /// Removes message `id` (cancelled); returns it.
    pub(crate) fn cancel(&mut self, id: u64) -> Option<Held> {
        let held = self.by_id.remove(&id)?;
        self.by_due.remove(&(held.due, id));
        Some(held)
    }

    /// The earliest due time.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.by_due.first().map(|(at, _)| *at)
    }

    /// Takes the earliest message due at `now`.
    pub(crate) fn next_due(&mut self, now: Instant) -> Option<(u64, Held)> {
        let &(at, id) = self.by_due.first()?;
        if at > now {
            return None;
        }
        self.cancel(id).map(|held| (id, held))
    }

    /// Messages held.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The held messages by id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &Held)> {
        self.by_id.iter().map(|(id, h)| (*id, h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_seconds_and_topic() {
        assert_eq!(parse("a/b"), None);
        assert_eq!(parse("$delayed/10/a/b"), Some(Ok((10, "a/b"))));
        assert_eq!(parse("$delayed/0/a"), Some(Ok((0, "a"))));
        assert_eq!(parse("$delayed/x/a"), Some(Err(BadDelay::NotSeconds)));
        assert_eq!(parse("$delayed/-1/a"), Some(Err(BadDelay::NotSeconds)));
        assert_eq!(parse("$delayed/10"), Some(Err(BadDelay::NotSeconds)));
        assert_eq!(parse("$delayed//a"), Some(Err(BadDelay::NotSeconds)));
        assert_eq!(
            parse("$delayed/99999999999/a"),
            Some(Err(BadDelay::NotSeconds))
        );
        assert_eq!(parse("$delayed/10/"), Some(Err(BadDelay::NoTopic)));
    }

    #[test]
    fn messages_come_due_in_order_and_cancelled_ones_never() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let held = |s, topic: &str| Held {
            publish: Publish::new(topic.to_string(), ""),
            due: at(s),
            from: ByteString::new(),
        };
        let mut d = Delayed::default();
        let late = d.hold(held(30, "late"));
        let soon = d.hold(held(10, "soon"));
        let cancelled = d.hold(held(5, "cancelled"));
        assert_eq!(d.next_deadline(), Some(at(5)));
        assert_eq!(d.cancel(cancelled).map(|h| h.due), Some(at(5)));
        assert_eq!(d.next_deadline(), Some(at(10)));
        assert!(d.next_due(at(9)).is_none());
        assert_eq!(d.next_due(at(10)).map(|(id, _)| id), Some(soon));
        assert_eq!(d.len(), 1);
        assert_eq!(d.next_due(at(100)).map(|(id, _)| id), Some(late));
        assert_eq!(d.next_deadline(), None);
        // Ids are not reused, also after a restored one.
        d.insert(40, held(1, "restored"));
        assert_eq!(d.hold(held(1, "new")), 41);
    }
}
