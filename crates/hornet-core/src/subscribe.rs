//! SUBSCRIBE and UNSUBSCRIBE: the session's subscriptions, the index, and
//! retained messages sent on subscribe.
//!
//! A subscription to a filter the session already has replaces it
//! ([MQTT-3.8.4-3]). Retained messages matching the filter follow the
//! SUBACK with RETAIN set ([MQTT-3.3.1-6], [MQTT-3.3.1-8]), as the MQTT 5
//! Retain Handling option says (0: always, 1: only for a new subscription,
//! 2: never). EMQX's `$local/` prefix is accepted and means the plain
//! filter (one node).

use std::time::Instant;

use bytestring::ByteString;
use hornet_codec::{
    topic, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, UnsubAck, Unsubscribe,
};

use crate::broker::{Broker, ConnId};
use crate::session::Subscription;

impl Broker {
    pub(crate) fn handle_subscribe(&mut self, _now: Instant, id: ConnId, subscribe: Subscribe) {
        let conn = &self.conns[&id];
        let Some(key) = conn.session else { return };
        let name = conn.name();
        let identifier = subscribe.properties.subscription_identifiers().next();
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut retained_to_send: Vec<(Publish, QoS, Option<u32>)> = Vec::new();
        let session = self.sessions.get_mut(&key).expect("attached");
        for f in &subscribe.filters {
            tracing::debug!("    {} (QoS {})", f.filter, f.options.qos as u8);
            if matches!(topic::parse_shared(&f.filter), Ok(Some(_)))
                || f.filter.starts_with("$queue/")
            {
                tracing::info!(
                    "Client {name} asked for shared subscription '{}': not supported yet; refused.",
                    f.filter
                );
                codes.push(ReasonCode::SharedSubscriptionsNotSupported);
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
            let sub = Subscription {
                options: f.options,
                identifier,
            };
            let existed = session.subscriptions.insert(filter.clone(), sub).is_some();
            self.subs.insert(&filter, key, sub);
            tracing::debug!("{name} {} {}", f.options.qos as u8, f.filter);
            codes.push(match f.options.qos {
                QoS::AtMostOnce => ReasonCode::Success,
                QoS::AtLeastOnce => ReasonCode::GrantedQos1,
                QoS::ExactlyOnce => ReasonCode::GrantedQos2,
            });
            let send_retained = match f.options.retain_handling {
                RetainHandling::OnSubscribe => true,
                RetainHandling::OnNewSubscribe => !existed,
                RetainHandling::Never => false,
            };
            if send_retained {
                self.retained.for_each_match(&filter, |_, msg| {
                    retained_to_send.push((msg.clone(), f.options.qos, identifier));
                });
            }
        }
        let suback = SubAck {
            packet_id: subscribe.packet_id,
            properties: Default::default(),
            reason_codes: codes,
        };
        self.send_to(id, suback.into());
        for (msg, qos, identifier) in retained_to_send {
            self.deliver_retained(key, msg, qos, identifier);
        }
    }

    pub(crate) fn handle_unsubscribe(&mut self, id: ConnId, unsubscribe: Unsubscribe) {
        let Some(key) = self.conns[&id].session else {
            return;
        };
        let session = self.sessions.get_mut(&key).expect("attached");
        let mut codes = Vec::with_capacity(unsubscribe.filters.len());
        for filter in &unsubscribe.filters {
            let filter = node_local(filter).unwrap_or_else(|| filter.clone());
            let existed = session.subscriptions.remove(&filter).is_some();
            self.subs.remove(&filter, key);
            // [MQTT-3.10.4-5]: UNSUBACK even when nothing matched.
            codes.push(if existed {
                ReasonCode::Success
            } else {
                ReasonCode::NoSubscriptionExisted
            });
        }
        let unsuback = UnsubAck {
            packet_id: unsubscribe.packet_id,
            properties: Default::default(),
            reason_codes: codes,
        };
        self.send_to(id, unsuback.into());
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
