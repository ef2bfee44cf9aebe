//! Which subscriptions were made with EMQX's `$local/` prefix ("on this
//! node only"): in a cluster they create no route on the other nodes. A
//! session holds such a subscription under its plain filter, as on a
//! single node; the mark is kept here, by session, and written in the
//! session's store record (`SubscriptionRecord::local`) so that a restored
//! `$local/` subscription stays local.
//!
//! Kept outside `Session`: few sessions have one, and every idle client
//! holds a `Session` (`broker::size_tests`).

use std::collections::{HashMap, HashSet};

use bytestring::ByteString;

use crate::session::SessionKey;

/// The `$local/` subscriptions of each session that has any, by plain
/// filter.
#[derive(Debug, Default)]
pub(crate) struct LocalMarks {
    by_session: HashMap<SessionKey, HashSet<ByteString>>,
}

impl LocalMarks {
    /// Marks session `key`'s subscription to the plain `filter` as made
    /// with `$local/` (or not: the last SUBSCRIBE of a filter decides).
    pub(crate) fn mark(&mut self, key: SessionKey, filter: &ByteString, local: bool) {
        if local {
            self.by_session
                .entry(key)
                .or_default()
                .insert(filter.clone());
        } else if let Some(filters) = self.by_session.get_mut(&key) {
            filters.remove(filter);
            if filters.is_empty() {
                self.by_session.remove(&key);
            }
        }
    }

    /// Whether session `key`'s subscription to `filter` is `$local/`.
    pub(crate) fn is_local(&self, key: SessionKey, filter: &str) -> bool {
        self.by_session
            .get(&key)
            .is_some_and(|filters| filters.contains(filter))
    }

    /// Session `key` ended.
    pub(crate) fn forget(&mut self, key: SessionKey) {
        self.by_session.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_set_cleared_and_forgotten_with_its_session() {
        let mut marks = LocalMarks::default();
        let (a, b): (SessionKey, SessionKey) = (1, 2);
        let f = ByteString::from("here/#");
        marks.mark(a, &f, true);
        assert!(marks.is_local(a, "here/#"));
        assert!(!marks.is_local(b, "here/#"));
        marks.mark(a, &f, false);
        assert!(!marks.is_local(a, "here/#"));
        assert!(marks.by_session.is_empty());
        marks.mark(b, &f, true);
        marks.forget(b);
        assert!(!marks.is_local(b, "here/#"));
    }
}
