//! The limits and policies the core enforces, set once at start-up.
//!
//! The shell builds [`Settings`] from its configuration file; the core never
//! reads files, nor knows how they spell a setting: a log line that tells
//! the user what to change asks the shell's [`Wording`] (see `hints`).
//! Defaults match Mosquitto's where Mosquitto has one, except where noted
//! as safer.

use std::time::Duration;

use crate::wording::Wording;

/// Who may connect without a username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Anonymous {
    /// Anonymous clients only from loopback addresses (the default).
    #[default]
    Loopback,
    /// Anonymous clients from anywhere.
    Always,
    /// No anonymous clients.
    Never,
}

/// What happens to a connection that publishes faster than
/// `max_publish_rate` / `max_publish_bytes_rate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateAction {
    /// Stop reading its socket until it is back under the rate
    /// (backpressure: TCP slows the client down). The default.
    #[default]
    Throttle,
    /// Disconnect it: MQTT 5 DISCONNECT 0x96 Message rate too high, 3.x a close.
    Disconnect,
}

/// One auto-subscribe template (see `auto_subscribe`): a topic filter
/// with placeholders and the QoS to grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSubscription {
    /// The filter, with `%c` / `${clientid}` and `%u` / `${username}`.
    pub topic: String,
    /// The maximum QoS of the subscription.
    pub qos: hornet_codec::QoS,
}

/// A session's own queue limits in place of `max_queued_messages` /
/// `max_queued_bytes` (a bridge's outbox: `bridge_max_queued_messages`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most messages queued (`usize::MAX`: no limit); `None`: the broker's.
    pub max_messages: Option<usize>,
    /// Most payload bytes queued (`usize::MAX`: no limit); `None`: the
    /// broker's.
    pub max_bytes: Option<usize>,
    /// Whose limits these are, for the log line (`bridge b1`).
    pub owner: String,
}

/// Everything the core needs to know about the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Who may connect without credentials.
    pub anonymous: Anonymous,
    /// Unacknowledged QoS 1/2 messages towards one client (Mosquitto: 20).
    pub max_inflight_messages: u16,
    /// Messages queued per session beyond the inflight window (Mosquitto: 1000).
    pub max_queued_messages: usize,
    /// Payload bytes queued per session; `usize::MAX` means no limit.
    pub max_queued_bytes: usize,
    /// Sessions with queue limits of their own, by client id (bridges'
    /// local sessions); empty for most brokers, so the lookup costs nothing.
    pub queue_limits: std::collections::BTreeMap<String, QueueLimits>,
    /// Largest packet accepted (and announced to MQTT 5 clients).
    pub max_packet_size: u32,
    /// Longest keep-alive a client may ask for (65535 = no limit).
    pub max_keepalive: u16,
    /// Queue QoS 0 messages for offline persistent sessions (Mosquitto: false).
    pub queue_qos0_messages: bool,
    /// How often `$SYS/broker/...` is published; `None` disables it.
    pub sys_interval: Option<Duration>,
    /// Packets handed to the shell for one connection and not yet reported
    /// written; beyond this, messages wait in the session queue so a slow
    /// reader never holds anybody else up.
    pub max_unwritten_packets: usize,
    /// A publisher whose message takes a subscriber's queue to this many
    /// messages is not read for a moment while that queue drains (see
    /// `backlog`); 0 turns the rule off.
    pub backlog_pause_messages: usize,
    /// The same in payload bytes: a queue of this many bytes pauses its
    /// publishers too (large messages reach it long before the message
    /// count); 0 turns this half of the rule off.
    pub backlog_pause_bytes: usize,
    /// A subscriber that reports no written packet for this long stops
    /// pausing its publishers (`backlog_pause_messages`).
    pub backlog_pause_stall: Duration,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    /// Topic aliases accepted from each MQTT 5 client.
    pub topic_alias_maximum: u16,
    /// Log each client's connection and disconnection (Mosquitto's `connection_messages`).
    pub connection_messages: bool,
    /// The version string published in `$SYS/broker/version`.
    pub version: String,
    /// Unacknowledged QoS 2 PUBLISH packets accepted from one MQTT 5 client
    /// (announced as Receive Maximum; 65535 = not announced). One more is
    /// DISCONNECT 0x93.
    pub receive_maximum: u16,
    /// Longest Session Expiry Interval granted, in seconds; also the expiry
    /// of MQTT 3.x persistent sessions. `u32::MAX` = never (the default).
    pub max_session_expiry: u32,
    /// Highest QoS accepted in PUBLISH and granted in SUBACK (0 to 2).
    pub max_qos: u8,
    /// Whether retained messages are supported; when not, a retained
    /// PUBLISH is DISCONNECT 0x9A.
    pub retain_available: bool,
    /// Retained messages older than this are dropped, for every protocol
    /// version; `None` (the default) keeps them until replaced.
    pub retained_max_age: Option<Duration>,
    /// Whether subscriptions may use `+` and `#`; when not, SUBACK 0xA2.
    pub wildcard_subscriptions: bool,
    /// Whether SUBSCRIBE may carry a Subscription Identifier; when not, SUBACK 0xA1.
    pub subscription_identifiers: bool,
    /// Overlapping subscriptions of one session: each matching subscription
    /// with a Subscription Identifier gets its own copy ([MQTT-3.3.4-5],
    /// what Mosquitto does and Node-RED needs); false: one copy carrying
    /// every matching identifier ([MQTT-3.3.4-4]).
    pub subscription_identifier_copies: bool,
    /// Prefix of the Response Information given to MQTT 5 clients that ask
    /// for it (the prefix followed by the client id); `None` gives none.
    pub response_information: Option<String>,
    /// Maintenance redirection: refuse every CONNECT, pointing MQTT 5 clients
    /// at this server (Server Reference).
    pub server_reference: Option<String>,
    /// With `server_reference`: 0x9D Server moved (permanent) instead of 0x9C
    /// Use another server (temporary).
    pub server_moved: bool,
    /// Shared subscriptions are offered (MQTT 5 CONNACK Shared
    /// Subscription Available); when off, `$share/` and `$queue/` filters
    /// are refused with 0x9E.
    pub shared_subscriptions: bool,
    /// How a shared subscription group picks a member, unless named in
    /// `shared_group_strategies`.
    pub shared_strategy: crate::SharedStrategy,
    /// Per-group strategies, by share name (`$queue` for `$queue/...`).
    pub shared_group_strategies: Vec<(String, crate::SharedStrategy)>,
    /// Longest client id accepted, in bytes; longer is CONNACK 0x85 (3.x 0x02).
    pub max_client_id_length: usize,
    /// Longest topic name or filter, in bytes (PUBLISH 0x90, SUBSCRIBE 0x8F).
    pub max_topic_length: usize,
    /// Most levels in a topic name or filter (as for `max_topic_length`).
    pub max_topic_levels: usize,
    /// Most subscriptions one session may hold; more is SUBACK 0x97.
    pub max_subscriptions_per_client: usize,
    /// PUBLISH packets per second per connection (token bucket with one
    /// second of burst); 0 = unlimited.
    pub max_publish_rate: u32,
    /// PUBLISH bytes (on the wire) per second per connection; 0 = unlimited.
    pub max_publish_bytes_rate: u64,
    /// What happens over a publish rate.
    pub publish_rate_action: RateAction,
    /// Accepted connects of one client id within `flapping_window` beyond
    /// which it is refused for `flapping_ban`; 0 turns detection off.
    pub flapping_max_connects: u32,
    /// The window connects are counted over.
    pub flapping_window: Duration,
    /// How long a flapping client id is refused.
    pub flapping_ban: Duration,
    /// How the shell's configuration files spell a change of a setting, for
    /// the first-time hints and refusal lines; none by default (the lines
    /// then name the setting only).
    pub wording: Wording,
    /// Whether an empty client id is given one (where the protocol allows
    /// it) rather than refused. Default true (Mosquitto's
    /// `allow_zero_length_clientid`).
    pub allow_zero_length_clientid: bool,
    /// The prefix of assigned client ids. Default `auto-`.
    pub auto_id_prefix: String,
    /// Only client ids starting with this may connect. Default none.
    pub clientid_prefixes: Option<String>,
    /// Largest PUBLISH or will payload accepted, in bytes; 0 (the
    /// default) for no limit (Mosquitto's `message_size_limit`).
    pub message_size_limit: usize,
    /// Whether messages go out at the subscription's QoS even when
    /// published lower (Mosquitto's `upgrade_outgoing_qos`). Default false.
    pub upgrade_outgoing_qos: bool,
    /// Whether a retained message goes to a new subscriber only while the
    /// client that published it may still write its topic (Mosquitto's
    /// `check_retain_source`; see `retain_source.rs`). Default true.
    pub check_retain_source: bool,
    /// Whether `$exclusive/{filter}` subscribes exclusively (EMQX's
    /// exclusive subscriptions: one session per filter at a time, a second
    /// is refused with SUBACK 0x97). Off: the prefix is an ordinary filter.
    /// Default true (EMQX's default is false; the prefix changes nothing
    /// for a client that never uses it).
    pub exclusive_subscriptions: bool,
    /// Whether `$delayed/{seconds}/{topic}` holds a message and publishes
    /// it to `topic` after `seconds` (EMQX's delayed publish). Off: the
    /// prefix is an ordinary topic. Default true.
    pub delayed_publish: bool,
    /// Longest delay accepted, in seconds; a longer one is refused (PUBACK
    /// 0x83). Default 4,294,967 (EMQX's limit, about 49 days).
    pub max_delayed_interval: u32,
    /// Most messages held for delayed publish at once; one more is
    /// refused (PUBACK 0x97). `usize::MAX` (the default) = no limit.
    pub max_delayed_messages: usize,
    /// What a session's queue does with an arriving message (see
    /// `queue_policy`), unless a rule of `queue_policies` matches its
    /// topic. Default `drop_newest` (Mosquitto's behaviour).
    pub queue_policy: crate::QueuePolicy,
    /// Queue policies by topic filter, the first matching rule deciding.
    pub queue_policies: Vec<(String, crate::QueuePolicy)>,
    /// Filters subscribed for every client at CONNECT, from templates
    /// (`%c` client id, `%u` user name; EMQX's `auto_subscribe`). Default none.
    pub auto_subscribe: Vec<AutoSubscription>,
    /// Topic rewrite rules (EMQX's `rewrite`), first match deciding.
    /// Default none.
    pub rewrite: Vec<crate::RewriteRule>,
}

impl Settings {
    /// When a subscriber's queue pauses its publishers (`backlog`).
    pub(crate) fn backlog_threshold(&self) -> crate::backlog::Threshold {
        crate::backlog::Threshold {
            messages: self.backlog_pause_messages,
            bytes: self.backlog_pause_bytes,
        }
    }

    /// The queue limits of the session of `client_id`: (messages, bytes,
    /// whose they are when its own).
    pub(crate) fn queue_limits_of(&self, client_id: &str) -> (usize, usize, Option<&str>) {
        let own = if self.queue_limits.is_empty() {
            None
        } else {
            self.queue_limits.get(client_id)
        };
        match own {
            None => (self.max_queued_messages, self.max_queued_bytes, None),
            Some(l) => (
                l.max_messages.unwrap_or(self.max_queued_messages),
                l.max_bytes.unwrap_or(self.max_queued_bytes),
                Some(&l.owner),
            ),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            anonymous: Anonymous::Loopback,
            max_inflight_messages: 20,
            max_queued_messages: 1000,
            max_queued_bytes: usize::MAX,
            queue_limits: Default::default(),
            max_packet_size: 1024 * 1024,
            max_keepalive: u16::MAX,
            queue_qos0_messages: false,
            sys_interval: Some(Duration::from_secs(10)),
            max_unwritten_packets: 1024,
            backlog_pause_messages: 10_000,
            backlog_pause_bytes: 4 << 20,
            backlog_pause_stall: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(10),
            topic_alias_maximum: 64,
            connection_messages: true,
            version: concat!("hornet version ", env!("CARGO_PKG_VERSION")).to_string(),
            receive_maximum: u16::MAX,
            max_session_expiry: u32::MAX,
            max_qos: 2,
            retain_available: true,
            retained_max_age: None,
            wildcard_subscriptions: true,
            subscription_identifiers: true,
            subscription_identifier_copies: true,
            response_information: None,
            server_reference: None,
            server_moved: false,
            shared_subscriptions: true,
            shared_strategy: crate::SharedStrategy::RoundRobin,
            shared_group_strategies: Vec::new(),
            max_client_id_length: 1024,
            max_topic_length: 65535,
            max_topic_levels: 201,
            max_subscriptions_per_client: 10_000,
            max_publish_rate: 0,
            max_publish_bytes_rate: 0,
            publish_rate_action: RateAction::Throttle,
            flapping_max_connects: 20,
            flapping_window: Duration::from_secs(60),
            flapping_ban: Duration::from_secs(60),
            wording: Wording::default(),
            allow_zero_length_clientid: true,
            auto_id_prefix: "auto-".to_string(),
            clientid_prefixes: None,
            message_size_limit: 0,
            upgrade_outgoing_qos: false,
            check_retain_source: true,
            exclusive_subscriptions: true,
            delayed_publish: true,
            max_delayed_interval: 4_294_967,
            max_delayed_messages: usize::MAX,
            queue_policy: crate::QueuePolicy::DropNewest,
            queue_policies: Vec::new(),
            auto_subscribe: Vec::new(),
            rewrite: Vec::new(),
        }
    }
}
