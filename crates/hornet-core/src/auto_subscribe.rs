//! Auto-subscribe (EMQX's `auto_subscribe`): filters subscribed on every
//! client's behalf when it connects, from templates such as
//! `devices/%c/cmd` and `users/%u/#`.
//!
//! `%c` (or `${clientid}`) is the client id and `%u` (or `${username}`) the
//! authenticated user name (the ACL's: none without password checks). A
//! template naming the user name is skipped for a client without one; a client id or user name containing `+`, `#` or `/` is not
//! substituted (it would widen the filter: a client named `#` must not
//! subscribe to everything), and the template is skipped with a log line.
//! The subscriptions are made after CONNACK as if the client had sent
//! SUBSCRIBE (the ACL, the limits and retained messages apply; no SUBACK
//! is sent), so a persistent session keeps them like its own.

use hornet_codec::{PacketId, QoS, Subscribe, SubscribeFilter, SubscriptionOptions};

use crate::broker::{Broker, ConnId};

/// Why a template was not subscribed for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skipped {
    /// It names the user name and the client has none.
    NoUsername,
    /// The value contains `+`, `#` or `/`.
    Unsafe,
}

/// `template` for `client_id` and `username`.
pub(crate) fn expand(
    template: &str,
    client_id: &str,
    username: Option<&str>,
) -> Result<String, Skipped> {
    let unsafe_value = |v: &str| v.contains(['+', '#', '/']);
    let mut out = template.to_string();
    if out.contains("%c") || out.contains("${clientid}") {
        if unsafe_value(client_id) {
            return Err(Skipped::Unsafe);
        }
        out = out
            .replace("%c", client_id)
            .replace("${clientid}", client_id);
    }
    if out.contains("%u") || out.contains("${username}") {
        let name = username.ok_or(Skipped::NoUsername)?;
        if unsafe_value(name) {
            return Err(Skipped::Unsafe);
        }
        out = out.replace("%u", name).replace("${username}", name);
    }
    Ok(out)
}

impl Broker {
    /// Subscribes the client on `id` to the configured templates.
    pub(crate) fn auto_subscribe(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        let mut filters = Vec::with_capacity(self.settings.auto_subscribe.len());
        for t in &self.settings.auto_subscribe {
            match expand(&t.topic, &conn.client_id, conn.username.as_deref()) {
                Ok(filter) if hornet_codec::topic::validate_filter(&filter).is_ok() => filters
                    .push(SubscribeFilter {
                        filter: filter.into(),
                        options: SubscriptionOptions {
                            qos: t.qos,
                            ..Default::default()
                        },
                    }),
                Ok(filter) => tracing::info!(
                    "Not auto-subscribing {} to '{filter}': not a valid topic filter.",
                    conn.name()
                ),
                Err(Skipped::NoUsername) => tracing::debug!(
                    "Not auto-subscribing {} to '{}': it has no user name.",
                    conn.name(),
                    t.topic
                ),
                Err(Skipped::Unsafe) => tracing::info!(
                    "Not auto-subscribing {} to '{}': its client id or user name contains \
                     '+', '#' or '/', which would widen the filter.",
                    conn.name(),
                    t.topic
                ),
            }
        }
        if filters.is_empty() {
            return;
        }
        let mut subscribe = Subscribe::new(PacketId::new(1).expect("nonzero"), "", QoS::AtMostOnce);
        subscribe.filters = filters;
        self.subscribe_filters(id, subscribe, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_unsafe_values_refused() {
        assert_eq!(
            expand("devices/%c/cmd", "d1", None),
            Ok("devices/d1/cmd".into())
        );
        assert_eq!(
            expand("users/${username}/#", "d1", Some("ann")),
            Ok("users/ann/#".into())
        );
        assert_eq!(expand("users/%u/#", "d1", None), Err(Skipped::NoUsername));
        assert_eq!(expand("devices/%c", "#", None), Err(Skipped::Unsafe));
        assert_eq!(expand("devices/%c", "a/b", None), Err(Skipped::Unsafe));
        assert_eq!(expand("u/%u", "x", Some("a+")), Err(Skipped::Unsafe));
        assert_eq!(expand("broadcast", "#", None), Ok("broadcast".into()));
    }
}
