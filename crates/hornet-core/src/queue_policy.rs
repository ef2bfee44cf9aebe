//! Offline queue policies: what a session's queue keeps when a message
//! arrives for it, chosen per message topic.
//!
//! - `drop_newest` (the default, Mosquitto's behaviour): when the queue is
//!   full (`max_queued_messages`, `max_queued_bytes`), the arriving message
//!   is dropped.
//! - `drop_oldest`: when full, the oldest queued messages are dropped to
//!   make room for the arriving one.
//! - `latest`: a queued message on the same topic is replaced by the
//!   arriving one (a device that comes back gets the current state, not
//!   the history); when the queue is still full, the oldest is dropped.
//!
//! The policy of a message is that of the first rule whose topic filter
//! matches its topic ([`QueuePolicies::for_topic`]), else the default.
//! Messages already sent and awaiting acknowledgement are never touched.

use std::fmt;
use std::str::FromStr;

use hornet_codec::topic;

/// What a full (or, for `latest`, any) queue does with an arriving message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueuePolicy {
    /// Drop the arriving message when the queue is full.
    #[default]
    DropNewest,
    /// Drop the oldest queued messages to make room.
    DropOldest,
    /// Keep only the newest message per topic (then drop the oldest).
    Latest,
}

impl QueuePolicy {
    /// The names accepted in configuration files.
    pub const NAMES: &'static str = "drop_newest, drop_oldest, latest";
}

impl FromStr for QueuePolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "drop_newest" => QueuePolicy::DropNewest,
            "drop_oldest" => QueuePolicy::DropOldest,
            "latest" => QueuePolicy::Latest,
            other => {
                return Err(format!(
                    "unknown queue policy '{other}' (expected one of {})",
                    Self::NAMES
                ))
            }
        })
    }
}

impl fmt::Display for QueuePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueuePolicy::DropNewest => "drop_newest",
            QueuePolicy::DropOldest => "drop_oldest",
            QueuePolicy::Latest => "latest",
        })
    }
}

/// The default policy and the rules by topic filter, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueuePolicies {
    default: QueuePolicy,
    rules: Vec<(String, QueuePolicy)>,
}

impl QueuePolicies {
    /// `default` unless one of `rules` (topic filter, policy) matches first.
    pub(crate) fn new(default: QueuePolicy, rules: &[(String, QueuePolicy)]) -> QueuePolicies {
        QueuePolicies {
            default,
            rules: rules.to_vec(),
        }
    }

    /// The policy for a message on `name`. Without rules: the default, at
    /// no cost.
    #[inline]
    pub(crate) fn for_topic(&self, name: &str) -> QueuePolicy {
        if self.rules.is_empty() {
            return self.default;
        }
        self.rules
            .iter()
            .find(|(filter, _)| topic::matches(filter, name))
            .map_or(self.default, |(_, p)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_decides_else_the_default() {
        let p = QueuePolicies::new(
            QueuePolicy::DropOldest,
            &[
                ("devices/+/state".to_string(), QueuePolicy::Latest),
                ("devices/#".to_string(), QueuePolicy::DropNewest),
            ],
        );
        assert_eq!(p.for_topic("devices/7/state"), QueuePolicy::Latest);
        assert_eq!(p.for_topic("devices/7/log"), QueuePolicy::DropNewest);
        assert_eq!(p.for_topic("other"), QueuePolicy::DropOldest);
        assert_eq!(
            QueuePolicies::default().for_topic("x"),
            QueuePolicy::DropNewest
        );
    }

    #[test]
    fn names_read_back() {
        for p in [
            QueuePolicy::DropNewest,
            QueuePolicy::DropOldest,
            QueuePolicy::Latest,
        ] {
            assert_eq!(p.to_string().parse::<QueuePolicy>(), Ok(p));
        }
        assert!("newest".parse::<QueuePolicy>().is_err());
    }
}
