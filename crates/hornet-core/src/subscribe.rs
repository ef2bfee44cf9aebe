//! SUBSCRIBE and UNSUBSCRIBE: the session's subscriptions, the index, and
//! retained messages sent on subscribe.
//!
//! A subscription to a filter the session already has replaces it
//! ([MQTT-3.8.4-3]). Retained messages matching the filter follow the
//! SUBACK with RETAIN set ([MQTT-3.3.1-6], [MQTT-3.3.1-8]), as the MQTT 5
//! Retain Handling option says (0: always, 1: only for a new subscription,
//! 2: never). EMQX's `$local/` prefix is accepted and means the plain
//! filter (one node). Shared subscriptions (`$share/{group}/{filter}`,
//! `$queue/{filter}`) join a group in [`crate::shared`] instead of the
//! index; No Local on one is a protocol error ([MQTT-3.8.3-4]) and no
//! retained messages follow.

use std::time::Instant;

use bytestring::ByteString;
use hornet_codec::{
    topic, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, UnsubAck, Unsubscribe,
};

use crate::authorize::Access;
use crate::broker::{Broker, ConnId};
use crate::retained::Retained;
use crate::session::Subscription;
use crate::shared;
use crate::violation::PeerError;

impl Broker {
    pub(crate) fn handle_subscribe(&mut self, now: Instant, id: ConnId, mut subscribe: Subscribe) {
        if let Some(f) = subscribe
            .filters
            .iter()
            .find(|f| f.options.no_local && shared::split(&f.filter).is_some())
        {
            let error = PeerError::NoLocalOnSharedSubscription(f.filter.clone());
            return self.peer_error(now, id, error, None);
        }
        let conn = &self.conns[&id];
        let Some(key) = conn.session else { return };
        // The listener's mount_point; a filter it makes invalid is refused.
        let mut unmountable = Vec::new();
        if let Some(mount) = &conn.info.mount_point {
            for (i, f) in subscribe.filters.iter_mut().enumerate() {
                match crate::mount_point::mount_filter(mount, &f.filter) {
                    Some(mounted) => f.filter = mounted,
                    None => unmountable.push(i),
                }
            }
        }
        if conn.bridge {
            // What a bridge subscribes to, it must not get back from its
            // own publishes (the loop Mosquitto's `try_private` prevents),
            // and retained messages keep their flag across it.
            for f in subscribe.filters.iter_mut() {
                if shared::split(&f.filter).is_none() {
                    f.options.no_local = true;
                }
                f.options.retain_as_published = true;
            }
        }
        let name = conn.name();
        let conn_client_id = conn.client_id.clone();
        let username = conn.username.clone();
        let identifier = subscribe.properties.subscription_identifiers().next();
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut retained_to_send: Vec<(Retained, QoS, Option<u32>)> = Vec::new();
        let session = self.sessions.get_mut(&key).expect("attached");
        let max_qos = match self.settings.max_qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        // Why a filter was refused, for the SUBACK's Reason String.
        let mut why = "";
        for (i, f) in subscribe.filters.iter().enumerate() {
            tracing::debug!("    {} (QoS {})", f.filter, f.options.qos as u8);
            if unmountable.contains(&i) {
                why = "the filter is not valid under the listener's mount_point";
                codes.push(ReasonCode::TopicFilterInvalid);
                continue;
            }
            // The switches CONNACK announced (MQTT 5 §3.2.2.3.11-13): the
            // filter is refused in SUBACK, the connection stays.
            if identifier.is_some() && !self.settings.subscription_identifiers {
                why = "subscription identifiers are not available on this broker";
                codes.push(ReasonCode::SubscriptionIdentifiersNotSupported);
                continue;
            }
            if !self.settings.wildcard_subscriptions
                && (f.filter.contains('+') || f.filter.contains('#'))
            {
                why = "wildcard subscriptions are not available on this broker";
                codes.push(ReasonCode::WildcardSubscriptionsNotSupported);
                continue;
            }
            if let Some(over) = crate::limits::topic_over_limits(&self.settings, &f.filter) {
                self.stats.limit_topic += 1;
                tracing::info!(
                    "Refused SUBSCRIBE from {name} to a filter starting '{}': {over}.",
                    f.filter.chars().take(64).collect::<String>()
                );
                self.hints
                    .give(crate::hints::Hint::TopicLimits, &self.settings);
                why = "topic filter over the broker's limits";
                codes.push(ReasonCode::TopicFilterInvalid);
                continue;
            }
            let max_subs = self.settings.max_subscriptions_per_client;
            if session.subscriptions.len() >= max_subs
                && !session.subscriptions.contains_key(&f.filter)
            {
                self.stats.limit_subscriptions += 1;
                tracing::info!(
                    "Refused SUBSCRIBE from {name} to '{}': the client already has {} \
                     subscriptions (max_subscriptions_per_client {max_subs}).",
                    f.filter,
                    session.subscriptions.len()
                );
                self.hints
                    .give(crate::hints::Hint::Subscriptions, &self.settings);
                why = "subscription quota exceeded";
                codes.push(ReasonCode::QuotaExceeded);
                continue;
            }
            // The ACL, on the filter without its $share/ or $local/ prefix.
            let split = shared::split(&f.filter);
            let plain: &str = match &split {
                Some(s) => &s.filter,
                None => f.filter.strip_prefix("$local/").unwrap_or(&f.filter),
            };
            let who = crate::authorize::Principal {
                client_id: &conn_client_id,
                username: username.as_deref(),
            };
            let verdict = match &self.authorizer {
                Some(a) => a.authorize(who, plain, Access::Subscribe),
                None => Ok(()),
            };
            if let Err(deny) = verdict {
                self.stats.acl_denied_subscribe += 1;
                tracing::info!(
                    "Denied SUBSCRIBE from {name} ({}) to '{}': {deny}.",
                    crate::authorize::user_label(username.as_deref()),
                    f.filter
                );
                self.hints
                    .give(crate::hints::Hint::AclDenied, &self.settings);
                why = "not authorized";
                codes.push(ReasonCode::NotAuthorized);
                continue;
            }
            let mut options = f.options;
            // Granted at most the broker's Maximum QoS ([MQTT-3.2.2-9]).
            options.qos = options.qos.min(max_qos);
            let sub = Subscription {
                options,
                identifier,
            };
            if let Some(shared) = shared::split(&f.filter) {
                if !self.settings.shared_subscriptions {
                    tracing::info!(
                        "Client {name} asked for shared subscription '{}': refused, \
                         shared_subscriptions is off.",
                        f.filter
                    );
                    codes.push(ReasonCode::SharedSubscriptionsNotSupported);
                    continue;
                }
                // Stored under the name the client used, so UNSUBSCRIBE
                // with the same string finds it. No retained messages on a
                // shared subscribe (MQTT 5.0 §4.8.2).
                session.subscriptions.insert(own(&f.filter), sub);
                self.shared.subscribe(&shared, key, sub);
                tracing::info!(
                    target: crate::SUBSCRIBE_LOG_TARGET,
                    "{name} {} {}",
                    f.options.qos as u8,
                    f.filter
                );
                codes.push(granted(sub.options.qos));
                continue;
            }
            let Some(filter) = node_local(&f.filter) else {
                tracing::info!(
                    "Client {name} sent an invalid topic filter '{}': nothing after $local/.",
                    f.filter
                );
                codes.push(ReasonCode::TopicFilterInvalid);
                continue;
            };
            let existed = session.subscriptions.insert(own(&filter), sub).is_some();
            self.subs.insert(&filter, key, sub);
            tracing::info!(
                target: crate::SUBSCRIBE_LOG_TARGET,
                "{name} {} {}",
                f.options.qos as u8,
                f.filter
            );
            codes.push(granted(sub.options.qos));
            let send_retained = match f.options.retain_handling {
                RetainHandling::OnSubscribe => true,
                RetainHandling::OnNewSubscribe => !existed,
                RetainHandling::Never => false,
            };
            if send_retained {
                self.retained.for_each_match(&filter, |_, msg| {
                    retained_to_send.push((msg.clone(), sub.options.qos, identifier));
                });
            }
        }
        let suback = SubAck {
            packet_id: subscribe.packet_id,
            properties: Default::default(),
            reason_codes: codes,
        };
        self.journal.touch(key);
        self.send_explained(id, suback.into(), why);
        for (msg, qos, identifier) in retained_to_send {
            if !self.retain_source_allows(&msg) {
                continue;
            }
            self.deliver_retained(key, msg, qos, identifier);
        }
    }

    pub(crate) fn handle_unsubscribe(&mut self, id: ConnId, mut unsubscribe: Unsubscribe) {
        let Some(key) = self.conns[&id].session else {
            return;
        };
        if let Some(mount) = &self.conns[&id].info.mount_point {
            for filter in unsubscribe.filters.iter_mut() {
                // One that cannot be mounted was never subscribed: it is
                // left as is and matches nothing of this client's.
                if let Some(mounted) = crate::mount_point::mount_filter(mount, filter) {
                    *filter = mounted;
                }
            }
        }
        let name = self.conns[&id].name();
        let session = self.sessions.get_mut(&key).expect("attached");
        let mut codes = Vec::with_capacity(unsubscribe.filters.len());
        for filter in &unsubscribe.filters {
            tracing::info!(target: crate::UNSUBSCRIBE_LOG_TARGET, "{name} {filter}");
            let existed = match shared::split(filter) {
                Some(name) => {
                    session.subscriptions.remove(filter);
                    self.shared.unsubscribe(&name, key)
                }
                None => {
                    let filter = node_local(filter).unwrap_or_else(|| filter.clone());
                    self.subs.remove(&filter, key);
                    session.subscriptions.remove(&filter).is_some()
                }
            };
            // [MQTT-3.10.4-5]: UNSUBACK even when nothing matched.
            codes.push(if existed {
                ReasonCode::Success
            } else {
                ReasonCode::NoSubscriptionExisted
            });
        }
        self.journal.touch(key);
        let unsuback = UnsubAck {
            packet_id: unsubscribe.packet_id,
            properties: Default::default(),
            reason_codes: codes,
        };
        self.send_to(id, unsuback.into());
    }
}

/// A filter kept in a session, copied out of the SUBSCRIBE frame so it
/// does not pin the read buffer the frame arrived in.
fn own(filter: &ByteString) -> ByteString {
    ByteString::from(&**filter)
}

/// The SUBACK code for a subscription granted at `qos`.
fn granted(qos: QoS) -> ReasonCode {
    match qos {
        QoS::AtMostOnce => ReasonCode::Success,
        QoS::AtLeastOnce => ReasonCode::GrantedQos1,
        QoS::ExactlyOnce => ReasonCode::GrantedQos2,
    }
}

/// EMQX's `$local/` prefix ("subscribe on this node only", which the
/// seeds' users type): on a single node `$local/a/b` is the subscription
/// `a/b`. Returns the filter to index, or `None` when nothing valid
/// follows the prefix.
fn node_local(filter: &ByteString) -> Option<ByteString> {
    match filter.strip_prefix("$local/") {
        None => Some(filter.clone()),
        Some(rest) => topic::validate_filter(rest)
            .ok()
            .map(|()| filter.slice_ref(rest)),
    }
}
