//! First-time hints: the first time in a broker's life that a client is
//! refused, or a message dropped, for a given cause, one more log line
//! names the setting that controls it, its current value, and how to
//! change it.
//!
//! The core words only the first part (what the broker did and which
//! setting, by its canonical name, decided it, with its value). How to
//! change it (the hornet.toml and the mosquitto.conf spelling, and the
//! section of `docs/configuration.md`) is the shell's business: it gives
//! a [`ConfigWording`](crate::ConfigWording) in [`Settings::wording`](crate::Settings), built
//! from its declaration of every setting, so the core never knows a
//! configuration file's syntax. Refusal lines that suggest a change ask
//! it for a [`Fix`] the same way.
//!
//! Later occurrences of the same cause log only their own line (which
//! every refusal and drop already has); a cause is a [`Hint`], remembered
//! in a bitset ([`Hints`]), so this is deterministic and costs one bit
//! test on paths that are already exceptional. Like every core log line,
//! the hint is emitted with `tracing` where the decision is made; no I/O.

use crate::settings::{RateAction, Settings};
pub(crate) use crate::wording::{Fix, Hint};

impl Hint {
    /// Every cause, in declaration order.
    pub const ALL: [Hint; 17] = [
        Hint::ClientIdTooLong,
        Hint::KeepAliveTooLong,
        Hint::BadPassword,
        Hint::Anonymous,
        Hint::Flapping,
        Hint::PublishRate,
        Hint::PacketTooLarge,
        Hint::TopicLimits,
        Hint::Subscriptions,
        Hint::QueueFull,
        Hint::Qos0NotQueued,
        Hint::AclDenied,
        Hint::MessageExpired,
        Hint::OverClientMaximum,
        Hint::ConnectTimeout,
        Hint::WillRefused,
        Hint::ServerReference,
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The hint's text (without the `hint: ` prefix), with the current
    /// values and the shell's advice.
    pub(crate) fn text(self, s: &Settings) -> String {
        let what = self.what(s);
        match s.wording.advice(self) {
            Some(advice) => format!("{what}. {advice} (This hint is shown once.)"),
            None => format!("{what}. (This hint is shown once.)"),
        }
    }

    /// What happened and which setting decides it, with its current value
    /// (canonical setting names, no file syntax).
    pub fn what(self, s: &Settings) -> String {
        let unlimited = |n: usize| {
            if n == usize::MAX {
                "unlimited".to_string()
            } else {
                n.to_string()
            }
        };
        match self {
            Hint::ClientIdTooLong => format!(
                "max_client_id_length (currently {}) limits the length of client ids",
                s.max_client_id_length
            ),
            Hint::KeepAliveTooLong => format!(
                "max_keepalive (currently {}) is the longest keep-alive a client may ask \
                 for; MQTT 3.x clients over it (or asking for 0) are refused, MQTT 5 clients \
                 are told the lower value",
                s.max_keepalive
            ),
            Hint::BadPassword => {
                "user names and passwords are checked against the password_file".to_string()
            }
            Hint::Anonymous => format!(
                "allow_anonymous (currently {}) decides who may connect without a user \
                 name; a user name without a password_file counts as anonymous",
                match s.anonymous {
                    crate::Anonymous::Loopback => "loopback only",
                    crate::Anonymous::Always => "true",
                    crate::Anonymous::Never => "false",
                }
            ),
            Hint::Flapping => format!(
                "flapping_max_connects (currently {}) connects of one client id within \
                 flapping_window ({}s) ban it for flapping_ban ({}s)",
                s.flapping_max_connects,
                s.flapping_window.as_secs(),
                s.flapping_ban.as_secs()
            ),
            Hint::PublishRate => format!(
                "max_publish_rate (currently {}) and max_publish_bytes_rate (currently {}) \
                 limit what one connection may publish per second; publish_rate_action \
                 ({}) says what happens over them",
                if s.max_publish_rate == 0 {
                    "unlimited".to_string()
                } else {
                    format!("{}/s", s.max_publish_rate)
                },
                if s.max_publish_bytes_rate == 0 {
                    "unlimited".to_string()
                } else {
                    format!("{} B/s", s.max_publish_bytes_rate)
                },
                match s.publish_rate_action {
                    RateAction::Throttle => "throttle",
                    RateAction::Disconnect => "disconnect",
                }
            ),
            Hint::PacketTooLarge => format!(
                "max_packet_size (currently {} bytes) is the largest packet a client may send",
                s.max_packet_size
            ),
            Hint::TopicLimits => format!(
                "max_topic_length (currently {}) and max_topic_levels (currently {}) limit \
                 topic names and filters",
                s.max_topic_length,
                unlimited(s.max_topic_levels)
            ),
            Hint::Subscriptions => format!(
                "max_subscriptions_per_client (currently {}) limits the subscriptions of \
                 one session",
                unlimited(s.max_subscriptions_per_client)
            ),
            Hint::QueueFull => format!(
                "max_queued_messages (currently {}) and max_queued_bytes (currently {}) \
                 limit each session's queue (offline clients, and online ones that read \
                 slowly); when it is full the newest messages are dropped for that client",
                unlimited(s.max_queued_messages),
                unlimited(s.max_queued_bytes)
            ),
            Hint::Qos0NotQueued => format!(
                "queue_qos0_messages (currently {}) decides whether QoS 0 messages are kept \
                 for offline persistent sessions; by default (as in Mosquitto) they are not",
                s.queue_qos0_messages
            ),
            Hint::AclDenied => {
                "the access rules denied a client access to a topic (a PUBLISH, SUBSCRIBE, will \
                 or a delivery; denied deliveries are logged with -v only): the acl_file, or for \
                 a user made in the admin API its roles, decide who may publish and subscribe \
                 to which topics, and denials are counted in $SYS and /metrics"
                    .to_string()
            }
            Hint::MessageExpired => {
                "a message expired before it could be delivered: its publisher set an MQTT 5 \
                 Message Expiry Interval, or retained_max_age applies"
                    .to_string()
            }
            Hint::OverClientMaximum => {
                "a message was larger than the Maximum Packet Size its subscriber announced in \
                 CONNECT (MQTT 5), so it was dropped for that subscriber [MQTT-3.1.2-25]"
                    .to_string()
            }
            Hint::ConnectTimeout => format!(
                "connect_timeout (currently {}s) is how long a new connection may take to \
                 send CONNECT and finish authenticating",
                s.connect_timeout.as_secs()
            ),
            Hint::WillRefused => format!(
                "max_qos (currently {}) and retain_available (currently {}) also apply to \
                 a client's will",
                s.max_qos, s.retain_available
            ),
            Hint::ServerReference => "server_reference is set: this broker is in maintenance \
                 mode and sends every client away"
                .to_string(),
        }
    }
}

/// Which hints were given already in this broker's life.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Hints(u32);

impl Hints {
    /// Logs `hint` unless it was given already.
    pub(crate) fn give(&mut self, hint: Hint, settings: &Settings) {
        if self.first(hint) {
            tracing::info!("hint: {}", hint.text(settings));
        }
    }

    /// Whether `hint` is new (and marks it given).
    pub(crate) fn first(&mut self, hint: Hint) -> bool {
        let new = self.0 & hint.bit() == 0;
        self.0 |= hint.bit();
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wording::ConfigWording;

    const ALL: [Hint; 17] = Hint::ALL;

    #[test]
    fn each_cause_is_hinted_once() {
        let mut hints = Hints::default();
        for hint in ALL {
            assert!(hints.first(hint), "{hint:?} is new");
        }
        for hint in ALL {
            assert!(!hints.first(hint), "{hint:?} was given");
        }
        let mut other = Hints::default();
        assert!(other.first(Hint::QueueFull));
        assert!(other.first(Hint::ClientIdTooLong), "causes are apart");
        assert!(!other.first(Hint::QueueFull));
    }

    /// A wording that says which hint it advises on.
    struct Echo;
    impl ConfigWording for Echo {
        fn advice(&self, hint: Hint) -> String {
            format!("To change it: see {hint:?}.")
        }
        fn fix(&self, fix: Fix) -> String {
            format!("{fix:?}")
        }
    }

    #[test]
    fn texts_name_the_setting_and_its_value_then_the_shells_advice() {
        let mut s = Settings {
            max_queued_messages: 1000,
            ..Settings::default()
        };
        assert_eq!(
            Hint::Subscriptions.text(&s),
            "max_subscriptions_per_client (currently 10000) limits the subscriptions of one \
             session. (This hint is shown once.)",
            "without a wording the core says only what it knows"
        );
        s.wording = crate::Wording::new(Echo);
        let t = Hint::QueueFull.text(&s);
        assert!(
            t.starts_with("max_queued_messages (currently 1000) and"),
            "{t}"
        );
        assert!(
            t.ends_with(
                "dropped for that client. To change it: see QueueFull. (This hint is shown once.)"
            ),
            "{t}"
        );
        for hint in ALL {
            let t = hint.text(&s);
            assert!(t.contains(&format!("see {hint:?}.")), "{hint:?}: {t}");
            assert!(
                !t.contains("hornet.toml") && !t.contains("mosquitto.conf"),
                "{t}"
            );
        }
        assert_eq!(
            s.wording.fix(Fix::AnonymousFromNetwork),
            "AnonymousFromNetwork"
        );
        assert_eq!(
            Settings::default().wording.fix(Fix::AnonymousFromNetwork),
            "allow_anonymous to true"
        );
    }
}
