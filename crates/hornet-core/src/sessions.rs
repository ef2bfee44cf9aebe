//! The sessions table: every [`Session`] by key and by client id, the keys
//! and client ids the broker hands out, and the session expiry deadlines.
//!
//! [`Sessions`] keeps its two indexes in step (a session is found by its
//! client id exactly while it exists) and decides when a disconnected
//! session has expired; what removing one involves (its subscriptions,
//! shared groups, store record, delayed will) is the broker's (`ending`).
//!
//! The client id index holds session keys only, hashed by the client id
//! the session itself holds (a `hashbrown::HashTable`): 8 bytes a slot
//! rather than 40 with a copy of the id as the key, and the table is
//! about half empty after it doubles (docs/benchmarks.md, "Memory per
//! idle connection").

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use ahash::{AHashMap, RandomState};
use bytestring::ByteString;
use hashbrown::HashTable;

use crate::ids::SessionKey;
use crate::session::Session;

/// Every session, connected or not.
#[derive(Debug)]
pub(crate) struct Sessions {
    /// Boxed, as are the connections: the maps grow in powers of two, and
    /// an entry held inline would cost its size in every empty slot too.
    by_key: AHashMap<SessionKey, Box<Session>>,
    /// The key of the session of each client id, hashed with `hasher` by
    /// the session's `client_id` (see the module doc). Every key in it is
    /// in `by_key`.
    by_client_id: HashTable<SessionKey>,
    hasher: RandomState,
    next_key: SessionKey,
    next_assigned_id: u64,
    /// Session expiry deadlines, checked lazily (entries may be stale).
    timers: BinaryHeap<Reverse<(Instant, SessionKey)>>,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions {
            by_key: AHashMap::new(),
            by_client_id: HashTable::new(),
            hasher: RandomState::new(),
            next_key: 1,
            next_assigned_id: 1,
            timers: BinaryHeap::new(),
        }
    }
}

impl std::ops::Index<&SessionKey> for Sessions {
    type Output = Session;

    #[inline]
    fn index(&self, key: &SessionKey) -> &Session {
        &self.by_key[key]
    }
}

impl Sessions {
    /// Session `key`.
    #[inline]
    pub(crate) fn get(&self, key: &SessionKey) -> Option<&Session> {
        self.by_key.get(key).map(|s| &**s)
    }

    /// Session `key`, to change.
    #[inline]
    pub(crate) fn get_mut(&mut self, key: &SessionKey) -> Option<&mut Session> {
        self.by_key.get_mut(key).map(|s| &mut **s)
    }

    /// Whether session `key` exists.
    pub(crate) fn contains_key(&self, key: &SessionKey) -> bool {
        self.by_key.contains_key(key)
    }

    /// How many sessions exist.
    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Every session, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Session> {
        self.by_key.values().map(|s| &**s)
    }

    /// Every session's key, in no particular order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = SessionKey> + '_ {
        self.by_client_id.iter().copied()
    }

    /// The session of `client_id`, if it has one.
    #[inline]
    pub(crate) fn key_of(&self, client_id: &str) -> Option<SessionKey> {
        let by_key = &self.by_key;
        self.by_client_id
            .find(self.hasher.hash_one(client_id), |key| {
                by_key[key].client_id == client_id
            })
            .copied()
    }

    /// A new session for `session.client_id`; returns its key.
    pub(crate) fn create(&mut self, session: Session) -> SessionKey {
        let key = self.next_key;
        self.next_key += 1;
        self.insert(key, session);
        key
    }

    /// A session read back from the store under its old `key`.
    pub(crate) fn restore(&mut self, key: SessionKey, session: Session) {
        self.next_key = self.next_key.max(key + 1);
        self.insert(key, session);
    }

    /// Adds session `key`; its client id names it from now on (rather than
    /// a session that had it before and is not removed yet).
    fn insert(&mut self, key: SessionKey, session: Session) {
        let hash = self.hasher.hash_one(&*session.client_id);
        let previous = self.by_key.insert(key, Box::new(session));
        debug_assert!(previous.is_none(), "session keys are not reused");
        let (by_key, hasher) = (&self.by_key, &self.hasher);
        let client_id = &by_key[&key].client_id;
        match self.by_client_id.entry(
            hash,
            |k| by_key[k].client_id == *client_id,
            |k| hasher.hash_one(&*by_key[k].client_id),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut named) => *named.get_mut() = key,
            hashbrown::hash_table::Entry::Vacant(free) => {
                free.insert(key);
            }
        }
    }

    /// Forgets session `key` (and its client id, unless it names another
    /// session by now); returns it.
    pub(crate) fn remove(&mut self, key: &SessionKey) -> Option<Box<Session>> {
        let hash = self.hasher.hash_one(&*self.by_key.get(key)?.client_id);
        if let Ok(named) = self.by_client_id.find_entry(hash, |k| k == key) {
            named.remove();
        }
        self.by_key.remove(key)
    }

    /// A fresh client identifier for an MQTT 5 client that sent none.
    pub(crate) fn assign_client_id(&mut self, prefix: &str) -> ByteString {
        loop {
            let n = self.next_assigned_id;
            self.next_assigned_id += 1;
            let id: ByteString = format!("{prefix}{n:08x}").into();
            if self.key_of(&id).is_none() {
                return id;
            }
        }
    }

    /// Session `key` expires at `at` unless a client takes it up before.
    pub(crate) fn expire_at(&mut self, at: Instant, key: SessionKey) {
        self.timers.push(Reverse((at, key)));
    }

    /// When the next expiry deadline falls (it may turn out stale).
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// A session whose expiry has passed at `now` (still disconnected),
    /// logged, for the broker to remove; `None` when there is none.
    pub(crate) fn next_expired(&mut self, now: Instant) -> Option<SessionKey> {
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(session) = self.by_key.get(&key) else {
                continue;
            };
            let (Some(gone), None) = (session.disconnected_at, session.conn) else {
                continue;
            };
            let due = gone + Duration::from_secs(u64::from(session.expiry_interval));
            if due > now {
                self.timers.push(Reverse((due, key)));
                continue;
            }
            tracing::info!("Session of {} expired and was removed.", session.client_id);
            return Some(key);
        }
        None
    }
}
