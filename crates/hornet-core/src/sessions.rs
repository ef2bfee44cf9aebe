//! The sessions table: every [`Session`] by key and by client id, the keys
//! and client ids the broker hands out, and the session expiry deadlines.
//!
//! [`Sessions`] keeps its two indexes in step (a session is found by its
//! client id exactly while it exists) and decides when a disconnected
//! session has expired; what removing one involves (its subscriptions,
//! shared groups, store record, delayed will) is the broker's (`ending`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytestring::ByteString;

use crate::ids::SessionKey;
use crate::session::Session;

/// Every session, connected or not.
#[derive(Debug)]
pub(crate) struct Sessions {
    /// Boxed, as are the connections: the maps grow in powers of two, and
    /// an entry held inline would cost its size in every empty slot too.
    by_key: AHashMap<SessionKey, Box<Session>>,
    by_client_id: AHashMap<ByteString, SessionKey>,
    next_key: SessionKey,
    next_assigned_id: u64,
    /// Session expiry deadlines, checked lazily (entries may be stale).
    timers: BinaryHeap<Reverse<(Instant, SessionKey)>>,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions {
            by_key: AHashMap::new(),
            by_client_id: AHashMap::new(),
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
        self.by_client_id.values().copied()
    }

    /// The session of `client_id`, if it has one.
    #[inline]
    pub(crate) fn key_of(&self, client_id: &str) -> Option<SessionKey> {
        self.by_client_id.get(client_id).copied()
    }

    /// A new session for `session.client_id`; returns its key.
    pub(crate) fn create(&mut self, session: Session) -> SessionKey {
        let key = self.next_key;
        self.next_key += 1;
        self.by_client_id.insert(session.client_id.clone(), key);
        self.by_key.insert(key, Box::new(session));
        key
    }

    /// A session read back from the store under its old `key`.
    pub(crate) fn restore(&mut self, key: SessionKey, session: Session) {
        self.next_key = self.next_key.max(key + 1);
        self.by_client_id.insert(session.client_id.clone(), key);
        self.by_key.insert(key, Box::new(session));
    }

    /// Forgets session `key` (and its client id, unless it names another
    /// session by now); returns it.
    pub(crate) fn remove(&mut self, key: &SessionKey) -> Option<Box<Session>> {
        let session = self.by_key.remove(key)?;
        if self.by_client_id.get(&session.client_id) == Some(key) {
            self.by_client_id.remove(&session.client_id);
        }
        Some(session)
    }

    /// A fresh client identifier for an MQTT 5 client that sent none.
    pub(crate) fn assign_client_id(&mut self, prefix: &str) -> ByteString {
        loop {
            let n = self.next_assigned_id;
            self.next_assigned_id += 1;
            let id: ByteString = format!("{prefix}{n:08x}").into();
            if !self.by_client_id.contains_key(&id) {
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
