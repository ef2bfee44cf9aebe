//! Sessions made through the admin API for client ids that have never
//! connected (EMQX's pre-created subscriptions): an offline persistent
//! session with subscriptions, so messages wait for the client. When the
//! client connects without Clean Start (MQTT 3.x: clean session 0) it
//! resumes the session (Session Present 1) and receives what was queued;
//! with Clean Start the session is discarded, as any session is.

use std::time::{Duration, Instant};

use bytestring::ByteString;
use hornet_codec::{topic, Protocol, QoS, SubscriptionOptions};

use crate::admin::AdminError;
use crate::broker::Broker;
use crate::exclusive::{self, Indexed};
use crate::session::{Session, Subscription, NEVER_EXPIRES};

/// A session to make for a client id that has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetSession {
    /// The client id it is for.
    pub client_id: String,
    /// Its Session Expiry Interval in seconds, counted from now while the
    /// client stays away (`u32::MAX`: never); capped by
    /// `max_session_expiry`. Must be above 0.
    pub expiry_interval: u32,
    /// Its subscriptions: filter (`$share/...` and `$exclusive/...`
    /// included) and QoS.
    pub subscriptions: Vec<(String, QoS)>,
}

impl Broker {
    /// Makes `preset`'s session, offline; refused when the client id has
    /// a session, a filter is not valid, or an exclusive filter is held.
    pub fn admin_create_session(
        &mut self,
        now: Instant,
        preset: PresetSession,
    ) -> Result<(), AdminError> {
        self.now = now;
        let PresetSession {
            client_id,
            expiry_interval,
            subscriptions,
        } = preset;
        if client_id.is_empty() {
            return Err(AdminError::NotAllowed("the client id is empty".into()));
        }
        if self.sessions.key_of(&client_id).is_some() {
            return Err(AdminError::SessionExists(client_id));
        }
        if expiry_interval == 0 {
            return Err(AdminError::NotAllowed(
                "a session that expires at once would never be used: give an expiry above 0".into(),
            ));
        }
        let max_qos = QoS::from_u8(self.settings.max_qos).unwrap_or(QoS::ExactlyOnce);
        let mut checked = Vec::with_capacity(subscriptions.len());
        for (filter, qos) in subscriptions {
            topic::validate_filter(&filter)
                .map_err(|e| AdminError::InvalidTopic(format!("topic filter {filter:?}: {e}")))?;
            let filter = ByteString::from(filter);
            let indexed = exclusive::indexed(self.settings.exclusive_subscriptions, &filter);
            match &indexed {
                Indexed::Invalid => {
                    return Err(AdminError::InvalidTopic(format!(
                        "topic filter {filter:?}: nothing valid after $exclusive/"
                    )))
                }
                Indexed::Exclusive(plain) if self.exclusive.holds_any(plain) => {
                    return Err(AdminError::NotAllowed(format!(
                        "the exclusive subscription {filter:?} is held by another client"
                    )))
                }
                _ => {}
            }
            if crate::shared::split(&filter).is_some() && !self.settings.shared_subscriptions {
                return Err(AdminError::NotAllowed(
                    "shared subscriptions are off (shared_subscriptions)".into(),
                ));
            }
            checked.push((filter, indexed, qos.min(max_qos)));
        }
        let expiry = expiry_interval.min(self.settings.max_session_expiry);
        let client_id = ByteString::from(client_id);
        let mut session = Session::new(client_id.clone(), Protocol::V5, expiry);
        session.disconnected_at = Some(now);
        let key = self.sessions.create(session);
        for (filter, indexed, qos) in checked {
            let sub = Subscription {
                options: SubscriptionOptions {
                    qos,
                    ..Default::default()
                },
                identifier: None,
            };
            let local = filter.starts_with("$local/");
            let kept = match (crate::shared::split(&filter), indexed) {
                (Some(shared), _) => {
                    self.shared.subscribe(&shared, key, sub);
                    filter
                }
                (None, Indexed::Exclusive(plain)) => {
                    let _ = self.exclusive.claim(&plain, key, &client_id);
                    self.subs.insert(&plain, key, sub);
                    filter
                }
                (None, _) => {
                    let plain = match filter.strip_prefix("$local/") {
                        Some(rest) => filter.slice_ref(rest),
                        None => filter,
                    };
                    self.subs.insert(&plain, key, sub);
                    plain
                }
            };
            let session = self.sessions.get_mut(&key).expect("just made");
            let kept = ByteString::from(&*kept);
            self.local_marks.mark(key, &kept, local);
            session.subscriptions.insert(kept, sub);
        }
        if expiry != NEVER_EXPIRES {
            self.sessions
                .expire_at(now + Duration::from_secs(u64::from(expiry)), key);
        }
        self.journal.touch(key);
        tracing::info!(
            "Session of {client_id} created by an administrator (admin API) with {} \
             subscriptions; it waits for the client.",
            self.sessions[&key].subscriptions.len()
        );
        Ok(())
    }
}
