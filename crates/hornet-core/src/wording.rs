//! The words a hint or a refusal needs from outside the core: the causes
//! ([`Hint`]), the changes a refusal suggests ([`Fix`]), and how the
//! shell's configuration files spell them ([`ConfigWording`], held in
//! [`Settings::wording`](crate::Settings) as a [`Wording`]). What the core
//! says about each cause, with the settings' values, is `hints`'.

use std::sync::Arc;

/// A cause of a refused client or a dropped message that a setting controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// CONNECT with a client id over `max_client_id_length`.
    ClientIdTooLong,
    /// An MQTT 3.x keep-alive over `max_keepalive`.
    KeepAliveTooLong,
    /// A user name with a wrong password (or an unknown user).
    BadPassword,
    /// An anonymous client refused by `allow_anonymous`.
    Anonymous,
    /// A client id refused for flapping.
    Flapping,
    /// A client over `max_publish_rate` / `max_publish_bytes_rate`.
    PublishRate,
    /// A packet over `max_packet_size`.
    PacketTooLarge,
    /// A topic over `max_topic_length` / `max_topic_levels`.
    TopicLimits,
    /// A SUBSCRIBE over `max_subscriptions_per_client`.
    Subscriptions,
    /// A message dropped because a session's queue is full.
    QueueFull,
    /// A QoS 0 message not kept for an offline session.
    Qos0NotQueued,
    /// A PUBLISH, SUBSCRIBE, will or delivery the ACL denies.
    AclDenied,
    /// A message dropped because it expired before delivery.
    MessageExpired,
    /// A message dropped because it is larger than the subscriber accepts.
    OverClientMaximum,
    /// A connection that sent no CONNECT within `connect_timeout`.
    ConnectTimeout,
    /// A will refused for `max_qos` or `retain_available`.
    WillRefused,
    /// Every client sent away by `server_reference`.
    ServerReference,
}

/// A change a refusal's log line suggests (not a hint: every such refusal
/// says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Let anonymous clients in from the network: `allow_anonymous` true.
    AnonymousFromNetwork,
    /// Let anonymous clients in from somewhere, when the policy is false
    /// and there is no password file: `allow_anonymous` loopback or true.
    AnonymousFromSomewhere,
}

/// How the shell's configuration files spell a change of a setting.
pub trait ConfigWording: Send + Sync {
    /// How to change what `hint` is about, as one sentence after the
    /// core's own: `To change it: ...; see docs/configuration.md#....`
    fn advice(&self, hint: Hint) -> String;
    /// The change `fix` asks for, in the files' syntax (it follows "set").
    fn fix(&self, fix: Fix) -> String;
}

/// The shell's [`ConfigWording`], if it gave one. Not a setting: it only
/// words log lines, so it never makes two [`Settings`](crate::Settings) differ (every
/// `Wording` equals every other).
#[derive(Clone, Default)]
pub struct Wording(Option<Arc<dyn ConfigWording>>);

impl Wording {
    /// The wording `words` supplies.
    pub fn new(words: impl ConfigWording + 'static) -> Wording {
        Wording(Some(Arc::new(words)))
    }

    /// How to change what `hint` is about (`To change it: ...; see ...`),
    /// or `None` without a wording.
    pub(crate) fn advice(&self, hint: Hint) -> Option<String> {
        self.0.as_ref().map(|w| w.advice(hint))
    }

    /// The change a refusal suggests, in the files' syntax; without a
    /// wording, the setting and value in plain words.
    pub(crate) fn fix(&self, fix: Fix) -> String {
        match &self.0 {
            Some(w) => w.fix(fix),
            None => match fix {
                Fix::AnonymousFromNetwork => "allow_anonymous to true".to_string(),
                Fix::AnonymousFromSomewhere => "allow_anonymous to loopback or true".to_string(),
            },
        }
    }
}

impl PartialEq for Wording {
    fn eq(&self, _: &Wording) -> bool {
        true
    }
}

impl Eq for Wording {}

impl std::fmt::Debug for Wording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Wording(shell)"
        } else {
            "Wording(none)"
        })
    }
}
