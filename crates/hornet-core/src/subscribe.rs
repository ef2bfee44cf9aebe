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
//! retained messages follow. Topic rewrite rules (`rewrite`) apply to
//! SUBSCRIBE and UNSUBSCRIBE filters first. Exclusive subscriptions (`$exclusive/{filter}`)
//! index the plain filter and claim it in [`crate::exclusive`]; a filter
//! another session holds is refused with 0x97.

use std::time::Instant;

use bytestring::ByteString;
use hornet_codec::{
    topic, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, UnsubAck, Unsubscribe,
};

use crate::authorize::Access;
use crate::broker::{Broker, ConnId};
use crate::exclusive;
use crate::retained::Retained;
use crate::session::Subscription;
use crate::shared;
use crate::violation::PeerError;

impl Broker {
    pub(crate) fn handle_subscribe(&mut self, now: Instant, id: ConnId, subscribe: Subscribe) {
        if let Some(f) = subscribe
            .filters
            .iter()
            .find(|f| f.options.no_local && shared::split(&f.filter).is_some())
        {
            let error = PeerError::NoLocalOnSharedSubscription(f.filter.clone());
            return self.peer_error(now, id, error, None);
        }
        self.subscribe_filters(id, subscribe, true);
    }

    /// Subscribes the session of `id` to the filters of `subscribe`;
    /// `answer`: send the SUBACK (false for subscriptions the broker makes
    /// on the client's behalf, `auto_subscribe`; refusals are then logged).
    pub(crate) fn subscribe_filters(&mut self, id: ConnId, mut subscribe: Subscribe, answer: bool) {
        let conn = &self.conns[&id];
        let Some(key) = conn.session else { return };
        let name = conn.name();
        let conn_client_id = conn.client_id.clone();
        let username = conn.username.clone();
        // Topic rewrite first (on the client's own filter), then the
        // listener's mount_point.
        if !self.rewrite.is_empty() {
            for f in subscribe.filters.iter_mut() {
                let rewritten = self.rewrite.rewrite(
                    crate::rewrite::Rewriting::Subscribe,
                    &f.filter,
                    &conn_client_id,
                    username.as_deref(),
                );
                if let Some(filter) = rewritten {
                    f.filter = filter.into();
                }
            }
        }
        // The listener's mount_point; a filter it makes invalid is refused.
        let mut unmountable = Vec::new();
        if let Some(mount) = conn.mount_point() {
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
        let identifier = subscribe.properties.subscription_identifiers().next();
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut retained_to_send: Vec<(Retained, QoS, Option<u32>)> = Vec::new();
        // Cluster: the plain filters subscribed, and whether each is
        // exported (not `$local/`); nothing is collected off a cluster.
        let clustered = self.cluster.is_some();
        let mut exported: Vec<(ByteString, bool)> = Vec::new();
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
            // The ACL, on the filter without its $share/, $local/ or
            // $exclusive/ prefix.
            let split = shared::split(&f.filter);
            let exclusive = exclusive::indexed(self.settings.exclusive_subscriptions, &f.filter);
            let plain: &str = match (&split, &exclusive) {
                (Some(s), _) => &s.filter,
                (None, exclusive::Indexed::Exclusive(rest)) => rest,
                (None, _) => f.filter.strip_prefix("$local/").unwrap_or(&f.filter),
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
                if clustered {
                    // The group's member count here changed.
                    exported.push((f.filter.clone(), true));
                }
                tracing::info!(
                    target: crate::SUBSCRIBE_LOG_TARGET,
                    "{name} {} {}",
                    f.options.qos as u8,
                    f.filter
                );
                codes.push(granted(sub.options.qos));
                continue;
            }
            let is_exclusive = matches!(exclusive, exclusive::Indexed::Exclusive(_));
            let filter = match exclusive {
                exclusive::Indexed::Plain(_) => node_local(&f.filter),
                exclusive::Indexed::Exclusive(rest) => Some(rest),
                exclusive::Indexed::Invalid => {
                    tracing::info!(
                        "Client {name} sent an invalid topic filter '{}': nothing valid after \
                         $exclusive/.",
                        f.filter
                    );
                    codes.push(ReasonCode::TopicFilterInvalid);
                    continue;
                }
            };
            if is_exclusive {
                let filter = filter.as_ref().expect("checked above");
                if let Err(holder) = self.exclusive.claim(filter, key, &conn_client_id) {
                    tracing::info!(
                        "Refused exclusive subscription of client {name} to '{filter}': \
                         client {holder} holds it (SUBACK 0x97)."
                    );
                    why = "the exclusive subscription is held by another client";
                    codes.push(ReasonCode::QuotaExceeded);
                    continue;
                }
            }
            let Some(filter) = filter else {
                tracing::info!(
                    "Client {name} sent an invalid topic filter '{}': nothing after $local/.",
                    f.filter
                );
                codes.push(ReasonCode::TopicFilterInvalid);
                continue;
            };
            // `a` and `$exclusive/a` are one subscription in the index:
            // either replaces the other ([MQTT-3.8.4-3]), and a plain one
            // ends the session's claim.
            let mut existed = false;
            if is_exclusive {
                existed = session.subscriptions.remove(&*filter).is_some();
            } else if !self.exclusive.is_empty() && self.exclusive.release(&filter, key) {
                let kept = format!("{}{filter}", exclusive::PREFIX);
                existed = session.subscriptions.remove(kept.as_str()).is_some();
            }
            let kept = if is_exclusive {
                own(&f.filter)
            } else {
                own(&filter)
            };
            existed |= session.subscriptions.insert(kept, sub).is_some();
            // The last SUBSCRIBE of a filter decides whether it is `$local/`.
            self.local_marks
                .mark(key, &filter, f.filter.starts_with("$local/"));
            self.subs.insert(&filter, key, sub);
            if clustered {
                exported.push((filter.clone(), !f.filter.starts_with("$local/")));
            }
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
        self.ungated();
        for (filter, export) in exported {
            self.cluster_subscribed(&filter, key, export);
        }
        if answer {
            // Cluster: a new route waits for every live node (`acknowledging`).
            let kind = crate::cluster_acks::GateKind::Subscribe;
            self.gate_ack(self.now, id, subscribe.packet_id.get(), kind);
            self.send_explained(id, suback.into(), why);
        } else {
            for (f, code) in subscribe.filters.iter().zip(&suback.reason_codes) {
                if code.is_error() {
                    tracing::info!(
                        "Auto-subscription of {} to '{}' refused: {code}.",
                        self.conns.get(&id).map_or_else(String::new, |c| c.name()),
                        f.filter
                    );
                }
            }
        }
        for (msg, qos, identifier) in retained_to_send {
            if !self.retain_source_allows(&msg) {
                continue;
            }
            self.deliver_retained(key, msg, qos, identifier);
        }
    }

    pub(crate) fn handle_unsubscribe(&mut self, id: ConnId, mut unsubscribe: Unsubscribe) {
        let conn = &self.conns[&id];
        let Some(key) = conn.session else {
            return;
        };
        // As on SUBSCRIBE: the rewrite, then the mount_point.
        if !self.rewrite.is_empty() {
            for filter in unsubscribe.filters.iter_mut() {
                let rewritten = self.rewrite.rewrite(
                    crate::rewrite::Rewriting::Subscribe,
                    filter,
                    &conn.client_id,
                    conn.username.as_deref(),
                );
                if let Some(f) = rewritten {
                    *filter = f.into();
                }
            }
        }
        if let Some(mount) = conn.mount_point() {
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
        let clustered = self.cluster.is_some();
        let mut withdrawn: Vec<ByteString> = Vec::new();
        for filter in &unsubscribe.filters {
            tracing::info!(target: crate::UNSUBSCRIBE_LOG_TARGET, "{name} {filter}");
            let existed = match shared::split(filter) {
                Some(name) => {
                    session.subscriptions.remove(filter);
                    let existed = self.shared.unsubscribe(&name, key);
                    if existed && clustered {
                        withdrawn.push(filter.clone());
                    }
                    existed
                }
                None => match exclusive::indexed(self.settings.exclusive_subscriptions, filter) {
                    exclusive::Indexed::Exclusive(plain) => {
                        let existed = session.subscriptions.remove(filter).is_some();
                        if existed {
                            self.subs.remove(&plain, key);
                            self.exclusive.release(&plain, key);
                            if clustered {
                                withdrawn.push(plain.clone());
                            }
                        }
                        existed
                    }
                    _ => {
                        let filter = node_local(filter).unwrap_or_else(|| filter.clone());
                        let existed = session.subscriptions.remove(&filter).is_some();
                        self.local_marks.mark(key, &filter, false);
                        if existed || !self.exclusive.holds(&filter, key) {
                            self.subs.remove(&filter, key);
                            if clustered {
                                withdrawn.push(filter.clone());
                            }
                        }
                        existed
                    }
                },
            };
            // [MQTT-3.10.4-5]: UNSUBACK even when nothing matched.
            codes.push(if existed {
                ReasonCode::Success
            } else {
                ReasonCode::NoSubscriptionExisted
            });
        }
        self.journal.touch(key);
        for filter in withdrawn {
            self.cluster_unsubscribed(&filter, key);
        }
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
