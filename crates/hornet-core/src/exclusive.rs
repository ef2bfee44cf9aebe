//! Exclusive subscriptions (EMQX's `$exclusive/{filter}`): at most one
//! session holds a filter at a time.
//!
//! A subscription to `$exclusive/a/b` is the subscription `a/b` in the
//! index, kept in the session under the name the client used (so an
//! UNSUBSCRIBE with the same string finds it, and a restart knows it was
//! exclusive), and a claim on `a/b` here. Another session asking for the
//! same exclusive filter is refused (SUBACK 0x97, 3.x 0x80) while the
//! claim stands; the claim ends when its holder unsubscribes, replaces it
//! with a plain subscription to the same filter, or its session ends.
//! Plain subscriptions to `a/b` are not affected: exclusivity is only
//! among those who asked for it, as in EMQX.
//!
//! With `exclusive_subscriptions` off the prefix means nothing and
//! `$exclusive/a/b` is an ordinary filter (matching only a topic of that
//! name, [MQTT-4.7.2-1]).

use std::collections::HashMap;

use bytestring::ByteString;
use hornet_codec::topic;

use crate::ids::SessionKey;

/// The prefix of an exclusive subscription's filter.
pub(crate) const PREFIX: &str = "$exclusive/";

/// A filter as the index knows it, from the name a session keeps it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Indexed {
    /// An ordinary filter (or exclusivity is off): indexed as it is.
    Plain(ByteString),
    /// `$exclusive/` followed by this filter.
    Exclusive(ByteString),
    /// `$exclusive/` followed by nothing valid.
    Invalid,
}

/// What a session keeps as `name` means for the index, when exclusive
/// subscriptions are `enabled`.
pub(crate) fn indexed(enabled: bool, name: &ByteString) -> Indexed {
    if !enabled || !name.starts_with('$') {
        return Indexed::Plain(name.clone());
    }
    match name.strip_prefix(PREFIX) {
        None => Indexed::Plain(name.clone()),
        Some(rest) if topic::validate_filter(rest).is_ok() => {
            Indexed::Exclusive(name.slice_ref(rest))
        }
        Some(_) => Indexed::Invalid,
    }
}

/// The claims: which session holds each exclusive filter.
#[derive(Debug, Default)]
pub(crate) struct Exclusive {
    /// Filter (without the prefix) → holder and its client id (for the
    /// refusal's log line).
    holders: HashMap<ByteString, (SessionKey, ByteString)>,
}

impl Exclusive {
    /// Claims `filter` for session `key` (client `client_id`). Refused with
    /// the holder's client id when another session holds it; claiming
    /// one's own filter again succeeds.
    pub(crate) fn claim(
        &mut self,
        filter: &ByteString,
        key: SessionKey,
        client_id: &ByteString,
    ) -> Result<(), ByteString> {
        match self.holders.get(filter) {
            Some((holder, name)) if *holder != key => Err(name.clone()),
            Some(_) => Ok(()),
            None => {
                let filter = ByteString::from(&**filter);
                self.holders.insert(filter, (key, client_id.clone()));
                Ok(())
            }
        }
    }

    /// Ends `key`'s claim on `filter`; returns whether it held it.
    pub(crate) fn release(&mut self, filter: &str, key: SessionKey) -> bool {
        match self.holders.get(filter) {
            Some((holder, _)) if *holder == key => {
                self.holders.remove(filter);
                true
            }
            _ => false,
        }
    }

    /// Whether `key` holds `filter`.
    pub(crate) fn holds(&self, filter: &str, key: SessionKey) -> bool {
        self.holders.get(filter).is_some_and(|(h, _)| *h == key)
    }

    /// Whether some session holds `filter`.
    pub(crate) fn holds_any(&self, filter: &str) -> bool {
        self.holders.contains_key(filter)
    }

    /// Whether nobody holds anything (the common case: one comparison).
    pub(crate) fn is_empty(&self) -> bool {
        self.holders.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> ByteString {
        ByteString::from(x)
    }

    #[test]
    fn a_second_session_is_refused_until_the_holder_releases() {
        let mut ex = Exclusive::default();
        assert_eq!(ex.claim(&s("a/b"), 1, &s("one")), Ok(()));
        assert_eq!(ex.claim(&s("a/b"), 1, &s("one")), Ok(()));
        assert_eq!(ex.claim(&s("a/b"), 2, &s("two")), Err(s("one")));
        assert!(!ex.release("a/b", 2), "only the holder releases");
        assert!(ex.holds("a/b", 1));
        assert!(ex.release("a/b", 1));
        assert!(ex.is_empty());
        assert_eq!(ex.claim(&s("a/b"), 2, &s("two")), Ok(()));
        assert!(ex.holds("a/b", 2));
    }

    #[test]
    fn the_prefix_is_read_only_when_enabled() {
        assert_eq!(indexed(true, &s("a/#")), Indexed::Plain(s("a/#")));
        assert_eq!(
            indexed(true, &s("$exclusive/a/#")),
            Indexed::Exclusive(s("a/#"))
        );
        assert_eq!(indexed(true, &s("$exclusive/")), Indexed::Invalid);
        assert_eq!(indexed(true, &s("$exclusive/a/#/b")), Indexed::Invalid);
        assert_eq!(
            indexed(false, &s("$exclusive/a")),
            Indexed::Plain(s("$exclusive/a"))
        );
    }
}
