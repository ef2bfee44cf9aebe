//! The broker's own log lines as messages (`log_dest topic`): each goes to
//! `$SYS/broker/log/<level>` as Mosquitto publishes them, QoS 2, not
//! retained, with a Message Expiry Interval of 20 seconds; also the
//! targets of the subscribe and unsubscribe lines (`M/subscribe`,
//! `M/unsubscribe`), which the shell shows only when `log_type` asks. The shell
//! decides which lines come here (and that publishing one never logs
//! another into this path); the core only routes them.

use std::time::Instant;

use hornet_codec::{Property, Publish, QoS};

use crate::Broker;

/// The `tracing` target of the line logged for each subscription, as
/// Mosquitto's `log_type subscribe` writes it: `CLIENT QOS FILTER`.
pub const SUBSCRIBE_LOG_TARGET: &str = "hornet::subscribe";

/// The `tracing` target of the line logged for each unsubscription, as
/// Mosquitto's `log_type unsubscribe` writes it: `CLIENT FILTER`.
pub const UNSUBSCRIBE_LOG_TARGET: &str = "hornet::unsubscribe";

/// How long a log message waits for an offline subscriber, in seconds
/// (Mosquitto's value).
pub(crate) const LOG_MESSAGE_EXPIRY_SECS: u32 = 20;

impl Broker {
    /// Publishes one log line on `$SYS/broker/log/{level}` (`level` is
    /// Mosquitto's letter: `E`, `W`, `N`, `I`, ... or `M/subscribe`).
    /// Returns whether any subscription matched.
    pub fn publish_log(&mut self, now: Instant, level: &str, line: String) -> bool {
        self.now = now;
        let mut publish = Publish::new(format!("$SYS/broker/log/{level}"), line);
        publish.qos = QoS::ExactlyOnce;
        publish
            .properties
            .push(Property::MessageExpiryInterval(LOG_MESSAGE_EXPIRY_SECS));
        self.accept_publish(now, publish, None)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use crate::{Broker, Settings};

    #[test]
    fn a_log_line_without_subscribers_matches_nothing() {
        let now = Instant::now();
        let mut broker = Broker::new(Settings::default(), now);
        assert!(!broker.publish_log(now, "N", "1: hello".into()));
    }
}
